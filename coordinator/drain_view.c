/* drain_view.c: what ferryctl sees of a drain, and its journal (the
 * machine is in drain.c). */
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
#include "http.h"

static const char *item_state_names[] = {
	"planned", "unmovable", "migrating", "moved", "failed", "cancelled",
};

/* ---- what ferryctl sees ------------------------------------------------- */

int
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

void
drain_view_clear(struct drain_view *dv)
{
	free(dv->items);
	free(dv->v);
}

void
drain_emit(struct drain *d, const char *event, const char *msg)
{
	Ferry__DrainEvent ev = FERRY__DRAIN_EVENT__INIT;
	struct job_watcher *w;
	struct drain_view dv;

	if ((TAILQ_EMPTY(&d->watchers) && d->co->http == NULL) ||
	    drain_view(d, &dv, msg) < 0)
		return;
	ev.event = (char *)event;
	ev.drain = &dv.info;
	TAILQ_FOREACH(w, &d->watchers, entry)
		(void)control_event(w->client, MSG_CTL_DRAIN_EVENT, w->serial,
		    &ev.base);
	if (d->co->http != NULL)
		http_events_drain(d->co, event, &dv.info);
	drain_view_clear(&dv);
	d->last_emit_ms = clock_mono_ms();
}

void
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
void
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

/* What the metrics show of each run in flight: its kind, host, state and
 * how many of its VMs are in each item state (n_items of them). */
size_t
drain_stats(struct coord *co, struct drain_stat *out, size_t max)
{
	struct drain *d;
	size_t n = 0, i;

	TAILQ_FOREACH(d, &co->drains, entry) {
		struct drain_stat *st;

		if (n == max)
			break;
		st = &out[n++];
		memset(st, 0, sizeof(*st));
		st->id = d->id;
		st->kind = drain_kinds[d->kind].name;
		st->host = d->host;
		st->state = drain_states[d->state].shown;
		for (i = 0; i < d->nitems; i++)
			if ((size_t)d->items[i].state < DRAIN_STAT_ITEM_STATES)
				st->items[d->items[i].state]++;
	}
	return n;
}

const char *
drain_item_state_name(size_t i)
{
	return i < DRAIN_STAT_ITEM_STATES ? item_state_names[i] : "unknown";
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
	if (d->operator_max)
		json_object_object_add(o, "operator_max",
		    json_object_new_int(d->operator_max));
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
void
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
int
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
