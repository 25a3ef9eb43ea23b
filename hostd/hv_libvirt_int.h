/* hv_libvirt_int.h: what the files of the libvirt hypervisor share (the
 * interface itself is hv.h; the parsers tested alone are in hv_libvirt.h).
 * hv_libvirt.c holds the connection, its events, the call helpers, the
 * domain listing and the ops table; hv_libvirt_xml.c the XML and reason
 * parsers; hv_libvirt_cpu.c the CPU model ops; hv_libvirt_migrate.c the
 * migration, its statistics and the per-domain calls that steer it.
 */
#ifndef FERRY_HV_LIBVIRT_INT_H
#define FERRY_HV_LIBVIRT_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <libvirt/libvirt.h>
#include <libxml/xpath.h>

#include "hv.h"

/* What the event callbacks see. Refcounted: libvirt may hold it (and call
 * its free function) after close; the hv owns one reference and each
 * registered domain event callback another. close sets closed and waits
 * for callbacks in flight, after which hv may be freed. */
struct hvl_cb {
	pthread_mutex_t	 mtx;
	pthread_cond_t	 cond;
	int		 refs;
	int		 closed;
	int		 inflight;
	atomic_int	 lost;		/* the connection was closed */
	struct hv	*hv;
};

enum { HVL_EV_LIFECYCLE, HVL_EV_ITERATION, HVL_EV_COMPLETED, HVL_NEV };

struct hvl {
	pthread_mutex_t	 mtx;		/* conn, ev_ids, close_cb */
	virConnectPtr	 conn;
	int		 ev_ids[HVL_NEV];
	int		 close_cb;	/* the close callback is registered */
	struct hvl_cb	*cb;
	uint64_t	 sessions;	/* connections opened: after a new one
					 * libvirtd may run another QEMU */
};

/* A call on one domain: both references are dropped by hvl_end. */
struct hvl_call {
	virConnectPtr	 conn;
	virDomainPtr	 dom;
};

/* hv_libvirt.c */
const char *hvl_errmsg(void);
virConnectPtr hvl_conn(struct hv *hv);
int	 hvl_begin(struct hv *hv, const char *name, const char *what,
    struct hvl_call *c);
int	 hvl_fail(const char *what, const char *name);
void	 hvl_end(struct hvl_call *c);

/* hv_libvirt_xml.c */
void	 hvl_xml_ready(void);
char *hvl_xpath_str(xmlXPathContextPtr ctx, const char *expr);

/* hv_libvirt_cpu.c */
int	 hvl_domain_cpu(struct hv *hv, const char *name, char **cpu_xml,
    char **emulator, char **arch, char **machine, char **virttype);
int	 hvl_compare_cpu(struct hv *hv, const char *cpu_xml,
    const char *emulator,
    const char *arch, const char *machine, const char *virttype,
    char **reason);
int	 hvl_host_cpu(struct hv *hv, char **cpu_xml);
int	 hvl_baseline_cpu(struct hv *hv, const char *const *cpus, size_t n,
    char **out);

/* hv_libvirt_migrate.c */
int	 hvl_dirty_rate(struct hv *hv, const char *name, int seconds,
    uint64_t *mibs);
int	 hvl_migrate(struct hv *hv, const char *name,
    const struct hv_migrate_params *mp);
int	 hvl_job_stats(struct hv *hv, const char *name, struct hv_job_stats *s);
int	 hvl_job_completed(struct hv *hv, const char *name,
    struct hv_job_stats *s);
int	 hvl_abort_job(struct hv *hv, const char *name, int postcopy);
int	 hvl_set_max_downtime(struct hv *hv, const char *name, uint64_t ms);
int	 hvl_set_max_speed(struct hv *hv, const char *name, uint64_t mibs);
int	 hvl_start_postcopy(struct hv *hv, const char *name);
int	 hvl_resume(struct hv *hv, const char *name);
int	 hvl_destroy(struct hv *hv, const char *name);
int	 hvl_undefine(struct hv *hv, const char *name, const char *uuid);

#endif
