/* cmd-metrics.c: ferryctl metrics: what GET /metrics serves, printed. */
#include <stdio.h>

#include "ferryctl.h"

static int
cmd_metrics_exec(struct ctl *c, int argc, char **argv)
{
	Ferry__Empty req = FERRY__EMPTY__INIT;
	Ferry__MetricsReply *r;
	const unsigned char *p;

	(void)argv;
	if (argc != 1)
		return out_usage(&cmd_metrics);
	/* The text is the coordinator's, already escaped for its format
	 * (label values' control characters as \\xHH): kept as sent, not
	 * escaped again, so it stays Prometheus text. */
	out_set_json(1);
	if (ctl_connect(c) < 0)
		return CTL_EXIT_UNREACHABLE;
	if (ctl_call(c, MSG_CTL_METRICS, &req.base,
	    &ferry__metrics_reply__descriptor, (ProtobufCMessage **)&r) < 0)
		return CTL_EXIT_FAIL;
	/* A control character that reached here anyway goes out visible. */
	for (p = (const unsigned char *)r->text; *p; p++) {
		if (*p == '\n' || (*p >= 0x20 && *p != 0x7f))
			putchar(*p);
		else
			printf("\\x%02x", *p);
	}
	ferry__metrics_reply__free_unpacked(r, NULL);
	return CTL_EXIT_OK;
}

const struct ctl_cmd cmd_metrics = {
	"metrics", "", "the Prometheus metrics, as GET /metrics serves them",
	cmd_metrics_exec,
};
