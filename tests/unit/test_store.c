/* test_store.c: coordinator/store.c against real SQLite files in a
 * temporary directory (and, for "disk full", a 1 MiB tmpfs in a private
 * mount namespace when the test may mount one), or, with FERRY_TEST_PG set
 * to a conninfo (tests/run starts a server with deploy/lab/pg), the same
 * backend-neutral tests against PostgreSQL plus its own: unreachable at
 * start, concurrent migrators, the connection lost mid-run. Each test
 * there starts from an empty database (schema public dropped). */
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <limits.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <libpq-fe.h>
#include <sqlite3.h>

#include "store.h"

struct fixture {
	char		 dir[64];
	char		 path[128];
	struct store	*st;
};

/* Tests make directories read-only: open them up before removing. */
static int
rm_chmod(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)ftw;
	if (flag == FTW_D)
		chmod(p, 0700);
	return 0;
}

static int
rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	remove(p);
	return 0;
}

static void
pg_quiet(void *arg, const char *msg)
{
	(void)arg;
	(void)msg;
}

/* The PostgreSQL database under test, NULL: SQLite files. */
static const char *pg_conninfo;

static PGconn *
pg_raw(void)
{
	PGconn *c = PQconnectdb(pg_conninfo);

	if (PQstatus(c) != CONNECTION_OK)
		fail_msg("connect %s: %s", pg_conninfo, PQerrorMessage(c));
	PQsetNoticeProcessor(c, pg_quiet, NULL);
	return c;
}

static void
pg_raw_exec(const char *sql)
{
	PGconn *c = pg_raw();
	PGresult *r = PQexec(c, sql);

	if (PQresultStatus(r) != PGRES_COMMAND_OK &&
	    PQresultStatus(r) != PGRES_TUPLES_OK)
		fail_msg("%s: %s", sql, PQerrorMessage(c));
	PQclear(r);
	PQfinish(c);
}

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/test_store.XXXXXX");
	if (mkdtemp(f->dir) == NULL) {
		free(f);
		return -1;
	}
	snprintf(f->path, sizeof(f->path), "%s/ferry.db", f->dir);
	if (pg_conninfo != NULL)
		pg_raw_exec("DROP SCHEMA IF EXISTS public CASCADE;"
		    "CREATE SCHEMA public");
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	store_close(f->st);
	nftw(f->dir, rm_chmod, 16, FTW_PHYS);
	nftw(f->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

/* The store under test: the SQLite file at path, or the database. */
static int
backend_open(const char *path, struct store **st, char *err, size_t errlen)
{
	if (pg_conninfo != NULL)
		return store_open_pg(pg_conninfo, st, err, errlen);
	return store_open(path, st, err, errlen);
}

static struct store *
open_ok(const char *path)
{
	char err[512] = "";
	struct store *st = NULL;

	if (backend_open(path, &st, err, sizeof(err)) != 0)
		fail_msg("store_open %s: %s", path, err);
	assert_non_null(st);
	return st;
}

/* Runs one statement on a second, raw connection. */
static void
raw_exec(const char *path, const char *sql)
{
	sqlite3 *db = NULL;

	if (pg_conninfo != NULL) {
		pg_raw_exec(sql);
		return;
	}

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)
		fail_msg("%s: %s", sql, sqlite3_errmsg(db));
	sqlite3_close(db);
}

static int
raw_int(const char *path, const char *sql)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *q = NULL;
	int v;

	if (pg_conninfo != NULL) {
		PGconn *c = pg_raw();
		PGresult *r = PQexec(c, sql);

		if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1)
			fail_msg("%s: %s", sql, PQerrorMessage(c));
		v = atoi(PQgetvalue(r, 0, 0));
		PQclear(r);
		PQfinish(c);
		return v;
	}

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &q, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(q), SQLITE_ROW);
	v = sqlite3_column_int(q, 0);
	sqlite3_finalize(q);
	sqlite3_close(db);
	return v;
}

static void
assert_host_equal(const struct store_host *a, const struct store_host *b)
{
	assert_string_equal(a->name, b->name);
	assert_string_equal(a->address, b->address);
	assert_int_equal(a->port, b->port);
	assert_string_equal(a->admin_state, b->admin_state);
	assert_string_equal(a->conn_state, b->conn_state);
	assert_string_equal(a->host_uuid, b->host_uuid);
	assert_string_equal(a->libvirt_uri, b->libvirt_uri);
	assert_string_equal(a->migration_address, b->migration_address);
	assert_string_equal(a->arch, b->arch);
	assert_int_equal(a->cpus, b->cpus);
	assert_int_equal(a->mem_mib, b->mem_mib);
	assert_int_equal(a->mem_free_mib, b->mem_free_mib);
	assert_int_equal(a->reserve_mib, b->reserve_mib);
	assert_int_equal(a->last_seen_ms, b->last_seen_ms);
	assert_string_equal(a->last_error, b->last_error);
}

static void
assert_vm_equal(const struct store_vm *a, const struct store_vm *b)
{
	assert_string_equal(a->name, b->name);
	assert_string_equal(a->uuid, b->uuid);
	assert_string_equal(a->host, b->host);
	assert_string_equal(a->state, b->state);
	assert_string_equal(a->reason, b->reason);
	assert_int_equal(a->mem_mib, b->mem_mib);
	assert_int_equal(a->vcpus, b->vcpus);
	assert_int_equal(a->persistent, b->persistent);
	assert_int_equal(a->bloblen, b->bloblen);
	if (a->bloblen > 0)
		assert_memory_equal(a->blob, b->blob, a->bloblen);
	assert_int_equal(a->updated_ms, b->updated_ms);
}

static void
assert_opt_string_equal(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		assert_ptr_equal(a, b);
	else
		assert_string_equal(a, b);
}

static void
assert_job_equal(const struct store_job *a, const struct store_job *b)
{
	assert_int_equal(a->id, b->id);
	assert_string_equal(a->kind, b->kind);
	assert_string_equal(a->vm, b->vm);
	assert_string_equal(a->source, b->source);
	assert_string_equal(a->destination, b->destination);
	assert_string_equal(a->state, b->state);
	assert_opt_string_equal(a->params, b->params);
	assert_opt_string_equal(a->error, b->error);
	assert_int_equal(a->parent, b->parent);
	assert_int_equal(a->started_ms, b->started_ms);
	assert_int_equal(a->ended_ms, b->ended_ms);
	assert_int_equal(a->updated_ms, b->updated_ms);
}

static void
assert_error_contains(struct store *st, const char *what)
{
	const char *e = store_error(st);

	/* Case aside: SQLite says UNIQUE, PostgreSQL unique. */
	if (strcasestr(e, what) == NULL)
		fail_msg("store_error \"%s\" lacks \"%s\"", e, what);
}

static void
test_open_creates_private_wal_file(void **state)
{
	struct fixture *f = *state;
	struct stat sb;
	mode_t old = umask(0);

	f->st = open_ok(f->path);
	umask(old);
	assert_int_equal(stat(f->path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	assert_int_equal(raw_int(f->path, "PRAGMA user_version"), 7);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM sqlite_master "
	    "WHERE type = 'table' AND name IN "
	    "('hosts', 'vms', 'jobs', 'job_events', 'host_trust')"), 5);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM sqlite_master "
	    "WHERE type = 'table' AND name = 'runs'"), 1);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM sqlite_master "
	    "WHERE type = 'index' AND name = 'jobs_by_state'"), 1);
	/* WAL is persistent in the file; -wal and -shm get its mode. */
	assert_int_equal(raw_int(f->path, "SELECT journal_mode = 'wal' FROM "
	    "pragma_journal_mode"), 1);
	assert_int_equal(store_host_configure(f->st, "h1", "10.0.0.1", 7000),
	    0);
	{
		char wal[256];

		snprintf(wal, sizeof(wal), "%s-wal", f->path);
		assert_int_equal(stat(wal, &sb), 0);
		assert_int_equal(sb.st_mode & 0777, 0600);
	}
	store_close(NULL);
}

static void
test_open_missing_dir(void **state)
{
	struct fixture *f = *state;
	char path[256], err[512] = "";
	struct store *st = (struct store *)&st;

	snprintf(path, sizeof(path), "%s/nope/ferry.db", f->dir);
	assert_int_equal(store_open(path, &st, err, sizeof(err)), -1);
	assert_null(st);
	assert_non_null(strstr(err, "does not exist"));
	assert_non_null(strstr(err, "/nope"));
	assert_int_equal(access(path, F_OK), -1);
}

static void
test_open_refuses_newer_schema(void **state)
{
	struct fixture *f = *state;
	char err[512] = "";
	struct store *st = NULL;

	f->st = open_ok(f->path);
	assert_int_equal(store_host_configure(f->st, "h1", "a", 1), 0);
	store_close(f->st);
	f->st = NULL;
	raw_exec(f->path, pg_conninfo ? "UPDATE ferry_schema SET version = 99" :
	    "PRAGMA user_version = 99");
	assert_int_equal(backend_open(f->path, &st, err, sizeof(err)), -1);
	assert_null(st);
	assert_non_null(strstr(err, "version 99 is newer"));
	/* Refusing must not have touched it. */
	assert_int_equal(raw_int(f->path, pg_conninfo ?
	    "SELECT version FROM ferry_schema" : "PRAGMA user_version"), 99);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM hosts"), 1);
}

static void
fill_host_info(struct store_host *h, const char *name, unsigned k)
{
	memset(h, 0, sizeof(*h));
	snprintf(h->name, sizeof(h->name), "%s", name);
	snprintf(h->host_uuid, sizeof(h->host_uuid),
	    "4c4c4544-0000-1000-8000-00000000000%u", k);
	snprintf(h->libvirt_uri, sizeof(h->libvirt_uri),
	    "qemu+tcp://%s/system", name);
	snprintf(h->migration_address, sizeof(h->migration_address),
	    "192.168.%u.1", k);
	snprintf(h->arch, sizeof(h->arch), "x86_64");
	h->cpus = 8 * k;
	h->mem_mib = 65536ULL * k;
	h->mem_free_mib = 60000ULL * k;
	h->reserve_mib = 2048;
	/* Above 2^63: stored as its int64 bit pattern. */
	h->last_seen_ms = UINT64_MAX - k;
}

static void
test_hosts(void **state)
{
	struct fixture *f = *state;
	struct store_host want, got, *list = NULL;
	size_t n = 99;

	f->st = open_ok(f->path);
	assert_int_equal(store_host_get(f->st, "h2", &got), 0);
	assert_int_equal(store_hosts_list(f->st, &list, &n), 0);
	assert_int_equal(n, 0);
	free(list);

	assert_int_equal(store_host_configure(f->st, "h2", "10.0.0.2", 7002),
	    0);
	assert_int_equal(store_host_get(f->st, "h2", &got), 1);
	memset(&want, 0, sizeof(want));
	strcpy(want.name, "h2");
	strcpy(want.address, "10.0.0.2");
	want.port = 7002;
	strcpy(want.admin_state, "active");
	strcpy(want.conn_state, "down");
	assert_host_equal(&got, &want);

	fill_host_info(&want, "h2", 2);
	assert_int_equal(store_host_set_info(f->st, &want), 0);
	assert_int_equal(store_host_set_admin(f->st, "h2", "draining"), 0);
	assert_int_equal(store_host_set_conn(f->st, "h2", "down",
	    "connection refused", 1000), 0);
	/* Down does not count as seen; up does, and NULL keeps the error. */
	assert_int_equal(store_host_get(f->st, "h2", &got), 1);
	assert_int_equal(got.last_seen_ms, 0);
	assert_string_equal(got.last_error, "connection refused");
	assert_int_equal(store_host_set_conn(f->st, "h2", "up", NULL, 2000),
	    0);
	assert_int_equal(store_host_get(f->st, "h2", &got), 1);
	assert_int_equal(got.last_seen_ms, 2000);
	assert_int_equal(store_host_seen(f->st, "h2", want.last_seen_ms), 0);

	strcpy(want.address, "10.0.0.2");
	want.port = 7002;
	strcpy(want.admin_state, "draining");
	strcpy(want.conn_state, "up");
	strcpy(want.last_error, "connection refused");
	assert_int_equal(store_host_get(f->st, "h2", &got), 1);
	assert_host_equal(&got, &want);

	/* Reconfiguring changes address and port only. */
	assert_int_equal(store_host_configure(f->st, "h2", "h2.lab", 7102), 0);
	strcpy(want.address, "h2.lab");
	want.port = 7102;
	assert_int_equal(store_host_get(f->st, "h2", &got), 1);
	assert_host_equal(&got, &want);

	assert_int_equal(store_host_configure(f->st, "h1", "10.0.0.1", 7001),
	    0);
	assert_int_equal(store_hosts_list(f->st, &list, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(list[0].name, "h1");
	assert_string_equal(list[0].admin_state, "active");
	assert_host_equal(&list[1], &want);
	free(list);

	/* Errors: unknown host, bad states, bad arguments. */
	assert_int_equal(store_host_set_admin(f->st, "h9", "active"), -1);
	assert_error_contains(f->st, "store_host_set_admin: no host h9");
	assert_int_equal(store_host_set_admin(f->st, "h2", "asleep"), -1);
	assert_error_contains(f->st, "bad admin state asleep");
	assert_int_equal(store_host_set_conn(f->st, "h2", "sideways", NULL, 1),
	    -1);
	assert_int_equal(store_host_seen(f->st, "h9", 1), -1);
	assert_error_contains(f->st, "no host h9");
	fill_host_info(&got, "h9", 1);
	assert_int_equal(store_host_set_info(f->st, &got), -1);
	assert_int_equal(store_host_configure(f->st, "h3", "x", 0), -1);
	assert_error_contains(f->st, "port 0 out of range");
	assert_int_equal(store_host_configure(f->st, "", "x", 1), -1);
	assert_int_equal(store_host_configure(f->st,
	    "a-host-name-that-is-far-longer-than-the-sixty-three-bytes-a-name-may-have",
	    "x", 1), -1);
	assert_error_contains(f->st, "host name too long");
	/* Failures changed nothing. */
	assert_int_equal(store_host_get(f->st, "h2", &got), 1);
	assert_host_equal(&got, &want);
}

static void
fill_vm(struct store_vm *v, const char *host, const char *name,
    unsigned k, uint8_t *blob, size_t bloblen)
{
	memset(v, 0, sizeof(*v));
	snprintf(v->name, sizeof(v->name), "%s", name);
	snprintf(v->uuid, sizeof(v->uuid),
	    "6f1c1d2e-aaaa-bbbb-cccc-00000000000%u", k);
	snprintf(v->host, sizeof(v->host), "%s", host);
	snprintf(v->state, sizeof(v->state), k % 2 ? "running" : "shutoff");
	snprintf(v->reason, sizeof(v->reason), k % 2 ? "booted" : "");
	v->mem_mib = 1024ULL * k;
	v->vcpus = k;
	v->persistent = k % 2;
	v->blob = blob;
	v->bloblen = bloblen;
}

static void
test_inventory(void **state)
{
	struct fixture *f = *state;
	uint8_t b1[300], b2[] = { 0x0a, 0x00, 0xff, 0x00 };
	struct store_vm in[3], *out = NULL;
	size_t n, i;

	for (i = 0; i < sizeof(b1); i++)
		b1[i] = (uint8_t)(i * 7);
	f->st = open_ok(f->path);
	assert_int_equal(store_host_configure(f->st, "h1", "a", 1), 0);
	assert_int_equal(store_host_configure(f->st, "h2", "b", 2), 0);

	/* Listed by name: in[] is in that order already. */
	fill_vm(&in[0], "h1", "alpha", 1, b1, sizeof(b1));
	fill_vm(&in[1], "h1", "beta", 2, b2, sizeof(b2));
	fill_vm(&in[2], "h1", "gamma", 3, NULL, 0);
	for (i = 0; i < 3; i++)
		in[i].updated_ms = 5000;
	assert_int_equal(store_inventory_replace(f->st, "h1", in, 3, 5000), 0);
	assert_int_equal(store_vms_list(f->st, "h1", &out, &n), 0);
	assert_int_equal(n, 3);
	for (i = 0; i < 3; i++)
		assert_vm_equal(&out[i], &in[i]);
	assert_null(out[2].blob);
	store_vm_list_free(out, n);

	/* The same VM on two hosts (mid-migration) is allowed. */
	fill_vm(&in[2], "h2", "alpha", 1, NULL, 0);
	in[2].updated_ms = 6000;
	assert_int_equal(store_inventory_replace(f->st, "h2", &in[2], 1, 6000),
	    0);
	if (store_vms_list(f->st, NULL, &out, &n) != 0)
		fail_msg("%s", store_error(f->st));
	assert_int_equal(n, 4);
	assert_string_equal(out[3].host, "h2");
	assert_vm_equal(&out[3], &in[2]);
	store_vm_list_free(out, n);

	/* Replacing drops what is not in the new list. */
	fill_vm(&in[0], "h1", "delta", 4, b2, sizeof(b2));
	in[0].updated_ms = 7000;
	assert_int_equal(store_inventory_replace(f->st, "h1", in, 1, 7000), 0);
	assert_int_equal(store_vms_list(f->st, "h1", &out, &n), 0);
	assert_int_equal(n, 1);
	assert_vm_equal(&out[0], &in[0]);
	store_vm_list_free(out, n);

	/* A failing replacement (duplicate name) leaves the old list. */
	fill_vm(&in[1], "h1", "epsilon", 5, NULL, 0);
	fill_vm(&in[2], "h1", "epsilon", 5, NULL, 0);
	assert_int_equal(store_inventory_replace(f->st, "h1", &in[1], 2, 8000),
	    -1);
	assert_error_contains(f->st, "store_inventory_replace: vm epsilon:");
	assert_error_contains(f->st, "UNIQUE");
	assert_int_equal(store_vms_list(f->st, "h1", &out, &n), 0);
	assert_int_equal(n, 1);
	assert_vm_equal(&out[0], &in[0]);
	store_vm_list_free(out, n);

	assert_int_equal(store_inventory_replace(f->st, "h9", in, 1, 1), -1);
	assert_error_contains(f->st, "no host h9");

	/* An empty inventory empties the host. */
	assert_int_equal(store_inventory_replace(f->st, "h1", NULL, 0, 9000),
	    0);
	assert_int_equal(store_vms_list(f->st, "h1", &out, &n), 0);
	assert_int_equal(n, 0);
	assert_null(out);
	assert_int_equal(store_vms_list(f->st, NULL, &out, &n), 0);
	assert_int_equal(n, 1);
	store_vm_list_free(out, n);
	store_vm_list_free(NULL, 0);
}

struct want_event {
	const char	*type;
	const char	*state;
	const char	*data;
	uint64_t	 time_ms;
};

static void
check_events(struct store *st, int64_t id, const struct want_event *w,
    size_t nw)
{
	struct store_event *ev = NULL;
	size_t n, i;

	assert_int_equal(store_job_events(st, id, &ev, &n), 0);
	assert_int_equal(n, nw);
	for (i = 0; i < n; i++) {
		assert_int_equal(ev[i].job_id, id);
		assert_int_equal(ev[i].seq, (int64_t)i + 1);
		assert_int_equal(ev[i].time_ms, w[i].time_ms);
		assert_string_equal(ev[i].type, w[i].type);
		assert_string_equal(ev[i].state, w[i].state);
		assert_opt_string_equal(ev[i].data, w[i].data);
	}
	store_event_list_free(ev, n);
}

static const struct want_event job1_events[] = {
	{ "state", "pending", NULL, 100 },
	{ "state", "preparing", "{\"step\":1}", 200 },
	{ "progress", "preparing", "{\"remaining\":4096}", 250 },
	{ "state", "migrating", NULL, 300 },
	{ "info", "migrating", "converged", 350 },
	{ "error", "failed", "libvirt: timed out", 400 },
};

/* Creates the jobs test_jobs and test_reopen check: returns job 1's id. */
static int64_t
make_jobs(struct store *st, struct store_job *j1, struct store_job *j2)
{
	memset(j1, 0, sizeof(*j1));
	strcpy(j1->kind, "migrate");
	strcpy(j1->vm, "alpha");
	strcpy(j1->source, "h1");
	strcpy(j1->destination, "h2");
	strcpy(j1->state, "pending");
	j1->params = strdup("{\"bandwidth\":100}");
	assert_non_null(j1->params);
	assert_int_equal(store_job_create(st, j1, 100), 0);
	assert_true(j1->id > 0);
	assert_int_equal(j1->started_ms, 100);
	assert_int_equal(store_job_transition(st, j1->id, "preparing",
	    "{\"step\":1}", 200), 0);
	assert_int_equal(store_job_event(st, j1->id, "progress",
	    "{\"remaining\":4096}", 250), 0);
	assert_int_equal(store_job_transition(st, j1->id, "migrating", NULL,
	    300), 0);
	assert_int_equal(store_job_event(st, j1->id, "info", "converged", 350),
	    0);
	assert_int_equal(store_job_finish(st, j1->id, "failed",
	    "libvirt: timed out", NULL, 400), 0);
	strcpy(j1->state, "failed");
	j1->error = strdup("libvirt: timed out");
	j1->ended_ms = 400;
	j1->updated_ms = 400;

	memset(j2, 0, sizeof(*j2));
	strcpy(j2->kind, "drain");
	strcpy(j2->source, "h1");
	strcpy(j2->state, "running");
	j2->parent = 0;
	assert_int_equal(store_job_create(st, j2, 500), 0);
	assert_true(j2->id > j1->id);
	return j1->id;
}

static void
test_jobs(void **state)
{
	struct fixture *f = *state;
	struct store_job j1, j2, j3, got, *list = NULL;
	size_t n;

	f->st = open_ok(f->path);
	make_jobs(f->st, &j1, &j2);
	assert_int_equal(store_job_get(f->st, j1.id, &got), 1);
	assert_job_equal(&got, &j1);
	store_job_clear(&got);
	check_events(f->st, j1.id, job1_events, 6);

	/* A child of the drain. */
	memset(&j3, 0, sizeof(j3));
	strcpy(j3.kind, "migrate");
	strcpy(j3.vm, "beta");
	strcpy(j3.source, "h1");
	strcpy(j3.destination, "h2");
	strcpy(j3.state, "pending");
	j3.parent = j2.id;
	assert_int_equal(store_job_create(f->st, &j3, 600), 0);
	assert_int_equal(store_job_get(f->st, j3.id, &got), 1);
	assert_job_equal(&got, &j3);
	assert_null(got.params);
	assert_null(got.error);
	store_job_clear(&got);
	store_job_clear(NULL);

	/* A parent that does not exist is refused, and nothing is left. */
	j3.parent = 12345;
	assert_int_equal(store_job_create(f->st, &j3, 700), -1);
	assert_error_contains(f->st, "store_job_create: ");
	assert_error_contains(f->st, "FOREIGN KEY");
	assert_int_equal(store_jobs_list(f->st, 0, 0, &list, &n), 0);
	assert_int_equal(n, 3);
	assert_int_equal(list[0].id, j1.id);
	assert_job_equal(&list[0], &j1);
	assert_job_equal(&list[1], &j2);
	assert_int_equal(list[2].parent, j2.id);
	store_job_list_free(list, n);

	assert_int_equal(store_jobs_list(f->st, 1, 0, &list, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(list[0].id, j2.id);
	assert_int_equal(list[1].parent, j2.id);
	store_job_list_free(list, n);

	/* A limit keeps the newest, still oldest first. */
	assert_int_equal(store_jobs_list(f->st, 0, 2, &list, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(list[0].id, j2.id);
	assert_true(list[1].id > j2.id);
	store_job_list_free(list, n);

	/* Finished jobs stay finished; unknown jobs are errors. */
	assert_int_equal(store_job_transition(f->st, j1.id, "migrating", NULL,
	    900), -1);
	assert_error_contains(f->st, "already finished");
	assert_int_equal(store_job_finish(f->st, j1.id, "done", NULL, NULL,
	    900), -1);
	assert_int_equal(store_job_transition(f->st, 999, "x", NULL, 900), -1);
	assert_error_contains(f->st, "store_job_transition: no job 999");
	assert_int_equal(store_job_event(f->st, 999, "info", "x", 900), -1);
	assert_error_contains(f->st, "no job 999");
	assert_int_equal(store_job_get(f->st, 999, &got), 0);
	check_events(f->st, j1.id, job1_events, 6);
	assert_int_equal(store_job_get(f->st, j1.id, &got), 1);
	assert_job_equal(&got, &j1);
	store_job_clear(&got);

	/* Events after the end are still recorded, and touch updated_ms. */
	assert_int_equal(store_job_event(f->st, j2.id, "info", "half", 950), 0);
	assert_int_equal(store_job_finish(f->st, j2.id, "done", NULL,
	    "{\"moved\":2}", 1000), 0);
	assert_int_equal(store_job_get(f->st, j2.id, &got), 1);
	assert_string_equal(got.state, "done");
	assert_null(got.error);
	assert_int_equal(got.ended_ms, 1000);
	store_job_clear(&got);
	{
		static const struct want_event w[] = {
			{ "state", "running", NULL, 500 },
			{ "info", "running", "half", 950 },
			{ "state", "done", "{\"moved\":2}", 1000 },
		};

		check_events(f->st, j2.id, w, 3);
	}
	assert_int_equal(store_jobs_list(f->st, 1, 0, &list, &n), 0);
	assert_int_equal(n, 1);
	store_job_list_free(list, n);
	store_job_clear(&j1);
	store_job_clear(&j2);
}

static void
test_reopen_keeps_everything(void **state)
{
	struct fixture *f = *state;
	struct store_host want, got;
	struct store_vm vm, *out;
	struct store_job j1, j2, gj;
	uint8_t blob[] = { 1, 2, 3 };
	size_t n;

	f->st = open_ok(f->path);
	assert_int_equal(store_host_configure(f->st, "h1", "10.0.0.1", 7001),
	    0);
	fill_host_info(&want, "h1", 1);
	assert_int_equal(store_host_set_info(f->st, &want), 0);
	assert_int_equal(store_host_set_admin(f->st, "h1", "maintenance"), 0);
	assert_int_equal(store_host_seen(f->st, "h1", want.last_seen_ms), 0);
	fill_vm(&vm, "h1", "alpha", 1, blob, sizeof(blob));
	vm.updated_ms = 42;
	assert_int_equal(store_inventory_replace(f->st, "h1", &vm, 1, 42), 0);
	make_jobs(f->st, &j1, &j2);
	store_close(f->st);
	f->st = open_ok(f->path);

	strcpy(want.address, "10.0.0.1");
	want.port = 7001;
	strcpy(want.admin_state, "maintenance");
	strcpy(want.conn_state, "down");
	assert_int_equal(store_host_get(f->st, "h1", &got), 1);
	assert_host_equal(&got, &want);
	/* The configuration file is read again at start: admin state stays. */
	assert_int_equal(store_host_configure(f->st, "h1", "10.0.0.1", 7001),
	    0);
	assert_int_equal(store_host_get(f->st, "h1", &got), 1);
	assert_host_equal(&got, &want);
	assert_int_equal(store_vms_list(f->st, NULL, &out, &n), 0);
	assert_int_equal(n, 1);
	assert_vm_equal(&out[0], &vm);
	store_vm_list_free(out, n);
	assert_int_equal(store_job_get(f->st, j1.id, &gj), 1);
	assert_job_equal(&gj, &j1);
	store_job_clear(&gj);
	assert_int_equal(store_job_get(f->st, j2.id, &gj), 1);
	assert_job_equal(&gj, &j2);
	store_job_clear(&gj);
	check_events(f->st, j1.id, job1_events, 6);
	/* Numbering goes on from the journal on disk. */
	assert_int_equal(store_job_transition(f->st, j2.id, "draining", NULL,
	    800), 0);
	{
		static const struct want_event w[] = {
			{ "state", "running", NULL, 500 },
			{ "state", "draining", NULL, 800 },
		};

		check_events(f->st, j2.id, w, 2);
	}
	store_job_clear(&j1);
	store_job_clear(&j2);
}

/* The child journals a job and is killed with SIGKILL, never closing the
 * store: what it was told was committed must be there. */
static void
test_crash_keeps_committed(void **state)
{
	struct fixture *f = *state;
	int fds[2], status;
	int64_t id = 0;
	struct store_job j;
	pid_t pid;

	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct store *st = NULL;
		char err[256];

		close(fds[0]);
		memset(&j, 0, sizeof(j));
		strcpy(j.kind, "migrate");
		strcpy(j.vm, "alpha");
		strcpy(j.state, "pending");
		if (backend_open(f->path, &st, err, sizeof(err)) != 0 ||
		    store_job_create(st, &j, 10) != 0 ||
		    store_job_transition(st, j.id, "migrating", "go", 20) != 0)
			_exit(1);
		if (write(fds[1], &j.id, sizeof(j.id)) != sizeof(j.id))
			_exit(1);
		kill(getpid(), SIGKILL);
		_exit(1);
	}
	close(fds[1]);
	assert_int_equal(read(fds[0], &id, sizeof(id)), sizeof(id));
	close(fds[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGKILL);

	f->st = open_ok(f->path);
	assert_int_equal(store_job_get(f->st, id, &j), 1);
	assert_string_equal(j.state, "migrating");
	assert_string_equal(j.vm, "alpha");
	assert_int_equal(j.updated_ms, 20);
	store_job_clear(&j);
	{
		static const struct want_event w[] = {
			{ "state", "pending", NULL, 10 },
			{ "state", "migrating", "go", 20 },
		};

		check_events(f->st, id, w, 2);
	}
}

/* The child of test_unwritable_dir, as nobody: a new database in a
 * read-only directory, then an existing one whose directory became
 * read-only (WAL needs to create -wal and -shm next to it). Reports both
 * errors on fd, one a line. */
static int
unwritable_child(int fd, const char *ro, const char *rw)
{
	char path[256], err[512], line[600];
	struct store *st = NULL;
	int failed = 0;

	if (geteuid() == 0 && (setgroups(0, NULL) == -1 ||
	    setgid(65534) == -1 || setuid(65534) == -1))
		return 2;
	snprintf(path, sizeof(path), "%s/ferry.db", ro);
	err[0] = '\0';
	if (store_open(path, &st, err, sizeof(err)) == -1)
		failed++;
	store_close(st);
	snprintf(line, sizeof(line), "%s\n", err);

	snprintf(path, sizeof(path), "%s/ferry.db", rw);
	if (store_open(path, &st, err, sizeof(err)) == -1 ||
	    store_host_configure(st, "h1", "a", 1) == -1)
		return 3;
	store_close(st);
	if (chmod(rw, 0500) == -1)
		return 4;
	err[0] = '\0';
	st = NULL;
	if (store_open(path, &st, err, sizeof(err)) == -1)
		failed++;
	store_close(st);
	strncat(line, err, sizeof(line) - strlen(line) - 1);
	if (write(fd, line, strlen(line)) < 0)
		return 2;
	return failed == 2 ? 0 : 1;
}

/* As root, permissions do not stop us: the child drops to nobody. */
static void
test_unwritable_dir(void **state)
{
	struct fixture *f = *state;
	char ro[128], rw[128], path[256], err[1024] = "";
	int fds[2], status;
	ssize_t len;
	pid_t pid;

	snprintf(ro, sizeof(ro), "%s/ro", f->dir);
	snprintf(rw, sizeof(rw), "%s/rw", f->dir);
	assert_int_equal(mkdir(ro, 0555), 0);
	assert_int_equal(chmod(ro, 0555), 0);
	assert_int_equal(mkdir(rw, 0700), 0);
	if (geteuid() == 0)
		assert_int_equal(chown(rw, 65534, 65534), 0);
	assert_int_equal(chmod(f->dir, 0755), 0);
	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(fds[0]);
		_exit(unwritable_child(fds[1], ro, rw));
	}
	close(fds[1]);
	len = read(fds[0], err, sizeof(err) - 1);
	close(fds[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(len > 0);
	err[len] = '\0';
	print_message("%s\n", err);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	if (strstr(err, "store_open: cannot create") == NULL ||
	    strstr(err, "Permission denied") == NULL)
		fail_msg("unexpected error: %s", err);
	snprintf(path, sizeof(path), "%s/ferry.db", ro);
	assert_int_equal(access(path, F_OK), -1);
	/* The second error names the file. */
	if (strstr(strchr(err, '\n'), "store_open: ") == NULL ||
	    strstr(strchr(err, '\n'), "/rw/ferry.db") == NULL ||
	    strstr(strchr(err, '\n'), "/rw: Permission denied)") == NULL)
		fail_msg("unexpected error: %s", err);
}

/* A 1 MiB tmpfs in a private mount namespace; falls back to a file size
 * limit where mounting is not allowed. Returns 1 for tmpfs, 0 for the
 * limit. */
static int
small_disk(const char *dir, struct rlimit *saved)
{
	struct rlimit rl;

	if (unshare(CLONE_NEWNS) == 0 &&
	    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0 &&
	    mount("tmpfs", dir, "tmpfs", 0, "size=1m,mode=0700") == 0)
		return 1;
	print_message("no tmpfs (%s): using RLIMIT_FSIZE\n", strerror(errno));
	assert_int_equal(getrlimit(RLIMIT_FSIZE, saved), 0);
	rl = *saved;
	rl.rlim_cur = 512 * 1024;
	signal(SIGXFSZ, SIG_IGN);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &rl), 0);
	return 0;
}

static void
test_disk_full(void **state)
{
	struct fixture *f = *state;
	char dir[128], path[256];
	struct rlimit saved;
	struct store_vm small, big, *out;
	struct store_job j, got;
	size_t bigsize = 2 * 1024 * 1024, n;
	uint8_t *blob;
	int tmpfs;

	snprintf(dir, sizeof(dir), "%s/small", f->dir);
	assert_int_equal(mkdir(dir, 0700), 0);
	snprintf(path, sizeof(path), "%s/ferry.db", dir);
	tmpfs = small_disk(dir, &saved);

	f->st = open_ok(path);
	assert_int_equal(store_host_configure(f->st, "h1", "a", 1), 0);
	fill_vm(&small, "h1", "alpha", 1, NULL, 0);
	small.updated_ms = 10;
	assert_int_equal(store_inventory_replace(f->st, "h1", &small, 1, 10),
	    0);
	memset(&j, 0, sizeof(j));
	strcpy(j.kind, "migrate");
	strcpy(j.vm, "alpha");
	strcpy(j.state, "pending");
	assert_int_equal(store_job_create(f->st, &j, 10), 0);

	assert_non_null(blob = malloc(bigsize));
	memset(blob, 0x5a, bigsize);
	fill_vm(&big, "h1", "huge", 2, blob, bigsize);
	assert_int_equal(store_inventory_replace(f->st, "h1", &big, 1, 20),
	    -1);
	print_message("disk full: %s\n", store_error(f->st));
	/* The insert or, more likely, the commit runs out of space. */
	assert_error_contains(f->st, "store_inventory_replace: ");
	if (tmpfs)
		assert_error_contains(f->st, "database or disk is full");
	free(blob);

	/* The old data is intact, in this connection and after reopening. */
	assert_int_equal(store_vms_list(f->st, "h1", &out, &n), 0);
	assert_int_equal(n, 1);
	assert_vm_equal(&out[0], &small);
	store_vm_list_free(out, n);
	store_close(f->st);
	f->st = open_ok(path);
	assert_int_equal(store_vms_list(f->st, "h1", &out, &n), 0);
	assert_int_equal(n, 1);
	assert_vm_equal(&out[0], &small);
	store_vm_list_free(out, n);
	assert_int_equal(store_job_get(f->st, j.id, &got), 1);
	assert_job_equal(&got, &j);
	store_job_clear(&got);
	check_events(f->st, j.id, (const struct want_event[]){
	    { "state", "pending", NULL, 10 } }, 1);
	store_close(f->st);
	f->st = NULL;

	if (tmpfs)
		assert_int_equal(umount(dir), 0);
	else {
		assert_int_equal(setrlimit(RLIMIT_FSIZE, &saved), 0);
		signal(SIGXFSZ, SIG_DFL);
	}
}

/*
 * Schema 2 -> 3: a v2 database kept a drain's or restore's host in the
 * jobs' vm column and a rebalance under the label "cluster". The migration
 * gives each run its own record (a real host named cluster stays a host, a
 * rebalance has none), empties vm, and keeps ids, states and history.
 */
static void
test_migrate_v2_runs(void **state)
{
	struct fixture *f = *state;
	struct store_run *runs = NULL;
	struct store_job j;
	struct store_event *ev = NULL;
	size_t n = 0, nev = 0;

	/* A v2 file: the v4 tables less runs and audit, rows as v2 wrote them. */
	f->st = open_ok(f->path);
	store_close(f->st);
	f->st = NULL;
	raw_exec(f->path, "DROP TABLE runs; DROP TABLE audit; PRAGMA user_version = 2;");
	raw_exec(f->path,
	    "INSERT INTO jobs (id, kind, vm, source, destination, state, params, "
	    "finished, started_ms, ended_ms, updated_ms) VALUES "
	    "(1, 'drain', 'h1', 'h1', '', 'completed', '{}', 1, 10, 20, 20),"
	    "(3, 'restore', 'cluster', '', 'cluster', 'draining', '{}', 0, 30, 0, 30),"
	    "(4, 'rebalance', 'cluster', '', '', 'incomplete', '{}', 1, 40, 50, 50),"
	    "(5, 'drain', 'cluster', 'cluster', '', 'draining', '{}', 0, 60, 0, 60);"
	    "INSERT INTO jobs (id, kind, vm, source, destination, state, parent, "
	    "finished, started_ms, ended_ms, updated_ms) VALUES "
	    "(2, 'migrate', 'vm1', 'h1', 'h2', 'succeeded', 1, 1, 11, 19, 19);"
	    "INSERT INTO job_events VALUES (1, 1, 10, 'state', 'draining', NULL),"
	    "(1, 2, 20, 'state', 'completed', '{}');");
	f->st = open_ok(f->path);
	assert_int_equal(raw_int(f->path, "PRAGMA user_version"), 7);

	assert_int_equal(store_runs_list(f->st, 0, &runs, &n), 0);
	assert_int_equal(n, 4);
	assert_int_equal(runs[0].id, 1);
	assert_string_equal(runs[0].kind, "drain");
	assert_string_equal(runs[0].host, "h1");
	assert_string_equal(runs[0].state, "completed");
	assert_int_equal(runs[0].finished, 1);
	assert_int_equal(runs[0].ended_ms, 20);
	assert_int_equal(runs[1].id, 3);
	assert_string_equal(runs[1].kind, "restore");
	assert_string_equal(runs[1].host, "cluster");
	assert_int_equal(runs[1].finished, 0);
	assert_int_equal(runs[2].id, 4);
	assert_string_equal(runs[2].kind, "rebalance");
	assert_string_equal(runs[2].host, "");
	assert_int_equal(runs[3].id, 5);
	assert_string_equal(runs[3].host, "cluster");
	free(runs);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM runs "
	    "WHERE kind = 'rebalance' AND host IS NULL"), 1);
	/* Only not-finished runs: the restore and the drain of "cluster". */
	assert_int_equal(store_runs_list(f->st, 1, &runs, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(runs[0].id, 3);
	assert_int_equal(runs[1].id, 5);
	free(runs);

	/* No run names a VM any more; a migration still does. */
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM jobs "
	    "WHERE kind != 'migrate' AND vm != ''"), 0);
	assert_int_equal(store_job_get(f->st, 2, &j), 1);
	assert_string_equal(j.vm, "vm1");
	assert_int_equal(j.parent, 1);
	store_job_clear(&j);
	assert_int_equal(store_job_get(f->st, 1, &j), 1);
	assert_string_equal(j.vm, "");
	assert_string_equal(j.source, "h1");
	assert_string_equal(j.state, "completed");
	store_job_clear(&j);
	assert_int_equal(store_job_events(f->st, 1, &ev, &nev), 0);
	assert_int_equal(nev, 2);
	store_event_list_free(ev, nev);
}

/* A v5 file's audit rows survive the step to 6 (the table rebuilt for
 * its new outcomes), ids and all; the new outcomes are taken, others
 * still refused, and a new row's id follows the kept ones. */
static void
test_migrate_v5_audit(void **state)
{
	struct fixture *f = *state;
	struct store_audit a, *rows = NULL;
	size_t n = 0;

	f->st = open_ok(f->path);
	store_close(f->st);
	f->st = NULL;
	raw_exec(f->path, "DROP TABLE audit;"
	    "CREATE TABLE audit (id INTEGER PRIMARY KEY AUTOINCREMENT,"
	    "  time_ms BIGINT NOT NULL,"
	    "  via TEXT NOT NULL CHECK (via IN ('ctl', 'api')),"
	    "  who TEXT NOT NULL, uid BIGINT, pid BIGINT, what TEXT NOT NULL,"
	    "  args TEXT, outcome TEXT NOT NULL DEFAULT 'pending'"
	    "    CHECK (outcome IN ('pending', 'accepted', 'refused')),"
	    "  job_id BIGINT, message TEXT, ended_ms BIGINT);"
	    "CREATE INDEX audit_by_time ON audit(time_ms);"
	    "INSERT INTO audit (id, time_ms, via, who, what, outcome) VALUES"
	    "  (7, 100, 'api', 'alice', 'rebalance-apply', 'pending'),"
	    "  (9, 200, 'ctl', 'root', 'migrate', 'accepted');"
	    "PRAGMA user_version = 5;");
	f->st = open_ok(f->path);
	assert_int_equal(raw_int(f->path, "PRAGMA user_version"), 7);
	assert_int_equal(store_audit_end(f->st, 7, "gone", 0, NULL, 300), -1);
	assert_int_equal(store_audit_end(f->st, 7, "client-gone", 0,
	    "the caller went away", 300), 0);
	memset(&a, 0, sizeof(a));
	a.time_ms = 400;
	snprintf(a.via, sizeof(a.via), "api");
	snprintf(a.who, sizeof(a.who), "bob");
	snprintf(a.what, sizeof(a.what), "abort");
	/* Schema 7: the coordinator asked (HA), here a standby's relay. */
	snprintf(a.node, sizeof(a.node), "c2");
	assert_int_equal(store_audit_insert(f->st, &a), 0);
	assert_int_equal(a.id, 10);
	assert_int_equal(store_audit_end(f->st, a.id, "interrupted", 0, NULL,
	    500), 0);
	assert_int_equal(store_audit_list(f->st, 0, 10, &rows, &n), 0);
	assert_int_equal(n, 3);
	assert_int_equal(rows[0].id, 7);
	assert_string_equal(rows[0].outcome, "client-gone");
	assert_string_equal(rows[0].message, "the caller went away");
	assert_int_equal(rows[0].ended_ms, 300);
	assert_string_equal(rows[0].node, "");	/* from before: none */
	assert_string_equal(rows[1].outcome, "accepted");
	assert_string_equal(rows[2].outcome, "interrupted");
	assert_string_equal(rows[2].node, "c2");
	store_audit_list_free(rows, n);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM sqlite_master "
	    "WHERE name IN ('audit_by_time', 'audit_new')"), 1);
}

/* A run's record: a drain or restore needs a host, a rebalance has none,
 * and the host may be any host name, "cluster" included. */
static void
test_runs(void **state)
{
	struct fixture *f = *state;
	struct store_run r, *runs = NULL;
	struct store_job j;
	size_t n = 0;

	f->st = open_ok(f->path);
	memset(&r, 0, sizeof(r));
	strcpy(r.kind, "drain");
	strcpy(r.state, "draining");
	assert_int_equal(store_run_create(f->st, &r, "{}", 100), -1);
	assert_error_contains(f->st, "a drain needs a host");
	strcpy(r.host, "cluster");
	assert_int_equal(store_run_create(f->st, &r, "{\"items\":[]}", 100), 0);
	assert_true(r.id > 0);
	assert_int_equal(store_job_get(f->st, r.id, &j), 1);
	assert_string_equal(j.kind, "drain");
	assert_string_equal(j.vm, "");
	assert_string_equal(j.source, "cluster");
	assert_string_equal(j.params, "{\"items\":[]}");
	store_job_clear(&j);

	memset(&r, 0, sizeof(r));
	strcpy(r.kind, "rebalance");
	strcpy(r.state, "draining");
	strcpy(r.host, "h1");
	assert_int_equal(store_run_create(f->st, &r, NULL, 200), -1);
	assert_error_contains(f->st, "a rebalance has no host");
	r.host[0] = '\0';
	assert_int_equal(store_run_create(f->st, &r, NULL, 200), 0);
	strcpy(r.kind, "migrate");
	assert_int_equal(store_run_create(f->st, &r, NULL, 200), -1);
	assert_error_contains(f->st, "unknown run kind");
	assert_int_equal(store_job_finish(f->st, r.id, "completed", NULL, NULL,
	    300), 0);

	assert_int_equal(store_runs_list(f->st, 0, &runs, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(runs[0].host, "cluster");
	assert_string_equal(runs[1].kind, "rebalance");
	assert_string_equal(runs[1].host, "");
	assert_string_equal(runs[1].state, "completed");
	assert_int_equal(runs[1].finished, 1);
	assert_int_equal(runs[1].ended_ms, 300);
	free(runs);
	assert_int_equal(store_runs_list(f->st, 1, &runs, &n), 0);
	assert_int_equal(n, 1);
	free(runs);
}

/* PostgreSQL: a database that cannot be reached at start is a clear
 * error, quickly (connect_timeout), not a hang; the socket one at once. */
static void
test_pg_unreachable(void **state)
{
	static const char *const bad[] = {
		"host=/nonexistent-ferry-test port=1 dbname=ferry user=ferry",
		/* TEST-NET-2: nothing answers there. */
		"host=198.51.100.1 port=5432 dbname=ferry user=ferry "
		    "connect_timeout=2",
	};
	struct store *st;
	char err[512];
	struct timespec t0, t1;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		st = (struct store *)&st;
		err[0] = '\0';
		clock_gettime(CLOCK_MONOTONIC, &t0);
		assert_int_equal(store_open_pg(bad[i], &st, err, sizeof(err)),
		    -1);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		assert_null(st);
		if (strstr(err, "store_open: cannot connect to PostgreSQL") ==
		    NULL)
			fail_msg("unexpected error: %s", err);
		assert_true(t1.tv_sec - t0.tv_sec < 8);
	}
}

/* Four coordinators open one new database at once: one migrates, the
 * others wait for its lock and find the schema current (without the lock
 * the second CREATE TABLE fails). */
static void
test_pg_concurrent_migrate(void **state)
{
	enum { N = 4 };
	int go[2], status, i, ok = 0;
	pid_t pids[N];
	char c;

	(void)state;
	assert_int_equal(pipe(go), 0);
	for (i = 0; i < N; i++) {
		pids[i] = fork();
		assert_true(pids[i] >= 0);
		if (pids[i] == 0) {
			struct store *st = NULL;
			char err[512];

			close(go[1]);
			/* Released all together when the parent closes it. */
			if (read(go[0], &c, 1) != 0)
				_exit(2);
			if (store_open_pg(pg_conninfo, &st, err,
			    sizeof(err)) != 0) {
				fprintf(stderr, "child %d: %s\n", i, err);
				_exit(1);
			}
			store_close(st);
			_exit(0);
		}
	}
	close(go[0]);
	close(go[1]);
	for (i = 0; i < N; i++) {
		assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
		if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
			ok++;
	}
	assert_int_equal(ok, N);
	assert_int_equal(raw_int(NULL, "SELECT version FROM ferry_schema"), 7);
	assert_int_equal(raw_int(NULL, "SELECT count(*) FROM ferry_schema"), 1);
	assert_int_equal(raw_int(NULL, "SELECT count(*) FROM "
	    "information_schema.tables WHERE table_schema = 'public' AND "
	    "table_name IN ('hosts', 'vms', 'jobs', 'job_events', "
	    "'host_trust', 'runs', 'audit')"), 7);
}

/* The coordinator's connection is cut between two transitions (its
 * server process terminated): the transition fails and nothing of it is
 * stored; retried, it is taken once, and the journal has no gap or
 * duplicate. */
static void
test_pg_lost_midrun(void **state)
{
	static const struct want_event w[] = {
		{ "state", "pending", NULL, 10 },
		{ "state", "migrating", "go", 20 },
	};
	struct fixture *f = *state;
	struct store_job j;
	struct timespec t0, t1;
	int i, rc;

	f->st = open_ok(f->path);
	memset(&j, 0, sizeof(j));
	strcpy(j.kind, "migrate");
	strcpy(j.vm, "alpha");
	strcpy(j.state, "pending");
	assert_int_equal(store_job_create(f->st, &j, 10), 0);
	raw_exec(NULL, "SELECT pg_terminate_backend(pid) FROM "
	    "pg_stat_activity WHERE application_name = 'ferry-coordinator'");
	/* Wait until its server process is really gone. */
	for (i = 0; raw_int(NULL, "SELECT count(*) FROM pg_stat_activity "
	    "WHERE application_name = 'ferry-coordinator'") != 0; i++) {
		assert_true(i < 500);
		usleep(10000);
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(store_job_transition(f->st, j.id, "migrating", "go",
	    20), -1);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	assert_true(t1.tv_sec - t0.tv_sec < 7);
	assert_non_null(strstr(store_error(f->st), "store_job_transition"));
	/* Not taken: the row and the journal are as before. */
	assert_int_equal(raw_int(NULL, "SELECT count(*) FROM jobs WHERE "
	    "state = 'pending'"), 1);
	assert_int_equal(raw_int(NULL, "SELECT count(*) FROM job_events"), 1);
	/* Retried (as job_tick does) until the store is back. */
	for (i = 0; (rc = store_job_transition(f->st, j.id, "migrating", "go",
	    20)) != 0; i++) {
		assert_true(i < 150);
		usleep(100000);
	}
	assert_int_equal(raw_int(NULL, "SELECT count(*) FROM jobs WHERE "
	    "state = 'migrating'"), 1);
	check_events(f->st, j.id, w, 2);
	store_job_clear(&j);
}

/* A job created on a connection fenced at epoch (store_fence). */
static int
fenced_create(struct store *st, const char *vm)
{
	struct store_job j;
	int rc;

	memset(&j, 0, sizeof(j));
	strcpy(j.kind, "migrate");
	snprintf(j.vm, sizeof(j.vm), "%s", vm);
	strcpy(j.state, "pending");
	rc = store_job_create(st, &j, 10);
	store_job_clear(&j);
	return rc;
}

/*
 * Writes fenced by the lease's epoch (schema 5): a leader's store takes
 * writes while the lease row has its epoch; once another coordinator's
 * takeover raised it, every write fails (FE001, store_fenced), also on a
 * connection made again after a loss (the epoch is set on every one), and
 * nothing of it is stored. A store that set no epoch is not fenced.
 */
static void
test_pg_fenced_writes(void **state)
{
	struct fixture *f = *state;
	int i;

	f->st = open_ok(f->path);
	raw_exec(NULL, "CREATE TABLE ferry_lease (id INTEGER PRIMARY KEY "
	    "CHECK (id = 1), holder TEXT NOT NULL, epoch BIGINT NOT NULL, "
	    "expires TIMESTAMPTZ NOT NULL);"
	    "INSERT INTO ferry_lease VALUES (1, 'c1', 5, now() + "
	    "interval '1 minute')");
	assert_int_equal(fenced_create(f->st, "before"), 0);	/* not fenced */
	assert_int_equal(store_fence(f->st, 5), 0);
	assert_int_equal(fenced_create(f->st, "ours"), 0);
	assert_false(store_fenced(f->st));
	/* c2 takes the lease. */
	raw_exec(NULL, "UPDATE ferry_lease SET holder = 'c2', epoch = 6");
	assert_int_equal(fenced_create(f->st, "late"), -1);
	assert_true(store_fenced(f->st));
	assert_non_null(strstr(store_error(f->st), "fenced"));
	assert_int_equal(raw_int(NULL, "SELECT count(*) FROM jobs WHERE "
	    "vm = 'late'"), 0);
	/* A connection made again keeps the fence. */
	raw_exec(NULL, "SELECT pg_terminate_backend(pid) FROM "
	    "pg_stat_activity WHERE application_name = 'ferry-coordinator'");
	for (i = 0; raw_int(NULL, "SELECT count(*) FROM pg_stat_activity "
	    "WHERE application_name = 'ferry-coordinator'") != 0; i++) {
		assert_true(i < 500);
		usleep(10000);
	}
	for (i = 0; fenced_create(f->st, "late") == -1 &&
	    strstr(store_error(f->st), "fenced") == NULL; i++) {
		assert_true(i < 150);
		usleep(100000);
	}
	assert_non_null(strstr(store_error(f->st), "fenced"));
	assert_int_equal(raw_int(NULL, "SELECT count(*) FROM jobs WHERE "
	    "vm = 'late'"), 0);
	/* The new leader's own store, fenced at 6, writes. */
	assert_int_equal(store_fence(f->st, 6), 0);
	assert_false(store_fenced(f->st));
	assert_int_equal(fenced_create(f->st, "new"), 0);
	assert_int_equal(raw_int(NULL, "SELECT count(*) FROM jobs"), 3);
}

static double
mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* The one VM of h1 the store lists, or "" (asserts at most one). */
static void
only_vm(struct store *st, char *name, size_t size)
{
	struct store_vm *out;
	size_t n;

	if (store_vms_list(st, "h1", &out, &n) != 0)
		fail_msg("%s", store_error(st));
	assert_true(n <= 1);
	snprintf(name, size, "%s", n ? out[0].name : "");
	store_vm_list_free(out, n);
}

/*
 * A store call stuck inside its transaction (another session holds the
 * table's lock) does not hold the caller for long: the server's
 * lock_timeout ends it in ~4 s. Then the same call's connection is cut
 * while it waits inside its transaction: it fails at once. Either way
 * nothing of the transaction is applied, and the next call works.
 */
static void
test_pg_bounded_wait(void **state)
{
	struct fixture *f = *state;
	struct store_vm a, b;
	char name[64];
	PGconn *c;
	PGresult *r;
	double t0, dt;
	pid_t pid;
	int status;

	f->st = open_ok(f->path);
	assert_int_equal(store_host_configure(f->st, "h1", "a", 1), 0);
	fill_vm(&a, "h1", "alpha", 1, NULL, 0);
	fill_vm(&b, "h1", "beta", 2, NULL, 0);
	assert_int_equal(store_inventory_replace(f->st, "h1", &a, 1, 5), 0);

	c = pg_raw();
	PQclear(PQexec(c, "BEGIN"));
	r = PQexec(c, "LOCK TABLE vms IN ACCESS EXCLUSIVE MODE");
	assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
	PQclear(r);
	t0 = mono_s();
	assert_int_equal(store_inventory_replace(f->st, "h1", &b, 1, 6), -1);
	dt = mono_s() - t0;
	print_message("lock wait ended after %.1f s: %s\n", dt,
	    store_error(f->st));
	assert_true(dt >= 3.5 && dt < 8.0);
	assert_error_contains(f->st, "lock timeout");

	/* Cut while waiting: a child terminates the session once it waits. */
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		PGconn *k = PQconnectdb(pg_conninfo);
		int i;

		for (i = 0; i < 400; i++) {
			r = PQexec(k, "SELECT pg_terminate_backend(pid) FROM "
			    "pg_stat_activity WHERE application_name = "
			    "'ferry-coordinator' AND wait_event_type = 'Lock'");
			if (PQresultStatus(r) == PGRES_TUPLES_OK &&
			    PQntuples(r) == 1) {
				PQclear(r);
				_exit(0);
			}
			PQclear(r);
			usleep(10000);
		}
		_exit(1);
	}
	t0 = mono_s();
	assert_int_equal(store_inventory_replace(f->st, "h1", &b, 1, 7), -1);
	dt = mono_s() - t0;
	print_message("cut while waiting: failed after %.1f s: %s\n", dt,
	    store_error(f->st));
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_true(dt < 3.5);
	PQclear(PQexec(c, "ROLLBACK"));
	PQfinish(c);

	/* Nothing of either transaction is there; then it works. */
	only_vm(f->st, name, sizeof(name));
	assert_string_equal(name, "alpha");
	assert_int_equal(store_inventory_replace(f->st, "h1", &b, 1, 8), 0);
	only_vm(f->st, name, sizeof(name));
	assert_string_equal(name, "beta");
}

int
main(void)
{
	const struct CMUnitTest sqlite_tests[] = {
		cmocka_unit_test_setup_teardown(
		    test_open_creates_private_wal_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_missing_dir,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_refuses_newer_schema,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_hosts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_inventory, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_jobs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_runs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_migrate_v5_audit, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_migrate_v2_runs, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_reopen_keeps_everything,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_crash_keeps_committed,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_unwritable_dir, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_disk_full, setup,
		    teardown),
	};
	/* The backend-neutral tests, and PostgreSQL's own. */
	const struct CMUnitTest pg_tests[] = {
		cmocka_unit_test_setup_teardown(test_open_refuses_newer_schema,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_hosts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_inventory, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_jobs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_runs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reopen_keeps_everything,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_crash_keeps_committed,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_pg_unreachable, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_pg_concurrent_migrate,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_pg_lost_midrun, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_pg_bounded_wait, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_pg_fenced_writes, setup,
		    teardown),
	};

	pg_conninfo = getenv("FERRY_TEST_PG");
	if (pg_conninfo != NULL && *pg_conninfo != '\0')
		return cmocka_run_group_tests_name("store on postgresql",
		    pg_tests, NULL, NULL);
	pg_conninfo = NULL;
	return cmocka_run_group_tests_name("store on sqlite", sqlite_tests,
	    NULL, NULL);
}
