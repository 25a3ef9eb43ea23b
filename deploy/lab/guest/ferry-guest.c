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
 *   FERRY-HB seq=N boot=XXXXXXXX mono_ms=M rtc=S dirtied_mib=D dirty_mibs=R bad=B lag_ms=L end
 *
 *   seq      0, 1, 2, ... (+1 per line; back to 0 only when the guest booted again)
 *   boot     random id chosen at start (changes only on reboot)
 *   mono_ms  guest CLOCK_MONOTONIC in ms (does not advance while the VM is paused)
 *   rtc      the emulated CMOS RTC, seconds since the epoch: QEMU drives it from the
 *            host clock, so it does advance while paused (1 s resolution); -1 if unreadable
 *   dirtied_mib  MiB written since the start
 *   dirty_mibs   MiB/s actually written since the last beat (guest time): below
 *            DIRTY_RATE while something (a migration's throttle) slows the guest
 *   lag_ms   how late this beat is against its 1 s schedule (guest time)
 *
 * The heartbeat and the dirtying are two processes (the dirtier at nice 10,
 * sharing the buffer's counters): a throttled guest dirties less but still
 * beats on time, so a gap means the guest stopped, and dirty_mibs shows
 * how much it was slowed.
 *
 * Parameters: argv "--mib N --rate N" or, failing that, ferry.dirty_mib= and
 * ferry.dirty_rate= from /proc/cmdline.  Defaults 32 MiB and 16 MiB/s.
 *
 * With ferry.disk_verify=1 (or argv "--disk PATH") it also checks its disk, so
 * that a migration that copies the disk (NBD) is judged from inside: once per
 * beat it writes one 4 KiB block of a 64-block region at DISK_OFFSET (O_DIRECT,
 * O_DSYNC: past the guest's cache), each block holding words derived from the
 * boot id, the block and its generation, then re-reads every block it has
 * written and compares.  Its expectations live in guest memory, which the
 * migration carries: on the destination it reads the copy.  One line a beat:
 *
 *   FERRY-DISK seq=N rtc=S written=W verified=V bad=B end
 *
 *   written  blocks written so far;  verified  blocks read back equal this beat
 *   bad      blocks that ever read back different (or failed), cumulative
 *
 * Build: gcc -O2 -static -o ferry-guest ferry-guest.c
 */
#define _GNU_SOURCE /* O_DIRECT */
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

#define DISK_BLOCKS 64
#define DISK_OFFSET (48ULL * 1024 * 1024) /* clear of the lab's qemu-io patterns */

struct disk {
	int fd;
	uint64_t salt;
	uint64_t gen[DISK_BLOCKS]; /* 0: never written */
	uint64_t written, bad;
	uint64_t *buf;             /* one aligned block (O_DIRECT) */
};

static uint64_t disk_word(const struct disk *d, uint64_t blk, uint64_t gen, uint64_t i)
{
	uint64_t x = d->salt ^ (blk << 48) ^ (gen << 16) ^ i;
	x ^= x >> 33; /* splitmix-style mixing: every word differs */
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	return x;
}

/* The disk appears once /init's modules probed it: wait for it. */
static int disk_open(struct disk *d, const char *path, uint64_t salt)
{
	memset(d, 0, sizeof *d);
	d->fd = -1;
	d->salt = salt;
	for (int i = 0; i < 300 && d->fd < 0; i++) {
		d->fd = open(path, O_RDWR | O_DIRECT | O_DSYNC | O_CLOEXEC);
		if (d->fd < 0) {
			struct timespec ts = { 0, 100000000L };
			nanosleep(&ts, NULL);
		}
	}
	if (d->fd < 0) {
		sayf("FERRY-ERR disk %s: %s\n", path, strerror(errno));
		return -1;
	}
	void *p = NULL;
	if (posix_memalign(&p, PAGE, PAGE) != 0) {
		close(d->fd);
		d->fd = -1;
		return -1;
	}
	d->buf = p;
	return 0;
}

static void disk_beat(struct disk *d, uint64_t seq)
{
	uint64_t blk = seq % DISK_BLOCKS, gen = seq / DISK_BLOCKS + 1, verified = 0;
	off_t off;

	for (uint64_t i = 0; i < PAGE / 8; i++)
		d->buf[i] = disk_word(d, blk, gen, i);
	off = (off_t)(DISK_OFFSET + blk * PAGE);
	if (pwrite(d->fd, d->buf, PAGE, off) == (ssize_t)PAGE) {
		d->gen[blk] = gen;
		d->written++;
	} else {
		sayf("FERRY-ERR disk write block %" PRIu64 ": %s\n", blk, strerror(errno));
		d->bad++;
	}
	for (uint64_t b = 0; b < DISK_BLOCKS; b++) {
		if (d->gen[b] == 0)
			continue;
		off = (off_t)(DISK_OFFSET + b * PAGE);
		int same = pread(d->fd, d->buf, PAGE, off) == (ssize_t)PAGE;
		for (uint64_t i = 0; same && i < PAGE / 8; i++)
			same = d->buf[i] == disk_word(d, b, d->gen[b], i);
		if (same) {
			verified++;
			continue;
		}
		if (d->bad < 5)
			sayf("FERRY-ERR disk block %" PRIu64 " generation %" PRIu64
			     " did not read back\n", b, d->gen[b]);
		d->bad++;
	}
	sayf("FERRY-DISK seq=%" PRIu64 " rtc=%lld written=%" PRIu64 " verified=%" PRIu64
	     " bad=%" PRIu64 " end\n", seq, rtc_seconds(), d->written, verified, d->bad);
}

int main(int argc, char **argv)
{
	unsigned long mib = (unsigned long)-1, rate = (unsigned long)-1;
	const char *disk_path = NULL;
	for (int i = 1; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--mib") == 0)
			mib = strtoul(argv[i + 1], NULL, 10);
		else if (strcmp(argv[i], "--rate") == 0)
			rate = strtoul(argv[i + 1], NULL, 10);
		else if (strcmp(argv[i], "--disk") == 0)
			disk_path = argv[i + 1];
	}
	if (disk_path == NULL && cmdline_param("ferry.disk_verify", 0) == 1)
		disk_path = "/dev/vda";
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

	static struct disk disk;
	int verify = disk_path != NULL && disk_open(&disk, disk_path, salt ^ 0xd15c) == 0;

	sayf("FERRY-START boot=%08x dirty_mib=%lu dirty_rate=%lu\n", boot, mib, rate);

	/* Counters shared with the dirtier. */
	struct shared { volatile uint64_t written, bad; } *sh =
		mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED) {
		sayf("FERRY-ERR cannot map counters: %s\n", strerror(errno));
		return 1;
	}
	sh->written = sh->bad = 0;
	pid_t child = per_slice > 0 ? fork() : -1;
	if (child == 0) {
		(void)nice(10);
		uint64_t cursor = 0, pass = 0, bad = 0;
		int64_t next = now_ns();
		for (;;) {
			for (uint64_t k = 0; k < per_slice; k++) {
				uint64_t *w = &mem[cursor * (PAGE / 8)];
				if (*w != expected(salt, cursor, pass)) {
					if (bad < 5)
						sayf("FERRY-ERR page %" PRIu64 " pass %" PRIu64
						     " holds %016" PRIx64 "\n", cursor, pass, *w);
					bad++;
					sh->bad = bad;
				}
				*w = expected(salt, cursor, pass + 1);
				sh->written++;
				if (++cursor == npages) {
					cursor = 0;
					pass++;
				}
			}
			next += SLICE_NS;
			int64_t t = now_ns();
			if (t - next > 200000000LL)
				next = t; /* behind (starved): no catching up in a burst */
			if (next > t) {
				struct timespec ts = { .tv_sec = next / 1000000000LL, .tv_nsec = next % 1000000000LL };
				while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
					;
			}
		}
	}
	if (per_slice > 0 && child < 0)
		sayf("FERRY-ERR cannot fork the dirtier: %s\n", strerror(errno));

	uint64_t seq = 0, pwritten = 0;
	int64_t start = now_ns(), pt = start;
	for (;;) {
		int64_t due = start + (int64_t)(seq + 1) * SLICES_PER_BEAT * SLICE_NS;
		struct timespec ts = { .tv_sec = due / 1000000000LL, .tv_nsec = due % 1000000000LL };
		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
			;
		int64_t t = now_ns();
		long long lag = t > due ? (t - due) / 1000000 : 0;
		uint64_t written = sh->written;
		double mibs = t > pt ? (double)(written - pwritten) * PAGE / (1024.0 * 1024.0) /
			((double)(t - pt) / 1e9) : 0;
		sayf("FERRY-HB seq=%" PRIu64 " boot=%08x mono_ms=%lld rtc=%lld dirtied_mib=%" PRIu64
		     " dirty_mibs=%.1f bad=%" PRIu64 " lag_ms=%lld end\n",
		     seq, boot, (long long)(t / 1000000), rtc_seconds(),
		     written * PAGE / (1024 * 1024), mibs, (uint64_t)sh->bad, lag);
		if (verify)
			disk_beat(&disk, seq);
		pwritten = written;
		pt = t;
		seq++;
	}
}
