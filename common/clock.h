/* clock.h: the one clock source of each daemon.
 *
 * clock_mono_ms() (CLOCK_MONOTONIC) is for every deadline, timeout,
 * backoff, rate limit and interval: it never steps, so an NTP correction
 * or an operator's `date -s` cannot expire every call in flight at once.
 * clock_wall_ms() (CLOCK_REALTIME) is for records only: journal entries,
 * event times, the started/ended times people read and that outlive the
 * process. A value of one clock is never compared with the other's.
 *
 * Tests move either clock by an offset (clock_test_step); the daemons
 * never do. Both are safe from any thread.
 */
#ifndef FERRY_CLOCK_H
#define FERRY_CLOCK_H

#include <stdint.h>

enum clock_kind {
	CLOCK_KIND_MONO,
	CLOCK_KIND_WALL,
};

/* clock.c */
uint64_t clock_mono_ms(void);
uint64_t clock_wall_ms(void);
/* The monotonic time at which a recorded wall time was (a journal's
 * started_ms after a restart): now less what has passed since, never 0. */
uint64_t clock_mono_of_wall(uint64_t wall_ms);
/* Tests only: move a clock by ms (negative: back), or both back to 0. */
void	 clock_test_step(enum clock_kind, int64_t ms);
void	 clock_test_reset(void);

#endif
