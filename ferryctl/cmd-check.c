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
		CTL_MIGOPTS_LONG,
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	Ferry__CheckRequest req = FERRY__CHECK_REQUEST__INIT;
	Ferry__CheckReply *r;
	struct migopts mo = { 0 };
	size_t i, w = 5;
	int ch, json = 0, ok, rc;

	/* 0, not 1: glibc then forgets main's '+' and lets options
	 * follow the VM or job id. */
	optind = 0;
	while ((ch = getopt_long(argc, argv, CTL_MIGOPTS_SHORT "j", opts,
	    NULL)) != -1) {
		if ((rc = ctl_migopts_parse(&mo, ch, optarg)) == -1)
			return CTL_EXIT_USAGE;
		if (rc == 1)
			continue;
		if (ch != 'j')
			return out_usage(&cmd_check);
		json = 1;
		out_set_json(1);
	}
	if (optind != argc - 1 || argv[optind][0] == '\0')
		return out_usage(&cmd_check);
	mo.vm = argv[optind];
	migopts_to_check(&mo, &req);
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
	"check", "VM [--to HOST] [--bandwidth MIB] [--max-downtime MS] "
	    "[--copy-storage] [--parallel N] [--tls|--no-tls] [--json]",
	"run the pre-checks of a migration without migrating",
	cmd_check_exec,
};
