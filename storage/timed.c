/* timed.c: run a possibly blocking filesystem or NFS operation with a deadline.
 *
 * Why a child process and not a thread: a thread stuck in stat() on a hung
 * NFS mount can be neither cancelled nor killed alone; each timed-out check
 * would leak a thread forever and hold whatever it locked. A forked child is
 * walked away from and killed: the kernel's NFS client waits killably
 * (TASK_KILLABLE), so SIGKILL usually ends it at once, and if it does not,
 * the child is only a process the kernel finishes later, reaped here
 * (timed_pending). The parent never waits longer than the deadline.
 *
 * The child runs fn and writes {rc, err} then out[outlen] to a pipe; the
 * parent polls the pipe until EOF or the deadline. The child closes every
 * inherited descriptor but the pipe first, so a child stuck in the kernel
 * does not keep hostd's sockets (SSH channel, libvirt) open. It only calls
 * what glibc keeps usable after fork in a threaded process (glibc resets
 * malloc's locks at fork); it leaves with _exit.
 */
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"
#include "storage.h"

#define TIMED_FD		3	/* the pipe's write end in the child */
#define TIMED_PENDING_MAX	64
#define TIMED_REAP_MS		50	/* wait this long for a killed child */

struct timed_hdr {
	int	rc;
	char	err[STORAGE_ERR_MAX];
};

static pthread_mutex_t	timed_lock = PTHREAD_MUTEX_INITIALIZER;
static pid_t		timed_pids[TIMED_PENDING_MAX];	/* killed, unreaped */
static int		timed_npids;

static int64_t
timed_now_ms(void)
{
	return (int64_t)clock_mono_ms();
}

/* Reap killed children that have finished dying. */
static void
timed_reap(void)
{
	int i, status;
	pid_t r;

	pthread_mutex_lock(&timed_lock);
	for (i = 0; i < timed_npids;) {
		r = waitpid(timed_pids[i], &status, WNOHANG);
		if (r == 0) {
			i++;
			continue;
		}
		/* Gone (or reaped by someone else: ECHILD). */
		timed_pids[i] = timed_pids[--timed_npids];
	}
	pthread_mutex_unlock(&timed_lock);
}

int
timed_pending(void)
{
	int n;

	timed_reap();
	pthread_mutex_lock(&timed_lock);
	n = timed_npids;
	pthread_mutex_unlock(&timed_lock);
	return n;
}

/* Kill pid and reap it if it dies quickly, else remember it. */
static void
timed_kill(pid_t pid)
{
	int64_t until;
	int status;
	pid_t r;

	(void)kill(pid, SIGKILL);
	until = timed_now_ms() + TIMED_REAP_MS;
	do {
		r = waitpid(pid, &status, WNOHANG);
		if (r == pid || (r == -1 && errno != EINTR))
			return;
		usleep(1000);
	} while (timed_now_ms() < until);
	pthread_mutex_lock(&timed_lock);
	if (timed_npids < TIMED_PENDING_MAX)
		timed_pids[timed_npids++] = pid;
	else
		log_warnx("timed: child %d stuck in the kernel, not tracked",
		    (int)pid);
	pthread_mutex_unlock(&timed_lock);
}

static int
timed_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	ssize_t n;

	while (len > 0) {
		n = write(fd, p, len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static void __attribute__((noreturn))
timed_child(int fd, timed_fn fn, void *arg, void *out, size_t outlen)
{
	struct timed_hdr h;

	/* Keep only stdio and the pipe (see above). */
	if (fd != TIMED_FD) {
		if (dup2(fd, TIMED_FD) == -1)
			_exit(1);
	}
	closefrom(TIMED_FD + 1);
	signal(SIGPIPE, SIG_DFL);
	/* hostd's libuv SIGCHLD handler (privsep's child watch) would run
	 * here when fn's own child exits, find its pipes closed and abort. */
	signal(SIGCHLD, SIG_DFL);

	memset(&h, 0, sizeof(h));
	h.rc = fn(arg, out, outlen, h.err, sizeof(h.err));
	h.err[sizeof(h.err) - 1] = '\0';
	if (timed_write_all(TIMED_FD, &h, sizeof(h)) == -1 ||
	    (outlen > 0 && timed_write_all(TIMED_FD, out, outlen) == -1))
		_exit(1);
	_exit(0);
}

static void
timed_seterr(char *err, size_t errlen, const char *msg)
{
	if (err != NULL && errlen > 0)
		snprintf(err, errlen, "%s", msg);
}

int
timed_call(int timeout_ms, timed_fn fn, void *arg, void *out, size_t outlen,
    char *err, size_t errlen)
{
	struct timed_hdr h;
	struct pollfd pfd;
	char msg[STORAGE_ERR_MAX];
	size_t got = 0, want = sizeof(h) + outlen;
	int64_t deadline;
	ssize_t n;
	pid_t pid;
	int fds[2], status, left, rv;

	if (timeout_ms <= 0 || fn == NULL || (outlen > 0 && out == NULL)) {
		timed_seterr(err, errlen, "timed_call: bad arguments");
		return -EINVAL;
	}
	timed_reap();
	if (pipe2(fds, O_CLOEXEC) == -1) {
		rv = -errno;
		snprintf(msg, sizeof(msg), "pipe: %s", strerror(errno));
		timed_seterr(err, errlen, msg);
		return rv;
	}
	deadline = timed_now_ms() + timeout_ms;
	if ((pid = fork()) == -1) {
		rv = -errno;
		snprintf(msg, sizeof(msg), "fork: %s", strerror(errno));
		timed_seterr(err, errlen, msg);
		close(fds[0]);
		close(fds[1]);
		return rv;
	}
	if (pid == 0) {
		close(fds[0]);
		timed_child(fds[1], fn, arg, out, outlen);
	}
	close(fds[1]);

	pfd.fd = fds[0];
	pfd.events = POLLIN;
	while (got < want) {
		left = (int)(deadline - timed_now_ms());
		if (left <= 0)
			break;
		n = poll(&pfd, 1, left);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			rv = -errno;
			snprintf(msg, sizeof(msg), "poll: %s", strerror(errno));
			goto kill;
		}
		if (n == 0)
			continue;
		if (got < sizeof(h))
			n = read(fds[0], (char *)&h + got, sizeof(h) - got);
		else
			n = read(fds[0], (char *)out + (got - sizeof(h)),
			    want - got);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;		/* EOF: the child died early */
		got += (size_t)n;
	}
	if (got < want) {
		if (timed_now_ms() >= deadline) {
			rv = -ETIMEDOUT;
			snprintf(msg, sizeof(msg), "timed out after %d ms",
			    timeout_ms);
		} else {
			rv = -EIO;
			snprintf(msg, sizeof(msg), "check process died");
		}
		goto kill;
	}
	close(fds[0]);
	/* The child wrote everything and is in _exit. */
	while (waitpid(pid, &status, 0) == -1 && errno == EINTR)
		;
	h.err[sizeof(h.err) - 1] = '\0';
	if (h.err[0] != '\0')
		timed_seterr(err, errlen, h.err);
	return h.rc;
 kill:
	close(fds[0]);
	timed_kill(pid);
	timed_seterr(err, errlen, msg);
	return rv;
}
