/* cmd-check.c: ferryctl check VM [--to HOST] [--bandwidth MIB] [--json]:
 * every pre-check's verdict, with nothing moved. */
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "ferryctl.h"

static int
cmd_check_exec(struct ctl *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "to", required_argument, NULL, 't' },
		{ "bandwidth", required_argument, NULL, 'b' },
		{ "max-downtime", required_argument, NULL, 'd' },
		{ "copy-storage", no_argument, NULL, 'c' },
		{ "json", no_argument, NULL, 'j' },
		{ "parallel", required_argument, NULL, 'M' },
		{ "tls", no_argument, NULL, 'L' },
		{ "no-tls", no_argument, NULL, 'N' },
		{ NULL, 0, NULL, 0 },
	};
	Ferry__CheckRequest req = FERRY__CHECK_REQUEST__INIT;
	Ferry__CheckReply *r;
	uint64_t v;
	size_t i, w = 5;
	int ch, json = 0, ok;

	/* 0, not 1: glibc then forgets main's '+' and lets options
	 * follow the VM or job id. */
	optind = 0;
	while ((ch = getopt_long(argc, argv, "t:b:d:cjM:LN", opts, NULL)) != -1) {
		switch (ch) {
		case 't':
			req.to = optarg;
			break;
		case 'b':
			if (ctl_parse_num("--bandwidth", optarg, UINT64_MAX,
			    &v) < 0)
				return CTL_EXIT_USAGE;
			req.has_bandwidth_mibs = 1;
			req.bandwidth_mibs = v;
			break;
		case 'd':
			if (ctl_parse_num("--max-downtime", optarg, UINT32_MAX,
			    &v) < 0)
				return CTL_EXIT_USAGE;
			req.has_max_downtime_ms = 1;
			req.max_downtime_ms = (uint32_t)v;
			break;
		case 'c':
			req.has_copy_storage = 1;
			req.copy_storage = 1;
			break;
		case 'M':
			if (ctl_parse_parallel(optarg, &req.parallel) < 0)
				return CTL_EXIT_USAGE;
			req.has_parallel = 1;
			break;
		case 'L':
		case 'N':
			req.has_tls = 1;
			req.tls = ch == 'L' ? 1 : -1;
			break;
		case 'j':
			json = 1;
			out_set_json(1);
			break;
		default:
			return out_usage(&cmd_check);
		}
	}
	if (optind != argc - 1 || argv[optind][0] == '\0')
		return out_usage(&cmd_check);
	req.vm = argv[optind];
	if (ctl_connect(c) < 0)
		return CTL_EXIT_UNREACHABLE;
	if (ctl_call(c, MSG_CTL_CHECK, &req.base, &ferry__check_reply__descriptor,
	    (ProtobufCMessage **)&r) < 0)
		return CTL_EXIT_FAIL;

	ok = jsonv_check_ok(r);

	if (json) {
		out_json(jsonv_check(r));
	} else {
		for (i = 0; i < r->n_checks; i++)
			if (strlen(r->checks[i]->name) > w)
				w = strlen(r->checks[i]->name);
		printf("%s on %s -> %s: %s\n", r->vm, r->source,
		    r->destination ? r->destination : "(no destination)",
		    ok ? "ok" : "BLOCKED");
		printf("%-*s  %-7s  %s\n", (int)w, "CHECK", "VERDICT", "REASON");
		for (i = 0; i < r->n_checks; i++) {
			Ferry__CheckResult *cr = r->checks[i];

			printf("%-*s  %-7s  %s\n", (int)w, cr->name,
			    !cr->ok ? "BLOCKED" : cr->has_warning &&
			    cr->warning ? "warning" : "ok", cr->reason);
		}
	}
	ferry__check_reply__free_unpacked(r, NULL);
	return ok ? CTL_EXIT_OK : CTL_EXIT_BLOCKED;
}

const struct ctl_cmd cmd_check = {
	"check", "VM [--to HOST] [--bandwidth MIB] [--max-downtime MS] [--copy-storage] "
	    "[--parallel N] [--tls|--no-tls] [--json]",
	"run the pre-checks of a migration without migrating",
	cmd_check_exec,
};
