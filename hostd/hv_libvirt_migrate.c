/* hv_libvirt_migrate.c: the migration ops of the libvirt hypervisor:
 * the dirty rate, virDomainMigrateToURI3 on a connection of its own, job
 * statistics, and the calls that steer or end a migration.
 */
#include <errno.h>
#include <string.h>
#include <time.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "hv.h"
#include "hv_libvirt.h"
#include "hv_libvirt_int.h"
#include "log.h"

/* A numeric typed parameter whatever libvirt typed it as; 0 when absent. */
static uint64_t
hvl_param_u64(virTypedParameterPtr p, int n, const char *name)
{
	int i;

	for (i = 0; i < n; i++) {
		if (strcmp(p[i].field, name) != 0)
			continue;
		switch (p[i].type) {
		case VIR_TYPED_PARAM_INT:
			return p[i].value.i < 0 ? 0 : (uint64_t)p[i].value.i;
		case VIR_TYPED_PARAM_UINT:
			return p[i].value.ui;
		case VIR_TYPED_PARAM_LLONG:
			return p[i].value.l < 0 ? 0 : (uint64_t)p[i].value.l;
		case VIR_TYPED_PARAM_ULLONG:
			return p[i].value.ul;
		default:
			return 0;
		}
	}
	return 0;
}

/* Fetch the dirty-rate stats of one domain: 1 measured (*mibs set), 0 not
 * yet, -1 error. */
static int
hvl_dirty_poll(virDomainPtr dom, uint64_t *mibs)
{
	virDomainPtr doms[2] = { dom, NULL };
	virDomainStatsRecordPtr *recs = NULL;
	int n, rc = 0;

	/* NOWAIT: never stall on the job lock; we poll anyway. */
	if ((n = virDomainListGetStats(doms, VIR_DOMAIN_STATS_DIRTYRATE,
	    &recs, VIR_CONNECT_GET_ALL_DOMAINS_STATS_NOWAIT)) < 0)
		return -1;
	if (n >= 1 && hvl_param_u64(recs[0]->params, recs[0]->nparams,
	    "dirtyrate.calc_status") == VIR_DOMAIN_DIRTYRATE_MEASURED) {
		*mibs = hvl_param_u64(recs[0]->params, recs[0]->nparams,
		    "dirtyrate.megabytes_per_second");
		rc = 1;
	}
	virDomainStatsRecordListFree(recs);
	return rc;
}

int
hvl_dirty_rate(struct hv *hv, const char *name, int seconds, uint64_t *mibs)
{
	struct hvl_call c;
	struct timespec ts = { 0, 200 * 1000 * 1000 };
	int rc, r, tries;

	*mibs = 0;
	if (seconds < 1)
		seconds = 1;
	if ((rc = hvl_begin(hv, name, "dirty rate", &c)) != 0)
		return rc;
	rc = -1;
	if (virDomainStartDirtyRateCalc(c.dom, seconds, 0) < 0) {
		rc = hvl_fail("dirty rate", name);
		goto done;
	}
	/* QEMU measures for `seconds`; allow it 10 s more to report. */
	for (tries = 0; tries < (seconds + 10) * 5; tries++) {
		nanosleep(&ts, NULL);
		if ((r = hvl_dirty_poll(c.dom, mibs)) == -1) {
			hv_set_error("dirty rate %s: %s", name, hvl_errmsg());
			goto done;
		}
		if (r == 1) {
			rc = 0;
			goto done;
		}
	}
	hv_set_error("dirty rate %s: not measured after %d s", name,
	    seconds + 10);
 done:
	hvl_end(&c);
	return rc;
}

/*
 * --copy-storage: the listed disks only (migrate_disks), copied whole
 * (NON_SHARED_DISK: the destination's pre-created image is empty). The
 * destination's NBD server listens on the migration address, on a port
 * from its qemu.conf migration_port_min..max range.
 */
static int
hvl_migrate_copy(const struct hv_migrate_params *mp,
    virTypedParameterPtr *params, int *np, int *maxp, unsigned int *flags)
{
	char addr[256];
	const char *h, *end;
	size_t i;

	if (mp->ncopy_disks == 0)
		return 0;
	*flags |= VIR_MIGRATE_NON_SHARED_DISK;
	for (i = 0; i < mp->ncopy_disks; i++)
		if (virTypedParamsAddString(params, np, maxp,
		    VIR_MIGRATE_PARAM_MIGRATE_DISKS, mp->copy_disks[i]) < 0)
			return -1;
	/* tcp://ADDR[:port] or tcp://[v6]:port: the NBD server's address */
	if (mp->migrate_uri != NULL &&
	    strncmp(mp->migrate_uri, "tcp://", 6) == 0) {
		h = mp->migrate_uri + 6;
		if (*h == '[' && (end = strchr(h, ']')) != NULL)
			snprintf(addr, sizeof(addr), "%.*s", (int)(end - h - 1),
			    h + 1);
		else
			snprintf(addr, sizeof(addr), "%.*s", (int)strcspn(h,
			    ":/"), h);
		if (addr[0] != '\0' && virTypedParamsAddString(params, np,
		    maxp, VIR_MIGRATE_PARAM_LISTEN_ADDRESS, addr) < 0)
			return -1;
	}
	return 0;
}

int
hvl_migrate(struct hv *hv, const char *name, const struct hv_migrate_params *mp)
{
	struct hvl_call c;
	virTypedParameterPtr params = NULL;
	int np = 0, maxp = 0, rc;
	unsigned int flags = VIR_MIGRATE_LIVE | VIR_MIGRATE_PEER2PEER;

	if (mp->dest_uri == NULL || mp->dest_uri[0] == '\0') {
		hv_set_error("migrate %s: no destination", name);
		return -1;
	}
	/* A connection of its own: while one call on a connection waits for
	 * its reply (a migration, for minutes), libvirt 9.0's client delivered
	 * the replies of other threads' calls on it only when the next message
	 * came (keepalive, event): job_stats took 5 s (lab). */
	if ((c.conn = virConnectOpen(hv->uri)) == NULL) {
		hv_set_error("migrate %s: connect %s: %s", name, hv->uri,
		    hvl_errmsg());
		return -1;
	}
	if (virConnectSetKeepAlive(c.conn, 5, 3) < 0)
		log_debug("%s: no keepalive: %s", hv->uri, hvl_errmsg());
	if ((c.dom = virDomainLookupByName(c.conn, name)) == NULL) {
		rc = virGetLastErrorCode() == VIR_ERR_NO_DOMAIN ? -ENOENT : -1;
		if (rc == -ENOENT)
			hv_set_error("no domain %s", name);
		else
			hv_set_error("migrate %s: %s", name, hvl_errmsg());
		hvl_end(&c);
		return rc;
	}
	rc = -1;
	if (mp->migrate_uri != NULL && mp->migrate_uri[0] != '\0' &&
	    virTypedParamsAddString(&params, &np, &maxp,
	    VIR_MIGRATE_PARAM_URI, mp->migrate_uri) < 0)
		goto lverr;
	if (mp->bandwidth_mibs > 0 && virTypedParamsAddULLong(&params, &np,
	    &maxp, VIR_MIGRATE_PARAM_BANDWIDTH, mp->bandwidth_mibs) < 0)
		goto lverr;
	if (hvl_migrate_copy(mp, &params, &np, &maxp, &flags) < 0)
		goto lverr;
	if (mp->persist)
		flags |= VIR_MIGRATE_PERSIST_DEST | VIR_MIGRATE_UNDEFINE_SOURCE;
	if (mp->allow_postcopy || mp->postcopy_resume)
		flags |= VIR_MIGRATE_POSTCOPY;
	if (mp->postcopy_resume)
		flags |= VIR_MIGRATE_POSTCOPY_RESUME;
	if (mp->auto_converge)
		flags |= VIR_MIGRATE_AUTO_CONVERGE;
	/* multifd: parallel.connections streams (QEMU's multifd-channels);
	 * libvirt refuses the parameter without the flag. */
	if (mp->parallel > 1) {
		flags |= VIR_MIGRATE_PARALLEL;
		if (virTypedParamsAddInt(&params, &np, &maxp,
		    VIR_MIGRATE_PARAM_PARALLEL_CONNECTIONS,
		    (int)mp->parallel) < 0)
			goto lverr;
	}
	/* QEMU's stream (and NBD) over TLS with the hosts' x509 certificates
	 * (qemu.conf migrate_tls_x509_cert_dir); libvirt fails the call when
	 * either side has none. */
	if (mp->tls)
		flags |= VIR_MIGRATE_TLS;
	log_debug("migrate %s to %s (data %s, flags 0x%x, %u streams)", name,
	    mp->dest_uri, mp->migrate_uri ? mp->migrate_uri : "default",
	    flags, mp->parallel > 1 ? mp->parallel : 1);
	if (virDomainMigrateToURI3(c.dom, mp->dest_uri, params, np, flags) <
	    0)
		goto lverr;
	rc = 0;
	goto done;
 lverr:
	hv_set_error("migrate %s: %s", name, hvl_errmsg());
 done:
	virTypedParamsFree(params, np);
	hvl_end(&c);
	return rc;
}

/* libvirt's job statistics parameters into s (sizes in bytes, ms). */
static void
hvl_stats_of(virTypedParameterPtr p, int np, struct hv_job_stats *s)
{
	s->time_elapsed = hvl_param_u64(p, np, VIR_DOMAIN_JOB_TIME_ELAPSED);
	s->time_remaining = hvl_param_u64(p, np,
	    VIR_DOMAIN_JOB_TIME_REMAINING);
	s->data_total = hvl_param_u64(p, np, VIR_DOMAIN_JOB_DATA_TOTAL);
	s->data_processed = hvl_param_u64(p, np,
	    VIR_DOMAIN_JOB_DATA_PROCESSED);
	s->data_remaining = hvl_param_u64(p, np,
	    VIR_DOMAIN_JOB_DATA_REMAINING);
	s->memory_total = hvl_param_u64(p, np, VIR_DOMAIN_JOB_MEMORY_TOTAL);
	s->memory_processed = hvl_param_u64(p, np,
	    VIR_DOMAIN_JOB_MEMORY_PROCESSED);
	s->memory_remaining = hvl_param_u64(p, np,
	    VIR_DOMAIN_JOB_MEMORY_REMAINING);
	s->memory_bps = hvl_param_u64(p, np, VIR_DOMAIN_JOB_MEMORY_BPS);
	s->memory_dirty_rate = hvl_param_u64(p, np,
	    VIR_DOMAIN_JOB_MEMORY_DIRTY_RATE);
	s->memory_page_size = hvl_param_u64(p, np,
	    VIR_DOMAIN_JOB_MEMORY_PAGE_SIZE);
	s->memory_iteration = hvl_param_u64(p, np,
	    VIR_DOMAIN_JOB_MEMORY_ITERATION);
	s->downtime = hvl_param_u64(p, np, VIR_DOMAIN_JOB_DOWNTIME);
	s->setup_time = hvl_param_u64(p, np, VIR_DOMAIN_JOB_SETUP_TIME);
	s->auto_converge_throttle = hvl_param_u64(p, np,
	    VIR_DOMAIN_JOB_AUTO_CONVERGE_THROTTLE);
	s->disk_total = hvl_param_u64(p, np, VIR_DOMAIN_JOB_DISK_TOTAL);
	s->disk_processed = hvl_param_u64(p, np, VIR_DOMAIN_JOB_DISK_PROCESSED);
	s->disk_remaining = hvl_param_u64(p, np, VIR_DOMAIN_JOB_DISK_REMAINING);
	s->has_downtime = virTypedParamsGet(p, np,
	    VIR_DOMAIN_JOB_DOWNTIME) != NULL;
}

int
hvl_job_stats(struct hv *hv, const char *name, struct hv_job_stats *s)
{
	struct hvl_call c;
	virTypedParameterPtr p = NULL;
	int np = 0, type, state, reason, rc;

	memset(s, 0, sizeof(*s));
	if ((rc = hvl_begin(hv, name, "job stats", &c)) != 0)
		return rc;
	rc = -1;
	if (virDomainGetJobStats(c.dom, &type, &p, &np, 0) < 0 ||
	    virDomainGetState(c.dom, &state, &reason, 0) < 0) {
		rc = hvl_fail("job stats", name);
		goto done;
	}
	s->type = type;
	s->active = type != VIR_DOMAIN_JOB_NONE;
	hvl_stats_of(p, np, s);
	/* Job stats do not say; the state does. A failed post-copy counts:
	 * it still needs a post-copy resume, not a pre-copy retry. */
	s->postcopy = (state == VIR_DOMAIN_PAUSED &&
	    (reason == VIR_DOMAIN_PAUSED_POSTCOPY ||
	    reason == VIR_DOMAIN_PAUSED_POSTCOPY_FAILED)) ||
	    (state == VIR_DOMAIN_RUNNING &&
	    (reason == VIR_DOMAIN_RUNNING_POSTCOPY ||
	    reason == VIR_DOMAIN_RUNNING_POSTCOPY_FAILED));
	rc = 0;
 done:
	virTypedParamsFree(p, np);
	hvl_end(&c);
	return rc;
}

/*
 * The statistics of the domain's last completed job, as measured (the
 * downtime is the real one, not QEMU's estimate). KEEP_COMPLETED: reading
 * must not consume them, so that a verify retry or an operator's
 * `virsh domjobinfo --completed` still sees them.
 */
int
hvl_job_completed(struct hv *hv, const char *name, struct hv_job_stats *s)
{
	struct hvl_call c;
	virTypedParameterPtr p = NULL;
	int np = 0, type, rc;

	memset(s, 0, sizeof(*s));
	if ((rc = hvl_begin(hv, name, "completed job stats", &c)) != 0)
		return rc;
	rc = -1;
	if (virDomainGetJobStats(c.dom, &type, &p, &np,
	    VIR_DOMAIN_JOB_STATS_COMPLETED |
	    VIR_DOMAIN_JOB_STATS_KEEP_COMPLETED) < 0) {
		rc = hvl_fail("completed job stats", name);
		goto done;
	}
	if (type == VIR_DOMAIN_JOB_NONE || np == 0) {
		hv_set_error("libvirt keeps no completed job statistics for %s",
		    name);
		rc = -ENODATA;
		goto done;
	}
	s->type = type;
	hvl_stats_of(p, np, s);
	rc = 0;
 done:
	virTypedParamsFree(p, np);
	hvl_end(&c);
	return rc;
}

/* The small per-domain calls: look up, call, report. */
enum hvl_simple {
	HVL_ABORT, HVL_ABORT_POSTCOPY, HVL_DOWNTIME, HVL_SPEED, HVL_POSTCOPY,
	HVL_RESUME, HVL_DESTROY,
};

static int
hvl_simple(struct hv *hv, const char *name, enum hvl_simple op, uint64_t arg)
{
	static const char *what[] = {
		[HVL_ABORT] = "abort job",
		[HVL_ABORT_POSTCOPY] = "abort post-copy job",
		[HVL_DOWNTIME] = "set max downtime",
		[HVL_SPEED] = "set max speed",
		[HVL_POSTCOPY] = "start post-copy",
		[HVL_RESUME] = "resume",
		[HVL_DESTROY] = "destroy",
	};
	struct hvl_call c;
	int rc, r = -1;

	if ((rc = hvl_begin(hv, name, what[op], &c)) != 0)
		return rc;
	switch (op) {
	case HVL_ABORT:
		r = virDomainAbortJob(c.dom);
		break;
	case HVL_ABORT_POSTCOPY:
		/* Pauses both sides, for a later POSTCOPY_RESUME. */
		r = virDomainAbortJobFlags(c.dom,
		    VIR_DOMAIN_ABORT_JOB_POSTCOPY);
		break;
	case HVL_DOWNTIME:
		r = virDomainMigrateSetMaxDowntime(c.dom, arg, 0);
		break;
	case HVL_SPEED:
		r = virDomainMigrateSetMaxSpeed(c.dom, arg, 0);
		break;
	case HVL_POSTCOPY:
		r = virDomainMigrateStartPostCopy(c.dom, 0);
		break;
	case HVL_RESUME:
		r = virDomainResume(c.dom);
		break;
	case HVL_DESTROY:
		r = virDomainDestroy(c.dom);
		break;
	}
	if (r < 0)
		rc = hvl_fail(what[op], name);
	hvl_end(&c);
	return rc;
}

int
hvl_abort_job(struct hv *hv, const char *name, int postcopy)
{
	return hvl_simple(hv, name, postcopy ? HVL_ABORT_POSTCOPY : HVL_ABORT,
	    0);
}

int
hvl_set_max_downtime(struct hv *hv, const char *name, uint64_t ms)
{
	return hvl_simple(hv, name, HVL_DOWNTIME, ms);
}

int
hvl_set_max_speed(struct hv *hv, const char *name, uint64_t mibs)
{
	return hvl_simple(hv, name, HVL_SPEED, mibs);
}

int
hvl_start_postcopy(struct hv *hv, const char *name)
{
	return hvl_simple(hv, name, HVL_POSTCOPY, 0);
}

int
hvl_resume(struct hv *hv, const char *name)
{
	return hvl_simple(hv, name, HVL_RESUME, 0);
}

/* Destroy only: a persistent definition stays (never undefined here), so a
 * leftover copy of a guest that was defined on this host can be started
 * again; a transient domain is gone afterwards. */
int
hvl_destroy(struct hv *hv, const char *name)
{
	return hvl_simple(hv, name, HVL_DESTROY, 0);
}

/* Only an inactive domain of that UUID, checked on the handle undefined:
 * a same-named domain defined meanwhile is not touched. Flags 0: libvirt
 * refuses a domain with a managed-save image or snapshots (another state
 * of the guest someone may want). */
int
hvl_undefine(struct hv *hv, const char *name, const char *uuid)
{
	struct hvl_call c;
	char u[VIR_UUID_STRING_BUFLEN];
	int rc, act;

	if ((rc = hvl_begin(hv, name, "undefine", &c)) != 0)
		return rc;
	rc = -1;
	if (virDomainGetUUIDString(c.dom, u) < 0) {
		rc = hvl_fail("undefine", name);
		goto done;
	}
	if (uuid == NULL || strcmp(u, uuid) != 0) {
		hv_set_error("undefine %s: its UUID is %s, not %s", name, u,
		    uuid ? uuid : "(none)");
		rc = -EEXIST;
		goto done;
	}
	if ((act = virDomainIsActive(c.dom)) != 0) {
		if (act < 0)
			rc = hvl_fail("undefine", name);
		else {
			hv_set_error("undefine %s: the domain is active", name);
			rc = -EBUSY;
		}
		goto done;
	}
	if (virDomainUndefine(c.dom) < 0) {
		rc = hvl_fail("undefine", name);
		goto done;
	}
	rc = 0;
done:
	hvl_end(&c);
	return rc;
}
