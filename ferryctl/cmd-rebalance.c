/* cmd-rebalance.c: ferryctl rebalance [--policy balance|consolidate]
 * [--max-moves N] [--apply] [--json], and ferryctl snapshot. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ferryctl.h"

static void
rebalance_print_plan(const char *plan_json)
{
	struct json_object *o, *moves, *mv, *v;
	size_t i, n;

	if ((o = json_tokener_parse(plan_json)) == NULL) {
		printf("%s\n", out_cell(plan_json));
		return;
	}
	moves = json_object_object_get_ex(o, "moves", &moves) ? moves : NULL;
	n = moves ? json_object_array_length(moves) : 0;
	printf("score %.4f -> %.4f, %zu move%s, %lld MiB moved (planned in "
	    "%.1f ms)\n",
	    json_object_object_get_ex(o, "score_before", &v) ?
	    json_object_get_double(v) : 0,
	    json_object_object_get_ex(o, "score_after", &v) ?
	    json_object_get_double(v) : 0, n, n == 1 ? "" : "s",
	    json_object_object_get_ex(o, "memory_moved_mib", &v) ?
	    (long long)json_object_get_int64(v) : 0LL,
	    json_object_object_get_ex(o, "elapsed_ms", &v) ?
	    json_object_get_double(v) : 0);
	if (n)
		printf("%-4s %-24s %-12s %-12s %9s %12s\n", "#", "VM", "FROM",
		    "TO", "MEM(MiB)", "SCORE AFTER");
	for (i = 0; i < n; i++) {
		struct json_object *vm, *from, *to, *mem, *sa;

		mv = json_object_array_get_idx(moves, i);
		json_object_object_get_ex(mv, "vm", &vm);
		json_object_object_get_ex(mv, "source", &from);
		json_object_object_get_ex(mv, "destination", &to);
		json_object_object_get_ex(mv, "mem_mib", &mem);
		json_object_object_get_ex(mv, "score_after", &sa);
		printf("%-4zu %-24s %-12s %-12s %9lld %12.4f\n", i + 1,
		    out_cell(json_object_get_string(vm)),
		    out_cell(json_object_get_string(from)),
		    out_cell(json_object_get_string(to)),
		    (long long)json_object_get_int64(mem),
		    json_object_get_double(sa));
	}
	json_object_put(o);
}

#define REPLY_WAIT_MS	120000	/* planning a large cluster takes time */

struct rebalance {
	int		 json, apply;
	uint64_t	 id;		/* the run, once the reply names it */
	int		 following;
	char		 seen[512][24];	/* each item's state last shown */
};

/* follow_run's callbacks. The reply is the plan; with --apply its run's
 * events follow until "done": 0 when every move succeeded. */
static int
rebalance_reply(struct follow *fl, const struct frame *f)
{
	struct rebalance *rb = fl->arg;
	Ferry__RebalanceReply *r;
	int rc = CTL_EXIT_OK;

	/* The plan is JSON text: parsed, its cells escaped one by one. */
	r = (Ferry__RebalanceReply *)frame_unpack(f,
	    &ferry__rebalance_reply__descriptor);
	if (r == NULL) {
		out_fail("malformed reply from the coordinator");
		return CTL_EXIT_FAIL;
	}
	if (rb->json) {
		struct json_object *o = jsonv_rebalance(r);

		if (o == NULL) {
			out_fail("malformed plan from the coordinator");
			ferry__rebalance_reply__free_unpacked(r, NULL);
			return CTL_EXIT_FAIL;
		}
		out_json(o);
	} else
		rebalance_print_plan(r->plan_json);
	fflush(stdout);
	if (rb->apply && r->has_drain_id) {
		if (!rb->json)
			printf("applying as rebalance %llu\n",
			    (unsigned long long)r->drain_id);
		rb->id = r->drain_id;
		rb->following = 1;
		rc = -1;
	} else if (rb->apply && !rb->json)
		printf("nothing to apply\n");
	ferry__rebalance_reply__free_unpacked(r, NULL);
	return rc;
}

static int
rebalance_event(struct follow *fl, const struct frame *f)
{
	struct rebalance *rb = fl->arg;
	Ferry__DrainEvent *ev;
	size_t i, k;
	int rc;

	/* Only the run's events, after the plan. */
	if (!rb->following || (ev = (Ferry__DrainEvent *)out_unpack(f,
	    &ferry__drain_event__descriptor)) == NULL)
		return -1;
	if (ev->drain == NULL) {	/* malformed: nothing to show */
		ferry__drain_event__free_unpacked(ev, NULL);
		return -1;
	}
	for (i = 0; i < ev->drain->n_items && i < 512; i++) {
		Ferry__DrainItem *it = ev->drain->items[i];

		if (strcmp(rb->seen[i], it->state) == 0)
			continue;
		snprintf(rb->seen[i], sizeof(rb->seen[i]), "%s", it->state);
		if (rb->json)
			out_json(jsonv_drain_event("item", ev->drain, it));
		else
			printf("%s -> %s: %s%s%s\n", it->vm,
			    it->destination ? it->destination : "?",
			    it->state, it->reason ? ": " : "",
			    it->reason ? it->reason : "");
		fflush(stdout);
	}
	rc = -1;
	if (strcmp(ev->event, "done") == 0) {
		size_t moved = 0, n = ev->drain->n_items;

		for (k = 0; k < n; k++)
			if (strcmp(ev->drain->items[k]->state, "moved") == 0)
				moved++;
		rc = strcmp(ev->drain->state, "completed") == 0 ?
		    CTL_EXIT_OK : CTL_EXIT_FAIL;
		if (rb->json)
			out_json(jsonv_drain_event("done", ev->drain, NULL));
		else
			printf("rebalance %llu %s: %zu of %zu moves done\n",
			    (unsigned long long)rb->id, ev->drain->state,
			    moved, n);
	}
	ferry__drain_event__free_unpacked(ev, NULL);
	return rc;
}

static void
rebalance_lost(struct follow *fl)
{
	struct rebalance *rb = fl->arg;

	if (rb->following)
		out_fail("lost the coordinator; the rebalance continues "
		    "(ferryctl jobs shows it)");
	else
		out_fail("the coordinator did not answer");
}

static int
cmd_rebalance_exec(struct ctl *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "policy", required_argument, NULL, 'p' },
		{ "max-moves", required_argument, NULL, 'm' },
		{ "apply", no_argument, NULL, 'a' },
		{ "objective", required_argument, NULL, 'o' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	static const struct follow_ops ops = {
		MSG_CTL_DRAIN_EVENT, rebalance_reply, rebalance_event,
		rebalance_lost, NULL, NULL, NULL, NULL, NULL,
	};
	Ferry__RebalanceRequest req = FERRY__REBALANCE_REQUEST__INIT;
	struct rebalance rb;
	struct follow fl;
	char *end;
	long v;
	int ch, json = 0;

	memset(&rb, 0, sizeof(rb));
	optind = 0;
	while ((ch = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
		switch (ch) {
		case 'p':
			if (strcmp(optarg, "balance") != 0 &&
			    strcmp(optarg, "consolidate") != 0) {
				out_fail("--policy is balance or consolidate");
				return CTL_EXIT_USAGE;
			}
			req.policy = optarg;
			break;
		case 'm':
			v = strtol(optarg, &end, 10);
			if (*optarg == '\0' || *end != '\0' || v < 1 || v > 100000) {
				out_fail("--max-moves takes a positive integer");
				return CTL_EXIT_USAGE;
			}
			req.has_max_moves = 1;
			req.max_moves = v;
			break;
		case 'o':
			if (strcmp(optarg, "memory") != 0 &&
			    strcmp(optarg, "moves") != 0) {
				out_fail("--objective is memory or moves");
				return CTL_EXIT_USAGE;
			}
			req.objective = optarg;
			break;
		case 'a':
			req.has_apply = req.has_wait = 1;
			req.apply = req.wait = 1;
			break;
		case 'j':
			json = 1;
			out_set_json(1);
			break;
		default:
			return out_usage(&cmd_rebalance);
		}
	}
	if (optind != argc)
		return out_usage(&cmd_rebalance);
	if (ctl_connect(c) < 0)
		return CTL_EXIT_UNREACHABLE;
	/* Ctrl-C is not caught: the run, once started, is the
	 * coordinator's. */
	memset(&fl, 0, sizeof(fl));
	fl.c = c;
	fl.ops = &ops;
	fl.arg = &rb;
	fl.reply_wait_ms = REPLY_WAIT_MS;
	rb.json = json;
	rb.apply = req.apply;
	return follow_run(&fl, MSG_CTL_REBALANCE, &req.base);
}

static int
cmd_snapshot_exec(struct ctl *c, int argc, char **argv)
{
	Ferry__Empty req = FERRY__EMPTY__INIT;
	Ferry__SnapshotReply *r;

	(void)argv;
	if (argc != 1)
		return out_usage(&cmd_snapshot);
	if (ctl_connect(c) < 0)
		return CTL_EXIT_UNREACHABLE;
	out_set_json(1);	/* a snapshot is JSON, escaped by json-c */
	if (ctl_call(c, MSG_CTL_SNAPSHOT, &req.base,
	    &ferry__snapshot_reply__descriptor, (ProtobufCMessage **)&r) < 0)
		return CTL_EXIT_FAIL;
	printf("%s\n", r->json);
	ferry__snapshot_reply__free_unpacked(r, NULL);
	return CTL_EXIT_OK;
}

const struct ctl_cmd cmd_rebalance = {
	"rebalance", "[--policy balance|consolidate] [--objective memory|moves] "
	    "[--max-moves N] [--apply] "
	"[--json]", "plan (with --apply, run) migrations that even out "
	"the cluster", cmd_rebalance_exec,
};

const struct ctl_cmd cmd_snapshot = {
	"snapshot", "", "write the live cluster as a snapshot (for ferryctl plan)",
	cmd_snapshot_exec,
};
