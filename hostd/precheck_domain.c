/* precheck_domain.c: the small per-domain calls around a migration: a
 * domain's state as this host's libvirt sees it, the removal of a leftover
 * (destroy, undefine: only on UUID and state checked on the same handle),
 * the dirty rate. Worker threads (hostd_call_start), like precheck.c. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hostd.h"
#include "log.h"

static void
precheck_state_of(const struct hv_domain *d, Ferry__DomainState *st)
{
	st->exists = 1;
	if (d->uuid[0])
		st->uuid = (char *)d->uuid;
	st->state = (char *)(d->state_str[0] ? d->state_str :
	    hv_state_name(d->state));
	if (d->reason_str[0])
		st->reason = (char *)d->reason_str;
	st->has_job_active = st->has_persistent = st->has_mem_mib = 1;
	st->job_active = d->job_active;
	st->persistent = d->persistent;
	st->mem_mib = d->mem_mib;
}

/* DOMAIN_STATE: what libvirtd here says of a domain, now. */
int
precheck_domain_state(struct hostd *hd, const ProtobufCMessage *m,
    uint8_t **payload, size_t *len, char *err, size_t errlen)
{
	const Ferry__DomainRef *req = (const Ferry__DomainRef *)m;
	Ferry__DomainState st = FERRY__DOMAIN_STATE__INIT;
	Ferry__JobFigures fig = FERRY__JOB_FIGURES__INIT;
	struct hv_job_stats cs;
	struct hv_domain d;
	int r, rc = -1;

	memset(&d, 0, sizeof(d));
	st.name = req->name;
	r = hd->hv->ops->domain_info(hd->hv, req->name, &d);
	if (r == 0) {
		precheck_state_of(&d, &st);
		/* After a migration in, libvirt keeps what it measured. */
		if (d.state != HV_STATE_SHUTOFF &&
		    hd->hv->ops->job_completed != NULL &&
		    hd->hv->ops->job_completed(hd->hv, req->name, &cs) == 0) {
			if (cs.has_downtime) {
				fig.has_downtime_ms = 1;
				fig.downtime_ms = cs.downtime;
			}
			fig.has_data_bytes = fig.has_time_elapsed_ms = 1;
			fig.data_bytes = cs.data_processed;
			fig.time_elapsed_ms = cs.time_elapsed;
			fig.has_iterations = 1;
			fig.iterations = cs.memory_iteration;
			fig.has_memory_bytes = fig.has_memory_total = 1;
			fig.memory_bytes = cs.memory_processed;
			fig.memory_total = cs.memory_total;
			if (cs.disk_total > 0) {
				fig.has_disk_bytes = fig.has_disk_total = 1;
				fig.disk_bytes = cs.disk_processed;
				fig.disk_total = cs.disk_total;
			}
			st.completed = &fig;
		}
	} else if (r != -ENOENT) {
		/* Not knowing is not "absent": the caller must not conclude. */
		snprintf(err, errlen, "cannot ask libvirt about %s: %s",
		    req->name, hv_last_error());
		goto done;
	}
	if (hostd_pack(&st.base, payload, len) < 0) {
		snprintf(err, errlen, "out of memory");
		goto done;
	}
	rc = 0;
done:
	hv_domain_clear(&d);
	return rc;
}

/* DESTROY_LEFTOVER: stop what a failed incoming migration left here. */
int
precheck_destroy(struct hostd *hd, const ProtobufCMessage *m, uint8_t **payload,
    size_t *len, char *err, size_t errlen)
{
	const Ferry__DestroyRequest *req = (const Ferry__DestroyRequest *)m;
	Ferry__DomainState st = FERRY__DOMAIN_STATE__INIT;
	struct hv_domain d;
	int r, rc = -1;

	memset(&d, 0, sizeof(d));
	st.name = req->name;
	r = hd->hv->ops->domain_info(hd->hv, req->name, &d);
	if (r < 0 && r != -ENOENT) {
		snprintf(err, errlen, "%s", hv_last_error());
		goto done;
	}
	if (r == 0 && d.state != HV_STATE_SHUTOFF) {
		/* Only what a failed incoming migration leaves, named by its
		 * UUID: the coordinator's word is checked against libvirt's.
		 * The session refused already if this host migrates it out. */
		if (req->uuid == NULL || strcmp(req->uuid, d.uuid) != 0) {
			snprintf(err, errlen, "refusing to destroy %s: the request "
			    "names UUID %.40s, the domain here is %s", req->name,
			    req->uuid ? req->uuid : "(none)", d.uuid);
			goto done;
		}
		if (d.state != HV_STATE_PAUSED ||
		    (strcmp(d.reason_str, "migration") != 0 &&
		    strcmp(d.reason_str, "starting-up") != 0) || d.job_active) {
			snprintf(err, errlen, "refusing to destroy %s: it is %s "
			    "(%s)%s here, not a migration's leftover", req->name,
			    hv_state_name(d.state), d.reason_str,
			    d.job_active ? " with a job" : "");
			goto done;
		}
		log_warnx("destroying leftover domain %s (%s)", req->name,
		    hv_state_name(d.state));
		if (hd->hv->ops->destroy(hd->hv, req->name) < 0) {
			snprintf(err, errlen, "%s", hv_last_error());
			goto done;
		}
		hv_domain_clear(&d);
		r = hd->hv->ops->domain_info(hd->hv, req->name, &d);
	}
	if (r == 0)
		precheck_state_of(&d, &st);
	if (hostd_pack(&st.base, payload, len) < 0) {
		snprintf(err, errlen, "out of memory");
		goto done;
	}
	rc = 0;
done:
	hv_domain_clear(&d);
	return rc;
}

/*
 * UNDEFINE_LEFTOVER: remove the persistent, inactive definition a finished
 * migration left on its source (libvirt's UNDEFINE_SOURCE did not run, e.g.
 * after a post-copy whose connection broke). Refused unless the domain here
 * has the request's UUID and is shut off: a running or another domain of
 * that name is never touched. Replies with the state afterwards.
 */
int
precheck_undefine(struct hostd *hd, const ProtobufCMessage *m,
    uint8_t **payload, size_t *len, char *err, size_t errlen)
{
	const Ferry__DestroyRequest *req = (const Ferry__DestroyRequest *)m;
	Ferry__DomainState st = FERRY__DOMAIN_STATE__INIT;
	struct hv_domain d;
	int r, rc = -1;

	memset(&d, 0, sizeof(d));
	st.name = req->name;
	if (hd->hv->ops->undefine == NULL) {
		snprintf(err, errlen, "undefine is not supported here");
		goto done;
	}
	r = hd->hv->ops->undefine(hd->hv, req->name, req->uuid);
	if (r < 0 && r != -ENOENT) {
		snprintf(err, errlen, "refusing to undefine %s: %s", req->name,
		    hv_last_error());
		goto done;
	}
	if (r == 0)
		log_warnx("undefined the inactive leftover definition of %s "
		    "(UUID %s)", req->name, req->uuid);
	r = hd->hv->ops->domain_info(hd->hv, req->name, &d);
	if (r == 0)
		precheck_state_of(&d, &st);
	else if (r != -ENOENT) {
		snprintf(err, errlen, "%s", hv_last_error());
		goto done;
	}
	if (hostd_pack(&st.base, payload, len) < 0) {
		snprintf(err, errlen, "out of memory");
		goto done;
	}
	rc = 0;
done:
	hv_domain_clear(&d);
	return rc;
}

/* DIRTY_RATE: libvirt's dirty-rate calculation over a few seconds. */
int
precheck_dirty_rate(struct hostd *hd, const ProtobufCMessage *m,
    uint8_t **payload, size_t *len, char *err, size_t errlen)
{
	const Ferry__DirtyRateRequest *req = (const Ferry__DirtyRateRequest *)m;
	Ferry__DirtyRateReply rep = FERRY__DIRTY_RATE_REPLY__INIT;
	uint64_t mibs = 0;
	int secs = req->seconds < 1 ? 1 : req->seconds > 60 ? 60 : req->seconds;

	if (hd->hv->ops->dirty_rate(hd->hv, req->name, secs, &mibs) < 0) {
		snprintf(err, errlen, "%s", hv_last_error());
		return -1;
	}
	rep.mib_per_s = (double)mibs;
	if (hostd_pack(&rep.base, payload, len) < 0) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}
