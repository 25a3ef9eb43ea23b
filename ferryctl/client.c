/* client.c: ferryctl's connection to the coordinator's Unix socket. */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ferryctl.h"

/* The socket is root's and its group's (0660): a user outside that group
 * is told so, not that the coordinator may be down. */
static void
ctl_not_allowed(struct ctl *c)
{
	struct group *gr;
	struct stat st;
	char gname[64];

	if (stat(c->socket, &st) == 0 && (gr = getgrgid(st.st_gid)) != NULL)
		snprintf(gname, sizeof(gname), "%s", gr->gr_name);
	else
		snprintf(gname, sizeof(gname), "%s", "ferry");
	out_fail("not allowed: you are not in group %s", gname);
	c->denied = 1;
}

int
ctl_connect(struct ctl *c)
{
	struct sockaddr_un sun;

	if (c->fd != -1)
		return 0;	/* handed a connection (tests/fuzz/fuzz_ctl.c) */
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(c->socket) >= sizeof(sun.sun_path)) {
		out_fail("socket path %s is too long", c->socket);
		return -1;
	}
	memcpy(sun.sun_path, c->socket, strlen(c->socket) + 1);
	if ((c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1 ||
	    connect(c->fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		if (errno == EACCES || errno == EPERM)
			ctl_not_allowed(c);
		else
			out_fail("cannot reach the coordinator at %s: %s (is "
		    "ferry-coordinator running? see --socket or FERRY_SOCKET)",
		    c->socket, strerror(errno));
		if (c->fd != -1)
			close(c->fd);
		c->fd = -1;
		return -1;
	}
	return 0;
}

void
ctl_close(struct ctl *c)
{
	if (c->fd != -1)
		close(c->fd);
	c->fd = -1;
}

static int
ctl_write_all(int fd, const uint8_t *p, size_t len)
{
	ssize_t n;

	while (len > 0) {
		/* MSG_NOSIGNAL: a coordinator that cut us off (a refused
		 * client) is an error to report, not a SIGPIPE death. */
		if ((n = send(fd, p, len, MSG_NOSIGNAL)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= n;
	}
	return 0;
}

int
ctl_send(struct ctl *c, uint16_t type, const ProtobufCMessage *m,
    uint32_t *serial)
{
	uint8_t *buf;
	size_t len;
	int rc;

	if (++c->serial == 0)
		c->serial = 1;
	if (frame_pack(type, FRAME_CALL, FRAME_OK, c->serial, m, &buf,
	    &len) < 0) {
		out_fail("cannot encode request");
		return -1;
	}
	rc = ctl_write_all(c->fd, buf, len);
	free(buf);
	if (rc < 0 && (errno == EPIPE || errno == ECONNRESET)) {
		struct frame *f = NULL;

		/* A refused client may find why in what is left to read
		 * (ctl_read reports the refusal). */
		c->probing = 1;
		if (ctl_read(c, 200, &f) == 1)
			frame_free(f);
		c->probing = 0;
		if (!c->denied)
			out_fail("the coordinator closed the connection");
		return -1;
	}
	if (rc < 0) {
		out_fail("lost the coordinator: %s", strerror(errno));
		return -1;
	}
	if (serial)
		*serial = c->serial;
	return 0;
}

static uint64_t
ctl_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
ctl_conn_error(struct ctl *c, const struct frame *f)
{
	Ferry__Error *e;

	e = (Ferry__Error *)frame_unpack(f, &ferry__error__descriptor);
	out_sanitize(e ? &e->base : NULL);
	out_fail("%s", e ? e->message : "refused by the coordinator");
	if (e && e->code == EACCES)
		c->denied = 1;
	if (e)
		ferry__error__free_unpacked(e, NULL);
}

/* Reads one frame. Returns 1 with *out (caller frees), 0 on timeout
 * (timeout_ms < 0: wait forever), -1 on error or EOF (reported). */
int
ctl_read(struct ctl *c, int timeout_ms, struct frame **out)
{
	struct frame_reader rd;
	struct pollfd pfd[2];
	struct stat st;
	int watch_out;
	uint8_t buf[65536];
	uint64_t deadline = timeout_ms >= 0 ? ctl_mono_ms() + timeout_ms : 0;
	size_t used, want;
	ssize_t n;
	int rc, wait;

	/* Reads exactly what the current frame still needs, so nothing of
	 * the next frame is taken and no state is kept between calls. */
	frame_reader_init(&rd, FRAME_MAX_PAYLOAD);
	*out = NULL;
	watch_out = fstat(STDOUT_FILENO, &st) == 0 &&
	    (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode));
	for (;;) {
		wait = -1;
		if (timeout_ms >= 0) {
			uint64_t now = ctl_mono_ms();

			if (now >= deadline && !frame_reader_pending(&rd))
				return 0;
			wait = now >= deadline ? 0 : (int)(deadline - now);
		}
		pfd[0].fd = c->fd;
		pfd[0].events = POLLIN;
		pfd[0].revents = pfd[1].revents = 0;
		/* A stdout whose reader went away (`| head -1`) shows as
		 * POLLERR: nothing more can be shown, so stop now rather than
		 * at the next event, however far off. */
		pfd[1].fd = STDOUT_FILENO;
		pfd[1].events = 0;
		if ((rc = poll(pfd, watch_out ? 2 : 1, wait)) == -1) {
			/* A signal between frames gives the caller a turn; in
			 * the middle of one, the bytes read so far must not be
			 * lost. */
			if (errno == EINTR && !frame_reader_pending(&rd))
				return 0;
			if (errno == EINTR)
				continue;
			out_fail("poll: %s", strerror(errno));
			goto fail;
		}
		if (watch_out && (pfd[1].revents & (POLLERR | POLLHUP))) {
			out_ask_restore();	/* the terminal as it was */
			signal(SIGPIPE, SIG_DFL);
			raise(SIGPIPE);
			_exit(CTL_EXIT_FAIL);
		}
		if (rc == 0 && !frame_reader_pending(&rd))
			return 0;
		if (!(pfd[0].revents & (POLLIN | POLLERR | POLLHUP)))
			continue;
		want = frame_reader_want(&rd);
		if (want > sizeof(buf))
			want = sizeof(buf);
		if (want == 0)
			want = 1;
		if ((n = read(c->fd, buf, want)) <= 0) {
			if (n == -1 && errno == EINTR)
				continue;
			if (!c->probing)
				out_fail("the coordinator closed the "
				    "connection");
			goto fail;
		}
		rc = frame_reader_feed(&rd, buf, n, &used, out);
		if (rc < 0) {
			out_fail("bad frame from the coordinator: %s",
			    frame_strerror(rc));
			goto fail;
		}
		if (rc == 1 && (*out)->hdr.serial == 0 &&
		    (*out)->hdr.kind == FRAME_REPLY &&
		    (*out)->hdr.status == FRAME_ERROR) {
			/* Serial 0 answers no call: the connection's own
			 * error (a client the coordinator refused). */
			ctl_conn_error(c, *out);
			frame_free(*out);
			*out = NULL;
			goto fail;
		}
		if (rc == 1)
			return 1;
	}
fail:
	frame_reader_reset(&rd);
	return -1;
}

void
ctl_print_frame_error(const struct frame *f)
{
	Ferry__Error *e;

	e = (Ferry__Error *)frame_unpack(f, &ferry__error__descriptor);
	out_sanitize(e ? &e->base : NULL);	/* stderr is a terminal too */
	out_fail("%s", e ? e->message : "malformed error from the coordinator");
	if (e)
		ferry__error__free_unpacked(e, NULL);
}

/* One request, one reply. -1 with the error already printed. */
int
ctl_call(struct ctl *c, uint16_t type, const ProtobufCMessage *m,
    const ProtobufCMessageDescriptor *reply_desc, ProtobufCMessage **reply)
{
	struct frame *f = NULL;
	uint32_t serial;
	int rc;

	*reply = NULL;
	if (ctl_send(c, type, m, &serial) < 0)
		return -1;
	for (;;) {
		if ((rc = ctl_read(c, 60000, &f)) <= 0) {
			if (rc == 0)
				out_fail("the coordinator did not answer in 60 s");
			return -1;
		}
		if (f->hdr.kind == FRAME_REPLY && f->hdr.serial == serial)
			break;
		frame_free(f);
	}
	if (f->hdr.status == FRAME_ERROR) {
		ctl_print_frame_error(f);
		frame_free(f);
		return -1;
	}
	if ((*reply = out_unpack(f, reply_desc)) == NULL) {
		out_fail("malformed reply from the coordinator");
		frame_free(f);
		return -1;
	}
	frame_free(f);
	return 0;
}
