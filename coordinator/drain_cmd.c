/* drain_cmd.c: the maintenance commands (enter, cancel, exit) and the
 * recovery of runs after a restart (the machine is in drain.c). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "coordinator.h"
#include "log.h"
#include "cpucache.h"
#include "placement.h"
#include "evacuate.h"
#include "drain_int.h"

/* ---- commands --------------------------------------------------------------- */

int
drain_enter(struct coord *co, const Ferry__MaintenanceRequest *req,
    struct ctl_client *c, uint16_t type, uint32_t serial, char *err,
    size_t errlen)
{
	struct host *h = coord_host_find(co, req->host);
	struct drain *d;
	int rc;

	if (h == NULL) {
		snprintf(err, errlen, "unknown host '%s'", req->host);
		return -FERRY_ENOTFOUND;
	}
	if (drain_find_host(co, req->host) != NULL) {
		snprintf(err, errlen, "host %s is already being drained",
		    req->host);
		return -FERRY_ECONFLICT;
	}
	if (strcmp(h->admin_state, "maintenance") == 0 && !req->dry_run) {
		snprintf(err, errlen, "host %s is already in maintenance",
		    req->host);
		return -FERRY_ECONFLICT;
	}
	if ((d = drain_new(co, DK_DRAIN, req->host, DS_PLANNING)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -FERRY_EINTERNAL;
	}
	if (req->has_max_parallel && req->max_parallel > 0)
		d->max_parallel = d->operator_max = req->max_parallel;
	d->dry_run = req->has_dry_run && req->dry_run;
	d->force = req->has_force && req->force;
	d->copy_storage = req->has_copy_storage && req->copy_storage;
	control_client_ref(c);
	d->reply_client = c;
	d->reply_serial = serial;
	d->reply_type = type;
	d->reply_wait = req->has_wait && req->wait;
	d->deadline_ms = clock_mono_ms() + DRAIN_PLAN_DEADLINE_MS;
	TAILQ_INSERT_TAIL(&co->drains, d, entry);
	/* May plan at once and end the run (a dry run, a refusal). */
	if ((rc = drain_start_planning(d, err, errlen)) < 0) {
		TAILQ_REMOVE(&co->drains, d, entry);
		drain_free(d);
		return rc;
	}
	return 0;
}

int
drain_cancel(struct coord *co, const char *host, struct ctl_client *c,
    uint16_t type, uint32_t serial, char *err, size_t errlen)
{
	struct host *h = coord_host_find(co, host);
	struct drain *d = drain_find_host(co, host);
	struct drain_view dv;
	char msg[256];
	size_t running;

	if (h == NULL) {
		snprintf(err, errlen, "unknown host '%s'", host);
		return -FERRY_ENOTFOUND;
	}
	if (d == NULL && strcmp(h->admin_state, "draining") == 0) {
		/* A drain that ended incomplete left the host draining: the
		 * way back is the same command. */
		drain_set_admin(co, host, "active");
		snprintf(msg, sizeof(msg), "no drain was running; host %s",
		    coord_host_state(h));
		drain_reply_view(co, DK_DRAIN, host, DS_CANCELLED, msg, c, type,
		    serial);
		return 0;
	}
	if (d == NULL) {
		snprintf(err, errlen, "host %s is not being drained (it is %s%s)",
		    host, coord_host_state(h), strcmp(h->admin_state,
		    "maintenance") == 0 ? "; maintenance exit brings it back" :
		    "");
		return -FERRY_ECONFLICT;
	}
	/* A second cancel is answered as the first. */
	if (d->state != DS_CANCELLING && drain_step(d, DE_CANCEL, NULL) < 0) {
		snprintf(err, errlen, "the drain of %s cannot be cancelled now",
		    host);
		return -FERRY_ECONFLICT;
	}
	running = drain_running(d, NULL);
	snprintf(msg, sizeof(msg), "drain cancelled; %zu migration%s finishing; "
	    "host %s", running, running == 1 ? "" : "s", coord_host_state(h));
	log_drain_info(d->id, host, "%s", msg);
	drain_emit(d, "item", msg);
	if (c != NULL && drain_view(d, &dv, msg) == 0) {
		dv.info.state = "cancelled";
		(void)control_reply(c, type, serial, &dv.info.base);
		drain_view_clear(&dv);
	}
	return 0;
}

/* A restore's destination is fixed, but the placement engine's rules hold
 * all the same (zone, labels, groups, memory counting the VMs returning
 * before): a VM the host may not take stays where it is, with the reason. */
static void
drain_restore_check(struct drain *d, struct host *h)
{
	struct placement *pl = NULL;
	struct place_verdict vd;
	size_t i, vm, hi = (size_t)(h - d->co->hosts);
	char err[64];

	if (d->nitems == 0 || placement_build(d->co, &pl, err,
	    sizeof(err)) < 0)
		return;		/* each move's own checks still run */
	for (i = 0; i < d->nitems; i++) {
		struct drain_item *it = &d->items[i];

		if ((vm = placement_find_vm(pl, it->vm)) == PLACE_NONE)
			continue;
		place_host_verdict(&pl->m, vm, hi, &vd);
		if (vd.ok) {
			place_commit(&pl->m, vm, hi);
			continue;
		}
		it->state = ITEM_UNMOVABLE;
		snprintf(it->reason, sizeof(it->reason), "%s", vd.reason);
	}
	placement_free(pl);
}

/* The id of the last drain of this host, 0 if none; -1 on a store error. */
static int64_t
drain_last_of(struct coord *co, const char *host)
{
	struct store_run *runs = NULL;
	size_t n = 0, i;
	int64_t last = 0;

	if (store_runs_list(co->store, 0, &runs, &n) < 0)
		return -1;
	for (i = 0; i < n; i++)
		if (strcmp(runs[i].kind, "drain") == 0 &&
		    strcmp(runs[i].host, host) == 0 && runs[i].id > last)
			last = runs[i].id;
	free(runs);
	return last;
}

/* Back to up; with restore, bring back the VMs the last drain moved. */
int
drain_exit(struct coord *co, const Ferry__MaintenanceRequest *req,
    struct ctl_client *c, uint16_t type, uint32_t serial, char *err,
    size_t errlen)
{
	struct host *h = coord_host_find(co, req->host);
	struct store_job *jobs = NULL;
	struct drain *d;
	int64_t last;
	size_t n = 0, i, k;
	char msg[256];

	if (h == NULL) {
		snprintf(err, errlen, "unknown host '%s'", req->host);
		return -FERRY_ENOTFOUND;
	}
	if (drain_find_host(co, req->host) != NULL) {
		snprintf(err, errlen, "host %s is being drained: cancel it first",
		    req->host);
		return -FERRY_ECONFLICT;
	}
	drain_set_admin(co, req->host, "active");
	if (!(req->has_restore && req->restore)) {
		/* Active is recorded either way; a host that is down
		 * takes no VM until its hostd is back, and the operator
		 * must not read "up" into the reply. */
		if (!h->up)
			snprintf(msg, sizeof(msg), "host %s is out of "
			    "maintenance but down: its hostd is not connected, "
			    "so nothing can migrate to it until it is up",
			    req->host);
		else
			snprintf(msg, sizeof(msg), "host %s is %s", req->host,
			    coord_host_state(h));
		drain_reply_view(co, DK_RESTORE, req->host, DS_COMPLETED, msg, c,
		    type, serial);
		return 0;
	}
	/* The VMs the last drain of this host moved and that still run. */
	if ((last = drain_last_of(co, req->host)) < 0 ||
	    store_jobs_list(co->store, 0, 0, &jobs, &n) < 0) {
		snprintf(err, errlen, "%s", store_error(co->store));
		return -FERRY_EINTERNAL;
	}
	if ((d = drain_new(co, DK_RESTORE, req->host, DS_PLANNING)) == NULL) {
		store_job_list_free(jobs, n);
		snprintf(err, errlen, "out of memory");
		return -FERRY_EINTERNAL;
	}
	if (last && (d->items = calloc(n, sizeof(*d->items))) != NULL) {
		for (i = 0; i < n; i++) {
			struct drain_item *it;
			const Ferry__Domain *dom = NULL;

			if (jobs[i].parent != last ||
			    strcmp(jobs[i].state, "succeeded") != 0)
				continue;
			for (k = 0; k < co->nhosts && dom == NULL; k++) {
				struct host *o = &co->hosts[k];

				if (!o->up || o->inv == NULL)
					continue;
				for (size_t m = 0; m < o->inv->n_domains; m++)
					if (strcmp(o->inv->domains[m]->name,
					    jobs[i].vm) == 0 && strcmp(
					    o->inv->domains[m]->state,
					    "running") == 0 && o != h)
						dom = o->inv->domains[m];
			}
			if (dom == NULL)
				continue;
			it = &d->items[d->nitems++];
			snprintf(it->vm, sizeof(it->vm), "%s", dom->name);
			it->mem_mib = dom->mem_mib;
			it->vcpus = dom->vcpus;
			snprintf(it->dest, sizeof(it->dest), "%s", req->host);
			it->state = ITEM_PLANNED;
			it->order = d->nitems;
		}
	}
	store_job_list_free(jobs, n);
	drain_restore_check(d, h);
	if (d->nitems == 0) {
		drain_free(d);
		drain_reply_view(co, DK_RESTORE, req->host, DS_COMPLETED,
		    "host up; nothing to restore", c, type, serial);
		return 0;
	}
	control_client_ref(c);
	d->reply_client = c;
	d->reply_serial = serial;
	d->reply_type = type;
	d->reply_wait = req->has_wait && req->wait;
	d->force = 1;
	d->max_parallel = req->has_max_parallel && req->max_parallel ?
	    req->max_parallel : DRAIN_MAX_PARALLEL;
	d->operator_max = req->has_max_parallel ? req->max_parallel : 0;
	/* A restore is a plan with fixed destinations: record and run it. */
	TAILQ_INSERT_TAIL(&co->drains, d, entry);
	if (drain_step(d, DE_PLANNED, NULL) < 0) {
		snprintf(err, errlen, "%s", co->stopping ? "coordinator "
		    "shutting down" : store_error(co->store));
		TAILQ_REMOVE(&co->drains, d, entry);
		drain_free(d);
		return -FERRY_EINTERNAL;
	}
	return 0;
}

/* The operator's options of a drain, from the parameters its record was
 * created with: a resumed drain keeps --copy-storage and its limits. */
static void
drain_recover_params(struct drain *d)
{
	struct store_job sj;
	struct json_object *o = NULL, *v;

	memset(&sj, 0, sizeof(sj));
	if (store_job_get(d->co->store, d->id, &sj) <= 0 || sj.params == NULL ||
	    (o = json_tokener_parse(sj.params)) == NULL) {
		log_drain_warnx(d->id, d->host, "its options were not recorded; "
		    "resuming with the defaults");
		goto done;
	}
	if (json_object_object_get_ex(o, "copy_storage", &v))
		d->copy_storage = json_object_get_boolean(v);
	if (json_object_object_get_ex(o, "max_parallel", &v) &&
	    json_object_get_int(v) > 0)
		d->max_parallel = json_object_get_int(v);
	/* The operator's --max-parallel bounds it still; max_parallel is
	 * only what the drain had chosen (wire_drain_parallel). */
	if (json_object_object_get_ex(o, "operator_max", &v) &&
	    json_object_get_int(v) > 0)
		d->max_parallel = d->operator_max = json_object_get_int(v);
	if (json_object_object_get_ex(o, "per_destination", &v) &&
	    json_object_get_int(v) > 0)
		d->per_dest = json_object_get_int(v);
 done:
	json_object_put(o);
	store_job_clear(&sj);
}

/* After a restart: a drain the journal says was under way is planned again
 * from what its host still runs, once that host is back, with the options
 * it was started with. */
int
drain_recover(struct coord *co, char *err, size_t errlen)
{
	struct store_run *runs = NULL;
	struct drain *d;
	size_t n = 0, i;

	if (store_runs_list(co->store, 1, &runs, &n) < 0) {
		snprintf(err, errlen, "%s", store_error(co->store));
		return -1;
	}
	for (i = 0; i < n; i++) {
		if (strcmp(runs[i].kind, "drain") != 0) {
			/* Its migrations are recovered on their own. */
			(void)store_job_finish(co->store, runs[i].id, "incomplete",
			    "the coordinator restarted during the run; its "
			    "migrations were recovered on their own", NULL,
			    clock_wall_ms());
			continue;
		}
		if ((d = drain_new(co, DK_DRAIN, runs[i].host,
		    DS_RESUMED)) == NULL)
			continue;
		d->id = runs[i].id;
		d->resumed = 1;
		d->resume_by_ms = clock_mono_ms() + DRAIN_RESUME_WAIT(co);
		d->force = 1;
		drain_recover_params(d);
		log_drain_info(d->id, d->host, "resuming after a restart");
		(void)store_job_event(co->store, d->id, "info", "coordinator "
		    "restarted; planning again from what the host runs",
		    clock_wall_ms());
		TAILQ_INSERT_TAIL(&co->drains, d, entry);
	}
	free(runs);
	return 0;
}

/*
 * A resumed drain plans once its own host can be driven and every other
 * configured host is up too, or once the resume wait is over. Planned as
 * soon as its own host said hello, it found the destinations' sessions not
 * up yet, judged every VM unmovable and ended incomplete. A host still
 * down when the wait is over is planned without, as any down host is.
 */
static int
drain_resume_ready(const struct drain *d, uint64_t now_ms, char *pending,
    size_t len)
{
	const struct coord *co = d->co;
	int own = 0, npending = 0;
	size_t i, off = 0;

	if (len > 0)
		pending[0] = '\0';
	for (i = 0; i < co->nhosts; i++) {
		struct host *h = &co->hosts[i];
		int ready = h->up && ha_host_ready(h);

		if (strcmp(h->conf.name, d->host) == 0)
			own = ready;
		else if (!ready) {
			npending++;
			if (off < len)
				off += (size_t)snprintf(pending + off, len - off,
				    "%s%s", off ? ", " : "", h->conf.name);
		}
	}
	return own && (npending == 0 || now_ms >= d->resume_by_ms);
}

/* A resumed drain that is ready plans; any other is left alone. May end
 * (and free) d. */
void
drain_resume_if_ready(struct drain *d, uint64_t now_ms)
{
	char pending[256], msg[320];

	if (d->state != DS_RESUMED ||
	    !drain_resume_ready(d, now_ms, pending, sizeof(pending)))
		return;
	if (pending[0]) {
		snprintf(msg, sizeof(msg), "planning without %s: not up %llu s "
		    "after the restart", pending,
		    (unsigned long long)DRAIN_RESUME_WAIT(d->co) / 1000);
		log_drain_info(d->id, d->host, "%s", msg);
		(void)store_job_event(d->co->store, d->id, "info", msg,
		    clock_wall_ms());
	}
	(void)drain_step(d, DE_HOST_UP, NULL);
}

/* A host came up: it may be the last one a resumed drain waits for. */
void
drain_host_up(struct host *h)
{
	struct drain *d, *next;

	for (d = TAILQ_FIRST(&h->co->drains); d != NULL; d = next) {
		next = TAILQ_NEXT(d, entry);
		drain_resume_if_ready(d, clock_mono_ms());
	}
}
