/* test_lease.c: HA leadership (coordinator/lease*.c, issue 16).
 *
 * The logic with an injected clock against a fake database whose clock
 * may run at another rate: two coordinators never act at once, a standby
 * takes over within the lease after the leader dies, a leader that cannot
 * renew (database gone, process paused, answers late) stops acting before
 * the database's expiry by its own monotonic clock. The thread with a
 * database call that hangs: the loop is told it stepped down at its
 * deadline. The libpq backend against a real PostgreSQL when one can be
 * started here (initdb), and its timeout against a server that never
 * answers. */
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "clock.h"
#include "lease.h"
#include "log.h"

static const struct lease_conf conf_c1 = { "c1", 6000, 1000, 1000, 1000 };
static const struct lease_conf conf_c2 = { "c2", 6000, 1000, 1000, 1000 };

/* ---- a fake database: one row, its own clock ---- */

struct fakedb {
	int64_t		 now;		/* its clock, ms */
	int64_t		 micro;		/* ... in thousandths of ms */
	char		 holder[64];
	uint64_t	 epoch;
	int64_t		 expires;
	int		 down;		/* answers nothing */
};

static int
fakedb_call(struct fakedb *db, enum lease_op op, const char *node,
    uint64_t epoch, int ttl, struct lease_row *row)
{
	int took = 0;

	if (db->down)
		return -1;
	if (op == LEASE_OP_ACQUIRE && (db->expires <= db->now ||
	    strcmp(db->holder, node) == 0)) {
		snprintf(db->holder, sizeof(db->holder), "%s", node);
		db->epoch++;
		db->expires = db->now + ttl;
		took = 1;
	} else if (op == LEASE_OP_RENEW && strcmp(db->holder, node) == 0 &&
	    db->epoch == epoch && db->expires > db->now) {
		db->expires = db->now + ttl;
		took = 1;
	}
	snprintf(row->holder, sizeof(row->holder), "%s", db->holder);
	row->epoch = db->epoch;
	row->remaining_ms = db->expires - db->now;
	return took;
}

/* One coordinator driven by the test: alive, its calls' latency. */
struct node {
	struct lease_logic	 lg;
	int			 alive;
	/* a call in flight: sent at, answered at, its answer */
	int			 inflight;
	uint64_t		 sent, due;
	enum lease_op		 op;
	int			 rc;
	struct lease_row	 row;
	int			 latency;
	int			 cut;		/* its calls never arrive */
};

/* Advances the world by 10 ms of the coordinators' clock; the database's
 * clock by 10 * rate / 1000. Asserts that at most one node acts. */
static void
world_step(struct fakedb *db, struct node *n, int nn, uint64_t *now,
    int rate_permille)
{
	int i, acting = 0;

	*now += 10;
	db->micro += 10 * rate_permille;
	db->now += db->micro / 1000;
	db->micro %= 1000;
	for (i = 0; i < nn; i++) {
		if (!n[i].alive)
			continue;
		(void)lease_logic_tick(&n[i].lg, *now);
		if (n[i].inflight && *now >= n[i].due) {
			n[i].inflight = 0;
			lease_logic_result(&n[i].lg, n[i].op, n[i].rc,
			    &n[i].row, "down", n[i].sent, *now);
		}
		if (!n[i].inflight && *now >= n[i].lg.next_try) {
			n[i].op = lease_logic_op(&n[i].lg);
			n[i].sent = *now;
			n[i].due = *now + (uint64_t)n[i].latency;
			/* The database acts when the call reaches it. */
			n[i].rc = n[i].cut ? -1 : fakedb_call(db, n[i].op,
			    n[i].lg.conf.node, n[i].lg.epoch,
			    n[i].lg.conf.ttl_ms, &n[i].row);
			n[i].inflight = 1;
		}
		acting += lease_logic_acting(&n[i].lg, *now);
	}
	if (acting > 1)
		fail_msg("two leaders at t=%llu", (unsigned long long)*now);
	/* And none acts past the database's expiry of its own lease. */
	for (i = 0; i < nn; i++)
		if (n[i].alive && lease_logic_acting(&n[i].lg, *now) &&
		    (strcmp(db->holder, n[i].lg.conf.node) != 0 ||
		    db->epoch != n[i].lg.epoch || db->expires <= db->now))
			fail_msg("%s acts at t=%llu without the lease",
			    n[i].lg.conf.node, (unsigned long long)*now);
}

static int
run_until_leader(struct fakedb *db, struct node *n, int nn, uint64_t *now,
    int who, int max_ms, int rate)
{
	uint64_t end = *now + (uint64_t)max_ms;

	while (*now < end) {
		world_step(db, n, nn, now, rate);
		if (lease_logic_acting(&n[who].lg, *now))
			return 1;
	}
	return 0;
}

static void
world_init(struct fakedb *db, struct node *n, uint64_t now)
{
	memset(db, 0, sizeof(*db));
	db->now = 1000000;	/* another clock altogether */
	memset(n, 0, 2 * sizeof(*n));
	lease_logic_init(&n[0].lg, &conf_c1, now);
	lease_logic_init(&n[1].lg, &conf_c2, now + 500);
	n[0].alive = n[1].alive = 1;
	n[0].latency = n[1].latency = 20;
}

static void
test_conf(void **state)
{
	struct lease_conf c = conf_c1;
	char err[256];

	(void)state;
	assert_int_equal(lease_conf_check(&c, err, sizeof(err)), 0);
	c.renew_ms = 4000;
	assert_int_equal(lease_conf_check(&c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "must be below lease_ms"));
	c = conf_c1;
	c.node[0] = '\0';
	assert_int_equal(lease_conf_check(&c, err, sizeof(err)), -1);
	c = conf_c1;
	c.ttl_ms = 500;
	assert_int_equal(lease_conf_check(&c, err, sizeof(err)), -1);
}

/* c1 leads; killed, c2 leads within the lease with a higher epoch. */
static void
test_failover(void **state)
{
	struct fakedb db;
	struct node n[2];
	uint64_t now = 5000, killed, took;
	uint64_t e1;
	int i;

	(void)state;
	world_init(&db, n, now);
	assert_true(run_until_leader(&db, n, 2, &now, 0, 1000, 1000));
	e1 = n[0].lg.epoch;
	assert_true(e1 == 1);
	/* A minute of both running: c1 stays leader, c2 stays standby and
	 * knows who leads. */
	for (i = 0; i < 6000; i++)
		world_step(&db, n, 2, &now, 1000);
	assert_true(lease_logic_acting(&n[0].lg, now));
	assert_int_equal(n[1].lg.role, LEASE_STANDBY);
	assert_string_equal(n[1].lg.leader, "c1");
	assert_true(n[0].lg.epoch == e1);
	/* SIGKILL. */
	n[0].alive = 0;
	killed = now;
	assert_true(run_until_leader(&db, n, 2, &now, 1, 10000, 1000));
	took = now - killed;
	if (took > (uint64_t)conf_c2.ttl_ms + conf_c2.renew_ms)
		fail_msg("took %llu ms", (unsigned long long)took);
	assert_true(n[1].lg.epoch == e1 + 1);
	/* c1 restarted: a standby, it sees c2 lead. */
	lease_logic_init(&n[0].lg, &conf_c1, now);
	n[0].alive = 1;
	for (i = 0; i < 500; i++)
		world_step(&db, n, 2, &now, 1000);
	assert_int_equal(n[0].lg.role, LEASE_STANDBY);
	assert_string_equal(n[0].lg.leader, "c2");
	assert_true(lease_logic_acting(&n[1].lg, now));
}

/* The database gone: the leader stops by its own clock before the row's
 * expiry; nobody leads while it is gone; a leader again after. */
static void
test_database_down(void **state)
{
	struct fakedb db;
	struct node n[2];
	uint64_t now = 5000, down_at;
	int i;

	(void)state;
	world_init(&db, n, now);
	assert_true(run_until_leader(&db, n, 2, &now, 0, 1000, 1000));
	for (i = 0; i < 300; i++)
		world_step(&db, n, 2, &now, 1000);
	db.down = 1;
	down_at = now;
	/* world_step asserts nobody acts past the row's expiry. */
	while (lease_logic_acting(&n[0].lg, now))
		world_step(&db, n, 2, &now, 1000);
	assert_true(now - down_at <= (uint64_t)conf_c1.ttl_ms -
	    conf_c1.margin_ms);
	assert_non_null(strstr(n[0].lg.last_error, "deadline"));
	for (i = 0; i < 2000; i++) {
		world_step(&db, n, 2, &now, 1000);
		assert_false(lease_logic_acting(&n[0].lg, now));
		assert_false(lease_logic_acting(&n[1].lg, now));
	}
	db.down = 0;
	for (i = 0; i < 300; i++)
		world_step(&db, n, 2, &now, 1000);
	assert_true(lease_logic_acting(&n[0].lg, now) ||
	    lease_logic_acting(&n[1].lg, now));
	/* A new term: the epoch rose. */
	assert_true(db.epoch == 2);
}

/* Paused (SIGSTOP) past the lease: at once not acting when it wakes,
 * before any answer; the standby has taken over meanwhile. */
static void
test_paused(void **state)
{
	struct fakedb db;
	struct node n[2];
	uint64_t now = 5000, t;
	int i;

	(void)state;
	world_init(&db, n, now);
	assert_true(run_until_leader(&db, n, 2, &now, 0, 1000, 1000));
	n[0].alive = 0;		/* stopped: its clock runs, it does nothing */
	assert_true(run_until_leader(&db, n, 2, &now, 1, 10000, 1000));
	t = now + 3000;
	while (now < t)
		world_step(&db, n, 2, &now, 1000);
	n[0].alive = 1;		/* SIGCONT */
	assert_false(lease_logic_acting(&n[0].lg, now));
	for (i = 0; i < 500; i++)
		world_step(&db, n, 2, &now, 1000);
	assert_int_equal(n[0].lg.role, LEASE_STANDBY);
	assert_string_equal(n[0].lg.leader, "c2");
	assert_true(n[0].lg.epoch == n[1].lg.epoch);
}

/* An answer later than the lease is worth nothing; a renewal refused by
 * the database (another took it) ends leadership at once. */
static void
test_late_and_lost(void **state)
{
	struct lease_logic lg;
	struct lease_row row;

	(void)state;
	lease_logic_init(&lg, &conf_c1, 0);
	memset(&row, 0, sizeof(row));
	snprintf(row.holder, sizeof(row.holder), "c1");
	row.epoch = 3;
	row.remaining_ms = 6000;
	lease_logic_result(&lg, LEASE_OP_ACQUIRE, 1, &row, NULL, 100, 7000);
	assert_int_equal(lg.role, LEASE_LEADER);
	assert_false(lease_logic_acting(&lg, 7000));	/* 100 + 6000 - 1000 */
	/* In time: acts until sent + remaining - margin. */
	lease_logic_result(&lg, LEASE_OP_RENEW, 1, &row, NULL, 8000, 8050);
	assert_true(lease_logic_acting(&lg, 12999));
	assert_false(lease_logic_acting(&lg, 13000));
	/* The database says its remaining time is shorter than ttl: that. */
	row.remaining_ms = 2500;
	lease_logic_result(&lg, LEASE_OP_RENEW, 1, &row, NULL, 9000, 9010);
	assert_false(lease_logic_acting(&lg, 10500));
	/* Lost to c2. */
	row.remaining_ms = 6000;
	lease_logic_result(&lg, LEASE_OP_RENEW, 1, &row, NULL, 10000, 10010);
	assert_true(lease_logic_acting(&lg, 10020));
	snprintf(row.holder, sizeof(row.holder), "c2");
	row.epoch = 4;
	lease_logic_result(&lg, LEASE_OP_RENEW, 0, &row, NULL, 11000, 11010);
	assert_int_equal(lg.role, LEASE_STANDBY);
	assert_false(lease_logic_acting(&lg, 11010));
	assert_string_equal(lg.leader, "c2");
	assert_true(lg.epoch == 4);
	/* A renewal answered "yes" for another epoch is not ours. */
	lease_logic_init(&lg, &conf_c1, 0);
	row.epoch = 5;
	snprintf(row.holder, sizeof(row.holder), "c1");
	lease_logic_result(&lg, LEASE_OP_ACQUIRE, 1, &row, NULL, 0, 10);
	row.epoch = 6;
	lease_logic_result(&lg, LEASE_OP_RENEW, 1, &row, NULL, 100, 110);
	assert_int_equal(lg.role, LEASE_STANDBY);
	/* Deposed by a host: at once, and it asks the database now. */
	lease_logic_init(&lg, &conf_c1, 0);
	row.epoch = 7;
	lease_logic_result(&lg, LEASE_OP_ACQUIRE, 1, &row, NULL, 0, 10);
	assert_true(lease_logic_acting(&lg, 20));
	lease_logic_deposed(&lg, 30);
	assert_false(lease_logic_acting(&lg, 30));
	assert_true(lg.next_try == 30);
}

/* The database's clock 0.5 % faster or slower than ours (within the
 * margin over a lease): still never two leaders, nor one acting past the
 * row's expiry, across failovers in which the leader stays alive but is
 * cut from the database (world_step checks every live node). */
static void
test_clock_rates(void **state)
{
	static const int rates[] = { 995, 1005, 1100 };
	struct fakedb db;
	struct node n[2];
	uint64_t now;
	size_t r;
	int k, i;

	(void)state;
	for (r = 0; r < sizeof(rates) / sizeof(rates[0]); r++) {
		now = 5000;
		world_init(&db, n, now);
		n[0].latency = 300;
		n[1].latency = 5;
		for (k = 0; k < 6; k++) {
			for (i = 0; i < 1500; i++)
				world_step(&db, n, 2, &now, rates[r]);
			/* Cut whichever leads from the database. */
			for (i = 0; i < 2; i++)
				if (lease_logic_acting(&n[i].lg, now)) {
					n[i].cut = 1;
					break;
				}
			for (i = 0; i < 800; i++)
				world_step(&db, n, 2, &now, rates[r]);
			n[0].cut = n[1].cut = 0;
		}
		assert_true(db.epoch >= 6);
	}
}

/* ---- the thread, with a database call that hangs ---- */

struct hang {
	int	 hang_ms;	/* set by the test; read by the thread */
	int	 calls;
	uint64_t epoch;
};

static int
hang_acquire(void *arg, const char *node, int ttl_ms, int timeout_ms,
    struct lease_row *row, char *err, size_t errlen)
{
	struct hang *h = arg;
	int ms = __atomic_load_n(&h->hang_ms, __ATOMIC_ACQUIRE);

	(void)timeout_ms;
	__atomic_add_fetch(&h->calls, 1, __ATOMIC_RELEASE);
	if (ms > 0) {
		usleep((useconds_t)ms * 1000);
		snprintf(err, errlen, "hung");
		return -1;
	}
	snprintf(row->holder, sizeof(row->holder), "%s", node);
	row->epoch = ++h->epoch;
	row->remaining_ms = ttl_ms;
	return 1;
}

static int
hang_renew(void *arg, const char *node, uint64_t epoch, int ttl_ms,
    int timeout_ms, struct lease_row *row, char *err, size_t errlen)
{
	struct hang *h = arg;
	int ms = __atomic_load_n(&h->hang_ms, __ATOMIC_ACQUIRE);

	(void)timeout_ms;
	if (ms > 0) {
		usleep((useconds_t)ms * 1000);
		snprintf(err, errlen, "hung");
		return -1;
	}
	snprintf(row->holder, sizeof(row->holder), "%s", node);
	row->epoch = epoch;
	row->remaining_ms = ttl_ms;
	return 1;
}

struct seen {
	int		 changes;
	struct lease_view last;
};

static void
seen_cb(void *arg, const struct lease_view *v)
{
	struct seen *s = arg;

	s->changes++;
	s->last = *v;
}

static void
test_thread_stuck(void **state)
{
	static const struct lease_conf c = { "c1", 1500, 300, 300, 300 };
	struct lease_backend be = { 0 };
	struct hang h = { 0 };
	struct seen s = { 0 };
	struct lease *l;
	uv_loop_t loop;
	uint64_t t0, stuck_at;
	char err[256];

	(void)state;
	assert_int_equal(uv_loop_init(&loop), 0);
	be.arg = &h;
	be.acquire = hang_acquire;
	be.renew = hang_renew;
	assert_non_null(l = lease_start(&loop, &c, &be, seen_cb, &s, err,
	    sizeof(err)));
	t0 = clock_mono_ms();
	while (!lease_acting(l) && clock_mono_ms() - t0 < 3000)
		uv_run(&loop, UV_RUN_NOWAIT), usleep(2000);
	assert_true(lease_acting(l));
	while (s.changes == 0 && clock_mono_ms() - t0 < 3000)
		uv_run(&loop, UV_RUN_NOWAIT), usleep(2000);
	assert_int_equal(s.last.role, LEASE_LEADER);
	assert_true(s.last.epoch == 1);
	/* The database hangs for 5 s: the loop, never blocked, is told it
	 * stepped down within the lease, while the thread is still stuck. */
	__atomic_store_n(&h.hang_ms, 5000, __ATOMIC_RELEASE);
	stuck_at = clock_mono_ms();
	while (s.last.role == LEASE_LEADER &&
	    clock_mono_ms() - stuck_at < 4000)
		uv_run(&loop, UV_RUN_NOWAIT), usleep(2000);
	assert_int_equal(s.last.role, LEASE_STANDBY);
	assert_false(lease_acting(l));
	if (clock_mono_ms() - stuck_at > (uint64_t)c.ttl_ms)
		fail_msg("stepped down after %llu ms", (unsigned long long)
		    (clock_mono_ms() - stuck_at));
	__atomic_store_n(&h.hang_ms, 0, __ATOMIC_RELEASE);
	lease_stop(l);
	for (int k = 0; k < 100 && uv_run(&loop, UV_RUN_NOWAIT); k++)
		usleep(1000);
	assert_int_equal(uv_loop_close(&loop), 0);
}

/* ---- the libpq backend ---- */

static char pg_dir[64];
static char pg_conninfo[256];

static int
pg_setup(void **state)
{
	const char *env = getenv("FERRY_TEST_PG");
	char cmd[1024];

	(void)state;
	if (env != NULL) {
		snprintf(pg_conninfo, sizeof(pg_conninfo), "%s", env);
		return 0;
	}
	/* A throw-away server, as root through the postgres user. */
	if (geteuid() != 0 || system("ls /usr/lib/postgresql/*/bin/initdb "
	    ">/dev/null 2>&1 && id postgres >/dev/null 2>&1") != 0)
		return 0;
	snprintf(pg_dir, sizeof(pg_dir), "/tmp/ferry-test-pg.XXXXXX");
	if (mkdtemp(pg_dir) == NULL)
		return 0;
	snprintf(cmd, sizeof(cmd), "chown postgres %s && cd /tmp && "
	    "su postgres -s /bin/sh -c 'B=$(ls -d /usr/lib/postgresql/*/bin "
	    "| tail -1); $B/initdb -D %s/data -A trust -U postgres "
	    ">%s/initdb.log 2>&1 && $B/pg_ctl -D %s/data -o \"-k %s -c "
	    "listen_addresses= -p 5433 -c fsync=off\" -l %s/pg.log -w start "
	    ">/dev/null'", pg_dir, pg_dir, pg_dir, pg_dir, pg_dir, pg_dir);
	if (system(cmd) != 0) {
		fprintf(stderr, "# no PostgreSQL: %s\n", cmd);
		return 0;
	}
	snprintf(pg_conninfo, sizeof(pg_conninfo), "host=%s port=5433 "
	    "user=postgres dbname=postgres", pg_dir);
	return 0;
}

static int
pg_teardown(void **state)
{
	char cmd[512];

	(void)state;
	if (pg_dir[0] == '\0')
		return 0;
	snprintf(cmd, sizeof(cmd), "cd /tmp && su postgres -s /bin/sh -c "
	    "'B=$(ls -d /usr/lib/postgresql/*/bin | tail -1); $B/pg_ctl -D "
	    "%s/data -m immediate stop >/dev/null 2>&1'; rm -rf %s", pg_dir,
	    pg_dir);
	if (system(cmd) != 0)
		fprintf(stderr, "# %s failed\n", cmd);
	return 0;
}

static void
test_pg(void **state)
{
	struct lease_backend b1, b2;
	struct lease_row row;
	char err[512];
	uint64_t e;

	(void)state;
	if (pg_conninfo[0] == '\0') {
		fprintf(stderr, "# skipped: no PostgreSQL (set FERRY_TEST_PG)\n");
		skip();
	}
	assert_int_equal(lease_pg_open(pg_conninfo, &b1, err, sizeof(err)), 0);
	assert_int_equal(lease_pg_open(pg_conninfo, &b2, err, sizeof(err)), 0);
	/* A fresh row, whatever an earlier run left. */
	if (b1.acquire(b1.arg, "c1", 3000, 5000, &row, err, sizeof(err)) < 0)
		fail_msg("acquire: %s", err);
	assert_int_equal(b1.acquire(b1.arg, "c1", 3000, 5000, &row, err,
	    sizeof(err)), 1);
	e = row.epoch;
	assert_string_equal(row.holder, "c1");
	assert_true(row.remaining_ms > 2500 && row.remaining_ms <= 3000);
	/* c2 cannot take it; it learns who holds it. */
	assert_int_equal(b2.acquire(b2.arg, "c2", 3000, 5000, &row, err,
	    sizeof(err)), 0);
	assert_string_equal(row.holder, "c1");
	assert_true(row.epoch == e);
	assert_int_equal(b2.renew(b2.arg, "c2", e, 3000, 5000, &row, err,
	    sizeof(err)), 0);
	assert_int_equal(b1.renew(b1.arg, "c1", e, 3000, 5000, &row, err,
	    sizeof(err)), 1);
	assert_true(row.epoch == e);
	/* A renewal of an old epoch fails, even by the holder. */
	assert_int_equal(b1.renew(b1.arg, "c1", e - 1, 3000, 5000, &row, err,
	    sizeof(err)), 0);
	/* Released: c2 takes it with a new epoch; c1's renewal is lost. */
	assert_int_equal(b1.release(b1.arg, "c1", e, 5000, err, sizeof(err)),
	    0);
	assert_int_equal(b2.acquire(b2.arg, "c2", 1000, 5000, &row, err,
	    sizeof(err)), 1);
	assert_true(row.epoch == e + 1);
	assert_int_equal(b1.renew(b1.arg, "c1", e, 3000, 5000, &row, err,
	    sizeof(err)), 0);
	assert_string_equal(row.holder, "c2");
	/* Expiry on the database's clock: after 1 s c1 may take it. */
	usleep(1200 * 1000);
	assert_int_equal(b1.acquire(b1.arg, "c1", 3000, 5000, &row, err,
	    sizeof(err)), 1);
	assert_true(row.epoch == e + 2);
	b1.close(b1.arg);
	b2.close(b2.arg);
}

/* A server that accepts TCP and never answers: the call's timeout, not
 * libpq's or the kernel's, bounds it. */
static void
test_pg_timeout(void **state)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	struct lease_backend b;
	struct lease_row row;
	char err[512], ci[128];
	uint64_t t0, took;
	int fd;

	(void)state;
	assert_true((fd = socket(AF_INET, SOCK_STREAM, 0)) >= 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(listen(fd, 8), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	snprintf(ci, sizeof(ci), "host=127.0.0.1 port=%d user=x dbname=x "
	    "sslmode=disable", ntohs(sin.sin_port));
	assert_int_equal(lease_pg_open(ci, &b, err, sizeof(err)), 0);
	t0 = clock_mono_ms();
	assert_int_equal(b.acquire(b.arg, "c1", 3000, 400, &row, err,
	    sizeof(err)), -1);
	took = clock_mono_ms() - t0;
	if (took < 350 || took > 900)
		fail_msg("took %llu ms: %s", (unsigned long long)took, err);
	assert_non_null(strstr(err, "connect"));
	b.close(b.arg);
	close(fd);
	/* A conninfo that does not parse: refused at once. */
	assert_int_equal(lease_pg_open("host=", &b, err, sizeof(err)) == 0 ?
	    (b.close(b.arg), 0) : -1, 0);
	assert_int_equal(lease_pg_open("nonsense", &b, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "conninfo"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_conf),
		cmocka_unit_test(test_failover),
		cmocka_unit_test(test_database_down),
		cmocka_unit_test(test_paused),
		cmocka_unit_test(test_late_and_lost),
		cmocka_unit_test(test_clock_rates),
		cmocka_unit_test(test_thread_stuck),
		cmocka_unit_test(test_pg_timeout),
		cmocka_unit_test_setup_teardown(test_pg, pg_setup, pg_teardown),
	};

	log_init("test_lease", 0);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
