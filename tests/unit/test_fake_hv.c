/* test_fake_hv.c: the fake hypervisor other tests rely on behaves as
 * fake_hv.h documents. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <libvirt/libvirt.h>

#include "hv.h"
#include "fake_hv.h"

#define A	"fake://a"
#define B	"fake://b"

struct seen {
	pthread_mutex_t	 mtx;
	int		 n;
	int		 kind[16];
	int		 detail[16];
	int		 sub[16];
};

static void
on_event(struct hv *hv, int kind, const char *domain, int detail, int sub,
    void *arg)
{
	struct seen *s = arg;

	(void)hv;
	(void)domain;
	pthread_mutex_lock(&s->mtx);
	if (s->n < 16) {
		s->kind[s->n] = kind;
		s->detail[s->n] = detail;
		s->sub[s->n] = sub;
		s->n++;
	}
	pthread_mutex_unlock(&s->mtx);
}

static int
seen_has(struct seen *s, int kind, int detail, int sub)
{
	int i, r = 0;

	pthread_mutex_lock(&s->mtx);
	for (i = 0; i < s->n; i++)
		if (s->kind[i] == kind && s->detail[i] == detail &&
		    s->sub[i] == sub)
			r = 1;
	pthread_mutex_unlock(&s->mtx);
	return r;
}

struct fixture {
	struct seen	 sa, sb;
	struct hv	*a, *b;
};

static const struct hv_disk disks[2] = {
	{ .target = "vda", .type = "network", .device = "disk",
	    .protocol = "nfs", .source = "/export/vm1.qcow2",
	    .host = "10.0.0.1", .format = "qcow2" },
	{ .target = "hdc", .type = "file", .device = "cdrom", .readonly = 1 },
};

static int
setup(void **state)
{
	struct fixture *f;

	fake_hv_reset();
	if ((f = calloc(1, sizeof(*f))) == NULL)
		return -1;
	pthread_mutex_init(&f->sa.mtx, NULL);
	pthread_mutex_init(&f->sb.mtx, NULL);
	f->a = hv_new(&fake_hv_ops, A, on_event, &f->sa);
	f->b = hv_new(&fake_hv_ops, B, on_event, &f->sb);
	if (f->a == NULL || f->b == NULL || f->a->ops->open(f->a) != 0 ||
	    f->b->ops->open(f->b) != 0)
		return -1;
	if (fake_hv_add_running(A, "vm1", disks, 2) != 0)
		return -1;
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	hv_free(f->a);
	hv_free(f->b);
	pthread_mutex_destroy(&f->sa.mtx);
	pthread_mutex_destroy(&f->sb.mtx);
	free(f);
	fake_hv_reset();
	return 0;
}

static void
test_inventory(void **state)
{
	struct fixture *f = *state;
	struct hv_domain *list, d;
	struct hv_host h, set = { .hostname = "h-a", .uuid = "u-a",
	    .arch = "x86_64", .cpus = 8, .mem_mib = 1000, .mem_free_mib = 10 };
	size_t n;

	assert_true(seen_has(&f->sa, HV_EV_CONN_UP, 0, 0));
	assert_int_equal(fake_hv_calls(A, FAKE_OP_OPEN), 1);

	assert_int_equal(f->a->ops->list_domains(f->a, &list, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(list[0].name, "vm1");
	assert_string_equal(list[0].state_str, "running");
	assert_string_equal(list[0].reason_str, "booted");
	assert_int_equal(list[0].ndisks, 2);
	assert_string_equal(list[0].disks[0].host, "10.0.0.1");
	assert_ptr_not_equal(list[0].disks, disks);
	hv_domain_list_free(list, n);
	assert_int_equal(f->b->ops->list_domains(f->b, &list, &n), 0);
	assert_int_equal(n, 0);
	assert_null(list);

	assert_int_equal(f->a->ops->domain_info(f->a, "nope", &d), -ENOENT);
	assert_string_equal(hv_last_error(), "no domain nope");
	assert_int_equal(fake_hv_calls(A, FAKE_OP_DOMAIN_INFO), 1);

	fake_hv_set_host(A, &set);
	assert_int_equal(f->a->ops->host_info(f->a, &h), 0);
	assert_string_equal(h.hostname, "h-a");
	assert_int_equal(h.cpus, 8);
	assert_int_equal(f->b->ops->host_info(f->b, &h), 0);
	assert_string_equal(h.hostname, "b");
}

static void
test_failures(void **state)
{
	struct fixture *f = *state;
	struct hv_host h;
	char *reason;

	fake_hv_fail(A, FAKE_OP_HOST_INFO, 2, -EIO, "boom");
	assert_int_equal(f->a->ops->host_info(f->a, &h), -EIO);
	assert_string_equal(hv_last_error(), "boom");
	assert_int_equal(f->a->ops->host_info(f->a, &h), -EIO);
	assert_int_equal(f->a->ops->host_info(f->a, &h), 0);
	assert_int_equal(fake_hv_calls(A, FAKE_OP_HOST_INFO), 3);

	fake_hv_set_compare(B, HV_CPU_INCOMPATIBLE, "missing avx2");
	assert_int_equal(f->b->ops->compare_cpu(f->b, "<cpu/>", "e", "x86_64",
	    "pc", "qemu", &reason), HV_CPU_INCOMPATIBLE);
	assert_string_equal(reason, "missing avx2");
	free(reason);
	fake_hv_fail(B, FAKE_OP_COMPARE_CPU, 1, -1, "rpc down");
	assert_int_equal(f->b->ops->compare_cpu(f->b, "<cpu/>", "e", "x86_64",
	    "pc", "qemu", &reason), HV_CPU_ERROR);
	assert_null(reason);
	assert_string_equal(hv_last_error(), "rpc down");
}

struct mig {
	struct hv			*hv;
	struct hv_migrate_params	 mp;
	int				 rc;
	char				 err[256];
	pthread_t			 t;
};

static void *
mig_thread(void *arg)
{
	struct mig *m = arg;

	m->rc = m->hv->ops->migrate(m->hv, "vm1", &m->mp);
	snprintf(m->err, sizeof(m->err), "%s", m->rc ? hv_last_error() : "");
	return NULL;
}

static void
mig_start(struct mig *m, struct hv *hv, int postcopy)
{
	memset(m, 0, sizeof(*m));
	m->hv = hv;
	m->mp.dest_uri = B;
	m->mp.migrate_uri = "tcp://10.0.0.2";
	m->mp.bandwidth_mibs = 5;
	m->mp.persist = 1;
	m->mp.allow_postcopy = postcopy;
	assert_int_equal(pthread_create(&m->t, NULL, mig_thread, m), 0);
}

/* job_stats until the migration thread is inside migrate. */
static void
wait_active(struct hv *hv, struct hv_job_stats *s)
{
	struct timespec ts = { 0, 1000 * 1000 };
	int i;

	for (i = 0; i < 5000; i++) {
		assert_int_equal(hv->ops->job_stats(hv, "vm1", s), 0);
		if (s->active)
			return;
		nanosleep(&ts, NULL);
	}
	fail_msg("migration never started");
}

static void
test_migration_success(void **state)
{
	struct fixture *f = *state;
	struct hv_job_stats script[3] = {
		{ .memory_total = 300, .memory_remaining = 200 },
		{ .memory_total = 300, .memory_remaining = 100 },
		{ .memory_total = 300, .memory_remaining = 0, .downtime = 42 },
	}, s;
	struct fake_hv_migrate_rec rec;
	struct fake_hv_tuning tu;
	struct hv_domain d;
	struct mig m;

	assert_int_equal(fake_hv_script_migration(A, "vm1", script, 3, 0,
	    NULL), 0);
	mig_start(&m, f->a, 0);
	wait_active(f->a, &s);
	assert_int_equal(s.memory_remaining, 200);
	assert_int_equal(s.type, VIR_DOMAIN_JOB_UNBOUNDED);
	assert_int_equal(f->a->ops->set_max_downtime(f->a, "vm1", 400), 0);
	assert_int_equal(fake_hv_get_tuning(A, "vm1", &tu), 0);
	assert_int_equal(tu.migrating, 1);
	assert_int_equal(tu.max_downtime_ms, 400);
	assert_int_equal(f->a->ops->domain_info(f->a, "vm1", &d), 0);
	assert_int_equal(d.job_active, 1);
	hv_domain_clear(&d);
	assert_int_equal(f->a->ops->job_stats(f->a, "vm1", &s), 0);
	assert_int_equal(s.memory_remaining, 100);
	assert_int_equal(f->a->ops->job_stats(f->a, "vm1", &s), 0);
	assert_int_equal(s.downtime, 42);
	assert_int_equal(pthread_join(m.t, NULL), 0);
	assert_int_equal(m.rc, 0);

	assert_false(fake_hv_has_domain(A, "vm1"));	/* persist undefines */
	assert_int_equal(fake_hv_get_domain(B, "vm1", &d), 0);
	assert_string_equal(d.reason_str, "migrated");
	assert_int_equal(d.state, HV_STATE_RUNNING);
	assert_int_equal(d.persistent, 1);
	assert_int_equal(d.ndisks, 2);
	hv_domain_clear(&d);
	assert_true(seen_has(&f->sa, HV_EV_LIFECYCLE,
	    VIR_DOMAIN_EVENT_STOPPED, VIR_DOMAIN_EVENT_STOPPED_MIGRATED));
	assert_true(seen_has(&f->sa, HV_EV_JOB_COMPLETED, 0, 0));
	assert_true(seen_has(&f->sb, HV_EV_LIFECYCLE,
	    VIR_DOMAIN_EVENT_RESUMED, VIR_DOMAIN_EVENT_RESUMED_MIGRATED));

	assert_int_equal(fake_hv_last_migrate(A, &rec), 0);
	assert_string_equal(rec.dest_uri, B);
	assert_string_equal(rec.migrate_uri, "tcp://10.0.0.2");
	assert_int_equal(rec.bandwidth_mibs, 5);
	assert_int_equal(rec.persist, 1);
	assert_int_equal(fake_hv_last_migrate(B, &rec), -1);
}

static void
test_migration_abort(void **state)
{
	struct fixture *f = *state;
	struct hv_job_stats script[50], s;
	struct hv_domain d;
	struct mig m;

	memset(script, 0, sizeof(script));
	assert_int_equal(fake_hv_script_migration(A, "vm1", script, 50, 0,
	    NULL), 0);
	mig_start(&m, f->a, 0);
	wait_active(f->a, &s);
	assert_int_equal(f->a->ops->start_postcopy(f->a, "vm1"), -1);
	assert_non_null(strstr(hv_last_error(), "VIR_MIGRATE_POSTCOPY"));
	assert_int_equal(f->a->ops->abort_job(f->a, "vm1", 0), 0);
	assert_int_equal(pthread_join(m.t, NULL), 0);
	assert_int_equal(m.rc, -1);
	assert_non_null(strstr(m.err, "canceled by client"));
	assert_int_equal(fake_hv_get_domain(A, "vm1", &d), 0);
	assert_string_equal(d.reason_str, "migration-canceled");
	assert_int_equal(d.state, HV_STATE_RUNNING);
	hv_domain_clear(&d);
	assert_false(fake_hv_has_domain(B, "vm1"));
	/* No job any more. */
	assert_int_equal(f->a->ops->abort_job(f->a, "vm1", 0), -1);
	assert_int_equal(f->a->ops->job_stats(f->a, "vm1", &s), 0);
	assert_int_equal(s.active, 0);
}

static void
test_migration_postcopy_failure(void **state)
{
	struct fixture *f = *state;
	struct hv_job_stats script[2] = { { .memory_iteration = 1 },
	    { .memory_iteration = 2 } }, s;
	struct hv_domain d;
	struct mig m;

	assert_int_equal(fake_hv_script_migration(A, "vm1", script, 2, -1,
	    "connection reset"), 0);
	mig_start(&m, f->a, 1);
	wait_active(f->a, &s);
	assert_int_equal(s.postcopy, 0);
	assert_int_equal(f->a->ops->start_postcopy(f->a, "vm1"), 0);
	/* Not abortable without the post-copy flag, as libvirt. */
	assert_int_equal(f->a->ops->abort_job(f->a, "vm1", 0), -1);
	assert_int_equal(f->a->ops->job_stats(f->a, "vm1", &s), 0);
	assert_int_equal(s.postcopy, 1);
	assert_int_equal(s.memory_iteration, 2);
	assert_int_equal(pthread_join(m.t, NULL), 0);
	assert_int_equal(m.rc, -1);
	assert_string_equal(m.err, "migrate vm1: connection reset");
	assert_int_equal(fake_hv_get_domain(A, "vm1", &d), 0);
	assert_int_equal(d.state, HV_STATE_PAUSED);
	assert_string_equal(d.reason_str, "postcopy-failed");
	hv_domain_clear(&d);
	assert_int_equal(fake_hv_get_domain(B, "vm1", &d), 0);
	assert_int_equal(d.state, HV_STATE_RUNNING);
	assert_string_equal(d.reason_str, "postcopy-failed");
	hv_domain_clear(&d);
}

static void
test_destroy_resume(void **state)
{
	struct fixture *f = *state;
	struct hv_domain d;
	uint64_t mibs;

	assert_int_equal(fake_hv_set_state(A, "vm1", VIR_DOMAIN_PAUSED,
	    VIR_DOMAIN_PAUSED_USER), 0);
	assert_int_equal(f->a->ops->resume(f->a, "vm1"), 0);
	assert_true(seen_has(&f->sa, HV_EV_LIFECYCLE,
	    VIR_DOMAIN_EVENT_RESUMED, VIR_DOMAIN_EVENT_RESUMED_UNPAUSED));
	assert_int_equal(fake_hv_set_dirty_rate(A, "vm1", 77), 0);
	assert_int_equal(f->a->ops->dirty_rate(f->a, "vm1", 1, &mibs), 0);
	assert_int_equal(mibs, 77);

	/* persistent: stays, shut off */
	assert_int_equal(f->a->ops->destroy(f->a, "vm1"), 0);
	assert_int_equal(fake_hv_get_domain(A, "vm1", &d), 0);
	assert_string_equal(d.state_str, "shutoff");
	assert_string_equal(d.reason_str, "destroyed");
	hv_domain_clear(&d);
	assert_int_equal(f->a->ops->dirty_rate(f->a, "vm1", 1, &mibs), -1);
	assert_int_equal(f->a->ops->destroy(f->a, "vm1"), -1);

	/* transient: gone */
	memset(&d, 0, sizeof(d));
	snprintf(d.name, sizeof(d.name), "t1");
	d.state = HV_STATE_RUNNING;
	assert_int_equal(fake_hv_add_domain(A, &d), 0);
	assert_int_equal(f->a->ops->destroy(f->a, "t1"), 0);
	assert_false(fake_hv_has_domain(A, "t1"));
	assert_int_equal(fake_hv_emit(A, HV_EV_CONN_LOST, NULL, 1, 0), 1);
	assert_true(seen_has(&f->sa, HV_EV_CONN_LOST, 1, 0));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_inventory, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_failures, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_migration_success, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_migration_abort, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_migration_postcopy_failure,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_destroy_resume, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
