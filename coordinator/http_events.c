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
#include "log.h"

struct http_event {
	int64_t	 id;
	char	*text;	/* the whole SSE record */
};

struct http_events {
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
	size_t i;

	if (ev == NULL)
		return;
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
		if (pthread_cond_timedwait(&ev->cv, &ev->mu, &ts) == ETIMEDOUT)
			break;
	}
	pthread_mutex_unlock(&ev->mu);
	return rc;
}
