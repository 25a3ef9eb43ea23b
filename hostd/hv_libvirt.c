/* hv_libvirt.c: the hypervisor interface (hv.h) on libvirt.
 *
 * One virConnectPtr per struct hv, shared by every thread that calls an op.
 * Each op takes a reference on the connection for its duration
 * (hvl_conn/virConnectClose), so a reconnect by another thread never frees
 * it underneath. The connection is replaced when libvirt reports it closed
 * (close callback) or dead (virConnectIsAlive); the next op reconnects,
 * re-registers the event callbacks and emits HV_EV_CONN_UP. migrate alone
 * uses a connection of its own (see hvl_migrate).
 *
 * Events come from libvirt's default event loop, run by one process-wide
 * thread started by the first open. The callbacks only call hv->on_event.
 *
 * This file: the connection, events, the call helpers, the domain listing
 * and the ops table; the parsers are in hv_libvirt_xml.c, the CPU model ops
 * in hv_libvirt_cpu.c, the migration and its steering in
 * hv_libvirt_migrate.c (shared declarations: hv_libvirt_int.h).
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xpath.h>

#include "hv.h"
#include "hv_libvirt.h"
#include "hv_libvirt_int.h"
#include "log.h"

static pthread_once_t	 hvl_once = PTHREAD_ONCE_INIT;

static int		 hvl_once_ok;

const char *
hvl_errmsg(void)
{
	const char *m;

	if ((m = virGetLastErrorMessage()) == NULL)
		return "unknown libvirt error";
	return m;
}

/* hostd logs errors itself; libvirt's default handler prints to stderr. */
static void
hvl_silence(void *arg, virErrorPtr err)
{
	(void)arg;
	(void)err;
}

static void *
hvl_event_thread(void *arg)
{
	struct timespec ts = { 0, 100 * 1000 * 1000 };

	(void)arg;
	for (;;) {
		if (virEventRunDefaultImpl() < 0) {
			log_warnx("libvirt event loop: %s", hvl_errmsg());
			nanosleep(&ts, NULL);
		}
	}
	return NULL;
}

/* The event loop must be registered before the first virConnectOpen. */
static void
hvl_init(void)
{
	pthread_t t;

	hvl_xml_ready();
	if (virInitialize() < 0)
		return;
	virSetErrorFunc(NULL, hvl_silence);
	if (virEventRegisterDefaultImpl() < 0)
		return;
	if (pthread_create(&t, NULL, hvl_event_thread, NULL) != 0)
		return;
	pthread_detach(t);
	hvl_once_ok = 1;
}

static void
hvl_cb_ref(struct hvl_cb *cb)
{
	pthread_mutex_lock(&cb->mtx);
	cb->refs++;
	pthread_mutex_unlock(&cb->mtx);
}

static void
hvl_cb_unref(void *arg)
{
	struct hvl_cb *cb = arg;
	int last;

	if (cb == NULL)
		return;
	pthread_mutex_lock(&cb->mtx);
	last = --cb->refs == 0;
	pthread_mutex_unlock(&cb->mtx);
	if (!last)
		return;
	pthread_cond_destroy(&cb->cond);
	pthread_mutex_destroy(&cb->mtx);
	free(cb);
}

static void
hvl_cb_emit(struct hvl_cb *cb, int kind, const char *dom, int detail, int sub)
{
	struct hv *hv;

	pthread_mutex_lock(&cb->mtx);
	hv = cb->hv;
	if (cb->closed || hv->on_event == NULL) {
		pthread_mutex_unlock(&cb->mtx);
		return;
	}
	cb->inflight++;
	pthread_mutex_unlock(&cb->mtx);

	hv->on_event(hv, kind, dom, detail, sub, hv->event_arg);

	pthread_mutex_lock(&cb->mtx);
	if (--cb->inflight == 0 && cb->closed)
		pthread_cond_broadcast(&cb->cond);
	pthread_mutex_unlock(&cb->mtx);
}

static int
hvl_on_lifecycle(virConnectPtr conn, virDomainPtr dom, int event, int detail,
    void *arg)
{
	(void)conn;
	hvl_cb_emit(arg, HV_EV_LIFECYCLE, virDomainGetName(dom), event, detail);
	return 0;
}

static void
hvl_on_iteration(virConnectPtr conn, virDomainPtr dom, int iteration,
    void *arg)
{
	(void)conn;
	hvl_cb_emit(arg, HV_EV_MIGRATION_ITERATION, virDomainGetName(dom),
	    iteration, 0);
}

static void
hvl_on_completed(virConnectPtr conn, virDomainPtr dom,
    virTypedParameterPtr params, int nparams, void *arg)
{
	(void)conn;
	(void)params;
	(void)nparams;
	hvl_cb_emit(arg, HV_EV_JOB_COMPLETED, virDomainGetName(dom), 0, 0);
}

/* libvirt calls this with its close-callback lock held, and
 * virConnectUnregisterCloseCallback takes that lock: once unregistered it
 * is neither running nor called again, so it needs no reference. */
static void
hvl_on_close(virConnectPtr conn, int reason, void *arg)
{
	struct hvl_cb *cb = arg;

	(void)conn;
	atomic_store(&cb->lost, 1);
	hvl_cb_emit(cb, HV_EV_CONN_LOST, NULL, reason, 0);
}

/* p->mtx held. */
static void
hvl_disconnect(struct hvl *p)
{
	int i;

	if (p->conn == NULL)
		return;
	if (p->close_cb)
		virConnectUnregisterCloseCallback(p->conn, hvl_on_close);
	p->close_cb = 0;
	for (i = 0; i < HVL_NEV; i++) {
		/* Dropped locally even when the daemon cannot be told. */
		if (p->ev_ids[i] >= 0)
			virConnectDomainEventDeregisterAny(p->conn,
			    p->ev_ids[i]);
		p->ev_ids[i] = -1;
	}
	virConnectClose(p->conn);
	p->conn = NULL;
}

/* p->mtx held. */
static int
hvl_connect(struct hv *hv, struct hvl *p)
{
	static const struct {
		int			 id;
		virConnectDomainEventGenericCallback fn;
	} evs[HVL_NEV] = {
		{ VIR_DOMAIN_EVENT_ID_LIFECYCLE,
		    VIR_DOMAIN_EVENT_CALLBACK(hvl_on_lifecycle) },
		{ VIR_DOMAIN_EVENT_ID_MIGRATION_ITERATION,
		    VIR_DOMAIN_EVENT_CALLBACK(hvl_on_iteration) },
		{ VIR_DOMAIN_EVENT_ID_JOB_COMPLETED,
		    VIR_DOMAIN_EVENT_CALLBACK(hvl_on_completed) },
	};
	int i;

	if ((p->conn = virConnectOpen(hv->uri[0] ? hv->uri : NULL)) == NULL) {
		hv_set_error("connect %s: %s", hv->uri, hvl_errmsg());
		return -1;
	}
	/* Local drivers (test:///) have no keepalive: not an error. */
	if (virConnectSetKeepAlive(p->conn, 5, 3) < 0)
		log_debug("%s: no keepalive: %s", hv->uri, hvl_errmsg());
	atomic_store(&p->cb->lost, 0);
	if (virConnectRegisterCloseCallback(p->conn, hvl_on_close, p->cb,
	    NULL) < 0) {
		hv_set_error("%s: close callback: %s", hv->uri, hvl_errmsg());
		goto fail;
	}
	p->close_cb = 1;
	for (i = 0; i < HVL_NEV; i++) {
		hvl_cb_ref(p->cb);
		p->ev_ids[i] = virConnectDomainEventRegisterAny(p->conn, NULL,
		    evs[i].id, evs[i].fn, p->cb, hvl_cb_unref);
		if (p->ev_ids[i] < 0) {
			hv_set_error("%s: domain events: %s", hv->uri,
			    hvl_errmsg());
			hvl_cb_unref(p->cb);
			goto fail;
		}
	}
	return 0;
 fail:
	hvl_disconnect(p);
	return -1;
}

/* A referenced connection, reconnecting first if it was lost. The caller
 * drops the reference with virConnectClose. */
virConnectPtr
hvl_conn(struct hv *hv)
{
	struct hvl *p = hv->priv;
	virConnectPtr c = NULL;
	int up = 0;

	if (p == NULL) {
		hv_set_error("%s: not open", hv->uri);
		return NULL;
	}
	pthread_mutex_lock(&p->mtx);
	if (p->conn != NULL && (atomic_load(&p->cb->lost) ||
	    virConnectIsAlive(p->conn) != 1)) {
		log_info("libvirt connection to %s lost, reconnecting",
		    hv->uri);
		hvl_disconnect(p);
	}
	if (p->conn == NULL) {
		if (hvl_connect(hv, p) == -1)
			goto out;
		p->sessions++;
		up = 1;
	}
	c = p->conn;
	virConnectRef(c);
 out:
	pthread_mutex_unlock(&p->mtx);
	if (up)
		hvl_cb_emit(p->cb, HV_EV_CONN_UP, NULL, 0, 0);
	return c;
}

/* Returns 0, -1, or -ENOENT when there is no domain NAME. */
int
hvl_begin(struct hv *hv, const char *name, const char *what,
    struct hvl_call *c)
{
	int rc = -1;

	c->dom = NULL;
	if ((c->conn = hvl_conn(hv)) == NULL)
		return -1;
	if ((c->dom = virDomainLookupByName(c->conn, name)) != NULL)
		return 0;
	/* Before virConnectClose, which resets libvirt's error. */
	if (virGetLastErrorCode() == VIR_ERR_NO_DOMAIN) {
		hv_set_error("no domain %s", name);
		rc = -ENOENT;
	} else
		hv_set_error("%s %s: %s", what, name, hvl_errmsg());
	virConnectClose(c->conn);
	c->conn = NULL;
	return rc;
}

/* The error of a failed call on domain name: -ENOENT when it is gone
 * (undefined since the lookup), else -1. */
int
hvl_fail(const char *what, const char *name)
{
	if (virGetLastErrorCode() == VIR_ERR_NO_DOMAIN) {
		hv_set_error("no domain %s", name);
		return -ENOENT;
	}
	hv_set_error("%s %s: %s", what, name, hvl_errmsg());
	return -1;
}

void
hvl_end(struct hvl_call *c)
{
	if (c->dom != NULL)
		virDomainFree(c->dom);
	if (c->conn != NULL)
		virConnectClose(c->conn);
	c->dom = NULL;
	c->conn = NULL;
}

/* A job on the domain, without waiting for its job lock: libvirt answers
 * NONE at once when no async job runs, and an async job (migration)
 * admits the query job GetJobInfo takes. An incoming migration refuses
 * statistics ("only on the source host"): that is a job too. */
static int
hvl_job_active(virDomainPtr dom)
{
	virDomainJobInfo ji;

	if (virDomainGetJobInfo(dom, &ji) == 0)
		return ji.type != VIR_DOMAIN_JOB_NONE;
	switch (virGetLastErrorCode()) {
	case VIR_ERR_OPERATION_UNSUPPORTED:
		return 1;
	case VIR_ERR_OPERATION_INVALID:		/* stopped meanwhile */
	case VIR_ERR_NO_SUPPORT:		/* test driver: no jobs */
		return 0;
	default:
		return -1;
	}
}

static int
hvl_fill(virDomainPtr dom, struct hv_domain *d)
{
	virDomainInfo info;
	char *xml = NULL;
	int state, reason, v, rc = -1;

	memset(d, 0, sizeof(*d));
	snprintf(d->name, sizeof(d->name), "%s", virDomainGetName(dom));
	if (virDomainGetUUIDString(dom, d->uuid) < 0 ||
	    virDomainGetState(dom, &state, &reason, 0) < 0 ||
	    virDomainGetInfo(dom, &info) < 0 ||
	    (d->persistent = virDomainIsPersistent(dom)) < 0 ||
	    (v = virDomainIsActive(dom)) < 0)
		goto lverr;
	d->state = state;
	d->reason = reason;
	snprintf(d->state_str, sizeof(d->state_str), "%s",
	    hv_state_name(state));
	snprintf(d->reason_str, sizeof(d->reason_str), "%s",
	    hv_libvirt_reason_name(state, reason));
	d->mem_mib = info.maxMem / 1024;	/* the guest's RAM */
	d->vcpus = info.nrVirtCpu;
	if (v && (d->job_active = hvl_job_active(dom)) < 0)
		goto lverr;
	if ((xml = virDomainGetXMLDesc(dom, 0)) == NULL)
		goto lverr;
	if (hv_libvirt_parse_disks(xml, &d->disks, &d->ndisks) == -1) {
		char msg[512];

		snprintf(msg, sizeof(msg), "%s", hv_last_error());
		hv_set_error("domain %s: %s", d->name, msg);
		goto done;
	}
	rc = 0;
	goto done;
 lverr:
	hv_set_error("domain %s: %s", d->name, hvl_errmsg());
 done:
	free(xml);
	return rc;
}

static int
hvl_open(struct hv *hv)
{
	struct hvl *p;
	int i, rc;

	pthread_once(&hvl_once, hvl_init);
	if (!hvl_once_ok) {
		hv_set_error("libvirt: cannot start the event loop: %s",
		    hvl_errmsg());
		return -1;
	}
	if (hv->priv != NULL) {
		hv_set_error("%s: already open", hv->uri);
		return -1;
	}
	if ((p = calloc(1, sizeof(*p))) == NULL ||
	    (p->cb = calloc(1, sizeof(*p->cb))) == NULL) {
		free(p);
		hv_set_error("out of memory");
		return -1;
	}
	pthread_mutex_init(&p->mtx, NULL);
	pthread_mutex_init(&p->cb->mtx, NULL);
	pthread_cond_init(&p->cb->cond, NULL);
	p->cb->refs = 1;
	p->cb->hv = hv;
	for (i = 0; i < HVL_NEV; i++)
		p->ev_ids[i] = -1;

	pthread_mutex_lock(&p->mtx);
	rc = hvl_connect(hv, p);
	pthread_mutex_unlock(&p->mtx);
	if (rc == -1) {
		hvl_cb_unref(p->cb);
		pthread_mutex_destroy(&p->mtx);
		free(p);
		return -1;
	}
	hv->priv = p;
	hvl_cb_emit(p->cb, HV_EV_CONN_UP, NULL, 0, 0);
	return 0;
}

/* No op may run concurrently, and not from inside on_event. */
static void
hvl_close(struct hv *hv)
{
	struct hvl *p = hv->priv;
	struct hvl_cb *cb;

	if (p == NULL)
		return;
	pthread_mutex_lock(&p->mtx);
	hvl_disconnect(p);
	pthread_mutex_unlock(&p->mtx);

	/* libvirt may still be inside a domain event callback. */
	cb = p->cb;
	pthread_mutex_lock(&cb->mtx);
	cb->closed = 1;
	while (cb->inflight > 0)
		pthread_cond_wait(&cb->cond, &cb->mtx);
	pthread_mutex_unlock(&cb->mtx);
	hvl_cb_unref(cb);

	pthread_mutex_destroy(&p->mtx);
	free(p);
	hv->priv = NULL;
}

static int
hvl_host_info(struct hv *hv, struct hv_host *h)
{
	virConnectPtr c;
	virNodeInfo ni;
	xmlDocPtr doc = NULL;
	xmlXPathContextPtr ctx = NULL;
	char *hostname = NULL, *caps = NULL, *uuid = NULL, *arch = NULL;
	unsigned long long freemem;
	int rc = -1;

	memset(h, 0, sizeof(*h));
	if ((c = hvl_conn(hv)) == NULL)
		return -1;
	pthread_mutex_lock(&((struct hvl *)hv->priv)->mtx);
	h->libvirt_session = ((struct hvl *)hv->priv)->sessions;
	pthread_mutex_unlock(&((struct hvl *)hv->priv)->mtx);
	if (virNodeGetInfo(c, &ni) < 0 ||
	    (hostname = virConnectGetHostname(c)) == NULL ||
	    (caps = virConnectGetCapabilities(c)) == NULL) {
		hv_set_error("host info: %s", hvl_errmsg());
		goto done;
	}
	/* 0 is also libvirt's error value. */
	virResetLastError();
	if ((freemem = virNodeGetFreeMemory(c)) == 0 &&
	    virGetLastErrorCode() != VIR_ERR_OK) {
		hv_set_error("free memory: %s", hvl_errmsg());
		goto done;
	}
	hvl_xml_ready();
	if ((doc = xmlReadMemory(caps, strlen(caps), "caps.xml", NULL,
	    XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING)) ==
	    NULL || (ctx = xmlXPathNewContext(doc)) == NULL) {
		hv_set_error("cannot parse capabilities");
		goto done;
	}
	uuid = hvl_xpath_str(ctx, "string(/capabilities/host/uuid)");
	arch = hvl_xpath_str(ctx, "string(/capabilities/host/cpu/arch)");
	snprintf(h->hostname, sizeof(h->hostname), "%s", hostname);
	/* libvirtd always has one; the test driver has none: "". */
	snprintf(h->uuid, sizeof(h->uuid), "%s", uuid ? uuid : "");
	snprintf(h->arch, sizeof(h->arch), "%s", arch ? arch : ni.model);
	h->cpus = ni.cpus;
	h->mem_mib = ni.memory / 1024;
	h->mem_free_mib = freemem / (1024 * 1024);
	rc = 0;
 done:
	free(uuid);
	free(arch);
	xmlXPathFreeContext(ctx);
	xmlFreeDoc(doc);
	free(caps);
	free(hostname);
	virConnectClose(c);
	return rc;
}

static int
hvl_list_domains(struct hv *hv, struct hv_domain **out, size_t *n)
{
	virConnectPtr c;
	virDomainPtr *doms = NULL;
	struct hv_domain *list = NULL;
	size_t got = 0;
	int i, nd, rc = -1;

	*out = NULL;
	*n = 0;
	if ((c = hvl_conn(hv)) == NULL)
		return -1;
	if ((nd = virConnectListAllDomains(c, &doms, 0)) < 0) {
		hv_set_error("list domains: %s", hvl_errmsg());
		goto done;
	}
	if (nd > 0 && (list = calloc(nd, sizeof(*list))) == NULL) {
		hv_set_error("out of memory");
		goto done;
	}
	for (i = 0; i < nd; i++) {
		if (hvl_fill(doms[i], &list[got]) == 0) {
			got++;
			continue;
		}
		hv_domain_clear(&list[got]);
		/* Undefined since the listing: not an error. */
		if (virGetLastErrorCode() == VIR_ERR_NO_DOMAIN)
			continue;
		goto done;
	}
	*out = list;
	*n = got;
	list = NULL;
	rc = 0;
 done:
	hv_domain_list_free(list, got);
	for (i = 0; i < nd; i++)
		virDomainFree(doms[i]);
	free(doms);
	virConnectClose(c);
	return rc;
}

static int
hvl_domain_info(struct hv *hv, const char *name, struct hv_domain *d)
{
	struct hvl_call c;
	int rc;

	memset(d, 0, sizeof(*d));
	if ((rc = hvl_begin(hv, name, "domain info", &c)) != 0)
		return rc;
	if ((rc = hvl_fill(c.dom, d)) == -1)
		hv_domain_clear(d);
	hvl_end(&c);
	return rc;
}

/* A libvirt secret's value: e.g. the Ceph key of an rbd disk's <auth>.
 * libvirt never gives out a private='yes' secret's value. */
static int
hvl_secret_value(struct hv *hv, const char *uuid, unsigned char **value,
    size_t *len)
{
	virConnectPtr c;
	virSecretPtr sec = NULL;
	virErrorPtr e;
	int rc = -1;

	*value = NULL;
	*len = 0;
	if ((c = hvl_conn(hv)) == NULL)
		return -1;
	if ((sec = virSecretLookupByUUIDString(c, uuid)) == NULL) {
		e = virGetLastError();
		rc = e != NULL && e->code == VIR_ERR_NO_SECRET ? -ENOENT : -1;
		hv_set_error("no libvirt secret %s on this host%s%s", uuid,
		    rc == -ENOENT ? "" : ": ", rc == -ENOENT ? "" : hvl_errmsg());
		goto done;
	}
	if ((*value = virSecretGetValue(sec, len, 0)) == NULL) {
		e = virGetLastError();
		rc = e != NULL && e->code == VIR_ERR_NO_SECRET ? -ENOENT : -1;
		hv_set_error("libvirt secret %s on this host has no value%s%s",
		    uuid, rc == -ENOENT ? "" : ": ", rc == -ENOENT ? "" :
		    hvl_errmsg());
		goto done;
	}
	rc = 0;
 done:
	if (sec != NULL)
		virSecretFree(sec);
	virConnectClose(c);
	return rc;
}

const struct hv_ops hv_libvirt_ops = {
	.name = "libvirt",
	.open = hvl_open,
	.close = hvl_close,
	.host_info = hvl_host_info,
	.list_domains = hvl_list_domains,
	.domain_info = hvl_domain_info,
	.domain_cpu = hvl_domain_cpu,
	.compare_cpu = hvl_compare_cpu,
	.host_cpu = hvl_host_cpu,
	.baseline_cpu = hvl_baseline_cpu,
	.dirty_rate = hvl_dirty_rate,
	.migrate = hvl_migrate,
	.job_stats = hvl_job_stats,
	.job_completed = hvl_job_completed,
	.abort_job = hvl_abort_job,
	.set_max_downtime = hvl_set_max_downtime,
	.set_max_speed = hvl_set_max_speed,
	.start_postcopy = hvl_start_postcopy,
	.resume = hvl_resume,
	.destroy = hvl_destroy,
	.secret_value = hvl_secret_value,
	.undefine = hvl_undefine,
};
