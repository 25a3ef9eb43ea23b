/* test_place.c: every filter of the placement engine alone (each rejects
 * exactly what it should, with its name and reason), soft groups as weights,
 * and all of them together on one hand-made cluster. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "place.h"

struct cl {
	struct place_model	m;
	struct place_host	h[6];
	struct place_vm		v[8];
	struct place_verdict	vd[6];
};

/* Two hosts up with room: h1 (the VM's), h2. */
static void
cl_init(struct cl *c)
{
	memset(c, 0, sizeof(*c));
	c->m.hosts = c->h;
	c->m.vms = c->v;
	c->m.nhosts = 2;
	c->m.nvms = 1;
	c->h[0] = (struct place_host){ .name = "h1", .state = "up",
	    .mem_mib = 8192, .cpus = 4, .used_mib = 1024, .vcpus_used = 2 };
	c->h[1] = (struct place_host){ .name = "h2", .state = "up",
	    .mem_mib = 8192, .cpus = 4 };
	c->v[0] = (struct place_vm){ .name = "vm", .host = 0, .mem_mib = 1024,
	    .vcpus = 2 };
}

static void
verdict(struct cl *c, size_t vm, size_t h, const char *filter,
    const char *reason)
{
	place_host_verdict(&c->m, vm, h, &c->vd[h]);
	if (filter == NULL) {
		assert_true(c->vd[h].ok);
		assert_null(c->vd[h].filter);
	} else {
		assert_false(c->vd[h].ok);
		assert_string_equal(c->vd[h].filter, filter);
	}
	if (reason)
		assert_string_equal(c->vd[h].reason, reason);
}

static void
test_accept_and_source(void **state)
{
	struct cl c;

	(void)state;
	cl_init(&c);
	verdict(&c, 0, 1, NULL, "h2: accepted, 7168 MiB free after");
	verdict(&c, 0, 0, "source", "h1: source: the VM runs here");
	assert_int_equal(place_evaluate(&c.m, 0, c.vd), 1);
}

static void
test_usable(void **state)
{
	struct cl c;
	const char *st[] = { "down", "draining", "maintenance" };
	const char *said[] = { "down", "being drained", "in maintenance" };
	size_t i;

	(void)state;
	for (i = 0; i < 3; i++) {
		char want[64];

		cl_init(&c);
		c.h[1].state = st[i];
		snprintf(want, sizeof(want), "h2: usable: host is %s",
		    said[i]);
		verdict(&c, 0, 1, "usable", want);
		assert_int_equal(place_evaluate(&c.m, 0, c.vd), PLACE_NONE);
	}
}

static void
test_memory(void **state)
{
	struct cl c;

	(void)state;
	cl_init(&c);
	c.h[1].reserve_mib = 1024;
	c.h[1].used_mib = 6144;		/* incl. moves on their way */
	verdict(&c, 0, 1, NULL, NULL);	/* exactly 1024 left */
	c.h[1].used_mib = 6145;
	verdict(&c, 0, 1, "memory", "h2: memory: needs 1024 MiB, 1023 MiB "
	    "free after the 1024 MiB reserve and moves on their way");
}

static void
test_vcpu(void **state)
{
	struct cl c;

	(void)state;
	cl_init(&c);
	c.m.vcpu_ratio_max = 2.0;	/* 8 vCPUs on 4 CPUs */
	c.h[1].vcpus_used = 6;
	verdict(&c, 0, 1, NULL, NULL);
	c.h[1].vcpus_used = 7;
	verdict(&c, 0, 1, "vcpu", "h2: vcpu: 9 vCPUs on 4 CPUs would pass "
	    "the 2 overcommit ceiling");
	c.m.vcpu_ratio_max = 0;		/* no ceiling */
	verdict(&c, 0, 1, NULL, NULL);
}

static void
test_cpu(void **state)
{
	struct cl c;
	signed char cpu[2] = { PLACE_YES, PLACE_NO };
	const char *why[2] = { NULL, "guest needs avx512f, host lacks it" };

	(void)state;
	cl_init(&c);
	c.v[0].cpu = cpu;
	c.v[0].cpu_why = why;
	verdict(&c, 0, 1, "cpu", "h2: cpu: guest needs avx512f, host lacks it");
	cpu[1] = PLACE_UNKNOWN;		/* the move's own check decides */
	verdict(&c, 0, 1, NULL, NULL);
}

static void
test_zone(void **state)
{
	struct cl c;

	(void)state;
	cl_init(&c);
	c.h[0].zone = "a";
	c.h[1].zone = "b";
	verdict(&c, 0, 1, NULL, NULL);		/* policy "any" */
	c.m.zone_stay = 1;
	verdict(&c, 0, 1, "zone", "h2: zone: zone b, VM must stay in zone a");
	c.h[1].zone = NULL;
	verdict(&c, 0, 1, "zone", "h2: zone: no zone, VM must stay in zone a");
	c.h[1].zone = "a";
	verdict(&c, 0, 1, NULL, NULL);
	/* The VM's own zone beats the policy, either way. */
	c.v[0].zone = "b";
	verdict(&c, 0, 1, "zone", "h2: zone: zone a, VM must stay in zone b");
	c.m.zone_stay = 0;
	verdict(&c, 0, 1, "zone", NULL);
}

static void
test_labels(void **state)
{
	struct cl c;
	const char *need[] = { "ssd", "gpu" };
	const char *have[] = { "gpu", "ssd", "rack:3" };

	(void)state;
	cl_init(&c);
	c.v[0].requires_labels = need;
	c.v[0].nrequires = 2;
	verdict(&c, 0, 1, "labels", "h2: labels: VM requires label ssd, host "
	    "lacks it");
	c.h[1].labels = have;
	c.h[1].nlabels = 1;
	verdict(&c, 0, 1, "labels", "h2: labels: VM requires label ssd, host "
	    "lacks it");
	c.h[1].nlabels = 3;
	verdict(&c, 0, 1, NULL, NULL);
}

static void
test_hints(void **state)
{
	struct cl c;
	size_t other = 1;

	(void)state;
	cl_init(&c);
	c.m.nhosts = 3;
	c.h[2] = c.h[1];
	c.h[2].name = "h3";
	c.m.nvms = 2;
	c.v[1] = (struct place_vm){ .name = "peer", .host = 2, .mem_mib = 1 };
	c.v[0].same_host = &other;
	c.v[0].nsame = 1;
	verdict(&c, 0, 1, "hint", "h2: hint: same-host hint: peer runs on h3");
	verdict(&c, 0, 2, NULL, NULL);
	c.v[0].nsame = 0;
	c.v[0].different_host = &other;
	c.v[0].ndifferent = 1;
	verdict(&c, 0, 2, "hint", "h3: hint: different-host hint: peer is "
	    "there");
	verdict(&c, 0, 1, NULL, NULL);
}

static void
test_storage(void **state)
{
	struct cl c;
	signed char st[2] = { PLACE_YES, PLACE_NO };

	(void)state;
	cl_init(&c);
	c.v[0].storage = st;
	verdict(&c, 0, 1, "storage", "h2: storage: the VM's shared storage is "
	    "not seen there");
}

/* Hard groups reject; soft ones only weigh, and the verdict says why. */
static void
test_groups_hard_soft(void **state)
{
	struct cl c;
	struct place_group g[2] = { { "web", 1, 1, NULL, 0 },
	    { "db", 0, 1, NULL, 0 } };
	size_t gw = 0, gd = 1;

	(void)state;
	cl_init(&c);
	c.m.groups = g;
	c.m.ngroups = 2;
	c.m.nhosts = 3;
	c.h[2] = c.h[1];
	c.h[2].name = "h3";
	c.h[2].used_mib = 4096;		/* h2 weighs more when free to choose */
	c.m.nvms = 2;
	c.v[1] = (struct place_vm){ .name = "web2", .host = 1, .mem_mib = 1,
	    .groups = &gw, .ngroups = 1 };
	c.v[0].groups = &gw;
	c.v[0].ngroups = 1;
	verdict(&c, 0, 1, "group", "h2: group: anti-affinity group web: web2 "
	    "is there");
	assert_int_equal(place_evaluate(&c.m, 0, c.vd), 2);
	g[0].hard = 0;
	verdict(&c, 0, 1, NULL, "h2: accepted, breaks soft anti-affinity group "
	    "web: web2 is there");
	assert_int_equal(place_evaluate(&c.m, 0, c.vd), 2);
	assert_true(c.vd[1].weight < c.vd[2].weight);
	/* Soft and alone: still placed, on the host that breaks it. */
	c.h[2].state = "down";
	assert_int_equal(place_evaluate(&c.m, 0, c.vd), 1);
	/* Affinity: a member already elsewhere says where. */
	c.h[2].state = "up";
	c.v[1].groups = &gd;
	c.v[0].groups = &gd;
	verdict(&c, 0, 2, "group", "h3: group: affinity group db: web2 runs "
	    "on h2");
	verdict(&c, 0, 1, NULL, NULL);
}

/* Moves committed in one plan count for the next placement. */
static void
test_commit(void **state)
{
	struct cl c;

	(void)state;
	cl_init(&c);
	c.h[1].mem_mib = 1536;
	c.m.nvms = 2;
	c.v[1] = c.v[0];
	c.v[1].name = "vm2";
	c.h[0].used_mib = 2048;
	assert_int_equal(place_evaluate(&c.m, 0, c.vd), 1);
	place_commit(&c.m, 0, 1);
	assert_int_equal(c.h[0].used_mib, 1024);
	assert_int_equal(c.h[1].used_mib, 1024);
	assert_int_equal(c.h[1].vcpus_used, 2);
	assert_int_equal(c.v[0].host, 1);
	assert_int_equal(place_evaluate(&c.m, 1, c.vd), PLACE_NONE);
	assert_string_equal(c.vd[1].filter, "memory");
}

/* Every filter at once on one cluster: each host fails for its own reason,
 * and the summary lists them all, in host order, without the source. */
static void
test_all_together(void **state)
{
	struct cl c;
	signed char cpu[6] = { 1, 1, 1, 0, 1, 1 };
	const char *why[6] = { 0, 0, 0, "guest needs avx512f, host lacks it" };
	const char *need[] = { "ssd" }, *ssd[] = { "ssd" };
	char sum[1024];
	size_t i;

	(void)state;
	cl_init(&c);
	c.m.nhosts = 6;
	c.m.zone_stay = 1;
	for (i = 0; i < 6; i++) {
		static const char *n[] = { "h1", "h2", "h3", "h4", "h5", "h6" };

		c.h[i] = (struct place_host){ .name = n[i], .state = "up",
		    .mem_mib = 8192, .cpus = 4, .zone = "a", .labels = ssd,
		    .nlabels = 1 };
	}
	c.v[0].cpu = cpu;
	c.v[0].cpu_why = why;
	c.v[0].requires_labels = need;
	c.v[0].nrequires = 1;
	c.h[1].state = "maintenance";
	c.h[2].used_mib = 8000;
	c.h[3].zone = "a";		/* cpu fails first */
	c.h[4].zone = "b";
	c.h[5].nlabels = 0;
	assert_int_equal(place_evaluate(&c.m, 0, c.vd), PLACE_NONE);
	place_summary(&c.m, c.vd, sum, sizeof(sum));
	assert_string_equal(sum, "h2: usable: host is in maintenance; "
	    "h3: memory: needs 1024 MiB, 192 MiB free after the 0 MiB reserve "
	    "and moves on their way; "
	    "h4: cpu: guest needs avx512f, host lacks it; "
	    "h5: zone: zone b, VM must stay in zone a; "
	    "h6: labels: VM requires label ssd, host lacks it");
	/* Lift one: that host is the answer. */
	c.h[5].nlabels = 1;
	assert_int_equal(place_evaluate(&c.m, 0, c.vd), 5);
}

static void
test_label_valid(void **state)
{
	(void)state;
	assert_true(place_label_valid("rack:3"));
	assert_true(place_label_valid("gpu=a100"));
	assert_false(place_label_valid(""));
	assert_false(place_label_valid("a b"));
	assert_false(place_label_valid("x;y"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_accept_and_source),
		cmocka_unit_test(test_usable),
		cmocka_unit_test(test_memory),
		cmocka_unit_test(test_vcpu),
		cmocka_unit_test(test_cpu),
		cmocka_unit_test(test_zone),
		cmocka_unit_test(test_labels),
		cmocka_unit_test(test_hints),
		cmocka_unit_test(test_storage),
		cmocka_unit_test(test_groups_hard_soft),
		cmocka_unit_test(test_commit),
		cmocka_unit_test(test_all_together),
		cmocka_unit_test(test_label_valid),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
