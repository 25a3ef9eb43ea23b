/* test_notify.c: what the daemons tell systemd (common/notify.c), read
 * from a datagram socket of our own standing in for systemd's
 * NOTIFY_SOCKET: the exact assignments, the watchdog pings' rate from a
 * real libuv loop, and that they stop while the loop is blocked. */
#include <sys/socket.h>
#include <sys/un.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "notify.h"

struct sink {
	int	 fd;
	char	 path[108];
	char	 dir[64];
};

static uint64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
sink_open(struct sink *s)
{
	struct sockaddr_un sun;
	struct timeval tv = { 2, 0 };

	snprintf(s->dir, sizeof(s->dir), "/tmp/ferry-notify.XXXXXX");
	assert_non_null(mkdtemp(s->dir));
	snprintf(s->path, sizeof(s->path), "%s/notify", s->dir);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, s->path, strlen(s->path) + 1);
	assert_true((s->fd = socket(AF_UNIX, SOCK_DGRAM, 0)) >= 0);
	assert_int_equal(bind(s->fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	assert_int_equal(setsockopt(s->fd, SOL_SOCKET, SO_RCVTIMEO, &tv,
	    sizeof(tv)), 0);
	setenv("NOTIFY_SOCKET", s->path, 1);
}

static void
sink_close(struct sink *s)
{
	close(s->fd);
	unlink(s->path);
	rmdir(s->dir);
	unsetenv("NOTIFY_SOCKET");
	unsetenv("WATCHDOG_USEC");
	unsetenv("WATCHDOG_PID");
}

/* One datagram, NUL-terminated; -1 after 2 s without one. */
static int
sink_recv(struct sink *s, char *buf, size_t len)
{
	ssize_t n = recv(s->fd, buf, len - 1, 0);

	if (n < 0)
		return -1;
	buf[n] = '\0';
	return 0;
}

static void
test_messages(void **state)
{
	struct sink s;
	char buf[1024];

	(void)state;
	sink_open(&s);
	notify_status("waiting for libvirt %s", "qemu:///system");
	assert_int_equal(sink_recv(&s, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "STATUS=waiting for libvirt qemu:///system");
	notify_ready("coordinating %d hosts", 3);
	assert_int_equal(sink_recv(&s, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "READY=1\nSTATUS=coordinating 3 hosts");
	/* A newline in a status (a host's error text) must not smuggle in an
	 * assignment of its own. */
	notify_status("error: %s", "bad\nREADY=1");
	assert_int_equal(sink_recv(&s, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "STATUS=error: bad");
	notify_stopping();
	assert_int_equal(sink_recv(&s, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "STOPPING=1\nSTATUS=shutting down");
	sink_close(&s);
}

/* Not started by systemd: nothing to do, and no watchdog. */
static void
test_no_socket(void **state)
{
	uv_loop_t loop;
	uv_timer_t t;
	uint64_t us = 1;

	(void)state;
	unsetenv("NOTIFY_SOCKET");
	unsetenv("WATCHDOG_USEC");
	notify_ready("nobody listens");
	notify_stopping();
	assert_int_equal(uv_loop_init(&loop), 0);
	assert_int_equal(notify_watchdog_start(&loop, &t, &us), 0);
	assert_int_equal(us, 0);
	/* WATCHDOG_USEC meant for another process is not ours. */
	setenv("WATCHDOG_USEC", "200000", 1);
	setenv("WATCHDOG_PID", "1", 1);
	assert_int_equal(notify_watchdog_start(&loop, &t, &us), 0);
	unsetenv("WATCHDOG_PID");
	setenv("WATCHDOG_USEC", "soon", 1);
	assert_int_equal(notify_watchdog_start(&loop, &t, &us), -1);
	unsetenv("WATCHDOG_USEC");
	assert_int_equal(uv_loop_close(&loop), 0);
}

/* Datagrams waiting on the socket: every ping the loop has sent so far
 * (sendmsg on a Unix datagram socket is synchronous). */
static int
sink_drain(struct sink *s, int *other)
{
	char buf[256];
	ssize_t n;
	int pings = 0;

	while ((n = recv(s->fd, buf, sizeof(buf) - 1, MSG_DONTWAIT)) >= 0) {
		buf[n] = '\0';
		if (strcmp(buf, "WATCHDOG=1") == 0)
			pings++;
		else
			(*other)++;
	}
	return pings;
}

struct wedge {
	struct sink	*s;
	uv_timer_t	 block, stop;
	uv_timer_t	*wd;
	int		 before, during, after, other;
};

static void	stop_cb(uv_timer_t *);

/* The loop wedged: 700 ms without returning to libuv. Nothing but the
 * loop may ping, so nothing may arrive meanwhile. */
static void
block_cb(uv_timer_t *t)
{
	struct wedge *w = t->data;
	uint64_t from;

	w->before = sink_drain(w->s, &w->other);
	from = mono_ms();
	while (mono_ms() - from < 700)
		;
	w->during = sink_drain(w->s, &w->other);
	uv_update_time(t->loop);
	uv_timer_start(&w->stop, stop_cb, 1000, 0);
}

static void
stop_cb(uv_timer_t *t)
{
	struct wedge *w = t->data;

	w->after = sink_drain(w->s, &w->other);
	uv_close((uv_handle_t *)&w->block, NULL);
	uv_close((uv_handle_t *)&w->stop, NULL);
	notify_watchdog_stop(w->wd);
}

static void
test_watchdog(void **state)
{
	struct sink s;
	struct wedge w;
	uv_loop_t loop;
	uv_timer_t wd;
	uint64_t us;
	char pid[32];

	(void)state;
	sink_open(&s);
	memset(&w, 0, sizeof(w));
	w.s = &s;
	/* 200 ms: a ping every 100 ms. */
	setenv("WATCHDOG_USEC", "200000", 1);
	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	setenv("WATCHDOG_PID", pid, 1);
	assert_int_equal(uv_loop_init(&loop), 0);
	assert_int_equal(notify_watchdog_start(&loop, &wd, &us), 1);
	assert_int_equal(us, 200000);
	w.wd = &wd;
	uv_timer_init(&loop, &w.block);
	uv_timer_init(&loop, &w.stop);
	w.block.data = w.stop.data = &w;
	/* 1 s of a healthy loop, 700 ms wedged, then 1 s healthy again. */
	uv_timer_start(&w.block, block_cb, 1000, 0);
	assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
	assert_int_equal(uv_loop_close(&loop), 0);
	sink_close(&s);

	print_message("# %d pings in the first second, %d while wedged, %d "
	    "in the second after\n", w.before, w.during, w.after);
	assert_int_equal(w.other, 0);
	/* About ten a second when healthy (at most one late catch-up after
	 * the wedge), none while wedged. */
	assert_in_range(w.before, 6, 11);
	assert_int_equal(w.during, 0);
	assert_in_range(w.after, 6, 12);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_messages),
		cmocka_unit_test(test_no_socket),
		cmocka_unit_test(test_watchdog),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
