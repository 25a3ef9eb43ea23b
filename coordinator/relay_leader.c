/*
 * relay_leader.c: the serving end of the HA relay (issue 16).
 *
 * A standby forwards what its ferryctl clients ask that acts (and watches
 * of jobs in flight) to the leader, over the transport hostd uses
 * (transport.h): here the coordinator is the SSH server, with its own
 * relay_host_key, and admits only the keys in relay_authorized_keys (the
 * other coordinators' identities). A standby says first which node it is
 * (RelayHello, one of ha.peers), and is answered with ours, every few
 * seconds both ways, which keeps the idle timeouts quiet.
 *
 * Each of a standby's clients is a session, served as a control client of
 * our own (control_client_sink): the call is audited (with the standby's
 * node and the caller it saw), refused or carried out exactly as on our
 * own socket, and whatever the handlers write to it goes back whole in a
 * RelayFrame. Every coordinator listens, leader or not: whether a call
 * may act is decided per call (ha_acting), so one that reaches a standby
 * gets the usual refusal naming the leader.
 *
 * Who owns what: a relay_peer is owned by its connection (freed in
 * on_down); its sessions by the peer; a session holds the one reference
 * of its sink client and drops it (control_client_sink_close) when it
 * ends, after which writes to the client are dropped by control.c.
 */
#include <sys/queue.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coordinator.h"
#include "log.h"

#define RELAY_SESSIONS_MAX	256	/* a standby's clients at once */

struct relay_session {
	TAILQ_ENTRY(relay_session) entry;
	struct relay_peer	*peer;
	uint64_t		 id;
	struct ctl_client	*client;	/* sink; its reference is ours */
};
TAILQ_HEAD(relay_session_list, relay_session);

struct relay_peer {
	TAILQ_ENTRY(relay_peer)	 entry;
	struct relay_leader	*rl;
	struct tr_conn		*conn;
	char			 node[64];	/* "" until its hello */
	struct relay_session_list sessions;
	size_t			 nsessions;
};
TAILQ_HEAD(relay_peer_list, relay_peer);

struct relay_leader {
	struct coord		*co;
	struct tr_server	*srv;
	struct relay_peer_list	 peers;
};

static void
relay_leader_session_free(struct relay_session *s)
{
	if (s == NULL)
		return;
	if (s->peer != NULL) {
		TAILQ_REMOVE(&s->peer->sessions, s, entry);
		s->peer->nsessions--;
	}
	control_client_sink_close(s->client);
	free(s);
}

/* What the handlers write to a relayed client: back to its standby. */
static void
relay_leader_sink(void *arg, const struct frame *f)
{
	struct relay_session *s = arg;
	Ferry__RelayFrame rf = FERRY__RELAY_FRAME__INIT;
	uint8_t *inner;

	if (s->peer == NULL || s->peer->conn == NULL)
		return;
	if (f->hdr.len > FRAME_MAX_PAYLOAD - 64) {
		log_warnx("relay: %s: a reply of %u bytes is too large to relay",
		    s->peer->node, f->hdr.len);
		return;
	}
	rf.session = s->id;
	if (relay_frame_wrap(&rf, &f->hdr, f->payload, &inner) < 0)
		return;
	(void)relay_send(s->peer->conn, MSG_RELAY_FRAME, &rf.base);
	free(inner);
}

/* An error for a call no session serves (there is none to answer it). */
static void __attribute__((format(printf, 4, 5)))
relay_leader_refuse(struct relay_peer *p, uint64_t session,
    const struct frame_hdr *h, const char *fmt, ...)
{
	Ferry__RelayFrame rf = FERRY__RELAY_FRAME__INIT;
	uint8_t *inner;
	size_t ilen;
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (frame_pack_error(h->type, h->serial, EBUSY, msg, &inner,
	    &ilen) < 0)
		return;
	rf.session = session;
	rf.frame.data = inner;
	rf.frame.len = ilen;
	(void)relay_send(p->conn, MSG_RELAY_FRAME, &rf.base);
	free(inner);
}

static struct relay_session *
relay_leader_session(struct relay_peer *p, const Ferry__RelayFrame *rf)
{
	struct relay_session *s;
	const char *user = "?";
	size_t i;

	TAILQ_FOREACH(s, &p->sessions, entry)
		if (s->id == rf->session)
			return s;
	if (p->nsessions >= RELAY_SESSIONS_MAX) {
		log_warnx("relay: %s has %d sessions already: call refused",
		    p->node, RELAY_SESSIONS_MAX);
		return NULL;
	}
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return NULL;
	s->id = rf->session;
	s->peer = p;
	if ((s->client = control_client_sink(p->rl->co, relay_leader_sink,
	    s)) == NULL) {
		free(s);
		return NULL;
	}
	/* The standby's word for who asked there: a name, or it is not
	 * one (the audit's who is never a host's or a peer's raw bytes). */
	if (rf->user != NULL && rf->user[0] && strlen(rf->user) < 64) {
		for (i = 0; rf->user[i]; i++)
			if (rf->user[i] < 0x21 || rf->user[i] > 0x7e)
				break;
		if (rf->user[i] == '\0')
			user = rf->user;
	}
	control_client_relayed(s->client, rf->has_uid ? rf->uid : -1,
	    rf->has_pid ? rf->pid : -1, user, p->node);
	TAILQ_INSERT_TAIL(&p->sessions, s, entry);
	p->nsessions++;
	return s;
}

/* A standby's RelayFrame: one call of one of its clients. */
static void
relay_leader_call(struct relay_peer *p, const Ferry__RelayFrame *rf)
{
	struct coord *co = p->rl->co;
	struct relay_session *s;
	struct frame f;
	char err[512];

	if (relay_frame_unwrap(rf, &f) < 0 || f.hdr.kind != FRAME_CALL) {
		tr_conn_kick(p->conn, "a relayed frame that is not a call");
		return;
	}
	if ((s = relay_leader_session(p, rf)) == NULL) {
		relay_leader_refuse(p, rf->session, &f.hdr, "%s cannot take "
		    "more relayed clients from %s now (%d at most): try again",
		    co->conf.ha.node, p->node, RELAY_SESSIONS_MAX);
		return;
	}
	if (!api_relayed(f.hdr.type)) {
		control_error(s->client, f.hdr.type, f.hdr.serial, EPERM,
		    "%s does not relay this call", co->conf.ha.node);
		return;
	}
	if (api_acting(f.hdr.type) && !ha_acting(co)) {
		control_error(s->client, f.hdr.type, f.hdr.serial,
		    FERRY_ENOTLEADER, "%s, asked through %s, is not the leader "
		    "(the leader is %s, epoch %llu)", co->conf.ha.node, p->node,
		    co->ha_leader[0] ? co->ha_leader : "not known yet",
		    (unsigned long long)co->ha_epoch);
		return;
	}
	if (control_dispatch(s->client, &f, NULL, err, sizeof(err)) < 0)
		control_error(s->client, f.hdr.type, f.hdr.serial, EINVAL,
		    "%s", err);
}

static void
relay_leader_hello(struct relay_peer *p, const Ferry__RelayHello *h)
{
	struct coord *co = p->rl->co;
	Ferry__RelayHello me = FERRY__RELAY_HELLO__INIT;

	if (p->node[0] == '\0') {
		if (relay_peer_conf(co, h->node) == NULL) {
			log_warnx("relay: %s says it is '%.64s', not one of "
			    "ha.peers: dropped", tr_conn_peer(p->conn), h->node);
			tr_conn_kick(p->conn, "not a known peer");
			return;
		}
		snprintf(p->node, sizeof(p->node), "%s", h->node);
		log_info("relay: %s connected from %s", p->node,
		    tr_conn_peer(p->conn));
	} else if (strcmp(p->node, h->node) != 0) {
		tr_conn_kick(p->conn, "changed its name");
		return;
	}
	me.node = co->conf.ha.node;
	(void)relay_send(p->conn, MSG_RELAY_HELLO, &me.base);
}

static void
relay_leader_on_up(struct tr_conn *conn, void *arg)
{
	struct relay_leader *rl = arg;
	struct relay_peer *p;

	if ((p = calloc(1, sizeof(*p))) == NULL) {
		tr_conn_kick(conn, "out of memory");
		return;
	}
	p->rl = rl;
	p->conn = conn;
	TAILQ_INIT(&p->sessions);
	TAILQ_INSERT_TAIL(&rl->peers, p, entry);
	tr_conn_set_data(conn, p);
}

static void
relay_leader_on_frame(struct tr_conn *conn, struct frame *f, void *arg)
{
	struct relay_peer *p = tr_conn_get_data(conn);
	Ferry__RelayFrame *rf;
	Ferry__RelayHello *h;
	Ferry__RelayClose *rc;
	struct relay_session *s;

	(void)arg;
	if (p == NULL || f->hdr.kind != FRAME_EVENT)
		goto done;
	if (f->hdr.type == MSG_RELAY_HELLO) {
		if ((h = ferry__relay_hello__unpack(NULL, f->hdr.len,
		    f->payload)) == NULL) {
			tr_conn_kick(conn, "an undecodable hello");
			goto done;
		}
		relay_leader_hello(p, h);
		ferry__relay_hello__free_unpacked(h, NULL);
		goto done;
	}
	if (p->node[0] == '\0') {
		tr_conn_kick(conn, "a frame before its hello");
		goto done;
	}
	switch (f->hdr.type) {
	case MSG_RELAY_FRAME:
		if ((rf = ferry__relay_frame__unpack(NULL, f->hdr.len,
		    f->payload)) == NULL) {
			tr_conn_kick(conn, "an undecodable relayed frame");
			break;
		}
		relay_leader_call(p, rf);
		ferry__relay_frame__free_unpacked(rf, NULL);
		break;
	case MSG_RELAY_CLOSE:
		if ((rc = ferry__relay_close__unpack(NULL, f->hdr.len,
		    f->payload)) == NULL)
			break;
		TAILQ_FOREACH(s, &p->sessions, entry)
			if (s->id == rc->session) {
				relay_leader_session_free(s);
				break;
			}
		ferry__relay_close__free_unpacked(rc, NULL);
		break;
	default:
		break;
	}
done:
	frame_free(f);
}

static void
relay_leader_on_down(struct tr_conn *conn, const char *reason, void *arg)
{
	struct relay_leader *rl = arg;
	struct relay_peer *p = tr_conn_get_data(conn);

	if (p == NULL)
		return;
	if (p->node[0])
		log_info("relay: %s went away: %s", p->node, reason);
	/* Its clients are gone with it: their pending audit rows end as
	 * client-gone, and their jobs go on. */
	while (!TAILQ_EMPTY(&p->sessions))
		relay_leader_session_free(TAILQ_FIRST(&p->sessions));
	TAILQ_REMOVE(&rl->peers, p, entry);
	tr_conn_set_data(conn, NULL);
	free(p);
}

int
relay_leader_start(struct coord *co, char *err, size_t errlen)
{
	static const struct tr_callbacks cbs = {
		relay_leader_on_up, relay_leader_on_frame, relay_leader_on_down,
	};
	const struct coord_ha_conf *hc = &co->conf.ha;
	struct tr_server_config sc;
	struct relay_leader *rl;
	char why[256];

	if (hc->node[0] == '\0' || hc->relay_address[0] == '\0')
		return 0;
	if (tr_check_trusted(hc->relay_authorized_keys, "relay_authorized_keys",
	    why, sizeof(why)) < 0) {
		snprintf(err, errlen, "%s", why);
		return -1;
	}
	if ((rl = calloc(1, sizeof(*rl))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	rl->co = co;
	TAILQ_INIT(&rl->peers);
	memset(&sc, 0, sizeof(sc));
	sc.listen_addr = hc->relay_address;
	sc.port = hc->relay_port;
	sc.host_key = hc->relay_host_key;
	sc.authorized_keys = hc->relay_authorized_keys;
	sc.handshake_timeout_ms = co->conf.connect_timeout_ms;
	sc.idle_timeout_ms = RELAY_IDLE_MS;
	sc.frame_timeout_ms = RELAY_IDLE_MS;
	sc.max_sessions = HA_MAX_PEERS;
	sc.per_source_startups = 2;
	/* What a standby relays: its operators' calls and their events;
	 * each of its clients is held to 500 a second there (control.c). */
	sc.max_frame_rate = 5000;
	if ((rl->srv = tr_server_start(co->loop, &sc, &cbs, rl, why,
	    sizeof(why))) == NULL) {
		snprintf(err, errlen, "ha relay on %s port %d: %s",
		    hc->relay_address, hc->relay_port, why);
		free(rl);
		return -1;
	}
	co->relay_leader = rl;
	log_info("relay: taking the other coordinators' calls on %s port %d",
	    hc->relay_address, hc->relay_port);
	return 0;
}

/* The server closes every session (on_down frees the peers). */
void
relay_leader_stop(struct coord *co)
{
	if (co->relay_leader == NULL)
		return;
	tr_server_stop(co->relay_leader->srv);
	co->relay_leader->srv = NULL;
}

void
relay_leader_free(struct coord *co)
{
	struct relay_leader *rl = co->relay_leader;
	struct relay_peer *p;

	if (rl == NULL)
		return;
	while ((p = TAILQ_FIRST(&rl->peers)) != NULL) {
		while (!TAILQ_EMPTY(&p->sessions))
			relay_leader_session_free(TAILQ_FIRST(&p->sessions));
		TAILQ_REMOVE(&rl->peers, p, entry);
		free(p);
	}
	free(rl);
	co->relay_leader = NULL;
}
