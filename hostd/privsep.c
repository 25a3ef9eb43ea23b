/*
 * privsep.c: hostd's privilege separation, as OpenBSD's daemons do it.
 *
 *   ferry-hostd (root)                      ferry-hostd [network] (unprivileged)
 *   libvirt connection, workers,  <-pipe->  SSH server: TCP, handshake, auth,
 *   sessions and their handlers             frame reading, pre-auth limits,
 *                                           frame rate limits
 *
 * Everything a peer sends before and during authentication is parsed by the
 * network child, never by the root process that holds the libvirt
 * connection. The parent runs the child as its own program (re-executed
 * with -N, so it shares no memory with the parent), after copying the host
 * key and authorized_keys into the child's directory (privsep_dir/keys). The
 * child chroots into privsep_dir and drops to privsep_user before it opens
 * a socket, so it never reads a byte from the network as root; its copy of
 * authorized_keys is kept current by the parent, which checks the original
 * (root-owned, StrictModes) on every change.
 *
 * The pipe carries records: a 16-byte header {len, type, id} (big-endian)
 * then len bytes. A FRAME (child -> parent) or SEND (parent -> child) body is
 * one whole frame exactly as on the SSH channel; UP carries the peer's
 * "addr:port", DOWN and KICK a reason. Each side checks len against
 * PS_MAX_BODY before allocating, and the parent decodes every frame header
 * with the transport's own limits. What the child can do if it is
 * compromised is what an authenticated coordinator can do: send calls, each
 * still checked by the parent (dispatch, validate.c), never run code as root.
 *
 * If the child dies, its sessions end and the parent starts another after a
 * delay that doubles up to 30 s; if the parent dies, the child reads EOF and
 * exits.
 */
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hostd.h"
#include "log.h"

#define PS_HDR_LEN	16
#define PS_MAX_BODY	(FRAME_HDR_LEN + FRAME_MAX_PAYLOAD)
#define PS_MAX_QUEUED	(64u * 1024 * 1024)	/* unwritten bytes, per side */
#define PS_KEYS_MAX	(1024 * 1024)		/* authorized_keys */
#define PS_RESPAWN_MIN	1000
#define PS_RESPAWN_MAX	30000
#define PS_KEYS_POLL_MS	2000

enum ps_type {
	PS_UP = 1,	/* child: a session is authenticated; body: peer */
	PS_FRAME,	/* child: a frame from it; body: the frame */
	PS_DOWN,	/* child: it ended; body: reason */
	PS_SEND,	/* parent: a frame to it; body: the frame */
	PS_KICK,	/* parent: end it; body: reason */
	PS_LISTENING,	/* child: the port accepts connections; no body */
};

/* One side's end of the pipe: a record reader and a bounded writer. */
struct ps_pipe {
	uv_pipe_t	 pipe;
	int		 open;
	uint8_t		 hdr[PS_HDR_LEN];
	size_t		 hlen;
	uint32_t	 type, blen;
	uint64_t	 id;
	uint8_t		*body;		/* blen bytes once the header is in */
	size_t		 got;
	size_t		 queued;	/* bytes given to uv_write, not yet written */
	void		(*on_record)(struct ps_pipe *, uint32_t, uint64_t,
			    uint8_t *, size_t);	/* takes the body */
	void		(*on_eof)(struct ps_pipe *, const char *);
	void		*arg;
};

struct ps_write {
	uv_write_t	 req;
	struct ps_pipe	*pp;
	size_t		 len;
	uint8_t		 buf[];
};

/* The parent's state. */
struct privsep {
	struct hostd	*hd;
	char		 exe[PATH_MAX];
	uv_process_t	 proc;
	int		 proc_open;
	int		 running;	/* the child is alive */
	struct ps_pipe	 pp;
	uv_timer_t	 respawn;
	int		 delay_ms;
	uv_fs_poll_t	 keys_poll;
	int		 stopping;
	int		 nopen;		/* handles not yet closed */
	int		 prepared;	/* privsep_dir ready for the next spawn */
	uid_t		 uid;
	gid_t		 gid;
};

static void ps_spawn(struct privsep *);

/* ---- the pipe, both sides ------------------------------------------------ */

static void
ps_alloc_cb(uv_handle_t *h, size_t sugg, uv_buf_t *b)
{
	static uint8_t buf[64 * 1024];	/* loop thread only; consumed at once */

	(void)h;
	(void)sugg;
	b->base = (char *)buf;
	b->len = sizeof(buf);
}

static uint32_t
get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

static void
put32(uint8_t *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = v >> 16;
	p[2] = v >> 8;
	p[3] = v;
}

static void
ps_pipe_fail(struct ps_pipe *pp, const char *why)
{
	if (!pp->open)
		return;
	uv_read_stop((uv_stream_t *)&pp->pipe);
	pp->on_eof(pp, why);
}

static void
ps_read_cb(uv_stream_t *st, ssize_t n, const uv_buf_t *b)
{
	struct ps_pipe *pp = st->data;
	const uint8_t *p = (const uint8_t *)b->base;
	size_t take;
	uint8_t *body;

	if (n < 0) {
		ps_pipe_fail(pp, n == UV_EOF ? "closed" : uv_strerror((int)n));
		return;
	}
	while (n > 0 && pp->open) {
		if (pp->hlen < PS_HDR_LEN) {
			take = PS_HDR_LEN - pp->hlen;
			take = take < (size_t)n ? take : (size_t)n;
			memcpy(pp->hdr + pp->hlen, p, take);
			pp->hlen += take, p += take, n -= take;
			if (pp->hlen < PS_HDR_LEN)
				break;
			pp->blen = get32(pp->hdr);
			pp->type = get32(pp->hdr + 4);
			pp->id = (uint64_t)get32(pp->hdr + 8) << 32 |
			    get32(pp->hdr + 12);
			/* The limit before the allocation. */
			if (pp->blen > PS_MAX_BODY) {
				ps_pipe_fail(pp, "record too large");
				return;
			}
			if ((pp->body = malloc(pp->blen + 1)) == NULL) {
				ps_pipe_fail(pp, "out of memory");
				return;
			}
			pp->got = 0;
		}
		take = pp->blen - pp->got;
		take = take < (size_t)n ? take : (size_t)n;
		memcpy(pp->body + pp->got, p, take);
		pp->got += take, p += take, n -= take;
		if (pp->got < pp->blen)
			break;
		body = pp->body;
		body[pp->blen] = '\0';	/* strings need no copy */
		pp->body = NULL;
		pp->hlen = 0;
		pp->on_record(pp, pp->type, pp->id, body, pp->blen);
	}
}

static int
ps_pipe_open(struct ps_pipe *pp, uv_loop_t *loop, int fd)
{
	if (uv_pipe_init(loop, &pp->pipe, 0) != 0)
		return -1;
	pp->pipe.data = pp;
	if (uv_pipe_open(&pp->pipe, fd) != 0 ||
	    uv_read_start((uv_stream_t *)&pp->pipe, ps_alloc_cb,
	    ps_read_cb) != 0) {
		uv_close((uv_handle_t *)&pp->pipe, NULL);
		return -1;
	}
	pp->open = 1;
	pp->hlen = 0;
	pp->queued = 0;
	return 0;
}

static void
ps_pipe_close(struct ps_pipe *pp, uv_close_cb cb)
{
	if (!pp->open)
		return;
	pp->open = 0;
	free(pp->body);
	pp->body = NULL;
	uv_close((uv_handle_t *)&pp->pipe, cb);
}

static void
ps_write_cb(uv_write_t *req, int status)
{
	struct ps_write *w = (struct ps_write *)req;

	w->pp->queued -= w->len;
	free(w);
	(void)status;	/* a broken pipe is seen by the reader too */
}

/* Queues one record: the header, then a and b (either may be empty). */
static int
ps_write(struct ps_pipe *pp, uint32_t type, uint64_t id, const void *a,
    size_t alen, const void *b, size_t blen)
{
	struct ps_write *w;
	uv_buf_t ub;
	size_t len = PS_HDR_LEN + alen + blen;

	if (!pp->open || alen + blen > PS_MAX_BODY)
		return -1;
	if (pp->queued + len > PS_MAX_QUEUED) {
		ps_pipe_fail(pp, "peer process does not read");
		return -1;
	}
	if ((w = malloc(sizeof(*w) + len)) == NULL)
		return -1;
	w->pp = pp;
	w->len = len;
	put32(w->buf, (uint32_t)(alen + blen));
	put32(w->buf + 4, type);
	put32(w->buf + 8, (uint32_t)(id >> 32));
	put32(w->buf + 12, (uint32_t)id);
	if (alen)
		memcpy(w->buf + PS_HDR_LEN, a, alen);
	if (blen)
		memcpy(w->buf + PS_HDR_LEN + alen, b, blen);
	ub = uv_buf_init((char *)w->buf, len);
	if (uv_write(&w->req, (uv_stream_t *)&pp->pipe, &ub, 1,
	    ps_write_cb) != 0) {
		free(w);
		return -1;
	}
	pp->queued += len;
	return 0;
}

/* ---- the parent ------------------------------------------------------- */

static struct session *
ps_session(struct privsep *ps, uint64_t id)
{
	struct session *s;

	TAILQ_FOREACH(s, &ps->hd->sessions, entry)
		if (s->conn == NULL && s->relay_id == id)
			return s;
	return NULL;
}

static void
ps_parent_record(struct ps_pipe *pp, uint32_t type, uint64_t id,
    uint8_t *body, size_t len)
{
	struct privsep *ps = pp->arg;
	struct session *s = ps_session(ps, id);
	struct frame *f;

	switch (type) {
	case PS_UP:
		if (s != NULL || len == 0 || len >= sizeof(s->peer) ||
		    strlen((char *)body) != len) {
			ps_pipe_fail(pp, "bad UP record");
			break;
		}
		if ((s = session_up(ps->hd, NULL, id, (char *)body)) == NULL)
			(void)ps_write(pp, PS_KICK, id, "out of memory", 13,
			    NULL, 0);
		break;
	case PS_FRAME:
		if (s == NULL)
			break;	/* it went down meanwhile */
		if ((f = calloc(1, sizeof(*f))) == NULL)
			break;
		if (len < FRAME_HDR_LEN || frame_hdr_decode(body, &f->hdr,
		    FRAME_MAX_PAYLOAD) < 0 ||
		    f->hdr.len != len - FRAME_HDR_LEN) {
			free(f);
			ps_pipe_fail(pp, "bad FRAME record");
			break;
		}
		if (f->hdr.len > 0) {
			memmove(body, body + FRAME_HDR_LEN, f->hdr.len);
			f->payload = body;
			body = NULL;
		}
		session_frame(s, f);
		break;
	case PS_DOWN:
		if (s != NULL)
			session_down(s, len ? (char *)body : "closed");
		break;
	case PS_LISTENING:
		ps->hd->listening = 1;
		hostd_ready(ps->hd);
		break;
	default:
		ps_pipe_fail(pp, "unknown record");
		break;
	}
	free(body);
}

/* Every relayed session ends with the child. */
static void
ps_sessions_down(struct privsep *ps, const char *why)
{
	struct session *s, *next;

	for (s = TAILQ_FIRST(&ps->hd->sessions); s != NULL; s = next) {
		next = TAILQ_NEXT(s, entry);
		if (s->conn == NULL)
			session_down(s, why);
	}
}

static void
ps_parent_eof(struct ps_pipe *pp, const char *why)
{
	struct privsep *ps = pp->arg;

	if (pp->open && !ps->stopping)
		log_warnx("network process: pipe %s", why);
	ps_sessions_down(ps, "network process gone");
	ps->hd->listening = 0;
	ps_pipe_close(pp, NULL);
	/* A child that broke the protocol is not left running. */
	if (ps->running)
		uv_process_kill(&ps->proc, SIGKILL);
}

/* ps is freed when its last handle has closed after privsep_stop. */
static void
ps_handle_closed(uv_handle_t *h)
{
	struct privsep *ps = h->data;

	if (--ps->nopen == 0 && ps->stopping)
		free(ps);
}

static void
ps_respawn_cb(uv_timer_t *t)
{
	ps_spawn(t->data);
}

static void
ps_proc_closed(uv_handle_t *h)
{
	struct privsep *ps = h->data;

	ps->proc_open = 0;
	if (!ps->stopping)
		uv_timer_start(&ps->respawn, ps_respawn_cb, ps->delay_ms, 0);
	ps_handle_closed(h);
}

static void
ps_exit_cb(uv_process_t *p, int64_t status, int sig)
{
	struct privsep *ps = p->data;

	ps->running = 0;
	if (!ps->stopping)
		log_warnx("network process %d exited (status %lld, signal %d); "
		    "restarting it in %d ms", p->pid, (long long)status, sig,
		    ps->delay_ms);
	ps_parent_eof(&ps->pp, "closed");
	uv_close((uv_handle_t *)p, ps_proc_closed);
}

/* Copies src to dst (same directory, rename), owned by uid:gid with mode;
 * at most max bytes. */
static int
ps_copy(const char *src, const char *dst, uid_t uid, gid_t gid, mode_t mode,
    size_t max, char *err, size_t errlen)
{
	char tmp[PATH_MAX + 8], *buf = NULL;
	ssize_t n;
	size_t len = 0;
	int in = -1, out = -1, rc = -1;

	if ((in = open(src, O_RDONLY | O_CLOEXEC)) == -1) {
		snprintf(err, errlen, "%s: %s", src, strerror(errno));
		goto done;
	}
	if ((buf = malloc(max + 1)) == NULL)
		goto done;
	while ((n = read(in, buf + len, max + 1 - len)) > 0)
		if ((len += n) > max) {
			snprintf(err, errlen, "%s: larger than %zu bytes", src,
			    max);
			goto done;
		}
	if (n < 0) {
		snprintf(err, errlen, "%s: %s", src, strerror(errno));
		goto done;
	}
	snprintf(tmp, sizeof(tmp), "%s.new", dst);
	(void)unlink(tmp);
	if ((out = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
	    mode)) == -1 || fchown(out, uid, gid) == -1 ||
	    fchmod(out, mode) == -1 || write(out, buf, len) != (ssize_t)len ||
	    close(out) == -1 || rename(tmp, dst) == -1) {
		snprintf(err, errlen, "%s: %s", dst, strerror(errno));
		if (out != -1)
			(void)unlink(tmp);
		out = -1;
		goto done;
	}
	out = -1;
	rc = 0;
done:
	if (in != -1)
		close(in);
	if (out != -1)
		close(out);
	free(buf);
	return rc;
}

/* The child's copy of authorized_keys follows the original, which must
 * pass StrictModes here, as root; a bad original empties the copy (no key
 * admitted) rather than keeping keys the operator may have removed. */
static void
ps_keys_sync(struct privsep *ps)
{
	const struct hostd_conf *c = &ps->hd->conf;
	char dst[PATH_MAX + 32], err[512];

	snprintf(dst, sizeof(dst), "%s/keys/authorized_keys", c->privsep_dir);
	if (tr_check_trusted(c->authorized_keys, "authorized_keys", err,
	    sizeof(err)) == 0 && ps_copy(c->authorized_keys, dst, 0, 0, 0644,
	    PS_KEYS_MAX, err, sizeof(err)) == 0)
		return;
	log_warnx("%s; no coordinator is admitted until it is fixed", err);
	if (ps_copy("/dev/null", dst, 0, 0, 0644, 0, err, sizeof(err)) < 0)
		log_warnx("%s", err);
}

static void
ps_keys_cb(uv_fs_poll_t *h, int status, const uv_stat_t *prev,
    const uv_stat_t *cur)
{
	(void)status;
	(void)prev;
	(void)cur;
	ps_keys_sync(h->data);
}

/* privsep_dir (root's, 0755) and privsep_dir/keys (root's, 0755) with the
 * host key (the child's, 0600) and authorized_keys (root's, 0644). */
static int
ps_prepare_dir(struct privsep *ps, char *err, size_t errlen)
{
	const struct hostd_conf *c = &ps->hd->conf;
	char keys[PATH_MAX + 8], hk[PATH_MAX + 32];
	const char *dirs[2] = { c->privsep_dir, keys };
	struct stat st;
	int i;

	snprintf(keys, sizeof(keys), "%s/keys", c->privsep_dir);
	for (i = 0; i < 2; i++) {
		if (mkdir(dirs[i], 0755) == -1 && errno != EEXIST) {
			snprintf(err, errlen, "privsep_dir %s: %s", dirs[i],
			    strerror(errno));
			return -1;
		}
		if (lstat(dirs[i], &st) == -1 || !S_ISDIR(st.st_mode) ||
		    chown(dirs[i], 0, 0) == -1 || chmod(dirs[i], 0755) == -1) {
			snprintf(err, errlen, "privsep_dir %s: not a directory "
			    "root can own: %s", dirs[i], strerror(errno));
			return -1;
		}
	}
	snprintf(hk, sizeof(hk), "%s/host_key", keys);
	if (ps_copy(c->host_key, hk, ps->uid, ps->gid, 0600, PS_KEYS_MAX, err,
	    errlen) < 0)
		return -1;
	ps_keys_sync(ps);
	return 0;
}

static void
ps_spawn(struct privsep *ps)
{
	struct hostd *hd = ps->hd;
	uv_process_options_t o;
	uv_stdio_container_t io[4];
	char fdarg[16], verb[16], err[512], *argv[8];
	int sv[2], i, n = 0, v = log_getverbose();

	if (ps->stopping)
		return;
	/* privsep_start prepared it for the first spawn; a respawn copies the
	 * keys again (the host key may have been replaced). */
	if (!ps->prepared && ps_prepare_dir(ps, err, sizeof(err)) < 0) {
		log_warnx("network process: %s", err);
		goto retry;
	}
	ps->prepared = 0;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == -1) {
		log_warn("network process: socketpair");
		goto retry;
	}
	snprintf(fdarg, sizeof(fdarg), "%d", 3);
	snprintf(verb, sizeof(verb), "-%.*s", v > 8 ? 8 : v, "vvvvvvvv");
	argv[n++] = "ferry-hostd";
	argv[n++] = "-f";
	argv[n++] = hd->conf.conf_file;
	argv[n++] = "-N";
	argv[n++] = fdarg;
	if (v > 0)
		argv[n++] = verb;
	argv[n] = NULL;
	memset(&o, 0, sizeof(o));
	memset(io, 0, sizeof(io));
	io[0].flags = UV_IGNORE;
	for (i = 1; i < 3; i++) {
		io[i].flags = UV_INHERIT_FD;
		io[i].data.fd = i;
	}
	io[3].flags = UV_INHERIT_FD;
	io[3].data.fd = sv[1];
	o.file = ps->exe;
	o.args = argv;
	o.stdio = io;
	o.stdio_count = 4;
	o.exit_cb = ps_exit_cb;
	ps->proc.data = ps;
	if ((i = uv_spawn(hd->loop, &ps->proc, &o)) != 0) {
		log_warnx("network process: %s: %s", ps->exe, uv_strerror(i));
		close(sv[0]);
		close(sv[1]);
		ps->nopen++;
		uv_close((uv_handle_t *)&ps->proc, ps_handle_closed);
		goto retry;
	}
	close(sv[1]);
	ps->nopen++;
	ps->proc_open = ps->running = 1;
	ps->pp.on_record = ps_parent_record;
	ps->pp.on_eof = ps_parent_eof;
	ps->pp.arg = ps;
	if (ps_pipe_open(&ps->pp, hd->loop, sv[0]) < 0) {
		close(sv[0]);
		uv_process_kill(&ps->proc, SIGKILL);
		return;		/* the exit callback restarts it */
	}
	log_info("network process %d started, user %s, in %s", ps->proc.pid,
	    hd->conf.privsep_user, hd->conf.privsep_dir);
	ps->delay_ms = ps->delay_ms ? ps->delay_ms : PS_RESPAWN_MIN;
	return;
retry:
	uv_timer_start(&ps->respawn, ps_respawn_cb, ps->delay_ms, 0);
	ps->delay_ms = ps->delay_ms * 2 > PS_RESPAWN_MAX ? PS_RESPAWN_MAX :
	    ps->delay_ms * 2;
}

/* Loop thread. Starts the network process; its failures later are logged
 * and retried, never fatal. */
struct privsep *
privsep_start(struct hostd *hd, char *err, size_t errlen)
{
	struct privsep *ps;
	struct passwd *pw;
	ssize_t n;

	if (hd->conf.conf_file[0] == '\0') {
		snprintf(err, errlen, "privsep needs the configuration file "
		    "(the network process reads it)");
		return NULL;
	}
	if ((pw = getpwnam(hd->conf.privsep_user)) == NULL ||
	    pw->pw_uid == 0) {
		snprintf(err, errlen, "privsep_user '%s': %s",
		    hd->conf.privsep_user, pw ? "must not be root" :
		    "no such user");
		return NULL;
	}
	if ((ps = calloc(1, sizeof(*ps))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	ps->hd = hd;
	ps->uid = pw->pw_uid;
	ps->gid = pw->pw_gid;
	if ((n = readlink("/proc/self/exe", ps->exe, sizeof(ps->exe) - 1)) <= 0) {
		snprintf(err, errlen, "/proc/self/exe: %s", strerror(errno));
		free(ps);
		return NULL;
	}
	ps->exe[n] = '\0';
	if (ps_prepare_dir(ps, err, errlen) < 0) {
		free(ps);
		return NULL;
	}
	ps->prepared = 1;	/* refused here, at start, with the reason */
	uv_timer_init(hd->loop, &ps->respawn);
	ps->respawn.data = ps;
	uv_fs_poll_init(hd->loop, &ps->keys_poll);
	ps->keys_poll.data = ps;
	ps->nopen = 2;
	uv_fs_poll_start(&ps->keys_poll, ps_keys_cb, hd->conf.authorized_keys,
	    PS_KEYS_POLL_MS);
	ps->delay_ms = PS_RESPAWN_MIN;
	ps_spawn(ps);
	return ps;
}

/* Loop thread. The child reads EOF and exits; ps is freed once its
 * handles have closed. NULL ok. */
void
privsep_stop(struct privsep *ps)
{
	if (ps == NULL)
		return;
	ps->stopping = 1;
	ps_sessions_down(ps, "hostd is stopping");
	ps_pipe_close(&ps->pp, NULL);	/* the child reads EOF ... */
	if (ps->running)		/* ... or is told */
		uv_process_kill(&ps->proc, SIGTERM);
	uv_close((uv_handle_t *)&ps->respawn, ps_handle_closed);
	uv_close((uv_handle_t *)&ps->keys_poll, ps_handle_closed);
	/* The last close (the process's, after its exit) frees ps. */
}

/* Loop thread; takes buf. */
int
privsep_send(struct privsep *ps, uint64_t id, uint8_t *buf, size_t len)
{
	int rc = ps ? ps_write(&ps->pp, PS_SEND, id, buf, len, NULL, 0) : -1;

	free(buf);
	return rc;
}

void
privsep_kick(struct privsep *ps, uint64_t id, const char *reason)
{
	if (ps != NULL)
		(void)ps_write(&ps->pp, PS_KICK, id, reason, strlen(reason),
		    NULL, 0);
}

/* ---- the child ------------------------------------------------------- */

struct ps_child {
	uv_loop_t		 loop;
	struct ps_pipe		 pp;
	struct tr_server	*srv;
	uint64_t		 next_id;
	int			 stopping;
};

struct ps_conn {
	uint64_t	 id;
	struct tr_conn	*conn;
};

/* Authenticated sessions by id; at most max_sessions, so a list will do. */
#define PS_CHILD_MAX	1024
static struct ps_conn	 ps_conns[PS_CHILD_MAX];

static struct tr_conn *
ps_child_conn(struct ps_child *ch, uint64_t id)
{
	size_t i;

	(void)ch;
	for (i = 0; i < PS_CHILD_MAX; i++)
		if (ps_conns[i].conn != NULL && ps_conns[i].id == id)
			return ps_conns[i].conn;
	return NULL;
}

static void
ps_child_stop(struct ps_child *ch)
{
	if (ch->stopping)
		return;
	ch->stopping = 1;
	tr_server_stop(ch->srv);
	ch->srv = NULL;
	ps_pipe_close(&ch->pp, NULL);
}

static void
ps_child_up(struct tr_conn *c, void *arg)
{
	struct ps_child *ch = arg;
	const char *peer = tr_conn_peer(c);
	struct ps_conn *pc = NULL;
	size_t i;

	for (i = 0; i < PS_CHILD_MAX && pc == NULL; i++)
		if (ps_conns[i].conn == NULL)
			pc = &ps_conns[i];
	if (pc == NULL) {
		tr_conn_kick(c, "too many sessions");
		return;
	}
	pc->id = ++ch->next_id;
	pc->conn = c;
	tr_conn_set_data(c, pc);
	if (ps_write(&ch->pp, PS_UP, pc->id, peer, strlen(peer), NULL, 0) < 0)
		tr_conn_kick(c, "hostd unreachable");
}

static void
ps_child_frame(struct tr_conn *c, struct frame *f, void *arg)
{
	struct ps_child *ch = arg;
	struct ps_conn *pc = tr_conn_get_data(c);
	uint8_t hdr[FRAME_HDR_LEN];

	if (pc != NULL) {
		frame_hdr_encode(&f->hdr, hdr);
		if (ps_write(&ch->pp, PS_FRAME, pc->id, hdr, sizeof(hdr),
		    f->payload, f->hdr.len) < 0)
			tr_conn_kick(c, "hostd unreachable");
	}
	frame_free(f);
}

static void
ps_child_down(struct tr_conn *c, const char *reason, void *arg)
{
	struct ps_child *ch = arg;
	struct ps_conn *pc = tr_conn_get_data(c);

	if (pc == NULL) {
		log_info("%s: refused: %s", tr_conn_peer(c), reason);
		return;
	}
	(void)ps_write(&ch->pp, PS_DOWN, pc->id, reason, strlen(reason), NULL,
	    0);
	tr_conn_set_data(c, NULL);
	pc->conn = NULL;
}

static void
ps_child_record(struct ps_pipe *pp, uint32_t type, uint64_t id,
    uint8_t *body, size_t len)
{
	struct ps_child *ch = pp->arg;
	struct tr_conn *c = ps_child_conn(ch, id);

	switch (type) {
	case PS_SEND:
		if (c != NULL) {
			(void)tr_conn_send(c, body, len);	/* takes it */
			return;
		}
		break;
	case PS_KICK:
		if (c != NULL)
			tr_conn_kick(c, len ? (char *)body : "hostd");
		break;
	default:
		log_warnx("unknown record %u from hostd", type);
		ps_child_stop(ch);
		break;
	}
	free(body);
}

static void
ps_child_eof(struct ps_pipe *pp, const char *why)
{
	log_info("hostd's pipe %s: exiting", why);
	ps_child_stop(pp->arg);
}

/* Chroot into privsep_dir and become privsep_user, for good. */
static int
ps_child_drop(const struct hostd_conf *c, char *err, size_t errlen)
{
	struct passwd *pw;

	if ((pw = getpwnam(c->privsep_user)) == NULL || pw->pw_uid == 0) {
		snprintf(err, errlen, "privsep_user '%s': %s", c->privsep_user,
		    pw ? "must not be root" : "no such user");
		return -1;
	}
	if (chroot(c->privsep_dir) == -1 || chdir("/") == -1) {
		snprintf(err, errlen, "chroot %s: %s", c->privsep_dir,
		    strerror(errno));
		return -1;
	}
	if (setgroups(1, &pw->pw_gid) == -1 ||
	    setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) == -1 ||
	    setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) == -1) {
		snprintf(err, errlen, "dropping to %s: %s", c->privsep_user,
		    strerror(errno));
		return -1;
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1 ||
	    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == -1) {
		snprintf(err, errlen, "prctl: %s", strerror(errno));
		return -1;
	}
	if (setuid(0) != -1 || geteuid() == 0) {
		snprintf(err, errlen, "could regain root after dropping it");
		return -1;
	}
	return 0;
}

/* The network process: main() of ferry-hostd -N fd. Returns its exit code. */
int
privsep_child_main(const struct hostd_conf *conf, int fd)
{
	static const struct tr_callbacks cbs = {
		ps_child_up, ps_child_frame, ps_child_down,
	};
	struct tr_server_config sc;
	struct ps_child ch;
	char err[512];
	int rc;

	memset(&ch, 0, sizeof(ch));
	signal(SIGPIPE, SIG_IGN);
	/* Logged before the chroot: journald's socket is opened now. */
	log_info("network process: dropping to %s in %s", conf->privsep_user,
	    conf->privsep_dir);
	if (ps_child_drop(conf, err, sizeof(err)) < 0) {
		log_warnx("network process: %s", err);
		return 1;
	}
	if (uv_loop_init(&ch.loop) != 0)
		return 1;
	ch.pp.on_record = ps_child_record;
	ch.pp.on_eof = ps_child_eof;
	ch.pp.arg = &ch;
	if (ps_pipe_open(&ch.pp, &ch.loop, fd) < 0) {
		log_warnx("network process: fd %d is not hostd's pipe", fd);
		return 1;
	}
	hostd_server_config(conf, &sc);
	/* The copies root made, as the chroot sees them. */
	sc.host_key = "/keys/host_key";
	sc.authorized_keys = "/keys/authorized_keys";
	if ((ch.srv = tr_server_start(&ch.loop, &sc, &cbs, &ch, err,
	    sizeof(err))) == NULL) {
		log_warnx("network process: %s", err);
		ps_child_stop(&ch);
		uv_run(&ch.loop, UV_RUN_DEFAULT);
		uv_loop_close(&ch.loop);
		return 1;
	}
	log_info("network process: listening on %s:%d as uid %u", conf->listen,
	    conf->port, (unsigned)getuid());
	(void)ps_write(&ch.pp, PS_LISTENING, 0, NULL, 0, NULL, 0);
	uv_run(&ch.loop, UV_RUN_DEFAULT);
	rc = uv_loop_close(&ch.loop);
	return rc == 0 ? 0 : 1;
}
