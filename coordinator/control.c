/* control.c: the Unix socket ferryctl talks to: same frames as the hostd
 * protocol, one client per connection. Handlers live in api.c. */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "coordinator.h"
#include "log.h"

#define CTL_MAX_PAYLOAD	(1024 * 1024)
#define CTL_MAX_RATE	500	/* frames per second before a client is cut */
#define CTL_FRAME_MS	10000	/* a started frame must finish in this time */
#define CTL_MAX_CLIENTS	256
/* Replies and events a client has not read yet, per client and in all:
 * past either it is dropped, not our memory. A reply is at most 4 MiB
 * (ferryctl's frame limit), so a client that reads is never near. */
#define CTL_OUTQ_MAX	(8u * 1024 * 1024)
#define CTL_OUTQ_TOTAL	(64u * 1024 * 1024)

/* An acting call whose audit row waits for its reply or refusal. */
struct ctl_audit {
	TAILQ_ENTRY(ctl_audit)	 entry;
	uint16_t		 type;
	uint32_t		 serial;
	int64_t			 id;
};
TAILQ_HEAD(ctl_audit_list, ctl_audit);

struct ctl_client {
	TAILQ_ENTRY(ctl_client)	 entry;
	struct coord		*co;
	uv_pipe_t		 pipe;
	struct frame_reader	 rd;
	int			 closing;
	int			 dropping;	/* closed by the next sweep */
	int			 references;	/* the loop's, and each holder's */
	uid_t			 uid;
	pid_t			 pid;
	uint64_t		 frame_started_ms;	/* 0: between frames */
	uint64_t		 rate_second;
	uint32_t		 rate_frames;
	struct ctl_audit_list	 audits;	/* pending outcomes; owned */
	/* A client without a socket (the HTTPS API's): what is written to
	 * it goes to sink, until it is closed. */
	control_sink_fn		 sink;
	void			*sink_arg;
	/* A relayed caller (relay_leader.c): who asked, on which standby. */
	char			 relay_user[64];
	char			 relay_node[64];
};

struct ctl_write {
	uv_write_t	 req;
	uint8_t		*buf;
};

struct coord *
control_coord(struct ctl_client *c)
{
	return c->co;
}

/*
 * A client is reference-counted (as tmux's server_client_unref): whoever
 * keeps a pointer to it (a job's or a drain's watcher, a reply awaited by
 * a drain, a rebalance or a CPU baseline) takes a reference and drops it
 * when done. A client that went away is closed at once but freed only
 * with its last reference; until then it is dead (control_client_alive),
 * and writes to it are dropped. So nothing has to be told a client went
 * away, and control.c does not know who watched what.
 */
void
control_client_ref(struct ctl_client *c)
{
	if (c != NULL)
		c->references++;
}

void
control_client_unref(struct ctl_client *c)
{
	struct ctl_audit *a;

	if (c == NULL || --c->references > 0)
		return;
	/* Nobody holds the client any more, so nobody will answer it: a
	 * call still pending never will be. Its row is made final with what
	 * is known, not left pending for ever. (Handlers answer a caller
	 * that went away all the same, which records the real outcome:
	 * this is for what never answered.) */
	while ((a = TAILQ_FIRST(&c->audits)) != NULL) {
		TAILQ_REMOVE(&c->audits, a, entry);
		if (c->co->store != NULL)
			audit_end(c->co, a->id, c->co->stopping ?
			    "interrupted" : "client-gone", 0, c->co->stopping ?
			    "the coordinator stopped before it answered" :
			    "the caller went away and no outcome was given");
		free(a);
	}
	frame_reader_reset(&c->rd);
	free(c);
}

int
control_client_alive(const struct ctl_client *c)
{
	return c != NULL && !c->closing && !c->dropping;
}

/* The loop's reference goes when libuv is done with the handle. */
static void
control_client_closed(uv_handle_t *hd)
{
	control_client_unref(hd->data);
}

/* Never frees inside the client's own callbacks: uv_close defers it. */
static void
control_client_close(struct ctl_client *c)
{
	if (c->closing)
		return;
	c->closing = 1;
	TAILQ_REMOVE(&c->co->clients, c, entry);
	uv_close((uv_handle_t *)&c->pipe, control_client_closed);
}

static void
control_write_cb(uv_write_t *req, int status)
{
	struct ctl_write *w = req->data;

	(void)status;
	free(w->buf);
	free(w);
}

static size_t
control_client_queued(struct ctl_client *c)
{
	if (c->sink != NULL)
		return 0;
	return uv_stream_get_write_queue_size((uv_stream_t *)&c->pipe);
}

size_t
control_nclients(struct coord *co)
{
	struct ctl_client *c;
	size_t n = 0;

	TAILQ_FOREACH(c, &co->clients, entry)
		n++;
	return n;
}

/*
 * A client for a caller of the handlers in api.c that is not on the
 * socket (http_api.c): each reply or event is handed to fn (which does
 * not own the frame) instead of written. Never on co->clients; the
 * caller holds one reference, dropped by control_client_sink_close.
 */
struct ctl_client *
control_client_sink(struct coord *co, control_sink_fn fn, void *arg)
{
	struct ctl_client *c;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	c->co = co;
	c->references = 1;
	c->uid = geteuid();
	c->pid = getpid();
	c->sink = fn;
	c->sink_arg = arg;
	TAILQ_INIT(&c->audits);
	frame_reader_init(&c->rd, CTL_MAX_PAYLOAD);
	return c;
}

/* A sink client serving a call relayed by the standby node, asked there by
 * uid/pid (-1: unknown) as user: what the audit records. */
void
control_client_relayed(struct ctl_client *c, int64_t uid, int64_t pid,
    const char *user, const char *node)
{
	c->uid = (uid_t)uid;
	c->pid = (pid_t)pid;
	snprintf(c->relay_user, sizeof(c->relay_user), "%s", user);
	snprintf(c->relay_node, sizeof(c->relay_node), "%s", node);
}

/* From now on what is written to c is dropped (holders see it dead). */
void
control_client_sink_close(struct ctl_client *c)
{
	if (c == NULL)
		return;
	c->closing = 1;
	control_client_unref(c);
}

/* Bytes queued for every client, unsent (the kernel's buffer is full). */
size_t
control_queued(struct coord *co)
{
	struct ctl_client *c;
	size_t n = 0;

	TAILQ_FOREACH(c, &co->clients, entry)
		n += control_client_queued(c);
	return n;
}

/*
 * Writes can come from inside a loop over a job's or a drain's watchers,
 * so a client is never closed from there (that would free the watcher
 * being walked): it stops being read and written, and the next sweep
 * closes it.
 */
static void
control_client_drop(struct ctl_client *c)
{
	if (c->closing || c->dropping)
		return;
	c->dropping = 1;
	uv_read_stop((uv_stream_t *)&c->pipe);
}

/*
 * Room for len more bytes to c? A client over its own bound is dropped;
 * over the total, the client with most queued is (which may be another:
 * the one that does not read, not the one that asked last). 0 when c may
 * queue, -1 when c itself was dropped.
 */
static int
control_room(struct ctl_client *c, size_t len)
{
	struct ctl_client *o, *worst = NULL;
	size_t q = control_client_queued(c), total = 0, n, most = 0;

	if (q > 0 && q + len > CTL_OUTQ_MAX) {
		log_warnx("control: client pid %d (uid %d) does not read its "
		    "replies (%zu bytes unsent, bound %u): dropped",
		    (int)c->pid, (int)c->uid, q, CTL_OUTQ_MAX);
		control_client_drop(c);
		return -1;
	}
	TAILQ_FOREACH(o, &c->co->clients, entry) {
		if (o->dropping)
			continue;	/* freed at the next sweep */
		n = control_client_queued(o);
		total += n;
		if (n > most) {
			most = n;
			worst = o;
		}
	}
	if (total + len <= CTL_OUTQ_TOTAL || worst == NULL)
		return 0;
	log_warnx("control: %zu bytes unsent to all clients (bound %u): "
	    "dropping client pid %d (uid %d), %zu of them", total,
	    CTL_OUTQ_TOTAL, (int)worst->pid, (int)worst->uid, most);
	control_client_drop(worst);
	return worst == c ? -1 : 0;
}

/* Queues buf (takes it) on the client's socket. */
static int
control_write(struct ctl_client *c, uint8_t *buf, size_t len)
{
	struct ctl_write *w;
	struct frame f;
	uv_buf_t b;

	if (c->sink != NULL) {
		if (c->closing || len < FRAME_HDR_LEN ||
		    frame_hdr_decode(buf, &f.hdr, 0) < 0) {
			free(buf);
			return -1;
		}
		f.payload = f.hdr.len ? buf + FRAME_HDR_LEN : NULL;
		c->sink(c->sink_arg, &f);
		free(buf);
		return 0;
	}
	if (c->closing || c->dropping || control_room(c, len) == -1 ||
	    (w = calloc(1, sizeof(*w))) == NULL) {
		free(buf);
		return -1;
	}
	w->buf = buf;
	w->req.data = w;
	b = uv_buf_init((char *)buf, len);
	if (uv_write(&w->req, (uv_stream_t *)&c->pipe, &b, 1,
	    control_write_cb) != 0) {
		free(buf);
		free(w);
		control_client_drop(c);
		return -1;
	}
	return 0;
}

/* A whole frame from elsewhere (the relay: the leader's answer to a call
 * this client asked us); takes buf. */
int
control_write_frame(struct ctl_client *c, uint8_t *buf, size_t len)
{
	return control_write(c, buf, len);
}

/* The pending audit row of the call (type, serial), taken off the list;
 * NULL if it has none. */
static struct ctl_audit *
control_audit_take(struct ctl_client *c, uint16_t type, uint32_t serial)
{
	struct ctl_audit *a;

	TAILQ_FOREACH(a, &c->audits, entry)
		if (a->type == type && a->serial == serial) {
			TAILQ_REMOVE(&c->audits, a, entry);
			return a;
		}
	return NULL;
}

/*
 * Before an acting call is dispatched: its audit row, outcome pending,
 * completed by its reply or its error (control_send, control_error),
 * whenever they go out, to this client or to one that went away.
 * -FERRY_EINTERNAL with err: it cannot be recorded, and must not act.
 */
static int
control_audit_begin(struct ctl_client *c, const struct frame *f,
    const char *token, char *err, size_t errlen)
{
	const struct dispatch_entry *e;
	ProtobufCMessage *m = NULL;
	struct audit_who who;
	struct ctl_audit *a;
	const char *what;
	char name[64], *args = NULL;
	int rc = -FERRY_EINTERNAL;

	if ((e = dispatch_lookup(api_dispatch, api_ndispatch,
	    f->hdr.type)) == NULL)
		return 0;
	if (e->req != NULL)
		m = protobuf_c_message_unpack(e->req, NULL, f->hdr.len,
		    f->payload);
	if ((what = audit_ctl_what(f->hdr.type, m)) == NULL) {
		rc = 0;
		goto done;
	}
	if ((a = calloc(1, sizeof(*a))) == NULL) {
		snprintf(err, errlen, "cannot record it in the audit trail: "
		    "out of memory");
		goto done;
	}
	args = audit_args_json(m);
	memset(&who, 0, sizeof(who));
	who.node = c->co->ha ? c->co->conf.ha.node : NULL;
	if (token != NULL) {
		who.via = "api";
		who.who = token;
	} else {
		who.via = "ctl";
		who.has_uid = 1;
		who.uid = c->uid;
		who.pid = c->pid;
		/* Relayed: the caller as the standby saw it, there. */
		if (c->relay_node[0]) {
			who.who = c->relay_user;
			who.node = c->relay_node;
		} else {
			audit_ctl_who(c->uid, name, sizeof(name));
			who.who = name;
		}
	}
	if (audit_begin(c->co, &who, what, args, &a->id, err, errlen) < 0) {
		free(a);
		goto done;
	}
	a->type = f->hdr.type;
	a->serial = f->hdr.serial;
	TAILQ_INSERT_TAIL(&c->audits, a, entry);
	rc = 0;
done:
	free(args);
	if (m != NULL)
		protobuf_c_message_free_unpacked(m, NULL);
	return rc;
}

/*
 * A call to api.c's handlers, recorded in the audit trail first when it
 * acts. token: the HTTPS API's token name (a client of its own, not on the
 * socket), or NULL for a socket client, recorded by its uid. -1 or a
 * negative errno (control_code) with err to send back as the call's error.
 */
int
control_dispatch(struct ctl_client *c, const struct frame *f,
    const char *token, char *err, size_t errlen)
{
	struct ctl_audit *a;
	int rc;

	/* A standby answers from what the leader wrote, read when asked. */
	ha_standby_refresh(c->co, clock_mono_ms());
	/* The socket's reader refuses these with FERRY_ENOTLEADER first; the
	 * HTTPS API reaches here directly. */
	if (api_acting(f->hdr.type) && !ha_acting(c->co)) {
		snprintf(err, errlen, "%s is a standby; the leader is %s "
		    "(epoch %llu): ask the leader", c->co->conf.ha.node,
		    c->co->ha_leader[0] ? c->co->ha_leader : "not known yet",
		    (unsigned long long)c->co->ha_epoch);
		return -1;
	}
	if ((rc = control_audit_begin(c, f, token, err, errlen)) < 0)
		return rc;
	if ((rc = dispatch_frame(api_dispatch, api_ndispatch, c, 1, f, err,
	    errlen)) == 0)
		return 0;
	/* Refused before any reply: the caller answers err, maybe not
	 * through control_error (the HTTPS API answers its own way). */
	if ((a = control_audit_take(c, f->hdr.type, f->hdr.serial)) != NULL) {
		audit_end(c->co, a->id, "refused", 0, err);
		free(a);
	}
	return rc;
}

/* The Ferry.Error code of a refusal: a handler's negative errno, EINVAL
 * for a plain -1. */
int
control_code(int rc)
{
	return rc < -1 ? -rc : EINVAL;
}

static int
control_send(struct ctl_client *c, uint16_t type, uint16_t kind,
    uint32_t serial, const ProtobufCMessage *m)
{
	struct ctl_audit *a;
	uint8_t *buf;
	size_t len;

	if (kind == FRAME_REPLY &&
	    (a = control_audit_take(c, type, serial)) != NULL) {
		audit_end_reply(c->co, a->id, m);
		free(a);
	}
	if (frame_pack(type, kind, FRAME_OK, serial, m, &buf, &len) < 0)
		return -1;
	return control_write(c, buf, len);
}

int
control_reply(struct ctl_client *c, uint16_t type, uint32_t serial,
    const ProtobufCMessage *m)
{
	return control_send(c, type, FRAME_REPLY, serial, m);
}

int
control_event(struct ctl_client *c, uint16_t type, uint32_t serial,
    const ProtobufCMessage *m)
{
	return control_send(c, type, FRAME_EVENT, serial, m);
}

/* Who is asking (SO_PEERCRED at accept): for the journal. */
void
control_client_cred(const struct ctl_client *c, long *uid, long *pid)
{
	*uid = (long)c->uid;
	*pid = (long)c->pid;
}

int
control_error(struct ctl_client *c, uint16_t type, uint32_t serial, int code,
    const char *fmt, ...)
{
	struct ctl_audit *a;
	char msg[1024];
	uint8_t *buf;
	size_t len;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if ((a = control_audit_take(c, type, serial)) != NULL) {
		audit_end(c->co, a->id, "refused", 0, msg);
		free(a);
	}
	if (frame_pack_error(type, serial, code, msg, &buf, &len) < 0)
		return -1;
	return control_write(c, buf, len);
}

static void
control_alloc_cb(uv_handle_t *hd, size_t suggested, uv_buf_t *buf)
{
	(void)hd;
	if ((buf->base = malloc(suggested)) == NULL)
		suggested = 0;
	buf->len = suggested;
}

static void
control_read_cb(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
	struct ctl_client *c = stream->data;
	const uint8_t *p = (const uint8_t *)buf->base;
	struct frame *f;
	size_t left = nread > 0 ? (size_t)nread : 0, used;
	char err[512];
	int rc;

	if (nread < 0) {
		control_client_close(c);
		goto done;
	}
	if (left > 0 && !frame_reader_pending(&c->rd))
		c->frame_started_ms = clock_mono_ms();
	while (left > 0 && !c->closing && !c->dropping) {
		rc = frame_reader_feed(&c->rd, p, left, &used, &f);
		p += used;
		left -= used;
		if (rc < 0) {
			log_warnx("control: dropping client: %s",
			    frame_strerror(rc));
			control_client_close(c);
			break;
		}
		if (rc == 0)
			continue;
		c->frame_started_ms = frame_reader_pending(&c->rd) ?
		    clock_mono_ms() : 0;
		if (clock_mono_ms() / 1000 != c->rate_second) {
			c->rate_second = clock_mono_ms() / 1000;
			c->rate_frames = 0;
		}
		if (++c->rate_frames > CTL_MAX_RATE) {
			log_warnx("control: client pid %d (uid %d) sent more "
			    "than %d requests in a second: dropped", (int)c->pid,
			    (int)c->uid, CTL_MAX_RATE);
			frame_free(f);
			control_client_close(c);
			break;
		}
		if (f->hdr.kind != FRAME_CALL) {
			frame_free(f);
			continue;
		}
		/* A standby answers reads from the shared store; what acts
		 * is the leader's (ha.c), relayed to it (relay_standby.c),
		 * and so is a watch, when the relay is there (only the
		 * leader has a job in flight in memory). */
		if (api_relayed(f->hdr.type) && !ha_acting(c->co) &&
		    (api_acting(f->hdr.type) ||
		    relay_standby_ready(c->co))) {
			if (relay_standby_forward(c->co, c, f, err,
			    sizeof(err)) < 0)
				control_error(c, f->hdr.type, f->hdr.serial,
				    FERRY_ENOTLEADER, "%s is a standby; the "
				    "leader is %s (epoch %llu), and %s: run "
				    "this against the leader",
				    c->co->conf.ha.node, c->co->ha_leader[0] ?
				    c->co->ha_leader : "not known yet",
				    (unsigned long long)c->co->ha_epoch, err);
			frame_free(f);
			continue;
		}
		if ((rc = control_dispatch(c, f, NULL, err, sizeof(err))) < 0)
			control_error(c, f->hdr.type, f->hdr.serial,
			    control_code(rc), "%s", err);
		frame_free(f);
	}
done:
	free(buf->base);
}

/* Only root, the coordinator's own user and members of socket_group may
 * use the socket. Its 0660 mode says the same; checking the peer's
 * credentials as well keeps a mistaken chmod from opening it. */
static int
control_peer_allowed(struct coord *co, int fd, uid_t *uid, pid_t *pid)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	struct group *gr;
	struct passwd *pw;
	gid_t groups[256];
	int ngroups = 256, i;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == -1)
		return 0;
	*uid = cred.uid;
	*pid = cred.pid;
	if (cred.uid == 0 || cred.uid == geteuid())
		return 1;
	if (co->conf.socket_group[0] == '\0' ||
	    (gr = getgrnam(co->conf.socket_group)) == NULL)
		return 0;
	if (cred.gid == gr->gr_gid)
		return 1;
	if ((pw = getpwuid(cred.uid)) == NULL ||
	    getgrouplist(pw->pw_name, pw->pw_gid, groups, &ngroups) == -1)
		return 0;
	for (i = 0; i < ngroups; i++)
		if (groups[i] == gr->gr_gid)
			return 1;
	return 0;
}

/* Cuts clients that started a frame and never finished it (slow loris),
 * and closes those dropped since the last sweep. */
void
control_sweep(struct coord *co, uint64_t now_ms)
{
	struct ctl_client *c, *next;

	for (c = TAILQ_FIRST(&co->clients); c; c = next) {
		next = TAILQ_NEXT(c, entry);
		if (c->dropping)
			control_client_close(c);
		else if (c->frame_started_ms && frame_reader_pending(&c->rd) &&
		    now_ms - c->frame_started_ms > CTL_FRAME_MS) {
			log_warnx("control: client pid %d (uid %d) left a frame "
			    "unfinished for %d ms: dropped", (int)c->pid,
			    (int)c->uid, CTL_FRAME_MS);
			control_client_close(c);
		}
	}
}

static void
control_accept_cb(uv_stream_t *server, int status)
{
	struct coord *co = server->data;
	struct ctl_client *c, *o;
	uv_os_fd_t fd;
	size_t n = 0;

	if (status < 0) {
		log_warnx("control: accept: %s", uv_strerror(status));
		return;
	}
	TAILQ_FOREACH(o, &co->clients, entry)
		n++;
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		log_warn("control");
		return;
	}
	c->co = co;
	c->references = 1;
	TAILQ_INIT(&c->audits);
	frame_reader_init(&c->rd, CTL_MAX_PAYLOAD);
	uv_pipe_init(co->loop, &c->pipe, 0);
	c->pipe.data = c;
	TAILQ_INSERT_TAIL(&co->clients, c, entry);
	if (uv_accept(server, (uv_stream_t *)&c->pipe) != 0) {
		control_client_close(c);
		return;
	}
	if (uv_fileno((uv_handle_t *)&c->pipe, &fd) != 0 ||
	    !control_peer_allowed(co, fd, &c->uid, &c->pid)) {
		log_warnx("control: refused a client (pid %d, uid %d): not root "
		    "nor in socket_group", (int)c->pid, (int)c->uid);
		/* Told why on serial 0 (the connection's, no call's), then
		 * closed by the next sweep, after the write. */
		(void)control_error(c, 0, 0, EACCES, "not allowed: you are "
		    "not in group %s", co->conf.socket_group[0] ?
		    co->conf.socket_group : "(none: root only)");
		control_client_drop(c);
		return;
	}
	if (n >= CTL_MAX_CLIENTS) {
		log_warnx("control: %d clients already: refused pid %d",
		    CTL_MAX_CLIENTS, (int)c->pid);
		control_client_close(c);
		return;
	}
	if (uv_read_start((uv_stream_t *)&c->pipe, control_alloc_cb,
	    control_read_cb) != 0)
		control_client_close(c);
}

/* A socket left by a dead coordinator is removed; a live one is an error. */
static int
control_unlink_stale(const char *path, char *err, size_t errlen)
{
	struct sockaddr_un sun;
	int fd, rc;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		snprintf(err, errlen, "socket path %s is too long", path);
		return -1;
	}
	memcpy(sun.sun_path, path, strlen(path) + 1);
	if ((fd = socket(AF_UNIX, SOCK_STREAM, 0)) == -1) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	rc = connect(fd, (struct sockaddr *)&sun, sizeof(sun));
	close(fd);
	if (rc == 0) {
		snprintf(err, errlen, "%s: another coordinator is listening "
		    "there", path);
		return -1;
	}
	if (unlink(path) == -1 && errno != ENOENT) {
		snprintf(err, errlen, "unlink %s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

int
control_listen(struct coord *co, char *err, size_t errlen)
{
	const char *path = co->conf.socket;
	struct group *gr;
	gid_t gid = (gid_t)-1;
	int rc;

	if (co->conf.socket_group[0]) {
		if ((gr = getgrnam(co->conf.socket_group)) == NULL) {
			snprintf(err, errlen, "socket_group %s: no such group",
			    co->conf.socket_group);
			return -1;
		}
		gid = gr->gr_gid;
	}
	if (control_unlink_stale(path, err, errlen) < 0)
		return -1;
	uv_pipe_init(co->loop, &co->ctl_server, 0);
	co->ctl_server.data = co;
	co->ctl_open = 1;
	if ((rc = uv_pipe_bind(&co->ctl_server, path)) != 0) {
		snprintf(err, errlen, "bind %s: %s", path, uv_strerror(rc));
		return -1;
	}
	if (chmod(path, 0660) == -1 ||
	    (gid != (gid_t)-1 && chown(path, (uid_t)-1, gid) == -1)) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if ((rc = uv_listen((uv_stream_t *)&co->ctl_server, 64,
	    control_accept_cb)) != 0) {
		snprintf(err, errlen, "listen %s: %s", path, uv_strerror(rc));
		return -1;
	}
	return 0;
}

void
control_close(struct coord *co)
{
	struct ctl_client *c;

	while ((c = TAILQ_FIRST(&co->clients)) != NULL)
		control_client_close(c);
	if (co->ctl_open) {
		co->ctl_open = 0;
		uv_close((uv_handle_t *)&co->ctl_server, NULL);
		(void)unlink(co->conf.socket);
	}
}
