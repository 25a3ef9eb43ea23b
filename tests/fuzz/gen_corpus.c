/* gen_corpus.c: writes the fuzzers' seed corpora: valid frames of every
 * message type, packed with frame_pack from representative messages.
 *
 *   gen_corpus DIR	writes DIR/fuzz_frame/, DIR/fuzz_dispatch/,
 *			DIR/fuzz_ctl/ and DIR/fuzz_store/ */
#include <sys/stat.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"
#include "msg.h"

static const char *outdir;

struct seed {
	const char		*name;
	int			 target;	/* fuzz_dispatch's sel bits 0-1 */
	uint16_t		 type;
	uint16_t		 kind;
	uint16_t		 status;
	const ProtobufCMessage	*m;
};

static void
put(const char *harness, const char *name, const uint8_t *p, size_t len)
{
	char path[1024];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/%s", outdir, harness);
	if (mkdir(path, 0755) == -1 && errno != EEXIST) {
		perror(path);
		exit(1);
	}
	snprintf(path, sizeof(path), "%s/%s/%s", outdir, harness, name);
	if ((fp = fopen(path, "wb")) == NULL || fwrite(p, 1, len, fp) != len ||
	    fclose(fp) != 0) {
		perror(path);
		exit(1);
	}
}

static uint8_t *
pack(const struct seed *s, uint32_t serial, size_t *len)
{
	uint8_t *buf;

	if (frame_pack(s->type, s->kind, s->status, serial, s->m, &buf,
	    len) < 0) {
		fprintf(stderr, "%s: cannot pack\n", s->name);
		exit(1);
	}
	return buf;
}

/* A fuzz_dispatch record: sel type len:2 payload. */
static size_t
record(uint8_t *out, const struct seed *s, unsigned serial)
{
	uint8_t *buf;
	size_t len, plen;
	int kind = s->kind == FRAME_CALL ? 0 : s->kind == FRAME_REPLY ? 1 : 2;

	buf = pack(s, 0, &len);
	plen = len - FRAME_HDR_LEN;
	out[0] = (uint8_t)(s->target | kind << 2 | s->status << 4 |
	    (serial & 7) << 5);
	/* fuzz_dispatch maps the byte back: hostd types % 16, ctl 99 + % 15 */
	out[1] = (uint8_t)(s->type >= 99 ? s->type - 99 : s->type);
	out[2] = (uint8_t)plen;
	out[3] = (uint8_t)(plen >> 8);
	memcpy(out + 4, buf + FRAME_HDR_LEN, plen);
	free(buf);
	return 4 + plen;
}

/* A fuzz_ctl input: the command line's index, then the coordinator's
 * frames (replies on serial 1, events on the call's serial too). */
static void
ctl_seed(const char *name, unsigned line, const struct seed *v, size_t n)
{
	uint8_t buf[65536], *f;
	size_t i, len, off = 1;

	buf[0] = (uint8_t)line;
	for (i = 0; i < n; i++) {
		f = pack(&v[i], 1, &len);
		if (off + len > sizeof(buf)) {
			fprintf(stderr, "%s: too long\n", name);
			exit(1);
		}
		memcpy(buf + off, f, len);
		off += len;
		free(f);
	}
	put("fuzz_ctl", name, buf, off);
}

int
main(int argc, char *argv[])
{
	Ferry__Hello hello = FERRY__HELLO__INIT;
	Ferry__Empty empty = FERRY__EMPTY__INIT;
	Ferry__DomainRef dref = FERRY__DOMAIN_REF__INIT;
	Ferry__SourceCheckRequest scr = FERRY__SOURCE_CHECK_REQUEST__INIT;
	Ferry__DestCheckRequest dcr = FERRY__DEST_CHECK_REQUEST__INIT;
	Ferry__Domain dom = FERRY__DOMAIN__INIT, *domv[1] = { &dom };
	Ferry__Disk disk = FERRY__DISK__INIT, *diskv[1] = { &disk };
	Ferry__Nonce nonce = FERRY__NONCE__INIT, *noncev[1] = { &nonce };
	Ferry__StorageCleanup sc = FERRY__STORAGE_CLEANUP__INIT;
	Ferry__DirtyRateRequest drr = FERRY__DIRTY_RATE_REQUEST__INIT;
	Ferry__Policy pol = FERRY__POLICY__INIT;
	Ferry__MigrateRequest mr = FERRY__MIGRATE_REQUEST__INIT;
	Ferry__JobRef jref = FERRY__JOB_REF__INIT;
	Ferry__DestroyRequest dr = FERRY__DESTROY_REQUEST__INIT;
	Ferry__HostsRequest hr = FERRY__HOSTS_REQUEST__INIT;
	Ferry__VmsRequest vr = FERRY__VMS_REQUEST__INIT;
	Ferry__MigrateOptions mo = FERRY__MIGRATE_OPTIONS__INIT;
	Ferry__CheckRequest cr = FERRY__CHECK_REQUEST__INIT;
	Ferry__JobsRequest jsr = FERRY__JOBS_REQUEST__INIT;
	Ferry__JobRequest jr = FERRY__JOB_REQUEST__INIT;
	Ferry__MaintenanceRequest mtr = FERRY__MAINTENANCE_REQUEST__INIT;
	Ferry__HostInfo hi = FERRY__HOST_INFO__INIT;
	Ferry__Inventory inv = FERRY__INVENTORY__INIT;
	Ferry__Heartbeat hb = FERRY__HEARTBEAT__INIT;
	Ferry__JobStats js = FERRY__JOB_STATS__INIT;
	Ferry__MigrateResult res = FERRY__MIGRATE_RESULT__INIT;
	Ferry__Error er = FERRY__ERROR__INIT;
	Ferry__DomainState ds = FERRY__DOMAIN_STATE__INIT;
	Ferry__CheckResult ck = FERRY__CHECK_RESULT__INIT, *ckv[1] = { &ck };
	Ferry__SourceCheckReply scp = FERRY__SOURCE_CHECK_REPLY__INIT;
	Ferry__DestCheckReply dcp = FERRY__DEST_CHECK_REPLY__INIT;
	Ferry__DirtyRateReply drp = FERRY__DIRTY_RATE_REPLY__INIT;
	Ferry__JobInfo ji = FERRY__JOB_INFO__INIT, *jiv[1] = { &ji };
	Ferry__JobEvent je = FERRY__JOB_EVENT__INIT;
	Ferry__JobsReply jsp = FERRY__JOBS_REPLY__INIT;
	Ferry__DrainItem di = FERRY__DRAIN_ITEM__INIT, *div_[1] = { &di };
	Ferry__DrainInfo dinf = FERRY__DRAIN_INFO__INIT;
	Ferry__DrainEvent dev = FERRY__DRAIN_EVENT__INIT;
	Ferry__HostEntry he = FERRY__HOST_ENTRY__INIT, *hev[1] = { &he };
	Ferry__HostsReply hsp = FERRY__HOSTS_REPLY__INIT;
	Ferry__VmEntry ve = FERRY__VM_ENTRY__INIT, *vev[1] = { &ve };
	Ferry__VmsReply vsp = FERRY__VMS_REPLY__INIT;
	Ferry__JobHistoryEntry jh = FERRY__JOB_HISTORY_ENTRY__INIT,
	    *jhv[1] = { &jh };
	Ferry__JobReply jrp = FERRY__JOB_REPLY__INIT;
	Ferry__CheckReply crp = FERRY__CHECK_REPLY__INIT;
	Ferry__JobEvent jprog = FERRY__JOB_EVENT__INIT, jdone = FERRY__JOB_EVENT__INIT;
	static char npath[] = "/tmp/ferry-fuzz-none/.ferry-nonce-"
	    "0123456789abcdef0123456789abcdef";
	uint8_t buf[65536], *f;
	size_t i, n, len;

	if (argc != 2) {
		fprintf(stderr, "usage: gen_corpus DIR\n");
		return 1;
	}
	outdir = argv[1];
	hello.coordinator = "fuzz";
	hello.version = FERRY_PROTO_VERSION;
	dref.name = "vm1";
	scr.name = "vm1";
	scr.has_timeout_ms = 1;
	scr.timeout_ms = 2000;
	disk.target = "vda";
	disk.type = "file";
	disk.device = "disk";
	disk.source = "/tmp/ferry-fuzz-none/vm1.qcow2";
	disk.format = "qcow2";
	dom.name = "vm1";
	dom.uuid = "00000000-0000-0000-0000-000000000001";
	dom.state = "running";
	dom.mem_mib = 256;
	dom.vcpus = 1;
	dom.disks = diskv;
	dom.n_disks = 1;
	nonce.target = "vda";
	nonce.path = npath;
	nonce.value = "fedcba9876543210fedcba9876543210";
	dcr.domain = &dom;
	dcr.nonces = noncev;
	dcr.n_nonces = 1;
	dcr.cpu_xml = "<cpu mode='custom'><model>qemu64</model></cpu>";
	dcr.emulator = "/usr/bin/qemu-system-x86_64";
	dcr.arch = "x86_64";
	dcr.machine = "pc-i440fx-7.2";
	dcr.virttype = "qemu";
	sc.nonces = noncev;
	sc.n_nonces = 1;
	drr.name = "vm1";
	drr.seconds = 1;
	pol.has_bandwidth_mibs = 1;
	pol.bandwidth_mibs = 100;
	pol.has_max_downtime_ms = 1;
	pol.max_downtime_ms = 500;
	mr.job_id = 7;
	mr.name = "vm2";
	mr.dest_uri = "fake://h2";
	mr.migrate_uri = "tcp://127.0.0.1";
	mr.policy = &pol;
	jref.job_id = 7;
	jref.name = "vm2";
	dr.name = "vm3";
	dr.has_only_if_not_running = 1;
	dr.only_if_not_running = 1;
	vr.host = "h1";
	mo.vm = "vm2";
	mo.to = "h2";
	mo.has_wait = 1;
	mo.wait = 1;
	cr.vm = "vm1";
	cr.to = "h2";
	jsr.has_all = 1;
	jsr.all = 1;
	jr.id = 1;
	mtr.host = "h1";
	mtr.has_dry_run = 1;
	mtr.dry_run = 1;
	hi.hostname = "h1";
	hi.host_uuid = "00000000-0000-0000-0000-0000000000a1";
	hi.libvirt_uri = "fake://h1";
	hi.migration_address = "127.0.0.1";
	hi.cpus = 4;
	hi.mem_mib = 8192;
	hi.mem_free_mib = 4096;
	hi.reserve_mib = 512;
	inv.host = &hi;
	inv.domains = domv;
	inv.n_domains = 1;
	inv.generation = 99;
	hb.seq = 5;
	hb.time_ms = 1700000000000ULL;
	js.job_id = 1;
	js.name = "vm1";
	js.time_elapsed_ms = 100;
	js.data_total = 1 << 28;
	js.data_processed = 1 << 20;
	js.data_remaining = (1 << 28) - (1 << 20);
	res.job_id = 1;
	res.name = "vm1";
	res.ok = 1;
	er.code = EIO;
	er.message = "fuzz error";
	ds.name = "vm1";
	ds.exists = 1;
	ds.state = "running";
	ck.name = "cpu";
	ck.ok = 1;
	ck.reason = "identical";
	scp.domain = &dom;
	scp.checks = ckv;
	scp.n_checks = 1;
	scp.nonces = noncev;
	scp.n_nonces = 1;
	dcp.checks = ckv;
	dcp.n_checks = 1;
	drp.mib_per_s = 1.5;
	ji.id = 1;
	ji.kind = "migrate";
	ji.vm = "vm1";
	ji.state = "running";
	je.job_id = 1;
	je.event = "progress";
	je.checks = ckv;
	je.n_checks = 1;
	jsp.jobs = jiv;
	jsp.n_jobs = 1;
	di.vm = "vm1";
	di.mem_mib = 256;
	di.state = "planned";
	dinf.id = 2;
	dinf.host = "h1";
	dinf.state = "planning";
	dinf.items = div_;
	dinf.n_items = 1;
	dev.event = "plan";
	dev.drain = &dinf;

	const struct seed hostd[] = {
		{ "hello", 0, MSG_HELLO, FRAME_CALL, 0, &hello.base },
		{ "inventory", 0, MSG_INVENTORY, FRAME_CALL, 0, &empty.base },
		{ "domain-state", 0, MSG_DOMAIN_STATE, FRAME_CALL, 0, &dref.base },
		{ "precheck-source", 0, MSG_PRECHECK_SOURCE, FRAME_CALL, 0,
		    &scr.base },
		{ "precheck-dest", 0, MSG_PRECHECK_DEST, FRAME_CALL, 0,
		    &dcr.base },
		{ "storage-cleanup", 0, MSG_STORAGE_CLEANUP, FRAME_CALL, 0,
		    &sc.base },
		{ "dirty-rate", 0, MSG_DIRTY_RATE, FRAME_CALL, 0, &drr.base },
		{ "migrate", 0, MSG_MIGRATE, FRAME_CALL, 0, &mr.base },
		{ "abort", 0, MSG_ABORT, FRAME_CALL, 0, &jref.base },
		{ "job-query", 0, MSG_JOB_QUERY, FRAME_CALL, 0, &jref.base },
		{ "destroy-leftover", 0, MSG_DESTROY_LEFTOVER, FRAME_CALL, 0,
		    &dr.base },
		{ "heartbeat", 0, MSG_HEARTBEAT, FRAME_EVENT, 0, &hb.base },
	};
	const struct seed ctl[] = {
		{ "ctl-hosts", 1, MSG_CTL_HOSTS, FRAME_CALL, 0, &hr.base },
		{ "ctl-vms", 1, MSG_CTL_VMS, FRAME_CALL, 0, &vr.base },
		{ "ctl-migrate", 1, MSG_CTL_MIGRATE, FRAME_CALL, 0, &mo.base },
		{ "ctl-check", 1, MSG_CTL_CHECK, FRAME_CALL, 0, &cr.base },
		{ "ctl-jobs", 1, MSG_CTL_JOBS, FRAME_CALL, 0, &jsr.base },
		{ "ctl-job", 1, MSG_CTL_JOB, FRAME_CALL, 0, &jr.base },
		{ "ctl-abort", 1, MSG_CTL_ABORT, FRAME_CALL, 0, &jr.base },
		{ "ctl-watch", 1, MSG_CTL_WATCH, FRAME_CALL, 0, &jr.base },
		{ "ctl-maint-enter", 1, MSG_CTL_MAINT_ENTER, FRAME_CALL, 0,
		    &mtr.base },
		{ "ctl-maint-cancel", 1, MSG_CTL_MAINT_CANCEL, FRAME_CALL, 0,
		    &mtr.base },
		{ "ctl-maint-exit", 1, MSG_CTL_MAINT_EXIT, FRAME_CALL, 0,
		    &mtr.base },
		{ "sock-hosts", 3, MSG_CTL_HOSTS, FRAME_CALL, 0, &hr.base },
		{ "sock-migrate", 3, MSG_CTL_MIGRATE, FRAME_CALL, 0, &mo.base },
	};
	const struct seed peer[] = {
		{ "peer-inventory", 2, MSG_INVENTORY, FRAME_EVENT, 0, &inv.base },
		{ "peer-heartbeat", 2, MSG_HEARTBEAT, FRAME_EVENT, 0, &hb.base },
		{ "peer-progress", 2, MSG_MIGRATE_PROGRESS, FRAME_EVENT, 0,
		    &js.base },
		{ "peer-done", 2, MSG_MIGRATE_DONE, FRAME_EVENT, 0, &res.base },
		{ "peer-error-reply", 2, MSG_PRECHECK_SOURCE, FRAME_REPLY, 1,
		    &er.base },
		{ "peer-state-reply", 2, MSG_DOMAIN_STATE, FRAME_REPLY, 0,
		    &ds.base },
		{ "peer-source-reply", 2, MSG_PRECHECK_SOURCE, FRAME_REPLY, 0,
		    &scp.base },
		{ "peer-dest-reply", 2, MSG_PRECHECK_DEST, FRAME_REPLY, 0,
		    &dcp.base },
		{ "peer-dirty-reply", 2, MSG_DIRTY_RATE, FRAME_REPLY, 0,
		    &drp.base },
		{ "peer-inventory-reply", 2, MSG_HELLO, FRAME_REPLY, 0,
		    &inv.base },
	};
	/* Replies and events ferryctl gets: only for the decoder. */
	const struct seed other[] = {
		{ "job-event", 1, MSG_CTL_JOB_EVENT, FRAME_EVENT, 0, &je.base },
		{ "jobs-reply", 1, MSG_CTL_JOBS, FRAME_REPLY, 0, &jsp.base },
		{ "drain-event", 1, MSG_CTL_DRAIN_EVENT, FRAME_EVENT, 0,
		    &dev.base },
		{ "drain-info", 1, MSG_CTL_MAINT_ENTER, FRAME_REPLY, 0,
		    &dinf.base },
		{ "job-info", 1, MSG_CTL_MIGRATE, FRAME_REPLY, 0, &ji.base },
	};
	const struct { const struct seed *v; size_t n; } all[] = {
		{ hostd, sizeof(hostd) / sizeof(hostd[0]) },
		{ ctl, sizeof(ctl) / sizeof(ctl[0]) },
		{ peer, sizeof(peer) / sizeof(peer[0]) },
		{ other, sizeof(other) / sizeof(other[0]) },
	};
	size_t a, stream = 0;
	uint8_t *sbuf = buf + 32768;

	/* fuzz_frame: 5 bytes of settings (default limit, 16-byte chunks)
	 * and one frame; then every frame in one stream. */
	sbuf[stream++] = 0x80;
	memset(sbuf + stream, 15, 4);
	stream += 4;
	for (a = 0; a < sizeof(all) / sizeof(all[0]); a++)
		for (i = 0; i < all[a].n; i++) {
			f = pack(&all[a].v[i], (uint32_t)i + 1, &len);
			buf[0] = 0x80;
			memset(buf + 1, 0xff, 4);
			memcpy(buf + 5, f, len);
			put("fuzz_frame", all[a].v[i].name, buf, len + 5);
			if (stream + len < 32768) {
				memcpy(sbuf + stream, f, len);
				stream += len;
			}
			free(f);
		}
	put("fuzz_frame", "stream", sbuf, stream);

	/* fuzz_dispatch: hostd calls after a hello; ctl calls and peer
	 * frames alone; then a few sequences. */
	for (i = 0; i < all[0].n; i++) {
		n = record(buf, &hostd[0], 1);
		if (i > 0)
			n += record(buf + n, &hostd[i], 2);
		put("fuzz_dispatch", hostd[i].name, buf, n);
	}
	for (a = 1; a <= 2; a++)
		for (i = 0; i < all[a].n; i++) {
			n = record(buf, &all[a].v[i], 0);
			put("fuzz_dispatch", all[a].v[i].name, buf, n);
		}
	/* migrate with wait, then list, watch, abort, jobs */
	n = record(buf, &ctl[2], 1);
	n += record(buf + n, &ctl[7], 2);
	n += record(buf + n, &ctl[6], 3);
	n += record(buf + n, &ctl[4], 4);
	n += record(buf + n, &ctl[5], 5);
	put("fuzz_dispatch", "seq-migrate", buf, n);
	/* check, then answer h1's last call with a source reply */
	n = record(buf, &ctl[3], 1);
	n += record(buf + n, &peer[6], 0);
	n += record(buf + n, &peer[4], 1);
	put("fuzz_dispatch", "seq-check", buf, n);
	/* a real drain of h1, cancel, exit with restore */
	mtr.dry_run = 0;
	mtr.has_wait = 1;
	mtr.wait = 1;
	n = record(buf, &ctl[8], 1);
	n += record(buf + n, &ctl[9], 2);
	mtr.has_restore = 1;
	mtr.restore = 1;
	n += record(buf + n, &ctl[10], 3);
	put("fuzz_dispatch", "seq-drain", buf, n);

	/* fuzz_ctl: each command's answer (line numbers: fuzz_ctl.c). */
	he.name = "h1";
	he.state = "up";
	he.address = "127.0.0.1:7220";
	he.libvirt_uri = "qemu+tcp://h1/system";
	he.has_cpus = he.has_mem_mib = he.has_mem_free_mib = he.has_vms = 1;
	he.cpus = 4;
	he.mem_mib = 8192;
	he.mem_free_mib = 4096;
	he.vms = 1;
	hsp.hosts = hev;
	hsp.n_hosts = 1;
	ve.name = "vm1";
	ve.host = "h1";
	ve.state = "running";
	ve.mem_mib = 256;
	ve.vcpus = 1;
	ve.disks = diskv;
	ve.n_disks = 1;
	vsp.vms = vev;
	vsp.n_vms = 1;
	ji.id = 1;
	ji.kind = "migrate";
	ji.vm = "vm1";
	ji.state = "migrating";
	ji.source = "h1";
	ji.destination = "h2";
	jh.seq = 1;
	jh.time_ms = 1700000000000ULL;
	jh.type = "state";
	jh.state = "pending";
	jh.data = "{\"checks\":[]}";
	jrp.job = &ji;
	jrp.history = jhv;
	jrp.n_history = 1;
	ck.name = "cpu";
	ck.ok = 1;
	ck.reason = "identical";
	crp.vm = "vm1";
	crp.source = "h1";
	crp.destination = "h2";
	crp.checks = ckv;
	crp.n_checks = 1;
	crp.ok = 1;
	jprog.job_id = 1;
	jprog.event = "progress";
	jprog.has_percent = 1;
	jprog.percent = 42;
	jdone.job_id = 1;
	jdone.event = "done";
	jdone.state = "succeeded";
	jdone.vm = "vm1";
	{
		const struct seed s_hosts[] = {
		    { "", 0, MSG_CTL_HOSTS, FRAME_REPLY, 0, &hsp.base } };
		const struct seed s_vms[] = {
		    { "", 0, MSG_CTL_VMS, FRAME_REPLY, 0, &vsp.base } };
		const struct seed s_jobs[] = {
		    { "", 0, MSG_CTL_JOBS, FRAME_REPLY, 0, &jsp.base } };
		const struct seed s_job[] = {
		    { "", 0, MSG_CTL_JOB, FRAME_REPLY, 0, &jrp.base } };
		const struct seed s_watch[] = {
		    { "", 0, MSG_CTL_WATCH, FRAME_REPLY, 0, &ji.base },
		    { "", 0, MSG_CTL_JOB_EVENT, FRAME_EVENT, 0, &jprog.base },
		    { "", 0, MSG_CTL_JOB_EVENT, FRAME_EVENT, 0, &jdone.base } };
		const struct seed s_migrate[] = {
		    { "", 0, MSG_CTL_MIGRATE, FRAME_REPLY, 0, &ji.base },
		    { "", 0, MSG_CTL_JOB_EVENT, FRAME_EVENT, 0, &je.base },
		    { "", 0, MSG_CTL_JOB_EVENT, FRAME_EVENT, 0, &jprog.base },
		    { "", 0, MSG_CTL_JOB_EVENT, FRAME_EVENT, 0, &jdone.base } };
		const struct seed s_abort[] = {
		    { "", 0, MSG_CTL_ABORT, FRAME_REPLY, 0, &ji.base } };
		const struct seed s_check[] = {
		    { "", 0, MSG_CTL_CHECK, FRAME_REPLY, 0, &crp.base } };
		const struct seed s_maint[] = {
		    { "", 0, MSG_CTL_MAINT_ENTER, FRAME_REPLY, 0, &dinf.base },
		    { "", 0, MSG_CTL_DRAIN_EVENT, FRAME_EVENT, 0, &dev.base } };
		const struct seed s_err[] = {
		    { "", 0, MSG_CTL_HOSTS, FRAME_REPLY, FRAME_ERROR, &er.base } };

		ctl_seed("hosts", 0, s_hosts, 1);
		ctl_seed("hosts-json", 1, s_hosts, 1);
		ctl_seed("vms", 2, s_vms, 1);
		ctl_seed("vms-json", 3, s_vms, 1);
		ctl_seed("jobs", 4, s_jobs, 1);
		ctl_seed("jobs-json", 5, s_jobs, 1);
		ctl_seed("job", 6, s_job, 1);
		ctl_seed("job-json", 7, s_job, 1);
		ctl_seed("watch", 8, s_watch, 3);
		ctl_seed("watch-json", 9, s_watch, 3);
		ctl_seed("migrate", 10, s_migrate, 4);
		ctl_seed("migrate-json", 11, s_migrate, 4);
		ctl_seed("abort", 13, s_abort, 1);
		ctl_seed("check", 14, s_check, 1);
		ctl_seed("check-json", 15, s_check, 1);
		ctl_seed("maint-enter", 16, s_maint, 2);
		ctl_seed("maint-dry-json", 17, s_maint, 2);
		ctl_seed("hosts-error", 0, s_err, 1);
	}

	/* fuzz_store: a stored domain blob, with and without disks. */
	len = ferry__domain__pack(&dom, buf);
	put("fuzz_store", "domain", buf, len);
	dom.n_disks = 0;
	len = ferry__domain__pack(&dom, buf);
	put("fuzz_store", "domain-nodisk", buf, len);
	return 0;
}
