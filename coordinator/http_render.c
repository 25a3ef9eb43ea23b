/*
 * http_render.c: each object the API answers with, in exactly the JSON
 * ferryctl --json prints for it (cmd-hosts.c, cmd-vms.c, cmd-jobs.c,
 * cmd-job.c, cmd-check.c, progress.c). One function per object, so that
 * when ferryctl's renderings move to a module both share, each becomes a
 * call. tests/lab/t_api.sh compares the two outputs object by object.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"

static struct json_object *
jstr(const char *s)
{
	return s ? json_object_new_string(s) : NULL;
}

static struct json_object *
jint(int has, uint64_t v)
{
	return has ? json_object_new_int64((int64_t)v) : NULL;
}

/* MiB figures to one decimal, as ferryctl prints them. */
static struct json_object *
jnum1(int has, double d)
{
	char buf[64];

	if (!has || !isfinite(d))
		return NULL;
	snprintf(buf, sizeof(buf), "%.1f", d);
	return json_object_new_double_s(strtod(buf, NULL), buf);
}

#define ADD(o, k, v)	json_object_object_add((o), (k), (v))

struct json_object *
http_render_host(const Ferry__HostEntry *e)
{
	struct json_object *o = json_object_new_object(), *lab;
	size_t k;

	ADD(o, "name", jstr(e->name));
	ADD(o, "state", jstr(e->state));
	ADD(o, "admin_state", jstr(e->admin_state));
	ADD(o, "address", jstr(e->address));
	ADD(o, "libvirt_uri", jstr(e->libvirt_uri));
	ADD(o, "migration_address", jstr(e->migration_address));
	ADD(o, "reported_libvirt_uri", jstr(e->reported_libvirt_uri));
	ADD(o, "trust", jstr(e->trust));
	ADD(o, "flag_reason", jstr(e->flag_reason));
	ADD(o, "notice", jstr(e->notice));
	ADD(o, "cpus", jint(e->has_cpus, e->cpus));
	ADD(o, "mem_mib", jint(e->has_mem_mib, e->mem_mib));
	ADD(o, "mem_free_mib", jint(e->has_mem_free_mib, e->mem_free_mib));
	ADD(o, "reserve_mib", jint(e->has_reserve_mib, e->reserve_mib));
	ADD(o, "vms", jint(e->has_vms, e->vms));
	ADD(o, "last_seen_ms", jint(e->has_last_seen_ms, e->last_seen_ms));
	ADD(o, "error", jstr(e->last_error));
	ADD(o, "zone", jstr(e->zone));
	lab = json_object_new_array();
	for (k = 0; k < e->n_labels; k++)
		json_object_array_add(lab, json_object_new_string(e->labels[k]));
	ADD(o, "labels", lab);
	return o;
}

struct json_object *
http_render_hosts(const Ferry__HostsReply *r)
{
	struct json_object *arr = json_object_new_array();
	size_t i;

	for (i = 0; i < r->n_hosts; i++)
		json_object_array_add(arr, http_render_host(r->hosts[i]));
	return arr;
}

struct json_object *
http_render_vms(const Ferry__VmsReply *r)
{
	struct json_object *arr = json_object_new_array(), *o, *disks, *d;
	size_t i, j;

	for (i = 0; i < r->n_vms; i++) {
		const Ferry__VmEntry *e = r->vms[i];

		o = json_object_new_object();
		ADD(o, "name", jstr(e->name));
		ADD(o, "host", jstr(e->host));
		ADD(o, "state", jstr(e->state));
		ADD(o, "mem_mib", json_object_new_int64(e->mem_mib));
		ADD(o, "vcpus", json_object_new_int64(e->vcpus));
		ADD(o, "uuid", jstr(e->uuid));
		ADD(o, "role", jstr(e->role));
		ADD(o, "job", jint(e->has_job, e->job));
		disks = json_object_new_array();
		for (j = 0; j < e->n_disks; j++) {
			d = json_object_new_object();
			ADD(d, "target", jstr(e->disks[j]->target));
			ADD(d, "type", jstr(e->disks[j]->type));
			ADD(d, "protocol", jstr(e->disks[j]->protocol));
			ADD(d, "source", jstr(e->disks[j]->source));
			ADD(d, "host", jstr(e->disks[j]->host));
			json_object_array_add(disks, d);
		}
		ADD(o, "disks", disks);
		json_object_array_add(arr, o);
	}
	return arr;
}

/* ferryctl jobs --json: one row. */
static struct json_object *
http_render_job_row(const Ferry__JobInfo *j)
{
	struct json_object *o = json_object_new_object();

	ADD(o, "id", json_object_new_int64((int64_t)j->id));
	ADD(o, "kind", jstr(j->kind));
	ADD(o, "vm", jstr(j->vm[0] ? j->vm : NULL));
	ADD(o, "state", jstr(j->state));
	ADD(o, "source", jstr(j->source));
	ADD(o, "destination", jstr(j->destination));
	ADD(o, "started_ms", jint(j->has_started_ms, j->started_ms));
	ADD(o, "ended_ms", jint(j->has_ended_ms, j->ended_ms));
	ADD(o, "error", jstr(j->error));
	return o;
}

struct json_object *
http_render_jobs(const Ferry__JobsReply *r)
{
	struct json_object *arr = json_object_new_array();
	size_t i;

	for (i = 0; i < r->n_jobs; i++)
		json_object_array_add(arr, http_render_job_row(r->jobs[i]));
	return arr;
}

/* ferryctl job ID --json: its "job". */
struct json_object *
http_render_job_info(const Ferry__JobInfo *j)
{
	struct json_object *o = json_object_new_object();

	ADD(o, "id", json_object_new_int64((int64_t)j->id));
	ADD(o, "kind", jstr(j->kind));
	ADD(o, "vm", jstr(j->vm[0] ? j->vm : NULL));
	ADD(o, "state", jstr(j->state));
	ADD(o, "source", jstr(j->source));
	ADD(o, "destination", jstr(j->destination));
	ADD(o, "running_on", jstr(j->running_on));
	ADD(o, "started_ms", jint(j->has_started_ms, j->started_ms));
	ADD(o, "ended_ms", jint(j->has_ended_ms, j->ended_ms));
	ADD(o, "parent", jint(j->has_parent, j->parent));
	ADD(o, "error", jstr(j->error));
	return o;
}

/* History data is JSON text or a plain message; embedded parsed only
 * when all of it parses (cmd-job.c's rule). */
static struct json_object *
http_render_history_data(const char *s)
{
	struct json_tokener *tok;
	struct json_object *o;
	size_t len, end;

	if (s == NULL)
		return NULL;
	len = strlen(s);
	if ((tok = json_tokener_new()) == NULL)
		return json_object_new_string(s);
	o = json_tokener_parse_ex(tok, s, (int)len);
	end = json_tokener_get_parse_end(tok);
	while (end < len && strchr(" \t\r\n", s[end]) != NULL)
		end++;
	if (json_tokener_get_error(tok) != json_tokener_success || end != len) {
		json_object_put(o);
		o = json_object_new_string(s);
	}
	json_tokener_free(tok);
	return o;
}

struct json_object *
http_render_job(const Ferry__JobReply *r)
{
	struct json_object *o = json_object_new_object(), *arr, *h;
	size_t i;

	ADD(o, "job", http_render_job_info(r->job));
	arr = json_object_new_array();
	for (i = 0; i < r->n_history; i++) {
		const Ferry__JobHistoryEntry *e = r->history[i];

		h = json_object_new_object();
		ADD(h, "seq", json_object_new_int64((int64_t)e->seq));
		ADD(h, "time_ms", json_object_new_int64((int64_t)e->time_ms));
		ADD(h, "type", jstr(e->type));
		ADD(h, "state", jstr(e->state));
		ADD(h, "data", http_render_history_data(e->data));
		json_object_array_add(arr, h);
	}
	ADD(o, "history", arr);
	return o;
}

/*
 * A job event as ferryctl migrate --json prints it (progress.c). The
 * event carries the job's vm, state, source and destination (filled in by
 * the coordinator before it is rendered), which ferryctl remembers from
 * earlier events.
 */
struct json_object *
http_render_job_event(const Ferry__JobEvent *e)
{
	struct json_object *o = json_object_new_object();
	const char *ev = e->event ? e->event : "";

	ADD(o, "event", json_object_new_string(ev));
	ADD(o, "job", jint(1, e->job_id));
	if (strcmp(ev, "started") == 0) {
		ADD(o, "vm", jstr(e->vm));
		ADD(o, "source", jstr(e->source));
		ADD(o, "destination", jstr(e->destination));
	} else if (strcmp(ev, "progress") == 0) {
		ADD(o, "percent", jnum1(e->has_percent, e->percent));
		ADD(o, "data_processed_mib", jnum1(e->has_data_processed_mib,
		    e->data_processed_mib));
		ADD(o, "data_remaining_mib", jnum1(e->has_data_remaining_mib,
		    e->data_remaining_mib));
		ADD(o, "data_total_mib", jnum1(e->has_data_total_mib,
		    e->data_total_mib));
		ADD(o, "remaining_low_mib", jnum1(e->has_remaining_low_mib,
		    e->remaining_low_mib));
		ADD(o, "mib_per_s", jnum1(e->has_mib_per_s, e->mib_per_s));
		ADD(o, "dirty_mib_per_s", jnum1(e->has_dirty_mib_per_s,
		    e->dirty_mib_per_s));
		ADD(o, "iteration", jint(e->has_iteration, e->iteration));
		ADD(o, "expected_downtime_ms", jint(e->has_expected_downtime_ms,
		    e->expected_downtime_ms));
		ADD(o, "eta_s", jnum1(e->has_eta_s, e->eta_s));
		if (e->has_disk_total_mib) {
			ADD(o, "disk_processed_mib", jnum1(1,
			    e->disk_processed_mib));
			ADD(o, "disk_total_mib", jnum1(1, e->disk_total_mib));
		}
	} else if (strcmp(ev, "state") == 0) {
		ADD(o, "state", jstr(e->state));
		ADD(o, "message", jstr(e->message));
	} else if (strcmp(ev, "info") == 0) {
		ADD(o, "message", jstr(e->message));
	} else if (strcmp(ev, "done") == 0) {
		ADD(o, "vm", jstr(e->vm));
		ADD(o, "state", jstr(e->state));
		ADD(o, "source", jstr(e->source));
		ADD(o, "destination", jstr(e->destination));
		ADD(o, "running_on", jstr(e->running_on));
		ADD(o, "elapsed_ms", jint(e->has_elapsed_ms, e->elapsed_ms));
		ADD(o, "downtime_ms", jint(e->has_downtime_ms, e->downtime_ms));
		ADD(o, "data_mib", jnum1(e->has_data_mib, e->data_mib));
		ADD(o, "migration_ms", jint(e->has_migration_ms,
		    e->migration_ms));
		ADD(o, "passes", jint(e->has_passes, e->passes));
		if (e->has_disk_total_mib) {
			ADD(o, "disk_mib", jnum1(1, e->disk_processed_mib));
			ADD(o, "disk_total_mib", jnum1(1, e->disk_total_mib));
		}
		ADD(o, "error", jstr(e->error));
	}
	return o;
}

struct json_object *
http_render_check(const Ferry__CheckReply *r)
{
	struct json_object *o = json_object_new_object(), *arr, *ck;
	size_t i;
	int ok = r->ok;

	/* One blocking check blocks, whatever the summary says. */
	for (i = 0; i < r->n_checks; i++)
		if (!r->checks[i]->ok)
			ok = 0;
	ADD(o, "vm", jstr(r->vm));
	ADD(o, "source", jstr(r->source));
	ADD(o, "destination", jstr(r->destination));
	ADD(o, "ok", json_object_new_boolean(ok));
	arr = json_object_new_array();
	for (i = 0; i < r->n_checks; i++) {
		const Ferry__CheckResult *cr = r->checks[i];

		ck = json_object_new_object();
		ADD(ck, "name", jstr(cr->name));
		ADD(ck, "ok", json_object_new_boolean(cr->ok));
		ADD(ck, "reason", jstr(cr->reason));
		ADD(ck, "warning", json_object_new_boolean(cr->has_warning &&
		    cr->warning));
		if (cr->filesystem)
			ADD(ck, "filesystem", jstr(cr->filesystem));
		if (cr->volume)
			ADD(ck, "volume", jstr(cr->volume));
		if (cr->mount)
			ADD(ck, "mount", jstr(cr->mount));
		json_object_array_add(arr, ck);
	}
	ADD(o, "checks", arr);
	return o;
}

static struct json_object *
http_render_drain_item(const Ferry__DrainItem *it)
{
	struct json_object *o = json_object_new_object();

	ADD(o, "order", jint(it->has_order, it->order));
	ADD(o, "vm", jstr(it->vm));
	ADD(o, "mem_mib", jint(1, it->mem_mib));
	ADD(o, "destination", jstr(it->destination));
	ADD(o, "state", jstr(it->state));
	ADD(o, "reason", jstr(it->reason));
	ADD(o, "job", jint(it->has_job_id, it->job_id));
	ADD(o, "attempts", jint(it->has_attempts, it->attempts));
	/* Percent to one decimal, as cmd-maintenance.c's jpercent. */
	ADD(o, "percent", jnum1(it->has_percent, it->percent));
	return o;
}

/* ferryctl maintenance --json without --wait: the drain. */
struct json_object *
http_render_drain(const Ferry__DrainInfo *d)
{
	struct json_object *o = json_object_new_object(), *arr;
	size_t i;

	ADD(o, "id", jint(1, d->id));
	ADD(o, "host", jstr(d->host));
	ADD(o, "state", jstr(d->state));
	ADD(o, "host_state", jstr(d->host_state));
	ADD(o, "message", jstr(d->message));
	ADD(o, "max_parallel", jint(d->has_max_parallel, d->max_parallel));
	ADD(o, "per_destination", jint(d->has_per_destination,
	    d->per_destination));
	arr = json_object_new_array();
	for (i = 0; i < d->n_items; i++)
		json_object_array_add(arr, http_render_drain_item(d->items[i]));
	ADD(o, "items", arr);
	return o;
}

/* A drain's event: its name and the whole drain as it stands (as
 * ferryctl maintenance --wait --json's "plan" event carries it). */
struct json_object *
http_render_drain_event(const Ferry__DrainEvent *e)
{
	struct json_object *o = json_object_new_object();

	ADD(o, "event", jstr(e->event));
	ADD(o, "drain", e->drain ? http_render_drain(e->drain) : NULL);
	return o;
}

/* ferryctl rebalance --json prints the plan as the coordinator made it;
 * applied, the run's id comes with it. */
struct json_object *
http_render_rebalance(const Ferry__RebalanceReply *r)
{
	struct json_object *o;

	if ((o = json_tokener_parse(r->plan_json)) == NULL ||
	    !json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		o = json_object_new_object();
		ADD(o, "plan", jstr(r->plan_json));
	}
	if (r->has_drain_id)
		ADD(o, "run", json_object_new_int64((int64_t)r->drain_id));
	return o;
}
