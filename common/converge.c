/* converge.c: the convergence policy applied to every job statistics
 * sample of a live migration, and the pre-migration prediction. Pure
 * logic: see converge.h. */
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "converge.h"

/* What an unlimited bandwidth is taken to be in the prediction: a
 * 10 Gbit/s migration link carries about 1000 MiB/s of pages. */
#define CONVERGE_UNLIMITED_MIBS	1000

/* Passes after which the prediction gives up: QEMU keeps iterating, but a
 * migration that needs more is not one to start without help. */
#define CONVERGE_MAX_PASSES	30

/* QEMU updates its dirty rate at a bitmap sync at least 1 s after the
 * last update: a pass boundary sooner than twice that after a throttle
 * change still reports the rate that change was decided from. */
#define CONVERGE_RATE_SETTLE_MS	2000

/* Passes without a new low of data remaining, at the gentle limit, before
 * the throttle may go deeper: a guest whose passes still shrink there
 * converges without being starved. */
#define CONVERGE_GENTLE_STALLS	2

/* Past the gentle limit a throttle tightens by at most this many points a
 * decision: each point costs the guest more than the last (the lab's
 * faster guest went 72 -> 78 -> 87 % and lost 5 s of heartbeat). */
#define CONVERGE_PAST_STEP	5

/* best_remaining before the first iteration boundary. */
#define CONVERGE_UNSET		UINT64_MAX

void
converge_policy_defaults(struct converge_policy *p)
{
	memset(p, 0, sizeof(*p));
	/* libvirt's default: the migration network is meant for it; a
	 * limit is the operator's call. */
	p->bandwidth_mibs = 0;
	/* A 0.5 s pause is what TCP peers and most services ride out
	 * without noticing; OpenStack Nova raises to the same ceiling. */
	p->max_downtime_ms = 500;
	/* Below QEMU's 300 ms: a guest with a small dirty set gets a short
	 * pause; the ramp raises it only when passes do not converge. */
	p->initial_downtime_ms = 100;
	/* Reaches max after 5 more passes, so max is tried before the stall
	 * detector (also 5) can give up. */
	p->downtime_steps = 5;
	/* A fixed limit is wrong for both a 1 GiB and a 64 GiB guest. */
	p->timeout_s = 0;
	/* About 13 full passes over 1 GiB on a 1 Gbit/s link (Nova allows
	 * 800 s/GiB; an abort leaves the guest running, so fail sooner and
	 * say why). */
	p->timeout_s_per_gib = 120;
	/* Small guests still need time for setup and a slow link. */
	p->timeout_min_s = 60;
	/* Five passes without 1% less to send: it is not converging. */
	p->stall_iterations = 5;
	/* A failed post-copy leaves the guest split over two hosts and
	 * paused; opt in. */
	p->allow_postcopy = 0;
	/* Throttles the guest's vCPUs; opt in. */
	p->auto_converge = 0;
	/* What Nova and virsh poll at; GetJobStats is cheap. */
	p->stats_interval_ms = 500;
	/* A guest that out-dirties the link never converges by itself;
	 * slowing its vCPUs only while it moves is the cheapest way out,
	 * and it is released the moment the migration ends. */
	p->throttle = 1;
	/* Half the link: each pass then sends at most half the last. */
	p->throttle_target_pct = 50;
	/* Of the vCPU time the guest used before: it keeps a twentieth. */
	p->throttle_max_pct = 95;
	/* Enough full passes at the rate achieved for the ladder to work. */
	p->timeout_passes = 8;
	/* Truly stuck: no new low of data remaining in this long. */
	p->progress_timeout_s = 60;
	/* A 1 s pause costs a guest less than a throttle past the gentle
	 * limit: there the lab's guests froze 4-21 s (bench/RESULTS.md). */
	p->stalled_downtime_ms = 1000;
}

uint64_t
converge_timeout_ms(const struct converge_policy *p, uint64_t mem_mib)
{
	uint64_t s, prod;

	if (p->timeout_s != 0)
		return (uint64_t)p->timeout_s * 1000;
	/* per_gib * mem_mib / 1024, rounded up to a whole second. */
	if (__builtin_mul_overflow(mem_mib, (uint64_t)p->timeout_s_per_gib,
	    &prod))
		return UINT64_MAX;
	s = prod / 1024 + (prod % 1024 != 0);
	if (s < p->timeout_min_s)
		s = p->timeout_min_s;
	if (s > UINT64_MAX / 1000)
		return UINT64_MAX;
	return s * 1000;
}

void
converge_init(struct converge_state *st, const struct converge_policy *p,
    uint64_t mem_mib)
{
	memset(st, 0, sizeof(*st));
	st->pol = *p;
	st->mem_mib = mem_mib;
	st->timeout_ms = converge_timeout_ms(p, mem_mib);
	/* The downtime never goes above max, even if initial says so. */
	st->downtime_ms = p->initial_downtime_ms < p->max_downtime_ms ?
	    p->initial_downtime_ms : p->max_downtime_ms;
	st->best_remaining = CONVERGE_UNSET;
}

/*
 * The completion limit at the link's achieved rate: timeout_passes full
 * passes over the guest's memory at data_processed / time_elapsed, and
 * never below the static limit (converge_timeout_ms). A fixed timeout_s
 * is the operator's and is kept.
 */
uint64_t
converge_link_timeout_ms(const struct converge_state *st,
    const struct hv_job_stats *s)
{
	uint64_t lim = st->timeout_ms, mem, ms;
	double rate;

	if (st->pol.timeout_s != 0 || st->pol.timeout_passes == 0 ||
	    s->time_elapsed < 2000 || s->data_processed == 0)
		return lim;
	mem = s->memory_total ? s->memory_total : st->mem_mib << 20;
	rate = (double)s->data_processed / (double)s->time_elapsed; /* B/ms */
	ms = (uint64_t)((double)mem * st->pol.timeout_passes / rate);
	/* whole seconds, so the reason reads exactly */
	ms = (ms + 999) / 1000 * 1000;
	return ms > lim ? ms : lim;
}

/*
 * The vCPU throttle that brings a guest dirtying dirty_mibs, now throttled
 * cur_pct, to the target share of the link: the guest's remaining vCPU
 * share scales by target / dirty. 0 when no throttle is needed.
 */
uint32_t
converge_throttle_for(double dirty_mibs, double link_mibs, uint32_t cur_pct,
    const struct converge_policy *p)
{
	double target, share;
	uint32_t pct;

	if (!(dirty_mibs > 0) || !(link_mibs > 0))
		return cur_pct;
	target = link_mibs * p->throttle_target_pct / 100.0;
	share = (100.0 - cur_pct) * target / dirty_mibs;
	if (share >= 100.0)
		return 0;
	pct = (uint32_t)(100.0 - share + 0.5);
	if (pct > p->throttle_max_pct)
		pct = p->throttle_max_pct;
	return pct;
}

static double
converge_dirty_mibs(const struct converge_state *st, const struct hv_job_stats *s)
{
	uint64_t ps = s->memory_page_size ? s->memory_page_size : 4096;
	double q = 0;

	if (s->memory_dirty_rate > 0)
		q = (double)(s->memory_dirty_rate * ps) / (1024.0 * 1024.0);
	/* Until the throttle starts, the check's rate is a floor: QEMU
	 * measures only from the second pass, and over a long first pass it
	 * counts a rewritten page once (the lab's 24 MiB/s guest read 3.1
	 * MiB/s after its 25 s pass 1, and went unthrottled two more passes).
	 * Once throttled, only QEMU's rate says what the throttle did. */
	if (st->throttle_pct == 0 && st->pol.dirty_mibs > q)
		return st->pol.dirty_mibs;
	return q;
}

static double
converge_link_mibs(const struct converge_state *st, const struct hv_job_stats *s)
{
	double mibs = (double)s->memory_bps / (1024.0 * 1024.0);

	/* memory_bps is QEMU's rate over its last 100 ms and dips at a pass
	 * boundary (the bitmap sync): 2.8 MiB/s at a 10 MiB/s cap in the
	 * lab, which took a throttle that already worked from 90 % to 95 %.
	 * The rate over the pass that just ended is the floor. */
	if (st->pass_mibs > mibs)
		mibs = st->pass_mibs;
	if (mibs > 0)
		return mibs;
	if (st->pol.bandwidth_mibs > 0)
		return (double)st->pol.bandwidth_mibs;
	return CONVERGE_UNLIMITED_MIBS;
}

static void
converge_set(struct converge_decision *d, enum converge_action a,
    uint64_t downtime_ms, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void
converge_set(struct converge_decision *d, enum converge_action a,
    uint64_t downtime_ms, const char *fmt, ...)
{
	va_list ap;

	d->action = a;
	d->downtime_ms = downtime_ms;
	va_start(ap, fmt);
	vsnprintf(d->reason, sizeof(d->reason), fmt, ap);
	va_end(ap);
}

/* Downtime after `step` of the ramp's steps: integer steps from the
 * effective initial to exactly max at the last. */
static uint64_t
converge_ramp_ms(const struct converge_policy *p, uint32_t step)
{
	uint64_t lo = p->initial_downtime_ms, hi = p->max_downtime_ms;

	if (lo >= hi || p->downtime_steps == 0)
		return hi < lo ? hi : lo;
	if (step >= p->downtime_steps)
		return hi;
	return lo + (hi - lo) * step / p->downtime_steps;
}

void
converge_step(struct converge_state *st, const struct hv_job_stats *s,
    struct converge_decision *d)
{
	const struct converge_policy *p = &st->pol;
	uint64_t iter, rem, best, elapsed_s, target, limit_ms;
	struct converge_prediction pr;
	double dirty, link;
	uint32_t pct;
	const char *why = "";
	int pause = 0;

	converge_set(d, CONV_CONTINUE, st->downtime_ms, "%s", "");
	d->throttle_pct = -1;
	d->throttle_reason[0] = '\0';
	if (!s->active || st->done)
		return;

	limit_ms = converge_link_timeout_ms(st, s);
	if (s->time_elapsed > limit_ms) {
		/* Aborting post-copy would pause the guest half-moved:
		 * let it finish. */
		if (st->postcopy || s->postcopy)
			return;
		/* timeout_ms is whole seconds, so rounding up keeps
		 * "N > M" true. */
		elapsed_s = s->time_elapsed / 1000 +
		    (s->time_elapsed % 1000 != 0);
		converge_set(d, CONV_ABORT, st->downtime_ms,
		    "completion timeout: %" PRIu64 " s elapsed > limit %"
		    PRIu64 " s", elapsed_s, limit_ms / 1000);
		st->done = 1;
		return;
	}

	/* Post-copy finishes by itself: no stall limit, no downtime. */
	if (st->postcopy || s->postcopy)
		return;

	/* No new low of data remaining at a pass boundary (1% below the
	 * best, see below) for too long: stuck, whatever else is said. */
	if (p->progress_timeout_s != 0 && st->last_iteration >= 2 &&
	    s->time_elapsed > st->low_ms &&
	    s->time_elapsed - st->low_ms > (uint64_t)p->progress_timeout_s * 1000) {
		if (p->allow_postcopy || p->postcopy_always) {
			st->postcopy = 1;
			converge_set(d, CONV_POSTCOPY, st->downtime_ms,
			    "no progress: data remaining has not reached a new "
			    "low for %" PRIu32 " s; switching to post-copy",
			    p->progress_timeout_s);
		} else {
			st->done = 1;
			converge_set(d, CONV_ABORT, st->downtime_ms,
			    "no progress: data remaining has not reached a new "
			    "low for %" PRIu32 " s and post-copy is not allowed",
			    p->progress_timeout_s);
		}
		return;
	}

	/* One sample is one observation of data_remaining, however many
	 * passes it skipped: a jump from 3 to 6 counts once, both for the
	 * stall counter and for the ramp. */
	iter = s->memory_iteration;
	if (iter <= st->last_iteration)
		return;
	if (iter >= 2 && st->last_iteration < 2)
		st->pass2_ms = s->time_elapsed;
	st->last_iteration = iter;
	/* A pass of at least a second, so that one slow sample does not
	 * make the rate; pass 1 counts from the job's start. */
	if (s->time_elapsed >= st->pass_ms + 1000 &&
	    s->data_processed > st->pass_processed)
		st->pass_mibs = (double)(s->data_processed -
		    st->pass_processed) * 1000.0 / (double)(s->time_elapsed -
		    st->pass_ms) / (1024.0 * 1024.0);
	st->pass_ms = s->time_elapsed;
	st->pass_processed = s->data_processed;

	/* --postcopy=always: the first pass is the pre-copy. */
	if (p->postcopy_always && iter >= 2) {
		st->postcopy = 1;
		converge_set(d, CONV_POSTCOPY, st->downtime_ms,
		    "iteration %" PRIu64 ": post-copy after the first pass "
		    "(policy: always)", iter);
		return;
	}

	/* The throttle, re-decided at every pass from QEMU's dirty rate
	 * and the rate the link achieved; before it would help (pass 1
	 * sends everything anyway) only when the prediction says pre-copy
	 * will not converge. */
	dirty = converge_dirty_mibs(st, s);
	link = converge_link_mibs(st, s);
	/* Re-decided only from a rate measured under the last change: the
	 * lab's short final passes re-applied one stale 8.0 MiB/s three
	 * times in 0.7 s, 79 % -> 95 %, and froze the guest for 5 s. */
	if (p->throttle && iter >= 2 && dirty > 0 && (st->throttle_pct == 0 ||
	    s->time_elapsed >= st->throttle_change_ms +
	    CONVERGE_RATE_SETTLE_MS) && (st->throttle_pct > 0 ||
	    (converge_predict(st->mem_mib ? st->mem_mib : 1, dirty,
	    (uint64_t)(link + 0.5) ? (uint64_t)(link + 0.5) : 1,
	    p->max_downtime_ms, &pr) == 0 && !pr.converges))) {
		pct = converge_throttle_for(dirty, link, st->throttle_pct, p);
		/* No deeper than the gentle limit while passes still shrink
		 * there: past it the lab's guests stopped keeping time (lag
		 * 1.4-4.5 s) though a gentler throttle already brought them
		 * under the link (bench/RESULTS.md, "sweep"). */
		if (st->gentle_pct > 0 && pct > st->gentle_pct) {
			uint32_t from = st->throttle_pct > st->gentle_pct ?
			    st->throttle_pct : st->gentle_pct;

			if (st->stalled < CONVERGE_GENTLE_STALLS) {
				pct = st->gentle_pct;
				why = "; the gentle limit";
			} else if (p->stalled_downtime_ms > st->downtime_ms) {
				/* First a longer pause, once (below): after it
				 * the downtime is already that long. */
				pct = from;
				pause = 1;
				why = "; the gentle limit";
			} else {
				if (pct > from + CONVERGE_PAST_STEP)
					pct = from + CONVERGE_PAST_STEP;
				why = "; past the gentle limit: passes stalled";
			}
		}
		/* Only tighter while the migration runs: a loosened guest
		 * dirtied in bursts again (lab); it is all released at the
		 * end. */
		if (pct < st->throttle_pct)
			pct = st->throttle_pct;
		if (pct != st->throttle_pct) {
			if (st->throttle_pct == 0)
				st->throttle_since_ms = s->time_elapsed;
			d->throttle_pct = (int)pct;
			snprintf(d->throttle_reason, sizeof(d->throttle_reason),
			    "dirty %.1f MiB/s %s link %.1f MiB/s: vCPU throttle "
			    "%" PRIu32 "%% -> %" PRIu32 "%% (target %.1f MiB/s%s)",
			    dirty, dirty > link ? ">" : "vs", link,
			    st->throttle_pct, pct,
			    link * p->throttle_target_pct / 100.0, why);
			st->throttle_pct = pct;
			st->throttle_change_ms = s->time_elapsed;
			/* a tighter throttle is progress of its own */
			st->stalled = 0;
		}
	}

	rem = s->data_remaining;
	best = st->best_remaining;
	/* At least 1% lower: best - rem >= ceil(best / 100). */
	if (best == CONVERGE_UNSET ||
	    (rem <= best && best - rem >= best / 100 + (best % 100 != 0))) {
		st->best_remaining = rem;
		st->low_ms = s->time_elapsed;
		st->stalled = 0;
	} else
		st->stalled++;
	/* The first pass is not judged: its clock starts with the second. */
	if (iter >= 2 && st->low_ms < st->pass2_ms)
		st->low_ms = st->pass2_ms;

	/* Stalled while the throttle can still tighten: let it (the
	 * no-progress timeout still catches a guest it cannot slow). */
	if (p->stall_iterations != 0 && st->stalled >= p->stall_iterations &&
	    !(p->throttle && st->throttle_pct > 0 &&
	    st->throttle_pct < p->throttle_max_pct)) {
		if (p->allow_postcopy) {
			st->postcopy = 1;
			converge_set(d, CONV_POSTCOPY, st->downtime_ms,
			    "stalled: data remaining has not fallen for %"
			    PRIu32 " iterations; switching to post-copy",
			    st->stalled);
		} else {
			st->done = 1;
			converge_set(d, CONV_ABORT, st->downtime_ms,
			    "stalled: data remaining has not fallen for %"
			    PRIu32 " iterations and post-copy is not allowed",
			    st->stalled);
		}
		return;
	}

	/* Passes stalled at the gentle limit: let QEMU stop the guest for
	 * up to stalled_downtime_ms at once instead of starving it for
	 * seconds; the throttle goes past the limit only if that stalls too. */
	if (pause) {
		st->stalled = 0;
		st->downtime_ms = p->stalled_downtime_ms;
		converge_set(d, CONV_SET_DOWNTIME, st->downtime_ms,
		    "iteration %" PRIu64 ": passes stalled at the gentle limit "
		    "(%" PRIu32 "%%): raising max downtime to %" PRIu64 " ms "
		    "instead of a deeper throttle", iter, st->throttle_pct,
		    st->downtime_ms);
		return;
	}

	/* Iteration 1 is the first full pass: only later passes say the
	 * dirty set does not fit the downtime. */
	if (iter < 2 || st->step >= p->downtime_steps)
		return;
	/* A throttled guest pays for every pass: the longest pause the
	 * policy allows at once, not a step a pass (the lab's throttled
	 * guests finished at the last steps, 5 passes in). */
	st->step = st->throttle_pct > 0 ? p->downtime_steps : st->step + 1;
	target = converge_ramp_ms(p, st->step);
	/* never below a pause already allowed (the stalled pause's) */
	if (target <= st->downtime_ms)
		return;
	st->downtime_ms = target;
	if (st->throttle_pct > 0)
		converge_set(d, CONV_SET_DOWNTIME, target,
		    "iteration %" PRIu64 ": raising max downtime to %" PRIu64
		    " ms at once (the guest is throttled)", iter, target);
	else
		converge_set(d, CONV_SET_DOWNTIME, target,
		    "iteration %" PRIu64 ": raising max downtime to %" PRIu64
		    " ms (step %" PRIu32 "/%" PRIu32 ")", iter, target,
		    st->step, p->downtime_steps);
}

static void
converge_bw_str(char *buf, size_t len, uint64_t bandwidth_mibs)
{
	if (bandwidth_mibs == 0)
		snprintf(buf, len, "unlimited bandwidth (assumed %d MiB/s)",
		    CONVERGE_UNLIMITED_MIBS);
	else
		snprintf(buf, len, "%" PRIu64 " MiB/s", bandwidth_mibs);
}

/* The classic pre-copy model. Pass 1 sends all memory; each later pass
 * sends what the guest dirtied during the one before. When what is left
 * after a pass fits in max_downtime, the guest stops and that is sent:
 * iterations counts the live passes, final_downtime_ms the stop-and-copy.
 * When it does not converge, iterations/seconds cover the passes modelled
 * and final_downtime_ms is the pause the last remainder would need. */
int
converge_predict(uint64_t mem_mib, double dirty_mibs, uint64_t bandwidth_mibs,
    uint32_t max_downtime_ms, struct converge_prediction *pr)
{
	char bw_str[64];
	size_t len;
	double bw, mem, limit, size, t, rem;
	uint32_t n;

	memset(pr, 0, sizeof(*pr));
	if (mem_mib == 0 || !(dirty_mibs >= 0) || isinf(dirty_mibs))
		return -1;
	bw = bandwidth_mibs ? (double)bandwidth_mibs : CONVERGE_UNLIMITED_MIBS;
	mem = (double)mem_mib;
	limit = bw * max_downtime_ms / 1000.0;
	converge_bw_str(bw_str, sizeof(bw_str), bandwidth_mibs);

	size = mem;
	for (n = 1;; n++) {
		t = size / bw;
		pr->seconds += t;
		rem = fmin(mem, dirty_mibs * t);
		pr->iterations = n;
		pr->final_downtime_ms = rem / bw * 1000.0;
		if (rem <= limit) {
			pr->converges = 1;
			pr->seconds += rem / bw;
			snprintf(pr->summary, sizeof(pr->summary),
			    "converges: ~%" PRIu32 " pass%s, ~%.1f s, ~%.0f ms "
			    "downtime at %s (dirty %.1f MiB/s)", n,
			    n == 1 ? "" : "es", pr->seconds,
			    pr->final_downtime_ms, bw_str, dirty_mibs);
			return 0;
		}
		if (rem >= size || n >= CONVERGE_MAX_PASSES)
			break;
		size = rem;
	}
	/* Still shrinking after the last pass modelled: slow, not hopeless. */
	if (rem < size) {
		len = strlen(bw_str);
		snprintf(bw_str + len, sizeof(bw_str) - len,
		    " within %d passes", CONVERGE_MAX_PASSES);
	}
	snprintf(pr->summary, sizeof(pr->summary),
	    "will not converge at %s: the guest dirties %.1f MiB/s; the "
	    "policy will throttle its vCPUs (%s)",
	    bw_str, dirty_mibs, bandwidth_mibs == 0 ?
	    "or use --postcopy" : "or raise --bandwidth, or use --postcopy");
	return 0;
}

const char *
converge_action_name(enum converge_action a)
{
	switch (a) {
	case CONV_CONTINUE:
		return "continue";
	case CONV_SET_DOWNTIME:
		return "set-downtime";
	case CONV_POSTCOPY:
		return "postcopy";
	case CONV_ABORT:
		return "abort";
	}
	return "unknown";
}

/* --postcopy=MODE and coordinator.conf's postcopy: "never" -1, "stalled"
 * 1 (when pre-copy stalls or makes no progress), "always" 2 (after the
 * first pass); 0: not one of them. */
int
converge_postcopy_mode(const char *s)
{
	if (s == NULL)
		return 0;
	if (strcmp(s, "never") == 0)
		return -1;
	if (strcmp(s, "stalled") == 0)
		return 1;
	if (strcmp(s, "always") == 0)
		return 2;
	return 0;
}
