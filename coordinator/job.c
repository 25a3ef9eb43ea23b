/* job.c: a live migration as an explicit state machine.
 *
 *   pending -> checking -> migrating -> verifying -> succeeded
 *                 |            |            +-----> rolled_back | failed
 *                 +-> refused  +-> (source lost: wait, then JOB_QUERY)
 *
 * Every transition is journaled (store_job_transition) before the
 * coordinator acts on it, so after kill -9 job_recover() knows exactly how
 * far a job got: a job journaled "checking" never sent MIGRATE; one in
 * "migrating" may have. The final state always comes from asking both hosts
 * (DOMAIN_STATE), never from libvirt's return value alone.
 *
 * Ownership: jobs live on co->jobs until final, then are freed. Watchers
 * point at control clients; control.c calls job_client_gone before freeing
 * one.
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
#include "log.h"
#include "placement.h"
#include "validate.h"

#define MIB			(1024.0 * 1024.0)
#define CHECK_TIMEOUT_MS	30000
#define HOSTD_TIMEOUT_MS	15000
#define DIRTY_RATE_SECONDS	1
#define VERIFY_RETRY_MS		1000
#define VERIFY_DEADLINE_MS	180000	/* hosts may take this long to return */
#define MIGRATE_QUIET_MS	20000	/* no news from the source: ask it */
#define RECORD_PROGRESS_MS	2000	/* sampling of progress into history */
#define STUCK_GRACE_MS		300000	/* past the completion timeout: give up waiting */
#define ABORT_RETRY_MS		1000	/* after a refused or lost abort */
#define ABORT_CONFIRM_MS	10000	/* accepted, but the migration goes on: again */

static const char *job_state_names[JOB_NSTATES] = {
	"pending", "checking", "migrating", "verifying", "succeeded",
	"refused", "rolled_back", "failed",
};

static void	job_start_checks(struct job *);
static void	job_start_migration(struct job *);
static void	job_verify(struct job *);
static void	job_abort_note(struct job *, const char *fmt, ...)
		    __attribute__((format(printf, 2, 3)));
static void	job_finish(struct job *, enum job_state, const char *fmt, ...)
		    __attribute__((format(printf, 3, 4)));

const char *
job_state_name(enum job_state s)
{
	return s < JOB_NSTATES ? job_state_names[s] : "unknown";
}

static int
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

static void
job_free(struct job *j)
{
	struct job_watcher *w;
	size_t i;

	if (j == NULL)
		return;
	while ((w = TAILQ_FIRST(&j->watchers)) != NULL) {
		TAILQ_REMOVE(&j->watchers, w, entry);
		free(w);
	}
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

static void
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
}

static void
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

int
job_watch_list_add(struct job_watcher_list *l, struct ctl_client *c,
    uint32_t serial)
{
	struct job_watcher *w;

	if ((w = calloc(1, sizeof(*w))) == NULL)
		return -1;
	w->client = c;
	w->serial = serial;
	TAILQ_INSERT_TAIL(l, w, entry);
	return 0;
}

int
job_watch(struct job *j, struct ctl_client *c, uint32_t serial)
{
	return job_watch_list_add(&j->watchers, c, serial);
}

void
job_client_gone(struct coord *co, struct ctl_client *c)
{
	struct job_watcher *w, *next;
	struct job *j;

	TAILQ_FOREACH(j, &co->jobs, entry) {
		for (w = TAILQ_FIRST(&j->watchers); w; w = next) {
			next = TAILQ_NEXT(w, entry);
			if (w->client == c) {
				TAILQ_REMOVE(&j->watchers, w, entry);
				free(w);
			}
		}
		if (j->check_client == c)
			j->check_client = NULL;
	}
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
	if (j->uuid[0])
		json_object_object_add(o, "uuid", json_object_new_string(j->uuid));
	s = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
	return s;
}

/*
 * Journals the new state, then makes it the job's. When the journal cannot
 * be written the job does not advance: it fails where it stands (and that
 * is tried to be journaled too), because acting on an unrecorded state
 * would break recovery.
 */
static int
job_set_state(struct job *j, enum job_state s, const char *msg)
{
	struct store *st = j->co->store;
	char data[1400];

	/* A shutdown leaves the job where the journal has it, for the next
	 * start's recovery: it never invents an outcome. */
	if (j->co->stopping)
		return -1;
	if (!j->check_only) {
		snprintf(data, sizeof(data), "%s", msg ? msg : "");
		if (store_job_transition(st, j->id, job_state_name(s), data,
		    clock_wall_ms()) < 0) {
			log_job_warnx(j->id, j->vm, "cannot journal %s: %s",
			    job_state_name(s), store_error(st));
			return -1;
		}
	}
	log_job_info(j->id, j->vm, "%s -> %s%s%s",
	    job_state_name(j->state), job_state_name(s), msg ? ": " : "",
	    msg ? msg : "");
	/* The verification's deadline starts when it does (also after a
	 * recovery or a post-copy resume), never earlier. */
	if (s == JOB_VERIFYING && j->state != JOB_VERIFYING) {
		j->deadline_ms = 0;
		j->verify_round = 0;
	}
	j->state = s;
	job_emit_state(j, msg);
	return 0;
}

static void
job_record(struct job *j, const char *type, struct json_object *o)
{
	if (!j->check_only && store_job_event(j->co->store, j->id, type,
	    json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN),
	    clock_wall_ms()) < 0)
		log_job_warnx(j->id, j->vm, "%s",
		    store_error(j->co->store));
	json_object_put(o);
}

/* ---- pre-checks --------------------------------------------------------- */

static void __attribute__((format(printf, 5, 6)))
job_add_check(struct job *j, const char *name, int ok, int warning,
    const char *fmt, ...)
{
	Ferry__CheckResult *r;
	char buf[1024];
	va_list ap;

	if (j->nchecks == JOB_MAX_CHECKS)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	r = &j->checks[j->nchecks];
	ferry__check_result__init(r);
	j->check_names[j->nchecks] = strdup(name);
	j->check_reasons[j->nchecks] = strdup(buf);
	r->name = j->check_names[j->nchecks] ? j->check_names[j->nchecks] : "?";
	r->reason = j->check_reasons[j->nchecks] ?
	    j->check_reasons[j->nchecks] : "?";
	r->ok = ok;
	r->has_warning = warning;
	r->warning = warning;
	j->nchecks++;
	if (!ok) {
		if (!j->blocked)
			snprintf(j->error, sizeof(j->error), "%s: %s", name, buf);
		j->blocked = 1;
	}
}

static void
job_add_checks(struct job *j, const char *where, Ferry__CheckResult **v,
    size_t n)
{
	char name[128];
	size_t i;

	for (i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "%s%s", v[i]->name, where);
		job_add_check(j, name, v[i]->ok, v[i]->has_warning &&
		    v[i]->warning, "%s", v[i]->reason);
	}
}

static const Ferry__Domain *
job_domain_on(const struct host *h, const char *vm)
{
	size_t i;

	if (h->inv == NULL)
		return NULL;
	for (i = 0; i < h->inv->n_domains; i++)
		if (strcmp(h->inv->domains[i]->name, vm) == 0)
			return h->inv->domains[i];
	return NULL;
}

/* Memory on dst promised to migrations already heading there. */
uint64_t
job_incoming_mib(struct coord *co, const char *dst, const struct job *self)
{
	struct job *j;
	uint64_t sum = 0;

	TAILQ_FOREACH(j, &co->jobs, entry)
		if (j != self && !j->check_only &&
		    strcmp(j->destination, dst) == 0 &&
		    (j->state == JOB_CHECKING || j->state == JOB_MIGRATING))
			sum += j->mem_mib;
	return sum;
}

/* What the coordinator itself can judge: the destination host. */
static int
job_check_destination(struct job *j, const struct host *dh, int record)
{
	uint64_t freem, incoming;

	if (!dh->up) {
		if (record)
			job_add_check(j, "destination", 0, 0, "host %s is down",
			    dh->conf.name);
		return -1;
	}
	if (strcmp(dh->admin_state, "active") != 0) {
		if (record)
			job_add_check(j, "destination", 0, 0, "host %s is %s",
			    dh->conf.name, dh->admin_state);
		return -1;
	}
	/* Where it is reached is never the host's word (cluster.c). */
	if (dh->flagged) {
		if (record)
			job_add_check(j, "destination", 0, 0, "host %s is flagged: "
			    "%s; check it, then 'ferryctl hosts accept %s'",
			    dh->conf.name, dh->flag_reason, dh->conf.name);
		return -1;
	}
	if (cluster_host_libvirt_uri(dh) == NULL ||
	    cluster_host_migration_address(dh) == NULL) {
		if (record)
			job_add_check(j, "destination", 0, 0, "host %s has no "
			    "trusted libvirt URI and migration address",
			    dh->conf.name);
		return -1;
	}
	if (drain_host_busy(j->co, dh->conf.name)) {
		if (record)
			job_add_check(j, "destination", 0, 0, "host %s is being "
			    "drained", dh->conf.name);
		return -1;
	}
	if (job_domain_on(dh, j->vm) != NULL) {
		if (record)
			job_add_check(j, "destination", 0, 0, "host %s already "
			    "has a domain named %s", dh->conf.name, j->vm);
		return -1;
	}
	freem = cluster_host_free_mib(dh);
	incoming = job_incoming_mib(j->co, dh->conf.name, j);
	if (freem < incoming + j->mem_mib) {
		if (record && incoming)
			job_add_check(j, "capacity", 0, 0, "%s has %llu MiB free "
			    "after its reserve, %llu of them promised to "
			    "migrations already on their way; the VM needs %llu "
			    "MiB", dh->conf.name, (unsigned long long)freem,
			    (unsigned long long)incoming,
			    (unsigned long long)j->mem_mib);
		else if (record)
			job_add_check(j, "capacity", 0, 0, "%s has %llu MiB free "
			    "after its reserve; the VM needs %llu MiB",
			    dh->conf.name, (unsigned long long)freem,
			    (unsigned long long)j->mem_mib);
		return -1;
	}
	if (record)
		job_add_check(j, "capacity", 1, 0, "%s has %llu MiB free after "
		    "its reserve; the VM needs %llu MiB", dh->conf.name,
		    (unsigned long long)(freem - incoming),
		    (unsigned long long)j->mem_mib);
	return 0;
}

/* Destinations worth trying: the placement engine's accepted hosts, best
 * weight first; when none, every host's reason is kept for the refusal. */
static void
job_pick_candidates(struct job *j)
{
	struct coord *co = j->co;
	struct placement *p = NULL;
	struct place_verdict *vd = NULL;
	size_t i, k, n = 0, vm;
	char err[64];

	j->ncandidates = j->candidate = 0;
	j->placement_why[0] = '\0';
	if (placement_build(co, &p, err, sizeof(err)) < 0 ||
	    (vd = calloc(p->m.nhosts + 1, sizeof(*vd))) == NULL) {
		snprintf(j->placement_why, sizeof(j->placement_why), "placement: "
		    "out of memory");
		goto out;
	}
	if ((vm = placement_find_vm(p, j->vm)) == PLACE_NONE) {
		snprintf(j->placement_why, sizeof(j->placement_why), "%s runs "
		    "on no host that is up", j->vm);
		goto out;
	}
	(void)place_evaluate(&p->m, vm, vd);
	/* Selection by weight, at most 8; ties to the lower index. */
	while (n < sizeof(j->candidates) / sizeof(j->candidates[0])) {
		k = PLACE_NONE;
		for (i = 0; i < p->m.nhosts; i++)
			if (vd[i].ok && strcmp(co->hosts[i].conf.name,
			    j->source) != 0 &&
			    (k == PLACE_NONE || vd[i].weight > vd[k].weight))
				k = i;
		if (k == PLACE_NONE)
			break;
		vd[k].ok = 0;
		if (job_check_destination(j, &co->hosts[k], 0) < 0)
			continue;
		snprintf(j->candidates[n++], sizeof(j->candidates[0]), "%s",
		    co->hosts[k].conf.name);
	}
	if (n == 0) {
		(void)place_evaluate(&p->m, vm, vd);
		place_summary(&p->m, vd, j->placement_why,
		    sizeof(j->placement_why));
	}
	j->ncandidates = n;
 out:
	free(vd);
	placement_free(p);
}

static void
job_send_check_reply(struct job *j)
{
	Ferry__CheckReply r = FERRY__CHECK_REPLY__INIT;
	Ferry__CheckResult *v[JOB_MAX_CHECKS];
	size_t i;

	if (j->check_client == NULL)
		return;
	for (i = 0; i < j->nchecks; i++)
		v[i] = &j->checks[i];
	r.vm = j->vm;
	r.source = j->source;
	r.destination = j->destination[0] ? j->destination : NULL;
	r.checks = v;
	r.n_checks = j->nchecks;
	r.ok = !j->blocked;
	(void)control_reply(j->check_client, MSG_CTL_CHECK, j->check_serial,
	    &r.base);
}

/* The checks are all in (or one failed to answer): decide. */
static void
job_checks_done(struct job *j)
{
	struct json_object *o, *arr, *c;
	size_t i;

	if (j->calls > 0 || (j->co->stopping && !j->check_only))
		return;
	if (!j->check_only) {
		o = json_object_new_object();
		arr = json_object_new_array();
		for (i = 0; i < j->nchecks; i++) {
			c = json_object_new_object();
			json_object_object_add(c, "name",
			    json_object_new_string(j->checks[i].name));
			json_object_object_add(c, "ok",
			    json_object_new_boolean(j->checks[i].ok));
			json_object_object_add(c, "reason",
			    json_object_new_string(j->checks[i].reason));
			json_object_array_add(arr, c);
		}
		json_object_object_add(o, "destination",
		    json_object_new_string(j->destination));
		json_object_object_add(o, "checks", arr);
		job_record(j, "checks", o);
	}
	if (j->check_only) {
		job_send_check_reply(j);
		TAILQ_REMOVE(&j->co->jobs, j, entry);
		job_free(j);
		return;
	}
	if (j->abort_requested) {
		snprintf(j->error, sizeof(j->error), "%s", j->abort_reason);
		/* Nothing was started; confirm where the VM is all the same. */
		if (job_set_state(j, JOB_VERIFYING, "aborted before the "
		    "migration started") == 0)
			job_verify(j);
		return;
	}
	if (j->blocked) {
		/* Without --to, another destination may pass. */
		if (j->ncandidates > j->candidate + 1) {
			log_job_info(j->id, j->vm, "%s refused (%s); trying "
			    "the next destination", j->destination,
			    j->error);
			j->candidate++;
			j->blocked = 0;
			j->error[0] = '\0';
			job_start_checks(j);
			return;
		}
		job_finish(j, JOB_REFUSED, "%s", j->error);
		return;
	}
	job_start_migration(j);
}

static void
job_cleanup_cb(struct host *h, const struct frame *f, const char *err,
    void *arg)
{
	(void)arg;
	if (f == NULL)
		log_warnx("host %s: removing nonce files: %s", h->conf.name, err);
}

static void
job_storage_cleanup(struct job *j)
{
	Ferry__StorageCleanup sc = FERRY__STORAGE_CLEANUP__INIT;
	struct host *sh = coord_host_find(j->co, j->source);

	if (j->src == NULL || j->src->n_nonces == 0 || sh == NULL)
		return;
	sc.nonces = j->src->nonces;
	sc.n_nonces = j->src->n_nonces;
	(void)peer_call(sh, MSG_STORAGE_CLEANUP, &sc.base, HOSTD_TIMEOUT_MS,
	    job_cleanup_cb, NULL);
}

static void
job_dest_cb(struct host *h, const struct frame *f, const char *err, void *arg)
{
	struct job *j = arg;
	Ferry__DestCheckReply *r;
	char where[80];

	j->calls--;
	snprintf(where, sizeof(where), "@%s", h->conf.name);
	if (f == NULL)
		job_add_check(j, "destination", 0, 0, "%s did not answer its "
		    "checks: %s", h->conf.name, err);
	else if ((r = (Ferry__DestCheckReply *)frame_unpack(f,
	    &ferry__dest_check_reply__descriptor)) == NULL)
		job_add_check(j, "destination", 0, 0, "malformed reply from %s",
		    h->conf.name);
	else {
		job_add_checks(j, where, r->checks, r->n_checks);
		cpucache_verdict(j->co, j->vm, h, r);
		ferry__dest_check_reply__free_unpacked(r, NULL);
	}
	job_storage_cleanup(j);
	job_checks_done(j);
}

static void
job_send_dest_check(struct job *j)
{
	Ferry__DestCheckRequest req = FERRY__DEST_CHECK_REQUEST__INIT;
	struct host *dh = coord_host_find(j->co, j->destination);

	req.domain = j->src->domain;
	req.nonces = j->src->nonces;
	req.n_nonces = j->src->n_nonces;
	req.identities = j->src->identities;
	req.n_identities = j->src->n_identities;
	req.cpu_xml = j->src->cpu_xml;
	/* Not the source's <emulator>: the destination would run it. The
	 * destination compares with its own default emulator. */
	req.arch = j->src->arch;
	req.machine = j->src->machine;
	req.virttype = j->src->virttype;
	req.has_timeout_ms = 1;
	req.timeout_ms = 10000;
	if (dh == NULL || peer_call(dh, MSG_PRECHECK_DEST, &req.base,
	    CHECK_TIMEOUT_MS, job_dest_cb, j) < 0) {
		job_add_check(j, "destination", 0, 0, "host %s is not connected",
		    j->destination);
		job_storage_cleanup(j);
		return;
	}
	j->calls++;
}

static void
job_source_cb(struct host *h, const struct frame *f, const char *err, void *arg)
{
	struct job *j = arg;
	Ferry__SourceCheckReply *r;
	char where[80];

	j->calls--;
	snprintf(where, sizeof(where), "@%s", h->conf.name);
	if (f == NULL)
		job_add_check(j, "source", 0, 0, "%s: %s", h->conf.name, err);
	else if ((r = (Ferry__SourceCheckReply *)frame_unpack(f,
	    &ferry__source_check_reply__descriptor)) == NULL ||
	    r->domain == NULL) {
		job_add_check(j, "source", 0, 0, "malformed reply from %s",
		    h->conf.name);
		if (r)
			ferry__source_check_reply__free_unpacked(r, NULL);
	} else {
		if (j->src)
			ferry__source_check_reply__free_unpacked(j->src, NULL);
		j->src = r;
		j->mem_mib = r->domain->mem_mib;
		cpucache_guest(j->co, j->vm, r);
		job_add_checks(j, where, r->checks, r->n_checks);
		/* The destination needs the source's findings (nonces, CPU);
		 * a source that blocks still gets its nonces removed. */
		if (!j->blocked)
			job_send_dest_check(j);
		else
			job_storage_cleanup(j);
	}
	job_checks_done(j);
}

static void
job_dirty_cb(struct host *h, const struct frame *f, const char *err, void *arg)
{
	struct job *j = arg;
	Ferry__DirtyRateReply *r;
	struct converge_prediction p;
	uint32_t downtime = j->opts.max_downtime_ms ? j->opts.max_downtime_ms :
	    500;

	(void)h;
	j->calls--;
	if (f == NULL || (r = (Ferry__DirtyRateReply *)frame_unpack(f,
	    &ferry__dirty_rate_reply__descriptor)) == NULL) {
		job_add_check(j, "convergence", 1, 1, "dirty rate not measured: "
		    "%s", err ? err : "malformed reply");
	} else {
		j->dirty_mibs = r->mib_per_s;
		ferry__dirty_rate_reply__free_unpacked(r, NULL);
		if (j->mem_mib == 0)
			j->mem_mib = 1;
		if (converge_predict(j->mem_mib, j->dirty_mibs,
		    j->opts.bandwidth_mibs, downtime, &p) == 0)
			/* A prediction informs; the policy decides in flight. */
			job_add_check(j, "convergence", 1, !p.converges, "%s",
			    p.summary);
	}
	job_checks_done(j);
}

/* Runs every pre-check for the current destination: coordinator-side
 * capacity, then the source's and the destination's hostd in turn, and the
 * dirty rate alongside. */
static void
job_start_checks(struct job *j)
{
	Ferry__SourceCheckRequest sreq = FERRY__SOURCE_CHECK_REQUEST__INIT;
	Ferry__DirtyRateRequest dreq = FERRY__DIRTY_RATE_REQUEST__INIT;
	struct host *sh = coord_host_find(j->co, j->source), *dh;
	const Ferry__Domain *d;

	if (j->ncandidates > 0) {
		snprintf(j->destination, sizeof(j->destination), "%s",
		    j->candidates[j->candidate]);
		/* Recorded before the checks: recovery must know both ends. */
		if (!j->check_only && store_job_set_destination(j->co->store,
		    j->id, j->destination, clock_wall_ms()) < 0)
			log_job_warnx(j->id, j->vm, "%s",
			    store_error(j->co->store));
	}
	if (j->destination[0] == '\0') {
		job_add_check(j, "destination", 0, 0, "no host can take %s: "
		    "%s", j->vm, j->placement_why[0] ? j->placement_why :
		    "every other host is down, in maintenance or full");
		job_checks_done(j);
		return;
	}
	dh = coord_host_find(j->co, j->destination);
	if (sh && (d = job_domain_on(sh, j->vm)) != NULL)
		j->mem_mib = d->mem_mib;
	(void)job_check_destination(j, dh, 1);
	if (j->blocked || sh == NULL) {
		job_checks_done(j);
		return;
	}
	sreq.name = j->vm;
	sreq.has_timeout_ms = 1;
	sreq.timeout_ms = 10000;
	if (peer_call(sh, MSG_PRECHECK_SOURCE, &sreq.base, CHECK_TIMEOUT_MS,
	    job_source_cb, j) < 0) {
		job_add_check(j, "source", 0, 0, "host %s is not connected",
		    j->source);
		job_checks_done(j);
		return;
	}
	j->calls++;
	/* The prediction needs a bandwidth to predict against; QEMU's
	 * shortest measurement (1 s) would otherwise be most of an uncapped
	 * migration's set-up. ferryctl check always measures. */
	if (j->dirty_mibs < 0 && !j->check_only && j->opts.bandwidth_mibs == 0)
		job_add_check(j, "convergence", 1, 0, "dirty rate not measured: "
		    "no bandwidth cap (ferryctl check measures it)");
	else if (j->dirty_mibs < 0) {
		dreq.name = j->vm;
		dreq.seconds = DIRTY_RATE_SECONDS;
		if (peer_call(sh, MSG_DIRTY_RATE, &dreq.base, CHECK_TIMEOUT_MS,
		    job_dirty_cb, j) == 0)
			j->calls++;
	}
}

/* ---- creating jobs ---------------------------------------------------- */

/* Where the VM runs now, by the hosts' own reports. */
static int
job_locate(struct coord *co, const char *vm, char *src, size_t srclen,
    char *uuid, size_t uuidlen, uint64_t *mem, char *err, size_t errlen)
{
	const Ferry__Domain *d;
	size_t i, running = 0;
	const char *down = NULL, *other = NULL, *otherstate = NULL, *claim;

	for (i = 0; i < co->nhosts; i++) {
		struct host *h = &co->hosts[i];

		if ((d = job_domain_on(h, vm)) == NULL)
			continue;
		if (!h->up) {
			down = h->conf.name;
			continue;
		}
		if (strcmp(d->state, "running") == 0) {
			if (running++ == 0) {
				snprintf(src, srclen, "%s", h->conf.name);
				snprintf(uuid, uuidlen, "%s", d->uuid);
				*mem = d->mem_mib;
			}
		} else {
			other = h->conf.name;
			otherstate = d->state;
		}
	}
	/* Claimed by another host too (by name or UUID, in any live state):
	 * one of them lies, and neither's word is enough to move it. */
	if (running == 1 && (claim = cluster_domain_claimed(co,
	    coord_host_find(co, src), vm, uuid)) != NULL) {
		struct host *sh = coord_host_find(co, src), *ch;

		snprintf(err, errlen, "%s is reported by both %s and %s; Ferry "
		    "moves neither copy until one host stops claiming it", vm,
		    src, claim);
		cluster_host_notice(sh, "%s", err);
		if ((ch = coord_host_find(co, claim)) != NULL)
			cluster_host_notice(ch, "%s", err);
		return -1;
	}
	if (running == 1)
		return 0;
	if (running > 1)
		snprintf(err, errlen, "%s is reported running on %zu hosts; "
		    "resolve that first", vm, running);
	else if (other)
		snprintf(err, errlen, "%s is %s on %s, not running", vm,
		    otherstate, other);
	else if (down)
		snprintf(err, errlen, "%s was last seen on %s, which is down",
		    vm, down);
	else
		snprintf(err, errlen, "unknown VM '%s'", vm);
	return -1;
}

static struct job *
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

static int
job_validate_target(struct coord *co, struct job *j, const char *to,
    char *err, size_t errlen)
{
	struct host *dh;

	if (to == NULL || to[0] == '\0') {
		job_pick_candidates(j);
		return 0;
	}
	if ((dh = coord_host_find(co, to)) == NULL) {
		snprintf(err, errlen, "unknown host '%s'", to);
		return -1;
	}
	if (strcmp(to, j->source) == 0) {
		snprintf(err, errlen, "%s already runs on %s", j->vm, to);
		return -1;
	}
	snprintf(j->destination, sizeof(j->destination), "%s", to);
	return 0;
}

int
job_migrate(struct coord *co, const Ferry__MigrateOptions *o, int64_t parent,
    struct job **out, char *err, size_t errlen)
{
	struct store_job sj;
	struct job *j, *other;
	char *params;

	*out = NULL;
	if ((other = job_find_vm(co, o->vm)) != NULL) {
		snprintf(err, errlen, "%s already has job %lld in flight (%s)",
		    o->vm, (long long)other->id, job_state_name(other->state));
		return -1;
	}
	if ((j = job_new(co, o->vm)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (job_locate(co, o->vm, j->source, sizeof(j->source), j->uuid,
	    sizeof(j->uuid), &j->mem_mib, err, errlen) < 0 || job_validate_target(co, j, o->to, err,
	    errlen) < 0) {
		job_free(j);
		return -1;
	}
	j->opts.bandwidth_mibs = o->has_bandwidth_mibs ? o->bandwidth_mibs : 0;
	j->opts.max_downtime_ms = o->has_max_downtime_ms ? o->max_downtime_ms : 0;
	j->opts.timeout_s = o->has_timeout_s ? o->timeout_s : 0;
	j->opts.postcopy = o->has_postcopy ? o->postcopy : 0;
	j->opts.auto_converge = o->has_auto_converge && o->auto_converge;

	memset(&sj, 0, sizeof(sj));
	snprintf(sj.kind, sizeof(sj.kind), "migrate");
	snprintf(sj.vm, sizeof(sj.vm), "%s", j->vm);
	snprintf(sj.source, sizeof(sj.source), "%s", j->source);
	snprintf(sj.destination, sizeof(sj.destination), "%s", j->destination);
	snprintf(sj.state, sizeof(sj.state), "pending");
	sj.parent = parent;
	j->parent = parent;
	sj.params = params = job_params_json(j);
	if (store_job_create(co->store, &sj, j->started_ms) < 0) {
		snprintf(err, errlen, "cannot record the job: %s",
		    store_error(co->store));
		free(params);
		job_free(j);
		return -1;
	}
	free(params);
	j->id = sj.id;
	TAILQ_INSERT_TAIL(&co->jobs, j, entry);
	*out = j;
	return 0;
}

/* Called by api.c after it has replied and added its watcher. */
void
job_run(struct job *j)
{
	if (job_set_state(j, JOB_CHECKING, "running pre-checks") < 0) {
		job_finish(j, JOB_FAILED, "cannot journal the job");
		return;
	}
	job_start_checks(j);
}

int
job_check(struct coord *co, const Ferry__CheckRequest *req,
    struct ctl_client *c, uint32_t serial, char *err, size_t errlen)
{
	struct job *j;

	if ((j = job_new(co, req->vm)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	j->check_only = 1;
	j->check_client = c;
	j->check_serial = serial;
	j->opts.bandwidth_mibs = req->has_bandwidth_mibs ? req->bandwidth_mibs : 0;
	j->opts.max_downtime_ms = req->has_max_downtime_ms ?
	    req->max_downtime_ms : 0;
	if (job_locate(co, req->vm, j->source, sizeof(j->source), j->uuid,
	    sizeof(j->uuid), &j->mem_mib, err, errlen) < 0 || job_validate_target(co, j, req->to, err,
	    errlen) < 0) {
		job_free(j);
		return -1;
	}
	TAILQ_INSERT_TAIL(&co->jobs, j, entry);
	j->state = JOB_CHECKING;
	job_start_checks(j);
	return 0;
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
		return;
	}
	/* hostd refused or never answered: did it start? Only both hosts
	 * can say; the verification waits for any job libvirt still runs. */
	j->have_result = 1;
	j->result_ok = 0;
	snprintf(j->result_error, sizeof(j->result_error), "%s", err);
	snprintf(j->error, sizeof(j->error), "%s", err);
	if (job_set_state(j, JOB_VERIFYING, err) == 0)
		job_verify(j);
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

static void
job_start_migration(struct job *j)
{
	Ferry__MigrateRequest req = FERRY__MIGRATE_REQUEST__INIT;
	Ferry__Policy pol = FERRY__POLICY__INIT;
	struct host *sh = coord_host_find(j->co, j->source);
	struct host *dh = coord_host_find(j->co, j->destination);
	char muri[300], msg[600], e[300];

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
		    dh->admin_state : "being drained");
		return;
	}
	if (job_dest_uris(dh, muri, sizeof(muri), e, sizeof(e)) < 0) {
		job_finish(j, JOB_REFUSED, "%s", e);
		return;
	}
	snprintf(msg, sizeof(msg), "%s -> %s (%s)", j->source, j->destination,
	    cluster_host_libvirt_uri(dh));
	/* Journaled before MIGRATE leaves: after a crash, "migrating" means
	 * it may have started and hostd must be asked. */
	if (job_set_state(j, JOB_MIGRATING, msg) < 0) {
		job_finish(j, JOB_FAILED, "cannot journal the job");
		return;
	}
	pol.has_bandwidth_mibs = 1;
	pol.bandwidth_mibs = j->opts.bandwidth_mibs;
	if (j->opts.max_downtime_ms) {
		pol.has_max_downtime_ms = 1;
		pol.max_downtime_ms = j->opts.max_downtime_ms;
	}
	if (j->opts.timeout_s) {
		pol.has_timeout_s = 1;
		pol.timeout_s = j->opts.timeout_s;
	}
	pol.has_allow_postcopy = 1;
	pol.allow_postcopy = j->opts.postcopy > 0;
	pol.has_auto_converge = 1;
	pol.auto_converge = j->opts.auto_converge;
	req.job_id = j->id;
	req.name = j->vm;
	req.dest_uri = (char *)cluster_host_libvirt_uri(dh);
	req.migrate_uri = muri;
	req.policy = &pol;
	req.has_mem_mib = 1;
	req.mem_mib = j->mem_mib;
	j->migrate_sent_ms = j->last_event_ms = clock_mono_ms();
	if (peer_call(sh, MSG_MIGRATE, &req.base, HOSTD_TIMEOUT_MS,
	    job_migrate_cb, j) < 0) {
		snprintf(j->error, sizeof(j->error), "source %s is not connected",
		    j->source);
		if (job_set_state(j, JOB_VERIFYING, j->error) == 0)
			job_verify(j);
		return;
	}
	j->calls++;
}

/* POSTCOPY_RESUME of a failed post-copy: back to migrating, journaled. */
static void
job_start_migration_resume(struct job *j)
{
	Ferry__MigrateRequest req = FERRY__MIGRATE_REQUEST__INIT;
	Ferry__Policy pol = FERRY__POLICY__INIT;
	struct host *sh = coord_host_find(j->co, j->source);
	struct host *dh = coord_host_find(j->co, j->destination);
	char muri[300], e[300];

	j->resumes++;
	if (sh == NULL || dh == NULL || dh->inv == NULL || !sh->up || !dh->up ||
	    job_dest_uris(dh, muri, sizeof(muri), e, sizeof(e)) < 0) {
		j->verify_next_ms = clock_mono_ms() + VERIFY_RETRY_MS;
		return;
	}
	if (job_set_state(j, JOB_MIGRATING, "resuming the failed post-copy") < 0)
		return;
	pol.has_bandwidth_mibs = 1;
	pol.bandwidth_mibs = j->opts.bandwidth_mibs;
	pol.has_allow_postcopy = 1;
	pol.allow_postcopy = 1;
	req.job_id = j->id;
	req.name = j->vm;
	req.dest_uri = (char *)cluster_host_libvirt_uri(dh);
	req.migrate_uri = muri;
	req.policy = &pol;
	req.has_mem_mib = 1;
	req.mem_mib = j->mem_mib;
	req.has_postcopy_resume = 1;
	req.postcopy_resume = 1;
	j->have_result = 0;
	j->migrate_sent_ms = j->last_event_ms = clock_mono_ms();
	if (peer_call(sh, MSG_MIGRATE, &req.base, HOSTD_TIMEOUT_MS,
	    job_migrate_cb, j) == 0)
		j->calls++;
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
	if (s->has_memory_total && s->memory_total) {
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
	if (j->parent)
		drain_job_progress(j->co, j, pct);

	if (s->action || now - j->last_recorded_ms >= RECORD_PROGRESS_MS) {
		j->last_recorded_ms = now;
		o = json_object_new_object();
		json_object_object_add(o, "percent", json_object_new_double(pct));
		json_object_object_add(o, "data_processed_mib",
		    json_object_new_double(processed));
		json_object_object_add(o, "data_remaining_mib",
		    json_object_new_double(remaining));
		json_object_object_add(o, "remaining_low_mib",
		    json_object_new_double(j->remaining_low / MIB));
		json_object_object_add(o, "data_total_mib",
		    json_object_new_double(total));
		json_object_object_add(o, "mib_per_s", json_object_new_double(bps));
		json_object_object_add(o, "dirty_mib_per_s",
		    json_object_new_double(dirty));
		json_object_object_add(o, "iteration",
		    json_object_new_int64(ev.iteration));
		json_object_object_add(o, "max_downtime_ms",
		    json_object_new_int64(s->has_max_downtime_ms ?
		    s->max_downtime_ms : 0));
		if (s->action)
			json_object_object_add(o, "policy",
			    json_object_new_string(s->action));
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
	if (job_set_state(j, JOB_VERIFYING, msg) == 0)
		job_verify(j);
}

static void
job_query_cb(struct host *h, const struct frame *f, const char *err, void *arg)
{
	struct job *j = arg;
	Ferry__MigrateResult *r;

	(void)h;
	j->calls--;
	j->query_pending = 0;
	j->last_event_ms = clock_mono_ms();
	if (j->state != JOB_MIGRATING)
		return;
	if (f == NULL || (r = (Ferry__MigrateResult *)frame_unpack(f,
	    &ferry__migrate_result__descriptor)) == NULL) {
		/* hostd lost its record (it restarted): the hosts' libvirtds
		 * still know; verification waits out any running job. */
		log_job_warnx(j->id, j->vm, "source has no record: %s",
		    err ? err : "malformed reply");
		snprintf(j->error, sizeof(j->error), "the source's hostd lost "
		    "track of the migration (%s)", err ? err : "malformed reply");
		if (job_set_state(j, JOB_VERIFYING, j->error) == 0)
			job_verify(j);
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

static void
job_query(struct job *j)
{
	Ferry__JobRef ref = FERRY__JOB_REF__INIT;
	struct host *sh = coord_host_find(j->co, j->source);

	if (j->query_pending || sh == NULL || !sh->up)
		return;
	ref.job_id = j->id;
	ref.name = j->vm;
	if (peer_call(sh, MSG_JOB_QUERY, &ref.base, HOSTD_TIMEOUT_MS,
	    job_query_cb, j) == 0) {
		j->query_pending = 1;
		j->calls++;
	}
}

/* ---- abort -------------------------------------------------------------- */

/* Abort deadlines: the wall clock may be stepped under a migration. */
static uint64_t
job_mono_ms(void)
{
	return clock_mono_ms();
}

/* An entry of the abort's fate in the job's history, and to watchers. */
static void __attribute__((format(printf, 2, 3)))
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
static int
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
		return -1;
	}
	if (j->state == JOB_VERIFYING) {
		snprintf(err, errlen, "job %lld is already verifying its outcome",
		    (long long)id);
		return -1;
	}
	if (j->postcopy) {
		snprintf(err, errlen, "job %lld is in post-copy: the VM already "
		    "runs on %s and cannot go back", (long long)id,
		    j->destination);
		return -1;
	}
	if (j->abort_requested) {
		/* Already pending: job_tick re-sends it as needed. */
		return 0;
	}
	j->abort_requested = 1;
	snprintf(j->abort_reason, sizeof(j->abort_reason), "%s", why);
	if (store_job_event(co->store, j->id, "info", why, clock_wall_ms()) < 0)
		log_job_warnx(j->id, j->vm, "%s", store_error(co->store));
	log_job_info(j->id, j->vm, "abort requested: %s", why);
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
	return 0;
}

static void	job_start_migration_resume(struct job *);

/* Both answers are in: the VM must run on exactly one host. */
static void
job_judge(struct job *j)
{
	const Ferry__DomainState *s = j->src_state, *d = j->dst_state;
	char sd[160], dd[160], why[300];
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
		j->verify_next_ms = now + VERIFY_RETRY_MS;
		return;
	}
	if (s == NULL || d == NULL) {
		if (now < j->deadline_ms) {
			j->verify_next_ms = now + VERIFY_RETRY_MS;
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
			job_start_migration_resume(j);
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
			j->verify_next_ms = now + VERIFY_RETRY_MS;
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
			j->verify_next_ms = now + VERIFY_RETRY_MS;
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
static void
job_verify(struct job *j)
{
	uint64_t now = clock_mono_ms();

	if (j->state != JOB_VERIFYING || j->calls > 0 || j->co->stopping)
		return;
	if (j->deadline_ms == 0 || j->verify_round == 0)
		j->deadline_ms = now + VERIFY_DEADLINE_MS;
	j->verify_round++;
	j->verify_next_ms = 0;
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
/* MiB to one decimal, as ferryctl shows it. */
static struct json_object *
job_json_mib(uint64_t bytes)
{
	char buf[64];

	snprintf(buf, sizeof(buf), "%.1f", bytes / MIB);
	return json_object_new_double_s(strtod(buf, NULL), buf);
}

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
}

static void
job_finish(struct job *j, enum job_state s, const char *fmt, ...)
{
	Ferry__JobEvent ev = FERRY__JOB_EVENT__INIT;
	struct json_object *o;
	const char *on = job_running_on(j, s);
	uint64_t now = clock_wall_ms();
	char msg[1400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (j->co->stopping && !j->check_only) {
		/* What failed is the coordinator going away (its calls fail
		 * with "coordinator shutting down"), not the job. */
		log_info("job %lld: left %s for recovery (%s)", (long long)j->id,
		    job_state_name(j->state), msg);
		return;
	}
	if (s != JOB_SUCCEEDED)
		snprintf(j->error, sizeof(j->error), "%s", msg);
	else
		j->error[0] = '\0';

	o = json_object_new_object();
	json_object_object_add(o, "message", json_object_new_string(msg));
	json_object_object_add(o, "running_on", on ?
	    json_object_new_string(on) : NULL);
	json_object_object_add(o, "elapsed_ms",
	    json_object_new_int64(now - j->started_ms));
	if (s == JOB_SUCCEEDED)
		job_take_figures(j);
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
	    job_json_mib(j->data_bytes) : NULL);
	json_object_object_add(o, "passes", j->passes ?
	    json_object_new_int64(j->passes) : NULL);
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
	if (!j->check_only && store_job_finish(j->co->store, j->id,
	    job_state_name(s), s == JOB_SUCCEEDED ? NULL : msg,
	    json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN), now) < 0)
		log_job_warnx(j->id, j->vm, "cannot journal its end: %s",
		    store_error(j->co->store));
	json_object_put(o);
	log_job_info(j->id, j->vm, "%s: %s", job_state_name(s), msg);
	j->state = s;

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
	if (s != JOB_SUCCEEDED)
		ev.error = msg;
	ev.message = msg;
	job_emit(j, &ev);
	/* Its parent, and any drain that follows it, learn the end. */
	if (!j->check_only)
		drain_job_done(j->co, j, s);
	TAILQ_REMOVE(&j->co->jobs, j, entry);
	job_free(j);
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
	return converge_timeout_ms(&pol, j->mem_mib ? j->mem_mib : 1);
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
		    j->migrate_sent_ms && now > j->migrate_sent_ms +
		    job_timeout_ms(j) + STUCK_GRACE_MS) {
			/* libvirt's job outlived its own deadline by minutes
			 * (e.g. QEMU stuck on a dead NFS server): stop waiting
			 * and report what each host says. */
			snprintf(j->error, sizeof(j->error), "the migration did not "
			    "end %llu s after its deadline; libvirt may still "
			    "hold it", (unsigned long long)(STUCK_GRACE_MS / 1000));
			if (job_set_state(j, JOB_VERIFYING, j->error) == 0)
				job_verify(j);
		} else if (j->state == JOB_MIGRATING && j->calls == 0 &&
		    now - j->last_event_ms > MIGRATE_QUIET_MS)
			job_query(j);
	}
}

static void
job_parse_params(struct job *j, const char *params)
{
	struct json_object *o, *v;

	if (params == NULL || (o = json_tokener_parse(params)) == NULL)
		return;
	if (json_object_object_get_ex(o, "bandwidth_mibs", &v))
		j->opts.bandwidth_mibs = json_object_get_int64(v);
	if (json_object_object_get_ex(o, "max_downtime_ms", &v))
		j->opts.max_downtime_ms = json_object_get_int64(v);
	if (json_object_object_get_ex(o, "timeout_s", &v))
		j->opts.timeout_s = json_object_get_int64(v);
	if (json_object_object_get_ex(o, "postcopy", &v))
		j->opts.postcopy = json_object_get_int(v);
	if (json_object_object_get_ex(o, "auto_converge", &v))
		j->opts.auto_converge = json_object_get_boolean(v);
	if (json_object_object_get_ex(o, "mem_mib", &v))
		j->mem_mib = json_object_get_int64(v);
	if (json_object_object_get_ex(o, "uuid", &v))
		snprintf(j->uuid, sizeof(j->uuid), "%s", json_object_get_string(v));
	json_object_put(o);
}

/*
 * After a restart: every unfinished job in the journal is taken up again.
 * pending/checking: MIGRATE was never sent, so the VM must still be on the
 * source; verify that and roll back. migrating: ask the source's hostd when
 * it is back. verifying: verify.
 */
int
job_recover(struct coord *co, char *err, size_t errlen)
{
	struct store_job *sj = NULL;
	size_t n = 0, i;
	struct job *j;
	int st;

	if (store_jobs_list(co->store, 1, 0, &sj, &n) < 0) {
		snprintf(err, errlen, "%s", store_error(co->store));
		return -1;
	}
	for (i = 0; i < n; i++) {
		if (strcmp(sj[i].kind, "migrate") != 0 ||
		    (st = job_state_parse(sj[i].state)) < 0 ||
		    job_state_final(st))
			continue;
		if ((j = job_new(co, sj[i].vm)) == NULL)
			continue;
		j->id = sj[i].id;
		j->parent = sj[i].parent;
		j->recovered = 1;
		j->started_ms = sj[i].started_ms;
		snprintf(j->source, sizeof(j->source), "%s", sj[i].source);
		snprintf(j->destination, sizeof(j->destination), "%s",
		    sj[i].destination);
		job_parse_params(j, sj[i].params);
		j->state = st;
		TAILQ_INSERT_TAIL(&co->jobs, j, entry);
		log_job_info(j->id, j->vm, "recovering %s of %s (%s -> %s)",
		    sj[i].state, j->vm, j->source,
		    j->destination);
		if (st == JOB_PENDING || st == JOB_CHECKING) {
			snprintf(j->error, sizeof(j->error), "the coordinator "
			    "restarted during the pre-checks; nothing was "
			    "started");
			/* A recovery that cannot be journaled would leave the
			 * job stuck in memory: the start fails instead, loudly
			 * (the database must be writable to run jobs). */
			if (job_set_state(j, JOB_VERIFYING, j->error) < 0) {
				snprintf(err, errlen, "job %lld: cannot journal "
				    "its recovery: %s", (long long)j->id,
				    store_error(co->store));
				goto fail;
			}
		} else if (st == JOB_MIGRATING) {
			j->last_event_ms = clock_mono_ms();
			j->migrate_sent_ms =
			    clock_mono_of_wall(sj[i].started_ms);
			if (store_job_event(co->store, j->id, "info",
			    "coordinator restarted; asking the source's hostd",
			    clock_wall_ms()) < 0) {
				snprintf(err, errlen, "job %lld: cannot journal "
				    "its recovery: %s", (long long)j->id,
				    store_error(co->store));
				goto fail;
			}
			continue;	/* verified when it ends, from then */
		}
		/* Verifying: hosts are not connected yet; job_host_up drives
		 * the rest, and the verification deadline counts from now. */
		j->deadline_ms = clock_mono_ms() + VERIFY_DEADLINE_MS;
		j->verify_round = 1;
		j->verify_next_ms = clock_mono_ms() + VERIFY_RETRY_MS;
	}
	store_job_list_free(sj, n);
	return 0;
fail:
	log_warnx("%s", err);
	store_job_list_free(sj, n);
	return -1;
}

/* For ferryctl watch of a job that already ended. */
int
job_send_done_from_store(struct coord *co, struct ctl_client *c,
    uint32_t serial, const struct store_job *sj)
{
	Ferry__JobEvent ev = FERRY__JOB_EVENT__INIT;
	struct store_event *evs = NULL;
	struct json_object *o = NULL, *v;
	size_t n = 0;
	int rc;

	ev.job_id = sj->id;
	ev.event = "done";
	ev.vm = (char *)sj->vm;
	ev.state = (char *)sj->state;
	ev.source = (char *)sj->source;
	ev.destination = (char *)sj->destination;
	ev.error = sj->error;
	ev.has_elapsed_ms = 1;
	ev.elapsed_ms = sj->ended_ms > sj->started_ms ?
	    sj->ended_ms - sj->started_ms : 0;
	if (store_job_events(co->store, sj->id, &evs, &n) == 0 && n > 0 &&
	    evs[n - 1].data && (o = json_tokener_parse(evs[n - 1].data))) {
		if (json_object_object_get_ex(o, "running_on", &v) && v)
			ev.running_on = (char *)json_object_get_string(v);
		/* null (unknown) stays unknown. */
		if (json_object_object_get_ex(o, "downtime_ms", &v) && v) {
			ev.has_downtime_ms = 1;
			ev.downtime_ms = json_object_get_int64(v);
		}
		if (json_object_object_get_ex(o, "data_mib", &v) && v) {
			ev.has_data_mib = 1;
			ev.data_mib = json_object_get_double(v);
		}
		if (json_object_object_get_ex(o, "migration_ms", &v) && v) {
			ev.has_migration_ms = 1;
			ev.migration_ms = json_object_get_int64(v);
		}
		if (json_object_object_get_ex(o, "passes", &v) && v) {
			ev.has_passes = 1;
			ev.passes = json_object_get_int64(v);
		}
	}
	rc = control_event(c, MSG_CTL_JOB_EVENT, serial, &ev.base);
	if (o)
		json_object_put(o);
	store_event_list_free(evs, n);
	return rc;
}
