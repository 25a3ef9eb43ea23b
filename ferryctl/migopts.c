/* migopts.c: the options check and migrate share, parsed once: the
 * destination, the bandwidth cap, the longest pause, copying local disks,
 * the number of streams and TLS. */
#include <getopt.h>
#include <stdint.h>

#include "ferryctl.h"

int
ctl_migopts_parse(struct migopts *mo, int ch, const char *arg)
{
	uint64_t v;

	switch (ch) {
	case 't':
		mo->to = arg;
		return 1;
	case 'b':
		if (ctl_parse_num("--bandwidth", arg, CTL_MAX_BANDWIDTH_MIBS,
		    &v) < 0)
			return -1;
		mo->has_bandwidth = 1;
		mo->bandwidth_mibs = v;
		return 1;
	case 'd':
		if (ctl_parse_num("--max-downtime", arg, CTL_MAX_DOWNTIME_MS,
		    &v) < 0)
			return -1;
		mo->has_max_downtime = 1;
		mo->max_downtime_ms = (uint32_t)v;
		return 1;
	case 'c':
		mo->copy_storage = 1;
		return 1;
	case 'M':
		if (ctl_parse_parallel(arg, &mo->parallel) < 0)
			return -1;
		mo->has_parallel = 1;
		return 1;
	case 'L':
	case 'N':
		mo->tls = ch == 'L' ? 1 : -1;
		return 1;
	}
	return 0;
}
