/* cmd-audit.c: ferryctl audit [--since TIME] [--limit N] [--json] */
#include <ctype.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ferryctl.h"
#include "jsonv.h"

/*
 * TIME: a duration back from now (90s, 10m, 2h, 7d), a local date and time
 * (2026-12-02, 2026-12-02 03:15, 2026-12-02T03:15:30) or @SECONDS since the
 * epoch. Into Unix ms; -1 for anything else.
 */
static int
cmd_audit_since(const char *s, uint64_t *ms)
{
	static const char *const fmts[] = { "%Y-%m-%dT%H:%M:%S",
	    "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M",
	    "%Y-%m-%d" };
	struct timespec now;
	struct tm tm;
	unsigned long long v;
	const char *e;
	char *end;
	size_t i;
	time_t t;

	clock_gettime(CLOCK_REALTIME, &now);
	if (s[0] == '@' && isdigit((unsigned char)s[1])) {
		v = strtoull(s + 1, &end, 10);
		if (*end != '\0' || v > UINT64_MAX / 1000)
			return -1;
		*ms = v * 1000;
		return 0;
	}
	if (isdigit((unsigned char)s[0])) {
		v = strtoull(s, &end, 10);
		if (end[0] != '\0' && end[1] == '\0' && strchr("smhd", end[0])) {
			v *= end[0] == 's' ? 1 : end[0] == 'm' ? 60 :
			    end[0] == 'h' ? 3600 : 86400;
			if (v > (unsigned long long)now.tv_sec)
				return -1;
			*ms = ((uint64_t)now.tv_sec - v) * 1000;
			return 0;
		}
	}
	for (i = 0; i < sizeof(fmts) / sizeof(fmts[0]); i++) {
		memset(&tm, 0, sizeof(tm));
		if ((e = strptime(s, fmts[i], &tm)) == NULL || *e != '\0')
			continue;
		tm.tm_isdst = -1;
		if ((t = mktime(&tm)) == (time_t)-1 || t < 0)
			return -1;
		*ms = (uint64_t)t * 1000;
		return 0;
	}
	return -1;
}

static void
cmd_audit_print(const Ferry__AuditEntry *e)
{
	char when[32], who[96], job[24] = "-", outcome[48];

	ctl_fmt_time(e->time_ms, 0, when, sizeof(when));
	/* HA: user@coordinator, the one it was asked of (a standby relays
	 * to the leader, which records it). */
	if (e->has_uid)
		snprintf(who, sizeof(who), "%s%s%s (uid %" PRId64 ")",
		    out_cell(e->who), e->coordinator ? "@" : "",
		    e->coordinator ? out_cell(e->coordinator) : "", e->uid);
	else
		snprintf(who, sizeof(who), "%s%s%s", out_cell(e->who),
		    e->coordinator ? "@" : "",
		    e->coordinator ? out_cell(e->coordinator) : "");
	if (e->has_job_id)
		snprintf(job, sizeof(job), "%" PRIu64, e->job_id);
	/* The job's own end, when the command started one. */
	snprintf(outcome, sizeof(outcome), "%s%s%s%s", e->outcome,
	    e->job_state ? " (" : "", e->job_state ? e->job_state : "",
	    e->job_state ? ")" : "");
	printf("%6" PRIu64 "  %-19s  %-4s %-22s %-18s %-22s %s\n", e->id, when,
	    e->via, who, e->what, outcome, job);
	if (e->args != NULL)
		printf("%6s  %s\n", "", out_cell(e->args));
	if (e->message != NULL && e->message[0])
		printf("%6s  %s\n", "", out_cell(e->message));
}

static int
cmd_audit_exec(struct ctl *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "since", required_argument, NULL, 's' },
		{ "limit", required_argument, NULL, 'l' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	Ferry__AuditRequest req = FERRY__AUDIT_REQUEST__INIT;
	Ferry__AuditReply *r;
	uint64_t v;
	size_t i;
	int ch, json = 0;

	optind = 0;
	while ((ch = getopt_long(argc, argv, "s:l:j", opts, NULL)) != -1) {
		switch (ch) {
		case 's':
			if (cmd_audit_since(optarg, &req.since_ms) < 0) {
				out_fail("--since: '%s' is not a time (10m, 2h, "
				    "7d, 2026-12-02 03:15, @SECONDS)", optarg);
				return CTL_EXIT_USAGE;
			}
			req.has_since_ms = 1;
			break;
		case 'l':
			if (ctl_parse_num("--limit", optarg, UINT32_MAX,
			    &v) < 0)
				return CTL_EXIT_USAGE;
			req.has_limit = 1;
			req.limit = (uint32_t)v;
			break;
		case 'j':
			json = 1;
			out_set_json(1);
			break;
		default:
			return out_usage(&cmd_audit);
		}
	}
	if (optind != argc)
		return out_usage(&cmd_audit);
	if (ctl_connect(c) < 0)
		return CTL_EXIT_UNREACHABLE;
	if (ctl_call(c, MSG_CTL_AUDIT, &req.base,
	    &ferry__audit_reply__descriptor, (ProtobufCMessage **)&r) < 0)
		return CTL_EXIT_FAIL;
	if (json) {
		out_json(jsonv_audit(r));
	} else {
		printf("%6s  %-19s  %-4s %-22s %-18s %-22s %s\n", "ID", "TIME",
		    "VIA", "WHO", "WHAT", "OUTCOME", "JOB");
		for (i = 0; i < r->n_entries; i++)
			cmd_audit_print(r->entries[i]);
	}
	ferry__audit_reply__free_unpacked(r, NULL);
	return CTL_EXIT_OK;
}

const struct ctl_cmd cmd_audit = {
	"audit", "[--since TIME] [--limit N] [--json]",
	"who asked what: the acting commands and their outcomes",
	cmd_audit_exec,
};
