/* test_hv_libvirt.c: hv_libvirt's XML parsing on recorded domain XML
 * (tests/data/domxml, dumped by libvirt 9.0), and its ops against libvirt's
 * test driver (test:///default). Run from the top of the tree, or set
 * FERRY_TESTDATA to the tests/data directory. */
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
#include "hv_libvirt.h"

static char *
read_data(const char *name)
{
	const char *dir;
	char path[1024];
	FILE *f;
	char *buf;
	long len;

	if ((dir = getenv("FERRY_TESTDATA")) == NULL)
		dir = "tests/data";
	snprintf(path, sizeof(path), "%s/domxml/%s", dir, name);
	if ((f = fopen(path, "r")) == NULL)
		fail_msg("cannot open %s (run from the top of the tree)", path);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	len = ftell(f);
	assert_true(len > 0);
	rewind(f);
	assert_non_null(buf = malloc(len + 1));
	assert_int_equal(fread(buf, 1, len, f), (size_t)len);
	buf[len] = '\0';
	fclose(f);
	return buf;
}

static void
parse_file(const char *name, struct hv_disk **disks, size_t *n)
{
	char *xml = read_data(name);

	assert_int_equal(hv_libvirt_parse_disks(xml, disks, n), 0);
	free(xml);
}

static void
check_disk(const struct hv_disk *d, const char *type, const char *device,
    const char *target, const char *format, const char *source,
    const char *protocol, const char *host, int readonly)
{
	assert_string_equal(d->type, type);
	assert_string_equal(d->device, device);
	assert_string_equal(d->target, target);
	assert_string_equal(d->format, format);
	assert_string_equal(d->source, source);
	assert_string_equal(d->protocol, protocol);
	assert_string_equal(d->host, host);
	assert_int_equal(d->readonly, readonly);
}

static void
test_parse_file_disk(void **state)
{
	struct hv_disk *d;
	size_t n;

	(void)state;
	parse_file("file.xml", &d, &n);
	assert_int_equal(n, 1);
	check_disk(&d[0], "file", "disk", "vda", "qcow2",
	    "/var/lib/libvirt/images/vm-file.qcow2", "", "", 0);
	free(d);
}

static void
test_parse_nfs_disk(void **state)
{
	struct hv_disk *d;
	size_t n;

	(void)state;
	parse_file("nfs.xml", &d, &n);
	assert_int_equal(n, 1);
	check_disk(&d[0], "network", "disk", "vda", "qcow2",
	    "/export/ferry/vm-nfs.qcow2", "nfs", "10.77.0.1", 0);
	free(d);
}

static void
test_parse_block_disk(void **state)
{
	struct hv_disk *d;
	size_t n;

	(void)state;
	parse_file("block.xml", &d, &n);
	assert_int_equal(n, 1);
	check_disk(&d[0], "block", "disk", "sda", "raw", "/dev/vg0/vm-block",
	    "", "", 1);
	free(d);
}

static void
test_parse_empty_cdrom(void **state)
{
	struct hv_disk *d;
	size_t n;

	(void)state;
	parse_file("cdrom.xml", &d, &n);
	assert_int_equal(n, 1);
	check_disk(&d[0], "file", "cdrom", "hdc", "raw", "", "", "", 1);
	free(d);
}

static void
test_parse_multi(void **state)
{
	struct hv_disk *d;
	size_t n;

	(void)state;
	parse_file("multi.xml", &d, &n);
	assert_int_equal(n, 4);
	check_disk(&d[0], "network", "disk", "vda", "qcow2",
	    "/export/ferry/vm-multi-root.qcow2", "nfs", "nfs.lab", 0);
	check_disk(&d[1], "file", "disk", "vdb", "raw",
	    "/srv/images/vm-multi-data.img", "", "", 0);
	/* Only the first of several hosts. */
	check_disk(&d[2], "network", "disk", "vdc", "raw",
	    "pool/vm-multi-scratch", "rbd", "ceph-mon1", 0);
	/* every monitor for librados, and the <auth> in <source> */
	assert_string_equal(d[2].hosts, "ceph-mon1:6789,ceph-mon2:6789,fd00::5");
	assert_string_equal(d[2].auth_user, "ferry");
	assert_string_equal(d[2].secret_uuid,
	    "fe77ceb0-0000-4000-8000-00000000001a");
	assert_string_equal(d[0].hosts, "nfs.lab");
	assert_string_equal(d[0].auth_user, "");
	check_disk(&d[3], "file", "cdrom", "sda", "raw",
	    "/srv/iso/install.iso", "", "", 1);
	free(d);
}

/* Live XML of a running QEMU 7.2 guest: an empty cdrom without a format. */
static void
test_parse_running_qemu(void **state)
{
	struct hv_disk *d;
	size_t n;

	(void)state;
	parse_file("running-qemu.xml", &d, &n);
	assert_int_equal(n, 1);
	check_disk(&d[0], "file", "cdrom", "hdc", "", "", "", "", 1);
	free(d);
}

/* The <cpu> a destination compares, and what the comparison needs, from
 * the live XML; missing pieces are an error, not empty strings. */
static void
test_parse_cpu(void **state)
{
	char *xml = read_data("running-qemu.xml");
	char *cpu, *emu, *arch, *mach, *vt;

	(void)state;
	assert_int_equal(hv_libvirt_parse_cpu(xml, &cpu, &emu, &arch, &mach,
	    &vt), 0);
	assert_non_null(strstr(cpu, "<model fallback=\"forbid\">qemu64"));
	assert_non_null(strstr(cpu, "lahf_lm"));
	assert_string_equal(emu, "/usr/bin/qemu-system-x86_64");
	assert_string_equal(arch, "x86_64");
	assert_string_equal(mach, "pc-i440fx-7.2");
	assert_string_equal(vt, "qemu");
	free(cpu);
	free(emu);
	free(arch);
	free(mach);
	free(vt);
	free(xml);

	assert_int_equal(hv_libvirt_parse_cpu("<domain type='qemu'><os><type "
	    "arch='x86_64' machine='pc'>hvm</type></os><cpu><model>qemu64"
	    "</model></cpu></domain>", &cpu, &emu, &arch, &mach, &vt), -1);
	assert_null(cpu);
	assert_null(emu);
	assert_non_null(strstr(hv_last_error(), "emulator"));
	assert_int_equal(hv_libvirt_parse_cpu("<domain type='qemu'/>", &cpu,
	    &emu, &arch, &mach, &vt), -1);
	assert_non_null(strstr(hv_last_error(), "no <cpu>"));
	assert_int_equal(hv_libvirt_parse_cpu("<domain", &cpu, &emu, &arch,
	    &mach, &vt), -1);
	assert_null(cpu);
}

static void
test_parse_no_disks(void **state)
{
	struct hv_disk *d = (struct hv_disk *)&d;
	size_t n = 99;

	(void)state;
	assert_int_equal(hv_libvirt_parse_disks("<domain type='qemu'>"
	    "<name>x</name><devices/></domain>", &d, &n), 0);
	assert_null(d);
	assert_int_equal(n, 0);
}

static void
test_parse_errors(void **state)
{
	struct hv_disk *d;
	size_t n;
	char *xml;
	size_t len = 3000;

	(void)state;
	hv_set_error("%s", "");
	assert_int_equal(hv_libvirt_parse_disks("<domain><devices>", &d, &n),
	    -1);
	assert_null(d);
	assert_int_equal(n, 0);
	assert_non_null(strstr(hv_last_error(), "parse"));

	/* A path longer than struct hv_disk holds is an error, not cut. */
	assert_non_null(xml = malloc(len + 200));
	snprintf(xml, 200, "<domain><devices><disk type='file' "
	    "device='disk'><source file='/");
	memset(xml + strlen(xml), 'a', len);
	xml[strlen("<domain><devices><disk type='file' device='disk'>"
	    "<source file='/") + len] = '\0';
	strcat(xml, "'/><target dev='vda'/></disk></devices></domain>");
	assert_int_equal(hv_libvirt_parse_disks(xml, &d, &n), -1);
	assert_null(d);
	assert_non_null(strstr(hv_last_error(), "too long"));
	free(xml);
}

static void
test_reason_names(void **state)
{
	(void)state;
	assert_string_equal(hv_libvirt_reason_name(VIR_DOMAIN_RUNNING,
	    VIR_DOMAIN_RUNNING_MIGRATED), "migrated");
	assert_string_equal(hv_libvirt_reason_name(VIR_DOMAIN_RUNNING,
	    VIR_DOMAIN_RUNNING_MIGRATION_CANCELED), "migration-canceled");
	assert_string_equal(hv_libvirt_reason_name(VIR_DOMAIN_RUNNING,
	    VIR_DOMAIN_RUNNING_BOOTED), "booted");
	assert_string_equal(hv_libvirt_reason_name(VIR_DOMAIN_RUNNING,
	    VIR_DOMAIN_RUNNING_POSTCOPY), "postcopy");
	assert_string_equal(hv_libvirt_reason_name(VIR_DOMAIN_PAUSED,
	    VIR_DOMAIN_PAUSED_POSTCOPY_FAILED), "postcopy-failed");
	assert_string_equal(hv_libvirt_reason_name(VIR_DOMAIN_PAUSED,
	    VIR_DOMAIN_PAUSED_USER), "user");
	assert_string_equal(hv_libvirt_reason_name(VIR_DOMAIN_RUNNING,
	    VIR_DOMAIN_RUNNING_UNPAUSED), "unpaused");
	assert_string_equal(hv_libvirt_reason_name(VIR_DOMAIN_SHUTOFF,
	    VIR_DOMAIN_SHUTOFF_MIGRATED), "migrated");
	assert_string_equal(hv_libvirt_reason_name(VIR_DOMAIN_SHUTOFF,
	    VIR_DOMAIN_SHUTOFF_DESTROYED), "destroyed");
	assert_string_equal(hv_libvirt_reason_name(VIR_DOMAIN_RUNNING, 999),
	    "unknown");
	assert_string_equal(hv_libvirt_reason_name(VIR_DOMAIN_RUNNING, -1),
	    "unknown");
	assert_string_equal(hv_libvirt_reason_name(VIR_DOMAIN_BLOCKED, 0),
	    "unknown");
}

/* Events seen by the test driver's hv, from libvirt's event thread. */
struct events {
	pthread_mutex_t	 mtx;
	pthread_cond_t	 cond;
	int		 conn_up;
	int		 stopped;	/* LIFECYCLE STOPPED of "evtest" */
};

static struct events ev = {
	PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0
};

static void
on_event(struct hv *hv, int kind, const char *domain, int detail, int sub,
    void *arg)
{
	struct events *e = arg;

	(void)hv;
	(void)sub;
	pthread_mutex_lock(&e->mtx);
	if (kind == HV_EV_CONN_UP)
		e->conn_up++;
	if (kind == HV_EV_LIFECYCLE && domain != NULL &&
	    strcmp(domain, "evtest") == 0 &&
	    detail == VIR_DOMAIN_EVENT_STOPPED)
		e->stopped++;
	pthread_cond_broadcast(&e->cond);
	pthread_mutex_unlock(&e->mtx);
}

static int
setup_test_driver(void **state)
{
	struct hv *hv;

	ev.conn_up = ev.stopped = 0;
	if ((hv = hv_new(&hv_libvirt_ops, "test:///default", on_event,
	    &ev)) == NULL)
		return -1;
	if (hv->ops->open(hv) != 0) {
		fprintf(stderr, "open: %s\n", hv_last_error());
		hv_free(hv);
		return -1;
	}
	*state = hv;
	return 0;
}

static int
teardown_test_driver(void **state)
{
	hv_free(*state);
	return 0;
}

static void
test_td_open_host_info(void **state)
{
	struct hv *hv = *state;
	struct hv_host h;

	assert_int_equal(ev.conn_up, 1);
	assert_int_equal(hv->ops->host_info(hv, &h), 0);
	assert_true(h.hostname[0] != '\0');
	/* The test driver's capabilities have no host UUID (libvirtd's do). */
	assert_string_equal(h.uuid, "");
	assert_string_equal(h.arch, "i686");	/* the test driver's host */
	assert_int_equal(h.cpus, 16);
	assert_true(h.mem_mib > 0);
	assert_true(h.mem_free_mib > 0 && h.mem_free_mib <= h.mem_mib);
}

/* The host CPU from libvirt's capabilities; the test driver has no
 * baseline, and the error says so. */
static void
test_td_host_cpu(void **state)
{
	struct hv *hv = *state;
	const char *cpus[1];
	char *xml = NULL, *out = NULL;

	assert_int_equal(hv->ops->host_cpu(hv, &xml), 0);
	assert_non_null(xml);
	assert_true(strncmp(xml, "<cpu>", 5) == 0);
	assert_non_null(strstr(xml, "<arch>i686</arch>"));
	cpus[0] = xml;
	assert_int_equal(hv->ops->baseline_cpu(hv, cpus, 1, &out), -1);
	assert_null(out);
	assert_non_null(strstr(hv_last_error(), "not supported"));
	assert_int_equal(hv->ops->baseline_cpu(hv, cpus, 0, &out), -1);
	free(xml);
}

static void
test_td_list_domains(void **state)
{
	struct hv *hv = *state;
	struct hv_domain *list;
	size_t n, i;
	int found = 0;

	assert_int_equal(hv->ops->list_domains(hv, &list, &n), 0);
	assert_true(n >= 1);
	for (i = 0; i < n; i++) {
		if (strcmp(list[i].name, "test") != 0)
			continue;
		found = 1;
		assert_int_equal(list[i].state, HV_STATE_RUNNING);
		assert_string_equal(list[i].state_str, "running");
		assert_string_equal(list[i].reason_str, "unknown"); /* as virsh */
		assert_int_equal(strlen(list[i].uuid), 36);
		assert_int_equal(list[i].vcpus, 2);
		assert_int_equal(list[i].mem_mib, 8192);
		assert_int_equal(list[i].persistent, 1);
		assert_int_equal(list[i].job_active, 0);
		assert_int_equal(list[i].ndisks, 1);
		assert_string_equal(list[i].disks[0].target, "vda");
		assert_string_equal(list[i].disks[0].source,
		    "/guest/diskimage1");
	}
	assert_true(found);
	hv_domain_list_free(list, n);
}

static void
test_td_domain_info(void **state)
{
	struct hv *hv = *state;
	struct hv_domain d;

	assert_int_equal(hv->ops->domain_info(hv, "test", &d), 0);
	assert_string_equal(d.name, "test");
	assert_string_equal(d.uuid, "6695eb01-f6a4-8304-79aa-97f2502e193f");
	assert_int_equal(d.state, HV_STATE_RUNNING);
	assert_int_equal(d.ndisks, 1);
	assert_string_equal(d.disks[0].type, "file");
	hv_domain_clear(&d);

	hv_set_error("%s", "");
	assert_int_equal(hv->ops->domain_info(hv, "no-such-vm", &d), -ENOENT);
	assert_string_equal(hv_last_error(), "no domain no-such-vm");
	assert_null(d.disks);
	assert_int_equal(hv->ops->resume(hv, "no-such-vm"), -ENOENT);
}

/* Ops the test driver does not implement fail with libvirt's message. */
static void
test_td_unsupported(void **state)
{
	struct hv *hv = *state;
	struct hv_migrate_params mp = { .dest_uri = "test:///default" };

	assert_int_equal(hv->ops->set_max_downtime(hv, "test", 500), -1);
	assert_non_null(strstr(hv_last_error(), "set max downtime test: "));
	assert_int_equal(hv->ops->migrate(hv, "test", &mp), -1);
	assert_non_null(strstr(hv_last_error(), "migrate test: "));
	mp.dest_uri = NULL;
	assert_int_equal(hv->ops->migrate(hv, "test", &mp), -1);
	assert_string_equal(hv_last_error(), "migrate test: no destination");
}

static void *
info_thread(void *arg)
{
	struct hv *hv = arg;
	struct hv_domain d;
	int i;
	intptr_t bad = 0;

	for (i = 0; i < 50; i++) {
		if (hv->ops->domain_info(hv, "test", &d) != 0 ||
		    strcmp(d.name, "test") != 0)
			bad++;
		hv_domain_clear(&d);
	}
	return (void *)bad;
}

static void
test_td_threads(void **state)
{
	pthread_t t[4];
	void *bad;
	int i;

	for (i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&t[i], NULL, info_thread,
		    *state), 0);
	for (i = 0; i < 4; i++) {
		assert_int_equal(pthread_join(t[i], &bad), 0);
		assert_null(bad);
	}
}

/* destroy of a transient domain: the STOPPED event comes from libvirt's
 * event thread and the domain is gone. */
static void
test_td_destroy_event(void **state)
{
	struct hv *hv = *state;
	virConnectPtr c;
	virDomainPtr dom;
	struct hv_domain d;
	struct timespec deadline;

	assert_non_null(c = virConnectOpen("test:///default"));
	assert_non_null(dom = virDomainCreateXML(c, "<domain type='test'>"
	    "<name>evtest</name><memory>65536</memory><vcpu>1</vcpu>"
	    "<os><type>hvm</type></os></domain>", 0));
	virDomainFree(dom);
	assert_int_equal(hv->ops->domain_info(hv, "evtest", &d), 0);
	assert_int_equal(d.persistent, 0);
	assert_int_equal(d.mem_mib, 64);
	hv_domain_clear(&d);

	assert_int_equal(hv->ops->destroy(hv, "evtest"), 0);
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += 5;
	pthread_mutex_lock(&ev.mtx);
	while (ev.stopped == 0)
		if (pthread_cond_timedwait(&ev.cond, &ev.mtx, &deadline) != 0)
			break;
	pthread_mutex_unlock(&ev.mtx);
	assert_int_equal(ev.stopped, 1);
	assert_int_equal(hv->ops->domain_info(hv, "evtest", &d), -ENOENT);
	virConnectClose(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_file_disk),
		cmocka_unit_test(test_parse_nfs_disk),
		cmocka_unit_test(test_parse_block_disk),
		cmocka_unit_test(test_parse_empty_cdrom),
		cmocka_unit_test(test_parse_multi),
		cmocka_unit_test(test_parse_running_qemu),
		cmocka_unit_test(test_parse_no_disks),
		cmocka_unit_test(test_parse_errors),
		cmocka_unit_test(test_parse_cpu),
		cmocka_unit_test(test_reason_names),
		cmocka_unit_test_setup_teardown(test_td_open_host_info,
		    setup_test_driver, teardown_test_driver),
		cmocka_unit_test_setup_teardown(test_td_host_cpu,
		    setup_test_driver, teardown_test_driver),
		cmocka_unit_test_setup_teardown(test_td_list_domains,
		    setup_test_driver, teardown_test_driver),
		cmocka_unit_test_setup_teardown(test_td_domain_info,
		    setup_test_driver, teardown_test_driver),
		cmocka_unit_test_setup_teardown(test_td_unsupported,
		    setup_test_driver, teardown_test_driver),
		cmocka_unit_test_setup_teardown(test_td_threads,
		    setup_test_driver, teardown_test_driver),
		cmocka_unit_test_setup_teardown(test_td_destroy_event,
		    setup_test_driver, teardown_test_driver),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
