/* msg.h: message types carried in the envelope's type field, and the
 * dispatch table shape both daemons use (rows indexed by type, the way
 * libvirt's remote dispatch tables are). */
#ifndef FERRY_MSG_H
#define FERRY_MSG_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>

#include "ferry.pb-c.h"
#include "frame.h"

enum msg_type {
	MSG_NONE = 0,

	/* coordinator -> hostd calls, hostd -> coordinator events */
	MSG_HELLO = 1,		/* CALL Hello -> REPLY Inventory */
	MSG_INVENTORY = 2,	/* CALL Empty -> REPLY Inventory; EVENT Inventory */
	MSG_HEARTBEAT = 3,	/* EVENT Heartbeat (hostd -> coordinator) */
	MSG_DOMAIN_STATE = 4,	/* DomainRef -> DomainState */
	MSG_PRECHECK_SOURCE = 5, /* SourceCheckRequest -> SourceCheckReply */
	MSG_PRECHECK_DEST = 6,	/* DestCheckRequest -> DestCheckReply */
	MSG_STORAGE_CLEANUP = 7, /* StorageCleanup -> Empty */
	MSG_DIRTY_RATE = 8,	/* DirtyRateRequest -> DirtyRateReply */
	MSG_MIGRATE = 9,	/* MigrateRequest -> Empty (accepted) */
	MSG_MIGRATE_PROGRESS = 10, /* EVENT JobStats */
	MSG_MIGRATE_DONE = 11,	/* EVENT MigrateResult */
	MSG_ABORT = 12,		/* JobRef -> Empty */
	MSG_JOB_QUERY = 13,	/* JobRef -> MigrateResult (running or final) */
	MSG_DESTROY_LEFTOVER = 14, /* DestroyRequest -> DomainState */
	MSG_HOST_CPU = 15,	/* Empty -> HostCpuReply */
	MSG_CPU_BASELINE = 16,	/* CpuBaselineRequest -> CpuBaselineReply */
	MSG_CPU_COMPARE = 17,	/* CpuCompareRequest -> CpuCompareReply */
	MSG_UNDEFINE_LEFTOVER = 18, /* DestroyRequest -> DomainState */
	/* HA leadership (hostd/fence.c) */
	MSG_EPOCH = 22,		/* EpochRequest -> EpochReply; FERRY_EFENCED if lower */
	/* helper 8 (issue 13): control of a running job */
	MSG_JOB_CONTROL = 40,	/* JobControlRequest -> Empty */
	MSG_HOST_MAX,

	/* ferryctl -> coordinator */
	MSG_CTL_HOSTS = 100,	/* HostsRequest -> HostsReply */
	MSG_CTL_VMS = 101,	/* VmsRequest -> VmsReply */
	MSG_CTL_MIGRATE = 102,	/* MigrateOptions -> JobInfo, then JOB_EVENTs if wait */
	MSG_CTL_CHECK = 103,	/* CheckRequest -> CheckReply */
	MSG_CTL_JOBS = 104,	/* JobsRequest -> JobsReply */
	MSG_CTL_JOB = 105,	/* JobRequest -> JobReply */
	MSG_CTL_ABORT = 106,	/* JobRequest -> JobInfo */
	MSG_CTL_WATCH = 107,	/* JobRequest -> JobInfo, then JOB_EVENTs */
	MSG_CTL_JOB_EVENT = 108, /* EVENT JobEvent; serial = the MIGRATE/WATCH call's */
	MSG_CTL_MAINT_ENTER = 109, /* MaintenanceRequest -> DrainInfo (the plan), then DRAIN_EVENTs if wait */
	MSG_CTL_MAINT_CANCEL = 110, /* MaintenanceRequest -> DrainInfo */
	MSG_CTL_MAINT_EXIT = 111, /* MaintenanceRequest -> DrainInfo (restore: then DRAIN_EVENTs if wait) */
	MSG_CTL_DRAIN_EVENT = 112, /* EVENT DrainEvent; serial = the ENTER/EXIT call's */
	MSG_CTL_REBALANCE = 113, /* RebalanceRequest -> RebalanceReply, then DRAIN_EVENTs if apply+wait */
	MSG_CTL_SNAPSHOT = 114,	/* Empty -> SnapshotReply */
	MSG_CTL_HOST_ACCEPT = 115, /* HostAcceptRequest -> HostsReply (that host) */
	MSG_CTL_PLACE = 116,	/* PlaceRequest -> PlaceReply */
	MSG_CTL_CPU_BASELINE = 117, /* Empty -> CpuBaselineInfo */
	/* HA leadership (coordinator/ha.c) */
	MSG_CTL_STATUS = 123,	/* Empty -> StatusReply */
	/* issue 17, helper 4: audit trail and metrics (133..137) */
	MSG_CTL_AUDIT = 133,	/* AuditRequest -> AuditReply */
	MSG_CTL_METRICS = 134,	/* Empty -> MetricsReply (Prometheus text) */
	/* helper 8 (issue 13): ferryctl job set | postcopy | complete */
	MSG_CTL_JOB_CONTROL = 153, /* JobControlRequest -> JobInfo */
	/* coordinator <-> coordinator, the HA relay (issue 16:
	 * relay_leader.c, relay_standby.c); all EVENTs, none answered */
	MSG_RELAY_HELLO = 160,	/* standby -> leader, first: RelayHello */
	MSG_RELAY_FRAME = 161,	/* RelayFrame: a control frame, either way */
	MSG_RELAY_CLOSE = 162,	/* RelayClose: a session ended, either way */
	MSG_CTL_MAX,
};

/* The Ferry.Error code of a call refused for a stale leader epoch
 * (hostd/fence.c): the caller is no longer the leader. */
#define FERRY_EFENCED	ESTALE
/* A standby coordinator's refusal of a command that acts (ha.c). */
#define FERRY_ENOTLEADER	EREMOTE
/* What a refused command names does not exist (HTTPS: 404). */
#define FERRY_ENOTFOUND		ENOENT
/* It conflicts with what runs or with a host's state (HTTPS: 409). */
#define FERRY_ECONFLICT		EBUSY
/* The coordinator failed, not the request: memory, its store (500). */
#define FERRY_EINTERNAL		EIO

/* dispatch.c */
#define DISPATCH_AUTH	0x1	/* refused until the session is authenticated/said hello */

struct dispatch_entry {
	const char			*name;
	const ProtobufCMessageDescriptor *req;	/* payload of the CALL or EVENT */
	/* Called with the unpacked message. Returns 0 (the dispatcher frees
	 * the message), 1 (the handler took the message, e.g. for a worker
	 * thread, and frees it with protobuf_c_message_free_unpacked), or -1
	 * or a negative errno with a message in err (sent back as an ERROR
	 * reply for calls, with that errno as its code, EINVAL for -1;
	 * logged for events; the dispatcher frees the message). The codes
	 * a refusal may carry are FERRY_E* below. */
	int				(*fn)(void *ctx, const struct frame_hdr *,
					    ProtobufCMessage *, char *err, size_t errlen);
	unsigned			 flags;
};

const struct dispatch_entry *dispatch_lookup(const struct dispatch_entry *,
	    size_t nentries, uint16_t type);
int	dispatch_frame(const struct dispatch_entry *, size_t nentries, void *ctx,
	    int authenticated, const struct frame *, char *err, size_t errlen);
const char *msg_type_name(uint16_t type);

#endif
