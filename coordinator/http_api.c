/*
 * http_api.c: the /v1 resources of the HTTPS API. Each is the control
 * socket's call of the same name (api.c's handlers, through a client of
 * control.c whose replies come back here instead of going to a socket),
 * so the API and ferryctl share every check and every refusal; the reply
 * is rendered as ferryctl --json prints it (common/jsonv.c, on the HTTP
 * thread). The handlers run on the loop.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "converge.h"
#include "coordinator.h"
#include "http.h"
#include "jsonv.h"
#include "migopts.h"
#include "log.h"
#include "validate.h"

/* One call through the control handlers. */
struct http_call {
	struct http_req			*req;
	struct ctl_client		*ctl;
	uint16_t			 type;
	const ProtobufCMessageDescriptor *reply;
	struct json_object		*(*render)(const ProtobufCMessage *);
	int				 ok_status;
	int				 answered;
	int				 deferred;	/* answered after the call */
};

/* The status of a refusal, from its Ferry.Error code (msg.h's FERRY_E*);
 * the message goes back as the handlers wrote it. */
static void
http_api_refuse(struct http_req *r, int code, const char *msg)
{
	switch (code) {
	case FERRY_ENOTFOUND:
		http_reply_error(r, 404, "not_found", "%s", msg);
		break;
	case FERRY_ECONFLICT:
		http_reply_error(r, 409, "conflict", "%s", msg);
		break;
	case FERRY_EINTERNAL:
	case ENOMEM:
		http_reply_error(r, 500, "internal", "%s", msg);
		break;
	default:
		http_reply_error(r, 400, "bad_request", "%s", msg);
		break;
	}
}

static void
http_call_finish(struct http_call *c)
{
	control_client_sink_close(c->ctl);
	free(c);
}

/* The control handler's reply (now or later); events are not wanted. */
static void
http_call_sink(void *arg, const struct frame *f)
{
	struct http_call *c = arg;
	Ferry__Error *e;

	if (c->answered || f->hdr.kind != FRAME_REPLY)
		return;
	c->answered = 1;
	if (f->hdr.status == FRAME_ERROR) {
		e = (Ferry__Error *)frame_unpack(f, &ferry__error__descriptor);
		http_api_refuse(c->req, e ? e->code : EINVAL,
		    e ? e->message : "refused");
		if (e)
			ferry__error__free_unpacked(e, NULL);
		if (c->deferred)
			http_call_finish(c);
		return;
	}
	/* Rendered on the HTTP thread: a large reply (hosts at 2,000
	 * hosts) costs the loop what it costs for ferryctl. */
	http_reply_proto(c->req, c->ok_status, c->reply, c->render,
	    f->payload, f->hdr.len);
	/* Whoever wrote this holds its own reference to the client. */
	if (c->deferred)
		http_call_finish(c);
}

static void
http_call_abandoned(struct http_req *r, void *arg)
{
	(void)r;
	http_call_finish(arg);
}

/*
 * Runs msg through the control handler of type, as a call from ferryctl
 * would. The reply renders with render and answers ok_status; a refusal
 * answers the status its message says.
 */
static void
http_api_call(struct http_req *r, uint16_t type, const ProtobufCMessage *msg,
    const ProtobufCMessageDescriptor *reply,
    struct json_object *(*render)(const ProtobufCMessage *), int ok_status)
{
	struct coord *co = http_req_coord(r);
	struct http_call *c;
	struct frame f;
	char err[1024];
	uint8_t *buf = NULL;
	size_t len;
	int rc;

	if ((c = calloc(1, sizeof(*c))) == NULL ||
	    (c->ctl = control_client_sink(co, http_call_sink, c)) == NULL) {
		free(c);
		http_reply_error(r, 500, "internal", "out of memory");
		return;
	}
	c->req = r;
	c->type = type;
	c->reply = reply;
	c->render = render;
	c->ok_status = ok_status;
	len = protobuf_c_message_get_packed_size(msg);
	if (len > 0 && (buf = malloc(len)) == NULL) {
		http_reply_error(r, 500, "internal", "out of memory");
		http_call_finish(c);
		return;
	}
	if (len > 0)
		protobuf_c_message_pack(msg, buf);
	memset(&f, 0, sizeof(f));
	f.hdr.len = (uint32_t)len;
	f.hdr.version = FERRY_PROTO_VERSION;
	f.hdr.type = type;
	f.hdr.serial = 1;
	f.hdr.kind = FRAME_CALL;
	f.hdr.status = FRAME_OK;
	f.payload = buf;
	/* Through the audit trail, under the token's name. */
	if ((rc = control_dispatch(c->ctl, &f, http_req_token(r), err,
	    sizeof(err))) < 0 && !c->answered) {
		c->answered = 1;
		http_api_refuse(r, control_code(rc), err);
	}
	free(buf);
	if (c->answered) {
		http_call_finish(c);
		return;
	}
	/* Answered later (checks, drains): the sink answers; the request
	 * given up first closes the call. */
	c->deferred = 1;
	http_req_on_abandon(r, http_call_abandoned, c);
}

/* ---- request bodies ----------------------------------------------------- */

/* The body's keys, checked against what the resource takes: an unknown
 * key is an error (a typo must not pass as a default). */
static int
http_api_keys(struct http_req *r, struct json_object *o,
    const char *const *keys)
{
	size_t i;

	json_object_object_foreach(o, k, v) {
		(void)v;
		for (i = 0; keys[i] != NULL; i++)
			if (strcmp(keys[i], k) == 0)
				break;
		if (keys[i] == NULL) {
			http_reply_error(r, 400, "bad_request",
			    "unknown field '%s'", k);
			return -1;
		}
	}
	return 0;
}

static int
http_api_str(struct http_req *r, struct json_object *o, const char *key,
    int required, const char **out)
{
	struct json_object *v;

	*out = NULL;
	if (!json_object_object_get_ex(o, key, &v) || json_object_is_type(v,
	    json_type_null)) {
		if (!required)
			return 0;
		http_reply_error(r, 400, "bad_request", "'%s' is required", key);
		return -1;
	}
	if (!json_object_is_type(v, json_type_string) ||
	    json_object_get_string_len(v) == 0) {
		http_reply_error(r, 400, "bad_request", "'%s' must be a "
		    "non-empty string", key);
		return -1;
	}
	*out = json_object_get_string(v);
	return 0;
}

/* *has: given. A number in [min, max], integral. */
static int
http_api_uint(struct http_req *r, struct json_object *o, const char *key,
    uint64_t min, uint64_t max, int *has, uint64_t *out)
{
	struct json_object *v;
	int64_t n;

	*has = 0;
	if (!json_object_object_get_ex(o, key, &v) || json_object_is_type(v,
	    json_type_null))
		return 0;
	if (!json_object_is_type(v, json_type_int) ||
	    (n = json_object_get_int64(v)) < 0 || (uint64_t)n < min ||
	    (uint64_t)n > max) {
		http_reply_error(r, 400, "bad_request", "'%s' must be an "
		    "integer from %" PRIu64 " to %" PRIu64 ", not %s", key, min,
		    max, json_object_to_json_string_ext(v,
		    JSON_C_TO_STRING_PLAIN));
		return -1;
	}
	*has = 1;
	*out = (uint64_t)n;
	return 0;
}

static int
http_api_bool(struct http_req *r, struct json_object *o, const char *key,
    int *has, int *out)
{
	struct json_object *v;

	*has = 0;
	if (!json_object_object_get_ex(o, key, &v) || json_object_is_type(v,
	    json_type_null))
		return 0;
	if (!json_object_is_type(v, json_type_boolean)) {
		http_reply_error(r, 400, "bad_request", "'%s' must be true or "
		    "false", key);
		return -1;
	}
	*has = 1;
	*out = json_object_get_boolean(v);
	return 0;
}

/* A job id in the path. */
static int
http_api_id(struct http_req *r, uint64_t *id)
{
	const char *s = http_req_param(r, 0);
	char *end;

	errno = 0;
	*id = s && *s >= '0' && *s <= '9' ? strtoull(s, &end, 10) : 0;
	if (s == NULL || errno || *id == 0 || *id > INT64_MAX || *end) {
		http_reply_error(r, 404, "not_found", "no job '%s'", s ? s : "");
		return -1;
	}
	return 0;
}

/* ---- renderings behind one signature ------------------------------------ */

#define RENDER(name, fn, type)						\
static struct json_object *						\
http_api_render_##name(const ProtobufCMessage *m)			\
{									\
	return fn((const type *)(const void *)m);			\
}
RENDER(hosts, jsonv_hosts, Ferry__HostsReply)
RENDER(vms, jsonv_vms, Ferry__VmsReply)
RENDER(jobs, jsonv_jobs, Ferry__JobsReply)
RENDER(job, jsonv_job_detail, Ferry__JobReply)
RENDER(job_info, jsonv_job, Ferry__JobInfo)
RENDER(check, jsonv_check, Ferry__CheckReply)
RENDER(drain, jsonv_drain, Ferry__DrainInfo)
RENDER(rebalance, jsonv_rebalance, Ferry__RebalanceReply)
#undef RENDER

/* ---- the resources ------------------------------------------------------ */

static void
http_api_hosts(struct http_req *r)
{
	Ferry__HostsRequest q = FERRY__HOSTS_REQUEST__INIT;

	http_api_call(r, MSG_CTL_HOSTS, &q.base, &ferry__hosts_reply__descriptor,
	    http_api_render_hosts, 200);
}

static void
http_api_vms(struct http_req *r)
{
	Ferry__VmsRequest q = FERRY__VMS_REQUEST__INIT;

	q.host = (char *)http_req_query(r, "host");
	http_api_call(r, MSG_CTL_VMS, &q.base, &ferry__vms_reply__descriptor,
	    http_api_render_vms, 200);
}

static void
http_api_jobs(struct http_req *r)
{
	Ferry__JobsRequest q = FERRY__JOBS_REQUEST__INIT;
	const char *s;
	char *end;
	unsigned long long v;

	if ((s = http_req_query(r, "all")) != NULL) {
		if (strcmp(s, "1") && strcmp(s, "true")) {
			http_reply_error(r, 400, "bad_request",
			    "all must be 1 or true");
			return;
		}
		q.has_all = q.all = 1;
	}
	if ((s = http_req_query(r, "limit")) != NULL) {
		errno = 0;
		v = strtoull(s, &end, 10);
		if (*s < '0' || *s > '9' || *end || errno || v > UINT32_MAX) {
			http_reply_error(r, 400, "bad_request",
			    "limit must be a number");
			return;
		}
		q.has_limit = 1;
		q.limit = (uint32_t)v;
	}
	http_api_call(r, MSG_CTL_JOBS, &q.base, &ferry__jobs_reply__descriptor,
	    http_api_render_jobs, 200);
}

static void
http_api_job(struct http_req *r)
{
	Ferry__JobRequest q = FERRY__JOB_REQUEST__INIT;

	if (http_api_id(r, &q.id) < 0)
		return;
	http_api_call(r, MSG_CTL_JOB, &q.base, &ferry__job_reply__descriptor,
	    http_api_render_job, 200);
}

static void
http_api_abort(struct http_req *r)
{
	Ferry__JobRequest q = FERRY__JOB_REQUEST__INIT;

	if (http_api_id(r, &q.id) < 0)
		return;
	http_api_call(r, MSG_CTL_ABORT, &q.base, &ferry__job_info__descriptor,
	    http_api_render_job_info, 202);
}

/* The members a migration and its check share, with ferryctl's ranges
 * (migopts.c): 0, or -1 with the error answered. */
static int
http_api_migopts(struct http_req *r, struct json_object *o,
    struct migopts *mo)
{
	uint64_t v;
	int has, b;

	memset(mo, 0, sizeof(*mo));
	if (http_api_str(r, o, "vm", 1, &mo->vm) < 0 ||
	    http_api_str(r, o, "to", 0, &mo->to) < 0)
		return -1;
	if (http_api_uint(r, o, "bandwidth_mib", 1,
	    VALIDATE_MAX_BANDWIDTH_MIBS, &has, &v) < 0)
		return -1;
	mo->has_bandwidth = has;
	mo->bandwidth_mibs = v;
	if (http_api_uint(r, o, "max_downtime_ms", 1, VALIDATE_MAX_DOWNTIME_MS,
	    &has, &v) < 0)
		return -1;
	mo->has_max_downtime = has;
	mo->max_downtime_ms = (uint32_t)v;
	if (http_api_bool(r, o, "copy_storage", &has, &b) < 0)
		return -1;
	mo->copy_storage = has && b;
	if (http_api_uint(r, o, "parallel", 1, VALIDATE_PARALLEL_MAX, &has,
	    &v) < 0)
		return -1;
	mo->has_parallel = has;
	mo->parallel = (uint32_t)v;
	if (http_api_bool(r, o, "tls", &has, &b) < 0)
		return -1;
	mo->tls = has ? (b ? 1 : -1) : 0;
	return 0;
}

/* postcopy: true or false (--postcopy, --no-postcopy), or a mode as
 * --postcopy=MODE takes; *out as MigrateOptions.postcopy, 0 not given. */
static int
http_api_postcopy(struct http_req *r, struct json_object *o, int *out)
{
	struct json_object *v;

	*out = 0;
	if (!json_object_object_get_ex(o, "postcopy", &v) ||
	    json_object_is_type(v, json_type_null))
		return 0;
	if (json_object_is_type(v, json_type_boolean)) {
		*out = json_object_get_boolean(v) ? 1 : -1;
		return 0;
	}
	if (json_object_is_type(v, json_type_string) &&
	    (*out = converge_postcopy_mode(json_object_get_string(v))) != 0)
		return 0;
	http_reply_error(r, 400, "bad_request", "'postcopy' must be true, "
	    "false, \"never\", \"stalled\" or \"always\", not %s",
	    json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN));
	return -1;
}

static void
http_api_migrate(struct http_req *r)
{
	static const char *const keys[] = { "vm", "to", "bandwidth_mib",
	    "max_downtime_ms", "timeout_s", "postcopy", "auto_converge",
	    "copy_storage", "parallel", "tls", NULL };
	Ferry__MigrateOptions q = FERRY__MIGRATE_OPTIONS__INIT;
	struct migopts mo;
	struct json_object *o;
	uint64_t v;
	int has, b;

	if ((o = http_req_json(r)) == NULL || http_api_keys(r, o, keys) < 0 ||
	    http_api_migopts(r, o, &mo) < 0)
		return;
	migopts_to_migrate(&mo, &q);
	if (http_api_uint(r, o, "timeout_s", 1, VALIDATE_MAX_TIMEOUT_S, &has,
	    &v) < 0)
		return;
	q.has_timeout_s = has;
	q.timeout_s = (uint32_t)v;
	if (http_api_postcopy(r, o, &q.postcopy) < 0)
		return;
	q.has_postcopy = q.postcopy != 0;
	if (http_api_bool(r, o, "auto_converge", &has, &b) < 0)
		return;
	q.has_auto_converge = has && b;
	q.auto_converge = b;
	q.has_wait = 1;
	q.wait = 0;	/* its events go to /v1/events */
	http_api_call(r, MSG_CTL_MIGRATE, &q.base, &ferry__job_info__descriptor,
	    http_api_render_job_info, 202);
}

static void
http_api_check(struct http_req *r)
{
	static const char *const keys[] = { "vm", "to", "bandwidth_mib",
	    "max_downtime_ms", "copy_storage", "parallel", "tls", NULL };
	Ferry__CheckRequest q = FERRY__CHECK_REQUEST__INIT;
	struct migopts mo;
	struct json_object *o;

	if ((o = http_req_json(r)) == NULL || http_api_keys(r, o, keys) < 0 ||
	    http_api_migopts(r, o, &mo) < 0)
		return;
	migopts_to_check(&mo, &q);
	http_api_call(r, MSG_CTL_CHECK, &q.base, &ferry__check_reply__descriptor,
	    http_api_render_check, 200);
}

static void
http_api_maintenance(struct http_req *r)
{
	static const char *const keys[] = { "action", "dry_run", "force",
	    "max_parallel", "restore", "copy_storage", NULL };
	Ferry__MaintenanceRequest q = FERRY__MAINTENANCE_REQUEST__INIT;
	struct json_object *o;
	const char *action;
	uint16_t type;
	uint64_t v;
	int has, b;

	if ((o = http_req_json(r)) == NULL || http_api_keys(r, o, keys) < 0 ||
	    http_api_str(r, o, "action", 1, &action) < 0)
		return;
	if (strcmp(action, "enter") == 0)
		type = MSG_CTL_MAINT_ENTER;
	else if (strcmp(action, "cancel") == 0)
		type = MSG_CTL_MAINT_CANCEL;
	else if (strcmp(action, "exit") == 0)
		type = MSG_CTL_MAINT_EXIT;
	else {
		http_reply_error(r, 400, "bad_request", "action must be enter, "
		    "cancel or exit");
		return;
	}
	q.host = (char *)http_req_param(r, 0);
	if (http_api_bool(r, o, "dry_run", &has, &b) < 0)
		return;
	q.has_dry_run = has;
	q.dry_run = b;
	if (http_api_bool(r, o, "force", &has, &b) < 0)
		return;
	q.has_force = has;
	q.force = b;
	if (http_api_bool(r, o, "restore", &has, &b) < 0)
		return;
	q.has_restore = has;
	q.restore = b;
	if (http_api_bool(r, o, "copy_storage", &has, &b) < 0)
		return;
	q.has_copy_storage = has;
	q.copy_storage = b;
	if (http_api_uint(r, o, "max_parallel", 0, 64, &has, &v) < 0)
		return;
	q.has_max_parallel = has;
	q.max_parallel = (uint32_t)v;
	q.has_wait = 1;
	q.wait = 0;	/* its events go to /v1/events */
	http_api_call(r, type, &q.base, &ferry__drain_info__descriptor,
	    http_api_render_drain, type == MSG_CTL_MAINT_ENTER && !q.dry_run ?
	    202 : 200);
}

static void
http_api_rebalance(struct http_req *r, int apply)
{
	Ferry__RebalanceRequest q = FERRY__REBALANCE_REQUEST__INIT;
	static const char *const keys[] = { "policy", "max_moves", "objective",
	    NULL };
	struct json_object *o = NULL;
	const char *s;
	uint64_t v;
	int has;

	if (apply) {
		if ((o = http_req_json(r)) == NULL ||
		    http_api_keys(r, o, keys) < 0 ||
		    http_api_str(r, o, "policy", 0, &s) < 0)
			return;
		q.policy = (char *)s;
		if (http_api_str(r, o, "objective", 0, &s) < 0)
			return;
		q.objective = (char *)s;
		if (http_api_uint(r, o, "max_moves", 0, UINT32_MAX, &has, &v) < 0)
			return;
		q.has_max_moves = has;
		q.max_moves = (uint32_t)v;
	} else {
		q.policy = (char *)http_req_query(r, "policy");
		q.objective = (char *)http_req_query(r, "objective");
		if ((s = http_req_query(r, "max_moves")) != NULL) {
			char *end;

			errno = 0;
			v = strtoull(s, &end, 10);
			if (*s < '0' || *s > '9' || *end || errno ||
			    v > UINT32_MAX) {
				http_reply_error(r, 400, "bad_request",
				    "max_moves must be a number");
				return;
			}
			q.has_max_moves = 1;
			q.max_moves = (uint32_t)v;
		}
	}
	q.has_apply = 1;
	q.apply = apply;
	q.has_wait = 1;
	q.wait = 0;
	http_api_call(r, MSG_CTL_REBALANCE, &q.base,
	    &ferry__rebalance_reply__descriptor, http_api_render_rebalance,
	    apply ? 202 : 200);
}

static void
http_api_rebalance_plan(struct http_req *r)
{
	http_api_rebalance(r, 0);
}

static void
http_api_rebalance_apply(struct http_req *r)
{
	http_api_rebalance(r, 1);
}

/* The OpenAPI document (http_openapi.c), on the HTTP thread. */
static void
http_api_openapi(struct http_req *r)
{
	char *doc = strdup(http_openapi_json);

	if (doc == NULL) {
		http_reply_error(r, 500, "internal", "out of memory");
		return;
	}
	http_reply_raw(r, 200, "application/json", doc, strlen(doc));
}

const struct http_route http_api_routes[] = {
	{ "GET", "/v1/hosts", http_api_hosts, HTTP_ROLE_READ, 0 },
	{ "GET", "/v1/vms", http_api_vms, HTTP_ROLE_READ, 0 },
	{ "GET", "/v1/jobs", http_api_jobs, HTTP_ROLE_READ, 0 },
	{ "GET", "/v1/jobs/{id}", http_api_job, HTTP_ROLE_READ, 0 },
	{ "POST", "/v1/jobs/{id}/abort", http_api_abort, HTTP_ROLE_OPERATE, 0 },
	{ "POST", "/v1/migrations", http_api_migrate, HTTP_ROLE_OPERATE, 0 },
	{ "POST", "/v1/checks", http_api_check, HTTP_ROLE_OPERATE, 0 },
	{ "POST", "/v1/hosts/{name}/maintenance", http_api_maintenance,
	    HTTP_ROLE_OPERATE, 0 },
	{ "GET", "/v1/rebalance/plan", http_api_rebalance_plan, HTTP_ROLE_READ,
	    0 },
	{ "POST", "/v1/rebalance/apply", http_api_rebalance_apply,
	    HTTP_ROLE_OPERATE, 0 },
	{ "GET", "/v1/events", NULL, HTTP_ROLE_READ, HTTP_EVENTS },
	{ "GET", "/v1/openapi.json", http_api_openapi, HTTP_ROLE_NONE,
	    HTTP_THREAD },
};
const size_t http_api_nroutes = sizeof(http_api_routes) /
    sizeof(http_api_routes[0]);
