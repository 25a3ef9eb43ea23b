/* cmd-place.c: ferryctl place VM [--json]: the placement engine's verdict
 * on every host (accepted with its weight, or the filter and reason that
 * rejected it). Exit 0 when some host takes the VM, 3 when none does. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "ferryctl.h"

static int
cmd_place_exec(struct ctl *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	Ferry__PlaceRequest req = FERRY__PLACE_REQUEST__INIT;
	Ferry__PlaceReply *r;
	int ch, json = 0, rc;
	size_t i;

	optind = 0;	/* reinitialise: the VM may come before --json */
	while ((ch = getopt_long(argc, argv, "j", opts, NULL)) != -1) {
		if (ch != 'j')
			return out_usage(&cmd_place);
		json = 1;
		out_set_json(1);	/* strings as sent; JSON escapes */
	}
	if (optind + 1 != argc)
		return out_usage(&cmd_place);
	req.vm = argv[optind];
	if (ctl_connect(c) < 0)
		return CTL_EXIT_UNREACHABLE;
	if (ctl_call(c, MSG_CTL_PLACE, &req.base,
	    &ferry__place_reply__descriptor, (ProtobufCMessage **)&r) < 0)
		return CTL_EXIT_FAIL;
	rc = r->best ? CTL_EXIT_OK : CTL_EXIT_BLOCKED;
	if (json) {
		out_json(jsonv_place(r));
	} else {
		printf("%s runs on %s; best destination: %s\n", r->vm, r->source,
		    r->best ? r->best : "none");
		printf("%-12s %-9s %7s  %s\n", "HOST", "VERDICT", "WEIGHT",
		    "REASON");
		for (i = 0; i < r->n_hosts; i++) {
			Ferry__PlaceVerdict *v = r->hosts[i];
			char w[32] = "-";

			if (v->has_weight)
				snprintf(w, sizeof(w), "%.3f", v->weight);
			printf("%-12s %-9s %7s  %s\n", v->host, v->ok ?
			    "accepted" : v->filter ? v->filter : "rejected", w,
			    v->reason);
		}
	}
	ferry__place_reply__free_unpacked(r, NULL);
	return rc;
}

const struct ctl_cmd cmd_place = {
	"place", "VM [--json]", "where placement would put VM, and why not elsewhere",
	cmd_place_exec,
};
