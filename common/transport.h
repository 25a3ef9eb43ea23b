/* transport.h: frames over one SSH channel (libssh), for both daemons.
 *
 * The generic part of the peer protocol, apart from any message handling:
 * SSH handshake and key checks, framing, idle/slow-peer timeouts. Every
 * connection is serviced by its own thread, because libssh is blocking and a
 * session may be used by one thread at a time; that thread does the TCP
 * connect, the handshake (with a timeout), and all channel reads and writes.
 * Nothing here ever blocks the libuv loop: the loop learns of connections
 * and frames through a uv_async_t, and all tr_callbacks run on the loop
 * thread.
 *
 * Server (hostd): authenticates itself with its host key and admits only
 * clients whose public key is in the authorized-keys file (publickey auth
 * only, user name ignored); the client must then open one "session" channel
 * and request the subsystem "ferry". Everything else is refused.
 *
 * Client (coordinator): verifies the server's host key against a
 * known_hosts file (OpenSSH format; "[addr]:port" entries for ports other
 * than 22) and refuses any host that is unknown or changed; logs in with
 * its private key; reconnects with exponential backoff until closed.
 */
#ifndef FERRY_TRANSPORT_H
#define FERRY_TRANSPORT_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "frame.h"

#define TR_SUBSYSTEM	"ferry"

struct tr_conn;
struct tr_server;

/* All three run on the loop thread. */
struct tr_callbacks {
	/* The session is authenticated and the channel open. */
	void	(*on_up)(struct tr_conn *, void *arg);
	/* One complete frame; the callee owns f (frame_free). */
	void	(*on_frame)(struct tr_conn *, struct frame *f, void *arg);
	/* The session ended (or, for a client, an attempt failed: then on_up
	 * was not called before). For a server connection this is the last
	 * callback; the conn is freed by the transport after it returns, from
	 * a deferred callback. A client conn stays valid and keeps trying
	 * until tr_conn_close(). */
	void	(*on_down)(struct tr_conn *, const char *reason, void *arg);
};

struct tr_server_config {
	const char	*listen_addr;		/* e.g. "0.0.0.0" or one address */
	int		 port;
	const char	*host_key;		/* private host key file */
	const char	*authorized_keys;	/* OpenSSH authorized_keys format */
	int		 handshake_timeout_ms;	/* whole handshake + auth + channel */
	int		 idle_timeout_ms;	/* no byte at all for this long: drop */
	int		 frame_timeout_ms;	/* a started frame not finished: drop */
	uint32_t	 max_payload;		/* 0: FRAME_MAX_PAYLOAD */
	int		 max_sessions;		/* authenticated sessions; 0: 16 */
	/* Connections not yet authenticated, as sshd's MaxStartups
	 * begin:rate:full: from begin on, a new one is dropped with
	 * probability rate% rising linearly to 100% at full. 0: defaults. */
	int		 startups_begin;
	int		 startups_rate;
	int		 startups_full;
	int		 per_source_startups;	/* unauthenticated, per address */
	int		 max_frame_rate;	/* frames/s a session may send */
	int		 frame_burst;		/* ... in a burst; 0: 2 x rate */
};

/* The defaults of the pre-authentication limits (sshd's 10:30:60). */
#define TR_STARTUPS_BEGIN	10
#define TR_STARTUPS_RATE	30
#define TR_STARTUPS_FULL	60
#define TR_PER_SOURCE_STARTUPS	4

/* A client's sessions between TCP connect and the peer's first frame, at
 * once, process-wide (transport_client.c); the others wait their turn. */
#define TR_MAX_HANDSHAKES	48

/* A session's reason for ending when its peer sent too many frames. */
#define TR_FLOOD_REASON		"flooding"

struct tr_client_config {
	const char	*name;			/* for logs: the host's name */
	const char	*host;			/* address to connect to */
	int		 port;
	const char	*user;			/* SSH user name; "ferry" */
	const char	*identity;		/* private key file */
	const char	*known_hosts;		/* known_hosts file */
	int		 connect_timeout_ms;	/* TCP connect + handshake + auth */
	int		 idle_timeout_ms;	/* no byte at all for this long: drop */
	int		 backoff_min_ms;	/* first retry delay, doubles ... */
	int		 backoff_max_ms;	/* ... up to this */
	uint32_t	 max_payload;
	/* Frames/s the peer may send (token bucket, 0: no limit); a session
	 * over it is cut, and the next attempt waits backoff_max_ms. */
	int		 max_frame_rate;
	int		 frame_burst;		/* 0: 2 x rate */
};

/* transport.c */
struct tr_server *tr_server_start(uv_loop_t *, const struct tr_server_config *,
	    const struct tr_callbacks *, void *arg, char *err, size_t errlen);
void	 tr_server_stop(struct tr_server *);	/* closes every session; NULL ok */
/* Frames received, not yet delivered to the loop (bounded). */
size_t	 tr_server_inq_frames(struct tr_server *);

struct tr_conn *tr_client_start(uv_loop_t *, const struct tr_client_config *,
	    const struct tr_callbacks *, void *arg);
/* Queue a complete frame (from frame_pack) for sending; takes ownership of
 * buf in all cases. Safe from any thread. Returns 0, or -1 when the
 * connection is not up (buf is freed). */
int	 tr_conn_send(struct tr_conn *, uint8_t *buf, size_t len);
/* Drop the current session now (a client reconnects after backoff). */
void	 tr_conn_kick(struct tr_conn *, const char *reason);
/* Loop thread only. Ends the connection for good; no callback runs after
 * this returns; memory is released from a deferred callback. NULL ok. */
void	 tr_conn_close(struct tr_conn *);
int	 tr_conn_is_up(const struct tr_conn *);
const char *tr_conn_peer(const struct tr_conn *);	/* "addr:port" */
void	*tr_conn_get_data(const struct tr_conn *);
void	 tr_conn_set_data(struct tr_conn *, void *);	/* caller's per-conn pointer */
/* sshd's StrictModes for a file that decides who gets in: 0, or -1 and why. */
int	 tr_check_trusted(const char *path, const char *what, char *err,
	    size_t errlen);

#endif
