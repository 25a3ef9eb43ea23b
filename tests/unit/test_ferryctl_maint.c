/* test_ferryctl_maint.c: ferryctl maintenance against a fake coordinator,
 * as test_ferryctl.c does it: the test binds the Unix socket, runs the built
 * ferryctl ($FERRYCTL, else build/ferryctl) with --socket, checks the
 * MaintenanceRequest it sends, answers with scripted DrainInfo replies and
 * DrainEvents and checks what ferryctl prints and its exit status. */
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <errno.h>
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
#include "msg.h"

#define WAIT_MS		5000
#define MAX_LINES	32

struct session {
	char		 dir[64];
	char		 path[128];
	int		 lfd;		/* the fake coordinator's socket */
	int		 cfd;		/* ferryctl's connection */
	uint8_t		 in[8192];	/* bytes read from ferryctl, unparsed */
	size_t		 inlen;
	pid_t		 pid;
	int		 out, err;	/* ferryctl's stdout and stderr */
	char		 obuf[65536];
	size_t		 olen, ooff;	/* ooff: next unread line */
	char		 ebuf[8192];
	size_t		 elen;
	int		 status;	/* exit status once reaped */
	char		*lines[MAX_LINES];
	int		 nlines;
};

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int
setup(void **state)
{
	struct session *s;
	struct sockaddr_un sun;

	s = calloc(1, sizeof(*s));
	assert_non_null(s);
	s->lfd = s->cfd = s->out = s->err = -1;
	s->pid = -1;
	snprintf(s->dir, sizeof(s->dir), "/tmp/ferryctl-maint.XXXXXX");
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
static int
teardown(void **state)
{
	struct session *s = *state;
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

/* Runs ferryctl --socket PATH args... with stdout and stderr on pipes. */
static void
spawn(struct session *s, const char *socket, ...)
{
	const char *bin = getenv("FERRYCTL");
	const char *argv[32];
	int po[2], pe[2], n = 0;
	va_list ap;

	if (bin == NULL || bin[0] == '\0')
		bin = "build/ferryctl";
	if (access(bin, X_OK) != 0)
		fail_msg("ferryctl binary %s is missing (%s): build it with "
		    "make, or point FERRYCTL at it", bin, strerror(errno));
	argv[n++] = bin;
	argv[n++] = "--socket";
	argv[n++] = socket ? socket : s->path;
	va_start(ap, socket);
	while (n < 31 && (argv[n] = va_arg(ap, const char *)) != NULL)
		n++;
	va_end(ap);
	argv[n] = NULL;

	assert_int_equal(pipe2(po, O_CLOEXEC), 0);
	assert_int_equal(pipe2(pe, O_CLOEXEC), 0);
	s->pid = fork();
	assert_true(s->pid >= 0);
	if (s->pid == 0) {
		/* No controlling terminal: ferryctl must never ask one. */
		setsid();
		dup2(po[1], STDOUT_FILENO);
		dup2(pe[1], STDERR_FILENO);
		signal(SIGPIPE, SIG_DFL);
		execv(bin, (char **)argv);
		_exit(127);
	}
	close(po[1]);
	close(pe[1]);
	s->out = po[0];
	s->err = pe[0];
}

static void
fake_accept(struct session *s)
{
	struct pollfd pfd = { .fd = s->lfd, .events = POLLIN };

	if (poll(&pfd, 1, WAIT_MS) != 1)
		fail_msg("ferryctl did not connect within %d ms", WAIT_MS);
	s->cfd = accept4(s->lfd, NULL, NULL, SOCK_CLOEXEC);
	assert_true(s->cfd >= 0);
}

static struct frame *
fake_read_frame(struct session *s)
{
	struct frame_reader rd;
	struct frame *f = NULL;
	struct pollfd pfd = { .fd = s->cfd, .events = POLLIN };
	uint64_t deadline = now_ms() + WAIT_MS;
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
			fail_msg("no frame from ferryctl within %d ms", WAIT_MS);
		n = read(s->cfd, s->in, sizeof(s->in));
		if (n <= 0)
			fail_msg("ferryctl closed the connection");
		s->inlen = n;
	}
}

/* The next CALL, which must be of the given type; returns its payload. */
static void *
fake_call(struct session *s, uint16_t type,
    const ProtobufCMessageDescriptor *desc, uint32_t *serial)
{
	struct frame *f = fake_read_frame(s);
	void *m;

	assert_int_equal(f->hdr.kind, FRAME_CALL);
	assert_int_equal(f->hdr.type, type);
	*serial = f->hdr.serial;
	m = frame_unpack(f, desc);
	assert_non_null(m);
	frame_free(f);
	return m;
}

static void
fake_write(struct session *s, uint8_t *buf, size_t len)
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

static void
fake_send(struct session *s, uint16_t type, uint16_t kind, uint32_t serial,
    const ProtobufCMessage *m)
{
	uint8_t *buf;
	size_t len;

	assert_int_equal(frame_pack(type, kind, FRAME_OK, serial, m, &buf,
	    &len), 0);
	fake_write(s, buf, len);
}

static int
pipe_read(struct session *s, int fd, int timeout)
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
static const char *
next_line(struct session *s)
{
	uint64_t deadline = now_ms() + WAIT_MS;
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
static int
finish(struct session *s)
{
	uint64_t deadline = now_ms() + WAIT_MS;
	int out_open = 1, err_open = 1;

	while ((out_open || err_open) && now_ms() < deadline) {
		if (out_open && pipe_read(s, s->out, 10) < 0)
			out_open = 0;
		if (err_open && pipe_read(s, s->err, 10) < 0)
			err_open = 0;
	}
	if (out_open || err_open)
		fail_msg("ferryctl did not exit within %d ms; stdout: %s",
		    WAIT_MS, s->obuf);
	close(s->out);
	close(s->err);
	s->out = s->err = -1;
	assert_int_equal(waitpid(s->pid, &s->status, 0), s->pid);
	s->pid = -1;
	assert_true(WIFEXITED(s->status));
	return WEXITSTATUS(s->status);
}

/* The next stdout line, which must be JSON. */
static struct json_object *
json_next(struct session *s)
{
	struct json_object *o;
	const char *l;

	assert_true(s->nlines < MAX_LINES);
	l = next_line(s);
	if ((o = json_tokener_parse(l)) == NULL)
		fail_msg("not JSON: %s", l);
	s->lines[s->nlines++] = (char *)o;
	return o;
}

/* Every remaining stdout line as JSON. */
static void
json_lines(struct session *s)
{
	while (s->ooff < s->olen)
		(void)json_next(s);
}

static struct json_object *
line(struct session *s, int i)
{
	assert_true(i < s->nlines);
	return (struct json_object *)s->lines[i];
}

static struct json_object *
get(struct json_object *o, const char *key)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, key, &v))
		fail_msg("no \"%s\" in %s", key, json_object_to_json_string(o));
	return v;
}

static void
assert_str(struct json_object *o, const char *key, const char *want)
{
	struct json_object *v = get(o, key);

	if (want == NULL) {
		if (v != NULL)
			fail_msg("\"%s\" is %s, not null", key,
			    json_object_to_json_string(v));
		return;
	}
	assert_true(json_object_is_type(v, json_type_string));
	assert_string_equal(json_object_get_string(v), want);
}

static void
assert_int(struct json_object *o, const char *key, int64_t want)
{
	struct json_object *v = get(o, key);

	assert_true(json_object_is_type(v, json_type_int));
	assert_int_equal(json_object_get_int64(v), want);
}

static void
assert_num(struct json_object *o, const char *key, double want)
{
	struct json_object *v = get(o, key);

	assert_true(json_object_is_type(v, json_type_double) ||
	    json_object_is_type(v, json_type_int));
	if (json_object_get_double(v) < want - 1e-9 ||
	    json_object_get_double(v) > want + 1e-9)
		fail_msg("\"%s\" is %s, not %g", key,
		    json_object_to_json_string(v), want);
}

/* The object has exactly these keys, in any order. */
static void
assert_keys(struct json_object *o, const char *const *keys)
{
	int n;

	for (n = 0; keys[n]; n++)
		(void)get(o, keys[n]);
	if (json_object_object_length(o) != n)
		fail_msg("unexpected keys in %s", json_object_to_json_string(o));
}

static const char *const plan_keys[] = { "event", "drain", NULL };
static const char *const drain_keys[] = { "id", "host", "state", "host_state",
	"message", "max_parallel", "per_destination", "items", NULL };
static const char *const drain_item_keys[] = { "order", "vm", "mem_mib",
	"destination", "state", "reason", "job", "attempts", "percent", NULL };
static const char *const item_keys[] = { "event", "drain_id", "vm",
	"destination", "state", "reason", "job", "attempts", "percent", NULL };
static const char *const done_keys[] = { "event", "drain_id", "host", "state",
	"host_state", "moved", "failed", "unmovable", NULL };

/* One VM of a scripted drain; percent < 0: none. */
struct item {
	const char	*vm;
	const char	*dest;
	const char	*state;
	const char	*reason;
	uint32_t	 attempts;
	double		 percent;
};

#define MAX_ITEMS	8

struct drain_msg {
	Ferry__DrainInfo	 d;
	Ferry__DrainItem	 it[MAX_ITEMS];
	Ferry__DrainItem	*p[MAX_ITEMS];
};

static void
fill(struct drain_msg *m, uint64_t id, const char *state,
    const char *host_state, const char *message, const struct item *items,
    size_t n)
{
	size_t i;

	assert_true(n <= MAX_ITEMS);
	ferry__drain_info__init(&m->d);
	m->d.id = id;
	m->d.host = "h1";
	m->d.state = (char *)state;
	m->d.host_state = (char *)host_state;
	m->d.message = (char *)message;
	m->d.has_max_parallel = m->d.has_per_destination = 1;
	m->d.max_parallel = 2;
	m->d.per_destination = 1;
	for (i = 0; i < n; i++) {
		Ferry__DrainItem *it = &m->it[i];

		ferry__drain_item__init(it);
		it->vm = (char *)items[i].vm;
		it->mem_mib = 1024 * (i + 1);
		it->destination = (char *)items[i].dest;
		it->state = (char *)items[i].state;
		it->reason = (char *)items[i].reason;
		it->has_order = 1;
		it->order = i + 1;
		if (items[i].attempts) {
			it->has_attempts = it->has_job_id = 1;
			it->attempts = items[i].attempts;
			it->job_id = 100 + i;
		}
		if (items[i].percent >= 0) {
			it->has_percent = 1;
			it->percent = items[i].percent;
		}
		m->p[i] = it;
	}
	m->d.n_items = n;
	m->d.items = n ? m->p : NULL;
}

static void
reply_drain(struct session *s, uint16_t type, uint32_t serial, uint64_t id,
    const char *state, const char *host_state, const char *message,
    const struct item *items, size_t n)
{
	struct drain_msg m;

	fill(&m, id, state, host_state, message, items, n);
	fake_send(s, type, FRAME_REPLY, serial, &m.d.base);
}

static void
event_drain(struct session *s, uint32_t serial, const char *event, uint64_t id,
    const char *state, const char *host_state, const struct item *items,
    size_t n)
{
	Ferry__DrainEvent e = FERRY__DRAIN_EVENT__INIT;
	struct drain_msg m;

	fill(&m, id, state, host_state, NULL, items, n);
	e.event = (char *)event;
	e.drain = &m.d;
	fake_send(s, MSG_CTL_DRAIN_EVENT, FRAME_EVENT, serial, &e.base);
}

#define N(a)	(sizeof(a) / sizeof(a[0]))

static Ferry__MaintenanceRequest *
fake_maint(struct session *s, uint16_t type, uint32_t *serial)
{
	Ferry__MaintenanceRequest *r;

	r = fake_call(s, type, &ferry__maintenance_request__descriptor, serial);
	assert_string_equal(r->host, "h1");
	return r;
}

static void
assert_has(const char *buf, const char *want)
{
	if (strstr(buf, want) == NULL)
		fail_msg("no \"%s\" in:\n%s", want, buf);
}

static const struct item plan3[] = {
	{ "vm1", "h2", "planned", NULL, 0, -1 },
	{ "vm2", "h3", "planned", NULL, 0, -1 },
	{ "vm3", "h2", "planned", NULL, 0, -1 },
};

static void
test_dry_run_table(void **state)
{
	struct session *s = *state;
	Ferry__MaintenanceRequest *r;
	uint32_t serial;

	spawn(s, NULL, "maintenance", "enter", "h1", "--dry-run",
	    "--max-parallel", "3", "--wait", NULL);
	fake_accept(s);
	r = fake_maint(s, MSG_CTL_MAINT_ENTER, &serial);
	assert_true(r->has_max_parallel);
	assert_int_equal(r->max_parallel, 3);
	assert_true(r->has_dry_run && r->dry_run);
	assert_false(r->force);
	/* A dry run never streams, --wait or not. */
	assert_false(r->wait);
	ferry__maintenance_request__free_unpacked(r, NULL);
	reply_drain(s, MSG_CTL_MAINT_ENTER, serial, 0, "planning", "up", NULL,
	    plan3, N(plan3));
	assert_int_equal(finish(s), 0);
	assert_has(s->obuf, "ORDER VM  MEM(MiB) DESTINATION STATE     REASON\n"
	    "1     vm1     1024 h2          planned\n"
	    "2     vm2     2048 h3          planned\n"
	    "3     vm3     3072 h2          planned\n");
	assert_has(s->obuf, "3 VMs, 3 to move, 0 unmovable; at most 2 at once, "
	    "1 per destination\n");
	assert_has(s->obuf, "dry run: every VM can move\n");
}

static void
test_dry_run_unmovable(void **state)
{
	static const struct item plan[] = {
		{ "vm1", "h2", "planned", NULL, 0, -1 },
		{ "gpu1", NULL, "unmovable", "PCI passthrough 0000:3b:00.0",
		    0, -1 },
	};
	struct session *s = *state;
	Ferry__MaintenanceRequest *r;
	uint32_t serial;

	spawn(s, NULL, "maintenance", "enter", "--dry-run", "h1", NULL);
	fake_accept(s);
	r = fake_maint(s, MSG_CTL_MAINT_ENTER, &serial);
	assert_true(r->dry_run);
	assert_false(r->has_max_parallel);
	ferry__maintenance_request__free_unpacked(r, NULL);
	reply_drain(s, MSG_CTL_MAINT_ENTER, serial, 0, "planning", "up", NULL,
	    plan, N(plan));
	assert_int_equal(finish(s), 3);
	assert_has(s->obuf, "gpu1 ");
	assert_has(s->obuf, "unmovable PCI passthrough 0000:3b:00.0\n");
	assert_has(s->obuf, "2 VMs, 1 to move, 1 unmovable");
}

static void
test_refused_unmovable(void **state)
{
	static const struct item plan[] = {
		{ "vm1", "h2", "planned", NULL, 0, -1 },
		{ "pinned", NULL, "unmovable", "no host has 64 GiB free", 0, -1 },
	};
	struct session *s = *state;
	Ferry__MaintenanceRequest *r;
	uint32_t serial;

	spawn(s, NULL, "maintenance", "enter", "h1", "--wait", NULL);
	fake_accept(s);
	r = fake_maint(s, MSG_CTL_MAINT_ENTER, &serial);
	assert_false(r->force);
	assert_false(r->dry_run);
	assert_true(r->has_wait && r->wait);
	ferry__maintenance_request__free_unpacked(r, NULL);
	reply_drain(s, MSG_CTL_MAINT_ENTER, serial, 0, "refused", "up",
	    "1 VM cannot move; --force drains the rest", plan, N(plan));
	assert_int_equal(finish(s), 3);
	assert_has(s->obuf, "no host has 64 GiB free\n");
	assert_has(s->obuf, "h1: drain refused: 1 VM cannot move; --force "
	    "drains the rest\n");
}

static void
test_error_reply(void **state)
{
	struct session *s = *state;
	Ferry__MaintenanceRequest *r;
	uint32_t serial;
	uint8_t *buf;
	size_t len;

	spawn(s, NULL, "maintenance", "enter", "h1", NULL);
	fake_accept(s);
	r = fake_maint(s, MSG_CTL_MAINT_ENTER, &serial);
	ferry__maintenance_request__free_unpacked(r, NULL);
	assert_int_equal(frame_pack_error(MSG_CTL_MAINT_ENTER, serial, EBUSY,
	    "h1 is already draining (drain 4)", &buf, &len), 0);
	fake_write(s, buf, len);
	assert_int_equal(finish(s), 1);
	assert_int_equal(s->olen, 0);
	assert_has(s->ebuf, "h1 is already draining (drain 4)");
}

static void
test_no_wait_started(void **state)
{
	struct session *s = *state;
	Ferry__MaintenanceRequest *r;
	uint32_t serial;

	spawn(s, NULL, "maintenance", "enter", "h1", NULL);
	fake_accept(s);
	r = fake_maint(s, MSG_CTL_MAINT_ENTER, &serial);
	assert_false(r->wait);
	ferry__maintenance_request__free_unpacked(r, NULL);
	reply_drain(s, MSG_CTL_MAINT_ENTER, serial, 12, "draining", "draining",
	    NULL, plan3, N(plan3));
	assert_int_equal(finish(s), 0);
	assert_has(s->obuf, "3 VMs, 3 to move, 0 unmovable");
	assert_has(s->obuf, "drain 12 started; ferryctl hosts shows h1 "
	    "draining\n");
}

/* The stream: the plan once, then only the items that changed. */
static void
test_wait_json_completed(void **state)
{
	static const struct item plan[] = {
		{ "vm1", "h2", "planned", NULL, 0, -1 },
		{ "vm2", "h3", "planned", NULL, 0, -1 },
	};
	static const struct item ev1[] = {
		{ "vm1", "h2", "migrating", NULL, 1, 40 },
		{ "vm2", "h3", "planned", NULL, 0, -1 },
	};
	static const struct item ev2[] = {
		{ "vm1", "h2", "migrating", NULL, 1, 40 },
		{ "vm2", "h3", "waiting", NULL, 0, -1 },
	};
	static const struct item ev3[] = {
		{ "vm1", "h2", "moved", NULL, 1, -1 },
		{ "vm2", "h3", "waiting", NULL, 0, -1 },
	};
	static const struct item done[] = {
		{ "vm1", "h2", "moved", NULL, 1, -1 },
		{ "vm2", "h3", "moved", NULL, 2, -1 },
	};
	struct session *s = *state;
	Ferry__MaintenanceRequest *r;
	struct json_object *o, *d, *items;
	uint32_t serial;

	spawn(s, NULL, "maintenance", "enter", "h1", "--wait", "--json",
	    "--force", "--max-parallel", "2", NULL);
	fake_accept(s);
	r = fake_maint(s, MSG_CTL_MAINT_ENTER, &serial);
	assert_true(r->has_wait && r->wait);
	assert_true(r->has_force && r->force);
	assert_false(r->dry_run);
	assert_int_equal(r->max_parallel, 2);
	ferry__maintenance_request__free_unpacked(r, NULL);
	reply_drain(s, MSG_CTL_MAINT_ENTER, serial, 12, "draining", "draining",
	    NULL, plan, N(plan));
	event_drain(s, serial, "plan", 12, "draining", "draining", plan,
	    N(plan));
	event_drain(s, serial, "item", 12, "draining", "draining", ev1, N(ev1));
	event_drain(s, serial, "item", 12, "draining", "draining", ev2, N(ev2));
	/* Another drain's events on this serial are not ours. */
	event_drain(s, serial, "item", 99, "draining", "draining", done,
	    N(done));
	event_drain(s, serial, "item", 12, "draining", "draining", ev3, N(ev3));
	event_drain(s, serial, "done", 12, "completed", "maintenance", done,
	    N(done));
	assert_int_equal(finish(s), 0);
	json_lines(s);
	assert_int_equal(s->nlines, 6);

	o = line(s, 0);
	assert_keys(o, plan_keys);
	assert_str(o, "event", "plan");
	d = get(o, "drain");
	assert_keys(d, drain_keys);
	assert_int(d, "id", 12);
	assert_str(d, "state", "draining");
	assert_int(d, "max_parallel", 2);
	items = get(d, "items");
	assert_int_equal(json_object_array_length(items), 2);
	assert_keys(json_object_array_get_idx(items, 0), drain_item_keys);
	assert_str(json_object_array_get_idx(items, 1), "vm", "vm2");
	assert_int(json_object_array_get_idx(items, 1), "mem_mib", 2048);

	o = line(s, 1);
	assert_keys(o, item_keys);
	assert_str(o, "event", "item");
	assert_int(o, "drain_id", 12);
	assert_str(o, "vm", "vm1");
	assert_str(o, "destination", "h2");
	assert_str(o, "state", "migrating");
	assert_int(o, "job", 100);
	assert_int(o, "attempts", 1);
	assert_num(o, "percent", 40);
	assert_str(line(s, 2), "vm", "vm2");
	assert_str(line(s, 2), "state", "waiting");
	assert_str(line(s, 3), "vm", "vm1");
	assert_str(line(s, 3), "state", "moved");
	assert_str(line(s, 4), "vm", "vm2");
	assert_str(line(s, 4), "state", "moved");
	assert_int(line(s, 4), "attempts", 2);

	o = line(s, 5);
	assert_keys(o, done_keys);
	assert_str(o, "event", "done");
	assert_int(o, "drain_id", 12);
	assert_str(o, "host", "h1");
	assert_str(o, "state", "completed");
	assert_str(o, "host_state", "maintenance");
	assert_int(o, "moved", 2);
	assert_int(o, "failed", 0);
	assert_int(o, "unmovable", 0);
}

static void
test_wait_json_incomplete(void **state)
{
	static const struct item plan[] = {
		{ "vm1", "h2", "planned", NULL, 0, -1 },
		{ "vm2", "h3", "planned", NULL, 0, -1 },
		{ "gpu1", NULL, "unmovable", "PCI passthrough", 0, -1 },
	};
	static const struct item done[] = {
		{ "vm1", "h2", "moved", NULL, 1, -1 },
		{ "vm2", "h3", "failed", "did not converge", 3, -1 },
		{ "gpu1", NULL, "unmovable", "PCI passthrough", 0, -1 },
	};
	struct session *s = *state;
	Ferry__MaintenanceRequest *r;
	struct json_object *o;
	uint32_t serial;

	spawn(s, NULL, "maintenance", "enter", "h1", "--json", "--wait",
	    "--force", NULL);
	fake_accept(s);
	r = fake_maint(s, MSG_CTL_MAINT_ENTER, &serial);
	assert_true(r->force);
	ferry__maintenance_request__free_unpacked(r, NULL);
	reply_drain(s, MSG_CTL_MAINT_ENTER, serial, 13, "draining", "draining",
	    NULL, plan, N(plan));
	event_drain(s, serial, "done", 13, "incomplete", "draining", done,
	    N(done));
	assert_int_equal(finish(s), 1);
	json_lines(s);
	assert_int_equal(s->nlines, 4);
	assert_str(line(s, 1), "vm", "vm1");
	o = line(s, 2);
	assert_str(o, "vm", "vm2");
	assert_str(o, "state", "failed");
	assert_str(o, "reason", "did not converge");
	assert_int(o, "attempts", 3);
	o = line(s, 3);
	assert_str(o, "state", "incomplete");
	assert_str(o, "host_state", "draining");
	assert_int(o, "moved", 1);
	assert_int(o, "failed", 1);
	assert_int(o, "unmovable", 1);
}

/* Into a pipe: a line per item change, then the outcome. */
static void
test_wait_plain(void **state)
{
	static const struct item plan[] = {
		{ "vm1", "h2", "planned", NULL, 0, -1 },
	};
	static const struct item ev1[] = {
		{ "vm1", "h2", "migrating", NULL, 1, 42.5 },
	};
	static const struct item done[] = {
		{ "vm1", "h2", "moved", NULL, 1, -1 },
	};
	struct session *s = *state;
	Ferry__MaintenanceRequest *r;
	uint32_t serial;

	spawn(s, NULL, "maintenance", "enter", "h1", "--wait", NULL);
	fake_accept(s);
	r = fake_maint(s, MSG_CTL_MAINT_ENTER, &serial);
	ferry__maintenance_request__free_unpacked(r, NULL);
	reply_drain(s, MSG_CTL_MAINT_ENTER, serial, 14, "draining", "draining",
	    NULL, plan, N(plan));
	event_drain(s, serial, "item", 14, "draining", "draining", ev1, N(ev1));
	event_drain(s, serial, "done", 14, "completed", "maintenance", done,
	    N(done));
	assert_int_equal(finish(s), 0);
	assert_has(s->obuf, "drain 14 started\n"
	    "vm1 -> h2          migrating  42.5%  attempt 1\n"
	    "vm1 -> h2          moved      attempt 1\n"
	    "h1: drain 14 completed: 1 moved, 0 failed, 0 unmovable; "
	    "host maintenance\n");
	assert_int_equal(strchr(s->obuf, '\033') == NULL, 1);
}

static void
test_cancel(void **state)
{
	static const struct item items[] = {
		{ "vm1", "h2", "moved", NULL, 1, -1 },
		{ "vm2", "h3", "migrating", NULL, 1, 70 },
		{ "vm3", "h2", "migrating", NULL, 1, 20 },
		{ "vm4", "h3", "cancelled", NULL, 0, -1 },
	};
	struct session *s = *state;
	Ferry__MaintenanceRequest *r;
	struct json_object *o;
	uint32_t serial;

	spawn(s, NULL, "maintenance", "cancel", "h1", NULL);
	fake_accept(s);
	r = fake_maint(s, MSG_CTL_MAINT_CANCEL, &serial);
	ferry__maintenance_request__free_unpacked(r, NULL);
	reply_drain(s, MSG_CTL_MAINT_CANCEL, serial, 12, "cancelled", "up",
	    NULL, items, N(items));
	assert_int_equal(finish(s), 0);
	assert_string_equal(s->obuf,
	    "h1: drain cancelled; 2 migrations finishing; host up\n");

	s->olen = s->elen = s->ooff = 0;
	close(s->cfd);
	s->cfd = -1;
	spawn(s, NULL, "maintenance", "cancel", "h1", "--json", NULL);
	fake_accept(s);
	r = fake_maint(s, MSG_CTL_MAINT_CANCEL, &serial);
	ferry__maintenance_request__free_unpacked(r, NULL);
	reply_drain(s, MSG_CTL_MAINT_CANCEL, serial, 12, "cancelled", "up",
	    NULL, items, N(items));
	assert_int_equal(finish(s), 0);
	o = json_next(s);
	assert_keys(o, drain_keys);
	assert_str(o, "state", "cancelled");
	assert_str(o, "host_state", "up");
	assert_int_equal(json_object_array_length(get(o, "items")), 4);
	assert_str(json_object_array_get_idx(get(o, "items"), 1), "state",
	    "migrating");
}

static void
test_cancel_nothing(void **state)
{
	struct session *s = *state;
	Ferry__MaintenanceRequest *r;
	uint32_t serial;

	spawn(s, NULL, "maintenance", "cancel", "h1", NULL);
	fake_accept(s);
	r = fake_maint(s, MSG_CTL_MAINT_CANCEL, &serial);
	ferry__maintenance_request__free_unpacked(r, NULL);
	reply_drain(s, MSG_CTL_MAINT_CANCEL, serial, 12, "completed",
	    "maintenance", "drain 12 already completed", NULL, 0);
	assert_int_equal(finish(s), 1);
	assert_string_equal(s->obuf, "h1: drain not cancelled (completed): "
	    "drain 12 already completed\n");
}

static void
test_exit(void **state)
{
	struct session *s = *state;
	Ferry__MaintenanceRequest *r;
	uint32_t serial;

	spawn(s, NULL, "maintenance", "exit", "h1", NULL);
	fake_accept(s);
	r = fake_maint(s, MSG_CTL_MAINT_EXIT, &serial);
	assert_true(r->has_restore);
	assert_false(r->restore);
	assert_false(r->wait);
	ferry__maintenance_request__free_unpacked(r, NULL);
	reply_drain(s, MSG_CTL_MAINT_EXIT, serial, 0, "completed", "up", NULL,
	    NULL, 0);
	assert_int_equal(finish(s), 0);
	assert_string_equal(s->obuf, "h1: out of maintenance; host up\n");
}

/* exit --restore --wait streams the returns as enter --wait does. */
static void
test_exit_restore_wait(void **state)
{
	static const struct item plan[] = {
		{ "vm1", "h1", "planned", NULL, 0, -1 },
		{ "vm2", "h1", "planned", NULL, 0, -1 },
	};
	static const struct item done[] = {
		{ "vm1", "h1", "moved", NULL, 1, -1 },
		{ "vm2", "h1", "moved", NULL, 1, -1 },
	};
	struct session *s = *state;
	Ferry__MaintenanceRequest *r;
	struct json_object *o;
	uint32_t serial;

	spawn(s, NULL, "maintenance", "exit", "h1", "--restore", "--wait",
	    "--json", NULL);
	fake_accept(s);
	r = fake_maint(s, MSG_CTL_MAINT_EXIT, &serial);
	assert_true(r->has_restore && r->restore);
	assert_true(r->has_wait && r->wait);
	ferry__maintenance_request__free_unpacked(r, NULL);
	reply_drain(s, MSG_CTL_MAINT_EXIT, serial, 15, "draining", "up", NULL,
	    plan, N(plan));
	event_drain(s, serial, "done", 15, "completed", "up", done, N(done));
	assert_int_equal(finish(s), 0);
	json_lines(s);
	assert_int_equal(s->nlines, 4);
	assert_str(line(s, 0), "event", "plan");
	assert_str(line(s, 1), "state", "moved");
	assert_str(line(s, 2), "vm", "vm2");
	o = line(s, 3);
	assert_keys(o, done_keys);
	assert_str(o, "state", "completed");
	assert_str(o, "host_state", "up");
	assert_int(o, "moved", 2);
}

/* Ctrl-C with --json cancels at once on the same connection and still
 * shows the drain to its end. */
static void
test_sigint_json_cancels(void **state)
{
	static const struct item ev1[] = {
		{ "vm1", "h2", "migrating", NULL, 1, 30 },
		{ "vm2", "h3", "planned", NULL, 0, -1 },
		{ "vm3", "h2", "planned", NULL, 0, -1 },
	};
	static const struct item done[] = {
		{ "vm1", "h2", "moved", NULL, 1, -1 },
		{ "vm2", "h3", "cancelled", NULL, 0, -1 },
		{ "vm3", "h2", "cancelled", NULL, 0, -1 },
	};
	struct session *s = *state;
	Ferry__MaintenanceRequest *r;
	struct json_object *o;
	uint32_t serial, cserial;

	spawn(s, NULL, "maintenance", "enter", "h1", "--wait", "--json", NULL);
	fake_accept(s);
	r = fake_maint(s, MSG_CTL_MAINT_ENTER, &serial);
	ferry__maintenance_request__free_unpacked(r, NULL);
	reply_drain(s, MSG_CTL_MAINT_ENTER, serial, 16, "draining", "draining",
	    NULL, plan3, N(plan3));
	event_drain(s, serial, "item", 16, "draining", "draining", ev1, N(ev1));
	assert_str(json_next(s), "event", "plan");
	assert_str(json_next(s), "event", "item");

	assert_int_equal(kill(s->pid, SIGINT), 0);
	r = fake_maint(s, MSG_CTL_MAINT_CANCEL, &cserial);
	assert_int_not_equal(cserial, serial);
	ferry__maintenance_request__free_unpacked(r, NULL);
	reply_drain(s, MSG_CTL_MAINT_CANCEL, cserial, 16, "cancelled", "draining",
	    NULL, ev1, N(ev1));
	event_drain(s, serial, "done", 16, "cancelled", "up", done, N(done));
	assert_int_equal(finish(s), 1);
	json_lines(s);
	assert_int_equal(s->nlines, 6);
	assert_str(line(s, 2), "state", "moved");
	assert_str(line(s, 3), "state", "cancelled");
	assert_str(line(s, 4), "vm", "vm3");
	o = line(s, 5);
	assert_keys(o, done_keys);
	assert_str(o, "state", "cancelled");
	assert_str(o, "host_state", "up");
	assert_int(o, "moved", 1);
}

static void
test_bad_arguments(void **state)
{
	static const char *const cases[][5] = {
		{ "maintenance" },
		{ "maintenance", "enter" },
		{ "maintenance", "enter", "" },
		{ "maintenance", "start", "h1" },
		{ "maintenance", "enter", "h1", "--max-parallel", "0" },
		{ "maintenance", "enter", "h1", "--max-parallel", "65" },
		{ "maintenance", "enter", "h1", "--max-parallel", "two" },
		{ "maintenance", "enter", "h1", "--max-parallel", "-1" },
		{ "maintenance", "enter", "h1", "h2" },
		{ "maintenance", "enter", "h1", "--restore" },
		{ "maintenance", "cancel", "h1", "--wait" },
		{ "maintenance", "exit", "h1", "--force" },
		{ "maintenance", "exit", "--bogus", "h1" },
	};
	struct session *s = *state;
	struct pollfd pfd = { .fd = s->lfd, .events = POLLIN };
	size_t i;

	for (i = 0; i < N(cases); i++) {
		s->olen = s->elen = 0;
		s->ebuf[0] = '\0';
		spawn(s, NULL, cases[i][0], cases[i][1], cases[i][2],
		    cases[i][3], cases[i][4], NULL);
		if (finish(s) != 2)
			fail_msg("ferryctl %s %s %s %s: exit %d, not 2",
			    cases[i][1] ? cases[i][1] : "",
			    cases[i][2] ? cases[i][2] : "",
			    cases[i][3] ? cases[i][3] : "",
			    cases[i][4] ? cases[i][4] : "",
			    WEXITSTATUS(s->status));
		assert_int_equal(s->olen, 0);
		assert_true(s->elen > 0);
	}
	/* None of them got as far as connecting. */
	assert_int_equal(poll(&pfd, 1, 0), 0);
}

#define T(fn)	cmocka_unit_test_setup_teardown(fn, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_dry_run_table),
		T(test_dry_run_unmovable),
		T(test_refused_unmovable),
		T(test_error_reply),
		T(test_no_wait_started),
		T(test_wait_json_completed),
		T(test_wait_json_incomplete),
		T(test_wait_plain),
		T(test_cancel),
		T(test_cancel_nothing),
		T(test_exit),
		T(test_exit_restore_wait),
		T(test_sigint_json_cancels),
		T(test_bad_arguments),
	};

	/* ferryctl may exit before reading all we send. */
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
