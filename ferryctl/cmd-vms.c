/* cmd-vms.c: ferryctl vms [--host HOST] [--json] */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "ferryctl.h"

static int
cmd_vms_exec(struct ctl *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "host", required_argument, NULL, 'H' },
		{ NULL, 0, NULL, 0 },
	};
	Ferry__VmsRequest req = FERRY__VMS_REQUEST__INIT;
	Ferry__VmsReply *r;
	int ch, json = 0;
	size_t i, j;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "jH:", opts, NULL)) != -1) {
		switch (ch) {
		case 'j':
			json = 1;
			out_set_json(1);
			break;
		case 'H':
			req.host = optarg;
			break;
		default:
			return out_usage(&cmd_vms);
		}
	}
	if (optind != argc)
		return out_usage(&cmd_vms);
	if (ctl_connect(c) < 0)
		return CTL_EXIT_UNREACHABLE;
	if (ctl_call(c, MSG_CTL_VMS, &req.base, &ferry__vms_reply__descriptor,
	    (ProtobufCMessage **)&r) < 0)
		return CTL_EXIT_FAIL;

	if (json) {
		out_json(jsonv_vms(r));
	} else {
		printf("%-24s %-12s %-10s %9s %6s %-16s  %s\n", "NAME", "HOST",
		    "STATE", "MEM(MiB)", "VCPUS", "MIGRATION", "DISKS");
		for (i = 0; i < r->n_vms; i++) {
			Ferry__VmEntry *e = r->vms[i];
			char disks_s[512] = "", mig[32] = "-";
			size_t off = 0;

			if (e->role != NULL && e->has_job)
				snprintf(mig, sizeof(mig), "%s:%llu", e->role,
				    (unsigned long long)e->job);

			for (j = 0; j < e->n_disks && off < sizeof(disks_s); j++)
				off += snprintf(disks_s + off,
				    sizeof(disks_s) - off, "%s%s:%s%s%s",
				    j ? " " : "", e->disks[j]->target,
				    e->disks[j]->protocol ?
				    e->disks[j]->protocol : e->disks[j]->type,
				    e->disks[j]->source ? ":" : "",
				    e->disks[j]->source ? e->disks[j]->source : "");
			printf("%-24s %-12s %-10s %9llu %6u %-16s  %s\n",
			    e->name, e->host, e->state,
			    (unsigned long long)e->mem_mib, e->vcpus, mig,
			    disks_s[0] ? disks_s : "-");
		}
	}
	ferry__vms_reply__free_unpacked(r, NULL);
	return CTL_EXIT_OK;
}

const struct ctl_cmd cmd_vms = {
	"vms", "[--host HOST] [--json]", "list VMs and where they run",
	cmd_vms_exec,
};
