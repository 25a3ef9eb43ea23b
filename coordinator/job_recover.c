/* job_recover.c: after a restart, every unfinished migration in the
 * journal is taken up again where the journal has it; and the end of a job
 * that is already over, from the journal, for 'ferryctl watch'.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "coordinator.h"
#include "log.h"

static void
job_parse_params(struct job *j, const char *params)
{
	struct json_object *o, *v;

	if (params == NULL || (o = json_tokener_parse(params)) == NULL)
		return;
	if (json_object_object_get_ex(o, "bandwidth_mibs", &v))
		j->opts.bandwidth_mibs = json_object_get_int64(v);
	if (json_object_object_get_ex(o, "max_downtime_ms", &v))
		j->opts.max_downtime_ms = json_object_get_int64(v);
	if (json_object_object_get_ex(o, "timeout_s", &v))
		j->opts.timeout_s = json_object_get_int64(v);
	if (json_object_object_get_ex(o, "postcopy", &v))
		j->opts.postcopy = json_object_get_int(v);
	if (json_object_object_get_ex(o, "auto_converge", &v))
		j->opts.auto_converge = json_object_get_boolean(v);
	if (json_object_object_get_ex(o, "parallel", &v))
		j->opts.parallel = (uint32_t)json_object_get_int64(v);
	if (json_object_object_get_ex(o, "tls", &v))
		j->opts.tls = json_object_get_boolean(v);
	if (json_object_object_get_ex(o, "copy_storage", &v))
		j->opts.copy_storage = json_object_get_boolean(v);
	if (json_object_object_get_ex(o, "mem_mib", &v))
		j->mem_mib = json_object_get_int64(v);
	if (json_object_object_get_ex(o, "uuid", &v))
		snprintf(j->uuid, sizeof(j->uuid), "%s", json_object_get_string(v));
	json_object_put(o);
}

/*
 * After a restart: every unfinished job in the journal is taken up again.
 * pending/checking: MIGRATE was never sent, so the VM must still be on the
 * source; verify that and roll back. migrating: ask the source's hostd when
 * it is back. verifying: verify.
 */
int
job_recover(struct coord *co, char *err, size_t errlen)
{
	struct store_job *sj = NULL;
	size_t n = 0, i;
	struct job *j;
	int st;

	if (store_jobs_list(co->store, 1, 0, &sj, &n) < 0) {
		snprintf(err, errlen, "%s", store_error(co->store));
		return -1;
	}
	for (i = 0; i < n; i++) {
		if (strcmp(sj[i].kind, "migrate") != 0 ||
		    (st = job_state_parse(sj[i].state)) < 0 ||
		    job_state_final(st))
			continue;
		if ((j = job_new(co, sj[i].vm)) == NULL)
			continue;
		j->id = sj[i].id;
		j->parent = sj[i].parent;
		j->recovered = 1;
		j->started_ms = sj[i].started_ms;
		snprintf(j->source, sizeof(j->source), "%s", sj[i].source);
		snprintf(j->destination, sizeof(j->destination), "%s",
		    sj[i].destination);
		job_parse_params(j, sj[i].params);
		j->state = st;
		TAILQ_INSERT_TAIL(&co->jobs, j, entry);
		if (job_recover_abort(j) < 0) {
			snprintf(err, errlen, "job %lld: cannot read its journal: "
			    "%s", (long long)j->id, store_error(co->store));
			goto fail;
		}
		log_job_info(j->id, j->vm, "recovering %s of %s (%s -> %s)",
		    sj[i].state, j->vm, j->source,
		    j->destination);
		if (st == JOB_PENDING || st == JOB_CHECKING) {
			snprintf(j->error, sizeof(j->error), "the coordinator "
			    "restarted during the pre-checks; nothing was "
			    "started");
			/* As every transition, one the journal refuses is not
			 * taken; at start-up nothing waits for its retry: the
			 * start fails, loudly (the database must be writable
			 * to run jobs). Hosts are not connected yet:
			 * job_host_up asks them. */
			if (job_enter(j, JOB_EV_RECOVER, j->error) < 0) {
				snprintf(err, errlen, "job %lld: cannot journal "
				    "its recovery: %s", (long long)j->id,
				    store_error(co->store));
				goto fail;
			}
			continue;
		} else if (st == JOB_MIGRATING) {
			j->last_event_ms = clock_mono_ms();
			j->migrate_sent_ms =
			    clock_mono_of_wall(sj[i].started_ms);
			j->step = JOB_STEP_RUNNING;
			/* The stuck deadline counts from the job's start, as
			 * the migration may have run since then. */
			j->deadline_ms = job_deadline_of(j, JOB_MIGRATING,
			    j->migrate_sent_ms);
			if (store_job_event(co->store, j->id, "info",
			    "coordinator restarted; asking the source's hostd",
			    clock_wall_ms()) < 0) {
				snprintf(err, errlen, "job %lld: cannot journal "
				    "its recovery: %s", (long long)j->id,
				    store_error(co->store));
				goto fail;
			}
			continue;	/* verified when it ends, from then */
		}
		/* Verifying: hosts are not connected yet; job_host_up drives
		 * the rest, and the verification deadline counts from now. */
		j->deadline_ms = job_deadline_of(j, JOB_VERIFYING,
		    clock_mono_ms());
		j->verify_round = 1;
		job_wait(j, clock_mono_ms());
	}
	store_job_list_free(sj, n);
	return 0;
fail:
	log_warnx("%s", err);
	store_job_list_free(sj, n);
	return -1;
}

/* For ferryctl watch of a job that already ended. */
int
job_send_done_from_store(struct coord *co, struct ctl_client *c,
    uint32_t serial, const struct store_job *sj)
{
	Ferry__JobEvent ev = FERRY__JOB_EVENT__INIT;
	struct store_event *evs = NULL;
	struct json_object *o = NULL, *v;
	size_t n = 0;
	int rc;

	ev.job_id = sj->id;
	ev.event = "done";
	ev.vm = (char *)sj->vm;
	ev.state = (char *)sj->state;
	ev.source = (char *)sj->source;
	ev.destination = (char *)sj->destination;
	ev.error = sj->error;
	ev.has_elapsed_ms = 1;
	ev.elapsed_ms = sj->ended_ms > sj->started_ms ?
	    sj->ended_ms - sj->started_ms : 0;
	if (store_job_events(co->store, sj->id, &evs, &n) == 0 && n > 0 &&
	    evs[n - 1].data && (o = json_tokener_parse(evs[n - 1].data))) {
		if (json_object_object_get_ex(o, "running_on", &v) && v)
			ev.running_on = (char *)json_object_get_string(v);
		/* null (unknown) stays unknown. */
		if (json_object_object_get_ex(o, "downtime_ms", &v) && v) {
			ev.has_downtime_ms = 1;
			ev.downtime_ms = json_object_get_int64(v);
		}
		if (json_object_object_get_ex(o, "data_mib", &v) && v) {
			ev.has_data_mib = 1;
			ev.data_mib = json_object_get_double(v);
		}
		if (json_object_object_get_ex(o, "migration_ms", &v) && v) {
			ev.has_migration_ms = 1;
			ev.migration_ms = json_object_get_int64(v);
		}
		if (json_object_object_get_ex(o, "passes", &v) && v) {
			ev.has_passes = 1;
			ev.passes = json_object_get_int64(v);
		}
	}
	rc = control_event(c, MSG_CTL_JOB_EVENT, serial, &ev.base);
	if (o)
		json_object_put(o);
	store_event_list_free(evs, n);
	return rc;
}

