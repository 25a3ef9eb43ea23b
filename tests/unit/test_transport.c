/* test_transport.c: real SSH sessions over 127.0.0.1 between the transport's
 * server and client (and a raw libssh client for misbehaving peers). Keys
 * are generated into a mkdtemp directory for the run. */
#include <sys/socket.h>
#include <sys/stat.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <libssh/libssh.h>
#include <uv.h>

#include "frame.h"
#include "log.h"
#include "transport.h"

#define MAXFRAMES	2048

struct side {
	int		 up, down, nframes;
	int		 nseen;		/* frames delivered, kept or not */
	struct tr_conn	*conn;		/* the last conn that came up */
	char		 reason[256];	/* of the last on_down */
	struct frame	*frames[MAXFRAMES];
	uint64_t	 up_at, down_at;
};

static struct {
	char		 dir[64];
	char		 hostkey[128], hostkey2[128], clientkey[128];
	char		 badkey[128], authkeys[128], known[128];
	char		 known_bad[128], loosekey[128], errlog[128];
	char		*hostpub, *hostpub2, *clientpub;
} K;

static struct side S, C, C2;	/* server, client, second client */
static uv_loop_t loop;
static int port;
static int nfds_before;

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void
on_up(struct tr_conn *c, void *arg)
{
	struct side *s = arg;

	s->up++;
	s->conn = c;
	s->up_at = now_ms();
}

static void
on_frame(struct tr_conn *c, struct frame *f, void *arg)
{
	struct side *s = arg;

	(void)c;
	s->nseen++;
	if (s->nframes < MAXFRAMES)
		s->frames[s->nframes++] = f;
	else
		frame_free(f);
}

static void
on_down(struct tr_conn *c, const char *reason, void *arg)
{
	struct side *s = arg;

	if (s->conn == c)
		s->conn = NULL;
	s->down++;
	s->down_at = now_ms();
	snprintf(s->reason, sizeof(s->reason), "%s", reason);
}

static const struct tr_callbacks cbs = { on_up, on_frame, on_down };

static void
side_reset(struct side *s)
{
	int i;

	for (i = 0; i < s->nframes; i++)
		frame_free(s->frames[i]);
	memset(s, 0, sizeof(*s));
}

/* ---- fixtures ---- */

static char *
write_key(const char *path)
{
	ssh_key key = NULL;
	char *pub = NULL, *line;

	assert_int_equal(ssh_pki_generate(SSH_KEYTYPE_ED25519, 0, &key),
	    SSH_OK);
	assert_int_equal(ssh_pki_export_privkey_file(key, NULL, NULL, NULL,
	    path), SSH_OK);
	assert_int_equal(chmod(path, 0600), 0);
	assert_int_equal(ssh_pki_export_pubkey_base64(key, &pub), SSH_OK);
	assert_true(asprintf(&line, "ssh-ed25519 %s", pub) > 0);
	ssh_string_free_char(pub);
	ssh_key_free(key);
	return line;
}

static void
write_file(const char *path, const char *text)
{
	FILE *fp;

	assert_non_null(fp = fopen(path, "w"));
	assert_int_equal(fputs(text, fp) >= 0, 1);
	assert_int_equal(fclose(fp), 0);
}

static int
free_port(void)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	int fd, p;

	fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	p = ntohs(sin.sin_port);
	close(fd);
	return p;
}

/* known_hosts for this test's port, listing the given host key. */
static void
write_known(const char *path, const char *hostpub)
{
	char buf[512];

	snprintf(buf, sizeof(buf), "# test\n[127.0.0.1]:%d %s\n", port,
	    hostpub);
	write_file(path, buf);
}

static int
group_setup(void **state)
{
	char buf[1024];

	(void)state;
	log_init("test_transport", 0);
	/* libuv opens its global signal pipe once; do it before fds are
	 * counted. */
	assert_int_equal(uv_loop_init(&loop), 0);
	assert_int_equal(uv_loop_close(&loop), 0);
	snprintf(K.dir, sizeof(K.dir), "/tmp/ferry-tr.XXXXXX");
	assert_non_null(mkdtemp(K.dir));
#define P(f, n) snprintf(K.f, sizeof(K.f), "%s/%s", K.dir, n)
	P(hostkey, "host_ed25519");
	P(hostkey2, "other_host_ed25519");
	P(clientkey, "client_ed25519");
	P(badkey, "stranger_ed25519");
	P(authkeys, "authorized_keys");
	P(known, "known_hosts");
	P(known_bad, "known_hosts_changed");
	P(loosekey, "loose_ed25519");
	P(errlog, "stderr.log");
#undef P
	K.hostpub = write_key(K.hostkey);
	K.hostpub2 = write_key(K.hostkey2);
	K.clientpub = write_key(K.clientkey);
	free(write_key(K.badkey));
	free(write_key(K.loosekey));
	assert_int_equal(chmod(K.loosekey, 0644), 0);
	/* An unparsable line and a comment must not spoil the good key. */
	snprintf(buf, sizeof(buf), "# operators\nno-pty %s bob\n"
	    "%s ferry@coord\n", K.clientpub, K.clientpub);
	write_file(K.authkeys, buf);
	return 0;
}

static int
group_teardown(void **state)
{
	char cmd[128];

	(void)state;
	free(K.hostpub);
	free(K.hostpub2);
	free(K.clientpub);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", K.dir);
	return system(cmd) == 0 ? 0 : -1;
}

static int
count_fds(void)
{
	DIR *d;
	int n = 0;

	assert_non_null(d = opendir("/proc/self/fd"));
	while (readdir(d) != NULL)
		n++;
	closedir(d);
	return n;
}

static int
setup(void **state)
{
	(void)state;
	nfds_before = count_fds();
	side_reset(&S);
	side_reset(&C);
	side_reset(&C2);
	port = free_port();
	write_known(K.known, K.hostpub);
	write_known(K.known_bad, K.hostpub2);
	assert_int_equal(uv_loop_init(&loop), 0);
	return 0;
}

/* Every handle (and so every thread) must be gone. */
static int
teardown(void **state)
{
	uint64_t end = now_ms() + 5000;

	(void)state;
	while (uv_loop_alive(&loop) && now_ms() < end) {
		uv_run(&loop, UV_RUN_NOWAIT);
		poll(NULL, 0, 2);
	}
	assert_int_equal(uv_loop_close(&loop), 0);
	/* Sockets, eventfds: everything the transport opened is closed. */
	assert_int_equal(count_fds(), nfds_before);
	side_reset(&S);
	side_reset(&C);
	side_reset(&C2);
	return 0;
}

static int
run_until(int *var, int target, int ms)
{
	uint64_t end = now_ms() + (uint64_t)ms;

	while (*var < target) {
		if (now_ms() >= end)
			return -1;
		uv_run(&loop, UV_RUN_NOWAIT);
		poll(NULL, 0, 2);
	}
	return 0;
}

static void
run_for(int ms)
{
	int never = 0;

	assert_int_equal(run_until(&never, 1, ms), -1);
}

static struct tr_server_config
server_config(void)
{
	struct tr_server_config sc;

	memset(&sc, 0, sizeof(sc));
	sc.listen_addr = "127.0.0.1";
	sc.port = port;
	sc.host_key = K.hostkey;
	sc.authorized_keys = K.authkeys;
	sc.handshake_timeout_ms = 5000;
	sc.idle_timeout_ms = 5000;
	sc.frame_timeout_ms = 5000;
	return sc;
}

static struct tr_client_config
client_config(void)
{
	struct tr_client_config cc;

	memset(&cc, 0, sizeof(cc));
	cc.name = "test-host";
	cc.host = "127.0.0.1";
	cc.port = port;
	cc.user = "ferry";
	cc.identity = K.clientkey;
	cc.known_hosts = K.known;
	cc.connect_timeout_ms = 5000;
	cc.idle_timeout_ms = 5000;
	cc.backoff_min_ms = 100;
	cc.backoff_max_ms = 400;
	return cc;
}

static struct tr_server *
start_server(const struct tr_server_config *sc)
{
	struct tr_server *srv;
	char err[256] = "";

	srv = tr_server_start(&loop, sc, &cbs, &S, err, sizeof(err));
	if (srv == NULL)
		print_error("tr_server_start: %s\n", err);
	assert_non_null(srv);
	return srv;
}

/* A frame buffer as frame_pack would make it, with raw payload bytes. */
static uint8_t *
make_frame(uint32_t serial, const uint8_t *payload, size_t len, size_t *outlen)
{
	struct frame_hdr h = { (uint32_t)len, FERRY_PROTO_VERSION, 7, serial,
	    FRAME_EVENT, FRAME_OK };
	uint8_t *buf;

	assert_non_null(buf = malloc(FRAME_HDR_LEN + len));
	frame_hdr_encode(&h, buf);
	if (len > 0)
		memcpy(buf + FRAME_HDR_LEN, payload, len);
	*outlen = FRAME_HDR_LEN + len;
	return buf;
}

static void
send_bytes(struct tr_conn *c, uint32_t serial, const void *p, size_t len)
{
	uint8_t *buf;
	size_t blen;

	buf = make_frame(serial, p, len, &blen);
	assert_int_equal(tr_conn_send(c, buf, blen), 0);
}

static void
assert_frame(const struct frame *f, uint32_t serial, const void *p,
    size_t len)
{
	assert_non_null(f);
	assert_int_equal(f->hdr.serial, serial);
	assert_int_equal(f->hdr.type, 7);
	assert_int_equal(f->hdr.len, len);
	if (len > 0)
		assert_memory_equal(f->payload, p, len);
}

/* ---- a raw client that speaks SSH but not the frame protocol ---- */

/* Connected and logged in, no channel yet. */
static ssh_session
raw_session(void)
{
	ssh_session s;
	ssh_key key = NULL;
	unsigned int p = (unsigned int)port;
	bool no = false;

	assert_non_null(s = ssh_new());
	ssh_options_set(s, SSH_OPTIONS_HOST, "127.0.0.1");
	ssh_options_set(s, SSH_OPTIONS_PORT, &p);
	ssh_options_set(s, SSH_OPTIONS_USER, "ferry");
	ssh_options_set(s, SSH_OPTIONS_PROCESS_CONFIG, &no);
	assert_int_equal(ssh_connect(s), SSH_OK);
	assert_int_equal(ssh_pki_import_privkey_file(K.clientkey, NULL, NULL,
	    NULL, &key), SSH_OK);
	assert_int_equal(ssh_userauth_publickey(s, NULL, key),
	    SSH_AUTH_SUCCESS);
	ssh_key_free(key);
	return s;
}

static ssh_session
raw_connect(ssh_channel *chp)
{
	ssh_session s = raw_session();
	ssh_channel ch;

	assert_non_null(ch = ssh_channel_new(s));
	assert_int_equal(ssh_channel_open_session(ch), SSH_OK);
	assert_int_equal(ssh_channel_request_subsystem(ch, TR_SUBSYSTEM),
	    SSH_OK);
	*chp = ch;
	return s;
}

/* The server must have ended the session: the raw peer sees EOF. */
static void
raw_assert_dropped(ssh_session s, ssh_channel ch)
{
	char buf[64];
	int n;

	n = ssh_channel_read_timeout(ch, buf, sizeof(buf), 0, 2000);
	assert_true(n == SSH_EOF || n == SSH_ERROR || n == 0);
	assert_true(n != 0 || ssh_channel_is_eof(ch) ||
	    ssh_channel_is_closed(ch) || !ssh_is_connected(s));
	ssh_channel_free(ch);
	ssh_disconnect(s);
	ssh_free(s);
}

/* ---- tests ---- */

static void
test_roundtrip(void **state)
{
	struct tr_server_config sc = server_config();
	struct tr_client_config cc = client_config();
	struct tr_server *srv;
	struct tr_conn *cli;
	static const char hello_c[] = "hello from the coordinator";
	static const char hello_s[] = "hello from hostd";
	uint8_t *big;
	size_t biglen = 1024 * 1024, i;
	uint32_t v;
	char peer[64];

	(void)state;
	srv = start_server(&sc);
	assert_non_null(cli = tr_client_start(&loop, &cc, &cbs, &C));
	assert_int_equal(run_until(&C.up, 1, 5000), 0);
	assert_int_equal(run_until(&S.up, 1, 5000), 0);
	assert_true(tr_conn_is_up(cli));
	assert_true(tr_conn_is_up(S.conn));
	snprintf(peer, sizeof(peer), "127.0.0.1:%d", port);
	assert_string_equal(tr_conn_peer(cli), peer);
	assert_int_equal(strncmp(tr_conn_peer(S.conn), "127.0.0.1:", 10), 0);
	tr_conn_set_data(S.conn, &v);
	assert_ptr_equal(tr_conn_get_data(S.conn), &v);

	send_bytes(cli, 1, hello_c, sizeof(hello_c));
	send_bytes(S.conn, 2, hello_s, sizeof(hello_s));
	assert_int_equal(run_until(&S.nframes, 1, 5000), 0);
	assert_int_equal(run_until(&C.nframes, 1, 5000), 0);
	assert_frame(S.frames[0], 1, hello_c, sizeof(hello_c));
	assert_frame(C.frames[0], 2, hello_s, sizeof(hello_s));

	/* 1 MiB each way. */
	assert_non_null(big = malloc(biglen));
	for (i = 0; i < biglen; i++)
		big[i] = (uint8_t)(i * 31 + (i >> 12));
	send_bytes(cli, 3, big, biglen);
	send_bytes(S.conn, 4, big, biglen);
	assert_int_equal(run_until(&S.nframes, 2, 10000), 0);
	assert_int_equal(run_until(&C.nframes, 2, 10000), 0);
	assert_frame(S.frames[1], 3, big, biglen);
	assert_frame(C.frames[1], 4, big, biglen);
	free(big);

	/* Many small frames, in order. */
	for (v = 0; v < 1000; v++)
		send_bytes(cli, 1000 + v, &v, sizeof(v));
	assert_int_equal(run_until(&S.nframes, 1002, 10000), 0);
	for (v = 0; v < 1000; v++)
		assert_frame(S.frames[2 + v], 1000 + v, &v, sizeof(v));
	assert_int_equal(S.down + C.down, 0);

	tr_conn_close(cli);
	assert_int_equal(run_until(&S.down, 1, 5000), 0);
	/* The client went away (how exactly depends on what it flushed). */
	assert_true(strstr(S.reason, "closed the channel") != NULL ||
	    strstr(S.reason, "connection lost") != NULL);
	tr_server_stop(srv);
	assert_int_equal(C.down, 0);	/* closed: no callbacks */
	assert_int_equal(C.up, 1);
	assert_int_equal(S.up, 1);
}

static int
capture_stderr(void)
{
	int saved, fd;

	fflush(stderr);
	saved = dup(STDERR_FILENO);
	fd = open(K.errlog, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(saved >= 0 && fd >= 0);
	dup2(fd, STDERR_FILENO);
	close(fd);
	return saved;
}

static char *
restore_stderr(int saved)
{
	FILE *fp;
	char *text;
	long n;

	dup2(saved, STDERR_FILENO);
	close(saved);
	assert_non_null(fp = fopen(K.errlog, "r"));
	fseek(fp, 0, SEEK_END);
	n = ftell(fp);
	rewind(fp);
	assert_non_null(text = calloc(1, (size_t)n + 1));
	assert_int_equal(fread(text, 1, (size_t)n, fp), (size_t)n);
	fclose(fp);
	fputs(text, stderr);	/* keep it visible */
	return text;
}

static void
test_unknown_client_key(void **state)
{
	struct tr_server_config sc = server_config();
	struct tr_client_config cc = client_config();
	struct tr_server *srv;
	struct tr_conn *cli;
	char *log;
	int saved;

	(void)state;
	saved = capture_stderr();
	srv = start_server(&sc);
	cc.identity = K.badkey;
	cc.backoff_min_ms = cc.backoff_max_ms = 5000;
	assert_non_null(cli = tr_client_start(&loop, &cc, &cbs, &C));
	assert_int_equal(run_until(&C.down, 1, 5000), 0);
	tr_conn_close(cli);
	tr_server_stop(srv);
	log = restore_stderr(saved);
	assert_non_null(strstr(C.reason, "auth"));
	assert_int_equal(C.up + S.up + S.down, 0);
	assert_non_null(strstr(log, "refused key SHA256:"));
	/* The options line was skipped with a warning. */
	assert_non_null(strstr(log, "authorized_keys:2: cannot parse"));
	free(log);
}

static void
test_changed_host_key(void **state)
{
	struct tr_server_config sc = server_config();
	struct tr_client_config cc = client_config();
	struct tr_server *srv;
	struct tr_conn *cli;

	(void)state;
	srv = start_server(&sc);
	cc.known_hosts = K.known_bad;
	cc.backoff_min_ms = cc.backoff_max_ms = 5000;
	assert_non_null(cli = tr_client_start(&loop, &cc, &cbs, &C));
	assert_int_equal(run_until(&C.down, 1, 5000), 0);
	assert_non_null(strstr(C.reason, "CHANGED"));
	run_for(100);
	assert_int_equal(C.up + S.up + S.down, 0);
	tr_conn_close(cli);
	tr_server_stop(srv);
}

static void
test_loose_private_key(void **state)
{
	struct tr_server_config sc = server_config();
	struct tr_client_config cc = client_config();
	char err[256] = "";

	(void)state;
	sc.host_key = K.loosekey;
	assert_null(tr_server_start(&loop, &sc, &cbs, &S, err, sizeof(err)));
	assert_non_null(strstr(err, K.loosekey));
	assert_non_null(strstr(err, "mode 0644"));
	assert_non_null(strstr(err, "0600"));
	cc.identity = K.loosekey;
	assert_null(tr_client_start(&loop, &cc, &cbs, &C));

	/* And a port in use is an error with text, not a silent thread. */
	{
		struct tr_server *srv;

		sc.host_key = K.hostkey;
		srv = start_server(&sc);
		err[0] = '\0';
		assert_null(tr_server_start(&loop, &sc, &cbs, &S, err,
		    sizeof(err)));
		assert_true(strlen(err) > 0);
		tr_server_stop(srv);
	}
}

static void
test_oversized_frame(void **state)
{
	struct tr_server_config sc = server_config();
	struct tr_server *srv;
	struct frame_hdr h = { 1025, FERRY_PROTO_VERSION, 7, 1, FRAME_CALL,
	    FRAME_OK };
	uint8_t hdr[FRAME_HDR_LEN];
	ssh_session s;
	ssh_channel ch;

	(void)state;
	sc.max_payload = 1024;
	srv = start_server(&sc);
	s = raw_connect(&ch);
	assert_int_equal(run_until(&S.up, 1, 5000), 0);
	frame_hdr_encode(&h, hdr);
	assert_int_equal(ssh_channel_write(ch, hdr, sizeof(hdr)),
	    sizeof(hdr));
	assert_int_equal(run_until(&S.down, 1, 5000), 0);
	assert_non_null(strstr(S.reason, "frame larger than the limit"));
	assert_int_equal(S.nframes, 0);
	raw_assert_dropped(s, ch);
	tr_server_stop(srv);
}

static void
test_server_restart(void **state)
{
	struct tr_server_config sc = server_config();
	struct tr_client_config cc = client_config();
	struct tr_server *srv;
	struct tr_conn *cli, *cli2;
	uint64_t t0;

	(void)state;
	srv = start_server(&sc);
	assert_non_null(cli = tr_client_start(&loop, &cc, &cbs, &C));
	assert_int_equal(run_until(&C.up, 1, 5000), 0);
	assert_int_equal(run_until(&S.up, 1, 5000), 0);

	tr_server_stop(srv);
	assert_int_equal(S.down, 1);	/* told from tr_server_stop */
	assert_string_equal(S.reason, "server stopping");
	assert_int_equal(run_until(&C.down, 1, 5000), 0);
	assert_false(tr_conn_is_up(cli));
	assert_int_equal(tr_conn_send(cli, malloc(1), 1), -1);

	srv = start_server(&sc);
	assert_int_equal(run_until(&C.up, 2, 5000), 0);
	assert_int_equal(run_until(&S.up, 2, 5000), 0);

	/* A kick drops the session; the client comes back by itself. */
	tr_conn_kick(S.conn, "test kick");
	assert_int_equal(run_until(&C.up, 3, 5000), 0);
	assert_int_equal(run_until(&S.down, 2, 5000), 0);
	assert_string_equal(S.reason, "kicked: test kick");
	tr_conn_close(cli);
	tr_server_stop(srv);

	/* Nothing listens on this one: the client sits in its backoff. */
	port = free_port();
	cc = client_config();
	cc.backoff_min_ms = cc.backoff_max_ms = 10000;
	assert_non_null(cli2 = tr_client_start(&loop, &cc, &cbs, &C2));
	assert_int_equal(run_until(&C2.down, 1, 5000), 0);
	assert_non_null(strstr(C2.reason, "connect"));
	t0 = now_ms();
	tr_conn_close(cli2);
	while (uv_loop_alive(&loop) && now_ms() - t0 < 5000) {
		uv_run(&loop, UV_RUN_NOWAIT);
		poll(NULL, 0, 2);
	}
	assert_false(uv_loop_alive(&loop));
	assert_true(now_ms() - t0 < 1000);
	assert_int_equal(C2.up, 0);
	assert_int_equal(C2.down, 1);
}

/*
 * Sessions up but not yet answered hold their handshake slot: with more
 * clients than TR_MAX_HANDSHAKES and a peer that sends nothing, only that
 * many come up; the peer's first frame on one lets the next one in. (All
 * came up at once before, and at 2,000 simulated hosts timed out waiting
 * for their hellos together, for ever.)
 */
#define SLOT_CLIENTS	(TR_MAX_HANDSHAKES + 12)

static void
test_client_slots_until_first_frame(void **state)
{
	struct tr_server_config sc = server_config();
	struct tr_client_config cc = client_config();
	struct tr_conn *cli[SLOT_CLIENTS];
	struct tr_server *srv;
	static const char first[] = "the peer's first answer";
	int i;

	(void)state;
	sc.max_sessions = SLOT_CLIENTS + 4;
	sc.startups_begin = sc.startups_full = SLOT_CLIENTS * 2;
	sc.startups_rate = 100;
	sc.per_source_startups = SLOT_CLIENTS * 2;
	sc.idle_timeout_ms = sc.frame_timeout_ms = 30000;
	cc.idle_timeout_ms = 30000;
	cc.connect_timeout_ms = 20000;
	srv = start_server(&sc);
	for (i = 0; i < SLOT_CLIENTS; i++)
		assert_non_null(cli[i] = tr_client_start(&loop, &cc, &cbs, &C));
	assert_int_equal(run_until(&C.up, TR_MAX_HANDSHAKES, 20000), 0);
	run_for(1500);
	assert_int_equal(C.up, TR_MAX_HANDSHAKES);
	assert_int_equal(S.up, TR_MAX_HANDSHAKES);
	assert_int_equal(C.down, 0);
	/* One answer: one slot free, one more client up. */
	send_bytes(S.conn, 1, first, sizeof(first));
	assert_int_equal(run_until(&C.up, TR_MAX_HANDSHAKES + 1, 10000), 0);
	run_for(500);
	assert_int_equal(C.up, TR_MAX_HANDSHAKES + 1);
	assert_int_equal(C.nframes, 1);
	for (i = 0; i < SLOT_CLIENTS; i++)
		tr_conn_close(cli[i]);
	tr_server_stop(srv);
}

static void
test_idle_timeout(void **state)
{
	struct tr_server_config sc = server_config();
	struct tr_client_config cc = client_config();
	struct tr_server *srv;
	struct tr_conn *cli;

	(void)state;
	sc.idle_timeout_ms = 500;
	srv = start_server(&sc);
	cc.idle_timeout_ms = 0;
	cc.backoff_min_ms = cc.backoff_max_ms = 5000;
	assert_non_null(cli = tr_client_start(&loop, &cc, &cbs, &C));
	assert_int_equal(run_until(&S.up, 1, 5000), 0);
	assert_int_equal(run_until(&S.down, 1, 5000), 0);
	assert_non_null(strstr(S.reason, "idle timeout"));
	assert_true(S.down_at - S.up_at >= 400);
	assert_true(S.down_at - S.up_at < 2000);
	assert_int_equal(run_until(&C.down, 1, 5000), 0);
	tr_conn_close(cli);
	tr_server_stop(srv);
}

static void
test_frame_timeout(void **state)
{
	struct tr_server_config sc = server_config();
	struct tr_server *srv;
	struct frame_hdr h = { 100, FERRY_PROTO_VERSION, 7, 1, FRAME_CALL,
	    FRAME_OK };
	uint8_t buf[FRAME_HDR_LEN + 10];
	ssh_session s;
	ssh_channel ch;
	uint64_t t0;

	(void)state;
	sc.frame_timeout_ms = 500;
	srv = start_server(&sc);
	s = raw_connect(&ch);
	assert_int_equal(run_until(&S.up, 1, 5000), 0);
	memset(buf, 'x', sizeof(buf));
	frame_hdr_encode(&h, buf);
	t0 = now_ms();
	assert_int_equal(ssh_channel_write(ch, buf, sizeof(buf)),
	    sizeof(buf));
	assert_int_equal(run_until(&S.down, 1, 5000), 0);
	assert_non_null(strstr(S.reason, "frame timeout"));
	assert_true(S.down_at - t0 >= 400);
	assert_true(S.down_at - t0 < 2000);
	assert_int_equal(S.nframes, 0);
	raw_assert_dropped(s, ch);
	tr_server_stop(srv);
}

/* Connects a plain TCP socket to the server. */
static int
tcp_connect(void)
{
	struct sockaddr_in sin;
	int fd;

	assert_true((fd = socket(AF_INET, SOCK_STREAM, 0)) >= 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	return fd;
}

/* Milliseconds until the server closes fd (reading whatever it sends),
 * running the loop meanwhile; -1 if it stays open for ms. */
static int
ms_until_eof(int fd, int ms)
{
	uint64_t t0 = now_ms();
	struct pollfd pfd = { fd, POLLIN, 0 };
	char buf[256];

	while (now_ms() - t0 < (uint64_t)ms) {
		uv_run(&loop, UV_RUN_NOWAIT);
		if (poll(&pfd, 1, 5) == 1 && read(fd, buf, sizeof(buf)) <= 0)
			return (int)(now_ms() - t0);
	}
	return -1;
}

static void
test_handshake_timeout_and_per_source(void **state)
{
	struct tr_server_config sc = server_config();
	struct tr_server *srv;
	int fd1, fd2, ms;

	(void)state;
	sc.handshake_timeout_ms = 600;
	sc.per_source_startups = 1;
	srv = start_server(&sc);
	fd1 = tcp_connect();		/* says nothing at all */
	run_for(100);
	fd2 = tcp_connect();		/* one too many: closed at once */
	ms = ms_until_eof(fd2, 2000);
	assert_true(ms >= 0 && ms < 300);
	ms = ms_until_eof(fd1, 3000);	/* 500 ms left of its 600 */
	assert_true(ms >= 350 && ms < 1500);
	close(fd1);
	close(fd2);
	assert_int_equal(S.up + S.down, 0);
	tr_server_stop(srv);
}

/* ---- pre-authentication limits (sshd's MaxStartups) ---- */

#define FLOOD_MAX	128

/* Idle TCP peers that say nothing, each reopened as soon as the server
 * closes it, as the audit's attacker did. */
struct flood {
	int	 fd[FLOOD_MAX];
	char	 src[FLOOD_MAX][16];
	int	 n;
	int	 closed;	/* times the server closed one */
};

/* A plain TCP connection from a chosen loopback address (127/8 is all
 * local on Linux), so "another machine" can be played on one. */
static int
tcp_connect_from(const char *src)
{
	struct sockaddr_in sin;
	int fd;

	assert_true((fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK,
	    0)) >= 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	assert_int_equal(inet_pton(AF_INET, src, &sin.sin_addr), 1);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	sin.sin_port = htons(port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_true(connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0 ||
	    errno == EINPROGRESS);
	return fd;
}

/* n peers; nsrc distinct source addresses 127.0.0.2, .3, ... */
static void
flood_start(struct flood *fl, int n, int nsrc)
{
	int i;

	assert_true(n <= FLOOD_MAX);
	memset(fl, 0, sizeof(*fl));
	fl->n = n;
	for (i = 0; i < n; i++) {
		snprintf(fl->src[i], sizeof(fl->src[i]), "127.0.0.%d",
		    2 + i % nsrc);
		fl->fd[i] = tcp_connect_from(fl->src[i]);
	}
}

/* Reopens whatever the server closed. */
static void
flood_pump(struct flood *fl)
{
	char buf[256];
	ssize_t r;
	int i;

	for (i = 0; i < fl->n; i++) {
		r = read(fl->fd[i], buf, sizeof(buf));
		if (r > 0 || (r == -1 && (errno == EAGAIN ||
		    errno == ENOTCONN)))
			continue;
		close(fl->fd[i]);
		fl->closed++;
		fl->fd[i] = tcp_connect_from(fl->src[i]);
	}
}

/* How many of the peers the server holds: connected, and not closed by
 * the server (a SYN dropped from a full backlog is not held). */
static int
flood_held(struct flood *fl)
{
	struct tcp_info ti;
	socklen_t len;
	char c;
	ssize_t r;
	int i, held = 0;

	for (i = 0; i < fl->n; i++) {
		len = sizeof(ti);
		r = recv(fl->fd[i], &c, 1, MSG_PEEK | MSG_DONTWAIT);
		if ((r > 0 || (r == -1 && errno == EAGAIN)) &&
		    getsockopt(fl->fd[i], IPPROTO_TCP, TCP_INFO, &ti,
		    &len) == 0 && ti.tcpi_state == TCP_ESTABLISHED)
			held++;
	}
	return held;
}

static void
flood_stop(struct flood *fl)
{
	int i;

	for (i = 0; i < fl->n; i++)
		close(fl->fd[i]);
	fl->n = 0;
}

/* Runs the loop and the flood until *var reaches target or ms pass. */
static int
flood_until(struct flood *fl, int *var, int target, int ms)
{
	uint64_t end = now_ms() + (uint64_t)ms;

	while (*var < target) {
		if (now_ms() >= end)
			return -1;
		uv_run(&loop, UV_RUN_NOWAIT);
		flood_pump(fl);
		poll(NULL, 0, 5);
	}
	return 0;
}

static void
flood_for(struct flood *fl, int ms)
{
	int never = 0;

	assert_int_equal(flood_until(fl, &never, 1, ms), -1);
}

/* Finding 3: 30 idle connections from one address, reopened as soon as
 * closed, kept the coordinator out (max_sessions = 8 counted them). The
 * per-source cap keeps that address to a few; the real client logs in
 * within its deadline and stays. */
static void
test_preauth_flood_one_source(void **state)
{
	struct tr_server_config sc = server_config();
	struct tr_client_config cc = client_config();
	struct tr_server *srv;
	struct tr_conn *cli;
	struct flood fl;
	uint64_t t0;
	int held, downs;

	(void)state;
	sc.max_sessions = 8;		/* hostd's default */
	sc.idle_timeout_ms = cc.idle_timeout_ms = 20000;
	srv = start_server(&sc);
	flood_start(&fl, 30, 1);
	flood_for(&fl, 500);		/* every slot taken that can be */
	t0 = now_ms();
	assert_non_null(cli = tr_client_start(&loop, &cc, &cbs, &C));
	assert_int_equal(flood_until(&fl, &C.up, 1, 3000), 0);
	assert_true(now_ms() - t0 < 3000);
	assert_int_equal(flood_until(&fl, &S.up, 1, 3000), 0);
	/* The session is never displaced while the flood goes on. */
	downs = C.down;
	flood_for(&fl, 1000);
	assert_int_equal(C.down, downs);
	assert_int_equal(S.down, 0);
	assert_true(tr_conn_is_up(cli));
	/* The rest were turned away at once, not left to the handshake
	 * deadline; once the flood stops reopening, the one address holds
	 * no more than its cap. */
	assert_true(fl.closed > 26);
	run_for(300);
	held = flood_held(&fl);
	assert_true(held >= 1 && held <= TR_PER_SOURCE_STARTUPS);
	flood_stop(&fl);
	tr_conn_close(cli);
	tr_server_stop(srv);
}

/* The same from 30 addresses, one connection each: past "begin" new
 * connections are dropped at random (30% rising to 100% at "full"), so
 * the flood cannot hold every slot and the real client gets in on one of
 * its retries. */
static void
test_preauth_flood_many_sources(void **state)
{
	struct tr_server_config sc = server_config();
	struct tr_client_config cc = client_config();
	struct tr_server *srv;
	struct tr_conn *cli;
	struct flood fl;
	uint64_t t0;
	int downs;

	(void)state;
	sc.max_sessions = 8;
	sc.idle_timeout_ms = cc.idle_timeout_ms = 20000;
	srv = start_server(&sc);
	flood_start(&fl, 30, 30);
	flood_for(&fl, 500);
	t0 = now_ms();
	assert_non_null(cli = tr_client_start(&loop, &cc, &cbs, &C));
	assert_int_equal(flood_until(&fl, &C.up, 1, 5000), 0);
	assert_true(now_ms() - t0 < 5000);
	downs = C.down;		/* attempts dropped at random */
	flood_for(&fl, 500);
	assert_int_equal(C.down, downs);
	assert_int_equal(S.down, 0);
	flood_stop(&fl);
	tr_conn_close(cli);
	tr_server_stop(srv);
}

/* max_sessions counts authenticated sessions only: strangers still in
 * their handshake neither take those slots nor are refused for them, and
 * a second coordinator past the limit is turned away after its login. */
static void
test_max_sessions_authenticated(void **state)
{
	struct tr_server_config sc = server_config();
	struct tr_client_config cc = client_config();
	struct tr_server *srv;
	struct tr_conn *cli, *cli2;
	struct flood fl;

	(void)state;
	sc.max_sessions = 1;
	sc.idle_timeout_ms = cc.idle_timeout_ms = 20000;
	srv = start_server(&sc);
	assert_non_null(cli = tr_client_start(&loop, &cc, &cbs, &C));
	assert_int_equal(run_until(&S.up, 1, 5000), 0);
	flood_start(&fl, 8, 8);
	run_for(300);
	assert_int_equal(flood_held(&fl), 8);
	cc.backoff_min_ms = cc.backoff_max_ms = 5000;
	assert_non_null(cli2 = tr_client_start(&loop, &cc, &cbs, &C2));
	assert_int_equal(run_until(&C2.down, 1, 5000), 0);
	assert_non_null(strstr(C2.reason, "channel open refused"));
	assert_int_equal(C2.up, 0);
	assert_int_equal(S.up, 1);
	assert_int_equal(S.down + C.down, 0);
	assert_true(tr_conn_is_up(cli));
	flood_stop(&fl);
	tr_conn_close(cli2);
	tr_conn_close(cli);
	tr_server_stop(srv);
}

/* ---- frame rate limits ---- */

/* A coordinator's session may send max_frame_rate frames a second, and a
 * burst of twice that; past it the session is cut, with the reason. A
 * peer within the limit is never cut. */
static void
test_frame_rate_server(void **state)
{
	struct tr_server_config sc = server_config();
	struct tr_client_config cc = client_config();
	struct tr_server *srv;
	struct tr_conn *cli;
	uint64_t t0;
	uint32_t v;
	int i;

	(void)state;
	sc.max_frame_rate = 100;		/* burst 200 */
	srv = start_server(&sc);
	cc.backoff_min_ms = cc.backoff_max_ms = 5000;
	assert_non_null(cli = tr_client_start(&loop, &cc, &cbs, &C));
	/* Both ends: the server's session can be up a few ms before the
	 * client's, which refuses to send until it is. */
	assert_int_equal(run_until(&S.up, 1, 5000), 0);
	assert_int_equal(run_until(&C.up, 1, 5000), 0);
	/* 150 at once, then 50 a second for 1.5 s: within the bucket. */
	for (v = 0; v < 150; v++)
		send_bytes(cli, v, &v, sizeof(v));
	t0 = now_ms();
	while (now_ms() - t0 < 1500) {
		send_bytes(cli, v, &v, sizeof(v));
		v++;
		run_for(20);
	}
	assert_int_equal(run_until(&S.nseen, (int)v, 5000), 0);
	assert_int_equal(S.down, 0);
	/* 1,000 at once: cut, once the bucket is empty. */
	for (i = 0; i < 1000; i++, v++)
		send_bytes(cli, v, &v, sizeof(v));
	assert_int_equal(run_until(&S.down, 1, 5000), 0);
	assert_non_null(strstr(S.reason, "flooding: more than 100 frames a "
	    "second (burst 200)"));
	assert_true(S.nseen < (int)v);
	tr_conn_close(cli);
	tr_server_stop(srv);
}

/* The client side (the coordinator): a server flooding it is cut, and
 * the next attempt waits backoff_max_ms rather than backoff_min_ms. */
static void
test_frame_rate_client_backoff(void **state)
{
	struct tr_server_config sc = server_config();
	struct tr_client_config cc = client_config();
	struct tr_server *srv;
	struct tr_conn *cli;
	uint32_t v;

	(void)state;
	srv = start_server(&sc);
	cc.max_frame_rate = 50;
	cc.backoff_min_ms = 50;
	cc.backoff_max_ms = 1500;
	assert_non_null(cli = tr_client_start(&loop, &cc, &cbs, &C));
	/* The flood must meet a client that is up, or its cut and the
	 * counts below are of a session that never was. */
	assert_int_equal(run_until(&S.up, 1, 5000), 0);
	assert_int_equal(run_until(&C.up, 1, 5000), 0);
	for (v = 0; v < 500; v++)
		send_bytes(S.conn, v, &v, sizeof(v));
	assert_int_equal(run_until(&C.down, 1, 5000), 0);
	assert_non_null(strstr(C.reason, "flooding"));
	assert_int_equal(run_until(&C.up, 2, 5000), 0);
	/* Jitter is +-25% of 1500 ms. */
	assert_true(C.up_at - C.down_at >= 1100);
	tr_conn_close(cli);
	tr_server_stop(srv);
}

/* The inbound queue is bounded in frames as well as bytes: empty frames
 * while the loop is stalled pile up only to the bound, then the reader
 * waits; none is lost once the loop runs. */
static void
test_inbound_frame_bound(void **state)
{
	struct tr_server_config sc = server_config();
	struct tr_client_config cc = client_config();
	struct tr_server *srv;
	struct tr_conn *cli;
	uint32_t v;
	size_t q;

	(void)state;
	srv = start_server(&sc);
	assert_non_null(cli = tr_client_start(&loop, &cc, &cbs, &C));
	assert_int_equal(run_until(&C.up, 1, 5000), 0);
	assert_int_equal(run_until(&S.up, 1, 5000), 0);
	for (v = 0; v < 20000; v++)
		send_bytes(cli, v, NULL, 0);
	poll(NULL, 0, 1500);		/* the loop stalls */
	q = tr_server_inq_frames(srv);
	assert_true(q > 1000);
	assert_true(q <= 4096 + 2048 + 1);
	assert_int_equal(run_until(&S.nseen, 20000, 10000), 0);
	assert_int_equal(S.down + C.down, 0);
	tr_conn_close(cli);
	tr_server_stop(srv);
}

static void
test_send_queue_bound(void **state)
{
	struct tr_server_config sc = server_config();
	struct tr_server *srv;
	ssh_session s;
	ssh_channel ch;
	uint8_t *buf;
	size_t len = 1024 * 1024;
	int i, rc = 0;

	(void)state;
	srv = start_server(&sc);
	s = raw_connect(&ch);		/* and never reads */
	assert_int_equal(run_until(&S.up, 1, 5000), 0);
	for (i = 0; i < 100 && rc == 0; i++) {
		assert_non_null(buf = calloc(1, len));
		rc = tr_conn_send(S.conn, buf, len);
	}
	assert_int_equal(rc, -1);
	assert_true(i > 60);		/* 64 MiB, less what the window took */
	assert_int_equal(run_until(&S.down, 1, 5000), 0);
	assert_non_null(strstr(S.reason, "send queue"));
	ssh_channel_free(ch);
	ssh_disconnect(s);
	ssh_free(s);
	tr_server_stop(srv);
}

/* Only a session channel with the ferry subsystem; nothing else, before
 * or after. */
static void
test_refused_requests(void **state)
{
	struct tr_server_config sc = server_config();
	struct tr_server *srv;
	ssh_session s;
	ssh_channel ch, ch2;

	(void)state;
	srv = start_server(&sc);
	s = raw_session();
	assert_non_null(ch2 = ssh_channel_new(s));
	assert_int_equal(ssh_channel_open_forward(ch2, "127.0.0.1", 22,
	    "127.0.0.1", 4000), SSH_ERROR);
	ssh_channel_free(ch2);
	assert_non_null(ch = ssh_channel_new(s));
	assert_int_equal(ssh_channel_open_session(ch), SSH_OK);
	assert_int_equal(ssh_channel_request_pty(ch), SSH_ERROR);
	assert_int_equal(ssh_channel_request_exec(ch, "id"), SSH_ERROR);
	assert_int_equal(ssh_channel_request_shell(ch), SSH_ERROR);
	assert_int_equal(ssh_channel_request_subsystem(ch, "sftp"), SSH_ERROR);
	run_for(50);
	assert_int_equal(S.up, 0);
	assert_int_equal(ssh_channel_request_subsystem(ch, TR_SUBSYSTEM),
	    SSH_OK);
	assert_int_equal(run_until(&S.up, 1, 5000), 0);

	/* Up: further channels and requests are refused, the session lives. */
	assert_non_null(ch2 = ssh_channel_new(s));
	assert_int_equal(ssh_channel_open_session(ch2), SSH_ERROR);
	ssh_channel_free(ch2);
	assert_int_equal(ssh_channel_request_exec(ch, "id"), SSH_ERROR);
	run_for(50);
	assert_int_equal(S.down, 0);
	assert_true(tr_conn_is_up(S.conn));
	ssh_channel_free(ch);
	ssh_disconnect(s);
	ssh_free(s);
	assert_int_equal(run_until(&S.down, 1, 5000), 0);
	tr_server_stop(srv);
}

static uint64_t
cpu_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* The loop does not run: frames pile up to the inbound limit, then the
 * reader waits (without spinning) and the SSH window holds the sender. */
static void
test_backpressure(void **state)
{
	struct tr_server_config sc = server_config();
	struct tr_client_config cc = client_config();
	struct tr_server *srv;
	struct tr_conn *cli;
	size_t len = 1024 * 1024;
	uint8_t *p;
	uint64_t c0;
	int i;

	(void)state;
	srv = start_server(&sc);
	assert_non_null(cli = tr_client_start(&loop, &cc, &cbs, &C));
	assert_int_equal(run_until(&C.up, 1, 5000), 0);
	assert_int_equal(run_until(&S.up, 1, 5000), 0);
	assert_non_null(p = malloc(len));
	for (i = 0; i < 24; i++) {
		memset(p, i, len);
		send_bytes(cli, (uint32_t)i, p, len);
	}
	poll(NULL, 0, 1000);		/* let the threads fill up */
	c0 = cpu_ms();
	poll(NULL, 0, 300);
	assert_true(cpu_ms() - c0 < 150);
	assert_int_equal(S.nframes, 0);
	assert_int_equal(run_until(&S.nframes, 24, 10000), 0);
	for (i = 0; i < 24; i++) {
		memset(p, i, len);
		assert_frame(S.frames[i], (uint32_t)i, p, len);
	}
	free(p);
	assert_int_equal(S.down + C.down, 0);
	tr_conn_close(cli);
	tr_server_stop(srv);
}

/* A server that accepts TCP and never says a word. */
static void
test_client_handshake_timeout(void **state)
{
	struct tr_client_config cc = client_config();
	struct sockaddr_in sin;
	struct tr_conn *cli, *cli2;
	uint64_t t0;
	int lfd;

	(void)state;
	assert_true((lfd = socket(AF_INET, SOCK_STREAM, 0)) >= 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(lfd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(listen(lfd, 8), 0);

	cc.connect_timeout_ms = 500;
	cc.backoff_min_ms = cc.backoff_max_ms = 5000;
	t0 = now_ms();
	assert_non_null(cli = tr_client_start(&loop, &cc, &cbs, &C));
	assert_int_equal(run_until(&C.down, 1, 5000), 0);
	assert_non_null(strstr(C.reason, "timeout"));
	assert_true(C.down_at - t0 >= 450 && C.down_at - t0 < 1500);

	/* Closing in the middle of a handshake does not wait for it. */
	cc.connect_timeout_ms = 10000;
	assert_non_null(cli2 = tr_client_start(&loop, &cc, &cbs, &C2));
	run_for(200);
	t0 = now_ms();
	tr_conn_close(cli2);
	tr_conn_close(cli);
	while (uv_loop_alive(&loop) && now_ms() - t0 < 5000) {
		uv_run(&loop, UV_RUN_NOWAIT);
		poll(NULL, 0, 2);
	}
	assert_true(now_ms() - t0 < 1000);
	assert_int_equal(C.up + C2.up + C2.down, 0);
	close(lfd);
}

/* authorized_keys and known_hosts as sshd's StrictModes wants them: a file
 * or directory others can write to, or a file another user owns, would
 * let a local user add a key; it is refused with the reason, at start and
 * at every login. */
static void
test_key_file_modes(void **state)
{
	struct tr_server_config sc = server_config();
	struct tr_client_config cc = client_config();
	struct tr_server *srv;
	struct tr_conn *cli;
	char err[512] = "", sub[128], subkeys[160];

	(void)state;
	/* Group-writable, world-writable, another user's. */
	assert_int_equal(chmod(K.authkeys, 0664), 0);
	assert_null(tr_server_start(&loop, &sc, &cbs, &S, err, sizeof(err)));
	assert_non_null(strstr(err, "writable by group/others (mode 0664)"));
	assert_int_equal(chmod(K.authkeys, 0646), 0);
	assert_null(tr_server_start(&loop, &sc, &cbs, &S, err, sizeof(err)));
	assert_non_null(strstr(err, "mode 0646"));
	assert_int_equal(chmod(K.authkeys, 0644), 0);
	assert_int_equal(chown(K.authkeys, 4242, 4242), 0);
	assert_null(tr_server_start(&loop, &sc, &cbs, &S, err, sizeof(err)));
	assert_non_null(strstr(err, "owned by uid 4242"));
	assert_int_equal(chown(K.authkeys, 0, 0), 0);
	/* In a directory others may write to (not sticky): refused. */
	snprintf(sub, sizeof(sub), "%s/open", K.dir);
	snprintf(subkeys, sizeof(subkeys), "%s/authorized_keys", sub);
	assert_int_equal(mkdir(sub, 0700), 0);
	assert_int_equal(chmod(sub, 0777), 0);
	write_file(subkeys, K.clientpub);
	assert_int_equal(chmod(subkeys, 0644), 0);
	sc.authorized_keys = subkeys;
	assert_null(tr_server_start(&loop, &sc, &cbs, &S, err, sizeof(err)));
	assert_non_null(strstr(err, "directory"));
	assert_non_null(strstr(err, "mode 0777"));
	/* A root-owned sticky directory (as /tmp) is fine. */
	assert_int_equal(chmod(sub, 01777), 0);
	srv = start_server(&sc);
	tr_server_stop(srv);
	sc.authorized_keys = K.authkeys;

	/* known_hosts: refused at start ... */
	assert_int_equal(chmod(K.known, 0620), 0);
	assert_null(tr_client_start(&loop, &cc, &cbs, &C));
	assert_int_equal(chmod(K.known, 0644), 0);
	/* ... and for every session: a client whose file became writable
	 * after it started does not believe it. */
	srv = start_server(&sc);
	cc.backoff_min_ms = cc.backoff_max_ms = 100;
	assert_non_null(cli = tr_client_start(&loop, &cc, &cbs, &C));
	assert_int_equal(run_until(&C.up, 1, 10000), 0);
	assert_int_equal(chmod(K.known, 0666), 0);
	tr_conn_kick(cli, "test: reconnect");
	assert_int_equal(run_until(&C.down, 2, 10000), 0);
	assert_non_null(strstr(C.reason, "refusing known_hosts"));
	assert_int_equal(C.up, 1);
	/* And a server whose authorized_keys became group-writable after it
	 * started admits nobody. */
	assert_int_equal(chmod(K.authkeys, 0660), 0);
	assert_int_equal(chmod(K.known, 0644), 0);
	assert_int_equal(run_until(&C.down, 4, 10000), 0);
	assert_int_equal(C.up, 1);
	assert_int_equal(S.up, 1);
	tr_conn_close(cli);
	tr_server_stop(srv);
	assert_int_equal(chmod(K.authkeys, 0644), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_key_file_modes, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_roundtrip, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_unknown_client_key, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_changed_host_key, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_loose_private_key, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_oversized_frame, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_server_restart, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_client_slots_until_first_frame,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_idle_timeout, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_frame_timeout, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_handshake_timeout_and_per_source, setup, teardown),
		cmocka_unit_test_setup_teardown(test_preauth_flood_one_source,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_preauth_flood_many_sources,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_max_sessions_authenticated,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_frame_rate_server,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_frame_rate_client_backoff,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_inbound_frame_bound,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_send_queue_bound, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_refused_requests, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_backpressure, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_client_handshake_timeout,
		    setup, teardown),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
