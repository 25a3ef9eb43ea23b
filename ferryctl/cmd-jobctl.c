/* cmd-jobctl.c: ferryctl job set ID --bandwidth MIB | --max-downtime MS,
 * job postcopy ID, job complete ID [--yes]: an operator's hand on a
 * running migration (coordinator/job_control.c), reached from cmd-job.c. */
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "ferryctl.h"

static volatile sig_atomic_t jobctl_sigint;

int
jobctl_exec(struct ctl *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "bandwidth", required_argument, NULL, 'b' },
		{ "max-downtime", required_argument, NULL, 'd' },
		{ "yes", no_argument, NULL, 'y' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	Ferry__JobControlRequest req = FERRY__JOB_CONTROL_REQUEST__INIT;
	Ferry__JobInfo *ji;
	struct migopts mo = { 0 };
	const char *action = argv[0];
	char prompt[160];
	int ch, json = 0, yes = 0, rc, set = strcmp(action, "set") == 0;

	/* argv[0] is the subcommand; 0, not 1: options may follow the id. */
	optind = 0;
	while ((ch = getopt_long(argc, argv, "b:d:yj", opts, NULL)) != -1) {
		if ((ch == 'b' || ch == 'd') && set) {
			if ((rc = ctl_migopts_parse(&mo, ch, optarg)) < 0)
				return CTL_EXIT_USAGE;
			continue;
		}
		if (ch == 'y' && strcmp(action, "complete") == 0)
			yes = 1;
		else if (ch == 'j') {
			json = 1;
			out_set_json(1);
		} else
			return out_usage(&cmd_job);
	}
	if (optind != argc - 1 || (set && !mo.has_bandwidth &&
	    !mo.has_max_downtime)) {
		if (set && optind == argc - 1)
			out_fail("job set: --bandwidth MIB or --max-downtime MS");
		return out_usage(&cmd_job);
	}
	if (ctl_parse_id(argv[optind], &req.job_id) < 0)
		return CTL_EXIT_USAGE;
	req.action = (char *)action;
	req.has_bandwidth_mibs = mo.has_bandwidth;
	req.bandwidth_mibs = mo.bandwidth_mibs;
	req.has_max_downtime_ms = mo.has_max_downtime;
	req.max_downtime_ms = mo.max_downtime_ms;
	if (strcmp(action, "complete") == 0 && !yes && !json &&
	    out_have_tty()) {
		/* Post-copy needs no asking; a pause does (the coordinator
		 * refuses one without --yes). */
		snprintf(prompt, sizeof(prompt), "complete job %" PRIu64
		    " now (post-copy if allowed, else the guest pauses until "
		    "the rest is copied)? [y/N] ", req.job_id);
		if (!out_confirm(prompt, &jobctl_sigint))
			return CTL_EXIT_FAIL;
		yes = 1;
	}
	req.has_yes = 1;
	req.yes = yes;
	if (ctl_connect(c) < 0)
		return CTL_EXIT_UNREACHABLE;
	if (ctl_call(c, MSG_CTL_JOB_CONTROL, &req.base,
	    &ferry__job_info__descriptor, (ProtobufCMessage **)&ji) < 0)
		return CTL_EXIT_FAIL;
	/* The job as it stands, as abort --json prints it. */
	if (json)
		out_json(jsonv_job(ji));
	else
		printf("job %" PRIu64 ": %s taken (state %s)\n", ji->id, action,
		    ji->state);
	ferry__job_info__free_unpacked(ji, NULL);
	return CTL_EXIT_OK;
}
