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
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coordinator.h"
#include "cpucache.h"
#include "log.h"
#include "validate.h"

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
	uint64_t now = clock_wall_ms();
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

/* ---- trust ---------------------------------------------------------------
 *
 * What a host says of itself is believed only where it concerns its own
 * VMs and capacity. Where it is reached (the libvirt URI other hosts'
 * libvirtd open, the address QEMU streams to) is the operator's: the
 * coordinator's configuration, or the host's first report, pinned in the
 * store. A later report that differs flags the host: it is not used as a
 * destination until `ferryctl hosts accept HOST`.
 */

/* A host's string made safe for a log line or a terminal. */
static void
cluster_escape(const char *s, char *out, size_t len)
{
	size_t o = 0;

	for (; s && *s && o + 5 < len; s++) {
		unsigned char c = *s;

		if (c < 0x20 || c >= 0x7f || c == '\\')
			o += snprintf(out + o, len - o, "\\x%02x", c);
		else
			out[o++] = c;
	}
	out[o] = '\0';
}

static void
cluster_trust_store(struct host *h)
{
	struct store_trust t;

	memset(&t, 0, sizeof(t));
	snprintf(t.name, sizeof(t.name), "%s", h->conf.name);
	if (!h->conf.libvirt_uri[0])
		snprintf(t.libvirt_uri, sizeof(t.libvirt_uri), "%s", h->trust_uri);
	if (!h->conf.migration_address[0])
		snprintf(t.migration_address, sizeof(t.migration_address), "%s",
		    h->trust_maddr);
	t.flagged = h->flagged;
	snprintf(t.reason, sizeof(t.reason), "%s", h->flag_reason);
	t.updated_ms = clock_wall_ms();
	if (store_trust_set(h->co->store, &t) < 0)
		log_warnx("host %s: cannot record its trust: %s", h->conf.name,
		    store_error(h->co->store));
}

/* The configuration, then what the store pinned. */
int
cluster_trust_load(struct host *h, char *err, size_t errlen)
{
	struct store_trust t;
	int r;

	if ((r = store_trust_get(h->co->store, h->conf.name, &t)) < 0) {
		snprintf(err, errlen, "%s", store_error(h->co->store));
		return -1;
	}
	snprintf(h->trust_uri, sizeof(h->trust_uri), "%s",
	    h->conf.libvirt_uri[0] ? h->conf.libvirt_uri :
	    r == 1 ? t.libvirt_uri : "");
	snprintf(h->trust_maddr, sizeof(h->trust_maddr), "%s",
	    h->conf.migration_address[0] ? h->conf.migration_address :
	    r == 1 ? t.migration_address : "");
	h->trust_source = h->conf.libvirt_uri[0] ? "configured" :
	    h->trust_uri[0] ? "pinned" : NULL;
	h->flagged = r == 1 && t.flagged;
	snprintf(h->flag_reason, sizeof(h->flag_reason), "%s",
	    r == 1 ? t.reason : "");
	return 0;
}

const char *
cluster_host_libvirt_uri(const struct host *h)
{
	return h->trust_uri[0] ? h->trust_uri : NULL;
}

const char *
cluster_host_migration_address(const struct host *h)
{
	return h->trust_maddr[0] ? h->trust_maddr : NULL;
}

/* Records the latest thing the coordinator refused to believe of h; logged
 * when it changes, not on every repeat (a liar may repeat itself). */
void
cluster_host_notice(struct host *h, const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	h->notice_ms = clock_wall_ms();
	if (strcmp(buf, h->notice) == 0)
		return;
	snprintf(h->notice, sizeof(h->notice), "%s", buf);
	log_warnx("host %s: %s", h->conf.name, buf);
}

static void
cluster_flag(struct host *h, const char *why)
{
	if (h->flagged && strcmp(h->flag_reason, why) == 0)
		return;
	h->flagged = 1;
	snprintf(h->flag_reason, sizeof(h->flag_reason), "%s", why);
	log_warnx("host %s flagged: %s; it is not used as a destination until "
	    "the operator runs 'ferryctl hosts accept %s'", h->conf.name, why,
	    h->conf.name);
	cluster_trust_store(h);
}

/* One address of h's report against the trusted one: pins it at first
 * contact, flags the host when it differs or is unsafe. */
static void
cluster_trust_field(struct host *h, const char *what, const char *reported,
    char *trusted, size_t tlen, int configured,
    int (*valid)(const char *, char *, size_t))
{
	char esc[300], why[512], e[300];

	cluster_escape(reported, esc, sizeof(esc));
	if (trusted[0] == '\0') {
		if (valid(reported, e, sizeof(e)) < 0) {
			snprintf(why, sizeof(why), "reports a %s Ferry refuses "
			    "('%s': %s)", what, esc, e);
			cluster_flag(h, why);
			return;
		}
		snprintf(trusted, tlen, "%s", reported);
		log_info("host %s: %s %s pinned at first contact", h->conf.name,
		    what, esc);
		if (strcmp(what, "libvirt URI") == 0)
			h->trust_source = "pinned";
		cluster_trust_store(h);
		return;
	}
	if (strcmp(reported, trusted) != 0) {
		snprintf(why, sizeof(why), "reports %s '%s', but the %s one is "
		    "'%s'", what, esc, configured ? "configured" : "pinned",
		    trusted);
		cluster_flag(h, why);
	}
}

static void
cluster_trust_check(struct host *h)
{
	const Ferry__HostInfo *hi = h->inv->host;

	cluster_trust_field(h, "libvirt URI", hi->libvirt_uri, h->trust_uri,
	    sizeof(h->trust_uri), h->conf.libvirt_uri[0] != '\0',
	    validate_libvirt_uri);
	cluster_trust_field(h, "migration address", hi->migration_address,
	    h->trust_maddr, sizeof(h->trust_maddr),
	    h->conf.migration_address[0] != '\0', validate_migration_address);
}

/* ferryctl hosts accept: the operator takes the host's current report
 * (checked as at first contact) and clears the flag. */
int
cluster_trust_accept(struct coord *co, const char *name, char *err,
    size_t errlen)
{
	struct host *h = coord_host_find(co, name);
	const Ferry__HostInfo *hi;
	char e[300];

	if (h == NULL) {
		snprintf(err, errlen, "unknown host '%s'", name);
		return -FERRY_ENOTFOUND;
	}
	if (!h->up || h->inv == NULL) {
		snprintf(err, errlen, "host %s is not connected: accepting needs "
		    "its current report", name);
		return -FERRY_ECONFLICT;
	}
	hi = h->inv->host;
	if (validate_libvirt_uri(hi->libvirt_uri, e, sizeof(e)) < 0 ||
	    validate_migration_address(hi->migration_address, e,
	    sizeof(e)) < 0) {
		snprintf(err, errlen, "host %s: %s", name, e);
		return -1;
	}
	if ((h->conf.libvirt_uri[0] && strcmp(h->conf.libvirt_uri,
	    hi->libvirt_uri) != 0) || (h->conf.migration_address[0] &&
	    strcmp(h->conf.migration_address, hi->migration_address) != 0)) {
		snprintf(err, errlen, "host %s reports %s and %s, which differ "
		    "from coordinator.conf; change one of the two configurations",
		    name, hi->libvirt_uri, hi->migration_address);
		return -1;
	}
	snprintf(h->trust_uri, sizeof(h->trust_uri), "%s", hi->libvirt_uri);
	snprintf(h->trust_maddr, sizeof(h->trust_maddr), "%s",
	    hi->migration_address);
	if (!h->conf.libvirt_uri[0])
		h->trust_source = "pinned";
	h->flagged = 0;
	h->flag_reason[0] = '\0';
	cluster_trust_store(h);
	log_info("host %s accepted by the operator: libvirt URI %s, migration "
	    "address %s", name, h->trust_uri, h->trust_maddr);
	return 0;
}

/* ---- VMs claimed twice ------------------------------------------------- */

static int
cluster_domain_active(const Ferry__Domain *d)
{
	return strcmp(d->state, "shutoff") != 0;
}

/* Another up host that claims a live domain of this name or UUID, or NULL.
 * Inactive definitions on several hosts are normal with shared storage. */
const char *
cluster_domain_claimed(struct coord *co, const struct host *self,
    const char *vm, const char *uuid)
{
	size_t i, k;

	for (i = 0; i < co->nhosts; i++) {
		const struct host *o = &co->hosts[i];

		if (o == self || !o->up || o->inv == NULL)
			continue;
		for (k = 0; k < o->inv->n_domains; k++) {
			const Ferry__Domain *d = o->inv->domains[k];

			if (cluster_domain_active(d) && (strcmp(d->name, vm) == 0 ||
			    (uuid && uuid[0] && strcmp(d->uuid, uuid) == 0)))
				return o->conf.name;
		}
	}
	return NULL;
}

/* A live domain in two hosts' reports, outside a migration of it, is one
 * host's lie or an accident; both are told, and job_locate refuses to
 * move it. */
static void
cluster_check_claims(struct host *h)
{
	const char *other;
	char esc[300];
	size_t k;

	for (k = 0; k < h->inv->n_domains; k++) {
		const Ferry__Domain *d = h->inv->domains[k];
		struct host *oh;
		char e[128];

		if (validate_domain_name(d->name, e, sizeof(e)) < 0) {
			cluster_escape(d->name, esc, sizeof(esc));
			cluster_host_notice(h, "reports a VM named '%s', which "
			    "Ferry refuses (%s): it is counted, never moved", esc,
			    e);
			continue;
		}
		if (!cluster_domain_active(d) || job_find_vm(h->co, d->name) ||
		    (other = cluster_domain_claimed(h->co, h, d->name,
		    d->uuid)) == NULL)
			continue;
		cluster_escape(d->name, esc, sizeof(esc));
		cluster_host_notice(h, "reports VM %s (%s), which host %s also "
		    "reports: Ferry moves neither copy", esc, d->uuid, other);
		if ((oh = coord_host_find(h->co, other)) != NULL)
			cluster_host_notice(oh, "host %s also reports its VM %s "
			    "(%s): Ferry moves neither copy", h->conf.name, esc,
			    d->uuid);
	}
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
	cpucache_inventory(h->co, h, h->inv, inv);
	if (h->inv)
		ferry__inventory__free_unpacked(h->inv, NULL);
	h->inv = inv;
	/* In memory at once, whatever the write coalescing: what a host
	 * claims is judged on every report. */
	cluster_trust_check(h);
	cluster_check_claims(h);
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
	cpucache_forget_host(h->co, h);	/* libvirt may have changed */
	h->last_seen_ms = clock_wall_ms();
	cluster_set_inventory(h, inv, 1);
	if (ha_acting(h->co) && store_host_set_conn(h->co->store,
	    h->conf.name, "up", "", h->last_seen_ms) < 0)
		log_warnx("%s", store_error(h->co->store));
	log_info("host %s up: %s, %u cpus, %llu MiB, %zu domains",
	    h->conf.name, inv->host->hostname, inv->host->cpus,
	    (unsigned long long)inv->host->mem_mib, inv->n_domains);
	/* With HA: once the host has taken the leader's epoch (ha.c). */
	if (ha_host_up(h)) {
		job_host_up(h);
		drain_host_up(h);
	}
}

void
cluster_host_down(struct host *h, const char *reason)
{
	h->up = 0;
	h->epoch_told = 0;
	snprintf(h->last_error, sizeof(h->last_error), "%s", reason);
	if (ha_acting(h->co))
		cluster_write(h);	/* the last inventory it sent */
	if (ha_acting(h->co) && store_host_set_conn(h->co->store,
	    h->conf.name, "down", reason, clock_wall_ms()) < 0)
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
