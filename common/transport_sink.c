/* transport_sink.c: connection threads -> loop thread: the event
 * lists behind a uv_async_t, with their limits, and their dispatch to the
 * user's callbacks on the loop thread.
 */
#include <sys/types.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "transport_int.h"

int
tr_sink_init(uv_loop_t *loop, struct tr_sink *s, uv_async_cb cb, void *data)
{
	if (pthread_mutex_init(&s->mu, NULL) != 0)
		return -1;
	s->head = NULL;
	s->tail = &s->head;
	s->bytes = 0;
	s->frames = 0;
	if (uv_async_init(loop, &s->async, cb) != 0) {
		pthread_mutex_destroy(&s->mu);
		return -1;
	}
	s->async.data = data;
	return 0;
}

/* Takes f. Allocation failure is fatal: an event lost would leave the
 * loop's view of the connection wrong for good. */
void
tr_sink_push(struct tr_conn *c, enum tr_ev_kind kind, struct frame *f,
    const char *reason)
{
	struct tr_sink *s = c->sink;
	size_t rl = reason ? strlen(reason) + 1 : 1;
	struct tr_ev *ev;

	if ((ev = malloc(sizeof(*ev) + rl)) == NULL)
		fatal("%s", __func__);
	ev->next = NULL;
	ev->conn = c;
	ev->kind = kind;
	ev->frame = f;
	memcpy(ev->reason, reason ? reason : "", rl);
	pthread_mutex_lock(&s->mu);
	*s->tail = ev;
	s->tail = &ev->next;
	if (f != NULL) {
		s->bytes += f->hdr.len;
		s->frames++;
	}
	pthread_mutex_unlock(&s->mu);
	uv_async_send(&s->async);
}

/* The loop is behind: in bytes, or in frames (a flood of empty frames
 * costs an event and a callback each). */
int
tr_sink_full(struct tr_sink *s)
{
	int full;

	pthread_mutex_lock(&s->mu);
	full = s->bytes > TR_INQ_MAX || s->frames > TR_INQ_MAX_FRAMES;
	pthread_mutex_unlock(&s->mu);
	return full;
}

struct tr_ev *
tr_sink_take(struct tr_sink *s)
{
	struct tr_ev *list;

	pthread_mutex_lock(&s->mu);
	list = s->head;
	s->head = NULL;
	s->tail = &s->head;
	s->bytes = 0;
	s->frames = 0;
	pthread_mutex_unlock(&s->mu);
	return list;
}

/* At most max events, oldest first; *more says whether some are left. */
static struct tr_ev *
tr_sink_take_some(struct tr_sink *s, int max, int *more)
{
	struct tr_ev *list, *ev, *last = NULL;
	int n = 0;

	pthread_mutex_lock(&s->mu);
	list = s->head;
	for (ev = list; ev != NULL && n < max; ev = ev->next, n++) {
		if (ev->frame != NULL) {
			s->bytes -= ev->frame->hdr.len;
			s->frames--;
		}
		last = ev;
	}
	if (last != NULL) {
		s->head = last->next;
		last->next = NULL;
		if (s->head == NULL)
			s->tail = &s->head;
	}
	*more = s->head != NULL;
	pthread_mutex_unlock(&s->mu);
	return last != NULL ? list : NULL;
}

void
tr_ev_free_list(struct tr_ev *ev)
{
	struct tr_ev *next;

	for (; ev != NULL; ev = next) {
		next = ev->next;
		frame_free(ev->frame);
		free(ev);
	}
}

/* Its async handle closed: what is still queued goes with it. */
void
tr_sink_destroy(struct tr_sink *s)
{
	tr_ev_free_list(s->head);
	pthread_mutex_destroy(&s->mu);
}

void
tr_conn_free_cb(uv_handle_t *h)
{
	struct tr_conn *c = h->data;

	tr_sink_destroy(&c->own_sink);
	tr_conn_free(c);
}

size_t
tr_server_inq_frames(struct tr_server *srv)
{
	size_t n;

	pthread_mutex_lock(&srv->sink.mu);
	n = srv->sink.frames;
	pthread_mutex_unlock(&srv->sink.mu);
	return n;
}

/* Loop thread: deliver what the connection threads queued, a batch at a
 * time: the rest waits for the next turn, so a burst from one peer does
 * not keep the loop from every other handle (the control socket). */
static void
tr_dispatch(struct tr_sink *sink, struct tr_server *srv)
{
	struct tr_ev *list, *ev;
	struct tr_conn *c;
	const struct tr_callbacks *cb;
	void *arg;
	int more;

	list = tr_sink_take_some(sink, TR_DISPATCH_BATCH, &more);
	if (more)
		uv_async_send(&sink->async);
	while ((ev = list) != NULL) {
		list = ev->next;
		c = ev->conn;
		/* A callback may have stopped the server: conns are gone. */
		if (srv != NULL && srv->stopped) {
			frame_free(ev->frame);
			free(ev);
			continue;
		}
		cb = srv ? &srv->cb : &c->cb;
		arg = srv ? srv->arg : c->arg;
		switch (ev->kind) {
		case TR_EV_UP:
			if (!c->closed) {
				c->shown_up = 1;
				if (cb->on_up)
					cb->on_up(c, arg);
			}
			break;
		case TR_EV_FRAME:
			if (!c->closed && c->shown_up && cb->on_frame) {
				cb->on_frame(c, ev->frame, arg);
				ev->frame = NULL;
			}
			break;
		case TR_EV_DOWN:
			/* A client hears of every failed attempt; a server
			 * only of sessions it was told about. */
			if (!c->closed && (srv == NULL || c->shown_up)) {
				c->shown_up = 0;
				if (cb->on_down)
					cb->on_down(c, ev->reason, arg);
			}
			c->shown_up = 0;
			break;
		case TR_EV_EXIT:
			pthread_join(c->thread, NULL);
			c->joined = 1;
			if (srv != NULL) {
				tr_server_unlink(srv, c);
				tr_conn_free(c);
			} else
				uv_close((uv_handle_t *)&c->own_sink.async,
				    tr_conn_free_cb);
			break;
		}
		frame_free(ev->frame);
		free(ev);
	}
}

void
tr_server_async_cb(uv_async_t *a)
{
	tr_dispatch(&((struct tr_server *)a->data)->sink, a->data);
}

void
tr_client_async_cb(uv_async_t *a)
{
	struct tr_conn *c = a->data;

	tr_dispatch(&c->own_sink, NULL);
}
