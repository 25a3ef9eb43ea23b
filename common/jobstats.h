/* jobstats.h: one sample of a migration job's statistics, as libvirt gives
 * it. hostd's hypervisor interface (hostd/hv.h) fills it, the convergence
 * policy (converge.h) reads it; it lives here, below both, so that common/
 * needs nothing from hostd/.
 */
#ifndef FERRY_JOBSTATS_H
#define FERRY_JOBSTATS_H

#include <stdint.h>

/* A job statistics sample (virDomainGetJobStats on the source). Sizes in
 * bytes, times in ms, as libvirt gives them. */
struct hv_job_stats {
	int		active;			/* a job is running */
	int		type;			/* virDomainJobType */
	uint64_t	time_elapsed;
	uint64_t	time_remaining;
	uint64_t	data_total, data_processed, data_remaining;
	uint64_t	memory_total, memory_processed, memory_remaining;
	uint64_t	memory_bps;
	uint64_t	memory_dirty_rate;	/* pages per second */
	uint64_t	memory_page_size;
	uint64_t	memory_iteration;
	uint64_t	downtime;		/* expected; measured in completed stats */
	int		has_downtime;		/* libvirt gave a downtime */
	uint64_t	setup_time;
	uint64_t	auto_converge_throttle;
	int		postcopy;		/* in post-copy phase */
	uint64_t	disk_total, disk_processed, disk_remaining; /* storage copy */
};

#endif
