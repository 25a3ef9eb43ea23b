/* hostd.c: ferry-hostd's core: sessions, inventory, heartbeats, signals.
 * Everything here runs on the libuv loop thread; hypervisor calls go to
 * hostd's classes of worker threads (workq.c). */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hostd.h"
#include "log.h"
#include "notify.h"

#define DEBOUNCE_MS	100

/* Threads and queue bound of each class (enum hostd_wq). Slow checks may
 * take seconds each (dirty rate, NFS probes in children with deadlines). */
static const struct {
	const char	*name;
	int		 threads, max_pending;
} hostd_wq_conf[HOSTD_NWQ] = {
	[HOSTD_WQ_MIGRATE] = { "migration", 4, 256 },
	[HOSTD_WQ_URGENT] = { "abort", 2, 64 },
	[HOSTD_WQ_STATE] = { "state", 2, 64 },
	[HOSTD_WQ_CHECK] = { "check", 4, 16 },
};

struct inv_work {
	struct workq_item	 item;
	struct hostd		*hd;
	struct hv_host		 host;
	struct hv_domain	*doms;
	size_t			 ndoms;
	int			 rc;
	char			 err[512];
};

/* Worker threads only: open the hypervisor connection on first use (a
 * libvirtd that is down at start must not stop hostd from starting). */
int
hostd_hv_ensure(struct hostd *hd)
{
	int rc = 0;

	pthread_mutex_lock(&hd->hv_open_mtx);
	if (!hd->hv_opened) {
		if (hd->hv->ops->open(hd->hv) == 0)
			hd->hv_opened = 1;
		else
			rc = -1;
	}
	pthread_mutex_unlock(&hd->hv_open_mtx);
	return rc;
}

/* The SSH server's configuration from hostd's, in this process or in the
 * network process (privsep.c, which then names its own key copies). The
 * strings are conf's. */
void
hostd_server_config(const struct hostd_conf *conf, struct tr_server_config *sc)
{
	memset(sc, 0, sizeof(*sc));
	sc->listen_addr = conf->listen;
	sc->port = conf->port;
	sc->host_key = conf->host_key;
	sc->authorized_keys = conf->authorized_keys;
	sc->handshake_timeout_ms = conf->handshake_timeout_ms;
	sc->idle_timeout_ms = conf->idle_timeout_ms;
	sc->frame_timeout_ms = conf->handshake_timeout_ms;
	sc->max_sessions = conf->max_sessions;
	sc->startups_begin = conf->startups_begin;
	sc->startups_rate = conf->startups_rate;
	sc->startups_full = conf->startups_full;
	sc->per_source_startups = conf->per_source_max_startups;
	sc->max_frame_rate = conf->max_frame_rate;
}

/* READY=1 once the port accepts connections (without privsep: since
 * hostd_init; with it: once the network process says it listens) and
 * libvirt has answered. */
void
hostd_ready(struct hostd *hd)
{
	if (hd->ready || !hd->listening || !hd->libvirt_ok)
		return;
	notify_ready("listening on %s:%d; libvirt %s: %zu domains",
	    hd->conf.listen, hd->conf.port, hd->conf.libvirt_uri, hd->ndoms);
	hd->ready = 1;
}

struct session *
hostd_session_find(struct hostd *hd, uint64_t id)
{
	struct session *s;

	TAILQ_FOREACH(s, &hd->sessions, entry)
		if (s->id == id)
			return s;
	return NULL;
}

int
hostd_send(struct hostd *hd, struct session *s, uint16_t type, uint16_t kind,
    uint32_t serial, const ProtobufCMessage *m)
{
	uint8_t *buf;
	size_t len;

	(void)hd;
	if (frame_pack(type, kind, FRAME_OK, serial, m, &buf, &len) < 0) {
		log_warnx("%s: cannot pack %s", session_peer(s),
		    msg_type_name(type));
		return -1;
	}
	return session_send(s, buf, len);
}

void
hostd_send_raw(struct session *s, uint16_t type, uint16_t kind,
    uint16_t status, uint32_t serial, const uint8_t *p, size_t plen)
{
	uint8_t *buf;
	size_t len;

	if (frame_pack_raw(type, kind, status, serial, p, plen, &buf, &len) == 0)
		(void)session_send(s, buf, len);
}

/* An EVENT to every session that said HELLO. */
void
hostd_broadcast(struct hostd *hd, uint16_t type, const ProtobufCMessage *m)
{
	struct session *s;

	TAILQ_FOREACH(s, &hd->sessions, entry)
		if (s->hello)
			(void)hostd_send(hd, s, type, FRAME_EVENT, 0, m);
}

/* Packs m into a new buffer for a worker's reply. */
int
hostd_pack(const ProtobufCMessage *m, uint8_t **payload, size_t *len)
{
	*len = protobuf_c_message_get_packed_size(m);
	if ((*payload = malloc(*len ? *len : 1)) == NULL)
		return -1;
	protobuf_c_message_pack(m, *payload);
	return 0;
}

struct hostd_call {
	struct workq_item	 item;
	struct hostd		*hd;
	uint64_t		 session_id;
	uint16_t		 type;
	uint32_t		 serial;
	ProtobufCMessage	*msg;		/* owned */
	hostd_work_fn		 fn;
	uint8_t			*payload;	/* the packed reply; owned */
	size_t			 len;
	int			 rc;
	char			 err[1024];
};

static void
hostd_call_work(struct workq_item *it)
{
	struct hostd_call *c = it->data;
	uint64_t epoch;

	/* An EPOCH is about this host's disk, not libvirt. */
	if (c->type != MSG_EPOCH && hostd_hv_ensure(c->hd) < 0) {
		snprintf(c->err, sizeof(c->err), "libvirt: %s", hv_last_error());
		c->rc = -1;
		return;
	}
	/* Checked again here, just before it acts: an EPOCH may have raised
	 * the epoch while the call waited in its queue. */
	if (fence_epoch_of(c->type, c->msg, &epoch) == 0 &&
	    fence_check(&c->hd->fence, epoch, c->err, sizeof(c->err)) < 0) {
		log_warnx("session %llu: %s refused: %s",
		    (unsigned long long)c->session_id, msg_type_name(c->type),
		    c->err);
		c->rc = -FERRY_EFENCED;
		return;
	}
	c->rc = c->fn(c->hd, c->msg, &c->payload, &c->len, c->err,
	    sizeof(c->err));
}

static void
hostd_call_after(struct workq_item *it, int cancelled)
{
	struct hostd_call *c = it->data;
	struct session *s = hostd_session_find(c->hd, c->session_id);
	uint8_t *buf;
	size_t len;

	if (s != NULL)
		s->calls_in_flight--;
	if (cancelled)
		snprintf(c->err, sizeof(c->err), "cancelled: hostd is stopping");
	if (s != NULL) {
		if (c->rc == 0 && !cancelled)
			hostd_send_raw(s, c->type, FRAME_REPLY, FRAME_OK, c->serial,
			    c->payload, c->len);
		else if (frame_pack_error(c->type, c->serial,
		    c->rc == -FERRY_EFENCED ? FERRY_EFENCED : EIO,
		    c->err[0] ? c->err : "failed", &buf, &len) == 0)
			(void)session_send(s, buf, len);
	}
	protobuf_c_message_free_unpacked(c->msg, NULL);
	free(c->payload);
	free(c);
}

/*
 * Answers a call from a worker thread of class wq: fn runs there with the
 * request and packs its reply; the reply (or an ERROR with fn's message)
 * goes to the session if it still exists. Takes m: returns 1, as dispatch
 * expects of a handler that keeps its message, or (m untouched) -EBUSY when
 * the class is full, -1 on other failures.
 */
int
hostd_call_start(struct session *s, const struct frame_hdr *h,
    ProtobufCMessage *m, hostd_work_fn fn, enum hostd_wq wq)
{
	struct hostd_call *c;
	int rc;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return -1;
	c->hd = s->hd;
	c->session_id = s->id;
	c->type = h->type;
	c->serial = h->serial;
	c->msg = m;
	c->fn = fn;
	c->item.data = c;
	c->item.work = hostd_call_work;
	c->item.done = hostd_call_after;
	if ((rc = workq_submit(&s->hd->wq[wq], &c->item)) < 0) {
		free(c);
		return rc == -EBUSY ? -EBUSY : -1;
	}
	s->calls_in_flight++;
	return 1;
}

static void
inv_work_cb(struct workq_item *it)
{
	struct inv_work *w = it->data;

	if (hostd_hv_ensure(w->hd) < 0) {
		snprintf(w->err, sizeof(w->err), "libvirt: %s", hv_last_error());
		w->rc = -1;
		return;
	}
	w->rc = inventory_collect(w->hd->hv, &w->host, &w->doms, &w->ndoms,
	    w->err, sizeof(w->err));
}

static void
inv_answer_waiters(struct hostd *hd, const char *err)
{
	struct inv_waiter *iw;
	struct session *s;
	uint8_t *buf;
	size_t len;

	while ((iw = TAILQ_FIRST(&hd->inv_waiters)) != NULL) {
		TAILQ_REMOVE(&hd->inv_waiters, iw, entry);
		if ((s = hostd_session_find(hd, iw->session_id)) != NULL) {
			if (err == NULL)
				hostd_send_raw(s, iw->type, FRAME_REPLY, FRAME_OK,
				    iw->serial, hd->inv_payload, hd->inv_len);
			else if (frame_pack_error(iw->type, iw->serial, EIO, err,
			    &buf, &len) == 0)
				(void)session_send(s, buf, len);
		}
		free(iw);
	}
}

static void
inv_after_cb(struct workq_item *it, int cancelled)
{
	struct inv_work *w = it->data;
	struct hostd *hd = w->hd;
	struct session *s;
	uint8_t *cmp = NULL, *payload = NULL;
	size_t cmplen = 0, len = 0;
	/* The hostd's own, not a static: several run in one test process. */
	char *lasterr = hd->inv_lasterr;

	hd->inv_running = 0;
	if (cancelled) {
		inv_answer_waiters(hd, "cancelled: hostd is stopping");
		goto done;
	}
	if (w->rc < 0) {
		if (strcmp(lasterr, w->err) != 0) {
			log_warnx("inventory: %s", w->err);
			notify_status("%s libvirt %s: %s", hd->ready ?
			    "serving; inventory from" : "waiting for",
			    hd->conf.libvirt_uri, w->err);
		}
		snprintf(lasterr, sizeof(hd->inv_lasterr), "%s", w->err);
		inv_answer_waiters(hd, w->err);
		goto done;
	}
	hd->libvirt_ok = 1;
	hd->ndoms = w->ndoms;
	if (lasterr[0] != '\0')
		hd->ready = 0;		/* libvirt is back: say so */
	hostd_ready(hd);
	lasterr[0] = '\0';
	hd->mem_free_mib = w->host.mem_free_mib;
	/* Compare with generation 0 so only real changes make a new one;
	 * the numbered copy is packed only for those. */
	if (inventory_pack(&hd->conf, &w->host, w->doms, w->ndoms, 0, &cmp,
	    &cmplen) < 0) {
		inv_answer_waiters(hd, "cannot pack inventory");
		goto done;
	}
	if (hd->inv_payload == NULL || hd->inv_cmp_len != cmplen ||
	    memcmp(hd->inv_cmp, cmp, cmplen) != 0) {
		if (inventory_pack(&hd->conf, &w->host, w->doms, w->ndoms,
		    hd->inv_generation + 1, &payload, &len) < 0) {
			inv_answer_waiters(hd, "cannot pack inventory");
			goto done;
		}
		hd->inv_generation++;
		free(hd->inv_payload);
		free(hd->inv_cmp);
		hd->inv_payload = payload;
		hd->inv_len = len;
		hd->inv_cmp = cmp;
		hd->inv_cmp_len = cmplen;
		payload = cmp = NULL;
		log_debug("inventory generation %llu: %zu domains",
		    (unsigned long long)hd->inv_generation, w->ndoms);
		TAILQ_FOREACH(s, &hd->sessions, entry)
			if (s->hello)
				hostd_send_raw(s, MSG_INVENTORY, FRAME_EVENT,
				    FRAME_OK, 0, hd->inv_payload, hd->inv_len);
	}
	inv_answer_waiters(hd, NULL);
done:
	free(cmp);
	free(payload);
	hv_domain_list_free(w->doms, w->ndoms);
	free(w);
	if (hd->inv_again && !hd->stopping) {
		hd->inv_again = 0;
		hostd_inventory_refresh(hd);
	}
}

/* Starts a collection, or notes that another is needed after the current. */
void
hostd_inventory_refresh(struct hostd *hd)
{
	struct inv_work *w;

	if (hd->stopping)
		return;
	if (hd->inv_running) {
		hd->inv_again = 1;
		return;
	}
	if ((w = calloc(1, sizeof(*w))) == NULL) {
		log_warn("inventory");
		return;
	}
	w->hd = hd;
	w->item.data = w;
	w->item.work = inv_work_cb;
	w->item.done = inv_after_cb;
	hd->inv_running = 1;
	if (workq_submit(&hd->wq[HOSTD_WQ_STATE], &w->item) < 0) {
		hd->inv_running = 0;
		inv_answer_waiters(hd, "hostd busy: cannot start an inventory");
		free(w);
	}
}

/* libvirt's event thread: only flag and wake the loop. */
static void
hostd_hv_event(struct hv *hv, int kind, const char *domain, int detail,
    int sub, void *arg)
{
	struct hostd *hd = arg;

	(void)hv;
	(void)domain;
	(void)detail;
	(void)sub;
	if (kind == HV_EV_CONN_LOST)
		__atomic_store_n(&hd->hv_lost, 1, __ATOMIC_SEQ_CST);
	__atomic_store_n(&hd->ev_pending, 1, __ATOMIC_SEQ_CST);
	uv_async_send(&hd->ev_async);
}

static void
debounce_cb(uv_timer_t *t)
{
	hostd_inventory_refresh(t->data);
}

static void
ev_async_cb(uv_async_t *a)
{
	struct hostd *hd = a->data;

	if (__atomic_exchange_n(&hd->hv_lost, 0, __ATOMIC_SEQ_CST)) {
		log_warnx("libvirt connection %s lost; reconnecting on next use",
		    hd->conf.libvirt_uri);
		notify_status("serving; libvirt connection %s lost, "
		    "reconnecting", hd->conf.libvirt_uri);
	}
	if (__atomic_exchange_n(&hd->ev_pending, 0, __ATOMIC_SEQ_CST) &&
	    !hd->stopping)
		uv_timer_start(&hd->debounce_timer, debounce_cb, DEBOUNCE_MS, 0);
}

static void
refresh_cb(uv_timer_t *t)
{
	hostd_inventory_refresh(t->data);
}

static void
heartbeat_cb(uv_timer_t *t)
{
	struct hostd *hd = t->data;
	Ferry__Heartbeat hb = FERRY__HEARTBEAT__INIT;

	hb.seq = ++hd->hb_seq;
	hb.time_ms = clock_wall_ms();
	hb.has_mem_free_mib = 1;
	hb.mem_free_mib = hd->mem_free_mib;
	hostd_broadcast(hd, MSG_HEARTBEAT, &hb.base);
}

static void
signal_cb(uv_signal_t *sig, int signum)
{
	log_info("signal %d: shutting down", signum);
	hostd_shutdown(sig->data);
}

int
hostd_init(struct hostd *hd, uv_loop_t *loop, const struct hostd_conf *conf,
    const struct hv_ops *ops, char *err, size_t errlen)
{
	static const struct tr_callbacks cbs = {
		session_on_up, session_on_frame, session_on_down,
	};
	struct tr_server_config sc;
	int i;

	memset(hd, 0, sizeof(*hd));
	pthread_mutex_init(&hd->hv_open_mtx, NULL);
	hd->loop = loop;
	hd->conf = *conf;
	TAILQ_INIT(&hd->sessions);
	TAILQ_INIT(&hd->inv_waiters);
	TAILQ_INIT(&hd->migs);
	TAILQ_INIT(&hd->mig_results);
	/* Before anything can act: the highest epoch this host has seen. */
	if (fence_init(&hd->fence, conf->state_dir, err, errlen) < 0)
		return -1;
	if ((hd->hv = hv_new(ops, conf->libvirt_uri, hostd_hv_event, hd)) == NULL) {
		snprintf(err, errlen, "out of memory");
		fence_free(&hd->fence);
		return -1;
	}
	for (i = 0; i < HOSTD_NWQ; i++)
		workq_init(&hd->wq[i], loop, hostd_wq_conf[i].name,
		    hostd_wq_conf[i].threads, hostd_wq_conf[i].max_pending);
	uv_async_init(loop, &hd->ev_async, ev_async_cb);
	hd->ev_async.data = hd;
	uv_timer_init(loop, &hd->debounce_timer);
	hd->debounce_timer.data = hd;
	uv_timer_init(loop, &hd->refresh_timer);
	hd->refresh_timer.data = hd;
	uv_timer_init(loop, &hd->heartbeat_timer);
	hd->heartbeat_timer.data = hd;
	uv_signal_init(loop, &hd->sigterm);
	hd->sigterm.data = hd;
	uv_signal_init(loop, &hd->sigint);
	hd->sigint.data = hd;
	uv_signal_start(&hd->sigterm, signal_cb, SIGTERM);
	uv_signal_start(&hd->sigint, signal_cb, SIGINT);

	if (hd->conf.privsep) {
		if ((hd->ps = privsep_start(hd, err, errlen)) == NULL) {
			hostd_shutdown(hd);
			return -1;
		}
		goto started;
	}
	hostd_server_config(&hd->conf, &sc);
	if ((hd->server = tr_server_start(loop, &sc, &cbs, hd, err,
	    errlen)) == NULL) {
		hostd_shutdown(hd);
		return -1;
	}
	hd->listening = 1;
started:
	migrate_recover_throttles(hd);
	uv_timer_start(&hd->refresh_timer, refresh_cb, 0,
	    hd->conf.refresh_interval_ms);
	uv_timer_start(&hd->heartbeat_timer, heartbeat_cb,
	    hd->conf.heartbeat_interval_ms, hd->conf.heartbeat_interval_ms);
	log_info("listening on %s:%d, libvirt %s, advertising %s",
	    hd->conf.listen, hd->conf.port, hd->conf.libvirt_uri,
	    hd->conf.advertise_uri);
	return 0;
}

/* Closes every handle so uv_run returns; the hypervisor and cached data
 * are released by hostd_free once the loop is done. */
void
hostd_shutdown(struct hostd *hd)
{
	int i, n;

	if (hd->stopping)
		return;
	hd->stopping = 1;
	notify_stopping();
	if (migrate_running(hd) > 0)
		log_info("waiting for %d migrations to end (libvirtd carries "
		    "them on regardless)", migrate_running(hd));
	tr_server_stop(hd->server);
	hd->server = NULL;
	privsep_stop(hd->ps);
	hd->ps = NULL;
	uv_close((uv_handle_t *)&hd->ev_async, NULL);
	uv_close((uv_handle_t *)&hd->debounce_timer, NULL);
	uv_close((uv_handle_t *)&hd->refresh_timer, NULL);
	uv_close((uv_handle_t *)&hd->heartbeat_timer, NULL);
	uv_close((uv_handle_t *)&hd->sigterm, NULL);
	uv_close((uv_handle_t *)&hd->sigint, NULL);
	/* Calls not yet started are cancelled; the loop ends with the rest
	 * (a migration's thread is waited for by its own handles). The
	 * migrations' throttles are released first, on the urgent queue,
	 * which the last release stops. */
	n = migrate_unthrottle_all(hd);
	for (i = 0; i < HOSTD_NWQ; i++)
		if (i != HOSTD_WQ_URGENT || n == 0)
			workq_stop(&hd->wq[i]);
}

/* After uv_run has returned. */
void
hostd_free(struct hostd *hd)
{
	struct inv_waiter *iw;
	int i;

	for (i = 0; i < HOSTD_NWQ; i++)
		workq_free(&hd->wq[i]);
	while ((iw = TAILQ_FIRST(&hd->inv_waiters)) != NULL) {
		TAILQ_REMOVE(&hd->inv_waiters, iw, entry);
		free(iw);
	}
	migrate_free_results(hd);
	hv_free(hd->hv);
	hd->hv = NULL;
	hd->hv_opened = 0;
	free(hd->inv_payload);
	free(hd->inv_cmp);
	hd->inv_payload = hd->inv_cmp = NULL;
	fence_free(&hd->fence);
}
