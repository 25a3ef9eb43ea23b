/*
 * http.c: the HTTPS server (libmicrohttpd, GnuTLS), one thread per
 * connection. A connection's thread reads the request, checks its size,
 * rate and token, finds its route, then hands it to the libuv loop
 * (queue + uv_async) and waits on the request's condition variable, with
 * a deadline, for the answer. The loop only takes the queue's mutex for a
 * push or a pop and never waits on HTTP; a request the loop did not
 * answer in time gets a 504 and the loop's late answer is dropped.
 *
 * A request is reference-counted: the HTTP thread's reference goes when
 * libmicrohttpd says the request is over, the loop's when it answered (or,
 * for an answer it had deferred, when it learns the request was given up).
 */
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>
#include <uv.h>

#include "conf.h"
#include "coordinator.h"
#include "http.h"
#include "log.h"

#define HTTP_MAXPARAMS	4
#define HTTP_MAXQUERY	16
#define HTTP_MAXTABLES	8
#define HTTP_RATE_SLOTS	256
#define HTTP_PEM_MAX	(64 * 1024)
#define HTTP_SSE_PING_MS 5000	/* at most; see http_sse_ping_ms */
#define HTTP_SWEEP_MS	1000
#define HTTP_DRAIN_MAX	(1024 * 1024)	/* an oversized body read to drop it */

struct http_kv {
	char	*k, *v;
};

struct http_req {
	struct http		*srv;
	TAILQ_ENTRY(http_req)	 qentry;	/* srv->queue (under mu) */
	TAILQ_ENTRY(http_req)	 pentry;	/* srv->pending (loop only) */
	TAILQ_ENTRY(http_req)	 wentry;	/* srv->waiting (under mu) */
	int			 refs;		/* under mu */
	const struct http_route	*route;
	char			 method[8];
	char			*path;
	char			*params[HTTP_MAXPARAMS];
	size_t			 nparams;
	struct http_kv		 query[HTTP_MAXQUERY];
	size_t			 nquery;
	char			*last_event_id;
	char			 token[64];	/* the token's name */
	char			*body;
	size_t			 bodylen;
	int			 too_big;
	int			 sent;		/* a response is queued */
	struct json_object	*json;		/* parsed body; owned */
	/* The answer, under mu. */
	pthread_cond_t		 cv;
	int			 answered;
	int			 abandoned;	/* the HTTP side gave up */
	int			 status;
	char			*rbody;
	size_t			 rlen;
	const char		*ctype;
	/* Or a protobuf reply, rendered on the HTTP thread (rbody: its
	 * packed bytes). */
	const ProtobufCMessageDescriptor *rdesc;
	struct json_object	*(*render)(const ProtobufCMessage *);
	/* Loop side. */
	int			 in_loop;	/* the loop holds a reference */
	int			 on_pending;
	void			(*on_abandon)(struct http_req *, void *);
	void			*abandon_arg;
	void			*data;
	uint64_t		 queued_us;
	int			 on_thread;	/* HTTP_THREAD route running */
};
TAILQ_HEAD(http_req_list, http_req);

struct http_rate {
	uint32_t	addr;		/* a hash of the client's address */
	uint64_t	second;
	uint32_t	count;
};

struct http {
	struct coord		*co;
	struct MHD_Daemon	*d;
	uv_async_t		 async;
	uv_timer_t		 sweep;
	int			 handles_open;
	pthread_mutex_t		 mu;
	struct http_req_list	 queue;		/* handed to the loop */
	struct http_req_list	 waiting;	/* HTTP threads waiting */
	struct http_req_list	 pending;	/* loop: taken, answer deferred */
	int			 stopping;	/* under mu */
	struct http_tokens	*tokens;
	struct http_events	*events;
	char			*cert, *key;	/* PEM text */
	struct http_rate	 rate[HTTP_RATE_SLOTS];	/* under mu */
	struct http_stats	 stats;			/* under mu */
};

static struct {
	const struct http_route	*r;
	size_t			 n;
} http_tables[HTTP_MAXTABLES];
static size_t http_ntables;

int
http_register(const struct http_route *r, size_t n)
{
	size_t i;

	for (i = 0; i < http_ntables; i++)
		if (http_tables[i].r == r)
			return 0;
	if (http_ntables == HTTP_MAXTABLES)
		return -1;
	http_tables[http_ntables].r = r;
	http_tables[http_ntables].n = n;
	http_ntables++;
	return 0;
}

static uint64_t
http_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static char *http_error_text(const char *, const char *, size_t *);

/* ---- requests ---------------------------------------------------------- */

static void
http_req_unref_locked(struct http_req *r)
{
	size_t i;

	if (--r->refs > 0)
		return;
	free(r->path);
	for (i = 0; i < r->nparams; i++)
		free(r->params[i]);
	for (i = 0; i < r->nquery; i++) {
		free(r->query[i].k);
		free(r->query[i].v);
	}
	free(r->last_event_id);
	free(r->body);
	json_object_put(r->json);
	free(r->rbody);
	pthread_cond_destroy(&r->cv);
	free(r);
}

static void
http_req_unref(struct http_req *r)
{
	struct http *srv = r->srv;

	pthread_mutex_lock(&srv->mu);
	http_req_unref_locked(r);
	pthread_mutex_unlock(&srv->mu);
}

struct coord *
http_req_coord(struct http_req *r)
{
	return r->on_thread ? NULL : r->srv->co;
}

const char *
http_req_method(struct http_req *r)
{
	return r->method;
}

const char *
http_req_path(struct http_req *r)
{
	return r->path;
}

const char *
http_req_param(struct http_req *r, size_t i)
{
	return i < r->nparams ? r->params[i] : NULL;
}

const char *
http_req_query(struct http_req *r, const char *key)
{
	size_t i;

	for (i = 0; i < r->nquery; i++)
		if (strcmp(r->query[i].k, key) == 0)
			return r->query[i].v;
	return NULL;
}

const char *
http_req_header(struct http_req *r, const char *key)
{
	if (strcasecmp(key, "Last-Event-ID") == 0)
		return r->last_event_id;
	return NULL;
}

const char *
http_req_token(struct http_req *r)
{
	return r->token;
}

const char *
http_req_body(struct http_req *r, size_t *len)
{
	*len = r->bodylen;
	return r->body ? r->body : "";
}

struct json_object *
http_req_json(struct http_req *r)
{
	struct json_tokener *tok;
	struct json_object *o;

	if (r->json != NULL)
		return r->json;
	if (r->bodylen == 0) {
		/* No body: an empty object, every field at its default. */
		r->json = json_object_new_object();
		return r->json;
	}
	if ((tok = json_tokener_new()) == NULL) {
		http_reply_error(r, 500, "internal", "out of memory");
		return NULL;
	}
	o = json_tokener_parse_ex(tok, r->body, (int)r->bodylen);
	if (json_tokener_get_error(tok) != json_tokener_success ||
	    json_tokener_get_parse_end(tok) != r->bodylen ||
	    !json_object_is_type(o, json_type_object)) {
		http_reply_error(r, 400, "bad_request", "the body must be one "
		    "JSON object");
		json_object_put(o);
		json_tokener_free(tok);
		return NULL;
	}
	json_tokener_free(tok);
	r->json = o;
	return o;
}

void *
http_req_data(struct http_req *r)
{
	return r->data;
}

void
http_req_set_data(struct http_req *r, void *d)
{
	r->data = d;
}

void
http_req_on_abandon(struct http_req *r, void (*fn)(struct http_req *, void *),
    void *arg)
{
	r->on_abandon = fn;
	r->abandon_arg = arg;
}

/* Drops the loop's reference once the loop has answered. */
static void
http_req_loop_done(struct http_req *r)
{
	if (!r->in_loop)
		return;
	r->in_loop = 0;
	if (r->on_pending) {
		TAILQ_REMOVE(&r->srv->pending, r, pentry);
		r->on_pending = 0;
	}
	http_req_unref(r);
}

void
http_reply_raw(struct http_req *r, int status, const char *ctype, char *body,
    size_t len)
{
	struct http *srv = r->srv;

	pthread_mutex_lock(&srv->mu);
	if (r->answered || r->abandoned) {
		pthread_mutex_unlock(&srv->mu);
		free(body);
	} else {
		r->answered = 1;
		r->status = status;
		r->ctype = ctype;
		r->rbody = body;
		r->rlen = len;
		if (status >= 400)
			srv->stats.errors++;
		pthread_cond_signal(&r->cv);
		pthread_mutex_unlock(&srv->mu);
	}
	if (!r->on_thread)
		http_req_loop_done(r);
}

void
http_reply_proto(struct http_req *r, int status,
    const ProtobufCMessageDescriptor *desc,
    struct json_object *(*render)(const ProtobufCMessage *),
    const uint8_t *payload, size_t len)
{
	char *copy;

	if ((copy = malloc(len ? len : 1)) == NULL) {
		http_reply_error(r, 500, "internal", "out of memory");
		return;
	}
	if (len)
		memcpy(copy, payload, len);
	pthread_mutex_lock(&r->srv->mu);
	if (!r->answered && !r->abandoned) {
		r->rdesc = desc;
		r->render = render;
	}
	pthread_mutex_unlock(&r->srv->mu);
	http_reply_raw(r, status, "application/json", copy, len);
}

/* On the HTTP thread: a protobuf answer into its JSON text. */
static void
http_render_answer(struct http_req *r)
{
	ProtobufCMessage *m;
	struct json_object *o;
	const char *s;
	char *body = NULL;

	m = protobuf_c_message_unpack(r->rdesc, NULL, r->rlen,
	    (const uint8_t *)r->rbody);
	free(r->rbody);
	r->rbody = NULL;
	r->rlen = 0;
	r->rdesc = NULL;
	if (m == NULL || (o = r->render(m)) == NULL) {
		if (m != NULL)
			protobuf_c_message_free_unpacked(m, NULL);
		r->status = 500;
		r->rbody = http_error_text("internal", "cannot render the reply",
		    &r->rlen);
		return;
	}
	protobuf_c_message_free_unpacked(m, NULL);
	s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
	    JSON_C_TO_STRING_NOSLASHESCAPE);
	if (s == NULL || asprintf(&body, "%s\n", s) < 0)
		body = NULL;
	json_object_put(o);
	if (body == NULL) {
		r->status = 500;
		r->rbody = http_error_text("internal", "out of memory",
		    &r->rlen);
		return;
	}
	r->rbody = body;
	r->rlen = strlen(body);
}

void
http_reply_json(struct http_req *r, int status, struct json_object *o)
{
	const char *s;
	char *body = NULL;
	size_t len = 0;

	if (o == NULL)
		o = json_object_new_null();
	s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
	    JSON_C_TO_STRING_NOSLASHESCAPE);
	if (s != NULL) {
		len = strlen(s);
		if ((body = malloc(len + 2)) != NULL) {
			memcpy(body, s, len);
			body[len++] = '\n';
		}
	}
	json_object_put(o);
	if (body == NULL) {
		http_reply_raw(r, 500, "application/json", NULL, 0);
		return;
	}
	http_reply_raw(r, status, "application/json", body, len);
}

void
http_reply_error(struct http_req *r, int status, const char *code,
    const char *fmt, ...)
{
	char msg[1024], *body;
	size_t len;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	body = http_error_text(code, msg, &len);
	http_reply_raw(r, body ? status : 500, "application/json", body, len);
}

struct http_events *
http_events_of(struct http *srv)
{
	return srv->events;
}

void
http_get_stats(struct coord *co, struct http_stats *st)
{
	struct http *srv = co->http;

	memset(st, 0, sizeof(*st));
	if (srv == NULL)
		return;
	pthread_mutex_lock(&srv->mu);
	*st = srv->stats;
	pthread_mutex_unlock(&srv->mu);
}

/* ---- the loop's side --------------------------------------------------- */

static void
http_async_cb(uv_async_t *a)
{
	struct http *srv = a->data;
	struct http_req_list q;
	struct http_req *r;
	uint64_t now = http_now_us(), lag;

	TAILQ_INIT(&q);
	pthread_mutex_lock(&srv->mu);
	while ((r = TAILQ_FIRST(&srv->queue)) != NULL) {
		TAILQ_REMOVE(&srv->queue, r, qentry);
		TAILQ_INSERT_TAIL(&q, r, qentry);
		lag = now - r->queued_us;
		if (lag > srv->stats.loop_lag_max_us)
			srv->stats.loop_lag_max_us = lag;
	}
	pthread_mutex_unlock(&srv->mu);
	while ((r = TAILQ_FIRST(&q)) != NULL) {
		TAILQ_REMOVE(&q, r, qentry);
		pthread_mutex_lock(&srv->mu);
		if (r->abandoned || srv->stopping) {
			http_req_unref_locked(r);
			pthread_mutex_unlock(&srv->mu);
			continue;
		}
		r->refs++;	/* held across the handler */
		pthread_mutex_unlock(&srv->mu);
		r->in_loop = 1;
		r->route->fn(r);
		if (r->in_loop && !r->on_pending) {
			TAILQ_INSERT_TAIL(&srv->pending, r, pentry);
			r->on_pending = 1;
		}
		http_req_unref(r);
	}
}

/* Deferred answers whose client gave up: the handler is told, and the
 * loop's reference goes. */
static void
http_sweep_cb(uv_timer_t *t)
{
	struct http *srv = t->data;
	struct http_req *r, *next;
	int gone;

	for (r = TAILQ_FIRST(&srv->pending); r != NULL; r = next) {
		next = TAILQ_NEXT(r, pentry);
		pthread_mutex_lock(&srv->mu);
		gone = r->abandoned || srv->stopping;
		pthread_mutex_unlock(&srv->mu);
		if (!gone)
			continue;
		if (r->on_abandon != NULL)
			r->on_abandon(r, r->abandon_arg);
		r->on_abandon = NULL;
		http_req_loop_done(r);
	}
}

/* ---- the HTTP threads' side -------------------------------------------- */

static int
http_conf_answer_ms(const struct http *srv)
{
	return srv->co->conf.http.answer_timeout_s * 1000;
}

/* Matches path against pattern, filling r's params. */
static int
http_match(const char *pattern, const char *path, struct http_req *r)
{
	const char *p = pattern, *s = path, *e;
	size_t n = 0, len, i;
	char *params[HTTP_MAXPARAMS];

	while (*p && *s) {
		if (p[0] == '*' && p[1] == '\0') {
			if (n == HTTP_MAXPARAMS)
				goto no;
			if ((params[n++] = strdup(s)) == NULL)
				goto no;
			s += strlen(s);
			p++;
			break;
		}
		if (*p == '{') {
			if ((e = strchr(p, '}')) == NULL)
				goto no;
			len = strcspn(s, "/");
			if (len == 0 || n == HTTP_MAXPARAMS)
				goto no;
			if ((params[n++] = strndup(s, len)) == NULL)
				goto no;
			p = e + 1;
			s += len;
			continue;
		}
		if (*p != *s)
			goto no;
		p++;
		s++;
	}
	if (p[0] == '*' && p[1] == '\0' && *s == '\0') {
		if (n == HTTP_MAXPARAMS || (params[n++] = strdup("")) == NULL)
			goto no;
		p++;
	}
	if (*p != '\0' || *s != '\0')
		goto no;
	for (i = 0; i < n; i++)
		r->params[i] = params[i];
	r->nparams = n;
	return 1;
no:
	for (i = 0; i < n; i++)
		free(params[i]);
	return 0;
}

/* The route of r; *method_ok 0 when only the method was wrong. */
static const struct http_route *
http_route_find(struct http_req *r, int *path_known)
{
	const struct http_route *rt;
	size_t t, i;

	*path_known = 0;
	for (t = 0; t < http_ntables; t++)
		for (i = 0; i < http_tables[t].n; i++) {
			rt = &http_tables[t].r[i];
			if (!http_match(rt->pattern, r->path, r))
				continue;
			if (strcmp(rt->method, r->method) == 0)
				return rt;
			*path_known = 1;
			while (r->nparams > 0)
				free(r->params[--r->nparams]);
		}
	return NULL;
}

/* Requests per second from one client address (a slot per hash: two
 * clients that share one share the budget, never more). */
static int
http_rate_ok(struct http *srv, struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *ci;
	const struct sockaddr *sa;
	uint32_t h = 2166136261u;
	const uint8_t *p = NULL;
	size_t len = 0, i;
	uint64_t sec = http_now_us() / 1000000;
	struct http_rate *rt;
	int ok;

	ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	if (ci != NULL && (sa = ci->client_addr) != NULL) {
		if (sa->sa_family == AF_INET) {
			p = (const uint8_t *)&((const struct sockaddr_in *)
			    (const void *)sa)->sin_addr;
			len = 4;
		} else if (sa->sa_family == AF_INET6) {
			p = (const uint8_t *)&((const struct sockaddr_in6 *)
			    (const void *)sa)->sin6_addr;
			len = 16;
		}
	}
	for (i = 0; i < len; i++)
		h = (h ^ p[i]) * 16777619u;
	pthread_mutex_lock(&srv->mu);
	rt = &srv->rate[h % HTTP_RATE_SLOTS];
	if (rt->second != sec) {
		rt->second = sec;
		rt->count = 0;
	}
	ok = ++rt->count <= (uint32_t)srv->co->conf.http.rate;
	if (!ok)
		srv->stats.limited++;
	pthread_mutex_unlock(&srv->mu);
	return ok;
}

static enum MHD_Result
http_collect_query(void *cls, enum MHD_ValueKind kind, const char *key,
    const char *value)
{
	struct http_req *r = cls;

	(void)kind;
	if (r->nquery == HTTP_MAXQUERY)
		return MHD_NO;
	if ((r->query[r->nquery].k = strdup(key)) == NULL)
		return MHD_NO;
	if ((r->query[r->nquery].v = strdup(value ? value : "")) == NULL) {
		free(r->query[r->nquery].k);
		return MHD_NO;
	}
	r->nquery++;
	return MHD_YES;
}

static enum MHD_Result
http_send(struct MHD_Connection *conn, int status, const char *ctype,
    char *body, size_t len, int unauthorized)
{
	struct MHD_Response *resp;
	enum MHD_Result rc;

	resp = MHD_create_response_from_buffer(len, body ? body : (char *)"",
	    body ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
	if (resp == NULL) {
		free(body);
		return MHD_NO;
	}
	if (ctype != NULL)
		MHD_add_response_header(resp, "Content-Type", ctype);
	MHD_add_response_header(resp, "Cache-Control", "no-store");
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	/* The web view's policy (www.c), on every answer: nothing served
	 * here runs inline script, loads from elsewhere or is framed. */
	MHD_add_response_header(resp, "Content-Security-Policy", WWW_CSP);
	MHD_add_response_header(resp, "X-Frame-Options", "DENY");
	MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
	if (unauthorized)
		MHD_add_response_header(resp, "WWW-Authenticate",
		    "Bearer realm=\"ferry\"");
	rc = MHD_queue_response(conn, (unsigned)status, resp);
	MHD_destroy_response(resp);
	return rc;
}

/* The JSON error document, malloc'd. */
static char *
http_error_text(const char *code, const char *msg, size_t *len)
{
	struct json_object *o, *e;
	const char *s;
	char *body = NULL;

	o = json_object_new_object();
	e = json_object_new_object();
	json_object_object_add(e, "code", json_object_new_string(code));
	json_object_object_add(e, "message", json_object_new_string(msg));
	json_object_object_add(o, "error", e);
	if ((s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
	    JSON_C_TO_STRING_NOSLASHESCAPE)) != NULL &&
	    asprintf(&body, "%s\n", s) < 0)
		body = NULL;
	json_object_put(o);
	*len = body ? strlen(body) : 0;
	return body;
}

/* Answers on the HTTP thread, whatever the loop does with r. */
static enum MHD_Result
http_send_error(struct MHD_Connection *conn, struct http_req *r, int status,
    const char *code, const char *msg)
{
	char *body;
	size_t len;

	r->sent = 1;
	pthread_mutex_lock(&r->srv->mu);
	r->srv->stats.requests++;
	r->srv->stats.errors++;
	pthread_mutex_unlock(&r->srv->mu);
	body = http_error_text(code, msg, &len);
	return http_send(conn, status, "application/json", body, len,
	    status == 401);
}

/* ---- Server-Sent Events ------------------------------------------------ */

struct http_sse {
	struct http	*srv;
	int64_t		 last;
	char		*buf;	/* text not sent yet */
	size_t		 off, len;
};

/* A quiet stream's comment comes well inside the idle timeout, whatever
 * it is set to: at 5 s each, the lab's 5 s timeout cut streams whenever
 * a ping ran late on a loaded machine (its events were then lost). */
static int
http_sse_ping_ms(const struct http *srv)
{
	int ms = srv->co->conf.http.idle_timeout_s * 1000 / 3;

	return ms > 0 && ms < HTTP_SSE_PING_MS ? ms : HTTP_SSE_PING_MS;
}

static ssize_t
http_sse_read(void *cls, uint64_t pos, char *out, size_t max)
{
	struct http_sse *s = cls;
	int64_t id;
	char *txt;
	size_t n;

	(void)pos;
	if (s->buf == NULL) {
		id = http_events_next(s->srv->events, s->last,
		    http_sse_ping_ms(s->srv), &txt);
		if (id < 0)
			return MHD_CONTENT_READER_END_OF_STREAM;
		if (id == 0) {
			/* A comment: keeps the connection and proxies alive. */
			if ((txt = strdup(": ping\n\n")) == NULL)
				return MHD_CONTENT_READER_END_WITH_ERROR;
		} else
			s->last = id;
		s->buf = txt;
		s->off = 0;
		s->len = strlen(txt);
	}
	n = s->len - s->off < max ? s->len - s->off : max;
	memcpy(out, s->buf + s->off, n);
	s->off += n;
	if (s->off == s->len) {
		free(s->buf);
		s->buf = NULL;
	}
	return (ssize_t)n;
}

static void
http_sse_free(void *cls)
{
	struct http_sse *s = cls;

	free(s->buf);
	free(s);
}

static enum MHD_Result
http_sse_start(struct MHD_Connection *conn, struct http_req *r)
{
	struct MHD_Response *resp;
	struct http_sse *s;
	enum MHD_Result rc;
	const char *q;
	char *end;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return MHD_NO;
	s->srv = r->srv;
	/* Resume after the last event the client saw; a new client gets
	 * what comes from now on (or ?since=0: every event still kept). */
	s->last = -1;
	q = r->last_event_id != NULL ? r->last_event_id :
	    http_req_query(r, "since");
	if (q != NULL && *q) {
		errno = 0;
		s->last = strtoll(q, &end, 10);
		if (errno || *end || s->last < 0) {
			free(s);
			return http_send_error(conn, r, 400, "bad_request",
			    "Last-Event-ID must be an event id");
		}
	}
	resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096,
	    http_sse_read, s, http_sse_free);
	if (resp == NULL) {
		free(s);
		return MHD_NO;
	}
	MHD_add_response_header(resp, "Content-Type", "text/event-stream");
	MHD_add_response_header(resp, "Cache-Control", "no-store");
	pthread_mutex_lock(&r->srv->mu);
	r->srv->stats.requests++;
	pthread_mutex_unlock(&r->srv->mu);
	rc = MHD_queue_response(conn, MHD_HTTP_OK, resp);
	MHD_destroy_response(resp);
	return rc;
}

/* ---- dispatch ------------------------------------------------------------ */

/* Constant-time on the token: the comparison is http_tokens_check's. */
static enum HTTP_AUTH { AUTH_OK, AUTH_NONE, AUTH_LOW }
http_auth(struct http *srv, struct MHD_Connection *conn, struct http_req *r,
    enum http_role need)
{
	const char *h;
	enum http_role have;

	if (need == HTTP_ROLE_NONE)
		return AUTH_OK;
	h = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_AUTHORIZATION);
	if (h == NULL || strncasecmp(h, "Bearer ", 7) != 0)
		return AUTH_NONE;
	h += 7;
	while (*h == ' ')
		h++;
	have = http_tokens_check(srv->tokens, h, r->token, sizeof(r->token));
	if (have == HTTP_ROLE_NONE)
		return AUTH_NONE;
	return have >= need ? AUTH_OK : AUTH_LOW;
}

static enum MHD_Result
http_dispatch(struct http *srv, struct MHD_Connection *conn, struct http_req *r)
{
	const struct http_route *rt;
	struct timespec ts;
	const char *h;
	int known, rc, status;
	uint64_t deadline;
	char *body;
	size_t len;

	if (!http_rate_ok(srv, conn))
		return http_send_error(conn, r, 429, "too_many_requests",
		    "request rate over the limit; slow down");
	if (r->too_big)
		return http_send_error(conn, r, 413, "too_large",
		    "request body over the limit");
	MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND,
	    http_collect_query, r);
	if ((h = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
	    "Last-Event-ID")) != NULL && (r->last_event_id = strdup(h)) == NULL)
		return MHD_NO;
	if ((rt = http_route_find(r, &known)) == NULL)
		return known ? http_send_error(conn, r, 405,
		    "method_not_allowed", "method not allowed here") :
		    http_send_error(conn, r, 404, "not_found", "no such resource");
	r->route = rt;
	switch (http_auth(srv, conn, r, rt->role)) {
	case AUTH_NONE:
		return http_send_error(conn, r, 401, "unauthorized",
		    "a bearer token is required (Authorization: Bearer ...)");
	case AUTH_LOW:
		return http_send_error(conn, r, 403, "forbidden",
		    "this token may read, not act");
	case AUTH_OK:
		break;
	}
	if (rt->flags & HTTP_EVENTS)
		return http_sse_start(conn, r);
	if (rt->flags & HTTP_THREAD) {
		r->on_thread = 1;
		rt->fn(r);
		r->on_thread = 0;
		if (!r->answered)
			http_reply_error(r, 500, "internal", "no answer");
	} else {
		deadline = http_now_us() + (uint64_t)http_conf_answer_ms(srv) *
		    1000;
		ts.tv_sec = (time_t)(deadline / 1000000);
		ts.tv_nsec = (long)(deadline % 1000000) * 1000;
		pthread_mutex_lock(&srv->mu);
		if (srv->stopping) {
			pthread_mutex_unlock(&srv->mu);
			return http_send_error(conn, r, 503, "unavailable",
			    "the coordinator is stopping");
		}
		r->refs++;		/* the loop's */
		r->queued_us = http_now_us();
		TAILQ_INSERT_TAIL(&srv->queue, r, qentry);
		TAILQ_INSERT_TAIL(&srv->waiting, r, wentry);
		uv_async_send(&srv->async);
		rc = 0;
		/* clockwait, not timedwait: libfaketime (the lab's stepped
		 * clock) rewrites a timedwait's deadline as wall time, and a
		 * monotonic one then lies in the past. */
		while (!r->answered && !srv->stopping && rc != ETIMEDOUT)
			rc = pthread_cond_clockwait(&r->cv, &srv->mu,
			    CLOCK_MONOTONIC, &ts);
		TAILQ_REMOVE(&srv->waiting, r, wentry);
		if (!r->answered) {
			r->abandoned = 1;
			if (!srv->stopping)
				srv->stats.timeouts++;
			status = srv->stopping ? 503 : 504;
			pthread_mutex_unlock(&srv->mu);
			if (status == 503)
				return http_send_error(conn, r, 503,
				    "unavailable", "the coordinator is stopping");
			log_warnx("http: %s %s: no answer from the coordinator "
			    "in %d ms", r->method, r->path,
			    http_conf_answer_ms(srv));
			return http_send_error(conn, r, 504, "timeout",
			    "the coordinator did not answer in time");
		}
		pthread_mutex_unlock(&srv->mu);
	}
	if (r->rdesc != NULL)
		http_render_answer(r);	/* answered: the loop is done with r */
	pthread_mutex_lock(&srv->mu);
	srv->stats.requests++;
	r->sent = 1;
	body = r->rbody;
	len = r->rlen;
	r->rbody = NULL;
	pthread_mutex_unlock(&srv->mu);
	return http_send(conn, r->status, r->ctype, body, len, 0);
}

static enum MHD_Result
http_access(void *cls, struct MHD_Connection *conn, const char *url,
    const char *method, const char *version, const char *upload,
    size_t *upload_size, void **con_cls)
{
	struct http *srv = cls;
	struct http_req *r = *con_cls;
	const char *cl;
	size_t max = (size_t)srv->co->conf.http.max_body_kib * 1024;
	pthread_condattr_t ca;
	char *nb;

	(void)version;
	if (r == NULL) {
		if ((r = calloc(1, sizeof(*r))) == NULL)
			return MHD_NO;
		r->srv = srv;
		r->refs = 1;
		pthread_condattr_init(&ca);
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		pthread_cond_init(&r->cv, &ca);
		pthread_condattr_destroy(&ca);
		snprintf(r->method, sizeof(r->method), "%s", method);
		if ((r->path = strdup(url)) == NULL) {
			pthread_cond_destroy(&r->cv);
			free(r);
			return MHD_NO;
		}
		*con_cls = r;
		cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
		    MHD_HTTP_HEADER_CONTENT_LENGTH);
		if (cl != NULL && strtoull(cl, NULL, 10) > max) {
			r->too_big = 1;
			/* Far over: refused before a byte of it is read (the
			 * client may see a reset instead). A little over:
			 * read and dropped, so the 413 reaches it. */
			if (strtoull(cl, NULL, 10) > max + HTTP_DRAIN_MAX)
				return http_send_error(conn, r, 413,
				    "too_large", "request body over the limit");
		}
		return MHD_YES;
	}
	if (*upload_size != 0) {
		if (!r->too_big && r->bodylen + *upload_size > max) {
			r->too_big = 1;
			free(r->body);
			r->body = NULL;
			r->bodylen = 0;
		}
		if (!r->too_big) {
			if ((nb = realloc(r->body, r->bodylen + *upload_size +
			    1)) == NULL)
				return MHD_NO;
			memcpy(nb + r->bodylen, upload, *upload_size);
			r->body = nb;
			r->bodylen += *upload_size;
			r->body[r->bodylen] = '\0';
		}
		*upload_size = 0;
		return MHD_YES;
	}
	if (r->sent)
		return MHD_YES;	/* the early 413 */
	return http_dispatch(srv, conn, r);
}

static void
http_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
    enum MHD_RequestTerminationCode toe)
{
	struct http_req *r = *con_cls;

	(void)cls;
	(void)conn;
	(void)toe;
	if (r != NULL)
		http_req_unref(r);
	*con_cls = NULL;
}

static void
http_log(void *cls, const char *fmt, va_list ap)
{
	char msg[512];
	size_t n;

	(void)cls;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	n = strlen(msg);
	while (n > 0 && msg[n - 1] == '\n')
		msg[--n] = '\0';
	log_warnx("http: %s", msg);
}

/* ---- start and stop ---------------------------------------------------- */

static int
http_read_pem(const char *file, const char *what, int private, char **out,
    char *err, size_t errlen)
{
	char *buf = NULL;
	ssize_t n;
	size_t len = 0;
	int fd;

	if (private && conf_check_private(file, what, err, errlen) < 0)
		return -1;
	if ((fd = open(file, O_RDONLY | O_CLOEXEC)) == -1) {
		snprintf(err, errlen, "%s %s: %s", what, file, strerror(errno));
		return -1;
	}
	if ((buf = malloc(HTTP_PEM_MAX + 1)) == NULL) {
		close(fd);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	while (len < HTTP_PEM_MAX && (n = read(fd, buf + len,
	    HTTP_PEM_MAX - len)) > 0)
		len += (size_t)n;
	close(fd);
	buf[len] = '\0';
	if (len == 0 || len == HTTP_PEM_MAX || strstr(buf, "-----BEGIN") == NULL) {
		snprintf(err, errlen, "%s %s: not a PEM file", what, file);
		free(buf);
		return -1;
	}
	*out = buf;
	return 0;
}

static int
http_parse_listen(const char *s, struct sockaddr_storage *ss, char *err,
    size_t errlen)
{
	struct addrinfo hints, *ai = NULL;
	char host[256], *port;
	int rc;

	snprintf(host, sizeof(host), "%s", s);
	if ((port = strrchr(host, ':')) == NULL) {
		snprintf(err, errlen, "http listen \"%s\": ADDR:PORT expected", s);
		return -1;
	}
	*port++ = '\0';
	if (host[0] == '[' && port - host >= 3 && port[-2] == ']') {
		port[-2] = '\0';
		memmove(host, host + 1, strlen(host));
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE;
	hints.ai_socktype = SOCK_STREAM;
	if ((rc = getaddrinfo(host[0] ? host : NULL, port, &hints, &ai)) != 0) {
		snprintf(err, errlen, "http listen \"%s\": %s", s,
		    gai_strerror(rc));
		return -1;
	}
	memcpy(ss, ai->ai_addr, ai->ai_addrlen);
	freeaddrinfo(ai);
	return 0;
}

static void
http_destroy(struct http *srv)
{
	if (srv == NULL)
		return;
	if (srv->d != NULL)
		MHD_stop_daemon(srv->d);
	http_tokens_free(srv->tokens);
	http_events_free(srv->events);
	free(srv->cert);
	free(srv->key);
	pthread_mutex_destroy(&srv->mu);
	free(srv);
}

int
http_start(struct coord *co, char *err, size_t errlen)
{
	const struct coord_http_conf *hc = &co->conf.http;
	struct sockaddr_storage ss;
	struct http *srv;
	unsigned flags;

	if (http_register(http_api_routes, http_api_nroutes) < 0) {
		snprintf(err, errlen, "http: too many route tables");
		return -1;
	}
	if (!hc->enabled)
		return 0;
	if ((srv = calloc(1, sizeof(*srv))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	srv->co = co;
	pthread_mutex_init(&srv->mu, NULL);
	TAILQ_INIT(&srv->queue);
	TAILQ_INIT(&srv->waiting);
	TAILQ_INIT(&srv->pending);
	if (http_parse_listen(hc->listen, &ss, err, errlen) < 0 ||
	    http_read_pem(hc->cert, "http cert", 0, &srv->cert, err,
	    errlen) < 0 ||
	    http_read_pem(hc->key, "http key", 1, &srv->key, err, errlen) < 0 ||
	    http_tokens_open(hc->tokens, &srv->tokens, err, errlen) < 0)
		goto fail;
	if ((srv->events = http_events_new((size_t)hc->events_kept)) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
	    MHD_USE_POLL | MHD_USE_TLS | MHD_USE_ERROR_LOG;
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	srv->d = MHD_start_daemon(flags, 0, NULL, NULL, http_access, srv,
	    MHD_OPTION_EXTERNAL_LOGGER, http_log, srv,
	    MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
	    MHD_OPTION_HTTPS_MEM_CERT, srv->cert,
	    MHD_OPTION_HTTPS_MEM_KEY, srv->key,
	    MHD_OPTION_HTTPS_PRIORITIES,
	    "NORMAL:-VERS-SSL3.0:-VERS-TLS1.0:-VERS-TLS1.1",
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned)hc->max_connections,
	    MHD_OPTION_PER_IP_CONNECTION_LIMIT,
	    (unsigned)hc->max_connections_per_ip,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)hc->idle_timeout_s,
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT,
	    (size_t)hc->max_header_kib * 1024,
	    MHD_OPTION_THREAD_STACK_SIZE, (size_t)512 * 1024,
	    MHD_OPTION_NOTIFY_COMPLETED, http_completed, srv,
	    MHD_OPTION_END);
	if (srv->d == NULL) {
		snprintf(err, errlen, "http: cannot listen on %s (in use, or the "
		    "certificate and key do not match)", hc->listen);
		goto fail;
	}
	uv_async_init(co->loop, &srv->async, http_async_cb);
	srv->async.data = srv;
	uv_timer_init(co->loop, &srv->sweep);
	srv->sweep.data = srv;
	uv_timer_start(&srv->sweep, http_sweep_cb, HTTP_SWEEP_MS,
	    HTTP_SWEEP_MS);
	srv->handles_open = 1;
	co->http = srv;
	log_info("http: listening on https://%s; tokens %s", hc->listen,
	    hc->tokens);
	return 0;
fail:
	http_destroy(srv);
	return -1;
}

/* On the loop at shutdown: every waiting HTTP thread answers 503 now, the
 * event streams end; the threads are joined in http_free. */
void
http_stop(struct coord *co)
{
	struct http *srv = co->http;
	struct http_req *r;

	if (srv == NULL)
		return;
	pthread_mutex_lock(&srv->mu);
	srv->stopping = 1;
	TAILQ_FOREACH(r, &srv->waiting, wentry)
		pthread_cond_signal(&r->cv);
	pthread_mutex_unlock(&srv->mu);
	http_events_close(srv->events);
	http_sweep_cb(&srv->sweep);
	if (srv->handles_open) {
		srv->handles_open = 0;
		uv_close((uv_handle_t *)&srv->async, NULL);
		uv_close((uv_handle_t *)&srv->sweep, NULL);
	}
}

void
http_free(struct coord *co)
{
	struct http *srv = co->http;
	struct http_req *r;

	if (srv == NULL)
		return;
	/* Requests queued after the loop's last look: nobody will run them. */
	if (srv->d != NULL) {
		MHD_stop_daemon(srv->d);
		srv->d = NULL;
	}
	pthread_mutex_lock(&srv->mu);
	while ((r = TAILQ_FIRST(&srv->queue)) != NULL) {
		TAILQ_REMOVE(&srv->queue, r, qentry);
		http_req_unref_locked(r);
	}
	log_info("http: %llu requests, %llu answered >= 400, %llu not answered "
	    "in time, %llu over the rate; the loop took a request at most "
	    "%.1f ms after it was handed over",
	    (unsigned long long)srv->stats.requests,
	    (unsigned long long)srv->stats.errors,
	    (unsigned long long)srv->stats.timeouts,
	    (unsigned long long)srv->stats.limited,
	    srv->stats.loop_lag_max_us / 1000.0);
	pthread_mutex_unlock(&srv->mu);
	http_destroy(srv);
	co->http = NULL;
}
