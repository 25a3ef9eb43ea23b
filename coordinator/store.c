/* store.c: the coordinator's durable state; see store.h.
 *
 * The schema, the statements' SQL, opening (and migrating) and the
 * helpers the record kinds' files share. The SQL is portable and goes
 * through the statement layer (store_db.h) to SQLite (the default, one
 * file in WAL mode, synchronous=FULL) or PostgreSQL (store_open_pg). Every
 * commit is durable before a store_* call returns 0. Statements are
 * prepared once at open and reset after each use. The schema is versioned
 * (SQLite: PRAGMA user_version; PostgreSQL: table ferry_schema) and
 * upgraded by store_migrate_step at open. Hosts, trust and inventory are
 * in store_host.c, jobs and their journal in store_job.c, runs in
 * store_run.c; what they share is in store_int.h.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "store_int.h"

#define nitems(a)	(sizeof(a) / sizeof((a)[0]))

/*
 * store_migrations[v] takes the schema from version v to v + 1, inside one
 * transaction that then records version v + 1 (the scripts do not). The
 * SQL is portable; where a backend needs its own words (SQLite's
 * AUTOINCREMENT and WITHOUT ROWID, PostgreSQL's 64-bit BIGINT for what
 * SQLite's INTEGER holds, identity columns, BYTEA), store_migrations_pg[v]
 * replaces it on PostgreSQL. New steps: portable SQL only (BIGINT for
 * times and sizes, TEXT, INTEGER), appended to store_migrations.
 */
/* The audit table after its id, with the outcomes it takes, and its
 * index: the same on both backends (only the id's auto-increment is
 * spelled differently). */
#define AUDIT_COLUMNS_OF(outcomes)					\
	"  time_ms BIGINT NOT NULL,"					\
	"  via TEXT NOT NULL CHECK (via IN ('ctl', 'api')),"		\
	"  who TEXT NOT NULL,"						\
	"  uid BIGINT,"							\
	"  pid BIGINT,"							\
	"  what TEXT NOT NULL,"						\
	"  args TEXT,"							\
	"  outcome TEXT NOT NULL DEFAULT 'pending'"			\
	"    CHECK (outcome IN (" outcomes ")),"			\
	"  job_id BIGINT,"						\
	"  message TEXT,"						\
	"  ended_ms BIGINT"						\
	")"
#define AUDIT_INDEX	"CREATE INDEX audit_by_time ON audit(time_ms)"
#define AUDIT_OUTCOMES_4	"'pending', 'accepted', 'refused'"
/* Schema 6: a call nothing answered ends client-gone, or interrupted by
 * the coordinator's stop (control.c). */
#define AUDIT_OUTCOMES_6						\
	AUDIT_OUTCOMES_4 ", 'client-gone', 'interrupted'"
#define AUDIT_COLUMNS	AUDIT_COLUMNS_OF(AUDIT_OUTCOMES_4) ";" AUDIT_INDEX

static const char *const store_migrations[] = {
	/* 0 -> 1 */
	"CREATE TABLE hosts ("
	"  name TEXT PRIMARY KEY NOT NULL,"
	"  address TEXT NOT NULL,"
	"  port INTEGER NOT NULL,"
	"  admin_state TEXT NOT NULL DEFAULT 'active'"
	"    CHECK (admin_state IN ('active', 'draining', 'maintenance')),"
	"  conn_state TEXT NOT NULL DEFAULT 'down'"
	"    CHECK (conn_state IN ('up', 'down')),"
	"  host_uuid TEXT NOT NULL DEFAULT '',"
	"  libvirt_uri TEXT NOT NULL DEFAULT '',"
	"  migration_address TEXT NOT NULL DEFAULT '',"
	"  arch TEXT NOT NULL DEFAULT '',"
	"  cpus INTEGER NOT NULL DEFAULT 0,"
	"  mem_mib INTEGER NOT NULL DEFAULT 0,"
	"  mem_free_mib INTEGER NOT NULL DEFAULT 0,"
	"  reserve_mib INTEGER NOT NULL DEFAULT 0,"
	"  last_seen_ms INTEGER NOT NULL DEFAULT 0,"
	"  last_error TEXT NOT NULL DEFAULT ''"
	");"
	/* A VM may briefly be in two hosts' inventories while it migrates. */
	"CREATE TABLE vms ("
	"  host TEXT NOT NULL REFERENCES hosts(name) ON DELETE CASCADE,"
	"  name TEXT NOT NULL,"
	"  uuid TEXT NOT NULL,"
	"  state TEXT NOT NULL,"
	"  reason TEXT NOT NULL,"
	"  mem_mib INTEGER NOT NULL,"
	"  vcpus INTEGER NOT NULL,"
	"  persistent INTEGER NOT NULL,"
	"  blob BLOB,"
	"  updated_ms INTEGER NOT NULL,"
	"  PRIMARY KEY (host, name)"
	");"
	"CREATE INDEX vms_by_uuid ON vms(uuid);"
	/* AUTOINCREMENT: a job id is never reused, even after deletes. */
	"CREATE TABLE jobs ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  kind TEXT NOT NULL,"
	"  vm TEXT NOT NULL,"
	"  source TEXT NOT NULL,"
	"  destination TEXT NOT NULL,"
	"  state TEXT NOT NULL,"
	"  params TEXT,"
	"  error TEXT,"
	"  parent INTEGER REFERENCES jobs(id),"
	"  finished INTEGER NOT NULL DEFAULT 0,"
	"  started_ms INTEGER NOT NULL,"
	"  ended_ms INTEGER NOT NULL DEFAULT 0,"
	"  updated_ms INTEGER NOT NULL"
	");"
	"CREATE INDEX jobs_by_state ON jobs(state);"
	"CREATE INDEX jobs_unfinished ON jobs(id) WHERE finished = 0;"
	"CREATE INDEX jobs_by_parent ON jobs(parent) WHERE parent IS NOT NULL;"
	"CREATE TABLE job_events ("
	"  job_id INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,"
	"  seq INTEGER NOT NULL,"
	"  time_ms INTEGER NOT NULL,"
	"  type TEXT NOT NULL,"
	"  state TEXT NOT NULL,"
	"  data TEXT,"
	"  PRIMARY KEY (job_id, seq)"
	") WITHOUT ROWID",
	/* 1 -> 2: where each host is reached, pinned at first contact and
	 * changed only by the operator (issue 11, finding 1). */
	"CREATE TABLE host_trust ("
	"  name TEXT PRIMARY KEY NOT NULL REFERENCES hosts(name) ON DELETE CASCADE,"
	"  libvirt_uri TEXT NOT NULL DEFAULT '',"
	"  migration_address TEXT NOT NULL DEFAULT '',"
	"  flagged INTEGER NOT NULL DEFAULT 0,"
	"  reason TEXT NOT NULL DEFAULT '',"
	"  updated_ms INTEGER NOT NULL DEFAULT 0"
	")",
	/* 2 -> 3: drains, restores and rebalances are runs with a record of
	 * their own; the host a drain or restore acts on was kept in the
	 * jobs' vm column ("cluster" for a rebalance, which collided with a
	 * host of that name). Their job row keeps id, state and history. */
	"CREATE TABLE runs ("
	"  id INTEGER PRIMARY KEY NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,"
	"  kind TEXT NOT NULL CHECK (kind IN ('drain', 'restore', 'rebalance')),"
	"  host TEXT CHECK ((kind = 'rebalance') = (host IS NULL))"
	");"
	"INSERT INTO runs (id, kind, host) SELECT id, kind, CASE kind "
	"  WHEN 'rebalance' THEN NULL ELSE vm END FROM jobs "
	"  WHERE kind IN ('drain', 'restore', 'rebalance');"
	"UPDATE jobs SET vm = '' WHERE kind IN ('drain', 'restore', 'rebalance')",
	/* 3 -> 4: the audit trail (issue 17, helper 4): every acting
	 * command, who asked it and through what, and its outcome. Written
	 * before the command acts (outcome pending), completed when its
	 * reply or refusal goes out. job_id names no foreign key: a refusal
	 * has none, and the trail outlives anything else. */
	"CREATE TABLE audit ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	AUDIT_COLUMNS,
	/* 4 -> 5: writes fenced by the HA lease's epoch (PostgreSQL only:
	 * SQLite serves one coordinator, nothing to fence) */
	"SELECT 1",
	/* 5 -> 6: the audit outcomes client-gone and interrupted. SQLite
	 * cannot change a CHECK, so the table is rebuilt, its ids kept (and
	 * AUTOINCREMENT's high mark, which the copy carries over). */
	"CREATE TABLE audit_new ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	AUDIT_COLUMNS_OF(AUDIT_OUTCOMES_6) ";"
	"INSERT INTO audit_new SELECT * FROM audit;"
	"DROP TABLE audit;"
	"ALTER TABLE audit_new RENAME TO audit;"
	AUDIT_INDEX,
	/* 6 -> 7: HA, the coordinator a call was asked of (a standby
	 * relays what acts to the leader, which records it); NULL without
	 * HA and in rows from before. */
	"ALTER TABLE audit ADD COLUMN node TEXT",
};

#define STORE_SCHEMA_VERSION	((int)nitems(store_migrations))

#define FENCE_TRIGGER(t)						\
	"CREATE TRIGGER " t "_fence BEFORE INSERT OR UPDATE OR DELETE"	\
	" ON " t " FOR EACH STATEMENT EXECUTE FUNCTION ferry_fence();"

/* The same schema on PostgreSQL, step by step (index = from version). */
static const char *const store_migrations_pg[] = {
	/* 0 -> 1 */
	"CREATE TABLE hosts ("
	"  name TEXT PRIMARY KEY NOT NULL,"
	"  address TEXT NOT NULL,"
	"  port INTEGER NOT NULL,"
	"  admin_state TEXT NOT NULL DEFAULT 'active'"
	"    CHECK (admin_state IN ('active', 'draining', 'maintenance')),"
	"  conn_state TEXT NOT NULL DEFAULT 'down'"
	"    CHECK (conn_state IN ('up', 'down')),"
	"  host_uuid TEXT NOT NULL DEFAULT '',"
	"  libvirt_uri TEXT NOT NULL DEFAULT '',"
	"  migration_address TEXT NOT NULL DEFAULT '',"
	"  arch TEXT NOT NULL DEFAULT '',"
	"  cpus BIGINT NOT NULL DEFAULT 0,"
	"  mem_mib BIGINT NOT NULL DEFAULT 0,"
	"  mem_free_mib BIGINT NOT NULL DEFAULT 0,"
	"  reserve_mib BIGINT NOT NULL DEFAULT 0,"
	"  last_seen_ms BIGINT NOT NULL DEFAULT 0,"
	"  last_error TEXT NOT NULL DEFAULT ''"
	");"
	"CREATE TABLE vms ("
	"  host TEXT NOT NULL REFERENCES hosts(name) ON DELETE CASCADE,"
	"  name TEXT NOT NULL,"
	"  uuid TEXT NOT NULL,"
	"  state TEXT NOT NULL,"
	"  reason TEXT NOT NULL,"
	"  mem_mib BIGINT NOT NULL,"
	"  vcpus BIGINT NOT NULL,"
	"  persistent INTEGER NOT NULL,"
	"  blob BYTEA,"
	"  updated_ms BIGINT NOT NULL,"
	"  PRIMARY KEY (host, name)"
	");"
	"CREATE INDEX vms_by_uuid ON vms(uuid);"
	/* An identity never hands out an id twice, as AUTOINCREMENT. */
	"CREATE TABLE jobs ("
	"  id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,"
	"  kind TEXT NOT NULL,"
	"  vm TEXT NOT NULL,"
	"  source TEXT NOT NULL,"
	"  destination TEXT NOT NULL,"
	"  state TEXT NOT NULL,"
	"  params TEXT,"
	"  error TEXT,"
	"  parent BIGINT REFERENCES jobs(id),"
	"  finished INTEGER NOT NULL DEFAULT 0,"
	"  started_ms BIGINT NOT NULL,"
	"  ended_ms BIGINT NOT NULL DEFAULT 0,"
	"  updated_ms BIGINT NOT NULL"
	");"
	"CREATE INDEX jobs_by_state ON jobs(state);"
	"CREATE INDEX jobs_unfinished ON jobs(id) WHERE finished = 0;"
	"CREATE INDEX jobs_by_parent ON jobs(parent) WHERE parent IS NOT NULL;"
	"CREATE TABLE job_events ("
	"  job_id BIGINT NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,"
	"  seq BIGINT NOT NULL,"
	"  time_ms BIGINT NOT NULL,"
	"  type TEXT NOT NULL,"
	"  state TEXT NOT NULL,"
	"  data TEXT,"
	"  PRIMARY KEY (job_id, seq)"
	")",
	/* 1 -> 2 */
	"CREATE TABLE host_trust ("
	"  name TEXT PRIMARY KEY NOT NULL REFERENCES hosts(name) ON DELETE CASCADE,"
	"  libvirt_uri TEXT NOT NULL DEFAULT '',"
	"  migration_address TEXT NOT NULL DEFAULT '',"
	"  flagged INTEGER NOT NULL DEFAULT 0,"
	"  reason TEXT NOT NULL DEFAULT '',"
	"  updated_ms BIGINT NOT NULL DEFAULT 0"
	")",
	/* 2 -> 3 (a new database: no jobs to move) */
	"CREATE TABLE runs ("
	"  id BIGINT PRIMARY KEY NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,"
	"  kind TEXT NOT NULL CHECK (kind IN ('drain', 'restore', 'rebalance')),"
	"  host TEXT CHECK ((kind = 'rebalance') = (host IS NULL))"
	")",
	/* 3 -> 4: the audit trail, with an identity for its id */
	"CREATE TABLE audit ("
	"  id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,"
	AUDIT_COLUMNS,
	/* 4 -> 5: a statement that writes, on a connection a leader fenced
	 * (SET ferry.epoch, store_pg.c), takes the lease row FOR SHARE and
	 * goes on only while the row still has that epoch. The share lock
	 * serialises it with a takeover (an UPDATE of the row): a write
	 * checked before the new epoch commits first, and one after it sees
	 * the new epoch and fails with SQLSTATE FE001. A deposed leader that
	 * wakes within its deadline can thus journal nothing. A connection
	 * that set no epoch (one coordinator, tools) is not fenced. */
	"CREATE FUNCTION ferry_fence() RETURNS trigger LANGUAGE plpgsql AS $f$"
	" DECLARE e TEXT := current_setting('ferry.epoch', true);"
	" BEGIN"
	"  IF e IS NULL OR e = '' OR e = '0' THEN RETURN NULL; END IF;"
	"  PERFORM 1 FROM ferry_lease WHERE id = 1 AND epoch = e::bigint"
	"   FOR SHARE;"
	"  IF NOT FOUND THEN"
	"   RAISE EXCEPTION 'fenced: the lease is no longer at epoch %', e"
	"    USING ERRCODE = 'FE001';"
	"  END IF;"
	"  RETURN NULL;"
	" END $f$;"
	FENCE_TRIGGER("hosts") FENCE_TRIGGER("vms") FENCE_TRIGGER("jobs")
	FENCE_TRIGGER("job_events") FENCE_TRIGGER("host_trust")
	FENCE_TRIGGER("runs") FENCE_TRIGGER("audit"),
	/* 5 -> 6: the audit outcomes client-gone and interrupted; the
	 * column's CHECK has PostgreSQL's default name. */
	"ALTER TABLE audit DROP CONSTRAINT audit_outcome_check;"
	"ALTER TABLE audit ADD CONSTRAINT audit_outcome_check"
	"  CHECK (outcome IN (" AUDIT_OUTCOMES_6 "))",
	/* Later steps: NULL, the portable SQL serves. */
};

_Static_assert(nitems(store_migrations_pg) <= nitems(store_migrations),
    "a PostgreSQL variant of a migration that does not exist");


#define HOST_COLS	"name, address, port, admin_state, conn_state, " \
	"host_uuid, libvirt_uri, migration_address, arch, cpus, mem_mib, " \
	"mem_free_mib, reserve_mib, last_seen_ms, last_error"
#define JOB_COLS	"id, kind, vm, source, destination, state, params, " \
	"error, parent, started_ms, ended_ms, updated_ms"

static const char *const store_sql[Q_MAX] = {
	[Q_HOST_CONFIGURE] =
	    "INSERT INTO hosts (name, address, port) VALUES (?1, ?2, ?3) "
	    "ON CONFLICT (name) DO UPDATE SET address = excluded.address, "
	    "port = excluded.port",
	[Q_HOST_GET] = "SELECT " HOST_COLS " FROM hosts WHERE name = ?1",
	[Q_HOSTS_LIST] = "SELECT " HOST_COLS " FROM hosts ORDER BY name",
	/* Connecting is a frame exchange, so "up" also counts as seen. */
	[Q_HOST_SET_CONN] =
	    "UPDATE hosts SET conn_state = ?2, "
	    "last_error = COALESCE(?3, last_error), "
	    "last_seen_ms = CASE WHEN ?2 = 'up' THEN ?4 ELSE last_seen_ms END "
	    "WHERE name = ?1",
	[Q_HOST_SET_ADMIN] =
	    "UPDATE hosts SET admin_state = ?2 WHERE name = ?1",
	[Q_HOST_SET_INFO] =
	    "UPDATE hosts SET host_uuid = ?2, libvirt_uri = ?3, "
	    "migration_address = ?4, arch = ?5, cpus = ?6, mem_mib = ?7, "
	    "mem_free_mib = ?8, reserve_mib = ?9 WHERE name = ?1",
	[Q_HOST_SEEN] = "UPDATE hosts SET last_seen_ms = ?2 WHERE name = ?1",
	[Q_TRUST_GET] =
	    "SELECT name, libvirt_uri, migration_address, flagged, reason, "
	    "updated_ms FROM host_trust WHERE name = ?1",
	[Q_TRUST_SET] =
	    "INSERT INTO host_trust (name, libvirt_uri, migration_address, "
	    "flagged, reason, updated_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6) "
	    "ON CONFLICT (name) DO UPDATE SET libvirt_uri = excluded.libvirt_uri, "
	    "migration_address = excluded.migration_address, "
	    "flagged = excluded.flagged, reason = excluded.reason, "
	    "updated_ms = excluded.updated_ms",
	[Q_VMS_DELETE] = "DELETE FROM vms WHERE host = ?1",
	[Q_VM_INSERT] =
	    "INSERT INTO vms (host, name, uuid, state, reason, mem_mib, vcpus, "
	    "persistent, blob, updated_ms) "
	    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
	[Q_VMS_LIST] =
	    "SELECT name, uuid, host, state, reason, mem_mib, vcpus, "
	    "persistent, blob, updated_ms FROM vms "
	    "WHERE CAST(?1 AS TEXT) IS NULL OR host = ?1 ORDER BY host, name",
	[Q_JOB_INSERT] =
	    "INSERT INTO jobs (kind, vm, source, destination, state, params, "
	    "error, parent, started_ms, updated_ms) "
	    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9) RETURNING id",
	[Q_JOB_SET_STATE] =
	    "UPDATE jobs SET state = ?2, updated_ms = ?3 "
	    "WHERE id = ?1 AND finished = 0",
	[Q_JOB_SET_DEST] =
	    "UPDATE jobs SET destination = ?2, updated_ms = ?3 "
	    "WHERE id = ?1 AND finished = 0",
	[Q_JOB_FINISH] =
	    "UPDATE jobs SET state = ?2, error = ?3, finished = 1, "
	    "ended_ms = ?4, updated_ms = ?4 WHERE id = ?1 AND finished = 0",
	[Q_JOB_TOUCH] = "UPDATE jobs SET updated_ms = ?2 WHERE id = ?1",
	[Q_JOB_FINISHED] = "SELECT finished FROM jobs WHERE id = ?1",
	/* The event records the job's state as it is after the update made
	 * in the same transaction. */
	[Q_EVENT_APPEND] =
	    "INSERT INTO job_events (job_id, seq, time_ms, type, state, data) "
	    "SELECT ?1, COALESCE((SELECT MAX(seq) FROM job_events "
	    "WHERE job_id = ?1), 0) + 1, ?2, ?3, state, ?4 "
	    "FROM jobs WHERE id = ?1",
	[Q_JOB_GET] = "SELECT " JOB_COLS " FROM jobs WHERE id = ?1",
	/* The newest ?2 jobs, oldest first. */
	[Q_JOBS_LIST] =
	    "SELECT * FROM (SELECT " JOB_COLS " FROM jobs "
	    "WHERE ?1 = 0 OR finished = 0 ORDER BY id DESC LIMIT ?2) AS t "
	    "ORDER BY id",
	[Q_EVENTS_LIST] =
	    "SELECT job_id, seq, time_ms, type, state, data FROM job_events "
	    "WHERE job_id = ?1 ORDER BY seq",
	[Q_RUN_INSERT] = "INSERT INTO runs (id, kind, host) VALUES (?1, ?2, ?3)",
	[Q_AUDIT_INSERT] =
	    "INSERT INTO audit (time_ms, via, who, uid, pid, what, args, "
	    "node) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) RETURNING id",
	[Q_AUDIT_END] =
	    "UPDATE audit SET outcome = ?2, job_id = ?3, message = ?4, "
	    "ended_ms = ?5 WHERE id = ?1 AND outcome = 'pending'",
	/* The newest ?2 since ?1, oldest first, with their job's state. */
	[Q_AUDIT_LIST] =
	    "SELECT * FROM (SELECT a.id, a.time_ms, a.via, a.who, a.uid, "
	    "a.pid, a.what, a.args, a.outcome, a.job_id, a.message, "
	    "a.ended_ms, j.state, a.node FROM audit a LEFT JOIN jobs j "
	    "ON j.id = a.job_id WHERE a.time_ms >= ?1 "
	    "ORDER BY a.id DESC LIMIT ?2) t ORDER BY id",
	[Q_RUNS_LIST] =
	    "SELECT r.id, r.kind, COALESCE(r.host, ''), j.state, j.finished, "
	    "j.started_ms, j.ended_ms FROM runs r JOIN jobs j ON j.id = r.id "
	    "WHERE ?1 = 0 OR j.finished = 0 ORDER BY r.id",
};

void
store_seterr(struct store *s, const char *fn, const char *fmt, ...)
{
	char msg[448];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(s->err, sizeof(s->err), "%s: %s", fn, msg);
}

/* Must be called before the failed statement is reset. */
void
store_dberr(struct store *s, const char *fn)
{
	store_seterr(s, fn, "%s", db_errmsg(s->db));
}

const char *
store_error(const struct store *s)
{
	if (s == NULL)
		return "no store";
	return s->err[0] ? s->err : "no error";
}

const char *
store_backend(const struct store *s)
{
	return s == NULL || s->db == NULL ? "none" : db_name(s->db);
}

int
store_fence(struct store *s, uint64_t epoch)
{
	if (db_fence(s->db, epoch) < 0) {
		store_dberr(s, "store_fence");
		return -1;
	}
	return 0;
}

int
store_fenced(struct store *s)
{
	return s != NULL && s->db != NULL && db_fenced(s->db);
}

struct db_stmt *
store_stmt(struct store *s, enum store_q q)
{
	db_reset(s->q[q]);
	return s->q[q];
}

/* Text is not copied: every statement is stepped and reset before the
 * caller's strings can go away. NULL binds SQL NULL. */
int
store_bind_text(struct db_stmt *st, int i, const char *v)
{
	return db_bind_text(st, i, v);
}

int
store_bind_int64(struct db_stmt *st, int i, int64_t v)
{
	return db_bind_int64(st, i, v);
}

/* Unsigned values are kept as their int64 bit pattern. */
int
store_bind_u64(struct db_stmt *st, int i, uint64_t v)
{
	return db_bind_int64(st, i, (int64_t)v);
}

void
store_col_text(struct db_stmt *st, int col, char *dst, size_t size)
{
	const char *t = db_col_text(st, col);

	snprintf(dst, size, "%s", t ? t : "");
}

int64_t
store_col_int64(struct db_stmt *st, int col)
{
	return db_col_int64(st, col);
}

uint64_t
store_col_u64(struct db_stmt *st, int col)
{
	return (uint64_t)db_col_int64(st, col);
}

/* A malloc'd copy of a text column, NULL for SQL NULL; -1 on ENOMEM. */
int
store_col_strdup(struct db_stmt *st, int col, char **out)
{
	const char *t = db_col_text(st, col);

	*out = NULL;
	if (t == NULL)
		return db_col_null(st, col) ? 0 : -1;
	if ((*out = strdup(t)) == NULL)
		return -1;
	return 0;
}

/* One step: DB_ROW, DB_DONE, or -1 with the error recorded (the
 * statement is then reset). */
int
store_step(struct store *s, struct db_stmt *st, const char *fn)
{
	int rc = db_step(st);

	if (rc == -1) {
		store_dberr(s, fn);
		db_reset(st);
	}
	return rc;
}

/* Steps a statement that returns no rows; resets it either way. */
int
store_run(struct store *s, struct db_stmt *st, const char *fn)
{
	int rc = db_step(st);

	if (rc != DB_DONE) {
		if (rc == -1)
			store_dberr(s, fn);
		else
			store_seterr(s, fn, "statement returned rows");
		db_reset(st);
		return -1;
	}
	db_reset(st);
	return 0;
}

/* An INSERT ... RETURNING id: the new row's id; resets the statement. */
int
store_insert_id(struct store *s, struct db_stmt *st, const char *fn,
    int64_t *id)
{
	int rc = db_step(st);

	if (rc != DB_ROW) {
		if (rc == -1)
			store_dberr(s, fn);
		else
			store_seterr(s, fn, "no id returned");
		db_reset(st);
		return -1;
	}
	*id = db_col_int64(st, 0);
	/* Stepping to the end completes the statement on SQLite. */
	rc = db_step(st);
	if (rc == -1)
		store_dberr(s, fn);
	db_reset(st);
	return rc == -1 ? -1 : 0;
}

/* A write transaction (SQLite: the write lock is taken now, so it cannot
 * fail half-way with SQLITE_BUSY on its first write). */
int
store_begin(struct store *s, const char *fn)
{
	if (db_begin(s->db) == -1) {
		store_dberr(s, fn);
		return -1;
	}
	return 0;
}

/* Rolls back whatever is open; keeps the error already recorded. */
void
store_rollback(struct store *s)
{
	db_rollback(s->db);
}

/* The COMMIT is where the fsync happens: its time is the store's
 * latency the metrics show. */
int
store_commit(struct store *s, const char *fn)
{
	struct timespec t0, t1;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (db_commit(s->db) == -1) {
		store_dberr(s, fn);
		store_rollback(s);
		return -1;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (s->commit_hook != NULL)
		s->commit_hook(s->commit_arg, (double)(t1.tv_sec - t0.tv_sec) +
		    (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
	return 0;
}

void
store_set_commit_hook(struct store *s, void (*fn)(void *, double), void *arg)
{
	s->commit_hook = fn;
	s->commit_arg = arg;
}

int
store_check_len(struct store *s, const char *fn, const char *what,
    const char *v, size_t size)
{
	if (v == NULL || v[0] == '\0') {
		store_seterr(s, fn, "%s is empty", what);
		return -1;
	}
	if (strlen(v) >= size) {
		store_seterr(s, fn, "%s too long (at most %zu bytes)", what,
		    size - 1);
		return -1;
	}
	return 0;
}

static const char *
store_migration_sql(struct store *s, int from)
{
	if (strcmp(db_name(s->db), "postgresql") == 0 &&
	    from < (int)nitems(store_migrations_pg) &&
	    store_migrations_pg[from] != NULL)
		return store_migrations_pg[from];
	return store_migrations[from];
}

/*
 * One step in one transaction: lock the schema (PostgreSQL: an advisory
 * lock; SQLite: BEGIN IMMEDIATE's write lock), read the version under the
 * lock, so two coordinators opening a new database at once do not both
 * migrate it, and take it from v to v + 1. *v is the version found;
 * returns 1 when it is current (nothing done), 0 after a step, -1.
 */
static int
store_migrate_step(struct store *s, int *v)
{
	const char *fn = "store_open";

	if (store_begin(s, fn) == -1)
		return -1;
	if (db_lock_schema(s->db) == -1 || db_version_get(s->db, v) == -1) {
		store_dberr(s, fn);
		goto fail;
	}
	if (*v == STORE_SCHEMA_VERSION) {
		store_rollback(s);
		return 1;
	}
	if (*v < 0 || *v > STORE_SCHEMA_VERSION) {
		store_seterr(s, fn, "database schema version %d is newer than "
		    "this program's (%d)", *v, STORE_SCHEMA_VERSION);
		goto fail;
	}
	if (db_exec(s->db, store_migration_sql(s, *v)) == -1 ||
	    db_version_set(s->db, *v + 1) == -1) {
		store_dberr(s, fn);
		goto fail;
	}
	if (store_commit(s, fn) == -1)
		return -1;
	log_info("store: schema migrated to version %d (%s)", *v + 1,
	    db_name(s->db));
	return 0;
 fail:
	store_rollback(s);
	return -1;
}

static int
store_migrate(struct store *s)
{
	int rc, v;

	while ((rc = store_migrate_step(s, &v)) == 0)
		;
	return rc == 1 ? 0 : -1;
}

/* Takes over db (closed on failure). */
static int
store_open_db(struct db *db, struct store **out, char *err, size_t errlen)
{
	struct store *s;
	int i;

	*out = NULL;
	if ((s = calloc(1, sizeof(*s))) == NULL) {
		db_close(db);
		if (errlen > 0)
			snprintf(err, errlen, "store_open: %s", strerror(errno));
		return -1;
	}
	s->db = db;
	if (store_migrate(s) == -1)
		goto fail;
	for (i = 0; i < Q_MAX; i++) {
		if (db_prepare(s->db, store_sql[i], &s->q[i]) == -1) {
			store_seterr(s, "store_open", "prepare %d: %s", i,
			    db_errmsg(s->db));
			goto fail;
		}
	}
	*out = s;
	return 0;
 fail:
	if (errlen > 0)
		snprintf(err, errlen, "%s", s->err);
	store_close(s);
	return -1;
}

int
store_open(const char *path, struct store **out, char *err, size_t errlen)
{
	struct db *db;
	char why[448] = "";

	*out = NULL;
	if (db_sqlite_open(path, &db, why, sizeof(why)) == -1) {
		if (errlen > 0)
			snprintf(err, errlen, "store_open: %s", why);
		return -1;
	}
	return store_open_db(db, out, err, errlen);
}

int
store_open_pg(const char *conninfo, struct store **out, char *err,
    size_t errlen)
{
	struct db *db;
	char why[448] = "";

	*out = NULL;
	if (db_pg_open(conninfo, &db, why, sizeof(why)) == -1) {
		if (errlen > 0)
			snprintf(err, errlen, "store_open: %s", why);
		return -1;
	}
	return store_open_db(db, out, err, errlen);
}

void
store_close(struct store *s)
{
	int i;

	if (s == NULL)
		return;
	for (i = 0; i < Q_MAX; i++)
		db_finalize(s->q[i]);
	db_close(s->db);
	free(s);
}

/* Hosts */

int
store_check_port(struct store *s, const char *fn, int port)
{
	if (port <= 0 || port > 65535) {
		store_seterr(s, fn, "port %d out of range", port);
		return -1;
	}
	return 0;
}

/* Fails with "no host" when an UPDATE matched nothing. */
int
store_changed(struct store *s, const char *fn, const char *what,
    const char *name)
{
	if (db_changes(s->db) == 0) {
		store_seterr(s, fn, "no %s %s", what, name);
		return -1;
	}
	return 0;
}

/* Grows *arr (of elements of size sz) to hold at least n + 1. */
int
store_grow(struct store *s, const char *fn, void **arr, size_t *cap,
    size_t n, size_t sz)
{
	size_t ncap;
	void *p;

	if (n < *cap)
		return 0;
	ncap = *cap ? *cap * 2 : 16;
	if ((p = reallocarray(*arr, ncap, sz)) == NULL) {
		store_seterr(s, fn, "%s", strerror(errno));
		return -1;
	}
	memset((char *)p + *cap * sz, 0, (ncap - *cap) * sz);
	*arr = p;
	*cap = ncap;
	return 0;
}
