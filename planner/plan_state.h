/* plan_state.h: the rebalancing planner's working state, shared by its
 * files (model.c, balance.c, consolidate.c) and by nothing else. */
#ifndef FERRY_PLAN_STATE_H
#define FERRY_PLAN_STATE_H

#include <stddef.h>
#include <stdint.h>

#include "balance.h"

/* Gains below this are rounding, not improvement. */
#define BALANCE_EPS	1e-12

#define BALANCE_END	SIZE_MAX

/* VMs that move together: one VM, or the members of affinity groups joined
 * by common members. */
struct balance_unit {
	size_t		first, n;	/* into state->members */
	size_t		host;
	uint64_t	mem_mib;
	uint64_t	vcpus;
	int		movable;
};

/* Usable hosts of one size: for a given unit the score after a move to any
 * of them is the same function of their utilisation. */
struct balance_class {
	uint64_t	 mem_mib;
	uint32_t	 cpus;
	size_t		*hosts;		/* by memory utilisation */
	double		*minc;		/* least vCPU ratio from i on */
	size_t		 n;
};

struct balance_state {
	const struct balance_model	*m;
	const struct balance_opts	*o;
	struct balance_plan		*plan;
	size_t				 moves_cap;
	uint64_t			*gmem, *gvcpu;	/* guests' per host */
	double				*x, *c;		/* utilisation, ratio */
	size_t				 nusable, occupied;
	size_t				*vhost;
	size_t				*head, *next, *prev;	/* VMs per host */
	struct balance_unit		*units;
	size_t				 nunits;
	size_t				*members, *unit_of;
	struct balance_class		*classes;
	size_t				 nclasses;
};

/* model.c */
/* Room for one more element of size sz in *arr. */
int	balance_grow(void **arr, size_t *cap, size_t n, size_t sz);

/* balance.c */
/* May the whole of unit u move to host d now? ceiling < 0: none. */
int	balance_feasible(const struct balance_state *,
	    const struct balance_unit *u, size_t d, double ceiling);
/* Moves every member of u to d, recording each move in the plan. */
int	balance_move_unit(struct balance_state *, const struct balance_unit *u,
	    size_t d);
void	balance_move_vm(struct balance_state *, size_t v, size_t to);

/* consolidate.c */
/* Consolidate: empty hosts whole, the least loaded first (best fit). */
int	balance_run_consolidate(struct balance_state *);

#endif
