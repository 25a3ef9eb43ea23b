/* store_job.c: jobs and their journal of events: creation,
 * transitions, the end, listing; see store.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "store_int.h"

/* Jobs */

/* Appends an event to job id, recording the job's current state. The
 * caller holds a transaction (also store_run.c's). */
int
store_event_append(struct store *s, const char *fn, int64_t id,
    const char *type, const char *data, uint64_t now_ms)
{
	struct db_stmt *st = store_stmt(s, Q_EVENT_APPEND);

	store_bind_int64(st, 1, id);
	store_bind_u64(st, 2, now_ms);
	store_bind_text(st, 3, type);
	store_bind_text(st, 4, data);
	if (store_run(s, st, fn) == -1)
		return -1;
	if (db_changes(s->db) == 0) {
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
	struct db_stmt *st;
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
		store_bind_int64(st, 8, j->parent);
	store_bind_u64(st, 9, now_ms);
	if (store_insert_id(s, st, fn, &id) == -1)
		goto fail;
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
	struct db_stmt *st = store_stmt(s, Q_JOB_FINISHED);
	int rc;

	store_bind_int64(st, 1, id);
	rc = db_step(st);
	if (rc == DB_ROW)
		store_seterr(s, fn, "job %lld is already finished",
		    (long long)id);
	else if (rc == DB_DONE)
		store_seterr(s, fn, "no job %lld", (long long)id);
	else
		store_dberr(s, fn);
	db_reset(st);
}

/* A job row update bound as (?1 id, ?2 value, ?3 now) and the event that
 * records it, in one transaction: the journal entry exists before anyone
 * acts on the change. */
static int
store_job_update(struct store *s, const char *fn, int q, int64_t id,
    const char *value, uint64_t now_ms, const char *evtype,
    const char *evdata)
{
	struct db_stmt *st;

	if (store_begin(s, fn) == -1)
		return -1;
	st = store_stmt(s, q);
	store_bind_int64(st, 1, id);
	store_bind_text(st, 2, value);
	store_bind_u64(st, 3, now_ms);
	if (store_run(s, st, fn) == -1)
		goto fail;
	if (db_changes(s->db) == 0) {
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
	struct db_stmt *st;

	if (store_check_len(s, fn, "state", state, sizeof(j.state)) == -1)
		return -1;
	if (store_begin(s, fn) == -1)
		return -1;
	st = store_stmt(s, Q_JOB_FINISH);
	store_bind_int64(st, 1, id);
	store_bind_text(st, 2, state);
	store_bind_text(st, 3, error);
	store_bind_u64(st, 4, now_ms);
	if (store_run(s, st, fn) == -1)
		goto fail;
	if (db_changes(s->db) == 0) {
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
	struct db_stmt *st;

	if (store_check_len(s, fn, "event type", type, sizeof(e.type)) == -1)
		return -1;
	if (store_begin(s, fn) == -1)
		return -1;
	if (store_event_append(s, fn, id, type, data, now_ms) == -1)
		goto fail;
	st = store_stmt(s, Q_JOB_TOUCH);
	store_bind_int64(st, 1, id);
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
store_job_row(struct store *s, const char *fn, struct db_stmt *st,
    struct store_job *j)
{
	memset(j, 0, sizeof(*j));
	j->id = store_col_int64(st, 0);
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
	j->parent = store_col_int64(st, 8);
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
	struct db_stmt *st = store_stmt(s, Q_JOB_GET);
	int rc;

	memset(j, 0, sizeof(*j));
	store_bind_int64(st, 1, id);
	switch (db_step(st)) {
	case DB_ROW:
		rc = store_job_row(s, fn, st, j) == -1 ? -1 : 1;
		break;
	case DB_DONE:
		rc = 0;
		break;
	default:
		store_dberr(s, fn);
		rc = -1;
		break;
	}
	db_reset(st);
	return rc;
}

/* The newest `limit` jobs (0: all), in ascending id order. */
int
store_jobs_list(struct store *s, int only_unfinished, size_t limit,
    struct store_job **out, size_t *nout)
{
	const char *fn = "store_jobs_list";
	struct db_stmt *st = store_stmt(s, Q_JOBS_LIST);
	struct store_job *arr = NULL;
	size_t n = 0, cap = 0;
	int rc;

	*out = NULL;
	*nout = 0;
	store_bind_int64(st, 1, only_unfinished ? 1 : 0);
	store_bind_int64(st, 2, limit == 0 || limit > INT64_MAX ?
	    INT64_MAX : (int64_t)limit);
	while ((rc = db_step(st)) == DB_ROW) {
		if (store_grow(s, fn, (void **)&arr, &cap, n,
		    sizeof(*arr)) == -1 ||
		    store_job_row(s, fn, st, &arr[n]) == -1)
			goto fail;
		n++;
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
	store_job_list_free(arr, n);
	return -1;
}

int
store_job_events(struct store *s, int64_t id, struct store_event **out,
    size_t *nout)
{
	const char *fn = "store_job_events";
	struct db_stmt *st = store_stmt(s, Q_EVENTS_LIST);
	struct store_event *arr = NULL, *e;
	size_t n = 0, cap = 0;
	int rc;

	*out = NULL;
	*nout = 0;
	store_bind_int64(st, 1, id);
	while ((rc = db_step(st)) == DB_ROW) {
		if (store_grow(s, fn, (void **)&arr, &cap, n,
		    sizeof(*arr)) == -1)
			goto fail;
		e = &arr[n];
		e->job_id = store_col_int64(st, 0);
		e->seq = store_col_int64(st, 1);
		e->time_ms = store_col_u64(st, 2);
		store_col_text(st, 3, e->type, sizeof(e->type));
		store_col_text(st, 4, e->state, sizeof(e->state));
		if (store_col_strdup(st, 5, &e->data) == -1) {
			store_seterr(s, fn, "out of memory");
			goto fail;
		}
		n++;
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
