/* ferry-coordinator: keeps the cluster's picture and runs Ferry's jobs. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "coordinator.h"
#include "log.h"
#include "notify.h"
#include "frame.h"
#include "version.h"

#define DEFAULT_CONFIG	"/etc/ferry/coordinator.conf"

static void __attribute__((noreturn))
usage(FILE *fp)
{
	fprintf(fp, "usage: ferry-coordinator [-dnv] [-f file] | --version | --help\n"
	    "  -f file  configuration (default " DEFAULT_CONFIG ")\n"
	    "  -n       check the configuration and exit\n"
	    "  -d, -v   more verbose logging (repeat for more)\n");
	exit(fp == stdout ? 0 : 2);
}

int
main(int argc, char *argv[])
{
	const char *conffile = DEFAULT_CONFIG;
	struct coord_conf conf;
	struct coord co;
	uv_loop_t loop;
	uv_timer_t watchdog;
	uint64_t wd_usec;
	char err[1024];
	int ch, checkonly = 0, verbose = 0, rc = 0, wd = 0;

	/* Long options only these two: the daemons' own are letters. */
	if (argc == 2 && strcmp(argv[1], "--version") == 0) {
		fputs(FERRY_VERSION_LINE("ferry-coordinator"), stdout);
		return 0;
	}
	if (argc == 2 && strcmp(argv[1], "--help") == 0)
		usage(stdout);
	while ((ch = getopt(argc, argv, "df:nv")) != -1) {
		switch (ch) {
		case 'd':
		case 'v':
			verbose++;
			break;
		case 'f':
			conffile = optarg;
			break;
		case 'n':
			checkonly = 1;
			break;
		default:
			usage(stderr);
		}
	}
	if (optind != argc)
		usage(stderr);
	log_init("ferry-coordinator", verbose);

	if (parse_coord_config(conffile, &conf, err, sizeof(err)) < 0)
		goto bad;
	if (conf_check_private(conf.identity, "identity", err, sizeof(err)) < 0)
		goto badconf;
	if (access(conf.known_hosts, R_OK) == -1) {
		snprintf(err, sizeof(err), "known_hosts %s: %s",
		    conf.known_hosts, strerror(errno));
		goto badconf;
	}
	if (checkonly) {
		printf("configuration OK\n");
		parse_coord_conf_clear(&conf);
		return 0;
	}

	/* A peer that goes away mid-write must cost an EPIPE, not the
	 * daemon (a ferryctl closing before its reply killed it). */
	signal(SIGPIPE, SIG_IGN);
	ha_argv = argv;		/* a deposed HA leader starts again (ha.c) */
	if (uv_loop_init(&loop) != 0)
		fatalx("uv_loop_init");
	/* An HA coordinator whose database is unreachable at start (a deposed
	 * leader re-executing during an outage) waits for it rather than
	 * exit: it starts nothing meanwhile, as a standby would. */
	for (;;) {
		if (coord_init(&co, &loop, &conf, err, sizeof(err)) == 0) {
			co.conf_file = conffile;	/* SIGHUP reads it again */
			/* The store is open and the control socket listening. */
			notify_ready("coordinating %zu hosts; control socket %s",
			    co.nhosts, co.conf.socket);
			wd = notify_watchdog_start(&loop, &watchdog,
			    &wd_usec) == 1;
			break;
		}
		if (conf.ha.node[0] == '\0' || co.store != NULL) {
			log_warnx("%s", err);
			coord_shutdown(&co);
			rc = 1;
			break;
		}
		log_warnx("%s; HA: trying again in 2 s", err);
		coord_free(&co);
		sleep(2);
		if (parse_coord_config(conffile, &conf, err, sizeof(err)) < 0)
			goto bad;
	}
	uv_run(&loop, UV_RUN_DEFAULT);
	if (wd) {
		notify_watchdog_stop(&watchdog);
		uv_run(&loop, UV_RUN_NOWAIT);
	}
	coord_free(&co);
	if (uv_loop_close(&loop) != 0)
		log_warnx("loop closed with handles open");
	log_info("exiting");
	return rc;
badconf:
	parse_coord_conf_clear(&conf);
bad:
	fprintf(stderr, "ferry-coordinator: %s\n", err);
	return 1;
}
