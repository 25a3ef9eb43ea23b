/* test_ha.c: an HA coordinator's roles (coordinator/ha.c, issue 16), with
 * real hostd cores on the fake hypervisor, the real SSH transport, the real
 * ferryctl binary and the lease on a throw-away PostgreSQL (skipped when
 * none can be started here; FERRY_TEST_PG names one).
 *
 * The coordinator takes the lease, tells every host its epoch before
 * anything acts (each hostd's fence holds it), and migrates. Another node
 * taking the lease and telling a host: the coordinator's renewal fails and
 * it steps down (the re-execution is replaced by a hook here); as a standby
 * ferryctl status says so and ferryctl migrate is refused with the
 * leader's name. A host that has seen a newer epoch refuses the leader's
 * pre-check (FERRY_EFENCED), nothing reaches libvirt, and the coordinator
 * steps down at once. */
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "cluster.h"
#include "coordinator.h"
#include "fake_hv.h"
#include "hostd.h"
#include "lease.h"
#include "log.h"

static char pg_dir[64];
static char pg_conninfo[256];
static int stepped_down;
static char stepdown_why[256];

static void
ha_hook(struct coord *co, const char *why)
{
	(void)co;
	stepped_down++;
	snprintf(stepdown_why, sizeof(stepdown_why), "%s", why);
}

static void
psql(const char *sql)
{
	char cmd[1024];

	snprintf(cmd, sizeof(cmd), "psql -q -X -v ON_ERROR_STOP=1 '%s' -c "
	    "\"%s\" >/dev/null", pg_conninfo, sql);
	if (system(cmd) != 0)
		fail_msg("%s failed", cmd);
}

static int
pg_start(void)
{
	const char *env = getenv("FERRY_TEST_PG");
	char cmd[1024];
	int port = 20000 + getpid() % 10000;

	if (env != NULL) {
		snprintf(pg_conninfo, sizeof(pg_conninfo), "%s", env);
		return 0;
	}
	if (geteuid() != 0 || system("ls /usr/lib/postgresql/*/bin/initdb "
	    ">/dev/null 2>&1 && id postgres >/dev/null 2>&1") != 0)
		return -1;
	snprintf(pg_dir, sizeof(pg_dir), "/tmp/ferry-test-ha.XXXXXX");
	if (mkdtemp(pg_dir) == NULL)
		return -1;
	snprintf(cmd, sizeof(cmd), "chown postgres %s && cd /tmp && "
	    "su postgres -s /bin/sh -c 'B=$(ls -d /usr/lib/postgresql/*/bin "
	    "| tail -1); $B/initdb -D %s/data -A trust -U postgres "
	    ">%s/initdb.log 2>&1 && $B/pg_ctl -D %s/data -o \"-k %s -c "
	    "listen_addresses= -p %d -c fsync=off\" -l %s/pg.log -w start "
	    ">/dev/null'", pg_dir, pg_dir, pg_dir, pg_dir, pg_dir, port,
	    pg_dir);
	if (system(cmd) != 0) {
		fprintf(stderr, "# no PostgreSQL: %s\n", cmd);
		pg_dir[0] = '\0';
		return -1;
	}
	snprintf(pg_conninfo, sizeof(pg_conninfo), "host=%s port=%d "
	    "user=postgres dbname=postgres", pg_dir, port);
	return 0;
}

static void
pg_stop(void)
{
	char cmd[512];

	if (pg_dir[0] == '\0')
		return;
	snprintf(cmd, sizeof(cmd), "cd /tmp && su postgres -s /bin/sh -c "
	    "'B=$(ls -d /usr/lib/postgresql/*/bin | tail -1); $B/pg_ctl -D "
	    "%s/data -m immediate stop >/dev/null 2>&1'; rm -rf %s", pg_dir,
	    pg_dir);
	if (system(cmd) != 0)
		fprintf(stderr, "# %s failed\n", cmd);
}

static void
ha_coord_conf(struct cluster *cl, struct coord_conf *cc)
{
	(void)cl;
	snprintf(cc->ha.node, sizeof(cc->ha.node), "c1");
	snprintf(cc->ha.conninfo, sizeof(cc->ha.conninfo), "%s", pg_conninfo);
	cc->ha.lease_ms = 3000;
	cc->ha.renew_ms = 400;
	cc->ha.margin_ms = 500;
	cc->ha.timeout_ms = 500;
}

static const struct cluster_opts ha_opts = {
	.tag = "ha",
	.coord_conf = ha_coord_conf,
};

static int
setup(void **state)
{
	if (pg_conninfo[0] == '\0') {
		*state = NULL;
		return 0;
	}
	/* Each test from a free lease. */
	psql("DROP TABLE IF EXISTS ferry_lease");
	stepped_down = 0;
	ha_stepdown_hook = ha_hook;
	return cluster_setup(state, &ha_opts);
}

static int
teardown(void **state)
{
	if (*state == NULL)
		return 0;
	return cluster_teardown(state);
}

static int
is_leader(struct cluster *cl, void *arg)
{
	(void)arg;
	return cl->co.ha_state == HA_LEADER;
}

/* Leader, and every host has taken its epoch (a host that came up after
 * the takeover is told at its hello). */
static int
all_told(struct cluster *cl, void *arg)
{
	int i;

	(void)arg;
	if (cl->co.ha_state != HA_LEADER)
		return 0;
	for (i = 0; i < CLUSTER_NHOSTS; i++)
		if (cl->co.hosts[i].epoch_told != cl->co.epoch)
			return 0;
	return 1;
}

static int
has_stepped_down(struct cluster *cl, void *arg)
{
	(void)cl;
	(void)arg;
	return stepped_down > 0;
}

/* The real ferryctl; stdout and stderr in out; its exit code. */
static int
ferryctl(struct cluster *cl, char *out, size_t outlen, const char *a1,
    const char *a2, const char *a3, const char *a4)
{
	const char *bin = getenv("FERRYCTL") ? getenv("FERRYCTL") :
	    "build/ferryctl";
	char sock[128], path[128];
	pid_t pid;
	int st = 0, fd;
	ssize_t n;
	uint64_t end = cluster_mono_ms() + 20000;

	snprintf(sock, sizeof(sock), "%s/ferry.sock", cl->dir);
	snprintf(path, sizeof(path), "%s/ferryctl.out", cl->dir);
	if ((pid = fork()) == 0) {
		if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600)) < 0)
			_exit(126);
		dup2(fd, 1);
		dup2(fd, 2);
		execl(bin, "ferryctl", "--socket", sock, a1, a2, a3, a4,
		    (char *)NULL);
		_exit(127);
	}
	assert_true(pid > 0);
	while (waitpid(pid, &st, WNOHANG) == 0) {
		if (cluster_mono_ms() > end) {
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
			fail_msg("ferryctl %s did not finish", a1);
		}
		uv_run(&cl->loop, UV_RUN_NOWAIT);
		usleep(2000);
	}
	assert_true(WIFEXITED(st));
	assert_int_not_equal(WEXITSTATUS(st), 127);
	out[0] = '\0';
	if ((fd = open(path, O_RDONLY)) >= 0) {
		n = read(fd, out, outlen - 1);
		out[n > 0 ? n : 0] = '\0';
		close(fd);
	}
	return WEXITSTATUS(st);
}

static void
skip_without_pg(void **state)
{
	if (*state == NULL) {
		fprintf(stderr, "# skipped: no PostgreSQL (set FERRY_TEST_PG)\n");
		skip();
	}
}

static void
test_leader_then_deposed(void **state)
{
	struct cluster *cl;
	Ferry__MigrateOptions o = FERRY__MIGRATE_OPTIONS__INIT;
	char out[4096], err[512], json[512], sql[256];
	uint64_t e, cur;
	struct job *j;
	int64_t id;
	int i, rc;

	skip_without_pg(state);
	cl = *state;
	assert_int_equal(fake_hv_add_running(cluster_host_uri(0), "vm1", NULL,
	    0), 0);
	assert_true(cluster_run_until(cl, all_told, NULL, 15000));
	e = cl->co.epoch;
	assert_true(e >= 1);
	/* Every host took the epoch before anything acted. */
	for (i = 0; i < CLUSTER_NHOSTS; i++)
		if (fence_epoch(&cl->hd[i].fence) != e)
			fail_msg("h%d holds epoch %llu, the leader %llu", i + 1,
			    (unsigned long long)fence_epoch(&cl->hd[i].fence),
			    (unsigned long long)e);
	rc = ferryctl(cl, out, sizeof(out), "status", "--json", NULL, NULL);
	assert_int_equal(rc, 0);
	snprintf(json, sizeof(json), "{\"coordinator\":\"c1\",\"role\":"
	    "\"leader\",\"leader\":\"c1\",\"epoch\":%llu,\"store\":"
	    "\"sqlite\",\"hosts_up\":3,\"hosts\":3,\"relay\":null}", (unsigned long long)e);
	if (strstr(out, json) == NULL)
		fail_msg("status: %s (want %s)", out, json);

	/* The leader migrates, its calls stamped with its epoch. */
	cluster_wait_seen(cl, "vm1", 0);
	o.vm = "vm1";
	o.to = "h2";
	if (job_migrate(&cl->co, &o, 0, NULL, &j, err, sizeof(err)) < 0)
		fail_msg("job_migrate: %s", err);
	id = j->id;
	job_run(j);
	cluster_wait_final(cl, id, 20000);
	cluster_expect_job(cl, id, "succeeded", NULL);
	assert_int_equal(cluster_running_on(cluster_host_uri(1), "vm1"), 1);

	/* c2 takes the lease and tells h1. */
	psql("UPDATE ferry_lease SET holder = 'c2', epoch = epoch + 1, "
	    "expires = now() + interval '1 hour'");
	assert_int_equal(fence_raise(&cl->hd[0].fence, e + 1, "c2", &cur,
	    json, sizeof(json), err, sizeof(err)), 0);
	assert_true(cluster_run_until(cl, has_stepped_down, NULL, 5000));
	assert_int_equal(cl->co.ha_state, HA_STANDBY);
	assert_true(cl->co.epoch == 0);
	assert_false(ha_acting(&cl->co));
	/* As a standby: status says who leads, acting is refused. */
	rc = ferryctl(cl, out, sizeof(out), "status", "--json", NULL, NULL);
	assert_int_equal(rc, 0);
	snprintf(json, sizeof(json), "\"role\":\"standby\",\"leader\":\"c2\","
	    "\"epoch\":%llu", (unsigned long long)(e + 1));
	if (strstr(out, json) == NULL)
		fail_msg("status: %s", out);
	rc = ferryctl(cl, out, sizeof(out), "migrate", "vm1", "--to", "h1");
	assert_int_not_equal(rc, 0);
	if (strstr(out, "c1 is a standby; the leader is c2") == NULL)
		fail_msg("migrate on a standby: %s", out);
	/* Reads still work. */
	assert_int_equal(ferryctl(cl, out, sizeof(out), "hosts", "--json",
	    NULL, NULL), 0);
	assert_non_null(strstr(out, "\"h3\""));
	/* Nothing more was migrated, and the row is c2's. */
	assert_int_equal(fake_hv_calls(cluster_host_uri(1), FAKE_OP_MIGRATE),
	    0);
	snprintf(sql, sizeof(sql), "SELECT 1");
	psql(sql);
}

/* A host already holds a newer epoch than the leader's (a rival told it
 * first): the leader's pre-check is refused at the host, nothing reaches
 * libvirt, and the leader steps down at once, not at its lease's end. */
static void
test_fenced_by_host(void **state)
{
	struct cluster *cl;
	Ferry__MigrateOptions o = FERRY__MIGRATE_OPTIONS__INIT;
	char err[512], leader[64];
	uint64_t e, cur, t0;
	struct job *j;

	skip_without_pg(state);
	cl = *state;
	assert_int_equal(fake_hv_add_running(cluster_host_uri(0), "vm2", NULL,
	    0), 0);
	assert_true(cluster_run_until(cl, is_leader, NULL, 15000));
	e = cl->co.epoch;
	assert_int_equal(fence_raise(&cl->hd[0].fence, e + 5, "c9", &cur,
	    leader, sizeof(leader), err, sizeof(err)), 0);
	cluster_wait_seen(cl, "vm2", 0);
	o.vm = "vm2";
	o.to = "h3";
	t0 = cluster_mono_ms();
	if (job_migrate(&cl->co, &o, 0, NULL, &j, err, sizeof(err)) == 0)
		job_run(j);
	assert_true(cluster_run_until(cl, has_stepped_down, NULL, 5000));
	assert_true(cluster_mono_ms() - t0 < 2000);	/* not the lease's end */
	assert_non_null(strstr(stepdown_why, "refused epoch"));
	assert_int_equal(fake_hv_calls(cluster_host_uri(0), FAKE_OP_MIGRATE),
	    0);
	assert_int_equal(cluster_running_on(cluster_host_uri(0), "vm2"), 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_leader_then_deposed, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_fenced_by_host, setup,
		    teardown),
	};
	int rc;

	log_init("test_ha", 0);
	(void)pg_start();
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	pg_stop();
	return rc;
}
