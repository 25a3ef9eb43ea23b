/* job.c: a live migration as data: one transition table, one job_enter().
 *
 * The table below (job_table) is the machine; this diagram is the same
 * table, row for row (from --event--> to: action; deadline of the new state):
 *
 *   pending   --run------> checking    : job_start_checks  ; checks' calls
 *   pending   --recover--> verifying   : job_verify        ; VERIFY_DEADLINE
 *   checking  --recover--> verifying   : job_verify        ; VERIFY_DEADLINE
 *   checking  --passed---> migrating   : job_send_migrate  ; timeout + grace
 *   checking  --aborted--> verifying   : job_verify        ; VERIFY_DEADLINE
 *   checking  --refused--> refused     : job_done
 *   migrating --ended----> verifying   : job_verify        ; VERIFY_DEADLINE
 *   verifying --resume---> migrating   : job_send_resume   ; timeout + grace
 *   verifying --succeeded> succeeded   : job_done
 *   verifying --rolled_back> rolled_back : job_done
 *   verifying --failed---> failed      : job_done
 *
 * "ended" is every way a MIGRATE can end: libvirt's result, a refused or
 * unanswered call, a source whose hostd lost it, a job stuck past its
 * deadline. "resume" is a failed post-copy taken up again (the guest runs
 * on the destination, part of its memory is on the source). A job
 * recovered in "migrating" stays there until its source answers.
 *
 * job_enter() is the only way to change state. It checks the edge against
 * the table (an illegal one is refused and logged; under a test it calls
 * job_illegal_hook), refuses to act during a shutdown (the journal keeps
 * the job for the next start's recovery: a shutdown never invents an
 * outcome), journals the new state BEFORE acting on it, sets the new
 * state's deadline, then runs the row's action. When the journal cannot be
 * written, the transition is not taken: the job stays where it stands, in
 * memory and in the journal, and job_tick retries the same transition every
 * JOURNAL_RETRY_MS until it is written. Nothing acts on an unrecorded state,
 * and the VM stays held by its job (no second job can start on it). At
 * start-up (job_recover) nothing is held yet to wait with: a recovery the
 * journal refuses fails the start instead.
 *
 * So after kill -9 job_recover() knows exactly how far a job got: a job
 * journaled "checking" never sent MIGRATE; one in "migrating" may have.
 * The final state always comes from asking both hosts (DOMAIN_STATE), never
 * from libvirt's return value alone.
 *
 * Sub-states (j->step) say what a state waits for: checking's CHECKS;
 * migrating's SENT, RUNNING, QUERYING; verifying's ASKING, WAITING,
 * CLEANING. j->calls counts every call in flight (aborts included).
 *
 * Ownership: jobs live on co->jobs until final, then are freed. A job's
 * parent (struct job_parent) hears of its progress and end through the
 * callbacks it passed to job_migrate; the job never calls its parent by
 * name. Watchers hold a reference on their control client (watch.c).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "coordinator.h"
#include "cpucache.h"
#include "http.h"
#include "jsonv.h"
#include "log.h"
#include "placement.h"
#include "validate.h"

#define MIB			(1024.0 * 1024.0)

static const char *job_state_names[JOB_NSTATES] = {
	"pending", "checking", "migrating", "verifying", "succeeded",
	"refused", "rolled_back", "failed",
};

static void	job_send_migrate(struct job *, int resume);
static uint64_t	job_timeout_ms(const struct job *);

const char *
job_state_name(enum job_state s)
{
	return s < JOB_NSTATES ? job_state_names[s] : "unknown";
}

int
job_state_parse(const char *s)
{
	int i;

	for (i = 0; i < JOB_NSTATES; i++)
		if (strcmp(job_state_names[i], s) == 0)
			return i;
	return -1;
}

int
job_state_final(enum job_state s)
{
	return s >= JOB_SUCCEEDED;
}

struct job *
job_find(struct coord *co, int64_t id)
{
	struct job *j;

	TAILQ_FOREACH(j, &co->jobs, entry)
		if (j->id == id)
			return j;
	return NULL;
}

struct job *
job_find_vm(struct coord *co, const char *vm)
{
	struct job *j;

	TAILQ_FOREACH(j, &co->jobs, entry)
		if (!j->check_only && strcmp(j->vm, vm) == 0)
			return j;
	return NULL;
}

/* Remembers that a migration moved vm now (monotonic). Without memory
 * for the ring, the journal's wall times still answer. */
static void
job_note_moved(struct coord *co, const char *vm)
{
	struct job_moved *m;

	if (co->moved == NULL &&
	    (co->moved = calloc(JOB_MOVED_RING, sizeof(*co->moved))) == NULL)
		return;
	m = &co->moved[co->moved_next++ % JOB_MOVED_RING];
	snprintf(m->vm, sizeof(m->vm), "%s", vm);
	m->mono_ms = clock_mono_ms();
}

/* 1 when a migration of this process moved vm at or after mono_since. */
int
job_moved_since(const struct coord *co, const char *vm, uint64_t mono_since)
{
	size_t i;

	for (i = 0; co->moved != NULL && i < JOB_MOVED_RING; i++)
		if (co->moved[i].mono_ms != 0 &&
		    co->moved[i].mono_ms >= mono_since &&
		    strcmp(co->moved[i].vm, vm) == 0)
			return 1;
	return 0;
}

void
job_free(struct job *j)
{
	size_t i;

	if (j == NULL)
		return;
	watch_list_clear(&j->watchers);
	control_client_unref(j->check_client);
	job_copy_free(j);
	for (i = 0; i < j->nchecks; i++) {
		free(j->check_names[i]);
		free(j->check_reasons[i]);
	}
	if (j->src)
		ferry__source_check_reply__free_unpacked(j->src, NULL);
	if (j->src_state)
		ferry__domain_state__free_unpacked(j->src_state, NULL);
	if (j->dst_state)
		ferry__domain_state__free_unpacked(j->dst_state, NULL);
	free(j);
}

void
job_free_all(struct coord *co)
{
	struct job *j;

	while ((j = TAILQ_FIRST(&co->jobs)) != NULL) {
		TAILQ_REMOVE(&co->jobs, j, entry);
		job_free(j);
	}
	free(co->moved);
	co->moved = NULL;
	co->moved_next = 0;
}

void
job_info(const struct job *j, Ferry__JobInfo *ji)
{
	ferry__job_info__init(ji);
	ji->id = j->id;
	ji->kind = "migrate";
	ji->vm = (char *)j->vm;
	ji->state = (char *)job_state_name(j->state);
	ji->source = (char *)j->source;
	ji->destination = (char *)j->destination;
	ji->has_started_ms = 1;
	ji->started_ms = j->started_ms;
	if (j->error[0])
		ji->error = (char *)j->error;
}

/* ---- events to watching ferryctl clients ------------------------------ */

void
job_emit(struct job *j, Ferry__JobEvent *ev)
{
	struct job_watcher *w;

	ev->job_id = j->id;
	if (ev->vm == NULL)
		ev->vm = j->vm;
	ev->has_time_ms = 1;
	ev->time_ms = clock_wall_ms();
	TAILQ_FOREACH(w, &j->watchers, entry)
		(void)control_event(w->client, MSG_CTL_JOB_EVENT, w->serial,
		    &ev->base);
	if (j->co->http != NULL && !j->check_only)
		http_events_job(j, ev);
}

void
job_emit_state(struct job *j, const char *msg)
{
	Ferry__JobEvent ev = FERRY__JOB_EVENT__INIT;

	ev.event = "state";
	ev.state = (char *)job_state_name(j->state);
	ev.source = j->source;
	ev.destination = j->destination;
	ev.message = (char *)msg;
	job_emit(j, &ev);
}

/* ---- journal ------------------------------------------------------------ */

static char *
job_params_json(const struct job *j)
{
	struct json_object *o = json_object_new_object();
	char *s;

	json_object_object_add(o, "bandwidth_mibs",
	    json_object_new_int64(j->opts.bandwidth_mibs));
	json_object_object_add(o, "max_downtime_ms",
	    json_object_new_int64(j->opts.max_downtime_ms));
	json_object_object_add(o, "timeout_s",
	    json_object_new_int64(j->opts.timeout_s));
	json_object_object_add(o, "postcopy", json_object_new_int(j->opts.postcopy));
	json_object_object_add(o, "auto_converge",
	    json_object_new_boolean(j->opts.auto_converge));
	json_object_object_add(o, "mem_mib", json_object_new_int64(j->mem_mib));
	if (j->opts.copy_storage)
		json_object_object_add(o, "copy_storage",
		    json_object_new_boolean(1));
	json_object_object_add(o, "parallel",
	    json_object_new_int64(j->opts.parallel));
	json_object_object_add(o, "tls", json_object_new_boolean(j->opts.tls));
	if (j->uuid[0])
		json_object_object_add(o, "uuid", json_object_new_string(j->uuid));
	s = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
	return s;
}

/* ---- the machine --------------------------------------------------------- */

static const char *job_event_names[JOB_NEVENTS] = {
	"run", "passed", "refused", "aborted", "ended", "resume", "succeeded",
	"rolled_back", "failed", "recover",
};

/* Tests set these: an illegal edge fails the test, and journal writes can
 * be made to fail (job_journal_fail of them, the next ones). */
void	(*job_illegal_hook)(const struct job *, enum job_event);
int	 job_journal_fail;

static void	job_act_checks(struct job *j, const char *m) { (void)m; job_start_checks(j); }
static void	job_act_verify(struct job *j, const char *m) { (void)m; job_verify(j); }
static void	job_act_migrate(struct job *j, const char *m) { (void)m; job_send_migrate(j, 0); }
static void	job_act_resume(struct job *j, const char *m) { (void)m; job_send_migrate(j, 1); }

/* The deadlines of the states, from when they are entered. Checking's is
 * what its calls may take (each has its own timeout), per destination
 * left to try; migrating's is libvirt's completion timeout plus the grace
 * after which a job is called stuck. */
static uint64_t
job_dl_checking(const struct job *j, uint64_t now)
{
	size_t left = j->ncandidates > j->candidate ?
	    j->ncandidates - j->candidate : 1;

	return now + 2 * (uint64_t)CHECK_TIMEOUT_MS * left;
}

static uint64_t
job_dl_migrating(const struct job *j, uint64_t now)
{
	return now + job_timeout_ms(j) + STUCK_GRACE_MS;
}

static uint64_t
job_dl_verifying(const struct job *j, uint64_t now)
{
	(void)j;
	return now + VERIFY_DEADLINE_MS;
}

struct job_edge {
	enum job_state	  from;
	enum job_event	  ev;
	enum job_state	  to;
	void		(*action)(struct job *, const char *msg);
	uint64_t	(*deadline)(const struct job *, uint64_t now);
};

/* The machine, and the diagram at the top of this file. */
static const struct job_edge job_table[] = {
	{ JOB_PENDING, JOB_EV_RUN, JOB_CHECKING, job_act_checks, job_dl_checking },
	{ JOB_PENDING, JOB_EV_RECOVER, JOB_VERIFYING, job_act_verify, job_dl_verifying },
	{ JOB_CHECKING, JOB_EV_RECOVER, JOB_VERIFYING, job_act_verify, job_dl_verifying },
	{ JOB_CHECKING, JOB_EV_PASSED, JOB_MIGRATING, job_act_migrate, job_dl_migrating },
	{ JOB_CHECKING, JOB_EV_ABORTED, JOB_VERIFYING, job_act_verify, job_dl_verifying },
	{ JOB_CHECKING, JOB_EV_REFUSED, JOB_REFUSED, job_done, NULL },
	{ JOB_MIGRATING, JOB_EV_ENDED, JOB_VERIFYING, job_act_verify, job_dl_verifying },
	{ JOB_VERIFYING, JOB_EV_RESUME, JOB_MIGRATING, job_act_resume, job_dl_migrating },
	{ JOB_VERIFYING, JOB_EV_SUCCEEDED, JOB_SUCCEEDED, job_done, NULL },
	{ JOB_VERIFYING, JOB_EV_ROLLED_BACK, JOB_ROLLED_BACK, job_done, NULL },
	{ JOB_VERIFYING, JOB_EV_FAILED, JOB_FAILED, job_done, NULL },
};

const char *
job_event_name(enum job_event ev)
{
	return ev < JOB_NEVENTS ? job_event_names[ev] : "unknown";
}

static const struct job_edge *
job_edge_find(enum job_state from, enum job_event ev)
{
	size_t i;

	for (i = 0; i < sizeof(job_table) / sizeof(job_table[0]); i++)
		if (job_table[i].from == from && job_table[i].ev == ev)
			return &job_table[i];
	return NULL;
}

/* Where ev leads from, or -1: the edge is not in the table. */
int
job_edge_to(enum job_state from, enum job_event ev)
{
	const struct job_edge *e = job_edge_find(from, ev);

	return e ? (int)e->to : -1;
}

/* The deadline a job entering s at now gets (also a recovered one). */
uint64_t
job_deadline_of(const struct job *j, enum job_state s, uint64_t now)
{
	size_t i;

	for (i = 0; i < sizeof(job_table) / sizeof(job_table[0]); i++)
		if (job_table[i].to == s)
			return job_table[i].deadline ?
			    job_table[i].deadline(j, now) : 0;
	return 0;
}

static int
job_journal(struct job *j, enum job_state to, const char *msg)
{
	struct store *st = j->co->store;

	if (j->check_only)
		return 0;
	if (job_journal_fail > 0) {
		job_journal_fail--;
		log_job_warnx(j->id, j->vm, "cannot journal %s: injected "
		    "failure", job_state_name(to));
		return -1;
	}
	if (job_state_final(to))
		return job_journal_end(j, to, msg);
	if (store_job_transition(st, j->id, job_state_name(to), msg,
	    clock_wall_ms()) < 0) {
		log_job_warnx(j->id, j->vm, "cannot journal %s: %s",
		    job_state_name(to), store_error(st));
		return -1;
	}
	return 0;
}

/*
 * The one way a job changes state (see the top of this file): checks the
 * edge, refuses during a shutdown, journals, sets the deadline, acts.
 * Returns 0 when the transition was taken (j may be freed by then: a final
 * state's action frees it), -1 when not (j is unchanged; a journal failure
 * is retried by job_tick).
 */
int
job_enter(struct job *j, enum job_event ev, const char *msg)
{
	const struct job_edge *e;
	uint64_t now = clock_mono_ms();
	int final;

	if (msg == NULL)
		msg = "";
	if (j->co->stopping && !j->check_only) {
		/* What fails then is the coordinator going away (its calls
		 * fail with "coordinator shutting down"), not the job. */
		log_info("job %lld: left %s for recovery (%s)", (long long)j->id,
		    job_state_name(j->state), msg);
		return -1;
	}
	if ((e = job_edge_find(j->state, ev)) == NULL) {
		log_job_warnx(j->id, j->vm, "illegal transition refused: %s "
		    "--%s--> (not in the table): %s", job_state_name(j->state),
		    job_event_name(ev), msg);
		if (job_illegal_hook != NULL)
			job_illegal_hook(j, ev);
		return -1;
	}
	final = job_state_final(e->to);
	if (final) {
		if (e->to != JOB_SUCCEEDED)
			snprintf(j->error, sizeof(j->error), "%s", msg);
		else
			j->error[0] = '\0';
	}
	if (job_journal(j, e->to, msg) < 0) {
		if (msg != j->retry_msg)
			snprintf(j->retry_msg, sizeof(j->retry_msg), "%s", msg);
		j->retry_pending = 1;
		j->retry_event = ev;
		j->retry_next_ms = now + JOURNAL_RETRY_MS;
		return -1;
	}
	j->retry_pending = 0;
	if (!final)
		log_job_info(j->id, j->vm, "%s -> %s%s%s",
		    job_state_name(j->state), job_state_name(e->to),
		    msg[0] ? ": " : "", msg);
	j->state = e->to;
	j->step = JOB_STEP_NONE;
	j->deadline_ms = e->deadline ? e->deadline(j, now) : 0;
	if (e->to == JOB_VERIFYING)
		j->verify_round = 0;
	if (e->to == JOB_SUCCEEDED && !j->check_only)
		job_note_moved(j->co, j->vm);
	if (!final)
		job_emit_state(j, msg);
	if (e->action)
		e->action(j, msg);
	return 0;
}

void
job_record(struct job *j, const char *type, struct json_object *o)
{
	if (!j->check_only && store_job_event(j->co->store, j->id, type,
	    json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN),
	    clock_wall_ms()) < 0)
		log_job_warnx(j->id, j->vm, "%s",
		    store_error(j->co->store));
	json_object_put(o);
}

/* ---- creating jobs ---------------------------------------------------- */

struct job *
job_new(struct coord *co, const char *vm)
{
	struct job *j;

	if ((j = calloc(1, sizeof(*j))) == NULL)
		return NULL;
	j->co = co;
	j->dirty_mibs = -1;
	snprintf(j->vm, sizeof(j->vm), "%s", vm);
	TAILQ_INIT(&j->watchers);
	j->started_ms = clock_wall_ms();
	return j;
}

int
job_migrate(struct coord *co, const Ferry__MigrateOptions *o, int64_t parent,
    const struct job_parent *pcb, struct job **out, char *err, size_t errlen)
{
	struct store_job sj;
	struct job *j, *other;
	char *params;
	int rc;

	*out = NULL;
	if ((other = job_find_vm(co, o->vm)) != NULL) {
		snprintf(err, errlen, "%s already has job %lld in flight (%s)",
		    o->vm, (long long)other->id, job_state_name(other->state));
		return -FERRY_ECONFLICT;
	}
	if ((j = job_new(co, o->vm)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -FERRY_EINTERNAL;
	}
	if ((rc = job_locate(co, o->vm, j->source, sizeof(j->source),
	    j->uuid, sizeof(j->uuid), &j->mem_mib, err, errlen)) < 0 ||
	    (rc = job_validate_target(co, j, o->to, err, errlen)) < 0) {
		job_free(j);
		return rc;
	}
	j->opts.bandwidth_mibs = o->has_bandwidth_mibs ? o->bandwidth_mibs : 0;
	j->opts.max_downtime_ms = o->has_max_downtime_ms ? o->max_downtime_ms : 0;
	j->opts.timeout_s = o->has_timeout_s ? o->timeout_s : 0;
	j->opts.postcopy = o->has_postcopy ? o->postcopy : 0;
	j->opts.auto_converge = o->has_auto_converge && o->auto_converge;
	j->opts.copy_storage = o->has_copy_storage && o->copy_storage;
	if (wire_opts(co, &j->opts, o->has_parallel, o->parallel,
	    o->has_tls ? o->tls : 0, err, errlen) < 0) {
		job_free(j);
		return -1;
	}

	memset(&sj, 0, sizeof(sj));
	snprintf(sj.kind, sizeof(sj.kind), "migrate");
	snprintf(sj.vm, sizeof(sj.vm), "%s", j->vm);
	snprintf(sj.source, sizeof(sj.source), "%s", j->source);
	snprintf(sj.destination, sizeof(sj.destination), "%s", j->destination);
	snprintf(sj.state, sizeof(sj.state), "pending");
	sj.parent = parent;
	j->parent = parent;
	if (pcb != NULL)
		j->parent_cb = *pcb;
	sj.params = params = job_params_json(j);
	if (store_job_create(co->store, &sj, j->started_ms) < 0) {
		snprintf(err, errlen, "cannot record the job: %s",
		    store_error(co->store));
		free(params);
		job_free(j);
		return -FERRY_EINTERNAL;
	}
	free(params);
	j->id = sj.id;
	TAILQ_INSERT_TAIL(&co->jobs, j, entry);
	*out = j;
	return 0;
}

/* A run (a drain) that finds j in flight follows it: it hears of its end
 * as a parent would, unless j already has one (which is told then). */
void
job_adopt(struct job *j, const struct job_parent *pcb)
{
	/* Followed, not gated: the run did not start it. */
	if (j->parent_cb.on_done == NULL && j->parent_cb.on_progress == NULL) {
		j->parent_cb = *pcb;
		j->parent_cb.may_start = NULL;
	}
}

/* Called by api.c after it has replied and added its watcher. */
void
job_run(struct job *j)
{
	/* Not journaled: job_tick tries again, and the job holds the VM. */
	(void)job_enter(j, JOB_EV_RUN, "running pre-checks");
}

/* A held job (checked ahead, JOB_STEP_HELD) starts: its parent has a slot
 * now, or it was aborted meanwhile (then nothing starts). */
void
job_release(struct job *j)
{
	if (j->state != JOB_CHECKING || j->step != JOB_STEP_HELD)
		return;
	j->step = JOB_STEP_NONE;
	if (j->abort_requested) {
		snprintf(j->error, sizeof(j->error), "%s", j->abort_reason);
		(void)job_enter(j, JOB_EV_ABORTED, "aborted before the "
		    "migration started");
		return;
	}
	log_job_info(j->id, j->vm, "starts after waiting %llu ms for a slot",
	    (unsigned long long)(clock_mono_ms() - j->held_ms));
	j->parent_cb.may_start = NULL;	/* asked once: the answer was yes */
	job_start_migration(j);
}

/* ---- migrating ---------------------------------------------------------- */

static void
job_migrate_cb(struct host *h, const struct frame *f, const char *err,
    void *arg)
{
	struct job *j = arg;

	(void)h;
	j->calls--;
	if (f != NULL) {
		j->last_event_ms = clock_mono_ms();
		if (j->state == JOB_MIGRATING && j->step == JOB_STEP_SENT)
			j->step = JOB_STEP_RUNNING;
		return;
	}
	/* hostd refused or never answered: did it start? Only both hosts
	 * can say; the verification waits for any job libvirt still runs. */
	j->have_result = 1;
	j->result_ok = 0;
	snprintf(j->result_error, sizeof(j->result_error), "%s", err);
	snprintf(j->error, sizeof(j->error), "%s", err);
	if (j->state == JOB_MIGRATING)
		(void)job_enter(j, JOB_EV_ENDED, err);
	else if (j->state == JOB_VERIFYING && j->calls == 0)
		job_verify(j);	/* it waited for this call */
}

/* The destination's trusted libvirt URI and migration stream, checked
 * again here: they go to another host's libvirtd. */
static int
job_dest_uris(const struct host *dh, char *muri, size_t mlen, char *err,
    size_t errlen)
{
	const char *uri = cluster_host_libvirt_uri(dh);
	const char *ma = cluster_host_migration_address(dh);
	char e[256];

	if (dh->flagged) {
		snprintf(err, errlen, "host %s is flagged: %s", dh->conf.name,
		    dh->flag_reason);
		return -1;
	}
	if (uri == NULL || ma == NULL) {
		snprintf(err, errlen, "host %s has no trusted libvirt URI and "
		    "migration address", dh->conf.name);
		return -1;
	}
	snprintf(muri, mlen, "tcp://%s", ma);
	if (validate_libvirt_uri(uri, e, sizeof(e)) < 0 ||
	    validate_migrate_uri(muri, e, sizeof(e)) < 0) {
		snprintf(err, errlen, "host %s: %s", dh->conf.name, e);
		return -1;
	}
	return 0;
}

void
job_start_migration(struct job *j)
{
	struct host *sh = coord_host_find(j->co, j->source);
	struct host *dh = coord_host_find(j->co, j->destination);
	char muri[300], msg[600], e[300];

	/* Checked ahead by a drain while others copy: it starts when the
	 * drain has a slot (job_release); what follows is checked then. */
	if (j->parent_cb.may_start != NULL &&
	    !j->parent_cb.may_start(j->parent_cb.arg, j)) {
		if (j->step != JOB_STEP_HELD) {
			j->step = JOB_STEP_HELD;
			j->held_ms = clock_mono_ms();
			log_job_info(j->id, j->vm, "checked; waits for a free "
			    "migration slot of its run");
		}
		return;
	}
	if (sh == NULL || dh == NULL || dh->inv == NULL || !sh->up) {
		job_finish(j, JOB_REFUSED, "a host went away before the "
		    "migration started");
		return;
	}
	/* A drain of the destination may have begun during the checks. */
	if (strcmp(dh->admin_state, "active") != 0 ||
	    drain_host_busy(j->co, dh->conf.name)) {
		job_finish(j, JOB_REFUSED, "destination: host %s is %s",
		    dh->conf.name, strcmp(dh->admin_state, "active") != 0 ?
		    coord_admin_phrase(dh->admin_state) : "being drained");
		return;
	}
	if (job_dest_uris(dh, muri, sizeof(muri), e, sizeof(e)) < 0) {
		job_finish(j, JOB_REFUSED, "%s", e);
		return;
	}
	snprintf(msg, sizeof(msg), "%s -> %s (%s)", j->source, j->destination,
	    cluster_host_libvirt_uri(dh));
	/* Journaled before MIGRATE leaves (job_send_migrate is the edge's
	 * action): after a crash, "migrating" means it may have started and
	 * hostd must be asked. */
	(void)job_enter(j, JOB_EV_PASSED, msg);
}

/*
 * Sends MIGRATE to the source: the migration itself, or (resume) the
 * POSTCOPY_RESUME of a failed post-copy. The action of the edges into
 * migrating, so the journal already says "migrating".
 */
static void
job_send_migrate(struct job *j, int resume)
{
	Ferry__MigrateRequest req = FERRY__MIGRATE_REQUEST__INIT;
	Ferry__Policy pol = FERRY__POLICY__INIT;
	struct host *sh = coord_host_find(j->co, j->source);
	struct host *dh = coord_host_find(j->co, j->destination);
	char muri[300], e[300], *copy[16], why[200];
	int pc;

	if (sh == NULL || dh == NULL ||
	    job_dest_uris(dh, muri, sizeof(muri), e, sizeof(e)) < 0) {
		/* Checked before the transition; changed since (a retried
		 * journal write): nothing was sent. */
		snprintf(j->error, sizeof(j->error), "%s", sh == NULL ||
		    dh == NULL ? "a host went away before the migration "
		    "started" : e);
		(void)job_enter(j, JOB_EV_ENDED, j->error);
		return;
	}
	pol.has_bandwidth_mibs = 1;
	pol.bandwidth_mibs = j->opts.bandwidth_mibs;
	pol.has_allow_postcopy = 1;
	if (resume)
		pol.allow_postcopy = 1;
	else {
		if (j->opts.max_downtime_ms) {
			pol.has_max_downtime_ms = 1;
			pol.max_downtime_ms = j->opts.max_downtime_ms;
		}
		if (j->opts.timeout_s) {
			pol.has_timeout_s = 1;
			pol.timeout_s = j->opts.timeout_s;
		}
		/* --postcopy=MODE, else the cluster's (coordinator.conf) */
		pc = j->opts.postcopy ? j->opts.postcopy : j->co->conf.postcopy;
		pol.allow_postcopy = pc > 0;
		pol.has_postcopy_always = 1;
		pol.postcopy_always = pc == 2;
		pol.has_auto_converge = 1;
		pol.auto_converge = j->opts.auto_converge;
		/* The check's measurement: the ladder throttles from the
		 * second pass on when it predicts no convergence. */
		if (j->dirty_mibs > 0) {
			pol.has_dirty_mibs = 1;
			pol.dirty_mibs = j->dirty_mibs;
		}
		/* A resume continues the streams libvirt kept: not sent. */
		j->streams = wire_streams(j->co, j, dh, why, sizeof(why));
		req.has_parallel = 1;
		req.parallel = j->streams;
		log_job_info(j->id, j->vm, "%s%s", why, j->opts.tls ?
		    ", over TLS" : "");
	}
	req.has_tls = 1;
	req.tls = j->opts.tls;
	req.job_id = j->id;
	req.name = j->vm;
	req.dest_uri = (char *)cluster_host_libvirt_uri(dh);
	req.migrate_uri = muri;
	req.policy = &pol;
	req.has_mem_mib = 1;
	req.mem_mib = j->mem_mib;
	if (resume) {
		req.has_postcopy_resume = 1;
		req.postcopy_resume = 1;
	} else
		job_copy_migrate_request(j, &req, copy, 16);
	j->have_result = 0;
	j->migrate_sent_ms = j->last_event_ms = clock_mono_ms();
	if (peer_call(sh, MSG_MIGRATE, &req.base, HOSTD_TIMEOUT_MS,
	    job_migrate_cb, j) < 0) {
		if (resume)
			return;	/* the quiet source is asked (job_tick) */
		snprintf(j->error, sizeof(j->error), "source %s is not connected",
		    j->source);
		(void)job_enter(j, JOB_EV_ENDED, j->error);
		return;
	}
	j->calls++;
	j->step = JOB_STEP_SENT;
}

/* A failed post-copy is resumed while both hosts answer: back to
 * migrating (verifying --resume--> migrating), journaled. */
void
job_try_resume(struct job *j)
{
	struct host *sh = coord_host_find(j->co, j->source);
	struct host *dh = coord_host_find(j->co, j->destination);
	char muri[300], e[300];

	j->resumes++;
	if (sh == NULL || dh == NULL || dh->inv == NULL || !sh->up || !dh->up ||
	    job_dest_uris(dh, muri, sizeof(muri), e, sizeof(e)) < 0) {
		j->verify_next_ms = clock_mono_ms() + VERIFY_RETRY_MS;
		j->step = JOB_STEP_WAITING;
		return;
	}
	(void)job_enter(j, JOB_EV_RESUME, "resuming the failed post-copy");
}

/* Only the job's source reports its progress and result; anyone else's
 * word about it is ignored and recorded against the sender. */
static struct job *
job_of_host_event(struct host *h, uint64_t job_id, const char *what)
{
	struct job *j = job_find(h->co, (int64_t)job_id);

	if (j == NULL)
		return NULL;	/* a job already over: late news */
	if (j->check_only || strcmp(j->source, h->conf.name) != 0) {
		cluster_host_notice(h, "sent %s for job %lld, of which it is not "
		    "the source (%s): ignored", what, (long long)j->id,
		    j->source);
		return NULL;
	}
	return j;
}

/*
 * A progress sample into the event ferryctl shows (ev's strings stay
 * unset), keeping j's low-water mark of what remains. Sent (processed)
 * grows past the total as passes resend dirty pages; the percentage is
 * the low-water mark's, which never falls back when a pass begins.
 */
void
job_progress_event(struct job *j, const Ferry__JobStats *s,
    Ferry__JobEvent *ev)
{
	double total, remaining, processed, pct, bps, dirty;
	uint64_t tot_b, rem_b;

	/* Memory when libvirt gives it (disks are not migrated here): what
	 * was sent grows past the total as passes resend dirty pages, so
	 * progress is the remaining's low-water mark, which never falls
	 * back when a pass begins. */
	if (s->has_memory_total && s->memory_total &&
	    !job_copy_progress(s, NULL)) {
		tot_b = s->memory_total;
		rem_b = s->has_memory_remaining ? s->memory_remaining : 0;
	} else {
		tot_b = s->data_total;
		rem_b = s->data_remaining;
	}
	if (j->nsamples == 0 || rem_b < j->remaining_low)
		j->remaining_low = rem_b;
	j->nsamples++;
	total = tot_b / MIB;
	remaining = rem_b / MIB;
	processed = s->data_processed / MIB;
	if (s->data_processed > j->data_processed_max)
		j->data_processed_max = s->data_processed;
	pct = tot_b ? 100.0 - j->remaining_low * 100.0 / tot_b : 0;
	if (pct > 99.0)
		pct = 99.0;		/* 100 only once verified */
	if (pct < 0)
		pct = 0;
	bps = s->has_memory_bps ? s->memory_bps / MIB : 0;
	dirty = s->has_dirty_rate_bps ? s->dirty_rate_bps / MIB : 0;
	if (s->has_postcopy && s->postcopy)
		j->postcopy = 1;
	j->last_total = tot_b;
	j->last_remaining = rem_b;
	j->last_processed = s->data_processed;
	j->last_bps = s->has_memory_bps ? s->memory_bps : 0;
	j->last_dirty_bps = s->has_dirty_rate_bps ? s->dirty_rate_bps : 0;
	j->last_iteration = s->has_iteration ? s->iteration : 0;

	ev->event = "progress";
	ev->state = "migrating";
	ev->has_percent = ev->has_data_processed_mib = 1;
	ev->has_data_remaining_mib = ev->has_data_total_mib = 1;
	ev->has_remaining_low_mib = 1;
	ev->has_mib_per_s = ev->has_dirty_mib_per_s = 1;
	ev->has_iteration = 1;
	ev->percent = pct;
	ev->data_processed_mib = processed;
	ev->data_remaining_mib = remaining;
	ev->remaining_low_mib = j->remaining_low / MIB;
	ev->data_total_mib = total;
	ev->mib_per_s = bps;
	ev->dirty_mib_per_s = dirty;
	ev->iteration = s->has_iteration ? s->iteration : 0;
	ev->has_expected_downtime_ms = s->has_downtime_ms;
	ev->expected_downtime_ms = s->has_downtime_ms ? s->downtime_ms : 0;
	/* An ETA only when one can be estimated: a measured rate, two
	 * samples, and pages sent faster than the guest dirties them. */
	if (j->nsamples >= 2 && bps > 0 && bps > dirty) {
		ev->has_eta_s = 1;
		ev->eta_s = remaining / (bps - dirty);
	}
	(void)job_copy_progress(s, ev);
}

void
job_on_progress(struct host *h, const Ferry__JobStats *s)
{
	struct job *j = job_of_host_event(h, s->job_id, "progress");
	Ferry__JobEvent ev = FERRY__JOB_EVENT__INIT;
	struct json_object *o;
	uint64_t now = clock_mono_ms();
	double total, remaining, processed, pct, bps, dirty;

	if (j == NULL || j->state != JOB_MIGRATING)
		return;
	j->last_event_ms = now;
	if (s->data_total == 0)
		return;		/* set-up: nothing measured yet */
	job_progress_event(j, s, &ev);
	pct = ev.percent;
	processed = ev.data_processed_mib;
	remaining = ev.data_remaining_mib;
	total = ev.data_total_mib;
	bps = ev.mib_per_s;
	dirty = ev.dirty_mib_per_s;
	ev.message = s->action;
	job_emit(j, &ev);
	j->percent = pct;
	if (j->parent_cb.on_progress != NULL)
		j->parent_cb.on_progress(j->parent_cb.arg, j);

	if (s->action || now - j->last_recorded_ms >= RECORD_PROGRESS_MS) {
		j->last_recorded_ms = now;
		o = json_object_new_object();
		/* The names and precision of the progress event (jsonv.c):
		 * one decimal, never the 17 digits of a double. */
		json_object_object_add(o, "percent", jsonv_num1(1, pct));
		json_object_object_add(o, "data_processed_mib",
		    jsonv_num1(1, processed));
		json_object_object_add(o, "data_remaining_mib",
		    jsonv_num1(1, remaining));
		json_object_object_add(o, "remaining_low_mib",
		    jsonv_num1(1, j->remaining_low / MIB));
		json_object_object_add(o, "data_total_mib", jsonv_num1(1, total));
		json_object_object_add(o, "mib_per_s", jsonv_num1(1, bps));
		json_object_object_add(o, "dirty_mib_per_s", jsonv_num1(1, dirty));
		json_object_object_add(o, "iteration",
		    json_object_new_int64(ev.iteration));
		json_object_object_add(o, "expected_downtime_ms",
		    jsonv_int(ev.has_expected_downtime_ms,
		    ev.expected_downtime_ms));
		/* The policy's downtime limit at this sample. */
		json_object_object_add(o, "max_downtime_ms",
		    json_object_new_int64(s->has_max_downtime_ms ?
		    s->max_downtime_ms : 0));
		if (s->action)
			json_object_object_add(o, "policy",
			    json_object_new_string(s->action));
		/* The decision as data: {"action":"throttle","percent":60,
		 * "reason":"dirty 30 MiB/s > link 10 ..."} */
		if (s->action && s->action_name) {
			json_object_object_add(o, "action",
			    json_object_new_string(s->action_name));
			json_object_object_add(o, "reason",
			    json_object_new_string(s->action));
		}
		if (s->has_throttle_pct) {
			json_object_object_add(o, "percent",
			    json_object_new_int64(s->throttle_pct));
			json_object_object_add(o, "throttled_ms",
			    json_object_new_int64((int64_t)s->throttled_ms));
		}
		job_record(j, "progress", o);
	}
}

static void
job_take_result(struct job *j, const Ferry__MigrateResult *r)
{
	j->have_result = 1;
	j->result_ok = r->ok;
	snprintf(j->result_error, sizeof(j->result_error), "%s",
	    r->error ? r->error : "");
	snprintf(j->result_action, sizeof(j->result_action), "%s",
	    r->policy_action ? r->policy_action : "");
	/* Its downtime and data are not taken: what hostd saw last is an
	 * estimate (job_take_figures). */
	j->elapsed_ms = r->has_elapsed_ms ? r->elapsed_ms : 0;
	if (r->has_postcopy && r->postcopy)
		j->postcopy = 1;
}

void
job_on_done(struct host *h, const Ferry__MigrateResult *r)
{
	struct job *j = job_of_host_event(h, r->job_id, "a result");
	char msg[1400];

	if (j == NULL || j->state != JOB_MIGRATING)
		return;
	job_take_result(j, r);
	if (j->abort_requested)
		job_abort_note(j, "abort: the migration ended (%s) after %d "
		    "abort call(s); asking both hosts", r->ok ? "completed "
		    "before the abort took effect" : "not completed",
		    j->abort_attempts);
	if (r->ok)
		snprintf(msg, sizeof(msg), "libvirt reports the migration "
		    "complete; asking both hosts");
	else
		snprintf(msg, sizeof(msg), "libvirt reports failure: %s%s%s; "
		    "asking both hosts", j->result_error,
		    j->result_action[0] ? "; policy: " : "", j->result_action);
	if (!r->ok && j->error[0] == '\0')
		snprintf(j->error, sizeof(j->error), "%s%s%s",
		    j->result_action[0] ? j->result_action : j->result_error,
		    j->result_action[0] ? ": " : "",
		    j->result_action[0] ? j->result_error : "");
	(void)job_enter(j, JOB_EV_ENDED, msg);
}

static void
job_query_cb(struct host *h, const struct frame *f, const char *err, void *arg)
{
	struct job *j = arg;
	Ferry__MigrateResult *r;

	(void)h;
	j->calls--;
	j->last_event_ms = clock_mono_ms();
	if (j->state != JOB_MIGRATING || j->step != JOB_STEP_QUERYING)
		return;
	j->step = JOB_STEP_RUNNING;
	if (f == NULL || (r = (Ferry__MigrateResult *)frame_unpack(f,
	    &ferry__migrate_result__descriptor)) == NULL) {
		/* hostd lost its record (it restarted): the hosts' libvirtds
		 * still know; verification waits out any running job. */
		log_job_warnx(j->id, j->vm, "source has no record: %s",
		    err ? err : "malformed reply");
		snprintf(j->error, sizeof(j->error), "the source's hostd lost "
		    "track of the migration (%s)", err ? err : "malformed reply");
		(void)job_enter(j, JOB_EV_ENDED, j->error);
		return;
	}
	if (r->job_id != (uint64_t)j->id) {
		cluster_host_notice(h, "answered the query of job %lld with "
		    "job %llu: ignored", (long long)j->id,
		    (unsigned long long)r->job_id);
		ferry__migrate_result__free_unpacked(r, NULL);
		return;
	}
	if (r->has_running && r->running) {
		log_job_info(j->id, j->vm, "still migrating on %s",
		    j->source);
		ferry__migrate_result__free_unpacked(r, NULL);
		return;
	}
	job_on_done(coord_host_find(j->co, j->source), r);
	ferry__migrate_result__free_unpacked(r, NULL);
}

void
job_query(struct job *j)
{
	Ferry__JobRef ref = FERRY__JOB_REF__INIT;
	struct host *sh = coord_host_find(j->co, j->source);

	if (j->state != JOB_MIGRATING || j->step == JOB_STEP_QUERYING ||
	    sh == NULL || !sh->up)
		return;
	ref.job_id = j->id;
	ref.name = j->vm;
	if (peer_call(sh, MSG_JOB_QUERY, &ref.base, HOSTD_TIMEOUT_MS,
	    job_query_cb, j) == 0) {
		j->step = JOB_STEP_QUERYING;
		j->calls++;
	}
}

/* Abort deadlines: the wall clock may be stepped under a migration. */
uint64_t
job_mono_ms(void)
{
	return clock_mono_ms();
}

/* ---- hosts coming and going, time, recovery ------------------------------ */

/* The completion timeout the source's policy applies to this job. */
static uint64_t
job_timeout_ms(const struct job *j)
{
	struct converge_policy pol;

	converge_policy_defaults(&pol);
	if (j->opts.timeout_s)
		pol.timeout_s = j->opts.timeout_s;
	return converge_timeout_ms(&pol, (j->mem_mib ? j->mem_mib : 1) +
	    job_copy_mib(j));
}

void
job_host_up(struct host *h)
{
	struct job *j, *next;

	for (j = TAILQ_FIRST(&h->co->jobs); j; j = next) {
		next = TAILQ_NEXT(j, entry);
		if (strcmp(j->source, h->conf.name) != 0 &&
		    strcmp(j->destination, h->conf.name) != 0)
			continue;
		if (j->state == JOB_MIGRATING &&
		    strcmp(j->source, h->conf.name) == 0)
			job_query(j);
		else if (j->state == JOB_VERIFYING && j->calls == 0)
			job_verify(j);
	}
}

void
job_host_down(struct host *h)
{
	struct job *j;

	TAILQ_FOREACH(j, &h->co->jobs, entry)
		if (j->state == JOB_MIGRATING &&
		    strcmp(j->source, h->conf.name) == 0)
			log_job_warnx(j->id, j->vm, "source %s went down; the "
			    "migration goes on in libvirtd; asking again when "
			    "it returns", h->conf.name);
}

void
job_tick(struct coord *co, uint64_t now)
{
	struct job *j, *next;

	for (j = TAILQ_FIRST(&co->jobs); j; j = next) {
		next = TAILQ_NEXT(j, entry);
		/* A transition the journal refused: the same, again. */
		if (j->retry_pending) {
			if (now >= j->retry_next_ms)
				(void)job_enter(j, j->retry_event, j->retry_msg);
			continue;
		}
		/* An abort stays pending until the job is seen ending:
		 * re-sent on its deadline whatever events keep coming. */
		if (j->state == JOB_MIGRATING && j->abort_requested &&
		    !j->abort_inflight && !j->abort_given_up && !j->postcopy &&
		    job_mono_ms() >= j->abort_next_ms)
			(void)job_abort_send(j);
		else if (j->state == JOB_VERIFYING && j->calls == 0 &&
		    j->verify_next_ms && now >= j->verify_next_ms)
			job_verify(j);
		else if (j->state == JOB_MIGRATING && j->calls == 0 &&
		    j->migrate_sent_ms && now > j->deadline_ms) {
			/* libvirt's job outlived its own deadline by minutes
			 * (e.g. QEMU stuck on a dead NFS server): stop waiting
			 * and report what each host says. */
			snprintf(j->error, sizeof(j->error), "the migration did not "
			    "end %llu s after its deadline; libvirt may still "
			    "hold it", (unsigned long long)(STUCK_GRACE_MS / 1000));
			(void)job_enter(j, JOB_EV_ENDED, j->error);
		} else if (j->state == JOB_MIGRATING && j->calls == 0 &&
		    now - j->last_event_ms > MIGRATE_QUIET_MS)
			job_query(j);
	}
}
