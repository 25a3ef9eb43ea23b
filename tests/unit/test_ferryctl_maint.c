/* test_ferryctl_maint.c: ferryctl maintenance against a fake coordinator
 * (fake_ctl.h), as test_ferryctl.c: the test binds the Unix socket, runs
 * the built ferryctl ($FERRYCTL, else build/ferryctl) with --socket, checks
 * the MaintenanceRequest it sends, answers with scripted DrainInfo replies
 * and DrainEvents and checks what ferryctl prints and its exit status. */
#include <sys/wait.h>

#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "frame.h"
#include "msg.h"
#include "fake_ctl.h"

static int
setup(void **state)
{
	return fctl_setup(state, "/tmp/ferryctl-maint.XXXXXX");
}

static const char *const plan_keys[] = { "event", "drain", NULL };
static const char *const drain_keys[] = { "id", "host", "state", "host_state",
	"message", "max_parallel", "per_destination", "items", NULL };
static const char *const drain_item_keys[] = { "order", "vm", "mem_mib",
	"destination", "state", "reason", "job", "attempts", "percent", NULL };
/* An item event: the event, its run, then the drain item's own fields. */
static const char *const item_keys[] = { "event", "run", "order", "vm",
	"mem_mib", "destination", "state", "reason", "job", "attempts",
	"percent", NULL };
static const char *const done_keys[] = { "event", "run", "host", "state",
	"host_state", "planned", "moved", "failed", "unmovable", NULL };

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
reply_drain(struct fctl_session *s, uint16_t type, uint32_t serial, uint64_t id,
    const char *state, const char *host_state, const char *message,
    const struct item *items, size_t n)
{
	struct drain_msg m;

	fill(&m, id, state, host_state, message, items, n);
	fctl_send(s, type, FRAME_REPLY, serial, &m.d.base);
}

static void
event_drain(struct fctl_session *s, uint32_t serial, const char *event,
    uint64_t id, const char *state, const char *host_state,
    const struct item *items, size_t n)
{
	Ferry__DrainEvent e = FERRY__DRAIN_EVENT__INIT;
	struct drain_msg m;

	fill(&m, id, state, host_state, NULL, items, n);
	e.event = (char *)event;
	e.drain = &m.d;
	fctl_send(s, MSG_CTL_DRAIN_EVENT, FRAME_EVENT, serial, &e.base);
}

#define N(a)	(sizeof(a) / sizeof(a[0]))

static Ferry__MaintenanceRequest *
fake_maint(struct fctl_session *s, uint16_t type, uint32_t *serial)
{
	Ferry__MaintenanceRequest *r;

	r = fctl_call(s, type, &ferry__maintenance_request__descriptor, serial);
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
	struct fctl_session *s = *state;
	Ferry__MaintenanceRequest *r;
	uint32_t serial;

	fctl_spawn(s, NULL, "maintenance", "enter", "h1", "--dry-run",
	    "--max-parallel", "3", "--wait", NULL);
	fctl_accept(s);
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
	assert_int_equal(fctl_finish(s), 0);
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
	struct fctl_session *s = *state;
	Ferry__MaintenanceRequest *r;
	uint32_t serial;

	fctl_spawn(s, NULL, "maintenance", "enter", "--dry-run", "h1", NULL);
	fctl_accept(s);
	r = fake_maint(s, MSG_CTL_MAINT_ENTER, &serial);
	assert_true(r->dry_run);
	assert_false(r->has_max_parallel);
	ferry__maintenance_request__free_unpacked(r, NULL);
	reply_drain(s, MSG_CTL_MAINT_ENTER, serial, 0, "planning", "up", NULL,
	    plan, N(plan));
	assert_int_equal(fctl_finish(s), 3);
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
	struct fctl_session *s = *state;
	Ferry__MaintenanceRequest *r;
	uint32_t serial;

	fctl_spawn(s, NULL, "maintenance", "enter", "h1", "--wait", NULL);
	fctl_accept(s);
	r = fake_maint(s, MSG_CTL_MAINT_ENTER, &serial);
	assert_false(r->force);
	assert_false(r->dry_run);
	assert_true(r->has_wait && r->wait);
	ferry__maintenance_request__free_unpacked(r, NULL);
	reply_drain(s, MSG_CTL_MAINT_ENTER, serial, 0, "refused", "up",
	    "1 VM cannot move; --force drains the rest", plan, N(plan));
	assert_int_equal(fctl_finish(s), 3);
	assert_has(s->obuf, "no host has 64 GiB free\n");
	assert_has(s->obuf, "h1: drain refused: 1 VM cannot move; --force "
	    "drains the rest\n");
}

static void
test_error_reply(void **state)
{
	struct fctl_session *s = *state;
	Ferry__MaintenanceRequest *r;
	uint32_t serial;
	uint8_t *buf;
	size_t len;

	fctl_spawn(s, NULL, "maintenance", "enter", "h1", NULL);
	fctl_accept(s);
	r = fake_maint(s, MSG_CTL_MAINT_ENTER, &serial);
	ferry__maintenance_request__free_unpacked(r, NULL);
	assert_int_equal(frame_pack_error(MSG_CTL_MAINT_ENTER, serial, EBUSY,
	    "h1 is already draining (drain 4)", &buf, &len), 0);
	fctl_write(s, buf, len);
	assert_int_equal(fctl_finish(s), 1);
	assert_int_equal(s->olen, 0);
	assert_has(s->ebuf, "h1 is already draining (drain 4)");
}

static void
test_no_wait_started(void **state)
{
	struct fctl_session *s = *state;
	Ferry__MaintenanceRequest *r;
	uint32_t serial;

	fctl_spawn(s, NULL, "maintenance", "enter", "h1", NULL);
	fctl_accept(s);
	r = fake_maint(s, MSG_CTL_MAINT_ENTER, &serial);
	assert_false(r->wait);
	ferry__maintenance_request__free_unpacked(r, NULL);
	reply_drain(s, MSG_CTL_MAINT_ENTER, serial, 12, "draining", "draining",
	    NULL, plan3, N(plan3));
	assert_int_equal(fctl_finish(s), 0);
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
	struct fctl_session *s = *state;
	Ferry__MaintenanceRequest *r;
	struct json_object *o, *d, *items;
	uint32_t serial;

	fctl_spawn(s, NULL, "maintenance", "enter", "h1", "--wait", "--json",
	    "--force", "--max-parallel", "2", NULL);
	fctl_accept(s);
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
	assert_int_equal(fctl_finish(s), 0);
	fctl_json_lines(s);
	assert_int_equal(s->nlines, 6);

	o = fctl_line(s, 0);
	fctl_assert_keys(o, plan_keys);
	fctl_assert_str(o, "event", "plan");
	d = fctl_get(o, "drain");
	fctl_assert_keys(d, drain_keys);
	fctl_assert_int(d, "id", 12);
	fctl_assert_str(d, "state", "draining");
	fctl_assert_int(d, "max_parallel", 2);
	items = fctl_get(d, "items");
	assert_int_equal(json_object_array_length(items), 2);
	fctl_assert_keys(json_object_array_get_idx(items, 0), drain_item_keys);
	fctl_assert_str(json_object_array_get_idx(items, 1), "vm", "vm2");
	fctl_assert_int(json_object_array_get_idx(items, 1), "mem_mib", 2048);

	o = fctl_line(s, 1);
	fctl_assert_keys(o, item_keys);
	fctl_assert_str(o, "event", "item");
	fctl_assert_int(o, "run", 12);
	fctl_assert_str(o, "vm", "vm1");
	fctl_assert_str(o, "destination", "h2");
	fctl_assert_str(o, "state", "migrating");
	fctl_assert_int(o, "job", 100);
	fctl_assert_int(o, "attempts", 1);
	fctl_assert_num(o, "percent", 40);
	fctl_assert_str(fctl_line(s, 2), "vm", "vm2");
	fctl_assert_str(fctl_line(s, 2), "state", "waiting");
	fctl_assert_str(fctl_line(s, 3), "vm", "vm1");
	fctl_assert_str(fctl_line(s, 3), "state", "moved");
	fctl_assert_str(fctl_line(s, 4), "vm", "vm2");
	fctl_assert_str(fctl_line(s, 4), "state", "moved");
	fctl_assert_int(fctl_line(s, 4), "attempts", 2);

	o = fctl_line(s, 5);
	fctl_assert_keys(o, done_keys);
	fctl_assert_str(o, "event", "done");
	fctl_assert_int(o, "run", 12);
	fctl_assert_str(o, "host", "h1");
	fctl_assert_str(o, "state", "completed");
	fctl_assert_str(o, "host_state", "maintenance");
	fctl_assert_int(o, "moved", 2);
	fctl_assert_int(o, "failed", 0);
	fctl_assert_int(o, "unmovable", 0);
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
	struct fctl_session *s = *state;
	Ferry__MaintenanceRequest *r;
	struct json_object *o;
	uint32_t serial;

	fctl_spawn(s, NULL, "maintenance", "enter", "h1", "--json", "--wait",
	    "--force", NULL);
	fctl_accept(s);
	r = fake_maint(s, MSG_CTL_MAINT_ENTER, &serial);
	assert_true(r->force);
	ferry__maintenance_request__free_unpacked(r, NULL);
	reply_drain(s, MSG_CTL_MAINT_ENTER, serial, 13, "draining", "draining",
	    NULL, plan, N(plan));
	event_drain(s, serial, "done", 13, "incomplete", "draining", done,
	    N(done));
	assert_int_equal(fctl_finish(s), 1);
	fctl_json_lines(s);
	assert_int_equal(s->nlines, 4);
	fctl_assert_str(fctl_line(s, 1), "vm", "vm1");
	o = fctl_line(s, 2);
	fctl_assert_str(o, "vm", "vm2");
	fctl_assert_str(o, "state", "failed");
	fctl_assert_str(o, "reason", "did not converge");
	fctl_assert_int(o, "attempts", 3);
	o = fctl_line(s, 3);
	fctl_assert_str(o, "state", "incomplete");
	fctl_assert_str(o, "host_state", "draining");
	fctl_assert_int(o, "moved", 1);
	fctl_assert_int(o, "failed", 1);
	fctl_assert_int(o, "unmovable", 1);
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
	struct fctl_session *s = *state;
	Ferry__MaintenanceRequest *r;
	uint32_t serial;

	fctl_spawn(s, NULL, "maintenance", "enter", "h1", "--wait", NULL);
	fctl_accept(s);
	r = fake_maint(s, MSG_CTL_MAINT_ENTER, &serial);
	ferry__maintenance_request__free_unpacked(r, NULL);
	reply_drain(s, MSG_CTL_MAINT_ENTER, serial, 14, "draining", "draining",
	    NULL, plan, N(plan));
	event_drain(s, serial, "item", 14, "draining", "draining", ev1, N(ev1));
	event_drain(s, serial, "done", 14, "completed", "maintenance", done,
	    N(done));
	assert_int_equal(fctl_finish(s), 0);
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
	struct fctl_session *s = *state;
	Ferry__MaintenanceRequest *r;
	struct json_object *o;
	uint32_t serial;

	fctl_spawn(s, NULL, "maintenance", "cancel", "h1", NULL);
	fctl_accept(s);
	r = fake_maint(s, MSG_CTL_MAINT_CANCEL, &serial);
	ferry__maintenance_request__free_unpacked(r, NULL);
	reply_drain(s, MSG_CTL_MAINT_CANCEL, serial, 12, "cancelled", "up",
	    NULL, items, N(items));
	assert_int_equal(fctl_finish(s), 0);
	assert_string_equal(s->obuf,
	    "h1: drain cancelled; 2 migrations finishing; host up\n");

	s->olen = s->elen = s->ooff = 0;
	close(s->cfd);
	s->cfd = -1;
	fctl_spawn(s, NULL, "maintenance", "cancel", "h1", "--json", NULL);
	fctl_accept(s);
	r = fake_maint(s, MSG_CTL_MAINT_CANCEL, &serial);
	ferry__maintenance_request__free_unpacked(r, NULL);
	reply_drain(s, MSG_CTL_MAINT_CANCEL, serial, 12, "cancelled", "up",
	    NULL, items, N(items));
	assert_int_equal(fctl_finish(s), 0);
	o = fctl_json_next(s);
	fctl_assert_keys(o, drain_keys);
	fctl_assert_str(o, "state", "cancelled");
	fctl_assert_str(o, "host_state", "up");
	assert_int_equal(json_object_array_length(fctl_get(o, "items")), 4);
	fctl_assert_str(json_object_array_get_idx(fctl_get(o, "items"), 1),
	    "state", "migrating");
}

static void
test_cancel_nothing(void **state)
{
	struct fctl_session *s = *state;
	Ferry__MaintenanceRequest *r;
	uint32_t serial;

	fctl_spawn(s, NULL, "maintenance", "cancel", "h1", NULL);
	fctl_accept(s);
	r = fake_maint(s, MSG_CTL_MAINT_CANCEL, &serial);
	ferry__maintenance_request__free_unpacked(r, NULL);
	reply_drain(s, MSG_CTL_MAINT_CANCEL, serial, 12, "completed",
	    "maintenance", "drain 12 already completed", NULL, 0);
	assert_int_equal(fctl_finish(s), 1);
	assert_string_equal(s->obuf, "h1: drain not cancelled (completed): "
	    "drain 12 already completed\n");
}

static void
test_exit(void **state)
{
	struct fctl_session *s = *state;
	Ferry__MaintenanceRequest *r;
	uint32_t serial;

	fctl_spawn(s, NULL, "maintenance", "exit", "h1", NULL);
	fctl_accept(s);
	r = fake_maint(s, MSG_CTL_MAINT_EXIT, &serial);
	assert_true(r->has_restore);
	assert_false(r->restore);
	assert_false(r->wait);
	ferry__maintenance_request__free_unpacked(r, NULL);
	reply_drain(s, MSG_CTL_MAINT_EXIT, serial, 0, "completed", "up", NULL,
	    NULL, 0);
	assert_int_equal(fctl_finish(s), 0);
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
	struct fctl_session *s = *state;
	Ferry__MaintenanceRequest *r;
	struct json_object *o;
	uint32_t serial;

	fctl_spawn(s, NULL, "maintenance", "exit", "h1", "--restore", "--wait",
	    "--json", NULL);
	fctl_accept(s);
	r = fake_maint(s, MSG_CTL_MAINT_EXIT, &serial);
	assert_true(r->has_restore && r->restore);
	assert_true(r->has_wait && r->wait);
	ferry__maintenance_request__free_unpacked(r, NULL);
	reply_drain(s, MSG_CTL_MAINT_EXIT, serial, 15, "draining", "up", NULL,
	    plan, N(plan));
	event_drain(s, serial, "done", 15, "completed", "up", done, N(done));
	assert_int_equal(fctl_finish(s), 0);
	fctl_json_lines(s);
	assert_int_equal(s->nlines, 4);
	fctl_assert_str(fctl_line(s, 0), "event", "plan");
	fctl_assert_str(fctl_line(s, 1), "state", "moved");
	fctl_assert_str(fctl_line(s, 2), "vm", "vm2");
	o = fctl_line(s, 3);
	fctl_assert_keys(o, done_keys);
	fctl_assert_str(o, "state", "completed");
	fctl_assert_str(o, "host_state", "up");
	fctl_assert_int(o, "moved", 2);
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
	struct fctl_session *s = *state;
	Ferry__MaintenanceRequest *r;
	struct json_object *o;
	uint32_t serial, cserial;

	fctl_spawn(s, NULL, "maintenance", "enter", "h1", "--wait", "--json",
	    NULL);
	fctl_accept(s);
	r = fake_maint(s, MSG_CTL_MAINT_ENTER, &serial);
	ferry__maintenance_request__free_unpacked(r, NULL);
	reply_drain(s, MSG_CTL_MAINT_ENTER, serial, 16, "draining", "draining",
	    NULL, plan3, N(plan3));
	event_drain(s, serial, "item", 16, "draining", "draining", ev1, N(ev1));
	fctl_assert_str(fctl_json_next(s), "event", "plan");
	fctl_assert_str(fctl_json_next(s), "event", "item");

	assert_int_equal(kill(s->pid, SIGINT), 0);
	r = fake_maint(s, MSG_CTL_MAINT_CANCEL, &cserial);
	assert_int_not_equal(cserial, serial);
	ferry__maintenance_request__free_unpacked(r, NULL);
	reply_drain(s, MSG_CTL_MAINT_CANCEL, cserial, 16, "cancelled", "draining",
	    NULL, ev1, N(ev1));
	event_drain(s, serial, "done", 16, "cancelled", "up", done, N(done));
	assert_int_equal(fctl_finish(s), 1);
	fctl_json_lines(s);
	assert_int_equal(s->nlines, 6);
	fctl_assert_str(fctl_line(s, 2), "state", "moved");
	fctl_assert_str(fctl_line(s, 3), "state", "cancelled");
	fctl_assert_str(fctl_line(s, 4), "vm", "vm3");
	o = fctl_line(s, 5);
	fctl_assert_keys(o, done_keys);
	fctl_assert_str(o, "state", "cancelled");
	fctl_assert_str(o, "host_state", "up");
	fctl_assert_int(o, "moved", 1);
}

/* On a terminal Ctrl-C asks "cancel the drain of h1? [y/N]" under the
 * live block and the block keeps being redrawn while it waits; y cancels,
 * and the terminal is left as it was. */
static void
test_sigint_tty_question_keeps_block(void **state)
{
	static const struct item ev1[] = {
		{ "vm1", "h2", "migrating", NULL, 1, 30 },
		{ "vm2", "h3", "planned", NULL, 0, -1 },
		{ "vm3", "h2", "planned", NULL, 0, -1 },
	};
	static const struct item ev2[] = {
		{ "vm1", "h2", "migrating", NULL, 1, 64 },
		{ "vm2", "h3", "planned", NULL, 0, -1 },
		{ "vm3", "h2", "planned", NULL, 0, -1 },
	};
	static const struct item done[] = {
		{ "vm1", "h2", "moved", NULL, 1, -1 },
		{ "vm2", "h3", "cancelled", NULL, 0, -1 },
		{ "vm3", "h2", "cancelled", NULL, 0, -1 },
	};
	struct fctl_session *s = *state;
	Ferry__MaintenanceRequest *r;
	const char *p, *q = "cancel the drain of h1? [y/N] ";
	struct pollfd pfd;
	uint32_t serial, cserial;
	size_t at;

	fctl_spawn_ctty(s, NULL, "maintenance", "enter", "h1", "--wait",
	    NULL);
	fctl_accept(s);
	r = fake_maint(s, MSG_CTL_MAINT_ENTER, &serial);
	ferry__maintenance_request__free_unpacked(r, NULL);
	reply_drain(s, MSG_CTL_MAINT_ENTER, serial, 16, "draining", "draining",
	    NULL, plan3, N(plan3));
	event_drain(s, serial, "item", 16, "draining", "draining", ev1, N(ev1));
	p = fctl_wait_output(s, 0, "30");
	assert_int_equal(kill(s->pid, SIGINT), 0);
	p = fctl_wait_output(s, p - s->obuf, q);
	at = p - s->obuf + strlen(q);
	assert_int_equal(fctl_tty_lflag(s) & (ICANON | ECHO), 0);
	/* The block is redrawn with vm1's new percent, the question again
	 * under it; nothing was sent. */
	event_drain(s, serial, "item", 16, "draining", "draining", ev2, N(ev2));
	p = fctl_wait_output(s, at, "64");
	(void)fctl_wait_output(s, p - s->obuf, q);
	pfd.fd = s->cfd;
	pfd.events = POLLIN;
	assert_int_equal(poll(&pfd, 1, 300), 0);
	fctl_type(s, "y");
	r = fake_maint(s, MSG_CTL_MAINT_CANCEL, &cserial);
	ferry__maintenance_request__free_unpacked(r, NULL);
	reply_drain(s, MSG_CTL_MAINT_CANCEL, cserial, 16, "cancelled",
	    "draining", NULL, ev2, N(ev2));
	event_drain(s, serial, "done", 16, "cancelled", "up", done, N(done));
	assert_int_equal(fctl_wait_exit(s), 1);
	assert_int_equal(fctl_tty_lflag(s) & (ICANON | ECHO), ICANON | ECHO);
	assert_int_equal(fctl_finish(s), 1);
	assert_non_null(strstr(s->obuf, "cancel requested"));
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

	fctl_bad_args(*state, cases, N(cases));
}

#define T(fn)	cmocka_unit_test_setup_teardown(fn, setup, fctl_teardown)

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
		T(test_sigint_tty_question_keeps_block),
		T(test_bad_arguments),
	};

	/* ferryctl may exit before reading all we send. */
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
