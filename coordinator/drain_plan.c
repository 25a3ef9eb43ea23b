/* drain_plan.c: a drain's planning: pre-checks, CPU verdicts, the plan
 * (the machine is in drain.c). */
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

/* ---- planning --------------------------------------------------------------- */

static void
drain_plan(struct drain *d)
{
	struct coord *co = d->co;
	struct placement *pl = NULL;
	struct plan_vm *pv = NULL;
	size_t *map = NULL;
	size_t i, unmovable, npv = 0;
	uint32_t base = 0;
	char msg[256];
	int n;

	if (d->state != DS_PLANNING)
		return;		/* cancelled meanwhile: drain_tick ends it */
	/* The placement engine's model of the cluster: a host another drain
	 * empties takes nothing, from the moment that drain was asked for. */
	if (placement_build(co, &pl, msg, sizeof(msg)) < 0 ||
	    (d->nitems && ((pv = calloc(d->nitems, sizeof(*pv))) == NULL ||
	    (map = calloc(d->nitems, sizeof(*map))) == NULL)))
		goto oom;
	/* Only what this round found is placed: an item already planned,
	 * moving or done keeps its state (replanning one in flight moved a
	 * VM twice). Later rounds come after the earlier ones in order. */
	for (i = 0; i < d->nitems; i++)
		if (!d->items[i].fresh && d->items[i].order > base)
			base = d->items[i].order;
	/* One adopted in flight (a restart) had no place in a plan: it comes
	 * before this round's, as it was already under way. */
	for (i = 0; i < d->nitems; i++)
		if (!d->items[i].fresh && d->items[i].order == 0)
			d->items[i].order = ++base;
	for (i = 0; i < d->nitems; i++) {
		struct drain_item *it = &d->items[i];

		if (!it->fresh)
			continue;
		map[npv] = i;
		pv[npv].vm = placement_find_vm(pl, it->vm);
		pv[npv].movable = it->state != ITEM_UNMOVABLE;
		snprintf(pv[npv].why, sizeof(pv[npv].why), "%s", it->reason);
		if (pv[npv].vm == PLACE_NONE) {
			pv[npv].movable = 0;
			snprintf(pv[npv].why, sizeof(pv[npv].why), "not running "
			    "on %s any more", d->host);
		}
		npv++;
	}
	if ((n = planner_evacuate(&pl->m, pv, npv)) < 0)
		goto oom;
	for (i = 0, unmovable = 0; i < d->nitems; i++)
		if (d->items[i].state == ITEM_UNMOVABLE && !d->items[i].fresh)
			unmovable++;
	for (i = 0; i < npv; i++) {
		struct drain_item *it = &d->items[map[i]];

		it->fresh = 0;
		it->order = base + pv[i].order;
		if (pv[i].dest >= 0) {
			snprintf(it->dest, sizeof(it->dest), "%s",
			    co->hosts[pv[i].dest].conf.name);
			it->state = ITEM_PLANNED;
		} else {
			it->state = ITEM_UNMOVABLE;
			snprintf(it->reason, sizeof(it->reason), "%s",
			    pv[i].reason);
			unmovable++;
		}
	}
	placement_free(pl);
	free(pv);
	free(map);

	if (d->dry_run) {
		snprintf(msg, sizeof(msg), "dry run: %zu of %zu VMs can move",
		    d->nitems - unmovable, d->nitems);
		(void)drain_step(d, DE_DRY_RUN, msg);
		return;
	}
	if (unmovable > 0 && !d->force && !d->resumed && d->rounds == 0) {
		snprintf(msg, sizeof(msg), "%zu VM%s cannot move (see reasons); "
		    "nothing was started; --force moves the others", unmovable,
		    unmovable == 1 ? "" : "s");
		(void)drain_step(d, DE_REFUSE, msg);
		return;
	}
	/* Recorded, and the host marked, before any migration starts. */
	if (drain_step(d, DE_PLANNED, NULL) < 0 && !co->stopping) {
		snprintf(msg, sizeof(msg), "cannot record the drain: %s",
		    store_error(co->store));
		(void)drain_step(d, DE_REFUSE, msg);
	}
	return;
oom:
	placement_free(pl);
	free(pv);
	free(map);
	(void)drain_step(d, d->id ? DE_GIVE_UP : DE_REFUSE, "out of memory");
}

/* Every pre-check and CPU comparison is in: plan. */
static void
drain_checks_done(struct drain *d)
{
	size_t i;

	if (d->calls > 0 || d->state != DS_PLANNING)
		return;
	/* Anything not answered cannot be vouched for. */
	for (i = 0; i < d->nitems; i++)
		if (d->items[i].fresh && !d->items[i].checked &&
		    d->items[i].state != ITEM_UNMOVABLE) {
			d->items[i].state = ITEM_UNMOVABLE;
			snprintf(d->items[i].reason, sizeof(d->items[i].reason),
			    "its host did not answer the pre-check");
		}
	drain_plan(d);
}

static void
drain_prefetch_done(void *arg)
{
	struct drain *d = arg;

	d->calls--;
	if (d->co->stopping)
		return;		/* a shutdown plans nothing */
	drain_checks_done(d);
}

static void
drain_check_cb(struct host *h, const struct frame *f, const char *err,
    void *arg)
{
	struct drain *d = arg;
	Ferry__SourceCheckReply *r;
	struct drain_item *it = NULL;
	size_t i, k;

	d->calls--;
	if (d->co->stopping)
		return;		/* a shutdown plans nothing */
	if (f != NULL && (r = (Ferry__SourceCheckReply *)frame_unpack(f,
	    &ferry__source_check_reply__descriptor)) != NULL && r->domain) {
		for (i = 0; d->state == DS_PLANNING && i < d->nitems; i++)
			if (d->items[i].fresh &&
			    strcmp(d->items[i].vm, r->domain->name) == 0)
				it = &d->items[i];
		if (it != NULL) {
			/* The plan waits for the other hosts' CPU verdicts. */
			cpucache_guest(d->co, it->vm, r);
			d->calls += cpucache_prefetch(d->co, h, it->vm, r,
			    drain_prefetch_done, d);
			it->checked = 1;
			for (k = 0; k < r->n_checks; k++)
				if (!r->checks[k]->ok) {
					it->state = ITEM_UNMOVABLE;
					snprintf(it->reason, sizeof(it->reason),
					    "%s: %s", r->checks[k]->name,
					    r->checks[k]->reason);
					break;
				}
		}
		/* The nonce files go whatever became of the run. */
		if (r->n_nonces)
			peer_storage_cleanup(h, r->nonces, r->n_nonces,
			    DRAIN_CHECK_TIMEOUT_MS);
		ferry__source_check_reply__free_unpacked(r, NULL);
	} else if (d->state == DS_PLANNING)
		log_drain_warnx(d->id, d->host, "a pre-check failed: %s",
		    err ? err : "malformed reply");
	drain_checks_done(d);
}

/* The item for vm: an existing one that is over (the VM came back or
 * arrived since), or a new one; NULL when one is already planned or moving
 * (a VM already in the run is not planned again). */
static struct drain_item *
drain_item_for(struct drain *d, const char *vm)
{
	struct drain_item *it;
	size_t i;

	for (i = 0; i < d->nitems; i++) {
		it = &d->items[i];
		if (strcmp(it->vm, vm) != 0)
			continue;
		if (it->state == ITEM_PLANNED || it->state == ITEM_MIGRATING ||
		    it->fresh)
			return NULL;
		goto reuse;
	}
	it = &d->items[d->nitems++];
reuse:
	memset(it, 0, sizeof(*it));
	snprintf(it->vm, sizeof(it->vm), "%s", vm);
	return it;
}

/* Builds items from what the host runs (first plan, or a look again that
 * found more) and asks its hostd about each new one. */
int
drain_start_planning(struct drain *d, char *err, size_t errlen)
{
	Ferry__SourceCheckRequest req = FERRY__SOURCE_CHECK_REQUEST__INIT;
	struct host *h = coord_host_find(d->co, d->host);
	struct drain_item *items;
	size_t i, n = 0;

	if (h == NULL || !h->up || h->inv == NULL) {
		snprintf(err, errlen, "host %s is down: Ferry cannot drain what "
		    "it cannot see", d->host);
		return -FERRY_ECONFLICT;
	}
	for (i = 0; i < h->inv->n_domains; i++) {
		const Ferry__Domain *dom = h->inv->domains[i];

		if (strcmp(dom->state, "running") != 0 &&
		    strcmp(dom->state, "paused") != 0)
			continue;	/* not running: nothing to move live */
		n++;
	}
	if (d->nitems + n > DRAIN_MAX_ITEMS) {
		snprintf(err, errlen, "%zu VMs: more than a drain takes (%d)",
		    d->nitems + n, DRAIN_MAX_ITEMS);
		return -1;
	}
	if (n && (items = realloc(d->items, (d->nitems + n) *
	    sizeof(*d->items))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -FERRY_EINTERNAL;
	}
	if (n)
		d->items = items;
	for (i = 0; i < h->inv->n_domains; i++) {
		const Ferry__Domain *dom = h->inv->domains[i];
		struct drain_item *it;
		struct job *j;

		if (strcmp(dom->state, "running") != 0 &&
		    strcmp(dom->state, "paused") != 0)
			continue;
		if ((j = job_find_vm(d->co, dom->name)) != NULL &&
		    strcmp(j->destination, d->host) == 0)
			continue;	/* arriving: waited for, then seen again */
		if ((it = drain_item_for(d, dom->name)) == NULL)
			continue;
		it->mem_mib = dom->mem_mib;
		it->vcpus = dom->vcpus;
		it->state = ITEM_PLANNED;
		if (j != NULL) {
			/* A migration already in flight (e.g. after a
			 * restart): follow it instead of planning another. */
			const struct job_parent follow = {
				NULL, drain_on_job_done, d->co, NULL,
			};

			it->state = ITEM_MIGRATING;
			it->job_id = j->id;
			it->checked = 1;
			job_adopt(j, &follow);
			snprintf(it->dest, sizeof(it->dest), "%s", j->destination);
			continue;
		}
		it->fresh = 1;
		req.name = (char *)dom->name;
		req.has_timeout_ms = 1;
		req.timeout_ms = 10000;
		/* With --copy-storage a local disk does not make it unmovable. */
		req.has_copy_storage = 1;
		req.copy_storage = d->copy_storage;
		if (peer_call(h, MSG_PRECHECK_SOURCE, &req.base,
		    DRAIN_CHECK_TIMEOUT_MS, drain_check_cb, d) == 0)
			d->calls++;
	}
	if (d->calls == 0)
		drain_plan(d);
	return 0;
}

/*
 * Runs a list of moves with fixed destinations (a rebalancing plan) through
 * the same executor as a drain: its parallel and per-destination limits, its
 * journal and its events. A refused move is reported, not re-planned: the
 * plan was chosen as a whole. The run has no host. *id gets its id.
 */
int
drain_start_moves(struct coord *co, const struct drain_move *moves, size_t n,
    uint32_t max_parallel, struct ctl_client *c, uint32_t serial, int64_t *id,
    char *err, size_t errlen)
{
	struct drain *d;
	size_t i;

	*id = 0;
	if (drain_running_kind(co, "rebalance")) {
		snprintf(err, errlen, "a rebalance is already running");
		return -FERRY_ECONFLICT;
	}
	if ((d = drain_new(co, DK_REBALANCE, NULL, DS_PLANNING)) == NULL ||
	    (n && (d->items = calloc(n, sizeof(*d->items))) == NULL)) {
		drain_free(d);
		snprintf(err, errlen, "out of memory");
		return -FERRY_EINTERNAL;
	}
	d->max_parallel = max_parallel ? max_parallel : DRAIN_MAX_PARALLEL;
	d->operator_max = max_parallel;
	for (i = 0; i < n; i++) {
		struct drain_item *it = &d->items[d->nitems++];

		snprintf(it->vm, sizeof(it->vm), "%s", moves[i].vm);
		snprintf(it->from, sizeof(it->from), "%s", moves[i].from);
		snprintf(it->dest, sizeof(it->dest), "%s", moves[i].to);
		it->mem_mib = moves[i].mem_mib;
		it->state = ITEM_PLANNED;
		it->order = i + 1;
	}
	if (c != NULL && job_watch_list_add(&d->watchers, c, serial) < 0)
		log_drain_warnx(d->id, drain_label(d), "cannot add a watcher");
	TAILQ_INSERT_TAIL(&co->drains, d, entry);
	if (drain_step(d, DE_PLANNED, NULL) < 0) {
		snprintf(err, errlen, "%s", co->stopping ? "coordinator "
		    "shutting down" : store_error(co->store));
		TAILQ_REMOVE(&co->drains, d, entry);
		drain_free(d);
		return -FERRY_EINTERNAL;
	}
	*id = d->id;
	return 0;
}

/* Adds a watcher to the run with this id (events on serial). */
void
drain_watch(struct coord *co, int64_t id, struct ctl_client *c,
    uint32_t serial)
{
	struct drain *d;

	TAILQ_FOREACH(d, &co->drains, entry)
		if (d->id == id && !drain_final(d)) {
			if (job_watch_list_add(&d->watchers, c, serial) < 0)
				log_drain_warnx(id, drain_label(d),
				    "cannot add a watcher");
			drain_emit(d, "plan", NULL);
			return;
		}
}

/* A run of this kind is under way. */
int
drain_running_kind(struct coord *co, const char *kind)
{
	struct drain *d;

	TAILQ_FOREACH(d, &co->drains, entry)
		if (!drain_final(d) &&
		    strcmp(drain_kinds[d->kind].name, kind) == 0)
			return 1;
	return 0;
}
