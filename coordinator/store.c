/* store.c: the coordinator's durable state in SQLite; see store.h.
 *
 * One connection in WAL mode with synchronous=FULL, so every commit is
 * fsynced before a store_* call returns 0. Statements are prepared once at
 * open and reset after each use. The schema is versioned in
 * PRAGMA user_version and upgraded by store_migrate_step at open. Hosts,
 * trust and inventory are in store_host.c, jobs and their journal in
 * store_job.c; what they share is in store_int.h.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "log.h"
#include "store_int.h"

#define STORE_SCHEMA_VERSION	3
#define STORE_BUSY_TIMEOUT_MS	5000

/* migrations[v] takes the schema from version v to v + 1; each script
 * sets user_version itself and runs inside one transaction. */
static const char *const store_migrations[STORE_SCHEMA_VERSION] = {
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
	") WITHOUT ROWID;"
	"PRAGMA user_version = 1;",
	/* 1 -> 2: where each host is reached, pinned at first contact and
	 * changed only by the operator (issue 11, finding 1). */
	"CREATE TABLE host_trust ("
	"  name TEXT PRIMARY KEY NOT NULL REFERENCES hosts(name) ON DELETE CASCADE,"
	"  libvirt_uri TEXT NOT NULL DEFAULT '',"
	"  migration_address TEXT NOT NULL DEFAULT '',"
	"  flagged INTEGER NOT NULL DEFAULT 0,"
	"  reason TEXT NOT NULL DEFAULT '',"
	"  updated_ms INTEGER NOT NULL DEFAULT 0"
	");"
	"PRAGMA user_version = 2;",
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
	"UPDATE jobs SET vm = '' WHERE kind IN ('drain', 'restore', 'rebalance');"
	"PRAGMA user_version = 3;",
};

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
	    "WHERE ?1 IS NULL OR host = ?1 ORDER BY host, name",
	[Q_JOB_INSERT] =
	    "INSERT INTO jobs (kind, vm, source, destination, state, params, "
	    "error, parent, started_ms, updated_ms) "
	    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9)",
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
	/* The newest ?2 jobs (-1: all), oldest first. */
	[Q_JOBS_LIST] =
	    "SELECT * FROM (SELECT " JOB_COLS " FROM jobs "
	    "WHERE ?1 = 0 OR finished = 0 ORDER BY id DESC LIMIT ?2) "
	    "ORDER BY id",
	[Q_EVENTS_LIST] =
	    "SELECT job_id, seq, time_ms, type, state, data FROM job_events "
	    "WHERE job_id = ?1 ORDER BY seq",
	[Q_RUN_INSERT] = "INSERT INTO runs (id, kind, host) VALUES (?1, ?2, ?3)",
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
	store_seterr(s, fn, "%s", sqlite3_errmsg(s->db));
}

const char *
store_error(const struct store *s)
{
	if (s == NULL)
		return "no store";
	return s->err[0] ? s->err : "no error";
}

sqlite3_stmt *
store_stmt(struct store *s, enum store_q q)
{
	sqlite3_reset(s->q[q]);
	sqlite3_clear_bindings(s->q[q]);
	return s->q[q];
}

/* Text is bound SQLITE_STATIC: every statement is stepped and reset before
 * the caller's strings can go away. NULL binds SQL NULL. */
int
store_bind_text(sqlite3_stmt *st, int i, const char *v)
{
	if (v == NULL)
		return sqlite3_bind_null(st, i);
	return sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
}

/* Unsigned values are kept as their int64 bit pattern. */
int
store_bind_u64(sqlite3_stmt *st, int i, uint64_t v)
{
	return sqlite3_bind_int64(st, i, (sqlite3_int64)v);
}

void
store_col_text(sqlite3_stmt *st, int col, char *dst, size_t size)
{
	const unsigned char *t = sqlite3_column_text(st, col);

	snprintf(dst, size, "%s", t ? (const char *)t : "");
}

uint64_t
store_col_u64(sqlite3_stmt *st, int col)
{
	return (uint64_t)sqlite3_column_int64(st, col);
}

/* A malloc'd copy of a text column, NULL for SQL NULL; -1 on ENOMEM. */
int
store_col_strdup(sqlite3_stmt *st, int col, char **out)
{
	const unsigned char *t = sqlite3_column_text(st, col);

	*out = NULL;
	if (t == NULL)
		return sqlite3_errcode(sqlite3_db_handle(st)) == SQLITE_NOMEM ?
		    -1 : 0;
	if ((*out = strdup((const char *)t)) == NULL)
		return -1;
	return 0;
}

/* Steps a statement that returns no rows; resets it either way. */
int
store_run(struct store *s, sqlite3_stmt *st, const char *fn)
{
	int rc = sqlite3_step(st);

	if (rc != SQLITE_DONE) {
		store_dberr(s, fn);
		sqlite3_reset(st);
		sqlite3_clear_bindings(st);
		return -1;
	}
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return 0;
}

static int
store_exec(struct store *s, const char *sql, const char *fn)
{
	if (sqlite3_exec(s->db, sql, NULL, NULL, NULL) != SQLITE_OK) {
		store_dberr(s, fn);
		return -1;
	}
	return 0;
}

/* IMMEDIATE takes the write lock now, so the transaction cannot fail
 * half-way with SQLITE_BUSY on its first write. */
int
store_begin(struct store *s, const char *fn)
{
	return store_exec(s, "BEGIN IMMEDIATE", fn);
}

/* Rolls back whatever is open; keeps the error already recorded. */
void
store_rollback(struct store *s)
{
	if (!sqlite3_get_autocommit(s->db) &&
	    sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL) != SQLITE_OK)
		log_warnx("store: rollback: %s", sqlite3_errmsg(s->db));
}

int
store_commit(struct store *s, const char *fn)
{
	if (store_exec(s, "COMMIT", fn) == -1) {
		store_rollback(s);
		return -1;
	}
	return 0;
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

static int
store_pragma_int(struct store *s, const char *sql, int *out)
{
	sqlite3_stmt *st = NULL;
	int rc = -1;

	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_step(st) != SQLITE_ROW) {
		store_dberr(s, "store_open");
		goto done;
	}
	*out = sqlite3_column_int(st, 0);
	rc = 0;
 done:
	sqlite3_finalize(st);
	return rc;
}

/* Takes the schema from version `from` to from + 1 in one transaction.
 * The version is read again under the write lock, so two processes
 * opening a new file at once do not both migrate it. */
static int
store_migrate_step(struct store *s, int from)
{
	int v;

	if (store_begin(s, "store_open") == -1)
		return -1;
	if (store_pragma_int(s, "PRAGMA user_version", &v) == -1)
		goto fail;
	if (v != from) {
		store_rollback(s);
		return 0;
	}
	if (store_exec(s, store_migrations[from], "store_open") == -1)
		goto fail;
	if (store_commit(s, "store_open") == -1)
		return -1;
	log_info("store: schema migrated to version %d", from + 1);
	return 0;
 fail:
	store_rollback(s);
	return -1;
}

static int
store_migrate(struct store *s)
{
	int v;

	for (;;) {
		if (store_pragma_int(s, "PRAGMA user_version", &v) == -1)
			return -1;
		if (v == STORE_SCHEMA_VERSION)
			return 0;
		if (v < 0 || v > STORE_SCHEMA_VERSION) {
			store_seterr(s, "store_open", "database schema version "
			    "%d is newer than this program's (%d)", v,
			    STORE_SCHEMA_VERSION);
			return -1;
		}
		if (store_migrate_step(s, v) == -1)
			return -1;
	}
}

/* The directory part of path, "." when there is none. */
static int
store_dirname(const char *path, char *dir, size_t size)
{
	char *slash;

	if (snprintf(dir, size, "%s", path) >= (int)size)
		return -1;
	if ((slash = strrchr(dir, '/')) == NULL)
		snprintf(dir, size, ".");
	else if (slash == dir)
		dir[1] = '\0';
	else
		*slash = '\0';
	return 0;
}

/* The parent directory must exist already; the file is created 0600. */
static int
store_create_file(struct store *s, const char *path)
{
	char dir[PATH_MAX];
	struct stat sb;
	int fd;

	if (store_dirname(path, dir, sizeof(dir)) == -1) {
		store_seterr(s, "store_open", "path too long: %s", path);
		return -1;
	}
	if (stat(dir, &sb) == -1) {
		store_seterr(s, "store_open", "database directory %s: %s", dir,
		    errno == ENOENT ? "does not exist" : strerror(errno));
		return -1;
	}
	if (!S_ISDIR(sb.st_mode)) {
		store_seterr(s, "store_open", "%s is not a directory", dir);
		return -1;
	}
	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
	    0600);
	if (fd == -1) {
		if (errno == EEXIST)
			return 0;
		store_seterr(s, "store_open", "cannot create %s: %s", path,
		    strerror(errno));
		return -1;
	}
	/* The umask may have taken bits away; SQLite gives -wal and -shm
	 * the database file's mode. */
	if (fchmod(fd, 0600) == -1) {
		store_seterr(s, "store_open", "chmod %s: %s", path,
		    strerror(errno));
		close(fd);
		unlink(path);
		return -1;
	}
	close(fd);
	return 0;
}

int
store_open(const char *path, struct store **out, char *err, size_t errlen)
{
	struct store *s;
	sqlite3_stmt *st = NULL;
	char dir[PATH_MAX];
	const char *mode;
	int i, inmem, fk;

	*out = NULL;
	if ((s = calloc(1, sizeof(*s))) == NULL) {
		if (errlen > 0)
			snprintf(err, errlen, "store_open: %s", strerror(errno));
		return -1;
	}
	inmem = strcmp(path, ":memory:") == 0;
	if (!inmem && store_create_file(s, path) == -1)
		goto fail;
	if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_NOFOLLOW, NULL) != SQLITE_OK) {
		if (s->db == NULL)
			store_seterr(s, "store_open", "%s: out of memory", path);
		else
			store_seterr(s, "store_open", "%s: %s", path,
			    sqlite3_errmsg(s->db));
		goto fail;
	}
	sqlite3_busy_timeout(s->db, STORE_BUSY_TIMEOUT_MS);

	/* journal_mode answers with the mode in effect; WAL can be refused
	 * (e.g. a filesystem without shared memory), and must not be. */
	if (sqlite3_prepare_v2(s->db, "PRAGMA journal_mode = WAL", -1, &st,
	    NULL) != SQLITE_OK || sqlite3_step(st) != SQLITE_ROW) {
		store_seterr(s, "store_open", "%s: %s", path,
		    sqlite3_errmsg(s->db));
		goto fail;
	}
	mode = (const char *)sqlite3_column_text(st, 0);
	if (!inmem && (mode == NULL || strcmp(mode, "wal") != 0)) {
		store_seterr(s, "store_open", "%s: cannot use WAL mode "
		    "(journal_mode is %s)", path, mode ? mode : "unknown");
		goto fail;
	}
	sqlite3_finalize(st);
	st = NULL;
	if (store_exec(s, "PRAGMA synchronous = FULL", "store_open") == -1 ||
	    store_exec(s, "PRAGMA foreign_keys = ON", "store_open") == -1)
		goto fail;
	if (store_pragma_int(s, "PRAGMA foreign_keys", &fk) == -1)
		goto fail;
	if (fk != 1) {
		store_seterr(s, "store_open", "SQLite without foreign keys");
		goto fail;
	}
	if (store_migrate(s) == -1)
		goto fail;
	for (i = 0; i < Q_MAX; i++) {
		if (sqlite3_prepare_v2(s->db, store_sql[i], -1, &s->q[i],
		    NULL) != SQLITE_OK) {
			store_seterr(s, "store_open", "prepare %d: %s", i,
			    sqlite3_errmsg(s->db));
			goto fail;
		}
	}
	*out = s;
	return 0;
 fail:
	sqlite3_finalize(st);
	/* WAL creates -wal and -shm beside the file: say so when that is
	 * what SQLite's message hides. */
	if (!inmem && s->db != NULL && store_dirname(path, dir,
	    sizeof(dir)) == 0 && access(dir, W_OK) == -1)
		snprintf(s->err + strlen(s->err), sizeof(s->err) -
		    strlen(s->err), " (directory %s: %s)", dir, strerror(errno));
	if (errlen > 0)
		snprintf(err, errlen, "%s", s->err);
	store_close(s);
	return -1;
}

void
store_close(struct store *s)
{
	int i;

	if (s == NULL)
		return;
	for (i = 0; i < Q_MAX; i++)
		sqlite3_finalize(s->q[i]);
	if (s->db != NULL && sqlite3_close(s->db) != SQLITE_OK)
		log_warnx("store: close: %s", sqlite3_errmsg(s->db));
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
	if (sqlite3_changes(s->db) == 0) {
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
