/* cmd-job.c: ferryctl job ID [--json]: one job and its full history. */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "ferryctl.h"

static void
job_print(const Ferry__JobReply *r)
{
	const Ferry__JobInfo *j = r->job;
	char t[40], dur[32];
	size_t i, w = 4;

	/* A run (drain, restore, rebalance) names no VM: its host is the
	 * source of a drain, the destination of a restore. */
	printf("job %" PRIu64 ": %s %s\n", j->id, j->kind, j->vm[0] ? j->vm :
	    j->source && j->source[0] ? j->source : j->destination &&
	    j->destination[0] ? j->destination : "-");
	printf("  state:       %s\n", j->state);
	printf("  source:      %s\n", j->source ? j->source : "-");
	printf("  destination: %s\n", j->destination ? j->destination : "-");
	if (j->running_on)
		printf("  running on:  %s\n", j->running_on);
	if (j->has_started_ms) {
		ctl_fmt_time(j->started_ms, 0, t, sizeof(t));
		printf("  started:     %s\n", t);
	}
	if (j->has_ended_ms) {
		ctl_fmt_time(j->ended_ms, 0, t, sizeof(t));
		if (j->has_started_ms && j->ended_ms >= j->started_ms) {
			ctl_fmt_duration(j->ended_ms - j->started_ms, dur,
			    sizeof(dur));
			printf("  ended:       %s (%s)\n", t, dur);
		} else
			printf("  ended:       %s\n", t);
	}
	if (j->has_parent)
		printf("  parent:      job %" PRIu64 "\n", j->parent);
	if (j->error)
		printf("  error:       %s\n", j->error);

	for (i = 0; i < r->n_history; i++)
		if (strlen(r->history[i]->type) > w)
			w = strlen(r->history[i]->type);
	printf("\n%-23s  %-*s  %-12s %s\n", "TIME", (int)w, "TYPE", "STATE",
	    "DATA");
	for (i = 0; i < r->n_history; i++) {
		const Ferry__JobHistoryEntry *h = r->history[i];

		ctl_fmt_time(h->time_ms, 1, t, sizeof(t));
		printf("%-23s  %-*s  %-12s %s\n", t, (int)w, h->type, h->state,
		    h->data ? h->data : "");
	}
}

static int
cmd_job_exec(struct ctl *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	Ferry__JobRequest req = FERRY__JOB_REQUEST__INIT;
	Ferry__JobReply *r;
	int ch, json = 0;

	/* job set | postcopy | complete: cmd-jobctl.c */
	if (argc >= 2 && (strcmp(argv[1], "set") == 0 ||
	    strcmp(argv[1], "postcopy") == 0 ||
	    strcmp(argv[1], "complete") == 0))
		return jobctl_exec(c, argc - 1, argv + 1);
	/* 0, not 1: glibc then forgets main's '+' and lets options
	 * follow the VM or job id. */
	optind = 0;
	while ((ch = getopt_long(argc, argv, "j", opts, NULL)) != -1) {
		if (ch != 'j')
			return out_usage(&cmd_job);
		json = 1;
		out_set_json(1);
	}
	if (optind != argc - 1)
		return out_usage(&cmd_job);
	if (ctl_parse_id(argv[optind], &req.id) < 0)
		return CTL_EXIT_USAGE;
	if (ctl_connect(c) < 0)
		return CTL_EXIT_UNREACHABLE;
	if (ctl_call(c, MSG_CTL_JOB, &req.base, &ferry__job_reply__descriptor,
	    (ProtobufCMessage **)&r) < 0)
		return CTL_EXIT_FAIL;

	if (json)
		out_json(jsonv_job_detail(r));
	else
		job_print(r);
	ferry__job_reply__free_unpacked(r, NULL);
	return CTL_EXIT_OK;
}

const struct ctl_cmd cmd_job = {
	"job", "ID [--json] | set ID [--bandwidth MIB] [--max-downtime MS] "
	    "| postcopy ID | complete ID [--yes]",
	"show a job and its history, or steer a running migration",
	cmd_job_exec,
};
