/*
 * ferry-guest: the program a Ferry lab guest runs (as PID 1, exec'd by /init).
 *
 * It allocates DIRTY_MIB MiB of memory and keeps rewriting it at DIRTY_RATE MiB/s,
 * paced in 100 ms slices, so that a live migration always has pages to resend.
 * Each slice writes one 64-bit word into each of (rate MiB / 10) consecutive 4 KiB
 * pages (wrapping around the buffer): every page written counts as 4 KiB dirtied,
 * which is what the migration has to copy.  Before it rewrites a word it checks that
 * the word still holds what it wrote there last time: a page lost or corrupted by a
 * migration is counted in "bad=".
 *
 * Once per second it prints one heartbeat line to the serial console:
 *
 *   FERRY-HB seq=N boot=XXXXXXXX mono_ms=M rtc=S dirtied_mib=D bad=B lag_ms=L end
 *
 *   seq      0, 1, 2, ... (+1 per line; back to 0 only when the guest booted again)
 *   boot     random id chosen at start (changes only on reboot)
 *   mono_ms  guest CLOCK_MONOTONIC in ms (does not advance while the VM is paused)
 *   rtc      the emulated CMOS RTC, seconds since the epoch: QEMU drives it from the
 *            host clock, so it does advance while paused (1 s resolution); -1 if unreadable
 *   lag_ms   how late this beat is against its 1 s schedule (guest time)
 *
 * Parameters: argv "--mib N --rate N" or, failing that, ferry.dirty_mib= and
 * ferry.dirty_rate= from /proc/cmdline.  Defaults 32 MiB and 16 MiB/s.
 *
 * Build: gcc -O2 -static -o ferry-guest ferry-guest.c
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/rtc.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#define PAGE 4096u
#define SLICE_NS 100000000LL /* 100 ms */
#define SLICES_PER_BEAT 10

static int console_fd = -1;

static void say(const char *buf, size_t len)
{
	if (console_fd < 0) {
		const char *env = getenv("FERRY_GUEST_OUT"); /* for testing outside a guest */
		const char *paths[] = { env ? env : "/dev/ttyS0", "/dev/console", NULL };
		for (int i = 0; paths[i] && console_fd < 0; i++)
			console_fd = open(paths[i], O_WRONLY | O_NOCTTY | O_CLOEXEC);
		if (console_fd < 0)
			console_fd = STDOUT_FILENO;
	}
	while (len > 0) {
		ssize_t n = write(console_fd, buf, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return;
		}
		buf += n;
		len -= (size_t)n;
	}
}

static void sayf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void sayf(const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof buf)
		n = sizeof buf - 1;
	say(buf, (size_t)n);
}

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* The CMOS RTC read through /dev/rtc0: host time in QEMU (clock=host), 1 s resolution. */
static long long rtc_seconds(void)
{
	static int fd = -2;
	if (fd == -2)
		fd = open("/dev/rtc0", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	struct rtc_time rt;
	memset(&rt, 0, sizeof rt);
	if (ioctl(fd, RTC_RD_TIME, &rt) < 0)
		return -1;
	struct tm tm;
	memset(&tm, 0, sizeof tm);
	tm.tm_sec = rt.tm_sec;
	tm.tm_min = rt.tm_min;
	tm.tm_hour = rt.tm_hour;
	tm.tm_mday = rt.tm_mday;
	tm.tm_mon = rt.tm_mon;
	tm.tm_year = rt.tm_year;
	return (long long)timegm(&tm);
}

static unsigned long cmdline_param(const char *name, unsigned long dflt)
{
	char buf[4096];
	int fd = open("/proc/cmdline", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return dflt;
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return dflt;
	buf[n] = '\0';
	size_t len = strlen(name);
	for (char *tok = strtok(buf, " \t\n"); tok; tok = strtok(NULL, " \t\n"))
		if (strncmp(tok, name, len) == 0 && tok[len] == '=')
			return strtoul(tok + len + 1, NULL, 10);
	return dflt;
}

static uint64_t expected(uint64_t salt, uint64_t page, uint64_t pass)
{
	return salt ^ (pass << 32) ^ page;
}

int main(int argc, char **argv)
{
	unsigned long mib = (unsigned long)-1, rate = (unsigned long)-1;
	for (int i = 1; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--mib") == 0)
			mib = strtoul(argv[i + 1], NULL, 10);
		else if (strcmp(argv[i], "--rate") == 0)
			rate = strtoul(argv[i + 1], NULL, 10);
	}
	if (mib == (unsigned long)-1)
		mib = cmdline_param("ferry.dirty_mib", 32);
	if (rate == (unsigned long)-1)
		rate = cmdline_param("ferry.dirty_rate", 16);

	uint32_t boot = 0;
	if (getrandom(&boot, sizeof boot, GRND_NONBLOCK) != sizeof boot)
		boot = (uint32_t)now_ns() ^ (uint32_t)getpid();
	uint64_t salt = ((uint64_t)boot << 16) | 0x5a5a;

	uint64_t npages = (uint64_t)mib * (1024 * 1024 / PAGE);
	uint64_t *mem = NULL;
	if (npages > 0) {
		void *p = mmap(NULL, npages * PAGE, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED) {
			sayf("FERRY-ERR cannot allocate %lu MiB: %s\n", mib, strerror(errno));
			npages = 0;
		} else {
			mem = p;
			for (uint64_t i = 0; i < npages; i++)
				mem[i * (PAGE / 8)] = expected(salt, i, 0);
		}
	}
	/* Pages to write per 100 ms slice. */
	uint64_t per_slice = (uint64_t)rate * (1024 * 1024 / PAGE) / SLICES_PER_BEAT;
	if (npages == 0)
		per_slice = 0;

	sayf("FERRY-START boot=%08x dirty_mib=%lu dirty_rate=%lu\n", boot, mib, rate);

	uint64_t seq = 0, cursor = 0, pass = 0, written = 0, bad = 0;
	int64_t start = now_ns();
	int64_t next = start;
	int slice = 0;
	for (;;) {
		for (uint64_t k = 0; k < per_slice; k++) {
			uint64_t *w = &mem[cursor * (PAGE / 8)];
			if (*w != expected(salt, cursor, pass)) {
				if (bad < 5)
					sayf("FERRY-ERR page %" PRIu64 " pass %" PRIu64
					     " holds %016" PRIx64 "\n", cursor, pass, *w);
				bad++;
			}
			*w = expected(salt, cursor, pass + 1);
			written++;
			if (++cursor == npages) {
				cursor = 0;
				pass++;
			}
		}
		if (++slice == SLICES_PER_BEAT) {
			slice = 0;
			int64_t t = now_ns();
			int64_t due = start + (int64_t)(seq + 1) * SLICES_PER_BEAT * SLICE_NS;
			long long lag = t > due ? (t - due) / 1000000 : 0;
			sayf("FERRY-HB seq=%" PRIu64 " boot=%08x mono_ms=%lld rtc=%lld dirtied_mib=%" PRIu64
			     " bad=%" PRIu64 " lag_ms=%lld end\n",
			     seq, boot, (long long)(t / 1000000), rtc_seconds(),
			     written * PAGE / (1024 * 1024), bad, lag);
			seq++;
		}
		next += SLICE_NS;
		int64_t t = now_ns();
		if (t - next > 1000000000LL)
			next = t; /* far behind (starved): do not try to catch up in a burst */
		if (next > t) {
			struct timespec ts = { .tv_sec = next / 1000000000LL, .tv_nsec = next % 1000000000LL };
			while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
				;
		}
	}
}
