/* cmd-metrics.c: ferryctl metrics: what GET /metrics serves, printed. */
#include <stdio.h>

#include "ferryctl.h"

static int
cmd_metrics_exec(struct ctl *c, int argc, char **argv)
{
	Ferry__Empty req = FERRY__EMPTY__INIT;
	Ferry__MetricsReply *r;

	(void)argv;
	if (argc != 1)
		return out_usage(&cmd_metrics);
	if (ctl_connect(c) < 0)
		return CTL_EXIT_UNREACHABLE;
	if (ctl_call(c, MSG_CTL_METRICS, &req.base,
	    &ferry__metrics_reply__descriptor, (ProtobufCMessage **)&r) < 0)
		return CTL_EXIT_FAIL;
	/* Prometheus text, escaped by the coordinator for its format. */
	fputs(r->text, stdout);
	ferry__metrics_reply__free_unpacked(r, NULL);
	return CTL_EXIT_OK;
}

const struct ctl_cmd cmd_metrics = {
	"metrics", "", "the Prometheus metrics, as GET /metrics serves them",
	cmd_metrics_exec,
};
