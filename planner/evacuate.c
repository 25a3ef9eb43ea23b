/* evacuate.c: evacuation plans; see evacuate.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "evacuate.h"

/* Largest memory first; ties by name so plans are reproducible. */
static int
planner_cmp(const void *a, const void *b, void *arg)
{
	const struct place_model *m = arg;
	size_t i = (*(struct plan_vm * const *)a)->vm;
	size_t j = (*(struct plan_vm * const *)b)->vm;
	uint64_t xm = i < m->nvms ? m->vms[i].mem_mib : 0;
	uint64_t ym = j < m->nvms ? m->vms[j].mem_mib : 0;

	/* An unmovable VM may have no model entry (it left): last. */
	if (xm != ym)
		return xm > ym ? -1 : 1;
	return strcmp(i < m->nvms ? m->vms[i].name : "",
	    j < m->nvms ? m->vms[j].name : "");
}

int
planner_evacuate(struct place_model *m, struct plan_vm *vms, size_t nvms)
{
	struct plan_vm **order = NULL;
	struct place_verdict *vd = NULL;
	size_t i, best;
	int unplaced = 0;

	if (m == NULL || (nvms && vms == NULL))
		return -1;
	for (i = 0; i < nvms; i++)
		if (vms[i].movable && vms[i].vm >= m->nvms)
			return -1;
	if ((vd = calloc(m->nhosts + 1, sizeof(*vd))) == NULL ||
	    (order = calloc(nvms + 1, sizeof(*order))) == NULL) {
		free(vd);
		return -1;
	}
	for (i = 0; i < nvms; i++)
		order[i] = &vms[i];
	qsort_r(order, nvms, sizeof(*order), planner_cmp, m);

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
		if ((best = place_evaluate(m, v->vm, vd)) == PLACE_NONE) {
			place_summary(m, vd, v->reason, sizeof(v->reason));
			unplaced++;
			continue;
		}
		v->dest = (int)best;
		place_commit(m, v->vm, best);
	}
	free(order);
	free(vd);
	return unplaced;
}
