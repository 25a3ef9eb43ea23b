/* test_job.c: the coordinator's migration job state machine, end to end in
 * one process: real ferry-hostd cores (hostd.c, session.c, precheck.c,
 * migrate.c) over the real SSH transport on loopback, each on a fake
 * hypervisor (fake_hv.c), and a real coordinator core with its SQLite store.
 * Every test drives the libuv loop until the job is final and then checks
 * the journal and where the fake hypervisors say the VM is. */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <json.h>
#include <libvirt/libvirt.h>

#include "balance.h"
#include "clock.h"
#include "cluster.h"
#include "coordinator.h"
#include "fake_hv.h"
#include "hostd.h"
#include "log.h"
#include "cpucache.h"
#include "placement.h"

#define NHOSTS		CLUSTER_NHOSTS
#define MIB		(1024ULL * 1024)

/* Set by a test before setup() restarts the coordinator with it. */
static int periodic_rebalance;
static int quiet_pins;		/* g1 and "big" pinned by the configuration */
static int placement_zones;	/* h1, h3 in zone a; h2 in zone b */

static void
job_coord_conf(struct cluster *cl, struct coord_conf *cc)
{
	int i;

	(void)cl;
	if (periodic_rebalance) {
		cc->rebalance.enabled = 1;
		cc->rebalance.interval_s = 1;
		cc->rebalance.max_moves = 1;
		cc->rebalance.quiet_period_s = 3600;
		snprintf(cc->rebalance.threshold, sizeof(cc->rebalance.threshold),
		    "0.01");
	}
	if (quiet_pins) {
		assert_non_null(cc->pinned = calloc(2, sizeof(char *)));
		assert_non_null(cc->pinned[0] = strdup("g1"));
		assert_non_null(cc->pinned[1] = strdup("big"));
		cc->npinned = 2;
	}
	if (!placement_zones)
		return;
	for (i = 0; i < NHOSTS; i++)
		snprintf(cc->hosts[i].zone, sizeof(cc->hosts[i].zone), "%s",
		    i == 1 ? "b" : "a");
	/* "needy" requires a label no host has. */
	assert_non_null(cc->vms = calloc(1, sizeof(*cc->vms)));
	cc->nvms = 1;
	snprintf(cc->vms[0].name, sizeof(cc->vms[0].name), "needy");
	assert_non_null(cc->vms[0].requires_labels = calloc(1, sizeof(char *)));
	assert_non_null(cc->vms[0].requires_labels[0] = strdup("gpu"));
	cc->vms[0].nrequires = 1;
}

static const struct cluster_opts job_opts = {
	.tag = "job",
	.coord_conf = job_coord_conf,
};

static int
setup(void **state)
{
	return cluster_setup(state, &job_opts);
}

static int
teardown(void **state)
{
	return cluster_teardown(state);
}

/* ---- helpers --------------------------------------------------------- */

static int
inventory_has_big(struct cluster *cl, void *arg)
{
	(void)arg;
	return cluster_inventory_has(cl, "big", 2);
}

static int
seen_on_h1(struct cluster *cl, void *arg)
{
	return cluster_inventory_has(cl, arg, 0);
}

static int
seen_on_h2(struct cluster *cl, void *arg)
{
	return cluster_inventory_has(cl, arg, 1);
}

static int64_t
start_job(struct cluster *cl, const char *vm, const char *to,
    uint64_t bandwidth)
{
	Ferry__MigrateOptions o = FERRY__MIGRATE_OPTIONS__INIT;
	struct job *j;
	char err[512];
	int64_t id;

	/* Don't wait for hostd's slow poll; under load give it time. */
	hostd_inventory_refresh(&cl->hd[0]);
	assert_true(cluster_run_until(cl, seen_on_h1, (void *)vm, 20000));
	o.vm = (char *)vm;
	o.to = (char *)to;
	if (bandwidth) {
		o.has_bandwidth_mibs = 1;
		o.bandwidth_mibs = bandwidth;
	}
	if (job_migrate(&cl->co, &o, 0, NULL, &j, err, sizeof(err)) < 0)
		fail_msg("job_migrate: %s", err);
	id = j->id;
	job_run(j);	/* a refusal before any call frees j at once */
	return id;
}

/* The journal's state events, in order, joined by spaces. */
static void
journal_states(struct cluster *cl, int64_t id, char *out, size_t len)
{
	struct store_event *ev = NULL;
	size_t n = 0, i, off = 0;

	assert_int_equal(store_job_events(cl->co.store, id, &ev, &n), 0);
	out[0] = '\0';
	for (i = 0; i < n; i++)
		if (strcmp(ev[i].type, "state") == 0)
			off += snprintf(out + off, len - off, "%s%s",
			    off ? " " : "", ev[i].state);
	store_event_list_free(ev, n);
}

static size_t
journal_count(struct cluster *cl, int64_t id, const char *type)
{
	struct store_event *ev = NULL;
	size_t n = 0, i, c = 0;

	assert_int_equal(store_job_events(cl->co.store, id, &ev, &n), 0);
	for (i = 0; i < n; i++)
		if (strcmp(ev[i].type, type) == 0)
			c++;
	store_event_list_free(ev, n);
	return c;
}


/* ---- tests ------------------------------------------------------------ */

static void
test_success(void **state)
{
	struct cluster *cl = *state;
	struct fake_hv_migrate_rec rec;
	char states[256];
	int64_t id;

	assert_int_equal(fake_hv_add_running(cluster_host_uri(0), "vm1", NULL, 0), 0);
	cluster_script(0, "vm1", 4, 0, NULL);
	id = start_job(cl, "vm1", "h2", 40);
	cluster_wait_final(cl, id, 15000);
	cluster_expect_job(cl, id, "succeeded", NULL);
	journal_states(cl, id, states, sizeof(states));
	assert_string_equal(states,
	    "pending checking migrating verifying succeeded");
	assert_true(journal_count(cl, id, "progress") >= 1);
	assert_true(journal_count(cl, id, "checks") == 1);
	assert_true(cluster_running_on(cluster_host_uri(1), "vm1"));
	assert_false(fake_hv_has_domain(cluster_host_uri(0), "vm1"));
	/* What hostd asked libvirt for. */
	assert_int_equal(fake_hv_last_migrate(cluster_host_uri(0), &rec), 0);
	assert_string_equal(rec.dest_uri, cluster_host_uri(1));
	assert_string_equal(rec.migrate_uri, "tcp://127.0.0.1");
	assert_int_equal(rec.bandwidth_mibs, 40);
	assert_true(rec.persist);
	assert_false(rec.allow_postcopy);
}

/* The data of the job's last journal event, parsed (caller puts). */
static struct json_object *
journal_last_data(struct cluster *cl, int64_t id)
{
	struct store_event *ev = NULL;
	struct json_object *o;
	size_t n = 0;

	assert_int_equal(store_job_events(cl->co.store, id, &ev, &n), 0);
	assert_true(n > 0 && ev[n - 1].data != NULL);
	o = json_tokener_parse(ev[n - 1].data);
	assert_non_null(o);
	store_event_list_free(ev, n);
	return o;
}

/*
 * The final figures are libvirt's completed-job statistics (measured), not
 * the last sample (whose downtime is QEMU's estimate: 40 ms here, and whose
 * data lags: 256 MiB). Without completed stats they are unknown (null).
 */
static void
test_final_figures(void **state)
{
	struct cluster *cl = *state;
	struct hv_job_stats done;
	struct json_object *o, *v;
	int64_t id;

	assert_int_equal(fake_hv_add_running(cluster_host_uri(0), "vm1", NULL, 0), 0);
	cluster_script(0, "vm1", 4, 0, NULL);
	memset(&done, 0, sizeof(done));
	done.has_downtime = 1;
	done.downtime = 35;
	done.data_processed = 300 * MIB;
	done.memory_processed = 290 * MIB;
	done.memory_total = 256 * MIB;
	done.time_elapsed = 4321;
	done.memory_iteration = 3;
	assert_int_equal(fake_hv_script_completed(cluster_host_uri(0), "vm1", &done),
	    0);
	id = start_job(cl, "vm1", "h2", 40);
	cluster_wait_final(cl, id, 15000);
	cluster_expect_job(cl, id, "succeeded", NULL);
	o = journal_last_data(cl, id);
	assert_true(json_object_object_get_ex(o, "downtime_ms", &v));
	assert_non_null(v);
	assert_int_equal(json_object_get_int64(v), 35);
	assert_true(json_object_object_get_ex(o, "data_bytes", &v));
	assert_non_null(v);
	assert_int_equal(json_object_get_int64(v), 300 * MIB);
	assert_true(json_object_object_get_ex(o, "data_mib", &v));
	assert_true(json_object_get_double(v) > 299.9 &&
	    json_object_get_double(v) < 300.1);
	assert_true(json_object_object_get_ex(o, "migration_ms", &v));
	assert_int_equal(json_object_get_int64(v), 4321);
	assert_true(json_object_object_get_ex(o, "passes", &v));
	assert_int_equal(json_object_get_int64(v), 3);
	json_object_put(o);

	/* Without completed statistics: unknown, not 40 ms. */
	assert_int_equal(fake_hv_add_running(cluster_host_uri(0), "vm2", NULL, 0), 0);
	cluster_script(0, "vm2", 4, 0, NULL);
	id = start_job(cl, "vm2", "h2", 40);
	cluster_wait_final(cl, id, 15000);
	cluster_expect_job(cl, id, "succeeded", NULL);
	o = journal_last_data(cl, id);
	assert_true(json_object_object_get_ex(o, "downtime_ms", &v));
	assert_null(v);
	assert_true(json_object_object_get_ex(o, "data_mib", &v));
	assert_null(v);
	json_object_put(o);
}

/*
 * The progress ferryctl shows is true (issue 13): no ETA from one sample
 * or at 0 MiB/s (it said "ETA 0s" at 0.5 %); a new pass raising what
 * remains does not make the percentage fall back; sent may exceed the
 * memory total and is reported as it is.
 */
static void
test_progress_event_truth(void **state)
{
	struct job *j;
	Ferry__JobStats s = FERRY__JOB_STATS__INIT;
	Ferry__JobEvent ev = FERRY__JOB_EVENT__INIT;
	double pct;

	(void)state;
	assert_non_null(j = calloc(1, sizeof(*j)));
	s.data_total = s.memory_total = 256 * MIB;
	s.has_memory_total = s.has_memory_remaining = s.has_memory_bps = 1;
	s.has_dirty_rate_bps = s.has_iteration = 1;
	s.memory_remaining = 255 * MIB;
	s.data_processed = 1 * MIB;
	s.memory_bps = 0;
	s.iteration = 1;
	job_progress_event(j, &s, &ev);
	assert_false(ev.has_eta_s);		/* one sample, 0 MiB/s */
	ferry__job_event__init(&ev);
	s.memory_remaining = 250 * MIB;
	job_progress_event(j, &s, &ev);
	assert_false(ev.has_eta_s);		/* two samples, still 0 MiB/s */

	ferry__job_event__init(&ev);
	s.memory_remaining = 56 * MIB;
	s.data_processed = 200 * MIB;
	s.memory_bps = 50 * MIB;
	s.dirty_rate_bps = 10 * MIB;
	job_progress_event(j, &s, &ev);
	assert_true(ev.has_eta_s);
	assert_true(ev.eta_s > 1.39 && ev.eta_s < 1.41);	/* 56 / (50 - 10) */
	pct = ev.percent;
	assert_true(pct > 78.0 && pct < 78.2);

	/* Pass 2 starts: remaining rises again, sent passes the total. */
	ferry__job_event__init(&ev);
	s.memory_remaining = 120 * MIB;
	s.data_processed = 354 * MIB;
	s.iteration = 2;
	job_progress_event(j, &s, &ev);
	assert_true(ev.percent >= pct);
	assert_true(ev.data_processed_mib > ev.data_total_mib);
	assert_true(ev.data_remaining_mib > 119.9 &&
	    ev.data_remaining_mib < 120.1);
	assert_true(ev.has_remaining_low_mib);
	assert_true(ev.remaining_low_mib > 55.9 && ev.remaining_low_mib < 56.1);
	assert_int_equal(ev.iteration, 2);

	/* Dirtying as fast as it sends: no estimate can be made. */
	ferry__job_event__init(&ev);
	s.dirty_rate_bps = 60 * MIB;
	job_progress_event(j, &s, &ev);
	assert_false(ev.has_eta_s);
	free(j);
}

static void
test_refused_local_disk(void **state)
{
	struct cluster *cl = *state;
	struct hv_disk d;
	char path[128];
	int64_t id;

	memset(&d, 0, sizeof(d));
	snprintf(path, sizeof(path), "%s/local.qcow2", cl->dir);
	cluster_sh(": > %s", path);
	snprintf(d.target, sizeof(d.target), "vda");
	snprintf(d.type, sizeof(d.type), "file");
	snprintf(d.device, sizeof(d.device), "disk");
	snprintf(d.source, sizeof(d.source), "%s", path);
	snprintf(d.format, sizeof(d.format), "qcow2");
	assert_int_equal(fake_hv_add_running(cluster_host_uri(0), "vmlocal", &d, 1), 0);
	id = start_job(cl, "vmlocal", "h2", 0);
	cluster_wait_final(cl, id, 15000);
	cluster_expect_job(cl, id, "refused", "vda");
	assert_int_equal(fake_hv_calls(cluster_host_uri(0), FAKE_OP_MIGRATE), 0);
	assert_true(cluster_running_on(cluster_host_uri(0), "vmlocal"));
	assert_false(fake_hv_has_domain(cluster_host_uri(1), "vmlocal"));
}

/* An RBD disk: the key comes from each host's own libvirt secret of the UUID
 * the domain names. None on the source: refused naming the secret, nothing
 * contacted. With it: librados tries the domain's monitor (nobody listens),
 * refused naming the monitor within the pre-check's deadline. */
static void
test_refused_rbd(void **state)
{
	static const unsigned char key[16] = { 0x41, 0x51, 0x42 };
	struct cluster *cl = *state;
	struct hv_disk d;
	int64_t id, t0;

	memset(&d, 0, sizeof(d));
	snprintf(d.target, sizeof(d.target), "vda");
	snprintf(d.type, sizeof(d.type), "network");
	snprintf(d.device, sizeof(d.device), "disk");
	snprintf(d.protocol, sizeof(d.protocol), "rbd");
	snprintf(d.source, sizeof(d.source), "rbd/vmrbd");
	snprintf(d.host, sizeof(d.host), "127.0.0.1");
	snprintf(d.hosts, sizeof(d.hosts), "127.0.0.1:1");
	snprintf(d.format, sizeof(d.format), "raw");
	snprintf(d.auth_user, sizeof(d.auth_user), "ferry");
	snprintf(d.secret_uuid, sizeof(d.secret_uuid),
	    "fe77ceb0-0000-4000-8000-000000000001");
	assert_int_equal(fake_hv_add_running(cluster_host_uri(0), "vmrbd", &d, 1), 0);
	id = start_job(cl, "vmrbd", "h2", 0);
	cluster_wait_final(cl, id, 15000);
	cluster_expect_job(cl, id, "refused", "no libvirt secret "
	    "fe77ceb0-0000-4000-8000-000000000001 on this host");
	assert_int_equal(fake_hv_calls(cluster_host_uri(0), FAKE_OP_MIGRATE), 0);

	fake_hv_set_secret(cluster_host_uri(0), d.secret_uuid, key, sizeof(key));
	t0 = (int64_t)cluster_mono_ms();
	id = start_job(cl, "vmrbd", "h2", 0);
	cluster_wait_final(cl, id, 20000);
	cluster_expect_job(cl, id, "refused", "Ceph monitor 127.0.0.1:1");
	assert_true((int64_t)cluster_mono_ms() - t0 < 15000);
	assert_int_equal(fake_hv_calls(cluster_host_uri(0), FAKE_OP_MIGRATE), 0);
	assert_true(cluster_running_on(cluster_host_uri(0), "vmrbd"));
	assert_false(fake_hv_has_domain(cluster_host_uri(1), "vmrbd"));
}

static void
test_refused_cpu(void **state)
{
	struct cluster *cl = *state;
	int64_t id;

	assert_int_equal(fake_hv_add_running(cluster_host_uri(0), "vmcpu", NULL, 0), 0);
	fake_hv_set_compare(cluster_host_uri(1), HV_CPU_INCOMPATIBLE,
	    "Host CPU does not provide required features: avx512f");
	id = start_job(cl, "vmcpu", "h2", 0);
	cluster_wait_final(cl, id, 15000);
	cluster_expect_job(cl, id, "refused", "avx512f");
	assert_int_equal(fake_hv_calls(cluster_host_uri(0), FAKE_OP_MIGRATE), 0);
	assert_true(cluster_running_on(cluster_host_uri(0), "vmcpu"));
}

static void
test_abort(void **state)
{
	struct cluster *cl = *state;
	struct fake_hv_tuning t;
	char err[256];
	int64_t id, arg[2];

	assert_int_equal(fake_hv_add_running(cluster_host_uri(0), "vmab", NULL, 0), 0);
	cluster_script(0, "vmab", 60, 0, NULL);
	id = start_job(cl, "vmab", "h2", 5);
	arg[0] = id;
	arg[1] = JOB_MIGRATING;
	assert_true(cluster_run_until(cl, cluster_job_in, arg, 10000));
	/* A second migration of the same VM is refused while this one runs. */
	{
		Ferry__MigrateOptions o = FERRY__MIGRATE_OPTIONS__INIT;
		struct job *j2;

		o.vm = "vmab";
		o.to = "h3";
		assert_int_equal(job_migrate(&cl->co, &o, 0, NULL, &j2, err,
		    sizeof(err)), -FERRY_ECONFLICT);
		assert_non_null(strstr(err, "in flight"));
	}
	cluster_run_until(cl, cluster_job_gone, &id, 1200);	/* let a sample or two pass */
	assert_int_equal(job_abort(&cl->co, id, "aborted by operator", err,
	    sizeof(err)), 0);
	cluster_wait_final(cl, id, 15000);
	cluster_expect_job(cl, id, "rolled_back", "aborted by operator");
	assert_int_equal(fake_hv_get_tuning(cluster_host_uri(0), "vmab", &t), 0);
	assert_true(t.aborted);
	/* The policy set the initial max downtime on the first sample. */
	assert_int_equal(t.max_downtime_ms, 100);
	assert_true(cluster_running_on(cluster_host_uri(0), "vmab"));
	assert_false(fake_hv_has_domain(cluster_host_uri(1), "vmab"));
}

/* What an ABORT call got back (test_abort_reply). */
struct abort_reply {
	int	done, ok, code;
	char	err[512];
};

static void
abort_reply_cb(struct host *h, const struct frame *f, const char *err,
    void *arg)
{
	struct abort_reply *ar = arg;

	ar->done = 1;
	ar->ok = f != NULL;
	ar->code = h->reply_code;
	snprintf(ar->err, sizeof(ar->err), "%s", err ? err : "");
}

static int
abort_replied(struct cluster *cl, void *arg)
{
	(void)cl;
	return ((struct abort_reply *)arg)->done;
}

static void
send_abort(struct cluster *cl, int64_t id, struct abort_reply *ar)
{
	Ferry__JobRef ref = FERRY__JOB_REF__INIT;

	memset(ar, 0, sizeof(*ar));
	ref.job_id = id;
	ref.name = "x";
	assert_int_equal(peer_call(&cl->co.hosts[0], MSG_ABORT, &ref.base,
	    10000, abort_reply_cb, ar), 0);
	assert_true(cluster_run_until(cl, abort_replied, ar, 10000));
}

/* The source's libvirt has the migration job: an abort now meets it. */
static int
src_migrating(struct cluster *cl, void *arg)
{
	(void)cl;
	return fake_hv_migrating(cluster_host_uri(0), arg);
}

/*
 * Finding 6, hostd's side: ABORT is answered after libvirt has, and its
 * refusal comes back as an ERROR with libvirt's message; a job that does
 * not migrate there is ESRCH, not a failure. hostd used to answer OK as
 * soon as the abort was queued and only log libvirt's refusal.
 */
static void
test_abort_reply(void **state)
{
	struct cluster *cl = *state;
	struct abort_reply ar;
	int64_t id, arg[2];

	send_abort(cl, 999, &ar);
	assert_false(ar.ok);
	assert_int_equal(ar.code, ESRCH);

	assert_int_equal(fake_hv_add_running(cluster_host_uri(0), "vmar", NULL, 0), 0);
	cluster_script(0, "vmar", 60, 0, NULL);
	id = start_job(cl, "vmar", "h2", 5);
	arg[0] = id;
	arg[1] = JOB_MIGRATING;
	assert_true(cluster_run_until(cl, cluster_job_in, arg, 10000));
	assert_true(cluster_run_until(cl, src_migrating, (void *)"vmar", 10000));
	fake_hv_fail(cluster_host_uri(0), FAKE_OP_ABORT_JOB, 1, -1, "abort job vmar: "
	    "Timed out during operation: cannot acquire state change lock");
	send_abort(cl, id, &ar);
	assert_false(ar.ok);
	assert_int_equal(ar.code, EIO);
	assert_non_null(strstr(ar.err, "cannot acquire state change lock"));
	assert_true(fake_hv_calls(cluster_host_uri(0), FAKE_OP_ABORT_JOB) == 1);

	send_abort(cl, id, &ar);
	assert_true(ar.ok);
	cluster_wait_final(cl, id, 15000);
	cluster_expect_job(cl, id, "rolled_back", NULL);
	assert_true(cluster_running_on(cluster_host_uri(0), "vmar"));
}

/* The job's history events of a type whose data contains part. */
static size_t
journal_count_with(struct cluster *cl, int64_t id, const char *type,
    const char *part)
{
	struct store_event *ev = NULL;
	size_t n = 0, i, c = 0;

	assert_int_equal(store_job_events(cl->co.store, id, &ev, &n), 0);
	for (i = 0; i < n; i++)
		if (strcmp(ev[i].type, type) == 0 && ev[i].data != NULL &&
		    strstr(ev[i].data, part) != NULL)
			c++;
	store_event_list_free(ev, n);
	return c;
}

/*
 * Finding 6: libvirt refuses the first abort. The coordinator keeps the
 * abort pending, sends it again although progress events keep coming, and
 * the job ends rolled_back with the VM on the source only; the history
 * says what became of each attempt. Before, the refusal was only logged
 * and the migration completed: the abort was lost.
 */
static void
test_abort_refused_is_retried(void **state)
{
	struct cluster *cl = *state;
	char err[256];
	int64_t id, arg[2];

	assert_int_equal(fake_hv_add_running(cluster_host_uri(0), "vmre", NULL, 0), 0);
	cluster_script(0, "vmre", 16, 0, NULL);	/* 8 s: completes unless aborted */
	id = start_job(cl, "vmre", "h2", 5);
	arg[0] = id;
	arg[1] = JOB_MIGRATING;
	assert_true(cluster_run_until(cl, cluster_job_in, arg, 10000));
	assert_true(cluster_run_until(cl, src_migrating, (void *)"vmre", 10000));
	fake_hv_fail(cluster_host_uri(0), FAKE_OP_ABORT_JOB, 1, -1, "abort job vmre: "
	    "Timed out during operation: cannot acquire state change lock");
	assert_int_equal(job_abort(&cl->co, id, "aborted by operator", err,
	    sizeof(err)), 0);
	cluster_wait_final(cl, id, 15000);
	cluster_expect_job(cl, id, "rolled_back", "aborted by operator");
	assert_int_equal(fake_hv_calls(cluster_host_uri(0), FAKE_OP_ABORT_JOB), 2);
	assert_true(cluster_running_on(cluster_host_uri(0), "vmre"));
	assert_false(fake_hv_has_domain(cluster_host_uri(1), "vmre"));
	assert_int_equal(journal_count_with(cl, id, "abort",
	    "cannot acquire state change lock; retrying"), 1);
	assert_int_equal(journal_count_with(cl, id, "abort",
	    "accepted it"), 1);
	assert_int_equal(journal_count_with(cl, id, "abort",
	    "the migration ended (not completed) after 2 abort call(s)"), 1);
}

/* The first abort's failure is journaled: the coordinator got its reply. */
static int
first_abort_failed(struct cluster *cl, void *arg)
{
	return journal_count_with(cl, *(int64_t *)arg, "abort",
	    "retrying") == 1;
}

/*
 * Issue 11: an abort asked, then the coordinator killed before the source
 * carried it out (its first try failed, the retry never came). The
 * restarted coordinator reads the pending abort from the journal and sends
 * it again: the job rolls back. Before, the abort lived in memory only and
 * the recovered migration completed.
 */
static void
test_abort_survives_restart(void **state)
{
	struct cluster *cl = *state;
	char err[256];
	int64_t id, arg[2];

	assert_int_equal(fake_hv_add_running(cluster_host_uri(0), "vmas", NULL, 0), 0);
	cluster_script(0, "vmas", 24, 0, NULL);	/* 12 s: completes unless aborted */
	id = start_job(cl, "vmas", "h2", 5);
	arg[0] = id;
	arg[1] = JOB_MIGRATING;
	assert_true(cluster_run_until(cl, cluster_job_in, arg, 10000));
	assert_true(cluster_run_until(cl, src_migrating, (void *)"vmas", 10000));
	fake_hv_fail(cluster_host_uri(0), FAKE_OP_ABORT_JOB, 1, -1, "abort job vmas: "
	    "Timed out during operation: cannot acquire state change lock");
	assert_int_equal(job_abort(&cl->co, id, "aborted by operator", err,
	    sizeof(err)), 0);
	assert_true(cluster_run_until(cl, first_abort_failed, &id, 10000));
	/* Gone before its retry (ABORT_RETRY_MS); hostd carries on. */
	cluster_coord_stop(cl);
	assert_int_equal(fake_hv_calls(cluster_host_uri(0), FAKE_OP_ABORT_JOB), 1);
	cluster_coord_start(cl);
	assert_non_null(job_find(&cl->co, id));
	cluster_wait_final(cl, id, 20000);
	cluster_expect_job(cl, id, "rolled_back", "aborted by operator");
	assert_int_equal(fake_hv_calls(cluster_host_uri(0), FAKE_OP_ABORT_JOB), 2);
	assert_true(cluster_running_on(cluster_host_uri(0), "vmas"));
	assert_false(fake_hv_has_domain(cluster_host_uri(1), "vmas"));
	assert_int_equal(journal_count_with(cl, id, "abort",
	    "coordinator restarted with the abort pending"), 1);
	assert_int_equal(journal_count_with(cl, id, "abort-request",
	    "aborted by operator"), 1);
}

/* Replies to the slow calls of test_slow_checks_do_not_starve. */
struct slow_calls {
	int	replied, busy, other;
};

static void
slow_cb(struct host *h, const struct frame *f, const char *err, void *arg)
{
	struct slow_calls *sc = arg;

	(void)h;
	if (f != NULL)
		sc->replied++;
	else if (err != NULL && strstr(err, "hostd busy") != NULL)
		sc->busy++;
	else
		sc->other++;
}

static int
slow_answered(struct cluster *cl, void *arg)
{
	struct slow_calls *sc = arg;

	(void)cl;
	return sc->replied + sc->busy + sc->other == 24;
}

static int
slow_busy(struct cluster *cl, void *arg)
{
	(void)cl;
	return ((struct slow_calls *)arg)->busy;
}

static int
dirty_rates_stuck(struct cluster *cl, void *arg)
{
	(void)cl;
	return fake_hv_delayed(cluster_host_uri(0), FAKE_OP_DIRTY_RATE) >=
	    *(unsigned *)arg;
}

static int
op_calls_reach(struct cluster *cl, void *arg)
{
	unsigned *a = arg;	/* op, count */

	(void)cl;
	return fake_hv_calls(cluster_host_uri(0), (enum fake_hv_op)a[0]) >= a[1];
}

static int
hb_reaches(struct cluster *cl, void *arg)
{
	return cl->hd[0].hb_seq >= *(uint64_t *)arg;
}

/*
 * Finding 5: slow checks must not freeze migrations. With 16 dirty-rate
 * measurements stuck in a slow libvirt on the source (and more refused as
 * busy rather than queued without bound), the running migration's polling
 * and convergence go on, heartbeats flow, and an ABORT reaches libvirt
 * within a second. On one shared pool of 4 workers, the abort waited
 * behind the checks and polling stopped.
 */
static void
test_slow_checks_do_not_starve(void **state)
{
	struct cluster *cl = *state;
	struct host *h = &cl->co.hosts[0];
	struct slow_calls sc = { 0, 0, 0 };
	char err[256];
	unsigned stuck = 4, poll[2], ab[2];
	uint64_t hb, t0, abort_ms;
	int64_t id, arg[2];
	int i, polled, aborted;

	assert_int_equal(fake_hv_add_running(cluster_host_uri(0), "vmslow", NULL, 0), 0);
	cluster_script(0, "vmslow", 60, 0, NULL);
	id = start_job(cl, "vmslow", "h2", 5);
	arg[0] = id;
	arg[1] = JOB_MIGRATING;
	assert_true(cluster_run_until(cl, cluster_job_in, arg, 10000));

	fake_hv_delay(cluster_host_uri(0), FAKE_OP_DIRTY_RATE, 30000);
	for (i = 0; i < 24; i++) {
		Ferry__DirtyRateRequest r = FERRY__DIRTY_RATE_REQUEST__INIT;

		r.name = "vmslow";
		r.seconds = 1;
		assert_int_equal(peer_call(h, MSG_DIRTY_RATE, &r.base, 60000,
		    slow_cb, &sc), 0);
	}
	/* Every thread that runs checks is stuck in libvirt. */
	assert_true(cluster_run_until(cl, dirty_rates_stuck, &stuck, 5000));

	/* Polling and convergence go on meanwhile. */
	poll[0] = FAKE_OP_JOB_STATS;
	poll[1] = fake_hv_calls(cluster_host_uri(0), FAKE_OP_JOB_STATS) + 3;
	polled = cluster_run_until(cl, op_calls_reach, poll, 3000);
	hb = cl->hd[0].hb_seq + 1;

	/* The abort reaches libvirt at once. */
	ab[0] = FAKE_OP_ABORT_JOB;
	ab[1] = 1;
	t0 = cluster_mono_ms();
	assert_int_equal(job_abort(&cl->co, id, "aborted by operator", err,
	    sizeof(err)), 0);
	aborted = cluster_run_until(cl, op_calls_reach, ab, 1000);
	abort_ms = cluster_mono_ms() - t0;
	print_message("polling went on: %s; abort reached libvirt after "
	    "%llu ms\n", polled ? "yes" : "no", (unsigned long long)abort_ms);
	assert_true(polled);
	assert_true(aborted);
	assert_true(cluster_run_until(cl, hb_reaches, &hb, 3000));

	cluster_wait_final(cl, id, 15000);
	cluster_expect_job(cl, id, "rolled_back", "aborted by operator");
	assert_true(cluster_running_on(cluster_host_uri(0), "vmslow"));
	assert_false(fake_hv_has_domain(cluster_host_uri(1), "vmslow"));

	/* The checks class took 16 and refused the rest as busy at once. */
	assert_true(cluster_run_until(cl, slow_busy, &sc, 1000));
	assert_int_equal(sc.busy, 8);
	assert_int_equal(sc.replied + sc.other, 0);
	fake_hv_delay(cluster_host_uri(0), FAKE_OP_DIRTY_RATE, 0);
	assert_true(cluster_run_until(cl, slow_answered, &sc, 10000));
	assert_int_equal(sc.replied, 16);
	assert_int_equal(sc.other, 0);
	assert_true(cl->co.hosts[0].up);
}

static void
test_libvirt_failure(void **state)
{
	struct cluster *cl = *state;
	int64_t id;

	assert_int_equal(fake_hv_add_running(cluster_host_uri(0), "vmf", NULL, 0), 0);
	cluster_script(0, "vmf", 3, -1, "Unable to read from monitor: Connection reset");
	id = start_job(cl, "vmf", "h2", 0);
	cluster_wait_final(cl, id, 15000);
	cluster_expect_job(cl, id, "rolled_back", "Connection reset");
	assert_true(cluster_running_on(cluster_host_uri(0), "vmf"));
}

static void
test_both_running_is_failed(void **state)
{
	struct cluster *cl = *state;
	int64_t id, arg[2];

	assert_int_equal(fake_hv_add_running(cluster_host_uri(0), "vmb", NULL, 0), 0);
	cluster_script(0, "vmb", 6, -1, "migration failed");
	id = start_job(cl, "vmb", "h2", 0);
	arg[0] = id;
	arg[1] = JOB_MIGRATING;
	assert_true(cluster_run_until(cl, cluster_job_in, arg, 10000));
	/* Something outside Ferry starts a copy on the destination. */
	assert_int_equal(fake_hv_add_running(cluster_host_uri(1), "vmb", NULL, 0), 0);
	cluster_wait_final(cl, id, 15000);
	cluster_expect_job(cl, id, "failed", "BOTH");
}

static void
test_recovery_after_restart(void **state)
{
	struct cluster *cl = *state;
	char states[256];
	int64_t id, arg[2];

	assert_int_equal(fake_hv_add_running(cluster_host_uri(0), "vmr", NULL, 0), 0);
	cluster_script(0, "vmr", 12, 0, NULL);
	id = start_job(cl, "vmr", "h2", 0);
	arg[0] = id;
	arg[1] = JOB_MIGRATING;
	assert_true(cluster_run_until(cl, cluster_job_in, arg, 10000));
	/* The coordinator goes away mid-flight; hostd carries on. */
	cluster_coord_stop(cl);
	for (int k = 0; k < 300; k++)
		uv_run(&cl->loop, UV_RUN_NOWAIT), usleep(5000);
	cluster_coord_start(cl);
	assert_non_null(job_find(&cl->co, id));
	cluster_wait_final(cl, id, 20000);
	cluster_expect_job(cl, id, "succeeded", NULL);
	journal_states(cl, id, states, sizeof(states));
	assert_string_equal(states,
	    "pending checking migrating verifying succeeded");
	assert_true(cluster_running_on(cluster_host_uri(1), "vmr"));
	assert_false(fake_hv_has_domain(cluster_host_uri(0), "vmr"));
}

static void
test_picks_least_loaded(void **state)
{
	struct cluster *cl = *state;
	struct store_job sj;
	struct hv_domain big;
	int64_t id;

	/* h2 carries a 2 GiB guest: h3 has more room. */
	memset(&big, 0, sizeof(big));
	snprintf(big.name, sizeof(big.name), "big");
	snprintf(big.uuid, sizeof(big.uuid), "5a1e0000-0000-0000-0000-0000000000b1");
	big.state = HV_STATE_RUNNING;
	big.mem_mib = 2048;
	big.vcpus = 2;
	big.persistent = 1;
	assert_int_equal(fake_hv_add_domain(cluster_host_uri(1), &big), 0);
	hostd_inventory_refresh(&cl->hd[1]);
	assert_int_equal(fake_hv_add_running(cluster_host_uri(0), "vmp", NULL, 0), 0);
	for (int k = 0; k < 200; k++)
		uv_run(&cl->loop, UV_RUN_NOWAIT), usleep(2000);
	id = start_job(cl, "vmp", NULL, 0);
	cluster_wait_final(cl, id, 15000);
	cluster_expect_job(cl, id, "succeeded", NULL);
	memset(&sj, 0, sizeof(sj));
	assert_int_equal(store_job_get(cl->co.store, id, &sj), 1);
	assert_string_equal(sj.destination, "h3");
	store_job_clear(&sj);
	assert_true(cluster_running_on(cluster_host_uri(2), "vmp"));
}

static void
test_bad_requests(void **state)
{
	struct cluster *cl = *state;
	Ferry__MigrateOptions o = FERRY__MIGRATE_OPTIONS__INIT;
	struct job *j;
	char err[256];

	assert_int_equal(fake_hv_add_running(cluster_host_uri(0), "vmx", NULL, 0), 0);
	hostd_inventory_refresh(&cl->hd[0]);
	assert_true(cluster_run_until(cl, seen_on_h1, "vmx", 20000));
	o.vm = "nosuch";
	assert_int_equal(job_migrate(&cl->co, &o, 0, NULL, &j, err, sizeof(err)), -FERRY_ENOTFOUND);
	assert_string_equal(err, "unknown VM 'nosuch'");
	o.vm = "vmx";
	o.to = "h1";
	assert_int_equal(job_migrate(&cl->co, &o, 0, NULL, &j, err, sizeof(err)), -1);
	assert_string_equal(err, "vmx already runs on h1");
	o.to = "h9";
	assert_int_equal(job_migrate(&cl->co, &o, 0, NULL, &j, err, sizeof(err)), -FERRY_ENOTFOUND);
	assert_string_equal(err, "unknown host 'h9'");
	/* Nothing was recorded for refused requests. */
	{
		struct store_job *sj = NULL;
		size_t n = 0;

		assert_int_equal(store_jobs_list(cl->co.store, 0, 0, &sj, &n), 0);
		assert_int_equal(n, 0);
		store_job_list_free(sj, n);
	}
}

/* A file with that text (the test's temporary files). */
static void
wire_write(const char *path, const char *text)
{
	FILE *fp = fopen(path, "w");

	assert_non_null(fp);
	fputs(text, fp);
	fclose(fp);
}

/*
 * The wire: --parallel reaches libvirt as that many streams, a bad number
 * and --parallel with --postcopy are refused before anything is recorded;
 * under migration_tls = "required" --no-tls is refused, a destination
 * without QEMU's x509 files is refused by its own pre-check, and with them
 * the migration asks libvirt for TLS without being told. The automatic
 * rule and the drain's parallelism follow what was measured.
 */
static void
test_wire(void **state)
{
	struct cluster *cl = *state;
	Ferry__MigrateOptions o = FERRY__MIGRATE_OPTIONS__INIT;
	struct fake_hv_migrate_rec rec;
	struct job *j, fj;
	char err[512], why[256], dir[] = "/tmp/ferry-wire-XXXXXX", path[600];
	const char *dests[2] = { "h2", "h3" };
	int64_t id;
	int i;

	assert_int_equal(fake_hv_add_running(cluster_host_uri(0), "vw", NULL, 0), 0);
	cluster_script(0, "vw", 4, 0, NULL);
	hostd_inventory_refresh(&cl->hd[0]);
	assert_true(cluster_run_until(cl, seen_on_h1, "vw", 20000));
	o.vm = "vw";
	o.to = "h2";
	o.has_parallel = 1;
	o.parallel = 0;
	assert_int_equal(job_migrate(&cl->co, &o, 0, NULL, &j, err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "--parallel 0: the number of migration "
	    "streams must be 1"));
	o.parallel = 1000;
	assert_int_equal(job_migrate(&cl->co, &o, 0, NULL, &j, err,
	    sizeof(err)), -1);
	o.parallel = 3;
	o.has_postcopy = 1;
	o.postcopy = 1;
	assert_int_equal(job_migrate(&cl->co, &o, 0, NULL, &j, err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "cannot run post-copy over several"));
	o.has_postcopy = 0;
	assert_int_equal(job_migrate(&cl->co, &o, 0, NULL, &j, err,
	    sizeof(err)), 0);
	id = j->id;
	job_run(j);
	cluster_wait_final(cl, id, 15000);
	cluster_expect_job(cl, id, "succeeded", NULL);
	assert_int_equal(fake_hv_last_migrate(cluster_host_uri(0), &rec), 0);
	assert_int_equal(rec.parallel, 3);
	assert_false(rec.tls);

	/* TLS required: h1's QEMU files in dir, h1 is the destination. */
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/qemu.conf", dir);
	wire_write(path, "# lab\nmigrate_tls_x509_cert_dir = \"");
	{
		FILE *fp = fopen(path, "a");

		assert_non_null(fp);
		fprintf(fp, "%s/pki\"\n", dir);
		fclose(fp);
	}
	for (i = 0; i < NHOSTS; i++)
		snprintf(cl->hd[i].conf.qemu_conf,
		    sizeof(cl->hd[i].conf.qemu_conf), "%s", path);
	snprintf(cl->co.conf.migration_tls, sizeof(cl->co.conf.migration_tls),
	    "required");
	cluster_script(1, "vw", 4, 0, NULL);
	hostd_inventory_refresh(&cl->hd[1]);
	assert_true(cluster_run_until(cl, seen_on_h2, "vw", 20000));
	memset(&o, 0, sizeof(o));
	ferry__migrate_options__init(&o);
	o.vm = "vw";
	o.to = "h1";
	o.has_tls = 1;
	o.tls = -1;
	assert_int_equal(job_migrate(&cl->co, &o, 0, NULL, &j, err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "--no-tls refused: the cluster's policy "
	    "requires TLS"));
	o.has_tls = 0;
	assert_int_equal(job_migrate(&cl->co, &o, 0, NULL, &j, err,
	    sizeof(err)), 0);
	id = j->id;
	job_run(j);
	cluster_wait_final(cl, id, 15000);
	cluster_expect_job(cl, id, "refused", "no TLS for migrations set up");
	assert_true(cluster_running_on(cluster_host_uri(1), "vw"));
	snprintf(path, sizeof(path), "%s/pki", dir);
	assert_int_equal(mkdir(path, 0700), 0);
	{
		static const char *f[] = { "ca-cert.pem", "server-cert.pem",
		    "server-key.pem", "client-cert.pem", "client-key.pem" };

		for (i = 0; i < 5; i++) {
			snprintf(path, sizeof(path), "%s/pki/%s", dir, f[i]);
			wire_write(path, "-----BEGIN X-----\nAA==\n-----END "
			    "X-----\n");
		}
	}
	assert_int_equal(job_migrate(&cl->co, &o, 0, NULL, &j, err,
	    sizeof(err)), 0);
	id = j->id;
	job_run(j);
	cluster_wait_final(cl, id, 15000);
	cluster_expect_job(cl, id, "succeeded", NULL);
	assert_int_equal(fake_hv_last_migrate(cluster_host_uri(1), &rec), 0);
	assert_true(rec.tls);
	snprintf(path, sizeof(path), "rm -rf '%s'", dir);
	assert_int_equal(system(path), 0);

	/* The automatic rule, from what was measured into h2. */
	memset(&fj, 0, sizeof(fj));
	snprintf(fj.destination, sizeof(fj.destination), "h2");
	cl->co.hosts[1].wire_stream_mibs = 0;
	cl->co.conf.link_mibs = 0;
	assert_int_equal(wire_streams(&cl->co, &fj, &cl->co.hosts[1], why,
	    sizeof(why)), 1);
	assert_non_null(strstr(why, "link's capacity is unknown"));
	cl->co.conf.link_mibs = 1000;
	assert_int_equal(wire_streams(&cl->co, &fj, &cl->co.hosts[1], why,
	    sizeof(why)), 1);
	assert_non_null(strstr(why, "no single-stream throughput"));
	cl->co.hosts[1].wire_stream_mibs = 300;
	assert_int_equal(wire_streams(&cl->co, &fj, &cl->co.hosts[1], why,
	    sizeof(why)), 4);	/* ceil(1000/300), at most 4 */
	fj.opts.bandwidth_mibs = 500;	/* the cap is the link */
	assert_int_equal(wire_streams(&cl->co, &fj, &cl->co.hosts[1], why,
	    sizeof(why)), 2);
	fj.opts.bandwidth_mibs = 350;	/* one stream nearly fills it */
	assert_int_equal(wire_streams(&cl->co, &fj, &cl->co.hosts[1], why,
	    sizeof(why)), 1);
	fj.opts.bandwidth_mibs = 0;
	fj.opts.postcopy = 1;
	assert_int_equal(wire_streams(&cl->co, &fj, &cl->co.hosts[1], why,
	    sizeof(why)), 1);
	fj.opts.postcopy = 0;
	fj.opts.parallel = 7;
	assert_int_equal(wire_streams(&cl->co, &fj, &cl->co.hosts[1], why,
	    sizeof(why)), 7);

	/* A drain's parallelism: ceil((F + X) / X), within every limit. */
	cl->co.conf.link_mibs = 0;
	cl->co.hosts[1].wire_stream_mibs = cl->co.hosts[2].wire_stream_mibs = 0;
	assert_int_equal(wire_drain_parallel(&cl->co, "h1", dests, 2, 256, 8,
	    0, 2, why, sizeof(why)), 2);
	assert_non_null(strstr(why, "nothing measured yet"));
	cl->co.hosts[1].wire_stream_mibs = cl->co.hosts[2].wire_stream_mibs =
	    128;
	cl->co.hosts[1].wire_fixed_ms = cl->co.hosts[2].wire_fixed_ms = 3000;
	/* X = 256 MiB / 128 MiB/s = 2 s: ceil(5 / 2) = 3 */
	assert_int_equal(wire_drain_parallel(&cl->co, "h1", dests, 2, 256, 8,
	    0, 2, why, sizeof(why)), 3);
	/* X = 0.5 s: ceil(3.5 / 0.5) = 7, capped by max_outgoing (4) */
	cl->co.conf.max_outgoing = 4;
	assert_int_equal(wire_drain_parallel(&cl->co, "h1", dests, 2, 64, 8,
	    0, 2, why, sizeof(why)), 4);
	assert_non_null(strstr(why, "max_outgoing 4"));
	/* ... by 2 destinations x per_destination 1 */
	assert_int_equal(wire_drain_parallel(&cl->co, "h1", dests, 2, 64, 8,
	    0, 1, why, sizeof(why)), 2);
	assert_non_null(strstr(why, "per_destination 1"));
	/* ... by the operator's --max-parallel, and by the VMs left */
	assert_int_equal(wire_drain_parallel(&cl->co, "h1", dests, 2, 64, 8,
	    1, 2, why, sizeof(why)), 1);
	assert_non_null(strstr(why, "--max-parallel 1"));
	assert_int_equal(wire_drain_parallel(&cl->co, "h1", dests, 2, 64, 3,
	    0, 2, why, sizeof(why)), 3);
}

/* A stalled pre-copy switches to post-copy (allowed), the post-copy fails
 * (network cut), and the coordinator resumes it: the VM ends on h2 only. */
static void
test_postcopy_resume(void **state)
{
	struct cluster *cl = *state;
	Ferry__MigrateOptions o = FERRY__MIGRATE_OPTIONS__INIT;
	struct fake_hv_migrate_rec rec;
	struct fake_hv_tuning t;
	struct hv_job_stats smp[12];
	struct job *j;
	char err[256], states[256];
	int64_t id;
	size_t i;

	assert_int_equal(fake_hv_add_running(cluster_host_uri(0), "vmpc", NULL, 0), 0);
	memset(smp, 0, sizeof(smp));
	for (i = 0; i < 12; i++) {
		smp[i].active = 1;
		smp[i].time_elapsed = 500 * (i + 1);
		smp[i].data_total = 256 * MIB;
		smp[i].data_remaining = 100 * MIB;	/* never falls */
		smp[i].data_processed = (156 + 10 * i) * MIB;
		smp[i].memory_iteration = i + 1;
		smp[i].memory_bps = 10 * MIB;
		smp[i].memory_page_size = 4096;
	}
	assert_int_equal(fake_hv_script_migration(cluster_host_uri(0), "vmpc", smp, 12,
	    -1, "post-copy: connection reset by peer"), 0);
	hostd_inventory_refresh(&cl->hd[0]);
	assert_true(cluster_run_until(cl, seen_on_h1, "vmpc", 20000));
	o.vm = "vmpc";
	o.to = "h2";
	o.has_postcopy = 1;
	o.postcopy = 1;
	assert_int_equal(job_migrate(&cl->co, &o, 0, NULL, &j, err, sizeof(err)), 0);
	id = j->id;
	job_run(j);
	cluster_wait_final(cl, id, 30000);
	assert_int_equal(fake_hv_get_tuning(cluster_host_uri(0), "vmpc", &t), -ENOENT);
	cluster_expect_job(cl, id, "succeeded", NULL);
	journal_states(cl, id, states, sizeof(states));
	assert_string_equal(states, "pending checking migrating verifying "
	    "migrating verifying succeeded");
	assert_int_equal(fake_hv_last_migrate(cluster_host_uri(0), &rec), 0);
	assert_true(rec.postcopy_resume);
	assert_true(cluster_running_on(cluster_host_uri(1), "vmpc"));
	assert_false(fake_hv_has_domain(cluster_host_uri(0), "vmpc"));
}

static int
job_verifying(struct cluster *cl, void *arg)
{
	struct job *j = job_find(&cl->co, *(int64_t *)arg);

	return j != NULL && j->state == JOB_VERIFYING;
}

/* The same failed post-copy, but the source's libvirt refuses every
 * resume: after three tries the job fails "could not be resumed", names
 * both hosts' states, and touches neither copy (only the two together
 * hold the whole guest: destroying either would lose it). */
static void
test_postcopy_resume_refused(void **state)
{
	struct cluster *cl = *state;
	Ferry__MigrateOptions o = FERRY__MIGRATE_OPTIONS__INIT;
	struct hv_job_stats smp[12];
	struct job *j;
	char err[256];
	int64_t id;
	size_t i;
	int st, r;

	assert_int_equal(fake_hv_add_running(cluster_host_uri(0), "vmpr", NULL, 0), 0);
	memset(smp, 0, sizeof(smp));
	for (i = 0; i < 12; i++) {
		smp[i].active = 1;
		smp[i].time_elapsed = 500 * (i + 1);
		smp[i].data_total = 256 * MIB;
		smp[i].data_remaining = 100 * MIB;
		smp[i].data_processed = (156 + 10 * i) * MIB;
		smp[i].memory_iteration = i + 1;
		smp[i].memory_bps = 10 * MIB;
		smp[i].memory_page_size = 4096;
	}
	assert_int_equal(fake_hv_script_migration(cluster_host_uri(0), "vmpr", smp, 12,
	    -1, "post-copy: connection reset by peer"), 0);
	hostd_inventory_refresh(&cl->hd[0]);
	assert_true(cluster_run_until(cl, seen_on_h1, "vmpr", 20000));
	o.vm = "vmpr";
	o.to = "h2";
	o.has_postcopy = 1;
	o.postcopy = 1;
	assert_int_equal(job_migrate(&cl->co, &o, 0, NULL, &j, err, sizeof(err)), 0);
	id = j->id;
	job_run(j);
	/* The post-copy has failed and the job asks both hosts: from now on
	 * the source's libvirt refuses the migrate call (the resume). */
	assert_true(cluster_run_until(cl, job_verifying, &id, 20000));
	fake_hv_fail(cluster_host_uri(0), FAKE_OP_MIGRATE, 100, -1,
	    "Requested operation is not valid: QEMU reports migration is "
	    "still running");
	cluster_wait_final(cl, id, 60000);
	cluster_expect_job(cl, id, "failed", "post-copy of vmpr failed and "
	    "could not be resumed: h1 reports paused (postcopy-failed)");
	assert_int_equal(journal_count_with(cl, id, "state",
	    "resuming the failed post-copy"), 3);
	/* Neither copy touched: paused on h1, running (postcopy-failed) on h2. */
	assert_int_equal(fake_hv_calls(cluster_host_uri(0), FAKE_OP_DESTROY), 0);
	assert_int_equal(fake_hv_calls(cluster_host_uri(1), FAKE_OP_DESTROY), 0);
	assert_int_equal(fake_hv_calls(cluster_host_uri(0), FAKE_OP_UNDEFINE), 0);
	assert_int_equal(cluster_dom_state(cluster_host_uri(0), "vmpr", &st,
	    &r), 0);
	assert_int_equal(st, HV_STATE_PAUSED);
	assert_true(fake_hv_has_domain(cluster_host_uri(1), "vmpr"));
	fake_hv_fail(cluster_host_uri(0), FAKE_OP_MIGRATE, 0, 0, NULL);
}

/* ---- maintenance drains ------------------------------------------------ */

static int
no_drain(struct cluster *cl, void *arg)
{
	(void)arg;
	return TAILQ_EMPTY(&cl->co.drains);
}

static int64_t
last_drain_id(struct cluster *cl, char *state, size_t len)
{
	struct store_job *sj = NULL;
	size_t n = 0, i;
	int64_t id = 0;

	assert_int_equal(store_jobs_list(cl->co.store, 0, 0, &sj, &n), 0);
	for (i = 0; i < n; i++)
		if (strcmp(sj[i].kind, "drain") == 0) {
			id = sj[i].id;
			snprintf(state, len, "%s", sj[i].state);
		}
	store_job_list_free(sj, n);
	return id;
}

/* When a job entered "migrating" (its copy began), from its journal; 0
 * when it never did. */
static uint64_t
copy_started_ms(struct cluster *cl, int64_t id)
{
	struct store_event *ev = NULL;
	size_t n = 0, i;
	uint64_t t = 0;

	assert_int_equal(store_job_events(cl->co.store, id, &ev, &n), 0);
	for (i = 0; i < n && t == 0; i++)
		if (strcmp(ev[i].type, "state") == 0 &&
		    strcmp(ev[i].state, "migrating") == 0)
			t = ev[i].time_ms;
	store_event_list_free(ev, n);
	return t;
}

/* Largest number of the drain's migrations whose [copy started, ended]
 * intervals overlap, from the recorded times (checks run ahead and are
 * not counted: only copies are limited). */
static int
max_overlap(struct cluster *cl, int64_t drain)
{
	struct store_job *sj = NULL;
	uint64_t t[256];
	size_t n = 0, i, k;
	int best = 0, c;

	assert_int_equal(store_jobs_list(cl->co.store, 0, 0, &sj, &n), 0);
	assert_true(n <= 256);
	for (i = 0; i < n; i++)
		t[i] = sj[i].parent == drain ? copy_started_ms(cl, sj[i].id) : 0;
	for (i = 0; i < n; i++) {
		if (t[i] == 0)
			continue;
		c = 0;
		for (k = 0; k < n; k++)
			if (t[k] != 0 && t[k] <= t[i] &&
			    sj[k].ended_ms > t[i])
				c++;
		if (c > best)
			best = c;
	}
	store_job_list_free(sj, n);
	return best;
}

static void
add_guests(struct cluster *cl, int n, size_t samples)
{
	char name[16];
	int i;

	for (i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "g%d", i);
		assert_int_equal(fake_hv_add_running(cluster_host_uri(0), name, NULL, 0),
		    0);
		if (samples)
			cluster_script(0, name, samples, 0, NULL);
	}
	hostd_inventory_refresh(&cl->hd[0]);
	for (i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "g%d", i);
		assert_true(cluster_run_until(cl, seen_on_h1, name, 20000));
	}
}

/*
 * A VM the drain moved off turns up on the host again (started there
 * behind Ferry's back) while the next one copies: the confirmation finds
 * it and plans it again in its old item, whose order is then past the
 * number of items. The drain walked orders 1..n and never started it.
 */
static int
g0_moved_g1_copying(struct cluster *cl, void *arg)
{
	(void)cl;
	(void)arg;
	return !fake_hv_has_domain(cluster_host_uri(0), "g0") &&
	    fake_hv_migrating(cluster_host_uri(0), "g1");
}

static void
test_drain_vm_comes_back(void **state)
{
	struct cluster *cl = *state;
	Ferry__MaintenanceRequest req = FERRY__MAINTENANCE_REQUEST__INIT;
	char err[256], st[32];
	const char *names[] = { "g0", "g1" };
	int i, k, where;

	add_guests(cl, 2, 12);
	req.host = "h1";
	req.has_max_parallel = 1;
	req.max_parallel = 1;
	if (drain_enter(&cl->co, &req, NULL, MSG_CTL_MAINT_ENTER, 1, err,
	    sizeof(err)) < 0)
		fail_msg("%s", err);
	assert_true(cluster_run_until(cl, g0_moved_g1_copying, NULL, 30000));
	for (k = 1; k < NHOSTS; k++)
		if (cluster_running_on(cluster_host_uri(k), "g0"))
			break;
	assert_true(k < NHOSTS);
	assert_int_equal(fake_hv_remove_domain(cluster_host_uri(k), "g0"), 0);
	assert_int_equal(fake_hv_add_running(cluster_host_uri(0), "g0", NULL,
	    0), 0);
	cluster_script(0, "g0", 3, 0, NULL);
	hostd_inventory_refresh(&cl->hd[k]);
	hostd_inventory_refresh(&cl->hd[0]);
	assert_true(cluster_run_until(cl, no_drain, NULL, 60000));
	(void)last_drain_id(cl, st, sizeof(st));
	assert_string_equal(st, "completed");
	assert_string_equal(cl->co.hosts[0].admin_state, "maintenance");
	for (i = 0; i < 2; i++) {
		assert_false(fake_hv_has_domain(cluster_host_uri(0), names[i]));
		for (k = 1, where = 0; k < NHOSTS; k++)
			where += cluster_running_on(cluster_host_uri(k),
			    names[i]);
		assert_int_equal(where, 1);
	}
}

static void
test_drain_parallel(void **state)
{
	struct cluster *cl = *state;
	Ferry__MaintenanceRequest req = FERRY__MAINTENANCE_REQUEST__INIT;
	char err[256], st[32], name[16];
	uint64_t load[NHOSTS] = { 0 };
	int64_t id;
	int i, k;

	add_guests(cl, 6, 3);
	req.host = "h1";
	req.has_max_parallel = 1;
	req.max_parallel = 2;
	if (drain_enter(&cl->co, &req, NULL, MSG_CTL_MAINT_ENTER, 1, err,
	    sizeof(err)) < 0)
		fail_msg("%s", err);
	assert_true(cluster_run_until(cl, no_drain, NULL, 60000));
	id = last_drain_id(cl, st, sizeof(st));
	assert_string_equal(st, "completed");
	assert_string_equal(cl->co.hosts[0].admin_state, "maintenance");
	assert_string_equal(coord_host_state(&cl->co.hosts[0]), "maintenance");
	for (i = 0; i < 6; i++) {
		int where = 0;

		snprintf(name, sizeof(name), "g%d", i);
		assert_false(fake_hv_has_domain(cluster_host_uri(0), name));
		for (k = 1; k < NHOSTS; k++)
			if (cluster_running_on(cluster_host_uri(k), name)) {
				where++;
				load[k] += 256;
			}
		assert_int_equal(where, 1);
	}
	/* 2 at once at most (per destination 1, two destinations). */
	k = max_overlap(cl, id);
	assert_true(k >= 1 && k <= 2);
	/* Within capacity: 4096 - 512 reserve on each. */
	for (k = 1; k < NHOSTS; k++)
		assert_true(load[k] <= 4096 - 512);
	/* A host in maintenance is never a destination. */
	assert_int_equal(fake_hv_add_running(cluster_host_uri(1), "late", NULL, 0), 0);
	{
		Ferry__MigrateOptions o = FERRY__MIGRATE_OPTIONS__INIT;
		struct job *j;
		int64_t jid;

		hostd_inventory_refresh(&cl->hd[1]);
		assert_true(cluster_run_until(cl, seen_on_h2, (void *)"late", 20000));
		o.vm = "late";
		o.to = "h1";
		assert_int_equal(job_migrate(&cl->co, &o, 0, NULL, &j, err,
		    sizeof(err)), 0);
		jid = j->id;
		job_run(j);
		cluster_wait_final(cl, jid, 10000);
		cluster_expect_job(cl, jid, "refused", "maintenance");
	}
}

/* How many of a drain's migrations are in the migrating state at once:
 * now, and the most seen while the loop ran. */
struct drain_overlap {
	int	now, most;
};

static int
drain_migrating(struct cluster *cl, struct drain_overlap *o)
{
	struct job *j;

	o->now = 0;
	TAILQ_FOREACH(j, &cl->co.jobs, entry)
		if (j->parent != 0 && j->state == JOB_MIGRATING)
			o->now++;
	if (o->now > o->most)
		o->most = o->now;
	return o->now;
}

static int
two_migrating(struct cluster *cl, void *arg)
{
	return drain_migrating(cl, arg) >= 2;
}

static int
drain_over_counting(struct cluster *cl, void *arg)
{
	(void)drain_migrating(cl, arg);
	return TAILQ_EMPTY(&cl->co.drains);
}

/* One of the drain's jobs copies while another, checked, waits for its
 * slot (JOB_STEP_HELD). */
static int
copying_and_held(struct cluster *cl, void *arg)
{
	struct job *j;
	int copying = 0, held = 0;

	(void)arg;
	TAILQ_FOREACH(j, &cl->co.jobs, entry) {
		if (j->parent == 0)
			continue;
		if (j->state == JOB_MIGRATING)
			copying++;
		if (j->state == JOB_CHECKING && j->step == JOB_STEP_HELD)
			held++;
	}
	return copying == 1 && held == 1;
}

/*
 * Checks run ahead: with --max-parallel 1 the next VM is checked while the
 * first copies and starts when the copy ends, never two copies at once.
 * An operator migrates a VM of the drain meanwhile: the drain does not
 * refuse or repeat it (it follows the job, or finds the VM gone). A cancel
 * ends a checked, waiting job without starting it.
 */
static void
test_drain_checks_ahead(void **state)
{
	struct cluster *cl = *state;
	Ferry__MaintenanceRequest req = FERRY__MAINTENANCE_REQUEST__INIT;
	Ferry__MigrateOptions o = FERRY__MIGRATE_OPTIONS__INIT;
	struct drain_overlap ov = { 0, 0 };
	struct job *j;
	char err[256], st[32], name[16];
	int64_t id, op;
	int i, k, where;

	add_guests(cl, 4, 8);	/* 4 s each */
	req.host = "h1";
	req.has_max_parallel = 1;
	req.max_parallel = 1;
	if (drain_enter(&cl->co, &req, NULL, MSG_CTL_MAINT_ENTER, 1, err,
	    sizeof(err)) < 0)
		fail_msg("%s", err);
	assert_true(cluster_run_until(cl, copying_and_held, NULL, 30000));
	/* g3 is last in the plan and not started: the operator moves it. */
	o.vm = "g3";
	o.to = "h3";
	if (job_migrate(&cl->co, &o, 0, NULL, &j, err, sizeof(err)) < 0)
		fail_msg("operator's migrate: %s", err);
	op = j->id;
	job_run(j);
	assert_true(cluster_run_until(cl, drain_over_counting, &ov, 90000));
	id = last_drain_id(cl, st, sizeof(st));
	assert_string_equal(st, "completed");
	cluster_expect_job(cl, op, "succeeded", NULL);
	assert_true(cluster_running_on(cluster_host_uri(2), "g3"));
	for (i = 0; i < 4; i++) {
		snprintf(name, sizeof(name), "g%d", i);
		assert_false(fake_hv_has_domain(cluster_host_uri(0), name));
		for (where = 0, k = 1; k < NHOSTS; k++)
			where += cluster_running_on(cluster_host_uri(k), name);
		assert_int_equal(where, 1);
	}
	/* Never two of the drain's copies at once. */
	assert_int_equal(max_overlap(cl, id), 1);
	assert_int_equal(ov.most, 1);
}

/* A cancel while one copies and the next is checked and waiting: the
 * copy finishes, the waiting one never starts, its VM stays on h1. */
static void
test_drain_cancel_held(void **state)
{
	struct cluster *cl = *state;
	Ferry__MaintenanceRequest req = FERRY__MAINTENANCE_REQUEST__INIT;
	char err[256], st[32], name[16];
	int i, k, on_h1 = 0, where;

	add_guests(cl, 3, 8);
	req.host = "h1";
	req.has_max_parallel = 1;
	req.max_parallel = 1;
	if (drain_enter(&cl->co, &req, NULL, MSG_CTL_MAINT_ENTER, 1, err,
	    sizeof(err)) < 0)
		fail_msg("%s", err);
	assert_true(cluster_run_until(cl, copying_and_held, NULL, 30000));
	assert_int_equal(drain_cancel(&cl->co, "h1", NULL, MSG_CTL_MAINT_CANCEL,
	    2, err, sizeof(err)), 0);
	assert_true(cluster_run_until(cl, no_drain, NULL, 30000));
	(void)last_drain_id(cl, st, sizeof(st));
	assert_string_equal(st, "cancelled");
	for (i = 0; i < 3; i++) {
		snprintf(name, sizeof(name), "g%d", i);
		for (where = 0, k = 0; k < NHOSTS; k++)
			where += cluster_running_on(cluster_host_uri(k), name);
		assert_int_equal(where, 1);
		on_h1 += cluster_running_on(cluster_host_uri(0), name);
	}
	assert_int_equal(on_h1, 2);	/* only the copy that ran moved */
}

/* max_parallel 2 really moves two at once: two destinations (h2, h3),
 * one arriving at each, seen migrating together in the loop and never
 * three; the recorded intervals overlap by two as well. */
static void
test_drain_overlaps_two(void **state)
{
	struct cluster *cl = *state;
	Ferry__MaintenanceRequest req = FERRY__MAINTENANCE_REQUEST__INIT;
	struct drain_overlap o = { 0, 0 };
	char err[256], st[32];
	int64_t id;

	add_guests(cl, 4, 8);	/* 4 s each: long enough to be seen */
	req.host = "h1";
	req.has_max_parallel = 1;
	req.max_parallel = 2;
	if (drain_enter(&cl->co, &req, NULL, MSG_CTL_MAINT_ENTER, 1, err,
	    sizeof(err)) < 0)
		fail_msg("%s", err);
	assert_true(cluster_run_until(cl, two_migrating, &o, 30000));
	assert_int_equal(o.now, 2);
	assert_true(cluster_run_until(cl, drain_over_counting, &o, 60000));
	assert_int_equal(o.most, 2);
	id = last_drain_id(cl, st, sizeof(st));
	assert_string_equal(st, "completed");
	assert_int_equal(max_overlap(cl, id), 2);
}

static void
test_drain_unmovable(void **state)
{
	struct cluster *cl = *state;
	Ferry__MaintenanceRequest req = FERRY__MAINTENANCE_REQUEST__INIT;
	struct hv_disk d;
	char err[256], st[32], path[128];

	add_guests(cl, 2, 0);
	memset(&d, 0, sizeof(d));
	snprintf(path, sizeof(path), "%s/local.qcow2", cl->dir);
	cluster_sh(": > %s", path);
	snprintf(d.target, sizeof(d.target), "vda");
	snprintf(d.type, sizeof(d.type), "file");
	snprintf(d.device, sizeof(d.device), "disk");
	snprintf(d.source, sizeof(d.source), "%s", path);
	assert_int_equal(fake_hv_add_running(cluster_host_uri(0), "pinned", &d, 1), 0);
	hostd_inventory_refresh(&cl->hd[0]);
	assert_true(cluster_run_until(cl, seen_on_h1, "pinned", 20000));

	/* Without --force nothing starts. */
	req.host = "h1";
	assert_int_equal(drain_enter(&cl->co, &req, NULL, MSG_CTL_MAINT_ENTER,
	    1, err, sizeof(err)), 0);
	assert_true(cluster_run_until(cl, no_drain, NULL, 10000));
	assert_int_equal(last_drain_id(cl, st, sizeof(st)), 0);
	assert_string_equal(cl->co.hosts[0].admin_state, "active");
	assert_int_equal(fake_hv_calls(cluster_host_uri(0), FAKE_OP_MIGRATE), 0);

	/* With --force the others move and it keeps running. */
	req.has_force = 1;
	req.force = 1;
	assert_int_equal(drain_enter(&cl->co, &req, NULL, MSG_CTL_MAINT_ENTER,
	    2, err, sizeof(err)), 0);
	assert_true(cluster_run_until(cl, no_drain, NULL, 30000));
	assert_true(last_drain_id(cl, st, sizeof(st)) > 0);
	assert_string_equal(st, "incomplete");
	assert_true(cluster_running_on(cluster_host_uri(0), "pinned"));
	assert_false(fake_hv_has_domain(cluster_host_uri(0), "g0"));
	assert_false(fake_hv_has_domain(cluster_host_uri(0), "g1"));
	/* Not empty: the host stays draining, visibly. */
	assert_string_equal(cl->co.hosts[0].admin_state, "draining");
}

static int
setup_zones(void **state)
{
	placement_zones = 1;
	return setup(state);
}

static int
teardown_zones(void **state)
{
	placement_zones = 0;
	return teardown(state);
}

/* Zones: h2 (zone b) has the most room, yet neither migrate without --to
 * nor a drain of h1 (zone a) sends anything there; ferryctl place says
 * why for every host. */
static void
test_zone_placement(void **state)
{
	struct cluster *cl = *state;
	Ferry__MaintenanceRequest req = FERRY__MAINTENANCE_REQUEST__INIT;
	Ferry__PlaceReply *r;
	struct hv_domain big;
	char err[256], st[32];
	int64_t id;
	size_t i;

	memset(&big, 0, sizeof(big));
	snprintf(big.name, sizeof(big.name), "big");
	snprintf(big.uuid, sizeof(big.uuid), "5a1e0000-0000-0000-0000-0000000000b2");
	big.state = HV_STATE_RUNNING;
	big.mem_mib = 2048;
	big.vcpus = 1;
	big.persistent = 1;
	assert_int_equal(fake_hv_add_domain(cluster_host_uri(2), &big), 0);
	hostd_inventory_refresh(&cl->hd[2]);
	add_guests(cl, 2, 0);
	assert_true(cluster_run_until(cl, inventory_has_big, NULL, 20000));

	assert_int_equal(placement_reply(&cl->co, "g0", &r, err, sizeof(err)),
	    0);
	assert_string_equal(r->source, "h1");
	assert_string_equal(r->best, "h3");
	assert_int_equal(r->n_hosts, 3);
	assert_string_equal(r->hosts[0]->filter, "source");
	assert_false(r->hosts[1]->ok);
	assert_string_equal(r->hosts[1]->filter, "zone");
	assert_string_equal(r->hosts[1]->reason,
	    "h2: zone: zone b, VM must stay in zone a");
	assert_true(r->hosts[2]->ok);
	placement_reply_free(r);
	assert_int_equal(placement_reply(&cl->co, "nosuch", &r, err,
	    sizeof(err)), -FERRY_ENOTFOUND);
	assert_string_equal(err, "nosuch runs on no host that is up");

	/* migrate without --to: h3, not the emptier h2. */
	id = start_job(cl, "g0", NULL, 0);
	cluster_wait_final(cl, id, 15000);
	cluster_expect_job(cl, id, "succeeded", NULL);
	assert_true(cluster_running_on(cluster_host_uri(2), "g0"));

	/* A drain of h1 keeps g1 in zone a. */
	req.host = "h1";
	assert_int_equal(drain_enter(&cl->co, &req, NULL, MSG_CTL_MAINT_ENTER,
	    1, err, sizeof(err)), 0);
	assert_true(cluster_run_until(cl, no_drain, NULL, 30000));
	assert_true(last_drain_id(cl, st, sizeof(st)) > 0);
	assert_string_equal(st, "completed");
	assert_true(cluster_running_on(cluster_host_uri(2), "g1"));
	for (i = 0; i < 2; i++)
		assert_false(fake_hv_has_domain(cluster_host_uri(1), i ? "g1" : "g0"));
}

static int64_t
last_of_kind(struct cluster *cl, const char *kind, char *state, size_t len,
    char *params, size_t plen)
{
	struct store_job *sj = NULL;
	size_t n = 0, i;
	int64_t id = 0;

	assert_int_equal(store_jobs_list(cl->co.store, 0, 0, &sj, &n), 0);
	for (i = 0; i < n; i++)
		if (strcmp(sj[i].kind, kind) == 0) {
			id = sj[i].id;
			snprintf(state, len, "%s", sj[i].state);
			snprintf(params, plen, "%s", sj[i].params ?
			    sj[i].params : "");
		}
	store_job_list_free(sj, n);
	return id;
}

/* maintenance exit --restore goes through the placement rules too: once
 * h1 is in another zone, its VMs (now on h3, zone a) stay where they are,
 * with the reason, and nothing migrates. */
static void
test_restore_placement(void **state)
{
	struct cluster *cl = *state;
	Ferry__MaintenanceRequest req = FERRY__MAINTENANCE_REQUEST__INIT;
	char err[256], st[32], params[4096];
	unsigned before;

	add_guests(cl, 2, 0);
	req.host = "h1";
	assert_int_equal(drain_enter(&cl->co, &req, NULL, MSG_CTL_MAINT_ENTER,
	    1, err, sizeof(err)), 0);
	assert_true(cluster_run_until(cl, no_drain, NULL, 30000));
	assert_true(cluster_running_on(cluster_host_uri(2), "g0"));
	assert_true(cluster_running_on(cluster_host_uri(2), "g1"));
	snprintf(cl->co.hosts[0].conf.zone, sizeof(cl->co.hosts[0].conf.zone),
	    "b");
	before = fake_hv_calls(cluster_host_uri(2), FAKE_OP_MIGRATE);
	req.has_restore = 1;
	req.restore = 1;
	assert_int_equal(drain_exit(&cl->co, &req, NULL, MSG_CTL_MAINT_EXIT, 2,
	    err, sizeof(err)), 0);
	assert_true(cluster_run_until(cl, no_drain, NULL, 30000));
	assert_true(last_of_kind(cl, "restore", st, sizeof(st), params,
	    sizeof(params)) > 0);
	assert_string_equal(st, "incomplete");
	assert_non_null(strstr(params, "h1: zone: zone b, VM must stay in "
	    "zone a"));
	assert_int_equal(fake_hv_calls(cluster_host_uri(2), FAKE_OP_MIGRATE), before);
	assert_true(cluster_running_on(cluster_host_uri(2), "g0"));
	assert_true(cluster_running_on(cluster_host_uri(2), "g1"));
}

/* The CPU cache: a destination's "cannot run this CPU" is remembered per
 * (guest CPU, host); placement then skips that host with the reason, and a
 * drain goes elsewhere although the host has the most room. The verdicts
 * go when the host's identity changes or it reconnects. */
static void
test_cpu_cache(void **state)
{
	struct cluster *cl = *state;
	Ferry__MaintenanceRequest req = FERRY__MAINTENANCE_REQUEST__INIT;
	Ferry__PlaceReply *r;
	Ferry__Inventory a = FERRY__INVENTORY__INIT, b = FERRY__INVENTORY__INIT;
	Ferry__HostInfo ha = FERRY__HOST_INFO__INIT, hb = FERRY__HOST_INFO__INIT;
	Ferry__DestCheckReply dr = FERRY__DEST_CHECK_REPLY__INIT;
	Ferry__CheckResult cr = FERRY__CHECK_RESULT__INIT, *crv[1] = { &cr };
	struct hv_domain big;
	const char *why = NULL;
	char err[256], st[32];
	unsigned before;
	int64_t id;

	/* h3 carries 1 GiB more: h2 would be the worst-fit choice. */
	memset(&big, 0, sizeof(big));
	snprintf(big.name, sizeof(big.name), "big");
	snprintf(big.uuid, sizeof(big.uuid), "5a1e0000-0000-0000-0000-0000000000b3");
	big.state = HV_STATE_RUNNING;
	big.mem_mib = 1024;
	big.vcpus = 1;
	big.persistent = 1;
	assert_int_equal(fake_hv_add_domain(cluster_host_uri(2), &big), 0);
	hostd_inventory_refresh(&cl->hd[2]);
	assert_true(cluster_run_until(cl, inventory_has_big, NULL, 20000));
	assert_int_equal(fake_hv_add_running(cluster_host_uri(0), "vmcpu", NULL, 0), 0);
	fake_hv_set_compare(cluster_host_uri(1), HV_CPU_INCOMPATIBLE,
	    "Host CPU does not provide required features: avx512f");
	assert_int_equal(cpucache_lookup(&cl->co, "vmcpu", 1, NULL),
	    PLACE_UNKNOWN);
	id = start_job(cl, "vmcpu", "h2", 0);
	cluster_wait_final(cl, id, 15000);
	cluster_expect_job(cl, id, "refused", "avx512f");
	assert_int_equal(cpucache_lookup(&cl->co, "vmcpu", 1, &why), PLACE_NO);
	assert_string_equal(why, "guest CPU: Host CPU does not provide "
	    "required features: avx512f");
	assert_int_equal(placement_reply(&cl->co, "vmcpu", &r, err,
	    sizeof(err)), 0);
	assert_string_equal(r->hosts[1]->filter, "cpu");
	assert_string_equal(r->hosts[1]->reason, "h2: cpu: guest CPU: Host CPU "
	    "does not provide required features: avx512f");
	assert_string_equal(r->best, "h3");
	placement_reply_free(r);

	/* The drain skips h2 for vmcpu: not even asked to compare again. */
	before = fake_hv_calls(cluster_host_uri(1), FAKE_OP_COMPARE_CPU);
	req.host = "h1";
	assert_int_equal(drain_enter(&cl->co, &req, NULL, MSG_CTL_MAINT_ENTER,
	    1, err, sizeof(err)), 0);
	assert_true(cluster_run_until(cl, no_drain, NULL, 30000));
	assert_true(last_drain_id(cl, st, sizeof(st)) > 0);
	assert_string_equal(st, "completed");
	assert_true(cluster_running_on(cluster_host_uri(2), "vmcpu"));
	assert_false(fake_hv_has_domain(cluster_host_uri(1), "vmcpu"));
	assert_int_equal(fake_hv_calls(cluster_host_uri(1), FAKE_OP_COMPARE_CPU), before);

	/* Invalidation: same identity keeps it; another one, a new libvirt
	 * connection (libvirt_session: libvirtd restarted, maybe on another
	 * QEMU), or a new session (no previous inventory), drops it. */
	a.host = &ha;
	b.host = &hb;
	ha.cpus = hb.cpus = 4;
	ha.arch = hb.arch = "x86_64";
	ha.hostd_version = hb.hostd_version = "1";
	ha.has_libvirt_session = hb.has_libvirt_session = 1;
	ha.libvirt_session = hb.libvirt_session = 3;
	cpucache_inventory(&cl->co, &cl->co.hosts[1], &a, &b);
	assert_int_equal(cpucache_lookup(&cl->co, "vmcpu", 1, NULL), PLACE_NO);
	hb.libvirt_session = 4;
	cpucache_inventory(&cl->co, &cl->co.hosts[1], &a, &b);
	assert_int_equal(cpucache_lookup(&cl->co, "vmcpu", 1, NULL),
	    PLACE_UNKNOWN);
	/* h2 says it again (as its next check would). */
	cr.name = "cpu";
	cr.ok = 0;
	cr.reason = "this host cannot run the guest's CPU: Host CPU does not "
	    "provide required features: avx512f";
	dr.checks = crv;
	dr.n_checks = 1;
	cpucache_verdict(&cl->co, "vmcpu", &cl->co.hosts[1], &dr);
	assert_int_equal(cpucache_lookup(&cl->co, "vmcpu", 1, NULL), PLACE_NO);
	hb.libvirt_session = 3;
	hb.hostd_version = "2";
	cpucache_inventory(&cl->co, &cl->co.hosts[1], &a, &b);
	assert_int_equal(cpucache_lookup(&cl->co, "vmcpu", 1, NULL),
	    PLACE_UNKNOWN);
	/* h3's own "yes" from the drain's move is untouched. */
	assert_int_equal(cpucache_lookup(&cl->co, "vmcpu", 2, NULL), PLACE_YES);
	assert_int_equal(cpucache_size(&cl->co), 1);
	cpucache_inventory(&cl->co, &cl->co.hosts[2], NULL, &b);
	assert_int_equal(cpucache_size(&cl->co), 0);
}

/* A drain asks every other host about its guests' CPUs before planning
 * (CPU_COMPARE): the host that cannot run one is never the destination,
 * not even tried, although it has the most room. */
static void
test_cpu_prefetch(void **state)
{
	struct cluster *cl = *state;
	Ferry__MaintenanceRequest req = FERRY__MAINTENANCE_REQUEST__INIT;
	struct store_job *sj = NULL;
	struct hv_domain big;
	const char *why = NULL;
	char err[256], st[32];
	size_t n = 0, i, to_h2 = 0;

	memset(&big, 0, sizeof(big));
	snprintf(big.name, sizeof(big.name), "big");
	snprintf(big.uuid, sizeof(big.uuid), "5a1e0000-0000-0000-0000-0000000000b4");
	big.state = HV_STATE_RUNNING;
	big.mem_mib = 1024;
	big.vcpus = 1;
	big.persistent = 1;
	assert_int_equal(fake_hv_add_domain(cluster_host_uri(2), &big), 0);
	hostd_inventory_refresh(&cl->hd[2]);
	assert_true(cluster_run_until(cl, inventory_has_big, NULL, 20000));
	add_guests(cl, 2, 0);
	fake_hv_set_compare(cluster_host_uri(1), HV_CPU_INCOMPATIBLE,
	    "Host CPU does not provide required features: avx512f");
	req.host = "h1";
	assert_int_equal(drain_enter(&cl->co, &req, NULL, MSG_CTL_MAINT_ENTER,
	    1, err, sizeof(err)), 0);
	assert_true(cluster_run_until(cl, no_drain, NULL, 30000));
	assert_true(last_drain_id(cl, st, sizeof(st)) > 0);
	assert_string_equal(st, "completed");
	assert_true(cluster_running_on(cluster_host_uri(2), "g0"));
	assert_true(cluster_running_on(cluster_host_uri(2), "g1"));
	assert_int_equal(cpucache_lookup(&cl->co, "g0", 1, &why), PLACE_NO);
	assert_string_equal(why, "guest CPU: Host CPU does not provide "
	    "required features: avx512f");
	/* One CPU_COMPARE for both (same guest CPU), none a move's check. */
	assert_int_equal(fake_hv_calls(cluster_host_uri(1), FAKE_OP_COMPARE_CPU), 1);
	assert_int_equal(store_jobs_list(cl->co.store, 0, 0, &sj, &n), 0);
	for (i = 0; i < n; i++)
		to_h2 += strcmp(sj[i].kind, "migrate") == 0 &&
		    strcmp(sj[i].destination, "h2") == 0;
	store_job_list_free(sj, n);
	assert_int_equal(to_h2, 0);
}

/* One control-socket call, the coordinator's loop running meanwhile;
 * returns the reply frame (the caller frees it). */
static struct frame *
ctl_roundtrip(struct cluster *cl, uint16_t type, const ProtobufCMessage *m,
    int ms)
{
	struct sockaddr_un sa;
	struct frame_reader fr;
	struct frame *f = NULL;
	struct pollfd pfd;
	uint8_t *buf, in[65536];
	size_t len, used, off;
	uint64_t end = cluster_mono_ms() + (uint64_t)ms;
	ssize_t n;
	int fd;

	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", cl->co.conf.socket);
	assert_true((fd = socket(AF_UNIX, SOCK_STREAM, 0)) >= 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(frame_pack(type, FRAME_CALL, FRAME_OK, 7, m, &buf,
	    &len), 0);
	assert_int_equal(write(fd, buf, len), (ssize_t)len);
	free(buf);
	frame_reader_init(&fr, 1 << 20);
	while (f == NULL && cluster_mono_ms() < end) {
		uv_run(&cl->loop, UV_RUN_NOWAIT);
		pfd.fd = fd;
		pfd.events = POLLIN;
		if (poll(&pfd, 1, 2) <= 0)
			continue;
		if ((n = read(fd, in, sizeof(in))) <= 0)
			break;
		for (off = 0; off < (size_t)n && f == NULL; off += used)
			assert_true(frame_reader_feed(&fr, in + off,
			    (size_t)n - off, &used, &f) >= 0);
	}
	frame_reader_reset(&fr);
	close(fd);
	return f;
}

/* ferryctl cpu-baseline: every host's CPU through HOST_CPU, one hostd's
 * baseline over all of them (the fake's: the first model, the features
 * common to all), and the VMs the CPU cache says a host blocks. */
static void
test_cpu_baseline(void **state)
{
	struct cluster *cl = *state;
	Ferry__Empty e = FERRY__EMPTY__INIT;
	Ferry__CpuBaselineInfo *r;
	struct frame *f;
	static const char *f1[] = { "avx512f", "sse4.2", "aes" };
	static const char *f2[] = { "sse4.2", "aes" };
	static const char *f3[] = { "aes", "sse4.2", "x2apic" };
	int64_t id;

	fake_hv_set_host_cpu(cluster_host_uri(0), "Skylake-Server", f1, 3);
	fake_hv_set_host_cpu(cluster_host_uri(1), "Haswell", f2, 2);
	fake_hv_set_host_cpu(cluster_host_uri(2), "Cascadelake-Server", f3, 3);
	/* A refusal puts one block in the cache. */
	assert_int_equal(fake_hv_add_running(cluster_host_uri(0), "vmcpu", NULL, 0), 0);
	fake_hv_set_compare(cluster_host_uri(1), HV_CPU_INCOMPATIBLE,
	    "Host CPU does not provide required features: avx512f");
	id = start_job(cl, "vmcpu", "h2", 0);
	cluster_wait_final(cl, id, 15000);
	cluster_expect_job(cl, id, "refused", "avx512f");

	assert_non_null(f = ctl_roundtrip(cl, MSG_CTL_CPU_BASELINE, &e.base,
	    15000));
	assert_int_equal(f->hdr.status, FRAME_OK);
	assert_non_null(r = (Ferry__CpuBaselineInfo *)frame_unpack(f,
	    &ferry__cpu_baseline_info__descriptor));
	frame_free(f);
	assert_non_null(r->baseline_xml);
	assert_string_equal(r->baseline_xml, "<cpu mode='custom' match='exact'>"
	    "<model fallback='forbid'>Skylake-Server</model>"
	    "<feature policy='require' name='sse4.2'/>"
	    "<feature policy='require' name='aes'/></cpu>");
	assert_string_equal(r->computed_on, "h1");
	assert_int_equal(r->n_hosts, 3);
	assert_non_null(strstr(r->hosts[1]->cpu_xml, "<model>Haswell</model>"));
	assert_null(r->hosts[1]->error);
	assert_int_equal(r->n_blocks, 1);
	assert_string_equal(r->blocks[0]->vm, "vmcpu");
	assert_string_equal(r->blocks[0]->host, "h2");
	assert_string_equal(r->blocks[0]->reason, "guest CPU: Host CPU does "
	    "not provide required features: avx512f");
	ferry__cpu_baseline_info__free_unpacked(r, NULL);
	assert_int_equal(fake_hv_calls(cluster_host_uri(0), FAKE_OP_BASELINE), 1);

	/* A host whose libvirt fails: named, and the others still count. */
	fake_hv_fail(cluster_host_uri(2), FAKE_OP_HOST_CPU, 1, -EIO, "no capabilities");
	assert_non_null(f = ctl_roundtrip(cl, MSG_CTL_CPU_BASELINE, &e.base,
	    15000));
	assert_non_null(r = (Ferry__CpuBaselineInfo *)frame_unpack(f,
	    &ferry__cpu_baseline_info__descriptor));
	frame_free(f);
	assert_non_null(r->hosts[2]->error);
	assert_non_null(strstr(r->hosts[2]->error, "no capabilities"));
	assert_non_null(r->baseline_xml);
	ferry__cpu_baseline_info__free_unpacked(r, NULL);
}

/* A VM no host can take is refused before anything starts, with every
 * host's reason in the refusal. */
static void
test_no_valid_host_reasons(void **state)
{
	struct cluster *cl = *state;
	int64_t id;

	assert_int_equal(fake_hv_add_running(cluster_host_uri(0), "needy", NULL, 0), 0);
	id = start_job(cl, "needy", NULL, 0);
	cluster_wait_final(cl, id, 15000);
	cluster_expect_job(cl, id, "refused", "no host can take needy: h2: zone: zone "
	    "b, VM must stay in zone a; h3: labels: VM requires label gpu, "
	    "host lacks it");
	assert_int_equal(fake_hv_calls(cluster_host_uri(0), FAKE_OP_MIGRATE), 0);
	assert_true(cluster_running_on(cluster_host_uri(0), "needy"));
}

static void
test_drain_cancel(void **state)
{
	struct cluster *cl = *state;
	Ferry__MaintenanceRequest req = FERRY__MAINTENANCE_REQUEST__INIT;
	char err[256], st[32], name[16];
	int i, k, where;

	add_guests(cl, 4, 6);
	req.host = "h1";
	req.has_max_parallel = 1;
	req.max_parallel = 1;
	assert_int_equal(drain_enter(&cl->co, &req, NULL, MSG_CTL_MAINT_ENTER,
	    1, err, sizeof(err)), 0);
	cluster_run_until(cl, no_drain, NULL, 1500);
	assert_int_equal(drain_cancel(&cl->co, "h1", NULL, MSG_CTL_MAINT_CANCEL,
	    2, err, sizeof(err)), 0);
	assert_string_equal(coord_host_state(&cl->co.hosts[0]), "up");
	assert_true(cluster_run_until(cl, no_drain, NULL, 30000));
	assert_true(last_drain_id(cl, st, sizeof(st)) > 0);
	assert_string_equal(st, "cancelled");
	assert_string_equal(cl->co.hosts[0].admin_state, "active");
	for (i = 0; i < 4; i++) {
		snprintf(name, sizeof(name), "g%d", i);
		for (k = 0, where = 0; k < NHOSTS; k++)
			where += cluster_running_on(cluster_host_uri(k), name);
		assert_int_equal(where, 1);
	}
	/* Not everything moved: the cancel stopped the rest. */
	assert_true(cluster_running_on(cluster_host_uri(0), "g3") || cluster_running_on(cluster_host_uri(0), "g2"));
}

/* The periodic mode moves at most max_moves VMs a round, and never one
 * that moved within the quiet period. */
static int
runs_of(struct cluster *cl, const char *kind, const char *state)
{
	struct store_job *sj = NULL;
	size_t n = 0, i;
	int c = 0;

	assert_int_equal(store_jobs_list(cl->co.store, 0, 0, &sj, &n), 0);
	for (i = 0; i < n; i++)
		if (strcmp(sj[i].kind, kind) == 0 &&
		    (state == NULL || strcmp(sj[i].state, state) == 0))
			c++;
	store_job_list_free(sj, n);
	return c;
}

static int
two_rounds(struct cluster *cl, void *arg)
{
	(void)arg;
	return runs_of(cl, "rebalance", "completed") >= 2;
}

/* ferryctl place asks before it answers: a VM nobody checked yet gets its
 * guest CPU from its source and every other host's comparison, so the host
 * that cannot run it is rejected at the first ask; a second ask is
 * answered from the cache (no call to any hostd). */
static void
test_place_asks_first(void **state)
{
	struct cluster *cl = *state;
	Ferry__PlaceRequest req = FERRY__PLACE_REQUEST__INIT;
	Ferry__PlaceReply *r;
	struct frame *f;
	unsigned cpu1, cmp2, cmp3;
	int round;

	add_guests(cl, 1, 0);
	fake_hv_set_compare(cluster_host_uri(1), HV_CPU_INCOMPATIBLE,
	    "Host CPU does not provide required features: avx512f, amx-tile");
	assert_int_equal(cpucache_lookup(&cl->co, "g0", 1, NULL),
	    PLACE_UNKNOWN);
	req.vm = "g0";
	for (round = 0; round < 2; round++) {
		cpu1 = fake_hv_calls(cluster_host_uri(0), FAKE_OP_DOMAIN_CPU);
		cmp2 = fake_hv_calls(cluster_host_uri(1), FAKE_OP_COMPARE_CPU);
		cmp3 = fake_hv_calls(cluster_host_uri(2), FAKE_OP_COMPARE_CPU);
		assert_non_null(f = ctl_roundtrip(cl, MSG_CTL_PLACE, &req.base,
		    15000));
		assert_int_equal(f->hdr.status, FRAME_OK);
		assert_non_null(r = (Ferry__PlaceReply *)frame_unpack(f,
		    &ferry__place_reply__descriptor));
		frame_free(f);
		assert_int_equal(r->n_hosts, 3);
		assert_string_equal(r->hosts[0]->filter, "source");
		assert_false(r->hosts[1]->ok);
		assert_string_equal(r->hosts[1]->filter, "cpu");
		assert_string_equal(r->hosts[1]->reason, "h2: cpu: guest CPU: "
		    "Host CPU does not provide required features: avx512f, "
		    "amx-tile");
		assert_true(r->hosts[2]->ok);
		assert_string_equal(r->best, "h3");
		ferry__place_reply__free_unpacked(r, NULL);
		/* First: the source once, each other host once; then none. */
		assert_int_equal(fake_hv_calls(cluster_host_uri(0),
		    FAKE_OP_DOMAIN_CPU) - cpu1, round == 0 ? 1 : 0);
		assert_int_equal(fake_hv_calls(cluster_host_uri(1),
		    FAKE_OP_COMPARE_CPU) - cmp2, round == 0 ? 1 : 0);
		assert_int_equal(fake_hv_calls(cluster_host_uri(2),
		    FAKE_OP_COMPARE_CPU) - cmp3, round == 0 ? 1 : 0);
	}
	assert_int_equal(cpucache_lookup(&cl->co, "g0", 2, NULL), PLACE_YES);
}

/* ferryctl snapshot carries what the live planner knows: a VM whose
 * source says its disk is local (unmovable) is pinned in the snapshot, so
 * an offline plan of it (ferryctl plan --snapshot) never moves it, as the
 * live rebalance does not; the movable ones stay unpinned. */
static void
test_snapshot_marks_unmovable(void **state)
{
	struct cluster *cl = *state;
	Ferry__Empty req = FERRY__EMPTY__INIT;
	Ferry__SnapshotReply *r;
	struct balance_model *m;
	struct balance_plan *p;
	struct balance_opts o;
	struct hv_disk d;
	struct frame *f;
	char path[128], err[256];
	long vi;
	size_t i;

	add_guests(cl, 3, 0);
	memset(&d, 0, sizeof(d));
	snprintf(path, sizeof(path), "%s/local.qcow2", cl->dir);
	cluster_sh(": > %s", path);
	snprintf(d.target, sizeof(d.target), "vda");
	snprintf(d.type, sizeof(d.type), "file");
	snprintf(d.device, sizeof(d.device), "disk");
	snprintf(d.source, sizeof(d.source), "%s", path);
	assert_int_equal(fake_hv_add_running(cluster_host_uri(0), "local", &d,
	    1), 0);
	hostd_inventory_refresh(&cl->hd[0]);
	assert_true(cluster_run_until(cl, seen_on_h1, "local", 20000));

	assert_non_null(f = ctl_roundtrip(cl, MSG_CTL_SNAPSHOT, &req.base,
	    15000));
	assert_int_equal(f->hdr.status, FRAME_OK);
	assert_non_null(r = (Ferry__SnapshotReply *)frame_unpack(f,
	    &ferry__snapshot_reply__descriptor));
	frame_free(f);
	assert_int_equal(balance_parse(r->json, strlen(r->json), &m, err,
	    sizeof(err)), 0);
	ferry__snapshot_reply__free_unpacked(r, NULL);
	assert_true((vi = balance_find_vm(m, "local")) >= 0);
	assert_true(m->vms[vi].pinned);
	assert_false(m->vms[balance_find_vm(m, "g0")].pinned);
	/* Everything is on h1: the plan spreads the others, never it. */
	balance_opts_defaults(&o);
	assert_int_equal(balance_plan(m, &o, &p, err, sizeof(err)), 0);
	assert_true(p->nmoves > 0);
	for (i = 0; i < p->nmoves; i++)
		assert_int_not_equal(p->moves[i].vm, (size_t)vi);
	balance_plan_free(p);
	balance_model_free(m);
}

/* A rebalance plan waits for the other hosts' word on its VMs' CPUs: the
 * host that cannot run them gets no move although it is as empty as the
 * one that can. */
static void
test_rebalance_asks_cpu(void **state)
{
	struct cluster *cl = *state;
	Ferry__RebalanceRequest req = FERRY__REBALANCE_REQUEST__INIT;
	Ferry__RebalanceReply *r;
	struct json_object *root, *moves, *to;
	struct frame *f;
	size_t i, n;

	add_guests(cl, 4, 0);
	fake_hv_set_compare(cluster_host_uri(1), HV_CPU_INCOMPATIBLE,
	    "Host CPU does not provide required features: avx512f");
	assert_non_null(f = ctl_roundtrip(cl, MSG_CTL_REBALANCE, &req.base,
	    15000));
	assert_int_equal(f->hdr.status, FRAME_OK);
	assert_non_null(r = (Ferry__RebalanceReply *)frame_unpack(f,
	    &ferry__rebalance_reply__descriptor));
	frame_free(f);
	assert_non_null(root = json_tokener_parse(r->plan_json));
	assert_true(json_object_object_get_ex(root, "moves", &moves));
	assert_true((n = json_object_array_length(moves)) > 0);
	for (i = 0; i < n; i++) {
		assert_true(json_object_object_get_ex(
		    json_object_array_get_idx(moves, i), "destination", &to));
		assert_string_equal(json_object_get_string(to), "h3");
	}
	json_object_put(root);
	ferry__rebalance_reply__free_unpacked(r, NULL);
	assert_int_equal(cpucache_lookup(&cl->co, "g0", 1, NULL), PLACE_NO);
	/* The four guests share one CPU: one comparison per host. */
	assert_int_equal(fake_hv_calls(cluster_host_uri(1), FAKE_OP_COMPARE_CPU),
	    1);
}

/* migrate without --to asks the other hosts about the guest CPU once the
 * source has said what it is, and checks a host that did not say no: h2,
 * the placement's first choice (h3 carries more), is never checked as the
 * destination; the VM goes to h3 in one try. */
static void
test_migrate_asks_cpu(void **state)
{
	struct cluster *cl = *state;
	struct hv_domain big;
	int64_t id;

	memset(&big, 0, sizeof(big));
	snprintf(big.name, sizeof(big.name), "big");
	snprintf(big.uuid, sizeof(big.uuid), "5a1e0000-0000-0000-0000-0000000000b5");
	big.state = HV_STATE_RUNNING;
	big.mem_mib = 1024;
	big.vcpus = 1;
	big.persistent = 1;
	assert_int_equal(fake_hv_add_domain(cluster_host_uri(2), &big), 0);
	hostd_inventory_refresh(&cl->hd[2]);
	assert_true(cluster_run_until(cl, inventory_has_big, NULL, 20000));
	assert_int_equal(fake_hv_add_running(cluster_host_uri(0), "vmauto", NULL,
	    0), 0);
	fake_hv_set_compare(cluster_host_uri(1), HV_CPU_INCOMPATIBLE,
	    "Host CPU does not provide required features: avx512f");
	id = start_job(cl, "vmauto", NULL, 0);
	cluster_wait_final(cl, id, 20000);
	cluster_expect_job(cl, id, "succeeded", NULL);
	assert_true(cluster_running_on(cluster_host_uri(2), "vmauto"));
	assert_false(fake_hv_has_domain(cluster_host_uri(1), "vmauto"));
	/* One round of checks (h3's), not a refusal by h2 and a second try;
	 * h2 only compared the CPU (CPU_COMPARE). */
	assert_int_equal(journal_count(cl, id, "checks"), 1);
	assert_int_equal(fake_hv_calls(cluster_host_uri(1), FAKE_OP_COMPARE_CPU),
	    1);
	assert_int_equal(cpucache_lookup(&cl->co, "vmauto", 1, NULL), PLACE_NO);
}

static void
test_periodic_rebalance(void **state)
{
	struct cluster *cl = *state;
	char name[16];
	int i, on_h1 = 0, moved;

	add_guests(cl, 4, 0);
	/* Rounds every second, one move each; the quiet period keeps a moved
	 * VM from going back. */
	assert_true(cluster_run_until(cl, two_rounds, NULL, 30000));
	for (i = 0; i < 4; i++) {
		snprintf(name, sizeof(name), "g%d", i);
		on_h1 += cluster_running_on(cluster_host_uri(0), name);
	}
	moved = runs_of(cl, "migrate", "succeeded");
	assert_true(moved >= 2);
	assert_int_equal(on_h1, 4 - moved);
	/* Each round moved exactly one VM (max_moves 1), none of them twice. */
	assert_int_equal(runs_of(cl, "migrate", NULL), moved);
}

static int
setup_periodic(void **state)
{
	periodic_rebalance = 1;
	return setup(state);
}

static int
teardown_periodic(void **state)
{
	periodic_rebalance = 0;
	return teardown(state);
}

static int
moved_once(struct cluster *cl, void *arg)
{
	(void)arg;
	return runs_of(cl, "migrate", "succeeded") >= 1 &&
	    job_find_vm(&cl->co, "g0") == NULL;
}

static int
ticked(struct cluster *cl, void *arg)
{
	return cl->co.rebalance_next_ms >= *(uint64_t *)arg;
}

static int
g0_settled_on(struct cluster *cl, void *arg)
{
	return job_find_vm(&cl->co, "g0") == NULL &&
	    cluster_running_on(cluster_host_uri(*(int *)arg), "g0");
}

static int
big_seen(struct cluster *cl, void *arg)
{
	return cluster_inventory_has(cl, "big", *(int *)arg);
}

/* Periodic rounds after `rounds` more ticks; moves then fail the test. */
static void
quiet_rounds(struct cluster *cl, int rounds)
{
	uint64_t until = cl->co.rebalance_next_ms + (uint64_t)rounds * 1000;

	assert_true(cluster_run_until(cl, ticked, &until, 20000));
	assert_int_equal(runs_of(cl, "migrate", NULL), 1);
	assert_null(job_find_vm(&cl->co, "g0"));
}

/*
 * The quiet period is kept on the monotonic clock: g0, moved by a round,
 * is the only VM a later round could move (g1 and big are pinned), and
 * big joining it makes moving it worthwhile. The wall clock stepped two
 * hours forward (past the quiet hour) does not free it; an hour passing
 * on the monotonic clock does. Before, a wall step moved it back at once.
 */
static void
test_quiet_period_wall_step(void **state)
{
	struct cluster *cl = *state;
	struct hv_domain big;
	int dst, third;

	add_guests(cl, 2, 0);
	assert_true(cluster_run_until(cl, moved_once, NULL, 30000));
	dst = cluster_running_on(cluster_host_uri(1), "g0") ? 1 : 2;
	third = dst == 1 ? 2 : 1;
	assert_true(cluster_running_on(cluster_host_uri(dst), "g0"));
	memset(&big, 0, sizeof(big));
	snprintf(big.name, sizeof(big.name), "big");
	snprintf(big.uuid, sizeof(big.uuid),
	    "5a1e0000-0000-0000-0000-0000000000b6");
	big.state = HV_STATE_RUNNING;
	big.mem_mib = 2048;
	big.vcpus = 1;
	big.persistent = 1;
	assert_int_equal(fake_hv_add_domain(cluster_host_uri(dst), &big), 0);
	hostd_inventory_refresh(&cl->hd[dst]);
	assert_true(cluster_run_until(cl, big_seen, &dst, 20000));
	quiet_rounds(cl, 2);
	clock_test_step(CLOCK_KIND_WALL, 2 * 3600 * 1000);
	quiet_rounds(cl, 3);
	/* An hour on the monotonic clock: quiet no longer (the hosts'
	 * heartbeats may lapse at the step; they come back). */
	clock_test_step(CLOCK_KIND_MONO, 3601 * 1000);
	assert_true(cluster_run_until(cl, g0_settled_on, &third, 30000));
	assert_false(cluster_running_on(cluster_host_uri(dst), "g0"));
	clock_test_reset();
}

static int
setup_quiet(void **state)
{
	periodic_rebalance = quiet_pins = 1;
	return setup(state);
}

static int
teardown_quiet(void **state)
{
	clock_test_reset();
	periodic_rebalance = quiet_pins = 0;
	return teardown(state);
}

/* ---- the machine as data ------------------------------------------------ */

/* The table is the diagram: the edges it has, and some it must not. */
static void
test_transition_table(void **state)
{
	int s, e, n = 0;

	(void)state;
	assert_int_equal(job_edge_to(JOB_PENDING, JOB_EV_RUN), JOB_CHECKING);
	assert_int_equal(job_edge_to(JOB_CHECKING, JOB_EV_PASSED),
	    JOB_MIGRATING);
	assert_int_equal(job_edge_to(JOB_CHECKING, JOB_EV_REFUSED),
	    JOB_REFUSED);
	assert_int_equal(job_edge_to(JOB_CHECKING, JOB_EV_ABORTED),
	    JOB_VERIFYING);
	assert_int_equal(job_edge_to(JOB_MIGRATING, JOB_EV_ENDED),
	    JOB_VERIFYING);
	/* A post-copy resume goes back. */
	assert_int_equal(job_edge_to(JOB_VERIFYING, JOB_EV_RESUME),
	    JOB_MIGRATING);
	assert_int_equal(job_edge_to(JOB_VERIFYING, JOB_EV_SUCCEEDED),
	    JOB_SUCCEEDED);
	assert_int_equal(job_edge_to(JOB_VERIFYING, JOB_EV_ROLLED_BACK),
	    JOB_ROLLED_BACK);
	assert_int_equal(job_edge_to(JOB_VERIFYING, JOB_EV_FAILED), JOB_FAILED);
	assert_int_equal(job_edge_to(JOB_PENDING, JOB_EV_RECOVER),
	    JOB_VERIFYING);
	assert_int_equal(job_edge_to(JOB_CHECKING, JOB_EV_RECOVER),
	    JOB_VERIFYING);
	/* Never: success without verification, a refusal once MIGRATE may
	 * have left, anything out of a final state. */
	assert_int_equal(job_edge_to(JOB_MIGRATING, JOB_EV_SUCCEEDED), -1);
	assert_int_equal(job_edge_to(JOB_CHECKING, JOB_EV_SUCCEEDED), -1);
	assert_int_equal(job_edge_to(JOB_MIGRATING, JOB_EV_REFUSED), -1);
	assert_int_equal(job_edge_to(JOB_MIGRATING, JOB_EV_RECOVER), -1);
	for (s = JOB_SUCCEEDED; s < JOB_NSTATES; s++)
		for (e = 0; e < JOB_NEVENTS; e++)
			assert_int_equal(job_edge_to(s, e), -1);
	for (s = 0; s < JOB_NSTATES; s++)
		for (e = 0; e < JOB_NEVENTS; e++)
			n += job_edge_to(s, e) >= 0;
	assert_int_equal(n, 11);	/* the diagram's rows */
}

static int illegal_seen;

static void
illegal_count(const struct job *j, enum job_event ev)
{
	(void)j;
	(void)ev;
	illegal_seen++;
}

/* An illegal edge is refused (and reported to the hook): the job and its
 * journal stay where they were. */
static void
test_illegal_edge_refused(void **state)
{
	struct cluster *cl = *state;
	void (*strict)(const struct job *, enum job_event) = job_illegal_hook;
	struct store_job sj;
	int64_t id, arg[2];
	struct job *j;

	assert_int_equal(fake_hv_add_running(cluster_host_uri(0), "vil", NULL,
	    0), 0);
	cluster_script(0, "vil", 12, 0, NULL);
	id = start_job(cl, "vil", "h2", 0);
	arg[0] = id;
	arg[1] = JOB_MIGRATING;
	assert_true(cluster_run_until(cl, cluster_job_in, arg, 10000));
	j = job_find(&cl->co, id);
	job_illegal_hook = illegal_count;
	assert_int_equal(job_enter(j, JOB_EV_SUCCEEDED, "not verified"), -1);
	job_illegal_hook = strict;
	assert_int_equal(illegal_seen, 1);
	assert_int_equal(j->state, JOB_MIGRATING);
	memset(&sj, 0, sizeof(sj));
	assert_int_equal(store_job_get(cl->co.store, id, &sj), 1);
	assert_string_equal(sj.state, "migrating");
	store_job_clear(&sj);
	cluster_wait_final(cl, id, 20000);
	cluster_expect_job(cl, id, "succeeded", NULL);
}

static int
retrying_in(struct cluster *cl, void *arg)
{
	int64_t *a = arg;
	struct job *j = job_find(&cl->co, a[0]);

	return j != NULL && (int64_t)j->state == a[1] && j->retry_pending;
}

/* A transition the journal refuses is not taken: the job stays where it
 * stands, holds its VM, and the same transition is retried until written;
 * nothing acted on the unrecorded state. */
static void
test_journal_failure_retried(void **state)
{
	struct cluster *cl = *state;
	Ferry__MigrateOptions o = FERRY__MIGRATE_OPTIONS__INIT;
	char states[256], err[512];
	struct job *j, *j2;
	int64_t id, arg[2];

	assert_int_equal(fake_hv_add_running(cluster_host_uri(0), "vjf", NULL,
	    0), 0);
	cluster_script(0, "vjf", 12, 0, NULL);
	/* pending -> checking fails twice: no check is sent meanwhile. */
	job_journal_fail = 2;
	id = start_job(cl, "vjf", "h2", 0);
	j = job_find(&cl->co, id);
	assert_non_null(j);
	assert_int_equal(j->state, JOB_PENDING);
	assert_true(j->retry_pending);
	assert_int_equal(j->calls, 0);
	/* It still holds the VM: a second job on it is refused. */
	o.vm = "vjf";
	o.to = "h3";
	assert_int_equal(job_migrate(&cl->co, &o, 0, NULL, &j2, err,
	    sizeof(err)), -FERRY_ECONFLICT);
	assert_non_null(strstr(err, "already has job"));
	arg[0] = id;
	arg[1] = JOB_MIGRATING;
	assert_true(cluster_run_until(cl, cluster_job_in, arg, 15000));
	assert_int_equal(job_journal_fail, 0);
	/* migrating -> verifying fails once: it stays migrating, then
	 * verifies. */
	job_journal_fail = 1;
	assert_true(cluster_run_until(cl, retrying_in, arg, 15000));
	cluster_wait_final(cl, id, 20000);
	assert_int_equal(job_journal_fail, 0);
	cluster_expect_job(cl, id, "succeeded", NULL);
	journal_states(cl, id, states, sizeof(states));
	assert_string_equal(states,
	    "pending checking migrating verifying succeeded");
	assert_true(cluster_running_on(cluster_host_uri(1), "vjf"));
	assert_false(fake_hv_has_domain(cluster_host_uri(0), "vjf"));
	assert_int_equal(fake_hv_calls(cluster_host_uri(0), FAKE_OP_MIGRATE), 1);
}

/* ---- deadlines, on the injected monotonic clock (clock.h) ---------------- */

static int
verified_rounds(struct cluster *cl, void *arg)
{
	int64_t *a = arg;
	struct job *j = job_find(&cl->co, a[0]);

	return j != NULL && j->state == JOB_VERIFYING && j->verify_round >= a[1];
}

/* A destination that never answers: verification waits for it, asking
 * again every second, until the verifying state's own deadline; then the
 * job fails naming what each host said, and nothing is destroyed. */
static void
test_verify_deadline(void **state)
{
	struct cluster *cl = *state;
	int64_t id, arg[2];
	struct job *j;
	uint64_t now;

	assert_int_equal(fake_hv_add_running(cluster_host_uri(0), "vvd", NULL,
	    0), 0);
	cluster_script(0, "vvd", 8, -1, "injected: migration failed");
	id = start_job(cl, "vvd", "h2", 0);
	arg[0] = id;
	arg[1] = JOB_MIGRATING;
	assert_true(cluster_run_until(cl, cluster_job_in, arg, 10000));
	fake_hv_fail(cluster_host_uri(1), FAKE_OP_DOMAIN_INFO, 1000000, -1,
	    "injected: cannot get domain info");
	arg[1] = 3;
	assert_true(cluster_run_until(cl, verified_rounds, arg, 20000));
	j = job_find(&cl->co, id);
	now = clock_mono_ms();
	/* The deadline is the state's: set when verifying was entered. */
	assert_true(j->deadline_ms > now);
	assert_true(j->deadline_ms <= now + VERIFY_DEADLINE_MS);
	assert_true(j->deadline_ms + 5000 > now + VERIFY_DEADLINE_MS - 20000);
	clock_test_step(CLOCK_KIND_MONO, (int64_t)(j->deadline_ms - now + 1));
	cluster_wait_final(cl, id, 20000);
	fake_hv_fail(cluster_host_uri(1), FAKE_OP_DOMAIN_INFO, 0, 0, NULL);
	clock_test_reset();
	cluster_expect_job(cl, id, "failed", "cannot verify where vvd runs");
	assert_true(cluster_running_on(cluster_host_uri(0), "vvd"));
}

/* Issue 11's start: a post-copy whose link was cut past libvirt's
 * keepalive failed on the source (its migrate call returned "client
 * socket is closed", its copy paused, postcopy-failed), and once the link
 * returned the destination's QEMU finished on its own: h2 says running
 * (migrated), same UUID. Returns the job's id, verifying. */
static int64_t
postcopy_finished_on_dest(struct cluster *cl, const char *vm)
{
	struct hv_domain d;
	int64_t id, arg[2];

	assert_int_equal(fake_hv_add_running(cluster_host_uri(0), vm, NULL, 0),
	    0);
	cluster_script(0, vm, 6, -1, "internal error: client socket is closed");
	assert_int_equal(fake_hv_script_after(cluster_host_uri(0), vm,
	    VIR_DOMAIN_PAUSED, VIR_DOMAIN_PAUSED_POSTCOPY_FAILED), 0);
	id = start_job(cl, vm, "h2", 0);
	arg[0] = id;
	arg[1] = JOB_MIGRATING;
	assert_true(cluster_run_until(cl, cluster_job_in, arg, 10000));
	memset(&d, 0, sizeof(d));
	assert_int_equal(fake_hv_get_domain(cluster_host_uri(0), vm, &d), 0);
	assert_int_equal(fake_hv_add_domain(cluster_host_uri(1), &d), 0);
	hv_domain_clear(&d);
	assert_int_equal(fake_hv_set_state(cluster_host_uri(1), vm,
	    VIR_DOMAIN_RUNNING, VIR_DOMAIN_RUNNING_MIGRATED), 0);
	/* Judged several times while the source still says postcopy-failed
	 * (no libvirt job on it: its migrate call has returned). */
	arg[1] = 3;
	assert_true(cluster_run_until(cl, verified_rounds, arg, 20000));
	return id;
}

/* Issue 11 (fault matrix postcopy-link, 45 s cut: 4 of 28 runs): the job
 * was judged in the 2 s between the destination's "running (migrated)"
 * and the source's "shut off (migrated)", failed ("one host's word"), and
 * the source's persistent definition stayed: a virsh start there would
 * boot a second copy. The job now waits for the source's word, then
 * undefines that inactive definition: succeeded, nothing left on h1. */
static void
test_postcopy_source_settles(void **state)
{
	struct cluster *cl = *state;
	struct job *j;
	int64_t id;
	int st, r;

	id = postcopy_finished_on_dest(cl, "vps");
	assert_non_null(j = job_find(&cl->co, id));
	assert_int_equal(j->state, JOB_VERIFYING);
	assert_int_equal(journal_count_with(cl, id, "info",
	    "waiting for the source to see its post-copy end"), 1);
	assert_int_equal(cluster_dom_state(cluster_host_uri(0), "vps", &st,
	    &r), 0);
	assert_int_equal(st, HV_STATE_PAUSED);
	/* The source's libvirt sees its QEMU finish: shut off, migrated,
	 * still defined (no UNDEFINE_SOURCE after a broken connection). */
	assert_int_equal(fake_hv_set_state(cluster_host_uri(0), "vps",
	    VIR_DOMAIN_SHUTOFF, VIR_DOMAIN_SHUTOFF_MIGRATED), 0);
	cluster_wait_final(cl, id, 20000);
	cluster_expect_job(cl, id, "succeeded", NULL);
	assert_int_equal(journal_count_with(cl, id, "cleanup",
	    "undefined the source's leftover inactive definition on h1"), 1);
	assert_false(fake_hv_has_domain(cluster_host_uri(0), "vps"));
	assert_int_equal(fake_hv_calls(cluster_host_uri(0), FAKE_OP_DESTROY), 0);
	assert_true(cluster_running_on(cluster_host_uri(1), "vps"));
}

/* The same, but the source never settles: at the verifying deadline the
 * job fails, names what each host said and what the operator must do,
 * and neither host's copy was touched. */
static void
test_postcopy_source_unsettled(void **state)
{
	struct cluster *cl = *state;
	struct job *j;
	int64_t id;
	uint64_t now;
	int st, r;

	id = postcopy_finished_on_dest(cl, "vpu");
	assert_non_null(j = job_find(&cl->co, id));
	now = clock_mono_ms();
	assert_true(j->deadline_ms > now);
	/* The deadline reached, by the job's own field: stepping the
	 * monotonic clock would also time out the hosts' sessions, and the
	 * job would fail on "cannot verify" instead. */
	j->deadline_ms = now;
	cluster_wait_final(cl, id, 20000);
	cluster_expect_job(cl, id, "failed", "h1 still holds a copy (paused "
	    "(postcopy-failed)); Ferry destroys nothing on one host's word");
	cluster_expect_job(cl, id, "failed", "remove the copy on h1");
	assert_int_equal(fake_hv_calls(cluster_host_uri(0), FAKE_OP_DESTROY), 0);
	assert_int_equal(fake_hv_calls(cluster_host_uri(0), FAKE_OP_UNDEFINE), 0);
	assert_int_equal(cluster_dom_state(cluster_host_uri(0), "vpu", &st,
	    &r), 0);
	assert_int_equal(st, HV_STATE_PAUSED);
	assert_true(cluster_running_on(cluster_host_uri(1), "vpu"));
}

static int
migrating_quietly(struct cluster *cl, void *arg)
{
	struct job *j = job_find(&cl->co, *(int64_t *)arg);

	return j != NULL && j->state == JOB_MIGRATING && j->calls == 0 &&
	    j->step == JOB_STEP_RUNNING && j->nsamples >= 1;
}

/* The journal has a "verifying" entry whose data contains what. */
static int
journal_has(struct cluster *cl, int64_t id, const char *st, const char *what)
{
	struct store_event *ev = NULL;
	size_t n = 0, i;
	int found = 0;

	assert_int_equal(store_job_events(cl->co.store, id, &ev, &n), 0);
	for (i = 0; i < n; i++)
		if (strcmp(ev[i].type, "state") == 0 &&
		    strcmp(ev[i].state, st) == 0 && ev[i].data &&
		    strstr(ev[i].data, what) != NULL)
			found = 1;
	store_event_list_free(ev, n);
	return found;
}

/* A migration that outlives libvirt's completion timeout by the stuck
 * grace: migrating's deadline (the state's own) passes, the job stops
 * waiting for the source and asks both hosts; while libvirt still has
 * the job it waits, and the truth it then finds is recorded. */
static void
test_stuck_grace(void **state)
{
	struct cluster *cl = *state;
	int64_t id;
	struct job *j;
	uint64_t now;

	assert_int_equal(fake_hv_add_running(cluster_host_uri(0), "vsg", NULL,
	    0), 0);
	cluster_script(0, "vsg", 16, 0, NULL);
	id = start_job(cl, "vsg", "h2", 0);
	assert_true(cluster_run_until(cl, migrating_quietly, &id, 15000));
	j = job_find(&cl->co, id);
	now = clock_mono_ms();
	/* Migrating's deadline is the completion timeout plus the grace. */
	assert_true(j->deadline_ms > now + STUCK_GRACE_MS);
	clock_test_step(CLOCK_KIND_MONO, (int64_t)(j->deadline_ms - now + 1));
	if (!cluster_run_until(cl, cluster_job_in,
	    (int64_t[]){ id, JOB_VERIFYING }, 10000) &&
	    job_find(&cl->co, id) != NULL)
		fail_msg("job %lld did not stop waiting past its deadline",
		    (long long)id);
	assert_true(journal_has(cl, id, "verifying", "did not end"));
	cluster_wait_final(cl, id, 40000);
	clock_test_reset();
	cluster_expect_job(cl, id, "succeeded", NULL);
	assert_true(cluster_running_on(cluster_host_uri(1), "vsg"));
	assert_false(fake_hv_has_domain(cluster_host_uri(0), "vsg"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_transition_table),
		cmocka_unit_test_setup_teardown(test_illegal_edge_refused, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_journal_failure_retried,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_verify_deadline, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_stuck_grace, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_success, setup, teardown),
		cmocka_unit_test_setup_teardown(test_final_figures, setup,
		    teardown),
		cmocka_unit_test(test_progress_event_truth),
		cmocka_unit_test_setup_teardown(test_refused_local_disk, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_refused_rbd, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_refused_cpu, setup, teardown),
		cmocka_unit_test_setup_teardown(test_abort, setup, teardown),
		cmocka_unit_test_setup_teardown(test_slow_checks_do_not_starve,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_abort_reply, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_abort_refused_is_retried,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_libvirt_failure, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_both_running_is_failed, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_abort_survives_restart, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_recovery_after_restart, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_picks_least_loaded, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_bad_requests, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wire, setup, teardown),
		cmocka_unit_test_setup_teardown(test_postcopy_resume, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_postcopy_resume_refused, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_postcopy_source_settles,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_postcopy_source_unsettled,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_drain_parallel, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_drain_vm_comes_back, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_drain_overlaps_two, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_snapshot_marks_unmovable,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_drain_checks_ahead, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_drain_cancel_held, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_drain_unmovable, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_drain_cancel, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_zone_placement,
		    setup_zones, teardown_zones),
		cmocka_unit_test_setup_teardown(test_no_valid_host_reasons,
		    setup_zones, teardown_zones),
		cmocka_unit_test_setup_teardown(test_restore_placement,
		    setup_zones, teardown_zones),
		cmocka_unit_test_setup_teardown(test_cpu_cache, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cpu_baseline, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_place_asks_first, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_rebalance_asks_cpu, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_migrate_asks_cpu, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_cpu_prefetch, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_quiet_period_wall_step,
		    setup_quiet, teardown_quiet),
		cmocka_unit_test_setup_teardown(test_periodic_rebalance,
		    setup_periodic, teardown_periodic),
	};

	log_init("test_job", 0);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
