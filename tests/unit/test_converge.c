/* test_converge.c: the convergence policy replayed over job statistics
 * sequences (tests/data/jobstats/, one sample per line) and small tables,
 * and the pre-copy prediction against numbers worked out by hand. */
#include <limits.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "converge.h"
#include "hostd.h"

#define MIB		(1024ULL * 1024)
#define MAX_SAMPLES	512

struct replay {
	struct hv_job_stats	s[MAX_SAMPLES];
	struct converge_decision d[MAX_SAMPLES];
	size_t			n;
};

/* tests/data/ from $FERRY_TESTDATA, the source tree (cwd at the top of the
 * tree) or the build tree (B/tests/test_converge). */
static FILE *
open_testdata(const char *rel)
{
	char path[PATH_MAX + 64], exe[PATH_MAX];
	const char *env = getenv("FERRY_TESTDATA");
	ssize_t n;
	FILE *fp;
	char *p;

	if (env != NULL) {
		snprintf(path, sizeof(path), "%s/%s", env, rel);
		return fopen(path, "r");
	}
	snprintf(path, sizeof(path), "tests/data/%s", rel);
	if ((fp = fopen(path, "r")) != NULL)
		return fp;
	if ((n = readlink("/proc/self/exe", exe, sizeof(exe) - 1)) <= 0)
		return NULL;
	exe[n] = '\0';
	if ((p = strrchr(exe, '/')) == NULL)
		return NULL;
	*p = '\0';
	if ((p = strrchr(exe, '/')) == NULL)
		return NULL;
	*p = '\0';
	snprintf(path, sizeof(path), "%s/../tests/data/%s", exe, rel);
	return fopen(path, "r");
}

/* elapsed_ms iteration data_total data_processed data_remaining
 * memory_bps dirty_rate_pages page_size; '#' starts a comment. */
static void
load(struct replay *r, const char *name)
{
	char rel[128], line[512];
	unsigned long long v[8];
	struct hv_job_stats *s;
	FILE *fp;
	int lineno = 0;

	snprintf(rel, sizeof(rel), "jobstats/%s", name);
	if ((fp = open_testdata(rel)) == NULL)
		fail_msg("tests/data/%s not found (run from the top of the "
		    "tree or set FERRY_TESTDATA)", rel);
	memset(r, 0, sizeof(*r));
	while (fgets(line, sizeof(line), fp) != NULL) {
		lineno++;
		if (line[0] == '#' || line[0] == '\n')
			continue;
		if (sscanf(line, "%llu %llu %llu %llu %llu %llu %llu %llu",
		    &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6],
		    &v[7]) != 8)
			fail_msg("%s:%d: expected 8 numbers", rel, lineno);
		assert_true(r->n < MAX_SAMPLES);
		s = &r->s[r->n++];
		s->active = 1;
		s->type = 2;	/* VIR_DOMAIN_JOB_UNBOUNDED */
		s->time_elapsed = v[0];
		s->memory_iteration = v[1];
		s->data_total = s->memory_total = v[2];
		s->data_processed = s->memory_processed = v[3];
		s->data_remaining = s->memory_remaining = v[4];
		s->memory_bps = v[5];
		s->memory_dirty_rate = v[6];
		s->memory_page_size = v[7];
	}
	fclose(fp);
	assert_true(r->n > 0);
}

static void
replay(struct replay *r, struct converge_state *st)
{
	size_t i;

	for (i = 0; i < r->n; i++)
		converge_step(st, &r->s[i], &r->d[i]);
}

/* Every decision is CONTINUE except those listed (index, action). */
struct expect {
	size_t			idx;
	enum converge_action	action;
	uint64_t		downtime_ms;	/* SET_DOWNTIME only */
};

static void
check(const struct replay *r, const struct expect *e, size_t ne)
{
	size_t i, k;

	for (i = 0; i < r->n; i++) {
		for (k = 0; k < ne && e[k].idx != i; k++)
			;
		if (k == ne) {
			if (r->d[i].action != CONV_CONTINUE)
				fail_msg("sample %zu: %s (%s), expected continue",
				    i, converge_action_name(r->d[i].action),
				    r->d[i].reason);
			continue;
		}
		if (r->d[i].action != e[k].action)
			fail_msg("sample %zu: %s (%s), expected %s", i,
			    converge_action_name(r->d[i].action),
			    r->d[i].reason, converge_action_name(e[k].action));
		if (e[k].action == CONV_SET_DOWNTIME)
			assert_int_equal(r->d[i].downtime_ms, e[k].downtime_ms);
	}
}

static void
test_defaults(void **state)
{
	struct converge_policy p;

	(void)state;
	memset(&p, 0xff, sizeof(p));
	converge_policy_defaults(&p);
	assert_int_equal(p.bandwidth_mibs, 0);
	assert_int_equal(p.max_downtime_ms, 500);
	assert_int_equal(p.initial_downtime_ms, 100);
	assert_int_equal(p.downtime_steps, 5);
	assert_int_equal(p.timeout_s, 0);
	assert_int_equal(p.timeout_s_per_gib, 120);
	assert_int_equal(p.timeout_min_s, 60);
	assert_int_equal(p.stall_iterations, 5);
	assert_int_equal(p.allow_postcopy, 0);
	assert_int_equal(p.auto_converge, 0);
	assert_int_equal(p.stats_interval_ms, 500);
}

static void
test_timeout_scaling(void **state)
{
	struct converge_policy p;
	struct converge_state st;

	(void)state;
	converge_policy_defaults(&p);
	/* 120 * 0.25 GiB = 30 s, below the 60 s minimum */
	assert_int_equal(converge_timeout_ms(&p, 256), 60000);
	/* 120 * 4 GiB = 480 s */
	assert_int_equal(converge_timeout_ms(&p, 4096), 480000);
	/* 120 * 1.5 GiB = 180 s */
	assert_int_equal(converge_timeout_ms(&p, 1536), 180000);
	/* 120 * 1000 / 1024 = 117.19 s, rounded up to 118 */
	assert_int_equal(converge_timeout_ms(&p, 1000), 118000);
	/* 120 * 513 / 1024 = 60.12 s: just above the minimum, 61 */
	assert_int_equal(converge_timeout_ms(&p, 513), 61000);

	p.timeout_s = 30;	/* explicit wins, even below the minimum */
	assert_int_equal(converge_timeout_ms(&p, 4096), 30000);
	converge_init(&st, &p, 4096);
	assert_int_equal(st.timeout_ms, 30000);
	assert_int_equal(st.downtime_ms, 100);
	assert_int_equal(st.mem_mib, 4096);
	assert_int_equal(st.step, 0);
	assert_int_equal(st.done, 0);

	p.timeout_s = 0;
	converge_init(&st, &p, 4096);
	assert_int_equal(st.timeout_ms, 480000);
}

/* fast.txt: iterations 2..5 begin at samples 16, 24, 28, 30; each raises
 * the downtime one step: 100 + 400 * k / 5 = 180, 260, 340, 420. */
static void
test_fast_converging(void **state)
{
	static struct replay r;
	static const struct expect e[] = {
		{ 16, CONV_SET_DOWNTIME, 180 },
		{ 24, CONV_SET_DOWNTIME, 260 },
		{ 28, CONV_SET_DOWNTIME, 340 },
		{ 30, CONV_SET_DOWNTIME, 420 },
	};
	struct converge_policy p;
	struct converge_state st;
	struct converge_decision d;
	struct hv_job_stats done;

	(void)state;
	load(&r, "fast.txt");
	assert_int_equal(r.n, 31);
	converge_policy_defaults(&p);
	converge_init(&st, &p, 1024);
	replay(&r, &st);
	check(&r, e, sizeof(e) / sizeof(e[0]));
	assert_string_equal(r.d[16].reason,
	    "iteration 2: raising max downtime to 180 ms (step 1/5)");
	assert_int_equal(st.step, 4);
	assert_int_equal(st.downtime_ms, 420);
	assert_int_equal(st.stalled, 0);
	assert_int_equal(st.done, 0);

	/* the job has ended: libvirt reports no active job */
	memset(&done, 0, sizeof(done));
	done.time_elapsed = 15800;
	converge_step(&st, &done, &d);
	assert_int_equal(d.action, CONV_CONTINUE);
}

/* stall.txt: every pass after the first has the same 384 MiB. At the
 * first sample of each iteration: 1 sets best (947 MiB), 2 a new best
 * (307 MiB) and ramp step 1, 3..6 stalled 1..4 with steps 2..5, 7 (sample
 * 23) stalled 5. */
static const struct expect stall_ramp[] = {
	{ 8, CONV_SET_DOWNTIME, 180 },
	{ 11, CONV_SET_DOWNTIME, 260 },
	{ 14, CONV_SET_DOWNTIME, 340 },
	{ 17, CONV_SET_DOWNTIME, 420 },
	{ 20, CONV_SET_DOWNTIME, 500 },
};

static void
test_stall_postcopy(void **state)
{
	static struct replay r;
	struct expect e[6];
	struct converge_policy p;
	struct converge_state st;
	size_t i, npost = 0;

	(void)state;
	load(&r, "stall.txt");
	assert_int_equal(r.n, 26);
	converge_policy_defaults(&p);
	p.throttle = 0;	/* the stall detector alone */
	p.allow_postcopy = 1;
	/* a limit the post-copy samples (12300, 12800 ms) are past */
	p.timeout_s = 12;
	converge_init(&st, &p, 1024);
	replay(&r, &st);

	memcpy(e, stall_ramp, sizeof(stall_ramp));
	e[5] = (struct expect){ 23, CONV_POSTCOPY, 0 };
	check(&r, e, 6);
	for (i = 0; i < r.n; i++)
		npost += r.d[i].action == CONV_POSTCOPY;
	assert_int_equal(npost, 1);
	assert_string_equal(r.d[23].reason, "stalled: data remaining has not "
	    "fallen for 5 iterations; switching to post-copy");
	assert_true(r.s[24].time_elapsed > st.timeout_ms);
	assert_true(r.s[25].time_elapsed > st.timeout_ms);
	assert_int_equal(st.postcopy, 1);
	assert_int_equal(st.done, 0);
	assert_int_equal(st.downtime_ms, 500);
}

static void
test_stall_abort(void **state)
{
	static struct replay r;
	struct expect e[6];
	struct converge_policy p;
	struct converge_state st;

	(void)state;
	load(&r, "stall.txt");
	converge_policy_defaults(&p);
	p.throttle = 0;	/* the stall detector alone */
	converge_init(&st, &p, 1024);
	replay(&r, &st);

	memcpy(e, stall_ramp, sizeof(stall_ramp));
	e[5] = (struct expect){ 23, CONV_ABORT, 0 };
	check(&r, e, 6);
	assert_string_equal(r.d[23].reason, "stalled: data remaining has not "
	    "fallen for 5 iterations and post-copy is not allowed");
	assert_int_equal(st.done, 1);
	assert_int_equal(st.postcopy, 0);
}

/* timeout.txt: 256 MiB guest, limit 60 s; sample 119 is at 60000 ms (not
 * past), sample 120 at 60500 ms is the first past it. */
static void
test_completion_timeout(void **state)
{
	static struct replay r;
	static const struct expect e[] = { { 120, CONV_ABORT, 0 } };
	struct converge_policy p;
	struct converge_state st;

	(void)state;
	load(&r, "timeout.txt");
	assert_true(r.n > 121);
	assert_int_equal(r.s[119].time_elapsed, 60000);
	converge_policy_defaults(&p);
	/* the static limit alone (the link's is tested below) */
	p.timeout_passes = 0;
	p.throttle = 0;
	p.progress_timeout_s = 0;
	converge_init(&st, &p, 256);
	replay(&r, &st);
	check(&r, e, 1);
	/* 60500 ms rounds up to 61 s */
	assert_string_equal(r.d[120].reason,
	    "completion timeout: 61 s elapsed > limit 60 s");
	assert_int_equal(st.done, 1);
}

static struct hv_job_stats sample(uint64_t, uint64_t, uint64_t);

/* The limit follows the link: 8 passes over 256 MiB at the 4 MiB/s
 * achieved is 512 s, above the static 60 s. */
static void
test_link_timeout(void **state)
{
	struct converge_policy p;
	struct converge_state st;
	struct hv_job_stats s;
	struct converge_decision d;

	(void)state;
	converge_policy_defaults(&p);
	converge_init(&st, &p, 256);
	memset(&s, 0, sizeof(s));
	s.active = 1;
	s.time_elapsed = 10000;
	s.data_processed = 40ULL << 20;
	s.memory_total = 256ULL << 20;
	assert_int_equal(converge_link_timeout_ms(&st, &s), 512000);
	/* a fast link: the static floor */
	s.data_processed = 4000ULL << 20;
	assert_int_equal(converge_link_timeout_ms(&st, &s), 60000);
	/* an operator's fixed timeout is kept */
	p.timeout_s = 30;
	converge_init(&st, &p, 256);
	s.data_processed = 40ULL << 20;
	assert_int_equal(converge_link_timeout_ms(&st, &s), 30000);
	s.time_elapsed = 31000;
	s.data_total = 1;
	converge_step(&st, &s, &d);
	assert_int_equal(d.action, CONV_ABORT);
}

/* Data remaining never reaches a new low: abort after the no-progress
 * timeout, or post-copy when allowed; set-up samples are no low. */
static void
test_no_progress(void **state)
{
	struct converge_policy p;
	struct converge_state st;
	struct hv_job_stats s;
	struct converge_decision d;
	int post;

	(void)state;
	for (post = 0; post <= 1; post++) {
		converge_policy_defaults(&p);
		p.progress_timeout_s = 10;
		p.stall_iterations = 0;
		p.throttle = 0;
		p.allow_postcopy = post;
		p.timeout_s = 1000;
		converge_init(&st, &p, 256);
		s = sample(500, 0, 0);
		s.data_total = 0;
		converge_step(&st, &s, &d);
		assert_int_equal(d.action, CONV_CONTINUE);
		s = sample(1000, 1, 200 * MIB);		/* pass 1: no boundary yet */
		converge_step(&st, &s, &d);
		s = sample(30000, 1, 1 * MIB);
		converge_step(&st, &s, &d);
		assert_int_equal(d.action, CONV_CONTINUE);
		s = sample(31000, 2, 60 * MIB);		/* the best so far */
		converge_step(&st, &s, &d);
		s = sample(40000, 2, 1 * MIB);		/* low within a pass: no */
		converge_step(&st, &s, &d);
		s = sample(41000, 3, 60 * MIB);		/* not 1 % below */
		converge_step(&st, &s, &d);
		assert_true(d.action != CONV_ABORT && d.action != CONV_POSTCOPY);
		s = sample(41500, 3, 1 * MIB);
		converge_step(&st, &s, &d);
		assert_int_equal(d.action, post ? CONV_POSTCOPY : CONV_ABORT);
		assert_non_null(strstr(d.reason, "no progress"));
	}
}

/* A guest dirtying 30 MiB/s over a 10 MiB/s link: from the second pass,
 * the throttle brings it to half the link (share 100 -> 100*5/30), and
 * tightens while it still dirties too much; never above the max. */
static void
test_throttle(void **state)
{
	struct converge_policy p;
	struct converge_state st;
	struct hv_job_stats s;
	struct converge_decision d;

	(void)state;
	converge_policy_defaults(&p);
	p.timeout_s = 1000;
	assert_int_equal(converge_throttle_for(30, 10, 0, &p), 83);
	assert_int_equal(converge_throttle_for(4, 10, 0, &p), 0);
	assert_int_equal(converge_throttle_for(30, 10, 83, &p), 95);
	assert_int_equal(converge_throttle_for(1000, 10, 90, &p), 95);
	converge_init(&st, &p, 256);
	s = sample(1000, 1, 250 * MIB);
	s.memory_bps = 10 * MIB;
	converge_step(&st, &s, &d);
	assert_int_equal(d.throttle_pct, -1);	/* pass 1: no throttle */
	s = sample(26000, 2, 64 * MIB);
	s.memory_bps = 10 * MIB;
	s.memory_dirty_rate = 30 * 256;		/* pages of 4 KiB */
	converge_step(&st, &s, &d);
	assert_int_equal(d.throttle_pct, 83);
	assert_string_equal(d.throttle_reason, "dirty 30.0 MiB/s > link 10.0 "
	    "MiB/s: vCPU throttle 0% -> 83% (target 5.0 MiB/s)");
	/* still 30: tighter */
	s = sample(33000, 3, 60 * MIB);
	s.memory_bps = 10 * MIB;
	s.memory_dirty_rate = 30 * 256;
	converge_step(&st, &s, &d);
	assert_int_equal(d.throttle_pct, 95);
	/* a guest that converges by itself is never throttled */
	converge_init(&st, &p, 256);
	s = sample(26000, 2, 64 * MIB);
	s.memory_bps = 100 * MIB;
	s.memory_dirty_rate = 4 * 256;
	converge_step(&st, &s, &d);
	assert_int_equal(d.throttle_pct, -1);
	/* nor when the policy says no */
	p.throttle = 0;
	converge_init(&st, &p, 256);
	s = sample(26000, 2, 64 * MIB);
	s.memory_bps = 10 * MIB;
	s.memory_dirty_rate = 30 * 256;
	converge_step(&st, &s, &d);
	assert_int_equal(d.throttle_pct, -1);
}

/* The link a throttle is decided against is never below the rate the last
 * pass achieved: QEMU's memory_bps dipped to 2.8 MiB/s at a pass boundary
 * at a 10 MiB/s cap (lab, job 1 of 14:22), which took a throttle under
 * which the guest already dirtied 4.4 MiB/s from 90 % to 95 % and stalled
 * its heartbeat for 4 s. A link that really is slower still tightens it. */
static void
test_throttle_link_dip(void **state)
{
	struct converge_policy p;
	struct converge_state st;
	struct hv_job_stats s;
	struct converge_decision d;

	(void)state;
	converge_policy_defaults(&p);
	p.timeout_s = 1000;
	converge_init(&st, &p, 256);
	s = sample(1000, 1, 250 * MIB);
	s.data_processed = 10 * MIB;
	s.memory_bps = 10 * MIB;
	converge_step(&st, &s, &d);
	assert_int_equal(d.throttle_pct, -1);
	s = sample(26000, 2, 64 * MIB);
	s.data_processed = 260 * MIB;
	s.memory_bps = 10 * MIB;
	s.memory_dirty_rate = 42 * 256;
	converge_step(&st, &s, &d);
	assert_int_equal(d.throttle_pct, 88);
	/* 70 MiB in the 7 s of pass 2: 10 MiB/s, whatever the last 100 ms
	 * said; 4.4 MiB/s is below the 5 MiB/s target: no tighter */
	s = sample(33000, 3, 30 * MIB);
	s.data_processed = 330 * MIB;
	s.memory_bps = 2.8 * MIB;
	s.memory_dirty_rate = 4.4 * 256;
	converge_step(&st, &s, &d);
	assert_int_equal(d.throttle_pct, -1);
	assert_int_equal(st.throttle_pct, 88);
	assert_string_equal(d.throttle_reason, "");
	/* 20 MiB in 10 s: the link is 2 MiB/s, and 4.4 is too much for it */
	s = sample(43000, 4, 30 * MIB);
	s.data_processed = 350 * MIB;
	s.memory_bps = 2 * MIB;
	s.memory_dirty_rate = 4.4 * 256;
	converge_step(&st, &s, &d);
	assert_int_equal(d.throttle_pct, 95);
	assert_string_equal(d.throttle_reason, "dirty 4.4 MiB/s > link 2.0 "
	    "MiB/s: vCPU throttle 88% -> 95% (target 1.0 MiB/s)");
}

/* QEMU's dirty rate is updated at most once a second: pass boundaries
 * within 2 s of a throttle change report the rate it was decided from,
 * and re-applying it tightened 79 % -> 87 % -> 92 % -> 95 % in 0.7 s (lab,
 * 14:55:53, the guest's heartbeat then stopped for 5 s). One change per
 * measurement; a rate measured after it still tightens. */
static void
test_throttle_stale_rate(void **state)
{
	struct converge_policy p;
	struct converge_state st;
	struct hv_job_stats s;
	struct converge_decision d;

	(void)state;
	converge_policy_defaults(&p);
	p.timeout_s = 1000;
	converge_init(&st, &p, 256);
	s = sample(1000, 1, 250 * MIB);
	s.memory_bps = 10 * MIB;
	converge_step(&st, &s, &d);
	s = sample(26000, 2, 64 * MIB);
	s.memory_bps = 10 * MIB;
	s.memory_dirty_rate = 30 * 256;
	converge_step(&st, &s, &d);
	assert_int_equal(d.throttle_pct, 83);
	/* short passes 0.4 s apart, the same stale 30 MiB/s */
	s = sample(26400, 3, 40 * MIB);
	s.memory_bps = 10 * MIB;
	s.memory_dirty_rate = 30 * 256;
	converge_step(&st, &s, &d);
	assert_int_equal(d.throttle_pct, -1);
	s = sample(26800, 4, 30 * MIB);
	s.memory_bps = 10 * MIB;
	s.memory_dirty_rate = 30 * 256;
	converge_step(&st, &s, &d);
	assert_int_equal(d.throttle_pct, -1);
	assert_int_equal(st.throttle_pct, 83);
	/* 2 s on, still 30: that one is the throttle's own result */
	s = sample(28000, 5, 25 * MIB);
	s.memory_bps = 10 * MIB;
	s.memory_dirty_rate = 30 * 256;
	converge_step(&st, &s, &d);
	assert_int_equal(d.throttle_pct, 95);
}

/* A throttled guest gets the policy's longest pause at once, in the same
 * decision as the throttle, and no step after: the lab's throttled guests
 * finished only at the ramp's last steps, five throttled passes in. The
 * operator's max holds. */
static void
test_throttle_downtime(void **state)
{
	struct converge_policy p;
	struct converge_state st;
	struct hv_job_stats s;
	struct converge_decision d;
	uint64_t it;

	(void)state;
	converge_policy_defaults(&p);
	p.timeout_s = 1000;
	for (int round = 0; round < 2; round++) {
		if (round == 1)
			p.max_downtime_ms = 300;
		converge_init(&st, &p, 256);
		s = sample(1000, 1, 250 * MIB);
		s.memory_bps = 10 * MIB;
		converge_step(&st, &s, &d);
		assert_int_equal(d.action, CONV_CONTINUE);
		s = sample(26000, 2, 64 * MIB);
		s.memory_bps = 10 * MIB;
		s.memory_dirty_rate = 30 * 256;
		converge_step(&st, &s, &d);
		assert_int_equal(d.throttle_pct, 83);
		assert_int_equal(d.action, CONV_SET_DOWNTIME);
		assert_int_equal(d.downtime_ms, p.max_downtime_ms);
		assert_int_equal(st.downtime_ms, p.max_downtime_ms);
		assert_string_equal(d.reason, round == 0 ?
		    "iteration 2: raising max downtime to 500 ms at once "
		    "(the guest is throttled)" :
		    "iteration 2: raising max downtime to 300 ms at once "
		    "(the guest is throttled)");
		/* shrinking passes: nothing more to raise */
		for (it = 3; it <= 6; it++) {
			s = sample(26000 + it * 1000, it, (64 * MIB) >> it);
			s.memory_bps = 10 * MIB;
			s.memory_dirty_rate = 4 * 256;
			converge_step(&st, &s, &d);
			assert_int_equal(d.action, CONV_CONTINUE);
			assert_int_equal(st.downtime_ms, p.max_downtime_ms);
		}
	}
}

/* hostd's throttle takes its percentage of the mean unthrottled share, not
 * the peak: in the lab the vCPU used 0.024 CPU on average over 90 samples
 * and 0.408 in the one after QEMU's migration setup held it; 95 % of the
 * peak (0.020) is no throttle at all for a guest that needs 0.024. */
static void
test_throttle_base(void **state)
{
	struct throttle t;
	int i;

	(void)state;
	memset(&t, 0, sizeof(t));
	for (i = 0; i < 89; i++)
		throttle_base_add(&t, 0.020);
	throttle_base_add(&t, 0.408);
	assert_int_equal(t.nshare, 90);
	assert_float_equal(t.peak_share, 0.408, 1e-9);
	assert_float_equal(t.base_share, (89 * 0.020 + 0.408) / 90, 1e-9);
	assert_true(t.base_share * (100 - 95) / 100.0 < 0.020);
	/* a bad sample (clock or counter went back) is not one */
	throttle_base_add(&t, -1.0);
	assert_int_equal(t.nshare, 90);
}

/* A pass boundary on a 10 MiB/s link with QEMU's dirty rate in MiB/s. */
static struct hv_job_stats
tsample(uint64_t elapsed_ms, uint64_t iteration, uint64_t remaining,
    uint32_t dirty_mibs)
{
	struct hv_job_stats s = sample(elapsed_ms, iteration, remaining);

	s.memory_bps = 10 * MIB;
	s.memory_dirty_rate = (uint64_t)dirty_mibs * 256;	/* 4 KiB pages */
	return s;
}

/* A 256 MiB guest's migration whose hostd measured a gentle limit of 70 %. */
static void
gentle_init(struct converge_state *st, const struct converge_policy *p)
{
	converge_init(st, p, 256);
	st->gentle_pct = 70;
}

/* Passes from..to, 3 s apart after t0 ms, none with a new low. */
static void
gentle_stall(struct converge_state *st, uint64_t from, uint64_t to,
    uint64_t t0, struct converge_decision *d)
{
	struct hv_job_stats s;
	uint64_t it;

	for (it = from; it <= to; it++) {
		s = tsample(t0 + (it - from + 1) * 3000, it, 20 * MIB, 8);
		converge_step(st, &s, d);
	}
}

/* The gentle limit (hostd: the deepest throttle whose 1 ms quota still
 * comes every 225 ms): the throttle stops there while passes shrink, and
 * goes past it only after two passes without a new low. In the lab the
 * 95 % a 30 MiB/s guest was given froze its heartbeat for 4-6 s, while
 * at 70 % it dirtied under the link and kept time. */
static void
test_throttle_gentle(void **state)
{
	struct converge_policy p;
	struct converge_state st;
	struct hv_job_stats s;
	struct converge_decision d;
	struct throttle t;
	uint64_t it;

	(void)state;
	memset(&t, 0, sizeof(t));
	assert_int_equal(throttle_gentle_pct(&t), 0);	/* nothing measured */
	throttle_base_add(&t, 0.004);
	assert_int_equal(throttle_gentle_pct(&t), 0);	/* under 1 ms a 225 ms */
	memset(&t, 0, sizeof(t));
	throttle_base_add(&t, 0.015);
	assert_int_equal(throttle_gentle_pct(&t), 70);

	converge_policy_defaults(&p);
	p.timeout_s = 1000;
	/* no longer pause first (test_throttle_stalled_pause) */
	p.stalled_downtime_ms = p.max_downtime_ms;
	gentle_init(&st, &p);
	s = tsample(26000, 2, 64 * MIB, 30);
	converge_step(&st, &s, &d);
	assert_int_equal(d.throttle_pct, 70);		/* not 83 */
	assert_string_equal(d.throttle_reason, "dirty 30.0 MiB/s > link 10.0 "
	    "MiB/s: vCPU throttle 0% -> 70% (target 5.0 MiB/s; the gentle "
	    "limit)");
	/* 8 MiB/s is over the 5 MiB/s target, but the pass shrank: held */
	s = tsample(29000, 3, 40 * MIB, 8);
	converge_step(&st, &s, &d);
	assert_int_equal(d.throttle_pct, -1);
	assert_int_equal(st.throttle_pct, 70);
	/* two passes without a new low: held; the third goes past it */
	for (it = 4; it <= 5; it++) {
		s = tsample(29000 + (it - 3) * 3000, it, 40 * MIB, 8);
		converge_step(&st, &s, &d);
		assert_int_equal(d.throttle_pct, -1);
		assert_true(d.action != CONV_ABORT);
	}
	s = tsample(38000, 6, 40 * MIB, 8);
	converge_step(&st, &s, &d);
	/* 81 % by the rate, but 5 points a decision past the limit */
	assert_int_equal(d.throttle_pct, 75);
	assert_string_equal(d.throttle_reason, "dirty 8.0 MiB/s vs link 10.0 "
	    "MiB/s: vCPU throttle 70% -> 75% (target 5.0 MiB/s; past the gentle "
	    "limit: passes stalled)");
	assert_true(d.action != CONV_ABORT);
	/* held while two passes count (the one it was decided at, no new
	 * low, is the first), then on */
	s = tsample(41000, 7, 40 * MIB, 8);
	converge_step(&st, &s, &d);
	assert_int_equal(d.throttle_pct, -1);
	s = tsample(44000, 8, 40 * MIB, 8);
	converge_step(&st, &s, &d);
	assert_int_equal(d.throttle_pct, 80);
	/* never past the policy's maximum */
	st.throttle_pct = 93;
	st.stalled = 2;
	st.throttle_change_ms = 0;
	s = tsample(60000, 10, 40 * MIB, 8);
	converge_step(&st, &s, &d);
	assert_int_equal(d.throttle_pct, 95);
}

/* Passes stalled at the gentle limit: the policy first allows one pause
 * of stalled_downtime_ms (1 s) and holds the throttle; only when passes
 * stall again does it go past the limit. In the lab the 48 MiB/s guest's
 * passes stalled near 20 MiB remaining at 71 %, and the 76-86 % that
 * followed froze it for 4 s. An operator's --max-downtime (hostd caps
 * stalled_downtime_ms at it) keeps the old ladder. */
static void
test_throttle_stalled_pause(void **state)
{
	struct converge_policy p;
	struct converge_state st;
	struct hv_job_stats s;
	struct converge_decision d;
	uint64_t it;

	(void)state;
	converge_policy_defaults(&p);
	assert_int_equal(p.stalled_downtime_ms, 1000);
	p.timeout_s = 1000;
	gentle_init(&st, &p);
	s = tsample(26000, 2, 64 * MIB, 30);
	converge_step(&st, &s, &d);
	assert_int_equal(d.throttle_pct, 70);
	assert_int_equal(d.action, CONV_SET_DOWNTIME);
	assert_int_equal(d.downtime_ms, 500);	/* the ceiling at once */
	s = tsample(29000, 3, 20 * MIB, 8);
	converge_step(&st, &s, &d);
	for (it = 4; it <= 5; it++) {
		s = tsample(29000 + (it - 3) * 3000, it, 20 * MIB, 8);
		converge_step(&st, &s, &d);
		assert_int_equal(d.throttle_pct, -1);
		assert_int_equal(d.action, CONV_CONTINUE);
	}
	/* stalled twice: a 1 s pause, the throttle held */
	s = tsample(38000, 6, 20 * MIB, 8);
	converge_step(&st, &s, &d);
	assert_int_equal(d.throttle_pct, -1);
	assert_int_equal(st.throttle_pct, 70);
	assert_int_equal(d.action, CONV_SET_DOWNTIME);
	assert_int_equal(d.downtime_ms, 1000);
	assert_int_equal(st.downtime_ms, 1000);
	assert_string_equal(d.reason, "iteration 6: passes stalled at the "
	    "gentle limit (70%): raising max downtime to 1000 ms instead of a "
	    "deeper throttle");
	/* held two more passes, not lowered back by the ramp */
	for (it = 7; it <= 8; it++) {
		s = tsample(38000 + (it - 6) * 3000, it, 20 * MIB, 8);
		converge_step(&st, &s, &d);
		assert_int_equal(d.throttle_pct, -1);
		assert_int_equal(d.action, CONV_CONTINUE);
		assert_int_equal(st.downtime_ms, 1000);
	}
	/* stalled again: now past the limit, 5 points, and once only */
	s = tsample(47000, 9, 20 * MIB, 8);
	converge_step(&st, &s, &d);
	assert_int_equal(d.throttle_pct, 75);
	assert_int_equal(d.action, CONV_CONTINUE);
	assert_int_equal(st.downtime_ms, 1000);

	/* the operator's 500 ms (hostd's mig_policy_of): no longer pause */
	converge_policy_defaults(&p);
	p.timeout_s = 1000;
	p.stalled_downtime_ms = 500;
	gentle_init(&st, &p);
	s = tsample(26000, 2, 64 * MIB, 30);
	converge_step(&st, &s, &d);
	gentle_stall(&st, 3, 6, 26000, &d);
	assert_int_equal(d.throttle_pct, 75);
	assert_int_not_equal(d.action, CONV_SET_DOWNTIME);
	assert_int_equal(st.downtime_ms, 500);
}

/* Before the throttle, the check's dirty rate is a floor under QEMU's: after
 * a 25 s first pass QEMU read 3.1 MiB/s for the lab's 24 MiB/s guest (each
 * page of its 64 MiB rewritten many times, counted once), the prediction
 * said it would converge and the guest went unthrottled for two passes. */
static void
test_throttle_check_rate_floor(void **state)
{
	struct converge_policy p;
	struct converge_state st;
	struct hv_job_stats s;
	struct converge_decision d;

	(void)state;
	converge_policy_defaults(&p);
	p.timeout_s = 1000;
	p.dirty_mibs = 24;
	gentle_init(&st, &p);
	s = tsample(26000, 2, 64 * MIB, 3);
	converge_step(&st, &s, &d);
	assert_int_equal(d.throttle_pct, 70);
	assert_string_equal(d.throttle_reason, "dirty 24.0 MiB/s > link 10.0 "
	    "MiB/s: vCPU throttle 0% -> 70% (target 5.0 MiB/s; the gentle "
	    "limit)");
	/* throttled: QEMU's rate alone (3 MiB/s: under the target, held) */
	s = tsample(29000, 3, 40 * MIB, 3);
	converge_step(&st, &s, &d);
	assert_int_equal(d.throttle_pct, -1);
	assert_int_equal(st.throttle_pct, 70);

	/* no check rate: QEMU's 3 MiB/s converges, no throttle */
	p.dirty_mibs = 0;
	gentle_init(&st, &p);
	s = tsample(26000, 2, 64 * MIB, 3);
	converge_step(&st, &s, &d);
	assert_int_equal(d.throttle_pct, -1);
	assert_int_equal(st.throttle_pct, 0);
}

/* --postcopy=always: post-copy as the second pass begins. */
static void
test_postcopy_modes(void **state)
{
	struct converge_policy p;
	struct converge_state st;
	struct hv_job_stats s;
	struct converge_decision d;

	(void)state;
	assert_int_equal(converge_postcopy_mode("never"), -1);
	assert_int_equal(converge_postcopy_mode("stalled"), 1);
	assert_int_equal(converge_postcopy_mode("always"), 2);
	assert_int_equal(converge_postcopy_mode("sometimes"), 0);
	assert_int_equal(converge_postcopy_mode(NULL), 0);
	converge_policy_defaults(&p);
	p.postcopy_always = 1;
	converge_init(&st, &p, 256);
	s = sample(1000, 1, 200 * MIB);
	converge_step(&st, &s, &d);
	assert_int_equal(d.action, CONV_CONTINUE);
	s = sample(26000, 2, 64 * MIB);
	converge_step(&st, &s, &d);
	assert_int_equal(d.action, CONV_POSTCOPY);
	assert_string_equal(d.reason, "iteration 2: post-copy after the first "
	    "pass (policy: always)");
}

static struct hv_job_stats
sample(uint64_t elapsed_ms, uint64_t iteration, uint64_t remaining)
{
	struct hv_job_stats s;

	memset(&s, 0, sizeof(s));
	s.active = 1;
	s.time_elapsed = elapsed_ms;
	s.memory_iteration = iteration;
	s.data_total = 4096 * MIB;
	s.data_remaining = remaining;
	return s;
}

/* Remaining halves every pass (never stalls); the ramp steps at
 * iterations 2..6 and stays at max after. */
static void
test_ramp_reaches_max(void **state)
{
	static const uint64_t want[] = {
		0, 0, 180, 260, 340, 420, 500, 0, 0, 0,	/* by iteration */
	};
	struct converge_policy p;
	struct converge_state st;
	struct converge_decision d;
	struct hv_job_stats s;
	uint64_t it;

	(void)state;
	converge_policy_defaults(&p);
	converge_init(&st, &p, 4096);
	for (it = 1; it <= 9; it++) {
		s = sample(it * 1000, it, (4096 * MIB) >> it);
		converge_step(&st, &s, &d);
		if (want[it] != 0) {
			assert_int_equal(d.action, CONV_SET_DOWNTIME);
			assert_int_equal(d.downtime_ms, want[it]);
		} else
			assert_int_equal(d.action, CONV_CONTINUE);
		assert_true(st.downtime_ms <= p.max_downtime_ms);
	}
	assert_int_equal(st.step, p.downtime_steps);
	assert_int_equal(st.downtime_ms, 500);

	/* Steps that do not divide evenly: 300 + 700 * k / 3 = 533.3,
	 * 766.7, 1000: floored, and the last one exactly max. */
	p.initial_downtime_ms = 300;
	p.max_downtime_ms = 1000;
	p.downtime_steps = 3;
	converge_init(&st, &p, 4096);
	for (it = 1; it <= 6; it++) {
		s = sample(it * 1000, it, (4096 * MIB) >> it);
		converge_step(&st, &s, &d);
		assert_true(st.downtime_ms <= 1000);
		if (it == 2)
			assert_int_equal(d.downtime_ms, 533);
		else if (it == 3)
			assert_int_equal(d.downtime_ms, 766);
		else if (it == 4)
			assert_int_equal(d.downtime_ms, 1000);
		if (it >= 2 && it <= 4)
			assert_int_equal(d.action, CONV_SET_DOWNTIME);
		else
			assert_int_equal(d.action, CONV_CONTINUE);
	}

	/* initial above max: it starts at max and never goes beyond */
	p.initial_downtime_ms = 800;
	p.max_downtime_ms = 400;
	converge_init(&st, &p, 4096);
	assert_int_equal(st.downtime_ms, 400);
	for (it = 1; it <= 6; it++) {
		s = sample(it * 1000, it, (4096 * MIB) >> it);
		converge_step(&st, &s, &d);
		assert_int_equal(d.action, CONV_CONTINUE);
		assert_int_equal(st.downtime_ms, 400);
	}
}

/* A jump of the iteration number by several between two samples is one
 * observation: the stall counter and the ramp move once. */
static void
test_iteration_jump(void **state)
{
	struct converge_policy p;
	struct converge_state st;
	struct converge_decision d;
	struct hv_job_stats s;

	(void)state;
	converge_policy_defaults(&p);
	p.stall_iterations = 2;
	converge_init(&st, &p, 4096);

	s = sample(500, 1, 100 * MIB);
	converge_step(&st, &s, &d);
	assert_int_equal(d.action, CONV_CONTINUE);
	assert_int_equal(st.best_remaining, 100 * MIB);

	s = sample(1000, 4, 100 * MIB);		/* 1 -> 4, flat */
	converge_step(&st, &s, &d);
	assert_int_equal(st.stalled, 1);
	assert_int_equal(st.last_iteration, 4);
	assert_int_equal(d.action, CONV_SET_DOWNTIME);
	assert_int_equal(st.step, 1);

	s = sample(1500, 4, 100 * MIB);		/* same iteration: nothing */
	converge_step(&st, &s, &d);
	assert_int_equal(d.action, CONV_CONTINUE);
	assert_int_equal(st.stalled, 1);
	assert_int_equal(st.step, 1);

	s = sample(2000, 3, 100 * MIB);		/* backwards: ignored */
	converge_step(&st, &s, &d);
	assert_int_equal(d.action, CONV_CONTINUE);
	assert_int_equal(st.last_iteration, 4);

	s = sample(2500, 9, 100 * MIB);		/* 4 -> 9, flat */
	converge_step(&st, &s, &d);
	assert_int_equal(d.action, CONV_ABORT);
	assert_int_equal(st.stalled, 2);
	/* the stall took this sample: no ramp step with it */
	assert_int_equal(st.step, 1);
	assert_string_equal(d.reason, "stalled: data remaining has not fallen "
	    "for 2 iterations and post-copy is not allowed");
}

/* A new best needs at least 1% less than the best so far. */
static void
test_one_percent(void **state)
{
	struct converge_policy p;
	struct converge_state st;
	struct converge_decision d;
	struct hv_job_stats s;

	(void)state;
	converge_policy_defaults(&p);
	p.downtime_steps = 0;	/* no ramp: only the tracker moves */
	converge_init(&st, &p, 4096);

	s = sample(500, 1, 1000000);
	converge_step(&st, &s, &d);
	assert_int_equal(st.best_remaining, 1000000);

	s = sample(1000, 2, 990001);		/* 0.9999% less */
	converge_step(&st, &s, &d);
	assert_int_equal(st.stalled, 1);
	assert_int_equal(st.best_remaining, 1000000);

	s = sample(1500, 3, 1200000);		/* more */
	converge_step(&st, &s, &d);
	assert_int_equal(st.stalled, 2);

	s = sample(2000, 4, 990000);		/* exactly 1% less */
	converge_step(&st, &s, &d);
	assert_int_equal(st.stalled, 0);
	assert_int_equal(st.best_remaining, 990000);
	assert_int_equal(d.action, CONV_CONTINUE);
}

static void
test_inactive_and_done(void **state)
{
	struct converge_policy p;
	struct converge_state st;
	struct converge_decision d;
	struct hv_job_stats s;

	(void)state;
	converge_policy_defaults(&p);
	converge_init(&st, &p, 256);

	/* no active job: past the timeout and a new iteration, untouched */
	s = sample(999000, 7, 100 * MIB);
	s.active = 0;
	converge_step(&st, &s, &d);
	assert_int_equal(d.action, CONV_CONTINUE);
	assert_int_equal(st.last_iteration, 0);
	assert_int_equal(st.done, 0);

	/* libvirt says post-copy (switched by someone else): no abort */
	s.active = 1;
	s.postcopy = 1;
	converge_step(&st, &s, &d);
	assert_int_equal(d.action, CONV_CONTINUE);
	assert_int_equal(st.done, 0);

	s.postcopy = 0;
	converge_step(&st, &s, &d);
	assert_int_equal(d.action, CONV_ABORT);
	assert_string_equal(d.reason,
	    "completion timeout: 999 s elapsed > limit 60 s");

	/* aborted: nothing more is decided */
	s = sample(999500, 8, 1);
	converge_step(&st, &s, &d);
	assert_int_equal(d.action, CONV_CONTINUE);
	assert_string_equal(d.reason, "");
}

static void
expect_near(double got, double want)
{
	if (fabs(got - want) > 1e-9)
		fail_msg("got %.12f, expected %.12f", got, want);
}

static void
test_predict(void **state)
{
	struct converge_prediction pr;

	(void)state;
	/* Nothing dirtied: pass 1 = 1024 MiB / 100 MiB/s = 10.24 s, then
	 * 0 MiB left: 1 pass, no downtime. */
	assert_int_equal(converge_predict(1024, 0, 100, 500, &pr), 0);
	assert_int_equal(pr.converges, 1);
	assert_int_equal(pr.iterations, 1);
	expect_near(pr.seconds, 10.24);
	expect_near(pr.final_downtime_ms, 0);
	assert_string_equal(pr.summary, "converges: ~1 pass, ~10.2 s, ~0 ms "
	    "downtime at 100 MiB/s (dirty 0.0 MiB/s)");

	/* 128 MiB/s, dirty 16 MiB/s, 500 ms fits 64 MiB. Pass 1: 1024 MiB
	 * in 8 s dirties 128 MiB (> 64); pass 2: 128 MiB in 1 s dirties
	 * 16 MiB (fits): 2 passes, 16/128 = 125 ms, 8 + 1 + 0.125 s. */
	assert_int_equal(converge_predict(1024, 16, 128, 500, &pr), 0);
	assert_int_equal(pr.converges, 1);
	assert_int_equal(pr.iterations, 2);
	expect_near(pr.seconds, 9.125);
	expect_near(pr.final_downtime_ms, 125);
	assert_string_equal(pr.summary, "converges: ~2 passes, ~9.1 s, "
	    "~125 ms downtime at 128 MiB/s (dirty 16.0 MiB/s)");

	/* Dirtier than the link: pass 1 (10.24 s) dirties min(1024,
	 * 150 * 10.24) = 1024 MiB, no smaller than pass 1. */
	assert_int_equal(converge_predict(1024, 150, 100, 500, &pr), 0);
	assert_int_equal(pr.converges, 0);
	assert_int_equal(pr.iterations, 1);
	expect_near(pr.seconds, 10.24);
	expect_near(pr.final_downtime_ms, 10240);
	assert_string_equal(pr.summary, "will not converge at 100 MiB/s: the "
	    "guest dirties 150.0 MiB/s; the policy will throttle its vCPUs "
	    "(or raise --bandwidth, or use --postcopy)");

	/* Exactly the link's rate: each pass as large as the last. */
	assert_int_equal(converge_predict(1024, 100, 100, 500, &pr), 0);
	assert_int_equal(pr.converges, 0);
	assert_int_equal(pr.iterations, 1);

	/* Unlimited = 1000 MiB/s: pass 1 of 1000 MiB in 1 s dirties 100 MiB,
	 * within 500 ms (500 MiB): 1 pass, 100 ms, 1.1 s. */
	assert_int_equal(converge_predict(1000, 100, 0, 500, &pr), 0);
	assert_int_equal(pr.converges, 1);
	assert_int_equal(pr.iterations, 1);
	expect_near(pr.seconds, 1.1);
	expect_near(pr.final_downtime_ms, 100);
	assert_string_equal(pr.summary, "converges: ~1 pass, ~1.1 s, ~100 ms "
	    "downtime at unlimited bandwidth (assumed 1000 MiB/s) "
	    "(dirty 100.0 MiB/s)");
	assert_int_equal(converge_predict(4096, 2000, 0, 500, &pr), 0);
	assert_int_equal(pr.converges, 0);
	assert_string_equal(pr.summary, "will not converge at unlimited "
	    "bandwidth (assumed 1000 MiB/s): the guest dirties 2000.0 MiB/s; "
	    "the policy will throttle its vCPUs (or use --postcopy)");

	/* 99 of 100 MiB/s: passes shrink by 1% each; after 30 passes
	 * 1024 * 0.99^30 = 758 MiB is still far above 50 MiB. */
	assert_int_equal(converge_predict(1024, 99, 100, 500, &pr), 0);
	assert_int_equal(pr.converges, 0);
	assert_int_equal(pr.iterations, 30);
	expect_near(pr.final_downtime_ms, 1024 * pow(0.99, 30) * 10);
	assert_string_equal(pr.summary, "will not converge at 100 MiB/s within "
	    "30 passes: the guest dirties 99.0 MiB/s; the policy will throttle "
	    "its vCPUs (or raise --bandwidth, or use --postcopy)");

	/* A guest small enough to stop at once: 64 MiB at 128 MiB/s is
	 * 500 ms, so even dirtying 1000 MiB/s it converges: 1 pass (0.5 s),
	 * then all 64 MiB again in the 500 ms downtime. */
	assert_int_equal(converge_predict(64, 1000, 128, 500, &pr), 0);
	assert_int_equal(pr.converges, 1);
	assert_int_equal(pr.iterations, 1);
	expect_near(pr.seconds, 1.0);
	expect_near(pr.final_downtime_ms, 500);

	/* nonsense */
	assert_int_equal(converge_predict(0, 10, 100, 500, &pr), -1);
	assert_int_equal(converge_predict(1024, -1, 100, 500, &pr), -1);
	assert_int_equal(converge_predict(1024, NAN, 100, 500, &pr), -1);
	assert_int_equal(converge_predict(1024, INFINITY, 100, 500, &pr), -1);
}

static void
test_action_names(void **state)
{
	(void)state;
	assert_string_equal(converge_action_name(CONV_CONTINUE), "continue");
	assert_string_equal(converge_action_name(CONV_SET_DOWNTIME),
	    "set-downtime");
	assert_string_equal(converge_action_name(CONV_POSTCOPY), "postcopy");
	assert_string_equal(converge_action_name(CONV_ABORT), "abort");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_timeout_scaling),
		cmocka_unit_test(test_fast_converging),
		cmocka_unit_test(test_stall_postcopy),
		cmocka_unit_test(test_stall_abort),
		cmocka_unit_test(test_completion_timeout),
		cmocka_unit_test(test_link_timeout),
		cmocka_unit_test(test_no_progress),
		cmocka_unit_test(test_throttle),
		cmocka_unit_test(test_throttle_link_dip),
		cmocka_unit_test(test_throttle_stale_rate),
		cmocka_unit_test(test_throttle_downtime),
		cmocka_unit_test(test_throttle_base),
		cmocka_unit_test(test_throttle_gentle),
		cmocka_unit_test(test_throttle_stalled_pause),
		cmocka_unit_test(test_throttle_check_rate_floor),
		cmocka_unit_test(test_postcopy_modes),
		cmocka_unit_test(test_ramp_reaches_max),
		cmocka_unit_test(test_iteration_jump),
		cmocka_unit_test(test_one_percent),
		cmocka_unit_test(test_inactive_and_done),
		cmocka_unit_test(test_predict),
		cmocka_unit_test(test_action_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
