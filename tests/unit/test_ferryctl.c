/* test_ferryctl.c: the built ferryctl binary against a fake coordinator
 * (fake_ctl.h): the test binds the Unix socket, runs ferryctl with
 * --socket, checks the call it sends, answers with scripted frames and
 * checks what ferryctl prints and its exit status. The binary comes from
 * $FERRYCTL, else build/ferryctl (tests run from the top of the tree). */
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
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "frame.h"
#include "msg.h"
#include "fake_ctl.h"

static uint64_t
test_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int
setup(void **state)
{
	return fctl_setup(state, "/tmp/ferryctl-test.XXXXXX");
}

static void
fake_reply_job(struct fctl_session *s, uint16_t type, uint32_t serial,
    uint64_t id, const char *state, const char *source, const char *dest)
{
	Ferry__JobInfo ji = FERRY__JOB_INFO__INIT;

	ji.id = id;
	ji.kind = "migrate";
	ji.vm = "vm1";
	ji.state = (char *)state;
	ji.source = (char *)source;
	ji.destination = (char *)dest;
	fctl_send(s, type, FRAME_REPLY, serial, &ji.base);
}

static void
fake_event(struct fctl_session *s, uint32_t serial, Ferry__JobEvent *e)
{
	fctl_send(s, MSG_CTL_JOB_EVENT, FRAME_EVENT, serial, &e->base);
}

static void
fake_state(struct fctl_session *s, uint32_t serial, uint64_t id,
    const char *state, const char *message)
{
	Ferry__JobEvent e = FERRY__JOB_EVENT__INIT;

	e.job_id = id;
	e.event = "state";
	e.state = (char *)state;
	e.message = (char *)message;
	fake_event(s, serial, &e);
}

static void
fake_progress(struct fctl_session *s, uint32_t serial, uint64_t id, double pct)
{
	Ferry__JobEvent e = FERRY__JOB_EVENT__INIT;

	e.job_id = id;
	e.event = "progress";
	e.has_percent = e.has_data_processed_mib = e.has_data_remaining_mib =
	    e.has_data_total_mib = e.has_mib_per_s = e.has_dirty_mib_per_s =
	    e.has_iteration = e.has_expected_downtime_ms = e.has_eta_s = 1;
	e.percent = pct;
	e.data_total_mib = 60.2;
	e.data_processed_mib = 60.2 * pct / 100;
	e.data_remaining_mib = 60.2 - e.data_processed_mib;
	e.mib_per_s = 30.04;
	e.dirty_mib_per_s = 2.0;
	e.iteration = 2;
	e.expected_downtime_ms = 41;
	e.eta_s = 1.5;
	fake_event(s, serial, &e);
}

static void
fake_done(struct fctl_session *s, uint32_t serial, uint64_t id,
    const char *state, const char *running_on, const char *error)
{
	Ferry__JobEvent e = FERRY__JOB_EVENT__INIT;

	e.job_id = id;
	e.event = "done";
	e.state = (char *)state;
	e.running_on = (char *)running_on;
	e.error = (char *)error;
	e.has_elapsed_ms = 1;
	e.elapsed_ms = 1900;
	if (strcmp(state, "succeeded") == 0) {
		e.has_downtime_ms = e.has_data_mib = 1;
		e.downtime_ms = 41;
		e.data_mib = 60.23;
		e.has_migration_ms = e.has_passes = 1;
		e.migration_ms = 1700;
		e.passes = 3;
	}
	fake_event(s, serial, &e);
}

static const char *const started_keys[] = { "event", "job", "vm", "source",
	"destination", NULL };
static const char *const progress_keys[] = { "event", "job", "percent",
	"data_processed_mib", "data_remaining_mib", "data_total_mib",
	"remaining_low_mib", "mib_per_s", "dirty_mib_per_s", "iteration",
	"expected_downtime_ms", "eta_s", NULL };
static const char *const state_keys[] = { "event", "job", "state", "message",
	NULL };
static const char *const info_keys[] = { "event", "job", "message", NULL };
static const char *const done_keys[] = { "event", "job", "vm", "state",
	"source", "destination", "running_on", "elapsed_ms", "downtime_ms",
	"data_mib", "migration_ms", "passes", "error", NULL };

static void
test_migrate_json_succeeded(void **state)
{
	struct fctl_session *s = *state;
	Ferry__MigrateOptions *m;
	Ferry__JobEvent started = FERRY__JOB_EVENT__INIT;
	struct json_object *o;
	uint32_t serial;

	fctl_spawn(s, NULL, "migrate", "vm1", "--to", "h2", "--bandwidth", "5",
	    "--max-downtime", "300", "--timeout", "60", "--postcopy",
	    "--auto-converge", "--json", NULL);
	fctl_accept(s);
	m = fctl_call(s, MSG_CTL_MIGRATE, &ferry__migrate_options__descriptor,
	    &serial);
	assert_string_equal(m->vm, "vm1");
	assert_string_equal(m->to, "h2");
	assert_true(m->has_bandwidth_mibs);
	assert_int_equal(m->bandwidth_mibs, 5);
	assert_true(m->has_max_downtime_ms);
	assert_int_equal(m->max_downtime_ms, 300);
	assert_true(m->has_timeout_s);
	assert_int_equal(m->timeout_s, 60);
	assert_true(m->has_postcopy);
	assert_int_equal(m->postcopy, 1);
	assert_true(m->has_auto_converge && m->auto_converge);
	assert_true(m->has_wait && m->wait);
	/* Neither --parallel nor --tls: the cluster's defaults. */
	assert_false(m->has_parallel);
	assert_false(m->has_tls);
	ferry__migrate_options__free_unpacked(m, NULL);

	fake_reply_job(s, MSG_CTL_MIGRATE, serial, 7, "pending", "h1", "h2");
	started.job_id = 7;
	started.event = "started";
	started.vm = "vm1";
	started.source = "h1";
	started.destination = "h2";
	fake_event(s, serial, &started);
	fake_state(s, serial, 7, "checking", "storage, cpu, capacity");
	fake_state(s, serial, 7, "migrating", NULL);
	fake_progress(s, serial, 7, 25.04);
	fake_progress(s, serial, 7, 80);
	fake_state(s, serial, 7, "verifying", NULL);
	fake_done(s, serial, 7, "succeeded", "h2", NULL);
	assert_int_equal(fctl_finish(s), 0);
	fctl_json_lines(s);
	assert_int_equal(s->nlines, 7);

	o = fctl_line(s, 0);
	fctl_assert_keys(o, started_keys);
	fctl_assert_str(o, "event", "started");
	fctl_assert_int(o, "job", 7);
	fctl_assert_str(o, "vm", "vm1");
	fctl_assert_str(o, "source", "h1");
	fctl_assert_str(o, "destination", "h2");

	o = fctl_line(s, 1);
	fctl_assert_keys(o, state_keys);
	fctl_assert_str(o, "event", "state");
	fctl_assert_int(o, "job", 7);
	fctl_assert_str(o, "state", "checking");
	fctl_assert_str(o, "message", "storage, cpu, capacity");
	fctl_assert_str(fctl_line(s, 2), "state", "migrating");
	fctl_assert_str(fctl_line(s, 2), "message", NULL);

	o = fctl_line(s, 3);
	fctl_assert_keys(o, progress_keys);
	fctl_assert_str(o, "event", "progress");
	fctl_assert_int(o, "job", 7);
	fctl_assert_num(o, "percent", 25.0);
	fctl_assert_num(o, "data_processed_mib", 15.1);
	fctl_assert_num(o, "data_remaining_mib", 45.1);
	fctl_assert_num(o, "data_total_mib", 60.2);
	fctl_assert_num(o, "mib_per_s", 30.0);
	fctl_assert_num(o, "dirty_mib_per_s", 2.0);
	fctl_assert_int(o, "iteration", 2);
	fctl_assert_int(o, "expected_downtime_ms", 41);
	fctl_assert_num(o, "eta_s", 1.5);
	fctl_assert_num(fctl_line(s, 4), "percent", 80.0);
	fctl_assert_str(fctl_line(s, 5), "state", "verifying");

	o = fctl_line(s, 6);
	fctl_assert_keys(o, done_keys);
	fctl_assert_str(o, "event", "done");
	fctl_assert_int(o, "job", 7);
	fctl_assert_str(o, "vm", "vm1");
	fctl_assert_str(o, "state", "succeeded");
	fctl_assert_str(o, "source", "h1");
	fctl_assert_str(o, "destination", "h2");
	fctl_assert_str(o, "running_on", "h2");
	fctl_assert_int(o, "elapsed_ms", 1900);
	fctl_assert_int(o, "downtime_ms", 41);
	fctl_assert_num(o, "data_mib", 60.2);
	fctl_assert_int(o, "migration_ms", 1700);
	fctl_assert_int(o, "passes", 3);
	fctl_assert_str(o, "error", NULL);
}

static void
test_migrate_json_refused(void **state)
{
	struct fctl_session *s = *state;
	Ferry__MigrateOptions *m;
	Ferry__JobEvent e = FERRY__JOB_EVENT__INIT;
	Ferry__CheckResult ck = FERRY__CHECK_RESULT__INIT, *cks[1] = { &ck };
	uint32_t serial;

	fctl_spawn(s, NULL, "migrate", "vm1", "--no-postcopy", "--json",
	    "--parallel", "16", "--no-tls", NULL);
	fctl_accept(s);
	m = fctl_call(s, MSG_CTL_MIGRATE, &ferry__migrate_options__descriptor,
	    &serial);
	assert_true(m->has_parallel);
	assert_int_equal(m->parallel, 16);
	assert_true(m->has_tls);
	assert_int_equal(m->tls, -1);
	assert_null(m->to);
	assert_false(m->has_bandwidth_mibs);
	assert_true(m->has_postcopy);
	assert_int_equal(m->postcopy, -1);
	assert_false(m->has_auto_converge && m->auto_converge);
	assert_true(m->has_wait && m->wait);
	ferry__migrate_options__free_unpacked(m, NULL);

	/* No destination yet: the coordinator picks one while checking. */
	fake_reply_job(s, MSG_CTL_MIGRATE, serial, 8, "pending", "h1", NULL);
	ck.name = "storage:vda";
	ck.reason = "/var/lib/vm1.qcow2 is local to h1";
	e.job_id = 8;
	e.event = "state";
	e.state = "refused";
	e.destination = "h3";
	e.message = "storage:vda: /var/lib/vm1.qcow2 is local to h1";
	e.n_checks = 1;
	e.checks = cks;
	fake_event(s, serial, &e);
	fake_done(s, serial, 8, "refused", "h1", e.message);
	assert_int_equal(fctl_finish(s), 3);
	fctl_json_lines(s);
	assert_int_equal(s->nlines, 3);
	fctl_assert_str(fctl_line(s, 0), "event", "started");
	fctl_assert_str(fctl_line(s, 0), "destination", "h3");
	fctl_assert_str(fctl_line(s, 1), "state", "refused");
	fctl_assert_str(fctl_line(s, 1), "message", e.message);
	fctl_assert_keys(fctl_line(s, 2), done_keys);
	fctl_assert_str(fctl_line(s, 2), "state", "refused");
	fctl_assert_str(fctl_line(s, 2), "running_on", "h1");
	fctl_assert_str(fctl_line(s, 2), "error", e.message);
	fctl_assert_str(fctl_line(s, 2), "downtime_ms", NULL);
}

static const char *const error_keys[] = { "code", "message", NULL };

static void
test_migrate_error_reply(void **state)
{
	struct fctl_session *s = *state;
	struct json_object *o;
	Ferry__MigrateOptions *m;
	uint32_t serial;
	uint8_t *buf;
	size_t len;

	fctl_spawn(s, NULL, "migrate", "vm9", "--json", NULL);
	fctl_accept(s);
	m = fctl_call(s, MSG_CTL_MIGRATE, &ferry__migrate_options__descriptor,
	    &serial);
	assert_string_equal(m->vm, "vm9");
	ferry__migrate_options__free_unpacked(m, NULL);
	assert_int_equal(frame_pack_error(MSG_CTL_MIGRATE, serial, ENOENT,
	    "unknown VM vm9", &buf, &len), 0);
	fctl_write(s, buf, len);
	assert_int_equal(fctl_finish(s), 1);
	/* --json: the error is one JSON object on stdout, nothing on
	 * stderr, and the same exit status as without --json. */
	assert_int_equal(s->elen, 0);
	fctl_json_lines(s);
	assert_int_equal(s->nlines, 1);
	o = fctl_get(fctl_line(s, 0), "error");
	fctl_assert_keys(o, error_keys);
	fctl_assert_str(o, "code", "failed");
	fctl_assert_str(o, "message", "unknown VM vm9");
}

static void
test_migrate_no_wait(void **state)
{
	struct fctl_session *s = *state;
	Ferry__MigrateOptions *m;
	uint32_t serial;

	fctl_spawn(s, NULL, "migrate", "vm1", "--no-wait", NULL);
	fctl_accept(s);
	m = fctl_call(s, MSG_CTL_MIGRATE, &ferry__migrate_options__descriptor,
	    &serial);
	assert_true(m->has_wait);
	assert_false(m->wait);
	ferry__migrate_options__free_unpacked(m, NULL);
	fake_reply_job(s, MSG_CTL_MIGRATE, serial, 12, "pending", "h1", NULL);
	assert_int_equal(fctl_finish(s), 0);
	assert_string_equal(s->obuf, "12\n");
}

/* Not a terminal, not --json: plain lines, progress at most once a second. */
static void
test_migrate_plain(void **state)
{
	struct fctl_session *s = *state;
	Ferry__MigrateOptions *m;
	uint32_t serial;

	fctl_spawn(s, NULL, "migrate", "vm1", "--to", "h2", NULL);
	fctl_accept(s);
	m = fctl_call(s, MSG_CTL_MIGRATE, &ferry__migrate_options__descriptor,
	    &serial);
	ferry__migrate_options__free_unpacked(m, NULL);
	fake_reply_job(s, MSG_CTL_MIGRATE, serial, 7, "pending", "h1", "h2");
	fake_state(s, serial, 7, "checking", "storage, cpu, capacity");
	fake_progress(s, serial, 7, 10);
	fake_progress(s, serial, 7, 50);
	fake_progress(s, serial, 7, 90);
	fake_done(s, serial, 7, "succeeded", "h2", NULL);
	assert_int_equal(fctl_finish(s), 0);
	assert_string_equal(fctl_next_line(s),
	    "job 7: migrate vm1 from h1 to h2");
	assert_string_equal(fctl_next_line(s),
	    "checking: storage, cpu, capacity");
	assert_string_equal(fctl_next_line(s),
	    " 10.0%  sent 6.0 MiB  remaining 54.2 of 60.2 MiB  pass 2  "
	    "30.0 MiB/s  dirty 2.0 MiB/s  downtime ~41 ms  ETA 2s");
	assert_string_equal(fctl_next_line(s), "succeeded: vm1 now runs on h2 "
	    "(1.9 s, downtime 41 ms, 60.2 MiB sent, 3 passes)");
	assert_int_equal(s->ooff, s->olen);
	assert_null(strchr(s->obuf, '\r'));
}

static void
test_watch_plain_rolled_back(void **state)
{
	struct fctl_session *s = *state;
	Ferry__JobRequest *r;
	uint32_t serial;

	fctl_spawn(s, NULL, "watch", "7", NULL);
	fctl_accept(s);
	r = fctl_call(s, MSG_CTL_WATCH, &ferry__job_request__descriptor,
	    &serial);
	assert_int_equal(r->id, 7);
	ferry__job_request__free_unpacked(r, NULL);
	fake_reply_job(s, MSG_CTL_WATCH, serial, 7, "migrating", "h1", "h2");
	fake_state(s, serial, 7, "rolled_back", "aborted by operator");
	fake_done(s, serial, 7, "rolled_back", "h1", "aborted by operator");
	assert_int_equal(fctl_finish(s), 1);
	assert_string_equal(fctl_next_line(s),
	    "job 7: migrate vm1 from h1 to h2");
	assert_string_equal(fctl_next_line(s),
	    "rolled back: aborted by operator");
	assert_string_equal(fctl_next_line(s),
	    "rolled back: vm1 runs on h1: aborted by operator");
}

static void
test_watch_json(void **state)
{
	struct fctl_session *s = *state;
	Ferry__JobEvent e = FERRY__JOB_EVENT__INIT;
	Ferry__JobRequest *r;
	uint32_t serial;

	fctl_spawn(s, NULL, "watch", "7", "--json", NULL);
	fctl_accept(s);
	r = fctl_call(s, MSG_CTL_WATCH, &ferry__job_request__descriptor,
	    &serial);
	assert_int_equal(r->id, 7);
	ferry__job_request__free_unpacked(r, NULL);
	fake_reply_job(s, MSG_CTL_WATCH, serial, 7, "migrating", "h1", "h2");
	fake_progress(s, serial, 7, 60);
	/* The policy's decision rides on progress; it is told once. */
	e.job_id = 7;
	e.event = "progress";
	e.message = "switched to postcopy";
	fake_event(s, serial, &e);
	fake_event(s, serial, &e);
	fake_done(s, serial, 7, "succeeded", "h2", NULL);
	assert_int_equal(fctl_finish(s), 0);
	fctl_json_lines(s);
	assert_int_equal(s->nlines, 6);
	fctl_assert_keys(fctl_line(s, 0), started_keys);
	fctl_assert_int(fctl_line(s, 0), "job", 7);
	fctl_assert_keys(fctl_line(s, 1), progress_keys);
	fctl_assert_num(fctl_line(s, 1), "percent", 60.0);
	fctl_assert_keys(fctl_line(s, 2), info_keys);
	fctl_assert_str(fctl_line(s, 2), "event", "info");
	fctl_assert_str(fctl_line(s, 2), "message", "switched to postcopy");
	fctl_assert_keys(fctl_line(s, 3), progress_keys);
	fctl_assert_str(fctl_line(s, 3), "percent", NULL);
	fctl_assert_keys(fctl_line(s, 4), progress_keys);
	fctl_assert_keys(fctl_line(s, 5), done_keys);
	fctl_assert_str(fctl_line(s, 5), "state", "succeeded");
}

/*
 * What the line shows is true (issue 13): sent apart from what remains of
 * the total (sent 354.7 MiB of a 256.5 MiB guest is no contradiction), the
 * remaining's low-water mark, the pass; no ETA when the coordinator could
 * not estimate one (it was "ETA 0s" at 0.0 MiB/s).
 */
static void
test_progress_line_truth(void **state)
{
	struct fctl_session *s = *state;
	Ferry__MigrateOptions *m;
	Ferry__JobEvent e = FERRY__JOB_EVENT__INIT;
	uint32_t serial;

	fctl_spawn(s, NULL, "migrate", "vm1", "--to", "h2", NULL);
	fctl_accept(s);
	m = fctl_call(s, MSG_CTL_MIGRATE, &ferry__migrate_options__descriptor,
	    &serial);
	ferry__migrate_options__free_unpacked(m, NULL);
	fake_reply_job(s, MSG_CTL_MIGRATE, serial, 7, "migrating", "h1", "h2");
	e.job_id = 7;
	e.event = "progress";
	e.has_percent = e.has_data_processed_mib = e.has_data_remaining_mib =
	    e.has_data_total_mib = e.has_remaining_low_mib =
	    e.has_mib_per_s = e.has_dirty_mib_per_s = e.has_iteration = 1;
	e.percent = 96.8;
	e.data_processed_mib = 354.7;
	e.data_total_mib = 256.5;
	e.data_remaining_mib = 20.0;
	e.remaining_low_mib = 8.2;
	e.mib_per_s = 0;
	e.dirty_mib_per_s = 0;
	e.iteration = 3;
	fake_event(s, serial, &e);
	fake_done(s, serial, 7, "succeeded", "h2", NULL);
	assert_int_equal(fctl_finish(s), 0);
	(void)fctl_next_line(s);
	assert_string_equal(fctl_next_line(s),
	    " 96.8%  sent 354.7 MiB  remaining 20.0 of 256.5 MiB (low 8.2)  "
	    "pass 3  0.0 MiB/s  dirty 0.0 MiB/s");
	assert_null(strstr(s->obuf, "ETA"));
	assert_null(strstr(s->obuf, "354.7/"));
}

/* On a terminal, the live line is erased (\r, erase to end of line)
 * before an error, which otherwise ends up glued to it. */
static void
test_tty_line_cleared_before_error(void **state)
{
	struct fctl_session *s = *state;
	Ferry__JobRequest *r;
	const char *err, *bar;
	uint32_t serial;

	fctl_spawn_tty(s, NULL, "watch", "7", NULL);
	fctl_accept(s);
	r = fctl_call(s, MSG_CTL_WATCH, &ferry__job_request__descriptor,
	    &serial);
	ferry__job_request__free_unpacked(r, NULL);
	fake_reply_job(s, MSG_CTL_WATCH, serial, 7, "migrating", "h1",
	    "h2");
	fake_progress(s, serial, 7, 60);
	close(s->cfd);
	s->cfd = -1;
	assert_int_equal(fctl_finish(s), 1);
	bar = strstr(s->obuf, " 60.0% [");
	err = strstr(s->obuf, "ferryctl: ");
	if (bar == NULL || err == NULL)
		fail_msg("terminal output lacks the bar or the error: %s",
		    s->obuf);
	assert_true(bar < err);
	/* Right before the first error: the erase sequence, no text. */
	assert_true(err - s->obuf >= 4);
	assert_memory_equal(err - 4, "\r\033[K", 4);
	assert_non_null(strstr(err, "lost the coordinator"));
}

/* hosts: the connection and the administrative state are two fields; a
 * host in maintenance whose hostd stopped is down and in maintenance. */
static void
test_hosts_two_states(void **state)
{
	struct fctl_session *s = *state;
	Ferry__HostsReply r = FERRY__HOSTS_REPLY__INIT;
	Ferry__HostEntry h[2], *hv[2] = { &h[0], &h[1] };
	struct json_object *o, *a;
	uint32_t serial;
	void *m;
	int pass;

	for (pass = 0; pass < 2; pass++) {
		ferry__host_entry__init(&h[0]);
		ferry__host_entry__init(&h[1]);
		h[0].name = "h1";
		h[0].state = "down";
		h[0].admin_state = "maintenance";
		h[0].address = "10.0.0.1:7070";
		h[1].name = "h2";
		h[1].state = "up";
		h[1].admin_state = "active";
		h[1].address = "10.0.0.2:7070";
		r.hosts = hv;
		r.n_hosts = 2;
		if (pass == 0)
			fctl_spawn(s, NULL, "hosts", "--json", NULL);
		else
			fctl_spawn(s, NULL, "hosts", NULL);
		fctl_accept(s);
		m = fctl_call(s, MSG_CTL_HOSTS, &ferry__hosts_request__descriptor,
		    &serial);
		ferry__hosts_request__free_unpacked(m, NULL);
		fctl_send(s, MSG_CTL_HOSTS, FRAME_REPLY, serial, &r.base);
		assert_int_equal(fctl_finish(s), 0);
		if (pass == 0) {
			o = fctl_json_next(s);
			a = json_object_array_get_idx(o, 0);
			fctl_assert_str(a, "state", "down");
			fctl_assert_str(a, "admin_state", "maintenance");
			a = json_object_array_get_idx(o, 1);
			fctl_assert_str(a, "state", "up");
			fctl_assert_str(a, "admin_state", "active");
		} else {
			(void)fctl_next_line(s);
			/* ... VMS, ZONE, LABELS, LIBVIRT */
			assert_string_equal(fctl_next_line(s), "h1           down  "
			    "maintenance  10.0.0.1:7070              -         -  "
			    "       -    - -        -                -");
		}
		fctl_teardown(state);
		assert_int_equal(fctl_setup(state, "/tmp/ferryctl-test.XXXXXX"),
		    0);
		s = *state;
	}
}

/* vms: the two copies of a migrating VM say which is which, and the job. */
static void
test_vms_roles(void **state)
{
	struct fctl_session *s = *state;
	Ferry__VmsReply r = FERRY__VMS_REPLY__INIT;
	Ferry__VmEntry v[2], *vv[2] = { &v[0], &v[1] };
	struct json_object *o, *a;
	uint32_t serial;
	void *m;
	int pass;

	for (pass = 0; pass < 2; pass++) {
		ferry__vm_entry__init(&v[0]);
		ferry__vm_entry__init(&v[1]);
		v[0].name = v[1].name = "g1";
		v[0].host = "h1";
		v[0].state = "paused";
		v[0].role = "outgoing";
		v[1].host = "h3";
		v[1].state = "running";
		v[1].role = "incoming";
		v[0].has_job = v[1].has_job = 1;
		v[0].job = v[1].job = 42;
		v[0].mem_mib = v[1].mem_mib = 256;
		v[0].vcpus = v[1].vcpus = 1;
		r.vms = vv;
		r.n_vms = 2;
		if (pass == 0)
			fctl_spawn(s, NULL, "vms", "--json", NULL);
		else
			fctl_spawn(s, NULL, "vms", NULL);
		fctl_accept(s);
		m = fctl_call(s, MSG_CTL_VMS, &ferry__vms_request__descriptor,
		    &serial);
		ferry__vms_request__free_unpacked(m, NULL);
		fctl_send(s, MSG_CTL_VMS, FRAME_REPLY, serial, &r.base);
		assert_int_equal(fctl_finish(s), 0);
		if (pass == 0) {
			o = fctl_json_next(s);
			a = json_object_array_get_idx(o, 1);
			fctl_assert_str(a, "host", "h3");
			fctl_assert_str(a, "role", "incoming");
			fctl_assert_int(a, "job", 42);
			a = json_object_array_get_idx(o, 0);
			fctl_assert_str(a, "role", "outgoing");
		} else {
			(void)fctl_next_line(s);
			assert_non_null(strstr(fctl_next_line(s),
			    " outgoing:42 "));
			assert_non_null(strstr(fctl_next_line(s),
			    " incoming:42 "));
		}
		fctl_teardown(state);
		assert_int_equal(fctl_setup(state, "/tmp/ferryctl-test.XXXXXX"),
		    0);
		s = *state;
	}
}

static void
test_watch_lost_coordinator(void **state)
{
	struct fctl_session *s = *state;
	struct json_object *o;
	Ferry__JobRequest *r;
	uint32_t serial;

	fctl_spawn(s, NULL, "watch", "7", "--json", NULL);
	fctl_accept(s);
	r = fctl_call(s, MSG_CTL_WATCH, &ferry__job_request__descriptor,
	    &serial);
	ferry__job_request__free_unpacked(r, NULL);
	fake_reply_job(s, MSG_CTL_WATCH, serial, 7, "migrating", "h1", "h2");
	fake_progress(s, serial, 7, 60);
	close(s->cfd);
	s->cfd = -1;
	assert_int_equal(fctl_finish(s), 1);
	/* The stream's objects, then the error as the last line. */
	fctl_json_lines(s);
	assert_true(s->nlines >= 2);
	o = fctl_get(fctl_line(s, s->nlines - 1), "error");
	fctl_assert_str(o, "code", "failed");
	assert_non_null(strstr(json_object_get_string(fctl_get(o, "message")),
	    "lost the coordinator; the job continues: ferryctl watch 7"));
}

/* Ctrl-C with --json aborts at once, on the same connection, and still
 * shows the job to its end. */
static void
test_migrate_sigint_aborts(void **state)
{
	struct fctl_session *s = *state;
	Ferry__MigrateOptions *m;
	Ferry__JobRequest *r;
	struct json_object *o;
	uint32_t serial, aserial;

	fctl_spawn(s, NULL, "migrate", "vm1", "--to", "h2", "--json", NULL);
	fctl_accept(s);
	m = fctl_call(s, MSG_CTL_MIGRATE, &ferry__migrate_options__descriptor,
	    &serial);
	ferry__migrate_options__free_unpacked(m, NULL);
	fake_reply_job(s, MSG_CTL_MIGRATE, serial, 7, "pending", "h1", "h2");
	fake_progress(s, serial, 7, 30);
	fctl_assert_str(fctl_json_next(s), "event", "started");
	fctl_assert_str(fctl_json_next(s), "event", "progress");

	assert_int_equal(kill(s->pid, SIGINT), 0);
	r = fctl_call(s, MSG_CTL_ABORT, &ferry__job_request__descriptor,
	    &aserial);
	assert_int_equal(r->id, 7);
	assert_int_not_equal(aserial, serial);
	ferry__job_request__free_unpacked(r, NULL);
	fake_reply_job(s, MSG_CTL_ABORT, aserial, 7, "migrating", "h1", "h2");
	fake_state(s, serial, 7, "rolled_back", "aborted by operator");
	fake_done(s, serial, 7, "rolled_back", "h1", "aborted by operator");
	assert_int_equal(fctl_finish(s), 1);
	fctl_json_lines(s);
	assert_int_equal(s->nlines, 4);
	fctl_assert_str(fctl_line(s, 2), "state", "rolled_back");
	o = fctl_line(s, 3);
	fctl_assert_keys(o, done_keys);
	fctl_assert_str(o, "state", "rolled_back");
	fctl_assert_str(o, "running_on", "h1");
	fctl_assert_str(o, "error", "aborted by operator");
}

/* Ctrl-C on a terminal asks "abort job N? [y/N]" without stopping:
 * progress keeps being drawn under the question (no blocking read of the
 * terminal), a key answers it (no Enter, no echo), n goes on, y aborts,
 * and the terminal is left as it was. */
static void
test_migrate_question_keeps_progress(void **state)
{
	struct fctl_session *s = *state;
	Ferry__MigrateOptions *m;
	Ferry__JobRequest *r;
	struct pollfd pfd;
	const char *p, *q = "abort job 7? [y/N] ";
	char want[64];
	uint32_t serial, aserial;
	size_t at;

	fctl_spawn_ctty(s, NULL, "migrate", "vm1", "--to", "h2", NULL);
	fctl_accept(s);
	m = fctl_call(s, MSG_CTL_MIGRATE, &ferry__migrate_options__descriptor,
	    &serial);
	ferry__migrate_options__free_unpacked(m, NULL);
	fake_reply_job(s, MSG_CTL_MIGRATE, serial, 7, "pending", "h1", "h2");
	fake_progress(s, serial, 7, 30);
	p = fctl_wait_output(s, 0, " 30.0% [");

	assert_int_equal(kill(s->pid, SIGINT), 0);
	p = fctl_wait_output(s, p - s->obuf, q);
	at = p - s->obuf;
	/* While it waits: single keys, no echo. */
	assert_int_equal(fctl_tty_lflag(s) & (ICANON | ECHO), 0);
	/* Progress still comes, the question leading each redraw. */
	fake_progress(s, serial, 7, 60);
	snprintf(want, sizeof(want), "\r\033[K%s 60.0%% [", q);
	p = fctl_wait_output(s, at, want);
	fake_progress(s, serial, 7, 70);
	snprintf(want, sizeof(want), "\r\033[K%s 70.0%% [", q);
	p = fctl_wait_output(s, p - s->obuf, want);
	/* Nothing was sent while asking. */
	pfd.fd = s->cfd;
	pfd.events = POLLIN;
	assert_int_equal(poll(&pfd, 1, 300), 0);

	/* n: the question goes, the line stays, nothing aborted. */
	fctl_type(s, "n");
	p = fctl_wait_output(s, p - s->obuf + 1, "\r\033[K 70.0% [");
	fake_progress(s, serial, 7, 80);
	p = fctl_wait_output(s, p - s->obuf, "\r\033[K 80.0% [");
	assert_int_equal(poll(&pfd, 1, 300), 0);
	assert_int_equal(fctl_tty_lflag(s) & (ICANON | ECHO), ICANON | ECHO);

	/* Asked again, y: the abort goes at once. */
	assert_int_equal(kill(s->pid, SIGINT), 0);
	p = fctl_wait_output(s, p - s->obuf, q);
	fctl_type(s, "y");
	r = fctl_call(s, MSG_CTL_ABORT, &ferry__job_request__descriptor,
	    &aserial);
	assert_int_equal(r->id, 7);
	ferry__job_request__free_unpacked(r, NULL);
	fake_reply_job(s, MSG_CTL_ABORT, aserial, 7, "migrating", "h1", "h2");
	p = fctl_wait_output(s, p - s->obuf,
	    "abort requested (state migrating)");
	fake_state(s, serial, 7, "rolled_back", "aborted by operator");
	fake_done(s, serial, 7, "rolled_back", "h1", "aborted by operator");
	at = p - s->obuf;
	assert_int_equal(fctl_wait_exit(s), 1);
	/* The terminal as it was: lines and echo back. */
	assert_int_equal(fctl_tty_lflag(s) & (ICANON | ECHO), ICANON | ECHO);
	assert_int_equal(fctl_finish(s), 1);
	assert_non_null(strstr(s->obuf + at, "rolled back: vm1 runs on h1: "
	    "aborted by operator"));
}

/* A second Ctrl-C while the question waits means yes, as before. */
static void
test_migrate_question_second_sigint(void **state)
{
	struct fctl_session *s = *state;
	Ferry__MigrateOptions *m;
	Ferry__JobRequest *r;
	uint32_t serial, aserial;

	fctl_spawn_ctty(s, NULL, "migrate", "vm1", "--to", "h2", NULL);
	fctl_accept(s);
	m = fctl_call(s, MSG_CTL_MIGRATE, &ferry__migrate_options__descriptor,
	    &serial);
	ferry__migrate_options__free_unpacked(m, NULL);
	fake_reply_job(s, MSG_CTL_MIGRATE, serial, 7, "pending", "h1", "h2");
	fake_progress(s, serial, 7, 30);
	(void)fctl_wait_output(s, 0, " 30.0% [");
	assert_int_equal(kill(s->pid, SIGINT), 0);
	(void)fctl_wait_output(s, 0, "abort job 7? [y/N] ");
	assert_int_equal(kill(s->pid, SIGINT), 0);
	r = fctl_call(s, MSG_CTL_ABORT, &ferry__job_request__descriptor,
	    &aserial);
	assert_int_equal(r->id, 7);
	ferry__job_request__free_unpacked(r, NULL);
	fake_reply_job(s, MSG_CTL_ABORT, aserial, 7, "migrating", "h1", "h2");
	fake_done(s, serial, 7, "rolled_back", "h1", "aborted by operator");
	assert_int_equal(fctl_wait_exit(s), 1);
	assert_int_equal(fctl_tty_lflag(s) & (ICANON | ECHO), ICANON | ECHO);
	assert_int_equal(fctl_finish(s), 1);
}

static void
test_unreachable(void **state)
{
	struct fctl_session *s = *state;
	char path[160];

	snprintf(path, sizeof(path), "%s/nobody.sock", s->dir);
	fctl_spawn(s, path, "jobs", NULL);
	assert_int_equal(fctl_finish(s), 4);
	assert_non_null(strstr(s->ebuf, "cannot reach the coordinator"));
}

/* --json: an error is {"error":{"code","message"}} on stdout, nothing on
 * stderr but getopt's own word, and the exit status it has without --json. */
static void
json_error_case(struct fctl_session *s, int want_rc, const char *code,
    const char *msg)
{
	struct json_object *o;

	assert_int_equal(fctl_finish(s), want_rc);
	fctl_json_lines(s);
	assert_int_equal(s->nlines, 1);
	o = fctl_get(fctl_line(s, 0), "error");
	fctl_assert_keys(o, error_keys);
	fctl_assert_str(o, "code", code);
	assert_non_null(strstr(json_object_get_string(fctl_get(o, "message")),
	    msg));
}

static void
test_json_errors(void **state)
{
	struct fctl_session *s = *state;
	char path[160];

	snprintf(path, sizeof(path), "%s/nobody.sock", s->dir);
	fctl_spawn(s, path, "jobs", "--json", NULL);
	json_error_case(s, 4, "unreachable", "cannot reach the coordinator");
	assert_null(strstr(s->ebuf, "cannot reach"));
	fctl_teardown(state);
	assert_int_equal(setup(state), 0);
	s = *state;
	fctl_spawn(s, NULL, "migrate", "vm1", "--bogus", "--json", NULL);
	json_error_case(s, 2, "usage", "usage: ferryctl migrate");
	fctl_teardown(state);
	assert_int_equal(setup(state), 0);
	s = *state;
	fctl_spawn(s, NULL, "job", "abc", "--json", NULL);
	json_error_case(s, 2, "usage", "'abc' is not a job id");
	fctl_teardown(state);
	assert_int_equal(setup(state), 0);
	s = *state;
	fctl_spawn(s, NULL, "nosuch", "--json", NULL);
	json_error_case(s, 2, "usage", "unknown command 'nosuch'");
}

/* `ferryctl watch ID --json | head -1`: once the reader of stdout is gone,
 * ferryctl ends at once, although the job sends nothing more. */
static void
test_watch_closed_stdout(void **state)
{
	struct fctl_session *s = *state;
	Ferry__JobRequest *r;
	uint32_t serial;
	uint64_t t0;
	int st = 0;
	pid_t p = 0;

	fctl_spawn(s, NULL, "watch", "7", "--json", NULL);
	fctl_accept(s);
	r = fctl_call(s, MSG_CTL_WATCH, &ferry__job_request__descriptor,
	    &serial);
	ferry__job_request__free_unpacked(r, NULL);
	fake_reply_job(s, MSG_CTL_WATCH, serial, 7, "migrating", "h1", "h2");
	assert_non_null(strstr(fctl_next_line(s), "\"started\""));
	close(s->out);
	s->out = -1;
	t0 = test_now_ms();
	while (test_now_ms() - t0 < 1000 &&
	    (p = waitpid(s->pid, &st, WNOHANG)) == 0)
		usleep(10000);
	assert_int_equal(p, s->pid);
	s->pid = -1;
	assert_true(WIFSIGNALED(st));
	assert_int_equal(WTERMSIG(st), SIGPIPE);
}

static void
test_bad_arguments(void **state)
{
	static const char *const cases[][5] = {
		{ "migrate", "vm1", "--bandwidth", "abc" },
		{ "migrate", "vm1", "--parallel", "0" },
		{ "migrate", "vm1", "--parallel", "1000" },
		{ "migrate", "vm1", "--parallel", "-1" },
		{ "migrate", "vm1", "--parallel", "2x" },
		{ "check", "vm1", "--parallel", "17" },
		{ "migrate", "vm1", "--bandwidth", "0" },
		{ "migrate", "vm1", "--max-downtime", "-5" },
		{ "migrate", "vm1", "--timeout", "99999999999" },
		{ "migrate", "vm1", "--bogus" },
		{ "migrate" },
		{ "check", "vm1", "--bandwidth", "1.5" },
		{ "jobs", "--limit", "ten" },
		{ "job", "abc" },
		{ "job", "0" },
		{ "watch", "7x" },
		{ "abort", "-1" },
		{ "abort" },
	};

	fctl_bad_args(*state, cases, sizeof(cases) / sizeof(cases[0]));
}

static void
test_check_json_blocked(void **state)
{
	struct fctl_session *s = *state;
	Ferry__CheckRequest *r;
	Ferry__CheckReply rep = FERRY__CHECK_REPLY__INIT;
	Ferry__CheckResult c1 = FERRY__CHECK_RESULT__INIT,
	    c2 = FERRY__CHECK_RESULT__INIT, c3 = FERRY__CHECK_RESULT__INIT;
	Ferry__CheckResult *cks[3] = { &c1, &c2, &c3 };
	static const char *const keys[] = { "vm", "source", "destination", "ok",
		"checks", NULL };
	static const char *const ckeys[] = { "name", "ok", "reason", "warning",
		NULL };
	struct json_object *o, *arr, *c;
	uint32_t serial;

	fctl_spawn(s, NULL, "check", "vm1", "--to", "h2", "--bandwidth", "100",
	    "--json", NULL);
	fctl_accept(s);
	r = fctl_call(s, MSG_CTL_CHECK, &ferry__check_request__descriptor,
	    &serial);
	assert_string_equal(r->vm, "vm1");
	assert_string_equal(r->to, "h2");
	assert_true(r->has_bandwidth_mibs);
	assert_int_equal(r->bandwidth_mibs, 100);
	ferry__check_request__free_unpacked(r, NULL);

	c1.name = "storage:vda";
	c1.ok = 1;
	c1.reason = "nfs server1:/vms, same file on both hosts";
	c2.name = "cpu";
	c2.ok = 0;
	c2.reason = "h2 lacks avx512f";
	c3.name = "capacity";
	c3.ok = 1;
	c3.reason = "1024 MiB free after the move";
	c3.has_warning = c3.warning = 1;
	rep.vm = "vm1";
	rep.source = "h1";
	rep.destination = "h2";
	rep.n_checks = 3;
	rep.checks = cks;
	rep.ok = 0;
	fctl_send(s, MSG_CTL_CHECK, FRAME_REPLY, serial, &rep.base);
	assert_int_equal(fctl_finish(s), 3);
	fctl_json_lines(s);
	assert_int_equal(s->nlines, 1);
	o = fctl_line(s, 0);
	fctl_assert_keys(o, keys);
	fctl_assert_str(o, "vm", "vm1");
	fctl_assert_str(o, "source", "h1");
	fctl_assert_str(o, "destination", "h2");
	assert_false(json_object_get_boolean(fctl_get(o, "ok")));
	arr = fctl_get(o, "checks");
	assert_int_equal(json_object_array_length(arr), 3);
	c = json_object_array_get_idx(arr, 1);
	fctl_assert_keys(c, ckeys);
	fctl_assert_str(c, "name", "cpu");
	assert_true(json_object_is_type(fctl_get(c, "ok"), json_type_boolean));
	assert_false(json_object_get_boolean(fctl_get(c, "ok")));
	fctl_assert_str(c, "reason", "h2 lacks avx512f");
	assert_false(json_object_get_boolean(fctl_get(c, "warning")));
	c = json_object_array_get_idx(arr, 2);
	assert_true(json_object_get_boolean(fctl_get(c, "ok")));
	assert_true(json_object_get_boolean(fctl_get(c, "warning")));
}

static void
test_check_table_ok(void **state)
{
	struct fctl_session *s = *state;
	Ferry__CheckRequest *r;
	Ferry__CheckReply rep = FERRY__CHECK_REPLY__INIT;
	Ferry__CheckResult c1 = FERRY__CHECK_RESULT__INIT,
	    c2 = FERRY__CHECK_RESULT__INIT, *cks[2] = { &c1, &c2 };
	uint32_t serial;

	fctl_spawn(s, NULL, "check", "vm1", NULL);
	fctl_accept(s);
	r = fctl_call(s, MSG_CTL_CHECK, &ferry__check_request__descriptor,
	    &serial);
	assert_null(r->to);
	assert_false(r->has_bandwidth_mibs);
	ferry__check_request__free_unpacked(r, NULL);
	c1.name = "storage:vda";
	c1.ok = 1;
	c1.reason = "shared";
	c2.name = "capacity";
	c2.ok = 1;
	c2.reason = "tight";
	c2.has_warning = c2.warning = 1;
	rep.vm = "vm1";
	rep.source = "h1";
	rep.destination = "h2";
	rep.n_checks = 2;
	rep.checks = cks;
	rep.ok = 1;
	fctl_send(s, MSG_CTL_CHECK, FRAME_REPLY, serial, &rep.base);
	assert_int_equal(fctl_finish(s), 0);
	assert_string_equal(fctl_next_line(s), "vm1 on h1 -> h2: ok");
	assert_string_equal(fctl_next_line(s), "CHECK        VERDICT  REASON");
	assert_string_equal(fctl_next_line(s), "storage:vda  ok       shared");
	assert_string_equal(fctl_next_line(s), "capacity     warning  tight");
}

static void
test_jobs_json(void **state)
{
	struct fctl_session *s = *state;
	Ferry__JobsRequest *r;
	Ferry__JobsReply rep = FERRY__JOBS_REPLY__INIT;
	Ferry__JobInfo j1 = FERRY__JOB_INFO__INIT, j2 = FERRY__JOB_INFO__INIT;
	Ferry__JobInfo *jobs[2] = { &j1, &j2 };
	static const char *const keys[] = { "id", "kind", "vm", "state",
		"source", "destination", "running_on", "started_ms", "ended_ms", "run",
		"error",
		NULL };
	struct json_object *arr, *o;
	uint32_t serial;

	fctl_spawn(s, NULL, "jobs", "--all", "--limit", "5", "--json", NULL);
	fctl_accept(s);
	r = fctl_call(s, MSG_CTL_JOBS, &ferry__jobs_request__descriptor,
	    &serial);
	assert_true(r->has_all && r->all);
	assert_true(r->has_limit);
	assert_int_equal(r->limit, 5);
	ferry__jobs_request__free_unpacked(r, NULL);

	j1.id = 9;
	j1.kind = "migrate";
	j1.vm = "vm2";
	j1.state = "migrating";
	j1.source = "h1";
	j1.destination = "h3";
	j1.has_started_ms = 1;
	j1.started_ms = 1700000005000ULL;
	j2.id = 7;
	j2.kind = "migrate";
	j2.vm = "vm1";
	j2.state = "failed";
	j2.source = "h1";
	j2.has_started_ms = j2.has_ended_ms = 1;
	j2.started_ms = 1700000000000ULL;
	j2.ended_ms = 1700000001900ULL;
	j2.error = "destination h2 went away";
	rep.n_jobs = 2;
	rep.jobs = jobs;
	fctl_send(s, MSG_CTL_JOBS, FRAME_REPLY, serial, &rep.base);
	assert_int_equal(fctl_finish(s), 0);
	arr = fctl_json_next(s);
	assert_true(json_object_is_type(arr, json_type_array));
	assert_int_equal(json_object_array_length(arr), 2);
	o = json_object_array_get_idx(arr, 0);
	fctl_assert_keys(o, keys);
	fctl_assert_int(o, "id", 9);
	fctl_assert_str(o, "state", "migrating");
	fctl_assert_str(o, "destination", "h3");
	fctl_assert_int(o, "started_ms", 1700000005000LL);
	fctl_assert_str(o, "ended_ms", NULL);
	fctl_assert_str(o, "error", NULL);
	o = json_object_array_get_idx(arr, 1);
	fctl_assert_keys(o, keys);
	fctl_assert_int(o, "id", 7);
	fctl_assert_str(o, "kind", "migrate");
	fctl_assert_str(o, "vm", "vm1");
	fctl_assert_str(o, "source", "h1");
	fctl_assert_str(o, "destination", NULL);
	fctl_assert_int(o, "ended_ms", 1700000001900LL);
	fctl_assert_str(o, "error", "destination h2 went away");
}

static void
test_job_json_history(void **state)
{
	struct fctl_session *s = *state;
	Ferry__JobRequest *r;
	Ferry__JobReply rep = FERRY__JOB_REPLY__INIT;
	Ferry__JobInfo j = FERRY__JOB_INFO__INIT;
	Ferry__JobHistoryEntry h[4], *hs[4];
	struct json_object *o, *arr, *d;
	uint32_t serial;
	int i;

	fctl_spawn(s, NULL, "job", "7", "--json", NULL);
	fctl_accept(s);
	r = fctl_call(s, MSG_CTL_JOB, &ferry__job_request__descriptor, &serial);
	assert_int_equal(r->id, 7);
	ferry__job_request__free_unpacked(r, NULL);

	j.id = 7;
	j.kind = "migrate";
	j.vm = "vm1";
	j.state = "rolled_back";
	j.source = "h1";
	j.destination = "h2";
	j.running_on = "h1";
	j.error = "aborted by operator";
	for (i = 0; i < 4; i++) {
		ferry__job_history_entry__init(&h[i]);
		h[i].seq = i + 1;
		h[i].time_ms = 1700000000000ULL + i * 100;
		h[i].type = "state";
		hs[i] = &h[i];
	}
	h[0].state = "checking";
	h[0].data = "{\"checks\":[\"storage\",\"cpu\"],\"n\":2}";
	h[1].state = "migrating";
	h[1].data = "aborted by operator";
	h[2].state = "rolled_back";
	h[3].type = "note";
	h[3].state = "rolled_back";
	h[3].data = "12 disks";
	rep.job = &j;
	rep.n_history = 4;
	rep.history = hs;
	fctl_send(s, MSG_CTL_JOB, FRAME_REPLY, serial, &rep.base);
	assert_int_equal(fctl_finish(s), 0);
	fctl_json_lines(s);
	assert_int_equal(s->nlines, 1);
	o = fctl_line(s, 0);
	assert_int_equal(json_object_object_length(o), 2);
	fctl_assert_int(fctl_get(o, "job"), "id", 7);
	fctl_assert_str(fctl_get(o, "job"), "state", "rolled_back");
	fctl_assert_str(fctl_get(o, "job"), "running_on", "h1");
	fctl_assert_str(fctl_get(o, "job"), "error", "aborted by operator");
	arr = fctl_get(o, "history");
	assert_int_equal(json_object_array_length(arr), 4);
	o = json_object_array_get_idx(arr, 0);
	fctl_assert_int(o, "seq", 1);
	fctl_assert_int(o, "time_ms", 1700000000000LL);
	fctl_assert_str(o, "type", "state");
	fctl_assert_str(o, "state", "checking");
	d = fctl_get(o, "data");
	assert_true(json_object_is_type(d, json_type_object));
	fctl_assert_int(d, "n", 2);
	assert_int_equal(json_object_array_length(fctl_get(d, "checks")), 2);
	fctl_assert_str(json_object_array_get_idx(arr, 1), "data",
	    "aborted by operator");
	fctl_assert_str(json_object_array_get_idx(arr, 2), "data", NULL);
	fctl_assert_str(json_object_array_get_idx(arr, 3), "data", "12 disks");
}

static void
test_abort(void **state)
{
	struct fctl_session *s = *state;
	Ferry__JobRequest *r;
	uint32_t serial;

	fctl_spawn(s, NULL, "abort", "7", NULL);
	fctl_accept(s);
	r = fctl_call(s, MSG_CTL_ABORT, &ferry__job_request__descriptor,
	    &serial);
	assert_int_equal(r->id, 7);
	ferry__job_request__free_unpacked(r, NULL);
	fake_reply_job(s, MSG_CTL_ABORT, serial, 7, "migrating", "h1", "h2");
	assert_int_equal(fctl_finish(s), 0);
	assert_string_equal(s->obuf,
	    "abort requested for job 7 (state migrating)\n");
}

static void
test_abort_refused(void **state)
{
	struct fctl_session *s = *state;
	Ferry__JobRequest *r;
	uint32_t serial;
	uint8_t *buf;
	size_t len;

	fctl_spawn(s, NULL, "abort", "8", NULL);
	fctl_accept(s);
	r = fctl_call(s, MSG_CTL_ABORT, &ferry__job_request__descriptor,
	    &serial);
	assert_int_equal(r->id, 8);
	ferry__job_request__free_unpacked(r, NULL);
	assert_int_equal(frame_pack_error(MSG_CTL_ABORT, serial, EALREADY,
	    "job 8 already ended (succeeded)", &buf, &len), 0);
	fctl_write(s, buf, len);
	assert_int_equal(fctl_finish(s), 1);
	assert_int_equal(s->olen, 0);
	assert_non_null(strstr(s->ebuf, "job 8 already ended (succeeded)"));
}

/* Strings from hosts reach the terminal escaped (a name with ESC ] 0 ;
 * ... BEL would retitle the operator's terminal, a CSI move the cursor):
 * in tables and error messages every control character is \xHH; --json
 * keeps them as sent, json-c escapes them. */
#define EVIL_NAME	"evil\033]0;owned\007\r\xc2\x9b" "2J"

static void
assert_no_controls(const char *buf, size_t len, int c1)
{
	size_t i;

	for (i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)buf[i];

		if ((ch < 0x20 && ch != '\n') || ch == 0x7f ||
		    (c1 && ch == 0xc2 && i + 1 < len &&
		    (unsigned char)buf[i + 1] >= 0x80 &&
		    (unsigned char)buf[i + 1] <= 0x9f))
			fail_msg("control byte 0x%02x at %zu in \"%.*s\"", ch, i,
			    (int)len, buf);
	}
}

static void
reply_evil_vms(struct fctl_session *s)
{
	Ferry__VmsReply r = FERRY__VMS_REPLY__INIT;
	Ferry__VmEntry e = FERRY__VM_ENTRY__INIT, *v[1] = { &e };
	uint32_t serial;
	void *req;

	fctl_accept(s);
	req = fctl_call(s, MSG_CTL_VMS, &ferry__vms_request__descriptor,
	    &serial);
	protobuf_c_message_free_unpacked(req, NULL);
	e.name = EVIL_NAME;
	e.host = "h1\033[1A";
	e.state = "running";
	e.mem_mib = 128;
	e.vcpus = 1;
	r.vms = v;
	r.n_vms = 1;
	fctl_send(s, MSG_CTL_VMS, FRAME_REPLY, serial, &r.base);
}

static void
test_table_escapes_controls(void **state)
{
	struct fctl_session *s = *state;
	struct json_object *o, *arr;
	uint32_t serial;
	uint8_t *buf;
	size_t len;
	void *m;

	fctl_spawn(s, NULL, "vms", NULL);
	reply_evil_vms(s);
	assert_int_equal(fctl_finish(s), 0);
	assert_no_controls(s->obuf, s->olen, 1);
	assert_non_null(strstr(s->obuf,
	    "evil\\x1b]0;owned\\x07\\x0d\\xc2\\x9b2J"));
	assert_non_null(strstr(s->obuf, "h1\\x1b[1A"));
	fctl_teardown(state);

	/* --json: the value as sent, escaped by json-c. */
	assert_int_equal(setup(state), 0);
	s = *state;
	fctl_spawn(s, NULL, "vms", "--json", NULL);
	reply_evil_vms(s);
	assert_int_equal(fctl_finish(s), 0);
	/* JSON escapes C0 and DEL; U+009B is valid JSON text. */
	assert_no_controls(s->obuf, s->olen, 0);
	fctl_json_lines(s);
	arr = fctl_line(s, 0);
	assert_true(json_object_is_type(arr, json_type_array));
	o = json_object_array_get_idx(arr, 0);
	fctl_assert_str(o, "name", EVIL_NAME);
	fctl_teardown(state);

	/* An error message, on stderr. */
	assert_int_equal(setup(state), 0);
	s = *state;
	fctl_spawn(s, NULL, "migrate", "vm9", NULL);
	fctl_accept(s);
	m = fctl_call(s, MSG_CTL_MIGRATE, &ferry__migrate_options__descriptor,
	    &serial);
	protobuf_c_message_free_unpacked(m, NULL);
	assert_int_equal(frame_pack_error(MSG_CTL_MIGRATE, serial, ENOENT,
	    "source: " EVIL_NAME, &buf, &len), 0);
	fctl_write(s, buf, len);
	assert_int_equal(fctl_finish(s), 1);
	assert_no_controls(s->ebuf, s->elen, 1);
	assert_non_null(strstr(s->ebuf, "evil\\x1b]0;owned"));
}

#define T(fn)	cmocka_unit_test_setup_teardown(fn, setup, fctl_teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_migrate_json_succeeded),
		T(test_migrate_json_refused),
		T(test_migrate_error_reply),
		T(test_migrate_no_wait),
		T(test_migrate_plain),
		T(test_progress_line_truth),
		T(test_hosts_two_states),
		T(test_vms_roles),
		T(test_tty_line_cleared_before_error),
		T(test_migrate_sigint_aborts),
		T(test_migrate_question_keeps_progress),
		T(test_migrate_question_second_sigint),
		T(test_watch_json),
		T(test_watch_plain_rolled_back),
		T(test_watch_lost_coordinator),
		T(test_unreachable),
		T(test_bad_arguments),
		T(test_json_errors),
		T(test_watch_closed_stdout),
		T(test_check_json_blocked),
		T(test_check_table_ok),
		T(test_jobs_json),
		T(test_job_json_history),
		T(test_abort),
		T(test_abort_refused),
		T(test_table_escapes_controls),
	};

	/* ferryctl may exit before reading all we send. */
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
