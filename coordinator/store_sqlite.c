/* store_sqlite.c: the statement layer on SQLite; see store_db.h.
 *
 * One connection in WAL mode with synchronous=FULL, so every commit is
 * fsynced before it returns. The schema's version is PRAGMA user_version.
 * A write transaction is BEGIN IMMEDIATE: it takes the write lock at once,
 * so it cannot fail half-way with SQLITE_BUSY, and it serialises two
 * processes migrating one file.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "log.h"
#include "store_db.h"

#define SQLITE_BUSY_TIMEOUT_MS	5000

struct db_sqlite {
	struct db	 base;
	sqlite3		*db;
};

struct db_sqlite_stmt {
	struct db_stmt	 base;
	sqlite3_stmt	*st;
};

#define SDB(d)	((struct db_sqlite *)(void *)(d))
#define SST(s)	(((struct db_sqlite_stmt *)(void *)(s))->st)

static void
sq_close(struct db *d)
{
	if (SDB(d)->db != NULL && sqlite3_close(SDB(d)->db) != SQLITE_OK)
		log_warnx("store: close: %s", sqlite3_errmsg(SDB(d)->db));
	free(d);
}

static const char *
sq_errmsg(struct db *d)
{
	return sqlite3_errmsg(SDB(d)->db);
}

static int
sq_exec(struct db *d, const char *sql)
{
	return sqlite3_exec(SDB(d)->db, sql, NULL, NULL, NULL) == SQLITE_OK ?
	    0 : -1;
}

static int
sq_prepare(struct db *d, const char *sql, struct db_stmt **out)
{
	struct db_sqlite_stmt *s;

	*out = NULL;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return -1;
	s->base.db = d;
	if (sqlite3_prepare_v2(SDB(d)->db, sql, -1, &s->st, NULL) !=
	    SQLITE_OK) {
		free(s);
		return -1;
	}
	*out = &s->base;
	return 0;
}

static void
sq_finalize(struct db_stmt *st)
{
	sqlite3_finalize(SST(st));
	free(st);
}

static void
sq_reset(struct db_stmt *st)
{
	sqlite3_reset(SST(st));
	sqlite3_clear_bindings(SST(st));
}

static int
sq_bind_null(struct db_stmt *st, int i)
{
	return sqlite3_bind_null(SST(st), i) == SQLITE_OK ? 0 : -1;
}

/* SQLITE_STATIC: the statement is reset before the caller's strings go. */
static int
sq_bind_text(struct db_stmt *st, int i, const char *v)
{
	return sqlite3_bind_text(SST(st), i, v, -1, SQLITE_STATIC) ==
	    SQLITE_OK ? 0 : -1;
}

static int
sq_bind_int64(struct db_stmt *st, int i, int64_t v)
{
	return sqlite3_bind_int64(SST(st), i, v) == SQLITE_OK ? 0 : -1;
}

static int
sq_bind_blob(struct db_stmt *st, int i, const void *p, size_t len)
{
	return sqlite3_bind_blob64(SST(st), i, p, len, SQLITE_STATIC) ==
	    SQLITE_OK ? 0 : -1;
}

static int
sq_step(struct db_stmt *st)
{
	switch (sqlite3_step(SST(st))) {
	case SQLITE_ROW:
		return DB_ROW;
	case SQLITE_DONE:
		return DB_DONE;
	default:
		return -1;
	}
}

static int
sq_col_null(struct db_stmt *st, int col)
{
	return sqlite3_column_type(SST(st), col) == SQLITE_NULL;
}

static const char *
sq_col_text(struct db_stmt *st, int col)
{
	return (const char *)sqlite3_column_text(SST(st), col);
}

static int64_t
sq_col_int64(struct db_stmt *st, int col)
{
	return sqlite3_column_int64(SST(st), col);
}

static const void *
sq_col_blob(struct db_stmt *st, int col, size_t *len)
{
	const void *p = sqlite3_column_blob(SST(st), col);

	*len = p ? (size_t)sqlite3_column_bytes(SST(st), col) : 0;
	return p;
}

static int64_t
sq_changes(struct db *d)
{
	return sqlite3_changes64(SDB(d)->db);
}

static int
sq_begin(struct db *d)
{
	return sq_exec(d, "BEGIN IMMEDIATE");
}

static int
sq_commit(struct db *d)
{
	return sq_exec(d, "COMMIT");
}

static void
sq_rollback(struct db *d)
{
	if (!sqlite3_get_autocommit(SDB(d)->db) &&
	    sqlite3_exec(SDB(d)->db, "ROLLBACK", NULL, NULL, NULL) != SQLITE_OK)
		log_warnx("store: rollback: %s", sqlite3_errmsg(SDB(d)->db));
}

/* BEGIN IMMEDIATE already holds the file's write lock. */
static int
sq_lock_schema(struct db *d)
{
	(void)d;
	return 0;
}

static int
sq_pragma_int(struct db *d, const char *sql, int *out)
{
	sqlite3_stmt *st = NULL;
	int rc = -1;

	if (sqlite3_prepare_v2(SDB(d)->db, sql, -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW) {
		*out = sqlite3_column_int(st, 0);
		rc = 0;
	}
	sqlite3_finalize(st);
	return rc;
}

static int
sq_version_get(struct db *d, int *v)
{
	return sq_pragma_int(d, "PRAGMA user_version", v);
}

static int
sq_version_set(struct db *d, int v)
{
	char sql[64];

	snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", v);
	return sq_exec(d, sql);
}

static const struct db_ops sq_ops = {
	.name = "sqlite",
	.close = sq_close,
	.errmsg = sq_errmsg,
	.exec = sq_exec,
	.prepare = sq_prepare,
	.finalize = sq_finalize,
	.reset = sq_reset,
	.bind_null = sq_bind_null,
	.bind_text = sq_bind_text,
	.bind_int64 = sq_bind_int64,
	.bind_blob = sq_bind_blob,
	.step = sq_step,
	.col_null = sq_col_null,
	.col_text = sq_col_text,
	.col_int64 = sq_col_int64,
	.col_blob = sq_col_blob,
	.changes = sq_changes,
	.begin = sq_begin,
	.commit = sq_commit,
	.rollback = sq_rollback,
	.lock_schema = sq_lock_schema,
	.version_get = sq_version_get,
	.version_set = sq_version_set,
};

/* The directory part of path, "." when there is none. */
static int
sq_dirname(const char *path, char *dir, size_t size)
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
sq_create_file(const char *path, char *err, size_t errlen)
{
	char dir[PATH_MAX];
	struct stat sb;
	int fd;

	if (sq_dirname(path, dir, sizeof(dir)) == -1) {
		snprintf(err, errlen, "path too long: %s", path);
		return -1;
	}
	if (stat(dir, &sb) == -1) {
		snprintf(err, errlen, "database directory %s: %s", dir,
		    errno == ENOENT ? "does not exist" : strerror(errno));
		return -1;
	}
	if (!S_ISDIR(sb.st_mode)) {
		snprintf(err, errlen, "%s is not a directory", dir);
		return -1;
	}
	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
	    0600);
	if (fd == -1) {
		if (errno == EEXIST)
			return 0;
		snprintf(err, errlen, "cannot create %s: %s", path,
		    strerror(errno));
		return -1;
	}
	/* The umask may have taken bits away; SQLite gives -wal and -shm
	 * the database file's mode. */
	if (fchmod(fd, 0600) == -1) {
		snprintf(err, errlen, "chmod %s: %s", path, strerror(errno));
		close(fd);
		unlink(path);
		return -1;
	}
	close(fd);
	return 0;
}

/* err gets the reason without a function prefix. */
int
db_sqlite_open(const char *path, struct db **out, char *err, size_t errlen)
{
	struct db_sqlite *d;
	sqlite3_stmt *st = NULL;
	char dir[PATH_MAX];
	const char *mode;
	int inmem, fk;
	size_t l;

	*out = NULL;
	if ((d = calloc(1, sizeof(*d))) == NULL) {
		snprintf(err, errlen, "%s", strerror(errno));
		return -1;
	}
	d->base.ops = &sq_ops;
	inmem = strcmp(path, ":memory:") == 0;
	if (!inmem && sq_create_file(path, err, errlen) == -1)
		goto fail;
	if (sqlite3_open_v2(path, &d->db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_NOFOLLOW, NULL) != SQLITE_OK) {
		if (d->db == NULL)
			snprintf(err, errlen, "%s: out of memory", path);
		else
			snprintf(err, errlen, "%s: %s", path,
			    sqlite3_errmsg(d->db));
		goto fail;
	}
	sqlite3_busy_timeout(d->db, SQLITE_BUSY_TIMEOUT_MS);

	/* journal_mode answers with the mode in effect; WAL can be refused
	 * (e.g. a filesystem without shared memory), and must not be. */
	if (sqlite3_prepare_v2(d->db, "PRAGMA journal_mode = WAL", -1, &st,
	    NULL) != SQLITE_OK || sqlite3_step(st) != SQLITE_ROW) {
		snprintf(err, errlen, "%s: %s", path, sqlite3_errmsg(d->db));
		goto fail;
	}
	mode = (const char *)sqlite3_column_text(st, 0);
	if (!inmem && (mode == NULL || strcmp(mode, "wal") != 0)) {
		snprintf(err, errlen, "%s: cannot use WAL mode "
		    "(journal_mode is %s)", path, mode ? mode : "unknown");
		goto fail;
	}
	sqlite3_finalize(st);
	st = NULL;
	if (sq_exec(&d->base, "PRAGMA synchronous = FULL") == -1 ||
	    sq_exec(&d->base, "PRAGMA foreign_keys = ON") == -1 ||
	    sq_pragma_int(&d->base, "PRAGMA foreign_keys", &fk) == -1) {
		snprintf(err, errlen, "%s", sqlite3_errmsg(d->db));
		goto fail;
	}
	if (fk != 1) {
		snprintf(err, errlen, "SQLite without foreign keys");
		goto fail;
	}
	*out = &d->base;
	return 0;
 fail:
	sqlite3_finalize(st);
	/* WAL creates -wal and -shm beside the file: say so when that is
	 * what SQLite's message hides. */
	l = strlen(err);
	if (!inmem && d->db != NULL && sq_dirname(path, dir,
	    sizeof(dir)) == 0 && access(dir, W_OK) == -1 && l < errlen)
		snprintf(err + l, errlen - l, " (directory %s: %s)", dir,
		    strerror(errno));
	sq_close(&d->base);
	return -1;
}
