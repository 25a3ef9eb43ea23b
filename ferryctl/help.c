/* help.c: ferryctl COMMAND --help and the usage lines: each command's
 * options with their units and defaults, printed within 80 columns. The
 * texts live here, not in the cmd-*.c descriptors, so a command's code and
 * its help can change apart. */
#include <stdio.h>
#include <string.h>

#include "ferryctl.h"

#define HELP_COLS	80

struct help_text {
	const char	*name;
	const char	*text;	/* lines of "  --opt ARG  what (unit, default)" */
};

static const struct help_text help_texts[] = {
	{ "hosts",
	  "  accept HOST       trust a flagged host's current addresses\n"
	  "  --json            one line of JSON\n" },
	{ "vms",
	  "  --host HOST       only the VMs of HOST (default: every host)\n"
	  "  --json            one line of JSON\n" },
	{ "check",
	  "  --to HOST         the destination (default: the best host by\n"
	  "                    placement on which every check passes)\n"
	  "  --bandwidth MIB   cap the stream at MIB MiB/s (1-" CTL_STR(CTL_MAX_BANDWIDTH_MIBS) ";\n"
	  "                    default: unlimited)\n"
	  "  --max-downtime MS the longest switch-over pause, in ms (1-" CTL_STR(CTL_MAX_DOWNTIME_MS) ";\n"
	  "                    default: from 100 rising to 500)\n"
	  "  --copy-storage    local disks are copied, not a blocker\n"
	  "  --parallel N      N migration streams (multifd, 1-16; default:\n"
	  "                    the cluster's migration_parallel, 0 = automatic)\n"
	  "  --tls, --no-tls   encrypt the stream or not (default: the\n"
	  "                    cluster's migration_tls)\n"
	  "  --json            one line of JSON\n"
	  "Exit status 3: a check blocks.\n" },
	{ "place",
	  "  --json            one line of JSON\n"
	  "Exit status 3: no host takes the VM.\n" },
	{ "cpu-baseline",
	  "  --json            one line of JSON\n" },
	{ "migrate",
	  "  --to HOST         the destination (default: the least loaded host\n"
	  "                    that passes every check)\n"
	  "  --bandwidth MIB   cap the stream at MIB MiB/s (1-" CTL_STR(CTL_MAX_BANDWIDTH_MIBS) ";\n"
	  "                    default: unlimited)\n"
	  "  --max-downtime MS the longest switch-over pause, in ms (1-" CTL_STR(CTL_MAX_DOWNTIME_MS) ";\n"
	  "                    default: from 100 rising to 500)\n"
	  "  --timeout SEC     abort when not done after SEC s (1-" CTL_STR(CTL_MAX_TIMEOUT_S) ";\n"
	  "                    default: 8 passes at the rate achieved, at least\n"
	  "                    120 s per GiB of guest memory)\n"
	  "  --postcopy[=MODE] post-copy: never, stalled (when pre-copy stops\n"
	  "                    converging; --postcopy alone) or always\n"
	  "                    (default: the cluster's postcopy, else never)\n"
	  "  --no-postcopy     never post-copy: abort instead\n"
	  "  --auto-converge   let QEMU throttle the guest's vCPUs\n"
	  "  --copy-storage    copy local file disks to the destination\n"
	  "  --parallel N      N migration streams (multifd, 1-16; default:\n"
	  "                    the cluster's migration_parallel, 0 = automatic)\n"
	  "  --tls, --no-tls   encrypt the stream or not (default: the\n"
	  "                    cluster's migration_tls)\n"
	  "  --no-wait         print the job id and return; see watch\n"
	  "  --abort-on-interrupt\n"
	  "                    Ctrl-C aborts the job at once, as in virsh\n"
	  "                    (default: ask first)\n"
	  "  --json            one JSON object a line\n"
	  "Exit status 3: a pre-check blocked and nothing moved.\n" },
	{ "watch",
	  "  --json            one JSON object a line\n" },
	{ "abort",
	  "  --json            one line of JSON\n" },
	{ "jobs",
	  "  --all             every job (default: the 50 most recent)\n"
	  "  --limit N         the N most recent (1-1000000)\n"
	  "  --json            one line of JSON\n" },
	{ "job",
	  "  ID                show job ID and its full history\n"
	  "  set ID --bandwidth MIB | --max-downtime MS\n"
	  "                    change a running migration's cap (MiB/s,\n"
	  "                    1-" CTL_STR(CTL_MAX_BANDWIDTH_MIBS) ") or its longest pause (ms, 1-" CTL_STR(CTL_MAX_DOWNTIME_MS) ")\n"
	  "  postcopy ID       switch a running migration to post-copy now\n"
	  "                    (only a job started with --postcopy)\n"
	  "  complete ID       force a running migration to finish: post-copy\n"
	  "                    when allowed, else pause the guest and finish\n"
	  "                    (asks first; --yes does not)\n"
	  "  --json            one line of JSON\n" },
	{ "maintenance",
	  "  enter HOST        drain HOST, then mark it maintenance\n"
	  "  cancel HOST       stop the drain; HOST is active again\n"
	  "  exit HOST         bring HOST back (active)\n"
	  "  --wait            follow the drain (or the restore) to its end\n"
	  "  --max-parallel N  migrations at once (1-64; default 2)\n"
	  "  --dry-run         print the plan, start nothing\n"
	  "  --force           start even when some VMs cannot move\n"
	  "  --copy-storage    move VMs with local disks too, copying them\n"
	  "  --restore         exit: migrate back what the drain moved away\n"
	  "  --json            one JSON object a line\n" },
	{ "plan",
	  "  --snapshot FILE   the cluster, as ferryctl snapshot writes it\n"
	  "  --policy P        balance (default) or consolidate\n"
	  "  --objective O     memory (default: gain per GiB moved) or moves\n"
	  "  --max-moves N     at most N migrations (1-1000000; default: none)\n"
	  "  --min-gain X      stop below this gain a move (default 0.0001)\n"
	  "  --threshold X     plan nothing under this score (default 0.01)\n"
	  "  --vcpu-ratio X    most vCPUs a host CPU (default 4)\n"
	  "  --ceiling X       consolidate: utilisation ceiling, 0.01-1\n"
	  "                    (default 0.85)\n"
	  "  --json            one line of JSON\n" },
	{ "rebalance",
	  "  --policy P        balance (default) or consolidate\n"
	  "  --objective O     memory (default: gain per GiB moved) or moves\n"
	  "  --max-moves N     at most N migrations (default: none)\n"
	  "  --apply           run the plan and follow it (default: dry)\n"
	  "  --json            one JSON object a line\n" },
	{ "status",
	  "  --json            one line of JSON\n" },
	{ "snapshot",
	  "  (no options)      JSON on standard output, for ferryctl plan\n" },
};
#define NTEXTS	(sizeof(help_texts) / sizeof(help_texts[0]))

/* Prints "usage: ferryctl NAME USAGE", broken between bracketed groups
 * so that no line passes 80 columns; continuation lines are indented. */
void
help_usage(FILE *fp, const struct ctl_cmd *cmd)
{
	const char *p = cmd->usage, *q;
	size_t col, indent, len;
	int depth;

	col = indent = (size_t)fprintf(fp, "usage: ferryctl %s", cmd->name);
	if (indent > 30)
		indent = 8;
	while (*p) {
		while (*p == ' ')
			p++;
		if (*p == '\0')
			break;
		/* One word: up to a space outside brackets. */
		for (q = p, depth = 0; *q && (*q != ' ' || depth > 0); q++) {
			if (*q == '[')
				depth++;
			else if (*q == ']' && depth > 0)
				depth--;
		}
		len = (size_t)(q - p);
		if (col + 1 + len > HELP_COLS && col > indent) {
			fprintf(fp, "\n%*s", (int)indent, "");
			col = indent;
		}
		fprintf(fp, " %.*s", (int)len, p);
		col += 1 + len;
		p = q;
	}
	fputc('\n', fp);
}

/* ferryctl COMMAND --help, on stdout. */
int
help_command(const struct ctl_cmd *cmd)
{
	size_t i;

	help_usage(stdout, cmd);
	printf("\n%s.\n", cmd->help);
	for (i = 0; i < NTEXTS; i++)
		if (strcmp(help_texts[i].name, cmd->name) == 0) {
			printf("\nOptions:\n%s", help_texts[i].text);
			break;
		}
	printf("\nSee ferryctl(1).\n");
	return CTL_EXIT_OK;
}

/* 1 when argv (a command's) asks for help before any "--". */
int
help_wanted(int argc, char **argv)
{
	int i;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			break;
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
			return 1;
	}
	return 0;
}
