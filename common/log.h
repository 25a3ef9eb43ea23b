/* Logging in the manner of OpenBSD's daemons: log_warn appends strerror(errno),
 * log_warnx does not; fatal/fatalx log and exit(1). Thread-safe (one write(2)
 * or one journal datagram per line).
 *
 * Where stderr is the journal (systemd's JOURNAL_STREAM names stderr), lines
 * go to journald with sd_journal_send: PRIORITY= (err 3, warning 4, info 6,
 * debug 7) and, for the log_ctx_* calls, structured fields FERRY_JOB=,
 * FERRY_VM=, FERRY_HOST= and FERRY_DRAIN=, so `journalctl -u
 * ferry-coordinator FERRY_JOB=42` finds one job's story. Should journald's
 * socket be missing at log_init, or journald not take a line, it goes to
 * stderr with a "<4>"-style prefix (sd-daemon(3)).
 * Anywhere else (the lab's log files, a terminal), lines are timestamped
 * and the context is written in the line: "job=42 vm=g1: ...". */
#ifndef FERRY_LOG_H
#define FERRY_LOG_H

#include <stdarg.h>

/* What a line is about; 0 and NULL members are left out. */
struct log_ctx {
	long long	 job;		/* FERRY_JOB= */
	const char	*vm;		/* FERRY_VM= */
	const char	*host;		/* FERRY_HOST= */
	long long	 drain;		/* FERRY_DRAIN= (drains and rebalance runs) */
};

void	log_init(const char *procname, int verbose);
void	log_setverbose(int);
int	log_getverbose(void);
int	log_to_journal(void);
void	log_warn(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_warnx(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_info(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_debug(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_ctx_warn(const struct log_ctx *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
void	log_ctx_warnx(const struct log_ctx *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
void	log_ctx_info(const struct log_ctx *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
void	log_ctx_debug(const struct log_ctx *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
void	fatal(const char *, ...) __attribute__((format(printf, 1, 2), noreturn));
void	fatalx(const char *, ...) __attribute__((format(printf, 1, 2), noreturn));

/* A job's lines (job.c) and a drain's (drain.c). */
#define log_job_info(j_, vm_, ...)					\
	log_ctx_info(&(struct log_ctx){ .job = (j_), .vm = (vm_) }, __VA_ARGS__)
#define log_job_warnx(j_, vm_, ...)					\
	log_ctx_warnx(&(struct log_ctx){ .job = (j_), .vm = (vm_) }, __VA_ARGS__)
#define log_drain_info(d_, host_, ...)					\
	log_ctx_info(&(struct log_ctx){ .drain = (d_), .host = (host_) },	\
	    __VA_ARGS__)
#define log_drain_warnx(d_, host_, ...)					\
	log_ctx_warnx(&(struct log_ctx){ .drain = (d_), .host = (host_) },	\
	    __VA_ARGS__)

#endif
