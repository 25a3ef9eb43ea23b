/* validate.h: checks on names and URIs that reach libvirt. Nothing Ferry
 * receives is passed to a shell; these keep what reaches libvirt to what a
 * domain name or a migration URI can legitimately be. */
#ifndef FERRY_VALIDATE_H
#define FERRY_VALIDATE_H

#include <stddef.h>

/* multifd connections: 1 is one stream; QEMU allows 255, but each one is a
 * thread and a socket on both hosts, and past a few the link, not the
 * stream, is the limit. */
#define VALIDATE_PARALLEL_MAX	16

/* The ranges of a migration's options, ferryctl's and the API's alike. */
#define VALIDATE_MAX_BANDWIDTH_MIBS	1048576		/* 1 TiB/s */
#define VALIDATE_MAX_DOWNTIME_MS	60000		/* a minute's pause */
#define VALIDATE_MAX_TIMEOUT_S		86400		/* a day */

/* validate.c */
int	validate_domain_name(const char *, char *err, size_t errlen);
int	validate_host_name(const char *, char *err, size_t errlen);
int	validate_libvirt_uri(const char *, char *err, size_t errlen);
int	validate_migration_address(const char *, char *err, size_t errlen);
int	validate_migrate_uri(const char *, char *err, size_t errlen);
int	validate_parallel(unsigned long long, char *err, size_t errlen);

#endif
