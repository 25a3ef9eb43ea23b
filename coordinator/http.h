/* http.h: the coordinator's HTTPS API (libmicrohttpd on its own threads,
 * GnuTLS). What a request needs from the coordinator runs on the libuv
 * loop: the HTTP thread hands it over (uv_async) and waits, with a
 * deadline, for the answer; the loop never waits on HTTP. */
#ifndef FERRY_HTTP_H
#define FERRY_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "msg.h"

struct coord;
struct http;
struct http_req;

enum http_role {
	HTTP_ROLE_NONE = 0,	/* no token needed */
	HTTP_ROLE_READ = 1,
	HTTP_ROLE_OPERATE = 2,
};

/* Route flags. */
#define HTTP_THREAD	0x01	/* runs on the HTTP thread: must not touch the
				 * coordinator (static files, fixed documents) */
#define HTTP_EVENTS	0x02	/* the Server-Sent Events stream; fn unused */

/*
 * One row of a routing table. pattern: literal segments, "{name}" matches
 * one segment (read with http_req_param, in order), a final "*" matches
 * the rest of the path (also a param). The handler runs on the loop
 * (unless HTTP_THREAD) and must answer once, now or later, with
 * http_reply*; an answer later than the deadline is dropped (the client
 * got a 504).
 */
struct http_route {
	const char	*method;	/* "GET", "POST" */
	const char	*pattern;
	void		(*fn)(struct http_req *);
	enum http_role	 role;
	int		 flags;
};

/* http.c */
int	 http_start(struct coord *, char *err, size_t errlen);	/* off unless configured */
void	 http_stop(struct coord *);		/* loop thread, before uv_run ends */
void	 http_free(struct coord *);		/* after uv_run */
/* Adds a table (kept, not copied) before http_start; tables are searched
 * in the order added. Returns 0, -1 when full. */
int	 http_register(const struct http_route *, size_t n);
struct coord *http_req_coord(struct http_req *);
const char *http_req_method(struct http_req *);
const char *http_req_path(struct http_req *);
const char *http_req_param(struct http_req *, size_t i);	/* NULL past the last */
const char *http_req_query(struct http_req *, const char *key);
const char *http_req_header(struct http_req *, const char *key);	/* see HTTP_HEADERS */
const char *http_req_token(struct http_req *);	/* the token's name; "" without */
const char *http_req_body(struct http_req *, size_t *len);
/* Parsed body: a JSON object or NULL (then an error was answered). */
struct json_object *http_req_json(struct http_req *);
/* Answers (each takes what it is given; one answer per request). */
void	 http_reply_json(struct http_req *, int status, struct json_object *);
void	 http_reply_raw(struct http_req *, int status, const char *ctype,
	    char *body, size_t len);
/* A reply of the control handlers, rendered by render on the HTTP thread
 * (the loop only copies its bytes). */
void	 http_reply_proto(struct http_req *, int status,
	    const ProtobufCMessageDescriptor *,
	    struct json_object *(*render)(const ProtobufCMessage *),
	    const uint8_t *payload, size_t len);
void	 http_reply_error(struct http_req *, int status, const char *code,
	    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* Set by a handler that answers later: called on the loop if the request
 * is abandoned (deadline passed) before it answered. */
void	 http_req_on_abandon(struct http_req *, void (*)(struct http_req *,
	    void *), void *arg);
void	*http_req_data(struct http_req *);	/* the handler's own slot */
void	 http_req_set_data(struct http_req *, void *);
/* Figures for metrics and the benchmark (any thread). */
struct http_stats {
	uint64_t	requests;
	uint64_t	errors;		/* answered >= 400 */
	uint64_t	timeouts;	/* the loop did not answer in time */
	uint64_t	limited;	/* refused by the request rate */
	uint64_t	loop_lag_max_us; /* handed over -> taken by the loop */
};
void	 http_get_stats(struct coord *, struct http_stats *);

/* http_token.c: the token file, `name role sha256hex` per line, 0600 */
struct http_tokens;
int	 http_tokens_open(const char *path, struct http_tokens **, char *err,
	    size_t errlen);
void	 http_tokens_free(struct http_tokens *);
/* The role of the bearer token (reloads the file when it changed; any
 * thread), name of its entry into name. HTTP_ROLE_NONE: unknown. */
enum http_role http_tokens_check(struct http_tokens *, const char *token,
	    char *name, size_t namelen);
int	 http_token_hash_hex(const char *token, char out[65]);
enum http_role http_role_of(const char *);	/* "read", "operate"; NONE */

/* http_events.c: the bounded ring of recent job and drain events behind
 * GET /v1/events (pushed on the loop, read by the HTTP threads) */
void	 http_events_push(struct coord *, const char *kind,
	    struct json_object *);	/* takes the object */
/* A job's event and a drain's, as ferryctl migrate --json and
 * maintenance --wait --json print them (what they remember from earlier
 * events, the stream remembers here). */
struct job;
void	 http_events_job(struct job *, const Ferry__JobEvent *);
void	 http_events_drain(struct coord *, const char *event,
	    const Ferry__DrainInfo *);
struct http_events;
struct http_events *http_events_of(struct http *);	/* NULL: off */
struct http_events *http_events_new(size_t capacity);
void	 http_events_free(struct http_events *);
void	 http_events_close(struct http_events *);	/* wakes the readers */
/* Next event after id last: its id, its text (malloc'd, "id: ..\nevent:
 * ..\ndata: ..\n\n") in *out; 0 when none came in wait_ms; -1 closed. */
int64_t	 http_events_next(struct http_events *, int64_t last, int wait_ms,
	    char **out);

/* http_api.c: the /v1 resources */
extern const struct http_route http_api_routes[];
extern const size_t http_api_nroutes;

/* http_openapi.c (made from docs/openapi.json by the Makefile) */
extern const char http_openapi_json[];

#endif
