/* test_races.c: operations that collide, in one process: real ferry-hostd
 * cores over the real SSH transport on loopback, each on a fake hypervisor
 * (fake_hv.c), and a real coordinator core with its SQLite store, as in
 * test_job.c. Each test sets up one interleaving (a migration heading to a
 * host that starts draining, two drains that are each other's destination,
 * a drain and a rebalance, a shutdown during the pre-checks, a recovery
 * whose verification runs late, a wall-clock step) and checks the
 * invariants: every VM on exactly one host, no host in maintenance with a
 * VM on it, and records that say what the fake hypervisors say. */
#include <sys/stat.h>

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "cluster.h"
#include "coordinator.h"
#include "drain_int.h"
#include "fake_hv.h"
#include "hostd.h"
#include "log.h"

#define NHOSTS		CLUSTER_NHOSTS
#define MIB		(1024ULL * 1024)


static const struct cluster_opts races_opts = {
	.tag = "races",
};

static int
setup(void **state)
{
	return cluster_setup(state, &races_opts);
}

static int
teardown(void **state)
{
	clock_test_reset();	/* a failed test may have moved the clocks */
	return cluster_teardown(state);
}

/* ---- helpers --------------------------------------------------------- */

static int64_t
start_job(struct cluster *cl, const char *vm, int from, const char *to,
    uint64_t bandwidth)
{
	Ferry__MigrateOptions o = FERRY__MIGRATE_OPTIONS__INIT;
	struct job *j;
	char err[512];

	cluster_wait_seen(cl, vm, from);
	o.vm = (char *)vm;
	o.to = (char *)to;
	if (bandwidth) {
		o.has_bandwidth_mibs = 1;
		o.bandwidth_mibs = bandwidth;
	}
	if (job_migrate(&cl->co, &o, 0, NULL, &j, err, sizeof(err)) < 0)
		fail_msg("job_migrate: %s", err);
	job_run(j);
	return j->id;
}





/* ---- invariants --------------------------------------------------------- */

static int
hosts_running(const char *vm)
{
	int k, n = 0;

	for (k = 0; k < NHOSTS; k++)
		n += cluster_running_on(cluster_host_uri(k), vm);
	return n;
}

/* A host in maintenance runs nothing, by the fake hypervisor's word. */
static void
expect_maintenance_empty(struct cluster *cl, int i, const char **vms,
    size_t n)
{
	size_t k;

	assert_string_equal(cl->co.hosts[i].admin_state, "maintenance");
	for (k = 0; k < n; k++)
		if (cluster_running_on(cluster_host_uri(i), vms[k]))
			fail_msg("h%d is in maintenance and runs %s", i + 1,
			    vms[k]);
}

static void
expect_once(const char **vms, size_t n)
{
	size_t k;

	for (k = 0; k < n; k++)
		if (hosts_running(vms[k]) != 1)
			fail_msg("%s runs on %d hosts", vms[k],
			    hosts_running(vms[k]));
}

static int
no_drain(struct cluster *cl, void *arg)
{
	(void)arg;
	return TAILQ_EMPTY(&cl->co.drains);
}

static int
no_job(struct cluster *cl, void *arg)
{
	(void)arg;
	return TAILQ_EMPTY(&cl->co.jobs);
}

/* The state of the last run of this kind on this host (NULL: any), ""
 * if none. A run's host is in its own record, not in a job's vm. */
static void
last_run(struct cluster *cl, const char *kind, const char *host, char *state,
    size_t len, char *error, size_t errlen)
{
	struct store_run *runs = NULL;
	struct store_job sj;
	size_t n = 0, i;
	int64_t id = 0;

	assert_int_equal(store_runs_list(cl->co.store, 0, &runs, &n), 0);
	state[0] = '\0';
	if (error)
		error[0] = '\0';
	for (i = 0; i < n; i++)
		if (strcmp(runs[i].kind, kind) == 0 &&
		    (host == NULL || strcmp(runs[i].host, host) == 0))
			id = runs[i].id;
	free(runs);
	if (id == 0)
		return;
	assert_int_equal(store_job_get(cl->co.store, id, &sj), 1);
	snprintf(state, len, "%s", sj.state);
	if (error)
		snprintf(error, errlen, "%s", sj.error ? sj.error : "");
	store_job_clear(&sj);
}

/* Host i's drain ends completed: i is in maintenance, runs none of vms,
 * and each of them runs on one host. */
static void
drain_completed(struct cluster *cl, int i, const char **vms, size_t n)
{
	char st[32];

	assert_true(cluster_run_until(cl, no_drain, NULL, 60000));
	cluster_run_until(cl, no_job, NULL, 30000);
	last_run(cl, "drain", cl->co.hosts[i].conf.name, st, sizeof(st), NULL,
	    0);
	assert_string_equal(st, "completed");
	expect_maintenance_empty(cl, i, vms, n);
	expect_once(vms, n);
}

static int
migrations_of(struct cluster *cl, const char *vm, const char *state)
{
	struct store_job *sj = NULL;
	size_t n = 0, i;
	int c = 0;

	assert_int_equal(store_jobs_list(cl->co.store, 0, 0, &sj, &n), 0);
	for (i = 0; i < n; i++)
		if (strcmp(sj[i].kind, "migrate") == 0 &&
		    strcmp(sj[i].vm, vm) == 0 &&
		    (state == NULL || strcmp(sj[i].state, state) == 0))
			c++;
	store_job_list_free(sj, n);
	return c;
}

static void
enter(struct cluster *cl, const char *host, uint32_t max_parallel)
{
	Ferry__MaintenanceRequest req = FERRY__MAINTENANCE_REQUEST__INIT;
	char err[256];

	req.host = (char *)host;
	if (max_parallel) {
		req.has_max_parallel = 1;
		req.max_parallel = max_parallel;
	}
	if (drain_enter(&cl->co, &req, NULL, MSG_CTL_MAINT_ENTER, 1, err,
	    sizeof(err)) < 0)
		fail_msg("maintenance enter %s: %s", host, err);
}

static void
add_big(int i, const char *name, uint64_t mib)
{
	struct hv_domain big;

	memset(&big, 0, sizeof(big));
	snprintf(big.name, sizeof(big.name), "%s", name);
	snprintf(big.uuid, sizeof(big.uuid),
	    "5a1e0000-0000-0000-0000-0000000000%02x", i + 0xb0);
	big.state = HV_STATE_RUNNING;
	big.mem_mib = mib;
	big.vcpus = 1;
	big.persistent = 1;
	assert_int_equal(fake_hv_add_domain(cluster_host_uri(i), &big), 0);
}

/* ---- a migration heading to a host that starts draining ----------------- */

/* migrate vb --to h3, then maintenance enter h3 while it is in flight: the
 * drain waits for it, then moves vb away; h3 is maintenance only when it
 * runs nothing (it ended "completed" with vb on h3). */
static void
test_migrate_vs_maintenance_of_destination(void **state)
{
	struct cluster *cl = *state;
	const char *vms[] = { "vb" };
	int64_t id, arg[2];

	assert_int_equal(fake_hv_add_running(cluster_host_uri(0), "vb", NULL, 0), 0);
	cluster_script(0, "vb", 10, 0, NULL);
	id = start_job(cl, "vb", 0, "h3", 0);
	arg[0] = id;
	arg[1] = JOB_MIGRATING;
	assert_true(cluster_run_until(cl, cluster_job_in, arg, 10000));
	enter(cl, "h3", 0);
	drain_completed(cl, 2, vms, 1);
	cluster_expect_job(cl, id, "succeeded", NULL);
	/* It moved twice: to h3 by the operator, away by the drain. */
	assert_int_equal(migrations_of(cl, "vb", "succeeded"), 2);
}

/* The drain starts while the migration to its host is still being checked:
 * the migration is refused before it starts, and the VM stays put. */
static void
test_migrate_refused_when_destination_drains(void **state)
{
	struct cluster *cl = *state;
	const char *vms[] = { "vc" };
	char st[32];
	int64_t id;

	assert_int_equal(fake_hv_add_running(cluster_host_uri(0), "vc", NULL, 0), 0);
	id = start_job(cl, "vc", 0, "h3", 0);	/* checks in flight */
	assert_int_equal(cl->co.jobs.tqh_first->state, JOB_CHECKING);
	enter(cl, "h3", 0);
	cluster_wait_final(cl, id, 15000);
	cluster_expect_job(cl, id, "refused", "h3 is being drained");
	assert_true(cluster_run_until(cl, no_drain, NULL, 30000));
	cluster_run_until(cl, no_job, NULL, 30000);
	last_run(cl, "drain", "h3", st, sizeof(st), NULL, 0);
	assert_string_equal(st, "completed");
	assert_int_equal(fake_hv_calls(cluster_host_uri(0), FAKE_OP_MIGRATE), 0);
	assert_true(cluster_running_on(cluster_host_uri(0), "vc"));
	expect_maintenance_empty(cl, 2, vms, 1);
	expect_once(vms, 1);
}

/* A drain of h1 finds one of its VMs already on its way out (an operator's
 * migration): it follows that job instead of planning the VM again (a
 * replan turned MIGRATING into PLANNED and moved it twice), and learns its
 * end although the job is not its own. */
static void
test_drain_follows_a_migration_in_flight(void **state)
{
	struct cluster *cl = *state;
	const char *vms[] = { "vf", "g1" };
	char st[32];
	int64_t id, arg[2];

	assert_int_equal(fake_hv_add_running(cluster_host_uri(0), "vf", NULL, 0), 0);
	assert_int_equal(fake_hv_add_running(cluster_host_uri(0), "g1", NULL, 0), 0);
	cluster_script(0, "vf", 8, 0, NULL);
	cluster_wait_seen(cl, "g1", 0);
	id = start_job(cl, "vf", 0, "h2", 0);
	arg[0] = id;
	arg[1] = JOB_MIGRATING;
	assert_true(cluster_run_until(cl, cluster_job_in, arg, 10000));
	enter(cl, "h1", 0);
	assert_true(cluster_run_until(cl, no_drain, NULL, 60000));
	cluster_run_until(cl, no_job, NULL, 30000);
	cluster_expect_job(cl, id, "succeeded", NULL);
	last_run(cl, "drain", "h1", st, sizeof(st), NULL, 0);
	assert_string_equal(st, "completed");
	assert_int_equal(migrations_of(cl, "vf", NULL), 1);
	assert_true(cluster_running_on(cluster_host_uri(1), "vf"));
	expect_maintenance_empty(cl, 0, vms, 2);
	expect_once(vms, 2);
}

/* ---- two drains ---------------------------------------------------------- */

/* h2 and h3 drained at once, each the other's likely destination (h1 is
 * the fullest): the VM h2's drain sends to h3 must not be left on h3. */
static void
test_two_drains_each_others_destination(void **state)
{
	struct cluster *cl = *state;
	const char *vms[] = { "a", "b" };
	char st[32];

	add_big(0, "big", 2048);
	assert_int_equal(fake_hv_add_running(cluster_host_uri(1), "a", NULL, 0), 0);
	assert_int_equal(fake_hv_add_running(cluster_host_uri(2), "b", NULL, 0), 0);
	cluster_script(1, "a", 10, 0, NULL);
	cluster_script(2, "b", 4, 0, NULL);
	cluster_wait_seen(cl, "big", 0);
	cluster_wait_seen(cl, "a", 1);
	cluster_wait_seen(cl, "b", 2);
	enter(cl, "h2", 0);
	/* a is on its way, to h3 (most room), when h3's drain begins. */
	{
		uint64_t end = cluster_mono_ms() + 15000;
		struct job *j = NULL;

		while (cluster_mono_ms() < end) {
			uv_run(&cl->loop, UV_RUN_NOWAIT), usleep(2000);
			if ((j = job_find_vm(&cl->co, "a")) != NULL &&
			    j->state == JOB_MIGRATING)
				break;
		}
		assert_non_null(j);
		assert_int_equal(j->state, JOB_MIGRATING);
		assert_string_equal(j->destination, "h3");
	}
	enter(cl, "h3", 0);
	assert_true(cluster_run_until(cl, no_drain, NULL, 60000));
	cluster_run_until(cl, no_job, NULL, 30000);
	last_run(cl, "drain", "h2", st, sizeof(st), NULL, 0);
	assert_string_equal(st, "completed");
	last_run(cl, "drain", "h3", st, sizeof(st), NULL, 0);
	assert_string_equal(st, "completed");
	expect_maintenance_empty(cl, 1, vms, 2);
	expect_maintenance_empty(cl, 2, vms, 2);
	expect_once(vms, 2);
	assert_true(cluster_running_on(cluster_host_uri(0), "a"));
	assert_true(cluster_running_on(cluster_host_uri(0), "b"));
}

/* The same host twice: the second is refused, plainly. */
static void
test_drain_same_host_twice(void **state)
{
	struct cluster *cl = *state;
	Ferry__MaintenanceRequest req = FERRY__MAINTENANCE_REQUEST__INIT;
	const char *vms[] = { "g1", "g2" };
	char err[256], st[32];

	assert_int_equal(fake_hv_add_running(cluster_host_uri(0), "g1", NULL, 0), 0);
	assert_int_equal(fake_hv_add_running(cluster_host_uri(0), "g2", NULL, 0), 0);
	cluster_script(0, "g1", 6, 0, NULL);
	cluster_wait_seen(cl, "g1", 0);
	cluster_wait_seen(cl, "g2", 0);
	enter(cl, "h1", 1);
	req.host = "h1";
	assert_int_equal(drain_enter(&cl->co, &req, NULL, MSG_CTL_MAINT_ENTER,
	    2, err, sizeof(err)), -FERRY_ECONFLICT);
	assert_string_equal(err, "host h1 is already being drained");
	assert_true(cluster_run_until(cl, no_drain, NULL, 60000));
	cluster_run_until(cl, no_job, NULL, 30000);
	last_run(cl, "drain", "h1", st, sizeof(st), NULL, 0);
	assert_string_equal(st, "completed");
	assert_int_equal(migrations_of(cl, "g1", NULL), 1);
	assert_int_equal(migrations_of(cl, "g2", NULL), 1);
	expect_maintenance_empty(cl, 0, vms, 2);
	expect_once(vms, 2);
}

/* ---- drain vs rebalance --------------------------------------------------- */

/* A rebalance moves VMs off h1; the destination of its first move is put
 * into maintenance while that move is in flight: the drain waits for it and
 * moves the VM on, and the rebalance's later moves there are refused. */
static void
test_drain_vs_rebalance(void **state)
{
	struct cluster *cl = *state;
	Ferry__RebalanceRequest rr = FERRY__REBALANCE_REQUEST__INIT;
	const char *vms[] = { "g0", "g1", "g2", "g3" };
	char err[256], st[32], dest[64];
	uint64_t end;
	struct job *j = NULL;
	size_t i;
	int d;

	for (i = 0; i < 4; i++) {
		assert_int_equal(fake_hv_add_running(cluster_host_uri(0), vms[i], NULL,
		    0), 0);
		cluster_script(0, vms[i], 8, 0, NULL);
	}
	for (i = 0; i < 4; i++)
		cluster_wait_seen(cl, vms[i], 0);
	rr.has_apply = 1;
	rr.apply = 1;
	if (rebalance_request(&cl->co, &rr, NULL, MSG_CTL_REBALANCE, 3, err,
	    sizeof(err)) < 0)
		fail_msg("rebalance: %s", err);
	for (end = cluster_mono_ms() + 15000; cluster_mono_ms() < end; ) {
		uv_run(&cl->loop, UV_RUN_NOWAIT), usleep(2000);
		if ((j = TAILQ_FIRST(&cl->co.jobs)) != NULL &&
		    j->state == JOB_MIGRATING)
			break;
	}
	assert_non_null(j);
	assert_int_equal(j->state, JOB_MIGRATING);
	assert_true(j->parent != 0);
	snprintf(dest, sizeof(dest), "%s", j->destination);
	d = dest[1] - '1';
	enter(cl, dest, 0);
	assert_true(cluster_run_until(cl, no_drain, NULL, 90000));
	cluster_run_until(cl, no_job, NULL, 30000);
	last_run(cl, "drain", dest, st, sizeof(st), NULL, 0);
	assert_string_equal(st, "completed");
	expect_maintenance_empty(cl, d, vms, 4);
	expect_once(vms, 4);
	/* While the drain ran, nothing was planned onto its host. */
	for (i = 0; i < 4; i++)
		assert_false(cluster_running_on(cluster_host_uri(d), vms[i]));
}

/* A host really named "cluster": a rebalance once ran under that label,
 * so maintenance enter cluster during a rebalance was refused ("already
 * being drained") and the rebalance's record looked like a drain of it.
 * Now the drain of cluster runs beside the rebalance, and each run's
 * record says what it is. */
static void
named_cluster_conf(struct cluster *cl, struct coord_conf *cc)
{
	(void)cl;
	snprintf(cc->hosts[2].name, sizeof(cc->hosts[2].name), "cluster");
}

static const struct cluster_opts named_cluster_opts = {
	.tag = "races",
	.coord_conf = named_cluster_conf,
};

static int
setup_named_cluster(void **state)
{
	return cluster_setup(state, &named_cluster_opts);
}

static void
test_host_named_cluster(void **state)
{
	struct cluster *cl = *state;
	Ferry__RebalanceRequest rr = FERRY__REBALANCE_REQUEST__INIT;
	const char *vms[] = { "g0", "g1", "g2", "g3" };
	struct store_run *runs = NULL;
	char err[256], st[32];
	size_t i, n = 0, nrebalance = 0;
	uint64_t end;
	struct job *j = NULL;

	assert_string_equal(cl->co.hosts[2].conf.name, "cluster");
	for (i = 0; i < 4; i++) {
		assert_int_equal(fake_hv_add_running(cluster_host_uri(0), vms[i], NULL,
		    0), 0);
		cluster_script(0, vms[i], 8, 0, NULL);
	}
	for (i = 0; i < 4; i++)
		cluster_wait_seen(cl, vms[i], 0);
	rr.has_apply = 1;
	rr.apply = 1;
	if (rebalance_request(&cl->co, &rr, NULL, MSG_CTL_REBALANCE, 3, err,
	    sizeof(err)) < 0)
		fail_msg("rebalance: %s", err);
	for (end = cluster_mono_ms() + 15000; cluster_mono_ms() < end; ) {
		uv_run(&cl->loop, UV_RUN_NOWAIT), usleep(2000);
		if ((j = TAILQ_FIRST(&cl->co.jobs)) != NULL &&
		    j->state == JOB_MIGRATING)
			break;
	}
	assert_non_null(j);
	assert_int_equal(j->state, JOB_MIGRATING);
	assert_true(drain_running_kind(&cl->co, "rebalance"));
	/* Accepted while the rebalance runs (before: "host cluster is
	 * already being drained"). */
	enter(cl, "cluster", 0);
	assert_true(cluster_run_until(cl, no_drain, NULL, 90000));
	cluster_run_until(cl, no_job, NULL, 30000);
	last_run(cl, "drain", "cluster", st, sizeof(st), NULL, 0);
	assert_string_equal(st, "completed");
	expect_maintenance_empty(cl, 2, vms, 4);
	expect_once(vms, 4);
	/* The rebalance's record has no host; the drain's is cluster. */
	assert_int_equal(store_runs_list(cl->co.store, 0, &runs, &n), 0);
	for (i = 0; i < n; i++)
		if (strcmp(runs[i].kind, "rebalance") == 0) {
			nrebalance++;
			assert_string_equal(runs[i].host, "");
			assert_int_equal(runs[i].finished, 1);
		} else {
			assert_string_equal(runs[i].kind, "drain");
			assert_string_equal(runs[i].host, "cluster");
		}
	free(runs);
	assert_int_equal(nrebalance, 1);
}

/* A cancel while the drain's pre-checks are in flight: nothing is planned
 * or started when they come back, and the host stays active (before, the
 * late plan marked it draining again after the cancel had set it active,
 * and started the run anyway). */
static int
checks_delayed(struct cluster *cl, void *arg)
{
	(void)cl;
	(void)arg;
	return fake_hv_delayed(cluster_host_uri(0), FAKE_OP_DOMAIN_CPU) > 0;
}

static void
test_cancel_during_planning(void **state)
{
	struct cluster *cl = *state;
	char err[256], st[32];

	assert_int_equal(fake_hv_add_running(cluster_host_uri(0), "c0", NULL,
	    0), 0);
	assert_int_equal(fake_hv_add_running(cluster_host_uri(0), "c1", NULL,
	    0), 0);
	cluster_wait_seen(cl, "c0", 0);
	cluster_wait_seen(cl, "c1", 0);
	fake_hv_delay(cluster_host_uri(0), FAKE_OP_DOMAIN_CPU, 30000);
	enter(cl, "h1", 0);
	assert_true(cluster_run_until(cl, checks_delayed, NULL, 10000));
	assert_false(no_drain(cl, NULL));
	assert_int_equal(drain_cancel(&cl->co, "h1", NULL, MSG_CTL_MAINT_CANCEL,
	    2, err, sizeof(err)), 0);
	assert_string_equal(cl->co.hosts[0].admin_state, "active");
	/* A second cancel is answered, not an illegal transition. */
	assert_int_equal(drain_cancel(&cl->co, "h1", NULL, MSG_CTL_MAINT_CANCEL,
	    3, err, sizeof(err)), 0);
	fake_hv_delay(cluster_host_uri(0), FAKE_OP_DOMAIN_CPU, 0);
	assert_true(cluster_run_until(cl, no_drain, NULL, 30000));
	assert_string_equal(cl->co.hosts[0].admin_state, "active");
	assert_string_equal(coord_host_state(&cl->co.hosts[0]), "up");
	/* Never recorded: it ended before its plan. */
	last_run(cl, "drain", "h1", st, sizeof(st), NULL, 0);
	assert_string_equal(st, "");
	assert_int_equal(fake_hv_calls(cluster_host_uri(0), FAKE_OP_MIGRATE), 0);
	assert_true(cluster_running_on(cluster_host_uri(0), "c0"));
	assert_true(cluster_running_on(cluster_host_uri(0), "c1"));
}

/* ---- shutdown and recovery ------------------------------------------------ */

/* A clean shutdown (SIGTERM) while the pre-checks are in flight leaves the
 * job as the journal has it, for recovery: it recorded "refused: source:
 * h1: coordinator shutting down". */
static void
test_shutdown_during_checks(void **state)
{
	struct cluster *cl = *state;
	struct store_job sj;
	struct store *st;
	char path[128], err[256];
	int64_t id;

	assert_int_equal(fake_hv_add_running(cluster_host_uri(0), "vs", NULL, 0), 0);
	id = start_job(cl, "vs", 0, "h2", 0);
	assert_int_equal(job_find(&cl->co, id)->state, JOB_CHECKING);
	cluster_coord_stop(cl);
	snprintf(path, sizeof(path), "%s/ferry.db", cl->dir);
	if (store_open(path, &st, err, sizeof(err)) < 0)
		fail_msg("%s", err);
	memset(&sj, 0, sizeof(sj));
	assert_int_equal(store_job_get(st, id, &sj), 1);
	if (strcmp(sj.state, "checking") != 0)
		fail_msg("after a clean shutdown job %lld is %s (%s)",
		    (long long)id, sj.state, sj.error ? sj.error : "");
	assert_int_equal(sj.ended_ms, 0);
	store_job_clear(&sj);
	store_close(st);
	/* The next start takes it up: nothing was started, so it verifies
	 * and rolls back. */
	cluster_coord_start(cl);
	cluster_wait_final(cl, id, 20000);
	cluster_expect_job(cl, id, "rolled_back", "restarted during the pre-checks");
	assert_true(cluster_running_on(cluster_host_uri(0), "vs"));
	assert_int_equal(fake_hv_calls(cluster_host_uri(0), FAKE_OP_MIGRATE), 0);
}

static int
job_quiet(struct cluster *cl, void *arg)
{
	struct job *j = job_find(&cl->co, *(int64_t *)arg);

	return j != NULL && j->state == JOB_MIGRATING && j->calls == 0 &&
	    j->step != JOB_STEP_QUERYING && cl->co.hosts[0].up;
}

/* A migration recovered after a restart that runs on for more than the
 * verification's 180 s: its verification gets its own deadline when it
 * starts (it had the one set at recovery, already past, and a destination
 * that did not answer at once made it "failed"). */
static void
test_recovered_verify_deadline(void **state)
{
	struct cluster *cl = *state;
	int64_t id, arg[2];

	assert_int_equal(fake_hv_add_running(cluster_host_uri(0), "vd", NULL, 0), 0);
	cluster_script(0, "vd", 16, 0, NULL);
	id = start_job(cl, "vd", 0, "h2", 0);
	arg[0] = id;
	arg[1] = JOB_MIGRATING;
	assert_true(cluster_run_until(cl, cluster_job_in, arg, 10000));
	/* MIGRATE answered: the journal says migrating, hostd carries on. */
	assert_true(cluster_run_until(cl, job_quiet, &id, 10000));
	cluster_coord_stop(cl);
	cluster_coord_start(cl);
	assert_non_null(job_find(&cl->co, id));
	/* Once the source said it still migrates, 200 s pass. */
	assert_true(cluster_run_until(cl, job_quiet, &id, 10000));
	clock_test_step(CLOCK_KIND_MONO, 200000);
	/* The destination's first answers fail; a retry must be allowed. */
	fake_hv_fail(cluster_host_uri(1), FAKE_OP_DOMAIN_INFO, 2, -1,
	    "injected: cannot get domain info");
	cluster_wait_final(cl, id, 30000);
	clock_test_reset();
	cluster_expect_job(cl, id, "succeeded", NULL);
	assert_true(cluster_running_on(cluster_host_uri(1), "vd"));
	assert_false(fake_hv_has_domain(cluster_host_uri(0), "vd"));
}

/* A drain started with --copy-storage and its own limit, taken up after a
 * restart, keeps both: they come from its record, not the defaults (a
 * resumed drain planned a local-disk VM as unmovable and ran two at once). */
static int
drain_migrating(struct cluster *cl, void *arg)
{
	struct job *j;

	(void)arg;
	TAILQ_FOREACH(j, &cl->co.jobs, entry)
		if (j->state == JOB_MIGRATING && j->calls == 0 &&
		    j->step != JOB_STEP_QUERYING)
			return 1;
	return 0;
}

static void
test_drain_resumed_keeps_options(void **state)
{
	struct cluster *cl = *state;
	Ferry__MaintenanceRequest req = FERRY__MAINTENANCE_REQUEST__INIT;
	const char *vms[] = { "vr1", "vr2" };
	struct drain *d;
	char err[256];

	assert_int_equal(fake_hv_add_running(cluster_host_uri(0), "vr1", NULL, 0), 0);
	assert_int_equal(fake_hv_add_running(cluster_host_uri(0), "vr2", NULL, 0), 0);
	cluster_script(0, "vr1", 12, 0, NULL);
	cluster_script(0, "vr2", 12, 0, NULL);
	cluster_wait_seen(cl, "vr2", 0);
	req.host = "h1";
	req.has_max_parallel = 1;
	req.max_parallel = 1;
	req.has_copy_storage = 1;
	req.copy_storage = 1;
	if (drain_enter(&cl->co, &req, NULL, MSG_CTL_MAINT_ENTER, 1, err,
	    sizeof(err)) < 0)
		fail_msg("maintenance enter h1: %s", err);
	assert_true(cluster_run_until(cl, drain_migrating, NULL, 20000));
	cluster_coord_stop(cl);
	cluster_coord_start(cl);
	d = TAILQ_FIRST(&cl->co.drains);
	assert_non_null(d);
	assert_true(d->resumed);
	assert_int_equal(d->copy_storage, 1);
	assert_int_equal(d->max_parallel, 1);
	drain_completed(cl, 0, vms, 2);
}

/*
 * A coordinator restart while one of a drain's migrations copies and the
 * next, checked ahead, waits for its slot: the waiting one is rolled back
 * by recovery after the resumed drain adopted it, and is retried. It had
 * no place in the plan (order 0), and the drain walked orders 1..n: it
 * waited forever on a VM it never started (the lab's fault matrix).
 */
static int
drain_one_held(struct cluster *cl, void *arg)
{
	struct job *j;
	int held = 0, copying = 0;

	(void)arg;
	TAILQ_FOREACH(j, &cl->co.jobs, entry) {
		if (j->state == JOB_CHECKING && j->step == JOB_STEP_HELD)
			held++;
		if (j->state == JOB_MIGRATING && j->calls == 0 &&
		    j->step != JOB_STEP_QUERYING)
			copying++;
	}
	return held > 0 && copying > 0;
}

static int
host_down(struct cluster *cl, void *arg)
{
	return !cl->co.hosts[*(int *)arg].up;
}

static void
resumed_stop(struct cluster *cl, int i)
{
	cluster_hostd_stop(cl, i);
	cluster_pump(cl, 200);
}

/* Three VMs on h1 (after stopping host dead, unless -1) and a drain of
 * h1, one at a time: one copies, the next waits for its slot. */
static void
drain_h1_held(struct cluster *cl, const char **vms, int dead)
{
	Ferry__MaintenanceRequest req = FERRY__MAINTENANCE_REQUEST__INIT;
	char err[256];
	size_t k;

	for (k = 0; k < 3; k++) {
		assert_int_equal(fake_hv_add_running(cluster_host_uri(0),
		    vms[k], NULL, 0), 0);
		cluster_script(0, vms[k], 12, 0, NULL);
	}
	cluster_wait_seen(cl, vms[2], 0);
	if (dead >= 0) {
		resumed_stop(cl, dead);
		assert_true(cluster_run_until(cl, host_down, &dead, 20000));
	}
	req.host = "h1";
	req.has_max_parallel = 1;
	req.max_parallel = 1;
	if (drain_enter(&cl->co, &req, NULL, MSG_CTL_MAINT_ENTER, 1, err,
	    sizeof(err)) < 0)
		fail_msg("maintenance enter h1: %s", err);
	assert_true(cluster_run_until(cl, drain_one_held, NULL, 20000));
}

static void
test_drain_resumed_retries_held(void **state)
{
	struct cluster *cl = *state;
	const char *vms[] = { "vh1", "vh2", "vh3" };

	drain_h1_held(cl, vms, -1);
	cluster_coord_stop(cl);
	cluster_coord_start(cl);
	drain_completed(cl, 0, vms, 3);
}

/*
 * A resumed drain waits for the other hosts' sessions: planned when only
 * its own host had said hello, it found no destination and left VMs
 * behind. Each test restarts the coordinator with one host stopped and
 * reads when the drain left "resumed". A job in flight towards the
 * stopped host waits for it (its recovery asks both hosts), so a host that
 * stays down is stopped before the drain starts.
 */
struct resumed { int stopped; uint64_t started_ms, planned_ms; int up_then; };

static int
drain_left_resumed(struct cluster *cl, void *arg)
{
	struct resumed *r = arg;
	struct drain *d = drain_find_host(&cl->co, "h1");

	if (d != NULL && d->state == DS_RESUMED)
		return 0;
	r->planned_ms = cluster_mono_ms();
	r->up_then = cl->co.hosts[r->stopped].up;
	return 1;
}

/* dead: a host stopped before the drain, or -1 to stop, after the drain
 * started, the one the copying migration is not headed for. */
static void
resumed_start(struct cluster *cl, struct resumed *r, const char **vms,
    int dead)
{
	struct drain *d;
	struct job *j;

	drain_h1_held(cl, vms, dead);
	r->stopped = dead >= 0 ? dead : 2;
	TAILQ_FOREACH(j, &cl->co.jobs, entry)
		if (dead < 0 && j->state == JOB_MIGRATING &&
		    strcmp(j->destination, "h3") == 0)
			r->stopped = 1;
	cluster_coord_stop(cl);
	if (dead < 0)
		resumed_stop(cl, r->stopped);
	r->started_ms = cluster_mono_ms();
	cluster_coord_start(cl);	/* the running hostds' sessions up */
	assert_non_null(d = drain_find_host(&cl->co, "h1"));
	assert_int_equal(d->state, DS_RESUMED);
}

/* A host whose session is late: the drain plans when it is up. */
static void
test_drain_resumed_waits_for_hosts(void **state)
{
	struct cluster *cl = *state;
	const char *vms[] = { "vw1", "vw2", "vw3" };
	struct resumed r = { 0 };

	resumed_start(cl, &r, vms, -1);
	/* Its own host and one other are up: still waiting for the third. */
	cluster_pump(cl, 1000);
	assert_false(drain_left_resumed(cl, &r));
	hostd_free(&cl->hd[r.stopped]);
	cluster_hostd_start(cl, r.stopped);
	assert_true(cluster_run_until(cl, drain_left_resumed, &r, 30000));
	assert_true(r.up_then);
	assert_true(r.planned_ms - r.started_ms <
	    DRAIN_RESUME_WAIT(&cl->co));
	drain_completed(cl, 0, vms, 3);
}

/* A host that stays down: the drain plans without it once the wait is
 * over, and moves everything to the one left. */
static void
test_drain_resumed_plans_without_a_dead_host(void **state)
{
	struct cluster *cl = *state;
	const char *vms[] = { "vd1", "vd2", "vd3" };
	struct resumed r = { 0 };
	size_t k;

	resumed_start(cl, &r, vms, 2);
	assert_true(cluster_run_until(cl, drain_left_resumed, &r,
	    (int)DRAIN_RESUME_WAIT(&cl->co) + 10000));
	assert_false(r.up_then);
	assert_true(r.planned_ms - r.started_ms >=
	    DRAIN_RESUME_WAIT(&cl->co));
	drain_completed(cl, 0, vms, 3);
	for (k = 0; k < 3; k++)
		assert_false(cluster_running_on(cluster_host_uri(r.stopped),
		    vms[k]));
}

/* ---- the clocks ------------------------------------------------------------ */

struct held_call { int replied, failed; char err[160]; };

static void
held_cb(struct host *h, const struct frame *f, const char *err, void *arg)
{
	struct held_call *hc = arg;

	(void)h;
	if (f != NULL)
		hc->replied++;
	else {
		hc->failed++;
		snprintf(hc->err, sizeof(hc->err), "%s", err ? err : "");
	}
}

static int
held_done(struct cluster *cl, void *arg)
{
	struct held_call *hc = arg;

	(void)cl;
	return hc->replied + hc->failed > 0;
}

static int
dirty_rate_held(struct cluster *cl, void *arg)
{
	(void)cl;
	return fake_hv_delayed(cluster_host_uri(0), FAKE_OP_DIRTY_RATE) >=
	    *(unsigned *)arg;
}

static int
beats_reach(struct cluster *cl, void *arg)
{
	return cl->hd[0].hb_seq >= *(uint64_t *)arg;
}

/* Lets the sweeps run for two of hostd's heartbeats (a second each; the
 * coordinator sweeps every 250 ms). */
static void
two_beats(struct cluster *cl)
{
	uint64_t hb = cl->hd[0].hb_seq + 2;

	assert_true(cluster_run_until(cl, beats_reach, &hb, 10000));
}

/*
 * The wall clock steps an hour forward, then an hour back, under a call
 * in flight (30 s timeout) and a migration: nothing expires, because every
 * deadline is on the monotonic clock; records carry the stepped wall time.
 * When the wall clock decided deadlines, the first sweep after the step
 * failed every call ("timed out") and the migration ran over its limit.
 * A second call shows that moving the monotonic clock does expire a call.
 */
static void
test_wall_clock_step(void **state)
{
	struct cluster *cl = *state;
	struct host *h = &cl->co.hosts[0];
	Ferry__DirtyRateRequest r = FERRY__DIRTY_RATE_REQUEST__INIT;
	struct held_call hc = { 0, 0, "" }, hb = { 0, 0, "" };
	struct store_job sj;
	unsigned one = 1, two = 2;
	uint64_t wall0;
	int64_t arg[2];

	assert_int_equal(fake_hv_add_running(cluster_host_uri(0), "vw", NULL,
	    0), 0);
	cluster_script(0, "vw", 16, 0, NULL);
	arg[0] = start_job(cl, "vw", 0, "h2", 0);
	arg[1] = JOB_MIGRATING;
	assert_true(cluster_run_until(cl, cluster_job_in, arg, 10000));

	fake_hv_delay(cluster_host_uri(0), FAKE_OP_DIRTY_RATE, 60000);
	r.name = "vw";
	r.seconds = 1;
	assert_int_equal(peer_call(h, MSG_DIRTY_RATE, &r.base, 30000, held_cb,
	    &hc), 0);
	assert_true(cluster_run_until(cl, dirty_rate_held, &one, 5000));

	wall0 = clock_wall_ms();
	clock_test_step(CLOCK_KIND_WALL, 3600000);
	two_beats(cl);
	if (hc.failed)
		fail_msg("a wall step of +1 h expired the call: %s", hc.err);
	assert_int_equal(hc.replied, 0);
	/* Records: the host was seen (a frame) at the stepped wall time. */
	assert_true(h->last_seen_ms >= wall0 + 3600000);
	clock_test_step(CLOCK_KIND_WALL, -3600000);
	two_beats(cl);
	if (hc.failed)
		fail_msg("a wall step back of 1 h expired the call: %s",
		    hc.err);
	assert_true(h->up);

	/* The control: a second call of 2 s, monotonic time 2.5 s on (less
	 * than the sessions' 5 s idle timeout): the sweep does expire it,
	 * and only it. */
	assert_int_equal(peer_call(h, MSG_DIRTY_RATE, &r.base, 2000, held_cb,
	    &hb), 0);
	assert_true(cluster_run_until(cl, dirty_rate_held, &two, 5000));
	clock_test_step(CLOCK_KIND_MONO, 2500);
	assert_true(cluster_run_until(cl, held_done, &hb, 1000));
	assert_int_equal(hb.replied, 0);
	assert_non_null(strstr(hb.err, "timed out"));
	assert_int_equal(hc.replied + hc.failed, 0);
	/* libvirt answers: the first call gets its reply. */
	fake_hv_delay(cluster_host_uri(0), FAKE_OP_DIRTY_RATE, 0);
	assert_true(cluster_run_until(cl, held_done, &hc, 10000));
	assert_int_equal(hc.replied, 1);

	/* The migration went on through both steps. */
	cluster_wait_final(cl, arg[0], 60000);
	clock_test_reset();
	cluster_expect_job(cl, arg[0], "succeeded", NULL);
	assert_true(cluster_running_on(cluster_host_uri(1), "vw"));
	assert_false(fake_hv_has_domain(cluster_host_uri(0), "vw"));
	memset(&sj, 0, sizeof(sj));
	assert_int_equal(store_job_get(cl->co.store, arg[0], &sj), 1);
	/* Started before the steps; ended after the step back, and says
	 * so (not the hour ahead). */
	assert_true(sj.started_ms <= wall0);
	assert_true(sj.ended_ms >= wall0 && sj.ended_ms < wall0 + 3600000);
	store_job_clear(&sj);
}

/* A recovery whose journal write fails stops the start, loudly, instead of
 * leaving the job stuck in memory in "checking". */
static void
test_recover_journal_failure(void **state)
{
	struct cluster *cl = *state;
	struct coord_conf cc;
	sqlite3 *db;
	char path[128], err[512], *emsg = NULL;
	int64_t id;
	int i;

	assert_int_equal(fake_hv_add_running(cluster_host_uri(0), "vj", NULL, 0), 0);
	id = start_job(cl, "vj", 0, "h2", 0);
	cluster_coord_stop(cl);
	/* The job is journaled "checking"; every later update fails. */
	snprintf(path, sizeof(path), "%s/ferry.db", cl->dir);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	if (sqlite3_exec(db, "CREATE TRIGGER no_updates BEFORE UPDATE ON jobs "
	    "BEGIN SELECT RAISE(FAIL, 'injected: journal unwritable'); END;",
	    NULL, NULL, &emsg) != SQLITE_OK)
		fail_msg("trigger: %s", emsg);
	sqlite3_close(db);

	parse_coord_defaults(&cc);
	snprintf(cc.name, sizeof(cc.name), "test");
	snprintf(cc.database, sizeof(cc.database), "%s", path);
	snprintf(cc.socket, sizeof(cc.socket), "%s/ferry.sock", cl->dir);
	snprintf(cc.identity, sizeof(cc.identity), "%s/id", cl->dir);
	snprintf(cc.known_hosts, sizeof(cc.known_hosts), "%s/known_hosts",
	    cl->dir);
	assert_non_null(cc.hosts = calloc(NHOSTS, sizeof(*cc.hosts)));
	cc.nhosts = NHOSTS;
	for (i = 0; i < NHOSTS; i++) {
		snprintf(cc.hosts[i].name, sizeof(cc.hosts[i].name), "h%d", i + 1);
		snprintf(cc.hosts[i].address, sizeof(cc.hosts[i].address),
		    "127.0.0.1");
		cc.hosts[i].port = cl->port[i];
	}
	err[0] = '\0';
	i = coord_init(&cl->co, &cl->loop, &cc, err, sizeof(err));
	coord_shutdown(&cl->co);
	for (int k = 0; k < 100; k++)
		uv_run(&cl->loop, UV_RUN_NOWAIT), usleep(1000);
	coord_free(&cl->co);
	if (i == 0)
		fail_msg("the coordinator started with job %lld unjournaled",
		    (long long)id);
	print_message("start refused: %s\n", err);
	assert_non_null(strstr(err, "cannot journal its recovery"));
	assert_non_null(strstr(err, "injected: journal unwritable"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    test_migrate_vs_maintenance_of_destination, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_migrate_refused_when_destination_drains, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_drain_follows_a_migration_in_flight, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_two_drains_each_others_destination, setup, teardown),
		cmocka_unit_test_setup_teardown(test_drain_same_host_twice,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_drain_vs_rebalance, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_cancel_during_planning,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_host_named_cluster,
		    setup_named_cluster, teardown),
		cmocka_unit_test_setup_teardown(test_shutdown_during_checks,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_recovered_verify_deadline,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_drain_resumed_keeps_options,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_drain_resumed_retries_held,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_drain_resumed_waits_for_hosts,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_drain_resumed_plans_without_a_dead_host, setup, teardown),
		cmocka_unit_test_setup_teardown(test_recover_journal_failure,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_wall_clock_step, setup,
		    teardown),
	};


	log_init("test_races", 0);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
