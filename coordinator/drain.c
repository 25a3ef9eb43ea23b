/* drain.c: maintenance mode, evacuating a host, as a state machine whose
 * transition table (drain_edges below) is this diagram:
 *
 *   resumed --host up--> planning          (after a restart: the host is back
 *                                           and so is every other, or the
 *                                           resume wait is over)
 *   planning --planned--> draining         (recorded and, for a drain, the
 *                                           host marked draining, first)
 *   planning --dry run--> [dry run]        (nothing recorded, nothing starts)
 *   planning --refuse---> [refused]        (a VM cannot move and no --force;
 *                                           the record failed; planning timed
 *                                           out before anything was recorded)
 *   planning --give up--> [incomplete]     (a plan again failed or timed out)
 *   draining --moved all--> confirming     (drain: INVENTORY asked first)
 *   draining --moved all--> [completed]    (restore, rebalance)
 *   draining --left some--> [incomplete]   (a VM could not move: it keeps
 *                                           running there; host stays draining)
 *   confirming --empty----> [completed]    (host becomes maintenance)
 *   confirming --incoming-> draining       (a migration still heads here)
 *   confirming --not empty> planning       (a VM arrived: plan again, at most
 *                                           DRAIN_ROUNDS times)
 *   confirming --unconfirmed> [incomplete] (no answer, timed out, or still busy
 *                                           after the last round)
 *   resumed, planning, draining, confirming --cancel--> cancelling
 *   cancelling --stopped--> [cancelled]    (no new migrations; host back to up)
 *
 * drain_step() is the only way a state changes: it refuses an edge not in
 * the table (logged; under a test it calls drain_illegal_hook, which fails
 * the test), refuses to act while the coordinator shuts down
 * (the journal is left to the next start's recovery), journals the edge
 * before its action, and sets the new state's deadline (drain_tick expires
 * it). ferryctl sees the states by their shown names: confirming and
 * cancelling show as draining, a resumed drain and a dry run as planning.
 *
 * Three kinds share the executor (drain_kinds): a drain plans its host's
 * VMs away and retries a failed move elsewhere; a restore (maintenance exit
 * --restore) and a rebalance run moves with fixed destinations and report a
 * refused move. A rebalance has no host.
 *
 * Planning asks the source's hostd about every VM (PRECHECK_SOURCE: storage
 * that cannot move makes a VM unmovable), then planner_evacuate places all of
 * them at once. Draining starts migration jobs (job.c) in plan order, at most
 * max_parallel at once and at most per_dest arriving at any one destination;
 * a failed migration is retried on another destination, at most
 * DRAIN_ATTEMPTS times; a VM that still cannot move is never stopped.
 *
 * A run is a record of its own in the store (store_run_create: kind, host)
 * with a job row for its id, state and history; its migrations carry it as
 * parent. The host's administrative state (draining, maintenance) is written
 * before migrations start and survives restarts: a drain interrupted by a
 * coordinator restart is planned again from what the host still runs.
 *
 * Files: drain.c (this machine, its table, running the plan), drain_view.c
 * (what ferryctl sees, the journal), drain_plan.c (planning), drain_cmd.c
 * (the commands, recovery); drain_int.h is theirs alone.
 *
 * Ownership: runs live on co->drains until final; a final run whose calls
 * are still out stays there, ignored by every lookup, until drain_tick frees
 * it (its callbacks hold it). Watchers point at control clients and hold
 * a reference on them (watch.c, control.c), as does the awaited reply.
 */
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

void	(*drain_illegal_hook)(int64_t, const char *, const char *);

const struct drain_kind_info drain_kinds[] = {
	[DK_DRAIN] =		{ "drain",	1, 0, 1 },
	[DK_RESTORE] =		{ "restore",	1, 1, 0 },
	[DK_REBALANCE] =	{ "rebalance",	0, 1, 0 },
};

const struct drain_state_info drain_states[DS_MAX] = {
	[DS_RESUMED] =		{ "resumed",	"planning",	0 },
	[DS_PLANNING] =		{ "planning",	"planning",	0 },
	[DS_DRAINING] =		{ "draining",	"draining",	0 },
	[DS_CONFIRMING] =	{ "confirming",	"draining",	0 },
	[DS_CANCELLING] =	{ "cancelling",	"draining",	0 },
	[DS_COMPLETED] =	{ "completed",	"completed",	1 },
	[DS_INCOMPLETE] =	{ "incomplete",	"incomplete",	1 },
	[DS_CANCELLED] =	{ "cancelled",	"cancelled",	1 },
	[DS_REFUSED] =		{ "refused",	"refused",	1 },
	[DS_DRY_RUN] =		{ "dry run",	"planning",	1 },
};

static const char *drain_event_names[DE_MAX] = {
	"host up", "planned", "dry run", "refuse", "give up", "moved all",
	"left some", "empty", "incoming", "not empty", "unconfirmed", "cancel",
	"stopped",
};


static drain_act	drain_act_plan, drain_act_started, drain_act_confirm,
			drain_act_cancel, drain_end;

static const struct drain_edge drain_edges[] = {
	{ DS_RESUMED, DE_HOST_UP, K_DRAIN, DS_PLANNING, JN_NONE, NULL,
	    drain_act_plan, DRAIN_PLAN_DEADLINE_MS },
	{ DS_PLANNING, DE_PLANNED, K_ALL, DS_DRAINING, JN_RECORD, NULL,
	    drain_act_started, 0 },
	{ DS_PLANNING, DE_DRY_RUN, K_DRAIN, DS_DRY_RUN, JN_NONE, NULL,
	    drain_end, 0 },
	{ DS_PLANNING, DE_REFUSE, K_ALL, DS_REFUSED, JN_NONE, NULL,
	    drain_end, 0 },
	{ DS_PLANNING, DE_GIVE_UP, K_DRAIN, DS_INCOMPLETE, JN_FINISH, NULL,
	    drain_end, 0 },
	{ DS_DRAINING, DE_MOVED_ALL, K_DRAIN, DS_CONFIRMING, JN_EVENT,
	    "confirm", drain_act_confirm, DRAIN_CONFIRM_DEADLINE_MS },
	{ DS_DRAINING, DE_MOVED_ALL, K_RESTORE | K_REBALANCE, DS_COMPLETED,
	    JN_FINISH, NULL, drain_end, 0 },
	{ DS_DRAINING, DE_LEFT_SOME, K_ALL, DS_INCOMPLETE, JN_FINISH, NULL,
	    drain_end, 0 },
	{ DS_CONFIRMING, DE_EMPTY, K_DRAIN, DS_COMPLETED, JN_FINISH, NULL,
	    drain_end, 0 },
	{ DS_CONFIRMING, DE_INCOMING, K_DRAIN, DS_DRAINING, JN_NONE, NULL,
	    NULL, 0 },
	{ DS_CONFIRMING, DE_NOT_EMPTY, K_DRAIN, DS_PLANNING, JN_EVENT,
	    "replan", drain_act_plan, DRAIN_PLAN_DEADLINE_MS },
	{ DS_CONFIRMING, DE_UNCONFIRMED, K_DRAIN, DS_INCOMPLETE, JN_FINISH,
	    NULL, drain_end, 0 },
	{ DS_RESUMED, DE_CANCEL, K_DRAIN, DS_CANCELLING, JN_EVENT, "cancel",
	    drain_act_cancel, 0 },
	{ DS_PLANNING, DE_CANCEL, K_ALL, DS_CANCELLING, JN_EVENT, "cancel",
	    drain_act_cancel, 0 },
	{ DS_DRAINING, DE_CANCEL, K_ALL, DS_CANCELLING, JN_EVENT, "cancel",
	    drain_act_cancel, 0 },
	{ DS_CONFIRMING, DE_CANCEL, K_DRAIN, DS_CANCELLING, JN_EVENT, "cancel",
	    drain_act_cancel, 0 },
	{ DS_CANCELLING, DE_STOPPED, K_ALL, DS_CANCELLED, JN_FINISH, NULL,
	    drain_end, 0 },
};


int
drain_final(const struct drain *d)
{
	return drain_states[d->state].final;
}

/* For logs: the host, NULL for a run without one. */
const char *
drain_label(const struct drain *d)
{
	return d->host[0] ? d->host : NULL;
}

struct drain *
drain_find_host(struct coord *co, const char *host)
{
	struct drain *d;

	TAILQ_FOREACH(d, &co->drains, entry)
		if (!drain_final(d) && drain_kinds[d->kind].has_host &&
		    strcmp(d->host, host) == 0)
			return d;
	return NULL;
}

/* A drain of this host is under way (planning or draining, not cancelled):
 * the host is no destination, from the moment the operator asked. */
int
drain_host_busy(struct coord *co, const char *host)
{
	struct drain *d;

	TAILQ_FOREACH(d, &co->drains, entry)
		if (d->kind == DK_DRAIN && !d->dry_run && !drain_final(d) &&
		    d->state != DS_CANCELLING && strcmp(d->host, host) == 0)
			return 1;
	return 0;
}

/* A run has this VM planned or moving: nobody else plans it. */
int
drain_vm_planned(struct coord *co, const char *vm)
{
	struct drain *d;
	size_t i;

	TAILQ_FOREACH(d, &co->drains, entry)
		for (i = 0; !drain_final(d) && i < d->nitems; i++)
			if ((d->items[i].state == ITEM_PLANNED ||
			    d->items[i].state == ITEM_MIGRATING) &&
			    strcmp(d->items[i].vm, vm) == 0)
				return 1;
	return 0;
}

/* Migrations not yet final that head to this host. */
static size_t
drain_incoming(struct coord *co, const char *host)
{
	struct job *j;
	size_t n = 0;

	TAILQ_FOREACH(j, &co->jobs, entry)
		if (!j->check_only && !job_state_final(j->state) &&
		    strcmp(j->destination, host) == 0)
			n++;
	return n;
}

void
drain_free(struct drain *d)
{
	size_t i;

	if (d == NULL)
		return;
	watch_list_clear(&d->watchers);
	control_client_unref(d->reply_client);
	for (i = 0; i < d->nitems; i++)
		if (d->items[i].src)
			ferry__source_check_reply__free_unpacked(d->items[i].src,
			    NULL);
	free(d->items);
	free(d);
}

void
drain_free_all(struct coord *co)
{
	struct drain *d;

	while ((d = TAILQ_FIRST(&co->drains)) != NULL) {
		TAILQ_REMOVE(&co->drains, d, entry);
		drain_free(d);
	}
}

/* A new run in its first state; not on co->drains yet. */
struct drain *
drain_new(struct coord *co, enum drain_kind kind, const char *host,
    enum drain_state state)
{
	struct drain *d;

	if ((d = calloc(1, sizeof(*d))) == NULL)
		return NULL;
	d->co = co;
	d->kind = kind;
	snprintf(d->host, sizeof(d->host), "%s", host ? host : "");
	d->state = state;
	d->max_parallel = DRAIN_MAX_PARALLEL;
	d->per_dest = co->conf.per_destination ? co->conf.per_destination :
	    DRAIN_PER_DEST;
	TAILQ_INIT(&d->watchers);
	return d;
}

void
drain_set_admin(struct coord *co, const char *hostname, const char *state)
{
	struct host *h = coord_host_find(co, hostname);

	if (h == NULL)
		return;
	snprintf(h->admin_state, sizeof(h->admin_state), "%s", state);
	if (store_host_set_admin(co->store, hostname, state) < 0)
		log_warnx("host %s: %s", hostname, store_error(co->store));
	log_info("host %s is now %s", hostname, coord_host_state(h));
}

/* ---- the machine ----------------------------------------------------------- */

static const struct drain_edge *
drain_edge_find(enum drain_state from, enum drain_event ev,
    enum drain_kind kind)
{
	size_t i;

	for (i = 0; i < sizeof(drain_edges) / sizeof(drain_edges[0]); i++)
		if (drain_edges[i].from == from && drain_edges[i].ev == ev &&
		    (drain_edges[i].kinds & (1u << kind)))
			return &drain_edges[i];
	return NULL;
}

/*
 * The only state change: edge (state, ev) of the table, journaled, then
 * its deadline set and its action run (which may end and free the run:
 * the caller must not touch d after 0 unless it knows the edge).
 * -1: not done (an illegal edge, a shutdown, a record that failed).
 */
int
drain_step(struct drain *d, enum drain_event ev, const char *why)
{
	const struct drain_edge *e;

	if ((e = drain_edge_find(d->state, ev, d->kind)) == NULL) {
		log_drain_warnx(d->id, drain_label(d), "%s: illegal transition "
		    "from %s on %s", drain_kinds[d->kind].name,
		    drain_states[d->state].name, drain_event_names[ev]);
		if (drain_illegal_hook != NULL)
			drain_illegal_hook(d->id, drain_states[d->state].name,
			    drain_event_names[ev]);
		return -1;
	}
	if (d->co->stopping) {
		log_drain_info(d->id, drain_label(d), "%s %s on %s: left to "
		    "the next start (shutting down)", drain_kinds[d->kind].name,
		    drain_states[d->state].name, drain_event_names[ev]);
		return -1;
	}
	if (drain_journal_edge(d, e, why) < 0)
		return -1;
	log_debug("%s %lld: %s -> %s (%s)", drain_kinds[d->kind].name,
	    (long long)d->id, drain_states[d->state].name,
	    drain_states[e->to].name, drain_event_names[ev]);
	d->state = e->to;
	d->deadline_ms = e->deadline_ms ? clock_mono_ms() + e->deadline_ms : 0;
	if (e->act != NULL)
		e->act(d, why);
	return 0;
}

/* A final state's action: what was asked is answered, the watchers told,
 * and the run freed (or left for drain_tick while calls are out). */
static void
drain_end(struct drain *d, const char *why)
{
	log_drain_info(d->id, drain_label(d), "%s %s: %s",
	    drain_kinds[d->kind].name, drain_states[d->state].name, why);
	if (d->state == DS_COMPLETED && d->kind == DK_DRAIN)
		drain_set_admin(d->co, d->host, "maintenance");
	if (d->reply_client != NULL) {
		/* Refused or a dry run: the reply is the whole answer. */
		d->reply_wait = 0;
		drain_reply(d, why);
	}
	if (d->id != 0)
		drain_emit(d, "done", why);
	if (d->calls == 0) {
		TAILQ_REMOVE(&d->co->drains, d, entry);
		drain_free(d);
	}
}

/* planning (again): what the host runs, asked about; a failure ends it. */
static void
drain_act_plan(struct drain *d, const char *why)
{
	char err[512];

	(void)why;
	if (drain_start_planning(d, err, sizeof(err)) < 0)
		(void)drain_step(d, DE_GIVE_UP, err);
}

/* draining: recorded (drain_step); the host is marked before any
 * migration starts (drain_tick starts them). */
static void
drain_act_started(struct drain *d, const char *why)
{
	size_t i, unmovable = 0;
	char msg[256];

	(void)why;
	for (i = 0; i < d->nitems; i++)
		if (d->items[i].state == ITEM_UNMOVABLE)
			unmovable++;
	switch (d->kind) {
	case DK_DRAIN:
		drain_set_admin(d->co, d->host, "draining");
		snprintf(msg, sizeof(msg), "drain %lld: %zu VMs to move, %zu "
		    "unmovable", (long long)d->id, d->nitems - unmovable,
		    unmovable);
		break;
	case DK_RESTORE:
		snprintf(msg, sizeof(msg), "restore %lld: %zu VMs return to %s",
		    (long long)d->id, d->nitems, d->host);
		break;
	default:
		snprintf(msg, sizeof(msg), "rebalance %lld: %zu moves",
		    (long long)d->id, d->nitems);
		break;
	}
	log_drain_info(d->id, drain_label(d), "%s", msg);
	drain_reply(d, msg);
	drain_emit(d, "plan", msg);
}

static void	drain_confirm_cb(struct host *, const struct frame *,
		    const char *, void *);

/* confirming: the host's own fresh word before it becomes maintenance. */
static void
drain_act_confirm(struct drain *d, const char *why)
{
	Ferry__Empty e = FERRY__EMPTY__INIT;
	struct host *h = coord_host_find(d->co, d->host);
	char msg[512];

	(void)why;
	if (h == NULL || peer_call(h, MSG_INVENTORY, &e.base,
	    DRAIN_CHECK_TIMEOUT_MS, drain_confirm_cb, d) < 0) {
		snprintf(msg, sizeof(msg), "host %s is not connected: Ferry "
		    "cannot confirm that it runs nothing; it stays draining",
		    d->host);
		(void)drain_step(d, DE_UNCONFIRMED, msg);
		return;
	}
	d->calls++;
}

/* cancelling: no new migrations; a drained host is back to up at once (a
 * dry run never marked it). */
static void
drain_act_cancel(struct drain *d, const char *why)
{
	(void)why;
	if (d->kind == DK_DRAIN && !d->dry_run)
		drain_set_admin(d->co, d->host, "active");
}

/* A state's deadline passed: its calls are late (their callbacks find a
 * final run and only let go of it). */
static void
drain_expired(struct drain *d)
{
	char msg[256];

	switch (d->state) {
	case DS_PLANNING:
		snprintf(msg, sizeof(msg), "the pre-checks of host %s did not "
		    "end within %d s", d->host, DRAIN_PLAN_DEADLINE_MS / 1000);
		(void)drain_step(d, d->id ? DE_GIVE_UP : DE_REFUSE, msg);
		break;
	case DS_CONFIRMING:
		snprintf(msg, sizeof(msg), "host %s did not confirm within %d s "
		    "that it runs nothing; it stays draining", d->host,
		    DRAIN_CONFIRM_DEADLINE_MS / 1000);
		(void)drain_step(d, DE_UNCONFIRMED, msg);
		break;
	default:
		d->deadline_ms = 0;
		break;
	}
}

/* ---- the end -------------------------------------------------------------- */

/*
 * The host's own fresh word (an INVENTORY call: hostd asks libvirt again)
 * before it becomes maintenance: the cached picture may predate a VM that
 * arrived. A host that still runs something is planned again, at most
 * DRAIN_ROUNDS times; one that cannot answer is not marked empty.
 */
static void
drain_confirm_cb(struct host *h, const struct frame *f, const char *err,
    void *arg)
{
	struct drain *d = arg;
	Ferry__Inventory *inv;
	const char *busy = NULL, *busystate = NULL;
	char why[512];
	size_t i, moved = 0;

	d->calls--;
	if (d->co->stopping || d->state != DS_CONFIRMING)
		return;		/* recovery, a cancel or the deadline has it */
	if (f == NULL || (inv = (Ferry__Inventory *)frame_unpack(f,
	    &ferry__inventory__descriptor)) == NULL || inv->host == NULL) {
		snprintf(why, sizeof(why), "host %s could not confirm that it "
		    "runs nothing (%s); it stays draining", d->host, f == NULL ?
		    err : "malformed inventory");
		(void)drain_step(d, DE_UNCONFIRMED, why);
		return;
	}
	for (i = 0; i < inv->n_domains && busy == NULL; i++)
		if (strcmp(inv->domains[i]->state, "shutoff") != 0) {
			busy = inv->domains[i]->name;
			busystate = inv->domains[i]->state;
		}
	if (busy != NULL)
		snprintf(why, sizeof(why), "host %s still runs %s (%s)", d->host,
		    busy, busystate);
	cluster_inventory(h, inv);	/* takes inv; busy points into it */
	if (busy == NULL && drain_incoming(d->co, d->host) == 0) {
		for (i = 0; i < d->nitems; i++)
			if (d->items[i].state == ITEM_MOVED)
				moved++;
		snprintf(why, sizeof(why), "host is empty: all %zu VMs moved",
		    moved);
		(void)drain_step(d, DE_EMPTY, why);
		return;
	}
	if (busy == NULL) {
		/* A migration still heads here: wait for it, then look again. */
		(void)drain_step(d, DE_INCOMING, "a migration heads here");
		return;
	}
	if (d->rounds >= DRAIN_ROUNDS) {
		strncat(why, " after planning again; it stays draining",
		    sizeof(why) - strlen(why) - 1);
		(void)drain_step(d, DE_UNCONFIRMED, why);
		return;
	}
	d->rounds++;
	log_info("drain %lld: %s: planning again (round %u)", (long long)d->id,
	    why, d->rounds);
	(void)drain_step(d, DE_NOT_EMPTY, why);
}

/* Every item is over: moved all, or left some where they run. */
static void
drain_finish(struct drain *d)
{
	size_t i, moved = 0, failed = 0, unmovable = 0;
	char msg[512];

	for (i = 0; i < d->nitems; i++) {
		if (d->items[i].state == ITEM_MOVED)
			moved++;
		else if (d->items[i].state == ITEM_FAILED)
			failed++;
		else if (d->items[i].state == ITEM_UNMOVABLE)
			unmovable++;
	}
	if (failed == 0 && unmovable == 0) {
		snprintf(msg, sizeof(msg), "%s: all %zu VMs moved",
		    d->kind == DK_REBALANCE ? "rebalanced" : "restored", moved);
		(void)drain_step(d, DE_MOVED_ALL, msg);
		return;
	}
	snprintf(msg, sizeof(msg), "%zu moved, %zu failed, %zu unmovable; %s",
	    moved, failed, unmovable, drain_kinds[d->kind].fixed ? "the rest "
	    "stay where they run" : "they keep running here and the host "
	    "stays draining");
	(void)drain_step(d, DE_LEFT_SOME, msg);
}

/* cancelling: what was not started never will be; the end comes when the
 * migrations under way and the calls out are over. */
static void
drain_tick_cancelling(struct drain *d)
{
	size_t i, moved = 0;
	char msg[256];

	for (i = 0; i < d->nitems; i++) {
		struct job *j;
		char e[128];

		if (d->items[i].state == ITEM_PLANNED)
			d->items[i].state = ITEM_CANCELLED;
		else if (d->items[i].state == ITEM_MOVED)
			moved++;
		/* Checked ahead, not started: it never starts. Those that
		 * copy finish (a VM is never stopped). */
		else if (d->items[i].state == ITEM_MIGRATING &&
		    (j = job_find(d->co, d->items[i].job_id)) != NULL &&
		    j->state == JOB_CHECKING && j->step == JOB_STEP_HELD &&
		    !j->abort_requested)
			(void)job_abort(d->co, j->id, "the drain was cancelled "
			    "before it started", e, sizeof(e));
	}
	if (d->calls > 0 || drain_running(d, NULL) > 0)
		return;
	snprintf(msg, sizeof(msg), "cancelled: %zu moved, %zu not", moved,
	    d->nitems - moved);
	(void)drain_step(d, DE_STOPPED, msg);
}

/* ---- running the plan ------------------------------------------------------ */

size_t
drain_running(const struct drain *d, const char *dest)
{
	size_t i, n = 0;

	for (i = 0; i < d->nitems; i++)
		if (d->items[i].state == ITEM_MIGRATING &&
		    (dest == NULL || strcmp(d->items[i].dest, dest) == 0))
			n++;
	return n;
}

/* Of those, the ones past their checks: copying (or verifying), not
 * checked ahead and waiting (JOB_STEP_HELD) or still checking. */
size_t
drain_copying(const struct drain *d, const char *dest)
{
	const struct job *j;
	size_t i, n = 0;

	for (i = 0; i < d->nitems; i++)
		if (d->items[i].state == ITEM_MIGRATING &&
		    (dest == NULL || strcmp(d->items[i].dest, dest) == 0) &&
		    ((j = job_find(d->co, d->items[i].job_id)) == NULL ||
		    j->state != JOB_CHECKING))
			n++;
	return n;
}

/* A new destination for an item whose migration failed, among hosts it has
 * not tried, by the placement engine's rules (as the plan). */
static int
drain_replan_item(struct drain *d, struct drain_item *it)
{
	struct coord *co = d->co;
	struct placement *pl = NULL;
	size_t vm, best = PLACE_NONE;
	char err[64];

	if (placement_build(co, &pl, err, sizeof(err)) < 0 ||
	    (vm = placement_find_vm(pl, it->vm)) == PLACE_NONE)
		goto out;
	best = planner_retry(&pl->m, vm, d->host, it->tried, it->ntried);
	if (best != PLACE_NONE)
		snprintf(it->dest, sizeof(it->dest), "%s",
		    co->hosts[best].conf.name);
 out:
	placement_free(pl);
	return best == PLACE_NONE ? -1 : 0;
}

/* The drain's end of struct job_parent: job.c calls these, never drain
 * functions by name. */
static void
drain_on_job_progress(void *arg, const struct job *j)
{
	drain_job_progress(arg, j, j->percent);
}

void
drain_on_job_done(void *arg, const struct job *j)
{
	drain_job_done(arg, j, j->state);
}

/* A migration the run checked ahead may copy once the run's limits allow:
 * max_parallel copying at once, per_dest arriving at its destination. */
static int
drain_may_start(void *arg, const struct job *j)
{
	struct coord *co = arg;
	struct drain *d;
	size_t i;

	TAILQ_FOREACH(d, &co->drains, entry)
		for (i = 0; !drain_final(d) && i < d->nitems; i++)
			if (d->items[i].job_id == j->id &&
			    d->items[i].state == ITEM_MIGRATING)
				return d->state == DS_DRAINING &&
				    drain_copying(d, NULL) < d->max_parallel &&
				    drain_copying(d, d->items[i].dest) <
				    d->per_dest;
	return 1;	/* not one of a run's: nothing holds it */
}

static void
drain_start_item(struct drain *d, struct drain_item *it)
{
	const struct job_parent pcb = {
		drain_on_job_progress, drain_on_job_done, d->co,
		drain_may_start,
	};
	Ferry__MigrateOptions o = FERRY__MIGRATE_OPTIONS__INIT;
	struct job *j;
	char err[512];

	/* Someone else (an operator's migrate) moves it off this host
	 * already: followed like a migration of the run's own (its end
	 * counts, a failure is retried), not refused as "in flight". */
	if ((j = job_find_vm(d->co, it->vm)) != NULL && d->host[0] &&
	    strcmp(j->source, d->host) == 0) {
		const struct job_parent follow = {
			NULL, drain_on_job_done, d->co, NULL,
		};

		it->state = ITEM_MIGRATING;
		it->job_id = j->id;
		it->percent = 0;
		snprintf(it->dest, sizeof(it->dest), "%s", j->destination);
		job_adopt(j, &follow);
		log_ctx_info(&(struct log_ctx){ .drain = d->id, .vm = it->vm,
		    .host = drain_label(d) }, "follows job %lld, already "
		    "moving it to %s", (long long)j->id, j->destination[0] ?
		    j->destination : "(choosing)");
		drain_emit(d, "item", NULL);
		return;
	}
	/* ... or moved it already: by its hosts' reports it runs elsewhere,
	 * so there is nothing left to move (never a move from elsewhere). */
	if (d->kind == DK_DRAIN) {
		char src[64], uuid[40];
		uint64_t mem;

		if (job_locate(d->co, it->vm, src, sizeof(src), uuid,
		    sizeof(uuid), &mem, err, sizeof(err)) == 0 &&
		    strcmp(src, d->host) != 0) {
			it->state = ITEM_MOVED;
			it->percent = 100;
			snprintf(it->dest, sizeof(it->dest), "%s", src);
			snprintf(it->reason, sizeof(it->reason), "left %s by "
			    "another migration: it runs on %s", d->host, src);
			log_ctx_info(&(struct log_ctx){ .drain = d->id,
			    .vm = it->vm, .host = drain_label(d) }, "%s",
			    it->reason);
			drain_journal(d, "item");
			drain_emit(d, "item", NULL);
			return;
		}
	}
	o.vm = it->vm;
	o.to = it->dest;
	o.has_copy_storage = 1;
	o.copy_storage = d->copy_storage;
	it->attempts++;
	if (it->ntried < DRAIN_ATTEMPTS + 1)
		snprintf(it->tried[it->ntried++], sizeof(it->tried[0]), "%s",
		    it->dest);
	if (job_migrate(d->co, &o, d->id, &pcb, &j, err, sizeof(err)) < 0) {
		snprintf(it->reason, sizeof(it->reason), "%s", err);
		it->state = ITEM_FAILED;
		log_ctx_warnx(&(struct log_ctx){ .drain = d->id, .vm = it->vm,
		    .host = drain_label(d) }, "%s", err);
		drain_emit(d, "item", NULL);
		return;
	}
	it->job_id = j->id;
	it->state = ITEM_MIGRATING;
	it->percent = 0;
	it->reason[0] = '\0';
	drain_emit(d, "item", NULL);
	job_run(j);	/* may finish at once and call drain_job_done */
}

/*
 * The items' indices in plan order (ties: in the order they were found).
 * Orders are not dense: a VM that came back in a later round is planned
 * after the earlier rounds, and one adopted in flight after a restart had
 * none until its plan; walking 1..nitems skipped both (a drain waited
 * forever on a VM it never started).
 */
static void
drain_by_order(const struct drain *d, size_t *idx)
{
	size_t i, k;

	for (i = 0; i < d->nitems; i++) {
		for (k = i; k > 0 && d->items[idx[k - 1]].order >
		    d->items[i].order; k--)
			idx[k] = idx[k - 1];
		idx[k] = i;
	}
}

/*
 * The run's parallelism, from what its migrations measured and the limits
 * (wire_drain_parallel), over what is left to move: its destinations and
 * their mean memory. Chosen again every tick; logged when it changes.
 */
static void
drain_choose_parallel(struct drain *d)
{
	const char *dests[DRAIN_MAX_ITEMS];
	char why[256];
	uint64_t mem = 0;
	size_t i, k, nd = 0, left = 0;
	uint32_t n;

	for (i = 0; i < d->nitems; i++) {
		const struct drain_item *it = &d->items[i];

		if (it->state != ITEM_PLANNED && it->state != ITEM_MIGRATING)
			continue;
		left++;
		mem += it->mem_mib;
		for (k = 0; k < nd; k++)
			if (strcmp(dests[k], it->dest) == 0)
				break;
		if (k == nd && it->dest[0] != '\0')
			dests[nd++] = it->dest;
	}
	if (left == 0)
		return;
	n = wire_drain_parallel(d->co, d->host[0] ? d->host : "each host",
	    dests, nd, mem / left, left, d->operator_max, d->per_dest, why,
	    sizeof(why));
	if (n != d->max_parallel || d->parallel_why[0] == '\0') {
		log_ctx_info(&(struct log_ctx){ .drain = d->id,
		    .host = drain_label(d) }, "%u migration(s) at once: %s", n,
		    why);
		d->max_parallel = n;
	}
	snprintf(d->parallel_why, sizeof(d->parallel_why), "%s", why);
}

static void
drain_tick_one(struct drain *d)
{
	size_t idx[DRAIN_MAX_ITEMS];
	size_t i, active = 0, ahead;

	if (drain_final(d)) {
		/* The last late callback has come back: let go of it. */
		if (d->calls == 0) {
			TAILQ_REMOVE(&d->co->drains, d, entry);
			drain_free(d);
		}
		return;
	}
	if (d->deadline_ms && clock_mono_ms() >= d->deadline_ms) {
		drain_expired(d);
		return;
	}
	if (d->state == DS_RESUMED) {
		drain_resume_if_ready(d, clock_mono_ms());
		return;
	}
	if (d->state == DS_CANCELLING) {
		drain_tick_cancelling(d);
		return;
	}
	if (d->state != DS_DRAINING)
		return;
	drain_choose_parallel(d);
	drain_by_order(d, idx);
	/* Checked ones first, in plan order, while the limits allow. */
	for (i = 0; i < d->nitems; i++) {
		struct drain_item *it = &d->items[idx[i]];
		struct job *j;

		if (it->state != ITEM_MIGRATING ||
		    (j = job_find(d->co, it->job_id)) == NULL ||
		    j->state != JOB_CHECKING || j->step != JOB_STEP_HELD)
			continue;
		if (drain_copying(d, NULL) >= d->max_parallel)
			break;
		if (drain_copying(d, it->dest) >= d->per_dest)
			continue;
		job_release(j);	/* may end at once and call drain_job_done */
		return;
	}
	/* Then the next ones' checks, while the current ones copy: as many
	 * again as may copy, so that each slot finds a checked VM. Not with
	 * --copy-storage: those checks pre-create disks on the destination
	 * and register the copy with the source's hostd, which a VM waiting
	 * for its slot would hold (and a restart would leave behind). */
	ahead = d->copy_storage ? 1 : 2;
	for (i = 0; i < d->nitems; i++) {
		struct drain_item *it = &d->items[idx[i]];

		if (it->state != ITEM_PLANNED)
			continue;
		if (drain_running(d, NULL) >= ahead * d->max_parallel)
			break;
		if (drain_running(d, it->dest) >= ahead * d->per_dest)
			continue;	/* a later VM may go elsewhere */
		drain_start_item(d, it);
		/* The next one on the next tick: job_run may have changed
		 * what runs. */
		return;
	}
	for (i = 0; i < d->nitems; i++)
		if (d->items[i].state == ITEM_PLANNED ||
		    d->items[i].state == ITEM_MIGRATING)
			active++;
	/* A migration heading here would leave a VM behind: wait for it
	 * (new ones are refused while the drain runs), then look again. */
	if (active == 0 && d->kind == DK_DRAIN &&
	    drain_incoming(d->co, d->host) > 0)
		return;
	if (active == 0)
		drain_finish(d);
}

static void	drain_item_done(struct drain *, struct drain_item *,
		    const struct job *, enum job_state);

/* Called by job.c when a migration ends, before it is freed. */
void
drain_job_done(struct coord *co, const struct job *j, enum job_state s)
{
	struct drain *d;
	size_t i;

	/* Every run that follows it: its own parent, and a drain of the
	 * source that found it in flight. */
	TAILQ_FOREACH(d, &co->drains, entry)
		for (i = 0; !drain_final(d) && i < d->nitems; i++)
			if (d->items[i].job_id == j->id &&
			    d->items[i].state == ITEM_MIGRATING)
				drain_item_done(d, &d->items[i], j, s);
}

static void
drain_item_done(struct drain *d, struct drain_item *it, const struct job *j,
    enum job_state s)
{
	int cancelling = d->state == DS_CANCELLING;

	if (s == JOB_SUCCEEDED) {
		it->state = ITEM_MOVED;
		it->percent = 100;
	} else {
		snprintf(it->reason, sizeof(it->reason), "%s: %s",
		    job_state_name(s), j->error);
		/* Retry elsewhere, unless the VM is not on the source any more
		 * or nothing else can take it; it is never stopped. */
		if (s == JOB_FAILED || cancelling ||
		    !drain_kinds[d->kind].retry ||
		    it->attempts >= DRAIN_ATTEMPTS ||
		    drain_replan_item(d, it) < 0)
			it->state = cancelling ? ITEM_CANCELLED : ITEM_FAILED;
		else {
			log_ctx_info(&(struct log_ctx){ .drain = d->id,
			    .vm = it->vm, .host = drain_label(d) },
			    "retrying on %s (%s)", it->dest, it->reason);
			it->state = ITEM_PLANNED;
		}
	}
	drain_journal(d, "item");
	drain_emit(d, "item", NULL);
	/* The next starts from drain_tick, not from inside job_finish. */
}

void
drain_job_progress(struct coord *co, const struct job *j, double pct)
{
	struct drain *d;
	size_t i;

	TAILQ_FOREACH(d, &co->drains, entry)
		for (i = 0; !drain_final(d) && i < d->nitems; i++)
			if (d->items[i].job_id == j->id &&
			    d->items[i].state == ITEM_MIGRATING) {
				d->items[i].percent = pct;
				if (clock_mono_ms() - d->last_emit_ms >= 1000)
					drain_emit(d, "item", NULL);
				return;
			}
}

void
drain_tick(struct coord *co)
{
	struct drain *d, *next;

	for (d = TAILQ_FIRST(&co->drains); d; d = next) {
		next = TAILQ_NEXT(d, entry);
		drain_tick_one(d);
	}
}
