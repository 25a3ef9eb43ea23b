/* jsonv.c: Ferry's JSON objects from its protobuf messages. See jsonv.h
 * for ownership, docs/json.md for the vocabulary. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonv.h"

struct json_object *
jsonv_str(const char *s)
{
	return s ? json_object_new_string(s) : NULL;
}

struct json_object *
jsonv_int(int has, uint64_t v)
{
	return has ? json_object_new_int64((int64_t)v) : NULL;
}

/* MiB figures and percentages to one decimal: scripts get numbers, not
 * 17 digits. */
struct json_object *
jsonv_num1(int has, double d)
{
	char buf[64];

	if (!has || !isfinite(d))
		return NULL;
	snprintf(buf, sizeof(buf), "%.1f", d);
	return json_object_new_double_s(strtod(buf, NULL), buf);
}

/* Scores and weights: six significant digits, enough to compare them. */
struct json_object *
jsonv_sig6(int has, double d)
{
	char buf[64];

	if (!has || !isfinite(d))
		return NULL;
	snprintf(buf, sizeof(buf), "%.6g", d);
	return json_object_new_double_s(strtod(buf, NULL), buf);
}

static void
jsonv_add(struct json_object *o, const char *key, struct json_object *v)
{
	json_object_object_add(o, key, v);
}

/* An empty string is no value. */
static struct json_object *
jsonv_nstr(const char *s)
{
	return s && s[0] ? json_object_new_string(s) : NULL;
}

struct json_object *
jsonv_host(const Ferry__HostEntry *e)
{
	struct json_object *o, *lab;
	size_t k;

	if ((o = json_object_new_object()) == NULL)
		return NULL;
	jsonv_add(o, "name", jsonv_str(e->name));
	/* state: the connection (up, down); admin_state: active, draining,
	 * maintenance. */
	jsonv_add(o, "state", jsonv_str(e->state));
	jsonv_add(o, "admin_state", jsonv_str(e->admin_state));
	jsonv_add(o, "address", jsonv_str(e->address));
	jsonv_add(o, "libvirt_uri", jsonv_str(e->libvirt_uri));
	jsonv_add(o, "migration_address", jsonv_str(e->migration_address));
	jsonv_add(o, "reported_libvirt_uri",
	    jsonv_str(e->reported_libvirt_uri));
	jsonv_add(o, "trust", jsonv_str(e->trust));
	jsonv_add(o, "flag_reason", jsonv_str(e->flag_reason));
	jsonv_add(o, "notice", jsonv_str(e->notice));
	jsonv_add(o, "cpus", jsonv_int(e->has_cpus, e->cpus));
	jsonv_add(o, "mem_mib", jsonv_int(e->has_mem_mib, e->mem_mib));
	jsonv_add(o, "mem_free_mib", jsonv_int(e->has_mem_free_mib,
	    e->mem_free_mib));
	jsonv_add(o, "reserved_mib", jsonv_int(e->has_reserve_mib,
	    e->reserve_mib));
	jsonv_add(o, "vms", jsonv_int(e->has_vms, e->vms));
	jsonv_add(o, "last_seen_ms", jsonv_int(e->has_last_seen_ms,
	    e->last_seen_ms));
	jsonv_add(o, "error", jsonv_str(e->last_error));
	jsonv_add(o, "zone", jsonv_str(e->zone));
	lab = json_object_new_array();
	for (k = 0; lab && k < e->n_labels; k++)
		json_object_array_add(lab, json_object_new_string(e->labels[k]));
	jsonv_add(o, "labels", lab);
	return o;
}

struct json_object *
jsonv_hosts(const Ferry__HostsReply *r)
{
	struct json_object *a;
	size_t i;

	if ((a = json_object_new_array()) == NULL)
		return NULL;
	for (i = 0; i < r->n_hosts; i++)
		json_object_array_add(a, jsonv_host(r->hosts[i]));
	return a;
}

static struct json_object *
jsonv_disk(const Ferry__Disk *d)
{
	struct json_object *o;

	if ((o = json_object_new_object()) == NULL)
		return NULL;
	jsonv_add(o, "target", jsonv_str(d->target));
	jsonv_add(o, "type", jsonv_str(d->type));
	jsonv_add(o, "protocol", jsonv_str(d->protocol));
	jsonv_add(o, "source", jsonv_str(d->source));
	/* The storage server (NFS, Ceph monitor, iSCSI portal): "host" is
	 * always a hypervisor. */
	jsonv_add(o, "server", jsonv_str(d->host));
	return o;
}

struct json_object *
jsonv_vm(const Ferry__VmEntry *e)
{
	struct json_object *o, *disks;
	size_t j;

	if ((o = json_object_new_object()) == NULL)
		return NULL;
	jsonv_add(o, "name", jsonv_str(e->name));
	jsonv_add(o, "host", jsonv_str(e->host));
	jsonv_add(o, "state", jsonv_str(e->state));
	jsonv_add(o, "mem_mib", jsonv_int(1, e->mem_mib));
	jsonv_add(o, "vcpus", jsonv_int(1, e->vcpus));
	jsonv_add(o, "uuid", jsonv_str(e->uuid));
	/* A migrating VM is listed on both hosts: which copy is which, and
	 * by which job. */
	jsonv_add(o, "role", jsonv_str(e->role));
	jsonv_add(o, "job", jsonv_int(e->has_job, e->job));
	disks = json_object_new_array();
	for (j = 0; disks && j < e->n_disks; j++)
		json_object_array_add(disks, jsonv_disk(e->disks[j]));
	jsonv_add(o, "disks", disks);
	return o;
}

struct json_object *
jsonv_vms(const Ferry__VmsReply *r)
{
	struct json_object *a;
	size_t i;

	if ((a = json_object_new_array()) == NULL)
		return NULL;
	for (i = 0; i < r->n_vms; i++)
		json_object_array_add(a, jsonv_vm(r->vms[i]));
	return a;
}

struct json_object *
jsonv_job(const Ferry__JobInfo *j)
{
	struct json_object *o;

	if ((o = json_object_new_object()) == NULL)
		return NULL;
	jsonv_add(o, "id", jsonv_int(1, j->id));
	jsonv_add(o, "kind", jsonv_str(j->kind));
	jsonv_add(o, "vm", jsonv_nstr(j->vm));	/* a run names none */
	jsonv_add(o, "state", jsonv_str(j->state));
	jsonv_add(o, "source", jsonv_str(j->source));
	jsonv_add(o, "destination", jsonv_str(j->destination));
	jsonv_add(o, "running_on", jsonv_str(j->running_on));
	jsonv_add(o, "started_ms", jsonv_int(j->has_started_ms,
	    j->started_ms));
	jsonv_add(o, "ended_ms", jsonv_int(j->has_ended_ms, j->ended_ms));
	/* A migration a run (drain, restore, rebalance) started: the run. */
	jsonv_add(o, "run", jsonv_int(j->has_parent, j->parent));
	jsonv_add(o, "error", jsonv_str(j->error));
	return o;
}

struct json_object *
jsonv_jobs(const Ferry__JobsReply *r)
{
	struct json_object *a;
	size_t i;

	if ((a = json_object_new_array()) == NULL)
		return NULL;
	for (i = 0; i < r->n_jobs; i++)
		json_object_array_add(a, jsonv_job(r->jobs[i]));
	return a;
}

/* History data is JSON text or a plain message; embedded parsed only when
 * all of it parses ("12 disks" must stay a string). */
static struct json_object *
jsonv_history_data(const char *s)
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
	if (json_tokener_get_error(tok) != json_tokener_success ||
	    end != len) {
		json_object_put(o);
		o = json_object_new_string(s);
	}
	json_tokener_free(tok);
	return o;
}

struct json_object *
jsonv_job_history(const Ferry__JobHistoryEntry *e)
{
	struct json_object *h;

	if ((h = json_object_new_object()) == NULL)
		return NULL;
	jsonv_add(h, "seq", jsonv_int(1, e->seq));
	jsonv_add(h, "time_ms", jsonv_int(1, e->time_ms));
	jsonv_add(h, "type", jsonv_str(e->type));
	jsonv_add(h, "state", jsonv_str(e->state));
	jsonv_add(h, "data", jsonv_history_data(e->data));
	return h;
}

struct json_object *
jsonv_job_detail(const Ferry__JobReply *r)
{
	struct json_object *o, *arr;
	size_t i;

	if ((o = json_object_new_object()) == NULL)
		return NULL;
	jsonv_add(o, "job", r->job ? jsonv_job(r->job) : NULL);
	arr = json_object_new_array();
	for (i = 0; arr && i < r->n_history; i++)
		json_object_array_add(arr, jsonv_job_history(r->history[i]));
	jsonv_add(o, "history", arr);
	return o;
}

/* What e says, else what known says. */
static const char *
jsonv_pick(const char *e, const char *known)
{
	return e && e[0] ? e : known;
}

static struct json_object *
jsonv_event_head(const char *event, uint64_t job)
{
	struct json_object *o;

	if ((o = json_object_new_object()) == NULL)
		return NULL;
	jsonv_add(o, "event", json_object_new_string(event));
	jsonv_add(o, "job", jsonv_int(1, job));
	return o;
}

struct json_object *
jsonv_job_started(const Ferry__JobInfo *ji)
{
	struct json_object *o;

	if ((o = jsonv_event_head("started", ji->id)) == NULL)
		return NULL;
	jsonv_add(o, "vm", jsonv_nstr(ji->vm));
	jsonv_add(o, "source", jsonv_nstr(ji->source));
	jsonv_add(o, "destination", jsonv_nstr(ji->destination));
	return o;
}

static void
jsonv_job_progress(struct json_object *o, const Ferry__JobEvent *e)
{
	jsonv_add(o, "percent", jsonv_num1(e->has_percent, e->percent));
	jsonv_add(o, "data_processed_mib", jsonv_num1(e->has_data_processed_mib,
	    e->data_processed_mib));
	jsonv_add(o, "data_remaining_mib", jsonv_num1(e->has_data_remaining_mib,
	    e->data_remaining_mib));
	jsonv_add(o, "data_total_mib", jsonv_num1(e->has_data_total_mib,
	    e->data_total_mib));
	jsonv_add(o, "remaining_low_mib", jsonv_num1(e->has_remaining_low_mib,
	    e->remaining_low_mib));
	jsonv_add(o, "mib_per_s", jsonv_num1(e->has_mib_per_s, e->mib_per_s));
	jsonv_add(o, "dirty_mib_per_s", jsonv_num1(e->has_dirty_mib_per_s,
	    e->dirty_mib_per_s));
	jsonv_add(o, "iteration", jsonv_int(e->has_iteration, e->iteration));
	jsonv_add(o, "expected_downtime_ms",
	    jsonv_int(e->has_expected_downtime_ms, e->expected_downtime_ms));
	jsonv_add(o, "eta_s", jsonv_num1(e->has_eta_s, e->eta_s));
	if (e->has_disk_total_mib) {
		jsonv_add(o, "disk_processed_mib",
		    jsonv_num1(1, e->disk_processed_mib));
		jsonv_add(o, "disk_total_mib", jsonv_num1(1, e->disk_total_mib));
	}
}

static void
jsonv_job_done(struct json_object *o, const Ferry__JobEvent *e,
    const Ferry__JobInfo *k)
{
	jsonv_add(o, "vm", jsonv_str(jsonv_pick(e->vm, k ? k->vm : NULL)));
	jsonv_add(o, "state", jsonv_str(jsonv_pick(e->state,
	    k ? k->state : NULL)));
	jsonv_add(o, "source", jsonv_str(jsonv_pick(e->source,
	    k ? k->source : NULL)));
	jsonv_add(o, "destination", jsonv_str(jsonv_pick(e->destination,
	    k ? k->destination : NULL)));
	jsonv_add(o, "running_on", jsonv_str(e->running_on));
	jsonv_add(o, "elapsed_ms", jsonv_int(e->has_elapsed_ms,
	    e->elapsed_ms));
	jsonv_add(o, "downtime_ms", jsonv_int(e->has_downtime_ms,
	    e->downtime_ms));
	jsonv_add(o, "data_mib", jsonv_num1(e->has_data_mib, e->data_mib));
	jsonv_add(o, "migration_ms", jsonv_int(e->has_migration_ms,
	    e->migration_ms));
	jsonv_add(o, "passes", jsonv_int(e->has_passes, e->passes));
	if (e->has_disk_total_mib) {
		jsonv_add(o, "disk_mib", jsonv_num1(1, e->disk_processed_mib));
		jsonv_add(o, "disk_total_mib", jsonv_num1(1, e->disk_total_mib));
	}
	jsonv_add(o, "error", jsonv_str(e->error));
}

struct json_object *
jsonv_job_event(const char *event, const Ferry__JobEvent *e,
    const Ferry__JobInfo *k)
{
	struct json_object *o;
	uint64_t job = e->job_id ? e->job_id : k ? k->id : 0;

	if (event == NULL)
		event = e->event;
	if (strcmp(event, "started") == 0) {
		if ((o = jsonv_event_head(event, job)) == NULL)
			return NULL;
		jsonv_add(o, "vm", jsonv_str(jsonv_pick(e->vm,
		    k ? k->vm : NULL)));
		jsonv_add(o, "source", jsonv_str(jsonv_pick(e->source,
		    k ? k->source : NULL)));
		jsonv_add(o, "destination", jsonv_str(jsonv_pick(
		    e->destination, k ? k->destination : NULL)));
		return o;
	}
	if ((o = jsonv_event_head(event, job)) == NULL)
		return NULL;
	if (strcmp(event, "progress") == 0)
		jsonv_job_progress(o, e);
	else if (strcmp(event, "state") == 0) {
		jsonv_add(o, "state", jsonv_str(jsonv_pick(e->state,
		    k ? k->state : NULL)));
		jsonv_add(o, "message", jsonv_str(e->message));
	} else if (strcmp(event, "done") == 0)
		jsonv_job_done(o, e, k);
	else
		jsonv_add(o, "message", jsonv_str(e->message));
	return o;
}

struct json_object *
jsonv_drain_item(const Ferry__DrainItem *it)
{
	struct json_object *o;

	if ((o = json_object_new_object()) == NULL)
		return NULL;
	jsonv_add(o, "order", jsonv_int(it->has_order, it->order));
	jsonv_add(o, "vm", jsonv_str(it->vm));
	jsonv_add(o, "mem_mib", jsonv_int(1, it->mem_mib));
	jsonv_add(o, "destination", jsonv_str(it->destination));
	jsonv_add(o, "state", jsonv_str(it->state));
	jsonv_add(o, "reason", jsonv_str(it->reason));
	jsonv_add(o, "job", jsonv_int(it->has_job_id, it->job_id));
	jsonv_add(o, "attempts", jsonv_int(it->has_attempts, it->attempts));
	jsonv_add(o, "percent", jsonv_num1(it->has_percent, it->percent));
	return o;
}

struct json_object *
jsonv_drain(const Ferry__DrainInfo *d)
{
	struct json_object *o, *arr;
	size_t i;

	if ((o = json_object_new_object()) == NULL)
		return NULL;
	jsonv_add(o, "id", jsonv_int(1, d->id));
	jsonv_add(o, "host", jsonv_str(d->host));
	jsonv_add(o, "state", jsonv_str(d->state));
	jsonv_add(o, "host_state", jsonv_str(d->host_state));
	jsonv_add(o, "message", jsonv_str(d->message));
	jsonv_add(o, "max_parallel", jsonv_int(d->has_max_parallel,
	    d->max_parallel));
	jsonv_add(o, "per_destination", jsonv_int(d->has_per_destination,
	    d->per_destination));
	arr = json_object_new_array();
	for (i = 0; arr && i < d->n_items; i++)
		json_object_array_add(arr, jsonv_drain_item(d->items[i]));
	jsonv_add(o, "items", arr);
	return o;
}

static int
jsonv_str_is(const char *s, const char *want)
{
	return s != NULL && strcmp(s, want) == 0;
}

struct json_object *
jsonv_drain_event(const char *event, const Ferry__DrainInfo *d,
    const Ferry__DrainItem *it)
{
	struct json_object *o, *io;
	size_t i, moved = 0, failed = 0, unmovable = 0;

	if (strcmp(event, "item") == 0 && it != NULL) {
		/* The item's own fields, after the event and its run. */
		if ((o = json_object_new_object()) == NULL)
			return NULL;
		jsonv_add(o, "event", json_object_new_string(event));
		jsonv_add(o, "run", jsonv_int(1, d->id));
		if ((io = jsonv_drain_item(it)) != NULL) {
			json_object_object_foreach(io, k, v)
				jsonv_add(o, k, json_object_get(v));
			json_object_put(io);
		}
		return o;
	}
	if ((o = json_object_new_object()) == NULL)
		return NULL;
	jsonv_add(o, "event", json_object_new_string(event));
	if (strcmp(event, "plan") == 0) {
		jsonv_add(o, "drain", jsonv_drain(d));
		return o;
	}
	jsonv_add(o, "run", jsonv_int(1, d->id));
	for (i = 0; i < d->n_items; i++) {
		const char *st = d->items[i]->state;

		if (jsonv_str_is(st, "moved"))
			moved++;
		else if (jsonv_str_is(st, "failed"))
			failed++;
		else if (jsonv_str_is(st, "unmovable"))
			unmovable++;
	}
	jsonv_add(o, "host", jsonv_nstr(d->host));
	jsonv_add(o, "state", jsonv_str(d->state));
	jsonv_add(o, "host_state", jsonv_str(d->host_state));
	jsonv_add(o, "planned", jsonv_int(1, d->n_items));
	jsonv_add(o, "moved", jsonv_int(1, moved));
	jsonv_add(o, "failed", jsonv_int(1, failed));
	jsonv_add(o, "unmovable", jsonv_int(1, unmovable));
	return o;
}

int
jsonv_check_ok(const Ferry__CheckReply *r)
{
	size_t i;

	if (!r->ok)
		return 0;
	for (i = 0; i < r->n_checks; i++)
		if (!r->checks[i]->ok)
			return 0;
	return 1;
}

static struct json_object *
jsonv_check_result(const Ferry__CheckResult *cr)
{
	struct json_object *ck;

	if ((ck = json_object_new_object()) == NULL)
		return NULL;
	jsonv_add(ck, "name", jsonv_str(cr->name));
	jsonv_add(ck, "ok", json_object_new_boolean(cr->ok));
	jsonv_add(ck, "reason", jsonv_str(cr->reason));
	jsonv_add(ck, "warning", json_object_new_boolean(cr->has_warning &&
	    cr->warning));
	/* storage checks: where the disk lives */
	if (cr->filesystem)
		jsonv_add(ck, "filesystem", jsonv_str(cr->filesystem));
	if (cr->volume)
		jsonv_add(ck, "volume", jsonv_str(cr->volume));
	if (cr->mount)
		jsonv_add(ck, "mount", jsonv_str(cr->mount));
	return ck;
}

struct json_object *
jsonv_check(const Ferry__CheckReply *r)
{
	struct json_object *o, *arr;
	size_t i;

	if ((o = json_object_new_object()) == NULL)
		return NULL;
	jsonv_add(o, "vm", jsonv_str(r->vm));
	jsonv_add(o, "source", jsonv_str(r->source));
	jsonv_add(o, "destination", jsonv_str(r->destination));
	jsonv_add(o, "ok", json_object_new_boolean(jsonv_check_ok(r)));
	arr = json_object_new_array();
	for (i = 0; arr && i < r->n_checks; i++)
		json_object_array_add(arr, jsonv_check_result(r->checks[i]));
	jsonv_add(o, "checks", arr);
	return o;
}

struct json_object *
jsonv_place(const Ferry__PlaceReply *r)
{
	struct json_object *o, *arr, *e;
	size_t i;

	if ((o = json_object_new_object()) == NULL)
		return NULL;
	jsonv_add(o, "vm", jsonv_str(r->vm));
	jsonv_add(o, "source", jsonv_str(r->source));
	jsonv_add(o, "best", jsonv_str(r->best));
	arr = json_object_new_array();
	for (i = 0; arr && i < r->n_hosts; i++) {
		const Ferry__PlaceVerdict *v = r->hosts[i];

		if ((e = json_object_new_object()) == NULL)
			continue;
		jsonv_add(e, "host", jsonv_str(v->host));
		jsonv_add(e, "ok", json_object_new_boolean(v->ok));
		jsonv_add(e, "filter", jsonv_str(v->filter));
		jsonv_add(e, "reason", jsonv_str(v->reason));
		jsonv_add(e, "weight", jsonv_sig6(v->has_weight, v->weight));
		json_object_array_add(arr, e);
	}
	jsonv_add(o, "hosts", arr);
	return o;
}

const char *
jsonv_cpu_model(const char *xml, char *buf, size_t len)
{
	const char *p, *q;

	if (xml == NULL || (p = strstr(xml, "<model")) == NULL ||
	    (p = strchr(p, '>')) == NULL || (q = strstr(p, "</model>")) == NULL)
		return "-";
	snprintf(buf, len, "%.*s", (int)(q - p - 1), p + 1);
	return buf;
}

struct json_object *
jsonv_cpu_features(const char *reason, char *buf, size_t len)
{
	static const char key[] = "required features: ";
	struct json_object *a;
	const char *p, *q;
	size_t n;
	char f[64];

	buf[0] = '\0';
	if (reason == NULL || (p = strstr(reason, key)) == NULL)
		return NULL;
	if ((a = json_object_new_array()) == NULL)
		return NULL;
	for (p += sizeof(key) - 1; *p; p = *q ? q + 1 : q) {
		while (*p == ' ')
			p++;
		for (q = p; *q && *q != ',' && *q != ' ' && *q != ';'; q++)
			;
		if ((n = (size_t)(q - p)) == 0 || n >= sizeof(f))
			break;
		snprintf(f, sizeof(f), "%.*s", (int)n, p);
		json_object_array_add(a, json_object_new_string(f));
		snprintf(buf + strlen(buf), len - strlen(buf), "%s%s",
		    buf[0] ? ", " : "", f);
		if (*q != ',')
			break;
	}
	return a;
}

struct json_object *
jsonv_cpu_baseline(const Ferry__CpuBaselineInfo *r)
{
	struct json_object *o, *arr, *e;
	char model[128], feats[512];
	size_t i;

	if ((o = json_object_new_object()) == NULL)
		return NULL;
	jsonv_add(o, "baseline_xml", jsonv_str(r->baseline_xml));
	jsonv_add(o, "computed_on", jsonv_str(r->computed_on));
	jsonv_add(o, "error", jsonv_str(r->error));
	arr = json_object_new_array();
	for (i = 0; arr && i < r->n_hosts; i++) {
		if ((e = json_object_new_object()) == NULL)
			continue;
		jsonv_add(e, "host", jsonv_str(r->hosts[i]->host));
		jsonv_add(e, "model", r->hosts[i]->cpu_xml ?
		    jsonv_str(jsonv_cpu_model(r->hosts[i]->cpu_xml, model,
		    sizeof(model))) : NULL);
		jsonv_add(e, "cpu_xml", jsonv_str(r->hosts[i]->cpu_xml));
		jsonv_add(e, "error", jsonv_str(r->hosts[i]->error));
		json_object_array_add(arr, e);
	}
	jsonv_add(o, "hosts", arr);
	arr = json_object_new_array();
	for (i = 0; arr && i < r->n_blocks; i++) {
		if ((e = json_object_new_object()) == NULL)
			continue;
		jsonv_add(e, "vm", jsonv_str(r->blocks[i]->vm));
		jsonv_add(e, "host", jsonv_str(r->blocks[i]->host));
		jsonv_add(e, "reason", jsonv_str(r->blocks[i]->reason));
		jsonv_add(e, "features", jsonv_cpu_features(
		    r->blocks[i]->reason, feats, sizeof(feats)));
		json_object_array_add(arr, e);
	}
	jsonv_add(o, "blocks", arr);
	return o;
}

/* All of text as one JSON value, or NULL. */
static struct json_object *
jsonv_parse(const char *text)
{
	struct json_tokener *tok;
	struct json_object *o;
	size_t len, end;

	if (text == NULL || (tok = json_tokener_new()) == NULL)
		return NULL;
	len = strlen(text);
	o = json_tokener_parse_ex(tok, text, (int)len);
	end = json_tokener_get_parse_end(tok);
	while (end < len && strchr(" \t\r\n", text[end]) != NULL)
		end++;
	if (json_tokener_get_error(tok) != json_tokener_success ||
	    end != len) {
		json_object_put(o);
		o = NULL;
	}
	json_tokener_free(tok);
	return o;
}

struct json_object *
jsonv_plan(const char *text)
{
	struct json_object *o = jsonv_parse(text);

	if (o != NULL && !json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

struct json_object *
jsonv_rebalance(const Ferry__RebalanceReply *r)
{
	struct json_object *o = jsonv_plan(r->plan_json);

	if (o == NULL)
		return NULL;
	/* Applied: the run that carries it out (ferryctl job RUN). */
	jsonv_add(o, "run", jsonv_int(r->has_drain_id, r->drain_id));
	jsonv_add(o, "message", jsonv_str(r->message));
	return o;
}

struct json_object *
jsonv_snapshot(const Ferry__SnapshotReply *r)
{
	return jsonv_plan(r->json);
}

struct json_object *
jsonv_error(const char *code, const char *message)
{
	struct json_object *o, *e;

	if ((o = json_object_new_object()) == NULL)
		return NULL;
	if ((e = json_object_new_object()) == NULL) {
		json_object_put(o);
		return NULL;
	}
	jsonv_add(e, "code", jsonv_str(code));
	jsonv_add(e, "message", jsonv_str(message ? message : ""));
	jsonv_add(o, "error", e);
	return o;
}

/* One entry of the audit trail (ferryctl audit --json, GET /v1/audit). */
struct json_object *
jsonv_audit_entry(const Ferry__AuditEntry *e)
{
	struct json_object *o;

	if ((o = json_object_new_object()) == NULL)
		return NULL;
	json_object_object_add(o, "id", json_object_new_int64((int64_t)e->id));
	json_object_object_add(o, "time_ms",
	    json_object_new_int64((int64_t)e->time_ms));
	json_object_object_add(o, "via", jsonv_str(e->via));
	json_object_object_add(o, "who", jsonv_str(e->who));
	/* HA: the coordinator the caller asked (a standby relays). */
	json_object_object_add(o, "coordinator", jsonv_str(e->coordinator));
	json_object_object_add(o, "uid", e->has_uid ?
	    json_object_new_int64(e->uid) : NULL);
	json_object_object_add(o, "pid", e->has_pid ?
	    json_object_new_int64(e->pid) : NULL);
	json_object_object_add(o, "what", jsonv_str(e->what));
	/* The request's fields as an object, not a string in a string. */
	json_object_object_add(o, "args", e->args != NULL ?
	    json_tokener_parse(e->args) : NULL);
	json_object_object_add(o, "outcome", jsonv_str(e->outcome));
	json_object_object_add(o, "job_id", e->has_job_id ?
	    json_object_new_int64((int64_t)e->job_id) : NULL);
	json_object_object_add(o, "job_state", jsonv_str(e->job_state));
	json_object_object_add(o, "message", jsonv_str(e->message));
	json_object_object_add(o, "ended_ms", e->has_ended_ms ?
	    json_object_new_int64((int64_t)e->ended_ms) : NULL);
	return o;
}

struct json_object *
jsonv_audit(const Ferry__AuditReply *r)
{
	struct json_object *a;
	size_t i;

	if ((a = json_object_new_array()) == NULL)
		return NULL;
	for (i = 0; i < r->n_entries; i++)
		json_object_array_add(a, jsonv_audit_entry(r->entries[i]));
	return a;
}
