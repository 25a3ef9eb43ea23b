/* clock.c: monotonic time for deadlines, wall time for records; see
 * clock.h. */
#include <stdint.h>
#include <time.h>

#include "clock.h"

/* Offsets tests add; 0 in the daemons. Atomic: any thread reads them. */
static int64_t clock_mono_off, clock_wall_off;

static uint64_t
clock_read(clockid_t id, const int64_t *off)
{
	struct timespec ts;
	int64_t ms;

	clock_gettime(id, &ts);
	ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 +
	    __atomic_load_n(off, __ATOMIC_RELAXED);
	return ms > 0 ? (uint64_t)ms : 0;
}

uint64_t
clock_mono_ms(void)
{
	return clock_read(CLOCK_MONOTONIC, &clock_mono_off);
}

uint64_t
clock_wall_ms(void)
{
	return clock_read(CLOCK_REALTIME, &clock_wall_off);
}

uint64_t
clock_mono_of_wall(uint64_t wall_ms)
{
	uint64_t mono = clock_mono_ms(), wall = clock_wall_ms(), ago;

	ago = wall > wall_ms ? wall - wall_ms : 0;
	return mono > ago ? mono - ago : 1;
}

void
clock_test_step(enum clock_kind k, int64_t ms)
{
	__atomic_add_fetch(k == CLOCK_KIND_MONO ? &clock_mono_off :
	    &clock_wall_off, ms, __ATOMIC_RELAXED);
}

void
clock_test_reset(void)
{
	__atomic_store_n(&clock_mono_off, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&clock_wall_off, 0, __ATOMIC_RELAXED);
}
