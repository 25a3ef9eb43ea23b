/* cluster.c: the unit tests' cluster of real hostd and coordinator cores on
 * fake hypervisors (cluster.h). */
#include <sys/socket.h>

#include <netinet/in.h>

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "cluster.h"
#include "fake_hv.h"

const char *
cluster_host_uri(int i)
{
	static const char *uris[CLUSTER_NHOSTS] = { "qemu+tcp://h1/system",
	    "qemu+tcp://h2/system", "qemu+tcp://h3/system" };

	return uris[i];
}

void
cluster_sh(const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	assert_int_equal(system(cmd), 0);
}

uint64_t
cluster_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Runs the loop until pred holds or ms pass; returns pred's last value. */
int
cluster_run_until(struct cluster *cl, cluster_pred pred, void *arg, int ms)
{
	uint64_t end = cluster_mono_ms() + ms;

	while (!pred(cl, arg) && cluster_mono_ms() < end)
		uv_run(&cl->loop, UV_RUN_NOWAIT), usleep(2000);
	return pred(cl, arg);
}

/* Runs the loop for ms, whatever happens. */
void
cluster_pump(struct cluster *cl, int ms)
{
	uint64_t end = cluster_mono_ms() + ms;

	while (cluster_mono_ms() < end)
		uv_run(&cl->loop, UV_RUN_NOWAIT), usleep(2000);
}

/* The sessions of the hostds that run are up (a test may have stopped
 * one). */
int
cluster_all_up(struct cluster *cl, void *arg)
{
	size_t i;

	(void)arg;
	for (i = 0; i < cl->co.nhosts && i < CLUSTER_NHOSTS; i++)
		if (cl->hd_running[i] && !cl->co.hosts[i].up)
			return 0;
	return 1;
}

/* Ports the kernel has just handed out on 127.0.0.1 and freed again:
 * unlike ports derived from the pid, they never collide with another test
 * process's listeners (several suites run at once). */
static void
free_ports(int *port, int n)
{
	struct sockaddr_in sin;
	socklen_t len;
	int fd[CLUSTER_NHOSTS], i;

	assert_true(n <= CLUSTER_NHOSTS);
	for (i = 0; i < n; i++) {
		assert_true((fd[i] = socket(AF_INET, SOCK_STREAM, 0)) >= 0);
		memset(&sin, 0, sizeof(sin));
		sin.sin_family = AF_INET;
		sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		assert_int_equal(bind(fd[i], (struct sockaddr *)&sin,
		    sizeof(sin)), 0);
		len = sizeof(sin);
		assert_int_equal(getsockname(fd[i], (struct sockaddr *)&sin,
		    &len), 0);
		port[i] = ntohs(sin.sin_port);
	}
	for (i = 0; i < n; i++)
		close(fd[i]);
}

/* A directory with the coordinator's key, the hosts' keys and the
 * known_hosts that names them; no daemon yet. */
/* An edge the job machine's table does not have fails the test. */
static void
cluster_illegal_edge(const struct job *j, enum job_event ev)
{
	fail_msg("job %lld: illegal transition %s --%s-->", (long long)j->id,
	    job_state_name(j->state), job_event_name(ev));
}

/* Nor may the drain machine's. */
static void
cluster_drain_illegal(int64_t id, const char *state, const char *event)
{
	fail_msg("run %lld: illegal transition %s --%s-->", (long long)id,
	    state, event);
}

struct cluster *
cluster_new(const struct cluster_opts *opts)
{
	struct cluster *cl;
	int i;

	job_illegal_hook = cluster_illegal_edge;
	drain_illegal_hook = cluster_drain_illegal;
	job_journal_fail = 0;
	assert_non_null(cl = calloc(1, sizeof(*cl)));
	cl->opts = opts;
	snprintf(cl->dir, sizeof(cl->dir), "%s/ferry-test-%s.XXXXXX",
	    opts->tmpdir ? opts->tmpdir : "/tmp", opts->tag);
	assert_non_null(mkdtemp(cl->dir));
	fake_hv_reset();
	cluster_sh("ssh-keygen -q -t ed25519 -N '' -f %s/id", cl->dir);
	cluster_sh("cp %s/id.pub %s/authorized_keys", cl->dir, cl->dir);
	cluster_sh(": > %s/known_hosts", cl->dir);
	free_ports(cl->port, CLUSTER_NHOSTS);
	assert_int_equal(uv_loop_init(&cl->loop), 0);
	for (i = 0; i < CLUSTER_NHOSTS; i++) {
		cluster_sh("ssh-keygen -q -t ed25519 -N '' -f %s/hk%d", cl->dir,
		    i);
		cluster_sh("echo \"[127.0.0.1]:%d $(cut -d' ' -f1,2 "
		    "%s/hk%d.pub)\" >> %s/known_hosts", cl->port[i], cl->dir, i,
		    cl->dir);
	}
	return cl;
}

void
cluster_hostd_start(struct cluster *cl, int i)
{
	const struct cluster_opts *o = cl->opts;
	struct hostd_conf hc;
	uv_loop_t *loop;
	char err[512];

	parse_hostd_defaults(&hc);
	snprintf(hc.listen, sizeof(hc.listen), "127.0.0.1");
	hc.port = cl->port[i];
	snprintf(hc.host_key, sizeof(hc.host_key), "%s/hk%d", cl->dir, i);
	snprintf(hc.authorized_keys, sizeof(hc.authorized_keys),
	    "%s/authorized_keys", cl->dir);
	snprintf(hc.libvirt_uri, sizeof(hc.libvirt_uri), "%s",
	    cluster_host_uri(i));
	/* The fake moves a domain to the host named by dest_uri. */
	snprintf(hc.advertise_uri, sizeof(hc.advertise_uri), "%s",
	    cluster_host_uri(i));
	snprintf(hc.migration_address, sizeof(hc.migration_address),
	    "127.0.0.1");
	hc.memory_reserve_mib = 512;
	snprintf(hc.state_dir, sizeof(hc.state_dir), "%s/state%d", cl->dir, i);
	hc.capacity_mib = o->capacity_mib ? o->capacity_mib : 4096;
	if (o->hostd_conf)
		o->hostd_conf(cl, i, &hc);
	loop = o->hostd_loop ? o->hostd_loop(cl, i) : &cl->loop;
	if (hostd_init(&cl->hd[i], loop, &hc, &fake_hv_ops, err,
	    sizeof(err)) < 0)
		fail_msg("hostd_init: %s", err);
	cl->hd_running[i] = 1;
}

/* Host i's hostd goes away; hostd_free, then cluster_hostd_start, brings
 * it back. */
void
cluster_hostd_stop(struct cluster *cl, int i)
{
	hostd_shutdown(&cl->hd[i]);
	cl->hd_running[i] = 0;
}

void
cluster_coord_start(struct cluster *cl)
{
	const struct cluster_opts *o = cl->opts;
	struct coord_conf cc;
	char err[512];
	int i;

	parse_coord_defaults(&cc);
	snprintf(cc.name, sizeof(cc.name), "test");
	snprintf(cc.database, sizeof(cc.database), "%s/ferry.db", cl->dir);
	snprintf(cc.socket, sizeof(cc.socket), "%s/ferry.sock", cl->dir);
	snprintf(cc.identity, sizeof(cc.identity), "%s/id", cl->dir);
	snprintf(cc.known_hosts, sizeof(cc.known_hosts), "%s/known_hosts",
	    cl->dir);
	cc.backoff_min_ms = 50;
	cc.backoff_max_ms = o->backoff_max_ms ? o->backoff_max_ms : 200;
	assert_non_null(cc.hosts = calloc(CLUSTER_NHOSTS, sizeof(*cc.hosts)));
	cc.nhosts = CLUSTER_NHOSTS;
	for (i = 0; i < CLUSTER_NHOSTS; i++) {
		snprintf(cc.hosts[i].name, sizeof(cc.hosts[i].name), "h%d",
		    i + 1);
		snprintf(cc.hosts[i].address, sizeof(cc.hosts[i].address),
		    "127.0.0.1");
		cc.hosts[i].port = cl->port[i];
	}
	if (o->coord_conf)
		o->coord_conf(cl, &cc);
	if (coord_init(&cl->co, &cl->loop, &cc, err, sizeof(err)) < 0)
		fail_msg("coord_init: %s", err);
	cl->co_running = 1;
	assert_true(cluster_run_until(cl, cluster_all_up, NULL, 30000));
}

void
cluster_coord_stop(struct cluster *cl)
{
	coord_shutdown(&cl->co);
	/* Let the transport's deferred closes run. */
	for (int k = 0; k < 200; k++)
		uv_run(&cl->loop, UV_RUN_NOWAIT), usleep(1000);
	coord_free(&cl->co);
	cl->co_running = 0;
}

/* Stops what runs on cl->loop and frees it all; a hostd on a loop of the
 * test's own must have been shut down by the test (hd_running 0 then, but
 * still freed here). Returns uv_loop_close()'s result. */
int
cluster_free(struct cluster *cl)
{
	int i, rc;

	if (cl == NULL)
		return 0;
	fake_hv_delay_none();	/* a failed test may have left some */
	if (cl->co_running)
		cluster_coord_stop(cl);
	for (i = 0; i < CLUSTER_NHOSTS; i++)
		if (cl->hd_running[i])
			hostd_shutdown(&cl->hd[i]);
	for (int k = 0; k < 500 && uv_run(&cl->loop, UV_RUN_NOWAIT); k++)
		usleep(1000);
	for (i = 0; i < CLUSTER_NHOSTS; i++)
		hostd_free(&cl->hd[i]);
	rc = uv_loop_close(&cl->loop);
	cluster_sh("rm -rf %s", cl->dir);
	free(cl);
	return rc;
}

int
cluster_setup(void **state, const struct cluster_opts *opts)
{
	struct cluster *cl;
	int i;

	cl = cluster_new(opts);
	for (i = 0; i < CLUSTER_NHOSTS; i++)
		cluster_hostd_start(cl, i);
	cluster_coord_start(cl);
	*state = cl;
	return 0;
}

int
cluster_teardown(void **state)
{
	/* libuv tests' rule: the loop closes clean. */
	assert_int_equal(cluster_free(*state), 0);
	return 0;
}

int
cluster_job_gone(struct cluster *cl, void *arg)
{
	return job_find(&cl->co, *(int64_t *)arg) == NULL;
}

/* arg: { job id, enum job_state } */
int
cluster_job_in(struct cluster *cl, void *arg)
{
	int64_t *a = arg;
	struct job *j = job_find(&cl->co, a[0]);

	return j != NULL && (int64_t)j->state == a[1];
}

/* The coordinator has an inventory listing vm on host i. */
int
cluster_inventory_has(struct cluster *cl, const char *vm, int i)
{
	const Ferry__Inventory *inv = cl->co.hosts[i].inv;
	size_t k;

	if (inv == NULL)
		return 0;
	for (k = 0; k < inv->n_domains; k++)
		if (strcmp(inv->domains[k]->name, vm) == 0)
			return 1;
	return 0;
}

struct seen {
	const char	*vm;
	int		 host;
};

static int
seen_on(struct cluster *cl, void *arg)
{
	struct seen *s = arg;

	return cluster_inventory_has(cl, s->vm, s->host);
}

/* The coordinator's picture lists vm on host i (hostd's slow poll is not
 * waited for; under load it is given time). */
void
cluster_wait_seen(struct cluster *cl, const char *vm, int i)
{
	struct seen s = { vm, i };

	hostd_inventory_refresh(&cl->hd[i]);
	if (!cluster_run_until(cl, seen_on, &s, 20000))
		fail_msg("h%d's inventory never showed %s", i + 1, vm);
}

void
cluster_wait_final(struct cluster *cl, int64_t id, int ms)
{
	if (!cluster_run_until(cl, cluster_job_gone, &id, ms))
		fail_msg("job %lld not final after %d ms", (long long)id, ms);
}

/* The job's final state and error, from the journal. */
void
cluster_expect_job(struct cluster *cl, int64_t id, const char *state,
    const char *errpart)
{
	struct store_job sj;

	memset(&sj, 0, sizeof(sj));
	assert_int_equal(store_job_get(cl->co.store, id, &sj), 1);
	if (strcmp(sj.state, state) != 0)
		fail_msg("job %lld is %s (%s), expected %s", (long long)id,
		    sj.state, sj.error ? sj.error : "", state);
	if (errpart && (sj.error == NULL || strstr(sj.error, errpart) == NULL))
		fail_msg("job %lld error '%s' lacks '%s'", (long long)id,
		    sj.error ? sj.error : "(none)", errpart);
	assert_true(sj.ended_ms >= sj.started_ms);
	store_job_clear(&sj);
}

/* The fake hypervisor's state and reason of vm on uri; -1: no such domain. */
int
cluster_dom_state(const char *uri, const char *vm, int *state, int *reason)
{
	struct hv_domain d;

	memset(&d, 0, sizeof(d));
	if (fake_hv_get_domain(uri, vm, &d) < 0)
		return -1;
	*state = d.state;
	*reason = d.reason;
	hv_domain_clear(&d);
	return 0;
}

int
cluster_running_on(const char *uri, const char *vm)
{
	int st, r;

	return cluster_dom_state(uri, vm, &st, &r) == 0 &&
	    st == HV_STATE_RUNNING;
}

/* Scripts n samples of a 256 MiB pre-copy of vm from host `from`, data
 * remaining falling to 0, then the migration's return rc (and msg). */
void
cluster_script(int from, const char *vm, size_t n, int rc, const char *msg)
{
	struct hv_job_stats s[64];
	const uint64_t mib = 1024ULL * 1024;
	size_t i;

	assert_true(n <= 64);
	memset(s, 0, sizeof(s));
	for (i = 0; i < n; i++) {
		s[i].active = 1;
		s[i].time_elapsed = 500 * (i + 1);
		s[i].data_total = 256 * mib;
		s[i].data_processed = 256 * mib * (i + 1) / n;
		s[i].data_remaining = s[i].data_total - s[i].data_processed;
		s[i].memory_total = s[i].data_total;
		s[i].memory_processed = s[i].data_processed;
		s[i].memory_remaining = s[i].data_remaining;
		s[i].memory_bps = 50 * mib;
		s[i].memory_iteration = 1;
		s[i].memory_page_size = 4096;
		s[i].downtime = 40;
	}
	assert_int_equal(fake_hv_script_migration(cluster_host_uri(from), vm, s,
	    n, rc, msg), 0);
}
