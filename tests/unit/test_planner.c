/* test_planner.c: evacuation plans honour capacity across the whole plan,
 * name every VM they cannot place with its reason, and order the work
 * largest first. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "planner.h"

static void
host(struct plan_host *h, const char *name, int usable, uint64_t mem,
    uint64_t reserve, uint64_t used)
{
	memset(h, 0, sizeof(*h));
	snprintf(h->name, sizeof(h->name), "%s", name);
	h->usable = usable;
	h->mem_mib = mem;
	h->reserve_mib = reserve;
	h->used_mib = used;
	h->cpus = 8;
}

static void
vm(struct plan_vm *v, const char *name, uint64_t mem, int movable,
    const char *why)
{
	memset(v, 0, sizeof(*v));
	snprintf(v->name, sizeof(v->name), "%s", name);
	v->mem_mib = mem;
	v->vcpus = 1;
	v->movable = movable;
	if (why)
		snprintf(v->why, sizeof(v->why), "%s", why);
}

/* Memory planned onto each host never exceeds what it has free. */
static void
assert_capacity(const struct plan_host *h, size_t nh, const struct plan_vm *v,
    size_t nv)
{
	uint64_t load[8] = { 0 };
	size_t i;

	for (i = 0; i < nv; i++)
		if (v[i].dest >= 0)
			load[v[i].dest] += v[i].mem_mib;
	for (i = 0; i < nh; i++)
		assert_true(h[i].used_mib + h[i].reserve_mib + load[i] <=
		    h[i].mem_mib);
}

static void
test_all_fit_spread(void **state)
{
	struct plan_host h[3];
	struct plan_vm v[6];
	int i, on[3] = { 0 };

	(void)state;
	host(&h[0], "h1", 1, 4096, 256, 6 * 256);
	host(&h[1], "h2", 1, 4096, 256, 0);
	host(&h[2], "h3", 1, 4096, 256, 0);
	for (i = 0; i < 6; i++) {
		char n[8];

		snprintf(n, sizeof(n), "v%d", i);
		vm(&v[i], n, 256, 1, NULL);
	}
	assert_int_equal(planner_evacuate(h, 3, 0, v, 6), 0);
	for (i = 0; i < 6; i++) {
		assert_true(v[i].dest == 1 || v[i].dest == 2);
		on[v[i].dest]++;
	}
	/* Worst fit alternates between equal hosts: 3 and 3. */
	assert_int_equal(on[1], 3);
	assert_int_equal(on[2], 3);
	assert_capacity(h, 3, v, 6);
}

/* Each VM alone would fit on h2, but not all of them together: the plan
 * counts memory across the whole plan, not VM by VM. */
static void
test_capacity_across_plan(void **state)
{
	struct plan_host h[2];
	struct plan_vm v[3];

	(void)state;
	host(&h[0], "h1", 1, 8192, 0, 3000);
	host(&h[1], "h2", 1, 2560, 512, 0);	/* 2048 free */
	vm(&v[0], "a", 1000, 1, NULL);
	vm(&v[1], "b", 1000, 1, NULL);
	vm(&v[2], "c", 1000, 1, NULL);
	assert_int_equal(planner_evacuate(h, 2, 0, v, 3), 1);
	assert_int_equal(v[0].dest, 1);
	assert_int_equal(v[1].dest, 1);
	assert_int_equal(v[2].dest, -1);
	assert_string_equal(v[2].reason, "needs 1000 MiB; the most any "
	    "destination has left in this plan is 48 MiB (h2)");
	assert_capacity(h, 2, v, 3);
}

static void
test_largest_first(void **state)
{
	struct plan_host h[3];
	struct plan_vm v[4];

	(void)state;
	host(&h[0], "h1", 1, 8192, 0, 0);
	host(&h[1], "h2", 1, 2048, 0, 0);
	host(&h[2], "h3", 1, 1536, 0, 0);
	vm(&v[0], "small", 256, 1, NULL);
	vm(&v[1], "huge", 1536, 1, NULL);
	vm(&v[2], "mid", 1024, 1, NULL);
	vm(&v[3], "mid2", 1024, 1, NULL);
	/* Largest first: huge -> h2 (2048), mid -> h3 (1536 > 512),
	 * mid2 -> nowhere (512, 512), small -> h2 or h3. Smallest first
	 * would have stranded huge instead. */
	assert_int_equal(planner_evacuate(h, 3, 0, v, 4), 1);
	assert_int_equal(v[1].order, 1);
	assert_int_equal(v[1].dest, 1);
	assert_int_equal(v[2].order, 2);
	assert_int_equal(v[2].dest, 2);
	assert_int_equal(v[3].order, 3);
	assert_int_equal(v[3].dest, -1);
	assert_int_equal(v[0].order, 4);
	assert_true(v[0].dest == 1 || v[0].dest == 2);
	assert_capacity(h, 3, v, 4);
}

static void
test_unmovable_and_unusable(void **state)
{
	struct plan_host h[4];
	struct plan_vm v[2];
	int allowed[4] = { 1, 1, 0, 1 };

	(void)state;
	host(&h[0], "h1", 1, 8192, 0, 0);
	host(&h[1], "h2", 0, 8192, 0, 0);	/* down or in maintenance */
	host(&h[2], "h3", 1, 8192, 0, 0);
	host(&h[3], "h4", 1, 1024, 0, 0);
	vm(&v[0], "local", 512, 0, "storage:vda: file is on ext4, not NFS");
	vm(&v[1], "picky", 512, 1, NULL);
	v[1].allowed = allowed;		/* its CPU does not run on h3 */
	assert_int_equal(planner_evacuate(h, 4, 0, v, 2), 1);
	assert_int_equal(v[0].dest, -1);
	assert_string_equal(v[0].reason, "storage:vda: file is on ext4, not NFS");
	assert_int_equal(v[1].dest, 3);		/* h4, the only one left */
}

static void
test_no_destination(void **state)
{
	struct plan_host h[2];
	struct plan_vm v[1];

	(void)state;
	host(&h[0], "h1", 1, 8192, 0, 0);
	host(&h[1], "h2", 0, 8192, 0, 0);
	vm(&v[0], "a", 256, 1, NULL);
	assert_int_equal(planner_evacuate(h, 2, 0, v, 1), 1);
	assert_string_equal(v[0].reason, "no other host is up and active");
	assert_int_equal(planner_evacuate(h, 2, 5, v, 1), -1);
	assert_int_equal(planner_evacuate(h, 2, 0, NULL, 0), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_all_fit_spread),
		cmocka_unit_test(test_capacity_across_plan),
		cmocka_unit_test(test_largest_first),
		cmocka_unit_test(test_unmovable_and_unusable),
		cmocka_unit_test(test_no_destination),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
