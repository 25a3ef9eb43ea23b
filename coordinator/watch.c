/* watch.c: control clients watching a job, a drain or a rebalance. A
 * watcher is a (client, serial) pair on its subject's list, and holds a
 * reference on its client (control.c): a client that went away stays
 * allocated, dead, until its watchers are dropped, when the next watcher
 * is added or the subject ends. Nobody need be told a client went away.
 */
#include <stdlib.h>

#include "coordinator.h"

/* Drops the watchers of l whose client went away. */
static void
watch_list_prune(struct job_watcher_list *l)
{
	struct job_watcher *w, *next;

	for (w = TAILQ_FIRST(l); w; w = next) {
		next = TAILQ_NEXT(w, entry);
		if (!control_client_alive(w->client)) {
			TAILQ_REMOVE(l, w, entry);
			control_client_unref(w->client);
			free(w);
		}
	}
}

int
job_watch_list_add(struct job_watcher_list *l, struct ctl_client *c,
    uint32_t serial)
{
	struct job_watcher *w;

	watch_list_prune(l);
	if ((w = calloc(1, sizeof(*w))) == NULL)
		return -1;
	control_client_ref(c);
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

/* Frees every watcher of l, dropping their references. */
void
watch_list_clear(struct job_watcher_list *l)
{
	struct job_watcher *w;

	while ((w = TAILQ_FIRST(l)) != NULL) {
		TAILQ_REMOVE(l, w, entry);
		control_client_unref(w->client);
		free(w);
	}
}
