/* fuzz_store.c: libFuzzer harness for the coordinator's decoding of stored
 * inventory blobs (a packed Ferry.Domain per VM in SQLite, read back when
 * its host is down). The input is the blob: written with the store's own
 * functions into a real database, read back, decoded as `ferryctl vms`
 * gets it (api.c), and the reply packed and unpacked as ferryctl would.
 * A corrupt or hostile database must give a VM without disks, never a
 * crash. Seeds: gen_corpus writes packed domains. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "coordinator.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static struct store *fz_store;
static char fz_dir[64];

static void
fz_die(const char *what)
{
	fprintf(stderr, "fuzz_store: %s\n", what);
	abort();
}

/* At exit: the database and its directory go. */
static void
fz_cleanup(void)
{
	static const char *files[] = { "ferry.db", "ferry.db-wal",
	    "ferry.db-shm" };
	char path[128];
	size_t i;

	store_close(fz_store);
	fz_store = NULL;
	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", fz_dir, files[i]);
		unlink(path);
	}
	rmdir(fz_dir);
}

static void
fz_init(void)
{
	char path[128], err[512];

	/* tmpfs when there is one: every input is a synchronous commit. */
	snprintf(fz_dir, sizeof(fz_dir), "/dev/shm/ferry-fuzz-store.XXXXXX");
	if (mkdtemp(fz_dir) == NULL) {
		snprintf(fz_dir, sizeof(fz_dir), "/tmp/ferry-fuzz-store.XXXXXX");
		if (mkdtemp(fz_dir) == NULL)
			fz_die("mkdtemp");
	}
	snprintf(path, sizeof(path), "%s/ferry.db", fz_dir);
	if (store_open(path, &fz_store, err, sizeof(err)) < 0)
		fz_die(err);
	atexit(fz_cleanup);
	if (store_host_configure(fz_store, "h1", "127.0.0.1", 7220) < 0)
		fz_die(store_error(fz_store));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	Ferry__VmsReply r = FERRY__VMS_REPLY__INIT, *back;
	Ferry__VmEntry e, *ev[1];
	Ferry__Domain *d = NULL;
	struct store_vm v, *svms = NULL;
	size_t nsv = 0, len, i;
	uint8_t *buf;

	if (fz_store == NULL)
		fz_init();
	memset(&v, 0, sizeof(v));
	snprintf(v.name, sizeof(v.name), "vm1");
	snprintf(v.uuid, sizeof(v.uuid), "6c0e7a4e-0000-4000-8000-000000000001");
	snprintf(v.state, sizeof(v.state), "running");
	v.mem_mib = 256;
	v.vcpus = 1;
	v.blob = (uint8_t *)data;
	v.bloblen = size;
	if (store_inventory_replace(fz_store, "h1", &v, 1, 1) < 0)
		fz_die(store_error(fz_store));
	if (store_vms_list(fz_store, "h1", &svms, &nsv) < 0 || nsv != 1)
		fz_die("the VM did not come back");
	if (svms[0].bloblen != size || (size && memcmp(svms[0].blob, data,
	    size) != 0))
		fz_die("the blob came back changed");
	api_vm_entry_stored(&svms[0], "h1", &e, &d);
	ev[0] = &e;
	r.vms = ev;
	r.n_vms = 1;
	len = ferry__vms_reply__get_packed_size(&r);
	if ((buf = malloc(len ? len : 1)) == NULL)
		fz_die("out of memory");
	ferry__vms_reply__pack(&r, buf);
	if ((back = ferry__vms_reply__unpack(NULL, len, buf)) == NULL)
		fz_die("the reply does not unpack");
	if (back->n_vms != 1 || back->vms[0]->n_disks != e.n_disks)
		fz_die("the reply lost something");
	for (i = 0; i < back->vms[0]->n_disks; i++)
		if (strcmp(back->vms[0]->disks[i]->target,
		    e.disks[i]->target) != 0)
			fz_die("a disk changed on the way");
	ferry__vms_reply__free_unpacked(back, NULL);
	free(buf);
	if (d != NULL)
		ferry__domain__free_unpacked(d, NULL);
	store_vm_list_free(svms, nsv);
	return 0;
}
