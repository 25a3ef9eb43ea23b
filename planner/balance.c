/* balance.c: the rebalancing planner, its cluster model and the snapshot
 * JSON it reads and writes. See balance.h.
 *
 * Policy balance is hbal's greedy search (best single move at each step)
 * over Ferry's score, made fast by exact pruning rather than sampling:
 * - the score is kept as the mean and the centred sum of squares of each
 *   resource, so a candidate move's new standard deviations are O(1);
 * - for one VM and one class of destination hosts (same memory and CPUs),
 *   the score after the move grows with the destination's memory
 *   utilisation and with its vCPU ratio, so walking the class in order of
 *   memory utilisation, with the least vCPU ratio still ahead as a bound,
 *   stops as soon as no host left can beat the best move found so far, and
 *   skips hosts another feasible host already dominates.
 * The move found is the one an exhaustive search finds (ties aside). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "balance.h"
#include "place.h"

/* What a snapshot file may weigh: a 100,000-VM cluster is about 15 MiB. */
#define BALANCE_MAX_FILE	(256u << 20)

/* Gains below this are rounding, not improvement. */
#define BALANCE_EPS	1e-12

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
static int
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

/* Planning. */

#define BALANCE_END	SIZE_MAX

/* VMs that move together: one VM, or the members of affinity groups joined
 * by common members. */
struct balance_unit {
	size_t		first, n;	/* into state->members */
	size_t		host;
	uint64_t	mem_mib;
	uint64_t	vcpus;
	int		movable;
};

/* Usable hosts of one size: for a given unit the score after a move to any
 * of them is the same function of their utilisation. */
struct balance_class {
	uint64_t	 mem_mib;
	uint32_t	 cpus;
	size_t		*hosts;		/* by memory utilisation */
	double		*minc;		/* least vCPU ratio from i on */
	size_t		 n;
};

struct balance_state {
	const struct balance_model	*m;
	const struct balance_opts	*o;
	struct balance_plan		*plan;
	size_t				 moves_cap;
	uint64_t			*gmem, *gvcpu;	/* guests' per host */
	double				*x, *c;		/* utilisation, ratio */
	size_t				 nusable, occupied;
	size_t				*vhost;
	size_t				*head, *next, *prev;	/* VMs per host */
	struct balance_unit		*units;
	size_t				 nunits;
	size_t				*members, *unit_of;
	struct balance_class		*classes;
	size_t				 nclasses;
};

/* Mean and centred sum of squares of utilisation (m) and ratio (c). */
struct balance_stats {
	double	mu_m, ss_m, mu_c, ss_c;
	double	n;
};

static double
balance_sd(double ss, double n)
{
	return ss > 0 ? sqrt(ss / n) : 0;
}

static void
balance_stats(const struct balance_state *st, struct balance_stats *s)
{
	const struct balance_model *m = st->m;
	double sm = 0, sc = 0, d;
	size_t h;

	memset(s, 0, sizeof(*s));
	if (st->nusable == 0)
		return;
	s->n = (double)st->nusable;
	for (h = 0; h < m->nhosts; h++)
		if (m->hosts[h].usable) {
			sm += st->x[h];
			sc += st->c[h];
		}
	s->mu_m = sm / s->n;
	s->mu_c = sc / s->n;
	/* Two passes: the deviations are small against the means. */
	for (h = 0; h < m->nhosts; h++)
		if (m->hosts[h].usable) {
			d = st->x[h] - s->mu_m;
			s->ss_m += d * d;
			d = st->c[h] - s->mu_c;
			s->ss_c += d * d;
		}
}

static double
balance_state_score(const struct balance_state *st)
{
	struct balance_stats s;

	if (st->o->policy == BALANCE_POLICY_CONSOLIDATE)
		return (double)st->occupied;
	balance_stats(st, &s);
	if (s.n == 0)
		return 0;
	return balance_sd(s.ss_m, s.n) + balance_sd(s.ss_c, s.n);
}

static void
balance_host_refresh(struct balance_state *st, size_t h)
{
	const struct balance_host *hh = &st->m->hosts[h];

	st->x[h] = (double)(st->gmem[h] + hh->reserved_mib) /
	    (double)hh->mem_mib;
	st->c[h] = (double)st->gvcpu[h] / (double)hh->cpus;
}

static void
balance_list_remove(struct balance_state *st, size_t v)
{
	size_t h = st->vhost[v];

	if (st->prev[v] != BALANCE_END)
		st->next[st->prev[v]] = st->next[v];
	else
		st->head[h] = st->next[v];
	if (st->next[v] != BALANCE_END)
		st->prev[st->next[v]] = st->prev[v];
	if (st->head[h] == BALANCE_END && st->m->hosts[h].usable)
		st->occupied--;
}

static void
balance_list_insert(struct balance_state *st, size_t v, size_t h)
{
	if (st->head[h] == BALANCE_END && st->m->hosts[h].usable)
		st->occupied++;
	st->prev[v] = BALANCE_END;
	st->next[v] = st->head[h];
	if (st->head[h] != BALANCE_END)
		st->prev[st->head[h]] = v;
	st->head[h] = v;
	st->vhost[v] = h;
}

static void
balance_move_vm(struct balance_state *st, size_t v, size_t to)
{
	const struct balance_vm *vm = &st->m->vms[v];
	size_t from = st->vhost[v];

	balance_list_remove(st, v);
	st->gmem[from] -= vm->mem_mib;
	st->gvcpu[from] -= vm->vcpus;
	balance_host_refresh(st, from);
	balance_list_insert(st, v, to);
	st->gmem[to] += vm->mem_mib;
	st->gvcpu[to] += vm->vcpus;
	balance_host_refresh(st, to);
}

static int
balance_record(struct balance_state *st, size_t v, size_t from, size_t to)
{
	struct balance_plan *p = st->plan;
	struct balance_move *mv;

	if (balance_grow((void **)&p->moves, &st->moves_cap, p->nmoves,
	    sizeof(*p->moves)) == -1)
		return -1;
	mv = &p->moves[p->nmoves++];
	mv->vm = v;
	mv->from = from;
	mv->to = to;
	mv->mem_mib = st->m->vms[v].mem_mib;
	mv->score_after = balance_state_score(st);
	p->memory_moved_mib += mv->mem_mib;
	return 0;
}

/* Would a member of an anti-affinity group of v meet another on host h? */
static int
balance_anti_conflict(const struct balance_state *st, size_t v, size_t h)
{
	const struct balance_model *m = st->m;
	const struct balance_vm *a = &m->vms[v], *b;
	size_t i, j, w;

	for (i = 0; i < a->ngroups; i++) {
		if (m->groups[a->groups[i]].kind != BALANCE_ANTI)
			continue;
		for (w = st->head[h]; w != BALANCE_END; w = st->next[w]) {
			b = &m->vms[w];
			for (j = 0; j < b->ngroups; j++)
				if (b->groups[j] == a->groups[i])
					return 1;
		}
	}
	return 0;
}

/* The placement engine's model-only rules: zone and labels. A VM stays in
 * the zone of the host it started the plan on. */
static int
balance_place_ok(const struct balance_model *m, const struct balance_vm *vm,
    const struct balance_host *h)
{
	char why[8];

	if ((vm->zone != NULL || m->zone_stay) &&
	    !place_zone_ok(vm->zone, m->hosts[vm->host].zone, m->zone_stay,
	    h->zone, why, sizeof(why)))
		return 0;
	return vm->nrequires == 0 || place_labels_ok(
	    (const char *const *)vm->requires, vm->nrequires,
	    (const char *const *)h->labels, h->nlabels, why, sizeof(why));
}

/* May the whole of unit u move to host d now? ceiling < 0: none. */
static int
balance_feasible(const struct balance_state *st, const struct balance_unit *u,
    size_t d, double ceiling)
{
	const struct balance_host *h = &st->m->hosts[d];
	const struct balance_vm *vm;
	uint64_t need;
	size_t i, v;

	if (!h->usable || d == u->host)
		return 0;
	/* Memory only accumulates on d over the unit's moves: the last is
	 * the one to check. */
	need = st->gmem[d] + h->reserved_mib + u->mem_mib;
	if (need > h->mem_mib)
		return 0;
	if (ceiling >= 0 && (double)need > ceiling * (double)h->mem_mib)
		return 0;
	if ((double)(st->gvcpu[d] + u->vcpus) >
	    st->o->vcpu_ratio_max * (double)h->cpus * (1 + 1e-12))
		return 0;
	for (i = 0; i < u->n; i++) {
		v = st->members[u->first + i];
		vm = &st->m->vms[v];
		if (vm->allowed != NULL &&
		    (d >= vm->nallowed || !vm->allowed[d]))
			return 0;
		if (!balance_place_ok(st->m, vm, h))
			return 0;
		if (balance_anti_conflict(st, v, d))
			return 0;
	}
	return 1;
}

static size_t
balance_uf_find(size_t *parent, size_t v)
{
	while (parent[v] != v) {
		parent[v] = parent[parent[v]];
		v = parent[v];
	}
	return v;
}

/* Units: union-find over affinity groups, numbered by their first VM. */
static int
balance_units(struct balance_state *st)
{
	const struct balance_model *m = st->m;
	size_t *parent = NULL, *gfirst = NULL, *fill = NULL;
	size_t v, i, g, r, a, b, u;
	struct balance_unit *un;
	const struct balance_vm *vm;
	int rc = -1;

	if ((parent = calloc(m->nvms + 1, sizeof(*parent))) == NULL ||
	    (gfirst = calloc(m->ngroups + 1, sizeof(*gfirst))) == NULL ||
	    (st->members = calloc(m->nvms + 1, sizeof(size_t))) == NULL ||
	    (st->unit_of = calloc(m->nvms + 1, sizeof(size_t))) == NULL ||
	    (st->units = calloc(m->nvms + 1, sizeof(*st->units))) == NULL)
		goto out;
	for (v = 0; v < m->nvms; v++)
		parent[v] = v;
	for (g = 0; g < m->ngroups; g++)
		gfirst[g] = BALANCE_END;
	for (v = 0; v < m->nvms; v++) {
		vm = &m->vms[v];
		for (i = 0; i < vm->ngroups; i++) {
			g = vm->groups[i];
			if (m->groups[g].kind != BALANCE_AFFINITY)
				continue;
			if (gfirst[g] == BALANCE_END) {
				gfirst[g] = v;
				continue;
			}
			a = balance_uf_find(parent, v);
			b = balance_uf_find(parent, gfirst[g]);
			if (a != b)
				parent[a < b ? b : a] = a < b ? a : b;
		}
	}
	/* Roots are each component's least VM: number units in that order. */
	for (v = 0; v < m->nvms; v++) {
		r = balance_uf_find(parent, v);
		if (r == v) {
			un = &st->units[st->nunits];
			un->host = m->vms[v].host;
			un->movable = 1;
			st->unit_of[v] = st->nunits++;
		} else
			st->unit_of[v] = st->unit_of[r];
		un = &st->units[st->unit_of[v]];
		un->n++;
		un->mem_mib += m->vms[v].mem_mib;
		un->vcpus += m->vms[v].vcpus;
		if (m->vms[v].pinned || m->vms[v].host != un->host ||
		    !m->hosts[m->vms[v].host].usable)
			un->movable = 0;
	}
	if ((fill = calloc(st->nunits + 1, sizeof(*fill))) == NULL)
		goto out;
	for (u = 0, i = 0; u < st->nunits; u++) {
		st->units[u].first = i;
		i += st->units[u].n;
	}
	for (v = 0; v < m->nvms; v++) {
		un = &st->units[st->unit_of[v]];
		st->members[un->first + fill[st->unit_of[v]]++] = v;
	}
	rc = 0;
 out:
	free(parent);
	free(gfirst);
	free(fill);
	return rc;
}

static int
balance_classes(struct balance_state *st)
{
	const struct balance_model *m = st->m;
	struct balance_class *k;
	size_t h, i;

	if ((st->classes = calloc(m->nhosts + 1, sizeof(*st->classes))) ==
	    NULL)
		return -1;
	for (h = 0; h < m->nhosts; h++) {
		if (!m->hosts[h].usable)
			continue;
		/* Few sizes in practice: a linear search is enough. */
		for (i = 0; i < st->nclasses; i++)
			if (st->classes[i].mem_mib == m->hosts[h].mem_mib &&
			    st->classes[i].cpus == m->hosts[h].cpus)
				break;
		k = &st->classes[i];
		if (i == st->nclasses) {
			st->nclasses++;
			k->mem_mib = m->hosts[h].mem_mib;
			k->cpus = m->hosts[h].cpus;
			if ((k->hosts = calloc(m->nhosts, sizeof(size_t))) ==
			    NULL || (k->minc = calloc(m->nhosts,
			    sizeof(double))) == NULL)
				return -1;
		}
		k->hosts[k->n++] = h;
	}
	return 0;
}

static int
balance_cmp_x(const void *a, const void *b, void *arg)
{
	const double *x = arg;
	size_t i = *(const size_t *)a, j = *(const size_t *)b;

	if (x[i] != x[j])
		return x[i] < x[j] ? -1 : 1;
	return i < j ? -1 : i > j;
}

static void
balance_classes_sort(struct balance_state *st)
{
	struct balance_class *k;
	size_t i, j;

	for (i = 0; i < st->nclasses; i++) {
		k = &st->classes[i];
		qsort_r(k->hosts, k->n, sizeof(size_t), balance_cmp_x, st->x);
		for (j = k->n; j-- > 0;)
			k->minc[j] = j + 1 < k->n && k->minc[j + 1] <
			    st->c[k->hosts[j]] ? k->minc[j + 1] :
			    st->c[k->hosts[j]];
	}
}

static void
balance_state_free(struct balance_state *st)
{
	size_t i;

	free(st->gmem);
	free(st->gvcpu);
	free(st->x);
	free(st->c);
	free(st->vhost);
	free(st->head);
	free(st->next);
	free(st->prev);
	free(st->units);
	free(st->members);
	free(st->unit_of);
	if (st->classes != NULL)
		for (i = 0; i < st->nclasses; i++) {
			free(st->classes[i].hosts);
			free(st->classes[i].minc);
		}
	free(st->classes);
}

static int
balance_state_init(struct balance_state *st, const struct balance_model *m,
    const struct balance_opts *o)
{
	size_t nh = m->nhosts + 1, nv = m->nvms + 1, h, v;

	memset(st, 0, sizeof(*st));
	st->m = m;
	st->o = o;
	if ((st->gmem = calloc(nh, sizeof(uint64_t))) == NULL ||
	    (st->gvcpu = calloc(nh, sizeof(uint64_t))) == NULL ||
	    (st->x = calloc(nh, sizeof(double))) == NULL ||
	    (st->c = calloc(nh, sizeof(double))) == NULL ||
	    (st->head = calloc(nh, sizeof(size_t))) == NULL ||
	    (st->vhost = calloc(nv, sizeof(size_t))) == NULL ||
	    (st->next = calloc(nv, sizeof(size_t))) == NULL ||
	    (st->prev = calloc(nv, sizeof(size_t))) == NULL)
		return -1;
	for (h = 0; h < m->nhosts; h++) {
		st->head[h] = BALANCE_END;
		if (m->hosts[h].usable)
			st->nusable++;
	}
	/* Inserted last to first: each host's list is in VM order. */
	for (v = m->nvms; v-- > 0;) {
		h = m->vms[v].host;
		st->gmem[h] += m->vms[v].mem_mib;
		st->gvcpu[h] += m->vms[v].vcpus;
		balance_list_insert(st, v, h);
	}
	for (h = 0; h < m->nhosts; h++)
		if (m->hosts[h].usable)
			balance_host_refresh(st, h);
	if (balance_units(st) == -1 || balance_classes(st) == -1)
		return -1;
	return 0;
}

/* The best move of unit u to a host of class k, if it beats *best (gain
 * per migration); updates *best and *dest. */
static void
balance_search_class(const struct balance_state *st,
    const struct balance_stats *s, double score, const struct balance_unit *u,
    const struct balance_class *k, double floor, double *best, size_t *dest)
{
	const struct balance_host *src = &st->m->hosts[u->host];
	double as, ad, bs, bd, pm, qm, pc, qc, dm, dc, lb, sc, bestc;
	double nu = (double)u->n;
	/* The step's cost under the objective: migrations, or GiB moved. */
	double cost = st->o->objective == BALANCE_OBJ_MOVES ? nu :
	    fmax((double)u->mem_mib, 1) / 1024.0;
	size_t i, d;

	as = (double)u->mem_mib / (double)src->mem_mib;
	ad = (double)u->mem_mib / (double)k->mem_mib;
	bs = (double)u->vcpus / (double)src->cpus;
	bd = (double)u->vcpus / (double)k->cpus;
	/* Variance after the move = p + q * (destination's value before):
	 * the source's term, the destination's own, the mean's shift. */
	dm = (ad - as) / s->n;
	dc = (bd - bs) / s->n;
	pm = (s->ss_m - 2 * (st->x[u->host] - s->mu_m) * as + as * as -
	    2 * s->mu_m * ad + ad * ad) / s->n - dm * dm;
	qm = 2 * ad / s->n;
	pc = (s->ss_c - 2 * (st->c[u->host] - s->mu_c) * bs + bs * bs -
	    2 * s->mu_c * bd + bd * bd) / s->n - dc * dc;
	qc = 2 * bd / s->n;
	bestc = INFINITY;
	for (i = 0; i < k->n; i++) {
		d = k->hosts[i];
		lb = sqrt(fmax(0, pm + qm * st->x[d])) +
		    sqrt(fmax(0, pc + qc * k->minc[i]));
		if ((score - lb) / cost <= *best || (score - lb) / nu <= floor)
			break;
		/* A host with more of both than a feasible one seen. */
		if (st->c[d] >= bestc || !balance_feasible(st, u, d, -1))
			continue;
		bestc = st->c[d];
		sc = sqrt(fmax(0, pm + qm * st->x[d])) +
		    sqrt(fmax(0, pc + qc * st->c[d]));
		if ((score - sc) / nu > floor && (score - sc) / cost > *best) {
			*best = (score - sc) / cost;
			*dest = d;
		}
	}
}

static int
balance_move_unit(struct balance_state *st, const struct balance_unit *u,
    size_t d)
{
	size_t i, v, from;

	for (i = 0; i < u->n; i++) {
		v = st->members[u->first + i];
		from = st->vhost[v];
		balance_move_vm(st, v, d);
		if (balance_record(st, v, from, d) == -1)
			return -1;
	}
	return 0;
}

static int
balance_run_balance(struct balance_state *st)
{
	const struct balance_opts *o = st->o;
	struct balance_stats s;
	struct balance_unit *u;
	double score, best, floor;
	size_t i, j, left, dest, bu;

	if (st->nusable < 2)
		return 0;
	/* Moves gaining less than this per migration are not proposed. */
	floor = fmax(o->min_gain * (1 - 1e-9), BALANCE_EPS);
	for (;;) {
		left = o->max_moves ? o->max_moves - st->plan->nmoves :
		    SIZE_MAX;
		if (left == 0)
			break;
		balance_stats(st, &s);
		score = balance_sd(s.ss_m, s.n) + balance_sd(s.ss_c, s.n);
		if (score <= o->threshold)
			break;
		balance_classes_sort(st);
		best = o->objective == BALANCE_OBJ_MOVES ? floor : 0;
		bu = dest = BALANCE_END;
		for (i = 0; i < st->nunits; i++) {
			u = &st->units[i];
			if (!u->movable || u->n > left)
				continue;
			for (j = 0; j < st->nclasses; j++) {
				size_t d = BALANCE_END;

				balance_search_class(st, &s, score, u,
				    &st->classes[j], floor, &best, &d);
				if (d != BALANCE_END) {
					bu = i;
					dest = d;
				}
			}
		}
		if (bu == BALANCE_END)
			break;
		u = &st->units[bu];
		if (balance_move_unit(st, u, dest) == -1)
			return -1;
		u->host = dest;
	}
	return 0;
}

static int
balance_cmp_unit_mem(const void *a, const void *b, void *arg)
{
	const struct balance_unit *units = arg;
	size_t i = *(const size_t *)a, j = *(const size_t *)b;

	if (units[i].mem_mib != units[j].mem_mib)
		return units[i].mem_mib > units[j].mem_mib ? -1 : 1;
	return i < j ? -1 : i > j;
}

/* Consolidate: empty the host with the least guest memory first, placing
 * its units largest first on the fullest occupied host that takes them
 * under the ceiling (best fit); a host that cannot be emptied whole is
 * left as it is. Hosts emptied are never destinations again. */
static int
balance_run_consolidate(struct balance_state *st)
{
	const struct balance_model *m = st->m;
	const struct balance_opts *o = st->o;
	uint8_t *tried = NULL, *emptied = NULL;
	size_t *list = NULL, *stamp = NULL;
	size_t h, s, d, n, k, i, v, mark, nl, bestd;
	struct balance_unit *u;
	struct balance_move *mv;
	double fill, bestfill;
	int ok, rc = -1;

	if ((tried = calloc(m->nhosts + 1, 1)) == NULL ||
	    (emptied = calloc(m->nhosts + 1, 1)) == NULL ||
	    (list = calloc(st->nunits + 1, sizeof(*list))) == NULL ||
	    (stamp = calloc(st->nunits + 1, sizeof(*stamp))) == NULL)
		goto out;
	for (;;) {
		s = BALANCE_END;
		for (h = 0; h < m->nhosts; h++)
			if (m->hosts[h].usable && !tried[h] &&
			    st->head[h] != BALANCE_END &&
			    (s == BALANCE_END || st->gmem[h] < st->gmem[s]))
				s = h;
		if (s == BALANCE_END)
			break;
		tried[s] = 1;
		nl = k = 0;
		ok = 1;
		for (v = st->head[s]; v != BALANCE_END; v = st->next[v]) {
			k++;
			i = st->unit_of[v];
			if (!st->units[i].movable)
				ok = 0;
			if (stamp[i] != s + 1) {
				stamp[i] = s + 1;
				list[nl++] = i;
			}
		}
		if (!ok || (o->max_moves &&
		    st->plan->nmoves + k > o->max_moves))
			continue;
		qsort_r(list, nl, sizeof(*list), balance_cmp_unit_mem,
		    st->units);
		mark = st->plan->nmoves;
		for (n = 0; n < nl && ok; n++) {
			u = &st->units[list[n]];
			bestd = BALANCE_END;
			bestfill = -1;
			for (d = 0; d < m->nhosts; d++) {
				if (emptied[d] || st->head[d] == BALANCE_END ||
				    !balance_feasible(st, u, d,
				    o->util_ceiling))
					continue;
				fill = (double)(st->gmem[d] + u->mem_mib +
				    m->hosts[d].reserved_mib) /
				    (double)m->hosts[d].mem_mib;
				if (fill > bestfill) {
					bestfill = fill;
					bestd = d;
				}
			}
			if (bestd == BALANCE_END) {
				ok = 0;
				break;
			}
			if (balance_move_unit(st, u, bestd) == -1)
				goto out;
			u->host = bestd;
		}
		if (ok) {
			emptied[s] = 1;
			continue;
		}
		/* Put back what was placed of this host. */
		while (st->plan->nmoves > mark) {
			mv = &st->plan->moves[--st->plan->nmoves];
			st->plan->memory_moved_mib -= mv->mem_mib;
			balance_move_vm(st, mv->vm, mv->from);
			st->units[st->unit_of[mv->vm]].host = mv->from;
		}
	}
	rc = 0;
 out:
	free(tried);
	free(emptied);
	free(list);
	free(stamp);
	return rc;
}

int
balance_plan(const struct balance_model *m, const struct balance_opts *o,
    struct balance_plan **out, char *err, size_t errlen)
{
	struct balance_state st;
	struct balance_plan *p = NULL;
	size_t h;
	int rc = -1;

	memset(&st, 0, sizeof(st));
	*out = NULL;
	for (h = 0; h < m->nhosts; h++)
		if (m->hosts[h].usable &&
		    (m->hosts[h].mem_mib == 0 || m->hosts[h].cpus == 0)) {
			snprintf(err, errlen, "host %s: usable with no %s",
			    m->hosts[h].name,
			    m->hosts[h].mem_mib == 0 ? "memory" : "CPUs");
			goto out;
		}
	if (!(o->vcpu_ratio_max > 0) || !(o->util_ceiling > 0) ||
	    !(o->min_gain >= 0) || isnan(o->threshold)) {
		snprintf(err, errlen, "bad options: vcpu_ratio_max and "
		    "util_ceiling must be positive, min_gain not negative");
		goto out;
	}
	if ((p = calloc(1, sizeof(*p))) == NULL)
		goto nomem;
	p->policy = o->policy;
	p->objective = o->objective;
	if (balance_state_init(&st, m, o) == -1)
		goto nomem;
	st.plan = p;
	p->score_before = balance_state_score(&st);
	if (o->policy == BALANCE_POLICY_CONSOLIDATE)
		rc = balance_run_consolidate(&st);
	else
		rc = balance_run_balance(&st);
	if (rc == -1)
		goto nomem;
	p->score_after = p->nmoves ? p->moves[p->nmoves - 1].score_after :
	    p->score_before;
	*out = p;
	p = NULL;
	rc = 0;
	goto out;
 nomem:
	rc = -1;
	snprintf(err, errlen, "out of memory");
 out:
	balance_state_free(&st);
	balance_plan_free(p);
	return rc;
}

void
balance_plan_free(struct balance_plan *p)
{
	if (p == NULL)
		return;
	free(p->moves);
	free(p);
}

double
balance_score(const struct balance_model *m, enum balance_policy policy)
{
	struct balance_opts o;
	struct balance_state st;
	double score = NAN;

	balance_opts_defaults(&o);
	o.policy = policy;
	if (balance_state_init(&st, m, &o) == 0)
		score = balance_state_score(&st);
	balance_state_free(&st);
	return score;
}

int
balance_apply(struct balance_model *m, const struct balance_plan *p)
{
	const struct balance_move *mv;
	size_t i;

	for (i = 0; i < p->nmoves; i++) {
		mv = &p->moves[i];
		if (mv->vm >= m->nvms || mv->to >= m->nhosts ||
		    m->vms[mv->vm].host != mv->from)
			return -1;
		m->vms[mv->vm].host = mv->to;
	}
	return 0;
}

/* Snapshot JSON. */

/* Line and column (from 1) of byte off of text. */
static void
balance_position(const char *text, size_t off, size_t *line, size_t *col)
{
	size_t i;

	*line = *col = 1;
	for (i = 0; i < off; i++) {
		if (text[i] == '\n') {
			(*line)++;
			*col = 1;
		} else
			(*col)++;
	}
}

/* An optional integer member within [min, max]: 0 found, 1 absent, -1 bad.
 * what names the object for messages. */
static int
balance_get_int(struct json_object *o, const char *key, int64_t min,
    int64_t max, int64_t *val, const char *what, char *err, size_t errlen)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || v == NULL)
		return 1;
	if (!json_object_is_type(v, json_type_int)) {
		snprintf(err, errlen, "%s: \"%s\" is not an integer", what, key);
		return -1;
	}
	errno = 0;
	*val = json_object_get_int64(v);
	if (errno != 0 || *val < min || *val > max) {
		snprintf(err, errlen, "%s: \"%s\" %s is out of range "
		    "(%lld to %lld)", what, key, json_object_to_json_string(v),
		    (long long)min, (long long)max);
		return -1;
	}
	return 0;
}

static int
balance_get_str(struct json_object *o, const char *key, const char **val,
    const char *what, char *err, size_t errlen)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || v == NULL)
		return 1;
	if (!json_object_is_type(v, json_type_string) ||
	    json_object_get_string_len(v) == 0) {
		snprintf(err, errlen, "%s: \"%s\" is not a non-empty string",
		    what, key);
		return -1;
	}
	*val = json_object_get_string(v);
	return 0;
}

static int
balance_get_array(struct json_object *o, const char *key,
    struct json_object **val, const char *what, char *err, size_t errlen)
{
	if (!json_object_object_get_ex(o, key, val) || *val == NULL)
		return 1;
	if (!json_object_is_type(*val, json_type_array)) {
		snprintf(err, errlen, "%s: \"%s\" is not an array", what, key);
		return -1;
	}
	return 0;
}

static int
balance_missing(int r, const char *what, const char *key, char *err,
    size_t errlen)
{
	if (r == 1)
		snprintf(err, errlen, "%s: missing \"%s\"", what, key);
	return r != 0;
}

/* "zone" and "labels" (hosts) or "requires_labels" (VMs). */
static int
balance_parse_place(struct balance_model *m, struct json_object *o, size_t i,
    int host, const char *what, char *err, size_t errlen)
{
	const char *key = host ? "labels" : "requires_labels", *zone = NULL, *l;
	struct json_object *arr = NULL, *e;
	size_t j;

	if (balance_get_str(o, "zone", &zone, what, err, errlen) == -1 ||
	    balance_get_array(o, key, &arr, what, err, errlen) == -1)
		return -1;
	if (zone != NULL && !place_label_valid(zone)) {
		snprintf(err, errlen, "%s: zone \"%.100s\" is not a zone name",
		    what, zone);
		return -1;
	}
	if (zone != NULL && (host ? balance_host_zone(m, i, zone) :
	    balance_vm_zone(m, i, zone)) == -1)
		goto nomem;
	for (j = 0; arr && j < json_object_array_length(arr); j++) {
		e = json_object_array_get_idx(arr, j);
		l = json_object_is_type(e, json_type_string) ?
		    json_object_get_string(e) : "";
		if (!place_label_valid(l)) {
			snprintf(err, errlen, "%s: %s[%zu] %.100s is not a label",
			    what, key, j, json_object_to_json_string(e));
			return -1;
		}
		if ((host ? balance_host_label(m, i, l) :
		    balance_vm_requires(m, i, l)) == -1)
			goto nomem;
	}
	return 0;
 nomem:
	snprintf(err, errlen, "out of memory");
	return -1;
}

static int
balance_parse_host(struct balance_model *m, struct json_object *o, size_t i,
    char *err, size_t errlen)
{
	char what[160];
	const char *name, *state = "up";
	int64_t mem, res = 0, cpus;
	long h;

	snprintf(what, sizeof(what), "hosts[%zu]", i);
	if (!json_object_is_type(o, json_type_object)) {
		snprintf(err, errlen, "%s: not an object", what);
		return -1;
	}
	if (balance_missing(balance_get_str(o, "name", &name, what, err,
	    errlen), what, "name", err, errlen))
		return -1;
	snprintf(what, sizeof(what), "hosts[%zu] \"%.100s\"", i, name);
	if (balance_missing(balance_get_int(o, "mem_mib", 1, INT64_MAX, &mem,
	    what, err, errlen), what, "mem_mib", err, errlen) ||
	    balance_missing(balance_get_int(o, "cpus", 1, UINT32_MAX, &cpus,
	    what, err, errlen), what, "cpus", err, errlen))
		return -1;
	if (balance_get_int(o, "reserved_mib", 0, mem, &res, what, err,
	    errlen) == -1 ||
	    balance_get_str(o, "state", &state, what, err, errlen) == -1)
		return -1;
	if (balance_find_host(m, name) != -1) {
		snprintf(err, errlen, "%s: duplicate host name", what);
		return -1;
	}
	if ((h = balance_add_host(m, name, (uint64_t)mem, (uint64_t)res,
	    (uint32_t)cpus, 1)) == -1 ||
	    balance_host_state(m, (size_t)h, state) == -1) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	return balance_parse_place(m, o, (size_t)h, 1, what, err, errlen);
}

static int
balance_parse_vm(struct balance_model *m, struct json_object *o, size_t i,
    char *err, size_t errlen)
{
	char what[160];
	const char *name, *host, *g, *hn;
	struct json_object *pin, *groups = NULL, *allowed = NULL, *e;
	enum balance_group_kind kind;
	int64_t mem, vcpus = 1;
	long h, v, a;
	size_t j;

	snprintf(what, sizeof(what), "vms[%zu]", i);
	if (!json_object_is_type(o, json_type_object)) {
		snprintf(err, errlen, "%s: not an object", what);
		return -1;
	}
	if (balance_missing(balance_get_str(o, "name", &name, what, err,
	    errlen), what, "name", err, errlen))
		return -1;
	snprintf(what, sizeof(what), "vms[%zu] \"%.100s\"", i, name);
	if (balance_missing(balance_get_str(o, "host", &host, what, err,
	    errlen), what, "host", err, errlen) ||
	    balance_missing(balance_get_int(o, "mem_mib", 0, INT64_MAX, &mem,
	    what, err, errlen), what, "mem_mib", err, errlen) ||
	    balance_get_int(o, "vcpus", 0, UINT32_MAX, &vcpus, what, err,
	    errlen) == -1 ||
	    balance_get_array(o, "groups", &groups, what, err, errlen) == -1 ||
	    balance_get_array(o, "allowed", &allowed, what, err, errlen) == -1)
		return -1;
	if (json_object_object_get_ex(o, "pinned", &pin) && pin != NULL &&
	    !json_object_is_type(pin, json_type_boolean)) {
		snprintf(err, errlen, "%s: \"pinned\" is not true or false",
		    what);
		return -1;
	}
	if ((h = balance_find_host(m, host)) == -1) {
		snprintf(err, errlen, "%s: unknown host \"%.100s\"", what, host);
		return -1;
	}
	if (balance_find_vm(m, name) != -1) {
		snprintf(err, errlen, "%s: duplicate VM name", what);
		return -1;
	}
	if ((v = balance_add_vm(m, name, (size_t)h, (uint64_t)mem,
	    (uint32_t)vcpus, pin != NULL && json_object_get_boolean(pin))) ==
	    -1)
		goto nomem;
	for (j = 0; groups && j < json_object_array_length(groups); j++) {
		e = json_object_array_get_idx(groups, j);
		g = json_object_is_type(e, json_type_string) ?
		    json_object_get_string(e) : "";
		if (strncmp(g, "anti:", 5) == 0 && g[5] != '\0') {
			kind = BALANCE_ANTI;
			g += 5;
		} else if (strncmp(g, "affinity:", 9) == 0 && g[9] != '\0') {
			kind = BALANCE_AFFINITY;
			g += 9;
		} else {
			snprintf(err, errlen, "%s: groups[%zu] %.100s is not "
			    "\"anti:NAME\" or \"affinity:NAME\"", what, j,
			    json_object_to_json_string(e));
			return -1;
		}
		if (balance_vm_group(m, (size_t)v, kind, g) == -1)
			goto nomem;
	}
	for (j = 0; allowed && j < json_object_array_length(allowed); j++) {
		e = json_object_array_get_idx(allowed, j);
		hn = json_object_is_type(e, json_type_string) ?
		    json_object_get_string(e) : "";
		if ((a = balance_find_host(m, hn)) == -1) {
			snprintf(err, errlen, "%s: allowed[%zu] %.100s is not "
			    "a host", what, j, json_object_to_json_string(e));
			return -1;
		}
		if (balance_vm_allow(m, (size_t)v, (size_t)a) == -1)
			goto nomem;
	}
	/* An empty list allows nothing. */
	if (allowed && json_object_array_length(allowed) == 0 &&
	    balance_vm_restrict(m, (size_t)v) == -1)
		goto nomem;
	return balance_parse_place(m, o, (size_t)v, 0, what, err, errlen);
 nomem:
	snprintf(err, errlen, "out of memory");
	return -1;
}

int
balance_parse(const char *text, size_t len, struct balance_model **out,
    char *err, size_t errlen)
{
	struct json_tokener *tok = NULL;
	struct json_object *root = NULL, *hosts, *vms = NULL;
	struct balance_model *m = NULL;
	enum json_tokener_error jerr;
	size_t i, end, line, col;
	int rc = -1;

	*out = NULL;
	if (len > INT32_MAX) {
		snprintf(err, errlen, "snapshot too large");
		goto out;
	}
	if ((tok = json_tokener_new()) == NULL ||
	    (m = balance_model_new()) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	root = json_tokener_parse_ex(tok, text, (int)len);
	jerr = json_tokener_get_error(tok);
	end = json_tokener_get_parse_end(tok);
	if (jerr == json_tokener_continue || (root == NULL &&
	    jerr == json_tokener_success)) {
		snprintf(err, errlen, "bad JSON: unexpected end of input");
		goto out;
	}
	if (jerr != json_tokener_success) {
		balance_position(text, end > 0 ? end - 1 : 0, &line, &col);
		snprintf(err, errlen, "bad JSON at line %zu column %zu: %s",
		    line, col, json_tokener_error_desc(jerr));
		goto out;
	}
	for (i = end; i < len; i++)
		if (!strchr(" \t\r\n", text[i])) {
			balance_position(text, i, &line, &col);
			snprintf(err, errlen, "bad JSON at line %zu column "
			    "%zu: data after the snapshot", line, col);
			goto out;
		}
	if (!json_object_is_type(root, json_type_object)) {
		snprintf(err, errlen, "snapshot: not a JSON object");
		goto out;
	}
	if (balance_missing(balance_get_array(root, "hosts", &hosts,
	    "snapshot", err, errlen), "snapshot", "hosts", err, errlen) ||
	    balance_get_array(root, "vms", &vms, "snapshot", err,
	    errlen) == -1)
		goto out;
	for (i = 0; i < json_object_array_length(hosts); i++)
		if (balance_parse_host(m, json_object_array_get_idx(hosts, i),
		    i, err, errlen) == -1)
			goto out;
	for (i = 0; vms && i < json_object_array_length(vms); i++)
		if (balance_parse_vm(m, json_object_array_get_idx(vms, i), i,
		    err, errlen) == -1)
			goto out;
	{
		const char *zp = "any";

		if (balance_get_str(root, "zone_policy", &zp, "snapshot", err,
		    errlen) == -1)
			goto out;
		if (strcmp(zp, "stay") != 0 && strcmp(zp, "any") != 0) {
			snprintf(err, errlen, "snapshot: zone_policy is \"stay\" "
			    "or \"any\"");
			goto out;
		}
		m->zone_stay = strcmp(zp, "stay") == 0;
	}
	*out = m;
	m = NULL;
	rc = 0;
 out:
	json_object_put(root);
	if (tok != NULL)
		json_tokener_free(tok);
	balance_model_free(m);
	return rc;
}

int
balance_read(const char *path, struct balance_model **out, char *err,
    size_t errlen)
{
	char *buf = NULL, *p, e[512];
	size_t len = 0, cap = 0, n;
	FILE *fp;
	int rc = -1;

	*out = NULL;
	if ((fp = fopen(path, "r")) == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	for (;;) {
		if (len == cap) {
			cap = cap ? cap * 2 : 65536;
			if (cap > BALANCE_MAX_FILE) {
				snprintf(err, errlen, "%s: larger than %u MiB",
				    path, BALANCE_MAX_FILE >> 20);
				goto out;
			}
			if ((p = realloc(buf, cap + 1)) == NULL) {
				snprintf(err, errlen, "out of memory");
				goto out;
			}
			buf = p;
		}
		n = fread(buf + len, 1, cap - len, fp);
		len += n;
		if (n == 0)
			break;
	}
	if (ferror(fp)) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		goto out;
	}
	buf[len] = '\0';
	if (balance_parse(buf, len, out, e, sizeof(e)) == -1) {
		snprintf(err, errlen, "%s: %s", path, e);
		goto out;
	}
	rc = 0;
 out:
	fclose(fp);
	free(buf);
	return rc;
}

/* Takes o; NULL (out of memory) makes the whole result NULL. */
static int
balance_put(struct json_object *obj, const char *key, struct json_object *o)
{
	if (o == NULL || json_object_object_add(obj, key, o) != 0) {
		json_object_put(o);
		return -1;
	}
	return 0;
}

static int
balance_append(struct json_object *arr, struct json_object *o)
{
	if (o == NULL || json_object_array_add(arr, o) != 0) {
		json_object_put(o);
		return -1;
	}
	return 0;
}

static char *
balance_to_string(struct json_object *o, int flags)
{
	char *s;

	s = strdup(json_object_to_json_string_ext(o, flags));
	json_object_put(o);
	return s;
}

char *
balance_write(const struct balance_model *m)
{
	struct json_object *root, *hosts, *vms, *o, *a;
	const struct balance_host *h;
	const struct balance_vm *v;
	const struct balance_group *g;
	char buf[512];
	size_t i, j;

	if ((root = json_object_new_object()) == NULL)
		return NULL;
	if (balance_put(root, "hosts", hosts = json_object_new_array()) ||
	    balance_put(root, "vms", vms = json_object_new_array()))
		goto fail;
	for (i = 0; i < m->nhosts; i++) {
		h = &m->hosts[i];
		if (balance_append(hosts, o = json_object_new_object()) ||
		    balance_put(o, "name", json_object_new_string(h->name)) ||
		    balance_put(o, "mem_mib",
		    json_object_new_int64((int64_t)h->mem_mib)) ||
		    balance_put(o, "reserved_mib",
		    json_object_new_int64((int64_t)h->reserved_mib)) ||
		    balance_put(o, "cpus", json_object_new_int64(h->cpus)) ||
		    balance_put(o, "state", json_object_new_string(h->state ?
		    h->state : h->usable ? "up" : "down")) ||
		    (h->zone && balance_put(o, "zone",
		    json_object_new_string(h->zone))))
			goto fail;
		if (h->nlabels && balance_put(o, "labels",
		    a = json_object_new_array()))
			goto fail;
		for (j = 0; j < h->nlabels; j++)
			if (balance_append(a, json_object_new_string(
			    h->labels[j])))
				goto fail;
	}
	if (m->zone_stay && balance_put(root, "zone_policy",
	    json_object_new_string("stay")))
		goto fail;
	for (i = 0; i < m->nvms; i++) {
		v = &m->vms[i];
		if (balance_append(vms, o = json_object_new_object()) ||
		    balance_put(o, "name", json_object_new_string(v->name)) ||
		    balance_put(o, "host",
		    json_object_new_string(m->hosts[v->host].name)) ||
		    balance_put(o, "mem_mib",
		    json_object_new_int64((int64_t)v->mem_mib)) ||
		    balance_put(o, "vcpus", json_object_new_int64(v->vcpus)) ||
		    balance_put(o, "pinned",
		    json_object_new_boolean(v->pinned)) ||
		    balance_put(o, "groups", a = json_object_new_array()))
			goto fail;
		for (j = 0; j < v->ngroups; j++) {
			g = &m->groups[v->groups[j]];
			snprintf(buf, sizeof(buf), "%s:%s",
			    g->kind == BALANCE_ANTI ? "anti" : "affinity",
			    g->name);
			if (balance_append(a, json_object_new_string(buf)))
				goto fail;
		}
		if (v->zone && balance_put(o, "zone",
		    json_object_new_string(v->zone)))
			goto fail;
		if (v->nrequires && balance_put(o, "requires_labels",
		    a = json_object_new_array()))
			goto fail;
		for (j = 0; j < v->nrequires; j++)
			if (balance_append(a, json_object_new_string(
			    v->requires[j])))
				goto fail;
		if (v->allowed == NULL)
			continue;
		if (balance_put(o, "allowed", a = json_object_new_array()))
			goto fail;
		for (j = 0; j < v->nallowed; j++)
			if (v->allowed[j] && balance_append(a,
			    json_object_new_string(m->hosts[j].name)))
				goto fail;
	}
	return balance_to_string(root, JSON_C_TO_STRING_PRETTY |
	    JSON_C_TO_STRING_SPACED | JSON_C_TO_STRING_NOSLASHESCAPE);
 fail:
	json_object_put(root);
	return NULL;
}

char *
balance_plan_json(const struct balance_model *m, const struct balance_plan *p,
    double elapsed_ms)
{
	struct json_object *root, *moves, *o;
	const struct balance_move *mv;
	size_t i;

	if ((root = json_object_new_object()) == NULL)
		return NULL;
	if (balance_put(root, "policy",
	    json_object_new_string(balance_policy_name(p->policy))) ||
	    balance_put(root, "objective",
	    json_object_new_string(balance_objective_name(p->objective))) ||
	    balance_put(root, "score_before",
	    json_object_new_double(p->score_before)) ||
	    balance_put(root, "score_after",
	    json_object_new_double(p->score_after)) ||
	    balance_put(root, "memory_moved_mib",
	    json_object_new_int64((int64_t)p->memory_moved_mib)) ||
	    balance_put(root, "moves", moves = json_object_new_array()))
		goto fail;
	for (i = 0; i < p->nmoves; i++) {
		mv = &p->moves[i];
		if (balance_append(moves, o = json_object_new_object()) ||
		    balance_put(o, "vm",
		    json_object_new_string(m->vms[mv->vm].name)) ||
		    balance_put(o, "from",
		    json_object_new_string(m->hosts[mv->from].name)) ||
		    balance_put(o, "to",
		    json_object_new_string(m->hosts[mv->to].name)) ||
		    balance_put(o, "mem_mib",
		    json_object_new_int64((int64_t)mv->mem_mib)) ||
		    balance_put(o, "memory_moved_mib",
		    json_object_new_int64((int64_t)mv->mem_mib)) ||
		    balance_put(o, "score_after",
		    json_object_new_double(mv->score_after)))
			goto fail;
	}
	if (balance_put(root, "elapsed_ms", json_object_new_double(elapsed_ms)))
		goto fail;
	return balance_to_string(root, JSON_C_TO_STRING_PLAIN |
	    JSON_C_TO_STRING_NOSLASHESCAPE);
 fail:
	json_object_put(root);
	return NULL;
}
