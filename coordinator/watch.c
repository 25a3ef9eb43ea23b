/* watch.c: control clients watching a job, a drain or a rebalance. A
 * watcher is a (client, serial) pair on its subject's list, one kind of
 * list for every subject; when a client goes away each subsystem drops it
 * from its lists with watch_list_drop().
 */
#include <stdlib.h>

#include "coordinator.h"

int
job_watch_list_add(struct job_watcher_list *l, struct ctl_client *c,
    uint32_t serial)
{
	struct job_watcher *w;

	if ((w = calloc(1, sizeof(*w))) == NULL)
		return -1;
	w->client = c;
	w->serial = serial;
	TAILQ_INSERT_TAIL(l, w, entry);
	return 0;
}

int
job_watch(struct job *j, struct ctl_client *c, uint32_t serial)
{
	return job_watch_list_add(&j->watchers, c, serial);
}

/* Removes every watcher of c from l (a job's or a drain's). */
void
watch_list_drop(struct job_watcher_list *l, struct ctl_client *c)
{
	struct job_watcher *w, *next;

	for (w = TAILQ_FIRST(l); w; w = next) {
		next = TAILQ_NEXT(w, entry);
		if (w->client == c) {
			TAILQ_REMOVE(l, w, entry);
			free(w);
		}
	}
}

/* Frees every watcher of l. */
void
watch_list_clear(struct job_watcher_list *l)
{
	struct job_watcher *w;

	while ((w = TAILQ_FIRST(l)) != NULL) {
		TAILQ_REMOVE(l, w, entry);
		free(w);
	}
}

void
job_client_gone(struct coord *co, struct ctl_client *c)
{
	struct job *j;

	TAILQ_FOREACH(j, &co->jobs, entry) {
		watch_list_drop(&j->watchers, c);
		if (j->check_client == c)
			j->check_client = NULL;
	}
}

