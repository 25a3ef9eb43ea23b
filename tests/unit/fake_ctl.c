/* fake_ctl.c: a fake coordinator for tests of the built ferryctl binary;
 * see fake_ctl.h. */
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <sys/ioctl.h>

#include <errno.h>
#include <pty.h>
#include <termios.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "frame.h"
#include "fake_ctl.h"

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int
fctl_setup(void **state, const char *dirtmpl)
{
	struct fctl_session *s;
	struct sockaddr_un sun;

	s = calloc(1, sizeof(*s));
	assert_non_null(s);
	s->lfd = s->cfd = s->out = s->err = -1;
	s->pid = -1;
	snprintf(s->dir, sizeof(s->dir), "%s", dirtmpl);
	assert_non_null(mkdtemp(s->dir));
	snprintf(s->path, sizeof(s->path), "%s/ferry.sock", s->dir);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", s->path);
	s->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(s->lfd >= 0);
	assert_int_equal(bind(s->lfd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	assert_int_equal(listen(s->lfd, 4), 0);
	*state = s;
	return 0;
}

/* Also the cleanup after a failed assertion: no ferryctl outlives it. */
int
fctl_teardown(void **state)
{
	struct fctl_session *s = *state;
	int i;

	if (s->pid > 0) {
		kill(s->pid, SIGKILL);
		waitpid(s->pid, NULL, 0);
	}
	if (s->lfd != -1)
		close(s->lfd);
	if (s->cfd != -1)
		close(s->cfd);
	if (s->out != -1)
		close(s->out);
	if (s->err != -1)
		close(s->err);
	for (i = 0; i < s->nlines; i++)
		json_object_put((struct json_object *)s->lines[i]);
	unlink(s->path);
	rmdir(s->dir);
	free(s);
	return 0;
}

/* Runs ferryctl --socket PATH args... with stdout and stderr on pipes, or
 * both on one pseudo-terminal (tty: what an operator sees, in order; raw,
 * so bytes arrive as written). */
static void
fctl_spawn_v(struct fctl_session *s, int tty, const char *socket, va_list ap)
{
	const char *bin = getenv("FERRYCTL");
	const char *argv[32];
	struct termios tio;
	int po[2], pe[2], n = 0, master = -1, slave = -1;

	if (bin == NULL || bin[0] == '\0')
		bin = "build/ferryctl";
	if (access(bin, X_OK) != 0)
		fail_msg("ferryctl binary %s is missing (%s): build it with "
		    "make, or point FERRYCTL at it", bin, strerror(errno));
	argv[n++] = bin;
	argv[n++] = "--socket";
	argv[n++] = socket ? socket : s->path;
	while (n < 31 && (argv[n] = va_arg(ap, const char *)) != NULL)
		n++;
	argv[n] = NULL;

	if (tty) {
		assert_int_equal(openpty(&master, &slave, NULL, NULL, NULL), 0);
		assert_int_equal(tcgetattr(slave, &tio), 0);
		cfmakeraw(&tio);
		/* An operator's terminal: lines, echo and signals (output
		 * still raw, so bytes arrive as written). */
		if (tty == 2)
			tio.c_lflag |= ICANON | ECHO | ISIG;
		assert_int_equal(tcsetattr(slave, TCSANOW, &tio), 0);
		assert_int_equal(ptsname_r(master, s->tty, sizeof(s->tty)), 0);
		(void)fcntl(master, F_SETFD, FD_CLOEXEC);
		(void)fcntl(slave, F_SETFD, FD_CLOEXEC);
	} else
		assert_int_equal(pipe2(po, O_CLOEXEC), 0);
	assert_int_equal(pipe2(pe, O_CLOEXEC), 0);
	s->pid = fork();
	assert_true(s->pid >= 0);
	if (s->pid == 0) {
		/* No controlling terminal: ferryctl must never ask one;
		 * unless it is the test (tty 2). */
		setsid();
		if (tty == 2) {
			if (ioctl(slave, TIOCSCTTY, 0) == -1)
				_exit(126);
			dup2(slave, STDIN_FILENO);
		}
		dup2(tty ? slave : po[1], STDOUT_FILENO);
		dup2(tty ? slave : pe[1], STDERR_FILENO);
		signal(SIGPIPE, SIG_DFL);
		execv(bin, (char **)argv);
		_exit(127);
	}
	if (tty) {
		close(slave);
		s->out = master;
	} else {
		close(po[1]);
		s->out = po[0];
	}
	close(pe[1]);
	s->err = pe[0];
}

void
fctl_spawn(struct fctl_session *s, const char *socket, ...)
{
	va_list ap;

	va_start(ap, socket);
	fctl_spawn_v(s, 0, socket, ap);
	va_end(ap);
}

void
fctl_spawn_tty(struct fctl_session *s, const char *socket, ...)
{
	va_list ap;

	va_start(ap, socket);
	fctl_spawn_v(s, 1, socket, ap);
	va_end(ap);
}

static int	pipe_read(struct fctl_session *, int fd, int timeout);

void
fctl_spawn_ctty(struct fctl_session *s, const char *socket, ...)
{
	va_list ap;

	va_start(ap, socket);
	fctl_spawn_v(s, 2, socket, ap);
	va_end(ap);
}

/* Typed on the controlling terminal (fctl_spawn_ctty). */
void
fctl_type(struct fctl_session *s, const char *keys)
{
	assert_int_equal(write(s->out, keys, strlen(keys)),
	    (ssize_t)strlen(keys));
}

/* The terminal's local modes (c_lflag), as ferryctl left them. */
unsigned
fctl_tty_lflag(struct fctl_session *s)
{
	struct termios tio;
	int fd;

	fd = open(s->tty, O_RDWR | O_NOCTTY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(tcgetattr(fd, &tio), 0);
	close(fd);
	return (unsigned)tio.c_lflag;
}

/* Waits until stdout from byte from on holds needle; returns where. */
const char *
fctl_wait_output(struct fctl_session *s, size_t from, const char *needle)
{
	uint64_t deadline = now_ms() + FCTL_WAIT_MS;
	const char *p;

	for (;;) {
		if (from <= s->olen && (p = strstr(s->obuf + from, needle)))
			return p;
		if (now_ms() >= deadline ||
		    pipe_read(s, s->out, (int)(deadline - now_ms())) < 0)
			fail_msg("ferryctl did not print '%s'; stdout: %s",
			    needle, s->obuf + from);
	}
}

/* Reaps ferryctl, its output left to read (fctl_finish). */
int
fctl_wait_exit(struct fctl_session *s)
{
	uint64_t deadline = now_ms() + FCTL_WAIT_MS;
	pid_t r;

	while ((r = waitpid(s->pid, &s->status, WNOHANG)) == 0 &&
	    now_ms() < deadline) {
		(void)pipe_read(s, s->out, 10);
	}
	if (r != s->pid)
		fail_msg("ferryctl did not exit within %d ms", FCTL_WAIT_MS);
	s->pid = -1;
	assert_true(WIFEXITED(s->status));
	return WEXITSTATUS(s->status);
}

void
fctl_accept(struct fctl_session *s)
{
	struct pollfd pfd = { .fd = s->lfd, .events = POLLIN };

	if (poll(&pfd, 1, FCTL_WAIT_MS) != 1)
		fail_msg("ferryctl did not connect within %d ms", FCTL_WAIT_MS);
	s->cfd = accept4(s->lfd, NULL, NULL, SOCK_CLOEXEC);
	assert_true(s->cfd >= 0);
}

static struct frame *
read_frame(struct fctl_session *s)
{
	struct frame_reader rd;
	struct frame *f = NULL;
	struct pollfd pfd = { .fd = s->cfd, .events = POLLIN };
	uint64_t deadline = now_ms() + FCTL_WAIT_MS;
	size_t used;
	ssize_t n;
	int rc;

	frame_reader_init(&rd, FRAME_MAX_PAYLOAD);
	for (;;) {
		while (s->inlen > 0) {
			rc = frame_reader_feed(&rd, s->in, s->inlen, &used, &f);
			assert_true(rc >= 0);
			memmove(s->in, s->in + used, s->inlen - used);
			s->inlen -= used;
			if (rc == 1)
				return f;
		}
		if (now_ms() >= deadline ||
		    poll(&pfd, 1, (int)(deadline - now_ms())) != 1)
			fail_msg("no frame from ferryctl within %d ms",
			    FCTL_WAIT_MS);
		n = read(s->cfd, s->in, sizeof(s->in));
		if (n <= 0)
			fail_msg("ferryctl closed the connection");
		s->inlen = n;
	}
}

/* The next CALL, which must be of the given type; returns its payload. */
void *
fctl_call(struct fctl_session *s, uint16_t type,
    const ProtobufCMessageDescriptor *desc, uint32_t *serial)
{
	struct frame *f = read_frame(s);
	void *m;

	assert_int_equal(f->hdr.kind, FRAME_CALL);
	assert_int_equal(f->hdr.type, type);
	*serial = f->hdr.serial;
	m = frame_unpack(f, desc);
	assert_non_null(m);
	frame_free(f);
	return m;
}

void
fctl_write(struct fctl_session *s, uint8_t *buf, size_t len)
{
	size_t off = 0;
	ssize_t n;

	while (off < len) {
		n = write(s->cfd, buf + off, len - off);
		assert_true(n > 0);
		off += n;
	}
	free(buf);
}

void
fctl_send(struct fctl_session *s, uint16_t type, uint16_t kind,
    uint32_t serial, const ProtobufCMessage *m)
{
	uint8_t *buf;
	size_t len;

	assert_int_equal(frame_pack(type, kind, FRAME_OK, serial, m, &buf,
	    &len), 0);
	fctl_write(s, buf, len);
}

static int
pipe_read(struct fctl_session *s, int fd, int timeout)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	char *buf = fd == s->out ? s->obuf : s->ebuf;
	size_t *len = fd == s->out ? &s->olen : &s->elen;
	size_t cap = (fd == s->out ? sizeof(s->obuf) : sizeof(s->ebuf)) - 1;
	ssize_t n;

	if (poll(&pfd, 1, timeout) != 1)
		return 0;
	n = read(fd, buf + *len, cap - *len);
	if (n <= 0)
		return -1;
	*len += n;
	buf[*len] = '\0';
	return 1;
}

/* The next line ferryctl printed, waiting for it. */
const char *
fctl_next_line(struct fctl_session *s)
{
	uint64_t deadline = now_ms() + FCTL_WAIT_MS;
	char *nl, *line;

	for (;;) {
		if ((nl = memchr(s->obuf + s->ooff, '\n', s->olen - s->ooff))) {
			*nl = '\0';
			line = s->obuf + s->ooff;
			s->ooff = nl + 1 - s->obuf;
			return line;
		}
		if (now_ms() >= deadline ||
		    pipe_read(s, s->out, (int)(deadline - now_ms())) <= 0)
			fail_msg("ferryctl printed no full line; stdout: %s "
			    "stderr: %s", s->obuf + s->ooff, s->ebuf);
	}
}

/* Reads both pipes to EOF and reaps ferryctl; returns its exit status. */
int
fctl_finish(struct fctl_session *s)
{
	uint64_t deadline = now_ms() + FCTL_WAIT_MS;
	int out_open = 1, err_open = 1;

	while ((out_open || err_open) && now_ms() < deadline) {
		if (out_open && pipe_read(s, s->out, 10) < 0)
			out_open = 0;
		if (err_open && pipe_read(s, s->err, 10) < 0)
			err_open = 0;
	}
	if (out_open || err_open)
		fail_msg("ferryctl did not exit within %d ms; stdout: %s",
		    FCTL_WAIT_MS, s->obuf);
	close(s->out);
	close(s->err);
	s->out = s->err = -1;
	if (s->pid != -1) {	/* else reaped by fctl_wait_exit */
		assert_int_equal(waitpid(s->pid, &s->status, 0), s->pid);
		s->pid = -1;
	}
	assert_true(WIFEXITED(s->status));
	return WEXITSTATUS(s->status);
}

/* The next stdout line, which must be JSON. */
struct json_object *
fctl_json_next(struct fctl_session *s)
{
	struct json_object *o;
	const char *l;

	assert_true(s->nlines < FCTL_MAX_LINES);
	l = fctl_next_line(s);
	if ((o = json_tokener_parse(l)) == NULL)
		fail_msg("not JSON: %s", l);
	s->lines[s->nlines++] = (char *)o;
	return o;
}

/* Every remaining stdout line as JSON. */
void
fctl_json_lines(struct fctl_session *s)
{
	while (s->ooff < s->olen)
		(void)fctl_json_next(s);
}

struct json_object *
fctl_line(struct fctl_session *s, int i)
{
	assert_true(i < s->nlines);
	return (struct json_object *)s->lines[i];
}

struct json_object *
fctl_get(struct json_object *o, const char *key)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, key, &v))
		fail_msg("no \"%s\" in %s", key, json_object_to_json_string(o));
	return v;
}

void
fctl_assert_str(struct json_object *o, const char *key, const char *want)
{
	struct json_object *v = fctl_get(o, key);

	if (want == NULL) {
		if (v != NULL)
			fail_msg("\"%s\" is %s, not null", key,
			    json_object_to_json_string(v));
		return;
	}
	assert_true(json_object_is_type(v, json_type_string));
	assert_string_equal(json_object_get_string(v), want);
}

void
fctl_assert_int(struct json_object *o, const char *key, int64_t want)
{
	struct json_object *v = fctl_get(o, key);

	assert_true(json_object_is_type(v, json_type_int));
	assert_int_equal(json_object_get_int64(v), want);
}

void
fctl_assert_num(struct json_object *o, const char *key, double want)
{
	struct json_object *v = fctl_get(o, key);

	assert_true(json_object_is_type(v, json_type_double) ||
	    json_object_is_type(v, json_type_int));
	if (json_object_get_double(v) < want - 1e-9 ||
	    json_object_get_double(v) > want + 1e-9)
		fail_msg("\"%s\" is %s, not %g", key,
		    json_object_to_json_string(v), want);
}

/* The object has exactly these keys, in any order. */
void
fctl_assert_keys(struct json_object *o, const char *const *keys)
{
	int n;

	for (n = 0; keys[n]; n++)
		(void)fctl_get(o, keys[n]);
	if (json_object_object_length(o) != n)
		fail_msg("unexpected keys in %s",
		    json_object_to_json_string(o));
}

static const char *
word(const char *w)
{
	return w ? w : "";
}

/* Every case, up to 5 arguments (NULL-padded), must make ferryctl exit 2
 * with a message on stderr, nothing on stdout and without connecting. */
void
fctl_bad_args(struct fctl_session *s, const char *const (*cases)[5],
    size_t n)
{
	struct pollfd pfd = { .fd = s->lfd, .events = POLLIN };
	size_t i;

	for (i = 0; i < n; i++) {
		s->olen = s->elen = 0;
		s->ebuf[0] = '\0';
		fctl_spawn(s, NULL, cases[i][0], cases[i][1], cases[i][2],
		    cases[i][3], cases[i][4], NULL);
		if (fctl_finish(s) != 2)
			fail_msg("ferryctl %s %s %s %s %s: exit %d, not 2",
			    word(cases[i][0]), word(cases[i][1]),
			    word(cases[i][2]), word(cases[i][3]),
			    word(cases[i][4]), WEXITSTATUS(s->status));
		assert_int_equal(s->olen, 0);
		assert_true(s->elen > 0);
	}
	/* None of them got as far as connecting. */
	assert_int_equal(poll(&pfd, 1, 0), 0);
}
