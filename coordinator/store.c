/* store.c: the coordinator's durable state in SQLite; see store.h.
 *
 * One connection in WAL mode with synchronous=FULL, so every commit is
 * fsynced before a store_* call returns 0. Statements are prepared once at
 * open and reset after each use. The schema is versioned in
 * PRAGMA user_version and upgraded by store_migrate_step at open.
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
#include "store.h"

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

enum store_q {
	Q_HOST_CONFIGURE,
	Q_HOST_GET,
	Q_HOSTS_LIST,
	Q_HOST_SET_CONN,
	Q_HOST_SET_ADMIN,
	Q_HOST_SET_INFO,
	Q_HOST_SEEN,
	Q_TRUST_GET,
	Q_TRUST_SET,
	Q_VMS_DELETE,
	Q_VM_INSERT,
	Q_VMS_LIST,
	Q_JOB_INSERT,
	Q_JOB_SET_STATE,
	Q_JOB_SET_DEST,
	Q_JOB_FINISH,
	Q_JOB_TOUCH,
	Q_JOB_FINISHED,
	Q_EVENT_APPEND,
	Q_JOB_GET,
	Q_JOBS_LIST,
	Q_EVENTS_LIST,
	Q_RUN_INSERT,
	Q_RUNS_LIST,
	Q_MAX
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

struct store {
	sqlite3		*db;
	sqlite3_stmt	*q[Q_MAX];
	char		 err[512];
};

static void store_seterr(struct store *, const char *, const char *, ...)
	    __attribute__((format(printf, 3, 4)));

static void
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
static void
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

static sqlite3_stmt *
store_stmt(struct store *s, enum store_q q)
{
	sqlite3_reset(s->q[q]);
	sqlite3_clear_bindings(s->q[q]);
	return s->q[q];
}

/* Text is bound SQLITE_STATIC: every statement is stepped and reset before
 * the caller's strings can go away. NULL binds SQL NULL. */
static int
store_bind_text(sqlite3_stmt *st, int i, const char *v)
{
	if (v == NULL)
		return sqlite3_bind_null(st, i);
	return sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
}

/* Unsigned values are kept as their int64 bit pattern. */
static int
store_bind_u64(sqlite3_stmt *st, int i, uint64_t v)
{
	return sqlite3_bind_int64(st, i, (sqlite3_int64)v);
}

static void
store_col_text(sqlite3_stmt *st, int col, char *dst, size_t size)
{
	const unsigned char *t = sqlite3_column_text(st, col);

	snprintf(dst, size, "%s", t ? (const char *)t : "");
}

static uint64_t
store_col_u64(sqlite3_stmt *st, int col)
{
	return (uint64_t)sqlite3_column_int64(st, col);
}

/* A malloc'd copy of a text column, NULL for SQL NULL; -1 on ENOMEM. */
static int
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
static int
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
static int
store_begin(struct store *s, const char *fn)
{
	return store_exec(s, "BEGIN IMMEDIATE", fn);
}

/* Rolls back whatever is open; keeps the error already recorded. */
static void
store_rollback(struct store *s)
{
	if (!sqlite3_get_autocommit(s->db) &&
	    sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL) != SQLITE_OK)
		log_warnx("store: rollback: %s", sqlite3_errmsg(s->db));
}

static int
store_commit(struct store *s, const char *fn)
{
	if (store_exec(s, "COMMIT", fn) == -1) {
		store_rollback(s);
		return -1;
	}
	return 0;
}

static int
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

static int
store_check_port(struct store *s, const char *fn, int port)
{
	if (port <= 0 || port > 65535) {
		store_seterr(s, fn, "port %d out of range", port);
		return -1;
	}
	return 0;
}

/* Fails with "no host" when an UPDATE matched nothing. */
static int
store_changed(struct store *s, const char *fn, const char *what,
    const char *name)
{
	if (sqlite3_changes(s->db) == 0) {
		store_seterr(s, fn, "no %s %s", what, name);
		return -1;
	}
	return 0;
}

int
store_host_configure(struct store *s, const char *name, const char *address,
    int port)
{
	const char *fn = "store_host_configure";
	struct store_host h;
	sqlite3_stmt *st;

	if (store_check_len(s, fn, "host name", name, sizeof(h.name)) == -1 ||
	    store_check_len(s, fn, "address", address,
	    sizeof(h.address)) == -1 || store_check_port(s, fn, port) == -1)
		return -1;
	st = store_stmt(s, Q_HOST_CONFIGURE);
	store_bind_text(st, 1, name);
	store_bind_text(st, 2, address);
	sqlite3_bind_int(st, 3, port);
	return store_run(s, st, fn);
}

static void
store_host_row(sqlite3_stmt *st, struct store_host *h)
{
	memset(h, 0, sizeof(*h));
	store_col_text(st, 0, h->name, sizeof(h->name));
	store_col_text(st, 1, h->address, sizeof(h->address));
	h->port = sqlite3_column_int(st, 2);
	store_col_text(st, 3, h->admin_state, sizeof(h->admin_state));
	store_col_text(st, 4, h->conn_state, sizeof(h->conn_state));
	store_col_text(st, 5, h->host_uuid, sizeof(h->host_uuid));
	store_col_text(st, 6, h->libvirt_uri, sizeof(h->libvirt_uri));
	store_col_text(st, 7, h->migration_address,
	    sizeof(h->migration_address));
	store_col_text(st, 8, h->arch, sizeof(h->arch));
	h->cpus = (uint32_t)sqlite3_column_int64(st, 9);
	h->mem_mib = store_col_u64(st, 10);
	h->mem_free_mib = store_col_u64(st, 11);
	h->reserve_mib = store_col_u64(st, 12);
	h->last_seen_ms = store_col_u64(st, 13);
	store_col_text(st, 14, h->last_error, sizeof(h->last_error));
}

int
store_host_get(struct store *s, const char *name, struct store_host *h)
{
	sqlite3_stmt *st = store_stmt(s, Q_HOST_GET);
	int rc;

	store_bind_text(st, 1, name);
	switch (sqlite3_step(st)) {
	case SQLITE_ROW:
		store_host_row(st, h);
		rc = 1;
		break;
	case SQLITE_DONE:
		rc = 0;
		break;
	default:
		store_dberr(s, "store_host_get");
		rc = -1;
		break;
	}
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return rc;
}

/* Grows *arr (of elements of size sz) to hold at least n + 1. */
static int
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

int
store_hosts_list(struct store *s, struct store_host **out, size_t *nout)
{
	const char *fn = "store_hosts_list";
	sqlite3_stmt *st = store_stmt(s, Q_HOSTS_LIST);
	struct store_host *arr = NULL;
	size_t n = 0, cap = 0;
	int rc;

	*out = NULL;
	*nout = 0;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (store_grow(s, fn, (void **)&arr, &cap, n,
		    sizeof(*arr)) == -1)
			goto fail;
		store_host_row(st, &arr[n++]);
	}
	if (rc != SQLITE_DONE) {
		store_dberr(s, fn);
		goto fail;
	}
	sqlite3_reset(st);
	*out = arr;
	*nout = n;
	return 0;
 fail:
	sqlite3_reset(st);
	free(arr);
	return -1;
}

int
store_host_set_conn(struct store *s, const char *name, const char *conn_state,
    const char *last_error, uint64_t now_ms)
{
	const char *fn = "store_host_set_conn";
	sqlite3_stmt *st;

	if (conn_state == NULL || (strcmp(conn_state, "up") != 0 &&
	    strcmp(conn_state, "down") != 0)) {
		store_seterr(s, fn, "bad connection state %s",
		    conn_state ? conn_state : "(null)");
		return -1;
	}
	st = store_stmt(s, Q_HOST_SET_CONN);
	store_bind_text(st, 1, name);
	store_bind_text(st, 2, conn_state);
	store_bind_text(st, 3, last_error);
	store_bind_u64(st, 4, now_ms);
	if (store_run(s, st, fn) == -1)
		return -1;
	return store_changed(s, fn, "host", name);
}

int
store_host_set_admin(struct store *s, const char *name,
    const char *admin_state)
{
	const char *fn = "store_host_set_admin";
	sqlite3_stmt *st;

	if (admin_state == NULL || (strcmp(admin_state, "active") != 0 &&
	    strcmp(admin_state, "draining") != 0 &&
	    strcmp(admin_state, "maintenance") != 0)) {
		store_seterr(s, fn, "bad admin state %s",
		    admin_state ? admin_state : "(null)");
		return -1;
	}
	st = store_stmt(s, Q_HOST_SET_ADMIN);
	store_bind_text(st, 1, name);
	store_bind_text(st, 2, admin_state);
	if (store_run(s, st, fn) == -1)
		return -1;
	return store_changed(s, fn, "host", name);
}

int
store_host_set_info(struct store *s, const struct store_host *h)
{
	const char *fn = "store_host_set_info";
	sqlite3_stmt *st = store_stmt(s, Q_HOST_SET_INFO);

	store_bind_text(st, 1, h->name);
	store_bind_text(st, 2, h->host_uuid);
	store_bind_text(st, 3, h->libvirt_uri);
	store_bind_text(st, 4, h->migration_address);
	store_bind_text(st, 5, h->arch);
	sqlite3_bind_int64(st, 6, h->cpus);
	store_bind_u64(st, 7, h->mem_mib);
	store_bind_u64(st, 8, h->mem_free_mib);
	store_bind_u64(st, 9, h->reserve_mib);
	if (store_run(s, st, fn) == -1)
		return -1;
	return store_changed(s, fn, "host", h->name);
}

int
store_host_seen(struct store *s, const char *name, uint64_t now_ms)
{
	const char *fn = "store_host_seen";
	sqlite3_stmt *st = store_stmt(s, Q_HOST_SEEN);

	store_bind_text(st, 1, name);
	store_bind_u64(st, 2, now_ms);
	if (store_run(s, st, fn) == -1)
		return -1;
	return store_changed(s, fn, "host", name);
}

int
store_trust_get(struct store *s, const char *name, struct store_trust *t)
{
	sqlite3_stmt *st = store_stmt(s, Q_TRUST_GET);
	int rc;

	memset(t, 0, sizeof(*t));
	store_bind_text(st, 1, name);
	switch (sqlite3_step(st)) {
	case SQLITE_ROW:
		store_col_text(st, 0, t->name, sizeof(t->name));
		store_col_text(st, 1, t->libvirt_uri, sizeof(t->libvirt_uri));
		store_col_text(st, 2, t->migration_address,
		    sizeof(t->migration_address));
		t->flagged = sqlite3_column_int(st, 3) != 0;
		store_col_text(st, 4, t->reason, sizeof(t->reason));
		t->updated_ms = store_col_u64(st, 5);
		rc = 1;
		break;
	case SQLITE_DONE:
		rc = 0;
		break;
	default:
		store_dberr(s, "store_trust_get");
		rc = -1;
		break;
	}
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return rc;
}

int
store_trust_set(struct store *s, const struct store_trust *t)
{
	sqlite3_stmt *st = store_stmt(s, Q_TRUST_SET);

	store_bind_text(st, 1, t->name);
	store_bind_text(st, 2, t->libvirt_uri);
	store_bind_text(st, 3, t->migration_address);
	sqlite3_bind_int(st, 4, t->flagged != 0);
	store_bind_text(st, 5, t->reason);
	store_bind_u64(st, 6, t->updated_ms);
	return store_run(s, st, "store_trust_set");
}

/* VMs */

int
store_inventory_replace(struct store *s, const char *host,
    const struct store_vm *vms, size_t n, uint64_t now_ms)
{
	const char *fn = "store_inventory_replace";
	struct store_host h;
	sqlite3_stmt *st;
	size_t i;

	if (store_check_len(s, fn, "host name", host, sizeof(h.name)) == -1)
		return -1;
	for (i = 0; i < n; i++)
		if (store_check_len(s, fn, "vm name", vms[i].name,
		    sizeof(vms[i].name)) == -1)
			return -1;
	switch (store_host_get(s, host, &h)) {
	case -1:
		return -1;
	case 0:
		store_seterr(s, fn, "no host %s", host);
		return -1;
	}
	if (store_begin(s, fn) == -1)
		return -1;
	st = store_stmt(s, Q_VMS_DELETE);
	store_bind_text(st, 1, host);
	if (store_run(s, st, fn) == -1)
		goto fail;
	for (i = 0; i < n; i++) {
		const struct store_vm *v = &vms[i];

		st = store_stmt(s, Q_VM_INSERT);
		store_bind_text(st, 1, host);
		store_bind_text(st, 2, v->name);
		store_bind_text(st, 3, v->uuid);
		store_bind_text(st, 4, v->state);
		store_bind_text(st, 5, v->reason);
		store_bind_u64(st, 6, v->mem_mib);
		sqlite3_bind_int64(st, 7, v->vcpus);
		sqlite3_bind_int(st, 8, v->persistent ? 1 : 0);
		if (v->blob != NULL && v->bloblen > 0)
			sqlite3_bind_blob64(st, 9, v->blob, v->bloblen,
			    SQLITE_STATIC);
		store_bind_u64(st, 10, now_ms);
		if (store_run(s, st, fn) == -1) {
			char why[sizeof(s->err)];

			/* Name the VM: a duplicate is the likely cause. */
			snprintf(why, sizeof(why), "%s",
			    s->err + strlen(fn) + 2);
			store_seterr(s, fn, "vm %s: %s", v->name, why);
			goto fail;
		}
	}
	return store_commit(s, fn);
 fail:
	store_rollback(s);
	return -1;
}

int
store_vms_list(struct store *s, const char *host, struct store_vm **out,
    size_t *nout)
{
	const char *fn = "store_vms_list";
	sqlite3_stmt *st = store_stmt(s, Q_VMS_LIST);
	struct store_vm *arr = NULL, *v;
	size_t n = 0, cap = 0;
	const void *blob;
	int rc, len;

	*out = NULL;
	*nout = 0;
	store_bind_text(st, 1, host);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (store_grow(s, fn, (void **)&arr, &cap, n,
		    sizeof(*arr)) == -1)
			goto fail;
		v = &arr[n++];
		store_col_text(st, 0, v->name, sizeof(v->name));
		store_col_text(st, 1, v->uuid, sizeof(v->uuid));
		store_col_text(st, 2, v->host, sizeof(v->host));
		store_col_text(st, 3, v->state, sizeof(v->state));
		store_col_text(st, 4, v->reason, sizeof(v->reason));
		v->mem_mib = store_col_u64(st, 5);
		v->vcpus = (uint32_t)sqlite3_column_int64(st, 6);
		v->persistent = sqlite3_column_int(st, 7);
		v->updated_ms = store_col_u64(st, 9);
		blob = sqlite3_column_blob(st, 8);
		len = sqlite3_column_bytes(st, 8);
		if (blob != NULL && len > 0) {
			if ((v->blob = malloc(len)) == NULL) {
				store_seterr(s, fn, "%s", strerror(errno));
				goto fail;
			}
			memcpy(v->blob, blob, len);
			v->bloblen = len;
		}
	}
	if (rc != SQLITE_DONE) {
		store_dberr(s, fn);
		goto fail;
	}
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	*out = arr;
	*nout = n;
	return 0;
 fail:
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	store_vm_list_free(arr, n);
	return -1;
}

void
store_vm_list_free(struct store_vm *vms, size_t n)
{
	size_t i;

	if (vms == NULL)
		return;
	for (i = 0; i < n; i++)
		free(vms[i].blob);
	free(vms);
}

/* Jobs */

/* Appends an event to job id, recording the job's current state. The
 * caller holds a transaction. */
static int
store_event_append(struct store *s, const char *fn, int64_t id,
    const char *type, const char *data, uint64_t now_ms)
{
	sqlite3_stmt *st = store_stmt(s, Q_EVENT_APPEND);

	sqlite3_bind_int64(st, 1, id);
	store_bind_u64(st, 2, now_ms);
	store_bind_text(st, 3, type);
	store_bind_text(st, 4, data);
	if (store_run(s, st, fn) == -1)
		return -1;
	if (sqlite3_changes(s->db) == 0) {
		store_seterr(s, fn, "no job %lld", (long long)id);
		return -1;
	}
	return 0;
}

/* Also journals the initial state as event 1, and sets j->started_ms and
 * j->updated_ms to now_ms. */
int
store_job_create(struct store *s, struct store_job *j, uint64_t now_ms)
{
	const char *fn = "store_job_create";
	sqlite3_stmt *st;
	int64_t id;

	if (store_check_len(s, fn, "kind", j->kind, sizeof(j->kind)) == -1 ||
	    store_check_len(s, fn, "state", j->state, sizeof(j->state)) == -1)
		return -1;
	if (memchr(j->vm, '\0', sizeof(j->vm)) == NULL ||
	    memchr(j->source, '\0', sizeof(j->source)) == NULL ||
	    memchr(j->destination, '\0', sizeof(j->destination)) == NULL) {
		store_seterr(s, fn, "unterminated vm, source or destination");
		return -1;
	}
	if (store_begin(s, fn) == -1)
		return -1;
	st = store_stmt(s, Q_JOB_INSERT);
	store_bind_text(st, 1, j->kind);
	store_bind_text(st, 2, j->vm);
	store_bind_text(st, 3, j->source);
	store_bind_text(st, 4, j->destination);
	store_bind_text(st, 5, j->state);
	store_bind_text(st, 6, j->params);
	store_bind_text(st, 7, j->error);
	if (j->parent != 0)
		sqlite3_bind_int64(st, 8, j->parent);
	store_bind_u64(st, 9, now_ms);
	if (store_run(s, st, fn) == -1)
		goto fail;
	id = sqlite3_last_insert_rowid(s->db);
	if (store_event_append(s, fn, id, "state", NULL, now_ms) == -1)
		goto fail;
	if (store_commit(s, fn) == -1)
		return -1;
	j->id = id;
	j->started_ms = now_ms;
	j->updated_ms = now_ms;
	j->ended_ms = 0;
	return 0;
 fail:
	store_rollback(s);
	return -1;
}

/* After an UPDATE ... AND finished = 0 matched nothing: say why. */
static void
store_job_why(struct store *s, const char *fn, int64_t id)
{
	sqlite3_stmt *st = store_stmt(s, Q_JOB_FINISHED);
	int rc;

	sqlite3_bind_int64(st, 1, id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		store_seterr(s, fn, "job %lld is already finished",
		    (long long)id);
	else if (rc == SQLITE_DONE)
		store_seterr(s, fn, "no job %lld", (long long)id);
	else
		store_dberr(s, fn);
	sqlite3_reset(st);
}

/* A job row update bound as (?1 id, ?2 value, ?3 now) and the event that
 * records it, in one transaction: the journal entry exists before anyone
 * acts on the change. */
static int
store_job_update(struct store *s, const char *fn, int q, int64_t id,
    const char *value, uint64_t now_ms, const char *evtype,
    const char *evdata)
{
	sqlite3_stmt *st;

	if (store_begin(s, fn) == -1)
		return -1;
	st = store_stmt(s, q);
	sqlite3_bind_int64(st, 1, id);
	store_bind_text(st, 2, value);
	store_bind_u64(st, 3, now_ms);
	if (store_run(s, st, fn) == -1)
		goto fail;
	if (sqlite3_changes(s->db) == 0) {
		store_job_why(s, fn, id);
		goto fail;
	}
	if (store_event_append(s, fn, id, evtype, evdata, now_ms) == -1)
		goto fail;
	return store_commit(s, fn);
 fail:
	store_rollback(s);
	return -1;
}

int
store_job_transition(struct store *s, int64_t id, const char *state,
    const char *data, uint64_t now_ms)
{
	const char *fn = "store_job_transition";
	struct store_job j;

	if (store_check_len(s, fn, "state", state, sizeof(j.state)) == -1)
		return -1;
	return store_job_update(s, fn, Q_JOB_SET_STATE, id, state, now_ms,
	    "state", data);
}

/* The destination chosen for a job that was created without one (or
 * whose first choice was refused), with an info event saying so. */
int
store_job_set_destination(struct store *s, int64_t id, const char *dest,
    uint64_t now_ms)
{
	const char *fn = "store_job_set_destination";
	struct store_job j;
	char msg[128];

	if (store_check_len(s, fn, "destination", dest,
	    sizeof(j.destination)) == -1)
		return -1;
	snprintf(msg, sizeof(msg), "destination %s", dest);
	return store_job_update(s, fn, Q_JOB_SET_DEST, id, dest, now_ms, "info",
	    msg);
}

/* The final event carries data, or the error when there is no data. */
int
store_job_finish(struct store *s, int64_t id, const char *state,
    const char *error, const char *data, uint64_t now_ms)
{
	const char *fn = "store_job_finish";
	struct store_job j;
	sqlite3_stmt *st;

	if (store_check_len(s, fn, "state", state, sizeof(j.state)) == -1)
		return -1;
	if (store_begin(s, fn) == -1)
		return -1;
	st = store_stmt(s, Q_JOB_FINISH);
	sqlite3_bind_int64(st, 1, id);
	store_bind_text(st, 2, state);
	store_bind_text(st, 3, error);
	store_bind_u64(st, 4, now_ms);
	if (store_run(s, st, fn) == -1)
		goto fail;
	if (sqlite3_changes(s->db) == 0) {
		store_job_why(s, fn, id);
		goto fail;
	}
	if (store_event_append(s, fn, id, error && !data ? "error" : "state",
	    data ? data : error, now_ms) == -1)
		goto fail;
	return store_commit(s, fn);
 fail:
	store_rollback(s);
	return -1;
}

int
store_job_event(struct store *s, int64_t id, const char *type,
    const char *data, uint64_t now_ms)
{
	const char *fn = "store_job_event";
	struct store_event e;
	sqlite3_stmt *st;

	if (store_check_len(s, fn, "event type", type, sizeof(e.type)) == -1)
		return -1;
	if (store_begin(s, fn) == -1)
		return -1;
	if (store_event_append(s, fn, id, type, data, now_ms) == -1)
		goto fail;
	st = store_stmt(s, Q_JOB_TOUCH);
	sqlite3_bind_int64(st, 1, id);
	store_bind_u64(st, 2, now_ms);
	if (store_run(s, st, fn) == -1)
		goto fail;
	return store_commit(s, fn);
 fail:
	store_rollback(s);
	return -1;
}

/* Fills j from a JOB_COLS row; j's strings are new allocations. */
static int
store_job_row(struct store *s, const char *fn, sqlite3_stmt *st,
    struct store_job *j)
{
	memset(j, 0, sizeof(*j));
	j->id = sqlite3_column_int64(st, 0);
	store_col_text(st, 1, j->kind, sizeof(j->kind));
	store_col_text(st, 2, j->vm, sizeof(j->vm));
	store_col_text(st, 3, j->source, sizeof(j->source));
	store_col_text(st, 4, j->destination, sizeof(j->destination));
	store_col_text(st, 5, j->state, sizeof(j->state));
	if (store_col_strdup(st, 6, &j->params) == -1 ||
	    store_col_strdup(st, 7, &j->error) == -1) {
		store_job_clear(j);
		store_seterr(s, fn, "out of memory");
		return -1;
	}
	j->parent = sqlite3_column_int64(st, 8);
	j->started_ms = store_col_u64(st, 9);
	j->ended_ms = store_col_u64(st, 10);
	j->updated_ms = store_col_u64(st, 11);
	return 0;
}

/* Overwrites *j without freeing what it held: store_job_clear it first. */
int
store_job_get(struct store *s, int64_t id, struct store_job *j)
{
	const char *fn = "store_job_get";
	sqlite3_stmt *st = store_stmt(s, Q_JOB_GET);
	int rc;

	memset(j, 0, sizeof(*j));
	sqlite3_bind_int64(st, 1, id);
	switch (sqlite3_step(st)) {
	case SQLITE_ROW:
		rc = store_job_row(s, fn, st, j) == -1 ? -1 : 1;
		break;
	case SQLITE_DONE:
		rc = 0;
		break;
	default:
		store_dberr(s, fn);
		rc = -1;
		break;
	}
	sqlite3_reset(st);
	return rc;
}

/* The newest `limit` jobs (0: all), in ascending id order. */
int
store_jobs_list(struct store *s, int only_unfinished, size_t limit,
    struct store_job **out, size_t *nout)
{
	const char *fn = "store_jobs_list";
	sqlite3_stmt *st = store_stmt(s, Q_JOBS_LIST);
	struct store_job *arr = NULL;
	size_t n = 0, cap = 0;
	int rc;

	*out = NULL;
	*nout = 0;
	sqlite3_bind_int(st, 1, only_unfinished ? 1 : 0);
	sqlite3_bind_int64(st, 2, limit == 0 || limit > INT64_MAX ? -1 :
	    (sqlite3_int64)limit);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (store_grow(s, fn, (void **)&arr, &cap, n,
		    sizeof(*arr)) == -1 ||
		    store_job_row(s, fn, st, &arr[n]) == -1)
			goto fail;
		n++;
	}
	if (rc != SQLITE_DONE) {
		store_dberr(s, fn);
		goto fail;
	}
	sqlite3_reset(st);
	*out = arr;
	*nout = n;
	return 0;
 fail:
	sqlite3_reset(st);
	store_job_list_free(arr, n);
	return -1;
}

int
store_job_events(struct store *s, int64_t id, struct store_event **out,
    size_t *nout)
{
	const char *fn = "store_job_events";
	sqlite3_stmt *st = store_stmt(s, Q_EVENTS_LIST);
	struct store_event *arr = NULL, *e;
	size_t n = 0, cap = 0;
	int rc;

	*out = NULL;
	*nout = 0;
	sqlite3_bind_int64(st, 1, id);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (store_grow(s, fn, (void **)&arr, &cap, n,
		    sizeof(*arr)) == -1)
			goto fail;
		e = &arr[n];
		e->job_id = sqlite3_column_int64(st, 0);
		e->seq = sqlite3_column_int64(st, 1);
		e->time_ms = store_col_u64(st, 2);
		store_col_text(st, 3, e->type, sizeof(e->type));
		store_col_text(st, 4, e->state, sizeof(e->state));
		if (store_col_strdup(st, 5, &e->data) == -1) {
			store_seterr(s, fn, "out of memory");
			goto fail;
		}
		n++;
	}
	if (rc != SQLITE_DONE) {
		store_dberr(s, fn);
		goto fail;
	}
	sqlite3_reset(st);
	*out = arr;
	*nout = n;
	return 0;
 fail:
	sqlite3_reset(st);
	store_event_list_free(arr, n);
	return -1;
}

void
store_job_clear(struct store_job *j)
{
	if (j == NULL)
		return;
	free(j->params);
	free(j->error);
	j->params = NULL;
	j->error = NULL;
}

void
store_job_list_free(struct store_job *jobs, size_t n)
{
	size_t i;

	if (jobs == NULL)
		return;
	for (i = 0; i < n; i++)
		store_job_clear(&jobs[i]);
	free(jobs);
}

void
store_event_list_free(struct store_event *ev, size_t n)
{
	size_t i;

	if (ev == NULL)
		return;
	for (i = 0; i < n; i++)
		free(ev[i].data);
	free(ev);
}

/* Runs: drains, restores, rebalances */

/*
 * A run's job row (its id, state and history, so ferryctl jobs and job
 * show it like any job) and its own record, in one transaction. The job
 * row names no VM: the run's host is in its record (none for a
 * rebalance). Fills r->id and r->started_ms.
 */
int
store_run_create(struct store *s, struct store_run *r, const char *params,
    uint64_t now_ms)
{
	const char *fn = "store_run_create";
	sqlite3_stmt *st;
	int64_t id;
	int drain = strcmp(r->kind, "drain") == 0;
	int restore = strcmp(r->kind, "restore") == 0;

	if (!drain && !restore && strcmp(r->kind, "rebalance") != 0) {
		store_seterr(s, fn, "unknown run kind");
		return -1;
	}
	if (memchr(r->host, '\0', sizeof(r->host)) == NULL ||
	    store_check_len(s, fn, "state", r->state, sizeof(r->state)) == -1)
		return -1;
	if ((drain || restore) != (r->host[0] != '\0')) {
		store_seterr(s, fn, "a %s %s", r->kind, drain || restore ?
		    "needs a host" : "has no host");
		return -1;
	}
	if (store_begin(s, fn) == -1)
		return -1;
	st = store_stmt(s, Q_JOB_INSERT);
	store_bind_text(st, 1, r->kind);
	store_bind_text(st, 2, "");
	store_bind_text(st, 3, drain ? r->host : "");
	store_bind_text(st, 4, restore ? r->host : "");
	store_bind_text(st, 5, r->state);
	store_bind_text(st, 6, params);
	store_bind_text(st, 7, NULL);
	store_bind_u64(st, 9, now_ms);
	if (store_run(s, st, fn) == -1)
		goto fail;
	id = sqlite3_last_insert_rowid(s->db);
	st = store_stmt(s, Q_RUN_INSERT);
	sqlite3_bind_int64(st, 1, id);
	store_bind_text(st, 2, r->kind);
	store_bind_text(st, 3, r->host[0] ? r->host : NULL);
	if (store_run(s, st, fn) == -1 ||
	    store_event_append(s, fn, id, "state", NULL, now_ms) == -1)
		goto fail;
	if (store_commit(s, fn) == -1)
		return -1;
	r->id = id;
	r->started_ms = now_ms;
	r->ended_ms = 0;
	r->finished = 0;
	return 0;
 fail:
	store_rollback(s);
	return -1;
}

/* Every run (or only those not finished), oldest first; free() *out. */
int
store_runs_list(struct store *s, int only_unfinished, struct store_run **out,
    size_t *nout)
{
	const char *fn = "store_runs_list";
	sqlite3_stmt *st = store_stmt(s, Q_RUNS_LIST);
	struct store_run *arr = NULL, *r;
	size_t n = 0, cap = 0;
	int rc;

	*out = NULL;
	*nout = 0;
	sqlite3_bind_int(st, 1, only_unfinished ? 1 : 0);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (store_grow(s, fn, (void **)&arr, &cap, n,
		    sizeof(*arr)) == -1)
			goto fail;
		r = &arr[n++];
		memset(r, 0, sizeof(*r));
		r->id = sqlite3_column_int64(st, 0);
		store_col_text(st, 1, r->kind, sizeof(r->kind));
		store_col_text(st, 2, r->host, sizeof(r->host));
		store_col_text(st, 3, r->state, sizeof(r->state));
		r->finished = sqlite3_column_int(st, 4);
		r->started_ms = store_col_u64(st, 5);
		r->ended_ms = store_col_u64(st, 6);
	}
	if (rc != SQLITE_DONE) {
		store_dberr(s, fn);
		goto fail;
	}
	sqlite3_reset(st);
	*out = arr;
	*nout = n;
	return 0;
 fail:
	sqlite3_reset(st);
	free(arr);
	return -1;
}
