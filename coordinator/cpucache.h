/* cpucache.h: what virConnectCompareHypervisorCPU said, per (guest CPU,
 * host), so placement skips a host that cannot run a guest's CPU without
 * a round trip per candidate.
 *
 * Filled from what the hosts answer: a source's PRECHECK_SOURCE reply gives
 * the guest's live <cpu> (with arch, machine, virt type); a destination's
 * PRECHECK_DEST reply, or a CPU_COMPARE asked of every other active host
 * when a drain plans (cpucache_prefetch), the comparison on that host. A guest
 * CPU is keyed by a hash of those four strings. Only the host's own verdict
 * on itself is kept: a host can only exclude itself (a "yes" still gets the
 * move's own check). A host's verdicts are dropped when it reconnects or
 * its reported identity (CPUs, architecture, hostd version, host UUID, or
 * libvirt_session: hostd connected to libvirtd anew, which may run another
 * QEMU) changes. */
#ifndef FERRY_CPUCACHE_H
#define FERRY_CPUCACHE_H

#include <stddef.h>
#include <stdint.h>

#include "msg.h"

struct coord;
struct host;

/* cpucache.c */
void	 cpucache_guest(struct coord *, const char *vm,
	    const Ferry__SourceCheckReply *);
void	 cpucache_verdict(struct coord *, const char *vm, const struct host *,
	    const Ferry__DestCheckReply *);
void	 cpucache_forget_host(struct coord *, const struct host *);
/* Asks every other active host that has not answered for this guest CPU
 * (CPU_COMPARE); done(arg) runs once per call sent, when it ends. Returns
 * the number of calls sent. Call after cpucache_guest. */
int	 cpucache_prefetch(struct coord *, const struct host *src,
	    const char *vm, const Ferry__SourceCheckReply *,
	    void (*done)(void *), void *arg);
/* A host's new inventory: its verdicts go if its identity changed. */
void	 cpucache_inventory(struct coord *, const struct host *,
	    const Ferry__Inventory *old, const Ferry__Inventory *);
/* enum place_tri for vm on host index h; why (borrowed) when PLACE_NO. */
int	 cpucache_lookup(struct coord *, const char *vm, size_t h,
	    const char **why);
/* Whether vm's guest CPU is known and every other active host's verdict
 * on it is in (src: the host it runs on). */
int	 cpucache_complete(struct coord *, const char *vm, const struct host *src);
/* Whether any verdict for vm is cached (placement allocates only then). */
int	 cpucache_known(struct coord *, const char *vm);
size_t	 cpucache_size(struct coord *);
/* Every (VM, host index) a host said it cannot run, with its reason. */
void	 cpucache_blocks(struct coord *, void (*)(const char *vm, size_t host,
	    const char *why, void *), void *);
void	 cpucache_free(struct coord *);

#endif
