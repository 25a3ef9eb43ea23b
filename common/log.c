/* log.c: lines to the journal with their priority and context fields, or
 * timestamped on stderr (the lab's log files keep them); see log.h. */
#include <sys/stat.h>
#include <sys/uio.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

/* CODE_FILE= would always name this file. */
#define SD_JOURNAL_SUPPRESS_LOCATION
#include <systemd/sd-journal.h>

#include "log.h"

#define LOG_LINE	2048

static const char *log_procname = "ferry";
static int log_verbose;
static int log_journal;		/* stderr is the journal */
static int log_native;		/* and journald's socket was there */

#define JOURNAL_SOCKET	"/run/systemd/journal/socket"

/* systemd connects a service's stderr to the journal and says so in
 * JOURNAL_STREAM ("dev:ino"); a redirected stderr no longer matches. */
static int
log_stderr_is_journal(void)
{
	const char *e = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	if (e == NULL || sscanf(e, "%llu:%llu", &dev, &ino) != 2 ||
	    fstat(STDERR_FILENO, &st) == -1)
		return 0;
	return (unsigned long long)st.st_dev == dev &&
	    (unsigned long long)st.st_ino == ino;
}

void
log_init(const char *procname, int verbose)
{
	log_procname = procname;
	log_verbose = verbose;
	log_journal = log_stderr_is_journal();
	/* sd_journal_send drops lines silently when the socket is missing;
	 * then journald's stream, stderr, is the way in. */
	log_native = log_journal && access(JOURNAL_SOCKET, W_OK) == 0;
}

void
log_setverbose(int v)
{
	log_verbose = v;
}

int
log_getverbose(void)
{
	return log_verbose;
}

int
log_to_journal(void)
{
	return log_journal;
}

static const char *
log_level_name(int prio)
{
	switch (prio) {
	case LOG_ERR:
		return "fatal";
	case LOG_WARNING:
		return "warning";
	case LOG_INFO:
		return "info";
	default:
		return "debug";
	}
}

/* The length of the UTF-8 character at s, 0 if it is not one (overlong
 * forms and surrogates included). */
static size_t
log_utf8_len(const unsigned char *s)
{
	unsigned char lo = 0x80, hi = 0xbf;
	size_t n, i;

	if (*s >= 0xc2 && *s <= 0xdf)
		n = 2;
	else if (*s >= 0xe0 && *s <= 0xef) {
		n = 3;
		if (*s == 0xe0)
			lo = 0xa0;
		else if (*s == 0xed)
			hi = 0x9f;
	} else if (*s >= 0xf0 && *s <= 0xf4) {
		n = 4;
		if (*s == 0xf0)
			lo = 0x90;
		else if (*s == 0xf4)
			hi = 0x8f;
	} else
		return 0;
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (i = 2; i < n; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return n;
}

/*
 * Copies src to dst with every control character escaped in the manner
 * of vis(3) (\n, \r, \t, \\, \xHH; C1 controls and bytes that are not
 * UTF-8 as \xHH too): hosts' strings reach the logs, and one log call must
 * stay one line with no terminal escapes. Never cuts an escape or a
 * character in two. Returns the length.
 */
static size_t
log_escape(char *dst, size_t len, const char *src)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *s = (const unsigned char *)src;
	char e[8];
	size_t n = 0, k, used, i;

	while (*s) {
		used = 1;
		k = 0;
		if (*s == '\\' || *s == '\n' || *s == '\r' || *s == '\t') {
			e[k++] = '\\';
			e[k++] = *s == '\n' ? 'n' : *s == '\r' ? 'r' :
			    *s == '\t' ? 't' : '\\';
		} else if (*s >= 0x20 && *s < 0x7f)
			e[k++] = *s;
		else if (*s >= 0x80 && (used = log_utf8_len(s)) != 0 &&
		    !(s[0] == 0xc2 && s[1] < 0xa0))
			memcpy(e, s, k = used);
		else {
			/* C0, DEL, C1 (both bytes), or not UTF-8 (one). */
			used = used ? used : 1;
			for (i = 0; i < used; i++) {
				e[k++] = '\\';
				e[k++] = 'x';
				e[k++] = hex[s[i] >> 4];
				e[k++] = hex[s[i] & 0xf];
			}
		}
		if (n + k >= len)
			break;
		memcpy(dst + n, e, k);
		n += k;
		s += used;
	}
	if (len > 0)
		dst[n] = '\0';
	return n;
}

/* "job=42 vm=g1: ", as the text line shows the context. */
static void
log_ctx_text(const struct log_ctx *ctx, char *buf, size_t len)
{
	size_t n = 0;

	buf[0] = '\0';
	if (ctx == NULL)
		return;
	if (ctx->job && n < len)
		n += snprintf(buf + n, len - n, "job=%lld ", ctx->job);
	if (ctx->drain && n < len)
		n += snprintf(buf + n, len - n, "drain=%lld ", ctx->drain);
	if (ctx->vm && ctx->vm[0] && n < len)
		n += snprintf(buf + n, len - n, "vm=%s ", ctx->vm);
	if (ctx->host && ctx->host[0] && n < len)
		n += snprintf(buf + n, len - n, "host=%s ", ctx->host);
	if (n > 0 && n < len)
		snprintf(buf + n - 1, len - n + 1, ": ");
}

/* One datagram to journald; -1 if it did not take it. */
static int
log_journal_send(int prio, const struct log_ctx *ctx, const char *ctxtext,
    const char *msg)
{
	char m[LOG_LINE + 520], f[6][320];
	struct iovec iov[7];
	int n = 0, i;

	snprintf(m, sizeof(m), "MESSAGE=%s%s", ctxtext, msg);
	snprintf(f[n++], sizeof(f[0]), "PRIORITY=%d", prio);
	snprintf(f[n++], sizeof(f[0]), "SYSLOG_IDENTIFIER=%s", log_procname);
	if (ctx && ctx->job)
		snprintf(f[n++], sizeof(f[0]), "FERRY_JOB=%lld", ctx->job);
	if (ctx && ctx->drain)
		snprintf(f[n++], sizeof(f[0]), "FERRY_DRAIN=%lld", ctx->drain);
	if (ctx && ctx->vm && ctx->vm[0])
		snprintf(f[n++], sizeof(f[0]), "FERRY_VM=%s", ctx->vm);
	if (ctx && ctx->host && ctx->host[0])
		snprintf(f[n++], sizeof(f[0]), "FERRY_HOST=%s", ctx->host);
	iov[0].iov_base = m;
	iov[0].iov_len = strlen(m);
	for (i = 0; i < n; i++) {
		iov[i + 1].iov_base = f[i];
		iov[i + 1].iov_len = strlen(f[i]);
	}
	return sd_journal_sendv(iov, n + 1) == 0 ? 0 : -1;
}

static void
vlog(int prio, const struct log_ctx *ctx, int errnum, const char *fmt,
    va_list ap)
{
	char raw[LOG_LINE], msg[LOG_LINE], ctxtext[1024], line[LOG_LINE + 1100];
	char ts[32], vm[320], host[320];
	struct log_ctx ec;
	struct timespec now;
	struct tm tm;
	int n;

	n = vsnprintf(raw, sizeof(raw), fmt, ap);
	if (n < 0)
		raw[n = 0] = '\0';
	if ((size_t)n >= sizeof(raw))
		n = sizeof(raw) - 1;
	if (errnum)
		snprintf(raw + n, sizeof(raw) - n, ": %s", strerror(errnum));
	log_escape(msg, sizeof(msg), raw);
	if (ctx != NULL) {
		ec = *ctx;
		if (ec.vm != NULL) {
			log_escape(vm, sizeof(vm), ec.vm);
			ec.vm = vm;
		}
		if (ec.host != NULL) {
			log_escape(host, sizeof(host), ec.host);
			ec.host = host;
		}
		ctx = &ec;
	}
	log_ctx_text(ctx, ctxtext, sizeof(ctxtext));

	if (log_journal) {
		if (log_native && log_journal_send(prio, ctx, ctxtext, msg) == 0)
			return;
		/* journald's stream still reads the priority prefix. */
		n = snprintf(line, sizeof(line), "<%d>%s%s", prio, ctxtext, msg);
	} else {
		clock_gettime(CLOCK_REALTIME, &now);
		gmtime_r(&now.tv_sec, &tm);
		strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
		n = snprintf(line, sizeof(line), "%s.%03ldZ %s[%d] %s: %s%s",
		    ts, now.tv_nsec / 1000000, log_procname, (int)getpid(),
		    log_level_name(prio), ctxtext, msg);
	}
	if (n < 0)
		n = 0;
	if ((size_t)n >= sizeof(line) - 1)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	(void)!write(STDERR_FILENO, line, n);
}

#define LOGFN(name, prio, witherr, gate)				\
void									\
name(const char *fmt, ...)						\
{									\
	va_list ap;							\
	int saved = errno;						\
									\
	if (gate)							\
		return;							\
	va_start(ap, fmt);						\
	vlog(prio, NULL, witherr ? saved : 0, fmt, ap);			\
	va_end(ap);							\
	errno = saved;							\
}

#define LOGCTXFN(name, prio, witherr, gate)				\
void									\
name(const struct log_ctx *ctx, const char *fmt, ...)			\
{									\
	va_list ap;							\
	int saved = errno;						\
									\
	if (gate)							\
		return;							\
	va_start(ap, fmt);						\
	vlog(prio, ctx, witherr ? saved : 0, fmt, ap);			\
	va_end(ap);							\
	errno = saved;							\
}

LOGFN(log_warn, LOG_WARNING, 1, 0)
LOGFN(log_warnx, LOG_WARNING, 0, 0)
LOGFN(log_info, LOG_INFO, 0, 0)
LOGFN(log_debug, LOG_DEBUG, 0, log_verbose < 1)
LOGCTXFN(log_ctx_warn, LOG_WARNING, 1, 0)
LOGCTXFN(log_ctx_warnx, LOG_WARNING, 0, 0)
LOGCTXFN(log_ctx_info, LOG_INFO, 0, 0)
LOGCTXFN(log_ctx_debug, LOG_DEBUG, 0, log_verbose < 1)

void
fatal(const char *fmt, ...)
{
	va_list ap;
	int saved = errno;

	va_start(ap, fmt);
	vlog(LOG_ERR, NULL, saved, fmt, ap);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_ERR, NULL, 0, fmt, ap);
	va_end(ap);
	exit(1);
}
