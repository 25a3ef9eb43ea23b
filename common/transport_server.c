/* transport_server.c: the server: listening, the acceptor thread
 * with its pre-authentication limits (MaxStartups, per source) and
 * handshake watchdog, one thread per connection, stopping.
 */
#include <sys/types.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <libssh/libssh.h>

#include "log.h"
#include "transport_int.h"

static void
tr_server_free_cb(uv_handle_t *h)
{
	struct tr_server *srv = h->data;

	tr_sink_destroy(&srv->sink);
	pthread_mutex_destroy(&srv->mu);
	free(srv->authorized_keys);
	free(srv);
}

void
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

	tr_init();
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
