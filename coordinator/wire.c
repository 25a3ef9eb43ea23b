/* wire.c: how a migration's stream travels, and what the wire measured.
 *
 * TLS: the cluster's migration_tls policy ("off", "on", "required") and
 * the operator's --tls / --no-tls resolve to one yes or no per job; under
 * "required" a migration without TLS is refused before anything starts.
 *
 * multifd: --parallel N or the cluster's migration_parallel fix the number
 * of streams. Otherwise (auto) the rule is: use several streams only when
 * one stream cannot fill the link, judged from what was measured. The
 * link is the operator's --bandwidth cap, else the cluster's link_mibs
 * (unknown: one stream). One stream's throughput into the destination
 * is what earlier single-stream migrations there achieved (QEMU's data
 * over its own migration time, from the destination's completed-job
 * statistics; a migration its cap held back says nothing about the
 * stream). When the link exceeds that by a quarter or more, the streams
 * are ceil(link / stream), at most WIRE_AUTO_MAX; nothing measured yet,
 * or post-copy allowed (QEMU 7.2 cannot combine it with multifd): one.
 *
 * Drains: wire_drain_parallel is their parallelism rule (see there).
 */
#include <stdio.h>
#include <string.h>

#include "coordinator.h"
#include "log.h"
#include "validate.h"

#define WIRE_AUTO_MAX		4	/* streams the auto rule may choose */
#define WIRE_FILLS		1.25	/* link / stream at which one is short */
#define WIRE_EWMA		0.5	/* weight of the newest measurement */
#define WIRE_DRAIN_START	2	/* a drain's first guess, nothing measured */

/* ceil of a positive ratio, without libm */
static uint32_t
wire_ceil(double v)
{
	uint32_t n = (uint32_t)v;

	return (double)n < v ? n + 1 : n;
}

int
wire_opts(struct coord *co, struct job_opts *o, int has_parallel,
    uint32_t parallel, int tls, char *err, size_t errlen)
{
	const char *pol = co->conf.migration_tls;

	if (has_parallel && validate_parallel(parallel, err, errlen) < 0)
		return -1;
	o->parallel = has_parallel ? parallel :
	    (uint32_t)co->conf.migration_parallel;
	if (has_parallel && parallel > 1 && o->postcopy > 0) {
		snprintf(err, errlen, "--parallel %u with --postcopy: QEMU "
		    "cannot run post-copy over several streams", parallel);
		return -1;
	}
	if (strcmp(pol, "required") == 0 && tls < 0) {
		snprintf(err, errlen, "--no-tls refused: the cluster's policy "
		    "requires TLS for every migration (coordinator.conf "
		    "migration_tls = \"required\")");
		return -1;
	}
	o->tls = tls > 0 || (tls == 0 && (strcmp(pol, "on") == 0 ||
	    strcmp(pol, "required") == 0));
	return 0;
}

/* The link a migration to dh may use, MiB/s; 0: unknown. */
static double
wire_link_mibs(const struct coord *co, const struct job *j)
{
	double l = co->conf.link_mibs;

	if (j->opts.bandwidth_mibs > 0 &&
	    (l == 0 || (double)j->opts.bandwidth_mibs < l))
		l = (double)j->opts.bandwidth_mibs;
	return l;
}

uint32_t
wire_streams(struct coord *co, const struct job *j, const struct host *dh,
    char *why, size_t whylen)
{
	double link, one;
	uint32_t n;

	if (j->opts.parallel > 0) {
		snprintf(why, whylen, "%u stream(s), as asked", j->opts.parallel);
		return j->opts.parallel;
	}
	if (j->opts.postcopy > 0) {
		snprintf(why, whylen, "one stream: post-copy allowed");
		return 1;
	}
	link = wire_link_mibs(co, j);
	one = dh != NULL ? dh->wire_stream_mibs : 0;
	if (link <= 0) {
		snprintf(why, whylen, "one stream: the link's capacity is "
		    "unknown (no --bandwidth, no link_mibs)");
		return 1;
	}
	if (one <= 0) {
		snprintf(why, whylen, "one stream: no single-stream throughput "
		    "into %s measured yet", dh ? dh->conf.name : "?");
		return 1;
	}
	if (link < one * WIRE_FILLS) {
		snprintf(why, whylen, "one stream: it carried %.0f MiB/s, "
		    "enough for the link's %.0f", one, link);
		return 1;
	}
	n = wire_ceil(link / one);
	if (n > WIRE_AUTO_MAX)
		n = WIRE_AUTO_MAX;
	snprintf(why, whylen, "%u streams: one carried %.0f MiB/s, the link "
	    "allows %.0f", n, one, link);
	return n;
}

/* A succeeded migration's figures into what its destination measured. */
void
wire_observe(struct coord *co, const struct job *j)
{
	struct host *dh = coord_host_find(co, j->destination);
	double mibs, fixed;
	uint64_t wall;

	if (dh == NULL || !j->has_data || !j->has_migration_ms ||
	    j->migration_ms == 0 || j->data_bytes == 0)
		return;
	mibs = (double)j->data_bytes / (1024.0 * 1024.0) /
	    ((double)j->migration_ms / 1000.0);
	/* The fixed cost: everything of the job but the data's own time on
	 * the wire (checks, set-up, switch-over, verification). */
	wall = clock_wall_ms() - j->started_ms;
	fixed = wall > j->migration_ms ? (double)(wall - j->migration_ms) : 0;
	dh->wire_fixed_ms = dh->wire_fixed_ms > 0 ? WIRE_EWMA * fixed +
	    (1 - WIRE_EWMA) * dh->wire_fixed_ms : fixed;
	/* Only one stream, not held back by its cap, measures a stream. */
	if (j->streams > 1 || (j->opts.bandwidth_mibs > 0 &&
	    mibs >= 0.8 * (double)j->opts.bandwidth_mibs))
		return;
	dh->wire_stream_mibs = dh->wire_stream_mibs > 0 ? WIRE_EWMA * mibs +
	    (1 - WIRE_EWMA) * dh->wire_stream_mibs : mibs;
	log_debug("%s: one stream carried %.1f MiB/s (now %.1f), fixed cost "
	    "%.0f ms", dh->conf.name, mibs, dh->wire_stream_mibs,
	    dh->wire_fixed_ms);
}

/*
 * A drain's parallelism: enough migrations at once that the link never
 * waits for a migration's fixed cost, and never more than a limit allows.
 * With F a migration's fixed cost (checks, set-up, switch-over,
 * verification) and X one guest's time on the wire (its memory over one
 * stream's measured throughput), while one guest's data flows the others
 * can do their fixed parts: n = ceil((F + X) / X). Capped by the
 * operator's --max-parallel (when given), by per_dest arrivals at each
 * destination of the plan, by the cluster's max_outgoing from one host,
 * and by the number of VMs. Nothing measured yet: WIRE_DRAIN_START, and
 * the drain asks again as its migrations report (drain_tick).
 */
uint32_t
wire_drain_parallel(struct coord *co, const char *src, const char **dests,
    size_t ndests, uint64_t mem_mib, size_t nitems, uint32_t operator_max,
    uint32_t per_dest, char *why, size_t whylen)
{
	double f = 0, t = 0, x;
	size_t i, nm = 0;
	uint32_t n, cap;
	char lim[160];

	for (i = 0; i < ndests; i++) {
		struct host *h = coord_host_find(co, dests[i]);

		if (h != NULL && h->wire_stream_mibs > 0 && h->wire_fixed_ms > 0) {
			f += h->wire_fixed_ms;
			t += h->wire_stream_mibs;
			nm++;
		}
	}
	if (nm == 0 || mem_mib == 0) {
		n = WIRE_DRAIN_START;
		snprintf(why, whylen, "nothing measured yet: %u", n);
	} else {
		f /= (double)nm;
		t /= (double)nm;
		if (co->conf.link_mibs > 0 && t > co->conf.link_mibs)
			t = co->conf.link_mibs;
		x = (double)mem_mib / t * 1000.0;
		n = wire_ceil((f + x) / x);
		snprintf(why, whylen, "fixed cost %.1f s, %llu MiB at %.0f "
		    "MiB/s takes %.1f s: %u", f / 1000.0,
		    (unsigned long long)mem_mib, t, x / 1000.0, n);
	}
	cap = (uint32_t)co->conf.max_outgoing;
	snprintf(lim, sizeof(lim), "max_outgoing %u from %s", cap, src);
	if (per_dest * (uint32_t)ndests < cap) {
		cap = per_dest * (uint32_t)ndests;
		snprintf(lim, sizeof(lim), "%u destination(s) x per_destination "
		    "%u", (unsigned)ndests, per_dest);
	}
	if (operator_max > 0 && operator_max < cap) {
		cap = operator_max;
		snprintf(lim, sizeof(lim), "--max-parallel %u", operator_max);
	}
	if (nitems > 0 && nitems < cap) {
		cap = (uint32_t)nitems;
		snprintf(lim, sizeof(lim), "%zu VM(s)", nitems);
	}
	if (cap == 0)
		cap = 1;
	if (n > cap) {
		n = cap;
		snprintf(why + strlen(why), whylen - strlen(why),
		    ", capped at %u by %s", n, lim);
	}
	return n;
}
