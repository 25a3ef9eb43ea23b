/* placement.c: the live cluster as a placement model; see placement.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coordinator.h"
#include "cpucache.h"
#include "log.h"
#include "placement.h"

/* The same ceiling as the balance planner's default. */
#define PLACEMENT_VCPU_RATIO	4.0

static int
placement_counted(const Ferry__Domain *d)
{
	return strcmp(d->state, "shutoff") != 0 &&
	    strcmp(d->state, "crashed") != 0;
}

static int
placement_cmp(const void *a, const void *b, void *arg)
{
	char **names = arg;

	return strcmp(names[*(const size_t *)a], names[*(const size_t *)b]);
}

size_t
placement_find_vm(const struct placement *p, const char *name)
{
	size_t lo = 0, hi = p->m.nvms, mid;
	int c;

	while (lo < hi) {
		mid = (lo + hi) / 2;
		c = strcmp(name, p->vm_names[p->sorted[mid]]);
		if (c == 0)
			return p->sorted[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return PLACE_NONE;
}

void
placement_free(struct placement *p)
{
	size_t i;

	if (p == NULL)
		return;
	for (i = 0; i < p->m.nvms; i++) {
		free((void *)p->m.vms[i].cpu);
		free((void *)p->m.vms[i].cpu_why);
		free((void *)p->m.vms[i].groups);
		free((void *)p->m.vms[i].same_host);
		free((void *)p->m.vms[i].different_host);
	}
	for (i = 0; p->m.groups && i < p->m.ngroups; i++)
		free((void *)p->m.groups[i].members);
	free(p->m.vms);
	free(p->m.hosts);
	free(p->m.groups);
	free(p->hosts);
	free(p->vm_names);
	free(p->sorted);
	free(p);
}

/* Names -> VM indices, skipping VMs not running anywhere; malloc'd. */
static size_t *
placement_resolve(const struct placement *p, char **names, size_t n,
    size_t *out_n)
{
	size_t *v, i, k;

	*out_n = 0;
	if (n == 0)
		return NULL;
	if ((v = calloc(n, sizeof(*v))) == NULL)
		return NULL;
	for (i = 0; i < n; i++)
		if ((k = placement_find_vm(p, names[i])) != PLACE_NONE)
			v[(*out_n)++] = k;
	return v;
}

int
placement_build(struct coord *co, struct placement **out, char *err,
    size_t errlen)
{
	struct coord_conf *cf = &co->conf;
	struct placement *p;
	struct place_vm *v;
	size_t i, k, n = 0, g, cnt;

	*out = NULL;
	if ((p = calloc(1, sizeof(*p))) == NULL)
		goto oom;
	for (i = 0; i < co->nhosts; i++)
		if (co->hosts[i].inv != NULL)
			n += co->hosts[i].inv->n_domains;
	if ((p->m.hosts = calloc(co->nhosts + 1, sizeof(*p->m.hosts))) ==
	    NULL || (p->hosts = calloc(co->nhosts + 1, sizeof(*p->hosts))) ==
	    NULL || (p->m.vms = calloc(n + 1, sizeof(*p->m.vms))) == NULL ||
	    (p->vm_names = calloc(n + 1, sizeof(char *))) == NULL ||
	    (p->sorted = calloc(n + 1, sizeof(size_t))) == NULL ||
	    (p->m.groups = calloc(cf->ngroups + 1, sizeof(*p->m.groups))) ==
	    NULL)
		goto oom;
	p->m.nhosts = co->nhosts;
	p->m.vcpu_ratio_max = PLACEMENT_VCPU_RATIO;
	p->m.zone_stay = cf->zone_stay;
	for (i = 0; i < co->nhosts; i++) {
		struct host *h = &co->hosts[i];
		struct place_host *ph = &p->m.hosts[i];

		p->hosts[i] = h;
		ph->name = h->conf.name;
		ph->zone = h->conf.zone;
		ph->labels = (const char *const *)h->conf.labels;
		ph->nlabels = h->conf.nlabels;
		if (h->inv == NULL) {
			ph->state = h->up ? "unknown" : "down";
			continue;
		}
		/* A host whose reports contradicted the operator's word
		 * (flagged) takes nothing until the operator accepts it. */
		ph->state = h->flagged ? "flagged" :
		    drain_host_busy(co, h->conf.name) ? "draining" :
		    strcmp(coord_host_state(h), "up") == 0 &&
		    strcmp(h->admin_state, "active") == 0 ? "up" :
		    coord_host_state(h);
		ph->mem_mib = h->inv->host->mem_mib;
		ph->reserve_mib = h->inv->host->reserve_mib;
		ph->cpus = h->inv->host->cpus;
		ph->used_mib = cluster_host_mem_used(h) +
		    job_incoming_mib(co, h->conf.name, NULL);
		for (k = 0; k < h->inv->n_domains; k++) {
			const Ferry__Domain *d = h->inv->domains[k];

			if (!placement_counted(d))
				continue;
			ph->vcpus_used += d->vcpus;
			v = &p->m.vms[p->m.nvms];
			v->name = d->name;
			v->host = i;
			v->mem_mib = d->mem_mib;
			v->vcpus = d->vcpus;
			p->vm_names[p->m.nvms] = d->name;
			p->sorted[p->m.nvms] = p->m.nvms;
			p->m.nvms++;
		}
	}
	qsort_r(p->sorted, p->m.nvms, sizeof(size_t), placement_cmp,
	    p->vm_names);
	/* A VM seen on two hosts (a migration's two ends): the first one
	 * sorted wins the name; the other still counts its memory. */
	for (g = 0; g < cf->ngroups; g++) {
		p->m.groups[g].name = cf->groups[g].name;
		p->m.groups[g].anti = cf->groups[g].anti;
		p->m.groups[g].hard = cf->groups[g].hard;
	}
	p->m.ngroups = cf->ngroups;
	for (g = 0; g < cf->ngroups; g++)
		for (k = 0; k < cf->groups[g].nvms; k++) {
			size_t *a;

			if ((i = placement_find_vm(p, cf->groups[g].vms[k])) ==
			    PLACE_NONE)
				continue;
			v = &p->m.vms[i];
			if ((a = realloc((void *)v->groups, (v->ngroups + 1) *
			    sizeof(*a))) == NULL)
				goto oom;
			a[v->ngroups++] = g;
			v->groups = a;
			if ((a = realloc((void *)p->m.groups[g].members,
			    (p->m.groups[g].nmembers + 1) * sizeof(*a))) == NULL)
				goto oom;
			a[p->m.groups[g].nmembers++] = i;
			p->m.groups[g].members = a;
		}
	for (k = 0; k < cf->nvms; k++) {
		const struct coord_vm_conf *vc = &cf->vms[k];

		if ((i = placement_find_vm(p, vc->name)) == PLACE_NONE)
			continue;
		v = &p->m.vms[i];
		v->zone = vc->zone[0] ? vc->zone : NULL;
		v->requires_labels = (const char *const *)vc->requires_labels;
		v->nrequires = vc->nrequires;
		if ((v->same_host = placement_resolve(p, vc->same_host,
		    vc->nsame, &cnt)) == NULL && vc->nsame)
			goto oom;
		v->nsame = cnt;
		if ((v->different_host = placement_resolve(p,
		    vc->different_host, vc->ndifferent, &cnt)) == NULL &&
		    vc->ndifferent)
			goto oom;
		v->ndifferent = cnt;
	}
	/* CPU verdicts the cache holds (a host's own word on itself). */
	for (i = 0; cpucache_size(co) > 0 && i < p->m.nvms; i++) {
		signed char *cpu;
		const char **why;

		v = &p->m.vms[i];
		if (!cpucache_known(co, v->name))
			continue;
		if ((cpu = calloc(p->m.nhosts + 1, 1)) == NULL ||
		    (why = calloc(p->m.nhosts + 1, sizeof(*why))) == NULL) {
			free(cpu);
			goto oom;
		}
		for (k = 0; k < p->m.nhosts; k++)
			cpu[k] = (signed char)cpucache_lookup(co, v->name, k,
			    &why[k]);
		v->cpu = cpu;
		v->cpu_why = why;
	}
	*out = p;
	return 0;
 oom:
	snprintf(err, errlen, "out of memory");
	placement_free(p);
	return -1;
}

size_t
placement_choose(struct coord *co, const char *vm, char *why, size_t len)
{
	struct placement *p;
	struct place_verdict *vd = NULL;
	size_t k, best = PLACE_NONE;
	char err[64];

	why[0] = '\0';
	if (placement_build(co, &p, err, sizeof(err)) < 0) {
		snprintf(why, len, "%s", err);
		return PLACE_NONE;
	}
	if ((k = placement_find_vm(p, vm)) == PLACE_NONE)
		snprintf(why, len, "%s runs on no host that is up", vm);
	else if ((vd = calloc(p->m.nhosts + 1, sizeof(*vd))) == NULL)
		snprintf(why, len, "out of memory");
	else if ((best = place_evaluate(&p->m, k, vd)) == PLACE_NONE)
		place_summary(&p->m, vd, why, len);
	free(vd);
	placement_free(p);
	return best;
}

void
placement_reply_free(Ferry__PlaceReply *r)
{
	size_t i;

	if (r == NULL)
		return;
	for (i = 0; i < r->n_hosts; i++) {
		free(r->hosts[i]->host);
		free(r->hosts[i]->filter);
		free(r->hosts[i]->reason);
		free(r->hosts[i]);
	}
	free(r->hosts);
	free(r->vm);
	free(r->source);
	free(r->best);
	free(r);
}

int
placement_reply(struct coord *co, const char *vm, Ferry__PlaceReply **out,
    char *err, size_t errlen)
{
	struct placement *p = NULL;
	struct place_verdict *vd = NULL;
	Ferry__PlaceReply *r = NULL;
	Ferry__PlaceVerdict *e;
	size_t i, k, best;
	int rc;

	*out = NULL;
	if (placement_build(co, &p, err, errlen) < 0)
		return -FERRY_EINTERNAL;
	if ((k = placement_find_vm(p, vm)) == PLACE_NONE) {
		snprintf(err, errlen, "%s runs on no host that is up", vm);
		rc = -FERRY_ENOTFOUND;
		goto fail;
	}
	if ((vd = calloc(p->m.nhosts + 1, sizeof(*vd))) == NULL ||
	    (r = calloc(1, sizeof(*r))) == NULL)
		goto oom;
	ferry__place_reply__init(r);
	best = place_evaluate(&p->m, k, vd);
	if ((r->vm = strdup(vm)) == NULL || (r->source = strdup(
	    p->m.hosts[p->m.vms[k].host].name)) == NULL ||
	    (best != PLACE_NONE && (r->best = strdup(p->m.hosts[best].name)) ==
	    NULL) ||
	    (r->hosts = calloc(p->m.nhosts + 1, sizeof(*r->hosts))) == NULL)
		goto oom;
	for (i = 0; i < p->m.nhosts; i++) {
		if ((e = calloc(1, sizeof(*e))) == NULL)
			goto oom;
		ferry__place_verdict__init(e);
		r->hosts[r->n_hosts++] = e;
		e->ok = vd[i].ok;
		e->has_weight = vd[i].ok;
		e->weight = vd[i].weight;
		if ((e->host = strdup(p->m.hosts[i].name)) == NULL ||
		    (e->reason = strdup(vd[i].reason)) == NULL ||
		    (vd[i].filter && (e->filter = strdup(vd[i].filter)) ==
		    NULL))
			goto oom;
	}
	free(vd);
	placement_free(p);
	*out = r;
	return 0;
 oom:
	snprintf(err, errlen, "out of memory");
	rc = -FERRY_EINTERNAL;
 fail:
	free(vd);
	placement_free(p);
	placement_reply_free(r);
	return rc;
}
