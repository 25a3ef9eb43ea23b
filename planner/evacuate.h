/* evacuate.h: evacuation plans, pure functions over a placement model of the
 * cluster (place.h; no I/O, no clock), so they are unit tested
 * exactly. */
#ifndef FERRY_EVACUATE_H
#define FERRY_EVACUATE_H

#include <stddef.h>
#include <stdint.h>

#include "place.h"

#define PLAN_REASON_MAX	1024

struct plan_vm {
	size_t		vm;		/* into the model's VMs */
	/* Set by the caller before planning: */
	int		movable;		/* 0: blocked wherever it goes */
	char		why[256];		/* when !movable */
	/* Filled by the planner: */
	int		dest;			/* index into hosts, -1: none */
	uint32_t	order;			/* position in the migration order */
	char		reason[PLAN_REASON_MAX];	/* when dest == -1 */
};

/* evacuate.c */
/*
 * Evacuation plan: every listed VM gets a destination from the placement
 * engine's filter chain and weights (place_evaluate), with the plan's own
 * moves committed to the model as they are chosen, so memory, vCPUs, groups
 * and hints count the whole plan at once. VMs are placed largest first; the
 * engine's weight is worst fit (the most memory left), which spreads the
 * load; the migration order is the same largest first, because the longest
 * migrations should start first to shorten the whole drain (LPT
 * scheduling). A VM placed nowhere gets every host's reason. Returns the
 * number of VMs without a destination, or -1 on bad input.
 */
int	planner_evacuate(struct place_model *, struct plan_vm *vms,
	    size_t nvms);

#endif
