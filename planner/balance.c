/* balance.c: the rebalancing planner (policy balance) and what both
 * policies share: the working state, units, feasibility, moves. Policy
 * consolidate is consolidate.c, the model model.c, the snapshot JSON
 * snapshot.c. See balance.h.
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
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "balance.h"
#include "place.h"
#include "plan_state.h"

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

/* Consolidate's score: the hosts in use, plus how spread the guests'
 * memory is over them, 1 - sum(share^2), in [0, 1) (0: all on one host).
 * The whole part is what an operator counts; the fraction lets every move
 * that packs memory onto a fuller host lower the score, not only the move
 * that empties a host. */
static double
balance_consolidate_score(const struct balance_state *st)
{
	const struct balance_model *m = st->m;
	double total = 0, sq = 0, sh;
	size_t h;

	for (h = 0; h < m->nhosts; h++)
		if (m->hosts[h].usable)
			total += (double)st->gmem[h];
	if (total <= 0)
		return (double)st->occupied;
	for (h = 0; h < m->nhosts; h++)
		if (m->hosts[h].usable) {
			sh = (double)st->gmem[h] / total;
			sq += sh * sh;
		}
	sh = 1 - sq;
	return (double)st->occupied + (sh > 0 ? sh : 0);
}

static double
balance_state_score(const struct balance_state *st)
{
	struct balance_stats s;

	if (st->o->policy == BALANCE_POLICY_CONSOLIDATE)
		return balance_consolidate_score(st);
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

void
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

int
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

int
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
