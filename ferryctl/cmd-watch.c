/* cmd-watch.c: ferryctl watch JOB [--json] */
#include <getopt.h>
#include <stdio.h>

#include "ferryctl.h"

static int
cmd_watch_exec(struct ctl *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	Ferry__JobRequest req = FERRY__JOB_REQUEST__INIT;
	int ch, json = 0;

	/* 0, not 1: glibc then forgets main's '+' and lets options
	 * follow the VM or job id. */
	optind = 0;
	while ((ch = getopt_long(argc, argv, "j", opts, NULL)) != -1) {
		if (ch != 'j')
			return out_usage(&cmd_watch);
		json = 1;
		out_set_json(1);
	}
	if (optind != argc - 1)
		return out_usage(&cmd_watch);
	if (ctl_parse_id(argv[optind], &req.id) < 0)
		return CTL_EXIT_USAGE;
	if (ctl_connect(c) < 0)
		return CTL_EXIT_UNREACHABLE;
	return progress_follow(c, MSG_CTL_WATCH, &req.base,
	    json ? PROGRESS_JSON : 0);
}

const struct ctl_cmd cmd_watch = {
	"watch", "JOB [--json]", "follow a job's progress until it ends",
	cmd_watch_exec,
};
