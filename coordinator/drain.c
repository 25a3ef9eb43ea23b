/* drain.c: maintenance mode, evacuating a host, as a state machine whose
 * transition table (drain_edges below) is this diagram:
 *
 *   resumed --host up--> planning          (after a restart: the host is back)
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

#define DRAIN_ATTEMPTS		3
#define DRAIN_MAX_PARALLEL	2
#define DRAIN_PER_DEST		1
#define DRAIN_CHECK_TIMEOUT_MS	30000
#define DRAIN_PLAN_DEADLINE_MS	90000	/* pre-checks, then CPU verdicts */
#define DRAIN_CONFIRM_DEADLINE_MS (DRAIN_CHECK_TIMEOUT_MS + 5000)
#define DRAIN_MAX_ITEMS		512
#define DRAIN_ROUNDS		3	/* plans again after the host's last word */

void	(*drain_illegal_hook)(int64_t, const char *, const char *);

enum item_state {
	ITEM_PLANNED, ITEM_UNMOVABLE, ITEM_MIGRATING, ITEM_MOVED, ITEM_FAILED,
	ITEM_CANCELLED,
};

static const char *item_state_names[] = {
	"planned", "unmovable", "migrating", "moved", "failed", "cancelled",
};

enum drain_kind { DK_DRAIN, DK_RESTORE, DK_REBALANCE };

#define K_DRAIN		(1u << DK_DRAIN)
#define K_RESTORE	(1u << DK_RESTORE)
#define K_REBALANCE	(1u << DK_REBALANCE)
#define K_ALL		(K_DRAIN | K_RESTORE | K_REBALANCE)

static const struct drain_kind_info {
	const char	*name;
	int		 has_host;	/* acts on one host */
	int		 fixed;		/* destinations given, not planned */
	int		 retry;		/* a failed move is placed again */
} drain_kinds[] = {
	[DK_DRAIN] =		{ "drain",	1, 0, 1 },
	[DK_RESTORE] =		{ "restore",	1, 1, 0 },
	[DK_REBALANCE] =	{ "rebalance",	0, 1, 0 },
};

enum drain_state {
	DS_RESUMED, DS_PLANNING, DS_DRAINING, DS_CONFIRMING, DS_CANCELLING,
	DS_COMPLETED, DS_INCOMPLETE, DS_CANCELLED, DS_REFUSED, DS_DRY_RUN,
	DS_MAX
};

static const struct drain_state_info {
	const char	*name;		/* in logs and the diagram */
	const char	*shown;		/* to ferryctl and in the record */
	int		 final;
} drain_states[DS_MAX] = {
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

enum drain_event {
	DE_HOST_UP, DE_PLANNED, DE_DRY_RUN, DE_REFUSE, DE_GIVE_UP,
	DE_MOVED_ALL, DE_LEFT_SOME, DE_EMPTY, DE_INCOMING, DE_NOT_EMPTY,
	DE_UNCONFIRMED, DE_CANCEL, DE_STOPPED, DE_MAX
};

static const char *drain_event_names[DE_MAX] = {
	"host up", "planned", "dry run", "refuse", "give up", "moved all",
	"left some", "empty", "incoming", "not empty", "unconfirmed", "cancel",
	"stopped",
};

/* What an edge writes before its action. */
enum drain_journal {
	JN_NONE,
	JN_RECORD,	/* the run's record, or a "plan" event once recorded */
	JN_EVENT,	/* an event of the edge's type, once recorded */
	JN_FINISH,	/* the final state, once recorded */
};

struct drain;
typedef void	drain_act(struct drain *, const char *why);

static drain_act	drain_act_plan, drain_act_started, drain_act_confirm,
			drain_act_cancel, drain_end;

static const struct drain_edge {
	enum drain_state	 from;
	enum drain_event	 ev;
	unsigned		 kinds;
	enum drain_state	 to;
	enum drain_journal	 journal;
	const char		*evtype;	/* JN_EVENT */
	drain_act		*act;
	uint64_t		 deadline_ms;	/* of the new state; 0: none */
} drain_edges[] = {
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

struct drain_item {
	char		 vm[256];
	char		 from[64];		/* restore: where it is now */
	uint64_t	 mem_mib;
	uint32_t	 vcpus;
	char		 dest[64];
	enum item_state	 state;
	char		 reason[512];
	int64_t		 job_id;
	uint32_t	 attempts;
	char		 tried[DRAIN_ATTEMPTS + 1][PLAN_NAME_MAX];
	uint32_t	 ntried;
	double		 percent;
	uint32_t	 order;
	int		 checked;		/* PRECHECK_SOURCE answered */
	int		 fresh;			/* found this round: to be placed */
	Ferry__Nonce	**nonces;		/* to remove; owned via src reply */
	Ferry__SourceCheckReply *src;		/* owned */
};

struct drain {
	TAILQ_ENTRY(drain)	 entry;
	struct coord		*co;
	int64_t			 id;		/* 0 until recorded */
	enum drain_kind		 kind;
	char			 host[64];	/* "" for a rebalance */
	enum drain_state	 state;
	uint64_t		 deadline_ms;	/* of the state; 0: none */
	int			 dry_run, force, resumed;
	int			 copy_storage;	/* local disks copied (opt-in) */
	uint32_t		 max_parallel, per_dest;
	struct drain_item	*items;
	size_t			 nitems;
	int			 calls;		/* callbacks still to come */
	uint32_t		 rounds;	/* plans made after a look again */
	uint64_t		 last_emit_ms;
	struct ctl_client	*reply_client;	/* who waits for the plan */
	uint32_t		 reply_serial;
	uint16_t		 reply_type;
	int			 reply_wait;
	struct job_watcher_list	 watchers;
};

static int	drain_start_planning(struct drain *, char *, size_t);
static size_t	drain_running(const struct drain *, const char *);

static int
drain_final(const struct drain *d)
{
	return drain_states[d->state].final;
}

/* For logs: the host, NULL for a run without one. */
static const char *
drain_label(const struct drain *d)
{
	return d->host[0] ? d->host : NULL;
}

static struct drain *
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

static void
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
static struct drain *
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

static void
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

/* ---- what ferryctl sees ------------------------------------------------- */

struct drain_view {
	Ferry__DrainInfo	 info;
	Ferry__DrainItem	*items;
	Ferry__DrainItem	**v;
};

static int
drain_view(const struct drain *d, struct drain_view *dv, const char *msg)
{
	struct host *h = d->host[0] ? coord_host_find(d->co, d->host) :
	    NULL;
	size_t i;

	ferry__drain_info__init(&dv->info);
	dv->items = NULL;
	dv->v = NULL;
	if (d->nitems && ((dv->items = calloc(d->nitems, sizeof(*dv->items))) ==
	    NULL || (dv->v = calloc(d->nitems, sizeof(*dv->v))) == NULL)) {
		free(dv->items);
		return -1;
	}
	for (i = 0; i < d->nitems; i++) {
		const struct drain_item *it = &d->items[i];
		Ferry__DrainItem *pi = &dv->items[i];

		ferry__drain_item__init(pi);
		pi->vm = (char *)it->vm;
		pi->mem_mib = it->mem_mib;
		pi->destination = it->dest[0] ? (char *)it->dest : NULL;
		pi->state = (char *)item_state_names[it->state];
		pi->reason = it->reason[0] ? (char *)it->reason : NULL;
		pi->has_job_id = it->job_id != 0;
		pi->job_id = it->job_id;
		pi->has_attempts = 1;
		pi->attempts = it->attempts;
		pi->has_percent = it->state == ITEM_MIGRATING;
		pi->percent = it->percent;
		pi->has_order = 1;
		pi->order = it->order;
		dv->v[i] = pi;
	}
	/* Plan order, which is also the order of the work. */
	for (i = 1; i < d->nitems; i++)
		for (size_t k = i; k > 0 && dv->v[k]->order < dv->v[k - 1]->order;
		    k--) {
			Ferry__DrainItem *t = dv->v[k];

			dv->v[k] = dv->v[k - 1];
			dv->v[k - 1] = t;
		}
	dv->info.id = d->id;
	dv->info.host = (char *)d->host;
	dv->info.state = (char *)drain_states[d->state].shown;
	dv->info.items = dv->v;
	dv->info.n_items = d->nitems;
	dv->info.message = (char *)msg;
	dv->info.has_max_parallel = dv->info.has_per_destination = 1;
	dv->info.max_parallel = d->max_parallel;
	dv->info.per_destination = d->per_dest;
	dv->info.host_state = h ? (char *)coord_host_state(h) : NULL;
	return 0;
}

static void
drain_view_clear(struct drain_view *dv)
{
	free(dv->items);
	free(dv->v);
}

static void
drain_emit(struct drain *d, const char *event, const char *msg)
{
	Ferry__DrainEvent ev = FERRY__DRAIN_EVENT__INIT;
	struct job_watcher *w;
	struct drain_view dv;

	if (TAILQ_EMPTY(&d->watchers) || drain_view(d, &dv, msg) < 0)
		return;
	ev.event = (char *)event;
	ev.drain = &dv.info;
	TAILQ_FOREACH(w, &d->watchers, entry)
		(void)control_event(w->client, MSG_CTL_DRAIN_EVENT, w->serial,
		    &ev.base);
	drain_view_clear(&dv);
	d->last_emit_ms = clock_mono_ms();
}

static void
drain_reply(struct drain *d, const char *msg)
{
	struct drain_view dv;

	if (d->reply_client == NULL)
		return;
	if (drain_view(d, &dv, msg) == 0) {
		(void)control_reply(d->reply_client, d->reply_type,
		    d->reply_serial, &dv.info.base);
		drain_view_clear(&dv);
	}
	if (d->reply_wait && job_watch_list_add(&d->watchers, d->reply_client,
	    d->reply_serial) < 0)
		log_drain_warnx(d->id, drain_label(d), "cannot add a watcher");
	control_client_unref(d->reply_client);
	d->reply_client = NULL;
}

/* A reply about no run at all (nothing to cancel, nothing to restore):
 * a view in the given state, never on co->drains, never journaled. */
static void
drain_reply_view(struct coord *co, enum drain_kind kind, const char *host,
    enum drain_state state, const char *msg, struct ctl_client *c,
    uint16_t type, uint32_t serial)
{
	struct drain_view dv;
	struct drain *d;

	if (c == NULL || (d = drain_new(co, kind, host, state)) == NULL)
		return;
	if (drain_view(d, &dv, msg) == 0) {
		(void)control_reply(c, type, serial, &dv.info.base);
		drain_view_clear(&dv);
	}
	drain_free(d);
}

/* ---- journal ------------------------------------------------------------- */

static char *
drain_json(const struct drain *d)
{
	struct json_object *o = json_object_new_object(), *arr, *it;
	char *s;
	size_t i;

	json_object_object_add(o, "kind",
	    json_object_new_string(drain_kinds[d->kind].name));
	if (d->host[0])
		json_object_object_add(o, "host",
		    json_object_new_string(d->host));
	json_object_object_add(o, "restore",
	    json_object_new_boolean(drain_kinds[d->kind].fixed));
	if (d->copy_storage)
		json_object_object_add(o, "copy_storage",
		    json_object_new_boolean(1));
	json_object_object_add(o, "max_parallel",
	    json_object_new_int(d->max_parallel));
	json_object_object_add(o, "per_destination",
	    json_object_new_int(d->per_dest));
	arr = json_object_new_array();
	for (i = 0; i < d->nitems; i++) {
		const struct drain_item *x = &d->items[i];

		it = json_object_new_object();
		json_object_object_add(it, "vm", json_object_new_string(x->vm));
		json_object_object_add(it, "mem_mib",
		    json_object_new_int64(x->mem_mib));
		json_object_object_add(it, "order", json_object_new_int(x->order));
		json_object_object_add(it, "destination", x->dest[0] ?
		    json_object_new_string(x->dest) : NULL);
		json_object_object_add(it, "state",
		    json_object_new_string(item_state_names[x->state]));
		if (x->reason[0])
			json_object_object_add(it, "reason",
			    json_object_new_string(x->reason));
		if (x->job_id)
			json_object_object_add(it, "job",
			    json_object_new_int64(x->job_id));
		json_object_array_add(arr, it);
	}
	json_object_object_add(o, "items", arr);
	s = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
	return s;
}

/* An event in the run's history; nothing before it is recorded. */
static void
drain_journal(struct drain *d, const char *type)
{
	char *s;

	if (d->id == 0 || (s = drain_json(d)) == NULL)
		return;
	if (store_job_event(d->co->store, d->id, type, s, clock_wall_ms()) < 0)
		log_drain_warnx(d->id, drain_label(d), "%s",
		    store_error(d->co->store));
	free(s);
}

/* The one place a run is recorded: its own record and its job row, in
 * the state it enters (the only caller is drain_step). */
static int
drain_record(struct drain *d, enum drain_state to)
{
	struct store_run r;
	char *params;
	int rc;

	memset(&r, 0, sizeof(r));
	snprintf(r.kind, sizeof(r.kind), "%s", drain_kinds[d->kind].name);
	snprintf(r.host, sizeof(r.host), "%s", d->host);
	snprintf(r.state, sizeof(r.state), "%s", drain_states[to].shown);
	if ((params = drain_json(d)) == NULL)
		return -1;
	rc = store_run_create(d->co->store, &r, params, clock_wall_ms());
	free(params);
	if (rc < 0)
		return -1;
	d->id = r.id;
	return 0;
}

/* Writes what edge e records. Only a record that cannot be created stops
 * the edge: nothing has started. A later write that fails is logged; the
 * run goes on, and recovery plans again from what the host runs. */
static int
drain_journal_edge(struct drain *d, const struct drain_edge *e,
    const char *why)
{
	char *s;

	switch (e->journal) {
	case JN_NONE:
		return 0;
	case JN_RECORD:
		if (d->id != 0) {
			drain_journal(d, "plan");
			return 0;
		}
		return drain_record(d, e->to);
	case JN_EVENT:
		drain_journal(d, e->evtype);
		return 0;
	case JN_FINISH:
		if (d->id == 0 || (s = drain_json(d)) == NULL)
			return 0;
		if (store_job_finish(d->co->store, d->id,
		    drain_states[e->to].shown, e->to == DS_COMPLETED ? NULL :
		    why, s, clock_wall_ms()) < 0)
			log_drain_warnx(d->id, drain_label(d), "%s",
			    store_error(d->co->store));
		free(s);
		return 0;
	}
	return 0;
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
static int
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

	for (i = 0; i < d->nitems; i++)
		if (d->items[i].state == ITEM_PLANNED)
			d->items[i].state = ITEM_CANCELLED;
		else if (d->items[i].state == ITEM_MOVED)
			moved++;
	if (d->calls > 0 || drain_running(d, NULL) > 0)
		return;
	snprintf(msg, sizeof(msg), "cancelled: %zu moved, %zu not", moved,
	    d->nitems - moved);
	(void)drain_step(d, DE_STOPPED, msg);
}

/* ---- running the plan ------------------------------------------------------ */

static size_t
drain_running(const struct drain *d, const char *dest)
{
	size_t i, n = 0;

	for (i = 0; i < d->nitems; i++)
		if (d->items[i].state == ITEM_MIGRATING &&
		    (dest == NULL || strcmp(d->items[i].dest, dest) == 0))
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

static void
drain_on_job_done(void *arg, const struct job *j)
{
	drain_job_done(arg, j, j->state);
}

static void
drain_start_item(struct drain *d, struct drain_item *it)
{
	const struct job_parent pcb = {
		drain_on_job_progress, drain_on_job_done, d->co,
	};
	Ferry__MigrateOptions o = FERRY__MIGRATE_OPTIONS__INIT;
	struct job *j;
	char err[512];

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

static void
drain_tick_one(struct drain *d)
{
	size_t i, active = 0;

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
	if (d->state == DS_CANCELLING) {
		drain_tick_cancelling(d);
		return;
	}
	if (d->state != DS_DRAINING)
		return;
	/* Start in plan order while the limits allow. */
	for (uint32_t ord = 1; ord <= d->nitems; ord++) {
		struct drain_item *it = NULL;

		for (i = 0; i < d->nitems; i++)
			if (d->items[i].order == ord)
				it = &d->items[i];
		if (it == NULL || it->state != ITEM_PLANNED)
			continue;
		if (drain_running(d, NULL) >= d->max_parallel)
			break;
		if (drain_running(d, it->dest) >= d->per_dest)
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
	for (i = 0; i < d->nitems; i++) {
		struct drain_item *it = &d->items[i];

		if (!it->fresh) {
			if (it->order > base)
				base = it->order;
			continue;
		}
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
static int
drain_start_planning(struct drain *d, char *err, size_t errlen)
{
	Ferry__SourceCheckRequest req = FERRY__SOURCE_CHECK_REQUEST__INIT;
	struct host *h = coord_host_find(d->co, d->host);
	struct drain_item *items;
	size_t i, n = 0;

	if (h == NULL || !h->up || h->inv == NULL) {
		snprintf(err, errlen, "host %s is down: Ferry cannot drain what "
		    "it cannot see", d->host);
		return -1;
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
		return -1;
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
				NULL, drain_on_job_done, d->co,
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
		return -1;
	}
	if ((d = drain_new(co, DK_REBALANCE, NULL, DS_PLANNING)) == NULL ||
	    (n && (d->items = calloc(n, sizeof(*d->items))) == NULL)) {
		drain_free(d);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	d->max_parallel = max_parallel ? max_parallel : DRAIN_MAX_PARALLEL;
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
		return -1;
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

/* ---- commands --------------------------------------------------------------- */

int
drain_enter(struct coord *co, const Ferry__MaintenanceRequest *req,
    struct ctl_client *c, uint16_t type, uint32_t serial, char *err,
    size_t errlen)
{
	struct host *h = coord_host_find(co, req->host);
	struct drain *d;

	if (h == NULL) {
		snprintf(err, errlen, "unknown host '%s'", req->host);
		return -1;
	}
	if (drain_find_host(co, req->host) != NULL) {
		snprintf(err, errlen, "host %s is already being drained",
		    req->host);
		return -1;
	}
	if (strcmp(h->admin_state, "maintenance") == 0 && !req->dry_run) {
		snprintf(err, errlen, "host %s is already in maintenance",
		    req->host);
		return -1;
	}
	if ((d = drain_new(co, DK_DRAIN, req->host, DS_PLANNING)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (req->has_max_parallel && req->max_parallel > 0)
		d->max_parallel = req->max_parallel;
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
	if (drain_start_planning(d, err, errlen) < 0) {
		TAILQ_REMOVE(&co->drains, d, entry);
		drain_free(d);
		return -1;
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
		return -1;
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
		return -1;
	}
	/* A second cancel is answered as the first. */
	if (d->state != DS_CANCELLING && drain_step(d, DE_CANCEL, NULL) < 0) {
		snprintf(err, errlen, "the drain of %s cannot be cancelled now",
		    host);
		return -1;
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
		return -1;
	}
	if (drain_find_host(co, req->host) != NULL) {
		snprintf(err, errlen, "host %s is being drained: cancel it first",
		    req->host);
		return -1;
	}
	drain_set_admin(co, req->host, "active");
	if (!(req->has_restore && req->restore)) {
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
		return -1;
	}
	if ((d = drain_new(co, DK_RESTORE, req->host, DS_PLANNING)) == NULL) {
		store_job_list_free(jobs, n);
		snprintf(err, errlen, "out of memory");
		return -1;
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
	/* A restore is a plan with fixed destinations: record and run it. */
	TAILQ_INSERT_TAIL(&co->drains, d, entry);
	if (drain_step(d, DE_PLANNED, NULL) < 0) {
		snprintf(err, errlen, "%s", co->stopping ? "coordinator "
		    "shutting down" : store_error(co->store));
		TAILQ_REMOVE(&co->drains, d, entry);
		drain_free(d);
		return -1;
	}
	return 0;
}

/* After a restart: a drain the journal says was under way is planned again
 * from what its host still runs, once that host is back. */
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
		d->force = 1;
		log_drain_info(d->id, d->host, "resuming after a restart");
		(void)store_job_event(co->store, d->id, "info", "coordinator "
		    "restarted; planning again from what the host runs",
		    clock_wall_ms());
		TAILQ_INSERT_TAIL(&co->drains, d, entry);
	}
	free(runs);
	return 0;
}

/* A resumed drain plans once its host is up. */
void
drain_host_up(struct host *h)
{
	struct drain *d = drain_find_host(h->co, h->conf.name);

	if (d != NULL && d->state == DS_RESUMED)
		(void)drain_step(d, DE_HOST_UP, NULL);
}
