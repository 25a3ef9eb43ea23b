/* converge.h: the convergence policy a source hostd applies to a running
 * live migration, and the pre-migration prediction. Pure logic over job
 * statistics samples: no libvirt, no clock (elapsed time comes from the
 * samples), so recorded sequences replay exactly in unit tests. */
#ifndef FERRY_CONVERGE_H
#define FERRY_CONVERGE_H

#include <stdint.h>

#include "jobstats.h"

struct converge_policy {
	uint64_t	bandwidth_mibs;		/* 0: unlimited */
	uint32_t	max_downtime_ms;	/* highest downtime it may allow */
	uint32_t	initial_downtime_ms;
	uint32_t	downtime_steps;		/* steps from initial to max */
	uint32_t	timeout_s;		/* completion timeout; 0: scaled */
	uint32_t	timeout_s_per_gib;	/* scaled timeout: per GiB of guest */
	uint32_t	timeout_min_s;		/* ... but at least this */
	uint32_t	stall_iterations;	/* no progress for this many */
	int		allow_postcopy;	/* post-copy when stalled */
	int		auto_converge;
	uint32_t	stats_interval_ms;
	/* The ladder (issue 14). */
	int		throttle;		/* Ferry's vCPU throttle allowed */
	uint32_t	throttle_target_pct;	/* target dirty rate, % of the link */
	uint32_t	throttle_max_pct;	/* never take more of the vCPU */
	uint32_t	timeout_passes;		/* completion: this many full passes at the rate achieved */
	uint32_t	progress_timeout_s;	/* no new low of data remaining for this long */
	int		postcopy_always;	/* post-copy after the first pass */
	double		dirty_mibs;		/* measured before the start; 0: unknown */
	/* The longest pause taken once, in place of a throttle past the
	 * gentle limit, when passes stall there; not above max_downtime_ms
	 * when that is the operator's (hostd sets it so). */
	uint32_t	stalled_downtime_ms;
};

enum converge_action {
	CONV_CONTINUE = 0,
	CONV_SET_DOWNTIME,	/* raise max downtime to decision.downtime_ms */
	CONV_POSTCOPY,		/* switch to post-copy now */
	CONV_ABORT,		/* give up: timeout, or stalled without post-copy */
};

struct converge_decision {
	enum converge_action	action;
	uint64_t		downtime_ms;
	char			reason[160];
	int			throttle_pct;	/* -1: unchanged; else the new vCPU throttle */
	char			throttle_reason[160];
};

struct converge_prediction {
	int		converges;	/* 1 likely, 0 not at this bandwidth */
	uint32_t	iterations;	/* predicted pre-copy passes */
	double		seconds;	/* predicted total time */
	double		final_downtime_ms;
	char		summary[256];	/* one line for ferryctl check */
};

/* converge.c */
void	converge_policy_defaults(struct converge_policy *);
/* Opaque to callers beyond init/step; in the header so it can live on
 * the stack and in hostd's migration struct. */
struct converge_state {
	struct converge_policy	pol;
	uint64_t		mem_mib;
	uint64_t		timeout_ms;
	uint64_t		downtime_ms;	/* currently set */
	uint32_t		step;		/* downtime steps taken */
	uint64_t		last_iteration;
	uint64_t		best_remaining;	/* lowest data_remaining at an iteration boundary */
	uint32_t		stalled;	/* iterations without a new best */
	int			postcopy;	/* switched */
	int			done;		/* aborted: nothing more to decide */
	uint32_t		throttle_pct;	/* currently asked for */
	uint64_t		throttle_since_ms;	/* elapsed when it began */
	uint64_t		throttle_change_ms;	/* elapsed at its last change */
	uint64_t		low_ms;		/* elapsed at the last new best_remaining */
	uint64_t		pass2_ms;	/* elapsed when the second pass began */
	uint64_t		pass_ms;	/* elapsed at the last pass boundary */
	uint64_t		pass_processed;	/* data_processed then */
	double			pass_mibs;	/* the link's rate over the last pass */
	/* Set by the caller before each step: the deepest throttle that
	 * still lets the vCPU run often enough for the guest to keep time
	 * (hostd: throttle_gentle_pct); 0: no such limit is known. */
	uint32_t		gentle_pct;
};
void	converge_init(struct converge_state *, const struct converge_policy *,
	    uint64_t mem_mib);
void	converge_step(struct converge_state *, const struct hv_job_stats *,
	    struct converge_decision *);
uint64_t converge_timeout_ms(const struct converge_policy *, uint64_t mem_mib);
uint64_t converge_link_timeout_ms(const struct converge_state *,
	    const struct hv_job_stats *);
uint32_t converge_throttle_for(double dirty_mibs, double link_mibs,
	    uint32_t cur_pct, const struct converge_policy *);
int	converge_predict(uint64_t mem_mib, double dirty_mibs,
	    uint64_t bandwidth_mibs, uint32_t max_downtime_ms,
	    struct converge_prediction *);
const char *converge_action_name(enum converge_action);
int	converge_postcopy_mode(const char *);

#endif
