/* cmd-plan.c: ferryctl plan --snapshot FILE [--policy balance|consolidate]
 * [--max-moves N] [--json]: plans a rebalance offline, from a snapshot file,
 * without the coordinator. */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "balance.h"
#include "ferryctl.h"

static double
plan_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* A finite number within [min, max]. */
static int
plan_parse_double(const char *opt, const char *s, double min, double max,
    double *out)
{
	char *end;
	double v;

	v = strtod(s, &end);
	if (s[0] == '\0' || *end != '\0' || !isfinite(v) || v < min ||
	    v > max) {
		out_fail("%s wants a number from %g to %g, not '%s'", opt, min,
		    max, s);
		return -1;
	}
	*out = v;
	return 0;
}

static void
plan_print(const struct balance_model *m, const struct balance_plan *p,
    const struct balance_opts *o, const char *path, double read_ms,
    double plan_ms)
{
	const struct balance_move *mv;
	size_t i, wvm = 2, wh = 4, n;
	const char *unit = p->policy == BALANCE_POLICY_CONSOLIDATE ?
	    " hosts in use" : "";

	printf("%s: %zu hosts, %zu VMs (read in %.1f ms); policy %s, planned "
	    "in %.1f ms\n", out_cell(path), m->nhosts, m->nvms, read_ms,
	    balance_policy_name(p->policy), plan_ms);
	if (p->nmoves == 0) {
		if (p->policy == BALANCE_POLICY_BALANCE &&
		    p->score_before <= o->threshold)
			printf("balanced: score %.4f is within the threshold "
			    "%g; no moves\n", p->score_before, o->threshold);
		else
			printf("no move improves the score %.4f%s enough; no "
			    "moves\n", p->score_before, unit);
		return;
	}
	for (i = 0; i < p->nmoves; i++) {
		mv = &p->moves[i];
		if ((n = strlen(out_cell(m->vms[mv->vm].name))) > wvm)
			wvm = n;
		if ((n = strlen(out_cell(m->hosts[mv->from].name))) > wh)
			wh = n;
		if ((n = strlen(out_cell(m->hosts[mv->to].name))) > wh)
			wh = n;
	}
	printf("score before %.4f%s\n", p->score_before, unit);
	printf("%4s  %-*s  %-*s  %-*s  %9s  %s\n", "#", (int)wvm, "VM",
	    (int)wh, "FROM", (int)wh, "TO", "MEM(MiB)", "SCORE AFTER");
	for (i = 0; i < p->nmoves; i++) {
		mv = &p->moves[i];
		printf("%4zu  %-*s  %-*s  %-*s  %9llu  %.4f\n", i + 1,
		    (int)wvm, out_cell(m->vms[mv->vm].name), (int)wh,
		    out_cell(m->hosts[mv->from].name), (int)wh,
		    out_cell(m->hosts[mv->to].name),
		    (unsigned long long)mv->mem_mib, mv->score_after);
	}
	printf("score after %.4f%s (%zu move%s, %llu MiB moved)\n",
	    p->score_after, unit, p->nmoves, p->nmoves == 1 ? "" : "s",
	    (unsigned long long)p->memory_moved_mib);
}

static int
cmd_plan_exec(struct ctl *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "snapshot", required_argument, NULL, 's' },
		{ "policy", required_argument, NULL, 'p' },
		{ "max-moves", required_argument, NULL, 'n' },
		{ "min-gain", required_argument, NULL, 'g' },
		{ "threshold", required_argument, NULL, 't' },
		{ "vcpu-ratio", required_argument, NULL, 'r' },
		{ "ceiling", required_argument, NULL, 'c' },
		{ "objective", required_argument, NULL, 'o' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	struct balance_model *m = NULL;
	struct balance_plan *p = NULL;
	struct balance_opts o;
	const char *path = NULL;
	char err[512], *js;
	double t0, t1, t2;
	uint64_t n;
	int ch, json = 0, rc = CTL_EXIT_FAIL;

	(void)c;	/* offline: no coordinator */
	balance_opts_defaults(&o);
	optind = 1;
	while ((ch = getopt_long(argc, argv, "s:p:n:g:t:r:c:o:j", opts,
	    NULL)) != -1) {
		switch (ch) {
		case 's':
			path = optarg;
			break;
		case 'p':
			if (balance_policy_parse(optarg, &o.policy) == -1) {
				out_fail("--policy is balance or consolidate, "
				    "not '%s'", optarg);
				return CTL_EXIT_USAGE;
			}
			break;
		case 'n':
			if (ctl_parse_num("--max-moves", optarg, 1000000,
			    &n) == -1)
				return CTL_EXIT_USAGE;
			o.max_moves = (size_t)n;
			break;
		case 'g':
			if (plan_parse_double("--min-gain", optarg, 0, 1e9,
			    &o.min_gain) == -1)
				return CTL_EXIT_USAGE;
			break;
		case 't':
			if (plan_parse_double("--threshold", optarg, 0, 1e9,
			    &o.threshold) == -1)
				return CTL_EXIT_USAGE;
			break;
		case 'r':
			if (plan_parse_double("--vcpu-ratio", optarg, 0.01,
			    1e6, &o.vcpu_ratio_max) == -1)
				return CTL_EXIT_USAGE;
			break;
		case 'c':
			if (plan_parse_double("--ceiling", optarg, 0.01, 1,
			    &o.util_ceiling) == -1)
				return CTL_EXIT_USAGE;
			break;
		case 'o':
			if (balance_objective_parse(optarg, &o.objective) ==
			    -1) {
				out_fail("--objective is memory or moves, not "
				    "'%s'", optarg);
				return CTL_EXIT_USAGE;
			}
			break;
		case 'j':
			json = 1;
			out_set_json(1);
			break;
		default:
			return out_usage(&cmd_plan);
		}
	}
	if (optind != argc || path == NULL)
		return out_usage(&cmd_plan);

	t0 = plan_now_ms();
	if (balance_read(path, &m, err, sizeof(err)) == -1) {
		out_fail("%s", err);
		goto out;
	}
	t1 = plan_now_ms();
	if (balance_plan(m, &o, &p, err, sizeof(err)) == -1) {
		out_fail("%s: %s", path, err);
		goto out;
	}
	t2 = plan_now_ms();
	if (json) {
		if ((js = balance_plan_json(m, p, t2 - t1)) == NULL) {
			out_fail("out of memory");
			goto out;
		}
		printf("%s\n", js);
		free(js);
	} else
		plan_print(m, p, &o, path, t1 - t0, t2 - t1);
	if (fflush(stdout) != 0) {
		out_fail("writing the plan failed");
		goto out;
	}
	rc = CTL_EXIT_OK;
 out:
	balance_plan_free(p);
	balance_model_free(m);
	return rc;
}

const struct ctl_cmd cmd_plan = {
	"plan",
	"--snapshot FILE [--policy balance|consolidate] [--max-moves N] "
	    "[--min-gain X] [--threshold X] [--vcpu-ratio X] [--ceiling X] "
	    "[--objective memory|moves] [--json]",
	"plan a rebalance offline, from a snapshot file",
	cmd_plan_exec,
};
