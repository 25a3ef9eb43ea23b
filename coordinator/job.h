/* job.h: live-migration jobs, an explicit state machine (job.c). */
#ifndef FERRY_JOB_H
#define FERRY_JOB_H

#include <sys/queue.h>
#include <stdint.h>

#include "ferry.pb-c.h"
#include "store.h"

enum job_state {
	JOB_PENDING = 0,
	JOB_CHECKING,
	JOB_MIGRATING,
	JOB_VERIFYING,
	/* final */
	JOB_SUCCEEDED,
	JOB_REFUSED,
	JOB_ROLLED_BACK,
	JOB_FAILED,
	JOB_NSTATES,
};

/* What happens to a job; job.c's table says, for each state, which events
 * it accepts and where they lead. */
enum job_event {
	JOB_EV_RUN = 0,		/* api.c/drain.c: start the pre-checks */
	JOB_EV_PASSED,		/* every check passed: send MIGRATE */
	JOB_EV_REFUSED,		/* a check (or a late one) blocked it */
	JOB_EV_ABORTED,		/* aborted before MIGRATE left */
	JOB_EV_ENDED,		/* MIGRATE ended, failed, was lost or stuck */
	JOB_EV_RESUME,		/* a failed post-copy is resumed */
	JOB_EV_SUCCEEDED,	/* both hosts: it runs on the destination */
	JOB_EV_ROLLED_BACK,	/* both hosts: it runs on the source */
	JOB_EV_FAILED,		/* both hosts, or neither: an operator must look */
	JOB_EV_RECOVER,		/* after a restart, MIGRATE was never sent */
	JOB_NEVENTS,
};

/* Where a job is inside its state: the states' own sub-states. */
enum job_step {
	JOB_STEP_NONE = 0,
	JOB_STEP_CHECKS,	/* checking: pre-check calls in flight */
	JOB_STEP_HELD,		/* checking: passed; its parent has no slot yet */
	JOB_STEP_SENT,		/* migrating: MIGRATE sent, not yet accepted */
	JOB_STEP_RUNNING,	/* migrating: libvirt runs it; events come */
	JOB_STEP_QUERYING,	/* migrating: JOB_QUERY of a quiet source */
	JOB_STEP_ASKING,	/* verifying: DOMAIN_STATE to both hosts */
	JOB_STEP_WAITING,	/* verifying: asking again at verify_next_ms */
	JOB_STEP_CLEANING,	/* verifying: DESTROY_LEFTOVER in flight */
};

/* A job's parent (a drain, a rebalance) hears of it through these, never
 * by name: calls flow from the parent down to the job. Both may be NULL. */
struct job;
struct job_parent {
	void	(*on_progress)(void *arg, const struct job *);
	void	(*on_done)(void *arg, const struct job *);
	void	 *arg;
	/* Checked, may it start copying now? No: it waits (JOB_STEP_HELD)
	 * for job_release. NULL: always. */
	int	(*may_start)(void *arg, const struct job *);
};

struct coord;
struct host;
struct ctl_client;

struct job_opts {
	uint64_t	bandwidth_mibs;		/* 0: unlimited */
	uint32_t	max_downtime_ms;	/* 0: policy default */
	uint32_t	timeout_s;		/* 0: scaled by memory */
	int		postcopy;		/* -1 never, 0 default (no), 1 allowed */
	int		auto_converge;
	int		copy_storage;		/* copy local disks (NBD) */
	uint32_t	parallel;		/* multifd: 0 auto (wire.c), N fixed */
	int		tls;			/* the stream over TLS (resolved) */
};

struct job_watcher {
	TAILQ_ENTRY(job_watcher) entry;
	struct ctl_client	*client;
	uint32_t		 serial;
};
TAILQ_HEAD(job_watcher_list, job_watcher);

#define JOB_MAX_CHECKS	64

/* The VMs migrations moved in this process, on the monotonic clock, the
 * newest JOB_MOVED_RING of them (job.c; co->moved, allocated at the first
 * move). The rebalance quiet period asks it beside the journal's wall
 * times, so a wall-clock step forward cannot make a VM just moved look
 * long settled, and move it back. */
#define JOB_MOVED_RING	1024
struct job_moved {
	char		 vm[256];
	uint64_t	 mono_ms;
};

struct job {
	TAILQ_ENTRY(job)	 entry;
	struct coord		*co;
	int64_t			 id;		/* 0 for a check-only job */
	enum job_state		 state;
	enum job_step		 step;
	char			 vm[256];
	char			 uuid[40];	/* as the source reported it; "" unknown */
	char			 source[64];
	char			 destination[64];
	struct job_opts		 opts;
	uint64_t		 mem_mib;
	uint64_t		 started_ms;
	uint64_t		 deadline_ms;	/* of the current state (job_enter) */
	int			 calls;		/* hostd calls in flight, any kind */
	/* A transition whose journal write failed, retried by job_tick: the
	 * job stays where it stands until it is written. */
	int			 retry_pending;
	enum job_event		 retry_event;
	uint64_t		 retry_next_ms;
	char			 retry_msg[1024];
	int			 abort_requested;
	char			 abort_reason[128];
	/* The abort stays pending until the job leaves migrating: re-sent on
	 * a refusal, or when the migration has not ended by abort_next_ms
	 * (monotonic clock). */
	int			 abort_inflight;
	int			 abort_attempts;
	int			 abort_given_up;	/* post-copy: cannot abort */
	uint64_t		 abort_next_ms;
	int			 recovered;	/* picked up after a restart */
	int64_t			 parent;	/* the drain that started it, or 0 */
	struct job_parent	 parent_cb;	/* its callbacks; zero: none */
	/* What the API's event stream told of the job (http_events.c). */
	int			 api_started;
	char			 api_action[256];	/* the policy's last message */

	/* checking */
	int			 check_only;	/* ferryctl check: reply, no record */
	struct ctl_client	*check_client;	/* a reference (control.c) */
	uint32_t		 check_serial;
	Ferry__SourceCheckReply	*src;		/* owned */
	Ferry__CheckResult	 checks[JOB_MAX_CHECKS];
	char			*check_names[JOB_MAX_CHECKS];	/* owned */
	char			*check_reasons[JOB_MAX_CHECKS];	/* owned */
	char			*check_where[JOB_MAX_CHECKS][3]; /* owned: fs, volume, mount */
	size_t			 nchecks;
	int			 blocked;
	double			 dirty_mibs;	/* -1 unknown */
	char			 candidates[8][64];	/* destinations to try */
	size_t			 ncandidates, candidate;
	char			 placement_why[768];	/* no candidate: why */
	/* Without --to: CPU_COMPAREs asked of the other hosts once the
	 * source said what the guest CPU is (counted in calls too). */
	int			 cpu_asks;
	int			 cpu_asked;

	/* migrating */
	uint64_t		 migrate_sent_ms;
	uint64_t		 last_event_ms;
	uint64_t		 last_recorded_ms;
	uint64_t		 data_processed_max;
	uint64_t		 remaining_low;		/* bytes; low-water mark */
	unsigned		 nsamples;		/* progress samples seen */
	double			 percent;		/* the last sample's */
	/* The last sample, as the metrics show it (bytes, bytes/s). */
	uint64_t		 last_total, last_remaining, last_processed;
	uint64_t		 last_bps, last_dirty_bps, last_iteration;
	int			 have_result;	/* libvirt's result is known */
	int			 result_ok;
	char			 result_error[1024];
	char			 result_action[160];
	uint64_t		 elapsed_ms;	/* hostd's wall clock of the call */
	/* Final figures, only from the destination's completed-job
	 * statistics (job_take_figures); unknown stays unknown. */
	int			 has_downtime, has_data, has_migration_ms;
	uint64_t		 downtime_ms, data_bytes, migration_ms, passes;
	int			 postcopy;
	uint32_t		 streams;	/* multifd connections sent (wire.c) */
	int			 has_disk;	/* --copy-storage: disk copied */
	uint64_t		 disk_bytes, disk_total;
	/* --copy-storage: what the destination pre-created (owned),
	 * removed there again unless the job succeeds. */
	char			**copy_created;
	size_t			 ncopy_created;

	/* verifying */
	int			 verify_round;
	uint64_t		 verify_next_ms;
	int			 src_have, dst_have;
	Ferry__DomainState	*src_state, *dst_state;	/* owned */
	char			 src_err[256], dst_err[256];
	int			 cleanup_sent;	/* DESTROY_LEFTOVER attempts */
	int			 resumes;	/* post-copy resume attempts */
	int			 settle_noted;	/* waiting for a post-copy's source */
	uint64_t		 held_ms;	/* JOB_STEP_HELD since (monotonic) */
	int			 undefine_sent;	/* the source's leftover definition */
	char			 undefine_err[256];

	char			 error[1024];	/* why it failed / was refused */
	struct job_watcher_list	 watchers;
};
TAILQ_HEAD(job_list, job);

/* Timing of the job files. */
#define CHECK_TIMEOUT_MS	30000
#define HOSTD_TIMEOUT_MS	15000
#define DIRTY_RATE_SECONDS	1
#define VERIFY_RETRY_MS		1000
#define VERIFY_DEADLINE_MS	180000	/* hosts may take this long to return */
#define MIGRATE_QUIET_MS	20000	/* no news from the source: ask it */
#define RECORD_PROGRESS_MS	2000	/* sampling of progress into history */
#define STUCK_GRACE_MS		300000	/* past the completion timeout: give up waiting */
#define ABORT_RETRY_MS		1000	/* after a refused or lost abort */
#define ABORT_CONFIRM_MS	10000	/* accepted, but the migration goes on: again */
#define JOURNAL_RETRY_MS	1000	/* a transition the journal refused: again */
#define JOB_EV_ABORT_REQUEST	"abort-request"	/* journal: an abort was asked */

struct json_object;

/* job.c: the machine, its table, creating and running a job, migrating */
const char *job_state_name(enum job_state);
int	 job_state_parse(const char *);
int	 job_state_final(enum job_state);
const char *job_event_name(enum job_event);
int	 job_edge_to(enum job_state, enum job_event);
int	 job_enter(struct job *, enum job_event, const char *msg);
uint64_t job_deadline_of(const struct job *, enum job_state, uint64_t now);
struct job *job_new(struct coord *, const char *vm);
void	 job_free(struct job *);
void	 job_free_all(struct coord *);
struct job *job_find(struct coord *, int64_t id);
struct job *job_find_vm(struct coord *, const char *vm);
int	 job_moved_since(const struct coord *, const char *vm,
	    uint64_t mono_since);
void	 job_info(const struct job *, Ferry__JobInfo *);
void	 job_emit(struct job *, Ferry__JobEvent *);
void	 job_emit_state(struct job *, const char *msg);
void	 job_record(struct job *, const char *type, struct json_object *);
int	 job_migrate(struct coord *, const Ferry__MigrateOptions *,
	    int64_t parent, const struct job_parent *, struct job **,
	    char *err, size_t errlen);
void	 job_adopt(struct job *, const struct job_parent *);
void	 job_run(struct job *);
void	 job_release(struct job *);
void	 job_start_migration(struct job *);
void	 job_try_resume(struct job *);
void	 job_on_progress(struct host *, const Ferry__JobStats *);
void	 job_progress_event(struct job *, const Ferry__JobStats *,
	    Ferry__JobEvent *);
void	 job_on_done(struct host *, const Ferry__MigrateResult *);
void	 job_query(struct job *);
uint64_t job_mono_ms(void);
void	 job_host_up(struct host *);
void	 job_host_down(struct host *);
void	 job_tick(struct coord *, uint64_t now_ms);

/* job_check.c: pre-checks and check_only mode */
int	 job_locate(struct coord *, const char *vm, char *src, size_t srclen,
	    char *uuid, size_t uuidlen, uint64_t *mem, char *err,
	    size_t errlen);
int	 job_validate_target(struct coord *, struct job *, const char *to,
	    char *err, size_t errlen);
void	 job_start_checks(struct job *);
uint64_t job_incoming_mib(struct coord *, const char *dst, const struct job *);
int	 job_check(struct coord *, const Ferry__CheckRequest *,
	    struct ctl_client *, uint32_t serial, char *err, size_t errlen);

/* job_abort.c */
int	 job_abort(struct coord *, int64_t id, const char *why, char *err,
	    size_t errlen);
int	 job_abort_send(struct job *);
void	 job_abort_note(struct job *, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
int	 job_recover_abort(struct job *);

/* job_verify.c: verification and the end */
void	 job_verify(struct job *);
void	 job_wait(struct job *, uint64_t now);
void	 job_finish(struct job *, enum job_state, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));
int	 job_journal_end(struct job *, enum job_state, const char *msg);
void	 job_done(struct job *, const char *msg);

/* job_copy.c: --copy-storage (one call each from the job's steps) */
struct json_object;
void	 job_copy_check_where(struct job *, const Ferry__CheckResult *);
void	 job_copy_take_created(struct job *, const Ferry__DestCheckReply *);
void	 job_copy_free(struct job *);
void	 job_copy_cleanup(struct job *);
void	 job_copy_dest_request(struct job *, Ferry__DestCheckRequest *);
uint64_t job_copy_mib(const struct job *);
void	 job_copy_migrate_request(struct job *, Ferry__MigrateRequest *,
	    char **targets, size_t max);
int	 job_copy_progress(const Ferry__JobStats *, Ferry__JobEvent *);
void	 job_copy_figures(struct job *, const Ferry__JobFigures *);
void	 job_copy_journal(const struct job *, struct json_object *);
void	 job_copy_done(struct job *, enum job_state, Ferry__JobEvent *);

/* wire.c: multifd streams, TLS policy, what migrations measured */
int	 wire_opts(struct coord *, struct job_opts *, int has_parallel,
	    uint32_t parallel, int tls, char *err, size_t errlen);
uint32_t wire_streams(struct coord *, const struct job *, const struct host *,
	    char *why, size_t whylen);
void	 wire_observe(struct coord *, const struct job *);
uint32_t wire_drain_parallel(struct coord *, const char *src,
	    const char **dests, size_t ndests, uint64_t mem_mib, size_t nitems,
	    uint32_t operator_max, uint32_t per_dest, char *why, size_t whylen);

/* job_recover.c */
int	 job_recover(struct coord *, char *err, size_t errlen);
int	 job_send_done_from_store(struct coord *, struct ctl_client *,
	    uint32_t serial, const struct store_job *);

/* watch.c */
int	 job_watch(struct job *, struct ctl_client *, uint32_t serial);
int	 job_watch_list_add(struct job_watcher_list *, struct ctl_client *,
	    uint32_t serial);
void	 watch_list_clear(struct job_watcher_list *);

/* Tests only: an illegal edge calls this; the next job_journal_fail
 * journal writes fail. */
extern void	(*job_illegal_hook)(const struct job *, enum job_event);
extern int	 job_journal_fail;

#endif
