/* test_planner.c: evacuation plans honour capacity across the whole plan,
 * name every VM they cannot place with every host's reason, and order the
 * work largest first. The plans use the placement engine (test_place.c
 * covers its filters one by one). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "evacuate.h"

#define NH	8
#define NV	16

struct cl {
	struct place_model	m;
	struct place_host	h[NH];
	struct place_vm		v[NV];
	struct plan_vm		p[NV];
	char			names[NV][16];
	size_t			np;
};

static void
cl_init(struct cl *c)
{
	memset(c, 0, sizeof(*c));
	c->m.hosts = c->h;
	c->m.vms = c->v;
}

static size_t
cl_host(struct cl *c, const char *name, const char *state, uint64_t mem,
    uint64_t reserve, uint64_t used)
{
	struct place_host *h = &c->h[c->m.nhosts];

	h->name = name;
	h->state = state;
	h->mem_mib = mem;
	h->reserve_mib = reserve;
	h->used_mib = used;
	h->cpus = 8;
	return c->m.nhosts++;
}

/* A VM on host, to be evacuated (listed in c->p). */
static size_t
cl_vm(struct cl *c, const char *name, size_t host, uint64_t mem, int movable,
    const char *why)
{
	struct place_vm *v = &c->v[c->m.nvms];
	struct plan_vm *p = &c->p[c->np++];

	v->name = name;
	v->host = host;
	v->mem_mib = mem;
	v->vcpus = 1;
	c->h[host].vcpus_used++;
	p->vm = c->m.nvms;
	p->movable = movable;
	if (why)
		snprintf(p->why, sizeof(p->why), "%s", why);
	return c->m.nvms++;
}

/* Memory planned onto each host never exceeds what it has free. */
static void
assert_capacity(const struct cl *c, const uint64_t *before)
{
	size_t i;

	for (i = 0; i < c->m.nhosts; i++)
		if (c->h[i].used_mib > before[i])
			assert_true(c->h[i].used_mib + c->h[i].reserve_mib <=
			    c->h[i].mem_mib);
}

static void
test_all_fit_spread(void **state)
{
	struct cl c;
	uint64_t before[NH];
	int i, on[3] = { 0 };

	(void)state;
	cl_init(&c);
	cl_host(&c, "h1", "draining", 4096, 256, 6 * 256);
	cl_host(&c, "h2", "up", 4096, 256, 0);
	cl_host(&c, "h3", "up", 4096, 256, 0);
	for (i = 0; i < 6; i++) {
		snprintf(c.names[i], sizeof(c.names[i]), "v%d", i);
		cl_vm(&c, c.names[i], 0, 256, 1, NULL);
	}
	for (i = 0; i < 3; i++)
		before[i] = c.h[i].used_mib;
	assert_int_equal(planner_evacuate(&c.m, c.p, c.np), 0);
	for (i = 0; i < 6; i++) {
		assert_true(c.p[i].dest == 1 || c.p[i].dest == 2);
		on[c.p[i].dest]++;
	}
	/* Worst fit alternates between equal hosts: 3 and 3. */
	assert_int_equal(on[1], 3);
	assert_int_equal(on[2], 3);
	assert_capacity(&c, before);
	/* The plan's moves are committed: the source is empty now. */
	assert_int_equal(c.h[0].used_mib, 0);
}

/* Each VM alone would fit on h2, but not all of them together: the plan
 * counts memory across the whole plan, not VM by VM. */
static void
test_capacity_across_plan(void **state)
{
	struct cl c;

	(void)state;
	cl_init(&c);
	cl_host(&c, "h1", "up", 8192, 0, 3000);
	cl_host(&c, "h2", "up", 2560, 512, 0);	/* 2048 free */
	cl_vm(&c, "a", 0, 1000, 1, NULL);
	cl_vm(&c, "b", 0, 1000, 1, NULL);
	cl_vm(&c, "c", 0, 1000, 1, NULL);
	assert_int_equal(planner_evacuate(&c.m, c.p, c.np), 1);
	assert_int_equal(c.p[0].dest, 1);
	assert_int_equal(c.p[1].dest, 1);
	assert_int_equal(c.p[2].dest, -1);
	assert_string_equal(c.p[2].reason, "h2: memory: needs 1000 MiB, 48 "
	    "MiB free after the 512 MiB reserve and moves on their way");
	assert_true(c.h[1].used_mib + c.h[1].reserve_mib <= c.h[1].mem_mib);
}

static void
test_largest_first(void **state)
{
	struct cl c;

	(void)state;
	cl_init(&c);
	cl_host(&c, "h1", "draining", 8192, 0, 0);
	cl_host(&c, "h2", "up", 2048, 0, 0);
	cl_host(&c, "h3", "up", 1536, 0, 0);
	cl_vm(&c, "small", 0, 256, 1, NULL);
	cl_vm(&c, "huge", 0, 1536, 1, NULL);
	cl_vm(&c, "mid", 0, 1024, 1, NULL);
	cl_vm(&c, "mid2", 0, 1024, 1, NULL);
	/* Largest first: huge -> h2 (2048), mid -> h3 (1536 > 512),
	 * mid2 -> nowhere (512, 512), small -> h2 or h3. Smallest first
	 * would have stranded huge instead. */
	assert_int_equal(planner_evacuate(&c.m, c.p, c.np), 1);
	assert_int_equal(c.p[1].order, 1);
	assert_int_equal(c.p[1].dest, 1);
	assert_int_equal(c.p[2].order, 2);
	assert_int_equal(c.p[2].dest, 2);
	assert_int_equal(c.p[3].order, 3);
	assert_int_equal(c.p[3].dest, -1);
	assert_int_equal(c.p[0].order, 4);
	assert_true(c.p[0].dest == 1 || c.p[0].dest == 2);
}

static void
test_unmovable_and_unusable(void **state)
{
	struct cl c;
	signed char cpu[4] = { -1, -1, PLACE_NO, PLACE_YES };
	const char *cpu_why[4] = { NULL, NULL, "guest needs avx512f, host "
	    "lacks it", NULL };
	size_t picky;

	(void)state;
	cl_init(&c);
	cl_host(&c, "h1", "draining", 8192, 0, 0);
	cl_host(&c, "h2", "maintenance", 8192, 0, 0);
	cl_host(&c, "h3", "up", 8192, 0, 0);
	cl_host(&c, "h4", "up", 1024, 0, 0);
	cl_vm(&c, "local", 0, 512, 0, "storage:vda: file is on ext4, not NFS");
	picky = cl_vm(&c, "picky", 0, 512, 1, NULL);
	c.v[picky].cpu = cpu;
	c.v[picky].cpu_why = cpu_why;
	assert_int_equal(planner_evacuate(&c.m, c.p, c.np), 1);
	assert_int_equal(c.p[0].dest, -1);
	assert_string_equal(c.p[0].reason,
	    "storage:vda: file is on ext4, not NFS");
	assert_int_equal(c.p[1].dest, 3);	/* h4, the only one left */
}

/* A VM that fits nowhere gets every host's reason, in host order, never
 * its own host's. */
static void
test_no_destination_reasons(void **state)
{
	struct cl c;

	(void)state;
	cl_init(&c);
	cl_host(&c, "h1", "draining", 8192, 0, 0);
	cl_host(&c, "h2", "down", 8192, 0, 0);
	cl_host(&c, "h3", "up", 8192, 0, 0);
	c.h[0].zone = "a";
	c.h[2].zone = "b";
	c.m.zone_stay = 1;
	cl_vm(&c, "a", 0, 256, 1, NULL);
	assert_int_equal(planner_evacuate(&c.m, c.p, c.np), 1);
	assert_string_equal(c.p[0].reason, "h1: usable: host is being drained; "
	    "h2: usable: host is down; h3: zone: zone b, VM must stay in "
	    "zone a");
	c.p[0].vm = 7;
	assert_int_equal(planner_evacuate(&c.m, c.p, 1), -1);
	assert_int_equal(planner_evacuate(&c.m, NULL, 0), 0);
}

/* Hard affinity: the members of one group follow the first one placed;
 * hard anti-affinity: never two on one destination. */
static void
test_groups_in_plan(void **state)
{
	struct cl c;
	struct place_group g[2] = { { "db", 0, 1, NULL, 0 },
	    { "web", 1, 1, NULL, 0 } };
	size_t gdb = 0, gweb = 1, i;

	(void)state;
	cl_init(&c);
	c.m.groups = g;
	c.m.ngroups = 2;
	cl_host(&c, "h1", "draining", 65536, 0, 0);
	for (i = 0; i < 3; i++) {
		static const char *n[] = { "h2", "h3", "h4" };

		cl_host(&c, n[i], "up", 16384, 0, 0);
	}
	cl_vm(&c, "db1", 0, 2048, 1, NULL);
	cl_vm(&c, "db2", 0, 1024, 1, NULL);
	cl_vm(&c, "w1", 0, 512, 1, NULL);
	cl_vm(&c, "w2", 0, 512, 1, NULL);
	cl_vm(&c, "w3", 0, 512, 1, NULL);
	cl_vm(&c, "w4", 0, 512, 1, NULL);
	c.v[0].groups = &gdb;
	c.v[0].ngroups = 1;
	c.v[1].groups = &gdb;
	c.v[1].ngroups = 1;
	for (i = 2; i < 6; i++) {
		c.v[i].groups = &gweb;
		c.v[i].ngroups = 1;
	}
	assert_int_equal(planner_evacuate(&c.m, c.p, c.np), 1);
	assert_true(c.p[0].dest > 0);
	assert_int_equal(c.p[1].dest, c.p[0].dest);
	/* Three web VMs on three hosts; the fourth has nowhere to go. */
	assert_true(c.p[2].dest != c.p[3].dest && c.p[3].dest != c.p[4].dest &&
	    c.p[2].dest != c.p[4].dest);
	assert_int_equal(c.p[5].dest, -1);
	assert_non_null(strstr(c.p[5].reason, "h2: group: anti-affinity "
	    "group web: w"));
}

/* Scale: 1,000 hosts, 20,000 VMs, zones (stay), labels, hard anti groups of
 * five, cpu verdicts on every VM; a drain of one host's 100 VMs. Prints the
 * time (README, bench); asserts only a generous bound, the machine is
 * shared. */
/* A failed migration's new destination: the engine's choice (most memory
 * left) among hosts that are neither the source nor already tried; none
 * when every acceptable host has been tried. */
static void
test_retry_skips_tried(void **state)
{
	struct cl c;
	char tried[2][PLAN_NAME_MAX];
	size_t src, a, b, full, v;

	(void)state;
	cl_init(&c);
	src = cl_host(&c, "src", "draining", 65536, 0, 4096);
	a = cl_host(&c, "a", "up", 65536, 0, 0);	/* most room */
	b = cl_host(&c, "b", "up", 65536, 0, 16384);
	full = cl_host(&c, "full", "up", 8192, 0, 8192);
	v = cl_vm(&c, "v", src, 4096, 1, NULL);
	assert_int_equal(planner_retry(&c.m, v, "src", tried, 0), a);
	snprintf(tried[0], sizeof(tried[0]), "a");
	assert_int_equal(planner_retry(&c.m, v, "src", tried, 1), b);
	snprintf(tried[1], sizeof(tried[1]), "b");
	/* full has no room; src is the source: nothing left. */
	assert_true(planner_retry(&c.m, v, "src", tried, 2) == PLACE_NONE);
	/* The source named is skipped too, whatever the engine says of it. */
	assert_true(planner_retry(&c.m, v, "b", tried, 1) == PLACE_NONE);
	(void)full;
}

static void
test_scale(void **state)
{
	enum { H = 1000, V = 20000, D = 100 };
	static struct place_host h[H];
	static struct place_vm v[V];
	static struct plan_vm p[D];
	static size_t gidx[V], members[V];
	static struct place_group g[V / 5];
	static char names[V][12], hn[H][8];
	static signed char cpu[H];
	static const char *ssd[] = { "ssd" };
	static const char *zones[] = { "z0", "z1", "z2", "z3" };
	struct place_model m;
	struct timespec t0, t1;
	double ms;
	size_t i, k;
	int n;

	(void)state;
	memset(&m, 0, sizeof(m));
	for (i = 0; i < H; i++) {
		snprintf(hn[i], sizeof(hn[i]), "h%zu", i);
		h[i] = (struct place_host){ .name = hn[i], .state = "up",
		    .mem_mib = 262144, .reserve_mib = 4096, .cpus = 64,
		    .zone = zones[i % 4], .labels = ssd, .nlabels = i % 3 == 0 };
		cpu[i] = i % 7 == 0 ? PLACE_NO : PLACE_YES;
	}
	h[0].state = "draining";
	for (i = 0; i < V; i++) {
		size_t host = i < D ? 0 : 1 + (i * 7919) % (H - 1);

		snprintf(names[i], sizeof(names[i]), "v%zu", i);
		v[i] = (struct place_vm){ .name = names[i], .host = host,
		    .mem_mib = 1024 + (i % 8) * 512, .vcpus = 1 + i % 4,
		    .cpu = cpu };
		h[host].used_mib += v[i].mem_mib;
		h[host].vcpus_used += v[i].vcpus;
		if (i % 20 == 0) {
			v[i].requires_labels = ssd;
			v[i].nrequires = 1;
		}
		/* Every tenth VM in a group of five. */
		if (i % 10 == 0) {
			k = (i / 10) / 5;
			gidx[i] = k;
			v[i].groups = &gidx[i];
			v[i].ngroups = 1;
			members[i / 10] = i;	/* group k: members[5k..] */
			g[k] = (struct place_group){ "g", 1, 1, &members[5 * k],
			    g[k].nmembers + 1 };
		}
	}
	m.hosts = h;
	m.nhosts = H;
	m.vms = v;
	m.nvms = V;
	m.groups = g;
	m.ngroups = (V / 10 + 4) / 5;
	m.vcpu_ratio_max = 4;
	m.zone_stay = 1;
	for (i = 0; i < D; i++) {
		memset(&p[i], 0, sizeof(p[i]));
		p[i].vm = i;
		p[i].movable = 1;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	n = planner_evacuate(&m, p, D);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6;
	printf("# drain plan, %d hosts, %d VMs, full filter chain: %d of %d "
	    "placed in %.1f ms\n", H, V, D - n, D, ms);
	assert_int_equal(n, 0);
	for (i = 0; i < D; i++) {
		k = (size_t)p[i].dest;
		assert_true(cpu[k] == PLACE_YES);
		assert_string_equal(h[k].zone, "z0");
		if (v[i].nrequires)
			assert_int_equal(h[k].nlabels, 1);
	}
	assert_true(ms < 5000);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_all_fit_spread),
		cmocka_unit_test(test_capacity_across_plan),
		cmocka_unit_test(test_largest_first),
		cmocka_unit_test(test_unmovable_and_unusable),
		cmocka_unit_test(test_no_destination_reasons),
		cmocka_unit_test(test_groups_in_plan),
		cmocka_unit_test(test_retry_skips_tried),
		cmocka_unit_test(test_scale),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
