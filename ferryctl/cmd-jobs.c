/* cmd-jobs.c: ferryctl jobs [--all] [--limit N] [--json] */
#include <getopt.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "ferryctl.h"

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int
cmd_jobs_exec(struct ctl *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "all", no_argument, NULL, 'a' },
		{ "limit", required_argument, NULL, 'l' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	Ferry__JobsRequest req = FERRY__JOBS_REQUEST__INIT;
	Ferry__JobsReply *r;
	uint64_t v;
	size_t i;
	int ch, json = 0;

	/* 0, not 1: glibc then forgets main's '+' and lets options
	 * follow the VM or job id. */
	optind = 0;
	while ((ch = getopt_long(argc, argv, "al:j", opts, NULL)) != -1) {
		switch (ch) {
		case 'a':
			req.has_all = 1;
			req.all = 1;
			break;
		case 'l':
			if (ctl_parse_num("--limit", optarg, UINT32_MAX,
			    &v) < 0)
				return CTL_EXIT_USAGE;
			req.has_limit = 1;
			req.limit = (uint32_t)v;
			break;
		case 'j':
			json = 1;
			out_set_json(1);
			break;
		default:
			return out_usage(&cmd_jobs);
		}
	}
	if (optind != argc)
		return out_usage(&cmd_jobs);
	if (ctl_connect(c) < 0)
		return CTL_EXIT_UNREACHABLE;
	if (ctl_call(c, MSG_CTL_JOBS, &req.base, &ferry__jobs_reply__descriptor,
	    (ProtobufCMessage **)&r) < 0)
		return CTL_EXIT_FAIL;

	if (json) {
		out_json(jsonv_jobs(r));
	} else {
		printf("%6s  %-8s %-20s %-12s %-12s %-12s %-19s  %s\n", "ID",
		    "KIND", "VM", "STATE", "SOURCE", "DEST", "STARTED",
		    "DURATION");
		for (i = 0; i < r->n_jobs; i++) {
			Ferry__JobInfo *j = r->jobs[i];
			char started[32] = "-", dur[32] = "-";
			uint64_t end;

			if (j->has_started_ms) {
				ctl_fmt_time(j->started_ms, 0, started,
				    sizeof(started));
				/* A running job's duration is so far. */
				end = j->has_ended_ms ? j->ended_ms : now_ms();
				if (end >= j->started_ms)
					ctl_fmt_duration(end - j->started_ms,
					    dur, sizeof(dur));
			}
			printf("%6" PRIu64 "  %-8s %-20s %-12s %-12s %-12s "
			    "%-19s  %s\n", j->id, j->kind, j->vm[0] ? j->vm : "-",
			    j->state,
			    j->source ? j->source : "-",
			    j->destination ? j->destination : "-", started,
			    dur);
			if (j->error && j->error[0])
				printf("%6s  %s\n", "", j->error);
		}
	}
	ferry__jobs_reply__free_unpacked(r, NULL);
	return CTL_EXIT_OK;
}

const struct ctl_cmd cmd_jobs = {
	"jobs", "[--all] [--limit N] [--json]",
	"list recent jobs (--all: every one)",
	cmd_jobs_exec,
};
