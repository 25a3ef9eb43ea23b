/* hostsim.c: many ferry-hostd cores in one process, for the coordinator
 * scale benchmark (bench/scale/run).
 *
 * Every simulated host is a real hostd core (hostd_init: the real SSH
 * transport, sessions, inventory, heartbeats, pre-checks) on its own port
 * of 127.0.0.1, with its own host key, on a fake hypervisor
 * (tests/unit/fake_hv.c) that holds VMS running domains. All of them share
 * one libuv loop (and so libuv's worker pool).
 *
 *   hostsim -n hosts -p baseport -k keydir -a authorized_keys [-m vms]
 *       [-s stack_kib] [-i idle_timeout_ms] [-r ready_file] [-v]
 *
 * Host i (0-based) is "sim<i>" on port baseport + i with host key
 * keydir/hk<i>, libvirt URI fake://sim<i>, and runs domains
 * "sim<i>-vm<j>". When every host listens, hostsim writes "ready" to
 * ready_file (or stdout). SIGTERM or SIGINT stops every host. -i sets
 * every host's session idle timeout (hostd's idle_timeout_ms, 15000 by
 * default): on a loaded machine a coordinator starved of CPU is not heard
 * in time, and the sessions close and reconnect in a storm.
 */
#include <sys/resource.h>

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fake_hv.h"
#include "hostd.h"
#include "log.h"

static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr, "usage: hostsim -n hosts -p baseport -k keydir "
	    "-a authorized_keys [-m vms] [-s stack_kib] [-i idle_ms] "
	    "[-r ready_file] "
	    "[-v]\n");
	exit(2);
}

static long
num(const char *s, long lo, long hi)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end != '\0' || v < lo || v > hi) {
		fprintf(stderr, "hostsim: %s: not a number in [%ld, %ld]\n", s,
		    lo, hi);
		exit(2);
	}
	return v;
}

/* A fake host with plenty of memory and vms running domains. */
static void
sim_host(int i, int vms)
{
	struct hv_host info;
	struct hv_domain d;
	char uri[64];
	int j;

	snprintf(uri, sizeof(uri), "fake://sim%d", i);
	memset(&info, 0, sizeof(info));
	snprintf(info.hostname, sizeof(info.hostname), "sim%d", i);
	snprintf(info.uuid, sizeof(info.uuid),
	    "%08x-0000-4000-8000-000000000000", i);
	snprintf(info.arch, sizeof(info.arch), "x86_64");
	info.cpus = 64;
	info.mem_mib = 512 * 1024;
	info.mem_free_mib = 256 * 1024;
	fake_hv_set_host(uri, &info);
	for (j = 0; j < vms; j++) {
		memset(&d, 0, sizeof(d));
		snprintf(d.name, sizeof(d.name), "sim%d-vm%d", i, j);
		snprintf(d.uuid, sizeof(d.uuid),
		    "%08x-%04x-4000-8000-000000000000", i, j);
		d.state = HV_STATE_RUNNING;
		d.reason = 1;	/* VIR_DOMAIN_RUNNING_BOOTED */
		snprintf(d.state_str, sizeof(d.state_str), "running");
		snprintf(d.reason_str, sizeof(d.reason_str), "booted");
		d.mem_mib = 2048;
		d.vcpus = 2;
		d.persistent = 1;
		fake_hv_add_domain(uri, &d);
	}
}

int
main(int argc, char *argv[])
{
	const char *keydir = NULL, *authkeys = NULL, *ready = NULL;
	struct hostd_conf hc;
	struct hostd *hd;
	pthread_attr_t attr;
	uv_loop_t loop;
	FILE *fp;
	char err[1024];
	long n = 0, base = 0, vms = 20, stack_kib = 0, idle_ms = 0;
	int ch, i, verbose = 0, rc;

	while ((ch = getopt(argc, argv, "a:i:k:m:n:p:r:s:v")) != -1) {
		switch (ch) {
		case 'a':
			authkeys = optarg;
			break;
		case 'i':
			idle_ms = num(optarg, 1000, 3600000);
			break;
		case 'k':
			keydir = optarg;
			break;
		case 'm':
			vms = num(optarg, 0, 10000);
			break;
		case 'n':
			n = num(optarg, 1, 60000);
			break;
		case 'p':
			base = num(optarg, 1, 65535);
			break;
		case 'r':
			ready = optarg;
			break;
		case 's':
			stack_kib = num(optarg, 64, 1024 * 1024);
			break;
		case 'v':
			verbose++;
			break;
		default:
			usage();
		}
	}
	if (optind != argc || n == 0 || base == 0 || keydir == NULL ||
	    authkeys == NULL)
		usage();
	if (base + n - 1 > 65535) {
		fprintf(stderr, "hostsim: ports %ld..%ld do not fit\n", base,
		    base + n - 1);
		return 2;
	}
	/* Info lines (a few per host) go to stderr; the script keeps them. */
	log_init("hostsim", verbose);

	/* The transport creates its threads with default attributes; -s
	 * changes that default for this process only. */
	if (stack_kib > 0) {
		pthread_attr_init(&attr);
		if ((rc = pthread_attr_setstacksize(&attr,
		    (size_t)stack_kib * 1024)) != 0 ||
		    (rc = pthread_setattr_default_np(&attr)) != 0) {
			fprintf(stderr, "hostsim: stack size %ld KiB: %s\n",
			    stack_kib, strerror(rc));
			return 1;
		}
		pthread_attr_destroy(&attr);
	}

	if ((hd = calloc(n, sizeof(*hd))) == NULL) {
		perror("hostsim");
		return 1;
	}
	if (uv_loop_init(&loop) != 0) {
		fprintf(stderr, "hostsim: uv_loop_init failed\n");
		return 1;
	}
	for (i = 0; i < n; i++) {
		sim_host(i, (int)vms);
		parse_hostd_defaults(&hc);
		if (idle_ms > 0)
			hc.idle_timeout_ms = (int)idle_ms;
		snprintf(hc.listen, sizeof(hc.listen), "127.0.0.1");
		hc.port = (int)(base + i);
		snprintf(hc.host_key, sizeof(hc.host_key), "%s/hk%d", keydir, i);
		snprintf(hc.authorized_keys, sizeof(hc.authorized_keys), "%s",
		    authkeys);
		snprintf(hc.libvirt_uri, sizeof(hc.libvirt_uri), "fake://sim%d",
		    i);
		/* What the coordinator pins and checks: a remote qemu URI
		 * (a fake:// one is refused, and every check then blocks). */
		snprintf(hc.advertise_uri, sizeof(hc.advertise_uri),
		    "qemu+tcp://sim%d/system", i);
		snprintf(hc.migration_address, sizeof(hc.migration_address),
		    "127.0.0.1");
		hc.memory_reserve_mib = 1024;
		if (hostd_init(&hd[i], &loop, &hc, &fake_hv_ops, err,
		    sizeof(err)) < 0) {
			fprintf(stderr, "hostsim: host %d (port %d): %s\n", i,
			    hc.port, err);
			n = i;
			for (i = 0; i < n; i++)
				hostd_shutdown(&hd[i]);
			uv_run(&loop, UV_RUN_DEFAULT);
			for (i = 0; i < n; i++)
				hostd_free(&hd[i]);
			uv_loop_close(&loop);
			free(hd);
			return 1;
		}
	}
	if (ready != NULL) {
		if ((fp = fopen(ready, "w")) == NULL) {
			fprintf(stderr, "hostsim: %s: %s\n", ready,
			    strerror(errno));
			return 1;
		}
		fprintf(fp, "ready %ld\n", n);
		fclose(fp);
	} else {
		printf("ready %ld\n", n);
		fflush(stdout);
	}

	/* Every hostd core handles SIGTERM/SIGINT itself: each shuts down. */
	uv_run(&loop, UV_RUN_DEFAULT);
	for (i = 0; i < n; i++)
		hostd_free(&hd[i]);
	rc = uv_loop_close(&loop);
	free(hd);
	if (rc != 0) {
		fprintf(stderr, "hostsim: loop closed with handles open\n");
		return 1;
	}
	return 0;
}
