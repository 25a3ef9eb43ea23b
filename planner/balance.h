/* balance.h: policy-driven rebalancing. A cluster model (hosts, VMs, groups,
 * allowed destinations), read from or written as snapshot JSON, and a planner
 * that proposes the ordered live migrations bringing it back into balance
 * (policy "balance") or packing it onto fewer hosts ("consolidate"). Pure:
 * no I/O except balance_read of a snapshot file. The model is model.c, the
 * planner balance.c and consolidate.c, the snapshot JSON snapshot.c.
 *
 * Snapshot JSON:
 *   {"hosts":[{"name":"n1","mem_mib":262144,"reserved_mib":4096,"cpus":64,
 *              "state":"up"}],
 *    "vms":[{"name":"v1","host":"n1","mem_mib":2048,"vcpus":2,
 *            "pinned":false,"groups":["anti:web"],"allowed":["n1","n2"]}]}
 * Defaults: reserved_mib 0, state "up", vcpus 1, pinned false, groups [],
 * allowed absent (every host). Only hosts whose state is "up" are usable.
 *
 * Policy consolidate empties hosts, the one with the least guest memory
 * first, placing its VMs (largest first) on the fullest other occupied
 * host that stays within util_ceiling; a host that cannot be emptied whole
 * is left as it is.
 *
 * Affinity groups: members that share a host move together, as a unit: the
 * planner proposes the unit's moves back to back to one destination (one per
 * member, each counted against max_moves, capacity checked after each). A
 * group whose members are already split, or with a pinned member, or on a
 * host that is not up, does not move at all. Groups joined by a common member
 * form one unit. */
#ifndef FERRY_BALANCE_H
#define FERRY_BALANCE_H

#include <stddef.h>
#include <stdint.h>

enum balance_group_kind {
	BALANCE_ANTI = 0,	/* members never share a host */
	BALANCE_AFFINITY,	/* members share one host */
};

struct balance_group {
	char			*name;
	enum balance_group_kind	 kind;
};

struct balance_host {
	char		*name;
	char		*state;		/* as read; NULL: "up" or "down" */
	int		 usable;	/* up: may be a source or destination */
	uint64_t	 mem_mib;
	uint64_t	 reserved_mib;	/* the host's own use */
	uint32_t	 cpus;
	char		*zone;		/* NULL: none */
	char		**labels;
	size_t		 nlabels;
};

struct balance_vm {
	char		*name;
	size_t		 host;
	uint64_t	 mem_mib;
	uint32_t	 vcpus;
	int		 pinned;
	size_t		*groups;	/* indices into model->groups */
	size_t		 ngroups;
	uint8_t		*allowed;	/* NULL: any host; else one byte a host */
	size_t		 nallowed;	/* hosts the mask covers; others: no */
	char		*zone;		/* required zone; NULL: the policy's */
	char		**requires;	/* labels a destination must carry */
	size_t		 nrequires;
};

struct balance_model {
	struct balance_host	*hosts;
	size_t			 nhosts, hosts_cap;
	struct balance_vm	*vms;
	size_t			 nvms, vms_cap;
	struct balance_group	*groups;
	size_t			 ngroups, groups_cap;
	int			 zone_stay;	/* VMs stay in their host's zone */
};

enum balance_policy {
	BALANCE_POLICY_BALANCE = 0,
	BALANCE_POLICY_CONSOLIDATE,
};

/* What a balance step maximises: its gain in score per migration (moves),
 * or per GiB of guest memory it moves (memory, the default): a live
 * migration's time and risk grow with the memory it copies, so of two
 * steps that help, the one moving less memory for its gain goes first. */
enum balance_objective {
	BALANCE_OBJ_MEMORY = 0,
	BALANCE_OBJ_MOVES,
};

/* Stopping rules (balance): no more than max_moves migrations; each step
 * must gain at least min_gain per migration it takes (an affinity unit of
 * k VMs: its gain / k); a score at or below threshold counts as balanced,
 * so planning stops there (and proposes nothing if it starts there).
 * Consolidate stops at max_moves or when no further host can be emptied
 * whole; it ignores min_gain and threshold. */
struct balance_opts {
	enum balance_policy	policy;
	size_t			max_moves;	/* 0: no limit */
	double			min_gain;
	double			threshold;
	double			vcpu_ratio_max;	/* vCPUs per CPU on a destination */
	double			util_ceiling;	/* consolidate: memory utilisation */
	enum balance_objective	objective;	/* balance: how steps are ranked */
};

struct balance_move {
	size_t		vm;
	size_t		from, to;
	uint64_t	mem_mib;
	double		score_after;
};

struct balance_plan {
	enum balance_policy	 policy;
	enum balance_objective	 objective;
	double			 score_before, score_after;
	struct balance_move	*moves;
	size_t			 nmoves;
	uint64_t		 memory_moved_mib;	/* sum over the moves */
};

/* model.c */
/* Building a model: add_* return the new index, or -1 (out of memory, or a
 * duplicate name for hosts and VMs). */
struct balance_model *balance_model_new(void);
void	 balance_model_free(struct balance_model *);
long	 balance_add_host(struct balance_model *, const char *name,
	    uint64_t mem_mib, uint64_t reserved_mib, uint32_t cpus, int usable);
int	 balance_host_state(struct balance_model *, size_t host,
	    const char *state);
long	 balance_add_vm(struct balance_model *, const char *name, size_t host,
	    uint64_t mem_mib, uint32_t vcpus, int pinned);
int	 balance_vm_group(struct balance_model *, size_t vm,
	    enum balance_group_kind, const char *group);
/* Allowed destinations: restrict makes the set empty (the VM may go
 * nowhere), allow adds a host; the first allow restricts too. */
int	 balance_vm_restrict(struct balance_model *, size_t vm);
int	 balance_vm_allow(struct balance_model *, size_t vm, size_t host);
/* Placement attributes (copied): a host's zone (NULL: none) and a label;
 * a VM's required zone and a required label. */
int	 balance_host_zone(struct balance_model *, size_t host, const char *);
int	 balance_host_label(struct balance_model *, size_t host, const char *);
int	 balance_vm_zone(struct balance_model *, size_t vm, const char *);
int	 balance_vm_requires(struct balance_model *, size_t vm, const char *);
long	 balance_find_host(const struct balance_model *, const char *name);
long	 balance_find_vm(const struct balance_model *, const char *name);
const char *balance_policy_name(enum balance_policy);
const char *balance_objective_name(enum balance_objective);
int	 balance_objective_parse(const char *, enum balance_objective *);
int	 balance_policy_parse(const char *, enum balance_policy *);
void	 balance_opts_defaults(struct balance_opts *);

/* balance.c (consolidate.c for policy consolidate) */
int	 balance_plan(const struct balance_model *, const struct balance_opts *,
	    struct balance_plan **, char *err, size_t errlen);
void	 balance_plan_free(struct balance_plan *);
/* The policy's score of the model as it stands: balance, the population
 * standard deviation over usable hosts of memory utilisation plus that of
 * the vCPU/CPU ratio; consolidate, the number of usable hosts with VMs
 * plus the spread of guest memory over them, 1 - sum(share^2), in [0, 1). */
double	 balance_score(const struct balance_model *, enum balance_policy);
/* Moves the plan's VMs in the model, in order. */
int	 balance_apply(struct balance_model *, const struct balance_plan *);

/* snapshot.c: snapshot JSON. err gets a message naming what is wrong. */
int	 balance_parse(const char *text, size_t len, struct balance_model **,
	    char *err, size_t errlen);
int	 balance_read(const char *path, struct balance_model **, char *err,
	    size_t errlen);
char	*balance_write(const struct balance_model *);	/* malloc'd */
/* A plan as ferryctl plan --json prints it: malloc'd one-line JSON. */
char	*balance_plan_json(const struct balance_model *,
	    const struct balance_plan *, double elapsed_ms);

#endif
