/* test_hostile.c: the hostile-host suite (issue 11). Hosts with valid keys
 * that lie: about where they are reached (URIs with parameters, libvirt's
 * command= among them), about other hosts' VMs, about jobs they do not run,
 * about what their libvirtd says; and names with control characters. Real
 * ferry-hostd cores on the fake hypervisor (fake_hv.c), a real coordinator
 * over the real SSH transport on loopback, and the real ferryctl binary for
 * what an operator sees. For each lie the coordinator refuses or isolates
 * the liar, records why (log line, `ferryctl hosts --json`), destroys
 * nothing on one host's word, and every other host keeps working. */
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
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <json-c/json.h>
#include <libvirt/libvirt.h>

#include "cluster.h"
#include "coordinator.h"
#include "fake_hv.h"
#include "hostd.h"
#include "log.h"

#define NHOSTS		CLUSTER_NHOSTS
#define MIB		(1024ULL * 1024)
#define EVIL_URI	"qemu+ssh://h2/system?command=/mnt/shared/payload"

/* Set by a test's setup before the cluster starts. */
static const char *advertise_at_start[NHOSTS];
static const char *configured_uri[NHOSTS];

static void
hostile_coord_conf(struct cluster *cl, struct coord_conf *cc)
{
	int i;

	(void)cl;
#ifndef OLD_MAIN	/* main before issue 11 had no per-host addresses */
	for (i = 0; i < NHOSTS; i++) {
		if (configured_uri[i] == NULL)
			continue;
		snprintf(cc->hosts[i].libvirt_uri,
		    sizeof(cc->hosts[i].libvirt_uri), "%s", configured_uri[i]);
		snprintf(cc->hosts[i].migration_address,
		    sizeof(cc->hosts[i].migration_address), "127.0.0.1");
	}
#else
	(void)cc;
	(void)i;
#endif
}

static void
hostile_hostd_conf(struct cluster *cl, int i, struct hostd_conf *hc)
{
	(void)cl;
	if (advertise_at_start[i])
		snprintf(hc->advertise_uri, sizeof(hc->advertise_uri), "%s",
		    advertise_at_start[i]);
}

static const struct cluster_opts hostile_opts = {
	.tag = "hostile",
	.coord_conf = hostile_coord_conf,
	.hostd_conf = hostile_hostd_conf,
};

static int
setup(void **state)
{
	return cluster_setup(state, &hostile_opts);
}

static int
teardown(void **state)
{
	int rc = cluster_teardown(state);

	memset(advertise_at_start, 0, sizeof(advertise_at_start));
	memset(configured_uri, 0, sizeof(configured_uri));
	return rc;
}

/* ---- helpers --------------------------------------------------------- */

/* Starts a migration; returns its id, or -1 with err when refused. */
static int64_t
try_job(struct cluster *cl, const char *vm, const char *to, char *err,
    size_t errlen)
{
	Ferry__MigrateOptions o = FERRY__MIGRATE_OPTIONS__INIT;
	struct job *j;
	int64_t id;

	o.vm = (char *)vm;
	o.to = (char *)to;

	if (job_migrate(&cl->co, &o, 0, NULL, &j, err, errlen) < 0)
		return -1;
	id = j->id;
	job_run(j);	/* a refusal may end (and free) the job at once */
	return id;
}

static int64_t
start_job(struct cluster *cl, const char *vm, const char *to)
{
	char err[512];
	int64_t id;

	cluster_wait_seen(cl, vm, 0);
	if ((id = try_job(cl, vm, to, err, sizeof(err))) < 0)
		fail_msg("job_migrate %s: %s", vm, err);
	return id;
}

/* Runs the real ferryctl against the coordinator while the loop keeps
 * running; its stdout goes to out. Returns its exit code. */
static int
ferryctl(struct cluster *cl, char *out, size_t outlen, const char *a1,
    const char *a2, const char *a3)
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
		execl(bin, "ferryctl", "--socket", sock, a1, a2, a3,
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
	assert_int_not_equal(WEXITSTATUS(st), 127);	/* it did run */
	out[0] = '\0';
	if ((fd = open(path, O_RDONLY)) >= 0) {
		n = read(fd, out, outlen - 1);
		out[n > 0 ? n : 0] = '\0';
		close(fd);
	}
	return WEXITSTATUS(st);
}

/* A field of one host in `ferryctl hosts --json`, "" when null/absent. */
static void
host_field(struct cluster *cl, const char *host, const char *field,
    char *val, size_t len)
{
	static char out[65536];
	struct json_object *arr, *o, *v;
	size_t i;

	assert_int_equal(ferryctl(cl, out, sizeof(out), "hosts", "--json",
	    NULL), 0);
	if ((arr = json_tokener_parse(out)) == NULL)
		fail_msg("ferryctl hosts --json: not JSON: %s", out);
	val[0] = '\0';
	for (i = 0; i < json_object_array_length(arr); i++) {
		o = json_object_array_get_idx(arr, i);
		if (json_object_object_get_ex(o, "name", &v) &&
		    strcmp(json_object_get_string(v), host) == 0 &&
		    json_object_object_get_ex(o, field, &v) && v != NULL)
			snprintf(val, len, "%s", json_object_get_string(v));
	}
	json_object_put(arr);
}

static void
expect_host_field(struct cluster *cl, const char *host, const char *field,
    const char *part)
{
	char v[1024];

	host_field(cl, host, field, v, sizeof(v));
	if (strstr(v, part) == NULL)
		fail_msg("ferryctl hosts --json: %s's %s is '%s', lacks '%s'",
		    host, field, v, part);
}

static void
set_advertise(struct cluster *cl, int i, const char *uri)
{
	snprintf(cl->hd[i].conf.advertise_uri,
	    sizeof(cl->hd[i].conf.advertise_uri), "%s", uri);
	hostd_inventory_refresh(&cl->hd[i]);
}

/* What h1's libvirt was last asked to migrate to never names a command. */
static void
expect_no_command_sent(void)
{
	struct fake_hv_migrate_rec rec;

	if (fake_hv_last_migrate(cluster_host_uri(0), &rec) == 0 &&
	    strstr(rec.dest_uri, "command") != NULL)
		fail_msg("h1's libvirt was asked to migrate to %s", rec.dest_uri);
}

/* ---- URIs -------------------------------------------------------------- */

struct uri_wait {
	int		 host;
	const char	*field;
	const char	*part;
};

/* Finding 1: h2, pinned at first contact, later advertises an ssh URI with
 * command=. It is flagged, never a destination, and the operator sees why;
 * h3 keeps taking migrations; accepting is refused while h2 still lies. */
static void
test_uri_command_refused(void **state)
{
	struct cluster *cl = *state;
	char err[512], out[4096];
	int64_t id;

	assert_int_equal(fake_hv_add_running(cluster_host_uri(0), "vm1", NULL, 0), 0);
	assert_int_equal(fake_hv_add_running(cluster_host_uri(0), "vm2", NULL, 0), 0);
	cluster_wait_seen(cl, "vm1", 0);
	cluster_wait_seen(cl, "vm2", 0);
	set_advertise(cl, 1, EVIL_URI);
	cluster_pump(cl, 1500);		/* h2's new inventory arrives */

	id = try_job(cl, "vm1", "h2", err, sizeof(err));
	if (id > 0)
		cluster_wait_final(cl, id, 15000);
	expect_no_command_sent();
	if (id > 0)
		cluster_expect_job(cl, id, "refused", "flagged");
	expect_host_field(cl, "h2", "trust", "flagged");
	expect_host_field(cl, "h2", "flag_reason", "command=");
	expect_host_field(cl, "h2", "libvirt_uri", cluster_host_uri(1));
	expect_host_field(cl, "h3", "trust", "pinned");
	assert_true(cluster_running_on(cluster_host_uri(0), "vm1"));
	assert_false(fake_hv_has_domain(cluster_host_uri(1), "vm1"));

	/* Everyone else keeps working. */
	id = start_job(cl, "vm2", "h3");
	cluster_wait_final(cl, id, 15000);
	cluster_expect_job(cl, id, "succeeded", NULL);
	assert_true(cluster_running_on(cluster_host_uri(2), "vm2"));

	/* The flag survives a restart of the coordinator. */
	cluster_coord_stop(cl);
	cluster_coord_start(cl);
	cluster_pump(cl, 500);
	expect_host_field(cl, "h2", "trust", "flagged");

	/* The operator cannot accept what is unsafe... */
	assert_int_equal(ferryctl(cl, out, sizeof(out), "hosts", "accept",
	    "h2"), 1);	/* refused, not a usage error */
	expect_host_field(cl, "h2", "trust", "flagged");
	/* ...and once h2 is fixed, accepts it, and it works again. */
	set_advertise(cl, 1, cluster_host_uri(1));
	cluster_pump(cl, 1000);
	expect_host_field(cl, "h2", "trust", "flagged");	/* sticky */
	assert_int_equal(ferryctl(cl, out, sizeof(out), "hosts", "accept",
	    "h2"), 0);
	expect_host_field(cl, "h2", "trust", "pinned");
	id = start_job(cl, "vm1", "h2");
	cluster_wait_final(cl, id, 15000);
	cluster_expect_job(cl, id, "succeeded", NULL);
	assert_true(cluster_running_on(cluster_host_uri(1), "vm1"));
}

static int
setup_evil_first(void **state)
{
	advertise_at_start[2] = "qemu+ssh://h3/system?command=/mnt/shared/payload";
	return setup(state);
}

/* A host whose very first report is unsafe is never pinned to it: flagged,
 * skipped when Ferry picks a destination, refused when named. */
static void
test_uri_bad_at_first_contact(void **state)
{
	struct cluster *cl = *state;
	struct store_job sj;
	char err[512];
	int64_t id;

	assert_int_equal(fake_hv_add_running(cluster_host_uri(0), "vm1", NULL, 0), 0);
	assert_int_equal(fake_hv_add_running(cluster_host_uri(0), "vm2", NULL, 0), 0);
	cluster_wait_seen(cl, "vm1", 0);
	cluster_wait_seen(cl, "vm2", 0);
	id = try_job(cl, "vm1", "h3", err, sizeof(err));
	if (id > 0) {
		cluster_wait_final(cl, id, 15000);
		expect_no_command_sent();
		cluster_expect_job(cl, id, "refused", "flagged");
	}
	expect_no_command_sent();
	expect_host_field(cl, "h3", "trust", "flagged");
	expect_host_field(cl, "h3", "flag_reason", "command");
	host_field(cl, "h3", "libvirt_uri", err, sizeof(err));
	assert_null(strstr(err, "command"));
	assert_true(cluster_running_on(cluster_host_uri(0), "vm1"));
	/* No --to: h3 (more room) is passed over for h2. */
	id = start_job(cl, "vm2", NULL);
	cluster_wait_final(cl, id, 15000);
	cluster_expect_job(cl, id, "succeeded", NULL);
	memset(&sj, 0, sizeof(sj));
	assert_int_equal(store_job_get(cl->co.store, id, &sj), 1);
	assert_string_equal(sj.destination, "h2");
	store_job_clear(&sj);
	expect_no_command_sent();
}

#ifndef OLD_MAIN
static int
setup_configured(void **state)
{
	configured_uri[1] = cluster_host_uri(1);
	advertise_at_start[1] = "qemu+tcp://elsewhere/system";
	configured_uri[2] = cluster_host_uri(2);
	return setup(state);
}

/* coordinator.conf's libvirt_uri is the operator's word: a host reporting
 * another (even a harmless-looking one) is flagged; a host that agrees is
 * reached at the configured URI. */
static void
test_uri_configured(void **state)
{
	struct cluster *cl = *state;
	struct fake_hv_migrate_rec rec;
	char err[512];
	int64_t id;

	expect_host_field(cl, "h2", "trust", "flagged");
	expect_host_field(cl, "h2", "flag_reason", "configured");
	expect_host_field(cl, "h3", "trust", "configured");
	assert_int_equal(fake_hv_add_running(cluster_host_uri(0), "vm1", NULL, 0), 0);
	cluster_wait_seen(cl, "vm1", 0);
	id = try_job(cl, "vm1", "h2", err, sizeof(err));
	if (id > 0) {
		cluster_wait_final(cl, id, 15000);
		cluster_expect_job(cl, id, "refused", "flagged");
	}
	id = start_job(cl, "vm1", "h3");
	cluster_wait_final(cl, id, 15000);
	cluster_expect_job(cl, id, "succeeded", NULL);
	assert_int_equal(fake_hv_last_migrate(cluster_host_uri(0), &rec), 0);
	assert_string_equal(rec.dest_uri, cluster_host_uri(2));
}
#endif

/* The destination never runs the emulator the source names. */
static void
test_emulator_not_forwarded(void **state)
{
	struct cluster *cl = *state;
	char emu[256];
	int64_t id;

	assert_int_equal(fake_hv_add_running(cluster_host_uri(0), "vme", NULL, 0), 0);
	assert_int_equal(fake_hv_set_cpu(cluster_host_uri(0), "vme", NULL,
	    "/mnt/shared/payload", NULL, NULL, NULL), 0);
	id = start_job(cl, "vme", "h2");
	cluster_wait_final(cl, id, 15000);
	cluster_expect_job(cl, id, "succeeded", NULL);
	assert_int_equal(fake_hv_last_compare(cluster_host_uri(1), emu, sizeof(emu)), 0);
	assert_string_equal(emu, "");	/* h2's own default emulator */
}

/* ---- inventory --------------------------------------------------------- */

/* h3 claims h1's VM (same name and UUID, paused): the coordinator does not
 * believe it is on h3, moves neither copy, says so on both hosts, and other
 * VMs still move. */
static void
test_vm_claimed_twice(void **state)
{
	struct cluster *cl = *state;
	struct hv_domain d;
	char err[512];
	int64_t id;

	assert_int_equal(fake_hv_add_running(cluster_host_uri(0), "vm1", NULL, 0), 0);
	assert_int_equal(fake_hv_add_running(cluster_host_uri(0), "vm2", NULL, 0), 0);
	cluster_wait_seen(cl, "vm1", 0);
	memset(&d, 0, sizeof(d));
	assert_int_equal(fake_hv_get_domain(cluster_host_uri(0), "vm1", &d), 0);
	assert_int_equal(fake_hv_add_domain(cluster_host_uri(2), &d), 0);
	hv_domain_clear(&d);
	assert_int_equal(fake_hv_set_state(cluster_host_uri(2), "vm1",
	    VIR_DOMAIN_PAUSED, VIR_DOMAIN_PAUSED_USER), 0);
	cluster_wait_seen(cl, "vm1", 2);
	expect_host_field(cl, "h3", "notice", "vm1");
	expect_host_field(cl, "h1", "notice", "vm1");
	assert_int_equal(try_job(cl, "vm1", "h2", err, sizeof(err)), -1);
	if (strstr(err, "both") == NULL)
		fail_msg("refusal '%s' does not say two hosts claim it", err);
	assert_true(cluster_running_on(cluster_host_uri(0), "vm1"));
	assert_false(fake_hv_has_domain(cluster_host_uri(1), "vm1"));
	assert_int_equal(fake_hv_calls(cluster_host_uri(0), FAKE_OP_MIGRATE), 0);
	/* The liar cannot be the source of it either. */
	assert_int_equal(fake_hv_calls(cluster_host_uri(2), FAKE_OP_MIGRATE), 0);
	id = start_job(cl, "vm2", "h2");
	cluster_wait_final(cl, id, 15000);
	cluster_expect_job(cl, id, "succeeded", NULL);
}

/* A VM name with control characters is recorded escaped, and nothing
 * else on that host stops working. */
static void
test_control_characters(void **state)
{
	struct cluster *cl = *state;
	static const char evil[] = "vm\x1b]0;owned\x07\x1b[2J";
	char notice[1024];
	int64_t id;

	assert_int_equal(fake_hv_add_running(cluster_host_uri(1), evil, NULL, 0), 0);
	assert_int_equal(fake_hv_add_running(cluster_host_uri(0), "vm1", NULL, 0), 0);
	cluster_wait_seen(cl, evil, 1);
	host_field(cl, "h2", "notice", notice, sizeof(notice));
	if (strstr(notice, "\\x1b") == NULL)
		fail_msg("h2's notice '%s' does not name the escaped VM", notice);
	assert_null(strchr(notice, '\x1b'));
	assert_null(strchr(notice, '\x07'));
	id = start_job(cl, "vm1", "h2");
	cluster_wait_final(cl, id, 15000);
	cluster_expect_job(cl, id, "succeeded", NULL);
}

/* ---- jobs ------------------------------------------------------------- */


/* h3 (not in the job) and h2 (its destination) send results for a job
 * h1 runs: both are ignored and recorded; the job ends as h1 and both
 * hosts' libvirt say. */
static void
test_forged_results(void **state)
{
	struct cluster *cl = *state;
	Ferry__MigrateResult mr = FERRY__MIGRATE_RESULT__INIT;
	Ferry__JobStats js = FERRY__JOB_STATS__INIT;
	int64_t id, arg[2];
	struct job *j;

	assert_int_equal(fake_hv_add_running(cluster_host_uri(0), "vmf", NULL, 0), 0);
	cluster_script(0, "vmf", 10, 0, NULL);
	id = start_job(cl, "vmf", "h2");
	arg[0] = id;
	arg[1] = JOB_MIGRATING;
	assert_true(cluster_run_until(cl, cluster_job_in, arg, 10000));
	mr.job_id = id;
	mr.name = "vmf";
	mr.ok = 0;
	mr.error = "forged by h3";
	hostd_broadcast(&cl->hd[2], MSG_MIGRATE_DONE, &mr.base);
	mr.error = "forged by h2";
	hostd_broadcast(&cl->hd[1], MSG_MIGRATE_DONE, &mr.base);
	js.job_id = id;
	js.name = "vmf";
	js.time_elapsed_ms = 1;
	js.data_total = 100;
	js.data_processed = 99;
	js.data_remaining = 1;
	hostd_broadcast(&cl->hd[2], MSG_MIGRATE_PROGRESS, &js.base);
	cluster_pump(cl, 300);
	assert_non_null(j = job_find(&cl->co, id));
	assert_int_equal(j->state, JOB_MIGRATING);
	assert_false(j->have_result);
	cluster_wait_final(cl, id, 20000);
	cluster_expect_job(cl, id, "succeeded", NULL);
	assert_true(cluster_running_on(cluster_host_uri(1), "vmf"));
	expect_host_field(cl, "h3", "notice", "not the source");
	expect_host_field(cl, "h2", "notice", "not the source");
	host_field(cl, "h1", "notice", (char[512]){0}, 512);
}

/* Finding 7: the source is left paused by a failed confirm, and the
 * destination says the guest runs there. One host's word: nothing is
 * destroyed, the job fails with what each host said. */
static void
test_paused_source_not_destroyed(void **state)
{
	struct cluster *cl = *state;
	struct hv_domain d;
	int64_t id, arg[2];
	int st, r;

	assert_int_equal(fake_hv_add_running(cluster_host_uri(0), "vmp", NULL, 0), 0);
	cluster_script(0, "vmp", 6, -1, "Finish: the destination's QEMU did not confirm");
	assert_int_equal(fake_hv_script_after(cluster_host_uri(0), "vmp",
	    VIR_DOMAIN_PAUSED, VIR_DOMAIN_PAUSED_MIGRATION), 0);
	id = start_job(cl, "vmp", "h2");
	arg[0] = id;
	arg[1] = JOB_MIGRATING;
	assert_true(cluster_run_until(cl, cluster_job_in, arg, 10000));
	/* h2 says the guest runs there, migrated. */
	memset(&d, 0, sizeof(d));
	assert_int_equal(fake_hv_get_domain(cluster_host_uri(0), "vmp", &d), 0);
	assert_int_equal(fake_hv_add_domain(cluster_host_uri(1), &d), 0);
	hv_domain_clear(&d);
	assert_int_equal(fake_hv_set_state(cluster_host_uri(1), "vmp",
	    VIR_DOMAIN_RUNNING, VIR_DOMAIN_RUNNING_MIGRATED), 0);
	cluster_wait_final(cl, id, 20000);
	cluster_expect_job(cl, id, "failed", "paused");
	cluster_expect_job(cl, id, "failed", "h2");
	assert_int_equal(fake_hv_calls(cluster_host_uri(0), FAKE_OP_DESTROY), 0);
	assert_int_equal(fake_hv_calls(cluster_host_uri(1), FAKE_OP_DESTROY), 0);
	assert_int_equal(cluster_dom_state(cluster_host_uri(0), "vmp", &st, &r), 0);
	assert_int_equal(st, HV_STATE_PAUSED);
}

/* A paused domain of the same name but another UUID on the destination is
 * not the migration's leftover: not destroyed. */
static void
test_foreign_leftover_not_destroyed(void **state)
{
	struct cluster *cl = *state;
	struct hv_domain d;
	int64_t id, arg[2];
	int st, r;

	assert_int_equal(fake_hv_add_running(cluster_host_uri(0), "vml", NULL, 0), 0);
	cluster_script(0, "vml", 6, -1, "migration failed");
	id = start_job(cl, "vml", "h2");
	arg[0] = id;
	arg[1] = JOB_MIGRATING;
	assert_true(cluster_run_until(cl, cluster_job_in, arg, 10000));
	memset(&d, 0, sizeof(d));
	snprintf(d.name, sizeof(d.name), "vml");
	snprintf(d.uuid, sizeof(d.uuid), "0badc0de-0000-4000-8000-000000000001");
	d.state = HV_STATE_PAUSED;
	d.reason = VIR_DOMAIN_PAUSED_MIGRATION;
	snprintf(d.state_str, sizeof(d.state_str), "paused");
	snprintf(d.reason_str, sizeof(d.reason_str), "migration");
	d.mem_mib = 256;
	d.vcpus = 1;
	d.persistent = 1;
	assert_int_equal(fake_hv_add_domain(cluster_host_uri(1), &d), 0);
	cluster_wait_final(cl, id, 20000);
	cluster_expect_job(cl, id, "failed", "UUID");
	assert_int_equal(fake_hv_calls(cluster_host_uri(1), FAKE_OP_DESTROY), 0);
	assert_int_equal(cluster_dom_state(cluster_host_uri(1), "vml", &st, &r), 0);
	assert_int_equal(st, HV_STATE_PAUSED);
	assert_true(cluster_running_on(cluster_host_uri(0), "vml"));
}

/* The genuine leftover (same UUID, paused for the incoming migration) is
 * still removed: the job rolls back with the VM on the source only. */
static void
test_true_leftover_destroyed(void **state)
{
	struct cluster *cl = *state;
	struct hv_domain d;
	int64_t id, arg[2];

	assert_int_equal(fake_hv_add_running(cluster_host_uri(0), "vmt", NULL, 0), 0);
	cluster_script(0, "vmt", 6, -1, "migration failed");
	id = start_job(cl, "vmt", "h2");
	arg[0] = id;
	arg[1] = JOB_MIGRATING;
	assert_true(cluster_run_until(cl, cluster_job_in, arg, 10000));
	memset(&d, 0, sizeof(d));
	assert_int_equal(fake_hv_get_domain(cluster_host_uri(0), "vmt", &d), 0);
	d.persistent = 0;
	assert_int_equal(fake_hv_add_domain(cluster_host_uri(1), &d), 0);
	hv_domain_clear(&d);
	assert_int_equal(fake_hv_set_state(cluster_host_uri(1), "vmt",
	    VIR_DOMAIN_PAUSED, VIR_DOMAIN_PAUSED_MIGRATION), 0);
	cluster_wait_final(cl, id, 20000);
	cluster_expect_job(cl, id, "rolled_back", NULL);
	assert_int_equal(fake_hv_calls(cluster_host_uri(1), FAKE_OP_DESTROY), 1);
	assert_false(fake_hv_has_domain(cluster_host_uri(1), "vmt"));
	assert_true(cluster_running_on(cluster_host_uri(0), "vmt"));
}

struct destroy_reply {
	int	 done;
	int	 ok;
	char	 err[512];
};

static void
destroy_cb(struct host *h, const struct frame *f, const char *err, void *arg)
{
	struct destroy_reply *r = arg;

	(void)h;
	r->done = 1;
	r->ok = f != NULL;
	snprintf(r->err, sizeof(r->err), "%s", err ? err : "");
}

static int
destroy_done(struct cluster *cl, void *arg)
{
	(void)cl;
	return ((struct destroy_reply *)arg)->done;
}

/* hostd's own rules for DESTROY_LEFTOVER, whoever asks. */
static void
destroy_call(struct cluster *cl, int host, const char *vm, const char *uuid,
    struct destroy_reply *r)
{
	Ferry__DestroyRequest req = FERRY__DESTROY_REQUEST__INIT;

	memset(r, 0, sizeof(*r));
	req.name = (char *)vm;
	req.has_only_if_not_running = 1;
	req.only_if_not_running = 1;
#ifndef OLD_MAIN
	req.uuid = (char *)uuid;
#else
	(void)uuid;
#endif
	assert_int_equal(peer_call(&cl->co.hosts[host], MSG_DESTROY_LEFTOVER,
	    &req.base, 10000, destroy_cb, r), 0);
	assert_true(cluster_run_until(cl, destroy_done, r, 15000));
}

static void
test_hostd_destroy_rules(void **state)
{
	struct cluster *cl = *state;
	struct destroy_reply r;
	struct hv_domain d;
	char uuid[40];
	int64_t id, arg[2];

	assert_int_equal(fake_hv_add_running(cluster_host_uri(1), "vmd", NULL, 0), 0);
	memset(&d, 0, sizeof(d));
	assert_int_equal(fake_hv_get_domain(cluster_host_uri(1), "vmd", &d), 0);
	snprintf(uuid, sizeof(uuid), "%s", d.uuid);
	hv_domain_clear(&d);
	/* Paused by a user, not by a migration. */
	assert_int_equal(fake_hv_set_state(cluster_host_uri(1), "vmd",
	    VIR_DOMAIN_PAUSED, VIR_DOMAIN_PAUSED_USER), 0);
	destroy_call(cl, 1, "vmd", uuid, &r);
	assert_false(r.ok);
	assert_non_null(strstr(r.err, "refus"));
	/* Paused for a migration, but no UUID, or the wrong one. */
	assert_int_equal(fake_hv_set_state(cluster_host_uri(1), "vmd",
	    VIR_DOMAIN_PAUSED, VIR_DOMAIN_PAUSED_MIGRATION), 0);
	destroy_call(cl, 1, "vmd", NULL, &r);
	assert_false(r.ok);
	destroy_call(cl, 1, "vmd", "0badc0de-0000-4000-8000-000000000001", &r);
	assert_false(r.ok);
	assert_int_equal(fake_hv_calls(cluster_host_uri(1), FAKE_OP_DESTROY), 0);
	/* The source of an unfinished migration of h1's. */
	assert_int_equal(fake_hv_add_running(cluster_host_uri(0), "vmo", NULL, 0), 0);
	cluster_script(0, "vmo", 20, 0, NULL);
	id = start_job(cl, "vmo", "h3");
	arg[0] = id;
	arg[1] = JOB_MIGRATING;
	assert_true(cluster_run_until(cl, cluster_job_in, arg, 10000));
	memset(&d, 0, sizeof(d));
	assert_int_equal(fake_hv_get_domain(cluster_host_uri(0), "vmo", &d), 0);
	destroy_call(cl, 0, "vmo", d.uuid, &r);
	hv_domain_clear(&d);
	assert_false(r.ok);
	assert_int_equal(fake_hv_calls(cluster_host_uri(0), FAKE_OP_DESTROY), 0);
	cluster_wait_final(cl, id, 20000);
	cluster_expect_job(cl, id, "succeeded", NULL);
	/* And the real leftover goes. */
	destroy_call(cl, 1, "vmd", uuid, &r);
	if (!r.ok)
		fail_msg("leftover not destroyed: %s", r.err);
	assert_int_equal(fake_hv_calls(cluster_host_uri(1), FAKE_OP_DESTROY), 1);
}

#ifndef OLD_MAIN
/* hostd's rules for UNDEFINE_LEFTOVER: only an inactive domain of the
 * request's UUID loses its definition, whoever asks. */
static void
undefine_call(struct cluster *cl, int host, const char *vm, const char *uuid,
    struct destroy_reply *r)
{
	Ferry__DestroyRequest req = FERRY__DESTROY_REQUEST__INIT;

	memset(r, 0, sizeof(*r));
	req.name = (char *)vm;
	req.uuid = (char *)uuid;
	assert_int_equal(peer_call(&cl->co.hosts[host], MSG_UNDEFINE_LEFTOVER,
	    &req.base, 10000, destroy_cb, r), 0);
	assert_true(cluster_run_until(cl, destroy_done, r, 15000));
}

static void
test_hostd_undefine_rules(void **state)
{
	struct cluster *cl = *state;
	struct destroy_reply r;
	struct hv_domain d;
	char uuid[40];

	assert_int_equal(fake_hv_add_running(cluster_host_uri(1), "vmu", NULL, 0), 0);
	memset(&d, 0, sizeof(d));
	assert_int_equal(fake_hv_get_domain(cluster_host_uri(1), "vmu", &d), 0);
	snprintf(uuid, sizeof(uuid), "%s", d.uuid);
	hv_domain_clear(&d);
	/* Running: never, even with the right UUID. */
	undefine_call(cl, 1, "vmu", uuid, &r);
	assert_false(r.ok);
	assert_non_null(strstr(r.err, "refus"));
	assert_true(fake_hv_has_domain(cluster_host_uri(1), "vmu"));
	/* Shut off, but no UUID or another one. */
	assert_int_equal(fake_hv_set_state(cluster_host_uri(1), "vmu",
	    VIR_DOMAIN_SHUTOFF, VIR_DOMAIN_SHUTOFF_MIGRATED), 0);
	undefine_call(cl, 1, "vmu", NULL, &r);
	assert_false(r.ok);
	undefine_call(cl, 1, "vmu", "0badc0de-0000-4000-8000-000000000001", &r);
	assert_false(r.ok);
	assert_true(fake_hv_has_domain(cluster_host_uri(1), "vmu"));
	/* The real leftover goes; asking again finds nothing, and says so. */
	undefine_call(cl, 1, "vmu", uuid, &r);
	if (!r.ok)
		fail_msg("leftover not undefined: %s", r.err);
	assert_false(fake_hv_has_domain(cluster_host_uri(1), "vmu"));
	undefine_call(cl, 1, "vmu", uuid, &r);
	assert_true(r.ok);
}
#endif

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_uri_command_refused, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_uri_bad_at_first_contact,
		    setup_evil_first, teardown),
#ifndef OLD_MAIN
		cmocka_unit_test_setup_teardown(test_uri_configured,
		    setup_configured, teardown),
#endif
		cmocka_unit_test_setup_teardown(test_emulator_not_forwarded, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_vm_claimed_twice, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_control_characters, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_forged_results, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_paused_source_not_destroyed,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_foreign_leftover_not_destroyed,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_true_leftover_destroyed, setup,
		    teardown),
#ifndef OLD_MAIN
		cmocka_unit_test_setup_teardown(test_hostd_undefine_rules, setup,
		    teardown),
#endif
		cmocka_unit_test_setup_teardown(test_hostd_destroy_rules, setup,
		    teardown),
	};

	log_init("test_hostile", 0);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
