/* cluster.c: the coordinator's picture of the cluster (hosts and the VMs
 * they report), kept in memory and written to the store.
 *
 * Every decision (placement, capacity, drains, jobs) reads the in-memory
 * inventory, which is replaced as each one arrives. The stored copy only
 * says what a host last reported while it cannot be asked (listings of
 * down hosts, after a restart), so it is written at most every
 * CLUSTER_INV_WRITE_MS per host, the latest one, and at once when a host
 * comes up or goes down and at shutdown: a host sending inventories fast
 * no longer costs two fsynced writes each on the loop. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coordinator.h"
#include "log.h"

#define CLUSTER_INV_WRITE_MS	1000

/* Memory promised to guests that hold it: every domain that is not off. */
uint64_t
cluster_host_mem_used(const struct host *h)
{
	uint64_t used = 0;
	size_t i;

	if (h->inv == NULL)
		return 0;
	for (i = 0; i < h->inv->n_domains; i++) {
		const Ferry__Domain *d = h->inv->domains[i];

		if (strcmp(d->state, "shutoff") != 0 &&
		    strcmp(d->state, "crashed") != 0)
			used += d->mem_mib;
	}
	return used;
}

/* Memory a host can still give guests: capacity less its reserve and the
 * guests that hold memory there. 0 while its inventory is unknown. */
uint64_t
cluster_host_free_mib(const struct host *h)
{
	uint64_t used;

	if (h->inv == NULL)
		return 0;
	used = cluster_host_mem_used(h) + h->inv->host->reserve_mib;
	return h->inv->host->mem_mib > used ? h->inv->host->mem_mib - used : 0;
}

static void
cluster_persist(struct host *h)
{
	struct store *st = h->co->store;
	struct store_host sh;
	struct store_vm *vms = NULL;
	const Ferry__HostInfo *hi = h->inv->host;
	uint64_t now = coord_now_ms();
	size_t i, n = h->inv->n_domains;

	memset(&sh, 0, sizeof(sh));
	snprintf(sh.name, sizeof(sh.name), "%s", h->conf.name);
	snprintf(sh.host_uuid, sizeof(sh.host_uuid), "%s", hi->host_uuid);
	snprintf(sh.libvirt_uri, sizeof(sh.libvirt_uri), "%s", hi->libvirt_uri);
	snprintf(sh.migration_address, sizeof(sh.migration_address), "%s",
	    hi->migration_address);
	snprintf(sh.arch, sizeof(sh.arch), "%s", hi->arch ? hi->arch : "");
	sh.cpus = hi->cpus;
	sh.mem_mib = hi->mem_mib;
	sh.mem_free_mib = hi->mem_free_mib;
	sh.reserve_mib = hi->reserve_mib;
	sh.last_seen_ms = now;
	if (store_host_set_info(st, &sh) < 0)
		goto fail;

	if (n > 0 && (vms = calloc(n, sizeof(*vms))) == NULL)
		goto fail;
	for (i = 0; i < n; i++) {
		const Ferry__Domain *d = h->inv->domains[i];
		struct store_vm *v = &vms[i];

		snprintf(v->name, sizeof(v->name), "%s", d->name);
		snprintf(v->uuid, sizeof(v->uuid), "%s", d->uuid);
		snprintf(v->host, sizeof(v->host), "%s", h->conf.name);
		snprintf(v->state, sizeof(v->state), "%s", d->state);
		snprintf(v->reason, sizeof(v->reason), "%s",
		    d->reason ? d->reason : "");
		v->mem_mib = d->mem_mib;
		v->vcpus = d->vcpus;
		v->persistent = d->persistent;
		v->bloblen = ferry__domain__get_packed_size(d);
		if ((v->blob = malloc(v->bloblen ? v->bloblen : 1)) == NULL)
			goto fail;
		ferry__domain__pack(d, v->blob);
		v->updated_ms = now;
	}
	if (store_inventory_replace(st, h->conf.name, vms, n, now) < 0)
		goto fail;
	store_vm_list_free(vms, n);
	return;
fail:
	log_warnx("host %s: cannot record inventory: %s", h->conf.name,
	    store_error(st));
	store_vm_list_free(vms, n);
}

static void
cluster_write(struct host *h)
{
	if (h->inv == NULL || !h->inv_dirty)
		return;
	cluster_persist(h);
	h->inv_dirty = 0;
	h->inv_written_ms = uv_now(h->co->loop);
}

/* now: write it at once rather than when due. */
static void
cluster_set_inventory(struct host *h, Ferry__Inventory *inv, int now)
{
	if (h->inv)
		ferry__inventory__free_unpacked(h->inv, NULL);
	h->inv = inv;
	h->inv_dirty = 1;
	if (now || uv_now(h->co->loop) - h->inv_written_ms >=
	    CLUSTER_INV_WRITE_MS)
		cluster_write(h);
}

/* The sweep: inventories whose write is due (all: every one, shutdown). */
void
cluster_flush(struct coord *co, int all)
{
	uint64_t now = uv_now(co->loop);
	size_t i;

	for (i = 0; i < co->nhosts; i++) {
		struct host *h = &co->hosts[i];

		if (h->inv_dirty && (all || now - h->inv_written_ms >=
		    CLUSTER_INV_WRITE_MS))
			cluster_write(h);
	}
}

/* The session said hello and sent its first inventory; takes inv. */
void
cluster_host_up(struct host *h, Ferry__Inventory *inv)
{
	h->up = 1;
	h->last_error[0] = '\0';
	h->last_seen_ms = coord_now_ms();
	cluster_set_inventory(h, inv, 1);
	if (store_host_set_conn(h->co->store, h->conf.name, "up", "",
	    h->last_seen_ms) < 0)
		log_warnx("%s", store_error(h->co->store));
	log_info("host %s up: %s, %u cpus, %llu MiB, %zu domains",
	    h->conf.name, inv->host->hostname, inv->host->cpus,
	    (unsigned long long)inv->host->mem_mib, inv->n_domains);
	job_host_up(h);
	drain_host_up(h);
}

void
cluster_host_down(struct host *h, const char *reason)
{
	h->up = 0;
	cluster_write(h);	/* the last inventory it sent */
	snprintf(h->last_error, sizeof(h->last_error), "%s", reason);
	if (store_host_set_conn(h->co->store, h->conf.name, "down", reason,
	    coord_now_ms()) < 0)
		log_warnx("%s", store_error(h->co->store));
	log_warnx("host %s down: %s", h->conf.name, reason);
	job_host_down(h);
}

/* A newer inventory from an up host; takes inv. */
void
cluster_inventory(struct host *h, Ferry__Inventory *inv)
{
	log_debug("host %s: inventory generation %llu, %zu domains",
	    h->conf.name, (unsigned long long)inv->generation, inv->n_domains);
	cluster_set_inventory(h, inv, 0);
}
