/* test_balance.c: the rebalancing planner. The score against a hand
 * computation; the greedy step against an exhaustive search; every plan
 * replayed move by move against every constraint; the stopping rules;
 * consolidation; snapshot errors; and ferryctl plan's output and exits. */
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "balance.h"

/* tests/data/ from $FERRY_TESTDATA, the source tree (cwd at the top of the
 * tree) or the build tree (B/tests/test_balance). */
static void
testdata(const char *rel, char *path, size_t len)
{
	char exe[PATH_MAX], *p;
	const char *env = getenv("FERRY_TESTDATA");
	ssize_t n;

	if (env != NULL) {
		snprintf(path, len, "%s/%s", env, rel);
		return;
	}
	snprintf(path, len, "tests/data/%s", rel);
	if (access(path, R_OK) == 0)
		return;
	if ((n = readlink("/proc/self/exe", exe, sizeof(exe) - 1)) <= 0)
		return;
	exe[n] = '\0';
	if ((p = strrchr(exe, '/')) != NULL)
		*p = '\0';
	if ((p = strrchr(exe, '/')) != NULL)
		*p = '\0';
	snprintf(path, len, "%s/../tests/data/%s", exe, rel);
}

static struct balance_model *
parse_ok(const char *json)
{
	struct balance_model *m;
	char err[256];

	if (balance_parse(json, strlen(json), &m, err, sizeof(err)) != 0)
		fail_msg("parse failed: %s", err);
	return m;
}

static struct balance_plan *
plan_ok(const struct balance_model *m, const struct balance_opts *o)
{
	struct balance_plan *p;
	char err[256];

	if (balance_plan(m, o, &p, err, sizeof(err)) != 0)
		fail_msg("plan failed: %s", err);
	return p;
}

static int
in_group(const struct balance_model *m, size_t v, size_t g)
{
	size_t i;

	for (i = 0; i < m->vms[v].ngroups; i++)
		if (m->vms[v].groups[i] == g)
			return 1;
	return 0;
}

/* Replays p on a copy of the hosts, checking after every move: memory on
 * the destination, its vCPU ratio, the destination allowed and up, the
 * source up, no pinned VM moved, no anti-affinity pair made to share a
 * host, affinity members moved back to back to one destination and
 * together at the end; and each move's score as reported. */
static void
check_plan(const struct balance_model *m0, const struct balance_opts *o,
    const struct balance_plan *p)
{
	struct balance_model *m;
	const struct balance_move *mv;
	uint64_t *mem, *vc;
	size_t i, j, g, w;
	char *text;

	text = balance_write(m0);
	assert_non_null(text);
	m = parse_ok(text);
	free(text);
	mem = calloc(m->nhosts, sizeof(*mem));
	vc = calloc(m->nhosts, sizeof(*vc));
	assert_non_null(mem);
	assert_non_null(vc);
	for (i = 0; i < m->nvms; i++) {
		mem[m->vms[i].host] += m->vms[i].mem_mib;
		vc[m->vms[i].host] += m->vms[i].vcpus;
	}
	for (i = 0; i < p->nmoves; i++) {
		mv = &p->moves[i];
		assert_int_equal(m->vms[mv->vm].host, mv->from);
		assert_int_not_equal(mv->from, mv->to);
		assert_false(m->vms[mv->vm].pinned);
		assert_true(m->hosts[mv->from].usable);
		assert_true(m->hosts[mv->to].usable);
		assert_int_equal(mv->mem_mib, m->vms[mv->vm].mem_mib);
		if (m->vms[mv->vm].allowed != NULL)
			assert_true(mv->to < m->vms[mv->vm].nallowed &&
			    m->vms[mv->vm].allowed[mv->to]);
		mem[mv->from] -= mv->mem_mib;
		vc[mv->from] -= m->vms[mv->vm].vcpus;
		mem[mv->to] += mv->mem_mib;
		vc[mv->to] += m->vms[mv->vm].vcpus;
		assert_true(mem[mv->to] + m->hosts[mv->to].reserved_mib <=
		    m->hosts[mv->to].mem_mib);
		assert_true((double)vc[mv->to] <=
		    o->vcpu_ratio_max * m->hosts[mv->to].cpus + 1e-9);
		if (o->policy == BALANCE_POLICY_CONSOLIDATE)
			assert_true((double)(mem[mv->to] +
			    m->hosts[mv->to].reserved_mib) <=
			    o->util_ceiling * m->hosts[mv->to].mem_mib + 1e-6);
		for (j = 0; j < m->vms[mv->vm].ngroups; j++) {
			g = m->vms[mv->vm].groups[j];
			if (m->groups[g].kind != BALANCE_ANTI)
				continue;
			for (w = 0; w < m->nvms; w++)
				assert_false(w != mv->vm &&
				    m->vms[w].host == mv->to &&
				    in_group(m, w, g));
		}
		m->vms[mv->vm].host = mv->to;
		assert_true(fabs(balance_score(m, o->policy) -
		    mv->score_after) < 1e-9);
		/* An affinity member moved: its group follows next. */
		for (j = 0; j < m->vms[mv->vm].ngroups; j++) {
			g = m->vms[mv->vm].groups[j];
			if (m->groups[g].kind != BALANCE_AFFINITY)
				continue;
			for (w = 0; w < m->nvms; w++)
				if (in_group(m, w, g) && m->vms[w].host != mv->to) {
					assert_true(i + 1 < p->nmoves);
					assert_int_equal(p->moves[i + 1].to,
					    mv->to);
					break;
				}
		}
	}
	assert_true(fabs(balance_score(m, o->policy) - p->score_after) < 1e-9);
	free(mem);
	free(vc);
	balance_model_free(m);
}

/* n1: 1000 MiB, 100 reserved, 4 CPUs, a (400 MiB, 4 vCPUs): 0.5 and 1.0.
 * n2: 1000 MiB, 8 CPUs, b (100 MiB, 2 vCPUs): 0.1 and 0.25.
 * sd(0.5, 0.1) = 0.2; sd(1.0, 0.25) = 0.375; n3 is down: not counted.
 * Consolidate: 2 hosts in use, spread 1 - (0.8^2 + 0.2^2) = 0.32. */
static void
test_score_by_hand(void **state)
{
	struct balance_model *m;

	(void)state;
	m = parse_ok("{\"hosts\":["
	    "{\"name\":\"n1\",\"mem_mib\":1000,\"reserved_mib\":100,\"cpus\":4},"
	    "{\"name\":\"n2\",\"mem_mib\":1000,\"cpus\":8},"
	    "{\"name\":\"n3\",\"mem_mib\":10,\"cpus\":1,\"state\":\"down\"}],"
	    "\"vms\":[{\"name\":\"a\",\"host\":\"n1\",\"mem_mib\":400,"
	    "\"vcpus\":4},{\"name\":\"b\",\"host\":\"n2\",\"mem_mib\":100,"
	    "\"vcpus\":2},{\"name\":\"c\",\"host\":\"n3\",\"mem_mib\":9}]}");
	assert_true(fabs(balance_score(m, BALANCE_POLICY_BALANCE) - 0.575) <
	    1e-12);
	assert_true(fabs(balance_score(m, BALANCE_POLICY_CONSOLIDATE) - 2.32) <
	    1e-12);
	balance_model_free(m);
}

static uint64_t rng_state;

static uint32_t
rnd(uint32_t n)
{
	rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
	return (uint32_t)(rng_state >> 33) % n;
}

/* A random cluster: two host sizes, VMs packed unevenly. */
static struct balance_model *
random_model(size_t nh, size_t nv, int constraints)
{
	static const uint64_t mems[] = { 1024, 2048, 4096, 8192 };
	struct balance_model *m = balance_model_new();
	uint64_t *used;
	char name[32];
	size_t i, h, k;
	long v;

	assert_non_null(m);
	used = calloc(nh, sizeof(*used));
	for (i = 0; i < nh; i++) {
		snprintf(name, sizeof(name), "n%zu", i);
		assert_true(balance_add_host(m, name, i % 3 ? 65536 : 131072,
		    2048, i % 3 ? 16 : 32, 1) == (long)i);
		used[i] = 2048;
	}
	if (constraints)
		assert_int_equal(balance_host_state(m, nh - 1, "down"), 0);
	for (i = 0; i < nv; i++) {
		uint64_t mem = mems[rnd(4)];

		/* Half the VMs on the first quarter of the hosts. */
		for (k = 0; k < 50; k++) {
			h = rnd(2) ? rnd((uint32_t)(nh + 3) / 4) : rnd((uint32_t)nh);
			if (used[h] + mem <= m->hosts[h].mem_mib)
				break;
		}
		if (k == 50)
			continue;
		used[h] += mem;
		snprintf(name, sizeof(name), "v%zu", i);
		v = balance_add_vm(m, name, h, mem, 1 + rnd(4),
		    constraints && rnd(10) == 0);
		assert_true(v >= 0);
		if (!constraints)
			continue;
		k = rnd(10);
		if (k < 2) {
			snprintf(name, sizeof(name), "a%u", rnd(4));
			assert_int_equal(balance_vm_group(m, (size_t)v,
			    BALANCE_ANTI, name), 0);
		} else if (k == 2) {
			/* Affinity per host: members start together. */
			snprintf(name, sizeof(name), "f%zu", h);
			assert_int_equal(balance_vm_group(m, (size_t)v,
			    BALANCE_AFFINITY, name), 0);
		} else if (k == 3) {
			for (h = 0; h < nh; h += 2)
				assert_int_equal(balance_vm_allow(m, (size_t)v,
				    h), 0);
		}
	}
	free(used);
	return m;
}

/* The best single move by trying them all, scoring each from scratch:
 * the lowest score (objective moves), or the score after the move with the
 * most gain per GiB moved (objective memory). */
static double
exhaustive_best(struct balance_model *m, const struct balance_opts *o)
{
	double s0 = balance_score(m, BALANCE_POLICY_BALANCE), best = s0, s;
	double rate = 0, r;
	uint64_t mem, vc;
	size_t v, d, w, from;

	for (v = 0; v < m->nvms; v++) {
		from = m->vms[v].host;
		for (d = 0; d < m->nhosts; d++) {
			if (d == from)
				continue;
			mem = m->hosts[d].reserved_mib + m->vms[v].mem_mib;
			vc = m->vms[v].vcpus;
			for (w = 0; w < m->nvms; w++)
				if (m->vms[w].host == d) {
					mem += m->vms[w].mem_mib;
					vc += m->vms[w].vcpus;
				}
			if (mem > m->hosts[d].mem_mib ||
			    (double)vc > o->vcpu_ratio_max * m->hosts[d].cpus)
				continue;
			m->vms[v].host = d;
			s = balance_score(m, BALANCE_POLICY_BALANCE);
			m->vms[v].host = from;
			r = (s0 - s) / ((double)m->vms[v].mem_mib / 1024.0);
			if (o->objective == BALANCE_OBJ_MOVES ? s < best :
			    s < s0 - 1e-12 && r > rate) {
				best = s;
				rate = r;
			}
		}
	}
	return best;
}

/* The pruned incremental search finds what trying every move finds. */
static void
test_greedy_matches_exhaustive(void **state)
{
	struct balance_model *m;
	struct balance_plan *p;
	struct balance_opts o;
	int trial;

	(void)state;
	balance_opts_defaults(&o);
	o.max_moves = 1;
	o.min_gain = 0;
	o.threshold = 0;
	for (o.objective = BALANCE_OBJ_MEMORY; o.objective <= BALANCE_OBJ_MOVES;
	    o.objective++) {
		rng_state = 42;
		for (trial = 0; trial < 40; trial++) {
			m = random_model(3 + trial % 7, 10 + trial * 2, 0);
			p = plan_ok(m, &o);
			assert_true(p->nmoves <= 1);
			assert_true(fabs(p->score_after -
			    exhaustive_best(m, &o)) < 1e-9);
			assert_int_equal(p->memory_moved_mib, p->nmoves ?
			    p->moves[0].mem_mib : 0);
			balance_plan_free(p);
			balance_model_free(m);
		}
	}
}

/* Random clusters with every kind of constraint, both policies. */
static void
test_constraints_every_step(void **state)
{
	struct balance_model *m;
	struct balance_plan *p;
	struct balance_opts o;
	int trial, moved = 0;

	(void)state;
	rng_state = 7;
	for (trial = 0; trial < 60; trial++) {
		m = random_model(4 + trial % 9, 20 + trial * 3, 1);
		balance_opts_defaults(&o);
		o.policy = trial % 2 ? BALANCE_POLICY_CONSOLIDATE :
		    BALANCE_POLICY_BALANCE;
		o.vcpu_ratio_max = 1.5 + (trial % 3);
		p = plan_ok(m, &o);
		check_plan(m, &o, p);
		if (o.policy == BALANCE_POLICY_BALANCE)
			assert_true(p->score_after <= p->score_before);
		moved += p->nmoves > 0;
		balance_plan_free(p);
		balance_model_free(m);
	}
	assert_true(moved > 30);	/* the checks saw real plans */
}

/* small.json: n1 holds everything; n4 is down and empty of all but one. */
static struct balance_model *
small_model(void)
{
	struct balance_model *m;
	char path[PATH_MAX], err[256];

	testdata("snapshots/small.json", path, sizeof(path));
	if (balance_read(path, &m, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	return m;
}

static void
test_small_constraints(void **state)
{
	struct balance_model *m = small_model();
	struct balance_plan *p;
	struct balance_opts o;
	long db, web1, web2, app1, app2, old;
	size_t i;
	int seen_app = 0;

	(void)state;
	balance_opts_defaults(&o);
	p = plan_ok(m, &o);
	check_plan(m, &o, p);
	db = balance_find_vm(m, "db1");
	web1 = balance_find_vm(m, "web1");
	web2 = balance_find_vm(m, "web2");
	app1 = balance_find_vm(m, "app1");
	app2 = balance_find_vm(m, "app2");
	old = balance_find_vm(m, "old");
	assert_true(p->nmoves > 0);
	for (i = 0; i < p->nmoves; i++) {
		assert_int_not_equal(p->moves[i].vm, db);	/* pinned */
		assert_int_not_equal(p->moves[i].vm, old);	/* host down */
		assert_int_not_equal(p->moves[i].to, 3);	/* n4 down */
		if ((long)p->moves[i].vm == app1 ||
		    (long)p->moves[i].vm == app2) {
			/* The pair moves back to back, to one host. */
			if (!seen_app) {
				assert_true(i + 1 < p->nmoves);
				assert_int_equal(p->moves[i + 1].to,
				    p->moves[i].to);
				seen_app = 1;
			}
		}
	}
	assert_true(balance_apply(m, p) == 0);
	assert_int_equal(m->vms[app1].host, m->vms[app2].host);
	assert_int_not_equal(m->vms[web1].host, m->vms[web2].host);
	assert_int_equal(m->vms[db].host, 0);
	balance_plan_free(p);
	balance_model_free(m);
}

/* The only VM worth moving may only go to n3, the worse of two. */
static void
test_allowed_destinations(void **state)
{
	struct balance_model *m;
	struct balance_plan *p;
	struct balance_opts o;

	(void)state;
	m = parse_ok("{\"hosts\":["
	    "{\"name\":\"n1\",\"mem_mib\":1000,\"cpus\":8},"
	    "{\"name\":\"n2\",\"mem_mib\":1000,\"cpus\":8},"
	    "{\"name\":\"n3\",\"mem_mib\":1000,\"cpus\":8}],\"vms\":["
	    "{\"name\":\"a\",\"host\":\"n1\",\"mem_mib\":500,\"pinned\":true},"
	    "{\"name\":\"b\",\"host\":\"n1\",\"mem_mib\":300,"
	    "\"allowed\":[\"n1\",\"n3\"]},"
	    "{\"name\":\"c\",\"host\":\"n3\",\"mem_mib\":200,\"pinned\":true}]}");
	balance_opts_defaults(&o);
	p = plan_ok(m, &o);
	check_plan(m, &o, p);
	assert_int_equal(p->nmoves, 1);
	assert_int_equal(p->moves[0].to, 2);
	balance_plan_free(p);
	/* Allowed nowhere: nothing moves. */
	assert_int_equal(balance_vm_restrict(m, 1), 0);
	p = plan_ok(m, &o);
	assert_int_equal(p->nmoves, 0);
	assert_true(p->score_after == p->score_before);
	balance_plan_free(p);
	balance_model_free(m);
}

/* The best destination holds a member of the VM's anti group; a full
 * host and a vCPU-bound one are the others. */
static void
test_anti_capacity_vcpu(void **state)
{
	struct balance_model *m;
	struct balance_plan *p;
	struct balance_opts o;

	(void)state;
	m = parse_ok("{\"hosts\":["
	    "{\"name\":\"hot\",\"mem_mib\":1000,\"cpus\":4},"
	    "{\"name\":\"anti\",\"mem_mib\":1000,\"cpus\":4},"
	    "{\"name\":\"full\",\"mem_mib\":1000,\"reserved_mib\":700,"
	    "\"cpus\":4},"
	    "{\"name\":\"busy\",\"mem_mib\":1000,\"cpus\":4},"
	    "{\"name\":\"ok\",\"mem_mib\":1000,\"cpus\":4}],\"vms\":["
	    "{\"name\":\"w1\",\"host\":\"hot\",\"mem_mib\":400,\"vcpus\":2,"
	    "\"groups\":[\"anti:web\"]},"
	    "{\"name\":\"p1\",\"host\":\"hot\",\"mem_mib\":400,\"vcpus\":2,"
	    "\"pinned\":true},"
	    "{\"name\":\"w2\",\"host\":\"anti\",\"mem_mib\":50,\"vcpus\":1,"
	    "\"groups\":[\"anti:web\"],\"pinned\":true},"
	    "{\"name\":\"b1\",\"host\":\"busy\",\"mem_mib\":10,\"vcpus\":15,"
	    "\"pinned\":true},"
	    "{\"name\":\"o1\",\"host\":\"ok\",\"mem_mib\":300,\"vcpus\":1,"
	    "\"pinned\":true}]}");
	balance_opts_defaults(&o);
	p = plan_ok(m, &o);
	check_plan(m, &o, p);
	assert_int_equal(p->nmoves, 1);
	assert_int_equal(p->moves[0].vm, 0);
	assert_int_equal(p->moves[0].to, 4);
	balance_plan_free(p);
	balance_model_free(m);
}

static void
test_stopping_rules(void **state)
{
	struct balance_model *m;
	struct balance_plan *p, *full;
	struct balance_opts o;
	double prev;
	size_t i;

	(void)state;
	rng_state = 99;
	m = random_model(12, 150, 0);
	balance_opts_defaults(&o);
	o.min_gain = 0;
	o.threshold = 0;
	full = plan_ok(m, &o);
	assert_true(full->nmoves > 5);
	/* max_moves: exactly the first N moves of the unlimited plan. */
	o.max_moves = 5;
	p = plan_ok(m, &o);
	assert_int_equal(p->nmoves, 5);
	for (i = 0; i < 5; i++)
		assert_true(p->moves[i].vm == full->moves[i].vm &&
		    p->moves[i].to == full->moves[i].to);
	balance_plan_free(p);
	/* min_gain: every move gains at least it. */
	o.max_moves = 0;
	o.min_gain = 0.01;
	p = plan_ok(m, &o);
	assert_true(p->nmoves > 0 && p->nmoves < full->nmoves);
	for (i = 0, prev = p->score_before; i < p->nmoves; i++) {
		assert_true(prev - p->moves[i].score_after >= 0.01 - 1e-12);
		prev = p->moves[i].score_after;
	}
	balance_plan_free(p);
	/* threshold: stops once below it, and proposes nothing when the
	 * cluster starts below it. */
	o.min_gain = 0;
	o.threshold = full->score_before / 2;
	p = plan_ok(m, &o);
	assert_true(p->nmoves > 0 && p->score_after <= o.threshold);
	assert_true(p->nmoves == 1 ||
	    p->moves[p->nmoves - 2].score_after > o.threshold);
	balance_plan_free(p);
	o.threshold = full->score_before;
	p = plan_ok(m, &o);
	assert_int_equal(p->nmoves, 0);
	balance_plan_free(p);
	balance_plan_free(full);
	balance_model_free(m);
}

/* Consolidate: every move lowers the score (none gains nothing). */
static void
assert_scores_fall(const struct balance_plan *p)
{
	double before = p->score_before;
	size_t i;

	for (i = 0; i < p->nmoves; i++) {
		assert_true(p->moves[i].score_after < before);
		before = p->moves[i].score_after;
	}
	assert_true(p->score_after == before);
}

/* Four half-empty hosts pack onto two; the ceiling keeps a third. */
static void
test_consolidate(void **state)
{
	static const char *json = "{\"hosts\":["
	    "{\"name\":\"n1\",\"mem_mib\":1000,\"cpus\":8},"
	    "{\"name\":\"n2\",\"mem_mib\":1000,\"cpus\":8},"
	    "{\"name\":\"n3\",\"mem_mib\":1000,\"cpus\":8},"
	    "{\"name\":\"n4\",\"mem_mib\":1000,\"cpus\":8},"
	    "{\"name\":\"n5\",\"mem_mib\":1000,\"cpus\":8}],\"vms\":["
	    "{\"name\":\"a\",\"host\":\"n1\",\"mem_mib\":400},"
	    "{\"name\":\"b\",\"host\":\"n2\",\"mem_mib\":300},"
	    "{\"name\":\"c\",\"host\":\"n2\",\"mem_mib\":100},"
	    "{\"name\":\"d\",\"host\":\"n3\",\"mem_mib\":400},"
	    "{\"name\":\"e\",\"host\":\"n4\",\"mem_mib\":300,\"pinned\":true}]}";
	struct balance_model *m = parse_ok(json);
	struct balance_plan *p;
	struct balance_opts o;

	(void)state;
	balance_opts_defaults(&o);
	o.policy = BALANCE_POLICY_CONSOLIDATE;
	o.util_ceiling = 0.8;
	p = plan_ok(m, &o);
	check_plan(m, &o, p);
	/* The score's whole part is the hosts in use. */
	assert_int_equal((int)p->score_before, 4);
	/* 1400 MiB over hosts of 800 usable: two hosts, one the pinned n4. */
	assert_int_equal((int)p->score_after, 2);
	assert_scores_fall(p);
	assert_true(balance_apply(m, p) == 0);
	assert_int_equal(m->vms[4].host, 3);
	assert_int_equal((int)balance_score(m, BALANCE_POLICY_CONSOLIDATE), 2);
	assert_true(balance_score(m, BALANCE_POLICY_CONSOLIDATE) ==
	    p->score_after);
	balance_plan_free(p);
	balance_model_free(m);

	/* At 0.7 only n1's VM fits elsewhere (onto n4); n2 could place
	 * one of its two VMs, so it stays as it was. */
	m = parse_ok(json);
	o.util_ceiling = 0.7;
	p = plan_ok(m, &o);
	check_plan(m, &o, p);
	assert_int_equal(p->nmoves, 1);
	assert_int_equal(p->moves[0].vm, 0);
	assert_int_equal(p->moves[0].to, 3);
	assert_int_equal((int)p->score_after, 3);
	assert_scores_fall(p);
	balance_plan_free(p);
	/* At 0.5 no VM fits next to another. */
	o.util_ceiling = 0.5;
	p = plan_ok(m, &o);
	assert_int_equal(p->nmoves, 0);
	assert_int_equal((int)p->score_after, 4);
	assert_true(p->score_after == p->score_before);
	balance_plan_free(p);
	balance_model_free(m);
}

/*
 * Issue 13's cluster: consolidate planned 5 moves, g1 and g3 each twice
 * (h1 -> h2 -> h3), the first gaining nothing. The plan moves each VM at
 * most once, every host's moves together free that host, every move lowers
 * the score (not only a host's last), and all ends on h3: 3 moves, 1 host.
 */
static void
test_consolidate_moves_once(void **state)
{
	static const char *json = "{\"hosts\":["
	    "{\"name\":\"h1\",\"mem_mib\":4096,\"cpus\":4},"
	    "{\"name\":\"h2\",\"mem_mib\":2048,\"cpus\":4},"
	    "{\"name\":\"h3\",\"mem_mib\":8192,\"cpus\":8}],\"vms\":["
	    "{\"name\":\"g1\",\"host\":\"h1\",\"mem_mib\":256},"
	    "{\"name\":\"g3\",\"host\":\"h1\",\"mem_mib\":256},"
	    "{\"name\":\"g2\",\"host\":\"h2\",\"mem_mib\":512},"
	    "{\"name\":\"g4\",\"host\":\"h3\",\"mem_mib\":1024}]}";
	struct balance_model *m = parse_ok(json);
	struct balance_plan *p;
	struct balance_opts o;
	size_t i, j;
	double before;

	(void)state;
	balance_opts_defaults(&o);
	o.policy = BALANCE_POLICY_CONSOLIDATE;
	p = plan_ok(m, &o);
	check_plan(m, &o, p);
	assert_int_equal((int)p->score_before, 3);
	/* All on one host: no spread left, exactly 1. */
	assert_true(p->score_after == 1);
	assert_int_equal(p->nmoves, 3);
	for (i = 0; i < p->nmoves; i++) {
		assert_int_equal(p->moves[i].to, 2);	/* h3 */
		for (j = 0; j < i; j++)
			assert_int_not_equal(p->moves[i].vm, p->moves[j].vm);
	}
	/* Every move counts: g1 leaving h1 lowers the score although h1
	 * is freed only by g3's move after it; each source's last move
	 * takes a host off the whole part. */
	assert_scores_fall(p);
	before = p->score_before;
	for (i = 0; i < p->nmoves; i++) {
		if (i + 1 == p->nmoves || p->moves[i + 1].from !=
		    p->moves[i].from)
			assert_int_equal((int)p->moves[i].score_after,
			    (int)before - 1);
		else
			assert_int_equal((int)p->moves[i].score_after,
			    (int)before);
		before = p->moves[i].score_after;
	}
	/* The first move is h1's g1 (256 MiB of 2048 onto h3): the
	 * spread falls from 1 - (1/16 + 1/16 + 1/4) to 1 - (1/64 + 1/16 +
	 * 25/64). */
	assert_int_equal(p->moves[0].from, 0);
	assert_true(fabs(p->score_before - 3.625) < 1e-9);
	assert_true(fabs(p->moves[0].score_after - (3 + 1 - 30.0 / 64)) <
	    1e-9);
	balance_plan_free(p);
	balance_model_free(m);
}

static void
test_plan_json_shape(void **state)
{
	struct balance_model *m = small_model();
	struct balance_plan *p;
	struct balance_opts o;
	struct json_object *root, *moves, *mv, *v;
	char *s;
	size_t i;

	(void)state;
	balance_opts_defaults(&o);
	p = plan_ok(m, &o);
	s = balance_plan_json(m, p, 1.5);
	assert_non_null(s);
	assert_null(strchr(s, '\n'));
	root = json_tokener_parse(s);
	assert_non_null(root);
	/* Scores to six significant digits, whole milliseconds. */
	assert_true(json_object_object_get_ex(root, "score_before", &v) &&
	    fabs(json_object_get_double(v) - p->score_before) <=
	    1e-5 * fabs(p->score_before) + 1e-12);
	assert_true(json_object_object_get_ex(root, "score_after", &v) &&
	    fabs(json_object_get_double(v) - p->score_after) <=
	    1e-5 * fabs(p->score_after) + 1e-12);
	assert_true(json_object_object_get_ex(root, "elapsed_ms", &v) &&
	    json_object_is_type(v, json_type_int) &&
	    json_object_get_int64(v) == 2);
	assert_true(json_object_object_get_ex(root, "moves", &moves) &&
	    json_object_is_type(moves, json_type_array));
	assert_int_equal(json_object_array_length(moves), p->nmoves);
	for (i = 0; i < p->nmoves; i++) {
		mv = json_object_array_get_idx(moves, i);
		assert_true(json_object_object_get_ex(mv, "vm", &v));
		assert_string_equal(json_object_get_string(v),
		    m->vms[p->moves[i].vm].name);
		assert_true(json_object_object_get_ex(mv, "source", &v));
		assert_string_equal(json_object_get_string(v),
		    m->hosts[p->moves[i].from].name);
		assert_true(json_object_object_get_ex(mv, "destination", &v));
		assert_string_equal(json_object_get_string(v),
		    m->hosts[p->moves[i].to].name);
		assert_true(json_object_object_get_ex(mv, "mem_mib", &v));
		assert_int_equal(json_object_get_int64(v),
		    p->moves[i].mem_mib);
		assert_true(json_object_object_get_ex(mv, "score_after", &v));
		assert_true(fabs(json_object_get_double(v) -
		    p->moves[i].score_after) <=
		    1e-5 * fabs(p->moves[i].score_after) + 1e-12);
	}
	json_object_put(root);
	free(s);
	balance_plan_free(p);
	balance_model_free(m);
}

/* Defaults fill in; the model survives a write and a read. */
static void
test_snapshot_roundtrip(void **state)
{
	struct balance_model *m, *m2;
	char *a, *b;

	(void)state;
	m = parse_ok("{\"hosts\":[{\"name\":\"n1\",\"mem_mib\":100,\"cpus\":2}"
	    ",{\"name\":\"n2\",\"mem_mib\":100,\"cpus\":2,\"state\":\"down\"}],"
	    "\"vms\":[{\"name\":\"v\",\"host\":\"n1\",\"mem_mib\":10,"
	    "\"groups\":[\"anti:x\",\"affinity:x\"],\"allowed\":[\"n2\"]}]}");
	assert_int_equal(m->hosts[0].reserved_mib, 0);
	assert_true(m->hosts[0].usable);
	assert_false(m->hosts[1].usable);
	assert_int_equal(m->vms[0].vcpus, 1);
	assert_false(m->vms[0].pinned);
	assert_int_equal(m->vms[0].ngroups, 2);
	assert_int_equal(m->ngroups, 2);	/* anti:x and affinity:x differ */
	a = balance_write(m);
	m2 = parse_ok(a);
	b = balance_write(m2);
	assert_string_equal(a, b);
	assert_non_null(strstr(a, "\"allowed\""));
	free(a);
	free(b);
	balance_model_free(m2);
	balance_model_free(m);
}

static void
test_snapshot_errors(void **state)
{
	static const struct {
		const char *json, *want;
	} bad[] = {
		{ "{\"hosts\":[{\"name\":\"n1\",\"mem_mib\":1,\"cpus\":1}],"
		  "\"vms\":[{\"name\":\"v\",\"host\":\"n2\",\"mem_mib\":1}]}",
		  "vms[0] \"v\": unknown host \"n2\"" },
		{ "{\"hosts\":[{\"name\":\"n1\",\"cpus\":1}]}",
		  "hosts[0] \"n1\": missing \"mem_mib\"" },
		{ "{\"hosts\":[{\"mem_mib\":1,\"cpus\":1}]}",
		  "hosts[0]: missing \"name\"" },
		{ "{\"vms\":[]}", "snapshot: missing \"hosts\"" },
		{ "{\"hosts\":[{\"name\":\"n1\",\"mem_mib\":1,\"cpus\":1},"
		  "{\"name\":\"n1\",\"mem_mib\":1,\"cpus\":1}]}",
		  "hosts[1] \"n1\": duplicate host name" },
		{ "{\"hosts\":[{\"name\":\"n1\",\"mem_mib\":1,\"cpus\":1}],"
		  "\"vms\":[{\"name\":\"v\",\"host\":\"n1\",\"mem_mib\":1},"
		  "{\"name\":\"v\",\"host\":\"n1\",\"mem_mib\":1}]}",
		  "vms[1] \"v\": duplicate VM name" },
		{ "{\"hosts\":[{\"name\":\"n1\",\"mem_mib\":\"lots\",\"cpus\":1}]}",
		  "hosts[0] \"n1\": \"mem_mib\" is not an integer" },
		{ "{\"hosts\":[{\"name\":\"n1\",\"mem_mib\":1,\"cpus\":0}]}",
		  "hosts[0] \"n1\": \"cpus\" 0 is out of range" },
		{ "{\"hosts\":[{\"name\":\"n1\",\"mem_mib\":1,\"cpus\":1}],"
		  "\"vms\":[{\"name\":\"v\",\"host\":\"n1\",\"mem_mib\":1,"
		  "\"groups\":[\"web\"]}]}",
		  "vms[0] \"v\": groups[0] \"web\" is not" },
		{ "{\"hosts\":[{\"name\":\"n1\",\"mem_mib\":1,\"cpus\":1}],"
		  "\"vms\":[{\"name\":\"v\",\"host\":\"n1\",\"mem_mib\":1,"
		  "\"pinned\":1}]}",
		  "\"pinned\" is not true or false" },
		{ "{\"hosts\":[\n{\"name\":\"n1\",,}]}",
		  "bad JSON at line 2 column 13" },
		{ "{\"hosts\":[]", "bad JSON: unexpected end of input" },
		{ "{\"hosts\":[]} x", "bad JSON at line 1 column 14: data after" },
		{ "[]", "snapshot: not a JSON object" },
	};
	struct balance_model *m;
	char err[256];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		assert_int_equal(balance_parse(bad[i].json, strlen(bad[i].json),
		    &m, err, sizeof(err)), -1);
		assert_null(m);
		if (strstr(err, bad[i].want) == NULL)
			fail_msg("case %zu: got \"%s\", want \"%s\"", i, err,
			    bad[i].want);
	}
}

/* Runs ferryctl with args; returns its exit status, output in out/err. */
static int
run_ferryctl(char *out, size_t outlen, char *err, size_t errlen, ...)
{
	const char *bin = getenv("FERRYCTL"), *argv[16];
	char ofile[] = "/tmp/test_balance.XXXXXX";
	char efile[] = "/tmp/test_balance.XXXXXX";
	int ofd, efd, n = 0, status;
	ssize_t r;
	va_list ap;
	pid_t pid;

	if (bin == NULL || bin[0] == '\0')
		bin = "build/ferryctl";
	if (access(bin, X_OK) != 0)
		fail_msg("ferryctl binary %s is missing (%s): build it, or "
		    "point FERRYCTL at it", bin, strerror(errno));
	argv[n++] = bin;
	va_start(ap, errlen);
	while (n < 15 && (argv[n] = va_arg(ap, const char *)) != NULL)
		n++;
	va_end(ap);
	argv[n] = NULL;
	assert_true((ofd = mkstemp(ofile)) >= 0);
	assert_true((efd = mkstemp(efile)) >= 0);
	unlink(ofile);
	unlink(efile);
	if ((pid = fork()) == 0) {
		dup2(ofd, STDOUT_FILENO);
		dup2(efd, STDERR_FILENO);
		execv(bin, (char **)argv);
		_exit(127);
	}
	assert_true(pid > 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	r = pread(ofd, out, outlen - 1, 0);
	out[r > 0 ? r : 0] = '\0';
	r = pread(efd, err, errlen - 1, 0);
	err[r > 0 ? r : 0] = '\0';
	close(ofd);
	close(efd);
	assert_true(WIFEXITED(status));
	return WEXITSTATUS(status);
}

static void
test_ferryctl_plan(void **state)
{
	static const struct {
		const char *file, *want;
	} bad[] = {
		{ "snapshots/bad-json.json", "bad JSON at line 3 column" },
		{ "snapshots/unknown-host.json", "unknown host \"n9\"" },
		{ "snapshots/missing-field.json", "missing \"cpus\"" },
		{ "snapshots/duplicate.json", "duplicate VM name" },
	};
	char path[PATH_MAX], out[8192], err[1024];
	struct json_object *root, *v;
	size_t i;

	(void)state;
	testdata("snapshots/small.json", path, sizeof(path));
	assert_int_equal(run_ferryctl(out, sizeof(out), err, sizeof(err),
	    "plan", "--snapshot", path, "--json", "--max-moves", "2", NULL), 0);
	root = json_tokener_parse(out);
	assert_non_null(root);
	assert_true(json_object_object_get_ex(root, "moves", &v));
	assert_int_equal(json_object_array_length(v), 2);
	assert_true(json_object_object_get_ex(root, "elapsed_ms", &v));
	json_object_put(root);
	assert_int_equal(run_ferryctl(out, sizeof(out), err, sizeof(err),
	    "plan", "--snapshot", path, NULL), 0);
	assert_non_null(strstr(out, "score before"));
	assert_non_null(strstr(out, "web1"));
	assert_non_null(strstr(out, "score after"));
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		testdata(bad[i].file, path, sizeof(path));
		assert_int_equal(run_ferryctl(out, sizeof(out), err,
		    sizeof(err), "plan", "--snapshot", path, NULL), 1);
		if (strstr(err, bad[i].want) == NULL)
			fail_msg("%s: got \"%s\"", bad[i].file, err);
	}
	assert_int_equal(run_ferryctl(out, sizeof(out), err, sizeof(err),
	    "plan", "--snapshot", "/nonexistent.json", NULL), 1);
	assert_non_null(strstr(err, "No such file"));
	assert_int_equal(run_ferryctl(out, sizeof(out), err, sizeof(err),
	    "plan", NULL), 2);
	assert_int_equal(run_ferryctl(out, sizeof(out), err, sizeof(err),
	    "plan", "--snapshot", path, "--policy", "spread", NULL), 2);
	assert_int_equal(run_ferryctl(out, sizeof(out), err, sizeof(err),
	    "plan", "--snapshot", path, "--max-moves", "-1", NULL), 2);
}

/* Zones and labels: the placement engine's rules hold in every plan. h1
 * (zone a) is full, h2 (zone a) and h3 (zone b, the emptiest) are free;
 * with zone_policy stay nothing leaves zone a; "gpu" needs a gpu host. */
static void
test_zones_labels(void **state)
{
	static const char *js =
	    "{\"hosts\":[{\"name\":\"h1\",\"mem_mib\":16384,\"cpus\":8,"
	    "\"zone\":\"a\"},"
	    "{\"name\":\"h2\",\"mem_mib\":16384,\"cpus\":8,\"zone\":\"a\"},"
	    "{\"name\":\"h3\",\"mem_mib\":16384,\"cpus\":8,\"zone\":\"b\","
	    "\"labels\":[\"gpu\"]}],"
	    "\"vms\":[{\"name\":\"v1\",\"host\":\"h1\",\"mem_mib\":2048},"
	    "{\"name\":\"v2\",\"host\":\"h1\",\"mem_mib\":2048},"
	    "{\"name\":\"v3\",\"host\":\"h1\",\"mem_mib\":2048},"
	    "{\"name\":\"v4\",\"host\":\"h1\",\"mem_mib\":2048},"
	    "{\"name\":\"gpu\",\"host\":\"h2\",\"mem_mib\":1024,"
	    "\"zone\":\"b\",\"requires_labels\":[\"gpu\"]}],"
	    "\"zone_policy\":\"stay\"}";
	struct balance_model *m, *m2;
	struct balance_plan *p;
	struct balance_opts o;
	char *out;
	size_t i, to_h3 = 0;

	(void)state;
	m = parse_ok(js);
	assert_int_equal(m->zone_stay, 1);
	assert_string_equal(m->hosts[2].zone, "b");
	assert_string_equal(m->hosts[2].labels[0], "gpu");
	assert_string_equal(m->vms[4].requires[0], "gpu");
	balance_opts_defaults(&o);
	o.threshold = 0;
	p = plan_ok(m, &o);
	assert_true(p->nmoves > 0);
	for (i = 0; i < p->nmoves; i++) {
		const char *vm = m->vms[p->moves[i].vm].name;

		if (strcmp(vm, "gpu") == 0)
			assert_int_equal(p->moves[i].to, 2);
		else
			assert_int_not_equal(p->moves[i].to, 2);
		to_h3 += p->moves[i].to == 2;
	}
	assert_int_equal(to_h3, 1);	/* gpu: its zone b and its label */
	balance_plan_free(p);
	/* Policy any: the emptiest host, in zone b, takes zone a's VMs. */
	m->zone_stay = 0;
	p = plan_ok(m, &o);
	for (i = 0, to_h3 = 0; i < p->nmoves; i++)
		to_h3 += p->moves[i].to == 2 &&
		    strcmp(m->vms[p->moves[i].vm].name, "gpu") != 0;
	assert_true(to_h3 > 0);
	balance_plan_free(p);
	/* The snapshot keeps it all. */
	m->zone_stay = 1;
	assert_non_null(out = balance_write(m));
	m2 = parse_ok(out);
	assert_int_equal(m2->zone_stay, 1);
	assert_string_equal(m2->hosts[0].zone, "a");
	assert_int_equal(m2->hosts[2].nlabels, 1);
	assert_string_equal(m2->vms[4].zone, "b");
	assert_int_equal(m2->vms[4].nrequires, 1);
	free(out);
	balance_model_free(m2);
	balance_model_free(m);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_score_by_hand),
		cmocka_unit_test(test_greedy_matches_exhaustive),
		cmocka_unit_test(test_constraints_every_step),
		cmocka_unit_test(test_small_constraints),
		cmocka_unit_test(test_allowed_destinations),
		cmocka_unit_test(test_anti_capacity_vcpu),
		cmocka_unit_test(test_stopping_rules),
		cmocka_unit_test(test_consolidate),
		cmocka_unit_test(test_consolidate_moves_once),
		cmocka_unit_test(test_plan_json_shape),
		cmocka_unit_test(test_snapshot_roundtrip),
		cmocka_unit_test(test_snapshot_errors),
		cmocka_unit_test(test_ferryctl_plan),
		cmocka_unit_test(test_zones_labels),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
