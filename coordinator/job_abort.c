/* job_abort.c: aborting a migration in flight. The abort stays pending
 * until the job leaves migrating: re-sent on a refusal, or when the
 * migration has not ended by abort_next_ms (monotonic clock); its fate is
 * in the job's history. Nothing here changes the job's state: the
 * migration's end does (job.c's "ended" edge).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "coordinator.h"
#include "log.h"

/* An entry of the abort's fate in the job's history, and to watchers. */
void __attribute__((format(printf, 2, 3)))
job_abort_note(struct job *j, const char *fmt, ...)
{
	char msg[1400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_job_info(j->id, j->vm, "%s", msg);
	if (store_job_event(j->co->store, j->id, "abort", msg,
	    clock_wall_ms()) < 0)
		log_warnx("%s", store_error(j->co->store));
	job_emit_state(j, msg);
}

static void
job_abort_cb(struct host *h, const struct frame *f, const char *err, void *arg)
{
	struct job *j = arg;
	int code = f == NULL ? h->reply_code : 0;
	uint64_t now = job_mono_ms();

	j->calls--;
	j->abort_inflight = 0;
	if (j->state != JOB_MIGRATING) {
		/* The migration ended before the reply came (libvirt need not
		 * answer before QEMU has cancelled); verification waited. */
		if (f != NULL)
			job_abort_note(j, "abort %d: libvirt on %s accepted it",
			    j->abort_attempts, j->source);
		else
			job_abort_note(j, "abort %d: %s: %s", j->abort_attempts,
			    j->source, err);
		if (j->state == JOB_VERIFYING && j->calls == 0)
			job_verify(j);
		return;
	}
	if (f != NULL) {
		job_abort_note(j, "abort %d: libvirt on %s accepted it; waiting "
		    "for the migration to end", j->abort_attempts, j->source);
		j->abort_next_ms = now + ABORT_CONFIRM_MS;
	} else if (code == ESRCH) {
		/* Ended on its own: its result is on its way, or asked for. */
		job_abort_note(j, "abort %d: %s: %s; asking for its result",
		    j->abort_attempts, j->source, err);
		j->abort_next_ms = now + ABORT_CONFIRM_MS;
		job_query(j);
	} else if (code == EPERM) {
		job_abort_note(j, "abort %d refused by %s: %s; not retried",
		    j->abort_attempts, j->source, err);
		j->abort_given_up = 1;
	} else {
		job_abort_note(j, "abort %d failed on %s: %s; retrying in %d s",
		    j->abort_attempts, j->source, err, ABORT_RETRY_MS / 1000);
		j->abort_next_ms = now + ABORT_RETRY_MS;
	}
}

/* Sends the abort to the source unless one is in flight; a source that is
 * not connected gets it again on the next tick after ABORT_RETRY_MS. */
int
job_abort_send(struct job *j)
{
	Ferry__JobRef ref = FERRY__JOB_REF__INIT;
	struct host *sh = coord_host_find(j->co, j->source);

	if (j->abort_inflight || j->abort_given_up || j->postcopy ||
	    j->state != JOB_MIGRATING)
		return 0;
	ref.job_id = j->id;
	ref.name = j->vm;
	j->abort_next_ms = job_mono_ms() + ABORT_RETRY_MS;
	if (sh == NULL || peer_call(sh, MSG_ABORT, &ref.base, HOSTD_TIMEOUT_MS,
	    job_abort_cb, j) < 0)
		return -1;
	j->calls++;
	j->abort_inflight = 1;
	j->abort_attempts++;
	return 0;
}

int
job_abort(struct coord *co, int64_t id, const char *why, char *err,
    size_t errlen)
{
	struct job *j = job_find(co, id);

	if (j == NULL || j->check_only) {
		snprintf(err, errlen, "job %lld is not running", (long long)id);
		return -FERRY_ECONFLICT;
	}
	if (j->state == JOB_VERIFYING) {
		snprintf(err, errlen, "job %lld is already verifying its outcome",
		    (long long)id);
		return -FERRY_ECONFLICT;
	}
	if (j->postcopy) {
		snprintf(err, errlen, "job %lld is in post-copy: the VM already "
		    "runs on %s and cannot go back", (long long)id,
		    j->destination);
		return -FERRY_ECONFLICT;
	}
	if (j->abort_requested) {
		/* Already pending: job_tick re-sends it as needed. */
		return 0;
	}
	j->abort_requested = 1;
	snprintf(j->abort_reason, sizeof(j->abort_reason), "%s", why);
	/* Journaled as its own type: a coordinator restarted before the
	 * source confirmed it takes the abort up again (job_recover_abort). */
	if (store_job_event(co->store, j->id, JOB_EV_ABORT_REQUEST, why,
	    clock_wall_ms()) < 0)
		log_job_warnx(j->id, j->vm, "abort not journaled (a restart "
		    "before it takes effect forgets it): %s",
		    store_error(co->store));
	log_job_info(j->id, j->vm, "abort requested: %s", why);
	if (j->state == JOB_CHECKING && j->step == JOB_STEP_HELD) {
		job_release(j);	/* checked and waiting: ends now */
		return 0;
	}
	if (j->state != JOB_MIGRATING)
		return 0;	/* checks finish, then nothing starts */
	snprintf(j->error, sizeof(j->error), "%s", why);
	if (job_abort_send(j) < 0) {
		snprintf(err, errlen, "source %s is not connected; the abort "
		    "will be retried", j->source);
		return 0;
	}
	return 0;
}


/*
 * A recovered job whose journal holds an abort request: the abort is still
 * pending (the source may never have got it, or its reply was lost with the
 * old coordinator). A migrating job sends it again from job_tick; one that
 * ends anyway reports the abort's fate in its history. -1 when the journal
 * cannot be read: the caller does not guess.
 */
int
job_recover_abort(struct job *j)
{
	struct store_event *ev = NULL;
	size_t n = 0, i;

	if (store_job_events(j->co->store, j->id, &ev, &n) < 0)
		return -1;
	for (i = 0; i < n; i++) {
		if (strcmp(ev[i].type, JOB_EV_ABORT_REQUEST) != 0)
			continue;
		j->abort_requested = 1;
		snprintf(j->abort_reason, sizeof(j->abort_reason), "%s",
		    ev[i].data ? ev[i].data : "aborted");
		snprintf(j->error, sizeof(j->error), "%s", j->abort_reason);
	}
	store_event_list_free(ev, n);
	if (!j->abort_requested)
		return 0;
	j->abort_next_ms = 0;	/* at once, once the source is connected */
	if (j->state == JOB_MIGRATING)
		job_abort_note(j, "coordinator restarted with the abort pending "
		    "(%s); sending it again", j->abort_reason);
	return 0;
}
