/* transport.c: frames over one SSH channel (libssh); see transport.h.
 *
 * Threads: every connection has one thread that owns its libssh session
 * outright (connect/accept, handshake, auth, channel, reads and writes); a
 * server also has an acceptor thread. Threads talk to the loop thread
 * through a "sink": a mutex-protected event list plus a uv_async_t (one per
 * client conn, one per server shared by its conns). Other threads reach a
 * connection thread through its eventfd (wakeup), flags under conn->mu, and
 * shutdown(2) of its socket to break a blocking libssh call.
 */
#include <sys/types.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libssh/callbacks.h>
#include <libssh/libssh.h>
#include <libssh/server.h>

#include "log.h"
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

static pthread_once_t tr_once = PTHREAD_ONCE_INIT;

static uint64_t
tr_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void
tr_ssh_log(int prio, const char *fn, const char *buf, void *arg)
{
	(void)prio;
	(void)fn;
	(void)arg;
	log_debug("libssh: %s", buf);
}

static void
tr_init_once(void)
{
	if (ssh_init() != SSH_OK)
		fatalx("ssh_init failed");
}

/* libssh keeps its log level and callback per thread (0.10). */
static void
tr_thread_init(void)
{
	ssh_set_log_callback(tr_ssh_log);
	ssh_set_log_level(log_getverbose() > 1 ? SSH_LOG_PROTOCOL :
	    SSH_LOG_NOLOG);
}

static void
tr_poke(int fd)
{
	uint64_t one = 1;

	(void)!write(fd, &one, sizeof(one));
}

static void
tr_drain_fd(int fd)
{
	uint64_t v;

	(void)!read(fd, &v, sizeof(v));
}

/* Frames are small and answered one by one: Nagle would add delayed-ACK
 * stalls (40 ms) to every exchange, the handshake included. */
static void
tr_nodelay(int fd)
{
	int one = 1;

	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

/* Secrets must be 0600 (or stricter); say so rather than use them. */
static int
tr_check_private(const char *path, char *err, size_t errlen)
{
	struct stat st;

	if (path == NULL) {
		snprintf(err, errlen, "no private key file given");
		return -1;
	}
	if (stat(path, &st) == -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (st.st_mode & 077) {
		snprintf(err, errlen, "%s: private key is accessible by "
		    "group/others (mode %04o); it must be 0600", path,
		    (unsigned)(st.st_mode & 07777));
		return -1;
	}
	return 0;
}

/*
 * sshd's StrictModes for the files that decide who gets in (authorized_keys)
 * and whom we believe (known_hosts): a regular file owned by root or by us
 * and writable by nobody else, in directories nobody else can write to (a
 * root-owned sticky directory such as /tmp is fine: others cannot replace
 * what is ours in it). Anything else would let a local user add a key.
 */
int
tr_check_trusted(const char *path, const char *what, char *err, size_t errlen)
{
	char real[PATH_MAX], *slash;
	struct stat st;
	uid_t me = geteuid();
	int dir = 0;

	if (path == NULL) {
		snprintf(err, errlen, "no %s file given", what);
		return -1;
	}
	if (realpath(path, real) == NULL || stat(real, &st) == -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s: %s is not a regular file", path, what);
		return -1;
	}
	for (;;) {
		if (st.st_uid != 0 && st.st_uid != me) {
			snprintf(err, errlen, "%s: refusing %s: %s%s is owned by "
			    "uid %u (only root or uid %u may own it)", path, what,
			    dir ? "directory " : "", real, (unsigned)st.st_uid,
			    (unsigned)me);
			return -1;
		}
		if ((st.st_mode & 022) && !(dir && (st.st_mode & S_ISVTX) &&
		    st.st_uid == 0)) {
			snprintf(err, errlen, "%s: refusing %s: %s%s is writable "
			    "by group/others (mode %04o)", path, what, dir ?
			    "directory " : "", real, (unsigned)(st.st_mode & 07777));
			return -1;
		}
		if (strcmp(real, "/") == 0)
			return 0;
		if ((slash = strrchr(real, '/')) == real)
			real[1] = '\0';
		else
			*slash = '\0';
		dir = 1;
		if (stat(real, &st) == -1) {
			snprintf(err, errlen, "%s: %s", real, strerror(errno));
			return -1;
		}
	}
}

static void
tr_set_timeout(ssh_session s, uint64_t deadline)
{
	uint64_t now = tr_now_ms();
	long ms = deadline > now ? (long)(deadline - now) : 1;
	long sec = ms / 1000, usec = (ms % 1000) * 1000;

	ssh_options_set(s, SSH_OPTIONS_TIMEOUT, &sec);
	ssh_options_set(s, SSH_OPTIONS_TIMEOUT_USEC, &usec);
}

/* ---- sinks: connection threads -> loop thread ---- */

static int
tr_sink_init(uv_loop_t *loop, struct tr_sink *s, uv_async_cb cb, void *data)
{
	if (pthread_mutex_init(&s->mu, NULL) != 0)
		return -1;
	s->head = NULL;
	s->tail = &s->head;
	s->bytes = 0;
	s->frames = 0;
	if (uv_async_init(loop, &s->async, cb) != 0) {
		pthread_mutex_destroy(&s->mu);
		return -1;
	}
	s->async.data = data;
	return 0;
}

/* Takes f. Allocation failure is fatal: an event lost would leave the
 * loop's view of the connection wrong for good. */
static void
tr_sink_push(struct tr_conn *c, enum tr_ev_kind kind, struct frame *f,
    const char *reason)
{
	struct tr_sink *s = c->sink;
	size_t rl = reason ? strlen(reason) + 1 : 1;
	struct tr_ev *ev;

	if ((ev = malloc(sizeof(*ev) + rl)) == NULL)
		fatal("%s", __func__);
	ev->next = NULL;
	ev->conn = c;
	ev->kind = kind;
	ev->frame = f;
	memcpy(ev->reason, reason ? reason : "", rl);
	pthread_mutex_lock(&s->mu);
	*s->tail = ev;
	s->tail = &ev->next;
	if (f != NULL) {
		s->bytes += f->hdr.len;
		s->frames++;
	}
	pthread_mutex_unlock(&s->mu);
	uv_async_send(&s->async);
}

/* The loop is behind: in bytes, or in frames (a flood of empty frames
 * costs an event and a callback each). */
static int
tr_sink_full(struct tr_sink *s)
{
	int full;

	pthread_mutex_lock(&s->mu);
	full = s->bytes > TR_INQ_MAX || s->frames > TR_INQ_MAX_FRAMES;
	pthread_mutex_unlock(&s->mu);
	return full;
}

static struct tr_ev *
tr_sink_take(struct tr_sink *s)
{
	struct tr_ev *list;

	pthread_mutex_lock(&s->mu);
	list = s->head;
	s->head = NULL;
	s->tail = &s->head;
	s->bytes = 0;
	s->frames = 0;
	pthread_mutex_unlock(&s->mu);
	return list;
}

/* At most max events, oldest first; *more says whether some are left. */
static struct tr_ev *
tr_sink_take_some(struct tr_sink *s, int max, int *more)
{
	struct tr_ev *list, *ev, *last = NULL;
	int n = 0;

	pthread_mutex_lock(&s->mu);
	list = s->head;
	for (ev = list; ev != NULL && n < max; ev = ev->next, n++) {
		if (ev->frame != NULL) {
			s->bytes -= ev->frame->hdr.len;
			s->frames--;
		}
		last = ev;
	}
	if (last != NULL) {
		s->head = last->next;
		last->next = NULL;
		if (s->head == NULL)
			s->tail = &s->head;
	}
	*more = s->head != NULL;
	pthread_mutex_unlock(&s->mu);
	return last != NULL ? list : NULL;
}

static void
tr_ev_free_list(struct tr_ev *ev)
{
	struct tr_ev *next;

	for (; ev != NULL; ev = next) {
		next = ev->next;
		frame_free(ev->frame);
		free(ev);
	}
}

/* ---- connections: shared parts ---- */

static struct tr_conn *
tr_conn_new(void)
{
	struct tr_conn *c;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	c->sockfd = -1;
	c->outtail = &c->outq;
	if ((c->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) == -1) {
		free(c);
		return NULL;
	}
	if (pthread_mutex_init(&c->mu, NULL) != 0) {
		close(c->wakefd);
		free(c);
		return NULL;
	}
	return c;
}

static void
tr_outq_free(struct tr_out *o)
{
	struct tr_out *next;

	for (; o != NULL; o = next) {
		next = o->next;
		free(o->buf);
		free(o);
	}
}

/* The thread must be finished (or never started). */
static void
tr_conn_free(struct tr_conn *c)
{
	if (c == NULL)
		return;
	tr_outq_free(c->outq);
	ssh_key_free(c->identity);
	free(c->host);
	free(c->user);
	free(c->known_hosts);
	if (c->wakefd != -1)
		close(c->wakefd);
	pthread_mutex_destroy(&c->mu);
	free(c);
}

/* Any thread: make the connection thread give up whatever it is doing. */
static void
tr_conn_interrupt(struct tr_conn *c, int stop, const char *kick)
{
	pthread_mutex_lock(&c->mu);
	if (stop)
		c->stop = 1;
	if (kick != NULL && !c->kick) {
		c->kick = 1;
		snprintf(c->kick_reason, sizeof(c->kick_reason), "%s", kick);
	}
	if (c->sockfd != -1)
		shutdown(c->sockfd, SHUT_RDWR);
	pthread_mutex_unlock(&c->mu);
	tr_poke(c->wakefd);
}

/* Fills reason and returns -1 when the thread was told to stop. */
static int
tr_conn_check(struct tr_conn *c, char *reason, size_t rlen)
{
	int rc = 0;

	pthread_mutex_lock(&c->mu);
	if (c->stop) {
		snprintf(reason, rlen, "%s", c->srv ? "server stopping" :
		    "connection closed");
		rc = -1;
	} else if (c->kick) {
		snprintf(reason, rlen, "kicked: %s", c->kick_reason);
		rc = -1;
	} else if (c->overflow) {
		snprintf(reason, rlen, "send queue over %u bytes",
		    TR_OUTQ_MAX);
		rc = -1;
	} else if (c->hs_expired) {
		snprintf(reason, rlen, "handshake timeout (%d ms)",
		    c->hs_timeout);
		rc = -1;
	}
	pthread_mutex_unlock(&c->mu);
	return rc;
}

static void
tr_conn_set_sockfd(struct tr_conn *c, int fd)
{
	pthread_mutex_lock(&c->mu);
	c->sockfd = fd;
	pthread_mutex_unlock(&c->mu);
}

static void
tr_conn_set_up(struct tr_conn *c)
{
	pthread_mutex_lock(&c->mu);
	c->up = 1;
	c->hs_deadline = 0;
	pthread_mutex_unlock(&c->mu);
}

/* Connection thread: tear the session down; the socket goes with it. */
static void
tr_session_end(struct tr_conn *c)
{
	struct tr_out *o;

	pthread_mutex_lock(&c->mu);
	c->up = 0;
	c->sockfd = -1;		/* libssh closes it below */
	c->hs_deadline = 0;
	c->overflow = 0;
	o = c->outq;
	c->outq = NULL;
	c->outtail = &c->outq;
	c->outbytes = 0;
	pthread_mutex_unlock(&c->mu);
	tr_outq_free(o);
	frame_reader_reset(&c->rd);
	if (c->ssh != NULL)
		ssh_set_blocking(c->ssh, 0);	/* never hang on the way out */
	if (c->ch != NULL) {
		if (ssh_channel_is_open(c->ch))
			ssh_channel_close(c->ch);
		ssh_channel_free(c->ch);
		c->ch = NULL;
	}
	if (c->ssh != NULL) {
		/* ssh_disconnect() leaves a socket given with SSH_OPTIONS_FD
		 * open (unless an error closed it already); ssh_free() alone
		 * closes whatever is still open, exactly once. */
		if (c->srv != NULL)
			ssh_disconnect(c->ssh);
		ssh_free(c->ssh);
		c->ssh = NULL;
	}
}

/* Writes what the window allows; the rest waits for the next turn. */
static int
tr_io_write(struct tr_conn *c, struct tr_out **out, struct tr_out ***outtail,
    char *reason, size_t rlen)
{
	struct tr_out *o;
	size_t n;
	int w;

	while ((o = *out) != NULL) {
		n = o->len - o->off;
		if (n > TR_WRITE_CHUNK)
			n = TR_WRITE_CHUNK;
		w = ssh_channel_write(c->ch, o->buf + o->off, (uint32_t)n);
		if (w < 0) {
			snprintf(reason, rlen, "write: %s",
			    ssh_get_error(c->ssh));
			return -1;
		}
		o->off += (size_t)w;
		if (o->off == o->len) {
			if ((*out = o->next) == NULL)
				*outtail = out;
			pthread_mutex_lock(&c->mu);
			c->outbytes -= o->len;
			pthread_mutex_unlock(&c->mu);
			free(o->buf);
			free(o);
		}
		if ((size_t)w < n)
			break;		/* window (or rekey): wait for input */
	}
	return 0;
}

/*
 * Connection thread: one more frame from the peer. A token bucket of
 * c->burst frames refilled at c->rate a second; -1 when it is empty. It
 * runs here, before the frame is queued, so a flood costs the loop
 * nothing and a legitimate burst (a drain's replies) passes.
 */
static int
tr_bucket_take(struct tr_conn *c)
{
	uint64_t now, cap;

	if (c->rate <= 0)
		return 0;
	now = tr_now_ms();
	cap = (uint64_t)c->burst * 1000;
	c->bucket += (now - c->bucket_ms) * (uint64_t)c->rate;
	if (c->bucket > cap)
		c->bucket = cap;
	c->bucket_ms = now;
	if (c->bucket < 1000)
		return -1;
	c->bucket -= 1000;
	return 0;
}

static int
tr_io_read(struct tr_conn *c, uint64_t *last_rx, uint64_t *started,
    char *reason, size_t rlen)
{
	uint8_t buf[32 * 1024];
	struct frame *f;
	size_t total = 0, off, used;
	int n, rc;

	while (total < TR_READ_BUDGET) {
		if (total > 0 && tr_sink_full(c->sink))
			break;		/* the loop is behind: wait for it */
		n = ssh_channel_poll(c->ch, 0);
		if (n == SSH_EOF) {
			snprintf(reason, rlen, "peer closed the channel");
			return -1;
		}
		if (n < 0) {
			snprintf(reason, rlen, "connection lost: %s",
			    ssh_get_error(c->ssh));
			return -1;
		}
		if (n == 0)
			break;
		n = ssh_channel_read_nonblocking(c->ch, buf, sizeof(buf), 0);
		if (n == SSH_EOF) {
			snprintf(reason, rlen, "peer closed the channel");
			return -1;
		}
		if (n < 0) {
			snprintf(reason, rlen, "read: %s",
			    ssh_get_error(c->ssh));
			return -1;
		}
		if (n == 0)
			break;
		total += (size_t)n;
		*last_rx = tr_now_ms();
		for (off = 0; off < (size_t)n; off += used) {
			rc = frame_reader_feed(&c->rd, buf + off, n - off,
			    &used, &f);
			if (rc < 0) {
				snprintf(reason, rlen, "bad frame: %s",
				    frame_strerror(rc));
				log_warnx("%s: %s", c->name, reason);
				return -1;
			}
			if (rc == 1 && tr_bucket_take(c) == -1) {
				frame_free(f);
				c->flooded = 1;
				snprintf(reason, rlen, TR_FLOOD_REASON ": more "
				    "than %d frames a second (burst %d)",
				    c->rate, c->burst);
				log_warnx("%s: %s", c->name, reason);
				return -1;
			}
			if (rc == 1) {
				tr_sink_push(c, TR_EV_FRAME, f, NULL);
				*started = 0;
			}
		}
		if (frame_reader_pending(&c->rd) && *started == 0)
			*started = *last_rx;
	}
	/* Nothing is expected on stderr; keep it from eating the window. */
	while (ssh_channel_poll(c->ch, 1) > 0)
		if (ssh_channel_read_nonblocking(c->ch, buf, sizeof(buf),
		    1) <= 0)
			break;
	if (ssh_channel_is_closed(c->ch)) {
		snprintf(reason, rlen, "channel closed");
		return -1;
	}
	return 0;
}

/*
 * Connection thread, session up: move frames both ways until something
 * ends the session; reason says what. The session is nonblocking here.
 */
static void
tr_io_loop(struct tr_conn *c, char *reason, size_t rlen)
{
	struct tr_out *out = NULL, **outtail = &out;
	struct pollfd pfd[2];
	uint64_t now, last_rx, started = 0, t;
	int timeout, throttled;

	ssh_set_blocking(c->ssh, 0);
	frame_reader_init(&c->rd, c->max_payload);
	last_rx = tr_now_ms();
	c->bucket = (uint64_t)c->burst * 1000;	/* a session starts full */
	c->bucket_ms = last_rx;
	c->flooded = 0;
	for (;;) {
		if (tr_conn_check(c, reason, rlen) == -1)
			break;
		pthread_mutex_lock(&c->mu);
		if (c->outq != NULL) {
			*outtail = c->outq;
			outtail = c->outtail;
			c->outq = NULL;
			c->outtail = &c->outq;
		}
		pthread_mutex_unlock(&c->mu);
		if (tr_io_write(c, &out, &outtail, reason, rlen) == -1)
			break;

		/* Back-pressure: leave data in libssh (and so the SSH window
		 * closes on the peer) while the loop is behind. */
		throttled = tr_sink_full(c->sink);
		now = tr_now_ms();
		if (throttled) {
			last_rx = now;
			if (started)
				started = now;
		} else if (tr_io_read(c, &last_rx, &started, reason,
		    rlen) == -1)
			break;

		now = tr_now_ms();
		timeout = throttled ? 10 : 1000;
		if (c->idle_timeout > 0) {
			t = last_rx + (uint64_t)c->idle_timeout;
			if (now >= t) {
				snprintf(reason, rlen, "idle timeout: nothing "
				    "received for %d ms", c->idle_timeout);
				break;
			}
			if (t - now < (uint64_t)timeout)
				timeout = (int)(t - now);
		}
		if (c->frame_timeout > 0 && started != 0) {
			t = started + (uint64_t)c->frame_timeout;
			if (now >= t) {
				snprintf(reason, rlen, "frame timeout: frame "
				    "not completed within %d ms",
				    c->frame_timeout);
				break;
			}
			if (t - now < (uint64_t)timeout)
				timeout = (int)(t - now);
		}

		/* Throttled, the socket stays ready (we leave it unread):
		 * just wait a little for the loop to catch up. */
		pfd[0].fd = throttled ? -1 : ssh_get_fd(c->ssh);
		pfd[0].events = POLLIN;
		if (ssh_get_poll_flags(c->ssh) & SSH_WRITE_PENDING)
			pfd[0].events |= POLLOUT;
		pfd[0].revents = 0;
		pfd[1].fd = c->wakefd;
		pfd[1].events = POLLIN;
		if (poll(pfd, 2, timeout) == -1 && errno != EINTR) {
			snprintf(reason, rlen, "poll: %s", strerror(errno));
			break;
		}
		if (pfd[1].revents & POLLIN)
			tr_drain_fd(c->wakefd);
		if (pfd[0].revents & POLLNVAL) {
			snprintf(reason, rlen, "socket closed");
			break;
		}
	}
	tr_outq_free(out);
}

/* ---- server ---- */

static void
tr_server_free_cb(uv_handle_t *h)
{
	struct tr_server *srv = h->data;

	tr_ev_free_list(srv->sink.head);
	pthread_mutex_destroy(&srv->sink.mu);
	pthread_mutex_destroy(&srv->mu);
	free(srv->authorized_keys);
	free(srv);
}

static void
tr_server_unlink(struct tr_server *srv, struct tr_conn *c)
{
	struct tr_conn **pp;

	pthread_mutex_lock(&srv->mu);
	for (pp = &srv->conns; *pp != NULL; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	pthread_mutex_unlock(&srv->mu);
}

static void
tr_conn_free_cb(uv_handle_t *h)
{
	struct tr_conn *c = h->data;

	tr_ev_free_list(c->own_sink.head);
	pthread_mutex_destroy(&c->own_sink.mu);
	tr_conn_free(c);
}

size_t
tr_server_inq_frames(struct tr_server *srv)
{
	size_t n;

	pthread_mutex_lock(&srv->sink.mu);
	n = srv->sink.frames;
	pthread_mutex_unlock(&srv->sink.mu);
	return n;
}

/* Loop thread: deliver what the connection threads queued, a batch at a
 * time: the rest waits for the next turn, so a burst from one peer does
 * not keep the loop from every other handle (the control socket). */
static void
tr_dispatch(struct tr_sink *sink, struct tr_server *srv)
{
	struct tr_ev *list, *ev;
	struct tr_conn *c;
	const struct tr_callbacks *cb;
	void *arg;
	int more;

	list = tr_sink_take_some(sink, TR_DISPATCH_BATCH, &more);
	if (more)
		uv_async_send(&sink->async);
	while ((ev = list) != NULL) {
		list = ev->next;
		c = ev->conn;
		/* A callback may have stopped the server: conns are gone. */
		if (srv != NULL && srv->stopped) {
			frame_free(ev->frame);
			free(ev);
			continue;
		}
		cb = srv ? &srv->cb : &c->cb;
		arg = srv ? srv->arg : c->arg;
		switch (ev->kind) {
		case TR_EV_UP:
			if (!c->closed) {
				c->shown_up = 1;
				if (cb->on_up)
					cb->on_up(c, arg);
			}
			break;
		case TR_EV_FRAME:
			if (!c->closed && c->shown_up && cb->on_frame) {
				cb->on_frame(c, ev->frame, arg);
				ev->frame = NULL;
			}
			break;
		case TR_EV_DOWN:
			/* A client hears of every failed attempt; a server
			 * only of sessions it was told about. */
			if (!c->closed && (srv == NULL || c->shown_up)) {
				c->shown_up = 0;
				if (cb->on_down)
					cb->on_down(c, ev->reason, arg);
			}
			c->shown_up = 0;
			break;
		case TR_EV_EXIT:
			pthread_join(c->thread, NULL);
			c->joined = 1;
			if (srv != NULL) {
				tr_server_unlink(srv, c);
				tr_conn_free(c);
			} else
				uv_close((uv_handle_t *)&c->own_sink.async,
				    tr_conn_free_cb);
			break;
		}
		frame_free(ev->frame);
		free(ev);
	}
}

static void
tr_server_async_cb(uv_async_t *a)
{
	tr_dispatch(&((struct tr_server *)a->data)->sink, a->data);
}

static void
tr_client_async_cb(uv_async_t *a)
{
	struct tr_conn *c = a->data;

	tr_dispatch(&c->own_sink, NULL);
}

/* Re-read per session so operators can edit the file without a restart.
 * Returns the number of keys (in *keys, caller frees with tr_keys_free) or
 * -1 when the file cannot be read. */
static int
tr_keys_load(const char *path, ssh_key **keysp)
{
	FILE *fp;
	char *line = NULL, *p, *type, *b64, *save;
	size_t cap = 0;
	ssh_key *keys = NULL, *nk, key;
	int n = 0, lineno = 0;
	enum ssh_keytypes_e kt;

	*keysp = NULL;
	if ((fp = fopen(path, "r")) == NULL) {
		log_warn("%s", path);
		return -1;
	}
	while (getline(&line, &cap, fp) != -1) {
		lineno++;
		p = line + strspn(line, " \t");
		if (*p == '#' || *p == '\n' || *p == '\r' || *p == '\0')
			continue;
		type = strtok_r(p, " \t\r\n", &save);
		b64 = strtok_r(NULL, " \t\r\n", &save);
		kt = type ? ssh_key_type_from_name(type) : SSH_KEYTYPE_UNKNOWN;
		key = NULL;
		if (kt == SSH_KEYTYPE_UNKNOWN || b64 == NULL ||
		    ssh_pki_import_pubkey_base64(b64, kt, &key) != SSH_OK) {
			log_warnx("%s:%d: cannot parse (key options are not "
			    "supported), line skipped", path, lineno);
			continue;
		}
		if ((nk = reallocarray(keys, n + 1, sizeof(*keys))) == NULL) {
			ssh_key_free(key);
			log_warn("%s", __func__);
			break;
		}
		keys = nk;
		keys[n++] = key;
	}
	free(line);
	fclose(fp);
	*keysp = keys;
	return n;
}

static void
tr_keys_free(ssh_key *keys, int n)
{
	int i;

	for (i = 0; i < n; i++)
		ssh_key_free(keys[i]);
	free(keys);
}

static void
tr_log_refused(struct tr_conn *c, ssh_key key)
{
	unsigned char *hash = NULL;
	size_t hlen = 0;
	char *fp = NULL;

	if (key != NULL && ssh_get_publickey_hash(key,
	    SSH_PUBLICKEY_HASH_SHA256, &hash, &hlen) == 0)
		fp = ssh_get_fingerprint_hash(SSH_PUBLICKEY_HASH_SHA256,
		    hash, hlen);
	log_warnx("%s: refused key %s (%s)", c->peer,
	    fp ? fp : "(no fingerprint)",
	    key ? ssh_key_type_to_char(ssh_key_type(key)) : "?");
	ssh_string_free_char(fp);
	ssh_clean_pubkey_hash(&hash);
}

/* libssh deprecates the state getter in favour of its callback API; the
 * message API keeps the whole handshake in one readable loop. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
static enum ssh_publickey_state_e
tr_pubkey_state(ssh_message msg)
{
	return ssh_message_auth_publickey_state(msg);
}

/* The key belongs to msg. */
static ssh_key
tr_pubkey(ssh_message msg)
{
	return ssh_message_auth_pubkey(msg);
}
#pragma GCC diagnostic pop

/* For logs: what a refused request asked for. */
static const char *
tr_request_name(int type, int sub)
{
	static const char *chan[] = { "unknown", "session", "direct-tcpip",
	    "forwarded-tcpip", "x11", "auth-agent" };
	static const char *req[] = { "unknown", "pty", "exec", "shell", "env",
	    "subsystem", "window-change", "x11" };

	if (type == SSH_REQUEST_CHANNEL_OPEN && sub >= 0 &&
	    (size_t)sub < sizeof(chan) / sizeof(chan[0]))
		return chan[sub];
	if (type == SSH_REQUEST_CHANNEL && sub >= 0 &&
	    (size_t)sub < sizeof(req) / sizeof(req[0]))
		return req[sub];
	if (type == SSH_REQUEST_GLOBAL)
		return "global request";
	if (type == SSH_REQUEST_SERVICE)
		return "service";
	return "request";
}

/* Session up: requests the peer may still send are refused, not queued. */
static int
tr_refuse_msg(ssh_session s, ssh_message msg, void *arg)
{
	struct tr_conn *c = arg;

	(void)s;
	log_info("%s: refused %s%s (session already up)", c->peer,
	    ssh_message_type(msg) == SSH_REQUEST_CHANNEL_OPEN ?
	    "channel open: " : "",
	    tr_request_name(ssh_message_type(msg), ssh_message_subtype(msg)));
	return 1;	/* libssh replies with a failure */
}

/* Server connection thread, the client just proved its key: it leaves
 * the unauthenticated count for an authenticated slot, which only other
 * authenticated sessions can take. -1: none free. */
static int
tr_server_promote(struct tr_conn *c)
{
	struct tr_server *srv = c->srv;
	int rc = -1;

	pthread_mutex_lock(&srv->mu);
	if (srv->nauth < srv->max_sessions) {
		srv->nunauth--;
		srv->nauth++;
		c->authed = 1;
		rc = 0;
	}
	pthread_mutex_unlock(&srv->mu);
	return rc;
}

/* Server connection thread: key exchange, publickey auth against the
 * authorized keys, one session channel with the "ferry" subsystem. */
static int
tr_srv_handshake(struct tr_conn *c, char *reason, size_t rlen)
{
	struct tr_server *srv = c->srv;
	ssh_message msg;
	ssh_key *keys = NULL, pk;
	uint64_t deadline;
	int nkeys = -1, authed = 0, done = 0, tries = 0, type, sub, i, rc = -1;
	int full = 0;
	const char *name;

	pthread_mutex_lock(&c->mu);
	deadline = c->hs_deadline;
	pthread_mutex_unlock(&c->mu);
	ssh_set_auth_methods(c->ssh, SSH_AUTH_METHOD_PUBLICKEY);
	tr_set_timeout(c->ssh, deadline);
	if (ssh_handle_key_exchange(c->ssh) != SSH_OK) {
		if (tr_conn_check(c, reason, rlen) == 0)
			snprintf(reason, rlen, "key exchange: %s",
			    ssh_get_error(c->ssh));
		goto done;
	}
	/* Read at every login: a file made writable since start is refused
	 * now, not at the next restart. */
	if (tr_check_trusted(srv->authorized_keys, "authorized_keys", reason,
	    rlen) == -1) {
		log_warnx("%s", reason);
		goto done;
	}
	if ((nkeys = tr_keys_load(srv->authorized_keys, &keys)) == -1) {
		snprintf(reason, rlen, "cannot read %s", srv->authorized_keys);
		goto done;
	}
	while (!done) {
		if (tr_conn_check(c, reason, rlen) == -1)
			goto done;
		if (tr_now_ms() >= deadline) {
			snprintf(reason, rlen, "handshake timeout (%d ms)",
			    c->hs_timeout);
			goto done;
		}
		tr_set_timeout(c->ssh, deadline);
		if ((msg = ssh_message_get(c->ssh)) == NULL) {
			if (tr_conn_check(c, reason, rlen) == 0) {
				if (tr_now_ms() >= deadline)
					snprintf(reason, rlen, "handshake "
					    "timeout (%d ms)", c->hs_timeout);
				else
					snprintf(reason, rlen, "handshake: %s",
					    ssh_get_error(c->ssh));
			}
			goto done;
		}
		type = ssh_message_type(msg);
		sub = ssh_message_subtype(msg);
		if (!authed) {
			if (type != SSH_REQUEST_AUTH ||
			    sub != SSH_AUTH_METHOD_PUBLICKEY) {
				ssh_message_auth_set_methods(msg,
				    SSH_AUTH_METHOD_PUBLICKEY);
				ssh_message_reply_default(msg);
				ssh_message_free(msg);
				continue;
			}
			pk = tr_pubkey(msg);
			for (i = 0; pk != NULL && i < nkeys; i++)
				if (ssh_key_cmp(pk, keys[i],
				    SSH_KEY_CMP_PUBLIC) == 0)
					break;
			if (pk == NULL || i == nkeys) {
				tr_log_refused(c, pk);
				ssh_message_auth_set_methods(msg,
				    SSH_AUTH_METHOD_PUBLICKEY);
				ssh_message_reply_default(msg);
				ssh_message_free(msg);
				if (++tries >= TR_MAX_AUTH_TRIES) {
					snprintf(reason, rlen, "too many "
					    "refused keys");
					goto done;
				}
				continue;
			}
			switch (tr_pubkey_state(msg)) {
			case SSH_PUBLICKEY_STATE_NONE:	/* a probe */
				ssh_message_auth_reply_pk_ok_simple(msg);
				break;
			case SSH_PUBLICKEY_STATE_VALID:
				ssh_message_auth_reply_success(msg, 0);
				authed = 1;
				full = tr_server_promote(c) == -1;
				break;
			default:			/* bad signature */
				ssh_message_auth_set_methods(msg,
				    SSH_AUTH_METHOD_PUBLICKEY);
				ssh_message_reply_default(msg);
				break;
			}
		} else if (c->ch == NULL) {
			if (full) {
				/* Logged in, but every session slot is taken
				 * by other authenticated sessions. */
				ssh_message_reply_default(msg);
				ssh_message_free(msg);
				snprintf(reason, rlen, "refused: already %d "
				    "authenticated sessions", srv->max_sessions);
				goto done;
			}
			if (type == SSH_REQUEST_CHANNEL_OPEN &&
			    sub == SSH_CHANNEL_SESSION) {
				c->ch =
				    ssh_message_channel_request_open_reply_accept(
				    msg);
				if (c->ch == NULL) {
					ssh_message_free(msg);
					snprintf(reason, rlen, "channel open: "
					    "%s", ssh_get_error(c->ssh));
					goto done;
				}
			} else {
				log_info("%s: refused %s%s", c->peer,
				    type == SSH_REQUEST_CHANNEL_OPEN ?
				    "channel open: " : "",
				    tr_request_name(type, sub));
				ssh_message_reply_default(msg);
			}
		} else {
			name = (type == SSH_REQUEST_CHANNEL &&
			    sub == SSH_CHANNEL_REQUEST_SUBSYSTEM) ?
			    ssh_message_channel_request_subsystem(msg) : NULL;
			if (name != NULL && strcmp(name, TR_SUBSYSTEM) == 0 &&
			    ssh_message_channel_request_channel(msg) == c->ch) {
				ssh_message_channel_request_reply_success(msg);
				done = 1;
			} else {
				log_info("%s: refused channel request: %s%s%s",
				    c->peer, tr_request_name(type, sub),
				    name ? " " : "", name ? name : "");
				ssh_message_reply_default(msg);
			}
		}
		ssh_message_free(msg);
	}
	ssh_set_message_callback(c->ssh, tr_refuse_msg, c);
	rc = 0;
 done:
	tr_keys_free(keys, nkeys > 0 ? nkeys : 0);
	return rc;
}

static void *
tr_srv_main(void *arg)
{
	struct tr_conn *c = arg;
	struct tr_server *srv = c->srv;
	char reason[256] = "";

	tr_thread_init();
	if (tr_srv_handshake(c, reason, sizeof(reason)) == 0) {
		tr_conn_set_up(c);
		log_info("%s: session up", c->peer);
		tr_sink_push(c, TR_EV_UP, NULL, NULL);
		tr_io_loop(c, reason, sizeof(reason));
		log_info("%s: session down: %s", c->peer, reason);
	} else
		log_info("%s: handshake failed: %s", c->peer, reason);
	tr_session_end(c);
	tr_sink_push(c, TR_EV_DOWN, NULL, reason);
	pthread_mutex_lock(&srv->mu);
	if (c->authed)
		srv->nauth--;
	else
		srv->nunauth--;
	c->done = 1;
	pthread_mutex_unlock(&srv->mu);
	tr_sink_push(c, TR_EV_EXIT, NULL, NULL);
	return NULL;
}

static void
tr_format_peer(const struct sockaddr_storage *ss, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN];

	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const void *)ss;

		inet_ntop(AF_INET6, &s6->sin6_addr, a, sizeof(a));
		snprintf(buf, len, "[%s]:%u", a, ntohs(s6->sin6_port));
	} else if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *s4 = (const void *)ss;

		inet_ntop(AF_INET, &s4->sin_addr, a, sizeof(a));
		snprintf(buf, len, "%s:%u", a, ntohs(s4->sin_port));
	} else
		snprintf(buf, len, "?");
}

/* Same source: the IPv4 address, or the IPv6 /64 (one machine's worth). */
static int
tr_same_source(const struct sockaddr_storage *a,
    const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return 0;
	if (a->ss_family == AF_INET)
		return ((const struct sockaddr_in *)(const void *)a)->
		    sin_addr.s_addr ==
		    ((const struct sockaddr_in *)(const void *)b)->
		    sin_addr.s_addr;
	if (a->ss_family == AF_INET6)
		return memcmp(&((const struct sockaddr_in6 *)(const void *)a)->
		    sin6_addr, &((const struct sockaddr_in6 *)(const void *)b)->
		    sin6_addr, 8) == 0;
	return 0;
}

/*
 * Acceptor thread, srv->mu held: may one more unauthenticated connection
 * from ss start its handshake? NULL when it may, else why not. Authenticated
 * sessions are not counted: no number of strangers displaces them, and the
 * real coordinator's next attempt competes only with other strangers.
 */
static const char *
tr_server_admit(struct tr_server *srv, const struct sockaddr_storage *ss)
{
	struct tr_conn *c;
	int n = srv->nunauth, same = 0, p;

	if (n >= srv->startups_full)
		return "too many unauthenticated connections";
	for (c = srv->conns; c != NULL; c = c->next)
		if (!c->authed && !c->done && tr_same_source(&c->src, ss))
			same++;
	if (same >= srv->per_source)
		return "too many unauthenticated connections from this "
		    "address";
	if (n >= srv->startups_begin) {
		/* Random early drop, as sshd's MaxStartups. */
		p = srv->startups_rate + (100 - srv->startups_rate) *
		    (n - srv->startups_begin) /
		    (srv->startups_full - srv->startups_begin);
		if ((int)arc4random_uniform(100) < p)
			return "random early drop";
	}
	return NULL;
}

/* Acceptor thread: a refusal, logged at most once a second (a flood must
 * not flood the log as well). */
static void
tr_server_refuse(struct tr_server *srv, const char *peer, const char *why)
{
	uint64_t now = tr_now_ms();

	if (now - srv->refused_log_ms < 1000) {
		srv->refused++;
		return;
	}
	if (srv->refused > 0)
		log_warnx("%s: refused: %s (and %u more refused in the last "
		    "%llu ms)", peer, why, srv->refused,
		    (unsigned long long)(now - srv->refused_log_ms));
	else
		log_warnx("%s: refused: %s", peer, why);
	srv->refused = 0;
	srv->refused_log_ms = now;
}

/* Acceptor thread: one connection from the listening socket. 0 when one
 * was taken (accepted or refused), -1 when none was waiting. */
static int
tr_server_accept(struct tr_server *srv, int lfd)
{
	struct sockaddr_storage ss;
	socklen_t slen = sizeof(ss);
	struct tr_conn *c = NULL;
	ssh_session s = NULL;
	const char *why;
	char peer[80];
	int fd;

	if ((fd = accept4(lfd, (struct sockaddr *)&ss, &slen,
	    SOCK_NONBLOCK | SOCK_CLOEXEC)) == -1) {
		if (errno != EAGAIN && errno != EINTR &&
		    errno != ECONNABORTED)
			log_warn("accept");
		if (errno == EMFILE || errno == ENFILE)
			poll(NULL, 0, 100);	/* do not spin */
		return errno == ECONNABORTED || errno == EINTR ? 0 : -1;
	}
	tr_format_peer(&ss, peer, sizeof(peer));
	pthread_mutex_lock(&srv->mu);
	if ((why = tr_server_admit(srv, &ss)) == NULL)
		srv->nunauth++;
	pthread_mutex_unlock(&srv->mu);
	if (why != NULL) {
		tr_server_refuse(srv, peer, why);
		close(fd);
		return 0;
	}
	tr_nodelay(fd);
	if ((c = tr_conn_new()) == NULL || (s = ssh_new()) == NULL) {
		log_warn("%s: new session", peer);
		close(fd);
		goto fail;
	}
	/* On failure libssh may or may not own fd yet; leaking it on this
	 * (out of memory) path beats a double close. */
	if (ssh_bind_accept_fd(srv->bind, s, fd) != SSH_OK) {
		log_warnx("%s: accept: %s", peer, ssh_get_error(srv->bind));
		goto fail;
	}
	c->srv = srv;
	c->sink = &srv->sink;
	snprintf(c->peer, sizeof(c->peer), "%s", peer);
	snprintf(c->name, sizeof(c->name), "%s", peer);
	c->hs_timeout = srv->hs_timeout;
	c->idle_timeout = srv->idle_timeout;
	c->frame_timeout = srv->frame_timeout;
	c->max_payload = srv->max_payload;
	c->rate = srv->rate;
	c->burst = srv->burst;
	c->ssh = s;
	c->sockfd = fd;
	c->src = ss;
	c->hs_deadline = tr_now_ms() + (uint64_t)srv->hs_timeout;
	pthread_mutex_lock(&srv->mu);
	c->next = srv->conns;
	srv->conns = c;
	pthread_mutex_unlock(&srv->mu);
	if ((errno = pthread_create(&c->thread, NULL, tr_srv_main, c)) != 0) {
		log_warn("%s: pthread_create", peer);
		tr_server_unlink(srv, c);
		goto fail;
	}
	log_debug("%s: connection accepted", peer);
	return 0;
 fail:
	ssh_free(s);
	if (c != NULL)
		c->ssh = NULL;
	tr_conn_free(c);
	pthread_mutex_lock(&srv->mu);
	srv->nunauth--;
	pthread_mutex_unlock(&srv->mu);
	return 0;
}

/* Handshakes blocked in libssh past their deadline: break their socket. */
static void
tr_server_watchdog(struct tr_server *srv)
{
	struct tr_conn *c;
	uint64_t now = tr_now_ms();

	pthread_mutex_lock(&srv->mu);
	for (c = srv->conns; c != NULL; c = c->next) {
		pthread_mutex_lock(&c->mu);
		if (c->hs_deadline != 0 && now >= c->hs_deadline &&
		    !c->hs_expired) {
			c->hs_expired = 1;
			if (c->sockfd != -1)
				shutdown(c->sockfd, SHUT_RDWR);
		}
		pthread_mutex_unlock(&c->mu);
		if (c->hs_expired)
			tr_poke(c->wakefd);
	}
	pthread_mutex_unlock(&srv->mu);
}

static void *
tr_acceptor_main(void *arg)
{
	struct tr_server *srv = arg;
	struct pollfd pfd[2];
	int stop, i;

	tr_thread_init();
	pfd[0].fd = ssh_bind_get_fd(srv->bind);
	/* Accepts are batched until EAGAIN. */
	if ((i = fcntl(pfd[0].fd, F_GETFL)) != -1)
		(void)fcntl(pfd[0].fd, F_SETFL, i | O_NONBLOCK);
	pfd[0].events = POLLIN;
	pfd[1].fd = srv->wakefd;
	pfd[1].events = POLLIN;
	for (;;) {
		if (poll(pfd, 2, TR_ACCEPT_TICK_MS) == -1 && errno != EINTR) {
			log_warn("acceptor: poll");
			poll(NULL, 0, TR_ACCEPT_TICK_MS);
		}
		pthread_mutex_lock(&srv->mu);
		stop = srv->stop;
		pthread_mutex_unlock(&srv->mu);
		if (stop)
			break;
		tr_server_watchdog(srv);
		/* Empty the backlog: a full one drops SYNs, and the real
		 * client's would then wait a second for its retransmit. */
		if (pfd[0].revents & POLLIN)
			for (i = 0; i < TR_ACCEPT_BATCH &&
			    tr_server_accept(srv, pfd[0].fd) == 0; i++)
				;
	}
	return NULL;
}

struct tr_server *
tr_server_start(uv_loop_t *loop, const struct tr_server_config *cf,
    const struct tr_callbacks *cb, void *arg, char *err, size_t errlen)
{
	struct tr_server *srv = NULL;
	bool no = false;
	int verb = log_getverbose() > 1 ? SSH_LOG_PROTOCOL : SSH_LOG_NOLOG;

	pthread_once(&tr_once, tr_init_once);
	tr_thread_init();
	if (tr_check_private(cf->host_key, err, errlen) == -1)
		return NULL;
	if (cf->authorized_keys == NULL || access(cf->authorized_keys,
	    R_OK) == -1) {
		snprintf(err, errlen, "%s: %s", cf->authorized_keys ?
		    cf->authorized_keys : "authorized_keys",
		    cf->authorized_keys ? strerror(errno) : "not set");
		return NULL;
	}
	if (tr_check_trusted(cf->authorized_keys, "authorized_keys", err,
	    errlen) == -1)
		return NULL;
	if ((srv = calloc(1, sizeof(*srv))) == NULL) {
		snprintf(err, errlen, "%s", strerror(errno));
		return NULL;
	}
	srv->wakefd = -1;
	srv->loop = loop;
	srv->cb = *cb;
	srv->arg = arg;
	srv->hs_timeout = cf->handshake_timeout_ms > 0 ?
	    cf->handshake_timeout_ms : 10000;
	srv->idle_timeout = cf->idle_timeout_ms;
	srv->frame_timeout = cf->frame_timeout_ms;
	srv->max_payload = cf->max_payload;
	srv->rate = cf->max_frame_rate > 0 ? cf->max_frame_rate : 0;
	srv->burst = cf->frame_burst > 0 ? cf->frame_burst : 2 * srv->rate;
	srv->max_sessions = cf->max_sessions > 0 ? cf->max_sessions :
	    TR_MAX_SESSIONS;
	srv->startups_full = cf->startups_full > 0 ? cf->startups_full :
	    TR_STARTUPS_FULL;
	srv->startups_begin = cf->startups_begin > 0 ? cf->startups_begin :
	    TR_STARTUPS_BEGIN;
	if (srv->startups_begin > srv->startups_full)
		srv->startups_begin = srv->startups_full;
	srv->startups_rate = cf->startups_rate > 0 ? cf->startups_rate :
	    TR_STARTUPS_RATE;
	if (srv->startups_rate > 100)
		srv->startups_rate = 100;
	srv->per_source = cf->per_source_startups > 0 ?
	    cf->per_source_startups : TR_PER_SOURCE_STARTUPS;
	if ((srv->authorized_keys = strdup(cf->authorized_keys)) == NULL ||
	    pthread_mutex_init(&srv->mu, NULL) != 0) {
		snprintf(err, errlen, "%s", strerror(errno));
		free(srv->authorized_keys);
		free(srv);
		return NULL;
	}
	if ((srv->bind = ssh_bind_new()) == NULL) {
		snprintf(err, errlen, "ssh_bind_new failed");
		goto fail;
	}
	if (ssh_bind_options_set(srv->bind, SSH_BIND_OPTIONS_PROCESS_CONFIG,
	    &no) != SSH_OK ||
	    ssh_bind_options_set(srv->bind, SSH_BIND_OPTIONS_LOG_VERBOSITY,
	    &verb) != SSH_OK ||
	    ssh_bind_options_set(srv->bind, SSH_BIND_OPTIONS_BINDADDR,
	    cf->listen_addr ? cf->listen_addr : "0.0.0.0") != SSH_OK ||
	    ssh_bind_options_set(srv->bind, SSH_BIND_OPTIONS_BINDPORT,
	    &cf->port) != SSH_OK ||
	    ssh_bind_options_set(srv->bind, SSH_BIND_OPTIONS_HOSTKEY,
	    cf->host_key) != SSH_OK) {
		snprintf(err, errlen, "%s", ssh_get_error(srv->bind));
		goto fail;
	}
	if (ssh_bind_listen(srv->bind) != SSH_OK) {
		snprintf(err, errlen, "listen on %s port %d: %s",
		    cf->listen_addr ? cf->listen_addr : "0.0.0.0", cf->port,
		    ssh_get_error(srv->bind));
		goto fail;
	}
	/* libssh listens with a backlog of 10: a flood of connections
	 * would fill it and drop the real client's SYN (a second's retry). */
	(void)listen(ssh_bind_get_fd(srv->bind), SOMAXCONN);
	if ((srv->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) == -1) {
		snprintf(err, errlen, "eventfd: %s", strerror(errno));
		goto fail;
	}
	if (tr_sink_init(loop, &srv->sink, tr_server_async_cb, srv) == -1) {
		snprintf(err, errlen, "cannot set up the loop handle");
		goto fail;
	}
	if ((errno = pthread_create(&srv->acceptor, NULL, tr_acceptor_main,
	    srv)) != 0) {
		snprintf(err, errlen, "pthread_create: %s", strerror(errno));
		ssh_bind_free(srv->bind);
		close(srv->wakefd);
		uv_close((uv_handle_t *)&srv->sink.async, tr_server_free_cb);
		return NULL;
	}
	srv->acceptor_started = 1;
	log_info("listening on %s port %d", cf->listen_addr ?
	    cf->listen_addr : "0.0.0.0", cf->port);
	return srv;
 fail:
	ssh_bind_free(srv->bind);
	if (srv->wakefd != -1)
		close(srv->wakefd);
	pthread_mutex_destroy(&srv->mu);
	free(srv->authorized_keys);
	free(srv);
	return NULL;
}

/*
 * Loop thread. Stops accepting, ends every session and joins every thread
 * before returning. Connections the user was told about (on_up) get their
 * on_down ("server stopping") from here, so per-conn data can be freed;
 * nothing is called after this returns. The server's memory goes from a
 * deferred callback.
 */
void
tr_server_stop(struct tr_server *srv)
{
	struct tr_conn *c, *next;

	if (srv == NULL || srv->stopped)
		return;
	srv->stopped = 1;	/* also silences tr_dispatch */
	pthread_mutex_lock(&srv->mu);
	srv->stop = 1;
	pthread_mutex_unlock(&srv->mu);
	tr_poke(srv->wakefd);
	if (srv->acceptor_started)
		pthread_join(srv->acceptor, NULL);
	/* No one adds conns now; the loop thread (us) alone removes them. */
	for (c = srv->conns; c != NULL; c = c->next)
		tr_conn_interrupt(c, 1, NULL);
	for (c = srv->conns; c != NULL; c = c->next)
		if (!c->joined) {
			pthread_join(c->thread, NULL);
			c->joined = 1;
		}
	for (c = srv->conns; c != NULL; c = c->next)
		if (c->shown_up && !c->closed) {
			c->shown_up = 0;
			if (srv->cb.on_down)
				srv->cb.on_down(c, "server stopping",
				    srv->arg);
		}
	tr_ev_free_list(tr_sink_take(&srv->sink));
	for (c = srv->conns; c != NULL; c = next) {
		next = c->next;
		tr_conn_free(c);
	}
	srv->conns = NULL;
	ssh_bind_free(srv->bind);
	srv->bind = NULL;
	close(srv->wakefd);
	srv->wakefd = -1;
	uv_close((uv_handle_t *)&srv->sink.async, tr_server_free_cb);
	log_info("server stopped");
}

/* ---- client ---- */

/* Client thread, handshake: wait for the socket (or a poke) a little. */
static int
tr_client_wait(struct tr_conn *c, uint64_t deadline, const char *what,
    char *reason, size_t rlen)
{
	struct pollfd pfd[2];
	uint64_t now;
	int timeout;

	if (tr_conn_check(c, reason, rlen) == -1)
		return -1;
	if ((now = tr_now_ms()) >= deadline) {
		snprintf(reason, rlen, "timeout during %s", what);
		return -1;
	}
	timeout = deadline - now > 100 ? 100 : (int)(deadline - now);
	pfd[0].fd = ssh_get_fd(c->ssh);
	pfd[0].events = POLLIN;
	if (ssh_get_poll_flags(c->ssh) & SSH_WRITE_PENDING)
		pfd[0].events |= POLLOUT;
	pfd[1].fd = c->wakefd;
	pfd[1].events = POLLIN;
	if (poll(pfd, 2, timeout) == -1 && errno != EINTR) {
		snprintf(reason, rlen, "poll: %s", strerror(errno));
		return -1;
	}
	if (pfd[1].revents & POLLIN)
		tr_drain_fd(c->wakefd);
	return tr_conn_check(c, reason, rlen);
}

/*
 * One address: returns a connected nonblocking socket (registered in
 * c->sockfd), -1 to try the next address, or -2 when told to stop or out of
 * time (no point in trying others).
 */
static int
tr_client_try(struct tr_conn *c, const struct addrinfo *ai, uint64_t deadline,
    char *reason, size_t rlen)
{
	struct pollfd pfd[2];
	socklen_t sl = sizeof(int);
	uint64_t now;
	int fd, soerr = 0, rc = -1;

	if ((fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, ai->ai_protocol)) == -1) {
		snprintf(reason, rlen, "socket: %s", strerror(errno));
		return -1;
	}
	tr_conn_set_sockfd(c, fd);
	tr_nodelay(fd);
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
		return fd;
	if (errno != EINPROGRESS) {
		snprintf(reason, rlen, "connect: %s", strerror(errno));
		goto fail;
	}
	for (;;) {
		if (tr_conn_check(c, reason, rlen) == -1) {
			rc = -2;
			goto fail;
		}
		if ((now = tr_now_ms()) >= deadline) {
			snprintf(reason, rlen, "connect: timeout");
			rc = -2;
			goto fail;
		}
		pfd[0].fd = fd;
		pfd[0].events = POLLOUT;
		pfd[1].fd = c->wakefd;
		pfd[1].events = POLLIN;
		if (poll(pfd, 2, (int)(deadline - now)) == -1 &&
		    errno != EINTR) {
			snprintf(reason, rlen, "poll: %s", strerror(errno));
			goto fail;
		}
		if (pfd[1].revents & POLLIN)
			tr_drain_fd(c->wakefd);
		if (pfd[0].revents)
			break;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == -1)
		soerr = errno;
	if (soerr == 0)
		return fd;
	snprintf(reason, rlen, "connect: %s", strerror(soerr));
 fail:
	tr_conn_set_sockfd(c, -1);
	close(fd);
	return rc;
}

/* A connected nonblocking TCP socket (registered in c->sockfd), or -1. */
static int
tr_client_tcp(struct tr_conn *c, uint64_t deadline, char *reason,
    size_t rlen)
{
	struct addrinfo hints, *res = NULL, *ai;
	char port[16];
	int fd = -1, rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	snprintf(port, sizeof(port), "%d", c->port);
	if ((rc = getaddrinfo(c->host, port, &hints, &res)) != 0) {
		snprintf(reason, rlen, "resolve %s: %s", c->host,
		    gai_strerror(rc));
		return -1;
	}
	snprintf(reason, rlen, "connect: no address");
	for (ai = res; ai != NULL && fd == -1; ai = ai->ai_next)
		fd = tr_client_try(c, ai, deadline, reason, rlen);
	freeaddrinfo(res);
	return fd < 0 ? -1 : fd;
}

static const char *
tr_known_hosts_reason(enum ssh_known_hosts_e k)
{
	switch (k) {
	case SSH_KNOWN_HOSTS_CHANGED:
		return "host key CHANGED (does not match known_hosts)";
	case SSH_KNOWN_HOSTS_OTHER:
		return "host key of another type than the one in known_hosts "
		    "(other)";
	case SSH_KNOWN_HOSTS_UNKNOWN:
		return "host key unknown (not in known_hosts)";
	case SSH_KNOWN_HOSTS_NOT_FOUND:
		return "host key unknown (known_hosts file not found)";
	default:
		return "host key check failed (error reading known_hosts)";
	}
}

/* One attempt: connect, check, log in, open the channel, run it. Always
 * fills reason (why it ended). *wasup says whether it got that far. */
/*
 * Handshakes in flight at once, process-wide. A coordinator starting with
 * thousands of hosts otherwise has every client thread in key exchange at
 * the same moment; under load none finishes within its timeout and they all
 * start again (measured at 2,000 hosts: 36,000 attempts, no host up). The
 * slot is taken before the handshake's deadline starts.
 */
#define TR_MAX_HANDSHAKES	48

static pthread_mutex_t	tr_hs_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t	tr_hs_cv = PTHREAD_COND_INITIALIZER;
static int		tr_hs_active;

/* 0 with a slot, -1 when the connection is being closed meanwhile. */
static int
tr_hs_acquire(struct tr_conn *c)
{
	struct timespec ts;
	int stop;

	pthread_mutex_lock(&tr_hs_mu);
	while (tr_hs_active >= TR_MAX_HANDSHAKES) {
		pthread_mutex_lock(&c->mu);
		stop = c->stop;
		pthread_mutex_unlock(&c->mu);
		if (stop) {
			pthread_mutex_unlock(&tr_hs_mu);
			return -1;
		}
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 100 * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&tr_hs_cv, &tr_hs_mu, &ts);
	}
	tr_hs_active++;
	pthread_mutex_unlock(&tr_hs_mu);
	return 0;
}

static void
tr_hs_release(void)
{
	pthread_mutex_lock(&tr_hs_mu);
	tr_hs_active--;
	pthread_cond_signal(&tr_hs_cv);
	pthread_mutex_unlock(&tr_hs_mu);
}

static void
tr_client_session(struct tr_conn *c, char *reason, size_t rlen, int *wasup)
{
	uint64_t deadline;
	enum ssh_known_hosts_e kh;
	unsigned int port = (unsigned int)c->port;
	int verb = log_getverbose() > 1 ? SSH_LOG_PROTOCOL : SSH_LOG_NOLOG;
	bool no = false;
	int fd, rc, slot = 0;

	*wasup = 0;
	if (tr_hs_acquire(c) == -1) {
		snprintf(reason, rlen, "closing");
		return;
	}
	slot = 1;
	deadline = tr_now_ms() + (uint64_t)c->hs_timeout;
	/* libssh reads known_hosts for every session: check it every time. */
	if (tr_check_trusted(c->known_hosts, "known_hosts", reason, rlen) == -1) {
		tr_hs_release();
		return;
	}
	if ((c->ssh = ssh_new()) == NULL) {
		snprintf(reason, rlen, "ssh_new failed");
		tr_hs_release();
		return;
	}
	if (ssh_options_set(c->ssh, SSH_OPTIONS_PROCESS_CONFIG, &no) < 0 ||
	    ssh_options_set(c->ssh, SSH_OPTIONS_LOG_VERBOSITY, &verb) < 0 ||
	    ssh_options_set(c->ssh, SSH_OPTIONS_HOST, c->host) < 0 ||
	    ssh_options_set(c->ssh, SSH_OPTIONS_PORT, &port) < 0 ||
	    ssh_options_set(c->ssh, SSH_OPTIONS_USER, c->user) < 0 ||
	    ssh_options_set(c->ssh, SSH_OPTIONS_KNOWNHOSTS,
	    c->known_hosts) < 0 ||
	    ssh_options_set(c->ssh, SSH_OPTIONS_GLOBAL_KNOWNHOSTS,
	    "/dev/null") < 0 ||
	    ssh_options_set(c->ssh, SSH_OPTIONS_HOSTKEYS, TR_HOSTKEYS) < 0) {
		snprintf(reason, rlen, "ssh options: %s",
		    ssh_get_error(c->ssh));
		goto out;
	}
	if ((fd = tr_client_tcp(c, deadline, reason, rlen)) == -1)
		goto out;
	/* libssh owns fd from here and closes it in ssh_free(). */
	ssh_options_set(c->ssh, SSH_OPTIONS_FD, &fd);
	ssh_set_blocking(c->ssh, 0);
	while ((rc = ssh_connect(c->ssh)) == SSH_AGAIN)
		if (tr_client_wait(c, deadline, "key exchange", reason,
		    rlen) == -1)
			goto out;
	if (rc != SSH_OK) {
		if (tr_conn_check(c, reason, rlen) == 0)
			snprintf(reason, rlen, "ssh handshake: %s",
			    ssh_get_error(c->ssh));
		goto out;
	}
	if ((kh = ssh_session_is_known_server(c->ssh)) != SSH_KNOWN_HOSTS_OK) {
		snprintf(reason, rlen, "refusing %s: %s", c->peer,
		    tr_known_hosts_reason(kh));
		goto out;
	}
	while ((rc = ssh_userauth_publickey(c->ssh, NULL, c->identity)) ==
	    SSH_AUTH_AGAIN)
		if (tr_client_wait(c, deadline, "authentication", reason,
		    rlen) == -1)
			goto out;
	if (rc != SSH_AUTH_SUCCESS) {
		if (rc == SSH_AUTH_ERROR)
			snprintf(reason, rlen, "authentication error: %s",
			    ssh_get_error(c->ssh));
		else
			snprintf(reason, rlen, "authentication refused by "
			    "the server (publickey)");
		goto out;
	}
	if ((c->ch = ssh_channel_new(c->ssh)) == NULL) {
		snprintf(reason, rlen, "channel: %s", ssh_get_error(c->ssh));
		goto out;
	}
	while ((rc = ssh_channel_open_session(c->ch)) == SSH_AGAIN)
		if (tr_client_wait(c, deadline, "channel open", reason,
		    rlen) == -1)
			goto out;
	if (rc != SSH_OK) {
		snprintf(reason, rlen, "channel open refused: %s",
		    ssh_get_error(c->ssh));
		goto out;
	}
	while ((rc = ssh_channel_request_subsystem(c->ch, TR_SUBSYSTEM)) ==
	    SSH_AGAIN)
		if (tr_client_wait(c, deadline, "subsystem request", reason,
		    rlen) == -1)
			goto out;
	if (rc != SSH_OK) {
		snprintf(reason, rlen, "subsystem %s refused: %s",
		    TR_SUBSYSTEM, ssh_get_error(c->ssh));
		goto out;
	}
	tr_hs_release();
	slot = 0;
	tr_conn_set_up(c);
	*wasup = 1;
	log_info("%s: connected to %s", c->name, c->peer);
	tr_sink_push(c, TR_EV_UP, NULL, NULL);
	tr_io_loop(c, reason, rlen);
 out:
	if (slot)
		tr_hs_release();
	tr_session_end(c);
}

static uint32_t
tr_rand(struct tr_conn *c)
{
	uint32_t x = c->rnd;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	return c->rnd = x;
}

/* Sleeps ms unless stopped; returns -1 when stopped. */
static int
tr_client_sleep(struct tr_conn *c, int ms)
{
	uint64_t until = tr_now_ms() + (uint64_t)ms, now;
	struct pollfd pfd;
	int stop;

	for (;;) {
		pthread_mutex_lock(&c->mu);
		stop = c->stop;
		pthread_mutex_unlock(&c->mu);
		if (stop)
			return -1;
		if ((now = tr_now_ms()) >= until)
			return 0;
		pfd.fd = c->wakefd;
		pfd.events = POLLIN;
		if (poll(&pfd, 1, (int)(until - now)) > 0)
			tr_drain_fd(c->wakefd);
	}
}

static void *
tr_client_main(void *arg)
{
	struct tr_conn *c = arg;
	char reason[256];
	int delay = c->backoff_min, wait, wasup, stop;

	tr_thread_init();
	for (;;) {
		pthread_mutex_lock(&c->mu);
		c->kick = 0;		/* a kick ends one session only */
		pthread_mutex_unlock(&c->mu);
		tr_client_session(c, reason, sizeof(reason), &wasup);
		if (c->flooded)		/* it would flood again at once */
			delay = c->backoff_max;
		else if (wasup)
			delay = c->backoff_min;
		/* Jitter of +-25% keeps many hosts from retrying in step. */
		wait = delay - delay / 4 + (int)(tr_rand(c) %
		    (uint32_t)(delay / 2 + 1));
		pthread_mutex_lock(&c->mu);
		stop = c->stop;
		pthread_mutex_unlock(&c->mu);
		if (!stop)
			log_info("%s: %s%s; retrying in %d ms", c->name,
			    wasup ? "session down: " : "", reason, wait);
		tr_sink_push(c, TR_EV_DOWN, NULL, reason);
		if (stop || tr_client_sleep(c, wait) == -1)
			break;
		delay = delay > c->backoff_max / 2 ? c->backoff_max :
		    delay * 2;
	}
	tr_sink_push(c, TR_EV_EXIT, NULL, NULL);
	return NULL;
}

struct tr_conn *
tr_client_start(uv_loop_t *loop, const struct tr_client_config *cf,
    const struct tr_callbacks *cb, void *arg)
{
	struct tr_conn *c;
	char err[512];

	pthread_once(&tr_once, tr_init_once);
	tr_thread_init();
	if (cf->host == NULL || cf->known_hosts == NULL) {
		log_warnx("%s: host and known_hosts are required",
		    cf->name ? cf->name : "client");
		return NULL;
	}
	if (tr_check_private(cf->identity, err, sizeof(err)) == -1 ||
	    tr_check_trusted(cf->known_hosts, "known_hosts", err,
	    sizeof(err)) == -1) {
		log_warnx("%s: %s", cf->name ? cf->name : cf->host, err);
		return NULL;
	}
	if ((c = tr_conn_new()) == NULL) {
		log_warn("%s", __func__);
		return NULL;
	}
	c->sink = &c->own_sink;
	c->cb = *cb;
	c->arg = arg;
	snprintf(c->name, sizeof(c->name), "%s", cf->name ? cf->name :
	    cf->host);
	c->port = cf->port > 0 ? cf->port : 22;
	if (strchr(cf->host, ':') != NULL)
		snprintf(c->peer, sizeof(c->peer), "[%s]:%d", cf->host,
		    c->port);
	else
		snprintf(c->peer, sizeof(c->peer), "%s:%d", cf->host,
		    c->port);
	c->hs_timeout = cf->connect_timeout_ms > 0 ? cf->connect_timeout_ms :
	    10000;
	c->idle_timeout = cf->idle_timeout_ms;
	c->max_payload = cf->max_payload;
	c->rate = cf->max_frame_rate > 0 ? cf->max_frame_rate : 0;
	c->burst = cf->frame_burst > 0 ? cf->frame_burst : 2 * c->rate;
	c->backoff_min = cf->backoff_min_ms > 0 ? cf->backoff_min_ms : 1000;
	c->backoff_max = cf->backoff_max_ms >= c->backoff_min ?
	    cf->backoff_max_ms : c->backoff_min;
	c->rnd = (uint32_t)tr_now_ms() ^ (uint32_t)(uintptr_t)c ^ 0x9e3779b9u;
	if (c->rnd == 0)
		c->rnd = 1;
	if ((c->host = strdup(cf->host)) == NULL ||
	    (c->user = strdup(cf->user ? cf->user : "ferry")) == NULL ||
	    (c->known_hosts = strdup(cf->known_hosts)) == NULL) {
		log_warn("%s", __func__);
		goto fail;
	}
	if (ssh_pki_import_privkey_file(cf->identity, NULL, NULL, NULL,
	    &c->identity) != SSH_OK) {
		log_warnx("%s: %s: cannot load the private key", c->name,
		    cf->identity);
		goto fail;
	}
	if (tr_sink_init(loop, &c->own_sink, tr_client_async_cb, c) == -1) {
		log_warnx("%s: cannot set up the loop handle", c->name);
		goto fail;
	}
	if ((errno = pthread_create(&c->thread, NULL, tr_client_main, c)) !=
	    0) {
		log_warn("%s: pthread_create", c->name);
		uv_close((uv_handle_t *)&c->own_sink.async, tr_conn_free_cb);
		return NULL;
	}
	return c;
 fail:
	tr_conn_free(c);
	return NULL;
}

int
tr_conn_send(struct tr_conn *c, uint8_t *buf, size_t len)
{
	struct tr_out *o;

	if (c == NULL || (o = malloc(sizeof(*o))) == NULL) {
		free(buf);
		return -1;
	}
	o->next = NULL;
	o->buf = buf;
	o->len = len;
	o->off = 0;
	pthread_mutex_lock(&c->mu);
	if (!c->up || c->stop || c->kick || c->overflow) {
		pthread_mutex_unlock(&c->mu);
		free(o);
		free(buf);
		return -1;
	}
	if (c->outbytes + len > TR_OUTQ_MAX) {
		/* A peer that does not read: drop it, not our memory. */
		c->overflow = 1;
		pthread_mutex_unlock(&c->mu);
		log_warnx("%s: send queue over %u bytes, dropping the session",
		    c->name, TR_OUTQ_MAX);
		tr_poke(c->wakefd);
		free(o);
		free(buf);
		return -1;
	}
	*c->outtail = o;
	c->outtail = &o->next;
	c->outbytes += len;
	pthread_mutex_unlock(&c->mu);
	tr_poke(c->wakefd);
	return 0;
}

void
tr_conn_kick(struct tr_conn *c, const char *reason)
{
	if (c == NULL)
		return;
	log_info("%s: dropping the session: %s", c->name,
	    reason ? reason : "kicked");
	tr_conn_interrupt(c, 0, reason ? reason : "kicked");
}

void
tr_conn_close(struct tr_conn *c)
{
	if (c == NULL || c->closed)
		return;
	c->closed = 1;
	tr_conn_interrupt(c, 1, NULL);
}

int
tr_conn_is_up(const struct tr_conn *c)
{
	struct tr_conn *m = (struct tr_conn *)c;	/* for the mutex */
	int up;

	if (c == NULL)
		return 0;
	pthread_mutex_lock(&m->mu);
	up = m->up;
	pthread_mutex_unlock(&m->mu);
	return up;
}

const char *
tr_conn_peer(const struct tr_conn *c)
{
	return c ? c->peer : "";
}

void *
tr_conn_get_data(const struct tr_conn *c)
{
	return c ? c->data : NULL;
}

void
tr_conn_set_data(struct tr_conn *c, void *data)
{
	if (c != NULL)
		c->data = data;
}
