/*
 * lease_logic.c: when an HA coordinator may act, as a pure function of the
 * database's answers and the monotonic clock (lease.h).
 *
 * The lease's expiry is on the database's clock: the row says expiry =
 * now() + ttl, and answers with expiry - now() as the database sees it.
 * This coordinator measures its side from the moment it sent the call
 * (sent_ms, before the database's now()), so its own deadline,
 * sent_ms + remaining - margin, falls before the database's expiry by at
 * least the margin whatever the call's latency; the margin covers the two
 * clocks' rates differing. After that deadline it stops acting whether or
 * not it heard from the database, so a standby that takes the lease at
 * expiry never overlaps it; a leader the database says lost the lease
 * stops at once.
 */
#include <stdio.h>
#include <string.h>

#include "lease.h"

int
lease_conf_check(const struct lease_conf *c, char *err, size_t errlen)
{
	if (c->node[0] == '\0') {
		snprintf(err, errlen, "ha: node is not set");
		return -1;
	}
	if (c->ttl_ms < 1000 || c->renew_ms < 100 || c->margin_ms < 100 ||
	    c->timeout_ms < 100) {
		snprintf(err, errlen, "ha: lease_ms >= 1000, renew_ms, "
		    "margin_ms and timeout_ms >= 100");
		return -1;
	}
	/* A healthy leader renews before its deadline: the next call is
	 * made renew_ms after the last answer and answers within timeout. */
	if ((int64_t)c->renew_ms + 2 * (int64_t)c->timeout_ms + c->margin_ms >=
	    c->ttl_ms) {
		snprintf(err, errlen, "ha: renew_ms (%d) + 2 * timeout_ms (%d) "
		    "+ margin_ms (%d) must be below lease_ms (%d)", c->renew_ms,
		    c->timeout_ms, c->margin_ms, c->ttl_ms);
		return -1;
	}
	return 0;
}

void
lease_logic_init(struct lease_logic *lg, const struct lease_conf *c,
    uint64_t now_ms)
{
	memset(lg, 0, sizeof(*lg));
	lg->conf = *c;
	lg->role = LEASE_STANDBY;
	lg->next_try = now_ms;
}

enum lease_op
lease_logic_op(const struct lease_logic *lg)
{
	return lg->role == LEASE_LEADER ? LEASE_OP_RENEW : LEASE_OP_ACQUIRE;
}

static void
lease_logic_step_down(struct lease_logic *lg, const char *leader)
{
	lg->role = LEASE_STANDBY;
	lg->valid_until = 0;
	snprintf(lg->leader, sizeof(lg->leader), "%s", leader);
}

/*
 * The answer to the call of kind op sent at sent_ms, arriving at now_ms:
 * rc as the backend's (1 ours, 0 another's, -1 no answer).
 */
void
lease_logic_result(struct lease_logic *lg, enum lease_op op, int rc,
    const struct lease_row *row, const char *err, uint64_t sent_ms,
    uint64_t now_ms)
{
	const struct lease_conf *c = &lg->conf;
	enum lease_role orole = lg->role;
	uint64_t oepoch = lg->epoch;
	char oleader[64];
	int64_t rem, wait;

	snprintf(oleader, sizeof(oleader), "%s", lg->leader);
	if (rc < 0) {
		snprintf(lg->last_error, sizeof(lg->last_error), "%s",
		    err ? err : "no answer");
		/* A leader keeps its deadline and tries again soon; it stops
		 * at valid_until (lease_logic_tick) if no answer comes. */
		wait = lg->role == LEASE_LEADER ? c->renew_ms / 4 : c->renew_ms;
		lg->next_try = now_ms + (uint64_t)(wait < 100 ? 100 : wait);
		return;
	}
	lg->last_error[0] = '\0';
	if (rc == 1 && (op == LEASE_OP_ACQUIRE || (lg->role == LEASE_LEADER &&
	    row->epoch == lg->epoch))) {
		rem = row->remaining_ms < c->ttl_ms ? row->remaining_ms :
		    c->ttl_ms;
		lg->role = LEASE_LEADER;
		lg->epoch = row->epoch;
		snprintf(lg->leader, sizeof(lg->leader), "%s", c->node);
		/* From when it was sent: never later than the database's. */
		lg->valid_until = rem > c->margin_ms ?
		    sent_ms + (uint64_t)(rem - c->margin_ms) : 0;
		lg->next_try = now_ms + (uint64_t)c->renew_ms;
		goto done;
	}
	/* Another holds it (or ours was lost): a standby until it expires. */
	lease_logic_step_down(lg, row->remaining_ms > 0 ? row->holder : "");
	if (row->epoch > lg->epoch)
		lg->epoch = row->epoch;
	wait = row->remaining_ms + 50;
	if (wait < 100)
		wait = 100;
	if (wait > c->renew_ms)
		wait = c->renew_ms;
	lg->next_try = now_ms + (uint64_t)wait;
done:
	if (orole != lg->role || oepoch != lg->epoch ||
	    strcmp(oleader, lg->leader) != 0)
		lg->changes++;
}

/* Steps down once the deadline passed; 1 when that changed the role. */
int
lease_logic_tick(struct lease_logic *lg, uint64_t now_ms)
{
	if (lg->role != LEASE_LEADER || now_ms < lg->valid_until)
		return 0;
	snprintf(lg->last_error, sizeof(lg->last_error), "lease not renewed "
	    "before its deadline");
	lease_logic_step_down(lg, "");
	lg->changes++;
	return 1;
}

int
lease_logic_acting(const struct lease_logic *lg, uint64_t now_ms)
{
	return lg->role == LEASE_LEADER && now_ms < lg->valid_until;
}

/* A host refused our epoch: another leads. Ask the database at once. */
void
lease_logic_deposed(struct lease_logic *lg, uint64_t now_ms)
{
	if (lg->role != LEASE_LEADER)
		return;
	snprintf(lg->last_error, sizeof(lg->last_error), "a host refused "
	    "epoch %llu", (unsigned long long)lg->epoch);
	lease_logic_step_down(lg, "");
	lg->changes++;
	lg->next_try = now_ms;
}
