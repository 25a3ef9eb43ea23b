/* cmd-migrate.c: ferryctl migrate VM [--to HOST] [options] */
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "converge.h"
#include "ferryctl.h"

static int
cmd_migrate_exec(struct ctl *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "to", required_argument, NULL, 't' },
		{ "bandwidth", required_argument, NULL, 'b' },
		{ "max-downtime", required_argument, NULL, 'd' },
		{ "timeout", required_argument, NULL, 'T' },
		{ "postcopy", optional_argument, NULL, 'p' },
		{ "no-postcopy", no_argument, NULL, 'P' },
		{ "auto-converge", no_argument, NULL, 'a' },
		{ "copy-storage", no_argument, NULL, 'c' },
		{ "no-wait", no_argument, NULL, 'n' },
		{ "json", no_argument, NULL, 'j' },
		{ "parallel", required_argument, NULL, 'M' },
		{ "tls", no_argument, NULL, 'L' },
		{ "no-tls", no_argument, NULL, 'N' },
		{ NULL, 0, NULL, 0 },
	};
	Ferry__MigrateOptions req = FERRY__MIGRATE_OPTIONS__INIT;
	Ferry__JobInfo *ji;
	uint64_t v;
	int ch, json = 0, wait = 1;

	/* 0, not 1: glibc then forgets main's '+' and lets options
	 * follow the VM or job id. */
	optind = 0;
	while ((ch = getopt_long(argc, argv, "t:b:d:T:pPacnjM:LN", opts,
	    NULL)) != -1) {
		switch (ch) {
		case 't':
			req.to = optarg;
			break;
		case 'b':
			if (ctl_parse_num("--bandwidth", optarg, UINT64_MAX,
			    &v) < 0)
				return CTL_EXIT_USAGE;
			req.has_bandwidth_mibs = 1;
			req.bandwidth_mibs = v;
			break;
		case 'd':
			if (ctl_parse_num("--max-downtime", optarg, UINT32_MAX,
			    &v) < 0)
				return CTL_EXIT_USAGE;
			req.has_max_downtime_ms = 1;
			req.max_downtime_ms = (uint32_t)v;
			break;
		case 'T':
			if (ctl_parse_num("--timeout", optarg, UINT32_MAX,
			    &v) < 0)
				return CTL_EXIT_USAGE;
			req.has_timeout_s = 1;
			req.timeout_s = (uint32_t)v;
			break;
		case 'p':
			/* --postcopy alone: when stalled (as before) */
			req.has_postcopy = 1;
			req.postcopy = optarg ? converge_postcopy_mode(optarg) : 1;
			if (req.postcopy == 0) {
				out_fail("--postcopy must be never, "
				    "stalled or always, not '%s'", optarg);
				return CTL_EXIT_USAGE;
			}
			break;
		case 'P':
			req.has_postcopy = 1;
			req.postcopy = -1;
			break;
		case 'a':
			req.has_auto_converge = 1;
			req.auto_converge = 1;
			break;
		case 'c':
			req.has_copy_storage = 1;
			req.copy_storage = 1;
			break;
		case 'n':
			wait = 0;
			break;
		case 'M':
			if (ctl_parse_parallel(optarg, &req.parallel) < 0)
				return CTL_EXIT_USAGE;
			req.has_parallel = 1;
			break;
		case 'L':
		case 'N':
			req.has_tls = 1;
			req.tls = ch == 'L' ? 1 : -1;
			break;
		case 'j':
			json = 1;
			out_set_json(1);
			break;
		default:
			return out_usage(&cmd_migrate);
		}
	}
	if (optind != argc - 1 || argv[optind][0] == '\0')
		return out_usage(&cmd_migrate);
	req.vm = argv[optind];
	req.has_wait = 1;
	req.wait = wait;

	if (ctl_connect(c) < 0)
		return CTL_EXIT_UNREACHABLE;
	if (wait)
		return progress_follow(c, MSG_CTL_MIGRATE, &req.base, json);
	if (ctl_call(c, MSG_CTL_MIGRATE, &req.base, &ferry__job_info__descriptor,
	    (ProtobufCMessage **)&ji) < 0)
		return CTL_EXIT_FAIL;
	progress_print_started(ji, json);
	ferry__job_info__free_unpacked(ji, NULL);
	return CTL_EXIT_OK;
}

const struct ctl_cmd cmd_migrate = {
	"migrate",
	"VM [--to HOST] [--bandwidth MIB] [--max-downtime MS] [--timeout SEC] "
	    "[--postcopy[=never|stalled|always]|--no-postcopy] [--auto-converge] [--copy-storage] "
	    "[--parallel N] [--tls|--no-tls] [--no-wait] [--json]",
	"live-migrate a VM and follow the job",
	cmd_migrate_exec,
};
