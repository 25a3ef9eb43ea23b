/* job_control.c: an operator's hand on a running migration, as virsh
 * offers it: job set (bandwidth, longest pause), job postcopy (switch now,
 * for a job started with post-copy allowed), job complete (post-copy where
 * allowed, else pause-and-finish). The coordinator checks what the job
 * allows, asks the source's hostd (hostd/jobctl.c), and once libvirt there
 * has taken it, journals an "info" event naming who asked (the peer's
 * uid and pid, SO_PEERCRED), tells the job's watchers and replies the job.
 * A refusal is journaled too. Nothing is remembered for a restart: the
 * change lives in the running migration.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "coordinator.h"
#include "job.h"
#include "log.h"

#define JOB_CONTROL_MAX_BW_MIBS	1048576		/* as ferryctl's bounds */
#define JOB_CONTROL_MAX_DT_MS	60000
#define JOB_CONTROL_TIMEOUT_MS	30000

struct job_control {
	struct coord		*co;
	struct ctl_client	*client;	/* a reference */
	uint16_t		 type;
	uint32_t		 serial;
	int64_t			 job_id;
	char			 action[16];
	uint64_t		 bandwidth_mibs;
	uint32_t		 max_downtime_ms;
	long			 uid, pid;
};

/* What was asked and by whom, as the journal keeps it. */
static struct json_object *
job_control_json(const struct job_control *jc, const char *refused)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "control",
	    json_object_new_string(jc->action));
	if (jc->bandwidth_mibs)
		json_object_object_add(o, "bandwidth_mibs",
		    json_object_new_int64((int64_t)jc->bandwidth_mibs));
	if (jc->max_downtime_ms)
		json_object_object_add(o, "max_downtime_ms",
		    json_object_new_int64(jc->max_downtime_ms));
	json_object_object_add(o, "by_uid", json_object_new_int64(jc->uid));
	json_object_object_add(o, "by_pid", json_object_new_int64(jc->pid));
	if (refused)
		json_object_object_add(o, "refused",
		    json_object_new_string(refused));
	return o;
}

static void
job_control_cb(struct host *h, const struct frame *f, const char *err,
    void *arg)
{
	struct job_control *jc = arg;
	struct ctl_client *c = control_client_alive(jc->client) ? jc->client :
	    NULL;
	struct job *j = job_find(jc->co, jc->job_id);
	Ferry__JobEvent ev = FERRY__JOB_EVENT__INIT;
	Ferry__JobInfo ji;
	char msg[256];

	(void)h;
	if (err != NULL || f == NULL) {
		if (j != NULL)
			job_record(j, "info", job_control_json(jc, err ? err :
			    "no reply"));
		if (c != NULL)
			(void)control_error(c, jc->type, jc->serial,
			    h->reply_code ? h->reply_code : EIO, "%s: %s",
			    jc->action, err ? err : "no reply from the source");
		goto out;
	}
	if (jc->bandwidth_mibs || jc->max_downtime_ms)
		snprintf(msg, sizeof(msg), "operator (uid %ld): %s%s%.0llu%s"
		    "%s%.0u%s", jc->uid, jc->action,
		    jc->bandwidth_mibs ? " bandwidth " : "",
		    (unsigned long long)jc->bandwidth_mibs,
		    jc->bandwidth_mibs ? " MiB/s" : "",
		    jc->max_downtime_ms ? " max downtime " : "",
		    jc->max_downtime_ms, jc->max_downtime_ms ? " ms" : "");
	else
		snprintf(msg, sizeof(msg), "operator (uid %ld): %s", jc->uid,
		    jc->action);
	log_info("job %lld: %s", (long long)jc->job_id, msg);
	if (j != NULL) {
		job_record(j, "info", job_control_json(jc, NULL));
		ev.event = "info";
		ev.state = (char *)job_state_name(j->state);
		ev.message = msg;
		job_emit(j, &ev);
		if (jc->bandwidth_mibs)
			j->opts.bandwidth_mibs = jc->bandwidth_mibs;
	}
	if (c != NULL) {
		if (j != NULL) {
			job_info(j, &ji);
			(void)control_reply(c, jc->type, jc->serial, &ji.base);
		} else
			(void)control_error(c, jc->type, jc->serial,
			    FERRY_ECONFLICT, "job %lld ended meanwhile",
			    (long long)jc->job_id);
	}
out:
	control_client_unref(jc->client);
	free(jc);
}

int
job_control_request(struct coord *co, const Ferry__JobControlRequest *req,
    struct ctl_client *c, uint16_t type, uint32_t serial, char *err,
    size_t errlen)
{
	Ferry__JobControlRequest fwd = FERRY__JOB_CONTROL_REQUEST__INIT;
	struct job_control *jc;
	struct store_job sj;
	struct host *h;
	struct job *j;
	int found, set, pc, rc;

	set = strcmp(req->action, "set") == 0;
	pc = strcmp(req->action, "postcopy") == 0;
	if (!set && !pc && strcmp(req->action, "complete") != 0) {
		snprintf(err, errlen, "unknown job control '%s' (set, postcopy, "
		    "complete)", req->action);
		return -1;
	}
	if (set && !req->has_bandwidth_mibs && !req->has_max_downtime_ms) {
		snprintf(err, errlen, "job set: --bandwidth or --max-downtime");
		return -1;
	}
	if ((req->has_bandwidth_mibs && (req->bandwidth_mibs == 0 ||
	    req->bandwidth_mibs > JOB_CONTROL_MAX_BW_MIBS)) ||
	    (req->has_max_downtime_ms && (req->max_downtime_ms == 0 ||
	    req->max_downtime_ms > JOB_CONTROL_MAX_DT_MS))) {
		snprintf(err, errlen, "bandwidth 1 to %d MiB/s, max downtime "
		    "1 to %d ms", JOB_CONTROL_MAX_BW_MIBS, JOB_CONTROL_MAX_DT_MS);
		return -1;
	}
	/* Not in flight: what job says of it. */
	if ((j = job_find(co, (int64_t)req->job_id)) == NULL || j->check_only) {
		memset(&sj, 0, sizeof(sj));
		if ((found = store_job_get(co->store, (int64_t)req->job_id,
		    &sj)) <= 0) {
			snprintf(err, errlen, found == 0 ? "no job %llu" :
			    "cannot read job %llu",
			    (unsigned long long)req->job_id);
			rc = found == 0 ? -FERRY_ENOTFOUND : -FERRY_EINTERNAL;
		} else {
			snprintf(err, errlen, "job %llu is not running: it "
			    "ended %s", (unsigned long long)req->job_id,
			    sj.state);
			rc = -FERRY_ECONFLICT;
			store_job_clear(&sj);
		}
		return rc;
	}
	if (j->state != JOB_MIGRATING) {
		snprintf(err, errlen, "job %lld is %s, not migrating: nothing "
		    "to %s", (long long)j->id, job_state_name(j->state),
		    req->action);
		return -FERRY_ECONFLICT;
	}
	if (j->postcopy && !set) {
		snprintf(err, errlen, "job %lld is in post-copy already",
		    (long long)j->id);
		return -FERRY_ECONFLICT;
	}
	if (pc && j->opts.postcopy != 1) {
		snprintf(err, errlen, "job %lld was not started with post-copy "
		    "allowed (migrate --postcopy): use job complete to pause "
		    "and finish", (long long)j->id);
		return -1;
	}
	if (strcmp(req->action, "complete") == 0 && j->opts.postcopy != 1 &&
	    !(req->has_yes && req->yes)) {
		snprintf(err, errlen, "job %lld: complete pauses the guest until "
		    "the rest is copied; confirm with --yes", (long long)j->id);
		return -1;
	}
	if ((h = coord_host_find(co, j->source)) == NULL || !h->up) {
		snprintf(err, errlen, "source %s is not connected", j->source);
		return -FERRY_ECONFLICT;
	}
	if ((jc = calloc(1, sizeof(*jc))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -FERRY_EINTERNAL;
	}
	jc->co = co;
	control_client_ref(c);
	jc->client = c;
	jc->type = type;
	jc->serial = serial;
	jc->job_id = j->id;
	snprintf(jc->action, sizeof(jc->action), "%s", req->action);
	jc->bandwidth_mibs = req->has_bandwidth_mibs ? req->bandwidth_mibs : 0;
	jc->max_downtime_ms = req->has_max_downtime_ms ? req->max_downtime_ms :
	    0;
	control_client_cred(c, &jc->uid, &jc->pid);
	fwd.job_id = (uint64_t)j->id;
	fwd.action = jc->action;
	fwd.has_bandwidth_mibs = req->has_bandwidth_mibs;
	fwd.bandwidth_mibs = req->bandwidth_mibs;
	fwd.has_max_downtime_ms = req->has_max_downtime_ms;
	fwd.max_downtime_ms = req->max_downtime_ms;
	if (peer_call(h, MSG_JOB_CONTROL, &fwd.base, JOB_CONTROL_TIMEOUT_MS,
	    job_control_cb, jc) < 0) {
		control_client_unref(c);
		free(jc);
		snprintf(err, errlen, "cannot reach the source %s", j->source);
		return -FERRY_ECONFLICT;
	}
	return 0;
}
