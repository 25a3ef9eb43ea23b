/* store_db.c: the statement layer's dispatch to its backend, and what the
 * backends share; see store_db.h. */
#include <stdlib.h>
#include <string.h>

#include "store_db.h"

void
db_close(struct db *db)
{
	if (db != NULL)
		db->ops->close(db);
}

const char *
db_name(const struct db *db)
{
	return db->ops->name;
}

const char *
db_errmsg(struct db *db)
{
	return db->ops->errmsg(db);
}

int
db_exec(struct db *db, const char *sql)
{
	return db->ops->exec(db, sql);
}

int
db_prepare(struct db *db, const char *sql, struct db_stmt **out)
{
	return db->ops->prepare(db, sql, out);
}

void
db_finalize(struct db_stmt *st)
{
	if (st != NULL)
		st->db->ops->finalize(st);
}

void
db_reset(struct db_stmt *st)
{
	st->db->ops->reset(st);
}

int
db_bind_null(struct db_stmt *st, int i)
{
	return st->db->ops->bind_null(st, i);
}

int
db_bind_text(struct db_stmt *st, int i, const char *v)
{
	if (v == NULL)
		return st->db->ops->bind_null(st, i);
	return st->db->ops->bind_text(st, i, v);
}

int
db_bind_int64(struct db_stmt *st, int i, int64_t v)
{
	return st->db->ops->bind_int64(st, i, v);
}

int
db_bind_blob(struct db_stmt *st, int i, const void *p, size_t len)
{
	return st->db->ops->bind_blob(st, i, p, len);
}

int
db_fence(struct db *db, uint64_t epoch)
{
	return db->ops->fence != NULL ? db->ops->fence(db, epoch) : 0;
}

int
db_fenced(struct db *db)
{
	return db->ops->fenced != NULL && db->ops->fenced(db);
}

int
db_step(struct db_stmt *st)
{
	return st->db->ops->step(st);
}

int
db_col_null(struct db_stmt *st, int col)
{
	return st->db->ops->col_null(st, col);
}

const char *
db_col_text(struct db_stmt *st, int col)
{
	return st->db->ops->col_text(st, col);
}

int64_t
db_col_int64(struct db_stmt *st, int col)
{
	return st->db->ops->col_int64(st, col);
}

const void *
db_col_blob(struct db_stmt *st, int col, size_t *len)
{
	return st->db->ops->col_blob(st, col, len);
}

int64_t
db_changes(struct db *db)
{
	return db->ops->changes(db);
}

int
db_begin(struct db *db)
{
	return db->ops->begin(db);
}

int
db_commit(struct db *db)
{
	return db->ops->commit(db);
}

void
db_rollback(struct db *db)
{
	db->ops->rollback(db);
}

int
db_lock_schema(struct db *db)
{
	return db->ops->lock_schema(db);
}

int
db_version_get(struct db *db, int *v)
{
	return db->ops->version_get(db, v);
}

int
db_version_set(struct db *db, int v)
{
	return db->ops->version_set(db, v);
}

/*
 * PostgreSQL's placeholders: ?N becomes $N (N given: the store's SQL
 * numbers every placeholder, so a repeated one stays one parameter).
 * Quoted text ('...' and "...") is copied as it is. NULL on ENOMEM.
 */
char *
db_sql_dollar(const char *sql)
{
	char *out, *o;
	char quote = 0;

	if ((out = malloc(strlen(sql) + 1)) == NULL)
		return NULL;
	for (o = out; *sql != '\0'; sql++) {
		if (quote != 0) {
			if (*sql == quote)
				quote = 0;
		} else if (*sql == '\'' || *sql == '"')
			quote = *sql;
		else if (*sql == '?') {
			*o++ = '$';
			continue;
		}
		*o++ = *sql;
	}
	*o = '\0';
	return out;
}
