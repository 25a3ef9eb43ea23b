/* coordinator.c: ferry-coordinator's core: start-up, hosts, shutdown. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "coordinator.h"
#include "cpucache.h"
#include "http.h"
#include "log.h"
#include "notify.h"

#define SWEEP_MS	250
#define HEARTBEAT_MS	1000

struct host *
coord_host_find(struct coord *co, const char *name)
{
	size_t i;

	for (i = 0; i < co->nhosts; i++)
		if (!co->hosts[i].removed &&
		    strcmp(co->hosts[i].conf.name, name) == 0)
			return &co->hosts[i];
	return NULL;
}

/* What operators see: down wins over the administrative state. */
const char *
coord_host_state(const struct host *h)
{
	if (!h->up)
		return "down";
	if (strcmp(h->admin_state, "draining") == 0 ||
	    strcmp(h->admin_state, "maintenance") == 0)
		return h->admin_state;
	return "up";
}

/* An administrative state as a sentence says it: "host h1 is in
 * maintenance", "... is being drained". */
const char *
coord_admin_phrase(const char *admin_state)
{
	if (strcmp(admin_state, "maintenance") == 0)
		return "in maintenance";
	if (strcmp(admin_state, "draining") == 0)
		return "being drained";
	return admin_state;
}

static void
sweep_cb(uv_timer_t *t)
{
	struct coord *co = t->data;
	uint64_t now = clock_mono_ms();
	size_t i;

	for (i = 0; i < co->nhosts; i++)
		peer_sweep(&co->hosts[i], now);
	if (now - co->last_heartbeat_ms >= HEARTBEAT_MS) {
		co->last_heartbeat_ms = now;
		for (i = 0; i < co->nhosts; i++)
			peer_heartbeat(&co->hosts[i]);
	}
	/* A standby keeps its sessions (above) and starts nothing. */
	if (ha_acting(co)) {
		cluster_flush(co, 0);
		job_tick(co, now);
		drain_tick(co);
		rebalance_tick(co, now);
		retention_tick(co, now);
	}
	control_sweep(co, now);
	relay_standby_update(co);
}

static void
signal_cb(uv_signal_t *sig, int signum)
{
	log_info("signal %d: shutting down", signum);
	coord_shutdown(sig->data);
}

/* A host's slot from its configuration: its records, trust and the
 * administrative state kept from before. At start and when a reload adds
 * it. */
int
coord_host_setup(struct coord *co, struct host *h,
    const struct coord_host_conf *hc, char *err, size_t errlen)
{
	struct store_host sh;

	h->co = co;
	h->conf = *hc;
	h->removed = 0;
	TAILQ_INIT(&h->calls);
	snprintf(h->admin_state, sizeof(h->admin_state), "active");
	/* With HA the leader's picture of the hosts stays. */
	if (store_host_configure(co->store, h->conf.name,
	    h->conf.address, h->conf.port) < 0 ||
	    (co->conf.ha.node[0] == '\0' &&
	    store_host_set_conn(co->store, h->conf.name, "down",
	    "coordinator started", clock_wall_ms()) < 0)) {
		snprintf(err, errlen, "%s", store_error(co->store));
		return -1;
	}
	if (cluster_trust_load(h, err, errlen) < 0)
		return -1;
	/* The administrative state survives restarts. */
	if (store_host_get(co->store, h->conf.name, &sh) == 1 &&
	    sh.admin_state[0])
		snprintf(h->admin_state, sizeof(h->admin_state), "%s",
		    sh.admin_state);
	return 0;
}

/* Takes over conf->hosts. */
int
coord_init(struct coord *co, uv_loop_t *loop, struct coord_conf *conf,
    char *err, size_t errlen)
{
	size_t i;

	memset(co, 0, sizeof(*co));
	co->loop = loop;
	co->conf = *conf;
	conf->hosts = NULL;
	conf->nhosts = 0;
	conf->pinned = NULL;
	conf->npinned = 0;
	conf->groups = NULL;
	conf->ngroups = 0;
	TAILQ_INIT(&co->clients);
	TAILQ_INIT(&co->jobs);
	TAILQ_INIT(&co->drains);
	if (strcmp(co->conf.store.backend, "postgresql") == 0) {
		if (store_open_pg(co->conf.store.conninfo, &co->store, err,
		    errlen) < 0)
			return -1;
	} else if (store_open(co->conf.database, &co->store, err,
	    errlen) < 0)
		return -1;
	/* Room for hosts a reload adds: slots never move (coordinator.h). */
	co->hosts_cap = co->conf.nhosts + COORD_HOSTS_SPARE;
	if ((co->hosts = calloc(co->hosts_cap, sizeof(*co->hosts))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	co->nhosts = co->conf.nhosts;
	for (i = 0; i < co->nhosts; i++)
		if (coord_host_setup(co, &co->hosts[i], &co->conf.hosts[i], err,
		    errlen) < 0)
			return -1;
	if (metrics_start(co) < 0) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	/* With HA, recovery waits for the lease and the hosts' epochs. */
	if (co->conf.ha.node[0] == '\0' && (job_recover(co, err, errlen) < 0 ||
	    drain_recover(co, err, errlen) < 0))
		return -1;
	if (control_listen(co, err, errlen) < 0 ||
	    relay_standby_start(co, err, errlen) < 0 ||
	    relay_leader_start(co, err, errlen) < 0 ||
	    web_start(co, err, errlen) < 0 ||
	    http_start(co, err, errlen) < 0)
		return -1;
	uv_timer_init(loop, &co->sweep_timer);
	co->sweep_timer.data = co;
	uv_timer_start(&co->sweep_timer, sweep_cb, SWEEP_MS, SWEEP_MS);
	uv_signal_init(loop, &co->sigterm);
	co->sigterm.data = co;
	uv_signal_start(&co->sigterm, signal_cb, SIGTERM);
	uv_signal_init(loop, &co->sigint);
	co->sigint.data = co;
	uv_signal_start(&co->sigint, signal_cb, SIGINT);
	uv_signal_init(loop, &co->sighup);
	co->sighup.data = co;
	uv_signal_start(&co->sighup, reload_signal_cb, SIGHUP);
	co->handles_open = 1;
	for (i = 0; i < co->nhosts; i++)
		peer_start(&co->hosts[i]);
	if (ha_start(co, err, errlen) < 0)
		return -1;
	/* Never the conninfo: it may hold a password. */
	log_info("coordinating %zu hosts; store %s%s%s; control socket %s",
	    co->nhosts, store_backend(co->store),
	    strcmp(store_backend(co->store), "sqlite") == 0 ? " " : "",
	    strcmp(store_backend(co->store), "sqlite") == 0 ?
	    co->conf.database : "", co->conf.socket);
	return 0;
}

void
coord_shutdown(struct coord *co)
{
	size_t i;

	if (co->stopping)
		return;
	co->stopping = 1;
	notify_stopping();
	if (ha_acting(co))
		cluster_flush(co, 1);
	ha_stop(co);
	relay_standby_stop(co);
	relay_leader_stop(co);
	for (i = 0; i < co->nhosts; i++)
		peer_stop(&co->hosts[i]);
	control_close(co);
	metrics_stop(co);
	http_stop(co);
	if (co->handles_open) {
		uv_close((uv_handle_t *)&co->sweep_timer, NULL);
		uv_close((uv_handle_t *)&co->sigterm, NULL);
		uv_close((uv_handle_t *)&co->sigint, NULL);
		uv_close((uv_handle_t *)&co->sighup, NULL);
	}
}

/* After uv_run has returned. */
void
coord_free(struct coord *co)
{
	size_t i;

	http_free(co);
	relay_leader_free(co);
	relay_standby_free(co);
	drain_free_all(co);
	job_free_all(co);
	cpucache_free(co);
	metrics_free(co);
	www_free(co);
	for (i = 0; i < co->nhosts; i++)
		if (co->hosts[i].inv)
			ferry__inventory__free_unpacked(co->hosts[i].inv, NULL);
	free(co->hosts);
	co->hosts = NULL;
	store_close(co->store);
	co->store = NULL;
	parse_coord_conf_clear(&co->conf);
}

/*
 * A host refused a call for a stale epoch (hostd/fence.c): another
 * coordinator leads with a higher epoch. This one stops acting at once
 * (epoch 0 from now on is refused by every host that saw the higher one)
 * and lets its lease (lease.c) find out who leads.
 */
void
coord_fenced(struct coord *co, struct host *h, const char *why)
{
	if (co->fenced_logged != co->epoch)
		log_warnx("host %s refused epoch %llu: %s; no longer leader",
		    h->conf.name, (unsigned long long)co->epoch, why);
	co->fenced_logged = co->epoch;
	co->fenced = 1;
	ha_fenced(co);
}
