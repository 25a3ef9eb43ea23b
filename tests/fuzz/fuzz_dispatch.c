/* fuzz_dispatch.c: every message handler of both daemons, in one process.
 *
 * Two real hostd cores on fake hypervisors (tests/unit/fake_hv.c) and a
 * real coordinator core (SQLite store in a temp dir) whose peers reach the
 * hostds over the loopback transport (fake_tr.c), as in test_job.c.
 * Each input is a list of records
 *
 *   sel:1 type:1 len:2 (little-endian) payload:len
 *
 * sel bits 0-1: where the frame goes: 0 a fresh hostd session (through
 * session_on_frame), 1 the coordinator's api_dispatch for a real ferryctl
 * client (accepted on the control socket), 2 the coordinator as if sent by
 * hostd h1 (peer.c: replies and events), 3 the control socket's bytes
 * (control.c's reader); bits 2-3 the kind; bit 4 an ERROR status; bits
 * 5-7 the serial (for 2: counting back from h1's last call). The loop runs
 * until the work each record queued is done. The whole cluster is built
 * again every FUZZ_RESET inputs (default 200; 1 to reproduce exactly).
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "coordinator.h"
#include "fake_hv.h"
#include "fake_tr.h"
#include "hostd.h"
#include "log.h"

#define NHOSTS		2
#define SETTLE_MS	8000

int	LLVMFuzzerInitialize(int *, char ***);
int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static struct {
	int		 up;
	char		 dir[64];
	uv_loop_t	 loop;
	struct hostd	 hd[NHOSTS];
	struct coord	 co;
	unsigned	 inputs;
} F;

static unsigned fuzz_reset = 200;

static uint64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Never let a fuzzed NFS server or address reach the network. */
int
connect(int fd, const struct sockaddr *sa, socklen_t len)
{
	extern int __connect(int, const struct sockaddr *, socklen_t);

	if (sa != NULL && sa->sa_family != AF_UNIX) {
		errno = ECONNREFUSED;
		return -1;
	}
	return __connect(fd, sa, len);
}

static void
die(const char *what)
{
	fprintf(stderr, "fuzz_dispatch: %s\n", what);
	abort();
}

/* Calls hostd's own worker classes still hold (not libuv requests). */
static int
hostd_work_left(void)
{
	int i, k, n = 0;

	for (i = 0; i < NHOSTS; i++)
		for (k = 0; k < HOSTD_NWQ; k++)
			n += workq_pending(&F.hd[i].wq[k]);
	return n;
}

/* Runs the loop until no queued work, write or delivery is left. */
static void
settle(void)
{
	uint64_t end = mono_ms() + SETTLE_MS;
	int spins = 0;

	for (;;) {
		uv_run(&F.loop, UV_RUN_NOWAIT);
		if (F.loop.active_reqs.count == 0 && !fake_tr_busy() &&
		    hostd_work_left() == 0) {
			if (++spins >= 2)
				return;
			continue;
		}
		spins = 0;
		if (mono_ms() > end)
			die("the loop does not settle (hang)");
		usleep(50);
	}
}

static void
drain_fd(int fd)
{
	char buf[65536];

	while (read(fd, buf, sizeof(buf)) > 0)
		;
}

static int
rm_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void
add_vms(void)
{
	struct hv_disk disk;
	struct hv_domain d;

	memset(&disk, 0, sizeof(disk));
	snprintf(disk.target, sizeof(disk.target), "vda");
	snprintf(disk.type, sizeof(disk.type), "file");
	snprintf(disk.device, sizeof(disk.device), "disk");
	snprintf(disk.format, sizeof(disk.format), "qcow2");
	snprintf(disk.source, sizeof(disk.source), "%s/vm1.qcow2", F.dir);
	if (fake_hv_add_running("fake://h1", "vm1", &disk, 1) < 0 ||
	    fake_hv_add_running("fake://h1", "vm2", NULL, 0) < 0 ||
	    fake_hv_add_running("fake://h2", "vm4", NULL, 0) < 0)
		die("fake_hv_add_running");
	memset(&d, 0, sizeof(d));
	snprintf(d.name, sizeof(d.name), "vm3");
	snprintf(d.uuid, sizeof(d.uuid), "00000000-0000-0000-0000-00000000f003");
	d.state = HV_STATE_SHUTOFF;
	d.mem_mib = 512;
	d.vcpus = 1;
	d.persistent = 1;
	if (fake_hv_add_domain("fake://h1", &d) < 0)
		die("fake_hv_add_domain");
}

static int
all_up(void)
{
	size_t i;

	for (i = 0; i < F.co.nhosts; i++)
		if (!F.co.hosts[i].up)
			return 0;
	return 1;
}

static void
cluster_start(void)
{
	struct hostd_conf hc;
	struct coord_conf cc;
	char err[512];
	const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
	uint64_t end;
	int i, fd;

	memset(&F, 0, sizeof(F));
	snprintf(F.dir, sizeof(F.dir), "%s/ferry-fuzz.XXXXXX", base);
	if (mkdtemp(F.dir) == NULL)
		die("mkdtemp");
	snprintf(err, sizeof(err), "%s/vm1.qcow2", F.dir);
	if ((fd = open(err, O_CREAT | O_WRONLY, 0600)) >= 0)
		close(fd);
	fake_hv_reset();
	add_vms();
	if (uv_loop_init(&F.loop) != 0)
		die("uv_loop_init");
	for (i = 0; i < NHOSTS; i++) {
		parse_hostd_defaults(&hc);
		snprintf(hc.listen, sizeof(hc.listen), "127.0.0.1");
		hc.port = i + 1;
		snprintf(hc.libvirt_uri, sizeof(hc.libvirt_uri), "fake://h%d",
		    i + 1);
		snprintf(hc.advertise_uri, sizeof(hc.advertise_uri),
		    "fake://h%d", i + 1);
		snprintf(hc.migration_address, sizeof(hc.migration_address),
		    "127.0.0.1");
		hc.memory_reserve_mib = 512;
		hc.capacity_mib = 4096;
		if (hostd_init(&F.hd[i], &F.loop, &hc, &fake_hv_ops, err,
		    sizeof(err)) < 0)
			die(err);
	}
	parse_coord_defaults(&cc);
	snprintf(cc.name, sizeof(cc.name), "fuzz");
	snprintf(cc.database, sizeof(cc.database), "%s/ferry.db", F.dir);
	snprintf(cc.socket, sizeof(cc.socket), "%s/ferry.sock", F.dir);
	snprintf(cc.identity, sizeof(cc.identity), "%s/id", F.dir);
	snprintf(cc.known_hosts, sizeof(cc.known_hosts), "%s/kh", F.dir);
	cc.backoff_min_ms = 20;
	cc.backoff_max_ms = 100;
	cc.call_timeout_ms = 2000;
	if ((cc.hosts = calloc(NHOSTS, sizeof(*cc.hosts))) == NULL)
		die("calloc");
	cc.nhosts = NHOSTS;
	for (i = 0; i < NHOSTS; i++) {
		snprintf(cc.hosts[i].name, sizeof(cc.hosts[i].name), "h%d",
		    i + 1);
		snprintf(cc.hosts[i].address, sizeof(cc.hosts[i].address),
		    "127.0.0.1");
		cc.hosts[i].port = i + 1;
	}
	if (coord_init(&F.co, &F.loop, &cc, err, sizeof(err)) < 0)
		die(err);
	end = mono_ms() + 5000;
	while (!all_up()) {
		if (mono_ms() > end)
			die("the hosts do not come up");
		uv_run(&F.loop, UV_RUN_NOWAIT);
		usleep(100);
	}
	settle();
	F.up = 1;
}

static void
cluster_stop(void)
{
	uint64_t end;
	int i;

	coord_shutdown(&F.co);
	for (i = 0; i < NHOSTS; i++)
		hostd_shutdown(&F.hd[i]);
	end = mono_ms() + SETTLE_MS;
	while (uv_run(&F.loop, UV_RUN_NOWAIT) != 0) {
		if (mono_ms() > end)
			die("the loop does not end after shutdown");
		usleep(100);
	}
	coord_free(&F.co);
	for (i = 0; i < NHOSTS; i++)
		hostd_free(&F.hd[i]);
	if (uv_loop_close(&F.loop) != 0)
		die("uv_loop_close: handles left open");
	nftw(F.dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
	F.up = 0;
}

static void
at_exit(void)
{
	if (F.up)
		cluster_stop();
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *s;

	(void)argc;
	(void)argv;
	if ((s = getenv("FUZZ_RESET")) != NULL && atoi(s) > 0)
		fuzz_reset = atoi(s);
	log_init("fuzz", getenv("FUZZ_VERBOSE") != NULL);
	atexit(at_exit);
	return 0;
}

/* A ferryctl connection, accepted by control.c; returns our end. */
static int
ctl_connect(struct ctl_client **cp)
{
	struct sockaddr_un sun;
	struct ctl_client *last = TAILQ_LAST(&F.co.clients, ctl_client_list);
	uint64_t end = mono_ms() + SETTLE_MS;
	int fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", F.co.conf.socket);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0)) == -1)
		die("socket");
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1)
		die("connect to the control socket");
	while (TAILQ_LAST(&F.co.clients, ctl_client_list) == last) {
		if (mono_ms() > end)
			die("the control socket does not accept");
		uv_run(&F.loop, UV_RUN_NOWAIT);
	}
	*cp = TAILQ_LAST(&F.co.clients, ctl_client_list);
	return fd;
}

static void
write_all(int fd, const uint8_t *p, size_t len)
{
	ssize_t n;

	while (len > 0) {
		if ((n = write(fd, p, len)) > 0) {
			p += n;
			len -= n;
			continue;
		}
		if (n == -1 && errno != EAGAIN && errno != EINTR)
			return;		/* the coordinator dropped us */
		uv_run(&F.loop, UV_RUN_NOWAIT);
		drain_fd(fd);
	}
}

/* The ctl client still open (a failed write closes it)? It is the only
 * one: the previous input's went when its socket closed. */
static int
ctl_alive(struct ctl_client *c)
{
	return !TAILQ_EMPTY(&F.co.clients) &&
	    TAILQ_LAST(&F.co.clients, ctl_client_list) == c;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint16_t kinds[4] = { FRAME_CALL, FRAME_REPLY, FRAME_EVENT,
	    FRAME_CALL };
	struct ctl_client *cc;
	struct tr_conn *hc;
	struct host *h1;
	struct frame f;
	uint8_t *buf;
	size_t len, plen;
	uint16_t type, kind, status;
	uint32_t serial;
	char err[512];
	int fd, target, sel;

	if (!F.up)
		cluster_start();
	if ((hc = fake_tr_accept(F.hd[0].server)) == NULL)
		die("fake_tr_accept");
	fd = ctl_connect(&cc);
	while (size >= 4) {
		sel = data[0];
		plen = (size_t)data[2] | (size_t)data[3] << 8;
		target = sel & 3;
		kind = kinds[(sel >> 2) & 3];
		status = (sel >> 4) & 1;
		serial = sel >> 5;
		type = data[1] % 16;
		if (target == 1 || target == 3)
			type = 99 + data[1] % 15;
		data += 4;
		size -= 4;
		if (plen > size)
			plen = size;
		h1 = &F.co.hosts[0];
		if (target == 2)
			serial = h1->next_serial - serial;
		if (frame_pack_raw(type, kind, status, serial, data, plen, &buf,
		    &len) < 0)
			die("frame_pack_raw");
		switch (target) {
		case 0:
			(void)fake_tr_inject(hc, buf, len);
			break;
		case 1:
			/* What control_read_cb does with a frame. */
			if (!ctl_alive(cc) || kind != FRAME_CALL)
				break;
			memset(&f, 0, sizeof(f));
			f.hdr.len = plen;
			f.hdr.version = FERRY_PROTO_VERSION;
			f.hdr.type = type;
			f.hdr.serial = serial;
			f.hdr.kind = kind;
			f.hdr.status = status;
			f.payload = plen ? buf + FRAME_HDR_LEN : NULL;
			if (dispatch_frame(api_dispatch, api_ndispatch, cc, 1,
			    &f, err, sizeof(err)) < 0)
				control_error(cc, type, serial, EINVAL, "%s",
				    err);
			break;
		case 2:
			(void)fake_tr_inject(h1->conn, buf, len);
			break;
		case 3:
			write_all(fd, buf, len);
			break;
		}
		free(buf);
		data += plen;
		size -= plen;
		settle();
		drain_fd(fd);
	}
	tr_conn_kick(hc, "fuzz input done");
	close(fd);
	settle();
	uv_run(&F.loop, UV_RUN_NOWAIT);
	settle();
	if (++F.inputs >= fuzz_reset)
		cluster_stop();
	return 0;
}
