/* lease.h: leadership of HA coordinators sharing one PostgreSQL store.
 *
 * One row (holder, epoch, expiry) on the database's clock decides who
 * leads; the epoch rises at every change of leader and fences a deposed
 * leader at the hosts (hostd/fence.c). The logic (lease_logic_*) is pure:
 * it is given the time and the database's answers, so tests drive it with
 * an injected clock and a fake database. lease_* runs it on a thread of
 * its own with a backend (lease_pg.c: libpq), never on the libuv loop. */
#ifndef FERRY_LEASE_H
#define FERRY_LEASE_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

enum lease_role {
	LEASE_STANDBY = 0,
	LEASE_LEADER = 1,
};

enum lease_op {
	LEASE_OP_ACQUIRE = 0,	/* take the lease if free or ours */
	LEASE_OP_RENEW = 1,	/* extend ours, same epoch */
};

/* What the database answered. */
struct lease_row {
	char		holder[64];	/* "": never held */
	uint64_t	epoch;
	int64_t		remaining_ms;	/* expiry - now(), on its clock; <= 0 expired */
};

/* The database side. Each call runs on the lease thread, returns within
 * timeout_ms, and answers 1 (acquired or renewed: row is ours), 0 (held
 * by another or lost: row is the current one) or -1 (no answer: err). */
struct lease_backend {
	void	*arg;
	int	(*acquire)(void *, const char *node, int ttl_ms, int timeout_ms,
		    struct lease_row *, char *err, size_t errlen);
	int	(*renew)(void *, const char *node, uint64_t epoch, int ttl_ms,
		    int timeout_ms, struct lease_row *, char *err, size_t errlen);
	/* Gives the lease up at a clean stop (may be NULL). */
	int	(*release)(void *, const char *node, uint64_t epoch,
		    int timeout_ms, char *err, size_t errlen);
	void	(*close)(void *);
};

struct lease_conf {
	char	node[64];	/* this coordinator, the lease's holder */
	int	ttl_ms;		/* the lease's length on the database's clock */
	int	renew_ms;	/* a leader renews this often (< ttl / 2) */
	int	margin_ms;	/* stops acting this long before expiry */
	int	timeout_ms;	/* each database call; < renew_ms */
};

struct lease_logic {
	struct lease_conf conf;
	enum lease_role	 role;
	uint64_t	 epoch;		/* ours while leader, else the last seen */
	char		 leader[64];	/* "": unknown */
	uint64_t	 valid_until;	/* mono ms: a leader acts only before */
	uint64_t	 next_try;	/* mono ms: the next database call */
	uint64_t	 changes;	/* counts role or epoch changes */
	char		 last_error[256];
};

/* lease_logic.c (pure: no I/O, no clock of its own) */
void	 lease_logic_init(struct lease_logic *, const struct lease_conf *,
	    uint64_t now_ms);
enum lease_op lease_logic_op(const struct lease_logic *);
void	 lease_logic_result(struct lease_logic *, enum lease_op, int rc,
	    const struct lease_row *, const char *err, uint64_t sent_ms,
	    uint64_t now_ms);
int	 lease_logic_tick(struct lease_logic *, uint64_t now_ms);
int	 lease_logic_acting(const struct lease_logic *, uint64_t now_ms);
void	 lease_logic_deposed(struct lease_logic *, uint64_t now_ms);
int	 lease_conf_check(const struct lease_conf *, char *err, size_t errlen);

/* What the loop learns of the lease thread's state. */
struct lease_view {
	enum lease_role	 role;
	uint64_t	 epoch;
	char		 leader[64];
	uint64_t	 changes;
	char		 last_error[256];
};

/* lease.c: the thread. on_change runs on the loop thread when the role,
 * the epoch or the leader changed (also when the lease ran out by the
 * monotonic clock while the thread was stuck in the database). */
struct lease;
typedef void (*lease_change_cb)(void *arg, const struct lease_view *);
struct lease *lease_start(uv_loop_t *, const struct lease_conf *,
	    const struct lease_backend *, lease_change_cb, void *arg,
	    char *err, size_t errlen);
void	 lease_stop(struct lease *);
int	 lease_acting(struct lease *);
void	 lease_view(struct lease *, struct lease_view *);
void	 lease_deposed(struct lease *);

/* lease_pg.c: the backend on PostgreSQL (libpq), its own connection. */
int	 lease_pg_open(const char *conninfo, struct lease_backend *,
	    char *err, size_t errlen);

#endif
