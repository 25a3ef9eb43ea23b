/* place.h: the placement engine every caller uses (migrate without --to,
 * drains, maintenance exit --restore, rebalance plans): a chain of filters,
 * then a weight, over a model of the cluster. Pure: no I/O, no clock, so the
 * coordinator, the balance planner and ferryctl plan (offline) share it and
 * it is unit tested exactly.
 *
 * Filters, in order (the first that rejects a host names it):
 *   usable    the host is up and active (not down, draining, maintenance)
 *   source    the VM is already there
 *   memory    memory after the reserve, counting moves on their way
 *   vcpu      the vCPU overcommit ceiling
 *   cpu       the guest CPU runs there (from the coordinator's cache)
 *   zone      the VM's zone, or with zone_stay its current host's zone
 *   labels    every label the VM requires is on the host
 *   group     hard anti-affinity / affinity groups
 *   hint      same-host / different-host hints
 *   storage   the VM's shared storage is seen there
 * Soft groups never reject: an accepted host that breaks one loses weight
 * (PLACE_SOFT_PENALTY) and its verdict says which group.
 *
 * Weight of an accepted host: the fraction of its memory still free after
 * the VM lands (worst fit spreads the load), minus the soft penalties.
 *
 * Ownership: the model borrows every string and array it points at; the
 * caller keeps them alive while the model is used. */
#ifndef FERRY_PLACE_H
#define FERRY_PLACE_H

#include <stddef.h>
#include <stdint.h>

#define PLACE_REASON_MAX	200
#define PLACE_SOFT_PENALTY	1.0
#define PLACE_NONE		((size_t)-1)

enum place_tri {
	PLACE_UNKNOWN = -1,	/* not known yet: the move's own check decides */
	PLACE_NO = 0,
	PLACE_YES = 1,
};

struct place_host {
	const char	 *name;
	const char	 *state;	/* "up" usable; else why not ("down",
					 * "draining", "maintenance") */
	uint64_t	  mem_mib, reserve_mib;
	uint64_t	  used_mib;	/* guests there plus moves on their way */
	uint32_t	  cpus;
	uint32_t	  vcpus_used;
	const char	 *zone;		/* NULL or "": none */
	const char *const *labels;
	size_t		  nlabels;
};

struct place_group {
	const char	*name;
	int		 anti;		/* 1 anti-affinity, 0 affinity */
	int		 hard;		/* 0: soft, a preference */
	const size_t	*members;	/* into model->vms; NULL: scan them all */
	size_t		 nmembers;
};

/* Per-host verdicts supplied by the caller for what the model cannot know by
 * itself; NULL arrays: unknown everywhere (accepted). */
struct place_vm {
	const char	 *name;
	size_t		  host;		/* where it runs (PLACE_NONE: nowhere) */
	uint64_t	  mem_mib;
	uint32_t	  vcpus;
	const char	 *zone;		/* required zone; NULL: the policy's */
	const char *const *requires_labels;
	size_t		  nrequires;
	const size_t	 *groups;	/* into model->groups */
	size_t		  ngroups;
	const size_t	 *same_host;	/* VMs (into model->vms) to join */
	size_t		  nsame;
	const size_t	 *different_host;	/* VMs to avoid */
	size_t		  ndifferent;
	const signed char *cpu;		/* per host: enum place_tri */
	const char *const *cpu_why;	/* per host, when cpu[h] == NO */
	const signed char *storage;	/* per host: enum place_tri */
	const char *const *storage_why;
};

struct place_model {
	struct place_host	*hosts;
	size_t			 nhosts;
	struct place_vm		*vms;
	size_t			 nvms;
	struct place_group	*groups;
	size_t			 ngroups;
	double			 vcpu_ratio_max;	/* 0: no ceiling */
	int			 zone_stay;	/* VMs stay in their host's zone */
};

struct place_verdict {
	int		ok;
	const char	*filter;	/* the rejecting filter, or NULL */
	char		reason[PLACE_REASON_MAX];	/* "h4: zone b, ..." */
	double		weight;		/* when ok */
};

/* place.c */
/* Every host's verdict for VM vm; out has model->nhosts entries. Returns
 * the best host (highest weight, ties to the lower index) or PLACE_NONE. */
size_t	 place_evaluate(const struct place_model *, size_t vm,
	    struct place_verdict *out);
/* One host's verdict. */
void	 place_host_verdict(const struct place_model *, size_t vm, size_t host,
	    struct place_verdict *);
/* Records that vm moves to host (its memory and vCPUs leave its host and
 * arrive there), so later placements in one plan count it. */
void	 place_commit(struct place_model *, size_t vm, size_t host);
/* A one-line summary for a VM that fits nowhere: every host's reason,
 * "; "-joined, into buf. */
void	 place_summary(const struct place_model *, const struct place_verdict *,
	    char *buf, size_t len);
/* The model-only rules, shared with the balance planner. Each returns 1
 * when the host passes, else 0 with a reason (without the host's name). */
int	 place_zone_ok(const char *vm_zone, const char *cur_zone, int stay,
	    const char *host_zone, char *why, size_t len);
int	 place_labels_ok(const char *const *need, size_t nneed,
	    const char *const *have, size_t nhave, char *why, size_t len);
/* "a,b,c" -> the names that a label list or zone accepts: a label is
 * [A-Za-z0-9_.:=-]{1,63}. */
int	 place_label_valid(const char *);

#endif
