/* cpucache.c: CPU comparison verdicts per (guest CPU, host); see
 * cpucache.h. Small linear tables: one entry a guest and one a (guest CPU,
 * host) pair that was compared; a cluster has few distinct guest CPUs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coordinator.h"
#include "cpucache.h"
#include "place.h"

struct cpucache_vm {
	char		name[256];
	uint64_t	cpu;
};

/* A comparison asked of a host, waiting for its answer. */
struct cpucache_ask {
	struct coord	*co;
	uint64_t	 cpu;
	void		(*done)(void *);
	void		*arg;
};

struct cpucache_pair {
	uint64_t	cpu;
	size_t		host;
	int		ok;		/* -1: asked, no answer yet */
	char		why[160];
};

struct cpucache {
	struct cpucache_vm	*vms;
	size_t			 nvms, vms_cap;
	struct cpucache_pair	*pairs;
	size_t			 npairs, pairs_cap;
};

static struct cpucache *
cpucache_get(struct coord *co)
{
	if (co->cpucache == NULL)
		co->cpucache = calloc(1, sizeof(*co->cpucache));
	return co->cpucache;
}

/* FNV-1a over the strings and their separators. */
static uint64_t
cpucache_hash(const char *const *s, size_t n)
{
	uint64_t h = 1469598103934665603ULL;
	size_t i;
	const char *p;

	for (i = 0; i < n; i++) {
		for (p = s[i] ? s[i] : ""; *p; p++)
			h = (h ^ (unsigned char)*p) * 1099511628211ULL;
		h = (h ^ 0xff) * 1099511628211ULL;
	}
	return h;
}

static int
cpucache_grow(void **arr, size_t *cap, size_t n, size_t sz)
{
	void *a;
	size_t nc;

	if (n < *cap)
		return 0;
	nc = *cap ? *cap * 2 : 16;
	if ((a = realloc(*arr, nc * sz)) == NULL)
		return -1;
	*arr = a;
	*cap = nc;
	return 0;
}

static struct cpucache_vm *
cpucache_vm(struct cpucache *c, const char *vm)
{
	size_t i;

	for (i = 0; c != NULL && i < c->nvms; i++)
		if (strcmp(c->vms[i].name, vm) == 0)
			return &c->vms[i];
	return NULL;
}

void
cpucache_guest(struct coord *co, const char *vm,
    const Ferry__SourceCheckReply *r)
{
	struct cpucache *c;
	struct cpucache_vm *v;
	const char *parts[4];

	if (r == NULL || r->cpu_xml == NULL || (c = cpucache_get(co)) == NULL)
		return;
	parts[0] = r->cpu_xml;
	parts[1] = r->arch;
	parts[2] = r->machine;
	parts[3] = r->virttype;
	if ((v = cpucache_vm(c, vm)) == NULL) {
		if (cpucache_grow((void **)&c->vms, &c->vms_cap, c->nvms,
		    sizeof(*c->vms)) < 0)
			return;
		v = &c->vms[c->nvms++];
		snprintf(v->name, sizeof(v->name), "%s", vm);
	}
	v->cpu = cpucache_hash(parts, 4);
}

void
cpucache_verdict(struct coord *co, const char *vm, const struct host *h,
    const Ferry__DestCheckReply *r)
{
	struct cpucache *c = co->cpucache;
	struct cpucache_vm *v;
	struct cpucache_pair *p = NULL;
	const Ferry__CheckResult *cr = NULL;
	size_t i, hi = (size_t)(h - co->hosts);
	const char *why;

	if (r == NULL || (v = cpucache_vm(c, vm)) == NULL)
		return;
	for (i = 0; i < r->n_checks; i++)
		if (strcmp(r->checks[i]->name, "cpu") == 0)
			cr = r->checks[i];
	/* Only a comparison's answer: not "not compared", not an error. */
	if (cr == NULL || (cr->ok && cr->has_warning && cr->warning) ||
	    (!cr->ok && strncmp(cr->reason, "this host cannot run", 20) != 0))
		return;
	for (i = 0; i < c->npairs; i++)
		if (c->pairs[i].cpu == v->cpu && c->pairs[i].host == hi)
			p = &c->pairs[i];
	if (p == NULL) {
		if (cpucache_grow((void **)&c->pairs, &c->pairs_cap, c->npairs,
		    sizeof(*c->pairs)) < 0)
			return;
		p = &c->pairs[c->npairs++];
		p->cpu = v->cpu;
		p->host = hi;
	}
	p->ok = cr->ok;
	/* "this host cannot run the guest's CPU: X" -> "guest CPU: X". */
	why = strstr(cr->reason, ": ");
	snprintf(p->why, sizeof(p->why), "guest CPU: %s", why ? why + 2 :
	    cr->reason);
}

void
cpucache_forget_host(struct coord *co, const struct host *h)
{
	struct cpucache *c = co->cpucache;
	size_t i, k, hi = (size_t)(h - co->hosts);

	if (c == NULL)
		return;
	for (i = k = 0; i < c->npairs; i++)
		if (c->pairs[i].host != hi)
			c->pairs[k++] = c->pairs[i];
	c->npairs = k;
}

static int
cpucache_same(const char *a, const char *b)
{
	return strcmp(a ? a : "", b ? b : "") == 0;
}

void
cpucache_inventory(struct coord *co, const struct host *h,
    const Ferry__Inventory *old, const Ferry__Inventory *inv)
{
	const Ferry__HostInfo *a, *b;

	if (old == NULL || inv == NULL) {
		cpucache_forget_host(co, h);
		return;
	}
	a = old->host;
	b = inv->host;
	if (a->cpus != b->cpus || !cpucache_same(a->arch, b->arch) ||
	    !cpucache_same(a->hostd_version, b->hostd_version) ||
	    !cpucache_same(a->host_uuid, b->host_uuid) ||
	    a->has_libvirt_session != b->has_libvirt_session ||
	    a->libvirt_session != b->libvirt_session)
		cpucache_forget_host(co, h);
}

int
cpucache_lookup(struct coord *co, const char *vm, size_t h, const char **why)
{
	struct cpucache *c = co->cpucache;
	struct cpucache_vm *v;
	size_t i;

	if ((v = cpucache_vm(c, vm)) == NULL)
		return PLACE_UNKNOWN;
	for (i = 0; i < c->npairs; i++)
		if (c->pairs[i].cpu == v->cpu && c->pairs[i].host == h &&
		    c->pairs[i].ok >= 0) {
			if (!c->pairs[i].ok && why != NULL)
				*why = c->pairs[i].why;
			return c->pairs[i].ok ? PLACE_YES : PLACE_NO;
		}
	return PLACE_UNKNOWN;
}

int
cpucache_complete(struct coord *co, const char *vm, const struct host *src)
{
	struct cpucache *c = co->cpucache;
	struct cpucache_vm *v;
	size_t i, k;

	if ((v = cpucache_vm(c, vm)) == NULL)
		return 0;
	for (i = 0; i < co->nhosts; i++) {
		const struct host *h = &co->hosts[i];

		if (h == src || !h->up || strcmp(h->admin_state, "active") != 0)
			continue;
		for (k = 0; k < c->npairs; k++)
			if (c->pairs[k].cpu == v->cpu && c->pairs[k].host == i &&
			    c->pairs[k].ok >= 0)
				break;
		if (k == c->npairs)
			return 0;
	}
	return 1;
}

int
cpucache_known(struct coord *co, const char *vm)
{
	struct cpucache *c = co->cpucache;
	struct cpucache_vm *v;
	size_t i;

	if ((v = cpucache_vm(c, vm)) == NULL)
		return 0;
	for (i = 0; i < c->npairs; i++)
		if (c->pairs[i].cpu == v->cpu && c->pairs[i].ok >= 0)
			return 1;
	return 0;
}

void
cpucache_blocks(struct coord *co, void (*fn)(const char *, size_t,
    const char *, void *), void *arg)
{
	struct cpucache *c = co->cpucache;
	size_t i, k;

	for (i = 0; c != NULL && i < c->nvms; i++)
		for (k = 0; k < c->npairs; k++)
			if (c->pairs[k].cpu == c->vms[i].cpu && c->pairs[k].ok == 0)
				fn(c->vms[i].name, c->pairs[k].host,
				    c->pairs[k].why, arg);
}

size_t
cpucache_size(struct coord *co)
{
	return co->cpucache ? co->cpucache->npairs : 0;
}

static struct cpucache_pair *
cpucache_pair(struct cpucache *c, uint64_t cpu, size_t host, int add)
{
	size_t i;

	for (i = 0; i < c->npairs; i++)
		if (c->pairs[i].cpu == cpu && c->pairs[i].host == host)
			return &c->pairs[i];
	if (!add || cpucache_grow((void **)&c->pairs, &c->pairs_cap,
	    c->npairs, sizeof(*c->pairs)) < 0)
		return NULL;
	memset(&c->pairs[c->npairs], 0, sizeof(c->pairs[0]));
	c->pairs[c->npairs].cpu = cpu;
	c->pairs[c->npairs].host = host;
	return &c->pairs[c->npairs++];
}

static void
cpucache_compare_cb(struct host *h, const struct frame *f, const char *err,
    void *arg)
{
	struct cpucache_ask *a = arg;
	struct cpucache *c = a->co->cpucache;
	struct cpucache_pair *p;
	Ferry__CpuCompareReply *r = NULL;
	size_t hi = (size_t)(h - a->co->hosts), i;

	(void)err;
	if (c != NULL && (p = cpucache_pair(c, a->cpu, hi, 0)) != NULL &&
	    p->ok < 0) {
		if (f != NULL && (r = (Ferry__CpuCompareReply *)frame_unpack(f,
		    &ferry__cpu_compare_reply__descriptor)) != NULL &&
		    r->n_verdicts == 1 && r->verdicts[0]->result >= 0) {
			p->ok = r->verdicts[0]->result != 0;
			snprintf(p->why, sizeof(p->why), "guest CPU: %s",
			    r->verdicts[0]->reason ? r->verdicts[0]->reason :
			    "incompatible");
		} else {
			/* No answer, or an error: unknown, as before. */
			i = (size_t)(p - c->pairs);
			c->pairs[i] = c->pairs[--c->npairs];
		}
	}
	if (r)
		ferry__cpu_compare_reply__free_unpacked(r, NULL);
	if (a->done)
		a->done(a->arg);
	free(a);
}

int
cpucache_prefetch(struct coord *co, const struct host *src, const char *vm,
    const Ferry__SourceCheckReply *r, void (*done)(void *), void *arg)
{
	Ferry__CpuCompareRequest req = FERRY__CPU_COMPARE_REQUEST__INIT;
	Ferry__CpuDef def = FERRY__CPU_DEF__INIT, *defs[1] = { &def };
	struct cpucache *c = co->cpucache;
	struct cpucache_vm *v;
	struct cpucache_ask *a;
	struct cpucache_pair *p;
	size_t i;
	int n = 0;

	if (r == NULL || r->cpu_xml == NULL || (v = cpucache_vm(c, vm)) == NULL)
		return 0;
	def.cpu_xml = r->cpu_xml;
	def.arch = r->arch;
	def.machine = r->machine;
	def.virttype = r->virttype;
	req.cpus = defs;
	req.n_cpus = 1;
	for (i = 0; i < co->nhosts; i++) {
		struct host *h = &co->hosts[i];

		if (h == src || !h->up || strcmp(h->admin_state, "active") != 0 ||
		    cpucache_pair(c, v->cpu, i, 0) != NULL)
			continue;	/* known, or already asked */
		if ((a = calloc(1, sizeof(*a))) == NULL ||
		    (p = cpucache_pair(c, v->cpu, i, 1)) == NULL) {
			free(a);
			break;
		}
		p->ok = -1;
		a->co = co;
		a->cpu = v->cpu;
		a->done = done;
		a->arg = arg;
		if (peer_call(h, MSG_CPU_COMPARE, &req.base, 15000,
		    cpucache_compare_cb, a) < 0) {
			c->npairs--;	/* the pair just added */
			free(a);
			continue;
		}
		n++;
	}
	return n;
}

void
cpucache_free(struct coord *co)
{
	if (co->cpucache == NULL)
		return;
	free(co->cpucache->vms);
	free(co->cpucache->pairs);
	free(co->cpucache);
	co->cpucache = NULL;
}
