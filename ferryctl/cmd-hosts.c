/* cmd-hosts.c: ferryctl hosts [--json], ferryctl hosts accept HOST [--json] */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "ferryctl.h"

/* What a host's strings may hold reaches the terminal escaped. */
static void
cmd_hosts_print_safe(const char *prefix, const char *s)
{
	fputs(prefix, stdout);
	for (; *s; s++) {
		unsigned char ch = *s;

		if (ch < 0x20 || ch == 0x7f)
			printf("\\x%02x", ch);
		else
			putchar(ch);
	}
	putchar('\n');
}

static int
cmd_hosts_accept(struct ctl *c, int argc, char **argv)
{
	Ferry__HostAcceptRequest req = FERRY__HOST_ACCEPT_REQUEST__INIT;
	Ferry__HostsReply *r;
	int json = 0, i;
	const char *host = NULL;

	for (i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0)
			json = 1;
		else if (argv[i][0] == '-' || host != NULL)
			return out_usage(&cmd_hosts);
		else
			host = argv[i];
	}
	if (host == NULL)
		return out_usage(&cmd_hosts);
	req.host = (char *)host;
	if (ctl_connect(c) < 0)
		return CTL_EXIT_UNREACHABLE;
	if (ctl_call(c, MSG_CTL_HOST_ACCEPT, &req.base,
	    &ferry__hosts_reply__descriptor, (ProtobufCMessage **)&r) < 0)
		return CTL_EXIT_FAIL;
	if (r->n_hosts != 1) {
		ferry__hosts_reply__free_unpacked(r, NULL);
		out_fail("malformed reply");
		return CTL_EXIT_FAIL;
	}
	if (json)
		out_json(jsonv_host(r->hosts[0]));
	else
		printf("%s accepted: libvirt URI %s, migration address %s\n",
		    r->hosts[0]->name, r->hosts[0]->libvirt_uri ?
		    r->hosts[0]->libvirt_uri : "-", r->hosts[0]->migration_address ?
		    r->hosts[0]->migration_address : "-");
	ferry__hosts_reply__free_unpacked(r, NULL);
	return CTL_EXIT_OK;
}

static int
cmd_hosts_exec(struct ctl *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	Ferry__HostsRequest req = FERRY__HOSTS_REQUEST__INIT;
	Ferry__HostsReply *r;
	int ch, json = 0;
	size_t i, k;

	if (argc >= 2 && strcmp(argv[1], "accept") == 0)
		return cmd_hosts_accept(c, argc, argv);
	optind = 1;
	while ((ch = getopt_long(argc, argv, "j", opts, NULL)) != -1) {
		if (ch != 'j')
			return out_usage(&cmd_hosts);
		json = 1;
		out_set_json(1);
	}
	if (optind != argc)
		return out_usage(&cmd_hosts);
	if (ctl_connect(c) < 0)
		return CTL_EXIT_UNREACHABLE;
	if (ctl_call(c, MSG_CTL_HOSTS, &req.base, &ferry__hosts_reply__descriptor,
	    (ProtobufCMessage **)&r) < 0)
		return CTL_EXIT_FAIL;

	if (json) {
		out_json(jsonv_hosts(r));
	} else {
		printf("%-12s %-5s %-12s %-22s %5s %9s %9s %4s %-8s %-16s %s\n",
		    "NAME", "STATE", "ADMIN", "ADDRESS", "CPUS", "MEM(MiB)",
		    "FREE(MiB)", "VMS", "ZONE", "LABELS", "LIBVIRT");
		for (i = 0; i < r->n_hosts; i++) {
			Ferry__HostEntry *e = r->hosts[i];
			char cpus[16] = "-", mem[24] = "-", fr[24] = "-", vms[16] = "-";
			char labels[256] = "-";
			size_t off = 0;

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
			for (k = 0; k < e->n_labels && off < sizeof(labels);
			    k++)
				off += snprintf(labels + off, sizeof(labels) - off,
				    "%s%s", k ? "," : "", e->labels[k]);
			printf("%-12s %-5s %-12s %-22s %5s %9s %9s %4s %-8s %-16s %s\n",
			    e->name, e->state, e->admin_state ? e->admin_state :
			    "-", e->address, cpus, mem, fr, vms,
			    e->zone ? e->zone : "-", labels,
			    e->libvirt_uri ? e->libvirt_uri : "-");
			if (e->last_error)
				printf("    %s: %s\n", e->name, e->last_error);
			if (e->flag_reason)
				cmd_hosts_print_safe("    flagged: ", e->flag_reason);
			if (e->notice)
				cmd_hosts_print_safe("    notice: ", e->notice);
		}
	}
	ferry__hosts_reply__free_unpacked(r, NULL);
	return CTL_EXIT_OK;
}

const struct ctl_cmd cmd_hosts = {
	"hosts", "[--json] | accept HOST [--json]",
	"list hosts and their state; accept a flagged host's addresses",
	cmd_hosts_exec,
};
