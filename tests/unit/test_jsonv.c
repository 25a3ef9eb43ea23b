/* test_jsonv.c: common/jsonv.c, the JSON vocabulary, without a lab. Each
 * object is rendered from a message with every field set (and, where it
 * matters, with none), written to a file and validated against its schema
 * in docs/schema/ by tests/lab/jsonschema-check (Debian's
 * python3-jsonschema), which also refuses numbers of more than 6
 * significant digits. Plus the shapes a front end relies on: a run's id is
 * "run", a storage server is "server", an error is {"error":{..}}. Runs
 * from the top of the tree, as tests/run does. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "jsonv.h"

static char tmpdir[64];

/* Writes o (taken) and validates it against schema. */
static void
valid(const char *schema, struct json_object *o)
{
	char path[128], cmd[512];
	FILE *fp;

	assert_non_null(o);
	snprintf(path, sizeof(path), "%s/%s.json", tmpdir, schema);
	assert_non_null(fp = fopen(path, "w"));
	fprintf(fp, "%s\n", json_object_to_json_string_ext(o,
	    JSON_C_TO_STRING_PLAIN));
	fclose(fp);
	json_object_put(o);
	snprintf(cmd, sizeof(cmd), "tests/lab/jsonschema-check '%s' '%s'",
	    schema, path);
	if (system(cmd) != 0)
		fail_msg("%s does not validate against %s", path, schema);
}

static struct json_object *
get(struct json_object *o, const char *key)
{
	struct json_object *v = NULL;

	if (!json_object_object_get_ex(o, key, &v))
		fail_msg("no \"%s\" in %s", key, json_object_to_json_string(o));
	return v;
}

static void
test_host_vm(void **state)
{
	Ferry__HostEntry h = FERRY__HOST_ENTRY__INIT, *hs[1] = { &h };
	Ferry__HostsReply hr = FERRY__HOSTS_REPLY__INIT;
	Ferry__VmEntry v = FERRY__VM_ENTRY__INIT, *vs[1] = { &v };
	Ferry__VmsReply vr = FERRY__VMS_REPLY__INIT;
	Ferry__Disk d = FERRY__DISK__INIT, *ds[1] = { &d };
	char *labels[] = { "ssd", "gpu" };
	struct json_object *o;

	(void)state;
	h.name = "h1";
	h.state = "down";
	h.admin_state = "maintenance";
	h.address = "198.18.0.1:7220";
	h.libvirt_uri = "qemu+tcp://198.18.0.1/system";
	h.migration_address = "198.18.0.1";
	h.trust = "pinned";
	h.has_cpus = h.has_mem_mib = h.has_mem_free_mib = 1;
	h.has_reserve_mib = h.has_vms = h.has_last_seen_ms = 1;
	h.cpus = 8;
	h.mem_mib = 16384;
	h.mem_free_mib = 8000;
	h.reserve_mib = 1024;
	h.vms = 3;
	h.last_seen_ms = 1700000000123;
	h.last_error = "connection refused";
	h.zone = "a";
	h.labels = labels;
	h.n_labels = 2;
	o = jsonv_host(&h);
	assert_int_equal(json_object_get_int64(get(o, "reserved_mib")), 1024);
	valid("host", o);
	hr.hosts = hs;
	hr.n_hosts = 1;
	valid("hosts", jsonv_hosts(&hr));

	v.name = "g1";
	v.host = "h1";
	v.state = "paused";
	v.mem_mib = 256;
	v.vcpus = 1;
	v.role = "outgoing";
	v.has_job = 1;
	v.job = 12;
	d.target = "vda";
	d.type = "network";
	d.protocol = "nfs";
	d.source = "/export/g1.qcow2";
	d.host = "198.18.0.9";
	v.disks = ds;
	v.n_disks = 1;
	o = jsonv_vm(&v);
	/* host is the hypervisor; the disk's NFS server is "server". */
	assert_string_equal(json_object_get_string(get(o, "host")), "h1");
	assert_string_equal(json_object_get_string(get(json_object_array_get_idx(
	    get(o, "disks"), 0), "server")), "198.18.0.9");
	valid("vm", o);
	vr.vms = vs;
	vr.n_vms = 1;
	valid("vms", jsonv_vms(&vr));
}

static void
test_jobs(void **state)
{
	Ferry__JobInfo j = FERRY__JOB_INFO__INIT, *js[1] = { &j };
	Ferry__JobsReply jr = FERRY__JOBS_REPLY__INIT;
	Ferry__JobHistoryEntry h1 = FERRY__JOB_HISTORY_ENTRY__INIT;
	Ferry__JobHistoryEntry h2 = FERRY__JOB_HISTORY_ENTRY__INIT;
	Ferry__JobHistoryEntry *hs[2] = { &h1, &h2 };
	Ferry__JobReply r = FERRY__JOB_REPLY__INIT;
	struct json_object *o;

	(void)state;
	j.id = 12;
	j.kind = "migrate";
	j.vm = "g1";
	j.state = "succeeded";
	j.source = "h1";
	j.destination = "h2";
	j.running_on = "h2";
	j.has_started_ms = j.has_ended_ms = j.has_parent = 1;
	j.started_ms = 1700000000000;
	j.ended_ms = 1700000001000;
	j.parent = 11;
	o = jsonv_job(&j);
	assert_int_equal(json_object_get_int64(get(o, "run")), 11);
	valid("job", o);
	jr.jobs = js;
	jr.n_jobs = 1;
	valid("jobs", jsonv_jobs(&jr));
	h1.seq = 1;
	h1.time_ms = 1700000000000;
	h1.type = "progress";
	h1.state = "migrating";
	h1.data = "{\"percent\":12.5,\"data_processed_mib\":30.1}";
	h2.seq = 2;
	h2.time_ms = 1700000000500;
	h2.type = "state";
	h2.state = "checking";
	h2.data = "running pre-checks";
	r.job = &j;
	r.history = hs;
	r.n_history = 2;
	valid("job-detail", jsonv_job_detail(&r));
	/* A run names no VM. */
	j.vm = "";
	j.kind = "drain";
	j.has_parent = 0;
	o = jsonv_job(&j);
	assert_true(json_object_is_type(get(o, "vm"), json_type_null));
	valid("job", o);
}

static void
test_job_events(void **state)
{
	Ferry__JobInfo k = FERRY__JOB_INFO__INIT;
	Ferry__JobEvent e = FERRY__JOB_EVENT__INIT;
	Ferry__JobEvent bare = FERRY__JOB_EVENT__INIT;
	static const char *const events[] = { "started", "progress", "state",
		"info", "done" };
	char path[128], cmd[512];
	FILE *fp;
	size_t i;

	(void)state;
	bare.job_id = 12;
	bare.event = "done";
	k.id = 12;
	k.vm = "g1";
	k.source = "h1";
	k.destination = "h2";
	k.state = "migrating";
	snprintf(path, sizeof(path), "%s/stream.json", tmpdir);
	assert_non_null(fp = fopen(path, "w"));
	e.job_id = 12;
	e.has_percent = e.has_data_processed_mib = e.has_data_remaining_mib = 1;
	e.has_data_total_mib = e.has_remaining_low_mib = e.has_mib_per_s = 1;
	e.has_dirty_mib_per_s = e.has_iteration = 1;
	e.has_expected_downtime_ms = e.has_eta_s = 1;
	e.percent = 100.0 / 3;		/* 33.333...: printed 33.3 */
	e.data_processed_mib = 354.678912;
	e.data_remaining_mib = 10.0 / 7;
	e.data_total_mib = 256.5;
	e.remaining_low_mib = 1.25;
	e.mib_per_s = 59.99999;
	e.dirty_mib_per_s = 3.14159265358979;
	e.iteration = 3;
	e.expected_downtime_ms = 35;
	e.eta_s = 2.0 / 3;
	e.has_disk_processed_mib = e.has_disk_total_mib = 1;
	e.disk_processed_mib = 100.0 / 9;
	e.disk_total_mib = 1024;
	e.message = "policy: raised the downtime limit";
	e.running_on = "h2";
	e.has_elapsed_ms = e.has_downtime_ms = e.has_data_mib = 1;
	e.has_migration_ms = e.has_passes = 1;
	e.elapsed_ms = 8312;
	e.downtime_ms = 35;
	e.data_mib = 136.2468;
	e.migration_ms = 6828;
	e.passes = 3;
	for (i = 0; i < sizeof(events) / sizeof(events[0]); i++) {
		struct json_object *o = jsonv_job_event(events[i], &e, &k);

		assert_non_null(o);
		fprintf(fp, "%s\n", json_object_to_json_string_ext(o,
		    JSON_C_TO_STRING_PLAIN));
		json_object_put(o);
	}
	fclose(fp);
	snprintf(cmd, sizeof(cmd), "tests/lab/jsonschema-check job-event '%s'",
	    path);
	if (system(cmd) != 0)
		fail_msg("the event stream %s does not validate", path);
	valid("job-event", jsonv_job_started(&k));
	/* A bare done event, nothing known beyond it: every figure null. */
	valid("job-event", jsonv_job_event(NULL, &bare, NULL));
}

static void
test_drain(void **state)
{
	Ferry__DrainItem a = FERRY__DRAIN_ITEM__INIT, b = FERRY__DRAIN_ITEM__INIT;
	Ferry__DrainItem *items[2] = { &a, &b };
	Ferry__DrainInfo d = FERRY__DRAIN_INFO__INIT;
	struct json_object *o;

	(void)state;
	a.vm = "g1";
	a.mem_mib = 256;
	a.destination = "h2";
	a.state = "migrating";
	a.has_job_id = a.has_attempts = a.has_percent = a.has_order = 1;
	a.job_id = 13;
	a.attempts = 1;
	a.percent = 200.0 / 3;
	a.order = 1;
	b.vm = "local1";
	b.mem_mib = 128;
	b.state = "unmovable";
	b.reason = "vda: a local disk";
	d.id = 11;
	d.host = "h1";
	d.state = "draining";
	d.host_state = "draining";
	d.has_max_parallel = d.has_per_destination = 1;
	d.max_parallel = 2;
	d.per_destination = 1;
	d.items = items;
	d.n_items = 2;
	valid("drain", jsonv_drain(&d));
	valid("drain-event", jsonv_drain_event("plan", &d, NULL));
	o = jsonv_drain_event("item", &d, &a);
	/* The run and the migration: two ids, two names. */
	assert_int_equal(json_object_get_int64(get(o, "run")), 11);
	assert_int_equal(json_object_get_int64(get(o, "job")), 13);
	valid("drain-event", o);
	d.state = "incomplete";
	o = jsonv_drain_event("done", &d, NULL);
	assert_int_equal(json_object_get_int64(get(o, "unmovable")), 1);
	assert_int_equal(json_object_get_int64(get(o, "planned")), 2);
	valid("drain-event", o);
	/* A rebalance's run has no host. */
	d.host = "";
	o = jsonv_drain_event("done", &d, NULL);
	assert_true(json_object_is_type(get(o, "host"), json_type_null));
	valid("drain-event", o);
}

static void
test_check_place_cpu(void **state)
{
	Ferry__CheckResult c1 = FERRY__CHECK_RESULT__INIT;
	Ferry__CheckResult c2 = FERRY__CHECK_RESULT__INIT;
	Ferry__CheckResult *cs[2] = { &c1, &c2 };
	Ferry__CheckReply cr = FERRY__CHECK_REPLY__INIT;
	Ferry__PlaceVerdict v1 = FERRY__PLACE_VERDICT__INIT;
	Ferry__PlaceVerdict v2 = FERRY__PLACE_VERDICT__INIT;
	Ferry__PlaceVerdict *vs[2] = { &v1, &v2 };
	Ferry__PlaceReply pr = FERRY__PLACE_REPLY__INIT;
	Ferry__HostCpu hc = FERRY__HOST_CPU__INIT, *hcs[1] = { &hc };
	Ferry__CpuBlock bl = FERRY__CPU_BLOCK__INIT, *bls[1] = { &bl };
	Ferry__CpuBaselineInfo cb = FERRY__CPU_BASELINE_INFO__INIT;
	struct json_object *o;

	(void)state;
	c1.name = "storage:vda";
	c1.ok = 1;
	c1.reason = "NFS export reachable from both";
	c1.filesystem = "NFS";
	c1.volume = "198.18.0.9:/export";
	c2.name = "capacity";
	c2.ok = 0;
	c2.reason = "h2 has 100 MiB free, the VM needs 256";
	c2.has_warning = 1;
	cr.vm = "g1";
	cr.source = "h1";
	cr.destination = "h2";
	cr.ok = 1;		/* one blocking check blocks all the same */
	cr.checks = cs;
	cr.n_checks = 2;
	o = jsonv_check(&cr);
	assert_false(json_object_get_boolean(get(o, "ok")));
	valid("check", o);
	v1.host = "h2";
	v1.ok = 1;
	v1.reason = "h2: accepted";
	v1.has_weight = 1;
	v1.weight = 2.0 / 3;
	v2.host = "h3";
	v2.filter = "cpu";
	v2.reason = "h3: cpu: lacks avx2";
	pr.vm = "g1";
	pr.source = "h1";
	pr.best = "h2";
	pr.hosts = vs;
	pr.n_hosts = 2;
	valid("place", jsonv_place(&pr));
	hc.host = "h1";
	hc.cpu_xml = "<cpu><model>Haswell</model></cpu>";
	bl.vm = "x1";
	bl.host = "h3";
	bl.reason = "Host CPU does not provide required features: avx2, bmi2";
	cb.baseline_xml = "<cpu><model>qemu64</model></cpu>";
	cb.computed_on = "h1";
	cb.hosts = hcs;
	cb.n_hosts = 1;
	cb.blocks = bls;
	cb.n_blocks = 1;
	o = jsonv_cpu_baseline(&cb);
	assert_string_equal(json_object_get_string(json_object_array_get_idx(
	    get(json_object_array_get_idx(get(o, "blocks"), 0), "features"), 1)),
	    "bmi2");
	valid("cpu-baseline", o);
}

static void
test_plan_snapshot_error(void **state)
{
	Ferry__RebalanceReply rr = FERRY__REBALANCE_REPLY__INIT;
	Ferry__SnapshotReply sr = FERRY__SNAPSHOT_REPLY__INIT;
	struct json_object *o;

	(void)state;
	rr.plan_json = "{\"policy\":\"balance\",\"objective\":\"memory\","
	    "\"score_before\":0.25,\"score_after\":0.1,\"memory_moved_mib\":256,"
	    "\"moves\":[{\"vm\":\"g1\",\"source\":\"h1\",\"destination\":\"h2\","
	    "\"mem_mib\":256,\"score_after\":0.1}],\"elapsed_ms\":1}";
	valid("plan", jsonv_plan(rr.plan_json));
	rr.has_drain_id = 1;
	rr.drain_id = 14;
	o = jsonv_rebalance(&rr);
	assert_int_equal(json_object_get_int64(get(o, "run")), 14);
	valid("plan", o);
	assert_null(jsonv_plan("{\"policy\":"));	/* not JSON: NULL */
	assert_null(jsonv_plan("[1]"));			/* not an object */
	sr.json = "{\"hosts\":[{\"name\":\"h1\",\"mem_mib\":4096,"
	    "\"reserved_mib\":256,\"cpus\":4,\"state\":\"up\"}],\"vms\":[{"
	    "\"name\":\"g1\",\"host\":\"h1\",\"mem_mib\":256,\"vcpus\":1,"
	    "\"pinned\":true,\"groups\":[\"anti:web\"]}]}";
	valid("snapshot", jsonv_snapshot(&sr));
	o = jsonv_error("unreachable", "cannot reach the coordinator");
	assert_string_equal(json_object_get_string(get(get(o, "error"),
	    "code")), "unreachable");
	valid("error", o);
}

static int
setup(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/ferry-jsonv.XXXXXX");
	return mkdtemp(tmpdir) == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

/* The audit trail: a ctl entry with every field, an API one with none of
 * the optional ones; args is an object, not a string. */
static void
test_audit(void **state)
{
	Ferry__AuditEntry a = FERRY__AUDIT_ENTRY__INIT, b = FERRY__AUDIT_ENTRY__INIT;
	Ferry__AuditEntry *v[2] = { &a, &b };
	Ferry__AuditReply r = FERRY__AUDIT_REPLY__INIT;
	struct json_object *o;

	(void)state;
	a.id = 1;
	a.time_ms = 1700000000000ULL;
	a.via = "ctl";
	a.who = "root";
	a.has_uid = a.has_pid = 1;
	a.pid = 42;
	a.what = "migrate";
	a.args = "{\"vm\":\"vm1\",\"to\":\"h2\"}";
	a.outcome = "accepted";
	a.has_job_id = 1;
	a.job_id = 7;
	a.job_state = "succeeded";
	a.has_ended_ms = 1;
	a.ended_ms = a.time_ms + 5;
	b.id = 2;
	b.time_ms = a.time_ms + 10;
	b.via = "api";
	b.who = "ops";
	b.what = "abort";
	b.outcome = "refused";
	b.message = "no job 9";
	o = jsonv_audit_entry(&a);
	assert_string_equal(json_object_get_string(get(get(o, "args"), "vm")),
	    "vm1");
	assert_int_equal(json_object_get_int64(get(o, "uid")), 0);
	json_object_put(o);
	r.entries = v;
	r.n_entries = 2;
	valid("audit", jsonv_audit(&r));
	r.n_entries = 0;
	valid("audit", jsonv_audit(&r));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_host_vm, setup, teardown),
		cmocka_unit_test_setup_teardown(test_jobs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_job_events, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_drain, setup, teardown),
		cmocka_unit_test_setup_teardown(test_check_place_cpu, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_plan_snapshot_error, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_audit, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
