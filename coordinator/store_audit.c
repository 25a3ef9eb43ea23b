/* store_audit.c: the audit trail's rows; see store.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_int.h"

int
store_audit_insert(struct store *s, struct store_audit *a)
{
	const char *fn = "store_audit_insert";
	struct db_stmt *st;

	if (store_check_len(s, fn, "via", a->via, sizeof(a->via)) == -1 ||
	    store_check_len(s, fn, "who", a->who, sizeof(a->who)) == -1 ||
	    store_check_len(s, fn, "what", a->what, sizeof(a->what)) == -1)
		return -1;
	st = store_stmt(s, Q_AUDIT_INSERT);
	store_bind_u64(st, 1, a->time_ms);
	store_bind_text(st, 2, a->via);
	store_bind_text(st, 3, a->who);
	if (a->has_uid) {
		store_bind_int64(st, 4, a->uid);
		store_bind_int64(st, 5, a->pid);
	} else {
		db_bind_null(st, 4);
		db_bind_null(st, 5);
	}
	store_bind_text(st, 6, a->what);
	store_bind_text(st, 7, a->args);
	if (a->node[0])
		store_bind_text(st, 8, a->node);
	else
		db_bind_null(st, 8);
	if (store_insert_id(s, st, fn, &a->id) == -1)
		return -1;
	snprintf(a->outcome, sizeof(a->outcome), "pending");
	return 0;
}

/* Only a pending row changes: an outcome is written once. */
int
store_audit_end(struct store *s, int64_t id, const char *outcome,
    int64_t job_id, const char *message, uint64_t now_ms)
{
	const char *fn = "store_audit_end";
	struct db_stmt *st = store_stmt(s, Q_AUDIT_END);

	store_bind_int64(st, 1, id);
	store_bind_text(st, 2, outcome);
	if (job_id > 0)
		store_bind_int64(st, 3, job_id);
	else
		db_bind_null(st, 3);
	store_bind_text(st, 4, message);
	store_bind_u64(st, 5, now_ms);
	return store_run(s, st, fn);
}

/* The newest limit rows (0: all) at or after since_ms, oldest first. */
int
store_audit_list(struct store *s, uint64_t since_ms, size_t limit,
    struct store_audit **out, size_t *nout)
{
	const char *fn = "store_audit_list";
	struct db_stmt *st = store_stmt(s, Q_AUDIT_LIST);
	struct store_audit *arr = NULL, *a;
	size_t n = 0, cap = 0;
	int rc;

	*out = NULL;
	*nout = 0;
	store_bind_u64(st, 1, since_ms);
	store_bind_int64(st, 2, limit == 0 || limit > INT64_MAX ? INT64_MAX :
	    (int64_t)limit);
	while ((rc = db_step(st)) == DB_ROW) {
		if (store_grow(s, fn, (void **)&arr, &cap, n,
		    sizeof(*arr)) == -1)
			goto fail;
		a = &arr[n++];
		memset(a, 0, sizeof(*a));
		a->id = store_col_int64(st, 0);
		a->time_ms = store_col_u64(st, 1);
		store_col_text(st, 2, a->via, sizeof(a->via));
		store_col_text(st, 3, a->who, sizeof(a->who));
		if (!db_col_null(st, 4)) {
			a->has_uid = 1;
			a->uid = store_col_int64(st, 4);
			a->pid = store_col_int64(st, 5);
		}
		store_col_text(st, 6, a->what, sizeof(a->what));
		if (store_col_strdup(st, 7, &a->args) == -1) {
			store_seterr(s, fn, "out of memory");
			goto fail;
		}
		store_col_text(st, 8, a->outcome, sizeof(a->outcome));
		a->job_id = store_col_int64(st, 9);
		if (store_col_strdup(st, 10, &a->message) == -1) {
			store_seterr(s, fn, "out of memory");
			goto fail;
		}
		a->ended_ms = store_col_u64(st, 11);
		store_col_text(st, 12, a->job_state, sizeof(a->job_state));
		if (!db_col_null(st, 13))
			store_col_text(st, 13, a->node, sizeof(a->node));
	}
	if (rc != DB_DONE) {
		store_dberr(s, fn);
		goto fail;
	}
	db_reset(st);
	*out = arr;
	*nout = n;
	return 0;
 fail:
	db_reset(st);
	store_audit_list_free(arr, n);
	return -1;
}

void
store_audit_list_free(struct store_audit *arr, size_t n)
{
	size_t i;

	if (arr == NULL)
		return;
	for (i = 0; i < n; i++) {
		free(arr[i].args);
		free(arr[i].message);
	}
	free(arr);
}
