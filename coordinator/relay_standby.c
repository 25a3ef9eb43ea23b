/*
 * relay_standby.c: the forwarding end of the HA relay (issue 16).
 *
 * A standby answers reads from the shared store itself; a call that acts,
 * or a watch of a job (which only the leader has in memory), goes to the
 * leader (relay_leader.c) over one SSH session, and what comes back goes
 * to the caller as if this coordinator had written it. The lease names
 * the leader; where it is (address, port) and its key (known_hosts) are
 * the operator's configuration (ha.peers), never the store's word.
 *
 * A ferryctl client whose calls went through the relay is a session. When
 * the client goes, the leader is told (RelayClose) and ends its side. When
 * the relay goes (the leader died, or another took the lease), each
 * session's last call is answered with an error that says what is known:
 * the leader may have carried it out, so where to look.
 *
 * Owned here: the connection and the sessions; each session holds a
 * reference to its client, dropped when the session ends.
 */
#include <sys/queue.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coordinator.h"
#include "log.h"

#define RELAY_HELLO_MS	2000	/* both ways; RELAY_IDLE_MS is 10 s */

struct relay_ssession {
	TAILQ_ENTRY(relay_ssession) entry;
	uint64_t		 id;
	struct ctl_client	*client;	/* referenced */
	uint16_t		 type;		/* its last relayed call */
	uint32_t		 serial;
};
TAILQ_HEAD(relay_ssession_list, relay_ssession);

struct relay_standby {
	struct coord		*co;
	struct tr_conn		*conn;		/* NULL: no leader to relay to */
	char			 target[64];	/* the leader conn goes to */
	int			 up;		/* its hello came back */
	uint64_t		 hello_ms;	/* our last hello */
	uint64_t		 next_id;
	char			 why[256];	/* why there is no relay */
	struct relay_ssession_list sessions;
};

/* Ends a session; tells the leader unless it is the leader that went. */
static void
relay_standby_end(struct relay_standby *rs, struct relay_ssession *s,
    int tell)
{
	Ferry__RelayClose rc = FERRY__RELAY_CLOSE__INIT;

	if (tell && rs->up) {
		rc.session = s->id;
		rc.reason = "the client went away";
		(void)relay_send(rs->conn, MSG_RELAY_CLOSE, &rc.base);
	}
	TAILQ_REMOVE(&rs->sessions, s, entry);
	control_client_unref(s->client);
	free(s);
}

/* The relay is gone: every session's caller hears so, with what is known. */
static void
relay_standby_fail_all(struct relay_standby *rs, const char *why)
{
	struct relay_ssession *s;

	while ((s = TAILQ_FIRST(&rs->sessions)) != NULL) {
		if (control_client_alive(s->client))
			control_error(s->client, s->type, s->serial,
			    ECONNRESET, "%s: the relay to the leader %s ended "
			    "(%s); what was asked may still be carried out: see "
			    "ferryctl jobs and ferryctl audit", rs->co->conf.ha.node,
			    rs->target, why);
		relay_standby_end(rs, s, 0);
	}
}

static void
relay_standby_hello(struct relay_standby *rs)
{
	Ferry__RelayHello h = FERRY__RELAY_HELLO__INIT;

	h.node = rs->co->conf.ha.node;
	rs->hello_ms = clock_mono_ms();
	(void)relay_send(rs->conn, MSG_RELAY_HELLO, &h.base);
}

static void
relay_standby_on_up(struct tr_conn *conn, void *arg)
{
	struct relay_standby *rs = arg;

	(void)conn;
	relay_standby_hello(rs);
}

/* A frame for one of our clients, whole: handed on as it came. */
static void
relay_standby_deliver(struct relay_standby *rs, const Ferry__RelayFrame *rf)
{
	struct relay_ssession *s;
	struct frame f;
	uint8_t *buf;

	TAILQ_FOREACH(s, &rs->sessions, entry)
		if (s->id == rf->session)
			break;
	if (s == NULL)
		return;		/* ended here; the leader was told */
	if (relay_frame_unwrap(rf, &f) < 0 || f.hdr.kind == FRAME_CALL) {
		tr_conn_kick(rs->conn, "a relayed frame that is not an answer");
		return;
	}
	if (!control_client_alive(s->client)) {
		relay_standby_end(rs, s, 1);
		return;
	}
	if ((buf = malloc(rf->frame.len)) == NULL)
		return;
	memcpy(buf, rf->frame.data, rf->frame.len);
	(void)control_write_frame(s->client, buf, rf->frame.len);
}

static void
relay_standby_on_frame(struct tr_conn *conn, struct frame *f, void *arg)
{
	struct relay_standby *rs = arg;
	Ferry__RelayHello *h;
	Ferry__RelayFrame *rf;
	Ferry__RelayClose *rc;
	struct relay_ssession *s;

	if (f->hdr.kind != FRAME_EVENT)
		goto done;
	switch (f->hdr.type) {
	case MSG_RELAY_HELLO:
		if ((h = ferry__relay_hello__unpack(NULL, f->hdr.len,
		    f->payload)) == NULL)
			break;
		/* What answers at the leader's address must be the leader
		 * the lease names (a peer's configuration mixed up, or an
		 * old leader not yet restarted, is not relayed to). */
		if (strcmp(h->node, rs->target) != 0) {
			snprintf(rs->why, sizeof(rs->why), "%s answers as "
			    "'%.64s', not as %s", tr_conn_peer(conn), h->node,
			    rs->target);
			log_warnx("relay: %s", rs->why);
			tr_conn_kick(conn, "not the leader");
		} else if (!rs->up) {
			rs->up = 1;
			rs->why[0] = '\0';
			log_info("relay: to the leader %s at %s", rs->target,
			    tr_conn_peer(conn));
		}
		ferry__relay_hello__free_unpacked(h, NULL);
		break;
	case MSG_RELAY_FRAME:
		if (!rs->up)
			break;
		if ((rf = ferry__relay_frame__unpack(NULL, f->hdr.len,
		    f->payload)) == NULL) {
			tr_conn_kick(conn, "an undecodable relayed frame");
			break;
		}
		relay_standby_deliver(rs, rf);
		ferry__relay_frame__free_unpacked(rf, NULL);
		break;
	case MSG_RELAY_CLOSE:
		if ((rc = ferry__relay_close__unpack(NULL, f->hdr.len,
		    f->payload)) == NULL)
			break;
		TAILQ_FOREACH(s, &rs->sessions, entry)
			if (s->id == rc->session) {
				relay_standby_end(rs, s, 0);
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
relay_standby_on_down(struct tr_conn *conn, const char *reason, void *arg)
{
	struct relay_standby *rs = arg;

	(void)conn;
	if (rs->up)
		log_warnx("relay: to the leader %s lost: %s", rs->target,
		    reason);
	rs->up = 0;
	if (rs->why[0] == '\0' || strstr(rs->why, "answers as") == NULL)
		snprintf(rs->why, sizeof(rs->why), "%s", reason);
	relay_standby_fail_all(rs, reason);
}

static void
relay_standby_close(struct relay_standby *rs, const char *why)
{
	relay_standby_fail_all(rs, why);
	tr_conn_close(rs->conn);
	rs->conn = NULL;
	rs->up = 0;
	rs->target[0] = '\0';
}

/*
 * Follows the lease (ha.c calls this at each view, sweep_cb each 250 ms):
 * a standby that knows a leader other than itself keeps a session to it;
 * a leader, or one that knows none, keeps none.
 */
void
relay_standby_update(struct coord *co)
{
	static const struct tr_callbacks cbs = {
		relay_standby_on_up, relay_standby_on_frame,
		relay_standby_on_down,
	};
	struct relay_standby *rs = co->relay_standby;
	const struct coord_ha_peer *p;
	struct tr_client_config tc;
	struct relay_ssession *s, *next;
	const char *want = "";

	if (rs == NULL)
		return;
	if (co->ha_state == HA_STANDBY && co->ha_leader[0] &&
	    strcmp(co->ha_leader, co->conf.ha.node) != 0)
		want = co->ha_leader;
	if (strcmp(want, rs->target) != 0) {
		if (rs->conn != NULL)
			relay_standby_close(rs, want[0] ? "the lease passed "
			    "to another" : "no leader to relay to");
		if (want[0] == '\0') {
			snprintf(rs->why, sizeof(rs->why), "no leader is known");
			return;
		}
		if ((p = relay_peer_conf(co, want)) == NULL) {
			snprintf(rs->why, sizeof(rs->why), "the leader %s is not "
			    "one of ha.peers in coordinator.conf", want);
			snprintf(rs->target, sizeof(rs->target), "%s", want);
			return;
		}
		memset(&tc, 0, sizeof(tc));
		tc.name = p->node;
		tc.host = p->address;
		tc.port = p->port;
		tc.user = "ferry";
		tc.identity = co->conf.identity;
		tc.known_hosts = co->conf.known_hosts;
		tc.connect_timeout_ms = co->conf.connect_timeout_ms;
		tc.idle_timeout_ms = RELAY_IDLE_MS;
		tc.backoff_min_ms = 200;
		tc.backoff_max_ms = 2000;
		tc.max_frame_rate = 2000;	/* progress of many watches */
		snprintf(rs->target, sizeof(rs->target), "%s", want);
		snprintf(rs->why, sizeof(rs->why), "connecting to %s port %d",
		    p->address, p->port);
		if ((rs->conn = tr_client_start(co->loop, &tc, &cbs,
		    rs)) == NULL)
			snprintf(rs->why, sizeof(rs->why), "cannot start a "
			    "session to %s", p->address);
		return;
	}
	if (rs->up && clock_mono_ms() - rs->hello_ms >= RELAY_HELLO_MS)
		relay_standby_hello(rs);
	/* Clients that went: the leader ends their side too. */
	for (s = TAILQ_FIRST(&rs->sessions); s != NULL; s = next) {
		next = TAILQ_NEXT(s, entry);
		if (!control_client_alive(s->client))
			relay_standby_end(rs, s, 1);
	}
}

/*
 * Forwards f, a call of client c, to the leader. 0, or -1 with why it
 * cannot (then the caller answers it).
 */
int
relay_standby_forward(struct coord *co, struct ctl_client *c,
    const struct frame *f, char *err, size_t errlen)
{
	struct relay_standby *rs = co->relay_standby;
	Ferry__RelayFrame rf = FERRY__RELAY_FRAME__INIT;
	struct relay_ssession *s;
	char user[64];
	uint8_t *inner;
	long uid, pid;
	int rc;

	if (rs == NULL) {
		snprintf(err, errlen, "no relay to it is configured (ha.peers)");
		return -1;
	}
	if (!rs->up) {
		snprintf(err, errlen, "the relay to it is not up (%s)",
		    rs->why);
		return -1;
	}
	TAILQ_FOREACH(s, &rs->sessions, entry)
		if (s->client == c)
			break;
	if (s == NULL) {
		if ((s = calloc(1, sizeof(*s))) == NULL) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		s->id = ++rs->next_id;
		s->client = c;
		control_client_ref(c);
		TAILQ_INSERT_TAIL(&rs->sessions, s, entry);
	}
	s->type = f->hdr.type;
	s->serial = f->hdr.serial;
	rf.session = s->id;
	if (relay_frame_wrap(&rf, &f->hdr, f->payload, &inner) < 0) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	control_client_cred(c, &uid, &pid);
	audit_ctl_who((uid_t)uid, user, sizeof(user));
	rf.has_uid = rf.has_pid = 1;
	rf.uid = uid;
	rf.pid = pid;
	rf.user = user;
	rc = relay_send(rs->conn, MSG_RELAY_FRAME, &rf.base);
	free(inner);
	if (rc < 0) {
		snprintf(err, errlen, "the relay to it just went");
		return -1;
	}
	return 0;
}

int
relay_standby_start(struct coord *co, char *err, size_t errlen)
{
	struct relay_standby *rs;

	if (co->conf.ha.node[0] == '\0' || co->conf.ha.npeers == 0)
		return 0;
	if ((rs = calloc(1, sizeof(*rs))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	rs->co = co;
	TAILQ_INIT(&rs->sessions);
	snprintf(rs->why, sizeof(rs->why), "no leader is known yet");
	co->relay_standby = rs;
	return 0;
}

void
relay_standby_stop(struct coord *co)
{
	struct relay_standby *rs = co->relay_standby;

	if (rs == NULL)
		return;
	relay_standby_close(rs, "this coordinator is stopping");
}

void
relay_standby_free(struct coord *co)
{
	free(co->relay_standby);
	co->relay_standby = NULL;
}

/* May a call be relayed now? */
int
relay_standby_ready(const struct coord *co)
{
	return co->relay_standby != NULL && co->relay_standby->up;
}

/* For ferryctl status: the relay's state in a few words. */
const char *
relay_standby_state(const struct coord *co)
{
	const struct relay_standby *rs = co->relay_standby;

	if (rs == NULL)
		return "none";
	return rs->up ? "up" : rs->why;
}
