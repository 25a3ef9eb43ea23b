/* transport_int.h: what the transport's files share; not for users (see
 * transport.h).
 *
 * Threads: every connection has one thread that owns its libssh session
 * outright (connect/accept, handshake, auth, channel, reads and writes); a
 * server also has an acceptor thread. Threads talk to the loop thread
 * through a "sink": a mutex-protected event list plus a uv_async_t (one per
 * client conn, one per server shared by its conns). Other threads reach a
 * connection thread through its eventfd (wakeup), flags under conn->mu, and
 * shutdown(2) of its socket to break a blocking libssh call.
 */
#ifndef FERRY_TRANSPORT_INT_H
#define FERRY_TRANSPORT_INT_H

#include <sys/socket.h>

#include <pthread.h>
#include <stdint.h>

#include <libssh/libssh.h>
#include <libssh/server.h>

#include "transport.h"

#define TR_OUTQ_MAX		(64u * 1024 * 1024)	/* queued for sending */
#define TR_INQ_MAX		(16u * 1024 * 1024)	/* loop behind */
#define TR_INQ_MAX_FRAMES	4096			/* ... in frames */
#define TR_DISPATCH_BATCH	128			/* events a loop turn */
#define TR_MAX_SESSIONS		16
#define TR_WRITE_CHUNK		(256 * 1024)
#define TR_READ_BUDGET		(4 * 1024 * 1024)	/* per loop turn */
#define TR_ACCEPT_TICK_MS	200			/* watchdog tick */
#define TR_ACCEPT_BATCH		64			/* accepts a wakeup */
#define TR_MAX_AUTH_TRIES	6
#define TR_HOSTKEYS		"ssh-ed25519,ecdsa-sha2-nistp256," \
				"ecdsa-sha2-nistp384,ecdsa-sha2-nistp521," \
				"rsa-sha2-512,rsa-sha2-256"

enum tr_ev_kind {
	TR_EV_UP,
	TR_EV_FRAME,
	TR_EV_DOWN,
	TR_EV_EXIT,		/* the conn's thread has finished */
};

struct tr_ev {
	struct tr_ev	*next;
	struct tr_conn	*conn;
	enum tr_ev_kind	 kind;
	struct frame	*frame;		/* TR_EV_FRAME; owned by the event */
	char		 reason[];	/* TR_EV_DOWN */
};

struct tr_sink {
	uv_async_t	 async;
	pthread_mutex_t	 mu;
	struct tr_ev	*head, **tail;
	size_t		 bytes;		/* frame payload bytes queued */
	size_t		 frames;	/* frames queued: empty ones cost too */
};

struct tr_out {
	struct tr_out	*next;
	uint8_t		*buf;
	size_t		 len, off;
};

struct tr_conn {
	struct tr_server	*srv;		/* NULL for a client */
	struct tr_sink		*sink;		/* &own_sink or &srv->sink */
	struct tr_sink		 own_sink;
	struct tr_callbacks	 cb;
	void			*arg;
	void			*data;		/* the user's, never touched */
	char			 name[64];	/* for logs */
	char			 peer[80];	/* "addr:port", constant */

	int			 hs_timeout;
	int			 idle_timeout;
	int			 frame_timeout;
	uint32_t		 max_payload;
	int			 rate, burst;	/* frames/s from the peer; 0: any */

	/* Client only; strings owned by the conn. */
	char			*host, *user, *known_hosts;
	int			 port;
	int			 backoff_min, backoff_max;
	ssh_key			 identity;
	uint32_t		 rnd;
	int			 hs_slot;	/* a handshake slot, held until the
						 * first frame (conn thread only) */

	pthread_t		 thread;
	int			 joined;
	int			 wakefd;	/* eventfd: pokes the thread */

	pthread_mutex_t		 mu;		/* guards the fields below */
	int			 up;
	int			 stop;		/* end the thread */
	int			 kick;		/* end the current session */
	char			 kick_reason[128];
	int			 overflow;
	int			 sockfd;	/* for shutdown(); -1: none */
	uint64_t		 hs_deadline;	/* server: watchdog, 0: none */
	int			 hs_expired;
	struct tr_out		*outq, **outtail;
	size_t			 outbytes;

	/* Loop thread only. */
	int			 closed;	/* tr_conn_close(): silence */
	int			 shown_up;	/* on_up, no on_down yet */

	/* Connection thread only. */
	ssh_session		 ssh;
	ssh_channel		 ch;
	struct frame_reader	 rd;
	uint64_t		 bucket;	/* milli-frames the peer may send */
	uint64_t		 bucket_ms;	/* when it was last filled */
	int			 flooded;	/* the last session ended so */

	/* Server only, under srv->mu. */
	struct tr_conn		*next;		/* server's list */
	struct sockaddr_storage	 src;		/* the peer's address */
	int			 authed;	/* counted in nauth, not nunauth */
	int			 done;		/* thread finished: not counted */
};

struct tr_server {
	uv_loop_t		*loop;
	struct tr_sink		 sink;
	struct tr_callbacks	 cb;
	void			*arg;
	char			*authorized_keys;
	int			 hs_timeout;
	int			 idle_timeout;
	int			 frame_timeout;
	uint32_t		 max_payload;
	int			 rate, burst;
	int			 max_sessions;
	int			 startups_begin, startups_rate, startups_full;
	int			 per_source;
	ssh_bind		 bind;
	pthread_t		 acceptor;
	int			 acceptor_started;
	int			 wakefd;
	int			 stopped;	/* tr_server_stop() ran */

	pthread_mutex_t		 mu;		/* guards the fields below */
	int			 stop;
	int			 nunauth;	/* threads before authentication */
	int			 nauth;		/* authenticated sessions */
	struct tr_conn		*conns;
	uint64_t		 refused_log_ms;	/* refusals: one log a second */
	unsigned		 refused;	/* not logged yet */
};

/* transport_io.c */
uint64_t tr_now_ms(void);
void	 tr_init(void);
void	 tr_thread_init(void);
void	 tr_poke(int fd);
void	 tr_drain_fd(int fd);
void	 tr_nodelay(int fd);
void	 tr_set_timeout(ssh_session s, uint64_t deadline);
struct tr_conn *tr_conn_new(void);
void	 tr_conn_free(struct tr_conn *c);
void	 tr_conn_interrupt(struct tr_conn *c, int stop, const char *kick);
int	 tr_conn_check(struct tr_conn *c, char *reason, size_t rlen);
void	 tr_conn_set_sockfd(struct tr_conn *c, int fd);
void	 tr_conn_set_up(struct tr_conn *c);
void	 tr_session_end(struct tr_conn *c);
void	 tr_io_loop(struct tr_conn *c, char *reason, size_t rlen);
/* transport_client.c */
void	 tr_client_slot_release(struct tr_conn *c);

/* transport_sink.c */
int	 tr_sink_init(uv_loop_t *loop, struct tr_sink *s, uv_async_cb cb,
    void *data);
void	 tr_sink_push(struct tr_conn *c, enum tr_ev_kind kind, struct frame *f,
    const char *reason);
int	 tr_sink_full(struct tr_sink *s);
struct tr_ev *tr_sink_take(struct tr_sink *s);
void	 tr_ev_free_list(struct tr_ev *ev);
void	 tr_sink_destroy(struct tr_sink *s);
void	 tr_conn_free_cb(uv_handle_t *h);
void	 tr_server_async_cb(uv_async_t *a);
void	 tr_client_async_cb(uv_async_t *a);

/* transport_keys.c */
int	 tr_check_private(const char *path, char *err, size_t errlen);
int	 tr_keys_load(const char *path, ssh_key **keysp);
void	 tr_keys_free(ssh_key *keys, int n);

/* transport_auth.c */
int	 tr_srv_handshake(struct tr_conn *c, char *reason, size_t rlen);

/* transport_server.c */
void	 tr_server_unlink(struct tr_server *srv, struct tr_conn *c);

#endif
