/* cpu.c: this host's CPU and CPU baselines, for the coordinator's
 * ferryctl cpu-baseline. Worker threads: both are libvirt calls. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hostd.h"

/* What one baseline may be asked over: every host of a large cluster, each
 * CPU a few KiB (the frame limit bounds the total too). */
#define CPU_BASELINE_MAX	4096
#define CPU_XML_MAX		(64 * 1024)

int
cpu_host(struct hostd *hd, const ProtobufCMessage *m, uint8_t **payload,
    size_t *len, char *err, size_t errlen)
{
	Ferry__HostCpuReply rep = FERRY__HOST_CPU_REPLY__INIT;
	char *xml = NULL;
	int rc = -1;

	(void)m;
	if (hd->hv->ops->host_cpu == NULL ||
	    hd->hv->ops->host_cpu(hd->hv, &xml) < 0) {
		snprintf(err, errlen, "host cpu: %s", hd->hv->ops->host_cpu ?
		    hv_last_error() : "not supported");
		return -1;
	}
	rep.cpu_xml = xml;
	if (hostd_pack(&rep.base, payload, len) < 0)
		snprintf(err, errlen, "out of memory");
	else
		rc = 0;
	free(xml);
	return rc;
}

int
cpu_baseline(struct hostd *hd, const ProtobufCMessage *m, uint8_t **payload,
    size_t *len, char *err, size_t errlen)
{
	const Ferry__CpuBaselineRequest *req =
	    (const Ferry__CpuBaselineRequest *)m;
	Ferry__CpuBaselineReply rep = FERRY__CPU_BASELINE_REPLY__INIT;
	char *xml = NULL;
	size_t i;
	int rc = -1;

	if (req->n_cpus == 0 || req->n_cpus > CPU_BASELINE_MAX) {
		snprintf(err, errlen, "baseline over %zu CPUs (1 to %d)",
		    req->n_cpus, CPU_BASELINE_MAX);
		return -1;
	}
	for (i = 0; i < req->n_cpus; i++)
		if (strlen(req->cpus[i]) > CPU_XML_MAX) {
			snprintf(err, errlen, "CPU %zu is over %d bytes", i + 1,
			    CPU_XML_MAX);
			return -1;
		}
	if (hd->hv->ops->baseline_cpu == NULL ||
	    hd->hv->ops->baseline_cpu(hd->hv, (const char *const *)req->cpus,
	    req->n_cpus, &xml) < 0) {
		snprintf(err, errlen, "%s", hd->hv->ops->baseline_cpu ?
		    hv_last_error() : "baseline: not supported");
		return -1;
	}
	rep.cpu_xml = xml;
	if (hostd_pack(&rep.base, payload, len) < 0)
		snprintf(err, errlen, "out of memory");
	else
		rc = 0;
	free(xml);
	return rc;
}

/* Each guest CPU against this host, with this host's own emulator (none is
 * taken from the caller: libvirt picks the one for the arch and virt type
 * here). */
int
cpu_compare(struct hostd *hd, const ProtobufCMessage *m, uint8_t **payload,
    size_t *len, char *err, size_t errlen)
{
	const Ferry__CpuCompareRequest *req =
	    (const Ferry__CpuCompareRequest *)m;
	Ferry__CpuCompareReply rep = FERRY__CPU_COMPARE_REPLY__INIT;
	Ferry__CpuVerdict *v = NULL, **vp = NULL;
	char **reasons = NULL;
	size_t i;
	int rc = -1;

	if (req->n_cpus == 0 || req->n_cpus > CPU_BASELINE_MAX) {
		snprintf(err, errlen, "compare of %zu CPUs (1 to %d)",
		    req->n_cpus, CPU_BASELINE_MAX);
		return -1;
	}
	if ((v = calloc(req->n_cpus, sizeof(*v))) == NULL ||
	    (vp = calloc(req->n_cpus, sizeof(*vp))) == NULL ||
	    (reasons = calloc(req->n_cpus, sizeof(*reasons))) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	for (i = 0; i < req->n_cpus; i++) {
		const Ferry__CpuDef *c = req->cpus[i];

		ferry__cpu_verdict__init(&v[i]);
		vp[i] = &v[i];
		if (strlen(c->cpu_xml) > CPU_XML_MAX) {
			v[i].result = HV_CPU_ERROR;
			v[i].reason = "CPU definition too long";
			continue;
		}
		v[i].result = hd->hv->ops->compare_cpu(hd->hv, c->cpu_xml, NULL,
		    c->arch, c->machine, c->virttype, &reasons[i]);
		if (v[i].result == HV_CPU_INCOMPATIBLE)
			v[i].reason = reasons[i] ? reasons[i] : "incompatible";
		else if (v[i].result < 0) {
			free(reasons[i]);
			if ((reasons[i] = strdup(hv_last_error())) != NULL)
				v[i].reason = reasons[i];
		}
	}
	rep.verdicts = vp;
	rep.n_verdicts = req->n_cpus;
	if (hostd_pack(&rep.base, payload, len) < 0)
		snprintf(err, errlen, "out of memory");
	else
		rc = 0;
 out:
	for (i = 0; reasons && i < req->n_cpus; i++)
		free(reasons[i]);
	free(reasons);
	free(vp);
	free(v);
	return rc;
}
