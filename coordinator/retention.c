/* retention.c: job history retention (retention_days, default 90). Once
 * an hour, and at once again while a batch came back full, the jobs that
 * finished before now - retention_days are pruned (store_prune.c), a
 * bounded batch a turn so the loop is never held for long. */
#include "coordinator.h"
#include "log.h"

#define RETENTION_EVERY_MS	(3600 * 1000)
#define RETENTION_AGAIN_MS	1000
#define RETENTION_BATCH		500

/* From the sweep (mono now_ms); the cutoff is wall time, as ended_ms. */
void
retention_tick(struct coord *co, uint64_t now_ms)
{
	uint64_t keep_ms, wall = clock_wall_ms();
	size_t n;

	if (now_ms < co->prune_next_ms || co->conf.retention_days <= 0)
		return;
	co->prune_next_ms = now_ms + RETENTION_EVERY_MS;
	keep_ms = (uint64_t)co->conf.retention_days * 86400 * 1000;
	if (wall <= keep_ms)
		return;
	if (store_prune(co->store, wall - keep_ms, RETENTION_BATCH, &n) < 0) {
		log_warnx("retention: %s", store_error(co->store));
		return;
	}
	if (n > 0)
		log_info("retention: %zu job%s that ended over %d days ago "
		    "removed", n, n == 1 ? "" : "s", co->conf.retention_days);
	if (n == RETENTION_BATCH)
		co->prune_next_ms = now_ms + RETENTION_AGAIN_MS;
}
