/* dispatch.c: bounds-checked, table-driven dispatch of received frames. */
#include <errno.h>
#include <stdio.h>

#include "msg.h"

/* The row for type, or NULL when type is outside the table or unassigned. */
const struct dispatch_entry *
dispatch_lookup(const struct dispatch_entry *table, size_t n, uint16_t type)
{
	if (type >= n || table[type].fn == NULL || table[type].req == NULL)
		return NULL;
	return &table[type];
}

/*
 * Unpacks f's payload as its row says and calls the handler. Returns 0,
 * the handler's refusal (-1 or a negative errno, err set), or -1 with err
 * set when the type is unknown, the session is not authenticated for it,
 * or the payload does not parse.
 */
int
dispatch_frame(const struct dispatch_entry *table, size_t n, void *ctx,
    int authenticated, const struct frame *f, char *err, size_t errlen)
{
	const struct dispatch_entry *e;
	ProtobufCMessage *m;
	int rc;

	if (errlen == 0)
		return -1;
	if (f->hdr.kind == FRAME_REPLY || f->hdr.status != FRAME_OK) {
		snprintf(err, errlen, "%s frame is not a call or event",
		    msg_type_name(f->hdr.type));
		return -1;
	}
	if ((e = dispatch_lookup(table, n, f->hdr.type)) == NULL) {
		snprintf(err, errlen, "unknown message type %u", f->hdr.type);
		return -1;
	}
	if ((e->flags & DISPATCH_AUTH) && !authenticated) {
		snprintf(err, errlen, "%s before hello", e->name);
		return -1;
	}
	if ((m = frame_unpack(f, e->req)) == NULL) {
		snprintf(err, errlen, "malformed %s payload", e->name);
		return -1;
	}
	err[0] = '\0';
	rc = e->fn(ctx, &f->hdr, m, err, errlen);
	if (rc < 0 && err[0] == '\0')
		snprintf(err, errlen, "%s failed", e->name);
	if (rc != 1)
		protobuf_c_message_free_unpacked(m, NULL);
	return rc < 0 ? rc : 0;
}

const char *
msg_type_name(uint16_t type)
{
	switch (type) {
	case MSG_HELLO:		return "hello";
	case MSG_INVENTORY:	return "inventory";
	case MSG_HEARTBEAT:	return "heartbeat";
	case MSG_DOMAIN_STATE:	return "domain-state";
	case MSG_PRECHECK_SOURCE: return "precheck-source";
	case MSG_PRECHECK_DEST:	return "precheck-dest";
	case MSG_STORAGE_CLEANUP: return "storage-cleanup";
	case MSG_DIRTY_RATE:	return "dirty-rate";
	case MSG_MIGRATE:	return "migrate";
	case MSG_MIGRATE_PROGRESS: return "migrate-progress";
	case MSG_MIGRATE_DONE:	return "migrate-done";
	case MSG_ABORT:		return "abort";
	case MSG_JOB_QUERY:	return "job-query";
	case MSG_DESTROY_LEFTOVER: return "destroy-leftover";
	case MSG_HOST_CPU:	return "host-cpu";
	case MSG_CPU_BASELINE:	return "cpu-baseline";
	case MSG_CPU_COMPARE:	return "cpu-compare";
	case MSG_UNDEFINE_LEFTOVER: return "undefine-leftover";
	case MSG_EPOCH:		return "epoch";
	case MSG_CTL_STATUS:	return "ctl-status";
	case MSG_JOB_CONTROL:	return "job-control";
	case MSG_CTL_HOSTS:	return "hosts";
	case MSG_CTL_VMS:	return "vms";
	case MSG_CTL_MIGRATE:	return "ctl-migrate";
	case MSG_CTL_CHECK:	return "ctl-check";
	case MSG_CTL_JOBS:	return "ctl-jobs";
	case MSG_CTL_JOB:	return "ctl-job";
	case MSG_CTL_ABORT:	return "ctl-abort";
	case MSG_CTL_WATCH:	return "ctl-watch";
	case MSG_CTL_JOB_EVENT:	return "ctl-job-event";
	case MSG_CTL_MAINT_ENTER: return "ctl-maintenance-enter";
	case MSG_CTL_MAINT_CANCEL: return "ctl-maintenance-cancel";
	case MSG_CTL_MAINT_EXIT: return "ctl-maintenance-exit";
	case MSG_CTL_DRAIN_EVENT: return "ctl-drain-event";
	case MSG_CTL_REBALANCE:	return "ctl-rebalance";
	case MSG_CTL_SNAPSHOT:	return "ctl-snapshot";
	case MSG_CTL_HOST_ACCEPT: return "ctl-host-accept";
	case MSG_CTL_PLACE:	return "ctl-place";
	case MSG_CTL_CPU_BASELINE: return "ctl-cpu-baseline";
	case MSG_CTL_AUDIT:	return "ctl-audit";
	case MSG_CTL_METRICS:	return "ctl-metrics";
	case MSG_CTL_JOB_CONTROL: return "ctl-job-control";
	default:		return "unknown";
	}
}
