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
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <limits.h>
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
#include "log.h"

/* What the event callbacks see. Refcounted: libvirt may hold it (and call
 * its free function) after close; the hv owns one reference and each
 * registered domain event callback another. close sets closed and waits
 * for callbacks in flight, after which hv may be freed. */
struct hvl_cb {
	pthread_mutex_t	 mtx;
	pthread_cond_t	 cond;
	int		 refs;
	int		 closed;
	int		 inflight;
	atomic_int	 lost;		/* the connection was closed */
	struct hv	*hv;
};

enum { HVL_EV_LIFECYCLE, HVL_EV_ITERATION, HVL_EV_COMPLETED, HVL_NEV };

struct hvl {
	pthread_mutex_t	 mtx;		/* conn, ev_ids, close_cb */
	virConnectPtr	 conn;
	int		 ev_ids[HVL_NEV];
	int		 close_cb;	/* the close callback is registered */
	struct hvl_cb	*cb;
};

/* A call on one domain: both references are dropped by hvl_end. */
struct hvl_call {
	virConnectPtr	 conn;
	virDomainPtr	 dom;
};

static pthread_once_t	 hvl_once = PTHREAD_ONCE_INIT;
static int		 hvl_once_ok;
static pthread_once_t	 hvl_xml_once = PTHREAD_ONCE_INIT;

static const char *
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

static void
hvl_xml_init(void)
{
	xmlInitParser();
}

/* The event loop must be registered before the first virConnectOpen. */
static void
hvl_init(void)
{
	pthread_t t;

	pthread_once(&hvl_xml_once, hvl_xml_init);
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
static virConnectPtr
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
static int
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
static int
hvl_fail(const char *what, const char *name)
{
	if (virGetLastErrorCode() == VIR_ERR_NO_DOMAIN) {
		hv_set_error("no domain %s", name);
		return -ENOENT;
	}
	hv_set_error("%s %s: %s", what, name, hvl_errmsg());
	return -1;
}

static void
hvl_end(struct hvl_call *c)
{
	if (c->dom != NULL)
		virDomainFree(c->dom);
	if (c->conn != NULL)
		virConnectClose(c->conn);
	c->dom = NULL;
	c->conn = NULL;
}

const char *
hv_libvirt_reason_name(int state, int reason)
{
	static const char *running[] = {
		[VIR_DOMAIN_RUNNING_UNKNOWN] = "unknown",
		[VIR_DOMAIN_RUNNING_BOOTED] = "booted",
		[VIR_DOMAIN_RUNNING_MIGRATED] = "migrated",
		[VIR_DOMAIN_RUNNING_RESTORED] = "restored",
		[VIR_DOMAIN_RUNNING_FROM_SNAPSHOT] = "from-snapshot",
		[VIR_DOMAIN_RUNNING_UNPAUSED] = "unpaused",
		[VIR_DOMAIN_RUNNING_MIGRATION_CANCELED] = "migration-canceled",
		[VIR_DOMAIN_RUNNING_SAVE_CANCELED] = "save-canceled",
		[VIR_DOMAIN_RUNNING_WAKEUP] = "wakeup",
		[VIR_DOMAIN_RUNNING_CRASHED] = "crashed",
		[VIR_DOMAIN_RUNNING_POSTCOPY] = "postcopy",
		[VIR_DOMAIN_RUNNING_POSTCOPY_FAILED] = "postcopy-failed",
	};
	static const char *paused[] = {
		[VIR_DOMAIN_PAUSED_UNKNOWN] = "unknown",
		[VIR_DOMAIN_PAUSED_USER] = "user",
		[VIR_DOMAIN_PAUSED_MIGRATION] = "migration",
		[VIR_DOMAIN_PAUSED_SAVE] = "save",
		[VIR_DOMAIN_PAUSED_DUMP] = "dump",
		[VIR_DOMAIN_PAUSED_IOERROR] = "ioerror",
		[VIR_DOMAIN_PAUSED_WATCHDOG] = "watchdog",
		[VIR_DOMAIN_PAUSED_FROM_SNAPSHOT] = "from-snapshot",
		[VIR_DOMAIN_PAUSED_SHUTTING_DOWN] = "shutdown",
		[VIR_DOMAIN_PAUSED_SNAPSHOT] = "snapshot",
		[VIR_DOMAIN_PAUSED_CRASHED] = "crashed",
		[VIR_DOMAIN_PAUSED_STARTING_UP] = "starting-up",
		[VIR_DOMAIN_PAUSED_POSTCOPY] = "postcopy",
		[VIR_DOMAIN_PAUSED_POSTCOPY_FAILED] = "postcopy-failed",
	};
	static const char *shutoff[] = {
		[VIR_DOMAIN_SHUTOFF_UNKNOWN] = "unknown",
		[VIR_DOMAIN_SHUTOFF_SHUTDOWN] = "shutdown",
		[VIR_DOMAIN_SHUTOFF_DESTROYED] = "destroyed",
		[VIR_DOMAIN_SHUTOFF_CRASHED] = "crashed",
		[VIR_DOMAIN_SHUTOFF_MIGRATED] = "migrated",
		[VIR_DOMAIN_SHUTOFF_SAVED] = "saved",
		[VIR_DOMAIN_SHUTOFF_FAILED] = "failed",
		[VIR_DOMAIN_SHUTOFF_FROM_SNAPSHOT] = "from-snapshot",
		[VIR_DOMAIN_SHUTOFF_DAEMON] = "daemon",
	};
	static const char *shutdown[] = {
		[VIR_DOMAIN_SHUTDOWN_UNKNOWN] = "unknown",
		[VIR_DOMAIN_SHUTDOWN_USER] = "user",
	};
	static const char *crashed[] = {
		[VIR_DOMAIN_CRASHED_UNKNOWN] = "unknown",
		[VIR_DOMAIN_CRASHED_PANICKED] = "panicked",
	};
	const char **names;
	size_t n;

	switch (state) {
	case VIR_DOMAIN_RUNNING:
		names = running;
		n = sizeof(running) / sizeof(running[0]);
		break;
	case VIR_DOMAIN_PAUSED:
		names = paused;
		n = sizeof(paused) / sizeof(paused[0]);
		break;
	case VIR_DOMAIN_SHUTOFF:
		names = shutoff;
		n = sizeof(shutoff) / sizeof(shutoff[0]);
		break;
	case VIR_DOMAIN_SHUTDOWN:
		names = shutdown;
		n = sizeof(shutdown) / sizeof(shutdown[0]);
		break;
	case VIR_DOMAIN_CRASHED:
		names = crashed;
		n = sizeof(crashed) / sizeof(crashed[0]);
		break;
	default:
		return "unknown";
	}
	if (reason < 0 || (size_t)reason >= n || names[reason] == NULL)
		return "unknown";
	return names[reason];
}

/* Copy an attribute (or nothing when absent) into a fixed field; -1 when
 * it does not fit. */
static int
hvl_xml_attr(xmlNodePtr node, const char *attr, char *dst, size_t len,
    const char *what)
{
	xmlChar *v;
	int rc = 0;

	if (node == NULL || (v = xmlGetProp(node, (const xmlChar *)attr)) ==
	    NULL)
		return 0;
	if ((size_t)snprintf(dst, len, "%s", (const char *)v) >= len) {
		hv_set_error("disk %s too long: %s", what, (const char *)v);
		rc = -1;
	}
	xmlFree(v);
	return rc;
}

static xmlNodePtr
hvl_xml_child(xmlNodePtr node, const char *name)
{
	xmlNodePtr c;

	if (node == NULL)
		return NULL;
	for (c = node->children; c != NULL; c = c->next)
		if (c->type == XML_ELEMENT_NODE &&
		    strcmp((const char *)c->name, name) == 0)
			return c;
	return NULL;
}

static xmlDocPtr
hvl_xml_read(const char *xml)
{
	xmlDocPtr doc;

	pthread_once(&hvl_xml_once, hvl_xml_init);
	doc = xmlReadMemory(xml, strlen(xml), "domain.xml", NULL,
	    XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
	if (doc == NULL)
		hv_set_error("cannot parse domain XML");
	return doc;
}

/* One disk element into d. */
static int
hvl_parse_disk(xmlNodePtr disk, struct hv_disk *d)
{
	xmlNodePtr src;
	char pool[HV_NAME_MAX] = "", vol[HV_NAME_MAX] = "";

	memset(d, 0, sizeof(*d));
	if (hvl_xml_attr(disk, "type", d->type, sizeof(d->type), "type") ||
	    hvl_xml_attr(disk, "device", d->device, sizeof(d->device),
	    "device") ||
	    hvl_xml_attr(hvl_xml_child(disk, "target"), "dev", d->target,
	    sizeof(d->target), "target") ||
	    hvl_xml_attr(hvl_xml_child(disk, "driver"), "type", d->format,
	    sizeof(d->format), "format"))
		return -1;
	if (d->device[0] == '\0')	/* libvirt's default */
		snprintf(d->device, sizeof(d->device), "disk");
	d->readonly = hvl_xml_child(disk, "readonly") != NULL;

	/* A cdrom without media has no <source>. */
	if ((src = hvl_xml_child(disk, "source")) == NULL)
		return 0;
	if (strcmp(d->type, "network") == 0) {
		if (hvl_xml_attr(src, "protocol", d->protocol,
		    sizeof(d->protocol), "protocol") ||
		    hvl_xml_attr(src, "name", d->source, sizeof(d->source),
		    "source") ||
		    hvl_xml_attr(hvl_xml_child(src, "host"), "name", d->host,
		    sizeof(d->host), "host"))
			return -1;
	} else if (strcmp(d->type, "volume") == 0) {
		if (hvl_xml_attr(src, "pool", pool, sizeof(pool), "pool") ||
		    hvl_xml_attr(src, "volume", vol, sizeof(vol), "volume"))
			return -1;
		if ((size_t)snprintf(d->source, sizeof(d->source), "%s/%s",
		    pool, vol) >= sizeof(d->source)) {
			hv_set_error("disk source too long");
			return -1;
		}
	} else {
		if (hvl_xml_attr(src, "file", d->source, sizeof(d->source),
		    "source") ||
		    hvl_xml_attr(src, "dev", d->source, sizeof(d->source),
		    "source") ||
		    hvl_xml_attr(src, "dir", d->source, sizeof(d->source),
		    "source"))
			return -1;
	}
	return 0;
}

int
hv_libvirt_parse_disks(const char *xml, struct hv_disk **out, size_t *n)
{
	xmlDocPtr doc = NULL;
	xmlXPathContextPtr ctx = NULL;
	xmlXPathObjectPtr obj = NULL;
	struct hv_disk *disks = NULL;
	size_t i, count = 0;
	int rc = -1;

	*out = NULL;
	*n = 0;
	if ((doc = hvl_xml_read(xml)) == NULL)
		goto done;
	if ((ctx = xmlXPathNewContext(doc)) == NULL ||
	    (obj = xmlXPathEvalExpression(
	    (const xmlChar *)"/domain/devices/disk", ctx)) == NULL) {
		hv_set_error("domain XML: XPath failed");
		goto done;
	}
	if (obj->nodesetval != NULL)
		count = obj->nodesetval->nodeNr;
	if (count > 0 && (disks = calloc(count, sizeof(*disks))) == NULL) {
		hv_set_error("out of memory");
		goto done;
	}
	for (i = 0; i < count; i++)
		if (hvl_parse_disk(obj->nodesetval->nodeTab[i], &disks[i]) ==
		    -1)
			goto done;
	*out = disks;
	*n = count;
	disks = NULL;
	rc = 0;
 done:
	free(disks);
	xmlXPathFreeObject(obj);
	xmlXPathFreeContext(ctx);
	xmlFreeDoc(doc);
	return rc;
}

/* The string value of an XPath expression (NULL when empty), malloc'd. */
static char *
hvl_xpath_str(xmlXPathContextPtr ctx, const char *expr)
{
	xmlXPathObjectPtr obj;
	char *s = NULL;

	obj = xmlXPathEvalExpression((const xmlChar *)expr, ctx);
	if (obj != NULL && obj->type == XPATH_STRING && obj->stringval &&
	    obj->stringval[0] != '\0')
		s = strdup((const char *)obj->stringval);
	xmlXPathFreeObject(obj);
	return s;
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
	pthread_once(&hvl_xml_once, hvl_xml_init);
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

/*
 * The <cpu> element of a domain's XML, serialized, and what comparing it on
 * another host needs: emulator, arch, machine, virttype. All malloc'd for
 * the caller; on failure (-1, hv_last_error) all NULL.
 */
int
hv_libvirt_parse_cpu(const char *xml, char **cpu_xml, char **emulator,
    char **arch, char **machine, char **virttype)
{
	xmlDocPtr doc = NULL;
	xmlXPathContextPtr ctx = NULL;
	xmlXPathObjectPtr obj = NULL;
	xmlBufferPtr buf = NULL;
	int rc = -1;

	*cpu_xml = *emulator = *arch = *machine = *virttype = NULL;
	if ((doc = hvl_xml_read(xml)) == NULL ||
	    (ctx = xmlXPathNewContext(doc)) == NULL ||
	    (obj = xmlXPathEvalExpression((const xmlChar *)"/domain/cpu",
	    ctx)) == NULL) {
		hv_set_error("cannot parse domain XML");
		goto done;
	}
	if (obj->nodesetval == NULL || obj->nodesetval->nodeNr < 1) {
		hv_set_error("no <cpu> element");
		goto done;
	}
	if ((buf = xmlBufferCreate()) == NULL ||
	    xmlNodeDump(buf, doc, obj->nodesetval->nodeTab[0], 0, 0) < 0 ||
	    (*cpu_xml = strdup((const char *)xmlBufferContent(buf))) ==
	    NULL) {
		hv_set_error("cannot serialize <cpu>");
		goto done;
	}
	*emulator = hvl_xpath_str(ctx,
	    "normalize-space(/domain/devices/emulator)");
	*arch = hvl_xpath_str(ctx, "string(/domain/os/type/@arch)");
	*machine = hvl_xpath_str(ctx, "string(/domain/os/type/@machine)");
	*virttype = hvl_xpath_str(ctx, "string(/domain/@type)");
	if (*emulator == NULL || *arch == NULL || *machine == NULL ||
	    *virttype == NULL) {
		hv_set_error("emulator, arch, machine or type missing");
		goto done;
	}
	rc = 0;
 done:
	if (rc != 0) {
		free(*cpu_xml);
		free(*emulator);
		free(*arch);
		free(*machine);
		free(*virttype);
		*cpu_xml = *emulator = *arch = *machine = *virttype = NULL;
	}
	if (buf != NULL)
		xmlBufferFree(buf);
	xmlXPathFreeObject(obj);
	xmlXPathFreeContext(ctx);
	xmlFreeDoc(doc);
	return rc;
}

static int
hvl_domain_cpu(struct hv *hv, const char *name, char **cpu_xml,
    char **emulator, char **arch, char **machine, char **virttype)
{
	struct hvl_call c;
	char *xml = NULL, why[512];
	int rc;

	*cpu_xml = *emulator = *arch = *machine = *virttype = NULL;
	if ((rc = hvl_begin(hv, name, "domain cpu", &c)) != 0)
		return rc;
	rc = -1;
	/* Only the live XML has host-model expanded into features. */
	if (virDomainIsActive(c.dom) != 1) {
		hv_set_error("domain cpu %s: domain is not running", name);
		goto done;
	}
	if ((xml = virDomainGetXMLDesc(c.dom, 0)) == NULL) {
		rc = hvl_fail("domain cpu", name);
		goto done;
	}
	if (hv_libvirt_parse_cpu(xml, cpu_xml, emulator, arch, machine,
	    virttype) < 0) {
		snprintf(why, sizeof(why), "%s", hv_last_error());
		hv_set_error("domain cpu %s: %s", name, why);
		goto done;
	}
	rc = 0;
 done:
	free(xml);
	hvl_end(&c);
	return rc;
}

static int
hvl_compare_cpu(struct hv *hv, const char *cpu_xml, const char *emulator,
    const char *arch, const char *machine, const char *virttype,
    char **reason)
{
	virConnectPtr c;
	int r;

	*reason = NULL;
	if ((c = hvl_conn(hv)) == NULL)
		return HV_CPU_ERROR;
	r = virConnectCompareHypervisorCPU(c, emulator, arch, machine,
	    virttype, cpu_xml, VIR_CONNECT_COMPARE_CPU_FAIL_INCOMPATIBLE);
	switch (r) {
	case VIR_CPU_COMPARE_INCOMPATIBLE:
	case VIR_CPU_COMPARE_IDENTICAL:
	case VIR_CPU_COMPARE_SUPERSET:
		break;
	default:
		if (virGetLastErrorCode() == VIR_ERR_CPU_INCOMPATIBLE) {
			r = HV_CPU_INCOMPATIBLE;
			if ((*reason = strdup(hvl_errmsg())) == NULL) {
				hv_set_error("out of memory");
				r = HV_CPU_ERROR;
			}
			break;
		}
		hv_set_error("compare cpu: %s", hvl_errmsg());
		r = HV_CPU_ERROR;
		break;
	}
	virConnectClose(c);
	return r;
}

static int
hvl_host_cpu(struct hv *hv, char **cpu_xml)
{
	virConnectPtr c;
	xmlDocPtr doc = NULL;
	xmlXPathContextPtr ctx = NULL;
	xmlXPathObjectPtr obj = NULL;
	xmlBufferPtr buf = NULL;
	char *caps = NULL;
	int rc = -1;

	*cpu_xml = NULL;
	if ((c = hvl_conn(hv)) == NULL)
		return -1;
	if ((caps = virConnectGetCapabilities(c)) == NULL) {
		hv_set_error("capabilities: %s", hvl_errmsg());
		goto out;
	}
	if ((doc = xmlReadMemory(caps, (int)strlen(caps), "caps.xml", NULL,
	    XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING)) ==
	    NULL || (ctx = xmlXPathNewContext(doc)) == NULL ||
	    (obj = xmlXPathEvalExpression(BAD_CAST "/capabilities/host/cpu",
	    ctx)) == NULL || obj->nodesetval == NULL ||
	    obj->nodesetval->nodeNr < 1 || (buf = xmlBufferCreate()) == NULL ||
	    xmlNodeDump(buf, doc, obj->nodesetval->nodeTab[0], 0, 0) < 0) {
		hv_set_error("capabilities: no host <cpu>");
		goto out;
	}
	if ((*cpu_xml = strdup((const char *)xmlBufferContent(buf))) == NULL) {
		hv_set_error("out of memory");
		goto out;
	}
	rc = 0;
 out:
	if (buf)
		xmlBufferFree(buf);
	if (obj)
		xmlXPathFreeObject(obj);
	if (ctx)
		xmlXPathFreeContext(ctx);
	if (doc)
		xmlFreeDoc(doc);
	free(caps);
	virConnectClose(c);
	return rc;
}

static int
hvl_baseline_cpu(struct hv *hv, const char *const *cpus, size_t n, char **out)
{
	virConnectPtr c;

	*out = NULL;
	if (n == 0 || n > UINT_MAX) {
		hv_set_error("baseline: no CPU given");
		return -1;
	}
	if ((c = hvl_conn(hv)) == NULL)
		return -1;
	if ((*out = virConnectBaselineHypervisorCPU(c, NULL, NULL, NULL, NULL,
	    (const char **)cpus, (unsigned)n, 0)) == NULL)
		hv_set_error("baseline: %s", hvl_errmsg());
	virConnectClose(c);
	return *out ? 0 : -1;
}

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

static int
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

static int
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
	if (mp->persist)
		flags |= VIR_MIGRATE_PERSIST_DEST | VIR_MIGRATE_UNDEFINE_SOURCE;
	if (mp->allow_postcopy || mp->postcopy_resume)
		flags |= VIR_MIGRATE_POSTCOPY;
	if (mp->postcopy_resume)
		flags |= VIR_MIGRATE_POSTCOPY_RESUME;
	if (mp->auto_converge)
		flags |= VIR_MIGRATE_AUTO_CONVERGE;
	log_debug("migrate %s to %s (data %s, flags 0x%x)", name,
	    mp->dest_uri, mp->migrate_uri ? mp->migrate_uri : "default",
	    flags);
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
	s->has_downtime = virTypedParamsGet(p, np,
	    VIR_DOMAIN_JOB_DOWNTIME) != NULL;
}

static int
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
static int
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

static int
hvl_abort_job(struct hv *hv, const char *name, int postcopy)
{
	return hvl_simple(hv, name, postcopy ? HVL_ABORT_POSTCOPY : HVL_ABORT,
	    0);
}

static int
hvl_set_max_downtime(struct hv *hv, const char *name, uint64_t ms)
{
	return hvl_simple(hv, name, HVL_DOWNTIME, ms);
}

static int
hvl_set_max_speed(struct hv *hv, const char *name, uint64_t mibs)
{
	return hvl_simple(hv, name, HVL_SPEED, mibs);
}

static int
hvl_start_postcopy(struct hv *hv, const char *name)
{
	return hvl_simple(hv, name, HVL_POSTCOPY, 0);
}

static int
hvl_resume(struct hv *hv, const char *name)
{
	return hvl_simple(hv, name, HVL_RESUME, 0);
}

/* Destroy only: a persistent definition stays (never undefined here), so a
 * leftover copy of a guest that was defined on this host can be started
 * again; a transient domain is gone afterwards. */
static int
hvl_destroy(struct hv *hv, const char *name)
{
	return hvl_simple(hv, name, HVL_DESTROY, 0);
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
};
