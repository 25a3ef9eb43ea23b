/* hv_libvirt_cpu.c: the CPU model ops of the libvirt hypervisor: a
 * domain's CPU, the comparison on a destination, the host's, baselines.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xpath.h>

#include "hv.h"
#include "hv_libvirt.h"
#include "hv_libvirt_int.h"
#include "log.h"

int
hvl_domain_cpu(struct hv *hv, const char *name, char **cpu_xml,
    char **emulator, char **arch, char **machine, char **virttype)
{
	struct hvl_call c;
	char *xml = NULL, why[512];
	int rc;

	*cpu_xml = *emulator = *arch = *machine = *virttype = NULL;
	if ((rc = hvl_begin(hv, name, "domain cpu", &c)) != 0)
		return rc;
	rc = -1;
	/* Only the live XML has host-model expanded into features. */
	if (virDomainIsActive(c.dom) != 1) {
		hv_set_error("domain cpu %s: domain is not running", name);
		goto done;
	}
	if ((xml = virDomainGetXMLDesc(c.dom, 0)) == NULL) {
		rc = hvl_fail("domain cpu", name);
		goto done;
	}
	if (hv_libvirt_parse_cpu(xml, cpu_xml, emulator, arch, machine,
	    virttype) < 0) {
		snprintf(why, sizeof(why), "%s", hv_last_error());
		hv_set_error("domain cpu %s: %s", name, why);
		goto done;
	}
	rc = 0;
 done:
	free(xml);
	hvl_end(&c);
	return rc;
}

int
hvl_compare_cpu(struct hv *hv, const char *cpu_xml, const char *emulator,
    const char *arch, const char *machine, const char *virttype,
    char **reason)
{
	virConnectPtr c;
	int r;

	*reason = NULL;
	if ((c = hvl_conn(hv)) == NULL)
		return HV_CPU_ERROR;
	r = virConnectCompareHypervisorCPU(c, emulator, arch, machine,
	    virttype, cpu_xml, VIR_CONNECT_COMPARE_CPU_FAIL_INCOMPATIBLE);
	switch (r) {
	case VIR_CPU_COMPARE_INCOMPATIBLE:
	case VIR_CPU_COMPARE_IDENTICAL:
	case VIR_CPU_COMPARE_SUPERSET:
		break;
	default:
		if (virGetLastErrorCode() == VIR_ERR_CPU_INCOMPATIBLE) {
			r = HV_CPU_INCOMPATIBLE;
			if ((*reason = strdup(hvl_errmsg())) == NULL) {
				hv_set_error("out of memory");
				r = HV_CPU_ERROR;
			}
			break;
		}
		hv_set_error("compare cpu: %s", hvl_errmsg());
		r = HV_CPU_ERROR;
		break;
	}
	virConnectClose(c);
	return r;
}

int
hvl_host_cpu(struct hv *hv, char **cpu_xml)
{
	virConnectPtr c;
	xmlDocPtr doc = NULL;
	xmlXPathContextPtr ctx = NULL;
	xmlXPathObjectPtr obj = NULL;
	xmlBufferPtr buf = NULL;
	char *caps = NULL;
	int rc = -1;

	*cpu_xml = NULL;
	if ((c = hvl_conn(hv)) == NULL)
		return -1;
	if ((caps = virConnectGetCapabilities(c)) == NULL) {
		hv_set_error("capabilities: %s", hvl_errmsg());
		goto out;
	}
	if ((doc = xmlReadMemory(caps, (int)strlen(caps), "caps.xml", NULL,
	    XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING)) ==
	    NULL || (ctx = xmlXPathNewContext(doc)) == NULL ||
	    (obj = xmlXPathEvalExpression(BAD_CAST "/capabilities/host/cpu",
	    ctx)) == NULL || obj->nodesetval == NULL ||
	    obj->nodesetval->nodeNr < 1 || (buf = xmlBufferCreate()) == NULL ||
	    xmlNodeDump(buf, doc, obj->nodesetval->nodeTab[0], 0, 0) < 0) {
		hv_set_error("capabilities: no host <cpu>");
		goto out;
	}
	if ((*cpu_xml = strdup((const char *)xmlBufferContent(buf))) == NULL) {
		hv_set_error("out of memory");
		goto out;
	}
	rc = 0;
 out:
	if (buf)
		xmlBufferFree(buf);
	if (obj)
		xmlXPathFreeObject(obj);
	if (ctx)
		xmlXPathFreeContext(ctx);
	if (doc)
		xmlFreeDoc(doc);
	free(caps);
	virConnectClose(c);
	return rc;
}

int
hvl_baseline_cpu(struct hv *hv, const char *const *cpus, size_t n, char **out)
{
	virConnectPtr c;

	*out = NULL;
	if (n == 0 || n > UINT_MAX) {
		hv_set_error("baseline: no CPU given");
		return -1;
	}
	if ((c = hvl_conn(hv)) == NULL)
		return -1;
	if ((*out = virConnectBaselineHypervisorCPU(c, NULL, NULL, NULL, NULL,
	    (const char **)cpus, (unsigned)n, 0)) == NULL)
		hv_set_error("baseline: %s", hvl_errmsg());
	virConnectClose(c);
	return *out ? 0 : -1;
}
