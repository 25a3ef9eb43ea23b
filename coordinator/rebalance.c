/* rebalance.c: policy-driven rebalancing of the live cluster. The planner
 * is planner/balance.c (pure, also used offline by ferryctl plan); this file
 * builds its model from what the hosts report, applies a plan through the
 * drain executor (drain_start_moves) and runs the periodic mode.
 *
 * What the model knows: usable hosts are up and active (not draining, in
 * maintenance or down); capacity and reserve as the hosts report them;
 * every running VM, pinned when the configuration pins it, when its source
 * says its storage cannot move (PRECHECK_SOURCE, asked before planning),
 * when it has a migration in flight, or when it moved within the quiet
 * period (no ping-pong); the configured groups, zones, labels and hints;
 * hosts that said they cannot run a VM's CPU (cpucache.c; the guest CPUs
 * the pre-checks return are compared on every other active host before
 * planning) are not its destinations. Each move's own pre-checks still run when it is applied,
 * and a refused move is reported, never forced.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "balance.h"
#include "coordinator.h"
#include "cpucache.h"
#include "place.h"
#include "log.h"

static int
rebalance_pinned_by_conf(const struct coord *co, const char *vm)
{
	size_t i;

	for (i = 0; i < co->conf.npinned; i++)
		if (strcmp(co->conf.pinned[i], vm) == 0)
			return 1;
	return 0;
}

/* VMs that a migration job ended for within the quiet period: by the
 * monotonic clock for moves of this process, by the journal's wall times
 * for those before a restart. Either says so: a wall-clock step forward
 * cannot unsettle a VM just moved, one back only keeps VMs still longer. */
static int
rebalance_moved_recently(const struct coord *co,
    const struct store_job *jobs, size_t n, const char *vm, uint64_t quiet_ms)
{
	uint64_t mono = clock_mono_ms(), wall = clock_wall_ms();
	uint64_t since_ms = wall > quiet_ms ? wall - quiet_ms : 0;
	size_t i;

	if (job_moved_since(co, vm, mono > quiet_ms ? mono - quiet_ms : 0))
		return 1;
	for (i = 0; i < n; i++)
		if (strcmp(jobs[i].kind, "migrate") == 0 &&
		    strcmp(jobs[i].vm, vm) == 0 &&
		    strcmp(jobs[i].state, "succeeded") == 0 &&
		    jobs[i].ended_ms >= since_ms)
			return 1;
	return 0;
}

/* Pre-check verdicts gathered before planning: VMs whose storage cannot
 * move, by name. */
struct rb_blocked {
	char	**names;
	size_t	  n, cap;
};

static int
rebalance_is_blocked(const struct rb_blocked *b, const char *vm)
{
	size_t i;

	for (i = 0; b != NULL && i < b->n; i++)
		if (strcmp(b->names[i], vm) == 0)
			return 1;
	return 0;
}

static void
rebalance_blocked_clear(struct rb_blocked *b)
{
	size_t i;

	for (i = 0; i < b->n; i++)
		free(b->names[i]);
	free(b->names);
	memset(b, 0, sizeof(*b));
}

/* Per-VM placement rules from coordinator.conf, as the placement engine
 * reads them: required zone and labels; a same-host hint is an affinity
 * group of the two, a different-host hint an anti-affinity group. */
static int
rebalance_model_vms(struct coord *co, struct balance_model *m)
{
	char name[300];
	size_t i, k;
	long v, w;

	for (i = 0; i < co->conf.nvms; i++) {
		const struct coord_vm_conf *vc = &co->conf.vms[i];

		if ((v = balance_find_vm(m, vc->name)) < 0)
			continue;
		if (balance_vm_zone(m, (size_t)v, vc->zone) < 0)
			return -1;
		for (k = 0; k < vc->nrequires; k++)
			if (balance_vm_requires(m, (size_t)v,
			    vc->requires_labels[k]) < 0)
				return -1;
		for (k = 0; k < vc->nsame + vc->ndifferent; k++) {
			int same = k < vc->nsame;
			const char *o = same ? vc->same_host[k] :
			    vc->different_host[k - vc->nsame];

			if ((w = balance_find_vm(m, o)) < 0)
				continue;
			snprintf(name, sizeof(name), "%s-host:%s:%s", same ?
			    "same" : "different", vc->name, o);
			if (balance_vm_group(m, (size_t)v, same ?
			    BALANCE_AFFINITY : BALANCE_ANTI, name) < 0 ||
			    balance_vm_group(m, (size_t)w, same ?
			    BALANCE_AFFINITY : BALANCE_ANTI, name) < 0)
				return -1;
		}
	}
	return 0;
}

/* The live cluster as a planning model; *out is the caller's. */
static int
rebalance_model(struct coord *co, uint64_t quiet_ms,
    const struct rb_blocked *blocked, struct balance_model **out, char *err,
    size_t errlen)
{
	struct balance_model *m;
	struct store_job *jobs = NULL;
	size_t njobs = 0, i, k, g;
	long hi, vi;

	*out = NULL;
	if ((m = balance_model_new()) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -FERRY_EINTERNAL;
	}
	if (quiet_ms && store_jobs_list(co->store, 0, 0, &jobs, &njobs) < 0) {
		snprintf(err, errlen, "%s", store_error(co->store));
		goto fail;
	}
	for (i = 0; i < co->nhosts; i++) {
		struct host *h = &co->hosts[i];
		const Ferry__HostInfo *hi_ = h->inv ? h->inv->host : NULL;
		int usable = h->up && hi_ && !h->flagged &&
		    strcmp(h->admin_state, "active") == 0 &&
		    !drain_host_busy(co, h->conf.name);

		hi = balance_add_host(m, h->conf.name, hi_ ? hi_->mem_mib : 0,
		    hi_ ? hi_->reserve_mib : 0, hi_ ? hi_->cpus : 1, usable);
		if (hi < 0 || balance_host_state(m, (size_t)hi,
		    coord_host_state(h)) < 0 ||
		    balance_host_zone(m, (size_t)hi, h->conf.zone) < 0) {
			snprintf(err, errlen, "cannot model host %s", h->conf.name);
			goto fail;
		}
		for (k = 0; k < h->conf.nlabels; k++)
			if (balance_host_label(m, (size_t)hi,
			    h->conf.labels[k]) < 0) {
				snprintf(err, errlen, "out of memory");
				goto fail;
			}
	}
	m->zone_stay = co->conf.zone_stay;
	for (i = 0; i < co->nhosts; i++) {
		struct host *h = &co->hosts[i];

		if (!h->up || h->inv == NULL)
			continue;
		for (k = 0; k < h->inv->n_domains; k++) {
			const Ferry__Domain *d = h->inv->domains[k];
			int pinned;

			if (strcmp(d->state, "running") != 0)
				continue;
			pinned = rebalance_pinned_by_conf(co, d->name) ||
			    rebalance_is_blocked(blocked, d->name) ||
			    job_find_vm(co, d->name) != NULL ||
			    drain_vm_planned(co, d->name) ||
			    (quiet_ms && rebalance_moved_recently(co, jobs,
			    njobs, d->name, quiet_ms));
			vi = balance_add_vm(m, d->name, i, d->mem_mib, d->vcpus,
			    pinned);
			if (vi < 0)
				continue;	/* reported on two hosts: leave it */
			/* Hosts that said they cannot run its CPU. */
			if (cpucache_known(co, d->name)) {
				size_t x;

				if (balance_vm_restrict(m, (size_t)vi) < 0)
					goto oom;
				for (x = 0; x < co->nhosts; x++)
					if (cpucache_lookup(co, d->name, x,
					    NULL) != PLACE_NO &&
					    balance_vm_allow(m, (size_t)vi, x) < 0)
						goto oom;
			}
			for (g = 0; g < co->conf.ngroups; g++) {
				const struct coord_group *cg = &co->conf.groups[g];

				for (size_t x = 0; x < cg->nvms; x++)
					if (strcmp(cg->vms[x], d->name) == 0 &&
					    balance_vm_group(m, (size_t)vi,
					    cg->anti ? BALANCE_ANTI :
					    BALANCE_AFFINITY, cg->name) < 0) {
						snprintf(err, errlen, "out of memory");
						goto fail;
					}
			}
		}
	}
	if (rebalance_model_vms(co, m) < 0) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	store_job_list_free(jobs, njobs);
	*out = m;
	return 0;
oom:
	snprintf(err, errlen, "out of memory");
fail:
	store_job_list_free(jobs, njobs);
	balance_model_free(m);
	return -FERRY_EINTERNAL;
}

/* The balance policy's score of the live cluster (the metrics). */
int
rebalance_score(struct coord *co, double *score)
{
	struct balance_model *m;
	char err[256];

	if (rebalance_model(co, 0, NULL, &m, err, sizeof(err)) < 0)
		return -1;
	*score = balance_score(m, BALANCE_POLICY_BALANCE);
	balance_model_free(m);
	return 0;
}

/* The live model as snapshot JSON: what the planner knows, unmovable VMs
 * (blocked: their sources' storage verdicts) pinned as the live planner
 * pins them, so an offline plan of it proposes what a live one would. */
static int
rebalance_snapshot_json(struct coord *co, const struct rb_blocked *blocked,
    char **json, char *err, size_t errlen)
{
	struct balance_model *m;
	int rc;

	if ((rc = rebalance_model(co, 0, blocked, &m, err, errlen)) < 0)
		return rc;
	if ((*json = balance_write(m)) == NULL) {
		snprintf(err, errlen, "cannot write the snapshot");
		balance_model_free(m);
		return -FERRY_EINTERNAL;
	}
	balance_model_free(m);
	return 0;
}

/* Plans, and with apply runs the plan. The reply carries the plan; with
 * apply and a client, the run's events follow on the call's serial. */
static int
rebalance_do(struct coord *co, enum balance_policy policy,
    enum balance_objective objective, size_t max_moves, double threshold, uint64_t quiet_ms, const struct rb_blocked *blocked,
    int apply, struct ctl_client *c, uint16_t type, uint32_t serial, char *err,
    size_t errlen)
{
	Ferry__RebalanceReply r = FERRY__REBALANCE_REPLY__INIT;
	struct balance_model *m = NULL;
	struct balance_plan *plan = NULL;
	struct balance_opts o;
	struct drain_move *moves = NULL;
	struct timespec t0, t1;
	char *json = NULL, msg[256];
	int64_t id = 0;
	size_t i;
	int rc = -1;

	if (apply && drain_running_kind(co, "rebalance")) {
		snprintf(err, errlen, "a rebalance is already running");
		return -FERRY_ECONFLICT;
	}
	if ((rc = rebalance_model(co, quiet_ms, blocked, &m, err,
	    errlen)) < 0)
		return rc;
	balance_opts_defaults(&o);
	o.policy = policy;
	o.objective = objective;
	if (max_moves)
		o.max_moves = max_moves;
	if (threshold >= 0)
		o.threshold = threshold;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (balance_plan(m, &o, &plan, err, errlen) < 0)
		goto done;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if ((json = balance_plan_json(m, plan, (t1.tv_sec - t0.tv_sec) * 1e3 +
	    (t1.tv_nsec - t0.tv_nsec) / 1e6)) == NULL) {
		snprintf(err, errlen, "out of memory");
		rc = -FERRY_EINTERNAL;
		goto done;
	}
	snprintf(msg, sizeof(msg), "%s: %zu move%s, score %.4f -> %.4f",
	    balance_policy_name(policy), plan->nmoves,
	    plan->nmoves == 1 ? "" : "s", plan->score_before, plan->score_after);
	if (apply && plan->nmoves > 0) {
		if ((moves = calloc(plan->nmoves, sizeof(*moves))) == NULL) {
			snprintf(err, errlen, "out of memory");
			rc = -FERRY_EINTERNAL;
			goto done;
		}
		for (i = 0; i < plan->nmoves; i++) {
			moves[i].vm = m->vms[plan->moves[i].vm].name;
			moves[i].from = m->hosts[plan->moves[i].from].name;
			moves[i].to = m->hosts[plan->moves[i].to].name;
			moves[i].mem_mib = plan->moves[i].mem_mib;
		}
		/* Reply first, so the run's events come after the plan. */
		r.plan_json = json;
		r.message = msg;
		if ((rc = drain_start_moves(co, moves, plan->nmoves, 0, NULL, 0,
		    &id, err, errlen)) < 0)
			goto done;
		r.has_drain_id = 1;
		r.drain_id = id;
		if (c != NULL) {
			(void)control_reply(c, type, serial, &r.base);
			if (control_client_alive(c))
				drain_watch(co, id, c, serial);
		}
		log_info("rebalance %lld: %s", (long long)id, msg);
	} else if (c != NULL) {
		r.plan_json = json;
		r.message = msg;
		(void)control_reply(c, type, serial, &r.base);
	}
	rc = 0;
done:
	free(moves);
	free(json);
	balance_plan_free(plan);
	balance_model_free(m);
	return rc;
}

/* A rebalance waiting for the sources' storage verdicts. */
struct rb_pending {
	struct coord		*co;
	int			 snapshot;	/* reply a snapshot, plan nothing */
	enum balance_policy	 policy;
	enum balance_objective	 objective;
	size_t			 max_moves;
	double			 threshold;
	uint64_t		 quiet_ms;
	int			 apply;
	struct ctl_client	*client;	/* NULL: periodic; a reference */
	uint16_t		 type;
	uint32_t		 serial;
	int			 calls;
	struct rb_blocked	 blocked;
};

static struct rb_pending *rb_current;	/* at most one at a time */


static void
rebalance_finish_pending(struct rb_pending *rp)
{
	/* A requester that went away is answered all the same: nothing
	 * reaches it (control.c drops what is written to a dead client), but
	 * the answer is what makes its audit row final with the outcome. */
	struct ctl_client *c = rp->client;
	char err[512];
	int rc;

	rb_current = NULL;
	if (rp->co->stopping) {
		/* Calls failed because the coordinator is going away. */
		if (c != NULL)
			(void)control_error(c, rp->type, rp->serial, 0,
			    "the coordinator stopped before the rebalance "
			    "was planned; nothing was moved");
		rebalance_blocked_clear(&rp->blocked);
		control_client_unref(rp->client);
		free(rp);
		return;
	}
	if (rp->snapshot) {
		Ferry__SnapshotReply r = FERRY__SNAPSHOT_REPLY__INIT;
		char *json = NULL;

		if ((rc = rebalance_snapshot_json(rp->co, &rp->blocked, &json,
		    err, sizeof(err))) < 0) {
			if (c != NULL)
				(void)control_error(c, rp->type, rp->serial,
				    control_code(rc), "%s", err);
		} else if (c != NULL) {
			r.json = json;
			(void)control_reply(c, rp->type, rp->serial, &r.base);
		}
		free(json);
	} else if ((rc = rebalance_do(rp->co, rp->policy, rp->objective,
	    rp->max_moves, rp->threshold, rp->quiet_ms, &rp->blocked,
	    rp->apply, c, rp->type, rp->serial, err, sizeof(err))) < 0) {
		if (c != NULL)
			(void)control_error(c, rp->type, rp->serial,
			    control_code(rc), "%s", err);
		else
			log_warnx("periodic rebalance: %s", err);
	}
	rebalance_blocked_clear(&rp->blocked);
	control_client_unref(rp->client);
	free(rp);
}

static void
rebalance_prefetch_done(void *arg)
{
	struct rb_pending *rp = arg;

	if (--rp->calls == 0)
		rebalance_finish_pending(rp);
}

static void
rebalance_check_cb(struct host *h, const struct frame *f, const char *err,
    void *arg)
{
	struct rb_pending *rp = arg;
	Ferry__SourceCheckReply *r;
	char **nn;
	size_t k;

	rp->calls--;
	if (f != NULL && (r = (Ferry__SourceCheckReply *)frame_unpack(f,
	    &ferry__source_check_reply__descriptor)) != NULL) {
		/* The plan waits for the other hosts' word on the guest's
		 * CPU, so it proposes no move a destination would refuse. */
		if (r->domain != NULL && !rp->co->stopping) {
			cpucache_guest(rp->co, r->domain->name, r);
			rp->calls += cpucache_prefetch(rp->co, h,
			    r->domain->name, r, rebalance_prefetch_done, rp);
		}
		for (k = 0; r->domain && k < r->n_checks; k++) {
			/* Only storage verdicts pin a VM: its state may
			 * change, its disks do not. */
			if (r->checks[k]->ok ||
			    strncmp(r->checks[k]->name, "storage", 7) != 0)
				continue;
			if (rp->blocked.n == rp->blocked.cap) {
				size_t cap = rp->blocked.cap ? 2 * rp->blocked.cap :
				    16;

				if ((nn = realloc(rp->blocked.names,
				    cap * sizeof(*nn))) == NULL)
					break;
				rp->blocked.names = nn;
				rp->blocked.cap = cap;
			}
			if ((rp->blocked.names[rp->blocked.n] =
			    strdup(r->domain->name)) != NULL)
				rp->blocked.n++;
			log_info("rebalance: %s stays where it is: %s",
			    r->domain->name, r->checks[k]->reason);
			break;
		}
		if (r->n_nonces) {
			peer_storage_cleanup(h, r->nonces, r->n_nonces, 30000);
		}
		ferry__source_check_reply__free_unpacked(r, NULL);
	} else
		log_warnx("rebalance: a storage check on %s failed: %s",
		    h->conf.name, err ? err : "malformed reply");
	if (rp->calls == 0)
		rebalance_finish_pending(rp);
}

/* Asks every source about its VMs' storage, then plans (rebalance_do). */
static int
rebalance_start(struct coord *co, int snapshot, enum balance_policy policy,
    enum balance_objective objective, size_t max_moves, double threshold, uint64_t quiet_ms, int apply, struct ctl_client *c,
    uint16_t type, uint32_t serial, char *err, size_t errlen)
{
	Ferry__SourceCheckRequest req = FERRY__SOURCE_CHECK_REQUEST__INIT;
	struct rb_pending *rp;
	size_t i, k;

	if (rb_current != NULL) {
		snprintf(err, errlen, "a rebalance (or a snapshot) is being planned already");
		return -1;
	}
	if ((rp = calloc(1, sizeof(*rp))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -FERRY_EINTERNAL;
	}
	rp->co = co;
	rp->snapshot = snapshot;
	rp->policy = policy;
	rp->objective = objective;
	rp->max_moves = max_moves;
	rp->threshold = threshold;
	rp->quiet_ms = quiet_ms;
	rp->apply = apply;
	control_client_ref(c);
	rp->client = c;	/* a reference */
	rp->type = type;
	rp->serial = serial;
	rb_current = rp;
	for (i = 0; i < co->nhosts; i++) {
		struct host *h = &co->hosts[i];

		if (!h->up || h->inv == NULL)
			continue;
		for (k = 0; k < h->inv->n_domains; k++) {
			const Ferry__Domain *d = h->inv->domains[k];

			if (strcmp(d->state, "running") != 0 ||
			    rebalance_pinned_by_conf(co, d->name))
				continue;
			req.name = d->name;
			req.has_timeout_ms = 1;
			req.timeout_ms = 10000;
			if (peer_call(h, MSG_PRECHECK_SOURCE, &req.base, 30000,
			    rebalance_check_cb, rp) == 0)
				rp->calls++;
		}
	}
	if (rp->calls == 0)
		rebalance_finish_pending(rp);
	return 0;
}

int
rebalance_request(struct coord *co, const Ferry__RebalanceRequest *req,
    struct ctl_client *c, uint16_t type, uint32_t serial, char *err,
    size_t errlen)
{
	enum balance_policy p = BALANCE_POLICY_BALANCE;
	enum balance_objective ob = BALANCE_OBJ_MEMORY;

	if (req->policy && balance_policy_parse(req->policy, &p) < 0) {
		snprintf(err, errlen, "unknown policy '%s' (balance, consolidate)",
		    req->policy);
		return -1;
	}
	if (req->objective && balance_objective_parse(req->objective,
	    &ob) < 0) {
		snprintf(err, errlen, "unknown objective '%s' (memory, moves)",
		    req->objective);
		return -1;
	}
	/* An operator's rebalance ignores the quiet period: they asked. */
	return rebalance_start(co, 0, p, ob, req->has_max_moves ? req->max_moves : 0,
	    -1, 0, req->has_apply && req->apply, c, type, serial, err, errlen);
}

/* ferryctl snapshot: asks every source about its VMs' storage as a
 * rebalance does, then replies the snapshot (rebalance_finish_pending). */
int
rebalance_snapshot(struct coord *co, struct ctl_client *c, uint16_t type,
    uint32_t serial, char *err, size_t errlen)
{
	return rebalance_start(co, 1, BALANCE_POLICY_BALANCE, BALANCE_OBJ_MEMORY,
	    0, -1, 0, 0, c, type, serial, err, errlen);
}

/* The periodic mode: every interval, if the score passes the threshold,
 * plan and apply at most max_moves, leaving alone VMs moved within the quiet
 * period. Never while a drain or another rebalance runs. */
void
rebalance_tick(struct coord *co, uint64_t now_ms)
{
	const struct coord_rebalance_conf *rc = &co->conf.rebalance;
	enum balance_policy p = BALANCE_POLICY_BALANCE;
	char err[256];

	if (!rc->enabled || now_ms < co->rebalance_next_ms)
		return;
	if (co->rebalance_next_ms == 0) {
		/* Not at start-up: hosts are still connecting. */
		co->rebalance_next_ms = now_ms + (uint64_t)rc->interval_s * 1000;
		return;
	}
	co->rebalance_next_ms = now_ms + (uint64_t)rc->interval_s * 1000;
	if (!TAILQ_EMPTY(&co->drains) || rb_current != NULL)
		return;
	(void)balance_policy_parse(rc->policy, &p);
	if (rebalance_start(co, 0, p, BALANCE_OBJ_MEMORY, rc->max_moves, strtod(rc->threshold, NULL),
	    (uint64_t)rc->quiet_period_s * 1000, 1, NULL, 0, 0, err,
	    sizeof(err)) < 0)
		log_warnx("periodic rebalance: %s", err);
}
