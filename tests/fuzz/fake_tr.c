/* fake_tr.c: an in-process loopback stand-in for common/transport_*.c, for
 * the fuzzers. The real transport needs SSH keys and a thread per
 * connection; this one links a coordinator's client to the hostd server
 * listening on the same port number in this process, and lets a harness
 * open server sessions of its own (fake_tr_accept) and inject raw bytes
 * into any connection (fake_tr_inject). Same contract as transport.h:
 * callbacks run on the loop thread, never from inside tr_conn_send or
 * tr_conn_kick; a server conn is freed after its on_down. */
#include <sys/queue.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fake_tr.h"
#include "transport.h"

struct chunk {
	STAILQ_ENTRY(chunk)	 entry;
	uint8_t			*buf;
	size_t			 len;
};
STAILQ_HEAD(chunk_list, chunk);

struct tr_conn {
	LIST_ENTRY(tr_conn)	 entry;		/* fake_conns */
	uv_loop_t		*loop;
	struct tr_callbacks	 cbs;
	void			*arg;
	void			*data;
	struct tr_server	*srv;		/* server side; NULL: client */
	struct tr_conn		*peer;		/* NULL: sends go nowhere */
	int			 port;
	int			 backoff_ms;
	int			 up;
	int			 down_pending;	/* on_down queued */
	int			 closed;	/* tr_conn_close, or freed soon */
	int			 nhandles;	/* open uv handles */
	char			 reason[128];
	char			 name[64];
	pthread_mutex_t		 mtx;
	struct chunk_list	 inbox;
	struct frame_reader	 rd;
	uv_async_t		 async;
	uv_timer_t		 timer;
};
LIST_HEAD(conn_list, tr_conn);

struct tr_server {
	LIST_ENTRY(tr_server)	 entry;
	uv_loop_t		*loop;
	struct tr_callbacks	 cbs;
	void			*arg;
	int			 port;
	uint32_t		 max_payload;
	int			 stopped;
	int			 nconns;
};
LIST_HEAD(server_list, tr_server);

static struct server_list fake_servers = LIST_HEAD_INITIALIZER(fake_servers);
static struct conn_list fake_conns = LIST_HEAD_INITIALIZER(fake_conns);
static uint64_t fake_nsent;

static void	fake_conn_async_cb(uv_async_t *);

static void
fake_inbox_clear(struct tr_conn *c)
{
	struct chunk *k;

	pthread_mutex_lock(&c->mtx);
	while ((k = STAILQ_FIRST(&c->inbox)) != NULL) {
		STAILQ_REMOVE_HEAD(&c->inbox, entry);
		free(k->buf);
		free(k);
	}
	pthread_mutex_unlock(&c->mtx);
	frame_reader_reset(&c->rd);
}

static void
fake_handle_closed(uv_handle_t *h)
{
	struct tr_conn *c = h->data;
	struct tr_server *s = c->srv;

	if (--c->nhandles > 0)
		return;
	fake_inbox_clear(c);
	pthread_mutex_destroy(&c->mtx);
	LIST_REMOVE(c, entry);
	free(c);
	if (s != NULL && --s->nconns == 0 && s->stopped)
		free(s);
}

static void
fake_conn_free(struct tr_conn *c)
{
	c->closed = 1;
	c->up = 0;
	uv_close((uv_handle_t *)&c->async, fake_handle_closed);
	if (c->srv == NULL)
		uv_close((uv_handle_t *)&c->timer, fake_handle_closed);
}

static struct tr_conn *
fake_conn_new(uv_loop_t *loop, const struct tr_callbacks *cbs, void *arg,
    struct tr_server *srv, int port, uint32_t max_payload)
{
	struct tr_conn *c;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	c->loop = loop;
	c->cbs = *cbs;
	c->arg = arg;
	c->srv = srv;
	c->port = port;
	pthread_mutex_init(&c->mtx, NULL);
	STAILQ_INIT(&c->inbox);
	frame_reader_init(&c->rd, max_payload);
	snprintf(c->name, sizeof(c->name), "fake:%d%s", port,
	    srv ? "/srv" : "");
	uv_async_init(loop, &c->async, fake_conn_async_cb);
	c->async.data = c;
	c->nhandles = 1;
	if (srv == NULL) {
		uv_timer_init(loop, &c->timer);
		c->timer.data = c;
		c->nhandles++;
	} else
		srv->nconns++;
	LIST_INSERT_HEAD(&fake_conns, c, entry);
	return c;
}

/* Ends the session on this side: on_down is delivered from the loop. */
static void
fake_conn_down(struct tr_conn *c, const char *reason)
{
	if (!c->up || c->down_pending)
		return;
	c->up = 0;
	c->down_pending = 1;
	snprintf(c->reason, sizeof(c->reason), "%s", reason);
	uv_async_send(&c->async);
}

static void
fake_unlink(struct tr_conn *c, const char *reason)
{
	struct tr_conn *p = c->peer;

	c->peer = NULL;
	if (p != NULL) {
		p->peer = NULL;
		fake_conn_down(p, reason);
	}
	fake_conn_down(c, reason);
}

static void
fake_connect_cb(uv_timer_t *t)
{
	struct tr_conn *c = t->data, *sc;
	struct tr_server *s;

	if (c->closed || c->up || c->down_pending)
		return;
	LIST_FOREACH(s, &fake_servers, entry)
		if (s->port == c->port && !s->stopped)
			break;
	if (s == NULL || (sc = fake_conn_new(s->loop, &s->cbs, s->arg, s,
	    s->port, s->max_payload)) == NULL) {
		/* An attempt failed: on_down without on_up, then retry. */
		c->cbs.on_down(c, "connection refused", c->arg);
		if (!c->closed)
			uv_timer_start(&c->timer, fake_connect_cb,
			    c->backoff_ms, 0);
		return;
	}
	c->peer = sc;
	sc->peer = c;
	c->up = sc->up = 1;
	s->cbs.on_up(sc, s->arg);
	if (c->up && !c->closed)
		c->cbs.on_up(c, c->arg);
}

/* Delivers queued bytes as frames, then a pending on_down. */
static void
fake_conn_async_cb(uv_async_t *a)
{
	struct tr_conn *c = a->data;
	struct chunk *k;
	struct frame *f;
	size_t off, used;
	int rc;

	for (;;) {
		pthread_mutex_lock(&c->mtx);
		if ((k = STAILQ_FIRST(&c->inbox)) != NULL)
			STAILQ_REMOVE_HEAD(&c->inbox, entry);
		pthread_mutex_unlock(&c->mtx);
		if (k == NULL)
			break;
		for (off = 0; off < k->len && c->up && !c->closed;
		    off += used) {
			rc = frame_reader_feed(&c->rd, k->buf + off,
			    k->len - off, &used, &f);
			if (rc < 0) {
				fake_unlink(c, frame_strerror(rc));
				break;
			}
			if (rc == 1)
				c->cbs.on_frame(c, f, c->arg);
		}
		free(k->buf);
		free(k);
	}
	if (!c->down_pending || c->closed)
		return;
	c->down_pending = 0;
	fake_inbox_clear(c);
	c->cbs.on_down(c, c->reason, c->arg);
	if (c->srv != NULL)
		fake_conn_free(c);
	else if (!c->closed)
		uv_timer_start(&c->timer, fake_connect_cb, c->backoff_ms, 0);
}

static int
fake_push(struct tr_conn *c, uint8_t *buf, size_t len)
{
	struct chunk *k;

	if ((k = calloc(1, sizeof(*k))) == NULL) {
		free(buf);
		return -1;
	}
	k->buf = buf;
	k->len = len;
	pthread_mutex_lock(&c->mtx);
	STAILQ_INSERT_TAIL(&c->inbox, k, entry);
	pthread_mutex_unlock(&c->mtx);
	uv_async_send(&c->async);
	return 0;
}

struct tr_server *
tr_server_start(uv_loop_t *loop, const struct tr_server_config *sc,
    const struct tr_callbacks *cbs, void *arg, char *err, size_t errlen)
{
	struct tr_server *s;

	if ((s = calloc(1, sizeof(*s))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	s->loop = loop;
	s->cbs = *cbs;
	s->arg = arg;
	s->port = sc->port;
	s->max_payload = sc->max_payload;
	LIST_INSERT_HEAD(&fake_servers, s, entry);
	return s;
}

void
tr_server_stop(struct tr_server *s)
{
	struct tr_conn *c;

	if (s == NULL)
		return;
	s->stopped = 1;
	LIST_REMOVE(s, entry);
	LIST_FOREACH(c, &fake_conns, entry)
		if (c->srv == s)
			fake_unlink(c, "server stopping");
	if (s->nconns == 0)
		free(s);
}

struct tr_conn *
tr_client_start(uv_loop_t *loop, const struct tr_client_config *cc,
    const struct tr_callbacks *cbs, void *arg)
{
	struct tr_conn *c;

	if ((c = fake_conn_new(loop, cbs, arg, NULL, cc->port,
	    cc->max_payload)) == NULL)
		return NULL;
	c->backoff_ms = cc->backoff_min_ms > 0 ? cc->backoff_min_ms : 10;
	uv_timer_start(&c->timer, fake_connect_cb, 0, 0);
	return c;
}

int
tr_conn_send(struct tr_conn *c, uint8_t *buf, size_t len)
{
	if (c == NULL || !c->up || c->closed) {
		free(buf);
		return -1;
	}
	fake_nsent++;
	if (c->peer == NULL) {
		free(buf);	/* a harness session: to nowhere */
		return 0;
	}
	return fake_push(c->peer, buf, len);
}

void
tr_conn_kick(struct tr_conn *c, const char *reason)
{
	if (c != NULL && !c->closed)
		fake_unlink(c, reason);
}

void
tr_conn_close(struct tr_conn *c)
{
	if (c == NULL)
		return;
	if (c->peer != NULL)
		fake_unlink(c, "closed");
	c->down_pending = 0;
	fake_conn_free(c);
}

int
tr_conn_is_up(const struct tr_conn *c)
{
	return c != NULL && c->up;
}

const char *
tr_conn_peer(const struct tr_conn *c)
{
	return c != NULL ? c->name : "fake:?";
}

void *
tr_conn_get_data(const struct tr_conn *c)
{
	return c->data;
}

void
tr_conn_set_data(struct tr_conn *c, void *data)
{
	c->data = data;
}

/* ---- for harnesses ---------------------------------------------------- */

struct tr_conn *
fake_tr_accept(struct tr_server *s)
{
	struct tr_conn *c;

	if (s == NULL || s->stopped || (c = fake_conn_new(s->loop, &s->cbs,
	    s->arg, s, s->port, s->max_payload)) == NULL)
		return NULL;
	c->up = 1;
	s->cbs.on_up(c, s->arg);
	return c;
}

int
fake_tr_inject(struct tr_conn *c, const uint8_t *p, size_t len)
{
	uint8_t *buf;

	if (c == NULL || !c->up || c->closed || len == 0)
		return -1;
	if ((buf = malloc(len)) == NULL)
		return -1;
	memcpy(buf, p, len);
	return fake_push(c, buf, len);
}

/* True while bytes or an on_down wait to be delivered. */
int
fake_tr_busy(void)
{
	struct tr_conn *c;
	int busy = 0;

	LIST_FOREACH(c, &fake_conns, entry) {
		if (c->closed)
			continue;
		pthread_mutex_lock(&c->mtx);
		if (!STAILQ_EMPTY(&c->inbox) || c->down_pending)
			busy = 1;
		pthread_mutex_unlock(&c->mtx);
		if (busy)
			break;
	}
	return busy;
}

uint64_t
fake_tr_nsent(void)
{
	return fake_nsent;
}
