/* jobctl.c: JOB_CONTROL, an operator's hand on a migration running from
 * this host (ferryctl job set | postcopy | complete, through the
 * coordinator). Each asks libvirt on a worker (urgent class: libvirt
 * allows these during the migration job) and replies once libvirt has
 * answered; the migration's outcome comes as the usual MIGRATE_DONE.
 * - set: virDomainMigrateSetMaxSpeed (MiB/s) and/or
 *   virDomainMigrateSetMaxDowntime (ms); the convergence policy keeps to
 *   the operator's pause from then on (migrate_operator_downtime);
 * - postcopy: virDomainMigrateStartPostCopy, only for a migration started
 *   with post-copy allowed;
 * - complete: post-copy when allowed, else pause-and-finish: the longest
 *   pause is raised to JOBCTL_FINISH_MS so that QEMU stops the guest and
 *   sends what remains at once.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hostd.h"
#include "log.h"

#define JOBCTL_FINISH_MS	60000	/* complete without post-copy */

struct jobctl {
	struct workq_item	 item;
	struct hostd		*hd;
	uint64_t		 session_id;
	uint16_t		 type;
	uint32_t		 serial;
	uint64_t		 job_id;
	char			 name[HV_NAME_MAX];
	int			 postcopy;	/* start post-copy */
	uint64_t		 bandwidth_mibs;	/* 0: unchanged */
	uint32_t		 downtime_ms;	/* 0: unchanged */
	int			 code;		/* 0, or the ERROR reply's errno */
	char			 err[512];
};

/* Worker. */
static void
jobctl_work(struct workq_item *it)
{
	struct jobctl *a = it->data;
	struct hv *hv = a->hd->hv;

	if (a->bandwidth_mibs &&
	    hv->ops->set_max_speed(hv, a->name, a->bandwidth_mibs) < 0) {
		a->code = EIO;
		snprintf(a->err, sizeof(a->err), "libvirt refused the "
		    "bandwidth: %s", hv_last_error());
		return;
	}
	if (a->downtime_ms &&
	    hv->ops->set_max_downtime(hv, a->name, a->downtime_ms) < 0) {
		a->code = EIO;
		snprintf(a->err, sizeof(a->err), "libvirt refused the "
		    "downtime: %s", hv_last_error());
		return;
	}
	if (a->postcopy && hv->ops->start_postcopy(hv, a->name) < 0) {
		a->code = EIO;
		snprintf(a->err, sizeof(a->err), "libvirt refused post-copy: "
		    "%s", hv_last_error());
	}
}

static void
jobctl_after(struct workq_item *it, int cancelled)
{
	struct jobctl *a = it->data;
	struct session *s = hostd_session_find(a->hd, a->session_id);
	Ferry__Empty e = FERRY__EMPTY__INIT;
	uint8_t *buf;
	size_t len;

	if (cancelled) {
		a->code = ESHUTDOWN;
		snprintf(a->err, sizeof(a->err), "hostd is stopping");
	}
	if (a->code == 0 && a->downtime_ms)
		migrate_operator_downtime(a->hd, a->job_id, a->downtime_ms);
	if (a->code == 0)
		log_info("job %llu: libvirt took the operator's change",
		    (unsigned long long)a->job_id);
	else
		log_warnx("job %llu: job control: %s",
		    (unsigned long long)a->job_id, a->err);
	if (s != NULL) {
		if (a->code == 0)
			(void)hostd_send(a->hd, s, a->type, FRAME_REPLY,
			    a->serial, &e.base);
		else if (frame_pack_error(a->type, a->serial, a->code, a->err,
		    &buf, &len) == 0)
			(void)session_send(s, buf, len);
	}
	free(a);
}

/* Returns 0 (the reply comes from jobctl_after), or a negative errno with
 * err: -ESRCH not migrating here, -EPERM not allowed, -EINVAL bad. */
int
jobctl_request(struct hostd *hd, struct session *s, const struct frame_hdr *h,
    const Ferry__JobControlRequest *req, char *err, size_t errlen)
{
	struct jobctl *a;
	char name[HV_NAME_MAX];
	int allow_pc, in_pc, rc;

	if (migrate_job_view(hd, req->job_id, name, sizeof(name), &allow_pc,
	    &in_pc) < 0) {
		snprintf(err, errlen, "job %llu is not migrating here",
		    (unsigned long long)req->job_id);
		return -ESRCH;
	}
	if ((a = calloc(1, sizeof(*a))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	a->hd = hd;
	a->session_id = s->id;
	a->type = h->type;
	a->serial = h->serial;
	a->job_id = req->job_id;
	snprintf(a->name, sizeof(a->name), "%s", name);
	if (strcmp(req->action, "set") == 0) {
		a->bandwidth_mibs = req->has_bandwidth_mibs ?
		    req->bandwidth_mibs : 0;
		a->downtime_ms = req->has_max_downtime_ms ?
		    req->max_downtime_ms : 0;
		if (a->bandwidth_mibs == 0 && a->downtime_ms == 0) {
			snprintf(err, errlen, "set: nothing to set");
			rc = -EINVAL;
			goto fail;
		}
	} else if (strcmp(req->action, "postcopy") == 0 ||
	    strcmp(req->action, "complete") == 0) {
		if (in_pc) {
			snprintf(err, errlen, "job %llu is in post-copy "
			    "already", (unsigned long long)req->job_id);
			rc = -EALREADY;
			goto fail;
		}
		if (allow_pc)
			a->postcopy = 1;
		else if (strcmp(req->action, "postcopy") == 0) {
			snprintf(err, errlen, "job %llu was not started with "
			    "post-copy allowed", (unsigned long long)req->job_id);
			rc = -EPERM;
			goto fail;
		} else
			a->downtime_ms = JOBCTL_FINISH_MS;
	} else {
		snprintf(err, errlen, "unknown job control '%s'", req->action);
		rc = -EINVAL;
		goto fail;
	}
	a->item.data = a;
	a->item.work = jobctl_work;
	a->item.done = jobctl_after;
	if ((rc = workq_submit(&hd->wq[HOSTD_WQ_URGENT], &a->item)) < 0) {
		snprintf(err, errlen, "cannot queue the change");
		rc = rc == -EBUSY ? -EBUSY : -EIO;
		goto fail;
	}
	log_info("job %llu: %s requested (bandwidth %llu MiB/s, downtime %u "
	    "ms, post-copy %d)", (unsigned long long)req->job_id, req->action,
	    (unsigned long long)a->bandwidth_mibs, a->downtime_ms, a->postcopy);
	return 0;
fail:
	free(a);
	return rc;
}
