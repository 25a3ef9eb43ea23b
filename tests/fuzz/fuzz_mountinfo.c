/* fuzz_mountinfo.c: libFuzzer harness for storage/mountinfo.c, on text as
 * /proc/self/mountinfo could hold it (mount points and sources with any
 * bytes, octal escapes, optional fields). A parsed table is then searched
 * the way the storage checks do. Seeds: tests/data/mountinfo. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "storage.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *paths[] = { "/", "/var/lib/libvirt/images/a.qcow2",
	    "/mnt/nfs/vms/x", "/mnt/nfs/../etc", "relative", "" };
	const struct mountinfo_entry *e;
	struct mountinfo *mi = NULL;
	char err[STORAGE_ERR_MAX], srv[STORAGE_NAME_MAX], p[STORAGE_PATH_MAX];
	char *text;
	size_t i;

	if ((text = malloc(size + 1)) == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	if (mountinfo_parse(text, &mi, err, sizeof(err)) == 0) {
		for (i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
			if ((e = mountinfo_find(mi, paths[i])) != NULL)
				(void)mountinfo_bind_origin(mi, e);
		for (i = 0; i < mi->nentries; i++) {
			e = &mi->entries[i];
			(void)mountinfo_find(mi, e->mountpoint);
			(void)mountinfo_bind_origin(mi, e);
			(void)mountinfo_nfs_source(e->source, srv, sizeof(srv),
			    p, sizeof(p));
		}
		mountinfo_free(mi);
	}
	free(text);
	return 0;
}
