/* cluster.h: the unit tests' cluster, shared by test_job.c, test_races.c,
 * test_hostile.c and test_limits.c: three real hostd cores (hostd.c,
 * session.c, precheck.c, migrate.c), each on a fake hypervisor
 * (fake_hv.c), and a real coordinator core with its SQLite store, all over
 * the real SSH transport on loopback in one process and one libuv loop
 * (a test may give a hostd a loop of its own).
 *
 * A test file describes what is special about its cluster in a struct
 * cluster_opts; cluster_setup() builds it and cluster_teardown() takes it
 * down and asserts that the loop closed clean (libuv's tests' rule). */
#ifndef FERRY_TEST_CLUSTER_H
#define FERRY_TEST_CLUSTER_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "coordinator.h"
#include "hostd.h"

#define CLUSTER_NHOSTS	3

struct cluster;

struct cluster_opts {
	const char	*tag;		/* names the temporary directory */
	const char	*tmpdir;	/* NULL: /tmp */
	int		 backoff_max_ms; /* 0: 200 */
	uint64_t	 capacity_mib;	/* each hostd's; 0: 4096 */
	/* Each may be NULL. coord_conf runs at every cluster_coord_start(). */
	void		(*coord_conf)(struct cluster *, struct coord_conf *);
	void		(*hostd_conf)(struct cluster *, int, struct hostd_conf *);
	uv_loop_t	*(*hostd_loop)(struct cluster *, int);
};

struct cluster {
	char			 dir[64];
	uv_loop_t		 loop;
	struct hostd		 hd[CLUSTER_NHOSTS];
	int			 hd_running[CLUSTER_NHOSTS];
	struct coord		 co;
	int			 co_running;
	int			 port[CLUSTER_NHOSTS];
	const struct cluster_opts *opts;
	void			*priv;		/* the test file's own */
};

typedef int (*cluster_pred)(struct cluster *, void *);

/* cluster.c */
const char	*cluster_host_uri(int);
void		 cluster_sh(const char *, ...)
		    __attribute__((format(printf, 1, 2)));
uint64_t	 cluster_mono_ms(void);
int		 cluster_run_until(struct cluster *, cluster_pred, void *, int);
void		 cluster_pump(struct cluster *, int);
int		 cluster_all_up(struct cluster *, void *);
struct cluster	*cluster_new(const struct cluster_opts *);
void		 cluster_hostd_start(struct cluster *, int);
void		 cluster_hostd_stop(struct cluster *, int);
void		 cluster_coord_start(struct cluster *);
void		 cluster_coord_stop(struct cluster *);
int		 cluster_free(struct cluster *);
int		 cluster_setup(void **, const struct cluster_opts *);
int		 cluster_teardown(void **);
int		 cluster_job_gone(struct cluster *, void *);
int		 cluster_job_in(struct cluster *, void *);
int		 cluster_inventory_has(struct cluster *, const char *, int);
void		 cluster_wait_seen(struct cluster *, const char *, int);
void		 cluster_wait_final(struct cluster *, int64_t, int);
void		 cluster_expect_job(struct cluster *, int64_t, const char *,
		    const char *);
int		 cluster_dom_state(const char *, const char *, int *, int *);
int		 cluster_running_on(const char *, const char *);
void		 cluster_script(int, const char *, size_t, int, const char *);

#endif
