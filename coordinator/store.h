/* store.h: the coordinator's durable state, in SQLite (one file, WAL,
 * synchronous=FULL; the default) or PostgreSQL (synchronous_commit on).
 *
 * Every function returns 0 on success or -1 with a message retrievable by
 * store_error(); none keeps pointers to its arguments. Called from the
 * coordinator's loop thread only (one connection, no locking here).
 * Anything a store_* call has returned 0 for survives kill -9.
 */
#ifndef FERRY_STORE_H
#define FERRY_STORE_H

#include <stddef.h>
#include <stdint.h>

struct store;

struct store_host {
	char		name[64];
	char		address[256];		/* hostd's address */
	int		port;			/* hostd's port */
	char		admin_state[16];	/* active, draining, maintenance */
	char		conn_state[16];		/* up, down */
	char		host_uuid[40];
	char		libvirt_uri[512];
	char		migration_address[256];
	char		arch[32];
	uint32_t	cpus;
	uint64_t	mem_mib;
	uint64_t	mem_free_mib;
	uint64_t	reserve_mib;
	uint64_t	last_seen_ms;		/* Unix ms of the last frame from it */
	char		last_error[256];
};

/* Where a host is reached, as pinned at first contact (or accepted by the
 * operator), and whether its reports have contradicted it. */
struct store_trust {
	char		name[64];
	char		libvirt_uri[512];
	char		migration_address[256];
	int		flagged;
	char		reason[512];
	uint64_t	updated_ms;
};

struct store_vm {
	char		 name[256];
	char		 uuid[40];
	char		 host[64];
	char		 state[16];
	char		 reason[32];
	uint64_t	 mem_mib;
	uint32_t	 vcpus;
	int		 persistent;
	uint8_t		*blob;			/* packed Ferry__Domain; owned */
	size_t		 bloblen;
	uint64_t	 updated_ms;
};

struct store_job {
	int64_t		 id;
	char		 kind[16];		/* migrate, drain, restore, rebalance */
	char		 vm[256];		/* "" for a run (store_run) */
	char		 source[64];
	char		 destination[64];
	char		 state[16];
	char		*params;		/* JSON text; owned; may be NULL */
	char		*error;			/* owned; may be NULL */
	int64_t		 parent;		/* a drain's id for its migrations, else 0 */
	uint64_t	 started_ms;
	uint64_t	 ended_ms;		/* 0 while not final */
	uint64_t	 updated_ms;
};

struct store_event {
	int64_t		 job_id;
	int64_t		 seq;			/* 1, 2, ... per job */
	uint64_t	 time_ms;
	char		 type[16];		/* state, progress, info, error */
	char		 state[16];		/* the job's state when recorded */
	char		*data;			/* JSON text or plain message; owned */
};

/* Every now_ms below is wall time (clock_wall_ms): what a record says. */

/* A drain, restore or rebalance: a run of migrations (their parent). Its
 * id, state and history are those of its job row. */
struct store_run {
	int64_t		 id;
	char		 kind[16];		/* drain, restore, rebalance */
	char		 host[64];		/* drained or restored; "" for a rebalance */
	char		 state[16];
	int		 finished;
	uint64_t	 started_ms;
	uint64_t	 ended_ms;		/* 0 while not final */
};

/* store.c */
int	 store_open(const char *path, struct store **, char *err, size_t errlen);
/* A libpq conninfo ("host=... dbname=..." or postgresql://...). The
 * database must be reachable now; later losses of it fail the calls made
 * meanwhile and are reconnected (see store_pg.c). */
int	 store_open_pg(const char *conninfo, struct store **, char *err,
	    size_t errlen);
void	 store_close(struct store *);			/* NULL ok */
const char *store_error(const struct store *);
const char *store_backend(const struct store *);	/* sqlite, postgresql */
/* HA leaders (ha.c): from now on the store takes a write only while the
 * lease's epoch is this one (0: unconditionally); PostgreSQL enforces it
 * (schema 5), SQLite has no HA and ignores it. store_fenced: a write was
 * refused because the lease has a newer epoch. */
int	 store_fence(struct store *, uint64_t epoch);
int	 store_fenced(struct store *);

/* store_host.c */
/* Hosts. store_host_configure inserts the host or updates its address and
 * port, keeping everything else (admin state persists across restarts). */
int	 store_host_configure(struct store *, const char *name,
	    const char *address, int port);
int	 store_host_get(struct store *, const char *name, struct store_host *);	/* 1 found, 0 not, -1 */
int	 store_hosts_list(struct store *, struct store_host **, size_t *);	/* free() the array */
int	 store_host_set_conn(struct store *, const char *name,
	    const char *conn_state, const char *last_error, uint64_t now_ms);
int	 store_host_set_admin(struct store *, const char *name, const char *admin_state);
int	 store_host_set_info(struct store *, const struct store_host *);	/* identity+capacity fields */
int	 store_host_seen(struct store *, const char *name, uint64_t now_ms);
int	 store_trust_get(struct store *, const char *name, struct store_trust *);	/* 1 found, 0 not, -1 */
int	 store_trust_set(struct store *, const struct store_trust *);

/* The last known inventory of one host, replaced as a whole in one
 * transaction. */
int	 store_inventory_replace(struct store *, const char *host,
	    const struct store_vm *, size_t n, uint64_t now_ms);
int	 store_vms_list(struct store *, const char *host_or_null,
	    struct store_vm **, size_t *);
void	 store_vm_list_free(struct store_vm *, size_t n);

/* store_job.c */
/* Jobs and their history. store_job_create fills job->id. A transition
 * writes the new state and its event in one transaction: the journal entry
 * exists before the coordinator acts on it. */
int	 store_job_create(struct store *, struct store_job *, uint64_t now_ms);
int	 store_job_transition(struct store *, int64_t id, const char *state,
	    const char *data, uint64_t now_ms);
int	 store_job_finish(struct store *, int64_t id, const char *state,
	    const char *error, const char *data, uint64_t now_ms);
int	 store_job_set_destination(struct store *, int64_t id, const char *dest,
	    uint64_t now_ms);
int	 store_job_event(struct store *, int64_t id, const char *type,
	    const char *data, uint64_t now_ms);
int	 store_job_get(struct store *, int64_t id, struct store_job *);		/* 1 found, 0 not, -1 */
int	 store_jobs_list(struct store *, int only_unfinished, size_t limit,
	    struct store_job **, size_t *);
int	 store_job_events(struct store *, int64_t id, struct store_event **, size_t *);
void	 store_job_clear(struct store_job *);
void	 store_job_list_free(struct store_job *, size_t n);
void	 store_event_list_free(struct store_event *, size_t n);

/* store_prune.c: retention. At most max jobs that finished before
 * cutoff_ms (wall), with their journal; never one unfinished, nor a run
 * or migration whose other half is kept. *pruned: how many went. */
int	 store_prune(struct store *, uint64_t cutoff_ms, size_t max,
	    size_t *pruned);

/* store_run.c */
/* Runs. store_run_create fills run->id; the run's transitions, events and
 * end are store_job_* calls on that id. */
int	 store_run_create(struct store *, struct store_run *, const char *params,
	    uint64_t now_ms);
int	 store_runs_list(struct store *, int only_unfinished,
	    struct store_run **, size_t *);			/* free() the array */

/* store_audit.c */
/* The audit trail: one row per acting command, inserted before it acts
 * (outcome "pending") and completed once with its outcome. */
struct store_audit {
	int64_t		 id;
	uint64_t	 time_ms;
	char		 via[8];		/* ctl, api */
	char		 who[64];		/* user name or token name */
	int		 has_uid;		/* ctl only */
	int64_t		 uid, pid;
	char		 what[32];
	char		*args;			/* JSON; owned; may be NULL */
	char		 outcome[16];		/* pending, accepted, refused,
						 * client-gone, interrupted */
	int64_t		 job_id;		/* 0: none */
	char		*message;		/* owned; may be NULL */
	uint64_t	 ended_ms;		/* 0 while pending */
	char		 job_state[16];		/* the job's now; "" none */
	char		 node[64];		/* HA: the coordinator asked;
						 * "" none (schema 7) */
};
int	 store_audit_insert(struct store *, struct store_audit *);	/* fills id */
int	 store_audit_end(struct store *, int64_t id, const char *outcome,
	    int64_t job_id, const char *message, uint64_t now_ms);
int	 store_audit_list(struct store *, uint64_t since_ms, size_t limit,
	    struct store_audit **, size_t *);
void	 store_audit_list_free(struct store_audit *, size_t n);

/* Commit latency, for the metrics (metrics.c): called after every
 * COMMIT with its duration. NULL: none. */
void	 store_set_commit_hook(struct store *,
	    void (*)(void *, double seconds), void *);

#endif
