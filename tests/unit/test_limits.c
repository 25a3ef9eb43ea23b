/* test_limits.c: peers that are merely rude. A hostd with a valid key that
 * floods the coordinator with events, and ferryctl clients that never read
 * their replies: each is cut, and every other host and client keeps
 * working. Real hostd cores (fake hypervisor) and a real coordinator core
 * over the real SSH transport on loopback, as in test_job.c; the control
 * socket is spoken to from a thread with plain blocking sockets, so its
 * latency is measured while the loop thread is busy. */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <poll.h>
#include <pthread.h>
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
#include "coordinator.h"
#include "fake_hv.h"
#include "hostd.h"
#include "log.h"

#define NHOSTS		CLUSTER_NHOSTS
#define NGUESTS		150

/* h1's hostd runs on a loop and a thread of its own (as on its own
 * machine), so it floods at full speed however busy the coordinator is. */
struct limits {
	uv_loop_t	 loop1;		/* h1; cl->loop: the coordinator, h2, h3 */
	pthread_t	 h1_thread;
	volatile int	 h1_stop;
	volatile int	 flood_rate;	/* INVENTORY events a second from h1 */
	volatile uint64_t flood_sent;	/* in all */
};
#define LIM(cl)	((struct limits *)(cl)->priv)

static void *
h1_main(void *arg)
{
	struct cluster *cl = arg;
	struct limits *lim = cl->priv;
	struct hostd *hd = &cl->hd[0];
	struct session *s;
	uint64_t t0 = 0, now, due, sent = 0;
	int k;

	while (!lim->h1_stop) {
		uv_run(&lim->loop1, UV_RUN_NOWAIT);
		now = cluster_mono_ms();
		s = TAILQ_FIRST(&hd->sessions);
		if (lim->flood_rate == 0 || s == NULL || !s->hello ||
		    hd->inv_payload == NULL) {
			t0 = 0;		/* the rate counts from a session up */
			usleep(1000);
			continue;
		}
		if (t0 == 0) {
			t0 = now;
			sent = 0;
		}
		due = (now - t0) * (uint64_t)lim->flood_rate / 1000;
		for (k = 0; sent < due && k < 100; k++, sent++) {
			hostd_send_raw(s, MSG_INVENTORY, FRAME_EVENT, FRAME_OK,
			    0, hd->inv_payload, hd->inv_len);
			lim->flood_sent++;
		}
		usleep(100);
	}
	hostd_shutdown(hd);
	for (k = 0; k < 500 && uv_run(&lim->loop1, UV_RUN_NOWAIT); k++)
		usleep(1000);
	return NULL;
}

static uv_loop_t *
limits_hostd_loop(struct cluster *cl, int i)
{
	return i == 0 ? &LIM(cl)->loop1 : &cl->loop;
}

static const struct cluster_opts limits_opts = {
	.tag = "limits",
	/* On disk, not tmpfs: the store's fsyncs cost what they cost. */
	.tmpdir = "/var/tmp",
	.backoff_max_ms = 2000,
	.capacity_mib = 65536,
	.hostd_loop = limits_hostd_loop,
};

static int
setup(void **state)
{
	struct limits *lim;
	struct cluster *cl;
	struct hv_domain d;
	int i;

	assert_non_null(lim = calloc(1, sizeof(*lim)));
	cl = cluster_new(&limits_opts);
	cl->priv = lim;
	assert_int_equal(uv_loop_init(&lim->loop1), 0);
	for (i = 0; i < NHOSTS; i++)
		cluster_hostd_start(cl, i);
	/* h1 is a busy host: 150 guests, an inventory of some 15 KB. */
	for (i = 0; i < NGUESTS; i++) {
		memset(&d, 0, sizeof(d));
		snprintf(d.name, sizeof(d.name), "guest-%03d", i);
		snprintf(d.uuid, sizeof(d.uuid),
		    "00000000-0000-4000-8000-%012d", i);
		d.state = HV_STATE_RUNNING;
		d.mem_mib = 256;
		d.vcpus = 1;
		d.persistent = 1;
		assert_int_equal(fake_hv_add_domain(cluster_host_uri(0), &d), 0);
	}
	assert_int_equal(pthread_create(&lim->h1_thread, NULL, h1_main, cl),
	    0);
	cluster_coord_start(cl);
	*state = cl;
	return 0;
}

static int
teardown(void **state)
{
	struct cluster *cl = *state;
	struct limits *lim = LIM(cl);
	int rc, rc1;

	if (cl->co_running)
		cluster_coord_stop(cl);
	lim->flood_rate = 0;
	lim->h1_stop = 1;
	pthread_join(lim->h1_thread, NULL);	/* h1's hostd is shut down */
	cl->hd_running[0] = 0;
	rc = cluster_free(cl);
	rc1 = uv_loop_close(&lim->loop1);
	free(lim);
	assert_int_equal(rc, 0);
	assert_int_equal(rc1, 0);
	return 0;
}

/* ---- a ferryctl of our own, on a thread ---- */

static int
ctl_connect(const char *path)
{
	struct sockaddr_un sun;
	int fd;

	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Reads exactly len bytes by deadline; 0, or -1 on EOF/error/timeout. */
static int
read_full(int fd, uint8_t *p, size_t len, uint64_t deadline)
{
	struct pollfd pfd = { fd, POLLIN, 0 };
	ssize_t n;
	uint64_t now;

	while (len > 0) {
		if ((now = cluster_mono_ms()) >= deadline)
			return -1;
		if (poll(&pfd, 1, (int)(deadline - now)) <= 0)
			continue;
		if ((n = read(fd, p, len)) <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int
write_full(int fd, const uint8_t *p, size_t len)
{
	ssize_t n;

	while (len > 0) {
		if ((n = write(fd, p, len)) <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* One CALL and its REPLY: the payload (malloc'd) or NULL. */
static uint8_t *
ctl_call(int fd, uint16_t type, const ProtobufCMessage *m, uint32_t serial,
    size_t *plen, int timeout_ms)
{
	uint8_t hb[FRAME_HDR_LEN], *buf, *payload;
	struct frame_hdr h;
	size_t len;
	uint64_t deadline = cluster_mono_ms() + (uint64_t)timeout_ms;

	if (frame_pack(type, FRAME_CALL, FRAME_OK, serial, m, &buf, &len) < 0)
		return NULL;
	if (write_full(fd, buf, len) < 0) {
		free(buf);
		return NULL;
	}
	free(buf);
	for (;;) {
		if (read_full(fd, hb, sizeof(hb), deadline) < 0 ||
		    frame_hdr_decode(hb, &h, FRAME_MAX_PAYLOAD) < 0)
			return NULL;
		if ((payload = malloc(h.len ? h.len : 1)) == NULL ||
		    read_full(fd, payload, h.len, deadline) < 0) {
			free(payload);
			return NULL;
		}
		if (h.kind == FRAME_REPLY && h.serial == serial &&
		    h.status == FRAME_OK) {
			*plen = h.len;
			return payload;
		}
		free(payload);
	}
}

/* Asks `hosts` every 100 ms until told to stop; keeps the worst latency
 * and what it learnt of h1. */
struct prober {
	const char	*socket;
	volatile int	 stop;
	int		 calls, failed;
	uint64_t	 worst_ms;
	int		 saw_flood;	/* h1 down, last_error says flooding */
	char		 h1_error[256];
};

static void *
prober_main(void *arg)
{
	struct prober *p = arg;
	Ferry__HostsRequest rq = FERRY__HOSTS_REQUEST__INIT;
	Ferry__HostsReply *r;
	uint8_t *payload;
	size_t len, i;
	uint64_t t0, dt;
	uint32_t serial = 0;
	int fd;

	while (!p->stop) {
		t0 = cluster_mono_ms();
		payload = NULL;
		if ((fd = ctl_connect(p->socket)) != -1) {
			payload = ctl_call(fd, MSG_CTL_HOSTS, &rq.base,
			    ++serial, &len, 10000);
			close(fd);
		}
		dt = cluster_mono_ms() - t0;
		p->calls++;
		if (dt > p->worst_ms)
			p->worst_ms = dt;
		if (payload == NULL ||
		    (r = ferry__hosts_reply__unpack(NULL, len, payload)) ==
		    NULL) {
			p->failed++;
			free(payload);
			continue;
		}
		for (i = 0; i < r->n_hosts; i++)
			if (strcmp(r->hosts[i]->name, "h1") == 0 &&
			    strcmp(r->hosts[i]->state, "down") == 0 &&
			    r->hosts[i]->last_error != NULL &&
			    strstr(r->hosts[i]->last_error, "flood")) {
				p->saw_flood = 1;
				snprintf(p->h1_error, sizeof(p->h1_error),
				    "%s", r->hosts[i]->last_error);
			}
		ferry__hosts_reply__free_unpacked(r, NULL);
		free(payload);
		poll(NULL, 0, 100);
	}
	return NULL;
}

/* ---- tests ---- */

/*
 * Finding 4: a host with a valid key sending 5,000 INVENTORY events a
 * second made `ferryctl hosts` take 13-46 s and flapped the honest hosts.
 * Now the coordinator cuts that host (and backs its connection off),
 * records why, and meanwhile every control request is answered within a
 * second and the other hosts never go down.
 */
static void
test_flooding_host(void **state)
{
	struct cluster *cl = *state;
	struct host *h1 = &cl->co.hosts[0];
	struct prober pr;
	pthread_t th;
	uint64_t t0;
	int honest_down = 0, cut = 0, k;

	memset(&pr, 0, sizeof(pr));
	pr.socket = cl->co.conf.socket;
	assert_int_equal(pthread_create(&th, NULL, prober_main, &pr), 0);
	LIM(cl)->flood_rate = 5000;
	t0 = cluster_mono_ms();
	while (cluster_mono_ms() - t0 < 5000) {
		uv_run(&cl->loop, UV_RUN_NOWAIT);
		if (!cl->co.hosts[1].up || !cl->co.hosts[2].up)
			honest_down = 1;
		if (!h1->up && strstr(h1->last_error, "flood") != NULL)
			cut = 1;
		usleep(200);
	}
	LIM(cl)->flood_rate = 0;
	pr.stop = 1;
	/* The loop must keep running while the prober finishes its call. */
	for (k = 0; k < 12000 && pr.stop != 2; k++) {
		uv_run(&cl->loop, UV_RUN_NOWAIT);
		usleep(1000);
		if (pthread_tryjoin_np(th, NULL) == 0)
			pr.stop = 2;
	}
	assert_int_equal(pr.stop, 2);
	print_message("flood: %llu events sent, %d hosts calls, worst %llu ms, "
	    "h1: %s\n", (unsigned long long)LIM(cl)->flood_sent, pr.calls,
	    (unsigned long long)pr.worst_ms, pr.h1_error);
	assert_int_equal(honest_down, 0);
	assert_int_equal(pr.failed, 0);
	assert_true(pr.calls >= 10);
	assert_true(pr.worst_ms < 1000);
	assert_true(cut);
	assert_true(pr.saw_flood);
	assert_non_null(strstr(pr.h1_error, "flooding"));
}

/* The stored inventory's write time for h1 (0: none stored). */
static uint64_t
stored_at(struct cluster *cl, size_t *n)
{
	struct store_vm *v = NULL;
	uint64_t at = 0;

	*n = 0;
	assert_int_equal(store_vms_list(cl->co.store, "h1", &v, n), 0);
	if (*n > 0)
		at = v[0].updated_ms;
	store_vm_list_free(v, *n);
	return at;
}

/*
 * Inventories within the rate limit: the in-memory picture takes each
 * one, the store gets the latest at most once a second (it had two
 * fsynced writes per event), and it is complete when the host goes down.
 */
static void
test_inventory_writes_coalesced(void **state)
{
	struct cluster *cl = *state;
	struct host *h1 = &cl->co.hosts[0];
	uint64_t t0, at, seen[64];
	size_t n, nseen = 0, i;
	int k;

	LIM(cl)->flood_rate = 100;
	t0 = cluster_mono_ms();
	while (cluster_mono_ms() - t0 < 3000) {
		uv_run(&cl->loop, UV_RUN_NOWAIT);
		assert_true(h1->up);
		at = stored_at(cl, &n);
		assert_int_equal(n, NGUESTS);
		for (i = 0; i < nseen && seen[i] != at; i++)
			;
		if (i == nseen && nseen < 64)
			seen[nseen++] = at;
		usleep(20000);
	}
	LIM(cl)->flood_rate = 0;
	print_message("inventory: %llu events, %zu writes seen\n",
	    (unsigned long long)LIM(cl)->flood_sent, nseen);
	assert_true(LIM(cl)->flood_sent >= 250);
	assert_true(h1->inv != NULL && h1->inv->n_domains == NGUESTS);
	/* The first write at hello, then one a second: 3 or 4, not 300. */
	assert_true(nseen >= 3 && nseen <= 5);
	/* Down: the last one is in the store at once, not when due. */
	LIM(cl)->flood_rate = 100;
	for (k = 0; k < 5000 && !h1->inv_dirty; k++)
		uv_run(&cl->loop, UV_RUN_NOWAIT), usleep(1000);
	assert_true(h1->inv_dirty);
	LIM(cl)->flood_rate = 0;
	tr_conn_kick(h1->conn, "test");
	while (h1->up)
		uv_run(&cl->loop, UV_RUN_NOWAIT), usleep(1000);
	assert_false(h1->inv_dirty);
	(void)stored_at(cl, &n);
	assert_int_equal(n, NGUESTS);
}

/* Heartbeats from the coordinator to h2 at a rate; for ms. */
static void
coordinator_floods(struct cluster *cl, int rate, int ms, int *down)
{
	Ferry__Heartbeat hb = FERRY__HEARTBEAT__INIT;
	struct host *h2 = &cl->co.hosts[1];
	uint64_t t0 = cluster_mono_ms(), sent = 0, due;
	uint8_t *buf;
	size_t len;

	*down = 0;
	while (cluster_mono_ms() - t0 < (uint64_t)ms) {
		due = (cluster_mono_ms() - t0) * (uint64_t)rate / 1000;
		for (; sent < due; sent++) {
			hb.seq = sent;
			assert_int_equal(frame_pack(MSG_HEARTBEAT, FRAME_EVENT,
			    FRAME_OK, 0, &hb.base, &buf, &len), 0);
			(void)tr_conn_send(h2->conn, buf, len);
		}
		uv_run(&cl->loop, UV_RUN_NOWAIT);
		if (!h2->up)
			*down = 1;
		usleep(500);
	}
}

/* hostd's side: a coordinator session within max_frame_rate (2,000 a
 * second, bursts of 4,000) stays; one far over it is cut. */
static void
test_hostd_cuts_flooding_coordinator(void **state)
{
	struct cluster *cl = *state;
	int down;

	coordinator_floods(cl, 1000, 2000, &down);
	assert_int_equal(down, 0);
	coordinator_floods(cl, 20000, 2000, &down);
	assert_int_equal(down, 1);
	assert_true(cl->co.hosts[0].up && cl->co.hosts[2].up);
}

/* A ferryctl that asks `vms` 400 times a second (under the request rate
 * limit) and never reads a reply. */
struct rude {
	const char	*socket;
	uint64_t	 watch;		/* a job to watch first, or 0 */
	int		 sent;
	int		 cut;		/* the coordinator closed it */
	uint64_t	 cut_ms;	/* after how long */
};

static void *
rude_main(void *arg)
{
	struct rude *r = arg;
	Ferry__VmsRequest rq = FERRY__VMS_REQUEST__INIT;
	uint64_t t0 = cluster_mono_ms();
	uint8_t *buf;
	size_t len;
	int fd;

	if ((fd = ctl_connect(r->socket)) == -1)
		return NULL;
	if (r->watch) {
		Ferry__JobRequest jr = FERRY__JOB_REQUEST__INIT;

		jr.id = r->watch;
		if (frame_pack(MSG_CTL_WATCH, FRAME_CALL, FRAME_OK, 1,
		    &jr.base, &buf, &len) < 0 || write_full(fd, buf, len) < 0) {
			close(fd);
			return NULL;
		}
		free(buf);
	}
	while (cluster_mono_ms() - t0 < 15000) {
		if (frame_pack(MSG_CTL_VMS, FRAME_CALL, FRAME_OK,
		    (uint32_t)++r->sent, &rq.base, &buf, &len) < 0)
			break;
		if (send(fd, buf, len, MSG_NOSIGNAL) != (ssize_t)len) {
			free(buf);
			r->cut = 1;
			r->cut_ms = cluster_mono_ms() - t0;
			break;
		}
		free(buf);
		usleep(2500);
	}
	close(fd);
	return NULL;
}

static long
rss_kib(void)
{
	long pages = 0, rss = 0;
	FILE *fp;

	if ((fp = fopen("/proc/self/statm", "r")) == NULL)
		return -1;
	if (fscanf(fp, "%ld %ld", &pages, &rss) != 2)
		rss = -1;
	fclose(fp);
	return rss * (sysconf(_SC_PAGESIZE) / 1024);
}

/*
 * Finding 8: clients that never read grew the coordinator from 48 to
 * 172 MB in 20 s. A client's unsent replies are bounded; past the bound
 * it is dropped (and logged), and other clients are served meanwhile.
 */
static void
test_control_client_never_reads(void **state)
{
	struct cluster *cl = *state;
	struct rude r;
	struct prober pr;
	pthread_t th, tp;
	long rss0, rss, rss_max = 0;
	size_t q, q_max = 0;
	int k;

	memset(&r, 0, sizeof(r));
	memset(&pr, 0, sizeof(pr));
	r.socket = pr.socket = cl->co.conf.socket;
	rss0 = rss_kib();
	assert_int_equal(pthread_create(&th, NULL, rude_main, &r), 0);
	assert_int_equal(pthread_create(&tp, NULL, prober_main, &pr), 0);
	for (k = 0; k < 20000; k++) {
		uv_run(&cl->loop, UV_RUN_NOWAIT);
		usleep(1000);
		if ((rss = rss_kib()) > rss_max)
			rss_max = rss;
		if ((q = control_queued(&cl->co)) > q_max)
			q_max = q;
		if (pthread_tryjoin_np(th, NULL) == 0)
			break;
	}
	assert_true(k < 20000);
	pr.stop = 1;
	for (k = 0; k < 12000 && pr.stop != 2; k++) {
		uv_run(&cl->loop, UV_RUN_NOWAIT);
		usleep(1000);
		if (pthread_tryjoin_np(tp, NULL) == 0)
			pr.stop = 2;
	}
	assert_int_equal(pr.stop, 2);
	print_message("rude client: %d requests, cut %d after %llu ms; rss "
	    "%ld -> max %ld KiB; at most %zu bytes queued; hosts calls %d, "
	    "worst %llu ms\n", r.sent, r.cut, (unsigned long long)r.cut_ms,
	    rss0, rss_max, q_max, pr.calls, (unsigned long long)pr.worst_ms);
	assert_true(r.cut);
	/* The bound (8 MiB) plus one reply, never more. */
	assert_true(q_max > 4 * 1024 * 1024);
	assert_true(q_max <= 8 * 1024 * 1024 + 64 * 1024);
	assert_int_equal(control_queued(&cl->co), 0);
	assert_true(r.cut_ms < 10000);
#ifndef __SANITIZE_ADDRESS__	/* ASan's quarantine keeps freed memory */
	assert_true(rss_max - rss0 < 48 * 1024);
#endif
	assert_int_equal(pr.failed, 0);
	assert_true(pr.worst_ms < 1000);
}

/* A 20-sample (10 s) pre-copy of vm from h1, data remaining falling. */
static void
script(const char *vm)
{
	struct hv_job_stats st[20];
	size_t i, n = 20;
	uint64_t mib = 1024 * 1024;

	memset(st, 0, sizeof(st));
	for (i = 0; i < n; i++) {
		st[i].active = 1;
		st[i].time_elapsed = 500 * (i + 1);
		st[i].data_total = 256 * mib;
		st[i].data_processed = 256 * mib * (i + 1) / n;
		st[i].data_remaining = st[i].data_total - st[i].data_processed;
		st[i].memory_total = st[i].data_total;
		st[i].memory_processed = st[i].data_processed;
		st[i].memory_remaining = st[i].data_remaining;
		st[i].memory_bps = 50 * mib;
		st[i].memory_iteration = 1;
		st[i].memory_page_size = 4096;
		st[i].downtime = 40;
	}
	assert_int_equal(fake_hv_script_migration(cluster_host_uri(0), vm, st, n, 0,
	    NULL), 0);
}

/* The same for a client watching a migration's events (ferryctl watch)
 * that never reads: dropped while the job keeps emitting to its watchers,
 * which then go on without it; the job ends as it would have. */
static void
test_watcher_never_reads(void **state)
{
	struct cluster *cl = *state;
	Ferry__MigrateOptions o = FERRY__MIGRATE_OPTIONS__INIT;
	struct store_job sj;
	struct job *j;
	struct rude r;
	pthread_t th;
	char err[512];
	int64_t id;
	int k;

	script("guest-007");
	o.vm = "guest-007";
	o.to = "h2";
	if (job_migrate(&cl->co, &o, 0, NULL, &j, err, sizeof(err)) < 0)
		fail_msg("job_migrate: %s", err);
	id = j->id;
	job_run(j);
	for (k = 0; k < 20000 && job_find(&cl->co, id) != NULL &&
	    job_find(&cl->co, id)->state != JOB_MIGRATING; k++)
		uv_run(&cl->loop, UV_RUN_NOWAIT), usleep(1000);
	assert_non_null(job_find(&cl->co, id));
	assert_int_equal(job_find(&cl->co, id)->state, JOB_MIGRATING);
	memset(&r, 0, sizeof(r));
	r.socket = cl->co.conf.socket;
	r.watch = (uint64_t)id;
	assert_int_equal(pthread_create(&th, NULL, rude_main, &r), 0);
	for (k = 0; k < 20000; k++) {
		uv_run(&cl->loop, UV_RUN_NOWAIT);
		usleep(1000);
		if (pthread_tryjoin_np(th, NULL) == 0)
			break;
	}
	assert_true(k < 20000);
	assert_true(r.cut);
	assert_non_null(job_find(&cl->co, id));	/* still migrating */
	for (k = 0; k < 30000 && job_find(&cl->co, id) != NULL; k++)
		uv_run(&cl->loop, UV_RUN_NOWAIT), usleep(1000);
	assert_null(job_find(&cl->co, id));
	memset(&sj, 0, sizeof(sj));
	assert_int_equal(store_job_get(cl->co.store, id, &sj), 1);
	assert_string_equal(sj.state, "succeeded");
	store_job_clear(&sj);
	assert_int_equal(control_queued(&cl->co), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_flooding_host, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_inventory_writes_coalesced,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_hostd_cuts_flooding_coordinator, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_control_client_never_reads, setup, teardown),
		cmocka_unit_test_setup_teardown(test_watcher_never_reads,
		    setup, teardown),
	};

	log_init("test_limits", 0);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
