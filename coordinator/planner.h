/* planner.h: placement plans, pure functions over a model of the cluster
 * (no I/O, no clock), so they are unit tested exactly. */
#ifndef FERRY_PLANNER_H
#define FERRY_PLANNER_H

#include <stddef.h>
#include <stdint.h>

#define PLAN_NAME_MAX	256
#define PLAN_REASON_MAX	256

struct plan_host {
	char		name[64];
	int		usable;		/* up and active: may receive VMs */
	uint64_t	mem_mib;	/* capacity */
	uint64_t	reserve_mib;
	uint64_t	used_mib;	/* guests' memory already there */
	uint32_t	cpus;
	uint32_t	vcpus_used;
};

struct plan_vm {
	char		name[PLAN_NAME_MAX];
	uint64_t	mem_mib;
	uint32_t	vcpus;
	/* Set by the caller before planning: */
	int		movable;		/* 0: blocked wherever it goes */
	char		why[PLAN_REASON_MAX];	/* when !movable */
	/* Optional per-destination veto (e.g. a failed CPU check), indexed
	 * like the hosts array; NULL: every usable host is allowed. */
	const int	*allowed;
	/* Filled by the planner: */
	int		dest;			/* index into hosts, -1: none */
	uint32_t	order;			/* position in the migration order */
	char		reason[PLAN_REASON_MAX];	/* when dest == -1 */
};

/* planner.c */
/*
 * Evacuation plan: every VM of the host being drained gets a destination
 * among the usable hosts (never the source, index src), with memory counted
 * for the whole plan at once: a destination's free memory (mem - reserve -
 * used) decreases with every VM planned onto it. VMs are placed largest
 * first onto the destination with the most free memory left that fits
 * (worst fit spreads the load); the migration order is the same largest
 * first, because the longest migrations should start first to shorten the
 * whole drain (LPT scheduling). Returns the number of VMs without a
 * destination (each with a reason), or -1 on bad input.
 */
int	planner_evacuate(const struct plan_host *hosts, size_t nhosts,
	    size_t src, struct plan_vm *vms, size_t nvms);

#endif
