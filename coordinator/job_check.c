/* job_check.c: a migration job's pre-checks: where the VM runs, which
 * destinations to try, the fan-out to the coordinator's own judgement, the
 * source's and the destination's hostd and the dirty rate, and the
 * check_only mode of 'ferryctl check' (the same checks, a reply instead of
 * a record). The job is in "checking" (step CHECKS) while they run; their
 * verdict is an event of job.c's table: passed, refused or aborted.
 *
 * Ownership: a check-only job is freed here when its reply is sent; the
 * source's reply (j->src) is owned by the job.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "coordinator.h"
#include "cpucache.h"
#include "log.h"
#include "placement.h"

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
		job_copy_check_where(j, v[i]);
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
			    dh->conf.name, coord_admin_phrase(dh->admin_state));
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
			/* a prediction of no convergence is recorded as the
			 * warning it is, not as a silent ok */
			if (j->checks[i].has_warning && j->checks[i].warning)
				json_object_object_add(c, "warning",
				    json_object_new_boolean(1));
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
		(void)job_enter(j, JOB_EV_ABORTED, "aborted before the "
		    "migration started");
		return;
	}
	if (j->blocked) {
		/* Without --to, another destination may pass. */
		if (j->ncandidates > j->candidate + 1) {
			log_job_info(j->id, j->vm, "%s refused (%s); trying "
			    "the next destination", j->destination,
			    j->error);
			job_copy_cleanup(j);
			j->candidate++;
			j->blocked = 0;
			j->error[0] = '\0';
			j->deadline_ms = job_deadline_of(j, JOB_CHECKING,
			    clock_mono_ms());
			job_start_checks(j);
			return;
		}
		job_finish(j, JOB_REFUSED, "%s", j->error);
		return;
	}
	job_start_migration(j);
}

static void
job_storage_cleanup(struct job *j)
{
	if (j->src != NULL)
		peer_storage_cleanup(coord_host_find(j->co, j->source),
		    j->src->nonces, j->src->n_nonces, HOSTD_TIMEOUT_MS);
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
		job_copy_take_created(j, r);
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
	req.has_tls = 1;
	req.tls = j->opts.tls;
	job_copy_dest_request(j, &req);
	if (dh == NULL || peer_call(dh, MSG_PRECHECK_DEST, &req.base,
	    CHECK_TIMEOUT_MS, job_dest_cb, j) < 0) {
		job_add_check(j, "destination", 0, 0, "host %s is not connected",
		    j->destination);
		job_storage_cleanup(j);
		return;
	}
	j->calls++;
}

/* Without --to, once the guest CPU is known and the other hosts have said
 * whether they can run it: the candidates again, from the cache, so the
 * destination checked is one that did not say no. */
static void
job_repick(struct job *j)
{
	struct host *dh;
	char cur[64];

	/* Not counted as on its way to cur while choosing again. */
	snprintf(cur, sizeof(cur), "%s", j->destination);
	j->destination[0] = '\0';
	job_pick_candidates(j);
	if (j->ncandidates == 0) {
		snprintf(j->destination, sizeof(j->destination), "%s", cur);
		job_add_check(j, "destination", 0, 0, "no host can take %s: %s",
		    j->vm, j->placement_why[0] ? j->placement_why :
		    "every other host is down, in maintenance or full");
		job_storage_cleanup(j);
		return;
	}
	snprintf(j->destination, sizeof(j->destination), "%s",
	    j->candidates[0]);
	if (strcmp(j->candidates[0], cur) != 0) {
		log_job_info(j->id, j->vm, "%s instead of %s, which cannot run "
		    "its CPU or no longer fits", j->candidates[0], cur);
		if (!j->check_only && store_job_set_destination(j->co->store,
		    j->id, j->destination, clock_wall_ms()) < 0)
			log_job_warnx(j->id, j->vm, "%s",
			    store_error(j->co->store));
		dh = coord_host_find(j->co, j->destination);
		(void)job_check_destination(j, dh, 1);
		if (j->blocked) {
			job_storage_cleanup(j);
			return;
		}
	}
	job_send_dest_check(j);
}

static void
job_cpu_asked(void *arg)
{
	struct job *j = arg;

	j->calls--;
	if (--j->cpu_asks > 0)
		return;
	if (!j->co->stopping && !j->blocked)
		job_repick(j);
	job_checks_done(j);
}

/* The destination's checks, after asking the other hosts about the guest
 * CPU when the placement chose it (the first candidate only). */
static void
job_ask_then_check(struct job *j, struct host *src)
{
	int n;

	if (j->ncandidates == 0 || j->candidate != 0 || j->cpu_asked) {
		job_send_dest_check(j);
		return;
	}
	j->cpu_asked = 1;
	if ((n = cpucache_prefetch(j->co, src, j->vm, j->src, job_cpu_asked,
	    j)) > 0) {
		j->cpu_asks = n;
		j->calls += n;
		return;
	}
	job_repick(j);		/* the cache may know already */
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
			job_ask_then_check(j, h);
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
			/* A prediction is a warning; the ladder acts on it
			 * in flight (its dirty rate goes with the policy). */
			job_add_check(j, "convergence", 1, !p.converges, "%s",
			    p.summary);
	}
	job_checks_done(j);
}

/* Runs every pre-check for the current destination: coordinator-side
 * capacity, then the source's and the destination's hostd in turn, and the
 * dirty rate alongside. */
void
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
	sreq.has_copy_storage = 1;
	sreq.copy_storage = j->opts.copy_storage;
	sreq.has_tls = 1;
	sreq.tls = j->opts.tls;
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
int
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
		return -FERRY_ECONFLICT;
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
	else {
		snprintf(err, errlen, "unknown VM '%s'", vm);
		return -FERRY_ENOTFOUND;
	}
	return -FERRY_ECONFLICT;
}

int
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
		return -FERRY_ENOTFOUND;
	}
	if (strcmp(to, j->source) == 0) {
		snprintf(err, errlen, "%s already runs on %s", j->vm, to);
		return -1;
	}
	snprintf(j->destination, sizeof(j->destination), "%s", to);
	return 0;
}

int
job_check(struct coord *co, const Ferry__CheckRequest *req,
    struct ctl_client *c, uint32_t serial, char *err, size_t errlen)
{
	struct job *j;
	int rc;

	if ((j = job_new(co, req->vm)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -FERRY_EINTERNAL;
	}
	j->check_only = 1;
	control_client_ref(c);
	j->check_client = c;
	j->check_serial = serial;
	j->opts.bandwidth_mibs = req->has_bandwidth_mibs ? req->bandwidth_mibs : 0;
	j->opts.max_downtime_ms = req->has_max_downtime_ms ?
	    req->max_downtime_ms : 0;
	j->opts.copy_storage = req->has_copy_storage && req->copy_storage;
	if (wire_opts(co, &j->opts, req->has_parallel, req->parallel,
	    req->has_tls ? req->tls : 0, err, errlen) < 0) {
		job_free(j);
		return -1;
	}
	if ((rc = job_locate(co, req->vm, j->source, sizeof(j->source),
	    j->uuid, sizeof(j->uuid), &j->mem_mib, err, errlen)) < 0 ||
	    (rc = job_validate_target(co, j, req->to, err, errlen)) < 0) {
		job_free(j);
		return rc;
	}
	TAILQ_INSERT_TAIL(&co->jobs, j, entry);
	j->state = JOB_CHECKING;
	job_start_checks(j);
	return 0;
}
