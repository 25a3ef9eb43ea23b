/* store_prune.c: job history retention. Jobs that finished before a
 * cutoff go, with their journal and run records, a bounded batch at a
 * time; a job that has not finished is never touched, nor one whose run
 * (parent) or any of whose migrations (children) is kept: a run and its
 * migrations go together. Plain SQL: the PostgreSQL backend takes the
 * same statements. */
#include <stdio.h>
#include <stdlib.h>

#include "store_int.h"

/* Children have higher ids than their parent: newest first deletes a
 * run's migrations before the run, and a batch that ends between them
 * leaves the run for the next. */
static const char prune_select[] =
    "SELECT id FROM jobs j WHERE j.finished = 1 AND j.ended_ms > 0 "
    "AND j.ended_ms < ?1 "
    "AND (j.parent IS NULL OR EXISTS (SELECT 1 FROM jobs p "
    "  WHERE p.id = j.parent AND p.finished = 1 AND p.ended_ms > 0 "
    "  AND p.ended_ms < ?1)) "
    "AND NOT EXISTS (SELECT 1 FROM jobs c WHERE c.parent = j.id "
    "  AND NOT (c.finished = 1 AND c.ended_ms > 0 AND c.ended_ms < ?1)) "
    "ORDER BY j.id DESC LIMIT ?2";
static const char *const prune_delete[] = {
	"DELETE FROM job_events WHERE job_id = ?1",
	"DELETE FROM runs WHERE id = ?1",
	"DELETE FROM jobs WHERE id = ?1 AND finished = 1",
};
#define NDELETE	(sizeof(prune_delete) / sizeof(prune_delete[0]))

/* Deletes at most max jobs that finished before cutoff_ms; *pruned gets
 * how many. 0, or -1 with store_error (nothing deleted). */
int
store_prune(struct store *s, uint64_t cutoff_ms, size_t max, size_t *pruned)
{
	const char *fn = "store_prune";
	struct db_stmt *sel = NULL, *del[NDELETE] = { NULL };
	int64_t *ids = NULL;
	size_t n = 0, i, k;
	int rc = -1, step = DB_DONE;

	*pruned = 0;
	if (max == 0)
		return 0;
	if ((ids = calloc(max, sizeof(*ids))) == NULL) {
		store_seterr(s, fn, "out of memory");
		return -1;
	}
	/* Prepared here, not among store.c's statements: once an hour. */
	if (db_prepare(s->db, prune_select, &sel) < 0)
		goto dberr;
	for (k = 0; k < NDELETE; k++)
		if (db_prepare(s->db, prune_delete[k], &del[k]) < 0)
			goto dberr;
	if (store_begin(s, fn) == -1)
		goto out;
	if (store_bind_u64(sel, 1, cutoff_ms) < 0 ||
	    store_bind_int64(sel, 2, (int64_t)max) < 0)
		goto dberr_rollback;
	while (n < max && (step = db_step(sel)) == DB_ROW)
		ids[n++] = db_col_int64(sel, 0);
	if (n < max && step != DB_DONE)
		goto dberr_rollback;
	db_reset(sel);
	for (i = 0; i < n; i++)
		for (k = 0; k < NDELETE; k++) {
			db_reset(del[k]);
			if (store_bind_int64(del[k], 1, ids[i]) < 0 ||
			    db_step(del[k]) != DB_DONE)
				goto dberr_rollback;
		}
	if (store_commit(s, fn) == -1)
		goto out;
	*pruned = n;
	rc = 0;
	goto out;
dberr_rollback:
	store_dberr(s, fn);
	store_rollback(s);
	goto out;
dberr:
	store_dberr(s, fn);
out:
	db_finalize(sel);
	for (k = 0; k < NDELETE; k++)
		db_finalize(del[k]);
	free(ids);
	return rc;
}
