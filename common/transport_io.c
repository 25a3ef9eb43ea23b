/* transport_io.c: one connection's channel I/O: frames in and out,
 * the send queue and its limit, the peer's frame rate, timeouts; the
 * connection calls of transport.h. See transport_int.h for the threads.
 */
#include <sys/types.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <libssh/callbacks.h>
#include <libssh/libssh.h>

#include "clock.h"
#include "log.h"
#include "transport_int.h"

static pthread_once_t tr_once = PTHREAD_ONCE_INIT;

uint64_t
tr_now_ms(void)
{
	return clock_mono_ms();
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
void
tr_thread_init(void)
{
	ssh_set_log_callback(tr_ssh_log);
	ssh_set_log_level(log_getverbose() > 1 ? SSH_LOG_PROTOCOL :
	    SSH_LOG_NOLOG);
}

/* The loop thread, before its first server or client: libssh once per
 * process, its logging for this thread. */
void
tr_init(void)
{
	pthread_once(&tr_once, tr_init_once);
	tr_thread_init();
}

void
tr_poke(int fd)
{
	uint64_t one = 1;

	(void)!write(fd, &one, sizeof(one));
}

void
tr_drain_fd(int fd)
{
	uint64_t v;

	(void)!read(fd, &v, sizeof(v));
}

/* Frames are small and answered one by one: Nagle would add delayed-ACK
 * stalls (40 ms) to every exchange, the handshake included. */
void
tr_nodelay(int fd)
{
	int one = 1;

	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

void
tr_set_timeout(ssh_session s, uint64_t deadline)
{
	uint64_t now = tr_now_ms();
	long ms = deadline > now ? (long)(deadline - now) : 1;
	long sec = ms / 1000, usec = (ms % 1000) * 1000;

	ssh_options_set(s, SSH_OPTIONS_TIMEOUT, &sec);
	ssh_options_set(s, SSH_OPTIONS_TIMEOUT_USEC, &usec);
}

struct tr_conn *
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
void
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
void
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
int
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

void
tr_conn_set_sockfd(struct tr_conn *c, int fd)
{
	pthread_mutex_lock(&c->mu);
	c->sockfd = fd;
	pthread_mutex_unlock(&c->mu);
}

void
tr_conn_set_up(struct tr_conn *c)
{
	pthread_mutex_lock(&c->mu);
	c->up = 1;
	c->hs_deadline = 0;
	pthread_mutex_unlock(&c->mu);
}

/* Connection thread: tear the session down; the socket goes with it. */
void
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

/* What a channel poll or read returned: 1 bytes, 0 none, -1 the session
 * is over (reason filled; what: the words before libssh's error). */
static int
tr_io_status(struct tr_conn *c, int n, const char *what, char *reason,
    size_t rlen)
{
	if (n == SSH_EOF) {
		snprintf(reason, rlen, "peer closed the channel");
		return -1;
	}
	if (n < 0) {
		snprintf(reason, rlen, "%s: %s", what, ssh_get_error(c->ssh));
		return -1;
	}
	return n > 0;
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
		if ((rc = tr_io_status(c, n, "connection lost", reason,
		    rlen)) <= 0) {
			if (rc == -1)
				return -1;
			break;
		}
		n = ssh_channel_read_nonblocking(c->ch, buf, sizeof(buf), 0);
		if ((rc = tr_io_status(c, n, "read", reason, rlen)) <= 0) {
			if (rc == -1)
				return -1;
			break;
		}
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
				tr_client_slot_release(c);
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
void
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
