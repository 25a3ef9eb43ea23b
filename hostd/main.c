/* ferry-hostd: the Ferry agent on a KVM host. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "hostd.h"
#include "log.h"
#include "notify.h"
#include "frame.h"
#include "version.h"

#define DEFAULT_CONFIG	"/etc/ferry/hostd.conf"

static void __attribute__((noreturn))
usage(FILE *fp)
{
	fprintf(fp, "usage: ferry-hostd [-dnv] [-f file] | --version | --help\n"
	    "  -f file  configuration (default " DEFAULT_CONFIG ")\n"
	    "  -n       check the configuration and exit\n"
	    "  -d, -v   more verbose logging (repeat for more)\n");
	exit(fp == stdout ? 0 : 2);
}

int
main(int argc, char *argv[])
{
	const char *conffile = DEFAULT_CONFIG;
	struct hostd_conf conf;
	struct hostd hd;
	uv_loop_t loop;
	uv_timer_t watchdog;
	uint64_t wd_usec;
	char err[1024];
	int ch, checkonly = 0, verbose = 0, rc, wd, netfd = -1;
	char *end;
	long l;

	/* Long options only these two: the daemons' own are letters. */
	if (argc == 2 && strcmp(argv[1], "--version") == 0) {
		fputs(FERRY_VERSION_LINE("ferry-hostd"), stdout);
		return 0;
	}
	if (argc == 2 && strcmp(argv[1], "--help") == 0)
		usage(stdout);
	while ((ch = getopt(argc, argv, "df:nN:v")) != -1) {
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
		case 'N':	/* the network process (privsep.c), not for users */
			l = strtol(optarg, &end, 10);
			if (*optarg == '\0' || *end != '\0' || l < 3 || l > 1024)
				usage(stderr);
			netfd = (int)l;
			break;
		default:
			usage(stderr);
		}
	}
	if (optind != argc)
		usage(stderr);
	log_init(netfd == -1 ? "ferry-hostd" : "ferry-hostd-net", verbose);

	if (parse_hostd_config(conffile, &conf, err, sizeof(err)) < 0 ||
	    conf_check_private(conf.host_key, "host key", err, sizeof(err)) < 0)
		goto bad;
	if (access(conf.authorized_keys, R_OK) == -1) {
		snprintf(err, sizeof(err), "authorized_keys %s: %s",
		    conf.authorized_keys, strerror(errno));
		goto bad;
	}
	if (checkonly) {
		printf("configuration OK\n");
		return 0;
	}
	if (netfd != -1)
		return privsep_child_main(&conf, netfd);

	/* A peer that goes away mid-write must cost an EPIPE, not the
	 * daemon (a ferryctl closing before its reply killed it). */
	signal(SIGPIPE, SIG_IGN);
	if (uv_loop_init(&loop) != 0)
		fatalx("uv_loop_init");
	if (hostd_init(&hd, &loop, &conf, &hv_libvirt_ops, err,
	    sizeof(err)) < 0) {
		log_warnx("%s", err);
		uv_run(&loop, UV_RUN_DEFAULT);
		hostd_free(&hd);
		uv_loop_close(&loop);
		return 1;
	}
	/* READY=1 comes from hostd.c once libvirt has answered. */
	wd = notify_watchdog_start(&loop, &watchdog, &wd_usec) == 1;
	uv_run(&loop, UV_RUN_DEFAULT);
	if (wd) {
		notify_watchdog_stop(&watchdog);
		uv_run(&loop, UV_RUN_NOWAIT);
	}
	hostd_free(&hd);
	rc = uv_loop_close(&loop);
	if (rc != 0)
		log_warnx("loop closed with handles open: %s", uv_strerror(rc));
	log_info("exiting");
	return 0;
bad:
	fprintf(stderr, "ferry-hostd: %s\n", err);
	return 1;
}
