/* job_verify.c: a migration's outcome, asked of both hosts (DOMAIN_STATE),
 * never taken from libvirt's return value or one host's word; the removal
 * of a failed incoming migration's leftover when both agree; and the end:
 * a final state journaled with what each host said, then told to the
 * watchers and the job's parent (job_done, the final edges' action).
 *
 * Sub-states of "verifying": ASKING (calls in flight), WAITING (asked
 * again at verify_next_ms), CLEANING (DESTROY_LEFTOVER in flight).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "coordinator.h"
#include "jsonv.h"
#include "log.h"

#define MIB			(1024.0 * 1024.0)

/* ---- verification -------------------------------------------------------- */

static int
job_is(const Ferry__DomainState *s, const char *state)
{
	return s && s->exists && s->state && strcmp(s->state, state) == 0;
}

static int
job_absent(const Ferry__DomainState *s)
{
	return s && (!s->exists || job_is(s, "shutoff"));
}

static void
job_describe(const Ferry__DomainState *s, const char *err, char *buf,
    size_t len)
{
	if (s == NULL)
		snprintf(buf, len, "unknown (%s)", err[0] ? err : "not asked");
	else if (!s->exists)
		snprintf(buf, len, "absent");
	else
		snprintf(buf, len, "%s%s%s%s", s->state,
		    s->reason ? " (" : "", s->reason ? s->reason : "",
		    s->reason ? ")" : "");
}

static void
job_destroy_cb(struct host *h, const struct frame *f, const char *err,
    void *arg)
{
	struct job *j = arg;

	j->calls--;
	if (f == NULL)
		log_job_warnx(j->id, j->vm, "removing the leftover on %s: %s",
		    h->conf.name, err);
	j->verify_next_ms = clock_mono_ms();	/* look again */
	job_verify(j);
}

/* Whether the destination's copy d is this migration's leftover, by what
 * both hosts say: the same UUID on both (and the job's, when known), paused
 * for the incoming migration or still starting up, no libvirt job on it.
 * 0 yes, -1 no (why says it), 1 not yet (a libvirt job is on it). */
static int
job_leftover(const struct job *j, const Ferry__DomainState *s,
    const Ferry__DomainState *d, char *why, size_t len)
{
	if (d->uuid == NULL || s->uuid == NULL || d->uuid[0] == '\0' ||
	    strcmp(d->uuid, s->uuid) != 0 ||
	    (j->uuid[0] && strcmp(d->uuid, j->uuid) != 0)) {
		snprintf(why, len, "its UUID %.40s is not the source's %.40s",
		    d->uuid ? d->uuid : "(none)", s->uuid ? s->uuid : "(none)");
		return -1;
	}
	if (!job_is(d, "paused") || d->reason == NULL ||
	    (strcmp(d->reason, "migration") != 0 &&
	    strcmp(d->reason, "starting-up") != 0)) {
		snprintf(why, len, "it is %s (%s), not what a failed incoming "
		    "migration leaves", d->state ? d->state : "?",
		    d->reason ? d->reason : "no reason");
		return -1;
	}
	if (d->has_job_active && d->job_active) {
		snprintf(why, len, "libvirt still has a job on it");
		return 1;	/* libvirt may still be cleaning it up: wait */
	}
	return 0;
}

static int
job_destroy_leftover(struct job *j, const char *host, const char *uuid)
{
	Ferry__DestroyRequest req = FERRY__DESTROY_REQUEST__INIT;
	struct host *h = coord_host_find(j->co, host);

	req.name = j->vm;
	req.uuid = (char *)uuid;
	req.has_only_if_not_running = 1;
	req.only_if_not_running = 1;
	if (h == NULL || peer_call(h, MSG_DESTROY_LEFTOVER, &req.base,
	    HOSTD_TIMEOUT_MS, job_destroy_cb, j) < 0)
		return -1;
	j->calls++;
	j->cleanup_sent++;
	j->step = JOB_STEP_CLEANING;
	return 0;
}

static void
job_undefine_cb(struct host *h, const struct frame *f, const char *err,
    void *arg)
{
	struct job *j = arg;
	char msg[400];

	j->calls--;
	if (f == NULL) {
		snprintf(j->undefine_err, sizeof(j->undefine_err), "%s", err);
		snprintf(msg, sizeof(msg), "undefining the source's leftover "
		    "definition on %s failed: %s", h->conf.name, err);
	} else
		snprintf(msg, sizeof(msg), "undefined the source's leftover "
		    "inactive definition on %s", h->conf.name);
	log_job_info(j->id, j->vm, "%s", msg);
	if (store_job_event(j->co->store, j->id, "cleanup", msg,
	    clock_wall_ms()) < 0)
		log_job_warnx(j->id, j->vm, "%s", store_error(j->co->store));
	j->verify_next_ms = clock_mono_ms();	/* look again */
	job_verify(j);
}

/*
 * Called once success is verified with both hosts (the destination runs the
 * VM, same UUID on both, the source's copy is not running). The source may
 * still hold a persistent, shut-off definition: libvirt's UNDEFINE_SOURCE
 * runs only when its migration call itself ends well, not after a post-copy
 * whose connection broke. A `virsh start` or autostart there would boot a
 * second copy, so it is undefined, journaled first; only when the source
 * says shut off (migrated) with no libvirt job, and hostd checks UUID and
 * inactivity again on the handle it undefines. Returns 1 when the job waits
 * for that or has ended here (a definition left is reported), 0 when
 * nothing is left and the caller finishes the job as succeeded.
 */
static int
job_undefine_source(struct job *j, const Ferry__DomainState *s,
    const Ferry__DomainState *d)
{
	Ferry__DestroyRequest req = FERRY__DESTROY_REQUEST__INIT;
	struct host *h = coord_host_find(j->co, j->source);
	char msg[400];

	if (!s->exists)
		return 0;
	if (j->undefine_sent) {
		job_finish(j, JOB_SUCCEEDED, "%s runs on %s; %s still holds an "
		    "inactive definition of it (%s): remove it there with "
		    "virsh undefine", j->vm, j->destination, j->source,
		    j->undefine_err[0] ? j->undefine_err : "it is still there");
		return 1;
	}
	if (!job_is(s, "shutoff") || s->reason == NULL ||
	    strcmp(s->reason, "migrated") != 0 ||
	    (s->has_job_active && s->job_active) || s->uuid == NULL ||
	    d->uuid == NULL || strcmp(s->uuid, d->uuid) != 0 ||
	    (j->uuid[0] && strcmp(s->uuid, j->uuid) != 0)) {
		job_finish(j, JOB_SUCCEEDED, "%s runs on %s; %s holds a "
		    "definition Ferry leaves alone (%s, %s, UUID %.40s): check "
		    "it, then remove it there (virsh undefine)", j->vm,
		    j->destination, j->source, s->state ? s->state : "?",
		    s->reason ? s->reason : "no reason",
		    s->uuid ? s->uuid : "(none)");
		return 1;
	}
	snprintf(msg, sizeof(msg), "%s runs on %s; undefining the inactive "
	    "definition %s keeps (UUID %.40s)", j->vm, j->destination,
	    j->source, s->uuid);
	log_job_info(j->id, j->vm, "%s", msg);
	if (store_job_event(j->co->store, j->id, "cleanup", msg,
	    clock_wall_ms()) < 0) {
		/* Not journaled, not done: the operator hears of it. */
		snprintf(j->undefine_err, sizeof(j->undefine_err),
		    "not undefined: %s", store_error(j->co->store));
		j->undefine_sent = 1;
		return job_undefine_source(j, s, d);
	}
	req.name = j->vm;
	req.uuid = s->uuid;
	j->undefine_sent = 1;
	if (h == NULL || peer_call(h, MSG_UNDEFINE_LEFTOVER, &req.base,
	    HOSTD_TIMEOUT_MS, job_undefine_cb, j) < 0) {
		snprintf(j->undefine_err, sizeof(j->undefine_err), "%s is not "
		    "connected", j->source);
		return job_undefine_source(j, s, d);
	}
	j->calls++;
	j->step = JOB_STEP_CLEANING;
	return 1;
}

/* Verifying: ask again after VERIFY_RETRY_MS (job_tick). */
void
job_wait(struct job *j, uint64_t now)
{
	j->verify_next_ms = now + VERIFY_RETRY_MS;
	j->step = JOB_STEP_WAITING;
}

/* Both answers are in: the VM must run on exactly one host. */
static void
job_judge(struct job *j)
{
	const Ferry__DomainState *s = j->src_state, *d = j->dst_state;
	char sd[160], dd[160], why[400];
	uint64_t now = clock_mono_ms();

	if (j->co->stopping)
		return;		/* a shutdown neither judges nor destroys */
	job_describe(s, j->src_err, sd, sizeof(sd));
	job_describe(d, j->dst_err, dd, sizeof(dd));
	log_job_info(j->id, j->vm, "%s reports %s; %s reports %s",
	    j->source, sd, j->destination, dd);

	/* libvirt still has the migration job: wait for it to end. */
	if ((s && s->has_job_active && s->job_active && !job_absent(s)) &&
	    now < j->deadline_ms) {
		job_wait(j, now);
		return;
	}
	if (s == NULL || d == NULL) {
		if (now < j->deadline_ms) {
			job_wait(j, now);
			return;
		}
		job_finish(j, JOB_FAILED, "cannot verify where %s runs: %s "
		    "reports %s, %s reports %s", j->vm, j->source, sd,
		    j->destination, dd);
		return;
	}
	if (job_is(d, "running") && job_absent(s)) {
		if (j->uuid[0] && d->uuid && strcmp(d->uuid, j->uuid) != 0) {
			job_finish(j, JOB_FAILED, "%s reports a running %s with "
			    "UUID %.40s, not the migrated VM's %s: %s reports %s",
			    j->destination, j->vm, d->uuid, j->uuid, j->source,
			    sd);
			return;
		}
		if (job_undefine_source(j, s, d))
			return;
		job_finish(j, JOB_SUCCEEDED, "%s runs on %s", j->vm,
		    j->destination);
		return;
	}
	/* A failed post-copy: the guest runs on the destination but some of
	 * its memory is still on the paused source. Resume it while both
	 * hosts answer; only they together hold the whole guest. */
	if (s->exists && d->exists && s->reason && d->reason &&
	    strstr(s->reason, "postcopy") && strstr(d->reason, "postcopy") &&
	    !job_is(s, "running")) {
		if (j->resumes < 3 && now < j->deadline_ms) {
			job_try_resume(j);
			return;
		}
		job_finish(j, JOB_FAILED, "post-copy of %s failed and could not "
		    "be resumed: %s reports %s, %s reports %s", j->vm, j->source,
		    sd, j->destination, dd);
		return;
	}
	if (job_is(s, "running") && job_absent(d)) {
		if (j->result_ok && j->have_result)
			job_finish(j, JOB_ROLLED_BACK, "libvirt reported success "
			    "but %s runs on %s", j->vm, j->source);
		else
			job_finish(j, JOB_ROLLED_BACK, "%s", j->error[0] ?
			    j->error : "the migration did not complete");
		return;
	}
	/* A paused or half-born copy on the destination while the source
	 * runs: what a failed incoming migration can leave. Removed only when
	 * both hosts agree it is that VM (UUID) and it is in a leftover's
	 * state; hostd checks the same again. */
	if (job_is(s, "running") && d->exists && !job_is(d, "running")) {
		int r = job_leftover(j, s, d, why, sizeof(why));

		if (r == 1 && now < j->deadline_ms) {
			job_wait(j, now);
			return;
		}
		if (r != 0) {
			job_finish(j, JOB_FAILED, "%s runs on %s; %s holds a copy "
			    "Ferry does not destroy (%s): %s reports %s, %s "
			    "reports %s", j->vm, j->source, j->destination, why,
			    j->source, sd, j->destination, dd);
			return;
		}
		if (j->cleanup_sent < 3 && now < j->deadline_ms &&
		    job_destroy_leftover(j, j->destination, d->uuid) == 0)
			return;
	}
	/* A post-copy that finished on its own after libvirt's connection
	 * closed (a link cut past its keepalive): the destination's libvirt
	 * sees its QEMU done (running, migrated) before the source's sees its
	 * own and shuts its copy off (migrated); the lab saw the source still
	 * paused (postcopy-failed), with no job, 2 s before that. Judged then,
	 * the job failed and left the source's definition behind. The source
	 * decides: asked again until the deadline (then the operator is told,
	 * below); nothing is destroyed meanwhile. */
	if (job_is(d, "running") && job_is(s, "paused") && s->reason &&
	    strstr(s->reason, "postcopy") && now < j->deadline_ms) {
		if (!j->settle_noted) {
			j->settle_noted = 1;
			snprintf(why, sizeof(why), "%s reports %s running (%s), "
			    "%s still %s: waiting for the source to see its "
			    "post-copy end", j->destination, j->vm,
			    d->reason ? d->reason : "no reason", j->source, sd);
			log_job_info(j->id, j->vm, "%s", why);
			if (store_job_event(j->co->store, j->id, "info", why,
			    clock_wall_ms()) < 0)
				log_job_warnx(j->id, j->vm, "%s",
				    store_error(j->co->store));
		}
		job_wait(j, now);
		return;
	}
	/* The destination runs and the source holds a paused copy (libvirt's
	 * "a third party must check" case). Only the destination says its
	 * copy is complete: one host's word destroys nothing. */
	if (job_is(d, "running") && s->exists && !job_is(s, "running") &&
	    !(d->reason && strstr(d->reason, "postcopy"))) {
		job_finish(j, JOB_FAILED, "%s reports %s running (%s) while %s "
		    "still holds a copy (%s); Ferry destroys nothing on one "
		    "host's word: check the guest on %s, then remove the copy "
		    "on %s (virsh destroy, undefine)", j->destination, j->vm,
		    d->reason ? d->reason : "no reason", j->source, sd,
		    j->destination, j->source);
		return;
	}
	if (job_is(s, "running") && job_is(d, "running")) {
		job_finish(j, JOB_FAILED, "%s runs on BOTH %s and %s: stop one "
		    "by hand after checking which has the current state",
		    j->vm, j->source, j->destination);
		return;
	}
	if (now < j->deadline_ms && (!job_is(s, "running") &&
	    !job_is(d, "running"))) {
		/* Neither runs yet; libvirt may be resuming one. */
		if (j->verify_round < 10) {
			job_wait(j, now);
			return;
		}
	}
	job_finish(j, JOB_FAILED, "%s needs an operator: %s reports %s, %s "
	    "reports %s", j->vm, j->source, sd, j->destination, dd);
}

static void
job_state_cb(struct host *h, const struct frame *f, const char *err, void *arg)
{
	struct job *j = arg;
	Ferry__DomainState **slot;
	char *errbuf;
	int *have;

	j->calls--;
	if (strcmp(h->conf.name, j->source) == 0) {
		slot = &j->src_state;
		errbuf = j->src_err;
		have = &j->src_have;
	} else {
		slot = &j->dst_state;
		errbuf = j->dst_err;
		have = &j->dst_have;
	}
	*have = 1;
	if (*slot) {
		ferry__domain_state__free_unpacked(*slot, NULL);
		*slot = NULL;
	}
	if (f == NULL)
		snprintf(errbuf, 256, "%s", err);
	else if ((*slot = (Ferry__DomainState *)frame_unpack(f,
	    &ferry__domain_state__descriptor)) == NULL)
		snprintf(errbuf, 256, "malformed reply");
	else
		errbuf[0] = '\0';
	if (j->src_have && j->dst_have && j->state == JOB_VERIFYING &&
	    j->calls == 0)
		job_judge(j);
}

static int
job_ask(struct job *j, const char *host)
{
	Ferry__DomainRef ref = FERRY__DOMAIN_REF__INIT;
	struct host *h = coord_host_find(j->co, host);

	ref.name = j->vm;
	if (h == NULL || !h->up || peer_call(h, MSG_DOMAIN_STATE, &ref.base,
	    HOSTD_TIMEOUT_MS, job_state_cb, j) < 0)
		return -1;
	j->calls++;
	return 0;
}

/* Asks both hosts what they see. Hosts that are down are asked again when
 * they return (job_host_up) or on the next retry. */
void
job_verify(struct job *j)
{
	uint64_t now = clock_mono_ms();

	if (j->state != JOB_VERIFYING || j->calls > 0 || j->co->stopping)
		return;
	/* The deadline is the state's, set by job_enter (or recovery). */
	if (j->deadline_ms == 0)
		j->deadline_ms = job_deadline_of(j, JOB_VERIFYING, now);
	j->verify_round++;
	j->verify_next_ms = 0;
	j->step = JOB_STEP_ASKING;
	j->src_have = j->dst_have = 0;
	if (job_ask(j, j->source) < 0) {
		j->src_have = 1;
		snprintf(j->src_err, sizeof(j->src_err), "host %s is down",
		    j->source);
		if (j->src_state) {
			ferry__domain_state__free_unpacked(j->src_state, NULL);
			j->src_state = NULL;
		}
	}
	if (job_ask(j, j->destination) < 0) {
		j->dst_have = 1;
		snprintf(j->dst_err, sizeof(j->dst_err), "host %s is down",
		    j->destination);
		if (j->dst_state) {
			ferry__domain_state__free_unpacked(j->dst_state, NULL);
			j->dst_state = NULL;
		}
	}
	if (j->calls == 0)
		job_judge(j);
}

/* ---- the end --------------------------------------------------------------- */

static struct json_object *
job_state_json(const Ferry__DomainState *s, const char *err)
{
	struct json_object *o = json_object_new_object();

	if (s == NULL) {
		json_object_object_add(o, "error", json_object_new_string(
		    err[0] ? err : "not asked"));
		return o;
	}
	json_object_object_add(o, "exists", json_object_new_boolean(s->exists));
	if (s->state)
		json_object_object_add(o, "state",
		    json_object_new_string(s->state));
	if (s->reason)
		json_object_object_add(o, "reason",
		    json_object_new_string(s->reason));
	return o;
}

static const char *
job_running_on(const struct job *j, enum job_state s)
{
	if (s == JOB_SUCCEEDED)
		return j->destination;
	if (s == JOB_ROLLED_BACK || s == JOB_REFUSED)
		return j->source;
	return NULL;
}

/*
 * The final figures of a successful migration: what libvirt measured, as
 * the destination keeps it (its completed-job statistics, handed over in
 * the migration cookie). The source's are gone with its domain
 * (UNDEFINE_SOURCE). Without them a figure is unknown, never an estimate.
 * The destination speaks only of its own VM here.
 */
static void
job_take_figures(struct job *j)
{
	const Ferry__JobFigures *f;

	j->has_downtime = j->has_data = j->has_migration_ms = 0;
	j->passes = 0;
	if (j->dst_state == NULL || (f = j->dst_state->completed) == NULL)
		return;
	if (f->has_downtime_ms) {
		j->has_downtime = 1;
		j->downtime_ms = f->downtime_ms;
	}
	if (f->has_data_bytes) {
		j->has_data = 1;
		j->data_bytes = f->data_bytes;
	}
	if (f->has_time_elapsed_ms) {
		j->has_migration_ms = 1;
		j->migration_ms = f->time_elapsed_ms;
	}
	if (f->has_iterations)
		j->passes = f->iterations;
	job_copy_figures(j, f);
}

/* A final state, by the edge that leads there from verifying (or, for
 * refused, from checking). */
void
job_finish(struct job *j, enum job_state s, const char *fmt, ...)
{
	char msg[1400];
	va_list ap;
	enum job_event ev;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	switch (s) {
	case JOB_SUCCEEDED:
		ev = JOB_EV_SUCCEEDED;
		break;
	case JOB_REFUSED:
		ev = JOB_EV_REFUSED;
		break;
	case JOB_ROLLED_BACK:
		ev = JOB_EV_ROLLED_BACK;
		break;
	default:
		ev = JOB_EV_FAILED;
		break;
	}
	(void)job_enter(j, ev, msg);
}

/* The journal of a final state: its record, with what both hosts said. */
int
job_journal_end(struct job *j, enum job_state s, const char *msg)
{
	struct json_object *o;
	const char *on = job_running_on(j, s);
	uint64_t now = clock_wall_ms();
	int rc = 0;

	o = json_object_new_object();
	json_object_object_add(o, "message", json_object_new_string(msg));
	json_object_object_add(o, "running_on", on ?
	    json_object_new_string(on) : NULL);
	json_object_object_add(o, "elapsed_ms",
	    json_object_new_int64(now - j->started_ms));
	if (s == JOB_SUCCEEDED) {
		job_take_figures(j);
		wire_observe(j->co, j);
	}
	json_object_object_add(o, "call_ms",
	    json_object_new_int64(j->elapsed_ms));
	/* null: libvirt's completed statistics could not be read. */
	json_object_object_add(o, "migration_ms", j->has_migration_ms ?
	    json_object_new_int64(j->migration_ms) : NULL);
	json_object_object_add(o, "downtime_ms", j->has_downtime ?
	    json_object_new_int64(j->downtime_ms) : NULL);
	json_object_object_add(o, "data_bytes", j->has_data ?
	    json_object_new_int64(j->data_bytes) : NULL);
	json_object_object_add(o, "data_mib", j->has_data ?
	    jsonv_num1(1, j->data_bytes / MIB) : NULL);
	json_object_object_add(o, "passes", j->passes ?
	    json_object_new_int64(j->passes) : NULL);
	job_copy_journal(j, o);
	if (j->streams)
		json_object_object_add(o, "streams",
		    json_object_new_int64(j->streams));
	if (j->opts.tls)
		json_object_object_add(o, "tls", json_object_new_boolean(1));
	if (s == JOB_SUCCEEDED)
		json_object_object_add(o, "figures_from", json_object_new_string(
		    j->has_downtime || j->has_data ? "destination libvirt "
		    "completed-job statistics" : "unknown: no completed-job "
		    "statistics"));
	if (j->have_result)
		json_object_object_add(o, "libvirt_ok",
		    json_object_new_boolean(j->result_ok));
	if (j->src_have || j->src_state)
		json_object_object_add(o, "source_reports",
		    job_state_json(j->src_state, j->src_err));
	if (j->dst_have || j->dst_state)
		json_object_object_add(o, "destination_reports",
		    job_state_json(j->dst_state, j->dst_err));
	if (store_job_finish(j->co->store, j->id, job_state_name(s),
	    s == JOB_SUCCEEDED ? NULL : msg,
	    json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN), now) < 0) {
		log_job_warnx(j->id, j->vm, "cannot journal its end: %s",
		    store_error(j->co->store));
		rc = -1;
	}
	json_object_put(o);
	return rc;
}

/* The action of every final edge: the end is journaled; tell the
 * watchers and the parent, then free the job. */
void
job_done(struct job *j, const char *msg)
{
	Ferry__JobEvent ev = FERRY__JOB_EVENT__INIT;
	enum job_state s = j->state;
	const char *on = job_running_on(j, s);
	uint64_t now = clock_wall_ms();

	log_job_info(j->id, j->vm, "%s: %s", job_state_name(s), msg);
	ev.event = "done";
	ev.state = (char *)job_state_name(s);
	ev.source = j->source;
	ev.destination = j->destination;
	ev.running_on = (char *)on;
	ev.has_elapsed_ms = 1;
	ev.elapsed_ms = now - j->started_ms;
	ev.has_downtime_ms = j->has_downtime;
	ev.downtime_ms = j->downtime_ms;
	ev.has_data_mib = j->has_data;
	ev.data_mib = j->data_bytes / MIB;
	ev.has_migration_ms = j->has_migration_ms;
	ev.migration_ms = j->migration_ms;
	ev.has_passes = j->passes > 0;
	ev.passes = j->passes;
	job_copy_done(j, s, &ev);
	if (s != JOB_SUCCEEDED)
		ev.error = (char *)msg;
	ev.message = (char *)msg;
	job_emit(j, &ev);
	metrics_job_done(j->co, j);
	/* Its parent (or a drain that follows it) learns the end. */
	if (j->parent_cb.on_done != NULL)
		j->parent_cb.on_done(j->parent_cb.arg, j);
	TAILQ_REMOVE(&j->co->jobs, j, entry);
	job_free(j);
}

