/* cpubaseline.c: ferryctl cpu-baseline. The coordinator has no libvirt of
 * its own: it asks every host that is up for its CPU (HOST_CPU), then one
 * of them to compute virConnectBaselineHypervisorCPU over all of them
 * (CPU_BASELINE), and adds, from the CPU cache, each VM whose current CPU
 * a host said it cannot run. A host's answer only describes that host: the
 * baseline is advice for an operator, it runs nothing anywhere.
 *
 * One request at a time per client; requests live in a list so a client
 * that goes away (dead, control_client_alive) is never replied to. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coordinator.h"
#include "cpucache.h"
#include "log.h"

#define CPUB_TIMEOUT_MS	15000
#define CPUB_REPLY_XML_MAX	(256 * 1024)

struct cpub {
	struct coord		*co;
	struct ctl_client	*client;	/* a reference (control.c) */
	uint16_t		 type;
	uint32_t		 serial;
	int			 calls;
	char			**xml;		/* per host; owned */
	char			**error;	/* per host; owned */
	size_t			 on;		/* host computing the baseline */
	size_t			 nhosts;	/* xml and error's; a reload may
						 * add hosts meanwhile */
	struct cpub		*next;
};

static struct cpub *cpub_list;

static void
cpub_free(struct cpub *b)
{
	struct cpub **pp;
	size_t i;

	for (pp = &cpub_list; *pp; pp = &(*pp)->next)
		if (*pp == b) {
			*pp = b->next;
			break;
		}
	for (i = 0; i < b->nhosts; i++) {
		free(b->xml[i]);
		free(b->error[i]);
	}
	free(b->xml);
	free(b->error);
	control_client_unref(b->client);
	free(b);
}

struct cpub_blocks {
	Ferry__CpuBlock	**v;
	size_t		  n, cap;
};

static void
cpub_block(const char *vm, size_t host, const char *why, void *arg)
{
	struct cpub_blocks *bl = arg;
	Ferry__CpuBlock *e, **v;

	if (bl->n == bl->cap) {
		if ((v = realloc(bl->v, (bl->cap ? bl->cap * 2 : 16) *
		    sizeof(*v))) == NULL)
			return;
		bl->v = v;
		bl->cap = bl->cap ? bl->cap * 2 : 16;
	}
	if ((e = calloc(1, sizeof(*e))) == NULL)
		return;
	ferry__cpu_block__init(e);
	e->vm = (char *)vm;			/* borrowed from the cache */
	e->host = (char *)(uintptr_t)host;	/* set by cpub_reply */
	e->reason = (char *)why;
	bl->v[bl->n++] = e;
}

static void
cpub_reply(struct cpub *b, const char *baseline, const char *error)
{
	struct coord *co = b->co;
	Ferry__CpuBaselineInfo r = FERRY__CPU_BASELINE_INFO__INIT;
	Ferry__HostCpu *hc = NULL, **hv = NULL;
	struct cpub_blocks bl;
	size_t i, total;

	memset(&bl, 0, sizeof(bl));
	if (!control_client_alive(b->client) || co->stopping)
		return;
	if ((hc = calloc(b->nhosts + 1, sizeof(*hc))) == NULL ||
	    (hv = calloc(b->nhosts + 1, sizeof(*hv))) == NULL) {
		(void)control_error(b->client, b->type, b->serial,
		    FERRY_EINTERNAL, "out of memory");
		goto out;
	}
	/* The control socket's frames stop at 1 MiB: a large cluster's
	 * CPUs are left out of the reply (the baseline is still there). */
	for (i = 0, total = 0; i < b->nhosts; i++)
		total += b->xml[i] ? strlen(b->xml[i]) : 0;
	for (i = 0; i < b->nhosts; i++) {
		ferry__host_cpu__init(&hc[i]);
		hc[i].host = co->hosts[i].conf.name;
		hc[i].cpu_xml = total <= CPUB_REPLY_XML_MAX ? b->xml[i] : NULL;
		hc[i].error = b->error[i];
		hv[i] = &hc[i];
	}
	cpucache_blocks(co, cpub_block, &bl);
	for (i = 0; i < bl.n; i++)
		bl.v[i]->host = co->hosts[(uintptr_t)bl.v[i]->host].conf.name;
	r.baseline_xml = (char *)baseline;
	r.error = (char *)error;
	r.hosts = hv;
	r.n_hosts = b->nhosts;
	r.blocks = bl.v;
	r.n_blocks = bl.n;
	if (baseline != NULL)
		r.computed_on = co->hosts[b->on].conf.name;
	(void)control_reply(b->client, b->type, b->serial, &r.base);
 out:
	for (i = 0; i < bl.n; i++)
		free(bl.v[i]);
	free(bl.v);
	free(hc);
	free(hv);
}

static void
cpub_baseline_cb(struct host *h, const struct frame *f, const char *err,
    void *arg)
{
	struct cpub *b = arg;
	Ferry__CpuBaselineReply *r = NULL;
	char msg[512];

	if (f == NULL)
		snprintf(msg, sizeof(msg), "%s: %s", h->conf.name, err);
	else if ((r = (Ferry__CpuBaselineReply *)frame_unpack(f,
	    &ferry__cpu_baseline_reply__descriptor)) == NULL)
		snprintf(msg, sizeof(msg), "%s: malformed reply", h->conf.name);
	cpub_reply(b, r ? r->cpu_xml : NULL, r ? NULL : msg);
	if (r)
		ferry__cpu_baseline_reply__free_unpacked(r, NULL);
	cpub_free(b);
}

static void
cpub_baseline(struct cpub *b)
{
	Ferry__CpuBaselineRequest req = FERRY__CPU_BASELINE_REQUEST__INIT;
	struct coord *co = b->co;
	char **cpus;
	size_t i, n = 0;

	if (co->stopping || (cpus = calloc(b->nhosts + 1,
	    sizeof(*cpus))) == NULL) {
		cpub_reply(b, NULL, "out of memory");
		cpub_free(b);
		return;
	}
	b->on = b->nhosts;
	for (i = 0; i < b->nhosts; i++)
		if (b->xml[i] != NULL) {
			cpus[n++] = b->xml[i];
			if (b->on == b->nhosts && co->hosts[i].up)
				b->on = i;
		}
	req.cpus = cpus;
	req.n_cpus = n;
	if (n == 0 || b->on == b->nhosts) {
		cpub_reply(b, NULL, "no host reported its CPU");
		cpub_free(b);
	} else if (peer_call(&co->hosts[b->on], MSG_CPU_BASELINE, &req.base,
	    CPUB_TIMEOUT_MS, cpub_baseline_cb, b) < 0) {
		cpub_reply(b, NULL, "cannot ask for the baseline");
		cpub_free(b);
	}
	free(cpus);
}

static void
cpub_host_cb(struct host *h, const struct frame *f, const char *err,
    void *arg)
{
	struct cpub *b = arg;
	Ferry__HostCpuReply *r;
	size_t i = (size_t)(h - b->co->hosts);

	b->calls--;
	if (f == NULL)
		b->error[i] = strdup(err);
	else if ((r = (Ferry__HostCpuReply *)frame_unpack(f,
	    &ferry__host_cpu_reply__descriptor)) == NULL)
		b->error[i] = strdup("malformed reply");
	else {
		b->xml[i] = strdup(r->cpu_xml);
		ferry__host_cpu_reply__free_unpacked(r, NULL);
	}
	if (b->calls == 0)
		cpub_baseline(b);
}

int
cpubaseline_request(struct coord *co, struct ctl_client *c, uint16_t type,
    uint32_t serial, char *err, size_t errlen)
{
	Ferry__Empty e = FERRY__EMPTY__INIT;
	struct cpub *b;
	size_t i;

	if ((b = calloc(1, sizeof(*b))) == NULL ||
	    (b->xml = calloc(co->nhosts + 1, sizeof(char *))) == NULL ||
	    (b->error = calloc(co->nhosts + 1, sizeof(char *))) == NULL) {
		if (b)
			free(b->xml);
		free(b);
		snprintf(err, errlen, "out of memory");
		return -FERRY_EINTERNAL;
	}
	b->co = co;
	b->nhosts = co->nhosts;
	control_client_ref(c);
	b->client = c;
	b->type = type;
	b->serial = serial;
	b->next = cpub_list;
	cpub_list = b;
	for (i = 0; i < b->nhosts; i++) {
		struct host *h = &co->hosts[i];

		if (!h->up)
			b->error[i] = strdup("host is down");
		else if (peer_call(h, MSG_HOST_CPU, &e.base, CPUB_TIMEOUT_MS,
		    cpub_host_cb, b) == 0)
			b->calls++;
		else
			b->error[i] = strdup("cannot ask");
	}
	if (b->calls == 0)
		cpub_baseline(b);
	return 0;
}
