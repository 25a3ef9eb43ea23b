/* store_int.h: what the store's files share (see store.h for its users):
 * the connection (store_db.h: SQLite or PostgreSQL) with its prepared
 * statements, and the helpers every record kind's file calls; they call
 * no backend's library directly. store.c holds the schema, the statements'
 * SQL, opening and the helpers; store_host.c hosts, trust and inventory;
 * store_job.c jobs and their journal; store_run.c runs (drains, restores,
 * rebalances) beside their job rows.
 */
#ifndef FERRY_STORE_INT_H
#define FERRY_STORE_INT_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"
#include "store_db.h"

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
	Q_AUDIT_INSERT,
	Q_AUDIT_END,
	Q_AUDIT_LIST,
	Q_MAX
};

struct store {
	struct db	*db;
	struct db_stmt	*q[Q_MAX];
	char		 err[512];
	void		(*commit_hook)(void *, double);	/* metrics; may be NULL */
	void		*commit_arg;
};

/* store.c */
void	 store_seterr(struct store *, const char *, const char *, ...)
	    __attribute__((format(printf, 3, 4)));
void	 store_dberr(struct store *s, const char *fn);
struct db_stmt *store_stmt(struct store *s, enum store_q q);
int	 store_bind_text(struct db_stmt *st, int i, const char *v);
int	 store_bind_int64(struct db_stmt *st, int i, int64_t v);
int	 store_bind_u64(struct db_stmt *st, int i, uint64_t v);
void	 store_col_text(struct db_stmt *st, int col, char *dst, size_t size);
int64_t	 store_col_int64(struct db_stmt *st, int col);
uint64_t store_col_u64(struct db_stmt *st, int col);
int	 store_col_strdup(struct db_stmt *st, int col, char **out);
int	 store_step(struct store *s, struct db_stmt *st, const char *fn);
int	 store_run(struct store *s, struct db_stmt *st, const char *fn);
int	 store_insert_id(struct store *s, struct db_stmt *st, const char *fn,
    int64_t *id);
int	 store_begin(struct store *s, const char *fn);
void	 store_rollback(struct store *s);
int	 store_commit(struct store *s, const char *fn);
int	 store_check_len(struct store *s, const char *fn, const char *what,
    const char *v, size_t size);
int	 store_check_port(struct store *s, const char *fn, int port);
int	 store_changed(struct store *s, const char *fn, const char *what,
    const char *name);
int	 store_grow(struct store *s, const char *fn, void **arr, size_t *cap,
    size_t n, size_t sz);

/* store_job.c */
int	 store_event_append(struct store *, const char *fn, int64_t id,
	    const char *type, const char *data, uint64_t now_ms);

#endif
