/* drain.c: maintenance mode, evacuating a host as an explicit state machine.
 *
 *   planning -> draining -> completed   (host empty: becomes maintenance)
 *      |            |-----> incomplete  (some VM could not move: it keeps
 *      |            |                    running there; host stays draining)
 *      |            +-----> cancelled   (no new migrations; host back to up)
 *      +-> refused (a VM cannot move and no --force) / dry run: nothing starts
 *
 * Planning asks the source's hostd about every VM (PRECHECK_SOURCE: storage
 * that cannot move makes a VM unmovable), then planner_evacuate places all of
 * them at once. Draining starts migration jobs (job.c) in plan order, at most
 * max_parallel at once and at most per_dest arriving at any one destination;
 * a failed migration is retried on another destination, at most
 * DRAIN_ATTEMPTS times; a VM that still cannot move is never stopped.
 *
 * The drain is a job of kind "drain" in the store; its migrations carry it as
 * parent. The host's administrative state (draining, maintenance) is written
 * before migrations start and survives restarts: a drain interrupted by a
 * coordinator restart is planned again from what the host still runs.
 *
 * Ownership: drains live on co->drains until final. Watchers point at
 * control clients and hold a reference on them (watch.c, control.c).
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
#define DRAIN_MAX_ITEMS		512
#define DRAIN_ROUNDS		3	/* plans again after the host's last word */

enum item_state {
	ITEM_PLANNED, ITEM_UNMOVABLE, ITEM_MIGRATING, ITEM_MOVED, ITEM_FAILED,
	ITEM_CANCELLED,
};

static const char *item_state_names[] = {
	"planned", "unmovable", "migrating", "moved", "failed", "cancelled",
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
	char			 host[64];
	char			 state[16];
	int			 restore;	/* fixed destinations (restore, rebalance) */
	int			 no_retry;	/* a refused move is not re-planned */
	char			 kind[16];	/* drain, restore, rebalance */
	int			 dry_run, force, resumed;
	uint32_t		 max_parallel, per_dest;
	struct drain_item	*items;
	size_t			 nitems;
	int			 calls;
	int			 cancel;
	int			 confirming;	/* INVENTORY asked before the end */
	int			 confirmed;	/* hostd says it runs nothing */
	uint32_t		 rounds;	/* plans made after a look again */
	uint64_t		 last_emit_ms;
	struct ctl_client	*reply_client;	/* who waits for the plan */
	uint32_t		 reply_serial;
	uint16_t		 reply_type;
	int			 reply_wait;
	struct job_watcher_list	 watchers;
};

static void	drain_tick_one(struct drain *);
static void	drain_finish(struct drain *);
static int	drain_start_planning(struct drain *, char *, size_t);

static struct drain *
drain_find_host(struct coord *co, const char *host)
{
	struct drain *d;

	TAILQ_FOREACH(d, &co->drains, entry)
		if (strcmp(d->host, host) == 0)
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
		if (!d->restore && !d->dry_run && !d->cancel &&
		    strcmp(d->host, host) == 0)
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
		for (i = 0; i < d->nitems; i++)
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
	struct host *h = coord_host_find(d->co, d->host);
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
	dv->info.state = (char *)d->state;
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
		log_drain_warnx(d->id, d->host, "cannot add a watcher");
	control_client_unref(d->reply_client);
	d->reply_client = NULL;
}

/* ---- journal ------------------------------------------------------------- */

static char *
drain_json(const struct drain *d)
{
	struct json_object *o = json_object_new_object(), *arr, *it;
	char *s;
	size_t i;

	json_object_object_add(o, "host", json_object_new_string(d->host));
	json_object_object_add(o, "restore", json_object_new_boolean(d->restore));
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

static void
drain_journal(struct drain *d, const char *type)
{
	char *s;

	if (d->id == 0 || (s = drain_json(d)) == NULL)
		return;
	if (store_job_event(d->co->store, d->id, type, s, clock_wall_ms()) < 0)
		log_drain_warnx(d->id, d->host, "%s",
		    store_error(d->co->store));
	free(s);
}

/* ---- the end -------------------------------------------------------------- */

/* Ends the drain incomplete for a reason of its own (the host could not
 * confirm it is empty); the host stays draining. */
static void
drain_finish_incomplete(struct drain *d, const char *why)
{
	char *s;

	snprintf(d->state, sizeof(d->state), "incomplete");
	log_warnx("drain %lld of %s: incomplete: %s", (long long)d->id, d->host,
	    why);
	if (d->id && (s = drain_json(d)) != NULL) {
		if (store_job_finish(d->co->store, d->id, d->state, why, s,
		    clock_wall_ms()) < 0)
			log_warnx("drain %lld: %s", (long long)d->id,
			    store_error(d->co->store));
		free(s);
	}
	drain_emit(d, "done", why);
	TAILQ_REMOVE(&d->co->drains, d, entry);
	drain_free(d);
}

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
	size_t i;

	d->confirming = 0;
	if (d->co->stopping)
		return;		/* left to the next start's recovery */
	if (d->cancel) {
		drain_finish(d);
		return;
	}
	if (f == NULL || (inv = (Ferry__Inventory *)frame_unpack(f,
	    &ferry__inventory__descriptor)) == NULL || inv->host == NULL) {
		snprintf(why, sizeof(why), "host %s could not confirm that it "
		    "runs nothing (%s); it stays draining", d->host, f == NULL ?
		    err : "malformed inventory");
		drain_finish_incomplete(d, why);
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
		d->confirmed = 1;
		drain_finish(d);
		return;
	}
	if (busy == NULL) {
		/* A migration still heads here: wait for it, then look again. */
		d->co->drain_kick = 1;
		return;
	}
	if (d->rounds >= DRAIN_ROUNDS) {
		strncat(why, " after planning again; it stays draining",
		    sizeof(why) - strlen(why) - 1);
		drain_finish_incomplete(d, why);
		return;
	}
	d->rounds++;
	log_info("drain %lld: %s: planning again (round %u)", (long long)d->id,
	    why, d->rounds);
	drain_journal(d, "replan");
	snprintf(d->state, sizeof(d->state), "planning");
	if (drain_start_planning(d, why, sizeof(why)) < 0)
		drain_finish_incomplete(d, why);
}

static void
drain_finish(struct drain *d)
{
	Ferry__Empty e = FERRY__EMPTY__INIT;
	struct host *h;
	size_t i, moved = 0, failed = 0, unmovable = 0;
	char msg[512], *s;

	for (i = 0; i < d->nitems; i++) {
		if (d->items[i].state == ITEM_MOVED)
			moved++;
		else if (d->items[i].state == ITEM_FAILED)
			failed++;
		else if (d->items[i].state == ITEM_UNMOVABLE)
			unmovable++;
	}
	if (!d->cancel && !d->restore && failed == 0 && unmovable == 0 &&
	    !d->confirmed) {
		if (d->confirming)
			return;
		h = coord_host_find(d->co, d->host);
		if (h == NULL || peer_call(h, MSG_INVENTORY, &e.base,
		    DRAIN_CHECK_TIMEOUT_MS, drain_confirm_cb, d) < 0) {
			snprintf(msg, sizeof(msg), "host %s is not connected: "
			    "Ferry cannot confirm that it runs nothing; it stays "
			    "draining", d->host);
			drain_finish_incomplete(d, msg);
			return;
		}
		d->confirming = 1;
		return;
	}
	if (d->cancel) {
		snprintf(d->state, sizeof(d->state), "cancelled");
		snprintf(msg, sizeof(msg), "cancelled: %zu moved, %zu not",
		    moved, d->nitems - moved);
	} else if (failed == 0 && unmovable == 0) {
		snprintf(d->state, sizeof(d->state), "completed");
		snprintf(msg, sizeof(msg), "%s: all %zu VMs moved", d->restore ?
		    "restored" : "host is empty", moved);
		if (!d->restore)
			drain_set_admin(d->co, d->host, "maintenance");
	} else {
		snprintf(d->state, sizeof(d->state), "incomplete");
		snprintf(msg, sizeof(msg), "%zu moved, %zu failed, %zu unmovable; "
		    "%s", moved, failed, unmovable, d->restore ? "the rest stay "
		    "where they run" : "they keep running here and the host "
		    "stays draining");
	}
	log_drain_info(d->id, d->host, "%s: %s", d->state, msg);
	if (d->id && (s = drain_json(d)) != NULL) {
		if (store_job_finish(d->co->store, d->id, d->state,
		    strcmp(d->state, "completed") ? msg : NULL, s,
		    clock_wall_ms()) < 0)
			log_drain_warnx(d->id, d->host, "%s",
			    store_error(d->co->store));
		free(s);
	}
	drain_emit(d, "done", msg);
	TAILQ_REMOVE(&d->co->drains, d, entry);
	drain_free(d);
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
	it->attempts++;
	if (it->ntried < DRAIN_ATTEMPTS + 1)
		snprintf(it->tried[it->ntried++], sizeof(it->tried[0]), "%s",
		    it->dest);
	if (job_migrate(d->co, &o, d->id, &pcb, &j, err, sizeof(err)) < 0) {
		snprintf(it->reason, sizeof(it->reason), "%s", err);
		it->state = ITEM_FAILED;
		log_ctx_warnx(&(struct log_ctx){ .drain = d->id, .vm = it->vm,
		    .host = d->host }, "%s", err);
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

	if (strcmp(d->state, "draining") != 0 || d->confirming)
		return;
	for (i = 0; i < d->nitems; i++) {
		struct drain_item *it = &d->items[i];

		if (it->state != ITEM_PLANNED)
			continue;
		if (d->cancel) {
			it->state = ITEM_CANCELLED;
			continue;
		}
	}
	/* Start in plan order while the limits allow. */
	for (uint32_t ord = 1; ord <= d->nitems && !d->cancel; ord++) {
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
		/* drain_start_item may have ended the drain. */
		return;
	}
	for (i = 0; i < d->nitems; i++)
		if (d->items[i].state == ITEM_PLANNED ||
		    d->items[i].state == ITEM_MIGRATING)
			active++;
	/* A migration heading here would leave a VM behind: wait for it
	 * (new ones are refused while the drain runs), then look again. */
	if (active == 0 && !d->cancel && !d->restore &&
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
		for (i = 0; i < d->nitems; i++)
			if (d->items[i].job_id == j->id &&
			    d->items[i].state == ITEM_MIGRATING)
				drain_item_done(d, &d->items[i], j, s);
}

static void
drain_item_done(struct drain *d, struct drain_item *it, const struct job *j,
    enum job_state s)
{
	if (s == JOB_SUCCEEDED) {
		it->state = ITEM_MOVED;
		it->percent = 100;
	} else {
		snprintf(it->reason, sizeof(it->reason), "%s: %s",
		    job_state_name(s), j->error);
		/* Retry elsewhere, unless the VM is not on the source any more
		 * or nothing else can take it; it is never stopped. */
		if (s == JOB_FAILED || d->cancel || d->no_retry ||
		    it->attempts >= DRAIN_ATTEMPTS ||
		    drain_replan_item(d, it) < 0)
			it->state = d->cancel ? ITEM_CANCELLED : ITEM_FAILED;
		else {
			log_ctx_info(&(struct log_ctx){ .drain = d->id,
			    .vm = it->vm, .host = d->host }, "retrying on %s (%s)",
			    it->dest, it->reason);
			it->state = ITEM_PLANNED;
		}
	}
	drain_journal(d, "item");
	drain_emit(d, "item", NULL);
	/* Start the next from the loop, not from inside job_finish. */
	d->co->drain_kick = 1;
}

void
drain_job_progress(struct coord *co, const struct job *j, double pct)
{
	struct drain *d;
	size_t i;

	TAILQ_FOREACH(d, &co->drains, entry)
		for (i = 0; i < d->nitems; i++)
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

	co->drain_kick = 0;
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
	char *params;
	int n;

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
	pl = NULL;
	pv = NULL;
	map = NULL;

	if (d->dry_run) {
		snprintf(d->state, sizeof(d->state), "planning");
		snprintf(msg, sizeof(msg), "dry run: %zu of %zu VMs can move",
		    d->nitems - unmovable, d->nitems);
		drain_reply(d, msg);
		TAILQ_REMOVE(&co->drains, d, entry);
		drain_free(d);
		return;
	}
	if (unmovable > 0 && !d->force && !d->resumed && d->rounds == 0) {
		snprintf(d->state, sizeof(d->state), "refused");
		snprintf(msg, sizeof(msg), "%zu VM%s cannot move (see reasons); "
		    "nothing was started; --force moves the others", unmovable,
		    unmovable == 1 ? "" : "s");
		drain_reply(d, msg);
		TAILQ_REMOVE(&co->drains, d, entry);
		drain_free(d);
		return;
	}
	/* Recorded, and the host marked, before any migration starts. */
	snprintf(d->state, sizeof(d->state), "draining");
	if (d->id == 0) {
		struct store_job sj;

		memset(&sj, 0, sizeof(sj));
		snprintf(sj.kind, sizeof(sj.kind), "%s", d->restore ? "restore" :
		    "drain");
		snprintf(sj.vm, sizeof(sj.vm), "%s", d->host);
		snprintf(sj.source, sizeof(sj.source), "%s", d->restore ? "" :
		    d->host);
		snprintf(sj.destination, sizeof(sj.destination), "%s",
		    d->restore ? d->host : "");
		snprintf(sj.state, sizeof(sj.state), "draining");
		sj.params = params = drain_json(d);
		if (store_job_create(co->store, &sj, clock_wall_ms()) < 0) {
			snprintf(msg, sizeof(msg), "cannot record the drain: %s",
			    store_error(co->store));
			free(params);
			snprintf(d->state, sizeof(d->state), "refused");
			drain_reply(d, msg);
			TAILQ_REMOVE(&co->drains, d, entry);
			drain_free(d);
			return;
		}
		free(params);
		d->id = sj.id;
	} else
		drain_journal(d, "plan");
	if (!d->restore)
		drain_set_admin(co, d->host, "draining");
	snprintf(msg, sizeof(msg), "drain %lld: %zu VMs to move, %zu unmovable",
	    (long long)d->id, d->nitems - unmovable, unmovable);
	log_drain_info(d->id, d->host, "%s", msg);
	drain_reply(d, msg);
	drain_emit(d, "plan", msg);
	d->co->drain_kick = 1;
	return;
oom:
	placement_free(pl);
	free(pv);
	free(map);
	snprintf(d->state, sizeof(d->state), "refused");
	drain_reply(d, "out of memory");
	TAILQ_REMOVE(&co->drains, d, entry);
	drain_free(d);
}

/* Every pre-check and CPU comparison is in: plan. */
static void
drain_checks_done(struct drain *d)
{
	size_t i;

	if (d->calls > 0)
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
		for (i = 0; i < d->nitems; i++)
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
		if (r->n_nonces) {
			peer_storage_cleanup(h, r->nonces, r->n_nonces,
			    DRAIN_CHECK_TIMEOUT_MS);
		}
		ferry__source_check_reply__free_unpacked(r, NULL);
	} else
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
		if (peer_call(h, MSG_PRECHECK_SOURCE, &req.base,
		    DRAIN_CHECK_TIMEOUT_MS, drain_check_cb, d) == 0)
			d->calls++;
	}
	if (d->calls == 0)
		drain_plan(d);
	return 0;
}

static struct drain *
drain_new(struct coord *co, const char *host)
{
	struct drain *d;

	if ((d = calloc(1, sizeof(*d))) == NULL)
		return NULL;
	d->co = co;
	snprintf(d->host, sizeof(d->host), "%s", host);
	snprintf(d->state, sizeof(d->state), "planning");
	d->max_parallel = DRAIN_MAX_PARALLEL;
	d->per_dest = co->conf.per_destination ? co->conf.per_destination :
	    DRAIN_PER_DEST;
	snprintf(d->kind, sizeof(d->kind), "drain");
	TAILQ_INIT(&d->watchers);
	return d;
}

/*
 * Runs a list of moves with fixed destinations (a rebalancing plan) through
 * the same executor as a drain: its parallel and per-destination limits, its
 * journal and its events. A refused move is reported, not re-planned: the
 * plan was chosen as a whole. *id gets the run's job id.
 */
int
drain_start_moves(struct coord *co, const char *kind, const char *label,
    const struct drain_move *moves, size_t n, uint32_t max_parallel,
    struct ctl_client *c, uint32_t serial, int64_t *id, char *err,
    size_t errlen)
{
	struct store_job sj;
	struct drain *d;
	char *params;
	size_t i;

	*id = 0;
	if (drain_find_host(co, label) != NULL) {
		snprintf(err, errlen, "a %s is already running", kind);
		return -1;
	}
	if ((d = drain_new(co, label)) == NULL ||
	    (n && (d->items = calloc(n, sizeof(*d->items))) == NULL)) {
		drain_free(d);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	d->restore = 1;
	d->no_retry = 1;
	snprintf(d->kind, sizeof(d->kind), "%s", kind);
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
	memset(&sj, 0, sizeof(sj));
	snprintf(sj.kind, sizeof(sj.kind), "%s", kind);
	snprintf(sj.vm, sizeof(sj.vm), "%s", label);
	snprintf(sj.state, sizeof(sj.state), "draining");
	sj.params = params = drain_json(d);
	if (store_job_create(co->store, &sj, clock_wall_ms()) < 0) {
		snprintf(err, errlen, "%s", store_error(co->store));
		free(params);
		drain_free(d);
		return -1;
	}
	free(params);
	d->id = sj.id;
	*id = d->id;
	snprintf(d->state, sizeof(d->state), "draining");
	TAILQ_INSERT_TAIL(&co->drains, d, entry);
	if (c != NULL && job_watch_list_add(&d->watchers, c, serial) < 0)
		log_drain_warnx(d->id, d->host, "%s: cannot add a watcher",
		    kind);
	log_drain_info(d->id, d->host, "%s: %zu moves", kind, n);
	drain_emit(d, "plan", NULL);
	co->drain_kick = 1;
	return 0;
}

/* Adds a watcher to the run with this id (events on serial). */
void
drain_watch(struct coord *co, int64_t id, struct ctl_client *c,
    uint32_t serial)
{
	struct drain *d;

	TAILQ_FOREACH(d, &co->drains, entry)
		if (d->id == id) {
			if (job_watch_list_add(&d->watchers, c, serial) < 0)
				log_drain_warnx(id, d->host,
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
		if (strcmp(d->kind, kind) == 0)
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
	if ((d = drain_new(co, req->host)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (req->has_max_parallel && req->max_parallel > 0)
		d->max_parallel = req->max_parallel;
	d->dry_run = req->has_dry_run && req->dry_run;
	d->force = req->has_force && req->force;
	control_client_ref(c);
	d->reply_client = c;
	d->reply_serial = serial;
	d->reply_type = type;
	d->reply_wait = req->has_wait && req->wait;
	TAILQ_INSERT_TAIL(&co->drains, d, entry);
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

	if (h == NULL) {
		snprintf(err, errlen, "unknown host '%s'", host);
		return -1;
	}
	if (d == NULL && strcmp(h->admin_state, "draining") == 0) {
		/* A drain that ended incomplete left the host draining: the
		 * way back is the same command. */
		drain_set_admin(co, host, "active");
		if (c != NULL && (d = drain_new(co, host)) != NULL) {
			snprintf(d->state, sizeof(d->state), "cancelled");
			snprintf(msg, sizeof(msg), "no drain was running; host %s",
			    coord_host_state(h));
			if (drain_view(d, &dv, msg) == 0) {
				(void)control_reply(c, type, serial,
				    &dv.info.base);
				drain_view_clear(&dv);
			}
			drain_free(d);
		}
		return 0;
	}
	if (d == NULL) {
		snprintf(err, errlen, "host %s is not being drained (it is %s%s)",
		    host, coord_host_state(h), strcmp(h->admin_state,
		    "maintenance") == 0 ? "; maintenance exit brings it back" :
		    "");
		return -1;
	}
	d->cancel = 1;
	if (!d->restore)
		drain_set_admin(co, host, "active");
	snprintf(msg, sizeof(msg), "drain cancelled; %zu migration%s finishing; "
	    "host %s", drain_running(d, NULL), drain_running(d, NULL) == 1 ? "" :
	    "s", coord_host_state(h));
	log_drain_info(d->id, host, "%s", msg);
	drain_journal(d, "cancel");
	drain_emit(d, "item", msg);
	if (c != NULL && drain_view(d, &dv, msg) == 0) {
		dv.info.state = "cancelled";
		(void)control_reply(c, type, serial, &dv.info.base);
		drain_view_clear(&dv);
	}
	co->drain_kick = 1;
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

/* Back to up; with restore, bring back the VMs the last drain moved. */
int
drain_exit(struct coord *co, const Ferry__MaintenanceRequest *req,
    struct ctl_client *c, uint16_t type, uint32_t serial, char *err,
    size_t errlen)
{
	struct host *h = coord_host_find(co, req->host);
	struct store_job *jobs = NULL;
	struct drain *d;
	int64_t last = 0;
	size_t n = 0, i, k;
	struct drain_view dv;
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
	if ((d = drain_new(co, req->host)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	d->restore = 1;
	if (!(req->has_restore && req->restore)) {
		snprintf(d->state, sizeof(d->state), "completed");
		snprintf(msg, sizeof(msg), "host %s is %s", req->host,
		    coord_host_state(h));
		if (c != NULL && drain_view(d, &dv, msg) == 0) {
			(void)control_reply(c, type, serial, &dv.info.base);
			drain_view_clear(&dv);
		}
		drain_free(d);
		return 0;
	}
	/* The VMs the last drain of this host moved and that still run. */
	if (store_jobs_list(co->store, 0, 0, &jobs, &n) < 0) {
		snprintf(err, errlen, "%s", store_error(co->store));
		drain_free(d);
		return -1;
	}
	for (i = 0; i < n; i++)
		if (strcmp(jobs[i].kind, "drain") == 0 &&
		    strcmp(jobs[i].vm, req->host) == 0 && jobs[i].id > last)
			last = jobs[i].id;
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
	control_client_ref(c);
	d->reply_client = c;
	d->reply_serial = serial;
	d->reply_type = type;
	d->reply_wait = req->has_wait && req->wait;
	d->force = 1;
	TAILQ_INSERT_TAIL(&co->drains, d, entry);
	if (d->nitems == 0) {
		snprintf(d->state, sizeof(d->state), "completed");
		drain_reply(d, "host up; nothing to restore");
		TAILQ_REMOVE(&co->drains, d, entry);
		drain_free(d);
		return 0;
	}
	d->max_parallel = req->has_max_parallel && req->max_parallel ?
	    req->max_parallel : DRAIN_MAX_PARALLEL;
	/* A restore is a plan with fixed destinations: record and run it. */
	{
		struct store_job sj;
		char *params;

		memset(&sj, 0, sizeof(sj));
		snprintf(sj.kind, sizeof(sj.kind), "restore");
		snprintf(sj.vm, sizeof(sj.vm), "%s", d->host);
		snprintf(sj.destination, sizeof(sj.destination), "%s", d->host);
		snprintf(sj.state, sizeof(sj.state), "draining");
		sj.params = params = drain_json(d);
		if (store_job_create(co->store, &sj, clock_wall_ms()) < 0) {
			snprintf(err, errlen, "%s", store_error(co->store));
			free(params);
			TAILQ_REMOVE(&co->drains, d, entry);
			drain_free(d);
			return -1;
		}
		free(params);
		d->id = sj.id;
	}
	snprintf(d->state, sizeof(d->state), "draining");
	snprintf(msg, sizeof(msg), "restore %lld: %zu VMs return to %s",
	    (long long)d->id, d->nitems, d->host);
	drain_reply(d, msg);
	drain_emit(d, "plan", msg);
	co->drain_kick = 1;
	return 0;
}

/* After a restart: a drain the journal says was under way is planned again
 * from what its host still runs, once that host is back. */
int
drain_recover(struct coord *co, char *err, size_t errlen)
{
	struct store_job *jobs = NULL;
	struct drain *d;
	size_t n = 0, i;

	if (store_jobs_list(co->store, 1, 0, &jobs, &n) < 0) {
		snprintf(err, errlen, "%s", store_error(co->store));
		return -1;
	}
	for (i = 0; i < n; i++) {
		if (strcmp(jobs[i].kind, "drain") != 0 &&
		    strcmp(jobs[i].kind, "restore") != 0 &&
		    strcmp(jobs[i].kind, "rebalance") != 0)
			continue;
		if (strcmp(jobs[i].kind, "drain") != 0) {
			/* Its migrations are recovered on their own. */
			(void)store_job_finish(co->store, jobs[i].id, "incomplete",
			    "the coordinator restarted during the run; its "
			    "migrations were recovered on their own", NULL,
			    clock_wall_ms());
			continue;
		}
		if ((d = drain_new(co, jobs[i].vm)) == NULL)
			continue;
		d->id = jobs[i].id;
		d->resumed = 1;
		d->force = 1;
		log_drain_info(d->id, d->host, "resuming after a restart");
		(void)store_job_event(co->store, d->id, "info", "coordinator "
		    "restarted; planning again from what the host runs",
		    clock_wall_ms());
		TAILQ_INSERT_TAIL(&co->drains, d, entry);
	}
	store_job_list_free(jobs, n);
	return 0;
}

/* A resumed drain plans once its host is up. */
void
drain_host_up(struct host *h)
{
	struct drain *d = drain_find_host(h->co, h->conf.name);
	char err[256];

	if (d == NULL || !d->resumed || d->nitems || d->calls)
		return;
	if (drain_start_planning(d, err, sizeof(err)) < 0)
		log_drain_warnx(d->id, d->host, "%s", err);
}
