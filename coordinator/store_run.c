/* store_run.c: runs (drains, restores, rebalances), a record kind of
 * their own beside their job row; see store.h. */
#include <stdlib.h>
#include <string.h>

#include "store_int.h"

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
	struct db_stmt *st;
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
	if (store_insert_id(s, st, fn, &id) == -1)
		goto fail;
	st = store_stmt(s, Q_RUN_INSERT);
	store_bind_int64(st, 1, id);
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
	struct db_stmt *st = store_stmt(s, Q_RUNS_LIST);
	struct store_run *arr = NULL, *r;
	size_t n = 0, cap = 0;
	int rc;

	*out = NULL;
	*nout = 0;
	store_bind_int64(st, 1, only_unfinished ? 1 : 0);
	while ((rc = db_step(st)) == DB_ROW) {
		if (store_grow(s, fn, (void **)&arr, &cap, n,
		    sizeof(*arr)) == -1)
			goto fail;
		r = &arr[n++];
		memset(r, 0, sizeof(*r));
		r->id = store_col_int64(st, 0);
		store_col_text(st, 1, r->kind, sizeof(r->kind));
		store_col_text(st, 2, r->host, sizeof(r->host));
		store_col_text(st, 3, r->state, sizeof(r->state));
		r->finished = (int)store_col_int64(st, 4);
		r->started_ms = store_col_u64(st, 5);
		r->ended_ms = store_col_u64(st, 6);
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
	free(arr);
	return -1;
}
