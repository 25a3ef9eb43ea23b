/* ferryctl: the operator's client of ferry-coordinator. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ferryctl.h"
#include "frame.h"
#include "version.h"

#define DEFAULT_SOCKET	"/run/ferry/ferry.sock"

static const struct ctl_cmd *ctl_cmds[] = {
	&cmd_hosts,
	&cmd_vms,
	&cmd_check,
	&cmd_place,
	&cmd_cpu_baseline,
	&cmd_migrate,
	&cmd_watch,
	&cmd_abort,
	&cmd_jobs,
	&cmd_job,
	&cmd_maintenance,
	&cmd_plan,
	&cmd_rebalance,
	&cmd_snapshot,
	&cmd_status,
	&cmd_audit,
	&cmd_metrics,
	&cmd_token,
};
#define NCMDS	(sizeof(ctl_cmds) / sizeof(ctl_cmds[0]))

static void
usage(FILE *fp)
{
	size_t i;

	fprintf(fp, "usage: ferryctl [--socket PATH] COMMAND [ARGS]\n\n"
	    "The socket defaults to $FERRY_SOCKET, else " DEFAULT_SOCKET ".\n"
	    "Commands:\n");
	/* The usage of each is ferryctl COMMAND --help: kept out of
	 * this list, so that no line wraps. */
	for (i = 0; i < NCMDS; i++)
		fprintf(fp, "  %-13s %s\n", ctl_cmds[i]->name,
		    ctl_cmds[i]->help);
	fprintf(fp, "\nferryctl COMMAND --help: its arguments and options.\n"
	    "Exit status: 0 success, 1 failure, 2 usage, 3 blocked by a "
	    "pre-check,\n4 coordinator unreachable, 5 not allowed (not in "
	    "the socket's group).\n");
}

int
main(int argc, char *argv[])
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct ctl c;
	const char *env;
	size_t i;
	int ch, rc, k;

	/* A closed stdout (`| head -1`) ends ferryctl at once, whatever
	 * disposition it inherited; the coordinator's socket is written with
	 * MSG_NOSIGNAL, so SIGPIPE can only come from stdout. */
	signal(SIGPIPE, SIG_DFL);
	/* --json anywhere: errors are JSON too, usage errors included. */
	for (k = 1; k < argc; k++)
		if (strcmp(argv[k], "--json") == 0)
			out_json_errors_on();
	memset(&c, 0, sizeof(c));
	c.fd = -1;
	c.socket = (env = getenv("FERRY_SOCKET")) && env[0] ? env :
	    DEFAULT_SOCKET;
	/* '+': stop at the command; its options are its own. */
	while ((ch = getopt_long(argc, argv, "+s:hV", opts, NULL)) != -1) {
		switch (ch) {
		case 's':
			c.socket = optarg;
			break;
		case 'h':
			usage(stdout);
			return CTL_EXIT_OK;
		case 'V':
			fputs(FERRY_VERSION_LINE("ferryctl"), stdout);
			return CTL_EXIT_OK;
		default:
			usage(stderr);
			return CTL_EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return CTL_EXIT_USAGE;
	}
	for (i = 0; i < NCMDS; i++)
		if (strcmp(argv[optind], ctl_cmds[i]->name) == 0)
			break;
	if (i == NCMDS) {
		out_fail("unknown command '%s'", argv[optind]);
		usage(stderr);
		return out_finish(CTL_EXIT_USAGE);
	}
	if (help_wanted(argc - optind, argv + optind))
		return help_command(ctl_cmds[i]);
	rc = ctl_cmds[i]->exec(&c, argc - optind, argv + optind);
	ctl_close(&c);
	if (c.denied)
		rc = CTL_EXIT_DENIED;
	return out_finish(rc);
}
