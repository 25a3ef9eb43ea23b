/* inventory.c: what hostd reports about its host, collected from the
 * hypervisor and packed as a Ferry__Inventory. Runs on worker threads. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hostd.h"

static void
inventory_fill_disk(Ferry__Disk *pd, const struct hv_disk *d)
{
	ferry__disk__init(pd);
	pd->target = (char *)d->target;
	pd->type = (char *)d->type;
	if (d->device[0])
		pd->device = (char *)d->device;
	if (d->protocol[0])
		pd->protocol = (char *)d->protocol;
	if (d->source[0])
		pd->source = (char *)d->source;
	if (d->host[0])
		pd->host = (char *)d->host;
	if (d->format[0])
		pd->format = (char *)d->format;
	pd->has_readonly = 1;
	pd->readonly = d->readonly;
	if (d->hosts[0])
		pd->hosts = (char *)d->hosts;
	if (d->auth_user[0])
		pd->auth_user = (char *)d->auth_user;
	if (d->secret_uuid[0])
		pd->secret_uuid = (char *)d->secret_uuid;
}

/* Points pd at d's fields (borrowed) and its disks at disks/diskv, which
 * must hold d->ndisks entries. */
void
inventory_fill_domain(Ferry__Domain *pd, Ferry__Disk *disks,
    Ferry__Disk **diskv, const struct hv_domain *d)
{
	size_t j;

	ferry__domain__init(pd);
	pd->name = (char *)d->name;
	pd->uuid = (char *)d->uuid;
	pd->state = d->state_str[0] ? (char *)d->state_str :
	    (char *)hv_state_name(d->state);
	if (d->reason_str[0])
		pd->reason = (char *)d->reason_str;
	pd->mem_mib = d->mem_mib;
	pd->vcpus = d->vcpus;
	pd->has_persistent = 1;
	pd->persistent = d->persistent;
	pd->has_job_active = 1;
	pd->job_active = d->job_active;
	pd->disks = d->ndisks ? diskv : NULL;
	pd->n_disks = d->ndisks;
	for (j = 0; j < d->ndisks; j++) {
		inventory_fill_disk(&disks[j], &d->disks[j]);
		diskv[j] = &disks[j];
	}
}

/* Asks the hypervisor (blocking: worker threads only). On success the
 * caller owns *doms (hv_domain_list_free). */
int
inventory_collect(struct hv *hv, struct hv_host *host, struct hv_domain **doms,
    size_t *ndoms, char *err, size_t errlen)
{
	memset(host, 0, sizeof(*host));
	*doms = NULL;
	*ndoms = 0;
	if (hv->ops->host_info(hv, host) < 0 ||
	    hv->ops->list_domains(hv, doms, ndoms) < 0) {
		snprintf(err, errlen, "%s", hv_last_error());
		return -1;
	}
	return 0;
}

/*
 * Packs an inventory (CPU only, fine on the loop). The protobuf structs only
 * borrow strings from host and doms. *payload is malloc'd for the caller.
 */
int
inventory_pack(const struct hostd_conf *conf, const struct hv_host *host,
    const struct hv_domain *doms, size_t ndoms, uint64_t generation,
    uint8_t **payload, size_t *len)
{
	Ferry__Inventory inv = FERRY__INVENTORY__INIT;
	Ferry__HostInfo hi = FERRY__HOST_INFO__INIT;
	Ferry__Domain *pdoms = NULL, **pdomv = NULL;
	Ferry__Disk *pdisks = NULL, **pdiskv = NULL;
	size_t ndisks = 0, i, k;
	int rc = -ENOMEM;

	*payload = NULL;
	*len = 0;
	hi.hostname = (char *)host->hostname;
	hi.host_uuid = (char *)host->uuid;
	hi.libvirt_uri = (char *)conf->advertise_uri;
	hi.migration_address = (char *)conf->migration_address;
	hi.cpus = host->cpus;
	hi.mem_mib = conf->capacity_mib ? conf->capacity_mib : host->mem_mib;
	hi.mem_free_mib = host->mem_free_mib;
	hi.reserve_mib = conf->memory_reserve_mib;
	hi.arch = (char *)host->arch;
	hi.hostd_version = HOSTD_VERSION;
	hi.has_libvirt_session = 1;
	hi.libvirt_session = host->libvirt_session;

	for (i = 0; i < ndoms; i++)
		ndisks += doms[i].ndisks;
	if ((ndoms && ((pdoms = calloc(ndoms, sizeof(*pdoms))) == NULL ||
	    (pdomv = calloc(ndoms, sizeof(*pdomv))) == NULL)) ||
	    (ndisks && ((pdisks = calloc(ndisks, sizeof(*pdisks))) == NULL ||
	    (pdiskv = calloc(ndisks, sizeof(*pdiskv))) == NULL)))
		goto done;
	for (i = 0, k = 0; i < ndoms; i++) {
		inventory_fill_domain(&pdoms[i], ndisks ? &pdisks[k] : NULL,
		    ndisks ? &pdiskv[k] : NULL, &doms[i]);
		k += doms[i].ndisks;
		pdomv[i] = &pdoms[i];
	}
	inv.host = &hi;
	inv.domains = pdomv;
	inv.n_domains = ndoms;
	inv.generation = generation;

	*len = ferry__inventory__get_packed_size(&inv);
	if ((*payload = malloc(*len ? *len : 1)) == NULL)
		goto done;
	ferry__inventory__pack(&inv, *payload);
	rc = 0;
done:
	free(pdoms);
	free(pdomv);
	free(pdisks);
	free(pdiskv);
	return rc;
}
