/* cmd-abort.c: ferryctl abort JOB [--json] */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>

#include "ferryctl.h"

static int
cmd_abort_exec(struct ctl *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	Ferry__JobRequest req = FERRY__JOB_REQUEST__INIT;
	Ferry__JobInfo *ji;
	int ch, json = 0;

	/* 0, not 1: glibc then forgets main's '+' and lets options
	 * follow the job id. */
	optind = 0;
	while ((ch = getopt_long(argc, argv, "j", opts, NULL)) != -1) {
		if (ch != 'j')
			return out_usage(&cmd_abort);
		json = 1;
		out_set_json(1);
	}
	if (optind != argc - 1)
		return out_usage(&cmd_abort);
	if (ctl_parse_id(argv[optind], &req.id) < 0)
		return CTL_EXIT_USAGE;
	if (ctl_connect(c) < 0)
		return CTL_EXIT_UNREACHABLE;
	if (ctl_call(c, MSG_CTL_ABORT, &req.base, &ferry__job_info__descriptor,
	    (ProtobufCMessage **)&ji) < 0)
		return CTL_EXIT_FAIL;
	/* The job ends later; watch shows how. */
	if (json)
		out_json(jsonv_job(ji));
	else
		printf("abort requested for job %" PRIu64 " (state %s)\n",
		    ji->id, ji->state);
	ferry__job_info__free_unpacked(ji, NULL);
	return CTL_EXIT_OK;
}

const struct ctl_cmd cmd_abort = {
	"abort", "JOB [--json]", "ask the coordinator to abort a running job",
	cmd_abort_exec,
};
