/* cmd-cpu-baseline.c: ferryctl cpu-baseline [--json]: the CPU definition
 * every host can run (virConnectBaselineHypervisorCPU over all hosts' CPUs,
 * computed by one hostd), each host's CPU model, and each VM whose current
 * CPU a host said it cannot run, with that host's reason and the features
 * it lacks (from libvirt's "does not provide required features: a, b").
 * Exit 0 with a baseline, 1 without. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "ferryctl.h"

/* The baseline in a line: its model and the features it adds or takes
 * away, read from the XML (text mode: the XML's newlines are escaped). */
static void
cpub_print_baseline(const char *xml)
{
	const char *p, *q, *pol, *nm;
	char model[128];
	int nreq = 0, ndis = 0, dis;

	printf("  model %s\n  requires:", jsonv_cpu_model(xml, model,
	    sizeof(model)));
	for (dis = 0; dis < 2; dis++) {
		if (dis)
			printf("\n  disables:");
		for (p = xml; (p = strstr(p, "<feature ")) != NULL; p = q) {
			if ((q = strchr(p, '>')) == NULL)
				break;
			pol = strstr(p, "policy='disable'");
			if ((pol != NULL && pol < q) != dis)
				continue;
			nm = strstr(p, "name='");
			if (nm == NULL || nm > q)
				continue;
			nm += 6;
			printf(" %.*s", (int)(strcspn(nm, "'")), nm);
			if (dis)
				ndis++;
			else
				nreq++;
		}
		if ((dis ? ndis : nreq) == 0)
			printf(" -");
	}
	printf("\n");
}

static int
cmd_cpu_baseline_exec(struct ctl *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	Ferry__Empty req = FERRY__EMPTY__INIT;
	Ferry__CpuBaselineInfo *r;
	char model[128], feats[512];
	int ch, json = 0, rc;
	size_t i;

	optind = 0;
	while ((ch = getopt_long(argc, argv, "j", opts, NULL)) != -1) {
		if (ch != 'j')
			return out_usage(&cmd_cpu_baseline);
		json = 1;
		out_set_json(1);	/* strings as sent; JSON escapes */
	}
	if (optind != argc)
		return out_usage(&cmd_cpu_baseline);
	if (ctl_connect(c) < 0)
		return CTL_EXIT_UNREACHABLE;
	if (ctl_call(c, MSG_CTL_CPU_BASELINE, &req.base,
	    &ferry__cpu_baseline_info__descriptor, (ProtobufCMessage **)&r) < 0)
		return CTL_EXIT_FAIL;
	rc = r->baseline_xml ? CTL_EXIT_OK : CTL_EXIT_FAIL;
	if (json) {
		out_json(jsonv_cpu_baseline(r));
	} else {
		if (r->baseline_xml) {
			printf("baseline CPU (computed on %s), runs on every "
			    "host:\n", r->computed_on ? r->computed_on : "?");
			cpub_print_baseline(r->baseline_xml);
		} else
			printf("no baseline: %s\n", r->error ? r->error : "?");
		printf("%-12s %s\n", "HOST", "CPU MODEL");
		for (i = 0; i < r->n_hosts; i++)
			printf("%-12s %s\n", r->hosts[i]->host,
			    r->hosts[i]->error ? r->hosts[i]->error :
			    jsonv_cpu_model(r->hosts[i]->cpu_xml, model,
			    sizeof(model)));
		for (i = 0; i < r->n_blocks; i++) {
			json_object_put(jsonv_cpu_features(r->blocks[i]->reason,
			    feats, sizeof(feats)));
			if (feats[0])
				printf("%s cannot run on %s: %s lacks %s\n",
				    r->blocks[i]->vm, r->blocks[i]->host,
				    r->blocks[i]->host, feats);
			else
				printf("%s cannot run on %s: %s\n",
				    r->blocks[i]->vm, r->blocks[i]->host,
				    r->blocks[i]->reason);
		}
	}
	ferry__cpu_baseline_info__free_unpacked(r, NULL);
	return rc;
}

const struct ctl_cmd cmd_cpu_baseline = {
	"cpu-baseline", "[--json]",
	"the CPU every host runs, and which hosts block which VMs' CPUs",
	cmd_cpu_baseline_exec,
};
