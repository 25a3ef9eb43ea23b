/* test_clock.c: common/clock.c, the daemons' one clock source: the
 * monotonic and the wall clock move apart when a test steps one (as NTP or
 * `date -s` step the wall clock), and a journaled wall time becomes the
 * right monotonic time after a restart. test_races.c steps them under a
 * real coordinator. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "clock.h"

#define HOUR_MS		3600000ULL
#define SLACK_MS	1000	/* a slow, shared machine between two reads */

static int
teardown(void **state)
{
	(void)state;
	clock_test_reset();
	return 0;
}

/* A wall step moves records' time only; a monotonic step the deadlines'
 * only; both go back to the real clocks on reset. */
static void
test_steps_are_apart(void **state)
{
	uint64_t m0, w0, m1, w1;

	(void)state;
	m0 = clock_mono_ms();
	w0 = clock_wall_ms();
	clock_test_step(CLOCK_KIND_WALL, (int64_t)HOUR_MS);
	m1 = clock_mono_ms();
	w1 = clock_wall_ms();
	assert_true(w1 >= w0 + HOUR_MS && w1 < w0 + HOUR_MS + SLACK_MS);
	assert_true(m1 >= m0 && m1 < m0 + SLACK_MS);

	clock_test_step(CLOCK_KIND_WALL, -2 * (int64_t)HOUR_MS);
	assert_true(clock_wall_ms() + HOUR_MS < w0 + SLACK_MS);
	assert_true(clock_mono_ms() < m0 + SLACK_MS);

	clock_test_step(CLOCK_KIND_MONO, 5000);
	m1 = clock_mono_ms();
	assert_true(m1 >= m0 + 5000 && m1 < m0 + 5000 + SLACK_MS);

	clock_test_reset();
	w1 = clock_wall_ms();
	m1 = clock_mono_ms();
	assert_true(w1 >= w0 && w1 < w0 + SLACK_MS);
	assert_true(m1 >= m0 && m1 < m0 + SLACK_MS);
}

/* A job journaled 5 s ago (wall) started 5 s ago (monotonic), whatever
 * the two clocks read; one journaled "in the future" (the wall clock was
 * stepped back since) started now, and none maps to 0 ("never"). */
static void
test_mono_of_wall(void **state)
{
	uint64_t m, t;

	(void)state;
	m = clock_mono_ms();
	t = clock_mono_of_wall(clock_wall_ms() - 5000);
	assert_true(t + 5000 >= m && t + 5000 < m + SLACK_MS);

	m = clock_mono_ms();
	t = clock_mono_of_wall(clock_wall_ms() + HOUR_MS);
	assert_true(t >= m && t < m + SLACK_MS);

	assert_true(clock_mono_of_wall(0) >= 1);

	/* After a wall step forward, the same record is an hour older. */
	m = clock_mono_ms();
	t = clock_wall_ms();
	clock_test_step(CLOCK_KIND_WALL, (int64_t)HOUR_MS);
	t = clock_mono_of_wall(t);
	assert_true((t + HOUR_MS >= m && t + HOUR_MS < m + SLACK_MS) ||
	    (t == 1 && m < HOUR_MS));	/* up for less than an hour */
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_steps_are_apart, teardown),
		cmocka_unit_test_teardown(test_mono_of_wall, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
