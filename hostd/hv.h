/* hv.h: hostd's hypervisor interface.
 *
 * hostd talks to libvirt only through this table of operations, so that its
 * logic (inventory, migration driving, convergence, verification) can be unit
 * tested against a fake (tests/unit/fake_hv.c) while the lab tests the real
 * one (hv_libvirt.c) against real libvirtd and QEMU.
 *
 * Every operation may block (they are libvirt RPCs): call them from worker
 * threads only, never from the libuv loop. They are safe to call from several
 * threads at once. On failure an operation returns -1 (or a negative errno
 * where documented) and leaves a message for the calling thread in
 * hv_last_error().
 */
#ifndef FERRY_HV_H
#define FERRY_HV_H

#include <stddef.h>
#include <stdint.h>

#include "jobstats.h"

#define HV_NAME_MAX	256
#define HV_PATH_MAX	1024

struct hv_host {
	char		hostname[HV_NAME_MAX];
	char		uuid[40];		/* libvirt's host UUID */
	char		arch[32];
	uint32_t	cpus;
	uint64_t	mem_mib;
	uint64_t	mem_free_mib;
	uint64_t	libvirt_session;	/* grows on each new connection */
};

struct hv_disk {
	char		target[32];		/* vda */
	char		type[16];		/* file block network volume dir */
	char		device[16];		/* disk cdrom floppy lun */
	char		protocol[16];		/* network: nfs rbd iscsi ... */
	char		source[HV_PATH_MAX];	/* file path / network name */
	char		host[HV_NAME_MAX];	/* network: first <host name=> */
	char		format[16];		/* driver type: qcow2 raw */
	int		readonly;
	char		hosts[HV_NAME_MAX];	/* network: every <host> as
						 * "name[:port],..." */
	char		auth_user[64];		/* <auth username=> */
	char		secret_uuid[40];	/* <auth><secret uuid=> */
};

enum hv_state {
	HV_STATE_NOSTATE = 0, HV_STATE_RUNNING, HV_STATE_BLOCKED,
	HV_STATE_PAUSED, HV_STATE_SHUTDOWN, HV_STATE_SHUTOFF,
	HV_STATE_CRASHED, HV_STATE_PMSUSPENDED,
};

struct hv_domain {
	char		 name[HV_NAME_MAX];
	char		 uuid[40];
	int		 state;			/* enum hv_state (virDomainState) */
	int		 reason;		/* libvirt's state reason code */
	char		 state_str[16];		/* running paused shutoff ... */
	char		 reason_str[32];	/* e.g. migrated, migration-canceled */
	uint64_t	 mem_mib;
	uint32_t	 vcpus;
	int		 persistent;
	int		 job_active;		/* libvirt has a job on it */
	struct hv_disk	*disks;			/* owned; hv_domain_clear frees */
	size_t		 ndisks;
};

#define HV_COPY_DISKS_MAX	16

struct hv_migrate_params {
	const char	*dest_uri;		/* destination libvirtd, e.g. qemu+tcp://a/system */
	const char	*migrate_uri;		/* QEMU data, e.g. tcp://a; NULL: libvirt's default */
	uint64_t	 bandwidth_mibs;	/* 0: unlimited */
	int		 allow_postcopy;	/* adds VIR_MIGRATE_POSTCOPY */
	int		 auto_converge;
	int		 persist;		/* PERSIST_DEST|UNDEFINE_SOURCE */
	int		 postcopy_resume;	/* POSTCOPY_RESUME of a failed post-copy */
	unsigned	 parallel;		/* multifd connections; 0/1: one stream */
	int		 tls;			/* VIR_MIGRATE_TLS (QEMU's x509 PKI) */
	/* Disks (targets) copied to the destination over NBD
	 * (VIR_MIGRATE_NON_SHARED_DISK); none: shared storage only. */
	char		 copy_disks[HV_COPY_DISKS_MAX][32];
	size_t		 ncopy_disks;
};

enum hv_cpu_result {
	HV_CPU_ERROR = -1, HV_CPU_INCOMPATIBLE = 0, HV_CPU_IDENTICAL = 1,
	HV_CPU_SUPERSET = 2,
};

/* Events delivered from libvirt's event thread (any thread: the callee
 * must only hand them over, e.g. with uv_async_send). */
enum hv_event_kind {
	HV_EV_LIFECYCLE = 1,	/* detail: virDomainEventType, sub: its detail */
	HV_EV_CONN_LOST,	/* the libvirt connection closed; hv reconnects on next use */
	HV_EV_CONN_UP,		/* (re)connected */
	HV_EV_MIGRATION_ITERATION,
	HV_EV_JOB_COMPLETED,
};

struct hv;
typedef void (*hv_event_cb)(struct hv *, int kind, const char *domain,
    int detail, int sub, void *arg);

struct hv_ops {
	const char *name;
	int	(*open)(struct hv *);
	void	(*close)(struct hv *);
	int	(*host_info)(struct hv *, struct hv_host *);
	/* All domains, active or defined. *out is an array the caller frees
	 * with hv_domain_list_free. */
	int	(*list_domains)(struct hv *, struct hv_domain **out, size_t *n);
	/* -ENOENT when there is no such domain. */
	int	(*domain_info)(struct hv *, const char *name, struct hv_domain *);
	/* The running guest's live <cpu> element (malloc'd), and what its
	 * comparison on another host needs: emulator, arch, machine, virttype. */
	int	(*domain_cpu)(struct hv *, const char *name, char **cpu_xml,
		    char **emulator, char **arch, char **machine, char **virttype);
	/* virConnectCompareHypervisorCPU on this host; *reason (malloc'd)
	 * names the missing features when incompatible. */
	int	(*compare_cpu)(struct hv *, const char *cpu_xml, const char *emulator,
		    const char *arch, const char *machine, const char *virttype,
		    char **reason);
	/* The host's CPU, the <cpu> element of virConnectGetCapabilities
	 * (malloc'd), as virConnectBaselineHypervisorCPU takes it. */
	int	(*host_cpu)(struct hv *, char **cpu_xml);
	/* virConnectBaselineHypervisorCPU over n <cpu> definitions: the
	 * most a guest may ask for and still run on all (malloc'd). */
	int	(*baseline_cpu)(struct hv *, const char *const *cpus, size_t n,
		    char **out);
	/* Measure the guest's dirty rate over seconds; MiB/s. */
	int	(*dirty_rate)(struct hv *, const char *name, int seconds,
		    uint64_t *mibs);
	/* Blocks until the migration ends. 0 when libvirt says it succeeded. */
	int	(*migrate)(struct hv *, const char *name,
		    const struct hv_migrate_params *);
	int	(*job_stats)(struct hv *, const char *name, struct hv_job_stats *);
	/* The domain's last completed job (VIR_DOMAIN_JOB_STATS_COMPLETED,
	 * kept for later readers). -ENODATA: libvirt keeps none (no job
	 * succeeded since the domain object was created here). */
	int	(*job_completed)(struct hv *, const char *name,
		    struct hv_job_stats *);
	int	(*abort_job)(struct hv *, const char *name, int postcopy);
	int	(*set_max_downtime)(struct hv *, const char *name, uint64_t ms);
	int	(*set_max_speed)(struct hv *, const char *name, uint64_t mibs);
	int	(*start_postcopy)(struct hv *, const char *name);
	int	(*resume)(struct hv *, const char *name);
	/* Stop a domain (destroy) and, if it is not persistent, it is gone. */
	int	(*destroy)(struct hv *, const char *name);
	/* The value of this host's libvirt secret uuid (malloc'd, *len
	 * bytes): e.g. a Ceph key for an rbd disk. -ENOENT: no such secret
	 * here or it has no value. NULL op: the hypervisor keeps none. */
	int	(*secret_value)(struct hv *, const char *uuid,
		    unsigned char **value, size_t *len);
	/* Remove the persistent definition of an inactive domain whose UUID
	 * is uuid; checked on the same libvirt handle that undefines it.
	 * -ENOENT no such domain, -EEXIST another UUID, -EBUSY active. */
	int	(*undefine)(struct hv *, const char *name, const char *uuid);
};

struct hv {
	const struct hv_ops	*ops;
	char			 uri[HV_PATH_MAX];	/* libvirt URI to open */
	hv_event_cb		 on_event;
	void			*event_arg;
	void			*priv;			/* the implementation's */
};

/* hv.c */
struct hv *hv_new(const struct hv_ops *, const char *uri, hv_event_cb, void *arg);
void	 hv_free(struct hv *);		/* closes; NULL ok */
void	 hv_domain_clear(struct hv_domain *);
void	 hv_domain_list_free(struct hv_domain *, size_t n);
const char *hv_last_error(void);
void	 hv_set_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
const char *hv_state_name(int state);

/* hv_libvirt.c */
extern const struct hv_ops hv_libvirt_ops;

#endif
