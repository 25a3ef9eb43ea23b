/* test_metrics.c: the metrics renderer (metrics.c) and the audit trail
 * (audit.c, control.c's hook, ferryctl audit) on the unit tests' cluster:
 * real hostd cores on fake hypervisors, a real coordinator core and its
 * SQLite store, and the built ferryctl binary on the coordinator's control
 * socket for the audit (its uid from SO_PEERCRED). */
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <setjmp.h>
#include <spawn.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <json.h>

#include "cluster.h"
#include "coordinator.h"
#include "fake_hv.h"
#include "hostd.h"

#define MIB		(1024ULL * 1024)

extern char **environ;

static const struct cluster_opts metrics_opts = {
	.tag = "metrics",
};

static int
setup(void **state)
{
	return cluster_setup(state, &metrics_opts);
}

static int
teardown(void **state)
{
	return cluster_teardown(state);
}

static int
seen_on_h1(struct cluster *cl, void *arg)
{
	return cluster_inventory_has(cl, arg, 0);
}

static int64_t
start_job(struct cluster *cl, const char *vm, const char *to,
    uint64_t bandwidth)
{
	Ferry__MigrateOptions o = FERRY__MIGRATE_OPTIONS__INIT;
	struct job *j;
	char err[512];
	int64_t id;

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
	job_run(j);
	return id;
}

/* The value of the sample whose line starts with `series ` (name and
 * labels exactly as rendered); fails the test if there is none. */
static double
sample(const char *text, const char *series)
{
	size_t n = strlen(series);
	const char *p = text;

	while ((p = strstr(p, series)) != NULL) {
		if ((p == text || p[-1] == '\n') && p[n] == ' ')
			return strtod(p + n + 1, NULL);
		p += n;
	}
	fail_msg("no sample %s in:\n%s", series, text);
	return -1;
}

static int
has_line_prefix(const char *text, const char *prefix)
{
	size_t n = strlen(prefix);
	const char *p = text;

	while ((p = strstr(p, prefix)) != NULL) {
		if (p == text || p[-1] == '\n')
			return 1;
		p += n;
	}
	return 0;
}

/*
 * Every line is a comment (# HELP/# TYPE) or NAME[{LABELS}] VALUE, every
 * sample's family has had its TYPE line, and names are ferry_*: the text
 * format's grammar, as much as promtool (run in the lab test) checks.
 */
static void
check_format(const char *text)
{
	char line[1024], fam[128], typed[256][128];
	size_t ntyped = 0, i, k;
	const char *p = text, *nl;
	char *end;

	while (*p) {
		assert_non_null(nl = strchr(p, '\n'));
		assert_true((size_t)(nl - p) < sizeof(line));
		memcpy(line, p, nl - p);
		line[nl - p] = '\0';
		p = nl + 1;
		if (strncmp(line, "# HELP ", 7) == 0)
			continue;
		if (strncmp(line, "# TYPE ", 7) == 0) {
			assert_int_equal(sscanf(line + 7, "%127s", fam), 1);
			assert_true(ntyped < 256);
			snprintf(typed[ntyped++], sizeof(typed[0]), "%s", fam);
			continue;
		}
		assert_int_equal(strncmp(line, "ferry_", 6), 0);
		for (k = 0; line[k] && line[k] != '{' && line[k] != ' '; k++)
			assert_true(line[k] == '_' || (line[k] >= 'a' &&
			    line[k] <= 'z') || (line[k] >= '0' && line[k] <= '9'));
		memcpy(fam, line, k);
		fam[k] = '\0';
		for (i = 0; i < ntyped; i++) {
			size_t tl = strlen(typed[i]);

			if (strncmp(fam, typed[i], tl) == 0 && (fam[tl] == '\0' ||
			    strcmp(fam + tl, "_bucket") == 0 ||
			    strcmp(fam + tl, "_sum") == 0 ||
			    strcmp(fam + tl, "_count") == 0))
				break;
		}
		if (i == ntyped)
			fail_msg("sample before its TYPE: %s", line);
		if (line[k] == '{') {
			char *close = strstr(line + k, "} ");

			assert_non_null(close);
			k = close - line + 1;
		}
		assert_true(line[k] == ' ');
		if (strcmp(line + k + 1, "+Inf") != 0 &&
		    strcmp(line + k + 1, "NaN") != 0) {
			errno = 0;
			(void)strtod(line + k + 1, &end);
			if (*end != '\0' || errno != 0)
				fail_msg("bad value: %s", line);
		}
	}
}

/* Hosts, capacity, and an idle cluster's zeros. */
static void
test_render_hosts(void **state)
{
	struct cluster *cl = *state;
	char *t;
	size_t len;

	assert_int_equal(fake_hv_add_running(cluster_host_uri(0), "idle1",
	    NULL, 0), 0);
	hostd_inventory_refresh(&cl->hd[0]);
	assert_true(cluster_run_until(cl, seen_on_h1, "idle1", 20000));
	assert_non_null(t = metrics_render(&cl->co, &len));
	assert_int_equal(strlen(t), len);
	check_format(t);
	assert_true(sample(t, "ferry_hosts{state=\"up\"}") == 3);
	assert_true(sample(t, "ferry_hosts{state=\"down\"}") == 0);
	assert_true(sample(t, "ferry_host_up{host=\"h1\"}") == 1);
	assert_true(sample(t, "ferry_host_memory_bytes{host=\"h1\"}") ==
	    4096.0 * MIB);
	assert_true(sample(t, "ferry_host_admin_state{host=\"h2\","
	    "state=\"active\"}") == 1);
	assert_true(sample(t, "ferry_host_admin_state{host=\"h2\","
	    "state=\"maintenance\"}") == 0);
	assert_true(sample(t, "ferry_host_vms{host=\"h1\"}") >= 1);
	assert_true(sample(t, "ferry_host_vcpus_used{host=\"h1\"}") >= 1);
	assert_true(sample(t, "ferry_migrations_total{result=\"succeeded\"}")
	    == 0);
	assert_true(sample(t, "ferry_migration_downtime_seconds_count") == 0);
	assert_true(sample(t, "ferry_hostd_sessions") == 3);
	assert_true(sample(t, "ferry_migrations_running") == 0);
	/* The store has committed (hosts, inventories): its latency shows. */
	assert_true(sample(t, "ferry_store_commit_seconds_count") > 0);
	assert_true(has_line_prefix(t, "ferry_rebalance_score "));
	free(t);

	/* The loop-lag timer runs every 500 ms. */
	cluster_pump(cl, 1200);
	assert_non_null(t = metrics_render(&cl->co, NULL));
	assert_true(sample(t, "ferry_loop_lag_seconds_count") >= 1);
	assert_true(sample(t, "ferry_loop_lag_seconds_bucket{le=\"+Inf\"}") ==
	    sample(t, "ferry_loop_lag_seconds_count"));
	free(t);

	/* A host that goes down. */
	cluster_hostd_stop(cl, 2);
	{
		int down = 0;
		uint64_t end = cluster_mono_ms() + 20000;

		while (!down && cluster_mono_ms() < end) {
			cluster_pump(cl, 50);
			down = !cl->co.hosts[2].up;
		}
		assert_true(down);
	}
	assert_non_null(t = metrics_render(&cl->co, NULL));
	check_format(t);
	assert_true(sample(t, "ferry_host_up{host=\"h3\"}") == 0);
	assert_true(sample(t, "ferry_hosts{state=\"down\"}") == 1);
	free(t);
}

/* A running migration's gauges, then its end in the counters and
 * histograms, from the final figures (35 ms, not the samples' 40). */
static void
test_render_migrations(void **state)
{
	struct cluster *cl = *state;
	struct hv_job_stats done;
	int64_t id, arg[2];
	char *t, series[256];

	assert_int_equal(fake_hv_add_running(cluster_host_uri(0), "vm1", NULL,
	    0), 0);
	cluster_script(0, "vm1", 20, 0, NULL);
	memset(&done, 0, sizeof(done));
	done.has_downtime = 1;
	done.downtime = 35;
	done.data_processed = 300 * MIB;
	done.memory_total = 256 * MIB;
	done.time_elapsed = 4321;
	done.memory_iteration = 3;
	assert_int_equal(fake_hv_script_completed(cluster_host_uri(0), "vm1",
	    &done), 0);
	id = start_job(cl, "vm1", "h2", 40);
	arg[0] = id;
	arg[1] = JOB_MIGRATING;
	assert_true(cluster_run_until(cl, cluster_job_in, arg, 10000));
	{
		struct job *j = job_find(&cl->co, id);
		uint64_t end = cluster_mono_ms() + 10000;

		while (j != NULL && j->nsamples < 2 && cluster_mono_ms() < end) {
			cluster_pump(cl, 20);
			j = job_find(&cl->co, id);
		}
		assert_non_null(j);
		assert_true(j->nsamples >= 2);
	}
	assert_non_null(t = metrics_render(&cl->co, NULL));
	check_format(t);
	assert_true(sample(t, "ferry_migrations_running") == 1);
	assert_true(sample(t, "ferry_migrations_in_state{state=\"migrating\"}")
	    == 1);
	snprintf(series, sizeof(series), "ferry_migration_data_remaining_bytes"
	    "{job=\"%lld\",vm=\"vm1\",source=\"h1\",destination=\"h2\"}",
	    (long long)id);
	assert_true(sample(t, series) < 256.0 * MIB);
	snprintf(series, sizeof(series), "ferry_migration_data_total_bytes"
	    "{job=\"%lld\",vm=\"vm1\",source=\"h1\",destination=\"h2\"}",
	    (long long)id);
	assert_true(sample(t, series) == 256.0 * MIB);
	snprintf(series, sizeof(series),
	    "ferry_migration_memory_transfer_rate_bytes_per_second"
	    "{job=\"%lld\",vm=\"vm1\",source=\"h1\",destination=\"h2\"}",
	    (long long)id);
	assert_true(sample(t, series) == 50.0 * MIB);
	free(t);

	cluster_wait_final(cl, id, 30000);
	cluster_expect_job(cl, id, "succeeded", NULL);
	assert_non_null(t = metrics_render(&cl->co, NULL));
	check_format(t);
	assert_true(sample(t, "ferry_migrations_total{result=\"succeeded\"}")
	    == 1);
	assert_true(sample(t, "ferry_migrations_running") == 0);
	assert_false(has_line_prefix(t, "ferry_migration_data_remaining_bytes{"));
	assert_true(sample(t, "ferry_migration_downtime_seconds_count") == 1);
	assert_true(sample(t, "ferry_migration_downtime_seconds_sum") == 0.035);
	/* 35 ms: not in le=0.025, in le=0.05 and every bucket above. */
	assert_true(sample(t,
	    "ferry_migration_downtime_seconds_bucket{le=\"0.025\"}") == 0);
	assert_true(sample(t,
	    "ferry_migration_downtime_seconds_bucket{le=\"0.05\"}") == 1);
	assert_true(sample(t,
	    "ferry_migration_downtime_seconds_bucket{le=\"+Inf\"}") == 1);
	assert_true(sample(t, "ferry_migration_duration_seconds_sum") == 4.321);
	assert_true(sample(t,
	    "ferry_migration_duration_seconds_bucket{le=\"2.5\"}") == 0);
	assert_true(sample(t,
	    "ferry_migration_duration_seconds_bucket{le=\"5\"}") == 1);
	assert_true(sample(t, "ferry_migration_transferred_bytes_total") ==
	    300.0 * MIB);
	free(t);

	/* An aborted one: rolled back, counted, no downtime observed. */
	assert_int_equal(fake_hv_add_running(cluster_host_uri(0), "vm2", NULL,
	    0), 0);
	cluster_script(0, "vm2", 60, 0, NULL);
	id = start_job(cl, "vm2", "h3", 5);
	arg[0] = id;
	assert_true(cluster_run_until(cl, cluster_job_in, arg, 10000));
	{
		char err[256];

		assert_int_equal(job_abort(&cl->co, id, "aborted by operator",
		    err, sizeof(err)), 0);
	}
	cluster_wait_final(cl, id, 15000);
	cluster_expect_job(cl, id, "rolled_back", NULL);
	assert_non_null(t = metrics_render(&cl->co, NULL));
	assert_true(sample(t, "ferry_migrations_total{result=\"rolled_back\"}")
	    == 1);
	assert_true(sample(t, "ferry_migrations_total{result=\"succeeded\"}")
	    == 1);
	assert_true(sample(t, "ferry_migration_downtime_seconds_count") == 1);
	free(t);
}

/* ---- the audit trail, through the real ferryctl ---------------------- */

struct ctl_run {
	pid_t	pid;
	int	status;
	int	done;
};

static int
ctl_exited(struct cluster *cl, void *arg)
{
	struct ctl_run *r = arg;

	(void)cl;
	if (!r->done && waitpid(r->pid, &r->status, WNOHANG) == r->pid)
		r->done = 1;
	return r->done;
}

/* Runs ferryctl --socket (the cluster's) ARGS... while the loop runs;
 * its stdout into out; returns its exit status. */
static int
ctl(struct cluster *cl, char *out, size_t outlen, ...)
{
	const char *bin = getenv("FERRYCTL");
	posix_spawn_file_actions_t fa;
	char *argv[16];
	struct ctl_run r;
	char path[128];
	int fd, argc = 0;
	ssize_t n;
	size_t got = 0;
	va_list ap;

	if (bin == NULL)
		bin = "build/ferryctl";
	snprintf(path, sizeof(path), "%s/ctl.out", cl->dir);
	argv[argc++] = (char *)bin;
	argv[argc++] = "--socket";
	argv[argc++] = cl->co.conf.socket;
	va_start(ap, outlen);
	while ((argv[argc] = va_arg(ap, char *)) != NULL && argc < 15)
		argc++;
	va_end(ap);
	argv[argc] = NULL;
	assert_int_equal(posix_spawn_file_actions_init(&fa), 0);
	assert_int_equal(posix_spawn_file_actions_addopen(&fa, 1, path,
	    O_WRONLY | O_CREAT | O_TRUNC, 0600), 0);
	memset(&r, 0, sizeof(r));
	if (posix_spawn(&r.pid, bin, &fa, NULL, argv, environ) != 0)
		fail_msg("cannot run %s (set FERRYCTL)", bin);
	posix_spawn_file_actions_destroy(&fa);
	if (!cluster_run_until(cl, ctl_exited, &r, 20000)) {
		kill(r.pid, SIGKILL);
		waitpid(r.pid, NULL, 0);
		fail_msg("ferryctl %s did not end", argv[3]);
	}
	assert_true((fd = open(path, O_RDONLY)) >= 0);
	while (got + 1 < outlen && (n = read(fd, out + got,
	    outlen - got - 1)) > 0)
		got += (size_t)n;
	close(fd);
	out[got] = '\0';
	return WIFEXITED(r.status) ? WEXITSTATUS(r.status) : -1;
}

static struct json_object *
find_entry(struct json_object *arr, const char *what, size_t nth)
{
	struct json_object *e, *w;
	size_t i;

	for (i = 0; i < json_object_array_length(arr); i++) {
		e = json_object_array_get_idx(arr, i);
		if (json_object_object_get_ex(e, "what", &w) &&
		    strcmp(json_object_get_string(w), what) == 0 && nth-- == 0)
			return e;
	}
	return NULL;
}

static const char *
str_of(struct json_object *o, const char *k)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, k, &v) || v == NULL)
		return NULL;
	return json_object_get_string(v);
}

static int64_t
int_of(struct json_object *o, const char *k)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, k, &v) || v == NULL)
		return -1;
	return json_object_get_int64(v);
}

/*
 * A migrate, a refused abort, a refused and an accepted maintenance enter
 * and a dry run through ferryctl: each acting one recorded with the
 * caller's user name and uid (SO_PEERCRED), what it asked, and its
 * outcome; the dry run not at all; --since filters.
 */
static void
test_audit_ctl(void **state)
{
	struct cluster *cl = *state;
	static char out[65536];
	struct json_object *arr, *e, *args, *v;
	struct passwd *pw = getpwuid(geteuid());
	char uid[24];
	int64_t mid;
	int rc;

	assert_non_null(pw);
	snprintf(uid, sizeof(uid), "%ld", (long)geteuid());
	assert_int_equal(fake_hv_add_running(cluster_host_uri(0), "va", NULL,
	    0), 0);
	cluster_script(0, "va", 4, 0, NULL);
	hostd_inventory_refresh(&cl->hd[0]);
	assert_true(cluster_run_until(cl, seen_on_h1, "va", 20000));

	rc = ctl(cl, out, sizeof(out), "migrate", "va", "--to", "h2",
	    "--no-wait", NULL);
	assert_int_equal(rc, 0);
	mid = strtoll(out, NULL, 10);	/* --no-wait prints the job's id */
	assert_true(mid > 0);
	cluster_wait_final(cl, mid, 15000);

	rc = ctl(cl, out, sizeof(out), "abort", "987654", NULL);
	assert_int_equal(rc, 1);
	rc = ctl(cl, out, sizeof(out), "maintenance", "enter", "nosuchhost",
	    NULL);
	assert_int_not_equal(rc, 0);
	rc = ctl(cl, out, sizeof(out), "maintenance", "enter", "h3",
	    "--dry-run", NULL);
	assert_int_equal(rc, 0);
	rc = ctl(cl, out, sizeof(out), "maintenance", "enter", "h3", "--json",
	    NULL);
	assert_int_equal(rc, 0);

	rc = ctl(cl, out, sizeof(out), "audit", "--json", NULL);
	assert_int_equal(rc, 0);
	assert_non_null(arr = json_tokener_parse(out));
	assert_true(json_object_is_type(arr, json_type_array));
	/* migrate, abort, enter (refused), enter: no dry run. */
	if (json_object_array_length(arr) != 4)
		fail_msg("expected 4 entries, got: %s", out);

	assert_non_null(e = find_entry(arr, "migrate", 0));
	assert_string_equal(str_of(e, "via"), "ctl");
	assert_string_equal(str_of(e, "who"), pw->pw_name);
	assert_int_equal(int_of(e, "uid"), geteuid());
	assert_true(int_of(e, "pid") > 0);
	assert_string_equal(str_of(e, "outcome"), "accepted");
	assert_int_equal(int_of(e, "job_id"), mid);
	assert_string_equal(str_of(e, "job_state"), "succeeded");
	assert_true(int_of(e, "time_ms") > 0);
	assert_true(int_of(e, "ended_ms") >= int_of(e, "time_ms"));
	assert_true(json_object_object_get_ex(e, "args", &args));
	assert_true(json_object_object_get_ex(args, "vm", &v));
	assert_string_equal(json_object_get_string(v), "va");
	assert_true(json_object_object_get_ex(args, "to", &v));
	assert_string_equal(json_object_get_string(v), "h2");

	assert_non_null(e = find_entry(arr, "abort", 0));
	assert_string_equal(str_of(e, "outcome"), "refused");
	assert_int_equal(int_of(e, "job_id"), -1);
	assert_non_null(strstr(str_of(e, "message"), "987654"));
	assert_string_equal(str_of(e, "who"), pw->pw_name);

	assert_non_null(e = find_entry(arr, "maintenance-enter", 0));
	assert_string_equal(str_of(e, "outcome"), "refused");
	assert_non_null(str_of(e, "message"));
	assert_non_null(strstr(str_of(e, "message"), "nosuchhost"));
	assert_non_null(e = find_entry(arr, "maintenance-enter", 1));
	assert_string_equal(str_of(e, "outcome"), "accepted");
	assert_true(int_of(e, "job_id") > mid);
	assert_true(json_object_object_get_ex(e, "args", &args));
	assert_true(json_object_object_get_ex(args, "host", &v));
	assert_string_equal(json_object_get_string(v), "h3");
	json_object_put(arr);

	/* The table names the user and the uid. */
	rc = ctl(cl, out, sizeof(out), "audit", NULL);
	assert_int_equal(rc, 0);
	assert_non_null(strstr(out, "maintenance-enter"));
	assert_non_null(strstr(out, uid));
	assert_non_null(strstr(out, "refused"));

	/* --since: an hour back keeps them, a date far ahead none. */
	rc = ctl(cl, out, sizeof(out), "audit", "--since", "1h", "--json",
	    NULL);
	assert_int_equal(rc, 0);
	assert_non_null(arr = json_tokener_parse(out));
	assert_int_equal(json_object_array_length(arr), 4);
	json_object_put(arr);
	rc = ctl(cl, out, sizeof(out), "audit", "--since", "2999-01-01",
	    "--json", NULL);
	assert_int_equal(rc, 0);
	assert_non_null(arr = json_tokener_parse(out));
	assert_int_equal(json_object_array_length(arr), 0);
	json_object_put(arr);
	rc = ctl(cl, out, sizeof(out), "audit", "--since", "yesterdayish",
	    NULL);
	assert_int_equal(rc, 2);

	/* Reading the trail is not in it. */
	rc = ctl(cl, out, sizeof(out), "audit", "--json", NULL);
	assert_non_null(arr = json_tokener_parse(out));
	assert_int_equal(json_object_array_length(arr), 4);
	json_object_put(arr);
}

/* The one-shot call the HTTPS API uses: a token's name, no uid. */
static void
test_audit_record_api(void **state)
{
	struct cluster *cl = *state;
	struct audit_who who = { "api", "ops-token", 0, 0, 0, NULL };
	struct store_audit *a;
	size_t n;

	assert_int_equal(audit_record(&cl->co, &who, "abort", "{\"id\":7}",
	    "refused", 0, "no job 7"), 0);
	assert_int_equal(store_audit_list(cl->co.store, 0, 0, &a, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(a[0].via, "api");
	assert_string_equal(a[0].who, "ops-token");
	assert_int_equal(a[0].has_uid, 0);
	assert_string_equal(a[0].outcome, "refused");
	assert_string_equal(a[0].message, "no job 7");
	assert_string_equal(a[0].args, "{\"id\":7}");
	/* An outcome is written once. */
	audit_end(&cl->co, a[0].id, "accepted", 3, NULL);
	store_audit_list_free(a, n);
	assert_int_equal(store_audit_list(cl->co.store, 0, 0, &a, &n), 0);
	assert_string_equal(a[0].outcome, "refused");
	store_audit_list_free(a, n);
}

/* The web view's files: read whole at start, found by URL only; a
 * directory that lacks one is refused naming it. */
static void
test_www_load(void **state)
{
	struct coord co;
	const struct www_file *f;
	char dir[] = "/tmp/test_www.XXXXXX", err[512];

	(void)state;
	memset(&co, 0, sizeof(co));
	assert_non_null(mkdtemp(dir));
	cluster_sh("printf '<!DOCTYPE html>x' > %s/index.html && "
	    "printf 'body{}' > %s/ferry.css", dir, dir);
	assert_int_equal(www_load(&co, dir, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "ferry.js"));
	assert_null(co.www);
	cluster_sh("printf '\"use strict\";' > %s/ferry.js", dir);
	assert_int_equal(www_load(&co, dir, err, sizeof(err)), 0);
	assert_non_null(f = www_find(co.www, "/"));
	assert_int_equal(f->len, 16);
	assert_memory_equal(f->data, "<!DOCTYPE html>x", 16);
	assert_non_null(strstr(f->type, "text/html"));
	assert_ptr_equal(www_find(co.www, "/index.html"), f);
	assert_non_null(f = www_find(co.www, "/ferry.js"));
	assert_non_null(strstr(f->type, "javascript"));
	assert_null(www_find(co.www, "/../etc/passwd"));
	assert_null(www_find(co.www, "/ferry.js?x"));
	assert_null(www_find(NULL, "/"));
	www_free(&co);
	assert_null(co.www);
	www_free(&co);
	cluster_sh("rm -rf %s", dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_render_hosts, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_render_migrations, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_audit_ctl, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_audit_record_api, setup,
		    teardown),
		cmocka_unit_test(test_www_load),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
