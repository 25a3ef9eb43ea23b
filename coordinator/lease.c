/*
 * lease.c: the lease's thread (lease.h). The database calls block, so they
 * run here, never on the libuv loop; the loop reads the outcome under a
 * mutex that is never held across a database call, and learns of changes
 * through a uv_async. Whether this coordinator may act is decided on the
 * caller's thread from the monotonic clock at the moment it asks
 * (lease_acting), so a thread stuck in a database call, or a process that
 * was paused, cannot make it act past its deadline; a loop timer at the
 * deadline tells the coordinator it has stepped down even when no answer
 * came.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "lease.h"
#include "log.h"

struct lease {
	uv_loop_t		*loop;
	uv_async_t		 async;
	uv_timer_t		 deadline;	/* at valid_until: step down */
	int			 nopen;		/* handles not yet closed */
	pthread_t		 thread;
	int			 thread_started;
	pthread_mutex_t		 mtx;
	pthread_cond_t		 cond;		/* CLOCK_MONOTONIC */
	struct lease_backend	 be;		/* the thread's only */
	struct lease_logic	 lg;		/* under mtx */
	int			 stop;		/* under mtx */
	uint64_t		 seen_changes;	/* loop only */
	lease_change_cb		 cb;
	void			*arg;
};

static void
lease_wait_until(struct lease *l, uint64_t when_ms)
{
	struct timespec ts;
	uint64_t now = clock_mono_ms();

	if (when_ms <= now)
		return;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += (time_t)((when_ms - now) / 1000);
	ts.tv_nsec += (long)((when_ms - now) % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	(void)pthread_cond_clockwait(&l->cond, &l->mtx, CLOCK_MONOTONIC, &ts);
}

static void *
lease_thread(void *arg)
{
	struct lease *l = arg;
	struct lease_conf c;
	struct lease_row row;
	enum lease_op op;
	uint64_t epoch, sent;
	char err[256];
	int rc;

	pthread_mutex_lock(&l->mtx);
	c = l->lg.conf;
	while (!l->stop) {
		if (clock_mono_ms() < l->lg.next_try) {
			lease_wait_until(l, l->lg.next_try);
			continue;
		}
		op = lease_logic_op(&l->lg);
		epoch = l->lg.epoch;
		pthread_mutex_unlock(&l->mtx);

		err[0] = '\0';
		memset(&row, 0, sizeof(row));
		sent = clock_mono_ms();
		if (op == LEASE_OP_RENEW)
			rc = l->be.renew(l->be.arg, c.node, epoch, c.ttl_ms,
			    c.timeout_ms, &row, err, sizeof(err));
		else
			rc = l->be.acquire(l->be.arg, c.node, c.ttl_ms,
			    c.timeout_ms, &row, err, sizeof(err));

		pthread_mutex_lock(&l->mtx);
		lease_logic_result(&l->lg, op, rc, &row, err, sent,
		    clock_mono_ms());
		(void)lease_logic_tick(&l->lg, clock_mono_ms());
		pthread_mutex_unlock(&l->mtx);
		uv_async_send(&l->async);
		pthread_mutex_lock(&l->mtx);
	}
	/* A clean stop gives the lease up, so a standby need not wait. */
	if (l->lg.role == LEASE_LEADER && l->be.release != NULL) {
		epoch = l->lg.epoch;
		l->lg.role = LEASE_STANDBY;
		pthread_mutex_unlock(&l->mtx);
		if (l->be.release(l->be.arg, c.node, epoch, c.timeout_ms, err,
		    sizeof(err)) < 0)
			log_warnx("lease: release: %s", err);
		pthread_mutex_lock(&l->mtx);
	}
	pthread_mutex_unlock(&l->mtx);
	return NULL;
}

void
lease_view(struct lease *l, struct lease_view *v)
{
	memset(v, 0, sizeof(*v));
	pthread_mutex_lock(&l->mtx);
	(void)lease_logic_tick(&l->lg, clock_mono_ms());
	v->role = l->lg.role;
	v->epoch = l->lg.epoch;
	v->changes = l->lg.changes;
	snprintf(v->leader, sizeof(v->leader), "%s", l->lg.leader);
	snprintf(v->last_error, sizeof(v->last_error), "%s",
	    l->lg.last_error);
	pthread_mutex_unlock(&l->mtx);
}

/* Whether this coordinator may act now, by the monotonic clock. */
int
lease_acting(struct lease *l)
{
	int acting;

	if (l == NULL)
		return 0;
	pthread_mutex_lock(&l->mtx);
	acting = lease_logic_acting(&l->lg, clock_mono_ms());
	pthread_mutex_unlock(&l->mtx);
	return acting;
}

static void	lease_report(struct lease *);

static void
lease_deadline_cb(uv_timer_t *t)
{
	lease_report(t->data);
}

static void
lease_async_cb(uv_async_t *a)
{
	lease_report(a->data);
}

/* On the loop: tells the coordinator what changed, and arms the timer
 * that notices the deadline passing while no answer comes. */
static void
lease_report(struct lease *l)
{
	struct lease_view v;
	uint64_t until, now;

	lease_view(l, &v);	/* steps down if the deadline passed */
	pthread_mutex_lock(&l->mtx);
	until = l->lg.role == LEASE_LEADER ? l->lg.valid_until : 0;
	pthread_mutex_unlock(&l->mtx);
	uv_timer_stop(&l->deadline);
	if (until != 0) {
		now = clock_mono_ms();
		uv_timer_start(&l->deadline, lease_deadline_cb,
		    until > now ? until - now + 1 : 0, 0);
	}
	if (v.changes == l->seen_changes)
		return;
	l->seen_changes = v.changes;
	if (v.role == LEASE_LEADER)
		log_info("lease: leader, epoch %llu",
		    (unsigned long long)v.epoch);
	else
		log_info("lease: standby (leader %s, epoch %llu)%s%s",
		    v.leader[0] ? v.leader : "unknown",
		    (unsigned long long)v.epoch, v.last_error[0] ? ": " : "",
		    v.last_error);
	l->cb(l->arg, &v);
}

/* A host refused our epoch (peer.c): step down now, ask the database. */
void
lease_deposed(struct lease *l)
{
	if (l == NULL)
		return;
	pthread_mutex_lock(&l->mtx);
	lease_logic_deposed(&l->lg, clock_mono_ms());
	pthread_cond_signal(&l->cond);
	pthread_mutex_unlock(&l->mtx);
	lease_report(l);
}

/* Takes be (closed by lease_stop, or here on failure). */
struct lease *
lease_start(uv_loop_t *loop, const struct lease_conf *c,
    const struct lease_backend *be, lease_change_cb cb, void *arg, char *err,
    size_t errlen)
{
	struct lease *l;
	pthread_condattr_t ca;

	err[0] = '\0';
	if (lease_conf_check(c, err, errlen) < 0 ||
	    (l = calloc(1, sizeof(*l))) == NULL) {
		if (err[0] == '\0')
			snprintf(err, errlen, "out of memory");
		if (be->close)
			be->close(be->arg);
		return NULL;
	}
	l->loop = loop;
	l->be = *be;
	l->cb = cb;
	l->arg = arg;
	lease_logic_init(&l->lg, c, clock_mono_ms());
	pthread_mutex_init(&l->mtx, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&l->cond, &ca);
	pthread_condattr_destroy(&ca);
	uv_async_init(loop, &l->async, lease_async_cb);
	l->async.data = l;
	uv_timer_init(loop, &l->deadline);
	l->deadline.data = l;
	l->nopen = 2;
	if (pthread_create(&l->thread, NULL, lease_thread, l) != 0) {
		snprintf(err, errlen, "lease thread: %s", strerror(errno));
		lease_stop(l);
		return NULL;
	}
	l->thread_started = 1;
	return l;
}

static void
lease_closed(uv_handle_t *h)
{
	struct lease *l = h->data;

	if (--l->nopen > 0)
		return;
	pthread_cond_destroy(&l->cond);
	pthread_mutex_destroy(&l->mtx);
	free(l);
}

/* Joins the thread (at most one database call's timeout, then the
 * release's), closes the backend; l is freed once its handles close. */
void
lease_stop(struct lease *l)
{
	if (l == NULL)
		return;
	pthread_mutex_lock(&l->mtx);
	l->stop = 1;
	pthread_cond_signal(&l->cond);
	pthread_mutex_unlock(&l->mtx);
	if (l->thread_started)
		pthread_join(l->thread, NULL);
	l->thread_started = 0;
	if (l->be.close)
		l->be.close(l->be.arg);
	l->be.close = NULL;
	uv_close((uv_handle_t *)&l->async, lease_closed);
	uv_close((uv_handle_t *)&l->deadline, lease_closed);
}
