/* audit.c: the audit trail. Every command that acts (migrate, abort,
 * maintenance enter/cancel/exit, rebalance --apply, hosts accept), from
 * ferryctl (the peer's uid, SO_PEERCRED) or from the HTTPS API (the
 * token's name), is written to the store before it acts, outcome
 * "pending", and completed once with its outcome: "accepted" with the job
 * or run it started or acted on, or "refused" with the refusal, even when
 * the caller went away before the answer. A call nothing ever answered is
 * made final when its client is freed (control.c): "client-gone", or
 * "interrupted" when the coordinator stopped first. A command whose row
 * cannot be written is refused: nothing acts unrecorded. */
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "coordinator.h"
#include "log.h"

/* The name a ctl call is recorded under; NULL: it does not act. */
const char *
audit_ctl_what(uint16_t type, const ProtobufCMessage *m)
{
	const Ferry__MaintenanceRequest *mr;
	const Ferry__RebalanceRequest *rr;

	switch (type) {
	case MSG_CTL_MIGRATE:
		return "migrate";
	case MSG_CTL_ABORT:
		return "abort";
	case MSG_CTL_MAINT_ENTER:
		/* A dry run plans and moves nothing. An undecodable request
		 * (m NULL) is recorded: its refusal is what happened. */
		mr = (const Ferry__MaintenanceRequest *)m;
		if (mr != NULL && mr->has_dry_run && mr->dry_run)
			return NULL;
		return "maintenance-enter";
	case MSG_CTL_MAINT_CANCEL:
		return "maintenance-cancel";
	case MSG_CTL_MAINT_EXIT:
		return "maintenance-exit";
	case MSG_CTL_REBALANCE:
		rr = (const Ferry__RebalanceRequest *)m;
		if (rr != NULL && !(rr->has_apply && rr->apply))
			return NULL;
		return "rebalance-apply";
	case MSG_CTL_HOST_ACCEPT:
		return "host-accept";
	default:
		return NULL;
	}
}

/* The request's scalar fields that are set, as a JSON object (malloc'd;
 * NULL when there are none or no memory): what the operator asked, as
 * asked. Repeated and nested fields are not part of any acting request. */
char *
audit_args_json(const ProtobufCMessage *m)
{
	const ProtobufCMessageDescriptor *d;
	const ProtobufCFieldDescriptor *f;
	struct json_object *o, *v;
	const char *base = (const char *)m, *s;
	char *out = NULL;
	unsigned i;

	if (m == NULL || (o = json_object_new_object()) == NULL)
		return NULL;
	d = m->descriptor;
	for (i = 0; i < d->n_fields; i++) {
		f = &d->fields[i];
		if (f->label == PROTOBUF_C_LABEL_REPEATED)
			continue;
		if (f->label == PROTOBUF_C_LABEL_OPTIONAL &&
		    f->type != PROTOBUF_C_TYPE_STRING &&
		    f->type != PROTOBUF_C_TYPE_MESSAGE &&
		    !*(const protobuf_c_boolean *)(base + f->quantifier_offset))
			continue;
		v = NULL;
		switch (f->type) {
		case PROTOBUF_C_TYPE_STRING:
			if ((s = *(char *const *)(base + f->offset)) == NULL)
				continue;
			v = json_object_new_string(s);
			break;
		case PROTOBUF_C_TYPE_BOOL:
			v = json_object_new_boolean(
			    *(const protobuf_c_boolean *)(base + f->offset));
			break;
		case PROTOBUF_C_TYPE_UINT32:
			v = json_object_new_int64(
			    *(const uint32_t *)(base + f->offset));
			break;
		case PROTOBUF_C_TYPE_INT32:
			v = json_object_new_int(
			    *(const int32_t *)(base + f->offset));
			break;
		case PROTOBUF_C_TYPE_UINT64:
			v = json_object_new_int64((int64_t)
			    *(const uint64_t *)(base + f->offset));
			break;
		case PROTOBUF_C_TYPE_DOUBLE:
			v = json_object_new_double(
			    *(const double *)(base + f->offset));
			break;
		default:
			continue;
		}
		json_object_object_add(o, f->name, v);
	}
	if (json_object_object_length(o) > 0)
		out = strdup(json_object_to_json_string_ext(o,
		    JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
	return out;
}

/* A ctl peer as recorded: its user name, else "uid N". */
void
audit_ctl_who(uid_t uid, char *buf, size_t len)
{
	struct passwd pw, *res = NULL;
	char tmp[1024];

	if (getpwuid_r(uid, &pw, tmp, sizeof(tmp), &res) == 0 &&
	    res != NULL)
		snprintf(buf, len, "%s", pw.pw_name);
	else
		snprintf(buf, len, "uid %ld", (long)uid);
}

int
audit_begin(struct coord *co, const struct audit_who *who, const char *what,
    const char *args, int64_t *id, char *err, size_t errlen)
{
	struct store_audit a;

	memset(&a, 0, sizeof(a));
	a.time_ms = clock_wall_ms();
	snprintf(a.via, sizeof(a.via), "%s", who->via);
	snprintf(a.who, sizeof(a.who), "%s", who->who);
	a.has_uid = who->has_uid;
	a.uid = who->uid;
	a.pid = who->pid;
	if (who->node != NULL)
		snprintf(a.node, sizeof(a.node), "%s", who->node);
	snprintf(a.what, sizeof(a.what), "%s", what);
	a.args = (char *)args;
	if (store_audit_insert(co->store, &a) < 0) {
		snprintf(err, errlen, "cannot record it in the audit trail: %s",
		    store_error(co->store));
		log_warnx("audit: %s by %s (%s): %s", what, who->who, who->via,
		    err);
		return -1;
	}
	*id = a.id;
	return 0;
}

/* A failure here is logged: the command has acted by now. */
void
audit_end(struct coord *co, int64_t id, const char *outcome, int64_t job_id,
    const char *message)
{
	if (id <= 0)
		return;
	if (store_audit_end(co->store, id, outcome, job_id, message,
	    clock_wall_ms()) < 0)
		log_warnx("audit: entry %lld: cannot record its outcome %s: %s",
		    (long long)id, outcome, store_error(co->store));
}

/* The outcome a reply tells: the job it started or acted on, or a drain
 * view that says it was refused. */
void
audit_end_reply(struct coord *co, int64_t id, const ProtobufCMessage *m)
{
	const ProtobufCMessageDescriptor *d = m != NULL ? m->descriptor : NULL;
	const char *outcome = "accepted", *msg = NULL;
	int64_t job = 0;

	if (d == &ferry__job_info__descriptor) {
		const Ferry__JobInfo *ji = (const Ferry__JobInfo *)m;

		job = (int64_t)ji->id;
		msg = ji->error;
	} else if (d == &ferry__drain_info__descriptor) {
		const Ferry__DrainInfo *di = (const Ferry__DrainInfo *)m;

		job = (int64_t)di->id;
		msg = di->message;
		if (di->state != NULL && strcmp(di->state, "refused") == 0)
			outcome = "refused";
	} else if (d == &ferry__rebalance_reply__descriptor) {
		const Ferry__RebalanceReply *rr = (const Ferry__RebalanceReply *)m;

		job = rr->has_drain_id ? (int64_t)rr->drain_id : 0;
		msg = rr->message;
	}
	audit_end(co, id, outcome, job, msg);
}

/* One call for a command whose outcome is known at once (the API's). */
int
audit_record(struct coord *co, const struct audit_who *who, const char *what,
    const char *args, const char *outcome, int64_t job_id,
    const char *message)
{
	char err[512];
	int64_t id;

	if (audit_begin(co, who, what, args, &id, err, sizeof(err)) < 0)
		return -1;
	audit_end(co, id, outcome, job_id, message);
	return 0;
}
