/* workq.c: hostd's classes of worker threads.
 *
 * libuv's worker pool is one queue for everything: four slow pre-checks
 * there delayed an ABORT by seconds and stopped every migration's polling
 * and convergence steps meanwhile. hostd gives each class of work (see
 * enum hostd_wq) its own threads and its own bounded queue instead, so a
 * slow class never starves another; heartbeats use no worker at all.
 *
 * A work function runs on one of the class's threads; its done callback
 * runs on the loop thread, woken through the class's uv_async_t. Threads
 * are started on demand, up to the class's limit. An item belongs to its
 * submitter; the queue only links it until its done callback has run.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hostd.h"
#include "log.h"

static void *
workq_thread(void *arg)
{
	struct workq *wq = arg;
	struct workq_item *it;

	pthread_mutex_lock(&wq->mtx);
	for (;;) {
		while (!wq->stopping && TAILQ_EMPTY(&wq->queue)) {
			wq->idle++;
			pthread_cond_wait(&wq->cond, &wq->mtx);
			wq->idle--;
		}
		if ((it = TAILQ_FIRST(&wq->queue)) == NULL)
			break;		/* stopping, nothing left */
		TAILQ_REMOVE(&wq->queue, it, entry);
		wq->nqueued--;
		pthread_mutex_unlock(&wq->mtx);
		it->work(it);
		pthread_mutex_lock(&wq->mtx);
		TAILQ_INSERT_TAIL(&wq->done, it, entry);
		/* Under the lock: workq_async_cb closes the handle only once
		 * it has taken every item, so no send can follow the close. */
		uv_async_send(&wq->async);
	}
	pthread_mutex_unlock(&wq->mtx);
	return NULL;
}

static void
workq_async_cb(uv_async_t *a)
{
	struct workq *wq = a->data;
	struct workq_item_list l;
	struct workq_item *it;

	TAILQ_INIT(&l);
	pthread_mutex_lock(&wq->mtx);
	TAILQ_CONCAT(&l, &wq->done, entry);
	pthread_mutex_unlock(&wq->mtx);
	while ((it = TAILQ_FIRST(&l)) != NULL) {
		TAILQ_REMOVE(&l, it, entry);
		wq->pending--;
		it->done(it, it->cancelled);	/* may free it */
	}
	if (wq->stopping && wq->pending == 0 && wq->async_open) {
		wq->async_open = 0;
		uv_close((uv_handle_t *)&wq->async, NULL);
	}
}

/* nthreads threads at most (up to WORKQ_MAX_THREADS); max_pending items
 * queued or running at once (beyond that workq_submit refuses). */
void
workq_init(struct workq *wq, uv_loop_t *loop, const char *name, int nthreads,
    int max_pending)
{
	memset(wq, 0, sizeof(*wq));
	wq->name = name;
	wq->loop = loop;
	wq->nthreads = nthreads < 1 ? 1 : nthreads > WORKQ_MAX_THREADS ?
	    WORKQ_MAX_THREADS : nthreads;
	wq->max_pending = max_pending;
	TAILQ_INIT(&wq->queue);
	TAILQ_INIT(&wq->done);
	pthread_mutex_init(&wq->mtx, NULL);
	pthread_cond_init(&wq->cond, NULL);
	uv_async_init(loop, &wq->async, workq_async_cb);
	wq->async.data = wq;
	wq->async_open = 1;
	wq->initialized = 1;
}

/*
 * Loop thread. Queues it (work and done must be set): 0, -EBUSY when the
 * class already has max_pending items, -ESHUTDOWN when stopping, -1 when
 * no thread can be started. On failure it is untouched and done never runs.
 */
int
workq_submit(struct workq *wq, struct workq_item *it)
{
	pthread_t t;
	int rc = 0;

	if (!wq->initialized || wq->stopping)
		return -ESHUTDOWN;
	if (wq->pending >= wq->max_pending)
		return -EBUSY;
	it->cancelled = 0;
	pthread_mutex_lock(&wq->mtx);
	/* A thread signalled but not yet awake still counts as idle: start
	 * one whenever the queue outgrows the idle threads. */
	if (wq->nqueued + 1 > wq->idle && wq->nstarted < wq->nthreads) {
		if (pthread_create(&t, NULL, workq_thread, wq) == 0)
			wq->threads[wq->nstarted++] = t;
		else if (wq->nstarted == 0)
			rc = -1;
	}
	if (rc == 0) {
		TAILQ_INSERT_TAIL(&wq->queue, it, entry);
		wq->nqueued++;
		pthread_cond_signal(&wq->cond);
		wq->pending++;
	}
	pthread_mutex_unlock(&wq->mtx);
	return rc;
}

/* Items queued or running (loop thread). */
int
workq_pending(const struct workq *wq)
{
	return wq->pending;
}

/*
 * Loop thread, at shutdown: what has not started is cancelled (its done
 * callback runs with cancelled set), what runs finishes; the handle closes
 * after the last done callback, so the loop ends when the work has.
 */
void
workq_stop(struct workq *wq)
{
	struct workq_item *it;
	int moved = 0;

	if (!wq->initialized || wq->stopping)
		return;
	pthread_mutex_lock(&wq->mtx);
	wq->stopping = 1;
	while ((it = TAILQ_FIRST(&wq->queue)) != NULL) {
		TAILQ_REMOVE(&wq->queue, it, entry);
		wq->nqueued--;
		it->cancelled = 1;
		TAILQ_INSERT_TAIL(&wq->done, it, entry);
		moved++;
	}
	pthread_cond_broadcast(&wq->cond);
	if (moved)
		uv_async_send(&wq->async);
	pthread_mutex_unlock(&wq->mtx);
	if (wq->pending == 0 && wq->async_open) {
		wq->async_open = 0;
		uv_close((uv_handle_t *)&wq->async, NULL);
	}
}

/* After the loop has ended: joins the threads. NULL or never initialised
 * is fine. */
void
workq_free(struct workq *wq)
{
	int i;

	if (wq == NULL || !wq->initialized)
		return;
	pthread_mutex_lock(&wq->mtx);
	wq->stopping = 1;
	pthread_cond_broadcast(&wq->cond);
	pthread_mutex_unlock(&wq->mtx);
	for (i = 0; i < wq->nstarted; i++)
		pthread_join(wq->threads[i], NULL);
	if (wq->pending)
		log_warnx("%s workers: %d calls never completed", wq->name,
		    wq->pending);
	pthread_mutex_destroy(&wq->mtx);
	pthread_cond_destroy(&wq->cond);
	wq->nstarted = 0;
	wq->initialized = 0;
}
