/* reload.c: SIGHUP (systemctl reload) reads coordinator.conf again. The
 * file is parsed into a fresh configuration and checked whole before
 * anything changes: a file that does not parse, or that would remove or
 * re-address a host with a job or a drain in flight, changes nothing and
 * is logged. Otherwise, at once:
 * - hosts that left the file are disconnected and their slots marked
 *   removed (slots never move: jobs, calls and connections point at them);
 *   a name that comes back takes its old slot;
 * - new hosts take a free slot and connect;
 * - a host whose address or port changed reconnects there; its zone,
 *   labels and where other hosts reach it are the file's;
 * - placement rules (pinned, groups, vms, zone_policy), rebalance,
 *   retention and the timeouts are the file's.
 * What cannot change under a running daemon (database, socket,
 * socket_group, identity, known_hosts, name) keeps its value, with a
 * warning naming it: that needs a restart.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coordinator.h"
#include "cpucache.h"
#include "drain_int.h"
#include "job.h"
#include "log.h"
#include "notify.h"

/* A job or drain that names host h: it must keep h as it is. */
static int
reload_host_busy(struct coord *co, const struct host *h, char *err,
    size_t errlen)
{
	struct job *j;

	TAILQ_FOREACH(j, &co->jobs, entry)
		if (strcmp(j->source, h->conf.name) == 0 ||
		    strcmp(j->destination, h->conf.name) == 0) {
			snprintf(err, errlen, "host %s has job %lld in flight",
			    h->conf.name, (long long)j->id);
			return 1;
		}
	if (drain_host_busy(co, h->conf.name)) {
		snprintf(err, errlen, "host %s has a drain in flight",
		    h->conf.name);
		return 1;
	}
	return 0;
}

static const struct coord_host_conf *
reload_find_conf(const struct coord_conf *c, const char *name)
{
	size_t i;

	for (i = 0; i < c->nhosts; i++)
		if (strcmp(c->hosts[i].name, name) == 0)
			return &c->hosts[i];
	return NULL;
}

static struct host *
reload_find_slot(struct coord *co, const char *name)
{
	size_t i;

	for (i = 0; i < co->nhosts; i++)
		if (strcmp(co->hosts[i].conf.name, name) == 0)
			return &co->hosts[i];
	return NULL;
}

/* Where a host is reached: a change means a new connection. */
static int
reload_addr_changed(const struct coord_host_conf *a,
    const struct coord_host_conf *b)
{
	return strcmp(a->address, b->address) != 0 || a->port != b->port ||
	    strcmp(a->libvirt_uri, b->libvirt_uri) != 0 ||
	    strcmp(a->migration_address, b->migration_address) != 0;
}

/* Keeps what needs a restart; warns of each that the file changed. */
static void
reload_keep_fixed(const struct coord_conf *old, struct coord_conf *nc)
{
#define KEEP(f) do {							\
	if (strcmp(old->f, nc->f) != 0) {				\
		log_warnx("reload: %s changes only at a restart; still "\
		    "%s", #f, old->f);					\
		snprintf(nc->f, sizeof(nc->f), "%s", old->f);		\
	}								\
} while (0)
	KEEP(name);
	KEEP(database);
	KEEP(socket);
	KEEP(socket_group);
	KEEP(identity);
	KEEP(known_hosts);
#undef KEEP
}

/* Checks the new file against what runs; 0 when it can be applied
 * whole. */
static int
reload_check(struct coord *co, const struct coord_conf *nc, char *err,
    size_t errlen)
{
	const struct coord_host_conf *hc;
	struct host *h;
	size_t i, add = 0;

	for (i = 0; i < co->nhosts; i++) {
		h = &co->hosts[i];
		if (h->removed)
			continue;
		hc = reload_find_conf(nc, h->conf.name);
		if ((hc == NULL || reload_addr_changed(&h->conf, hc)) &&
		    reload_host_busy(co, h, err, errlen)) {
			size_t n = strlen(err);

			snprintf(err + n, errlen - n, ": not %s now",
			    hc == NULL ? "removed" : "re-addressed");
			return -1;
		}
	}
	for (i = 0; i < nc->nhosts; i++)
		if (reload_find_slot(co, nc->hosts[i].name) == NULL)
			add++;
	if (co->nhosts + add > co->hosts_cap) {
		snprintf(err, errlen, "%zu new hosts: at most %zu can be added "
		    "without a restart", add, co->hosts_cap - co->nhosts);
		return -1;
	}
	return 0;
}

/* Disconnects h and leaves its slot for its name to come back to. */
static void
reload_remove(struct host *h)
{
	if (h->up)
		cluster_host_down(h, "removed from the configuration");
	peer_stop(h);
	if (h->inv != NULL)
		ferry__inventory__free_unpacked(h->inv, NULL);
	h->inv = NULL;
	h->removed = 1;
	cpucache_forget_host(h->co, h);	/* its slot may serve another */
	h->conf.labels = NULL;	/* the old configuration's, freed */
	h->conf.nlabels = 0;
	log_info("reload: host %s removed", h->conf.name);
}

int
reload_config(struct coord *co, const char *path, char *err, size_t errlen)
{
	struct coord_conf nc, old;
	const struct coord_host_conf *hc;
	struct host *h;
	size_t i, added = 0, removed = 0, moved = 0;
	int *restart = NULL;

	if (parse_coord_config(path, &nc, err, errlen) < 0)
		return -1;
	reload_keep_fixed(&co->conf, &nc);
	if (reload_check(co, &nc, err, errlen) < 0)
		goto fail;
	if ((restart = calloc(co->hosts_cap + 1, sizeof(*restart))) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}

	/* From here nothing fails: the file is applied whole. */
	for (i = 0; i < co->nhosts; i++) {
		h = &co->hosts[i];
		if (h->removed)
			continue;
		if ((hc = reload_find_conf(&nc, h->conf.name)) == NULL) {
			reload_remove(h);
			removed++;
		} else if (reload_addr_changed(&h->conf, hc)) {
			peer_stop(h);
			if (h->up)
				cluster_host_down(h, "re-addressed by a reload");
			restart[i] = 1;
			moved++;
		}
	}
	old = co->conf;
	co->conf = nc;	/* the hosts' labels now point into nc */
	for (i = 0; i < co->nhosts; i++) {
		h = &co->hosts[i];
		if (h->removed)
			continue;
		hc = reload_find_conf(&co->conf, h->conf.name);
		h->conf = *hc;
		(void)cluster_trust_load(h, err, errlen);
		if (restart[i])
			peer_start(h);
	}
	parse_coord_conf_clear(&old);
	for (i = 0; i < co->conf.nhosts; i++) {
		hc = &co->conf.hosts[i];
		h = reload_find_slot(co, hc->name);
		if (h != NULL && !h->removed)
			continue;
		if (h == NULL)
			h = &co->hosts[co->nhosts++];
		memset(h, 0, sizeof(*h));
		if (coord_host_setup(co, h, hc, err, errlen) < 0)
			log_warnx("reload: host %s: %s", hc->name, err);
		peer_start(h);
		added++;
		log_info("reload: host %s added (%s:%d)", hc->name,
		    hc->address, hc->port);
	}
	free(restart);
	log_info("configuration %s reloaded: %zu hosts (%zu added, %zu "
	    "removed, %zu re-addressed)", path, co->conf.nhosts, added, removed,
	    moved);
	notify_status("coordinating %zu hosts", co->conf.nhosts);
	return 0;
fail:
	free(restart);
	parse_coord_conf_clear(&nc);
	return -1;
}

void
reload_signal_cb(uv_signal_t *sig, int signum)
{
	struct coord *co = sig->data;
	char err[1024];

	(void)signum;
	if (co->stopping || co->conf_file == NULL)
		return;
	log_info("SIGHUP: reading %s again", co->conf_file);
	if (reload_config(co, co->conf_file, err, sizeof(err)) < 0)
		log_warnx("reload of %s failed, nothing changed: %s",
		    co->conf_file, err);
}
