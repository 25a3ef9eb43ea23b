/* cmd-abort.c: ferryctl abort JOB */
#include <inttypes.h>
#include <stdio.h>

#include "ferryctl.h"

static int
cmd_abort_exec(struct ctl *c, int argc, char **argv)
{
	Ferry__JobRequest req = FERRY__JOB_REQUEST__INIT;
	Ferry__JobInfo *ji;

	if (argc != 2)
		return out_usage(&cmd_abort);
	if (ctl_parse_id(argv[1], &req.id) < 0)
		return CTL_EXIT_USAGE;
	if (ctl_connect(c) < 0)
		return CTL_EXIT_UNREACHABLE;
	if (ctl_call(c, MSG_CTL_ABORT, &req.base, &ferry__job_info__descriptor,
	    (ProtobufCMessage **)&ji) < 0)
		return CTL_EXIT_FAIL;
	/* The job ends later; watch shows how. */
	printf("abort requested for job %" PRIu64 " (state %s)\n", ji->id,
	    ji->state);
	ferry__job_info__free_unpacked(ji, NULL);
	return CTL_EXIT_OK;
}

const struct ctl_cmd cmd_abort = {
	"abort", "JOB", "ask the coordinator to abort a running job",
	cmd_abort_exec,
};
