/*
 * ha.c: an HA coordinator's role (ha = { node = "c1"; ... }).
 *
 * Several coordinators share one PostgreSQL store; the lease (lease.c)
 * makes one of them leader, with an epoch. A standby keeps its hostd
 * sessions open, so its picture of the cluster stays fresh, but starts
 * nothing and writes nothing. A new leader first tells every host its
 * epoch (EPOCH, hostd/fence.c), then adopts every unfinished job and drain
 * from the store (job_recover, drain_recover: the path a restart takes,
 * asking the source's hostd with JOB_QUERY), then takes new work. A host
 * that comes up later is told the epoch before anything acts on it.
 *
 * The store is fenced the same way: the leader's database connection
 * carries its epoch, and PostgreSQL refuses a write once the lease row has
 * a newer one (store_fence, schema 5).
 *
 * A leader that loses the lease (not renewed by its deadline, taken by
 * another, refused by a host or by the store for a stale epoch) does not unwind its
 * jobs in memory: their calls in flight and their journal writes would
 * race the new leader's. It re-executes itself (ha_stepdown_hook), so it
 * comes back as a standby with nothing in memory, the way a restart after
 * kill -9 does; its migrations go on in libvirtd and the new leader
 * adopts them.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "coordinator.h"
#include "lease.h"
#include "log.h"

char	**ha_argv;		/* main's, for the re-execution */
void	(*ha_stepdown_hook)(struct coord *, const char *why);

static const char *
ha_state_name(enum ha_state s)
{
	switch (s) {
	case HA_ANNOUNCING:	return "announcing";
	case HA_LEADER:		return "leader";
	default:		return "standby";
	}
}

const char *
ha_role(const struct coord *co)
{
	if (!co->ha)
		return "leader";	/* the only one */
	return ha_state_name(co->ha_state);
}

/* May this coordinator act (start, drive or adopt jobs, write the
 * cluster's state)? Without HA always; with it, while leader and the
 * lease holds by the monotonic clock. */
static void	ha_step_down(struct coord *, const char *);

int
ha_acting(struct coord *co)
{
	if (!co->ha)
		return 1;
	if (co->ha_state == HA_STANDBY)
		return 0;
	/* The database refused a write for a newer epoch: another leads. */
	if (store_fenced(co->store)) {
		ha_step_down(co, "the store refused a write: the lease has a "
		    "newer epoch");
		return 0;
	}
	if (lease_acting(co->lease))
		return 1;
	/* The deadline passed before its timer ran (a paused process, a
	 * busy loop): whoever asks is told no, and the term ends now. */
	ha_step_down(co, "the lease's deadline passed");
	return 0;
}

/* Whether an acting call may go to h now (peer.c): the leader has told
 * it the epoch it stamps. */
int
ha_host_ready(struct host *h)
{
	struct coord *co = h->co;

	if (!co->ha)
		return 1;
	return ha_acting(co) && co->ha_state == HA_LEADER && co->epoch != 0 &&
	    h->epoch_told == co->epoch;
}

static void
ha_step_down(struct coord *co, const char *why)
{
	log_warnx("no longer leader (epoch %llu): %s",
	    (unsigned long long)co->ha_epoch, why);
	co->epoch = 0;
	co->ha_state = HA_STANDBY;
	if (ha_stepdown_hook != NULL) {
		ha_stepdown_hook(co, why);
		return;
	}
	/* Nothing of the term survives in memory: start again as a standby.
	 * Every descriptor libuv and libssh opened is close-on-exec. */
	if (ha_argv != NULL) {
		long fd, max = sysconf(_SC_OPEN_MAX);

		log_info("re-executing as a standby");
		(void)unlink(co->conf.socket);
		/* libssh's sockets are not all close-on-exec. */
		for (fd = 3; fd < (max > 0 && max < 65536 ? max : 65536); fd++)
			(void)fcntl((int)fd, F_SETFD, FD_CLOEXEC);
		execv("/proc/self/exe", ha_argv);
		log_warn("execv");
	}
	/* Cannot re-execute: stop; the service manager restarts us. */
	exit(75);
}

static void	ha_takeover(struct coord *);

/* Once every host that was up has answered its EPOCH. */
static void
ha_announced(struct coord *co)
{
	if (co->ha_state != HA_ANNOUNCING || co->ha_pending > 0)
		return;
	ha_takeover(co);
}

struct ha_tell {
	struct coord	*co;
	uint64_t	 epoch;
	int		 takeover;	/* counted in ha_pending */
};

static void
ha_tell_cb(struct host *h, const struct frame *f, const char *err, void *arg)
{
	struct ha_tell *t = arg;
	struct coord *co = t->co;
	int takeover = t->takeover, stale = t->epoch != co->ha_epoch ||
	    co->ha_state == HA_STANDBY;

	free(t);
	if (takeover && !stale)
		co->ha_pending--;
	if (stale)
		return;
	if (f == NULL) {
		if (h->reply_code == FERRY_EFENCED) {
			/* A host has seen a newer leader: we are not one. */
			lease_deposed(co->lease);
			return;
		}
		log_warnx("host %s: epoch %llu not taken: %s; it is told again "
		    "at its next session", h->conf.name,
		    (unsigned long long)co->ha_epoch, err);
		if (h->conn != NULL)
			tr_conn_kick(h->conn, "epoch not taken");
	} else {
		h->epoch_told = co->ha_epoch;
		log_info("host %s: told epoch %llu", h->conf.name,
		    (unsigned long long)co->ha_epoch);
		/* A host that came up after the takeover: its jobs now. */
		if (!takeover && co->ha_state == HA_LEADER) {
			job_host_up(h);
			drain_host_up(h);
		}
	}
	if (takeover)
		ha_announced(co);
}

static int
ha_tell(struct host *h, int takeover)
{
	struct coord *co = h->co;
	Ferry__EpochRequest req = FERRY__EPOCH_REQUEST__INIT;
	struct ha_tell *t;

	if ((t = calloc(1, sizeof(*t))) == NULL)
		return -1;
	t->co = co;
	t->epoch = co->ha_epoch;
	t->takeover = takeover;
	req.epoch = co->ha_epoch;
	req.leader = co->conf.ha.node;
	if (peer_call(h, MSG_EPOCH, &req.base, co->conf.ha.timeout_ms * 2,
	    ha_tell_cb, t) < 0) {
		free(t);
		return -1;
	}
	return 0;
}

/* cluster.c, when a session said hello: 1 when the host's jobs may be
 * driven now, 0 when that waits for its EPOCH (or for leadership). */
int
ha_host_up(struct host *h)
{
	struct coord *co = h->co;

	if (!co->ha)
		return 1;
	h->epoch_told = 0;
	if (co->ha_state == HA_STANDBY)
		return 0;
	if (ha_tell(h, 0) < 0)
		tr_conn_kick(h->conn, "cannot tell the epoch");
	return 0;
}

/* Every host told: the store's unfinished work becomes ours. */
static void
ha_takeover(struct coord *co)
{
	char err[512];
	size_t i;

	co->ha_state = HA_LEADER;
	co->epoch = co->ha_epoch;
	/* The store's picture of the hosts is ours to write now. */
	for (i = 0; i < co->nhosts; i++) {
		struct host *h = &co->hosts[i];

		if (store_host_set_conn(co->store, h->conf.name,
		    h->up ? "up" : "down", h->up ? "" : h->last_error,
		    clock_wall_ms()) < 0)
			log_warnx("%s", store_error(co->store));
		h->inv_dirty = h->inv != NULL;
	}
	cluster_flush(co, 1);
	if (job_recover(co, err, sizeof(err)) < 0 ||
	    drain_recover(co, err, sizeof(err)) < 0) {
		ha_step_down(co, err);
		return;
	}
	log_info("leader, epoch %llu: %zu hosts told, unfinished work adopted",
	    (unsigned long long)co->epoch, co->nhosts);
	for (i = 0; i < co->nhosts; i++)
		if (co->hosts[i].up && co->hosts[i].epoch_told == co->epoch) {
			job_host_up(&co->hosts[i]);
			drain_host_up(&co->hosts[i]);
		}
}

static void
ha_lease_cb(void *arg, const struct lease_view *v)
{
	struct coord *co = arg;
	size_t i;

	snprintf(co->ha_leader, sizeof(co->ha_leader), "%s", v->leader);
	if (v->role == LEASE_STANDBY) {
		if (co->ha_state != HA_STANDBY)
			ha_step_down(co, v->last_error[0] ? v->last_error :
			    "the lease passed to another");
		co->ha_epoch = v->epoch;
		relay_standby_update(co);
		return;
	}
	if (co->ha_state != HA_STANDBY && v->epoch == co->ha_epoch)
		return;
	if (co->ha_state != HA_STANDBY) {
		/* A new epoch while leading: the old term is over. */
		ha_step_down(co, "a new term began");
		return;
	}
	/* Leader: the store takes this term's writes only while the lease
	 * has its epoch; then tell every host; nothing acts until they know. */
	if (store_fence(co->store, v->epoch) < 0) {
		log_warnx("cannot fence the store at epoch %llu: %s",
		    (unsigned long long)v->epoch, store_error(co->store));
		lease_deposed(co->lease);
		return;
	}
	co->ha_state = HA_ANNOUNCING;
	co->ha_epoch = v->epoch;
	co->ha_pending = 0;
	log_info("lease taken, epoch %llu: telling the hosts",
	    (unsigned long long)v->epoch);
	for (i = 0; i < co->nhosts; i++) {
		struct host *h = &co->hosts[i];

		h->epoch_told = 0;
		if (!h->up)
			continue;	/* told at its hello */
		if (ha_tell(h, 1) == 0)
			co->ha_pending++;
		else if (h->conn != NULL)
			tr_conn_kick(h->conn, "cannot tell the epoch");
	}
	ha_announced(co);
}

int
ha_start(struct coord *co, char *err, size_t errlen)
{
	struct lease_backend be;
	struct lease_conf lc;

	if (co->conf.ha.node[0] == '\0')
		return 0;
	co->ha = 1;
	co->ha_state = HA_STANDBY;
	memset(&lc, 0, sizeof(lc));
	snprintf(lc.node, sizeof(lc.node), "%s", co->conf.ha.node);
	lc.ttl_ms = co->conf.ha.lease_ms;
	lc.renew_ms = co->conf.ha.renew_ms;
	lc.margin_ms = co->conf.ha.margin_ms;
	lc.timeout_ms = co->conf.ha.timeout_ms;
	if (lease_pg_open(co->conf.ha.conninfo, &be, err, errlen) < 0)
		return -1;
	if ((co->lease = lease_start(co->loop, &lc, &be, ha_lease_cb, co, err,
	    errlen)) == NULL)
		return -1;
	log_info("HA node %s: standby until the lease is ours",
	    co->conf.ha.node);
	return 0;
}

void
ha_stop(struct coord *co)
{
	if (co->lease == NULL)
		return;
	lease_stop(co->lease);
	co->lease = NULL;
}

/*
 * A standby's picture of what the leader decides: each host's
 * administrative state (maintenance, draining) is the leader's to change
 * and is written to the shared store, so a standby reads it back from
 * there when it is asked (control_dispatch, metrics_render), at most
 * every HA_REFRESH_MS, instead of showing what it saw at start.
 */
#define HA_REFRESH_MS	1000

void
ha_standby_refresh(struct coord *co, uint64_t now_ms)
{
	struct store_host *rows = NULL;
	struct host *h;
	size_t i, n = 0;

	if (!co->ha || co->ha_state != HA_STANDBY ||
	    now_ms - co->ha_refreshed_ms < HA_REFRESH_MS)
		return;
	co->ha_refreshed_ms = now_ms;
	if (store_hosts_list(co->store, &rows, &n) < 0) {
		log_debug("standby: cannot read the hosts' states: %s",
		    store_error(co->store));
		return;
	}
	for (i = 0; i < n; i++)
		if ((h = coord_host_find(co, rows[i].name)) != NULL &&
		    strcmp(h->admin_state, rows[i].admin_state) != 0)
			snprintf(h->admin_state, sizeof(h->admin_state), "%s",
			    rows[i].admin_state);
	free(rows);
}

/* A host refused a call for a stale epoch (peer.c). */
void
ha_fenced(struct coord *co)
{
	if (co->ha && co->lease != NULL)
		lease_deposed(co->lease);
}
