/* drain_int.h: the drain machine's own declarations, shared by drain.c
 * (the machine, its table, running the plan), drain_view.c (what ferryctl
 * sees, the journal), drain_plan.c (planning) and drain_cmd.c (commands,
 * recovery). Nothing outside these files includes it. */
#ifndef FERRY_DRAIN_INT_H
#define FERRY_DRAIN_INT_H

#include "coordinator.h"
#include "evacuate.h"

#define DRAIN_ATTEMPTS		3
#define DRAIN_MAX_PARALLEL	2
#define DRAIN_PER_DEST		1
#define DRAIN_CHECK_TIMEOUT_MS	30000
#define DRAIN_PLAN_DEADLINE_MS	90000	/* pre-checks, then CPU verdicts */
#define DRAIN_CONFIRM_DEADLINE_MS (DRAIN_CHECK_TIMEOUT_MS + 5000)
#define DRAIN_MAX_ITEMS		512
#define DRAIN_ROUNDS		3	/* plans again after the host's last word */
/* After a restart, how long a resumed drain waits for the other hosts'
 * sessions: one connect timeout for TCP and SSH, as much again for hello. */
#define DRAIN_RESUME_WAIT(co)	(2 * (uint64_t)(co)->conf.connect_timeout_ms)

enum item_state {
	ITEM_PLANNED, ITEM_UNMOVABLE, ITEM_MIGRATING, ITEM_MOVED, ITEM_FAILED,
	ITEM_CANCELLED,
};

enum drain_kind { DK_DRAIN, DK_RESTORE, DK_REBALANCE };

#define K_DRAIN		(1u << DK_DRAIN)
#define K_RESTORE	(1u << DK_RESTORE)
#define K_REBALANCE	(1u << DK_REBALANCE)
#define K_ALL		(K_DRAIN | K_RESTORE | K_REBALANCE)

struct drain_kind_info {
	const char	*name;
	int		 has_host;	/* acts on one host */
	int		 fixed;		/* destinations given, not planned */
	int		 retry;		/* a failed move is placed again */
};
extern const struct drain_kind_info drain_kinds[];

enum drain_state {
	DS_RESUMED, DS_PLANNING, DS_DRAINING, DS_CONFIRMING, DS_CANCELLING,
	DS_COMPLETED, DS_INCOMPLETE, DS_CANCELLED, DS_REFUSED, DS_DRY_RUN,
	DS_MAX
};

struct drain_state_info {
	const char	*name;		/* in logs and the diagram */
	const char	*shown;		/* to ferryctl and in the record */
	int		 final;
};
extern const struct drain_state_info drain_states[];

enum drain_event {
	DE_HOST_UP, DE_PLANNED, DE_DRY_RUN, DE_REFUSE, DE_GIVE_UP,
	DE_MOVED_ALL, DE_LEFT_SOME, DE_EMPTY, DE_INCOMING, DE_NOT_EMPTY,
	DE_UNCONFIRMED, DE_CANCEL, DE_STOPPED, DE_MAX
};

/* What an edge writes before its action. */
enum drain_journal {
	JN_NONE,
	JN_RECORD,	/* the run's record, or a "plan" event once recorded */
	JN_EVENT,	/* an event of the edge's type, once recorded */
	JN_FINISH,	/* the final state, once recorded */
};

struct drain;
typedef void	drain_act(struct drain *, const char *why);

struct drain_edge {
	enum drain_state	 from;
	enum drain_event	 ev;
	unsigned		 kinds;
	enum drain_state	 to;
	enum drain_journal	 journal;
	const char		*evtype;	/* JN_EVENT */
	drain_act		*act;
	uint64_t		 deadline_ms;	/* of the new state; 0: none */
};

struct drain_view {
	Ferry__DrainInfo	 info;
	Ferry__DrainItem	*items;
	Ferry__DrainItem	**v;
};

struct drain_item {
	char		 vm[256];
	char		 from[64];		/* restore: where it is now */
	uint64_t	 mem_mib;
	uint32_t	 vcpus;
	char		 dest[64];
	enum item_state	 state;
	char		 reason[512];
	int64_t		 job_id;
	uint32_t	 attempts;
	char		 tried[DRAIN_ATTEMPTS + 1][PLAN_NAME_MAX];
	uint32_t	 ntried;
	double		 percent;
	uint32_t	 order;
	int		 checked;		/* PRECHECK_SOURCE answered */
	int		 fresh;			/* found this round: to be placed */
	Ferry__Nonce	**nonces;		/* to remove; owned via src reply */
	Ferry__SourceCheckReply *src;		/* owned */
};

struct drain {
	TAILQ_ENTRY(drain)	 entry;
	struct coord		*co;
	int64_t			 id;		/* 0 until recorded */
	enum drain_kind		 kind;
	char			 host[64];	/* "" for a rebalance */
	enum drain_state	 state;
	uint64_t		 deadline_ms;	/* of the state; 0: none */
	uint64_t		 resume_by_ms;	/* resumed: plan by then anyway */
	int			 dry_run, force, resumed;
	int			 copy_storage;	/* local disks copied (opt-in) */
	uint32_t		 max_parallel, per_dest;
	/* The operator's --max-parallel (0: none given): a ceiling for the
	 * parallelism the drain chooses (wire_drain_parallel). */
	uint32_t		 operator_max;
	char			 parallel_why[256];
	struct drain_item	*items;
	size_t			 nitems;
	int			 calls;		/* callbacks still to come */
	uint32_t		 rounds;	/* plans made after a look again */
	uint64_t		 last_emit_ms;
	struct ctl_client	*reply_client;	/* who waits for the plan */
	uint32_t		 reply_serial;
	uint16_t		 reply_type;
	int			 reply_wait;
	struct job_watcher_list	 watchers;
};

/* drain.c */
int	 drain_final(const struct drain *);
const char *drain_label(const struct drain *);
struct drain *drain_find_host(struct coord *, const char *host);
void	 drain_free(struct drain *);		/* NULL ok */
struct drain *drain_new(struct coord *, enum drain_kind, const char *host,
	    enum drain_state);
void	 drain_set_admin(struct coord *, const char *host, const char *state);
int	 drain_step(struct drain *, enum drain_event, const char *why);
size_t	 drain_running(const struct drain *, const char *dest);
size_t	 drain_copying(const struct drain *, const char *dest);
void	 drain_on_job_done(void *arg, const struct job *);

/* drain_view.c */
int	 drain_view(const struct drain *, struct drain_view *, const char *msg);
void	 drain_view_clear(struct drain_view *);
void	 drain_emit(struct drain *, const char *event, const char *msg);
void	 drain_reply(struct drain *, const char *msg);
void	 drain_reply_view(struct coord *, enum drain_kind, const char *host,
	    enum drain_state, const char *msg, struct ctl_client *,
	    uint16_t type, uint32_t serial);
void	 drain_journal(struct drain *, const char *type);
int	 drain_journal_edge(struct drain *, const struct drain_edge *,
	    const char *why);

/* drain_plan.c */
int	 drain_start_planning(struct drain *, char *err, size_t errlen);

/* drain_cmd.c */
void	 drain_resume_if_ready(struct drain *, uint64_t now_ms);

#endif
