/* store_host.c: hosts (configured, connection, admin state, facts),
 * their trust record and their inventory of VMs; see store.h.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "store_int.h"

int
store_host_configure(struct store *s, const char *name, const char *address,
    int port)
{
	const char *fn = "store_host_configure";
	struct store_host h;
	struct db_stmt *st;

	if (store_check_len(s, fn, "host name", name, sizeof(h.name)) == -1 ||
	    store_check_len(s, fn, "address", address,
	    sizeof(h.address)) == -1 || store_check_port(s, fn, port) == -1)
		return -1;
	st = store_stmt(s, Q_HOST_CONFIGURE);
	store_bind_text(st, 1, name);
	store_bind_text(st, 2, address);
	store_bind_int64(st, 3, port);
	return store_run(s, st, fn);
}

static void
store_host_row(struct db_stmt *st, struct store_host *h)
{
	memset(h, 0, sizeof(*h));
	store_col_text(st, 0, h->name, sizeof(h->name));
	store_col_text(st, 1, h->address, sizeof(h->address));
	h->port = (int)store_col_int64(st, 2);
	store_col_text(st, 3, h->admin_state, sizeof(h->admin_state));
	store_col_text(st, 4, h->conn_state, sizeof(h->conn_state));
	store_col_text(st, 5, h->host_uuid, sizeof(h->host_uuid));
	store_col_text(st, 6, h->libvirt_uri, sizeof(h->libvirt_uri));
	store_col_text(st, 7, h->migration_address,
	    sizeof(h->migration_address));
	store_col_text(st, 8, h->arch, sizeof(h->arch));
	h->cpus = (uint32_t)store_col_int64(st, 9);
	h->mem_mib = store_col_u64(st, 10);
	h->mem_free_mib = store_col_u64(st, 11);
	h->reserve_mib = store_col_u64(st, 12);
	h->last_seen_ms = store_col_u64(st, 13);
	store_col_text(st, 14, h->last_error, sizeof(h->last_error));
}

int
store_host_get(struct store *s, const char *name, struct store_host *h)
{
	struct db_stmt *st = store_stmt(s, Q_HOST_GET);
	int rc;

	store_bind_text(st, 1, name);
	switch (db_step(st)) {
	case DB_ROW:
		store_host_row(st, h);
		rc = 1;
		break;
	case DB_DONE:
		rc = 0;
		break;
	default:
		store_dberr(s, "store_host_get");
		rc = -1;
		break;
	}
	db_reset(st);
	return rc;
}

int
store_hosts_list(struct store *s, struct store_host **out, size_t *nout)
{
	const char *fn = "store_hosts_list";
	struct db_stmt *st = store_stmt(s, Q_HOSTS_LIST);
	struct store_host *arr = NULL;
	size_t n = 0, cap = 0;
	int rc;

	*out = NULL;
	*nout = 0;
	while ((rc = db_step(st)) == DB_ROW) {
		if (store_grow(s, fn, (void **)&arr, &cap, n,
		    sizeof(*arr)) == -1)
			goto fail;
		store_host_row(st, &arr[n++]);
	}
	if (rc != DB_DONE) {
		store_dberr(s, fn);
		goto fail;
	}
	db_reset(st);
	*out = arr;
	*nout = n;
	return 0;
 fail:
	db_reset(st);
	free(arr);
	return -1;
}

int
store_host_set_conn(struct store *s, const char *name, const char *conn_state,
    const char *last_error, uint64_t now_ms)
{
	const char *fn = "store_host_set_conn";
	struct db_stmt *st;

	if (conn_state == NULL || (strcmp(conn_state, "up") != 0 &&
	    strcmp(conn_state, "down") != 0)) {
		store_seterr(s, fn, "bad connection state %s",
		    conn_state ? conn_state : "(null)");
		return -1;
	}
	st = store_stmt(s, Q_HOST_SET_CONN);
	store_bind_text(st, 1, name);
	store_bind_text(st, 2, conn_state);
	store_bind_text(st, 3, last_error);
	store_bind_u64(st, 4, now_ms);
	if (store_run(s, st, fn) == -1)
		return -1;
	return store_changed(s, fn, "host", name);
}

int
store_host_set_admin(struct store *s, const char *name,
    const char *admin_state)
{
	const char *fn = "store_host_set_admin";
	struct db_stmt *st;

	if (admin_state == NULL || (strcmp(admin_state, "active") != 0 &&
	    strcmp(admin_state, "draining") != 0 &&
	    strcmp(admin_state, "maintenance") != 0)) {
		store_seterr(s, fn, "bad admin state %s",
		    admin_state ? admin_state : "(null)");
		return -1;
	}
	st = store_stmt(s, Q_HOST_SET_ADMIN);
	store_bind_text(st, 1, name);
	store_bind_text(st, 2, admin_state);
	if (store_run(s, st, fn) == -1)
		return -1;
	return store_changed(s, fn, "host", name);
}

int
store_host_set_info(struct store *s, const struct store_host *h)
{
	const char *fn = "store_host_set_info";
	struct db_stmt *st = store_stmt(s, Q_HOST_SET_INFO);

	store_bind_text(st, 1, h->name);
	store_bind_text(st, 2, h->host_uuid);
	store_bind_text(st, 3, h->libvirt_uri);
	store_bind_text(st, 4, h->migration_address);
	store_bind_text(st, 5, h->arch);
	store_bind_int64(st, 6, h->cpus);
	store_bind_u64(st, 7, h->mem_mib);
	store_bind_u64(st, 8, h->mem_free_mib);
	store_bind_u64(st, 9, h->reserve_mib);
	if (store_run(s, st, fn) == -1)
		return -1;
	return store_changed(s, fn, "host", h->name);
}

int
store_host_seen(struct store *s, const char *name, uint64_t now_ms)
{
	const char *fn = "store_host_seen";
	struct db_stmt *st = store_stmt(s, Q_HOST_SEEN);

	store_bind_text(st, 1, name);
	store_bind_u64(st, 2, now_ms);
	if (store_run(s, st, fn) == -1)
		return -1;
	return store_changed(s, fn, "host", name);
}

int
store_trust_get(struct store *s, const char *name, struct store_trust *t)
{
	struct db_stmt *st = store_stmt(s, Q_TRUST_GET);
	int rc;

	memset(t, 0, sizeof(*t));
	store_bind_text(st, 1, name);
	switch (db_step(st)) {
	case DB_ROW:
		store_col_text(st, 0, t->name, sizeof(t->name));
		store_col_text(st, 1, t->libvirt_uri, sizeof(t->libvirt_uri));
		store_col_text(st, 2, t->migration_address,
		    sizeof(t->migration_address));
		t->flagged = (int)store_col_int64(st, 3) != 0;
		store_col_text(st, 4, t->reason, sizeof(t->reason));
		t->updated_ms = store_col_u64(st, 5);
		rc = 1;
		break;
	case DB_DONE:
		rc = 0;
		break;
	default:
		store_dberr(s, "store_trust_get");
		rc = -1;
		break;
	}
	db_reset(st);
	return rc;
}

int
store_trust_set(struct store *s, const struct store_trust *t)
{
	struct db_stmt *st = store_stmt(s, Q_TRUST_SET);

	store_bind_text(st, 1, t->name);
	store_bind_text(st, 2, t->libvirt_uri);
	store_bind_text(st, 3, t->migration_address);
	store_bind_int64(st, 4, t->flagged != 0);
	store_bind_text(st, 5, t->reason);
	store_bind_u64(st, 6, t->updated_ms);
	return store_run(s, st, "store_trust_set");
}

/* VMs */

int
store_inventory_replace(struct store *s, const char *host,
    const struct store_vm *vms, size_t n, uint64_t now_ms)
{
	const char *fn = "store_inventory_replace";
	struct store_host h;
	struct db_stmt *st;
	size_t i;

	if (store_check_len(s, fn, "host name", host, sizeof(h.name)) == -1)
		return -1;
	for (i = 0; i < n; i++)
		if (store_check_len(s, fn, "vm name", vms[i].name,
		    sizeof(vms[i].name)) == -1)
			return -1;
	switch (store_host_get(s, host, &h)) {
	case -1:
		return -1;
	case 0:
		store_seterr(s, fn, "no host %s", host);
		return -1;
	}
	if (store_begin(s, fn) == -1)
		return -1;
	st = store_stmt(s, Q_VMS_DELETE);
	store_bind_text(st, 1, host);
	if (store_run(s, st, fn) == -1)
		goto fail;
	for (i = 0; i < n; i++) {
		const struct store_vm *v = &vms[i];

		st = store_stmt(s, Q_VM_INSERT);
		store_bind_text(st, 1, host);
		store_bind_text(st, 2, v->name);
		store_bind_text(st, 3, v->uuid);
		store_bind_text(st, 4, v->state);
		store_bind_text(st, 5, v->reason);
		store_bind_u64(st, 6, v->mem_mib);
		store_bind_int64(st, 7, v->vcpus);
		store_bind_int64(st, 8, v->persistent ? 1 : 0);
		if (v->blob != NULL && v->bloblen > 0)
			db_bind_blob(st, 9, v->blob, v->bloblen);
		store_bind_u64(st, 10, now_ms);
		if (store_run(s, st, fn) == -1) {
			char why[sizeof(s->err)];

			/* Name the VM: a duplicate is the likely cause. */
			snprintf(why, sizeof(why), "%s",
			    s->err + strlen(fn) + 2);
			store_seterr(s, fn, "vm %s: %s", v->name, why);
			goto fail;
		}
	}
	return store_commit(s, fn);
 fail:
	store_rollback(s);
	return -1;
}

int
store_vms_list(struct store *s, const char *host, struct store_vm **out,
    size_t *nout)
{
	const char *fn = "store_vms_list";
	struct db_stmt *st = store_stmt(s, Q_VMS_LIST);
	struct store_vm *arr = NULL, *v;
	size_t n = 0, cap = 0;
	const void *blob;
	size_t len;
	int rc;

	*out = NULL;
	*nout = 0;
	store_bind_text(st, 1, host);
	while ((rc = db_step(st)) == DB_ROW) {
		if (store_grow(s, fn, (void **)&arr, &cap, n,
		    sizeof(*arr)) == -1)
			goto fail;
		v = &arr[n++];
		store_col_text(st, 0, v->name, sizeof(v->name));
		store_col_text(st, 1, v->uuid, sizeof(v->uuid));
		store_col_text(st, 2, v->host, sizeof(v->host));
		store_col_text(st, 3, v->state, sizeof(v->state));
		store_col_text(st, 4, v->reason, sizeof(v->reason));
		v->mem_mib = store_col_u64(st, 5);
		v->vcpus = (uint32_t)store_col_int64(st, 6);
		v->persistent = (int)store_col_int64(st, 7);
		v->updated_ms = store_col_u64(st, 9);
		blob = db_col_blob(st, 8, &len);
		if (blob != NULL && len > 0) {
			if ((v->blob = malloc(len)) == NULL) {
				store_seterr(s, fn, "%s", strerror(errno));
				goto fail;
			}
			memcpy(v->blob, blob, len);
			v->bloblen = len;
		}
	}
	if (rc != DB_DONE) {
		store_dberr(s, fn);
		goto fail;
	}
	db_reset(st);
	*out = arr;
	*nout = n;
	return 0;
 fail:
	db_reset(st);
	store_vm_list_free(arr, n);
	return -1;
}

void
store_vm_list_free(struct store_vm *vms, size_t n)
{
	size_t i;

	if (vms == NULL)
		return;
	for (i = 0; i < n; i++)
		free(vms[i].blob);
	free(vms);
}
