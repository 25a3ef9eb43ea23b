/* hv_libvirt.h: the libvirt hypervisor's parsers (hv_libvirt_xml.c),
 * tested on their own. */
#ifndef FERRY_HV_LIBVIRT_H
#define FERRY_HV_LIBVIRT_H

#include <stddef.h>

#include "hv.h"

/* Parse every /domain/devices/disk of a domain's XML. *out is a malloc'd
 * array of *n disks the caller frees (NULL when there are none). Returns 0,
 * or -1 with hv_last_error() set (bad XML, a field too long). */
int	 hv_libvirt_parse_disks(const char *xml, struct hv_disk **out,
	    size_t *n);

/* The serialized <cpu> of a domain's XML, and its emulator, arch, machine
 * and virttype, each malloc'd for the caller. Returns 0, or -1 with
 * hv_last_error() set and all five NULL. */
int	 hv_libvirt_parse_cpu(const char *xml, char **cpu_xml, char **emulator,
	    char **arch, char **machine, char **virttype);

/* libvirt's state reason code as a word ("migrated", "user", ...), by
 * state; "unknown" for codes it does not know. */
const char *hv_libvirt_reason_name(int state, int reason);

#endif
