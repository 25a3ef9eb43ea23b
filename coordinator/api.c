/* api.c: handlers of ferryctl's calls on the control socket (the
 * protocol's side; control.c is the transport). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coordinator.h"
#include "log.h"
#include "placement.h"
#include "validate.h"

/* Strings a HostEntry borrows while the reply is packed. */
struct api_host_buf {
	char	addr[300];
	char	uuid[40];
};

static void
api_host_entry(struct coord *co, struct host *h, Ferry__HostEntry *e,
    struct api_host_buf *b)
{
	struct store_host sh;

	ferry__host_entry__init(e);
	e->name = h->conf.name;
	/* Two things, kept apart: an administrative state survives the
	 * connection (a host in maintenance whose hostd stops is still in
	 * maintenance, and down). */
	e->state = h->up ? "up" : "down";
	e->admin_state = h->admin_state[0] ? h->admin_state : "active";
	snprintf(b->addr, sizeof(b->addr), "%s:%d", h->conf.address,
	    h->conf.port);
	e->address = b->addr;
	if (h->last_error[0] && !h->up)
		e->last_error = h->last_error;
	e->has_last_seen_ms = h->last_seen_ms != 0;
	e->last_seen_ms = h->last_seen_ms;
	e->zone = h->conf.zone[0] ? h->conf.zone : NULL;
	e->labels = h->conf.labels;
	e->n_labels = h->conf.nlabels;
	if (h->inv != NULL) {
		const Ferry__HostInfo *hi = h->inv->host;

		/* The URI Ferry uses, never merely what the host said. */
		e->libvirt_uri = (char *)cluster_host_libvirt_uri(h);
		if (e->libvirt_uri == NULL ||
		    strcmp(hi->libvirt_uri, e->libvirt_uri) != 0)
			e->reported_libvirt_uri = hi->libvirt_uri;
		e->host_uuid = hi->host_uuid;
		e->has_cpus = e->has_mem_mib = e->has_mem_free_mib = 1;
		e->has_vms = e->has_reserve_mib = 1;
		e->cpus = hi->cpus;
		e->mem_mib = hi->mem_mib;
		e->reserve_mib = hi->reserve_mib;
		e->mem_free_mib = cluster_host_free_mib(h);
		e->vms = h->inv->n_domains;
	} else if (store_host_get(co->store, h->conf.name, &sh) == 1 &&
	    sh.mem_mib > 0) {
		/* Not heard from since start: the last thing we knew. */
		snprintf(b->uuid, sizeof(b->uuid), "%s", sh.host_uuid);
		e->host_uuid = b->uuid;
		e->has_cpus = e->has_mem_mib = e->has_reserve_mib = 1;
		e->cpus = sh.cpus;
		e->mem_mib = sh.mem_mib;
		e->reserve_mib = sh.reserve_mib;
		e->libvirt_uri = (char *)cluster_host_libvirt_uri(h);
	}
	e->migration_address = (char *)cluster_host_migration_address(h);
	e->trust = h->flagged ? "flagged" : h->trust_source ?
	    (char *)h->trust_source : "unpinned";
	if (h->flagged)
		e->flag_reason = h->flag_reason;
	if (h->notice[0])
		e->notice = h->notice;
}

static int
api_hosts(void *ctx, const struct frame_hdr *hdr, ProtobufCMessage *m,
    char *err, size_t errlen)
{
	struct ctl_client *c = ctx;
	struct coord *co = control_coord(c);
	Ferry__HostsReply r = FERRY__HOSTS_REPLY__INIT;
	Ferry__HostEntry *ents = NULL, **entv = NULL;
	struct api_host_buf *bufs = NULL;
	size_t i, k;
	int rc = -FERRY_EINTERNAL;

	(void)m;
	if (co->nhosts && ((ents = calloc(co->nhosts, sizeof(*ents))) == NULL ||
	    (entv = calloc(co->nhosts, sizeof(*entv))) == NULL ||
	    (bufs = calloc(co->nhosts, sizeof(*bufs))) == NULL)) {
		snprintf(err, errlen, "out of memory");
		goto done;
	}
	for (i = k = 0; i < co->nhosts; i++) {
		if (co->hosts[i].removed)
			continue;	/* by a reload (reload.c) */
		api_host_entry(co, &co->hosts[i], &ents[k], &bufs[k]);
		entv[k] = &ents[k];
		k++;
	}
	r.hosts = entv;
	r.n_hosts = k;
	rc = control_reply(c, hdr->type, hdr->serial, &r.base);
	if (rc < 0)
		snprintf(err, errlen, "cannot send reply");
done:
	free(ents);
	free(entv);
	free(bufs);
	return rc;
}

/*
 * A VM of a host that is down, as the store last knew it, into e (which
 * points into v). Its disks come from the stored Ferry__Domain blob: *dp,
 * for the caller to free with ferry__domain__free_unpacked, or NULL when
 * the blob is missing or unreadable (the VM is listed without disks).
 */
void
api_vm_entry_stored(const struct store_vm *v, const char *host,
    Ferry__VmEntry *e, Ferry__Domain **dp)
{
	Ferry__Domain *d = NULL;

	ferry__vm_entry__init(e);
	e->name = (char *)v->name;
	e->host = (char *)host;
	e->state = "unknown";
	e->mem_mib = v->mem_mib;
	e->vcpus = v->vcpus;
	e->uuid = (char *)v->uuid;
	if (v->blob != NULL && v->bloblen > 0)
		d = ferry__domain__unpack(NULL, v->bloblen, v->blob);
	if (d != NULL) {
		e->disks = d->disks;
		e->n_disks = d->n_disks;
	}
	*dp = d;
}

/* ferryctl hosts accept HOST: replies with the host's entry. */
static int
api_host_accept(void *ctx, const struct frame_hdr *hdr, ProtobufCMessage *m,
    char *err, size_t errlen)
{
	const Ferry__HostAcceptRequest *req = (const Ferry__HostAcceptRequest *)m;
	struct ctl_client *c = ctx;
	struct coord *co = control_coord(c);
	Ferry__HostsReply r = FERRY__HOSTS_REPLY__INIT;
	Ferry__HostEntry e, *ep = &e;
	struct api_host_buf b;
	int rc;

	if ((rc = cluster_trust_accept(co, req->host, err, errlen)) < 0)
		return rc;
	api_host_entry(co, coord_host_find(co, req->host), &e, &b);
	r.hosts = &ep;
	r.n_hosts = 1;
	if (control_reply(c, hdr->type, hdr->serial, &r.base) < 0) {
		snprintf(err, errlen, "cannot send reply");
		return -1;
	}
	return 0;
}

/* The copy of vm on host that a running migration job made or moves:
 * "incoming" on its destination, "outgoing" on its source; NULL if none. */
static const char *
api_vm_role(struct coord *co, const char *vm, const char *host,
    uint64_t *job)
{
	struct job *j;

	TAILQ_FOREACH(j, &co->jobs, entry) {
		if (j->id == 0 || (j->state != JOB_MIGRATING &&
		    j->state != JOB_VERIFYING) || strcmp(j->vm, vm) != 0)
			continue;
		*job = (uint64_t)j->id;
		if (strcmp(j->destination, host) == 0)
			return "incoming";
		if (strcmp(j->source, host) == 0)
			return "outgoing";
	}
	return NULL;
}

/* VMs of up hosts as they report them; of hosts that are down, the last
 * known list with state "unknown": Ferry does not claim what it cannot see. */
static int
api_vms(void *ctx, const struct frame_hdr *hdr, ProtobufCMessage *m,
    char *err, size_t errlen)
{
	struct ctl_client *c = ctx;
	struct coord *co = control_coord(c);
	Ferry__VmsRequest *req = (Ferry__VmsRequest *)m;
	Ferry__VmsReply r = FERRY__VMS_REPLY__INIT;
	Ferry__VmEntry *ents = NULL, **entv = NULL;
	Ferry__Domain **stored = NULL;
	struct store_vm *svms = NULL;
	size_t i, j, n = 0, cap = 0, nsv = 0, nstored = 0;
	int rc = -FERRY_EINTERNAL;

	if (req->host && coord_host_find(co, req->host) == NULL) {
		snprintf(err, errlen, "unknown host '%s'", req->host);
		return -FERRY_ENOTFOUND;
	}
	for (i = 0; i < co->nhosts; i++)
		if (co->hosts[i].inv)
			cap += co->hosts[i].inv->n_domains;
	if (store_vms_list(co->store, req->host, &svms, &nsv) < 0) {
		snprintf(err, errlen, "%s", store_error(co->store));
		goto done;
	}
	cap += nsv;
	if (cap && ((ents = calloc(cap, sizeof(*ents))) == NULL ||
	    (entv = calloc(cap, sizeof(*entv))) == NULL ||
	    (stored = calloc(nsv ? nsv : 1, sizeof(*stored))) == NULL)) {
		snprintf(err, errlen, "out of memory");
		goto done;
	}
	for (i = 0; i < co->nhosts; i++) {
		struct host *h = &co->hosts[i];

		if (h->removed || (req->host &&
		    strcmp(req->host, h->conf.name) != 0))
			continue;
		if (h->up && h->inv) {
			for (j = 0; j < h->inv->n_domains; j++) {
				Ferry__Domain *d = h->inv->domains[j];
				Ferry__VmEntry *e = &ents[n];

				ferry__vm_entry__init(e);
				e->name = d->name;
				e->host = h->conf.name;
				e->state = d->state;
				e->mem_mib = d->mem_mib;
				e->vcpus = d->vcpus;
				e->uuid = d->uuid;
				e->disks = d->disks;
				e->n_disks = d->n_disks;
				if ((e->role = (char *)api_vm_role(co, d->name,
				    h->conf.name, &e->job)) != NULL)
					e->has_job = 1;
				entv[n] = e;
				n++;
			}
			continue;
		}
		for (j = 0; j < nsv; j++) {
			Ferry__VmEntry *e = &ents[n];
			Ferry__Domain *d;

			if (strcmp(svms[j].host, h->conf.name) != 0)
				continue;
			api_vm_entry_stored(&svms[j], h->conf.name, e, &d);
			if (d != NULL)
				stored[nstored++] = d;
			entv[n] = e;
			n++;
		}
	}
	r.vms = entv;
	r.n_vms = n;
	rc = control_reply(c, hdr->type, hdr->serial, &r.base);
	if (rc < 0)
		snprintf(err, errlen, "cannot send reply");
done:
	for (i = 0; i < nstored; i++)
		ferry__domain__free_unpacked(stored[i], NULL);
	free(stored);
	free(ents);
	free(entv);
	store_vm_list_free(svms, nsv);
	return rc;
}

static int
api_migrate(void *ctx, const struct frame_hdr *hdr, ProtobufCMessage *m,
    char *err, size_t errlen)
{
	struct ctl_client *c = ctx;
	Ferry__MigrateOptions *o = (Ferry__MigrateOptions *)m;
	Ferry__JobInfo ji;
	Ferry__JobEvent ev = FERRY__JOB_EVENT__INIT;
	struct job *j;
	int rc;

	if (validate_domain_name(o->vm, err, errlen) < 0 ||
	    (o->to && o->to[0] && validate_host_name(o->to, err, errlen) < 0))
		return -1;
	if ((rc = job_migrate(control_coord(c), o, 0, NULL, &j, err,
	    errlen)) < 0)
		return rc;
	job_info(j, &ji);
	if (control_reply(c, hdr->type, hdr->serial, &ji.base) < 0) {
		snprintf(err, errlen, "cannot send reply");
		job_run(j);
		return -1;
	}
	if (o->has_wait && o->wait) {
		if (job_watch(j, c, hdr->serial) == 0) {
			ev.job_id = j->id;
			ev.event = "started";
			ev.vm = j->vm;
			ev.state = "pending";
			ev.source = j->source;
			ev.destination = j->destination;
			(void)control_event(c, MSG_CTL_JOB_EVENT, hdr->serial,
			    &ev.base);
		}
	}
	job_run(j);
	return 0;
}

static int
api_check(void *ctx, const struct frame_hdr *hdr, ProtobufCMessage *m,
    char *err, size_t errlen)
{
	struct ctl_client *c = ctx;
	Ferry__CheckRequest *req = (Ferry__CheckRequest *)m;

	if (validate_domain_name(req->vm, err, errlen) < 0 ||
	    (req->to && req->to[0] && validate_host_name(req->to, err,
	    errlen) < 0))
		return -1;
	/* The reply is sent when the checks are in (job.c). */
	return job_check(control_coord(c), (Ferry__CheckRequest *)m, c,
	    hdr->serial, err, errlen);
}

static void
api_job_info(const struct store_job *sj, Ferry__JobInfo *ji)
{
	ferry__job_info__init(ji);
	ji->id = sj->id;
	ji->kind = (char *)sj->kind;
	ji->vm = (char *)sj->vm;
	ji->state = (char *)sj->state;
	ji->source = (char *)sj->source;
	ji->destination = (char *)sj->destination;
	ji->has_started_ms = 1;
	ji->started_ms = sj->started_ms;
	if (sj->ended_ms) {
		ji->has_ended_ms = 1;
		ji->ended_ms = sj->ended_ms;
	}
	ji->error = sj->error;
	if (sj->parent) {
		ji->has_parent = 1;
		ji->parent = sj->parent;
	}
}

/* e borrows a's strings. Returns e. */
Ferry__AuditEntry *
api_audit_entry(const struct store_audit *a, Ferry__AuditEntry *e)
{
	ferry__audit_entry__init(e);
	e->id = (uint64_t)a->id;
	e->time_ms = a->time_ms;
	e->via = (char *)a->via;
	e->who = (char *)a->who;
	e->has_uid = e->has_pid = a->has_uid;
	e->uid = a->uid;
	e->pid = a->pid;
	e->what = (char *)a->what;
	e->args = a->args;
	e->outcome = (char *)a->outcome;
	e->has_job_id = a->job_id > 0;
	e->job_id = (uint64_t)a->job_id;
	e->message = a->message;
	e->job_state = a->job_state[0] ? (char *)a->job_state : NULL;
	e->has_ended_ms = a->ended_ms != 0;
	e->ended_ms = a->ended_ms;
	e->coordinator = a->node[0] ? (char *)a->node : NULL;
	return e;
}

static int
api_jobs(void *ctx, const struct frame_hdr *hdr, ProtobufCMessage *m,
    char *err, size_t errlen)
{
	struct ctl_client *c = ctx;
	struct coord *co = control_coord(c);
	Ferry__JobsRequest *req = (Ferry__JobsRequest *)m;
	Ferry__JobsReply r = FERRY__JOBS_REPLY__INIT;
	Ferry__JobInfo *infos = NULL, **v = NULL;
	struct store_job *sj = NULL;
	size_t n = 0, i, limit = req->has_limit && req->limit ? req->limit : 50;
	int rc = -FERRY_EINTERNAL;

	if (req->has_all && req->all)
		limit = req->has_limit ? req->limit : 0;
	if (store_jobs_list(co->store, 0, limit, &sj, &n) < 0) {
		snprintf(err, errlen, "%s", store_error(co->store));
		return -FERRY_EINTERNAL;
	}
	if (n && ((infos = calloc(n, sizeof(*infos))) == NULL ||
	    (v = calloc(n, sizeof(*v))) == NULL)) {
		snprintf(err, errlen, "out of memory");
		goto done;
	}
	for (i = 0; i < n; i++) {
		api_job_info(&sj[i], &infos[i]);
		v[i] = &infos[i];
	}
	r.jobs = v;
	r.n_jobs = n;
	if ((rc = control_reply(c, hdr->type, hdr->serial, &r.base)) < 0)
		snprintf(err, errlen, "cannot send reply");
done:
	free(infos);
	free(v);
	store_job_list_free(sj, n);
	return rc;
}

static int
api_job(void *ctx, const struct frame_hdr *hdr, ProtobufCMessage *m,
    char *err, size_t errlen)
{
	struct ctl_client *c = ctx;
	struct coord *co = control_coord(c);
	Ferry__JobRequest *req = (Ferry__JobRequest *)m;
	Ferry__JobReply r = FERRY__JOB_REPLY__INIT;
	Ferry__JobInfo ji;
	Ferry__JobHistoryEntry *hs = NULL, **v = NULL;
	struct store_event *ev = NULL;
	struct store_job sj;
	size_t n = 0, i;
	int rc = -FERRY_EINTERNAL, found;

	memset(&sj, 0, sizeof(sj));
	if ((found = store_job_get(co->store, req->id, &sj)) <= 0) {
		if (found == 0)
			snprintf(err, errlen, "no job %llu",
			    (unsigned long long)req->id);
		else
			snprintf(err, errlen, "%s", store_error(co->store));
		return found == 0 ? -FERRY_ENOTFOUND : -FERRY_EINTERNAL;
	}
	if (store_job_events(co->store, req->id, &ev, &n) < 0) {
		snprintf(err, errlen, "%s", store_error(co->store));
		goto done;
	}
	if (n && ((hs = calloc(n, sizeof(*hs))) == NULL ||
	    (v = calloc(n, sizeof(*v))) == NULL)) {
		snprintf(err, errlen, "out of memory");
		goto done;
	}
	for (i = 0; i < n; i++) {
		ferry__job_history_entry__init(&hs[i]);
		hs[i].seq = ev[i].seq;
		hs[i].time_ms = ev[i].time_ms;
		hs[i].type = ev[i].type;
		hs[i].state = ev[i].state;
		hs[i].data = ev[i].data;
		v[i] = &hs[i];
	}
	api_job_info(&sj, &ji);
	r.job = &ji;
	r.history = v;
	r.n_history = n;
	if ((rc = control_reply(c, hdr->type, hdr->serial, &r.base)) < 0)
		snprintf(err, errlen, "cannot send reply");
done:
	free(hs);
	free(v);
	store_event_list_free(ev, n);
	store_job_clear(&sj);
	return rc;
}

static int
api_abort(void *ctx, const struct frame_hdr *hdr, ProtobufCMessage *m,
    char *err, size_t errlen)
{
	struct ctl_client *c = ctx;
	struct coord *co = control_coord(c);
	Ferry__JobRequest *req = (Ferry__JobRequest *)m;
	Ferry__JobInfo ji;
	struct store_job sj;
	struct job *j;
	int found, rc;

	/* A job not in flight: say what job says of it ("no job N"), or
	 * how it ended. */
	if ((j = job_find(co, (int64_t)req->id)) == NULL || j->check_only) {
		memset(&sj, 0, sizeof(sj));
		if ((found = store_job_get(co->store, req->id, &sj)) <= 0) {
			snprintf(err, errlen, found == 0 ? "no job %llu" :
			    "cannot read job %llu", (unsigned long long)req->id);
			rc = found == 0 ? -FERRY_ENOTFOUND : -FERRY_EINTERNAL;
		} else if (strcmp(sj.kind, "migrate") != 0) {
			snprintf(err, errlen, "job %llu is a %s, not a "
			    "migration: see ferryctl maintenance cancel",
			    (unsigned long long)req->id, sj.kind);
			rc = -1;
		} else {
			snprintf(err, errlen, "job %llu is not running: it "
			    "ended %s", (unsigned long long)req->id, sj.state);
			rc = -FERRY_ECONFLICT;
		}
		if (found > 0)
			store_job_clear(&sj);
		return rc;
	}
	if ((rc = job_abort(co, (int64_t)req->id, "aborted by operator", err,
	    errlen)) < 0)
		return rc;
	if ((j = job_find(co, (int64_t)req->id)) == NULL) {
		snprintf(err, errlen, "job %llu ended meanwhile",
		    (unsigned long long)req->id);
		return -FERRY_ECONFLICT;
	}
	job_info(j, &ji);
	return control_reply(c, hdr->type, hdr->serial, &ji.base);
}

static int
api_watch(void *ctx, const struct frame_hdr *hdr, ProtobufCMessage *m,
    char *err, size_t errlen)
{
	struct ctl_client *c = ctx;
	struct coord *co = control_coord(c);
	Ferry__JobRequest *req = (Ferry__JobRequest *)m;
	Ferry__JobInfo ji;
	struct store_job sj;
	struct job *j;
	int found, rc;

	if ((j = job_find(co, (int64_t)req->id)) != NULL && !j->check_only) {
		job_info(j, &ji);
		if (control_reply(c, hdr->type, hdr->serial, &ji.base) < 0 ||
		    job_watch(j, c, hdr->serial) < 0) {
			snprintf(err, errlen, "cannot watch");
			return -1;
		}
		return 0;
	}
	memset(&sj, 0, sizeof(sj));
	if ((found = store_job_get(co->store, req->id, &sj)) <= 0) {
		snprintf(err, errlen, found == 0 ? "no job %llu" :
		    "cannot read job %llu", (unsigned long long)req->id);
		return found == 0 ? -FERRY_ENOTFOUND : -FERRY_EINTERNAL;
	}
	api_job_info(&sj, &ji);
	rc = control_reply(c, hdr->type, hdr->serial, &ji.base);
	if (rc == 0)
		rc = job_send_done_from_store(co, c, hdr->serial, &sj);
	store_job_clear(&sj);
	return rc;
}

static int
api_maint_enter(void *ctx, const struct frame_hdr *hdr, ProtobufCMessage *m,
    char *err, size_t errlen)
{
	struct ctl_client *c = ctx;

	/* The plan is the reply, sent when the pre-checks are in. */
	return drain_enter(control_coord(c), (Ferry__MaintenanceRequest *)m, c,
	    hdr->type, hdr->serial, err, errlen);
}

static int
api_maint_cancel(void *ctx, const struct frame_hdr *hdr, ProtobufCMessage *m,
    char *err, size_t errlen)
{
	struct ctl_client *c = ctx;

	return drain_cancel(control_coord(c),
	    ((Ferry__MaintenanceRequest *)m)->host, c, hdr->type, hdr->serial,
	    err, errlen);
}

static int
api_maint_exit(void *ctx, const struct frame_hdr *hdr, ProtobufCMessage *m,
    char *err, size_t errlen)
{
	struct ctl_client *c = ctx;

	return drain_exit(control_coord(c), (Ferry__MaintenanceRequest *)m, c,
	    hdr->type, hdr->serial, err, errlen);
}

static int
api_rebalance(void *ctx, const struct frame_hdr *hdr, ProtobufCMessage *m,
    char *err, size_t errlen)
{
	struct ctl_client *c = ctx;

	return rebalance_request(control_coord(c), (Ferry__RebalanceRequest *)m,
	    c, hdr->type, hdr->serial, err, errlen);
}

static int
api_snapshot(void *ctx, const struct frame_hdr *hdr, ProtobufCMessage *m,
    char *err, size_t errlen)
{
	struct ctl_client *c = ctx;

	(void)m;
	/* Replied once every source has said which VMs cannot move. */
	return rebalance_snapshot(control_coord(c), c, hdr->type, hdr->serial,
	    err, errlen);
}

static int
api_cpu_baseline(void *ctx, const struct frame_hdr *hdr, ProtobufCMessage *m,
    char *err, size_t errlen)
{
	struct ctl_client *c = ctx;

	(void)m;
	return cpubaseline_request(control_coord(c), c, hdr->type, hdr->serial,
	    err, errlen);
}

static int
api_place(void *ctx, const struct frame_hdr *hdr, ProtobufCMessage *m,
    char *err, size_t errlen)
{
	struct ctl_client *c = ctx;
	const Ferry__PlaceRequest *req = (const Ferry__PlaceRequest *)m;

	if (validate_domain_name(req->vm, err, errlen) < 0)
		return -1;
	/* Replies when the hosts have said what they know of its CPU. */
	return placeask_request(control_coord(c), c, hdr->type, hdr->serial,
	    req->vm, err, errlen);
}

/* ferryctl status: this coordinator's role in an HA group. */
static int
api_status(void *ctx, const struct frame_hdr *hdr, ProtobufCMessage *m,
    char *err, size_t errlen)
{
	struct ctl_client *c = ctx;
	struct coord *co = control_coord(c);
	Ferry__StatusReply r = FERRY__STATUS_REPLY__INIT;
	size_t i;

	(void)m;
	(void)err;
	(void)errlen;
	(void)ha_acting(co);	/* a lapsed lease ends the term here too */
	r.coordinator = co->ha ? co->conf.ha.node : co->conf.name;
	r.role = (char *)ha_role(co);
	r.leader = co->ha ? co->ha_leader : co->conf.name;
	r.epoch = co->ha ? co->ha_epoch : 0;
	r.store = (char *)store_backend(co->store);
	for (i = 0; i < co->nhosts; i++)
		r.hosts_up += co->hosts[i].up != 0;
	r.has_hosts = 1;
	r.hosts = (uint32_t)co->nhosts;
	if (co->ha && co->ha_state == HA_STANDBY)
		r.relay = (char *)relay_standby_state(co);
	return control_reply(c, hdr->type, hdr->serial, &r.base);
}

/* ferryctl audit: the trail, oldest first, with each job's state now. */
static int
api_audit(void *ctx, const struct frame_hdr *hdr, ProtobufCMessage *m,
    char *err, size_t errlen)
{
	struct ctl_client *c = ctx;
	struct coord *co = control_coord(c);
	const Ferry__AuditRequest *req = (const Ferry__AuditRequest *)m;
	Ferry__AuditReply r = FERRY__AUDIT_REPLY__INIT;
	Ferry__AuditEntry *es = NULL, **v = NULL;
	struct store_audit *a = NULL;
	size_t n = 0, i;
	int rc = -FERRY_EINTERNAL;

	if (store_audit_list(co->store, req->has_since_ms ? req->since_ms : 0,
	    req->has_limit && req->limit ? req->limit : 200, &a, &n) < 0) {
		snprintf(err, errlen, "%s", store_error(co->store));
		return -FERRY_EINTERNAL;
	}
	if (n && ((es = calloc(n, sizeof(*es))) == NULL ||
	    (v = calloc(n, sizeof(*v))) == NULL)) {
		snprintf(err, errlen, "out of memory");
		goto done;
	}
	for (i = 0; i < n; i++)
		v[i] = api_audit_entry(&a[i], &es[i]);
	r.entries = v;
	r.n_entries = n;
	if ((rc = control_reply(c, hdr->type, hdr->serial, &r.base)) < 0)
		snprintf(err, errlen, "cannot send reply");
done:
	free(es);
	free(v);
	store_audit_list_free(a, n);
	return rc;
}

static int
api_metrics(void *ctx, const struct frame_hdr *hdr, ProtobufCMessage *m,
    char *err, size_t errlen)
{
	struct ctl_client *c = ctx;
	Ferry__MetricsReply r = FERRY__METRICS_REPLY__INIT;
	char *text;
	int rc;

	(void)m;
	if ((text = metrics_render(control_coord(c), NULL)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -FERRY_EINTERNAL;
	}
	r.text = text;
	if ((rc = control_reply(c, hdr->type, hdr->serial, &r.base)) < 0)
		snprintf(err, errlen, "cannot send reply");
	free(text);
	return rc;
}

static int
api_job_control(void *ctx, const struct frame_hdr *hdr, ProtobufCMessage *m,
    char *err, size_t errlen)
{
	struct ctl_client *c = ctx;

	/* Replies when the source's libvirt has taken it. */
	return job_control_request(control_coord(c),
	    (const Ferry__JobControlRequest *)m, c, hdr->type, hdr->serial,
	    err, errlen);
}

/* Rows indexed by message type (common/msg.h); the socket's permissions
 * (0660, root and socket_group) are the authentication. */
const struct dispatch_entry api_dispatch[MSG_CTL_MAX] = {
	[MSG_CTL_MIGRATE] = { "migrate", &ferry__migrate_options__descriptor,
	    api_migrate, DISPATCH_AUTH },
	[MSG_CTL_CHECK] = { "check", &ferry__check_request__descriptor,
	    api_check, DISPATCH_AUTH },
	[MSG_CTL_JOBS] = { "jobs", &ferry__jobs_request__descriptor, api_jobs,
	    DISPATCH_AUTH },
	[MSG_CTL_JOB] = { "job", &ferry__job_request__descriptor, api_job,
	    DISPATCH_AUTH },
	[MSG_CTL_ABORT] = { "abort", &ferry__job_request__descriptor,
	    api_abort, DISPATCH_AUTH },
	[MSG_CTL_WATCH] = { "watch", &ferry__job_request__descriptor,
	    api_watch, DISPATCH_AUTH },
	[MSG_CTL_MAINT_ENTER] = { "maintenance-enter",
	    &ferry__maintenance_request__descriptor, api_maint_enter,
	    DISPATCH_AUTH },
	[MSG_CTL_MAINT_CANCEL] = { "maintenance-cancel",
	    &ferry__maintenance_request__descriptor, api_maint_cancel,
	    DISPATCH_AUTH },
	[MSG_CTL_MAINT_EXIT] = { "maintenance-exit",
	    &ferry__maintenance_request__descriptor, api_maint_exit,
	    DISPATCH_AUTH },
	[MSG_CTL_REBALANCE] = { "rebalance", &ferry__rebalance_request__descriptor,
	    api_rebalance, DISPATCH_AUTH },
	[MSG_CTL_SNAPSHOT] = { "snapshot", &ferry__empty__descriptor,
	    api_snapshot, DISPATCH_AUTH },
	[MSG_CTL_HOSTS] = { "hosts", &ferry__hosts_request__descriptor,
	    api_hosts, DISPATCH_AUTH },
	[MSG_CTL_HOST_ACCEPT] = { "host-accept",
	    &ferry__host_accept_request__descriptor, api_host_accept,
	    DISPATCH_AUTH },
	[MSG_CTL_CPU_BASELINE] = { "cpu-baseline", &ferry__empty__descriptor,
	    api_cpu_baseline, DISPATCH_AUTH },
	[MSG_CTL_PLACE] = { "place", &ferry__place_request__descriptor,
	    api_place, DISPATCH_AUTH },
	[MSG_CTL_VMS] = { "vms", &ferry__vms_request__descriptor, api_vms,
	    DISPATCH_AUTH },
	[MSG_CTL_STATUS] = { "status", &ferry__empty__descriptor, api_status,
	    DISPATCH_AUTH },
	[MSG_CTL_AUDIT] = { "audit", &ferry__audit_request__descriptor,
	    api_audit, DISPATCH_AUTH },
	[MSG_CTL_METRICS] = { "metrics", &ferry__empty__descriptor,
	    api_metrics, DISPATCH_AUTH },
	[MSG_CTL_JOB_CONTROL] = { "job-control",
	    &ferry__job_control_request__descriptor, api_job_control,
	    DISPATCH_AUTH },
};

/* The commands that act (start, stop or check work on hosts, or write the
 * cluster's state): a standby refuses them (ha.c). */
int
api_acting(uint16_t type)
{
	switch (type) {
	case MSG_CTL_MIGRATE:
	case MSG_CTL_CHECK:
	case MSG_CTL_ABORT:
	case MSG_CTL_MAINT_ENTER:
	case MSG_CTL_MAINT_CANCEL:
	case MSG_CTL_MAINT_EXIT:
	case MSG_CTL_REBALANCE:
	case MSG_CTL_HOST_ACCEPT:
	case MSG_CTL_PLACE:
	case MSG_CTL_JOB_CONTROL:
		return 1;
	default:
		return 0;
	}
}

/* What a standby forwards to the leader: what acts, and watches. */
int
api_relayed(uint16_t type)
{
	return api_acting(type) || type == MSG_CTL_WATCH;
}
const size_t api_ndispatch = MSG_CTL_MAX;
