/* test_retention.c: job history retention (retention.c, store_prune.c)
 * against a real SQLite store, with the clocks moved by clock_test_step:
 * what ended before the cutoff goes with its journal; what has not ended
 * never goes, nor a run whose migration is kept, nor a migration whose run
 * is; the hourly turn is on the monotonic clock. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "clock.h"
#include "coordinator.h"
#include "store.h"

#define DAY_MS	(86400ULL * 1000)

static int64_t
job_at(struct store *st, const char *kind, int64_t parent, uint64_t start,
    uint64_t end)
{
	struct store_job j;
	struct store_run r;

	if (strcmp(kind, "migrate") != 0) {
		memset(&r, 0, sizeof(r));
		snprintf(r.kind, sizeof(r.kind), "%s", kind);
		snprintf(r.state, sizeof(r.state), "draining");
		snprintf(r.host, sizeof(r.host), "h1");
		assert_int_equal(store_run_create(st, &r, NULL, start), 0);
		j.id = r.id;
	} else {
		memset(&j, 0, sizeof(j));
		snprintf(j.kind, sizeof(j.kind), "migrate");
		snprintf(j.vm, sizeof(j.vm), "vm%lld", (long long)start);
		snprintf(j.source, sizeof(j.source), "h1");
		snprintf(j.destination, sizeof(j.destination), "h2");
		snprintf(j.state, sizeof(j.state), "pending");
		j.parent = parent;
		assert_int_equal(store_job_create(st, &j, start), 0);
	}
	assert_int_equal(store_job_event(st, j.id, "info", "a sample",
	    start + 1), 0);
	if (end)
		assert_int_equal(store_job_finish(st, j.id, "succeeded", NULL,
		    NULL, end), 0);
	return j.id;
}

static int
exists(struct store *st, int64_t id)
{
	struct store_job j;
	int r = store_job_get(st, id, &j);

	assert_true(r >= 0);
	if (r == 1)
		store_job_clear(&j);
	return r;
}

static size_t
nevents(struct store *st, int64_t id)
{
	struct store_event *ev = NULL;
	size_t n = 0;

	assert_int_equal(store_job_events(st, id, &ev, &n), 0);
	store_event_list_free(ev, n);
	return n;
}

static void
test_retention(void **state)
{
	char dir[] = "/tmp/ferry-retention.XXXXXX", path[64], err[256];
	struct coord co;
	uint64_t now;
	int64_t old, open_old, run, child, run2, child2, recent;
	size_t n;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/ferry.db", dir);
	memset(&co, 0, sizeof(co));
	assert_int_equal(store_open(path, &co.store, err, sizeof(err)), 0);
	co.conf.retention_days = 90;
	now = clock_wall_ms();

	old = job_at(co.store, "migrate", 0, now - 101 * DAY_MS,
	    now - 100 * DAY_MS);
	open_old = job_at(co.store, "migrate", 0, now - 200 * DAY_MS, 0);
	run = job_at(co.store, "drain", 0, now - 101 * DAY_MS,
	    now - 100 * DAY_MS);
	child = job_at(co.store, "migrate", run, now - 101 * DAY_MS,
	    now - 100 * DAY_MS);
	/* An old run with a migration that never ended: both stay. */
	run2 = job_at(co.store, "drain", 0, now - 101 * DAY_MS,
	    now - 100 * DAY_MS);
	child2 = job_at(co.store, "migrate", run2, now - 101 * DAY_MS, 0);
	recent = job_at(co.store, "migrate", 0, now - 11 * DAY_MS,
	    now - 10 * DAY_MS);
	assert_int_equal(nevents(co.store, old), 3);

	retention_tick(&co, clock_mono_ms());
	assert_int_equal(exists(co.store, old), 0);
	assert_int_equal(nevents(co.store, old), 0);	/* journal too */
	assert_int_equal(exists(co.store, run), 0);
	assert_int_equal(exists(co.store, child), 0);
	assert_int_equal(exists(co.store, open_old), 1);
	assert_int_equal(exists(co.store, run2), 1);
	assert_int_equal(exists(co.store, child2), 1);
	assert_int_equal(exists(co.store, recent), 1);
	assert_int_equal(nevents(co.store, recent), 3);

	/* 85 days on, recent is 95 days old, but the next turn is an hour
	 * after the last on the monotonic clock. */
	clock_test_step(CLOCK_KIND_WALL, (int64_t)(85 * DAY_MS));
	retention_tick(&co, clock_mono_ms());
	assert_int_equal(exists(co.store, recent), 1);
	clock_test_step(CLOCK_KIND_MONO, 3600 * 1000 + 1);
	retention_tick(&co, clock_mono_ms());
	assert_int_equal(exists(co.store, recent), 0);
	/* Unfinished, however old: never. */
	assert_int_equal(exists(co.store, open_old), 1);
	assert_int_equal(exists(co.store, child2), 1);

	/* Once child2 ends (long ago enough), it goes with its run. */
	assert_int_equal(store_job_finish(co.store, child2, "failed", "x",
	    NULL, clock_wall_ms() - 91 * DAY_MS), 0);
	assert_int_equal(store_prune(co.store, clock_wall_ms() - 90 * DAY_MS,
	    10, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(exists(co.store, run2), 0);
	assert_int_equal(exists(co.store, child2), 0);
	assert_int_equal(exists(co.store, open_old), 1);
	/* A batch bound of 0 prunes nothing. */
	assert_int_equal(store_prune(co.store, clock_wall_ms(), 0, &n), 0);
	assert_int_equal(n, 0);

	clock_test_reset();
	store_close(co.store);
	unlink(path);
	snprintf(path, sizeof(path), "%s/ferry.db-wal", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/ferry.db-shm", dir);
	unlink(path);
	rmdir(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_retention),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
