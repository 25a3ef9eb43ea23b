/* migopts.h: the options a pre-check and a migration share (destination,
 * bandwidth cap, longest pause, copying local disks, streams, TLS), parsed
 * by each front end (ferryctl's flags, the HTTPS API's JSON) into one
 * struct and put into either request here, so a new shared option is
 * added in one place. The strings are borrowed: the request points at the
 * caller's, which must outlive it. */
#ifndef FERRY_MIGOPTS_H
#define FERRY_MIGOPTS_H

#include <stdint.h>

#include "msg.h"

struct migopts {
	const char	*vm, *to;
	int		 has_bandwidth, has_max_downtime, copy_storage;
	uint64_t	 bandwidth_mibs;
	uint32_t	 max_downtime_ms;
	int		 has_parallel;
	uint32_t	 parallel;	/* multifd streams, 1-16 */
	int		 tls;		/* 1 yes, -1 no, 0 the policy's */
};

/* migopts.c */
void	migopts_to_migrate(const struct migopts *, Ferry__MigrateOptions *);
void	migopts_to_check(const struct migopts *, Ferry__CheckRequest *);

#endif
