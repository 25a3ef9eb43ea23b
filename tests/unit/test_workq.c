/* test_workq.c: hostd's classes of worker threads (hostd/workq.c): the
 * bound refuses instead of queueing, threads start on demand up to the
 * class's limit, a slow item holds up only its own class, and at shutdown
 * what never started is cancelled and the loop closes clean. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "hostd.h"

struct item {
	struct workq_item	 it;
	int			*gate;		/* work waits while *gate */
	int			 ran, done, cancelled;
};

static pthread_mutex_t	mtx = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t	cond = PTHREAD_COND_INITIALIZER;

static void
item_work(struct workq_item *wi)
{
	struct item *i = wi->data;

	pthread_mutex_lock(&mtx);
	i->ran = 1;
	while (i->gate != NULL && *i->gate)
		pthread_cond_wait(&cond, &mtx);
	pthread_mutex_unlock(&mtx);
}

static void
item_done(struct workq_item *wi, int cancelled)
{
	struct item *i = wi->data;

	i->done = 1;
	i->cancelled = cancelled;
}

static void
item_init(struct item *i, int *gate)
{
	memset(i, 0, sizeof(*i));
	i->gate = gate;
	i->it.data = i;
	i->it.work = item_work;
	i->it.done = item_done;
}

static void
open_gate(int *gate)
{
	pthread_mutex_lock(&mtx);
	*gate = 0;
	pthread_cond_broadcast(&cond);
	pthread_mutex_unlock(&mtx);
}

static int
ran(struct item *i)
{
	int r;

	pthread_mutex_lock(&mtx);
	r = i->ran;
	pthread_mutex_unlock(&mtx);
	return r;
}

static uint64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Runs the loop until *flag or 5 s. */
static int
run_until(uv_loop_t *loop, int *flag)
{
	uint64_t end = mono_ms() + 5000;

	while (!*flag && mono_ms() < end)
		uv_run(loop, UV_RUN_NOWAIT), usleep(1000);
	return *flag;
}

static void
test_bound_and_cancel(void **state)
{
	struct workq slow, other;
	struct item a, b, c, d, o;
	int gate = 1;
	uv_loop_t loop;

	(void)state;
	assert_int_equal(uv_loop_init(&loop), 0);
	workq_init(&slow, &loop, "slow", 1, 3);
	workq_init(&other, &loop, "other", 1, 4);
	item_init(&a, &gate);
	item_init(&b, NULL);
	item_init(&c, NULL);
	item_init(&d, NULL);
	item_init(&o, NULL);
	assert_int_equal(workq_submit(&slow, &a.it), 0);
	assert_int_equal(workq_submit(&slow, &b.it), 0);
	assert_int_equal(workq_submit(&slow, &c.it), 0);
	/* The class holds 3: the fourth is refused, not queued. */
	assert_int_equal(workq_submit(&slow, &d.it), -EBUSY);
	assert_int_equal(workq_pending(&slow), 3);

	/* Another class runs while this one is stuck. */
	assert_int_equal(workq_submit(&other, &o.it), 0);
	assert_true(run_until(&loop, &o.done));
	assert_false(o.cancelled);
	for (int k = 0; k < 2500 && !ran(&a); k++)
		usleep(2000);
	assert_true(ran(&a));
	assert_false(ran(&b));
	assert_false(b.done);

	/* Shutdown: b and c never started and are cancelled at once; a
	 * finishes, and only then does the class let the loop end. */
	workq_stop(&slow);
	workq_stop(&other);
	assert_int_equal(workq_submit(&slow, &d.it), -ESHUTDOWN);
	assert_true(run_until(&loop, &c.done));
	assert_true(b.done && b.cancelled && c.cancelled);
	assert_false(ran(&b));
	assert_false(a.done);
	assert_int_equal(uv_run(&loop, UV_RUN_NOWAIT), 1);	/* a holds it */
	open_gate(&gate);
	assert_true(run_until(&loop, &a.done));
	assert_false(a.cancelled);
	assert_false(d.done);
	for (int k = 0; k < 100 && uv_run(&loop, UV_RUN_NOWAIT); k++)
		usleep(1000);
	workq_free(&slow);
	workq_free(&other);
	workq_free(NULL);
	assert_int_equal(uv_loop_close(&loop), 0);
}

/* Threads start on demand up to the limit: 3 slow items on a class of 2
 * threads run 2 at once. */
static void
test_threads_on_demand(void **state)
{
	struct workq wq;
	struct item it[3];
	int gate = 1, i;
	uv_loop_t loop;

	(void)state;
	assert_int_equal(uv_loop_init(&loop), 0);
	workq_init(&wq, &loop, "two", 2, 8);
	for (i = 0; i < 3; i++) {
		item_init(&it[i], &gate);
		assert_int_equal(workq_submit(&wq, &it[i].it), 0);
	}
	for (i = 0; i < 500 && !(ran(&it[0]) && ran(&it[1])); i++)
		usleep(2000);
	assert_true(ran(&it[0]) && ran(&it[1]));
	assert_false(ran(&it[2]));
	assert_int_equal(wq.nstarted, 2);
	open_gate(&gate);
	/* Done callbacks come in completion order, whichever that is. */
	for (i = 0; i < 3; i++)
		assert_true(run_until(&loop, &it[i].done));
	workq_stop(&wq);
	for (int k = 0; k < 100 && uv_run(&loop, UV_RUN_NOWAIT); k++)
		usleep(1000);
	workq_free(&wq);
	assert_int_equal(uv_loop_close(&loop), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bound_and_cancel),
		cmocka_unit_test(test_threads_on_demand),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
