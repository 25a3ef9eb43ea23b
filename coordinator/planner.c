/* planner.c: placement plans; see planner.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "planner.h"

static uint64_t
planner_free(const struct plan_host *h, uint64_t planned)
{
	uint64_t used = h->used_mib + h->reserve_mib + planned;

	return h->mem_mib > used ? h->mem_mib - used : 0;
}

/* Largest memory first; ties by name so plans are reproducible. */
static int
planner_cmp(const void *a, const void *b)
{
	const struct plan_vm *x = *(const struct plan_vm * const *)a;
	const struct plan_vm *y = *(const struct plan_vm * const *)b;

	if (x->mem_mib != y->mem_mib)
		return x->mem_mib > y->mem_mib ? -1 : 1;
	return strcmp(x->name, y->name);
}

int
planner_evacuate(const struct plan_host *hosts, size_t nhosts, size_t src,
    struct plan_vm *vms, size_t nvms)
{
	struct plan_vm **order = NULL;
	uint64_t *planned = NULL, f, best_free;
	size_t i, k, best_any;
	int unplaced = 0, best, any;

	if ((nhosts && hosts == NULL) || (nvms && vms == NULL) || src >= nhosts)
		return -1;
	if ((planned = calloc(nhosts, sizeof(*planned))) == NULL ||
	    (nvms && (order = calloc(nvms, sizeof(*order))) == NULL)) {
		free(planned);
		return -1;
	}
	for (i = 0; i < nvms; i++)
		order[i] = &vms[i];
	if (nvms > 1)	/* order is NULL for an empty host */
		qsort(order, nvms, sizeof(*order), planner_cmp);

	for (i = 0; i < nvms; i++) {
		struct plan_vm *v = order[i];

		v->order = i + 1;
		v->dest = -1;
		v->reason[0] = '\0';
		if (!v->movable) {
			snprintf(v->reason, sizeof(v->reason), "%s",
			    v->why[0] ? v->why : "cannot be migrated live");
			unplaced++;
			continue;
		}
		best = -1;
		best_free = 0;
		any = 0;
		best_any = 0;
		for (k = 0; k < nhosts; k++) {
			if (k == src || !hosts[k].usable ||
			    (v->allowed && !v->allowed[k]))
				continue;
			f = planner_free(&hosts[k], planned[k]);
			if (!any || f > planner_free(&hosts[best_any],
			    planned[best_any]))
				best_any = k;
			any = 1;
			if (f >= v->mem_mib && (best < 0 || f > best_free)) {
				best = (int)k;
				best_free = f;
			}
		}
		if (best < 0) {
			if (!any)
				snprintf(v->reason, sizeof(v->reason), "no other "
				    "host is up and active");
			else
				snprintf(v->reason, sizeof(v->reason), "needs %llu "
				    "MiB; the most any destination has left in "
				    "this plan is %llu MiB (%s)",
				    (unsigned long long)v->mem_mib,
				    (unsigned long long)planner_free(
				    &hosts[best_any], planned[best_any]),
				    hosts[best_any].name);
			unplaced++;
			continue;
		}
		v->dest = best;
		planned[best] += v->mem_mib;
	}
	free(order);
	free(planned);
	return unplaced;
}
