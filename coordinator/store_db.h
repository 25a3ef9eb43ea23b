/* store_db.h: the statement layer under the store (store_int.h): one
 * connection and its prepared statements, on SQLite (store_sqlite.c) or
 * PostgreSQL through libpq (store_pg.c). store_db.c dispatches.
 *
 * SQL is written once, for both: numbered placeholders ?1, ?2, ... (a
 * number may repeat; PostgreSQL gets them as $1, $2, ...), portable types
 * (INTEGER, BIGINT, TEXT), INSERT ... RETURNING for new ids. PostgreSQL
 * takes a parameter's type from what was bound (text, int8, bytea) or,
 * for NULL, from where it is used: one used only where that says nothing
 * (?1 IS NULL) needs a CAST (CAST(?1 AS TEXT) IS NULL). Values are
 * text, int64, blob or NULL. A statement is stepped to its end, or reset,
 * before the strings bound to it may go away (text is not copied).
 * Every function with an int result returns 0 (or DB_ROW/DB_DONE) on
 * success, -1 with db_errmsg() saying why.
 */
#ifndef FERRY_STORE_DB_H
#define FERRY_STORE_DB_H

#include <stddef.h>
#include <stdint.h>

struct db;
struct db_stmt;

#define DB_DONE		0
#define DB_ROW		1

/* A backend's own answers to what the portable SQL cannot say. */
struct db_ops {
	const char	*name;			/* "sqlite", "postgresql" */
	void	 (*close)(struct db *);
	const char *(*errmsg)(struct db *);
	int	 (*exec)(struct db *, const char *sql);	/* a script */
	int	 (*prepare)(struct db *, const char *sql, struct db_stmt **);
	void	 (*finalize)(struct db_stmt *);
	void	 (*reset)(struct db_stmt *);
	int	 (*bind_null)(struct db_stmt *, int);
	int	 (*bind_text)(struct db_stmt *, int, const char *);
	int	 (*bind_int64)(struct db_stmt *, int, int64_t);
	int	 (*bind_blob)(struct db_stmt *, int, const void *, size_t);
	int	 (*step)(struct db_stmt *);
	int	 (*col_null)(struct db_stmt *, int);
	const char *(*col_text)(struct db_stmt *, int);
	int64_t	 (*col_int64)(struct db_stmt *, int);
	const void *(*col_blob)(struct db_stmt *, int, size_t *);
	int64_t	 (*changes)(struct db *);
	int	 (*begin)(struct db *);
	int	 (*commit)(struct db *);
	void	 (*rollback)(struct db *);
	/* Schema migrations: lock_schema is called first in the migration's
	 * transaction and serialises concurrent migrators; the version is
	 * then read and written in that transaction. */
	int	 (*lock_schema)(struct db *);
	int	 (*version_get)(struct db *, int *);
	int	 (*version_set)(struct db *, int);
	/* Fencing by the lease's epoch (PostgreSQL; NULL elsewhere): fence
	 * makes every later write of this connection, and of the ones it
	 * makes again, conditional on the lease still having that epoch
	 * (0: none); fenced says a write was refused for it. */
	int	 (*fence)(struct db *, uint64_t epoch);
	int	 (*fenced)(struct db *);
};

/* What every backend's connection starts with. */
struct db {
	const struct db_ops	*ops;
};

struct db_stmt {
	struct db		*db;
};

/* store_db.c */
void	 db_close(struct db *);				/* NULL ok */
const char *db_name(const struct db *);
const char *db_errmsg(struct db *);
int	 db_exec(struct db *, const char *sql);
int	 db_prepare(struct db *, const char *sql, struct db_stmt **);
void	 db_finalize(struct db_stmt *);			/* NULL ok */
void	 db_reset(struct db_stmt *);	/* ends the step, clears bindings */
int	 db_bind_null(struct db_stmt *, int);
int	 db_bind_text(struct db_stmt *, int, const char *);	/* NULL: NULL */
int	 db_bind_int64(struct db_stmt *, int, int64_t);
int	 db_bind_blob(struct db_stmt *, int, const void *, size_t);
int	 db_step(struct db_stmt *);		/* DB_ROW, DB_DONE or -1 */
int	 db_fence(struct db *, uint64_t epoch);	/* 0 where nothing fences */
int	 db_fenced(struct db *);
int	 db_col_null(struct db_stmt *, int);
const char *db_col_text(struct db_stmt *, int);	/* NULL for NULL */
int64_t	 db_col_int64(struct db_stmt *, int);
const void *db_col_blob(struct db_stmt *, int, size_t *);
int64_t	 db_changes(struct db *);	/* rows the last statement changed */
int	 db_begin(struct db *);
int	 db_commit(struct db *);
void	 db_rollback(struct db *);
int	 db_lock_schema(struct db *);
int	 db_version_get(struct db *, int *);
int	 db_version_set(struct db *, int);
char	*db_sql_dollar(const char *sql);	/* ?N -> $N; free() it */

/* store_sqlite.c */
int	 db_sqlite_open(const char *path, struct db **, char *err,
	    size_t errlen);

/* store_pg.c */
int	 db_pg_open(const char *conninfo, struct db **, char *err,
	    size_t errlen);

#endif
