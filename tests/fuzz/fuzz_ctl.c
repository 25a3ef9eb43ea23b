/* fuzz_ctl.c: libFuzzer harness for ferryctl's decoding of what the
 * coordinator sends back: replies, errors and the events that follow a
 * job or a drain, as each command reads and prints them (human tables and
 * --json). The real command code runs on one end of a socketpair whose
 * other end holds the input; EOF ends every wait.
 *
 * Input: byte 0 picks the command line, the rest is the coordinator's
 * byte stream (frames, replies echo serial 1). Seeds: gen_corpus. What
 * the commands print is not the point: tests/fuzz/run closes their
 * stdout and stderr (-close_fd_mask=3). */
#include <sys/socket.h>

#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ferryctl.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static const struct {
	const struct ctl_cmd	*cmd;
	const char		*argv[8];
} fz_lines[] = {
	{ &cmd_hosts, { "hosts", NULL } },
	{ &cmd_hosts, { "hosts", "--json", NULL } },
	{ &cmd_vms, { "vms", NULL } },
	{ &cmd_vms, { "vms", "--json", NULL } },
	{ &cmd_jobs, { "jobs", "--all", NULL } },
	{ &cmd_jobs, { "jobs", "--json", NULL } },
	{ &cmd_job, { "job", "1", NULL } },
	{ &cmd_job, { "job", "1", "--json", NULL } },
	{ &cmd_watch, { "watch", "1", NULL } },
	{ &cmd_watch, { "watch", "1", "--json", NULL } },
	{ &cmd_migrate, { "migrate", "vm1", "--to", "h2", NULL } },
	{ &cmd_migrate, { "migrate", "vm1", "--json", NULL } },
	{ &cmd_migrate, { "migrate", "vm1", "--no-wait", NULL } },
	{ &cmd_abort, { "abort", "1", NULL } },
	{ &cmd_check, { "check", "vm1", NULL } },
	{ &cmd_check, { "check", "vm1", "--json", NULL } },
	{ &cmd_maintenance, { "maintenance", "enter", "h1", "--wait", NULL } },
	{ &cmd_maintenance, { "maintenance", "enter", "h1", "--dry-run",
	    "--json", NULL } },
	{ &cmd_maintenance, { "maintenance", "exit", "h1", "--json", NULL } },
	{ &cmd_maintenance, { "maintenance", "cancel", "h1", NULL } },
	{ &cmd_rebalance, { "rebalance", NULL } },
	{ &cmd_rebalance, { "rebalance", "--apply", "--json", NULL } },
	{ &cmd_snapshot, { "snapshot", NULL } },
	{ &cmd_place, { "place", "vm1", NULL } },
	{ &cmd_place, { "place", "vm1", "--json", NULL } },
	{ &cmd_cpu_baseline, { "cpu-baseline", NULL } },
	{ &cmd_cpu_baseline, { "cpu-baseline", "--json", NULL } },
};
#define FZ_NLINES	(sizeof(fz_lines) / sizeof(fz_lines[0]))

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *argv[8], copy[8][32];
	struct ctl c;
	size_t k, off;
	ssize_t n;
	int sv[2], argc, fd;

	if (size < 1)
		return 0;
	k = data[0] % FZ_NLINES;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == -1)
		return 0;
	/* The whole answer waits in the socket (inputs are at most 64 KiB,
	 * under the buffer), then EOF. */
	n = 1 << 20;
	(void)setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &n, sizeof(int));
	(void)setsockopt(sv[0], SOL_SOCKET, SO_RCVBUF, &n, sizeof(int));
	for (off = 1; off < size; off += n)
		if ((n = write(sv[1], data + off, size - off)) <= 0)
			break;
	shutdown(sv[1], SHUT_WR);
	for (argc = 0; fz_lines[k].argv[argc] != NULL; argc++) {
		snprintf(copy[argc], sizeof(copy[argc]), "%s",
		    fz_lines[k].argv[argc]);
		argv[argc] = copy[argc];	/* getopt permutes */
	}
	argv[argc] = NULL;
	memset(&c, 0, sizeof(c));
	c.socket = "fuzz";
	c.fd = sv[0];
	optind = 0;		/* glibc: a fresh getopt for each command */
	(void)fz_lines[k].cmd->exec(&c, argc, argv);
	ctl_close(&c);
	close(sv[1]);
	return 0;
}
