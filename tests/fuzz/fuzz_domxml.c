/* fuzz_domxml.c: libFuzzer harness for hostd's domain XML extraction
 * (hv_libvirt.c): the disks and the <cpu> with what its comparison needs,
 * on XML as a host's libvirtd (or a guest's definition) could hold it.
 * Seeds: tests/data/domxml. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hv_libvirt.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct hv_disk *disks = NULL;
	char *xml, *cpu, *emu, *arch, *mach, *vt;
	size_t n = 0, i, len;

	if ((xml = malloc(size + 1)) == NULL)
		return 0;
	memcpy(xml, data, size);
	xml[size] = '\0';
	if (hv_libvirt_parse_disks(xml, &disks, &n) == 0) {
		/* Every field is a terminated string within its array. */
		for (i = 0; i < n; i++) {
			len = strlen(disks[i].source) + strlen(disks[i].target) +
			    strlen(disks[i].type) + strlen(disks[i].host) +
			    strlen(disks[i].protocol) + strlen(disks[i].format) +
			    strlen(disks[i].device);
			if (len > sizeof(disks[i]))
				abort();
		}
		free(disks);
	}
	if (hv_libvirt_parse_cpu(xml, &cpu, &emu, &arch, &mach, &vt) == 0) {
		if (!cpu[0] || !emu[0] || !arch[0] || !mach[0] || !vt[0])
			abort();	/* promised non-empty */
		free(cpu);
		free(emu);
		free(arch);
		free(mach);
		free(vt);
	}
	free(xml);
	return 0;
}
