/* cmd-job.c: ferryctl job ID [--json]: one job and its full history. */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "ferryctl.h"

/* History data is JSON text or a plain message; embed it parsed only when
 * all of it parses ("12 disks" must stay a string). */
static struct json_object *
history_data(const char *s)
{
	struct json_tokener *tok;
	struct json_object *o;
	size_t len, end;

	if (s == NULL)
		return NULL;
	len = strlen(s);
	if ((tok = json_tokener_new()) == NULL)
		return json_object_new_string(s);
	o = json_tokener_parse_ex(tok, s, (int)len);
	end = json_tokener_get_parse_end(tok);
	while (end < len && strchr(" \t\r\n", s[end]) != NULL)
		end++;
	if (json_tokener_get_error(tok) != json_tokener_success ||
	    end != len) {
		json_object_put(o);
		o = json_object_new_string(s);
	}
	json_tokener_free(tok);
	return o;
}

static struct json_object *
job_json(const Ferry__JobInfo *j)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "id", json_object_new_int64((int64_t)j->id));
	json_object_object_add(o, "kind", out_str(j->kind));
	json_object_object_add(o, "vm", out_str(j->vm[0] ? j->vm : NULL));
	json_object_object_add(o, "state", out_str(j->state));
	json_object_object_add(o, "source", out_str(j->source));
	json_object_object_add(o, "destination", out_str(j->destination));
	json_object_object_add(o, "running_on", out_str(j->running_on));
	json_object_object_add(o, "started_ms", j->has_started_ms ?
	    json_object_new_int64((int64_t)j->started_ms) : NULL);
	json_object_object_add(o, "ended_ms", j->has_ended_ms ?
	    json_object_new_int64((int64_t)j->ended_ms) : NULL);
	json_object_object_add(o, "parent", j->has_parent ?
	    json_object_new_int64((int64_t)j->parent) : NULL);
	json_object_object_add(o, "error", out_str(j->error));
	return o;
}

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
	struct json_object *o, *arr, *h;
	int ch, json = 0;
	size_t i;

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

	if (json) {
		o = json_object_new_object();
		json_object_object_add(o, "job", job_json(r->job));
		arr = json_object_new_array();
		for (i = 0; i < r->n_history; i++) {
			const Ferry__JobHistoryEntry *e = r->history[i];

			h = json_object_new_object();
			json_object_object_add(h, "seq",
			    json_object_new_int64((int64_t)e->seq));
			json_object_object_add(h, "time_ms",
			    json_object_new_int64((int64_t)e->time_ms));
			json_object_object_add(h, "type", out_str(e->type));
			json_object_object_add(h, "state", out_str(e->state));
			json_object_object_add(h, "data", history_data(e->data));
			json_object_array_add(arr, h);
		}
		json_object_object_add(o, "history", arr);
		out_json(o);
	} else
		job_print(r);
	ferry__job_reply__free_unpacked(r, NULL);
	return CTL_EXIT_OK;
}

const struct ctl_cmd cmd_job = {
	"job", "ID [--json]", "show a job and its full history",
	cmd_job_exec,
};
