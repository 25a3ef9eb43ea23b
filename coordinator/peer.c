/* peer.c: the coordinator's side of each hostd session: hello, calls with
 * replies matched by serial, events. The SSH transport is common/transport_*.c. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coordinator.h"
#include "log.h"

#define DOWN_WRITE_MS	10000

static void	peer_fail_calls(struct host *, const char *);

static void
peer_hello_cb(struct host *h, const struct frame *f, const char *err, void *arg)
{
	Ferry__Inventory *inv;

	(void)arg;
	if (f == NULL) {
		log_warnx("host %s: hello failed: %s", h->conf.name, err);
		tr_conn_kick(h->conn, "hello failed");
		return;
	}
	if ((inv = (Ferry__Inventory *)frame_unpack(f,
	    &ferry__inventory__descriptor)) == NULL || inv->host == NULL) {
		log_warnx("host %s: malformed inventory in hello reply",
		    h->conf.name);
		if (inv)
			ferry__inventory__free_unpacked(inv, NULL);
		tr_conn_kick(h->conn, "malformed hello reply");
		return;
	}
	cluster_host_up(h, inv);
}

static void
peer_on_up(struct tr_conn *c, void *arg)
{
	struct host *h = arg;
	Ferry__Hello hello = FERRY__HELLO__INIT;

	(void)c;
	log_debug("host %s: session open, saying hello", h->conf.name);
	hello.coordinator = h->co->conf.name;
	hello.version = FERRY_PROTO_VERSION;
	if (peer_call(h, MSG_HELLO, &hello.base, h->co->conf.call_timeout_ms,
	    peer_hello_cb, NULL) < 0)
		tr_conn_kick(h->conn, "cannot send hello");
}

static void
peer_on_reply(struct host *h, const struct frame *f)
{
	struct peer_call *pc;
	Ferry__Error *e;
	char msg[512];

	TAILQ_FOREACH(pc, &h->calls, entry)
		if (pc->serial == f->hdr.serial)
			break;
	if (pc == NULL) {
		log_debug("host %s: reply to unknown call %u", h->conf.name,
		    f->hdr.serial);
		return;
	}
	TAILQ_REMOVE(&h->calls, pc, entry);
	if (f->hdr.status == FRAME_ERROR) {
		e = (Ferry__Error *)frame_unpack(f, &ferry__error__descriptor);
		snprintf(msg, sizeof(msg), "%s", e ? e->message :
		    "malformed error reply");
		h->reply_code = e ? e->code : EPROTO;
		if (e)
			ferry__error__free_unpacked(e, NULL);
		if (h->reply_code == FERRY_EFENCED)
			coord_fenced(h->co, h, msg);
		pc->cb(h, NULL, msg, pc->arg);
		h->reply_code = 0;
	} else
		pc->cb(h, f, NULL, pc->arg);
	free(pc);
}

static void
peer_on_event(struct host *h, const struct frame *f)
{
	Ferry__Inventory *inv;

	Ferry__JobStats *js;
	Ferry__MigrateResult *mr;

	switch (f->hdr.type) {
	case MSG_HEARTBEAT:
		break;		/* last_seen is enough */
	case MSG_MIGRATE_PROGRESS:
		if ((js = (Ferry__JobStats *)frame_unpack(f,
		    &ferry__job_stats__descriptor)) == NULL)
			break;
		job_on_progress(h, js);
		ferry__job_stats__free_unpacked(js, NULL);
		break;
	case MSG_MIGRATE_DONE:
		if ((mr = (Ferry__MigrateResult *)frame_unpack(f,
		    &ferry__migrate_result__descriptor)) == NULL)
			break;
		job_on_done(h, mr);
		ferry__migrate_result__free_unpacked(mr, NULL);
		break;
	case MSG_INVENTORY:
		if (!h->up)
			break;	/* the hello reply brings the first one */
		inv = (Ferry__Inventory *)frame_unpack(f,
		    &ferry__inventory__descriptor);
		if (inv == NULL || inv->host == NULL) {
			log_warnx("host %s: malformed inventory event",
			    h->conf.name);
			if (inv)
				ferry__inventory__free_unpacked(inv, NULL);
			break;
		}
		cluster_inventory(h, inv);
		break;
	default:
		log_debug("host %s: ignoring event %s", h->conf.name,
		    msg_type_name(f->hdr.type));
	}
}

static void
peer_on_frame(struct tr_conn *c, struct frame *f, void *arg)
{
	struct host *h = arg;

	(void)c;
	h->last_seen_ms = clock_wall_ms();
	if (f->hdr.kind == FRAME_REPLY)
		peer_on_reply(h, f);
	else if (f->hdr.kind == FRAME_EVENT)
		peer_on_event(h, f);
	else
		log_debug("host %s: ignoring call %s", h->conf.name,
		    msg_type_name(f->hdr.type));
	frame_free(f);
}

static void
peer_on_down(struct tr_conn *c, const char *reason, void *arg)
{
	struct host *h = arg;

	(void)c;
	peer_fail_calls(h, reason);
	if (h->up)
		cluster_host_down(h, reason);
	else if (strcmp(h->last_error, reason) != 0 &&
	    clock_mono_ms() - h->last_down_write_ms >= DOWN_WRITE_MS) {
		/* A host that keeps failing to connect is logged and recorded
		 * at most every DOWN_WRITE_MS: with thousands of hosts, a
		 * synchronous write per failed attempt starved the loop. */
		log_warnx("host %s (%s:%d): %s", h->conf.name, h->conf.address,
		    h->conf.port, reason);
		snprintf(h->last_error, sizeof(h->last_error), "%s", reason);
		h->last_down_write_ms = clock_mono_ms();
		if (ha_acting(h->co) && store_host_set_conn(h->co->store,
		    h->conf.name, "down", reason, clock_wall_ms()) < 0)
			log_warnx("%s", store_error(h->co->store));
	}
}

void
peer_start(struct host *h)
{
	static const struct tr_callbacks cbs = {
		peer_on_up, peer_on_frame, peer_on_down,
	};
	const struct coord_conf *cc = &h->co->conf;
	struct tr_client_config tc;

	memset(&tc, 0, sizeof(tc));
	tc.name = h->conf.name;
	tc.host = h->conf.address;
	tc.port = h->conf.port;
	tc.user = "ferry";
	tc.identity = cc->identity;
	tc.known_hosts = cc->known_hosts;
	tc.connect_timeout_ms = cc->connect_timeout_ms;
	tc.idle_timeout_ms = cc->idle_timeout_ms;
	tc.backoff_min_ms = cc->backoff_min_ms;
	tc.backoff_max_ms = cc->backoff_max_ms;
	/* Legitimate traffic is a heartbeat a second, inventories (10 a
	 * second at most, debounced), 2 progress events a second per
	 * migration and the replies to our own calls; a host over the
	 * limit is cut, and reconnected after backoff_max_ms. */
	tc.max_frame_rate = cc->host_max_frame_rate;
	if ((h->conn = tr_client_start(h->co->loop, &tc, &cbs, h)) == NULL)
		log_warnx("host %s: cannot start its connection", h->conf.name);
}

void
peer_stop(struct host *h)
{
	peer_fail_calls(h, "coordinator shutting down");
	tr_conn_close(h->conn);
	h->conn = NULL;
}

/*
 * Sends a CALL; cb runs exactly once, on the reply, on an error reply, on
 * timeout or when the session ends. Returns -1 (cb not called) when the
 * host has no session.
 */
/*
 * Every call that acts on a host carries this coordinator's leader epoch
 * (0 without HA), stamped here so that no caller can forget it; hostd
 * refuses a lower epoch than it has seen (hostd/fence.c). The messages are
 * the callers' own, built for this one call.
 */
static int
peer_stamp_epoch(uint16_t type, ProtobufCMessage *m, uint64_t epoch)
{
	uint64_t *e = NULL;
	protobuf_c_boolean *has = NULL;

	switch (type) {
	case MSG_PRECHECK_SOURCE:
		e = &((Ferry__SourceCheckRequest *)m)->epoch;
		has = &((Ferry__SourceCheckRequest *)m)->has_epoch;
		break;
	case MSG_PRECHECK_DEST:
		e = &((Ferry__DestCheckRequest *)m)->epoch;
		has = &((Ferry__DestCheckRequest *)m)->has_epoch;
		break;
	case MSG_STORAGE_CLEANUP:
		e = &((Ferry__StorageCleanup *)m)->epoch;
		has = &((Ferry__StorageCleanup *)m)->has_epoch;
		break;
	case MSG_MIGRATE:
		e = &((Ferry__MigrateRequest *)m)->epoch;
		has = &((Ferry__MigrateRequest *)m)->has_epoch;
		break;
	case MSG_ABORT:
		e = &((Ferry__JobRef *)m)->epoch;
		has = &((Ferry__JobRef *)m)->has_epoch;
		break;
	case MSG_DESTROY_LEFTOVER:
	case MSG_UNDEFINE_LEFTOVER:
		e = &((Ferry__DestroyRequest *)m)->epoch;
		has = &((Ferry__DestroyRequest *)m)->has_epoch;
		break;
	default:
		return 0;
	}
	*e = epoch;
	*has = epoch != 0;
	return 1;
}

int
peer_call(struct host *h, uint16_t type, const ProtobufCMessage *m,
    int timeout_ms, peer_reply_cb cb, void *arg)
{
	struct peer_call *pc;
	uint8_t *buf;
	size_t len;

	if (h->conn == NULL || !tr_conn_is_up(h->conn))
		return -1;
	/* With HA, nothing acts on a host that has not taken our epoch, nor
	 * once the lease's deadline has passed (ha.c). */
	if (peer_stamp_epoch(type, (ProtobufCMessage *)(uintptr_t)m,
	    h->co->epoch) && !ha_host_ready(h)) {
		log_debug("host %s: %s not sent: %s", h->conf.name,
		    msg_type_name(type), h->co->ha_state == HA_STANDBY ?
		    "a standby" : "the host has not taken our epoch");
		return -1;
	}
	if ((pc = calloc(1, sizeof(*pc))) == NULL)
		return -1;
	if (++h->next_serial == 0)
		h->next_serial = 1;
	pc->serial = h->next_serial;
	pc->type = type;
	pc->deadline_ms = clock_mono_ms() + (uint64_t)timeout_ms;
	pc->cb = cb;
	pc->arg = arg;
	if (frame_pack(type, FRAME_CALL, FRAME_OK, pc->serial, m, &buf,
	    &len) < 0 || tr_conn_send(h->conn, buf, len) < 0) {
		free(pc);
		return -1;
	}
	TAILQ_INSERT_TAIL(&h->calls, pc, entry);
	return 0;
}

static void
peer_fail_calls(struct host *h, const char *why)
{
	struct peer_call *pc;

	while ((pc = TAILQ_FIRST(&h->calls)) != NULL) {
		TAILQ_REMOVE(&h->calls, pc, entry);
		pc->cb(h, NULL, why, pc->arg);
		free(pc);
	}
}

/* The coordinator's side of the keepalive: hostd drops a session that
 * sends nothing for its idle timeout, as the coordinator does. */
void
peer_heartbeat(struct host *h)
{
	Ferry__Heartbeat hb = FERRY__HEARTBEAT__INIT;
	uint8_t *buf;
	size_t len;

	if (h->conn == NULL || !tr_conn_is_up(h->conn))
		return;
	hb.seq = ++h->hb_seq;
	hb.time_ms = clock_wall_ms();	/* a record: Unix ms */
	if (frame_pack(MSG_HEARTBEAT, FRAME_EVENT, FRAME_OK, 0, &hb.base, &buf,
	    &len) == 0)
		(void)tr_conn_send(h->conn, buf, len);
}

/* Fails calls whose deadline has passed. */
void
peer_sweep(struct host *h, uint64_t now_ms)
{
	struct peer_call *pc, *next;
	char msg[128];

	for (pc = TAILQ_FIRST(&h->calls); pc != NULL; pc = next) {
		next = TAILQ_NEXT(pc, entry);
		if (pc->deadline_ms > now_ms)
			continue;
		TAILQ_REMOVE(&h->calls, pc, entry);
		snprintf(msg, sizeof(msg), "%s call to host %s timed out",
		    msg_type_name(pc->type), h->conf.name);
		pc->cb(h, NULL, msg, pc->arg);
		free(pc);
		/* The callback may have changed the list. */
		next = TAILQ_FIRST(&h->calls);
	}
}

static void
peer_storage_cleanup_cb(struct host *h, const struct frame *f, const char *err,
    void *arg)
{
	(void)arg;
	if (f == NULL)
		log_warnx("host %s: removing nonce files: %s", h->conf.name, err);
}

/* Asks h to remove the nonce files its storage check left (a job's, a
 * drain's or a rebalance's pre-check); a failure is only logged: hostd
 * removes stale nonces itself. */
void
peer_storage_cleanup(struct host *h, Ferry__Nonce **nonces, size_t n,
    int timeout_ms)
{
	Ferry__StorageCleanup sc = FERRY__STORAGE_CLEANUP__INIT;

	if (h == NULL || n == 0)
		return;
	sc.nonces = nonces;
	sc.n_nonces = n;
	(void)peer_call(h, MSG_STORAGE_CLEANUP, &sc.base, timeout_ms,
	    peer_storage_cleanup_cb, NULL);
}
