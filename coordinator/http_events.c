/*
 * http_events.c: the recent job and drain events behind GET /v1/events, a
 * bounded ring with increasing ids. The loop pushes (rendered once, as
 * ferryctl --json prints them); each stream's HTTP thread waits on the
 * ring's condition variable. A client that resumes with Last-Event-ID
 * gets what came after it, or, when that fell out of the ring, everything
 * the ring still has after a "reset" event saying some were lost.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "coordinator.h"
#include "http.h"
#include "jsonv.h"
#include "log.h"

struct http_event {
	int64_t	 id;
	char	*text;	/* the whole SSE record */
};

/* The last view of a drain the stream told (loop only): its next "item"
 * events are the items that changed since, as ferryctl shows them. */
struct http_drain_seen {
	struct http_drain_seen	*next;
	Ferry__DrainInfo	*d;	/* owned (unpacked copy) */
};

struct http_events {
	struct http_drain_seen *drains;	/* loop only */
	pthread_mutex_t	 mu;
	pthread_cond_t	 cv;
	struct http_event *ring;
	size_t		 cap;
	int64_t		 next_id;	/* the id of the next push (from 1) */
	int		 closed;
};

struct http_events *
http_events_new(size_t cap)
{
	struct http_events *ev;
	pthread_condattr_t ca;

	if (cap == 0 || (ev = calloc(1, sizeof(*ev))) == NULL)
		return NULL;
	if ((ev->ring = calloc(cap, sizeof(*ev->ring))) == NULL) {
		free(ev);
		return NULL;
	}
	ev->cap = cap;
	ev->next_id = 1;
	pthread_mutex_init(&ev->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&ev->cv, &ca);
	pthread_condattr_destroy(&ca);
	return ev;
}

void
http_events_free(struct http_events *ev)
{
	struct http_drain_seen *ds;
	size_t i;

	if (ev == NULL)
		return;
	while ((ds = ev->drains) != NULL) {
		ev->drains = ds->next;
		ferry__drain_info__free_unpacked(ds->d, NULL);
		free(ds);
	}
	for (i = 0; i < ev->cap; i++)
		free(ev->ring[i].text);
	free(ev->ring);
	pthread_cond_destroy(&ev->cv);
	pthread_mutex_destroy(&ev->mu);
	free(ev);
}

void
http_events_close(struct http_events *ev)
{
	if (ev == NULL)
		return;
	pthread_mutex_lock(&ev->mu);
	ev->closed = 1;
	pthread_cond_broadcast(&ev->cv);
	pthread_mutex_unlock(&ev->mu);
}

/* On the loop: kind is the SSE event name ("job", "drain"). */
void
http_events_push(struct coord *co, const char *kind, struct json_object *o)
{
	struct http_events *ev;
	struct http_event *e;
	const char *s;
	char *text;

	if (co->http == NULL || (ev = http_events_of(co->http)) == NULL) {
		json_object_put(o);
		return;
	}
	s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
	    JSON_C_TO_STRING_NOSLASHESCAPE);
	pthread_mutex_lock(&ev->mu);
	/* JSON text has no raw newline: one data line. */
	if (s == NULL || asprintf(&text, "id: %lld\nevent: %s\ndata: %s\n\n",
	    (long long)ev->next_id, kind, s) < 0) {
		pthread_mutex_unlock(&ev->mu);
		json_object_put(o);
		return;
	}
	e = &ev->ring[(size_t)(ev->next_id % (int64_t)ev->cap)];
	free(e->text);
	e->id = ev->next_id++;
	e->text = text;
	pthread_cond_broadcast(&ev->cv);
	pthread_mutex_unlock(&ev->mu);
	json_object_put(o);
}

/* Under ev->mu: the oldest id still kept. */
static int64_t
http_events_oldest(const struct http_events *ev)
{
	int64_t o = ev->next_id - (int64_t)ev->cap;

	return o < 1 ? 1 : o;
}

int64_t
http_events_next(struct http_events *ev, int64_t last, int wait_ms,
    char **out)
{
	struct timespec ts;
	struct http_event *e;
	int64_t id, rc = 0;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += wait_ms / 1000;
	ts.tv_nsec += (long)(wait_ms % 1000) * 1000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	*out = NULL;
	pthread_mutex_lock(&ev->mu);
	if (last < 0)
		last = ev->next_id - 1;		/* from now on */
	for (;;) {
		if (ev->closed) {
			rc = -1;
			break;
		}
		if (last + 1 < ev->next_id) {
			id = last + 1;
			if (id < http_events_oldest(ev)) {
				/* Lost: say so, and go on from the oldest. */
				id = http_events_oldest(ev) - 1;
				if (asprintf(out, "id: %lld\nevent: reset\n"
				    "data: {\"lost_after\":%lld}\n\n",
				    (long long)id, (long long)last) < 0)
					*out = NULL;
				rc = *out ? id : -1;
				break;
			}
			e = &ev->ring[(size_t)(id % (int64_t)ev->cap)];
			*out = strdup(e->text);
			rc = *out ? id : -1;
			break;
		}
		if (pthread_cond_clockwait(&ev->cv, &ev->mu, CLOCK_MONOTONIC,
		    &ts) == ETIMEDOUT)
			break;
	}
	pthread_mutex_unlock(&ev->mu);
	return rc;
}

/* On the loop: a job's event; the "started" object first, and a progress
 * event's new policy message as "info" before it (progress.c's rules). */
void
http_events_job(struct job *j, const Ferry__JobEvent *ev)
{
	Ferry__JobInfo k = FERRY__JOB_INFO__INIT;
	struct coord *co = j->co;

	k.id = (uint64_t)j->id;
	k.kind = "migrate";
	k.vm = j->vm;
	k.state = (char *)job_state_name(j->state);
	k.source = j->source[0] ? j->source : NULL;
	k.destination = j->destination[0] ? j->destination : NULL;
	if (!j->api_started) {
		j->api_started = 1;
		http_events_push(co, "job", jsonv_job_event("started", ev, &k));
		if (strcmp(ev->event, "started") == 0)
			return;
	} else if (strcmp(ev->event, "started") == 0)
		return;
	if (strcmp(ev->event, "progress") == 0 && ev->message != NULL &&
	    ev->message[0] && strcmp(ev->message, j->api_action) != 0) {
		snprintf(j->api_action, sizeof(j->api_action), "%s",
		    ev->message);
		http_events_push(co, "job", jsonv_job_event("info", ev, &k));
	}
	http_events_push(co, "job", jsonv_job_event(NULL, ev, &k));
}

static int
http_events_same(const char *a, const char *b)
{
	return (a == NULL || b == NULL) ? a == b : strcmp(a, b) == 0;
}

/* cmd-maintenance.c's item_changed, for --json (any change is told). */
static int
http_events_item_changed(const Ferry__DrainInfo *old, const Ferry__DrainItem *b)
{
	const Ferry__DrainItem *a = NULL;
	size_t i;

	for (i = 0; old != NULL && i < old->n_items; i++)
		if (http_events_same(old->items[i]->vm, b->vm))
			a = old->items[i];
	if (a == NULL)
		return 1;
	return !http_events_same(a->state, b->state) ||
	    !http_events_same(a->destination, b->destination) ||
	    !http_events_same(a->reason, b->reason) ||
	    a->has_job_id != b->has_job_id || a->job_id != b->job_id ||
	    a->has_attempts != b->has_attempts || a->attempts != b->attempts ||
	    a->has_percent != b->has_percent ||
	    (a->has_percent && a->percent != b->percent);
}

static Ferry__DrainInfo *
http_events_drain_copy(const Ferry__DrainInfo *d)
{
	Ferry__DrainInfo *c;
	uint8_t *buf;
	size_t len = protobuf_c_message_get_packed_size(&d->base);

	if ((buf = malloc(len ? len : 1)) == NULL)
		return NULL;
	protobuf_c_message_pack(&d->base, buf);
	c = ferry__drain_info__unpack(NULL, len, buf);
	free(buf);
	return c;
}

/* On the loop: a drain's (or a rebalance's) event, as ferryctl
 * maintenance --wait --json prints it: "plan" with the drain, an "item"
 * for each VM that changed, "done" with the counts. */
void
http_events_drain(struct coord *co, const char *event,
    const Ferry__DrainInfo *d)
{
	struct http_events *ev;
	struct http_drain_seen **pp, *ds = NULL;
	size_t i;

	if (co->http == NULL || (ev = http_events_of(co->http)) == NULL)
		return;
	for (pp = &ev->drains; *pp != NULL; pp = &(*pp)->next)
		if ((*pp)->d->id == d->id) {
			ds = *pp;
			break;
		}
	if (strcmp(event, "plan") == 0 || strcmp(event, "done") == 0)
		http_events_push(co, "drain", jsonv_drain_event(event, d, NULL));
	else
		for (i = 0; i < d->n_items; i++)
			if (http_events_item_changed(ds ? ds->d : NULL,
			    d->items[i]))
				http_events_push(co, "drain",
				    jsonv_drain_event("item", d, d->items[i]));
	if (strcmp(event, "done") == 0) {
		if (ds != NULL) {
			*pp = ds->next;
			ferry__drain_info__free_unpacked(ds->d, NULL);
			free(ds);
		}
		return;
	}
	if (ds == NULL) {
		if ((ds = calloc(1, sizeof(*ds))) == NULL)
			return;
		ds->next = ev->drains;
		ev->drains = ds;
	} else
		ferry__drain_info__free_unpacked(ds->d, NULL);
	if ((ds->d = http_events_drain_copy(d)) == NULL) {
		/* Out of memory: forget it (the next event tells every item). */
		for (pp = &ev->drains; *pp != NULL; pp = &(*pp)->next)
			if (*pp == ds) {
				*pp = ds->next;
				break;
			}
		free(ds);
	}
}
