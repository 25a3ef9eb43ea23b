/* auditjson.c: an audit entry as JSON, the one shape of `ferryctl audit
 * --json` and of the HTTPS API's GET /v1/audit. */
#include <json-c/json.h>

#include "auditjson.h"

static struct json_object *
auditjson_str(const char *s)
{
	return s != NULL ? json_object_new_string(s) : NULL;
}

/* A new object (the caller owns it); NULL fields are JSON null. */
struct json_object *
auditjson_entry(const Ferry__AuditEntry *e)
{
	struct json_object *o;

	if ((o = json_object_new_object()) == NULL)
		return NULL;
	json_object_object_add(o, "id", json_object_new_int64((int64_t)e->id));
	json_object_object_add(o, "time_ms",
	    json_object_new_int64((int64_t)e->time_ms));
	json_object_object_add(o, "via", auditjson_str(e->via));
	json_object_object_add(o, "who", auditjson_str(e->who));
	json_object_object_add(o, "uid", e->has_uid ?
	    json_object_new_int64(e->uid) : NULL);
	json_object_object_add(o, "pid", e->has_pid ?
	    json_object_new_int64(e->pid) : NULL);
	json_object_object_add(o, "what", auditjson_str(e->what));
	/* The request's fields as an object, not a string in a string. */
	json_object_object_add(o, "args", e->args != NULL ?
	    json_tokener_parse(e->args) : NULL);
	json_object_object_add(o, "outcome", auditjson_str(e->outcome));
	json_object_object_add(o, "job_id", e->has_job_id ?
	    json_object_new_int64((int64_t)e->job_id) : NULL);
	json_object_object_add(o, "job_state", auditjson_str(e->job_state));
	json_object_object_add(o, "message", auditjson_str(e->message));
	json_object_object_add(o, "ended_ms", e->has_ended_ms ?
	    json_object_new_int64((int64_t)e->ended_ms) : NULL);
	return o;
}
