/* cmd-hosts.c: ferryctl hosts [--json] */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "ferryctl.h"

static int
cmd_hosts_exec(struct ctl *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	Ferry__HostsRequest req = FERRY__HOSTS_REQUEST__INIT;
	Ferry__HostsReply *r;
	struct json_object *arr, *o;
	int ch, json = 0;
	size_t i;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "j", opts, NULL)) != -1) {
		if (ch != 'j')
			return out_usage(&cmd_hosts);
		json = 1;
	}
	if (optind != argc)
		return out_usage(&cmd_hosts);
	if (ctl_connect(c) < 0)
		return CTL_EXIT_UNREACHABLE;
	if (ctl_call(c, MSG_CTL_HOSTS, &req.base, &ferry__hosts_reply__descriptor,
	    (ProtobufCMessage **)&r) < 0)
		return CTL_EXIT_FAIL;

	if (json) {
		arr = json_object_new_array();
		for (i = 0; i < r->n_hosts; i++) {
			Ferry__HostEntry *e = r->hosts[i];

			o = json_object_new_object();
			json_object_object_add(o, "name", out_str(e->name));
			json_object_object_add(o, "state", out_str(e->state));
			json_object_object_add(o, "address", out_str(e->address));
			json_object_object_add(o, "libvirt_uri",
			    out_str(e->libvirt_uri));
			json_object_object_add(o, "cpus", e->has_cpus ?
			    json_object_new_int64(e->cpus) : NULL);
			json_object_object_add(o, "mem_mib", e->has_mem_mib ?
			    json_object_new_int64(e->mem_mib) : NULL);
			json_object_object_add(o, "mem_free_mib",
			    e->has_mem_free_mib ?
			    json_object_new_int64(e->mem_free_mib) : NULL);
			json_object_object_add(o, "reserve_mib",
			    e->has_reserve_mib ?
			    json_object_new_int64(e->reserve_mib) : NULL);
			json_object_object_add(o, "vms", e->has_vms ?
			    json_object_new_int64(e->vms) : NULL);
			json_object_object_add(o, "last_seen_ms",
			    e->has_last_seen_ms ?
			    json_object_new_int64(e->last_seen_ms) : NULL);
			json_object_object_add(o, "error", out_str(e->last_error));
			json_object_array_add(arr, o);
		}
		out_json(arr);
	} else {
		printf("%-12s %-12s %-22s %5s %9s %9s %4s  %s\n", "NAME", "STATE",
		    "ADDRESS", "CPUS", "MEM(MiB)", "FREE(MiB)", "VMS", "LIBVIRT");
		for (i = 0; i < r->n_hosts; i++) {
			Ferry__HostEntry *e = r->hosts[i];
			char cpus[16] = "-", mem[24] = "-", fr[24] = "-", vms[16] = "-";

			if (e->has_cpus)
				snprintf(cpus, sizeof(cpus), "%u", e->cpus);
			if (e->has_mem_mib)
				snprintf(mem, sizeof(mem), "%llu",
				    (unsigned long long)e->mem_mib);
			if (e->has_mem_free_mib)
				snprintf(fr, sizeof(fr), "%llu",
				    (unsigned long long)e->mem_free_mib);
			if (e->has_vms)
				snprintf(vms, sizeof(vms), "%u", e->vms);
			printf("%-12s %-12s %-22s %5s %9s %9s %4s  %s\n", e->name,
			    e->state, e->address, cpus, mem, fr, vms,
			    e->libvirt_uri ? e->libvirt_uri : "-");
			if (e->last_error)
				printf("    %s: %s\n", e->name, e->last_error);
		}
	}
	ferry__hosts_reply__free_unpacked(r, NULL);
	return CTL_EXIT_OK;
}

const struct ctl_cmd cmd_hosts = {
	"hosts", "[--json]", "list hosts and their state",
	cmd_hosts_exec,
};
