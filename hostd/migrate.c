/* migrate.c: live migrations run by this host as the source.
 *
 * Each migration has its own thread blocked in virDomainMigrateToURI3 (via
 * hv->ops->migrate); the loop polls job statistics on the migration class
 * of workers (workq.c), applies the convergence policy there (converge.c)
 * and broadcasts progress. Aborts go to the urgent class, so slow checks
 * of other jobs never delay either.
 * The thread's end reaches the loop through the migration's uv_async_t.
 * A migration outlives any coordinator session: its result is kept for
 * JOB_QUERY so a restarted coordinator can learn what happened.
 *
 * Ownership: struct mig belongs to hd->migs until its thread has been joined
 * and no poll or abort work refers to it; then its handles are closed and it
 * is freed from the last close callback.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "converge.h"
#include "hostd.h"
#include "log.h"
#include "validate.h"

#define MIG_RESULTS_KEPT	128
#define MIB			(1024.0 * 1024.0)

struct mig {
	TAILQ_ENTRY(mig)	 entry;
	struct hostd		*hd;
	uint64_t		 job_id;
	char			 name[HV_NAME_MAX];
	char			 dest_uri[512];
	char			 migrate_uri[512];
	struct hv_migrate_params params;
	struct converge_policy	 pol;
	struct converge_state	 cs;	/* touched only by poll work, one at a time */
	uint64_t		 mem_mib;
	pthread_t		 thread;
	uv_async_t		 done_async;
	uv_timer_t		 stats_timer;
	int			 open_handles;
	int			 busy;		/* poll and abort works in flight */
	int			 polling;	/* a poll work is in flight */
	int			 finished;	/* thread joined */
	int			 thread_done;	/* migrate returned (atomic) */
	int			 downtime_set;
	/* Written by the thread before done_async, read after the join. */
	int			 rc;
	char			 error[1024];
	uint64_t		 started_ms, ended_ms;
	/* Written by poll work, read on the loop after it completes. */
	struct hv_job_stats	 last;
	char			 action[160];	/* the policy's last real decision */
	int			 postcopy;
	int			 aborted_by_policy;
	/* Ferry's vCPU throttle: applied by poll work, released by the
	 * migration's thread the moment libvirt returns; thr_mtx orders the
	 * two, and nothing is applied once released. */
	pthread_mutex_t		 thr_mtx;
	struct throttle		 thr;
	int			 thr_released;
	uint64_t		 thr_since_ms;	/* mono, 0: not throttled */
	uint64_t		 throttled_ms;	/* total */
	uint32_t		 thr_max_pct;
	char			 thr_err[256];	/* a failed release */
	uint32_t		 op_downtime_ms;	/* jobctl.c's; atomic */
};

struct mig_result {
	TAILQ_ENTRY(mig_result)	 entry;
	uint64_t		 job_id;
	char			 name[HV_NAME_MAX];
	int			 ok;
	char			 error[1024];
	char			 action[160];
	uint64_t		 elapsed_ms;
	int			 postcopy;
	uint64_t		 throttled_ms;
	uint32_t		 thr_max_pct;
	char			 thr_err[256];
};

struct mig_work {
	struct workq_item	 item;
	struct mig		*mg;
	struct hv_job_stats	 st;
	struct converge_decision dec;
	int			 rc;
	char			 err[512];
};

static struct mig *
mig_find(struct hostd *hd, uint64_t job_id, const char *name)
{
	struct mig *mg;

	TAILQ_FOREACH(mg, &hd->migs, entry)
		if ((job_id && mg->job_id == job_id) ||
		    (name && strcmp(mg->name, name) == 0))
			return mg;
	return NULL;
}

static struct mig_result *
mig_result_find(struct hostd *hd, uint64_t job_id)
{
	struct mig_result *r;

	TAILQ_FOREACH(r, &hd->mig_results, entry)
		if (r->job_id == job_id)
			return r;
	return NULL;
}

static void
mig_handle_closed(uv_handle_t *h)
{
	struct mig *mg = h->data;

	if (--mg->open_handles == 0) {
		pthread_mutex_destroy(&mg->thr_mtx);
		free(mg);
	}
}

/* Frees mg once nothing refers to it any more. */
static void
mig_release(struct mig *mg)
{
	if (!mg->finished || mg->busy)
		return;
	TAILQ_REMOVE(&mg->hd->migs, mg, entry);
	uv_close((uv_handle_t *)&mg->stats_timer, mig_handle_closed);
	uv_close((uv_handle_t *)&mg->done_async, mig_handle_closed);
}

static void
mig_fill_result(const struct mig_result *r, Ferry__MigrateResult *pr)
{
	pr->job_id = r->job_id;
	pr->name = (char *)r->name;
	pr->ok = r->ok;
	if (r->error[0])
		pr->error = (char *)r->error;
	if (r->action[0])
		pr->policy_action = (char *)r->action;
	/* Only the wall-clock time: the last sample's downtime is QEMU's
	 * estimate and its data count lags; the measured figures are the
	 * destination's completed-job statistics (DOMAIN_STATE). */
	pr->has_elapsed_ms = 1;
	pr->elapsed_ms = r->elapsed_ms;
	pr->has_postcopy = 1;
	pr->postcopy = r->postcopy;
	pr->has_throttled_ms = pr->has_throttle_max_pct = 1;
	pr->throttled_ms = r->throttled_ms;
	pr->throttle_max_pct = r->thr_max_pct;
	if (r->thr_err[0])
		pr->throttle_release = (char *)r->thr_err;
}

/* migrate_throttle_set's work, under thr_mtx. */
static int
migrate_throttle_set_locked(struct mig *mg, uint32_t pct, char *err,
    size_t errlen)
{
	uint64_t now = clock_mono_ms();

	/* Recorded before the first throttle, so that a restarted hostd
	 * can release it (throttle_recover). */
	if (pct > 0 && mg->thr_since_ms == 0 && mg->thr.resolved == 0 &&
	    throttle_apply(&mg->thr, mg->name, 0) < 0) {
		snprintf(err, errlen, "throttle %u%%: %s", pct, mg->thr.err);
		return -1;
	}
	if (pct > 0 && mg->thr_since_ms == 0 &&
	    throttle_record(&mg->thr, mg->hd->conf.throttle_dir, mg->name) < 0)
		log_warnx("job %llu: cannot record the throttle of %s in %s: %s",
		    (unsigned long long)mg->job_id, mg->name,
		    mg->hd->conf.throttle_dir, strerror(errno));
	if (throttle_apply(&mg->thr, mg->name, pct) < 0) {
		snprintf(err, errlen, "throttle %u%%: %s", pct, mg->thr.err);
		return -1;
	}
	if (pct == 0)
		throttle_forget(mg->hd->conf.throttle_dir, mg->name);
	else
		log_info("job %llu: vCPU throttle %u%% of %.3f CPU (mean of "
		    "%u samples, peak %.3f): quota %lld us per %llu us",
		    (unsigned long long)mg->job_id, pct, mg->thr.base_share,
		    mg->thr.nshare, mg->thr.peak_share,
		    (long long)mg->thr.quota_us,
		    (unsigned long long)mg->thr.period_us);
	if (pct > 0 && mg->thr_since_ms == 0)
		mg->thr_since_ms = now;
	if (pct == 0 && mg->thr_since_ms != 0) {
		mg->throttled_ms += now - mg->thr_since_ms;
		mg->thr_since_ms = 0;
	}
	if (pct > mg->thr_max_pct)
		mg->thr_max_pct = pct;
	return 0;
}

/*
 * The one place the ladder's throttle changes (any thread but the loop):
 * pct 0 releases. After migrate_throttle_release nothing is applied any
 * more. Helpers steering a running job (ferryctl job set) call this too.
 */
int
migrate_throttle_set(struct mig *mg, uint32_t pct, char *err, size_t errlen)
{
	int rc;

	pthread_mutex_lock(&mg->thr_mtx);
	if (mg->thr_released) {
		snprintf(err, errlen, "the migration has ended");
		rc = -1;
	} else
		rc = migrate_throttle_set_locked(mg, pct, err, errlen);
	pthread_mutex_unlock(&mg->thr_mtx);
	return rc;
}

/* The originals back, and nothing applied after: when the migration has
 * ended (its thread), or when this hostd stops (a worker). One critical
 * section, so that a poll work in flight cannot throttle again between
 * the release and the mark. Blocking file I/O. */
static void
migrate_throttle_release(struct mig *mg, const char *why)
{
	char err[256];
	int released = 0;

	pthread_mutex_lock(&mg->thr_mtx);
	if (!mg->thr_released && (mg->thr.pct != 0 || mg->thr_since_ms != 0)) {
		if (migrate_throttle_set_locked(mg, 0, err, sizeof(err)) < 0)
			snprintf(mg->thr_err, sizeof(mg->thr_err), "%s", err);
		else
			released = 1;
	}
	mg->thr_released = 1;
	pthread_mutex_unlock(&mg->thr_mtx);
	if (released)
		log_info("job %llu: vCPU throttle of %s released%s",
		    (unsigned long long)mg->job_id, mg->name, why);
}

static void *
mig_thread(void *arg)
{
	struct mig *mg = arg;

	mg->rc = mg->hd->hv->ops->migrate(mg->hd->hv, mg->name, &mg->params);
	if (mg->rc < 0)
		snprintf(mg->error, sizeof(mg->error), "%s", hv_last_error());
	mg->ended_ms = clock_mono_ms();
	migrate_throttle_release(mg, "");
	__atomic_store_n(&mg->thread_done, 1, __ATOMIC_SEQ_CST);
	uv_async_send(&mg->done_async);
	return NULL;
}

static void
mig_done_cb(uv_async_t *a)
{
	struct mig *mg = a->data;
	struct hostd *hd = mg->hd;
	struct mig_result *r, *old;
	Ferry__MigrateResult pr = FERRY__MIGRATE_RESULT__INIT;

	if (mg->finished)
		return;
	pthread_join(mg->thread, NULL);
	mg->finished = 1;
	uv_timer_stop(&mg->stats_timer);
	if ((r = calloc(1, sizeof(*r))) == NULL) {
		log_warn("migration result");
		mig_release(mg);
		return;
	}
	r->job_id = mg->job_id;
	snprintf(r->name, sizeof(r->name), "%s", mg->name);
	r->ok = mg->rc == 0;
	snprintf(r->error, sizeof(r->error), "%s", mg->error);
	snprintf(r->action, sizeof(r->action), "%s", mg->action);
	r->elapsed_ms = mg->ended_ms - mg->started_ms;
	r->postcopy = mg->postcopy;
	r->throttled_ms = mg->throttled_ms;
	r->thr_max_pct = mg->thr_max_pct;
	snprintf(r->thr_err, sizeof(r->thr_err), "%s", mg->thr_err);
	if (r->thr_err[0])
		log_warnx("job %llu: the vCPU throttle of %s was not released: %s",
		    (unsigned long long)r->job_id, r->name, r->thr_err);
	if (r->ok)
		log_info("job %llu: %s migrated to %s in %llu ms",
		    (unsigned long long)r->job_id, r->name, mg->dest_uri,
		    (unsigned long long)r->elapsed_ms);
	else
		log_warnx("job %llu: migration of %s failed: %s%s%s",
		    (unsigned long long)r->job_id, r->name, r->error,
		    r->action[0] ? "; policy: " : "", r->action);
	if ((old = mig_result_find(hd, r->job_id)) != NULL) {
		/* A post-copy resume ran under the same job: keep the last. */
		TAILQ_REMOVE(&hd->mig_results, old, entry);
		free(old);
		hd->nmig_results--;
	}
	TAILQ_INSERT_HEAD(&hd->mig_results, r, entry);
	if (++hd->nmig_results > MIG_RESULTS_KEPT) {
		old = TAILQ_LAST(&hd->mig_results, mig_result_list);
		TAILQ_REMOVE(&hd->mig_results, old, entry);
		free(old);
		hd->nmig_results--;
	}
	mig_fill_result(r, &pr);
	hostd_broadcast(hd, MSG_MIGRATE_DONE, &pr.base);
	mig_release(mg);
	/* Domains moved: tell the coordinator at once. */
	hostd_inventory_refresh(hd);
}

/* Worker: one statistics sample and the policy's decision on it, applied
 * at once. Poll work for one migration never overlaps (mg->polling). */
static void
mig_poll_work(struct workq_item *it)
{
	struct mig_work *w = it->data;
	struct mig *mg = w->mg;
	struct hv *hv = mg->hd->hv;
	int rc = 0;

	w->dec.action = CONV_CONTINUE;
	if (hv->ops->job_stats(hv, mg->name, &w->st) < 0) {
		w->rc = -1;
		snprintf(w->err, sizeof(w->err), "%s", hv_last_error());
		return;
	}
	if (!w->st.active)
		return;
	if (mg->pol.throttle)
		throttle_sample(&mg->thr, mg->name);
	if (!mg->downtime_set) {
		/* Start low and let the policy raise it (QEMU's default is
		 * 300 ms, more than many guests tolerate). */
		if (hv->ops->set_max_downtime(hv, mg->name,
		    mg->pol.initial_downtime_ms) == 0)
			mg->downtime_set = 1;
	}
	{
		/* An operator's longest pause (jobctl.c) holds: the ramp
		 * stays at it. */
		uint32_t op = __atomic_load_n(&mg->op_downtime_ms,
		    __ATOMIC_SEQ_CST);

		if (op != 0) {
			mg->cs.pol.initial_downtime_ms = op;
			mg->cs.pol.max_downtime_ms = op;
			mg->cs.pol.stalled_downtime_ms = op;
			mg->cs.downtime_ms = op;
		}
	}
	/* The base is frozen once throttled (only unthrottled samples
	 * count), and so is this limit. */
	if (mg->pol.throttle)
		mg->cs.gentle_pct = throttle_gentle_pct(&mg->thr);
	converge_step(&mg->cs, &w->st, &w->dec);
	if (w->dec.throttle_pct >= 0 && migrate_throttle_set(mg,
	    (uint32_t)w->dec.throttle_pct, w->err, sizeof(w->err)) < 0) {
		/* Not fatal: the ladder goes on without it. */
		w->rc = -1;
		log_warnx("job %llu: %s", (unsigned long long)mg->job_id,
		    w->err);
	}
	switch (w->dec.action) {
	case CONV_CONTINUE:
		break;
	case CONV_SET_DOWNTIME:
		rc = hv->ops->set_max_downtime(hv, mg->name, w->dec.downtime_ms);
		break;
	case CONV_POSTCOPY:
		rc = hv->ops->start_postcopy(hv, mg->name);
		break;
	case CONV_ABORT:
		rc = hv->ops->abort_job(hv, mg->name, 0);
		break;
	}
	if (rc < 0) {
		w->rc = -1;
		snprintf(w->err, sizeof(w->err), "%s: %s",
		    converge_action_name(w->dec.action), hv_last_error());
	}
}

static void
mig_poll_after(struct workq_item *it, int cancelled)
{
	struct mig_work *w = it->data;
	struct mig *mg = w->mg;
	Ferry__JobStats js = FERRY__JOB_STATS__INIT;
	char act[340];

	mg->busy--;
	mg->polling = 0;
	if (!cancelled && w->rc < 0)
		log_debug("job %llu: %s", (unsigned long long)mg->job_id, w->err);
	if (!cancelled && w->st.active) {
		mg->last = w->st;
		if (w->dec.action != CONV_CONTINUE) {
			log_info("job %llu: policy: %s: %s",
			    (unsigned long long)mg->job_id,
			    converge_action_name(w->dec.action), w->dec.reason);
			if (w->dec.action != CONV_SET_DOWNTIME)
				snprintf(mg->action, sizeof(mg->action), "%s",
				    w->dec.reason);
			if (w->dec.action == CONV_POSTCOPY && w->rc == 0)
				mg->postcopy = 1;
		}
		if (w->dec.throttle_pct >= 0)
			log_info("job %llu: policy: throttle: %s",
			    (unsigned long long)mg->job_id, w->dec.throttle_reason);
		if (w->st.postcopy)
			mg->postcopy = 1;
		js.job_id = mg->job_id;
		js.name = mg->name;
		js.time_elapsed_ms = w->st.time_elapsed;
		js.has_time_remaining_ms = 1;
		js.time_remaining_ms = w->st.time_remaining;
		js.data_total = w->st.data_total;
		js.data_processed = w->st.data_processed;
		js.data_remaining = w->st.data_remaining;
		js.has_memory_total = js.has_memory_processed = 1;
		js.has_memory_remaining = js.has_memory_bps = 1;
		js.memory_total = w->st.memory_total;
		js.memory_processed = w->st.memory_processed;
		js.memory_remaining = w->st.memory_remaining;
		js.memory_bps = w->st.memory_bps;
		js.has_dirty_rate_bps = 1;
		js.dirty_rate_bps = w->st.memory_dirty_rate *
		    (w->st.memory_page_size ? w->st.memory_page_size : 4096);
		js.has_iteration = js.has_downtime_ms = 1;
		js.iteration = w->st.memory_iteration;
		js.downtime_ms = w->st.downtime;
		js.has_max_downtime_ms = 1;
		js.max_downtime_ms = mg->cs.downtime_ms;
		js.has_postcopy = 1;
		js.postcopy = mg->postcopy;
		if (mg->params.ncopy_disks > 0) {
			js.has_disk_total = js.has_disk_processed = 1;
			js.has_disk_remaining = 1;
			js.disk_total = w->st.disk_total;
			js.disk_processed = w->st.disk_processed;
			js.disk_remaining = w->st.disk_remaining;
		}
		/* One decision per event: the throttle first (it is what
		 * the guest feels); a downtime step taken with it is told in
		 * the same reason. */
		if (w->dec.throttle_pct >= 0) {
			if (w->dec.action != CONV_CONTINUE)
				snprintf(act, sizeof(act), "%s; %s",
				    w->dec.throttle_reason, w->dec.reason);
			else
				snprintf(act, sizeof(act), "%s",
				    w->dec.throttle_reason);
			js.action = act;
			js.action_name = "throttle";
		} else if (w->dec.action != CONV_CONTINUE) {
			js.action = w->dec.reason;
			js.action_name = (char *)converge_action_name(
			    w->dec.action);
		}
		js.has_throttle_pct = js.has_throttled_ms = 1;
		js.throttle_pct = mg->thr.pct;
		js.throttled_ms = mg->throttled_ms + (mg->thr_since_ms ?
		    clock_mono_ms() - mg->thr_since_ms : 0);
		hostd_broadcast(mg->hd, MSG_MIGRATE_PROGRESS, &js.base);
	}
	free(w);
	if (mg->finished)
		mig_release(mg);
}

static void
mig_stats_cb(uv_timer_t *t)
{
	struct mig *mg = t->data;
	struct mig_work *w;

	if (mg->polling || mg->finished)
		return;
	if ((w = calloc(1, sizeof(*w))) == NULL)
		return;
	w->mg = mg;
	w->item.data = w;
	w->item.work = mig_poll_work;
	w->item.done = mig_poll_after;
	mg->busy++;
	mg->polling = 1;
	if (workq_submit(&mg->hd->wq[HOSTD_WQ_MIGRATE], &w->item) < 0) {
		mg->busy--;
		mg->polling = 0;
		free(w);
	}
}

static void
mig_policy_of(const Ferry__Policy *p, struct converge_policy *pol)
{
	converge_policy_defaults(pol);
	if (p == NULL)
		return;
	if (p->has_bandwidth_mibs)
		pol->bandwidth_mibs = p->bandwidth_mibs;
	/* An operator's longest pause is a ceiling for every pause. */
	if (p->has_max_downtime_ms && p->max_downtime_ms) {
		pol->max_downtime_ms = p->max_downtime_ms;
		if (pol->stalled_downtime_ms > pol->max_downtime_ms)
			pol->stalled_downtime_ms = pol->max_downtime_ms;
	}
	if (p->has_initial_downtime_ms && p->initial_downtime_ms)
		pol->initial_downtime_ms = p->initial_downtime_ms;
	if (pol->initial_downtime_ms > pol->max_downtime_ms)
		pol->initial_downtime_ms = pol->max_downtime_ms;
	if (p->has_downtime_steps && p->downtime_steps)
		pol->downtime_steps = p->downtime_steps;
	if (p->has_timeout_s)
		pol->timeout_s = p->timeout_s;
	if (p->has_timeout_s_per_gib && p->timeout_s_per_gib)
		pol->timeout_s_per_gib = p->timeout_s_per_gib;
	if (p->has_timeout_min_s && p->timeout_min_s)
		pol->timeout_min_s = p->timeout_min_s;
	if (p->has_allow_postcopy)
		pol->allow_postcopy = p->allow_postcopy;
	if (p->has_auto_converge)
		pol->auto_converge = p->auto_converge;
	if (p->has_stall_iterations && p->stall_iterations)
		pol->stall_iterations = p->stall_iterations;
	if (p->has_stats_interval_ms && p->stats_interval_ms >= 100)
		pol->stats_interval_ms = p->stats_interval_ms;
	if (p->has_throttle)
		pol->throttle = p->throttle;
	if (p->has_postcopy_always)
		pol->postcopy_always = p->postcopy_always;
	if (p->has_dirty_mibs && p->dirty_mibs > 0)
		pol->dirty_mibs = p->dirty_mibs;
	if (p->has_progress_timeout_s)
		pol->progress_timeout_s = p->progress_timeout_s;
	/* post-copy always needs libvirt's POSTCOPY flag */
	if (pol->postcopy_always)
		pol->allow_postcopy = 1;
}

/* At start-up: the throttles a killed predecessor left, released on a
 * worker. */
struct mig_recover {
	struct workq_item	 item;
	char			 dir[PATH_MAX];
};

static void
mig_recover_work(struct workq_item *it)
{
	struct mig_recover *r = it->data;

	throttle_recover(r->dir);
}

static void
mig_recover_after(struct workq_item *it, int cancelled)
{
	(void)cancelled;
	free(it->data);
}

void
migrate_recover_throttles(struct hostd *hd)
{
	struct mig_recover *r;

	if (hd->conf.throttle_dir[0] == '\0' ||
	    (r = calloc(1, sizeof(*r))) == NULL)
		return;
	snprintf(r->dir, sizeof(r->dir), "%s", hd->conf.throttle_dir);
	r->item.data = r;
	r->item.work = mig_recover_work;
	r->item.done = mig_recover_after;
	if (workq_submit(&hd->wq[HOSTD_WQ_URGENT], &r->item) < 0)
		free(r);
}

/*
 * Stopping: the throttles are released now, not when the migrations end.
 * Nothing steers them once this hostd is gone, and a stop that outlasts
 * the service manager's timeout ends in SIGKILL: the guest stayed
 * throttled until the next start, and one whose migration then failed ran
 * on throttled. The migrations go on unthrottled, as after a restart
 * (throttle_recover). The urgent queue stops after the last of these.
 */
struct mig_unthrottle {
	struct workq_item	 item;
	struct mig		*mg;
};

static void
mig_unthrottle_work(struct workq_item *it)
{
	struct mig_unthrottle *u = it->data;

	migrate_throttle_release(u->mg, ": hostd is stopping (the migration "
	    "goes on unthrottled)");
}

static void
mig_unthrottle_after(struct workq_item *it, int cancelled)
{
	struct mig_unthrottle *u = it->data;
	struct mig *mg = u->mg;
	struct hostd *hd = mg->hd;

	(void)cancelled;
	free(u);
	mg->busy--;
	if (--hd->unthrottling == 0 && hd->stopping)
		workq_stop(&hd->wq[HOSTD_WQ_URGENT]);
	if (mg->finished)
		mig_release(mg);
}

/* Loop thread, from hostd_shutdown before the queues stop: how many
 * releases are under way (the urgent queue must outlive them). */
int
migrate_unthrottle_all(struct hostd *hd)
{
	struct mig_unthrottle *u;
	struct mig *mg;

	TAILQ_FOREACH(mg, &hd->migs, entry) {
		if (mg->finished || (u = calloc(1, sizeof(*u))) == NULL)
			continue;
		u->mg = mg;
		u->item.data = u;
		u->item.work = mig_unthrottle_work;
		u->item.done = mig_unthrottle_after;
		mg->busy++;
		hd->unthrottling++;
		if (workq_submit(&hd->wq[HOSTD_WQ_URGENT], &u->item) < 0) {
			mg->busy--;
			hd->unthrottling--;
			free(u);
		}
	}
	return hd->unthrottling;
}

/* MIGRATE: start the migration and answer at once. */
int
migrate_start(struct hostd *hd, const Ferry__MigrateRequest *req, char *err,
    size_t errlen)
{
	struct mig *mg;

	if (mig_find(hd, req->job_id, req->name) != NULL) {
		snprintf(err, errlen, "%s is already being migrated by this host",
		    req->name);
		return -1;
	}
	if (mig_result_find(hd, req->job_id) != NULL &&
	    !(req->has_postcopy_resume && req->postcopy_resume)) {
		snprintf(err, errlen, "job %llu already ran here",
		    (unsigned long long)req->job_id);
		return -1;
	}
	if (strlen(req->name) >= HV_NAME_MAX ||
	    strlen(req->dest_uri) >= sizeof(mg->dest_uri) ||
	    (req->migrate_uri && strlen(req->migrate_uri) >=
	    sizeof(mg->migrate_uri))) {
		snprintf(err, errlen, "name or URI too long");
		return -1;
	}
	/* The coordinator checked it; a bad number is refused, not clamped. */
	if (req->has_parallel && req->parallel != 0 &&
	    validate_parallel(req->parallel, err, errlen) < 0)
		return -1;
	if (req->n_copy_disks > HV_COPY_DISKS_MAX) {
		snprintf(err, errlen, "%zu disks to copy: at most %d",
		    req->n_copy_disks, HV_COPY_DISKS_MAX);
		return -1;
	}
	if ((mg = calloc(1, sizeof(*mg))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (size_t i = 0; i < req->n_copy_disks; i++) {
		if (snprintf(mg->params.copy_disks[i],
		    sizeof(mg->params.copy_disks[i]), "%s",
		    req->copy_disks[i]) >= (int)sizeof(mg->params.copy_disks[i])) {
			snprintf(err, errlen, "disk target too long");
			free(mg);
			return -1;
		}
		mg->params.ncopy_disks++;
	}
	mg->hd = hd;
	pthread_mutex_init(&mg->thr_mtx, NULL);
	mg->thr.quota_us = -1;
	mg->job_id = req->job_id;
	snprintf(mg->name, sizeof(mg->name), "%s", req->name);
	snprintf(mg->dest_uri, sizeof(mg->dest_uri), "%s", req->dest_uri);
	if (req->migrate_uri)
		snprintf(mg->migrate_uri, sizeof(mg->migrate_uri), "%s",
		    req->migrate_uri);
	mg->mem_mib = req->has_mem_mib ? req->mem_mib : 0;
	mig_policy_of(req->policy, &mg->pol);
	converge_init(&mg->cs, &mg->pol, mg->mem_mib);
	mg->params.dest_uri = mg->dest_uri;
	mg->params.migrate_uri = mg->migrate_uri[0] ? mg->migrate_uri : NULL;
	mg->params.bandwidth_mibs = mg->pol.bandwidth_mibs;
	mg->params.allow_postcopy = mg->pol.allow_postcopy;
	mg->params.auto_converge = mg->pol.auto_converge;
	mg->params.persist = 1;
	mg->params.postcopy_resume = req->has_postcopy_resume &&
	    req->postcopy_resume;
	mg->params.parallel = req->has_parallel ? req->parallel : 0;
	mg->params.tls = req->has_tls && req->tls;
	mg->started_ms = clock_mono_ms();

	uv_async_init(hd->loop, &mg->done_async, mig_done_cb);
	mg->done_async.data = mg;
	uv_timer_init(hd->loop, &mg->stats_timer);
	mg->stats_timer.data = mg;
	mg->open_handles = 2;
	TAILQ_INSERT_TAIL(&hd->migs, mg, entry);
	if (pthread_create(&mg->thread, NULL, mig_thread, mg) != 0) {
		snprintf(err, errlen, "cannot start the migration thread");
		mg->finished = 1;
		mig_release(mg);
		return -1;
	}
	uv_timer_start(&mg->stats_timer, mig_stats_cb, 200,
	    mg->pol.stats_interval_ms);
	log_info("job %llu: migrating %s to %s (%s), bandwidth %llu MiB/s, "
	    "downtime %u..%u ms (%u once if stalled throttled), timeout "
	    "%llu s, %u stream(s)%s%s%s%s",
	    (unsigned long long)mg->job_id, mg->name, mg->dest_uri,
	    mg->migrate_uri[0] ? mg->migrate_uri : "default stream",
	    (unsigned long long)mg->pol.bandwidth_mibs,
	    mg->pol.initial_downtime_ms, mg->pol.max_downtime_ms,
	    mg->pol.stalled_downtime_ms > mg->pol.max_downtime_ms ?
	    mg->pol.stalled_downtime_ms : mg->pol.max_downtime_ms,
	    (unsigned long long)(mg->cs.timeout_ms / 1000),
	    mg->params.parallel > 1 ? mg->params.parallel : 1,
	    mg->params.tls ? ", TLS" : "",
	    mg->pol.allow_postcopy ? ", post-copy allowed" : "",
	    mg->pol.auto_converge ? ", auto-converge" : "",
	    mg->params.ncopy_disks ? ", copying local disks" : "");
	return 0;
}

/* An ABORT call: answered from mig_abort_after once libvirt has. */
struct mig_abort {
	struct workq_item	 item;
	struct mig		*mg;
	uint64_t		 session_id;
	uint16_t		 type;
	uint32_t		 serial;
	int			 code;		/* 0, or the errno of the ERROR reply */
	char			 err[1024];
};

/*
 * Worker (urgent class). libvirt refuses an abort when there is no job:
 * that is told apart from a real refusal by asking for the job, because it
 * means the migration has ended (ESRCH: its result follows) or has not
 * begun yet (EAGAIN: try again).
 */
static void
mig_abort_work(struct workq_item *it)
{
	struct mig_abort *a = it->data;
	struct hv *hv = a->mg->hd->hv;
	struct hv_job_stats st;
	char lverr[768];
	int r;

	if (hv->ops->abort_job(hv, a->mg->name, 0) == 0)
		return;
	snprintf(lverr, sizeof(lverr), "%s", hv_last_error());
	r = hv->ops->job_stats(hv, a->mg->name, &st);
	if (r == -ENOENT || (r == 0 && !st.active)) {
		if (__atomic_load_n(&a->mg->thread_done, __ATOMIC_SEQ_CST)) {
			a->code = ESRCH;
			snprintf(a->err, sizeof(a->err), "no migration job on %s: "
			    "the migration already ended (libvirt: %s)",
			    a->mg->name, lverr);
		} else {
			a->code = EAGAIN;
			snprintf(a->err, sizeof(a->err), "libvirt has no "
			    "migration job on %s yet (libvirt: %s); try again",
			    a->mg->name, lverr);
		}
		return;
	}
	a->code = EIO;
	snprintf(a->err, sizeof(a->err), "libvirt refused the abort: %s",
	    lverr);
}

static void
mig_abort_after(struct workq_item *it, int cancelled)
{
	struct mig_abort *a = it->data;
	struct mig *mg = a->mg;
	struct session *s = hostd_session_find(mg->hd, a->session_id);
	Ferry__Empty e = FERRY__EMPTY__INIT;
	uint8_t *buf;
	size_t len;

	mg->busy--;
	if (cancelled) {
		a->code = ESHUTDOWN;
		snprintf(a->err, sizeof(a->err), "hostd is stopping");
	}
	if (a->code == 0)
		log_info("job %llu: libvirt accepted the abort",
		    (unsigned long long)mg->job_id);
	else
		log_warnx("job %llu: abort: %s", (unsigned long long)mg->job_id,
		    a->err);
	if (s != NULL) {
		if (a->code == 0)
			(void)hostd_send(mg->hd, s, a->type, FRAME_REPLY,
			    a->serial, &e.base);
		else if (frame_pack_error(a->type, a->serial, a->code, a->err,
		    &buf, &len) == 0)
			(void)session_send(s, buf, len);
	}
	free(a);
	if (mg->finished)
		mig_release(mg);
}

/*
 * ABORT: cancel a running pre-copy migration. The reply comes when libvirt
 * has answered (mig_abort_after); the outcome comes as the usual
 * MIGRATE_DONE. Returns 0, or a negative errno with err: -ESRCH when the
 * job does not migrate here (any more), -EPERM in post-copy.
 */
int
migrate_abort(struct hostd *hd, struct session *s, const struct frame_hdr *h,
    uint64_t job_id, char *err, size_t errlen)
{
	struct mig *mg = mig_find(hd, job_id, NULL);
	struct mig_abort *a;
	int rc;

	if (mg == NULL || mg->finished) {
		snprintf(err, errlen, "job %llu is not migrating here: it "
		    "ended or never ran here", (unsigned long long)job_id);
		return -ESRCH;
	}
	if (mg->postcopy) {
		snprintf(err, errlen, "job %llu is in post-copy: the guest already "
		    "runs on the destination and cannot be moved back",
		    (unsigned long long)job_id);
		return -EPERM;
	}
	if ((a = calloc(1, sizeof(*a))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	a->mg = mg;
	a->session_id = s->id;
	a->type = h->type;
	a->serial = h->serial;
	a->item.data = a;
	a->item.work = mig_abort_work;
	a->item.done = mig_abort_after;
	/* Polling goes on meanwhile: libvirt allows the abort during a
	 * job-stats call. */
	mg->busy++;
	snprintf(mg->action, sizeof(mg->action), "aborted on request");
	if ((rc = workq_submit(&hd->wq[HOSTD_WQ_URGENT], &a->item)) < 0) {
		mg->busy--;
		free(a);
		snprintf(err, errlen, "cannot queue the abort");
		return rc == -EBUSY ? -EBUSY : -EIO;
	}
	log_info("job %llu: abort requested", (unsigned long long)job_id);
	return 0;
}

/* jobctl.c's view of a migration running here: its domain, whether it
 * may switch to post-copy and whether it has. 0, or -ESRCH. */
int
migrate_job_view(struct hostd *hd, uint64_t job_id, char *name, size_t len,
    int *allow_postcopy, int *in_postcopy)
{
	struct mig *mg = mig_find(hd, job_id, NULL);

	if (mg == NULL || mg->finished ||
	    __atomic_load_n(&mg->thread_done, __ATOMIC_SEQ_CST))
		return -ESRCH;
	snprintf(name, len, "%s", mg->name);
	*allow_postcopy = mg->pol.allow_postcopy;
	*in_postcopy = mg->postcopy;
	return 0;
}

/* An operator's longest pause (jobctl.c): the policy keeps to it from
 * its next poll on. */
void
migrate_operator_downtime(struct hostd *hd, uint64_t job_id, uint32_t ms)
{
	struct mig *mg = mig_find(hd, job_id, NULL);

	if (mg != NULL)
		__atomic_store_n(&mg->op_downtime_ms, ms, __ATOMIC_SEQ_CST);
}

/* JOB_QUERY: running, finished (with the result), or unknown. */
int
migrate_query(struct hostd *hd, uint64_t job_id, Ferry__MigrateResult *pr,
    char *err, size_t errlen)
{
	struct mig *mg = mig_find(hd, job_id, NULL);
	struct mig_result *r;

	if (mg != NULL && !mg->finished) {
		pr->job_id = job_id;
		pr->name = mg->name;
		pr->ok = 0;
		pr->has_running = 1;
		pr->running = 1;
		pr->has_postcopy = 1;
		pr->postcopy = mg->postcopy;
		return 0;
	}
	if ((r = mig_result_find(hd, job_id)) == NULL) {
		snprintf(err, errlen, "no record of job %llu on this host "
		    "(hostd restarted?)", (unsigned long long)job_id);
		return -1;
	}
	mig_fill_result(r, pr);
	pr->has_running = 1;
	pr->running = 0;
	return 0;
}

void
migrate_free_results(struct hostd *hd)
{
	struct mig_result *r;

	while ((r = TAILQ_FIRST(&hd->mig_results)) != NULL) {
		TAILQ_REMOVE(&hd->mig_results, r, entry);
		free(r);
	}
	hd->nmig_results = 0;
}

int
migrate_running(struct hostd *hd)
{
	struct mig *mg;
	int n = 0;

	TAILQ_FOREACH(mg, &hd->migs, entry)
		if (!mg->finished)
			n++;
	return n;
}

/* Whether this host is the source of an unfinished migration of name. */
int
migrate_outgoing(struct hostd *hd, const char *name)
{
	struct mig *mg = mig_find(hd, 0, name);

	return mg != NULL && !mg->finished;
}
