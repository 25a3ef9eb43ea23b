/* coordinator.h: ferry-coordinator. Prototypes grouped by file. */
#ifndef FERRY_COORDINATOR_H
#define FERRY_COORDINATOR_H

#include <sys/queue.h>
#include <sys/types.h>
#include <limits.h>
#include <stdint.h>

#include <uv.h>

#include "clock.h"
#include "converge.h"
#include "job.h"
#include "msg.h"
#include "store.h"
#include "transport.h"

#define COORD_DEFAULT_SOCKET	"/run/ferry/ferry.sock"
#define COORD_RELAY_PORT	7221	/* ha relay_port's default */
#define COORD_DEFAULT_DB	"/var/lib/ferry/ferry.db"

struct coord_host_conf {
	char		name[64];
	char		address[256];
	int		port;
	/* Where other hosts reach this one; "" = pinned at first contact. */
	char		libvirt_uri[512];
	char		migration_address[256];
	char		zone[64];	/* "": none */
	char		**labels;	/* owned by the coord_conf */
	size_t		nlabels;
};

/* Placement requirements of one VM (vms = ( { name; ... } )). */
struct coord_vm_conf {
	char		  name[256];
	char		  zone[64];	/* "": the zone policy's */
	char		**requires_labels;	/* owned */
	size_t		  nrequires;
	char		**same_host;	/* VMs to share a host with; owned */
	size_t		  nsame;
	char		**different_host;	/* VMs never beside it; owned */
	size_t		  ndifferent;
};

/* A placement group from the configuration (rebalancing honours it). */
struct coord_group {
	char		  name[64];
	int		  anti;		/* 1 anti-affinity, 0 affinity */
	int		  hard;		/* 0: soft, placement prefers it */
	char		**vms;		/* owned */
	size_t		  nvms;
};

struct coord_rebalance_conf {
	int		enabled;	/* periodic mode; off by default */
	int		interval_s;
	int		max_moves;	/* per round */
	int		quiet_period_s;	/* a VM moved this recently stays */
	char		policy[16];
	char		threshold[32];	/* score above which a round acts */
};

/* store = { backend = "postgresql"; conninfo = "..."; }; without it the
 * store is SQLite at database. */
struct coord_store_conf {
	char		backend[16];	/* sqlite (default), postgresql */
	char		conninfo[1024];	/* libpq's; may hold a password */
};

/* ha = { node = "c1"; ... }: several coordinators on one PostgreSQL store,
 * one leader at a time (lease.c, ha.c). node "": no HA. */
#define HA_MAX_PEERS	8
struct coord_ha_peer {
	char		node[64];
	char		address[64];	/* its relay: where it listens */
	int		port;
};
struct coord_ha_conf {
	char		node[64];
	char		conninfo[1024];	/* the lease's database (libpq) */
	int		lease_ms;
	int		renew_ms;
	int		margin_ms;
	int		timeout_ms;
	/* The relay (relay_leader.c, relay_standby.c): where this
	 * coordinator takes calls a standby forwards, the SSH host key it
	 * answers with, and the other coordinators' keys (their identity's
	 * public half). relay_address "": no relay. */
	char		relay_address[64];
	int		relay_port;
	char		relay_host_key[PATH_MAX];
	char		relay_authorized_keys[PATH_MAX];
	/* The others, by node name: where their relays are. The lease
	 * names the leader; this, not the store, says where it is. */
	struct coord_ha_peer peers[HA_MAX_PEERS];
	size_t		npeers;
};

/* http = { ... }: the HTTPS API (http.c); off unless configured. */
struct coord_http_conf {
	int		 enabled;
	char		 listen[128];		/* ADDR:PORT */
	char		 cert[PATH_MAX];	/* PEM chain */
	char		 key[PATH_MAX];		/* PEM, 0600 */
	char		 tokens[PATH_MAX];	/* name role sha256, 0600 */
	int		 max_connections;
	int		 max_connections_per_ip;
	int		 idle_timeout_s;	/* a silent connection is cut */
	int		 max_header_kib;	/* the request's headers in all */
	int		 max_body_kib;
	int		 rate;			/* requests a second per client */
	int		 answer_timeout_s;	/* the loop's answer, or 504 */
	int		 events_kept;		/* /v1/events' ring */
	char		 www[PATH_MAX];		/* the web view's files; "": default */
	int		 metrics_token;		/* /metrics needs a read token */
};

struct coord_conf {
	char		 name[64];		/* this coordinator, for hostd logs */
	char		 database[PATH_MAX];	/* the SQLite file */
	struct coord_store_conf store;
	char		 socket[PATH_MAX];
	char		 socket_group[64];	/* may connect besides root */
	char		 identity[PATH_MAX];	/* private key, 0600 */
	char		 known_hosts[PATH_MAX];
	int		 connect_timeout_ms;
	int		 idle_timeout_ms;	/* no frame (heartbeats are 1 s): down */
	int		 call_timeout_ms;
	int		 backoff_min_ms;
	int		 backoff_max_ms;
	int		 per_destination;	/* drains: arriving at once */
	int		 host_max_frame_rate;	/* from one hostd, per second */
	int		 retention_days;	/* finished jobs kept (store_prune) */
	struct coord_host_conf *hosts;		/* owned */
	size_t		 nhosts;
	char		**pinned;		/* VMs never moved by rebalancing; owned */
	size_t		 npinned;
	struct coord_group *groups;		/* owned */
	size_t		 ngroups;
	struct coord_rebalance_conf rebalance;
	struct coord_vm_conf *vms;		/* owned */
	size_t		 nvms;
	int		 zone_stay;		/* zone_policy "stay" (default) */
	struct coord_ha_conf ha;
	struct coord_http_conf http;
	int		 postcopy;		/* -1 never (default), 1 stalled, 2 always */
	/* The wire (wire.c): multifd streams (0 auto, 1 one, N fixed), TLS
	 * ("off", "on": by default, "required": always, --no-tls refused),
	 * the migration link's capacity per host (MiB/s, 0 unknown) and how
	 * many migrations may leave one host at once. */
	int		 migration_parallel;
	char		 migration_tls[16];
	int		 link_mibs;
	int		 max_outgoing;
};

struct coord;
struct host;

/* A call to a hostd waiting for its reply. cb gets the reply frame (NULL on
 * error, with err set, and the error reply's errno in host->reply_code, 0
 * for a timeout or a lost session); it does not own the frame. */
typedef void (*peer_reply_cb)(struct host *, const struct frame *,
    const char *err, void *arg);

struct peer_call {
	TAILQ_ENTRY(peer_call)	 entry;
	uint32_t		 serial;
	uint16_t		 type;
	uint64_t		 deadline_ms;
	peer_reply_cb		 cb;
	void			*arg;
};
TAILQ_HEAD(peer_call_list, peer_call);

struct host {
	struct coord		*co;
	struct coord_host_conf	 conf;
	int			 removed;	/* by a reload: not a host now */
	struct tr_conn		*conn;
	int			 up;		/* hello answered: inventory known */
	char			 admin_state[16];	/* active draining maintenance */
	Ferry__Inventory	*inv;		/* last inventory; owned; may be NULL */
	int			 inv_dirty;	/* inv not yet in the store */
	uint64_t		 inv_written_ms;	/* uv_now of the last write */
	uint64_t		 last_seen_ms;
	char			 last_error[256];
	uint32_t		 next_serial;
	uint64_t		 hb_seq;
	uint64_t		 last_down_write_ms;
	struct peer_call_list	 calls;
	int			 reply_code;	/* while a reply callback runs: its
						 * Ferry.Error code, else 0 */

	/* Trust (cluster.c): where this host is reached comes from the
	 * configuration or was pinned at first contact, never from its
	 * later reports. A host whose reports contradict it is flagged and
	 * not used as a destination until the operator accepts it. */
	char			 trust_uri[512];	/* "" until pinned */
	char			 trust_maddr[256];
	const char		*trust_source;	/* configured, pinned, or NULL */
	int			 flagged;
	char			 flag_reason[512];
	char			 notice[512];	/* the latest distrust of its word */
	uint64_t		 notice_ms;
	uint64_t		 epoch_told;	/* HA: the epoch it took (ha.c) */

	/* What migrations into this host measured (wire.c); 0: not yet. */
	double			 wire_stream_mibs;	/* one stream's throughput */
	double			 wire_fixed_ms;		/* a migration's fixed cost */
};

struct ctl_client;
TAILQ_HEAD(ctl_client_list, ctl_client);
struct lease;

enum ha_state {
	HA_STANDBY = 0,		/* starts nothing, writes nothing */
	HA_ANNOUNCING,		/* lease taken: telling the hosts the epoch */
	HA_LEADER,		/* hosts told, unfinished work adopted */
};
struct cpucache;
struct drain;
struct metrics;
struct www;
struct http;
TAILQ_HEAD(drain_list, drain);

struct coord {
	uv_loop_t		*loop;
	struct coord_conf	 conf;
	struct store		*store;
	/* Slots never move (jobs, calls and connections point at them): a
	 * reload appends a host (up to hosts_cap) or leaves a removed one's
	 * slot in place, marked removed, for its name to come back to. */
	struct host		*hosts;
	size_t			 nhosts, hosts_cap;
	struct job_moved	*moved;		/* ring; job.c */
	size_t			 moved_next;
	const char		*conf_file;	/* for reloads (SIGHUP) */
	uv_signal_t		 sighup;
	uint64_t		 prune_next_ms;	/* retention (store_prune) */
	uv_pipe_t		 ctl_server;
	int			 ctl_open;
	struct ctl_client_list	 clients;
	struct job_list		 jobs;
	struct drain_list	 drains;
	uint64_t		 rebalance_next_ms;	/* periodic mode */
	uv_timer_t		 sweep_timer;
	uv_signal_t		 sigterm, sigint;
	int			 handles_open;
	uint64_t		 last_heartbeat_ms;
	int			 stopping;
	struct cpucache		*cpucache;	/* owned; cpucache.c */
	/* HA (lease.c): this leader's epoch, stamped on every acting call to
	 * a host (peer.c); 0 without HA, or while not leader. */
	uint64_t		 epoch;
	int			 fenced;	/* a host refused epoch: deposed */
	uint64_t		 fenced_logged;	/* the epoch last logged as such */
	int			 ha;		/* ha = { node; } configured */
	enum ha_state		 ha_state;
	uint64_t		 ha_epoch;	/* the lease's (ours, or last seen) */
	char			 ha_leader[64];	/* "": unknown */
	int			 ha_pending;	/* EPOCH replies awaited */
	uint64_t		 ha_refreshed_ms;	/* standby: store read */
	struct lease		*lease;		/* owned; NULL without HA */
	struct relay_leader	*relay_leader;	/* owned; relay_leader.c */
	struct relay_standby	*relay_standby;	/* owned; relay_standby.c */
	struct metrics		*metrics;	/* owned; metrics.c */
	struct www		*www;		/* owned; www.c; NULL: no web view */
	struct http		*http;		/* owned; http.c; NULL: off */
};

/* parse.c */
void	 parse_coord_defaults(struct coord_conf *);
int	 parse_coord_config(const char *path, struct coord_conf *, char *err,
	    size_t errlen);
void	 parse_coord_conf_clear(struct coord_conf *);

/* coordinator.c */
/* Slots for hosts a reload may add beyond those configured at start. */
#define COORD_HOSTS_SPARE	256
int	 coord_host_setup(struct coord *, struct host *,
	    const struct coord_host_conf *, char *err, size_t errlen);
int	 coord_init(struct coord *, uv_loop_t *, struct coord_conf *, char *err,
	    size_t errlen);
void	 coord_shutdown(struct coord *);
void	 coord_free(struct coord *);
struct host *coord_host_find(struct coord *, const char *name);
const char *coord_host_state(const struct host *);
void	 coord_fenced(struct coord *, struct host *, const char *why);

/* ha.c */
extern char **ha_argv;
extern void (*ha_stepdown_hook)(struct coord *, const char *why);
int	 ha_start(struct coord *, char *err, size_t errlen);
void	 ha_stop(struct coord *);
int	 ha_acting(struct coord *);
int	 ha_host_ready(struct host *);
int	 ha_host_up(struct host *);
void	 ha_fenced(struct coord *);
void	 ha_standby_refresh(struct coord *, uint64_t now_ms);
const char *ha_role(const struct coord *);
const char *coord_admin_phrase(const char *admin_state);

/* relay.c: the relay's wire, both ends */
const struct coord_ha_peer *relay_peer_conf(const struct coord *,
	    const char *node);
int	 relay_send(struct tr_conn *, uint16_t type, const ProtobufCMessage *);
int	 relay_frame_wrap(Ferry__RelayFrame *, const struct frame_hdr *,
	    const uint8_t *payload, uint8_t **inner);
int	 relay_frame_unwrap(const Ferry__RelayFrame *, struct frame *);

/* relay_leader.c: other coordinators' calls, served (HA) */
#define RELAY_IDLE_MS	10000	/* no byte from a relay peer: dropped */
int	 relay_leader_start(struct coord *, char *err, size_t errlen);
void	 relay_leader_stop(struct coord *);
void	 relay_leader_free(struct coord *);

/* relay_standby.c: a standby's acting calls, relayed to the leader */
int	 relay_standby_start(struct coord *, char *err, size_t errlen);
void	 relay_standby_update(struct coord *);
int	 relay_standby_forward(struct coord *, struct ctl_client *,
	    const struct frame *, char *err, size_t errlen);
int	 relay_standby_ready(const struct coord *);
const char *relay_standby_state(const struct coord *);
void	 relay_standby_stop(struct coord *);
void	 relay_standby_free(struct coord *);

/* peer.c */
void	 peer_start(struct host *);
void	 peer_stop(struct host *);
int	 peer_call(struct host *, uint16_t type, const ProtobufCMessage *,
	    int timeout_ms, peer_reply_cb, void *arg);
void	 peer_sweep(struct host *, uint64_t now_ms);
void	 peer_heartbeat(struct host *);
void	 peer_storage_cleanup(struct host *, Ferry__Nonce **, size_t,
	    int timeout_ms);

/* cluster.c */
void	 cluster_host_up(struct host *, Ferry__Inventory *);
void	 cluster_host_down(struct host *, const char *reason);
void	 cluster_inventory(struct host *, Ferry__Inventory *);
void	 cluster_flush(struct coord *, int all);
uint64_t cluster_host_mem_used(const struct host *);
uint64_t cluster_host_free_mib(const struct host *);
int	 cluster_trust_load(struct host *, char *err, size_t errlen);
const char *cluster_host_libvirt_uri(const struct host *);
const char *cluster_host_migration_address(const struct host *);
void	 cluster_host_notice(struct host *, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
int	 cluster_trust_accept(struct coord *, const char *host, char *err,
	    size_t errlen);
const char *cluster_domain_claimed(struct coord *, const struct host *,
	    const char *vm, const char *uuid);

/* control.c */
int	 control_listen(struct coord *, char *err, size_t errlen);
void	 control_close(struct coord *);
void	 control_sweep(struct coord *, uint64_t now_ms);
size_t	 control_queued(struct coord *);
size_t	 control_nclients(struct coord *);
int	 control_dispatch(struct ctl_client *, const struct frame *,
	    const char *token, char *err, size_t errlen);
int	 control_code(int rc);
int	 control_reply(struct ctl_client *, uint16_t type, uint32_t serial,
	    const ProtobufCMessage *);
int	 control_event(struct ctl_client *, uint16_t type, uint32_t serial,
	    const ProtobufCMessage *);
int	 control_error(struct ctl_client *, uint16_t type, uint32_t serial,
	    int code, const char *fmt, ...) __attribute__((format(printf, 5, 6)));
struct coord *control_coord(struct ctl_client *);
void	 control_client_ref(struct ctl_client *);
void	 control_client_unref(struct ctl_client *);
int	 control_client_alive(const struct ctl_client *);
typedef void (*control_sink_fn)(void *arg, const struct frame *);
struct ctl_client *control_client_sink(struct coord *, control_sink_fn,
	    void *arg);
void	 control_client_sink_close(struct ctl_client *);
void	 control_client_cred(const struct ctl_client *, long *uid, long *pid);
void	 control_client_relayed(struct ctl_client *, int64_t uid, int64_t pid,
	    const char *user, const char *node);
int	 control_write_frame(struct ctl_client *, uint8_t *buf, size_t len);

/* A move with a fixed destination (rebalancing). Strings are borrowed. */
struct drain_move {
	const char	*vm;
	const char	*from;
	const char	*to;
	uint64_t	 mem_mib;
};

/* drain.c */
/* Tests set it: an illegal edge (run id, state, event) fails the test. */
extern void (*drain_illegal_hook)(int64_t, const char *, const char *);
int	 drain_start_moves(struct coord *, const struct drain_move *, size_t,
	    uint32_t max_parallel, struct ctl_client *, uint32_t serial,
	    int64_t *id, char *, size_t);
int	 drain_running_kind(struct coord *, const char *kind);
int	 drain_host_busy(struct coord *, const char *host);
int	 drain_vm_planned(struct coord *, const char *vm);
void	 drain_watch(struct coord *, int64_t id, struct ctl_client *,
	    uint32_t serial);
int	 drain_enter(struct coord *, const Ferry__MaintenanceRequest *,
	    struct ctl_client *, uint16_t type, uint32_t serial, char *, size_t);
int	 drain_cancel(struct coord *, const char *host, struct ctl_client *,
	    uint16_t type, uint32_t serial, char *, size_t);
int	 drain_exit(struct coord *, const Ferry__MaintenanceRequest *,
	    struct ctl_client *, uint16_t type, uint32_t serial, char *, size_t);
int	 drain_recover(struct coord *, char *, size_t);
void	 drain_host_up(struct host *);
void	 drain_job_done(struct coord *, const struct job *, enum job_state);
void	 drain_job_progress(struct coord *, const struct job *, double);
void	 drain_tick(struct coord *);
void	 drain_free_all(struct coord *);

/* drain_view.c: runs in flight, for the metrics. Strings are borrowed
 * until the loop next runs. items[] is indexed by item state (0 planned,
 * 1 unmovable, 2 migrating, 3 moved, 4 failed, 5 cancelled). */
#define DRAIN_STAT_ITEM_STATES	6
struct drain_stat {
	int64_t		 id;
	const char	*kind;
	const char	*host;		/* "" for a rebalance */
	const char	*state;
	uint32_t	 items[DRAIN_STAT_ITEM_STATES];
};
size_t	 drain_stats(struct coord *, struct drain_stat *, size_t max);
const char *drain_item_state_name(size_t);

/* rebalance.c */
int	 rebalance_score(struct coord *, double *score);
int	 rebalance_request(struct coord *, const Ferry__RebalanceRequest *,
	    struct ctl_client *, uint16_t type, uint32_t serial, char *, size_t);
int	 rebalance_snapshot(struct coord *, struct ctl_client *, uint16_t type,
	    uint32_t serial, char *, size_t);
void	 rebalance_tick(struct coord *, uint64_t now_ms);

/* job_control.c: ferryctl job set | postcopy | complete */
int	 job_control_request(struct coord *, const Ferry__JobControlRequest *,
	    struct ctl_client *, uint16_t type, uint32_t serial, char *err,
	    size_t errlen);

/* retention.c */
void	 retention_tick(struct coord *, uint64_t now_ms);

/* reload.c: SIGHUP (systemctl reload) reads the configuration again */
int	 reload_config(struct coord *, const char *path, char *err,
	    size_t errlen);
void	 reload_signal_cb(uv_signal_t *, int signum);

/* cpubaseline.c */
int	 cpubaseline_request(struct coord *, struct ctl_client *, uint16_t type,
	    uint32_t serial, char *, size_t);

/* placeask.c: ferryctl place, after the hosts' word on the VM's CPU */
int	 placeask_request(struct coord *, struct ctl_client *, uint16_t type,
	    uint32_t serial, const char *vm, char *, size_t);

/* web.c: /, /metrics and /v1/audit on the HTTPS server */
int	 web_start(struct coord *, char *err, size_t errlen);

/* www.c: the web view's files, in memory from start (www_load). */
#define WWW_NFILES	3
#define WWW_DEFAULT_DIR	"/usr/share/ferry/www"
/* Every response of the HTTPS server carries it: the page loads its script,
 * style and data from the coordinator only, runs no inline script, is
 * never framed. */
#define WWW_CSP	"default-src 'none'; script-src 'self'; style-src 'self'; " \
	"connect-src 'self'; img-src 'self'; base-uri 'none'; " \
	"form-action 'self'; frame-ancestors 'none'"
struct www_file {
	const char	*url;
	const char	*type;		/* Content-Type */
	char		*data;		/* owned by the struct www */
	size_t		 len;
};
int	 www_load(struct coord *, const char *dir, char *err, size_t errlen);
const struct www_file *www_find(const struct www *, const char *url);
void	 www_free(struct coord *);

/* metrics.c */
int	 metrics_start(struct coord *);
void	 metrics_stop(struct coord *);
void	 metrics_free(struct coord *);
void	 metrics_job_done(struct coord *, const struct job *);
char	*metrics_render(struct coord *, size_t *len);

/* audit.c: who asked. via "ctl" (uid and pid from SO_PEERCRED) or "api"
 * (who is the token's name, no uid). Strings are borrowed. */
struct audit_who {
	const char	*via;
	const char	*who;
	int		 has_uid;
	int64_t		 uid, pid;
	const char	*node;		/* HA: the coordinator asked; NULL */
};
const char *audit_ctl_what(uint16_t type, const ProtobufCMessage *);
char	*audit_args_json(const ProtobufCMessage *);
void	 audit_ctl_who(uid_t, char *, size_t);
int	 audit_begin(struct coord *, const struct audit_who *, const char *what,
	    const char *args, int64_t *id, char *err, size_t errlen);
void	 audit_end(struct coord *, int64_t id, const char *outcome,
	    int64_t job_id, const char *message);
void	 audit_end_reply(struct coord *, int64_t id, const ProtobufCMessage *);
int	 audit_record(struct coord *, const struct audit_who *, const char *what,
	    const char *args, const char *outcome, int64_t job_id,
	    const char *message);

/* api.c */
extern const struct dispatch_entry api_dispatch[];
extern const size_t api_ndispatch;
int	 api_acting(uint16_t type);
int	 api_relayed(uint16_t type);
Ferry__AuditEntry *api_audit_entry(const struct store_audit *,
	    Ferry__AuditEntry *);
void	 api_vm_entry_stored(const struct store_vm *, const char *host,
	    Ferry__VmEntry *, Ferry__Domain **);

#endif
