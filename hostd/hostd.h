/* hostd.h: ferry-hostd, the agent on every KVM host. Prototypes by file. */
#ifndef FERRY_HOSTD_H
#define FERRY_HOSTD_H

#include <sys/queue.h>
#include <pthread.h>
#include <limits.h>
#include <stdint.h>

#include <uv.h>

#include "clock.h"
#include "hv.h"
#include "msg.h"
#include "transport.h"

#define HOSTD_DEFAULT_PORT	7220
#define HOSTD_VERSION		"0.1"

struct hostd_conf {
	char		listen[256];
	int		port;
	char		host_key[PATH_MAX];
	char		authorized_keys[PATH_MAX];
	char		libvirt_uri[512];
	char		advertise_uri[512];	/* how peers' libvirtd reach ours */
	char		migration_address[256];
	uint64_t	memory_reserve_mib;
	uint64_t	capacity_mib;		/* 0: what the host has */
	int		heartbeat_interval_ms;
	int		refresh_interval_ms;	/* full inventory poll, besides events */
	int		handshake_timeout_ms;	/* the login grace time */
	int		idle_timeout_ms;
	int		max_sessions;		/* authenticated sessions */
	char		max_startups[32];	/* "begin:rate:full" or "n" */
	int		startups_begin;		/* ... parsed */
	int		startups_rate;
	int		startups_full;
	int		per_source_max_startups;
	int		max_frame_rate;		/* from a coordinator, per second */
	int		privsep;		/* SSH in a network process */
	char		privsep_user[64];	/* ... running as this user */
	char		privsep_dir[PATH_MAX];	/* ... chrooted here */
	char		conf_file[PATH_MAX];	/* absolute; "" when none */
	char		throttle_dir[PATH_MAX];	/* vCPU throttles to release after a restart */
	char		state_dir[PATH_MAX];	/* the epoch file (fence.c); "":
						 * in memory (in-process users) */
	char		qemu_conf[PATH_MAX];	/* libvirt's, for TLS (tlscheck.c) */
};

/* The highest leader epoch this host has seen (fence.c). */
struct fence {
	pthread_mutex_t	 mtx;		/* serializes raises (file writes) */
	uint64_t	 epoch;		/* durable; atomic loads off mtx */
	char		 leader[64];	/* under mtx */
	char		 dir[PATH_MAX];	/* "": not persisted */
	char		 path[PATH_MAX + 8];
	int		 initialized;
};

/* A coordinator's session. Freed when its transport connection goes down. */
struct session {
	TAILQ_ENTRY(session)	 entry;
	struct hostd		*hd;
	struct tr_conn		*conn;		/* NULL: relayed (privsep.c) */
	uint64_t		 relay_id;	/* the network child's id */
	char			 peer[64];	/* "addr:port", for logs */
	uint64_t		 id;
	int			 hello;		/* said HELLO; gets events */
	int			 calls_in_flight;	/* worker calls */
	char			 coordinator[64];
};
TAILQ_HEAD(session_list, session);

/* A call waiting for the next inventory (HELLO, INVENTORY). */
struct inv_waiter {
	TAILQ_ENTRY(inv_waiter)	 entry;
	uint64_t		 session_id;
	uint16_t		 type;
	uint32_t		 serial;
};
TAILQ_HEAD(inv_waiter_list, inv_waiter);

/* A piece of work for a class of hostd's threads (workq.c): work runs on
 * a worker thread, done on the loop thread (cancelled: at shutdown, before
 * work ever ran). Owned by whoever submitted it. */
struct workq_item;
typedef void (*workq_fn)(struct workq_item *);
typedef void (*workq_done_fn)(struct workq_item *, int cancelled);
struct workq_item {
	TAILQ_ENTRY(workq_item)	 entry;
	workq_fn		 work;
	workq_done_fn		 done;
	void			*data;
	int			 cancelled;
};
TAILQ_HEAD(workq_item_list, workq_item);

#define WORKQ_MAX_THREADS	8

struct workq {
	const char		*name;
	uv_loop_t		*loop;
	pthread_mutex_t		 mtx;
	pthread_cond_t		 cond;
	pthread_t		 threads[WORKQ_MAX_THREADS];	/* nstarted */
	int			 nthreads, nstarted;
	int			 idle;		/* threads waiting; under mtx */
	int			 nqueued;	/* in queue; under mtx */
	int			 max_pending;
	int			 pending;	/* submitted, done not yet run; loop only */
	struct workq_item_list	 queue, done;	/* under mtx */
	int			 stopping;
	uv_async_t		 async;
	int			 async_open;
	int			 initialized;
};

/*
 * hostd's classes of work, each with its own threads and queue bound, so
 * that a slow class never delays another: migrations' statistics polling
 * and convergence steps; aborts; domain state, inventory and leftover
 * removal; and the slow checks (pre-checks with their storage probes, dirty
 * rate, storage cleanup), which are refused as busy beyond their bound.
 * Each migration's virDomainMigrateToURI3 has a thread of its own
 * (migrate.c), and heartbeats are a loop timer.
 */
enum hostd_wq {
	HOSTD_WQ_MIGRATE = 0,
	HOSTD_WQ_URGENT,
	HOSTD_WQ_STATE,
	HOSTD_WQ_CHECK,
	HOSTD_NWQ,
};

struct mig;
struct mig_result;
TAILQ_HEAD(mig_list, mig);
TAILQ_HEAD(mig_result_list, mig_result);

/* Ferry's vCPU throttle of one migrating guest (throttle.c). Touched by
 * one worker at a time (the migration's poll work, then its release). */
#define THROTTLE_VCPUS_MAX	32
struct throttle {
	int		 resolved, failed;
	int		 v2;		/* cgroup v2: cpu.max */
	pid_t		 pid;		/* the domain's QEMU */
	int		 nvcpu;
	struct {
		pid_t		 tid;
		char		 dir[512];
		int64_t		 orig_quota;	/* -1: unlimited */
		uint64_t	 orig_period;
	}		 vcpu[THROTTLE_VCPUS_MAX];
	double		 base_share;	/* CPUs the busiest vCPU used, unthrottled */
	double		 peak_share;	/* the highest sample of it */
	double		 share_sum;	/* of the unthrottled samples */
	uint32_t	 nshare;
	uint64_t	 last_ns, last_ms;
	uint32_t	 pct;		/* applied */
	int64_t		 quota_us;	/* applied; -1: none */
	uint64_t	 period_us;	/* applied with quota_us */
	char		 err[256];
};

struct hostd {
	uv_loop_t		*loop;
	struct hostd_conf	 conf;
	struct hv		*hv;
	pthread_mutex_t		 hv_open_mtx;
	int			 hv_opened;	/* under hv_open_mtx */
	struct tr_server	*server;	/* without privsep */
	struct privsep		*ps;		/* with it */
	struct session_list	 sessions;
	uint64_t		 next_session_id;

	/* hv events arrive on libvirt's thread; the loop learns through ev_async. */
	uv_async_t		 ev_async;
	uv_timer_t		 debounce_timer;
	uv_timer_t		 refresh_timer;
	uv_timer_t		 heartbeat_timer;
	uv_signal_t		 sigterm, sigint;
	int			 inv_running;	/* a collection is under way */
	int			 inv_again;	/* something changed meanwhile */
	char			 inv_lasterr[512];	/* last collection's error */
	uint8_t			*inv_payload;	/* last packed Inventory; owned */
	size_t			 inv_len;
	uint8_t			*inv_cmp;	/* the same with generation 0 */
	size_t			 inv_cmp_len;
	int			 ev_pending;	/* set by libvirt's thread */
	int			 hv_lost;	/* set by libvirt's thread */
	int			 stopping;
	int			 ready;		/* READY=1 sent (notify.h) */
	int			 listening;	/* our port accepts (privsep: the
						 * network process said so) */
	int			 libvirt_ok;	/* libvirt has answered */
	size_t			 ndoms;		/* in its last answer */
	uint64_t		 inv_generation;
	struct inv_waiter_list	 inv_waiters;
	struct mig_list		 migs;
	struct mig_result_list	 mig_results;
	size_t			 nmig_results;
	int			 unthrottling;	/* releases at shutdown (migrate.c) */
	uint64_t		 hb_seq;
	uint64_t		 mem_free_mib;
	struct workq		 wq[HOSTD_NWQ];
	struct fence		 fence;
};

/* Work done on a worker thread for a call: packs the reply into *payload
 * (malloc'd), or returns -1 with a message in err. */
typedef int (*hostd_work_fn)(struct hostd *, const ProtobufCMessage *req,
    uint8_t **payload, size_t *len, char *err, size_t errlen);

/* parse.c */
void	 parse_hostd_defaults(struct hostd_conf *);
int	 parse_hostd_config(const char *path, struct hostd_conf *, char *err,
	    size_t errlen);

/* fence.c */
int	 fence_init(struct fence *, const char *state_dir, char *err,
	    size_t errlen);
void	 fence_free(struct fence *);
uint64_t fence_epoch(struct fence *);
int	 fence_raise(struct fence *, uint64_t epoch, const char *leader,
	    uint64_t *cur, char *curleader, size_t curleaderlen, char *err,
	    size_t errlen);
int	 fence_check(struct fence *, uint64_t epoch, char *err, size_t errlen);
int	 fence_epoch_of(uint16_t type, const ProtobufCMessage *,
	    uint64_t *epoch);

/* hostd.c */
int	 hostd_init(struct hostd *, uv_loop_t *, const struct hostd_conf *,
	    const struct hv_ops *, char *err, size_t errlen);
void	 hostd_shutdown(struct hostd *);
void	 hostd_free(struct hostd *);
void	 hostd_inventory_refresh(struct hostd *);
int	 hostd_send(struct hostd *, struct session *, uint16_t type, uint16_t kind,
	    uint32_t serial, const ProtobufCMessage *);
void	 hostd_send_raw(struct session *, uint16_t type, uint16_t kind,
	    uint16_t status, uint32_t serial, const uint8_t *, size_t);
void	 hostd_broadcast(struct hostd *, uint16_t type, const ProtobufCMessage *);
int	 hostd_call_start(struct session *, const struct frame_hdr *,
	    ProtobufCMessage *, hostd_work_fn, enum hostd_wq);
int	 hostd_pack(const ProtobufCMessage *, uint8_t **, size_t *);
int	 hostd_hv_ensure(struct hostd *);
struct session *hostd_session_find(struct hostd *, uint64_t id);
void	 hostd_ready(struct hostd *);
void	 hostd_server_config(const struct hostd_conf *,
	    struct tr_server_config *);

/* inventory.c */
int	 inventory_collect(struct hv *, struct hv_host *, struct hv_domain **,
	    size_t *, char *err, size_t errlen);
void	 inventory_fill_domain(Ferry__Domain *, Ferry__Disk *disks,
	    Ferry__Disk **diskv, const struct hv_domain *);
int	 inventory_pack(const struct hostd_conf *, const struct hv_host *,
	    const struct hv_domain *, size_t, uint64_t generation,
	    uint8_t **payload, size_t *len);

/* cpu.c (worker threads) */
int	 cpu_host(struct hostd *, const ProtobufCMessage *, uint8_t **,
	    size_t *, char *, size_t);
int	 cpu_baseline(struct hostd *, const ProtobufCMessage *, uint8_t **,
	    size_t *, char *, size_t);
int	 cpu_compare(struct hostd *, const ProtobufCMessage *, uint8_t **,
	    size_t *, char *, size_t);

/* throttle.c */
void	 throttle_sample(struct throttle *, const char *name);
void	 throttle_base_add(struct throttle *, double share);
int	 throttle_apply(struct throttle *, const char *name, uint32_t pct);
uint32_t throttle_gentle_pct(const struct throttle *);
int	 throttle_record(const struct throttle *, const char *dir,
	    const char *name);
void	 throttle_forget(const char *dir, const char *name);
void	 throttle_recover(const char *dir);

/* migrate.c */
struct mig;
int	 migrate_throttle_set(struct mig *, uint32_t pct, char *, size_t);
void	 migrate_recover_throttles(struct hostd *);
int	 migrate_unthrottle_all(struct hostd *);
int	 migrate_start(struct hostd *, const Ferry__MigrateRequest *, char *,
	    size_t);
/* jobctl.c: JOB_CONTROL (job set | postcopy | complete) */
int	 jobctl_request(struct hostd *, struct session *,
	    const struct frame_hdr *, const Ferry__JobControlRequest *,
	    char *err, size_t errlen);
int	 migrate_abort(struct hostd *, struct session *, const struct frame_hdr *,
	    uint64_t job_id, char *, size_t);
int	 migrate_job_view(struct hostd *, uint64_t job_id, char *name, size_t,
	    int *allow_postcopy, int *in_postcopy);
void	 migrate_operator_downtime(struct hostd *, uint64_t job_id, uint32_t);
int	 migrate_query(struct hostd *, uint64_t job_id, Ferry__MigrateResult *,
	    char *, size_t);
void	 migrate_free_results(struct hostd *);
int	 migrate_running(struct hostd *);
int	 migrate_outgoing(struct hostd *, const char *name);

/* precheck.c (worker threads) */
int	 precheck_source(struct hostd *, const ProtobufCMessage *, uint8_t **,
	    size_t *, char *, size_t);
int	 precheck_dest(struct hostd *, const ProtobufCMessage *, uint8_t **,
	    size_t *, char *, size_t);
int	 precheck_cleanup(struct hostd *, const ProtobufCMessage *, uint8_t **,
	    size_t *, char *, size_t);
int	 precheck_domain_state(struct hostd *, const ProtobufCMessage *,
	    uint8_t **, size_t *, char *, size_t);
int	 precheck_undefine(struct hostd *, const ProtobufCMessage *, uint8_t **,
	    size_t *, char *, size_t);
int	 precheck_destroy(struct hostd *, const ProtobufCMessage *, uint8_t **,
	    size_t *, char *, size_t);
int	 precheck_dirty_rate(struct hostd *, const ProtobufCMessage *,
	    uint8_t **, size_t *, char *, size_t);

/* tlscheck.c (worker threads) */
void	 tlscheck_dir(const char *qemu_conf, char *dir, size_t);
int	 tlscheck_host(const char *qemu_conf, int server, char *dir, size_t,
	    char *why, size_t);

/* privsep.c */
struct privsep;
struct privsep *privsep_start(struct hostd *, char *, size_t);
void	 privsep_stop(struct privsep *);
int	 privsep_send(struct privsep *, uint64_t id, uint8_t *, size_t);
void	 privsep_kick(struct privsep *, uint64_t id, const char *);
int	 privsep_child_main(const struct hostd_conf *, int fd);

/* session.c */
extern const struct dispatch_entry session_dispatch[];
extern const size_t session_ndispatch;
struct session *session_up(struct hostd *, struct tr_conn *, uint64_t relay_id,
	    const char *peer);
void	 session_frame(struct session *, struct frame *);
void	 session_down(struct session *, const char *reason);
int	 session_send(struct session *, uint8_t *, size_t);
void	 session_kick(struct session *, const char *reason);
const char *session_peer(const struct session *);
void	 session_on_up(struct tr_conn *, void *);
void	 session_on_frame(struct tr_conn *, struct frame *, void *);
void	 session_on_down(struct tr_conn *, const char *, void *);

/* workq.c */
void	 workq_init(struct workq *, uv_loop_t *, const char *name, int nthreads,
	    int max_pending);
int	 workq_submit(struct workq *, struct workq_item *);
int	 workq_pending(const struct workq *);
void	 workq_stop(struct workq *);
void	 workq_free(struct workq *);

#endif
