/* fake_hv.h: a scriptable hypervisor (struct hv_ops) for unit tests.
 *
 * Fake hosts are named by URI. hv_new(&fake_hv_ops, "fake://a", cb, arg)
 * and open bind that hv to the fake host "fake://a"; every fake_hv_* call
 * below creates the host it names if it does not exist yet, so a test can
 * set a host up before or after opening it. All state is process-wide
 * behind one mutex: the ops may be called from any thread. Call
 * fake_hv_reset() in each test's setup (never with a migrate in flight).
 *
 * Behaviour, modelled on libvirt 9.0 with QEMU:
 * - open emits HV_EV_CONN_UP (as hv_libvirt does); close emits nothing.
 * - Ops on a missing domain return -ENOENT with "no domain NAME".
 * - domain_cpu and dirty_rate need a running or paused domain.
 * - migrate: with no script it succeeds at once. With a script
 *   (fake_hv_script_migration) it blocks until job_stats has returned
 *   every sample, or abort_job is called, or 10 s pass (then it fails:
 *   a test forgot to poll). Then:
 *     success: the domain moves to the fake host whose URI is
 *       params->dest_uri, if one exists (RUNNING/MIGRATED there, persistent
 *       when params->persist); on the source it is removed (persist, or
 *       transient) or left SHUTOFF/MIGRATED. Events: source LIFECYCLE
 *       STOPPED/MIGRATED and JOB_COMPLETED, destination LIFECYCLE
 *       RESUMED/MIGRATED.
 *     failure (scripted) or abort: returns -1 with the scripted message
 *       (abort: "operation aborted: migration out: canceled by client"),
 *       the source is RUNNING/MIGRATION_CANCELED; if start_postcopy was
 *       called before a scripted failure the source is
 *       PAUSED/POSTCOPY_FAILED and the destination (if it exists) gets the
 *       domain RUNNING/POSTCOPY_FAILED, as real post-copy failures leave it.
 *   The script is consumed by the migration.
 * - job_stats during a scripted migration returns the next sample (the
 *   last one again once exhausted) with active=1; postcopy is set once
 *   start_postcopy succeeded. Outside a migration: active=0, zeros.
 * - job_completed: what libvirt keeps of the last successful migration,
 *   on the destination's new domain object (the source's is removed with
 *   it, as with PERSIST_DEST|UNDEFINE_SOURCE): the stats scripted with
 *   fake_hv_script_completed, else -ENODATA (libvirt keeps none). Reading
 *   does not consume them (KEEP_COMPLETED). A failed migration leaves none.
 * - abort_job and start_postcopy fail ("no job is active") when no
 *   migration runs; start_postcopy also needs params->allow_postcopy.
 * - destroy: SHUTOFF/DESTROYED when persistent, removed when transient;
 *   event LIFECYCLE STOPPED/DESTROYED. resume: PAUSED -> RUNNING/UNPAUSED,
 *   event LIFECYCLE RESUMED/UNPAUSED.
 * - Events are delivered synchronously, from the calling thread, to every
 *   hv open on the host, outside the fake's lock.
 * - Defaults: host info {hostname from the URI, arch x86_64, 4 cpus,
 *   8192 MiB, 4096 free, a UUID derived from the URI}; compare_cpu
 *   IDENTICAL; a domain's cpu: qemu64 on /usr/bin/qemu-system-x86_64,
 *   x86_64, pc-i440fx-7.2, qemu; dirty rate 0.
 */
#ifndef FERRY_FAKE_HV_H
#define FERRY_FAKE_HV_H

#include <stddef.h>
#include <stdint.h>

#include "hv.h"

extern const struct hv_ops fake_hv_ops;

enum fake_hv_op {
	FAKE_OP_OPEN, FAKE_OP_CLOSE, FAKE_OP_HOST_INFO, FAKE_OP_LIST_DOMAINS,
	FAKE_OP_DOMAIN_INFO, FAKE_OP_DOMAIN_CPU, FAKE_OP_COMPARE_CPU,
	FAKE_OP_DIRTY_RATE, FAKE_OP_MIGRATE, FAKE_OP_JOB_STATS,
	FAKE_OP_ABORT_JOB, FAKE_OP_SET_MAX_DOWNTIME, FAKE_OP_SET_MAX_SPEED,
	FAKE_OP_START_POSTCOPY, FAKE_OP_RESUME, FAKE_OP_DESTROY,
	FAKE_OP_HOST_CPU, FAKE_OP_BASELINE, FAKE_OP_JOB_COMPLETED,
	FAKE_OP_UNDEFINE,
	FAKE_OP_COUNT
};

/* What the last migrate call on a host was asked (strings copied). */
struct fake_hv_migrate_rec {
	char		name[HV_NAME_MAX];
	char		dest_uri[HV_PATH_MAX];
	char		migrate_uri[HV_PATH_MAX];	/* "" when NULL */
	uint64_t	bandwidth_mibs;
	int		allow_postcopy;
	int		auto_converge;
	int		persist;
	int		postcopy_resume;
	unsigned	parallel;
	int		tls;
};

/* What the tuning ops did to a domain. */
struct fake_hv_tuning {
	uint64_t	max_downtime_ms;	/* 0: never set */
	uint64_t	max_speed_mibs;		/* 0: never set */
	int		postcopy_started;	/* during the current/last migration */
	int		aborted;		/* abort_job hit a migration */
	int		migrating;		/* a migrate call is blocked */
};

/* Drop every fake host, domain, script, failure and counter. */
void	 fake_hv_reset(void);

void	 fake_hv_set_host(const char *uri, const struct hv_host *);
/* The host's one libvirt secret (value copied; at most 64 bytes). */
void	 fake_hv_set_secret(const char *uri, const char *uuid,
	    const void *value, size_t len);

/* Copies d, disks included; replaces a domain of the same name. */
int	 fake_hv_add_domain(const char *uri, const struct hv_domain *d);
/* A running domain with the given disks (copied), 1 vcpu, 256 MiB. */
int	 fake_hv_add_running(const char *uri, const char *name,
	    const struct hv_disk *disks, size_t ndisks);
int	 fake_hv_remove_domain(const char *uri, const char *name);
int	 fake_hv_has_domain(const char *uri, const char *name);
/* libvirt has a migration job on the domain now (its migrate call runs). */
int	 fake_hv_migrating(const char *uri, const char *name);
/* A copy of the domain (free with hv_domain_clear); -ENOENT if absent. */
int	 fake_hv_get_domain(const char *uri, const char *name,
	    struct hv_domain *out);
int	 fake_hv_set_state(const char *uri, const char *name, int state,
	    int reason);
/* NULL keeps that field's current value. */
int	 fake_hv_set_cpu(const char *uri, const char *name,
	    const char *cpu_xml, const char *emulator, const char *arch,
	    const char *machine, const char *virttype);
int	 fake_hv_set_dirty_rate(const char *uri, const char *name,
	    uint64_t mibs);
/* The host CPU this host reports (host_cpu): a model and its features;
 * default qemu64 with no features. baseline_cpu answers the first CPU's
 * model with the features every given CPU names. */
void	 fake_hv_set_host_cpu(const char *uri, const char *model,
	    const char *const *features, size_t n);

/* What compare_cpu on this host answers; reason is for INCOMPATIBLE. */
void	 fake_hv_set_compare(const char *uri, int result, const char *reason);

/* The next `times` calls of op fail: they return rc (-1 or a negative
 * errno; compare_cpu always HV_CPU_ERROR) with msg in hv_last_error().
 * times 0 clears it. */
void	 fake_hv_fail(const char *uri, enum fake_hv_op op, int times, int rc,
	    const char *msg);

/* The completed-job statistics the next successful migration of name
 * leaves on the destination (measured downtime, data, time). */
int	 fake_hv_script_completed(const char *uri, const char *name,
	    const struct hv_job_stats *completed);

/* Script the next migration of domain name: samples (copied) are what
 * successive job_stats calls return; rc 0 succeeds, else migrate returns
 * rc with msg. */
int	 fake_hv_script_migration(const char *uri, const char *name,
	    const struct hv_job_stats *samples, size_t n, int rc,
	    const char *msg);

/* Every later call of op on the host takes ms longer (a slow libvirtd or
 * NFS server), without holding up other calls; 0 ends the delay, also for
 * calls already waiting. Never fake_hv_reset with a delayed call waiting. */
void	 fake_hv_delay(const char *uri, enum fake_hv_op op, int ms);
/* Ends every delay on every host (a test's teardown). */
void	 fake_hv_delay_none(void);
/* Calls of op waiting out their delay now. */
unsigned fake_hv_delayed(const char *uri, enum fake_hv_op op);
/* After the next scripted migration of name fails, leave the source in
 * state/reason instead of RUNNING/MIGRATION_CANCELED (e.g. PAUSED/MIGRATION:
 * a failed confirm phase). */
int	 fake_hv_script_after(const char *uri, const char *name, int state,
	    int reason);

unsigned fake_hv_calls(const char *uri, enum fake_hv_op op);
int	 fake_hv_last_migrate(const char *uri, struct fake_hv_migrate_rec *);
/* The emulator the last compare_cpu on uri was given ("" for NULL);
 * -ENOENT when compare_cpu was never called there. */
int	 fake_hv_last_compare(const char *uri, char *emulator, size_t len);
int	 fake_hv_get_tuning(const char *uri, const char *name,
	    struct fake_hv_tuning *);

/* Deliver an event to every hv open on the host; returns how many. */
int	 fake_hv_emit(const char *uri, int kind, const char *domain,
	    int detail, int sub);

#endif
