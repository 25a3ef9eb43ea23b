/* model.c: the rebalancing planner's cluster model: hosts, VMs, groups and
 * allowed destinations, with a name index, and the options' names and
 * defaults. See balance.h. */
#include <stdlib.h>
#include <string.h>

#include "balance.h"
#include "plan_state.h"

/* Name index: open addressing over the entries' indices (+1, 0 empty). */
struct balance_index {
	size_t	*slots;
	size_t	 cap;
	size_t	 n;
};

struct balance_model_priv {
	struct balance_model	pub;
	struct balance_index	hidx, vidx, gidx;
};

static uint64_t
balance_hash(const char *s, unsigned kind)
{
	uint64_t h = 1469598103934665603ull ^ kind;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

static struct balance_model_priv *
balance_priv(const struct balance_model *m)
{
	return (struct balance_model_priv *)(uintptr_t)m;
}

/* The name and kind of entry i of an index's table. */
static const char *
balance_key(const struct balance_model *m, const struct balance_index *ix,
    size_t i, unsigned *kind)
{
	struct balance_model_priv *p = balance_priv(m);

	*kind = 0;
	if (ix == &p->hidx)
		return m->hosts[i].name;
	if (ix == &p->vidx)
		return m->vms[i].name;
	*kind = m->groups[i].kind;
	return m->groups[i].name;
}

static long
balance_index_find(const struct balance_model *m,
    const struct balance_index *ix, const char *name, unsigned kind)
{
	size_t i, e;
	unsigned k;

	if (ix->cap == 0)
		return -1;
	for (i = balance_hash(name, kind) & (ix->cap - 1);
	    (e = ix->slots[i]) != 0; i = (i + 1) & (ix->cap - 1))
		if (strcmp(balance_key(m, ix, e - 1, &k), name) == 0 &&
		    k == kind)
			return (long)(e - 1);
	return -1;
}

/* Adds entry idx, already in the table, to the index. */
static int
balance_index_add(const struct balance_model *m, struct balance_index *ix,
    size_t idx)
{
	size_t i, j, cap, *slots;
	const char *name;
	unsigned kind;

	if ((ix->n + 1) * 2 > ix->cap) {
		cap = ix->cap ? ix->cap * 2 : 64;
		if ((slots = calloc(cap, sizeof(*slots))) == NULL)
			return -1;
		for (j = 0; j < ix->cap; j++) {
			if (ix->slots[j] == 0)
				continue;
			name = balance_key(m, ix, ix->slots[j] - 1, &kind);
			for (i = balance_hash(name, kind) & (cap - 1);
			    slots[i] != 0; i = (i + 1) & (cap - 1))
				;
			slots[i] = ix->slots[j];
		}
		free(ix->slots);
		ix->slots = slots;
		ix->cap = cap;
	}
	name = balance_key(m, ix, idx, &kind);
	for (i = balance_hash(name, kind) & (ix->cap - 1); ix->slots[i] != 0;
	    i = (i + 1) & (ix->cap - 1))
		;
	ix->slots[i] = idx + 1;
	ix->n++;
	return 0;
}

/* Room for one more element of size sz in *arr. */
int
balance_grow(void **arr, size_t *cap, size_t n, size_t sz)
{
	size_t ncap;
	void *p;

	if (n < *cap)
		return 0;
	ncap = *cap ? *cap * 2 : 16;
	if ((p = reallocarray(*arr, ncap, sz)) == NULL)
		return -1;
	*arr = p;
	*cap = ncap;
	return 0;
}

struct balance_model *
balance_model_new(void)
{
	struct balance_model_priv *p;

	if ((p = calloc(1, sizeof(*p))) == NULL)
		return NULL;
	return &p->pub;
}

static void
balance_strv_free(char **v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static int
balance_strv_add(char ***v, size_t *n, const char *s)
{
	char **a, *c;

	if ((c = strdup(s)) == NULL)
		return -1;
	if ((a = realloc(*v, (*n + 1) * sizeof(*a))) == NULL) {
		free(c);
		return -1;
	}
	a[(*n)++] = c;
	*v = a;
	return 0;
}

static int
balance_set_str(char **dst, const char *s)
{
	char *c = NULL;

	if (s != NULL && s[0] != '\0' && (c = strdup(s)) == NULL)
		return -1;
	free(*dst);
	*dst = c;
	return 0;
}

int
balance_host_zone(struct balance_model *m, size_t host, const char *zone)
{
	return host < m->nhosts ? balance_set_str(&m->hosts[host].zone, zone) :
	    -1;
}

int
balance_host_label(struct balance_model *m, size_t host, const char *label)
{
	return host < m->nhosts ? balance_strv_add(&m->hosts[host].labels,
	    &m->hosts[host].nlabels, label) : -1;
}

int
balance_vm_zone(struct balance_model *m, size_t vm, const char *zone)
{
	return vm < m->nvms ? balance_set_str(&m->vms[vm].zone, zone) : -1;
}

int
balance_vm_requires(struct balance_model *m, size_t vm, const char *label)
{
	return vm < m->nvms ? balance_strv_add(&m->vms[vm].requires,
	    &m->vms[vm].nrequires, label) : -1;
}

void
balance_model_free(struct balance_model *m)
{
	struct balance_model_priv *p;
	size_t i;

	if (m == NULL)
		return;
	p = balance_priv(m);
	for (i = 0; i < m->nhosts; i++) {
		free(m->hosts[i].name);
		free(m->hosts[i].state);
		free(m->hosts[i].zone);
		balance_strv_free(m->hosts[i].labels, m->hosts[i].nlabels);
	}
	for (i = 0; i < m->nvms; i++) {
		free(m->vms[i].name);
		free(m->vms[i].groups);
		free(m->vms[i].allowed);
		free(m->vms[i].zone);
		balance_strv_free(m->vms[i].requires, m->vms[i].nrequires);
	}
	for (i = 0; i < m->ngroups; i++)
		free(m->groups[i].name);
	free(m->hosts);
	free(m->vms);
	free(m->groups);
	free(p->hidx.slots);
	free(p->vidx.slots);
	free(p->gidx.slots);
	free(p);
}

long
balance_find_host(const struct balance_model *m, const char *name)
{
	return balance_index_find(m, &balance_priv(m)->hidx, name, 0);
}

long
balance_find_vm(const struct balance_model *m, const char *name)
{
	return balance_index_find(m, &balance_priv(m)->vidx, name, 0);
}

long
balance_add_host(struct balance_model *m, const char *name, uint64_t mem_mib,
    uint64_t reserved_mib, uint32_t cpus, int usable)
{
	struct balance_host *h;

	if (balance_find_host(m, name) != -1 ||
	    balance_grow((void **)&m->hosts, &m->hosts_cap, m->nhosts,
	    sizeof(*m->hosts)) == -1)
		return -1;
	h = &m->hosts[m->nhosts];
	memset(h, 0, sizeof(*h));
	if ((h->name = strdup(name)) == NULL)
		return -1;
	h->usable = usable != 0;
	h->mem_mib = mem_mib;
	h->reserved_mib = reserved_mib;
	h->cpus = cpus;
	if (balance_index_add(m, &balance_priv(m)->hidx, m->nhosts) == -1) {
		free(h->name);
		return -1;
	}
	return (long)m->nhosts++;
}

int
balance_host_state(struct balance_model *m, size_t host, const char *state)
{
	char *s;

	if (host >= m->nhosts || (s = strdup(state)) == NULL)
		return -1;
	free(m->hosts[host].state);
	m->hosts[host].state = s;
	m->hosts[host].usable = strcmp(state, "up") == 0;
	return 0;
}

long
balance_add_vm(struct balance_model *m, const char *name, size_t host,
    uint64_t mem_mib, uint32_t vcpus, int pinned)
{
	struct balance_vm *v;

	if (host >= m->nhosts || balance_find_vm(m, name) != -1 ||
	    balance_grow((void **)&m->vms, &m->vms_cap, m->nvms,
	    sizeof(*m->vms)) == -1)
		return -1;
	v = &m->vms[m->nvms];
	memset(v, 0, sizeof(*v));
	if ((v->name = strdup(name)) == NULL)
		return -1;
	v->host = host;
	v->mem_mib = mem_mib;
	v->vcpus = vcpus;
	v->pinned = pinned != 0;
	if (balance_index_add(m, &balance_priv(m)->vidx, m->nvms) == -1) {
		free(v->name);
		return -1;
	}
	return (long)m->nvms++;
}

int
balance_vm_group(struct balance_model *m, size_t vm,
    enum balance_group_kind kind, const char *name)
{
	struct balance_model_priv *p = balance_priv(m);
	struct balance_vm *v;
	size_t *g, i;
	long gi;

	if (vm >= m->nvms)
		return -1;
	v = &m->vms[vm];
	if ((gi = balance_index_find(m, &p->gidx, name, kind)) == -1) {
		if (balance_grow((void **)&m->groups, &m->groups_cap,
		    m->ngroups, sizeof(*m->groups)) == -1)
			return -1;
		if ((m->groups[m->ngroups].name = strdup(name)) == NULL)
			return -1;
		m->groups[m->ngroups].kind = kind;
		if (balance_index_add(m, &p->gidx, m->ngroups) == -1) {
			free(m->groups[m->ngroups].name);
			return -1;
		}
		gi = (long)m->ngroups++;
	}
	for (i = 0; i < v->ngroups; i++)
		if (v->groups[i] == (size_t)gi)
			return 0;
	if ((g = reallocarray(v->groups, v->ngroups + 1, sizeof(*g))) == NULL)
		return -1;
	g[v->ngroups++] = (size_t)gi;
	v->groups = g;
	return 0;
}

int
balance_vm_restrict(struct balance_model *m, size_t vm)
{
	struct balance_vm *v;

	if (vm >= m->nvms)
		return -1;
	v = &m->vms[vm];
	if (v->allowed == NULL && (v->allowed = calloc(1, 1)) == NULL)
		return -1;
	if (v->nallowed > 0)
		memset(v->allowed, 0, v->nallowed);
	return 0;
}

int
balance_vm_allow(struct balance_model *m, size_t vm, size_t host)
{
	struct balance_vm *v;
	uint8_t *a;

	if (vm >= m->nvms || host >= m->nhosts)
		return -1;
	v = &m->vms[vm];
	if (v->nallowed < m->nhosts) {
		if ((a = realloc(v->allowed, m->nhosts)) == NULL)
			return -1;
		memset(a + v->nallowed, 0, m->nhosts - v->nallowed);
		v->allowed = a;
		v->nallowed = m->nhosts;
	}
	v->allowed[host] = 1;
	return 0;
}

const char *
balance_policy_name(enum balance_policy p)
{
	return p == BALANCE_POLICY_CONSOLIDATE ? "consolidate" : "balance";
}

const char *
balance_objective_name(enum balance_objective o)
{
	return o == BALANCE_OBJ_MOVES ? "moves" : "memory";
}

int
balance_objective_parse(const char *s, enum balance_objective *o)
{
	if (strcmp(s, "memory") == 0)
		*o = BALANCE_OBJ_MEMORY;
	else if (strcmp(s, "moves") == 0)
		*o = BALANCE_OBJ_MOVES;
	else
		return -1;
	return 0;
}

int
balance_policy_parse(const char *s, enum balance_policy *p)
{
	if (strcmp(s, "balance") == 0)
		*p = BALANCE_POLICY_BALANCE;
	else if (strcmp(s, "consolidate") == 0)
		*p = BALANCE_POLICY_CONSOLIDATE;
	else
		return -1;
	return 0;
}

void
balance_opts_defaults(struct balance_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->policy = BALANCE_POLICY_BALANCE;
	/* hbal has no limit either; min_gain ends the plan. */
	o->max_moves = 0;
	/* One move on a cluster of n hosts shifts a standard deviation by
	 * about 1/n of a host's share: on 1,000 hosts good moves gain 1e-4,
	 * on 16 hosts a move gaining that little is not worth its copy. */
	o->min_gain = 0.0001;
	/* A point of spread over both resources together is noise. */
	o->threshold = 0.01;
	/* Past 4 vCPUs a CPU, guests of a busy host see steal time. */
	o->vcpu_ratio_max = 4.0;
	/* Headroom for guests that balloon and for one more migration. */
	o->util_ceiling = 0.85;
}
