/* session.c: a coordinator's session with hostd, and the handlers of the
 * calls it may make (the hostd side of the protocol; the transport is in
 * common/transport_*.c). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hostd.h"
#include "log.h"
#include "validate.h"

static int
session_inventory_wait(struct session *s, uint16_t type, uint32_t serial)
{
	struct inv_waiter *iw;

	if ((iw = calloc(1, sizeof(*iw))) == NULL)
		return -1;
	iw->session_id = s->id;
	iw->type = type;
	iw->serial = serial;
	TAILQ_INSERT_TAIL(&s->hd->inv_waiters, iw, entry);
	hostd_inventory_refresh(s->hd);
	return 0;
}

static int
handle_hello(void *ctx, const struct frame_hdr *h, ProtobufCMessage *m,
    char *err, size_t errlen)
{
	struct session *s = ctx;
	Ferry__Hello *hello = (Ferry__Hello *)m;

	if (hello->version != FERRY_PROTO_VERSION) {
		snprintf(err, errlen, "protocol version %u not supported (%u)",
		    hello->version, FERRY_PROTO_VERSION);
		return -1;
	}
	snprintf(s->coordinator, sizeof(s->coordinator), "%s",
	    hello->coordinator);
	s->hello = 1;
	log_info("%s: hello from coordinator '%s'", session_peer(s),
	    s->coordinator);
	/* The reply is the next fresh inventory. */
	return session_inventory_wait(s, h->type, h->serial);
}

static int
handle_inventory(void *ctx, const struct frame_hdr *h, ProtobufCMessage *m,
    char *err, size_t errlen)
{
	(void)m;
	(void)err;
	(void)errlen;
	return session_inventory_wait(ctx, h->type, h->serial);
}

/* Calls answered from a worker thread (precheck.c). */
#define SESSION_MAX_CALLS	64	/* worker calls in flight per session */

static int	session_worker(struct session *, const struct frame_hdr *,
		    ProtobufCMessage *, hostd_work_fn, enum hostd_wq, char *,
		    size_t);

/* Each call goes to the class of workers it belongs to (hostd.h). */
#define WORKER_HANDLER(name, fn, wq)					\
static int								\
name(void *ctx, const struct frame_hdr *h, ProtobufCMessage *m,	\
    char *err, size_t errlen)						\
{									\
	return session_worker(ctx, h, m, fn, wq, err, errlen);		\
}

/* The name every domain-level call carries, checked before it goes
 * anywhere near libvirt or a worker. */
static const char *
session_domain_of(uint16_t type, const ProtobufCMessage *m)
{
	switch (type) {
	case MSG_DOMAIN_STATE:
		return ((const Ferry__DomainRef *)m)->name;
	case MSG_PRECHECK_SOURCE:
		return ((const Ferry__SourceCheckRequest *)m)->name;
	case MSG_PRECHECK_DEST:
		return ((const Ferry__DestCheckRequest *)m)->domain ?
		    ((const Ferry__DestCheckRequest *)m)->domain->name : NULL;
	case MSG_DIRTY_RATE:
		return ((const Ferry__DirtyRateRequest *)m)->name;
	case MSG_DESTROY_LEFTOVER:
	case MSG_UNDEFINE_LEFTOVER:
		return ((const Ferry__DestroyRequest *)m)->name;
	default:
		return "";
	}
}

/*
 * Refuses an acting call whose epoch is older than this host's (fence.c):
 * answers it with FERRY_EFENCED and logs it. Returns 1 when refused (the
 * caller returns 0: answered), 0 when the call may go on.
 */
static int
session_fenced(struct session *s, const struct frame_hdr *h,
    const ProtobufCMessage *m)
{
	char err[512];
	uint8_t *buf;
	size_t len;
	uint64_t epoch;

	if (fence_epoch_of(h->type, m, &epoch) < 0 ||
	    fence_check(&s->hd->fence, epoch, err, sizeof(err)) == 0)
		return 0;
	log_warnx("%s: %s from coordinator '%s' refused: %s", session_peer(s),
	    msg_type_name(h->type), s->coordinator, err);
	if (frame_pack_error(h->type, h->serial, FERRY_EFENCED, err, &buf,
	    &len) == 0)
		(void)session_send(s, buf, len);
	return 1;
}

static int
session_worker(struct session *s, const struct frame_hdr *h,
    ProtobufCMessage *m, hostd_work_fn fn, enum hostd_wq wq, char *err,
    size_t errlen)
{
	const char *name = session_domain_of(h->type, m);
	int rc;

	if (session_fenced(s, h, m))
		return 0;

	if (name != NULL && name[0] && validate_domain_name(name, err,
	    errlen) < 0)
		return -1;
	if (name == NULL) {
		snprintf(err, errlen, "missing domain");
		return -1;
	}
	if (s->calls_in_flight >= SESSION_MAX_CALLS) {
		snprintf(err, errlen, "too many calls in flight (%d)",
		    SESSION_MAX_CALLS);
		return -1;
	}
	if ((rc = hostd_call_start(s, h, m, fn, wq)) == -EBUSY) {
		/* Refused rather than queued without bound: the caller may
		 * try again, and nothing else waits behind these. */
		snprintf(err, errlen, "hostd busy: %d %s calls already queued "
		    "or running; try again later",
		    workq_pending(&s->hd->wq[wq]), s->hd->wq[wq].name);
		return -1;
	}
	if (rc < 0) {
		snprintf(err, errlen, "cannot queue the call");
		return -1;
	}
	return 1;
}

WORKER_HANDLER(handle_domain_state, precheck_domain_state, HOSTD_WQ_STATE)
WORKER_HANDLER(handle_precheck_source, precheck_source, HOSTD_WQ_CHECK)
WORKER_HANDLER(handle_precheck_dest, precheck_dest, HOSTD_WQ_CHECK)
WORKER_HANDLER(handle_storage_cleanup, precheck_cleanup, HOSTD_WQ_CHECK)
WORKER_HANDLER(handle_dirty_rate, precheck_dirty_rate, HOSTD_WQ_CHECK)
/* Never the source of a migration still running here: whatever the
 * coordinator believes, that domain is the one complete copy. */
static int
handle_destroy_leftover(void *ctx, const struct frame_hdr *h,
    ProtobufCMessage *m, char *err, size_t errlen)
{
	struct session *s = ctx;
	const Ferry__DestroyRequest *req = (const Ferry__DestroyRequest *)m;

	if (session_fenced(s, h, m))
		return 0;
	if (migrate_outgoing(s->hd, req->name)) {
		snprintf(err, errlen, "refusing to destroy %s: this host is "
		    "migrating it out", req->name);
		return -1;
	}
	return session_worker(s, h, m, precheck_destroy, HOSTD_WQ_STATE, err,
	    errlen);
}
/* The same guard: a VM migrating out of here is not a leftover. */
static int
handle_undefine_leftover(void *ctx, const struct frame_hdr *h,
    ProtobufCMessage *m, char *err, size_t errlen)
{
	struct session *s = ctx;
	const Ferry__DestroyRequest *req = (const Ferry__DestroyRequest *)m;

	if (session_fenced(s, h, m))
		return 0;
	if (migrate_outgoing(s->hd, req->name)) {
		snprintf(err, errlen, "refusing to undefine %s: this host is "
		    "migrating it out", req->name);
		return -1;
	}
	return session_worker(s, h, m, precheck_undefine, HOSTD_WQ_STATE, err,
	    errlen);
}
WORKER_HANDLER(handle_host_cpu, cpu_host, HOSTD_WQ_CHECK)
WORKER_HANDLER(handle_cpu_baseline, cpu_baseline, HOSTD_WQ_CHECK)
WORKER_HANDLER(handle_cpu_compare, cpu_compare, HOSTD_WQ_CHECK)

static int
session_reply_empty(struct session *s, const struct frame_hdr *h)
{
	Ferry__Empty e = FERRY__EMPTY__INIT;

	return hostd_send(s->hd, s, h->type, FRAME_REPLY, h->serial, &e.base);
}

static int
handle_migrate(void *ctx, const struct frame_hdr *h, ProtobufCMessage *m,
    char *err, size_t errlen)
{
	struct session *s = ctx;
	Ferry__MigrateRequest *r = (Ferry__MigrateRequest *)m;

	if (session_fenced(s, h, m))
		return 0;
	if (validate_domain_name(r->name, err, errlen) < 0 ||
	    validate_libvirt_uri(r->dest_uri, err, errlen) < 0 ||
	    (r->migrate_uri && validate_migrate_uri(r->migrate_uri, err,
	    errlen) < 0) || r->policy == NULL) {
		if (r->policy == NULL)
			snprintf(err, errlen, "migrate without a policy");
		return -1;
	}
	if (migrate_start(s->hd, r, err, errlen) < 0)
		return -1;
	/* Started: a lost reply is the coordinator's to notice (JOB_QUERY). */
	(void)session_reply_empty(s, h);
	return 0;
}

/* ABORT: answered once libvirt has (migrate.c); refused at once, with the
 * errno the coordinator acts on, when there is nothing to abort here. */
static int
handle_abort(void *ctx, const struct frame_hdr *h, ProtobufCMessage *m,
    char *err, size_t errlen)
{
	struct session *s = ctx;
	uint8_t *buf;
	size_t len;
	int rc;

	(void)errlen;
	if (session_fenced(s, h, m))
		return 0;
	if ((rc = migrate_abort(s->hd, s, h, ((Ferry__JobRef *)m)->job_id, err,
	    errlen)) == 0)
		return 0;
	log_warnx("%s: abort: %s", session_peer(s), err);
	if (frame_pack_error(h->type, h->serial, -rc, err, &buf, &len) == 0)
		(void)session_send(s, buf, len);
	return 0;
}

static int
handle_job_control(void *ctx, const struct frame_hdr *h, ProtobufCMessage *m,
    char *err, size_t errlen)
{
	struct session *s = ctx;
	uint8_t *buf;
	size_t len;
	int rc;

	if ((rc = jobctl_request(s->hd, s, h, (Ferry__JobControlRequest *)m,
	    err, errlen)) == 0)
		return 0;
	log_warnx("%s: job control: %s", session_peer(s), err);
	if (frame_pack_error(h->type, h->serial, -rc, err, &buf, &len) == 0)
		(void)session_send(s, buf, len);
	return 0;
}

static int
handle_job_query(void *ctx, const struct frame_hdr *h, ProtobufCMessage *m,
    char *err, size_t errlen)
{
	struct session *s = ctx;
	Ferry__MigrateResult r = FERRY__MIGRATE_RESULT__INIT;

	if (migrate_query(s->hd, ((Ferry__JobRef *)m)->job_id, &r, err,
	    errlen) < 0)
		return -1;
	return hostd_send(s->hd, s, h->type, FRAME_REPLY, h->serial, &r.base);
}

/* EPOCH (worker thread): a leader announces its epoch (fence.c). Made
 * durable before the reply; refused with FERRY_EFENCED when this host
 * already saw a higher one, so the caller learns it is deposed. */
static int
session_epoch_work(struct hostd *hd, const ProtobufCMessage *m,
    uint8_t **payload, size_t *len, char *err, size_t errlen)
{
	const Ferry__EpochRequest *req = (const Ferry__EpochRequest *)m;
	Ferry__EpochReply rep = FERRY__EPOCH_REPLY__INIT;
	char leader[64];
	uint64_t before = fence_epoch(&hd->fence), cur;
	int rc;

	rc = fence_raise(&hd->fence, req->epoch, req->leader ? req->leader : "",
	    &cur, leader, sizeof(leader), err, errlen);
	if (rc < 0) {
		log_warnx("epoch %llu from %s refused: %s",
		    (unsigned long long)req->epoch, req->leader ? req->leader :
		    "?", err);
		return rc;
	}
	if (cur != before)
		log_info("epoch %llu: leader %s", (unsigned long long)cur,
		    leader[0] ? leader : "?");
	rep.epoch = cur;
	rep.leader = leader;
	return hostd_pack(&rep.base, payload, len);
}

static int
handle_epoch(void *ctx, const struct frame_hdr *h, ProtobufCMessage *m,
    char *err, size_t errlen)
{
	const Ferry__EpochRequest *req = (const Ferry__EpochRequest *)m;

	if (req->leader != NULL && req->leader[0] != '\0' &&
	    validate_host_name(req->leader, err, errlen) < 0)
		return -1;
	/* The urgent class: a leader's first word must not wait behind
	 * slow pre-checks. */
	return session_worker(ctx, h, m, session_epoch_work, HOSTD_WQ_URGENT,
	    err, errlen);
}

/* Rows indexed by message type; see common/msg.h. Everything but HELLO
 * needs the session to have said hello (the SSH login is the
 * authentication; hello is the protocol version agreement). */
const struct dispatch_entry session_dispatch[MSG_HOST_MAX] = {
	[MSG_HELLO] = { "hello", &ferry__hello__descriptor, handle_hello, 0 },
	[MSG_INVENTORY] = { "inventory", &ferry__empty__descriptor,
	    handle_inventory, DISPATCH_AUTH },
	[MSG_DOMAIN_STATE] = { "domain-state", &ferry__domain_ref__descriptor,
	    handle_domain_state, DISPATCH_AUTH },
	[MSG_PRECHECK_SOURCE] = { "precheck-source",
	    &ferry__source_check_request__descriptor, handle_precheck_source,
	    DISPATCH_AUTH },
	[MSG_PRECHECK_DEST] = { "precheck-dest",
	    &ferry__dest_check_request__descriptor, handle_precheck_dest,
	    DISPATCH_AUTH },
	[MSG_STORAGE_CLEANUP] = { "storage-cleanup",
	    &ferry__storage_cleanup__descriptor, handle_storage_cleanup,
	    DISPATCH_AUTH },
	[MSG_DIRTY_RATE] = { "dirty-rate",
	    &ferry__dirty_rate_request__descriptor, handle_dirty_rate,
	    DISPATCH_AUTH },
	[MSG_MIGRATE] = { "migrate", &ferry__migrate_request__descriptor,
	    handle_migrate, DISPATCH_AUTH },
	[MSG_ABORT] = { "abort", &ferry__job_ref__descriptor, handle_abort,
	    DISPATCH_AUTH },
	[MSG_JOB_QUERY] = { "job-query", &ferry__job_ref__descriptor,
	    handle_job_query, DISPATCH_AUTH },
	[MSG_JOB_CONTROL] = { "job-control",
	    &ferry__job_control_request__descriptor, handle_job_control,
	    DISPATCH_AUTH },
	[MSG_DESTROY_LEFTOVER] = { "destroy-leftover",
	    &ferry__destroy_request__descriptor, handle_destroy_leftover,
	    DISPATCH_AUTH },
	[MSG_HOST_CPU] = { "host-cpu", &ferry__empty__descriptor,
	    handle_host_cpu, DISPATCH_AUTH },
	[MSG_CPU_BASELINE] = { "cpu-baseline",
	    &ferry__cpu_baseline_request__descriptor, handle_cpu_baseline,
	    DISPATCH_AUTH },
	[MSG_CPU_COMPARE] = { "cpu-compare",
	    &ferry__cpu_compare_request__descriptor, handle_cpu_compare,
	    DISPATCH_AUTH },
	[MSG_UNDEFINE_LEFTOVER] = { "undefine-leftover",
	    &ferry__destroy_request__descriptor, handle_undefine_leftover,
	    DISPATCH_AUTH },
	[MSG_EPOCH] = { "epoch", &ferry__epoch_request__descriptor,
	    handle_epoch, DISPATCH_AUTH },
};
const size_t session_ndispatch = MSG_HOST_MAX;

/*
 * A session's transport is either a connection of this process's SSH server
 * (conn) or, with privilege separation, one relayed by the network child
 * (relay_id, privsep.c). Everything above talks to the session only.
 */
struct session *
session_up(struct hostd *hd, struct tr_conn *c, uint64_t relay_id,
    const char *peer)
{
	struct session *s;

	if ((s = calloc(1, sizeof(*s))) == NULL) {
		log_warn("%s: session", peer);
		return NULL;
	}
	s->hd = hd;
	s->conn = c;
	s->relay_id = relay_id;
	snprintf(s->peer, sizeof(s->peer), "%s", peer);
	s->id = ++hd->next_session_id;
	TAILQ_INSERT_TAIL(&hd->sessions, s, entry);
	log_info("%s: session %llu up", s->peer, (unsigned long long)s->id);
	return s;
}

/* Takes f. */
void
session_frame(struct session *s, struct frame *f)
{
	char err[512];
	uint8_t *buf;
	size_t len;

	/* The frame rate is limited by the transport (max_frame_rate). */
	if (f->hdr.kind == FRAME_EVENT && f->hdr.type == MSG_HEARTBEAT)
		goto done;	/* keepalive: receiving it was the point */
	if (f->hdr.kind != FRAME_CALL) {
		log_debug("%s: ignoring %s frame of kind %u", s->peer,
		    msg_type_name(f->hdr.type), f->hdr.kind);
		goto done;
	}
	if (dispatch_frame(session_dispatch, session_ndispatch, s, s->hello,
	    f, err, sizeof(err)) < 0) {
		log_warnx("%s: %s", s->peer, err);
		if (frame_pack_error(f->hdr.type, f->hdr.serial, EINVAL, err,
		    &buf, &len) == 0)
			(void)session_send(s, buf, len);
	}
done:
	frame_free(f);
}

/* Frees s. */
void
session_down(struct session *s, const char *reason)
{
	log_info("%s: session %llu down: %s", s->peer,
	    (unsigned long long)s->id, reason);
	TAILQ_REMOVE(&s->hd->sessions, s, entry);
	free(s);
}

/* Queues a packed frame; takes buf in all cases. */
int
session_send(struct session *s, uint8_t *buf, size_t len)
{
	if (s->conn != NULL)
		return tr_conn_send(s->conn, buf, len);
	return privsep_send(s->hd->ps, s->relay_id, buf, len);
}

void
session_kick(struct session *s, const char *reason)
{
	if (s->conn != NULL)
		tr_conn_kick(s->conn, reason);
	else
		privsep_kick(s->hd->ps, s->relay_id, reason);
}

const char *
session_peer(const struct session *s)
{
	return s->peer;
}

/* The transport's callbacks, when this process runs the SSH server. */
void
session_on_up(struct tr_conn *c, void *arg)
{
	struct session *s;

	if ((s = session_up(arg, c, 0, tr_conn_peer(c))) == NULL) {
		tr_conn_kick(c, "out of memory");
		return;
	}
	tr_conn_set_data(c, s);
}

void
session_on_frame(struct tr_conn *c, struct frame *f, void *arg)
{
	struct session *s = tr_conn_get_data(c);

	(void)arg;
	if (s == NULL)
		frame_free(f);
	else
		session_frame(s, f);
}

void
session_on_down(struct tr_conn *c, const char *reason, void *arg)
{
	struct session *s = tr_conn_get_data(c);

	(void)arg;
	if (s == NULL) {
		log_info("%s: refused: %s", tr_conn_peer(c), reason);
		return;
	}
	tr_conn_set_data(c, NULL);
	session_down(s, reason);
}
