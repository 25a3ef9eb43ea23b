/* test_log.c: what a log line looks like where it goes: timestamped with
 * its context in the lab's files, and, where stderr is the journal
 * (JOURNAL_STREAM), a journald datagram with PRIORITY= and the FERRY_*
 * fields, or a "<N>" line when journald does not take it. The journal is
 * a datagram socket of ours at /run/systemd/journal/socket, in a mount
 * namespace of the test's own. */
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <regex.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "log.h"

/* stderr goes to a file for the test's length; what was written is read
 * back from where the last read stopped. */
struct capture {
	char	 path[64];
	int	 fd, saved;
	off_t	 off;
};

/* The real stderr while one is captured, for failure messages. */
static int cap_saved = -1;

static void
cap_start(struct capture *c)
{
	snprintf(c->path, sizeof(c->path), "/tmp/ferry-test-log.XXXXXX");
	assert_true((c->fd = mkstemp(c->path)) >= 0);
	assert_true((c->saved = dup(STDERR_FILENO)) >= 0);
	assert_true(dup2(c->fd, STDERR_FILENO) >= 0);
	cap_saved = c->saved;
	c->off = 0;
}

static char *
cap_read(struct capture *c)
{
	static char buf[16384];
	ssize_t n;

	n = pread(c->fd, buf, sizeof(buf) - 1, c->off);
	assert_true(n >= 0);
	buf[n] = '\0';
	c->off += n;
	return buf;
}

static void
cap_stop(struct capture *c)
{
	dup2(c->saved, STDERR_FILENO);
	close(c->saved);
	cap_saved = -1;
	close(c->fd);
	unlink(c->path);
	unsetenv("JOURNAL_STREAM");
}

/* After a failed assertion skipped cap_stop: the real stderr back. */
static int
cap_teardown(void **state)
{
	(void)state;
	if (cap_saved != -1) {
		dup2(cap_saved, STDERR_FILENO);
		close(cap_saved);
		cap_saved = -1;
	}
	unsetenv("JOURNAL_STREAM");
	return 0;
}

/* JOURNAL_STREAM naming the capture file: stderr "is" the journal. */
static void
cap_as_journal(struct capture *c)
{
	struct stat st;
	char v[64];

	assert_int_equal(fstat(c->fd, &st), 0);
	snprintf(v, sizeof(v), "%llu:%llu", (unsigned long long)st.st_dev,
	    (unsigned long long)st.st_ino);
	setenv("JOURNAL_STREAM", v, 1);
}

static void
assert_match(const char *s, const char *re)
{
	regex_t r;
	int rc;

	assert_int_equal(regcomp(&r, re, REG_EXTENDED | REG_NOSUB), 0);
	rc = regexec(&r, s, 0, NULL, 0);
	regfree(&r);
	if (rc != 0) {
		if (cap_saved != -1)
			dprintf(cap_saved, "'%s' does not match /%s/\n", s, re);
		fail_msg("'%s' does not match /%s/", s, re);
	}
}

#define TS	"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z "

static void
test_text(void **state)
{
	struct capture c;

	(void)state;
	unsetenv("JOURNAL_STREAM");
	cap_start(&c);
	log_init("test-log", 0);
	assert_false(log_to_journal());
	log_info("hello %d", 1);
	assert_match(cap_read(&c), TS "test-log\\[[0-9]+\\] info: hello 1\n$");
	log_debug("not at verbosity 0");
	assert_string_equal(cap_read(&c), "");
	errno = ENOENT;
	log_warn("open %s", "x");
	assert_match(cap_read(&c), TS "test-log\\[[0-9]+\\] warning: open x: "
	    "No such file or directory\n$");
	log_job_info(42, "g1", "checking -> migrating");
	assert_match(cap_read(&c), TS "test-log\\[[0-9]+\\] info: job=42 vm=g1: "
	    "checking -> migrating\n$");
	log_drain_warnx(7, "h2", "a pre-check failed");
	assert_match(cap_read(&c), TS "test-log\\[[0-9]+\\] warning: drain=7 "
	    "host=h2: a pre-check failed\n$");
	log_ctx_info(&(struct log_ctx){ .drain = 3, .vm = "g2" }, "retrying");
	assert_match(cap_read(&c), TS "test-log\\[[0-9]+\\] info: drain=3 vm=g2: "
	    "retrying\n$");
	/* A rebalance run has no host: no empty "host=". */
	log_drain_info(9, "", "2 moves");
	assert_match(cap_read(&c), TS "test-log\\[[0-9]+\\] info: drain=9: "
	    "2 moves\n$");
	/* A redirected stderr is not the journal, whatever the environment
	 * says (a child of a service writing to a file). */
	setenv("JOURNAL_STREAM", "1:1", 1);
	log_init("test-log", 0);
	assert_false(log_to_journal());
	cap_stop(&c);
}

/* What a host sends reaches the logs (errors, names, URIs): one call must
 * stay one line, and no terminal escape may reach whoever reads it. */
static void
test_escape(void **state)
{
	struct capture c;

	(void)state;
	unsetenv("JOURNAL_STREAM");
	cap_start(&c);
	log_init("test-log", 0);
	log_warnx("hostd says: %s", "ok\n2026-01-01T00:00:00.000Z ferry[1] "
	    "info: job 7: succeeded");
	assert_match(cap_read(&c), TS "test-log\\[[0-9]+\\] warning: hostd "
	    "says: ok\\\\n2026-01-01T00:00:00\\.000Z ferry\\[1\\] info: job 7: "
	    "succeeded\n$");
	log_info("%s", "red\x1b[31m bell\a cr\r tab\t del\x7f nul-less \\ end");
	assert_match(cap_read(&c), "info: red\\\\x1b\\[31m bell\\\\x07 "
	    "cr\\\\r tab\\\\t del\\\\x7f nul-less \\\\\\\\ end\n$");
	/* UTF-8 stays; C1 controls (U+009B is a CSI) and bytes that are not
	 * UTF-8 do not. */
	log_info("%s", "caf\xc3\xa9 csi\xc2\x9b[2J bad\xff\xc3(");
	assert_match(cap_read(&c), "info: caf\xc3\xa9 csi\\\\xc2\\\\x9b\\[2J "
	    "bad\\\\xff\\\\xc3\\(\n$");
	/* The context too: a VM's name comes from a host's inventory. */
	log_job_info(3, "g1\nforged", "moved");
	assert_match(cap_read(&c), "info: job=3 vm=g1\\\\nforged: moved\n$");
	/* strerror's text and an over-long line: still one line. */
	{
		char big[4096];

		memset(big, '\n', sizeof(big) - 1);
		big[sizeof(big) - 1] = '\0';
		log_info("%s", big);
		assert_match(cap_read(&c), "^[^\n]*\n$");
	}
	cap_stop(&c);
}

/* In the child, in its own mount namespace with a tmpfs on /run: journald
 * absent, then a journal socket of ours. Writes what journald received to
 * fd out, one datagram. Exits 77 when namespaces are not allowed. */
static void
journal_child(struct capture *c, int out)
{
	struct sockaddr_un sun;
	struct timeval tv = { 5, 0 };
	char buf[8192];
	ssize_t n;
	int fd;

	if (unshare(CLONE_NEWNS) == -1 ||
	    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == -1 ||
	    mount("tmpfs", "/run", "tmpfs", 0, "mode=0755") == -1)
		_exit(77);
	if (mkdir("/run/systemd", 0755) == -1 ||
	    mkdir("/run/systemd/journal", 0755) == -1)
		_exit(2);
	cap_as_journal(c);
	log_init("test-log", 1);
	if (!log_to_journal())
		_exit(3);
	/* No journald: the line goes to stderr with its priority. */
	log_job_warnx(42, "g1", "source went down");
	log_debug("debug line");
	fflush(NULL);

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path),
	    "/run/systemd/journal/socket");
	if ((fd = socket(AF_UNIX, SOCK_DGRAM, 0)) == -1 ||
	    bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1 ||
	    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) == -1)
		_exit(4);
	log_init("test-log", 1);
	log_ctx_info(&(struct log_ctx){ .job = 42, .vm = "g1", .host = "h2" },
	    "%s -> %s", "checking", "migrating");
	if ((n = recv(fd, buf, sizeof(buf), 0)) <= 0)
		_exit(5);
	if (write(out, buf, n) != n)
		_exit(6);
	/* A newline in a field would make journald read the rest as a
	 * field of its own choosing. */
	log_job_warnx(43, "g2\nFERRY_JOB=1", "lie\nPRIORITY=0");
	if ((n = recv(fd, buf, sizeof(buf), 0)) <= 0)
		_exit(7);
	if (write(out, buf, n) != n)
		_exit(8);
	_exit(0);
}

static void
test_journal(void **state)
{
	struct capture c;
	char got[8192], *text;
	int p[2], status;
	pid_t pid;
	ssize_t n, r;

	(void)state;
	cap_start(&c);
	assert_int_equal(pipe(p), 0);
	assert_true((pid = fork()) >= 0);
	if (pid == 0) {
		close(p[0]);
		journal_child(&c, p[1]);
	}
	close(p[1]);
	/* Both datagrams, whatever the reads return. */
	for (n = 0; n < (ssize_t)sizeof(got) - 1; n += r)
		if ((r = read(p[0], got + n, sizeof(got) - 1 - n)) <= 0)
			break;
	close(p[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (WIFEXITED(status) && WEXITSTATUS(status) == 77) {
		cap_stop(&c);
		skip();
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		cap_stop(&c);
		fail_msg("journal child: status 0x%x", status);
	}
	/* journald absent: "<4>" and "<7>" prefixes, no timestamp (journald
	 * keeps its own), the context in the text. */
	text = cap_read(&c);
	cap_stop(&c);
	assert_string_equal(text,
	    "<4>job=42 vm=g1: source went down\n"
	    "<7>debug line\n");
	/* journald present: one datagram, its fields one a line. */
	assert_true(n > 0);
	got[n] = '\0';
	assert_string_equal(got,
	    "MESSAGE=job=42 vm=g1 host=h2: checking -> migrating\n"
	    "PRIORITY=6\n"
	    "SYSLOG_IDENTIFIER=test-log\n"
	    "FERRY_JOB=42\n"
	    "FERRY_VM=g1\n"
	    "FERRY_HOST=h2\n"
	    "MESSAGE=job=43 vm=g2\\nFERRY_JOB=1: lie\\nPRIORITY=0\n"
	    "PRIORITY=4\n"
	    "SYSLOG_IDENTIFIER=test-log\n"
	    "FERRY_JOB=43\n"
	    "FERRY_VM=g2\\nFERRY_JOB=1\n");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_text, cap_teardown),
		cmocka_unit_test_teardown(test_escape, cap_teardown),
		cmocka_unit_test_teardown(test_journal, cap_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
