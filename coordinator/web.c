/* web.c: what the HTTPS server serves besides the /v1 resources
 * (http_api.c): the web view's files (www.c) at /, the metrics (metrics.c)
 * at /metrics, and the audit trail (audit.c) at /v1/audit. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coordinator.h"
#include "http.h"
#include "jsonv.h"
#include "log.h"

#define WEB_METRICS_TYPE	"text/plain; version=0.0.4; charset=utf-8"

/* The web view's files, set before the HTTP threads start and never
 * changed while they run (the coordinator's own state is the loop's). */
static const struct www *web_www;

/* On the HTTP thread. */
static void
web_file(struct http_req *r)
{
	const struct www_file *f = www_find(web_www, http_req_path(r));
	char *body;

	if (f == NULL) {
		http_reply_error(r, 404, "not_found", "no web view here "
		    "(http.www: where its files are)");
		return;
	}
	if ((body = malloc(f->len ? f->len : 1)) == NULL) {
		http_reply_error(r, 500, "internal", "out of memory");
		return;
	}
	memcpy(body, f->data, f->len);
	http_reply_raw(r, 200, f->type, body, f->len);
}

/* On the loop: the figures are the loop's. */
static void
web_metrics(struct http_req *r)
{
	size_t len;
	char *text;

	if ((text = metrics_render(http_req_coord(r), &len)) == NULL) {
		http_reply_error(r, 500, "internal", "out of memory");
		return;
	}
	http_reply_raw(r, 200, WEB_METRICS_TYPE, text, len);
}

/* A query number: 0 when absent, -1 (answered 400) when not a number. */
static int
web_query_u64(struct http_req *r, const char *key, uint64_t *v)
{
	const char *s = http_req_query(r, key);
	char *end;

	*v = 0;
	if (s == NULL)
		return 0;
	errno = 0;
	*v = strtoull(s, &end, 10);
	if (*s < '0' || *s > '9' || *end != '\0' || errno != 0) {
		http_reply_error(r, 400, "bad_request", "%s must be a number",
		    key);
		return -1;
	}
	return 0;
}

/* GET /v1/audit[?since_ms=MS][&limit=N]: as ferryctl audit --json. */
static void
web_audit(struct http_req *r)
{
	struct coord *co = http_req_coord(r);
	Ferry__AuditReply rep = FERRY__AUDIT_REPLY__INIT;
	Ferry__AuditEntry *es = NULL, **v = NULL;
	struct store_audit *a = NULL;
	struct json_object *o;
	uint64_t since, limit;
	size_t n = 0, i;

	if (web_query_u64(r, "since_ms", &since) < 0 ||
	    web_query_u64(r, "limit", &limit) < 0)
		return;
	if (store_audit_list(co->store, since, limit ? limit : 200, &a,
	    &n) < 0) {
		http_reply_error(r, 500, "internal", "%s",
		    store_error(co->store));
		return;
	}
	if (n && ((es = calloc(n, sizeof(*es))) == NULL ||
	    (v = calloc(n, sizeof(*v))) == NULL)) {
		http_reply_error(r, 500, "internal", "out of memory");
		goto done;
	}
	for (i = 0; i < n; i++)
		v[i] = api_audit_entry(&a[i], &es[i]);
	rep.entries = v;
	rep.n_entries = n;
	if ((o = jsonv_audit(&rep)) == NULL)
		http_reply_error(r, 500, "internal", "out of memory");
	else
		http_reply_json(r, 200, o);
done:
	free(es);
	free(v);
	store_audit_list_free(a, n);
}

#define WEB_FILES \
	{ "GET", "/", web_file, HTTP_ROLE_NONE, HTTP_THREAD }, \
	{ "GET", "/index.html", web_file, HTTP_ROLE_NONE, HTTP_THREAD }, \
	{ "GET", "/ferry.css", web_file, HTTP_ROLE_NONE, HTTP_THREAD }, \
	{ "GET", "/ferry.js", web_file, HTTP_ROLE_NONE, HTTP_THREAD }, \
	{ "GET", "/v1/audit", web_audit, HTTP_ROLE_READ, 0 }

/* /metrics behind a read token (the default), or open to any scraper
 * that reaches the port (http.metrics_token = false). */
static const struct http_route web_routes[] = {
	WEB_FILES,
	{ "GET", "/metrics", web_metrics, HTTP_ROLE_READ, 0 },
};
static const struct http_route web_routes_open[] = {
	WEB_FILES,
	{ "GET", "/metrics", web_metrics, HTTP_ROLE_NONE, 0 },
};

/* Before http_start: the web view's files from http.www, and the routes.
 * Nothing when the HTTPS API is off. A directory that lacks them is an
 * error: the page would be half there. */
int
web_start(struct coord *co, char *err, size_t errlen)
{
	const struct coord_http_conf *hc = &co->conf.http;
	int rc;

	if (!hc->enabled)
		return 0;
	if (www_load(co, hc->www[0] ? hc->www : WWW_DEFAULT_DIR, err,
	    errlen) < 0)
		return -1;
	web_www = co->www;
	rc = hc->metrics_token ? http_register(web_routes,
	    sizeof(web_routes) / sizeof(web_routes[0])) :
	    http_register(web_routes_open,
	    sizeof(web_routes_open) / sizeof(web_routes_open[0]));
	if (rc < 0) {
		snprintf(err, errlen, "http: too many route tables");
		return -1;
	}
	return 0;
}
