/* ferryctl.h: the operator's command-line client. One file per command
 * (cmd-*.c), each exporting a descriptor gathered in ferryctl.c's table. */
#ifndef FERRY_FERRYCTL_H
#define FERRY_FERRYCTL_H

#include <signal.h>
#include <stdio.h>
#include <stdint.h>

#include <json-c/json.h>

#include "jsonv.h"
#include "migopts.h"
#include "msg.h"
#include "validate.h"

#define CTL_EXIT_OK		0
#define CTL_EXIT_FAIL		1	/* the operation failed or was refused */
#define CTL_EXIT_USAGE		2
#define CTL_EXIT_BLOCKED	3	/* a pre-check blocked (check, migrate) */
#define CTL_EXIT_UNREACHABLE	4	/* no coordinator at the socket */
#define CTL_EXIT_DENIED		5	/* not allowed: not in the socket's group */

/* Bounds of the options every migration command takes: what QEMU and a
 * network can do, not what the integer holds (validate.h: the API's too). */
#define CTL_MAX_BANDWIDTH_MIBS	VALIDATE_MAX_BANDWIDTH_MIBS
#define CTL_MAX_DOWNTIME_MS	VALIDATE_MAX_DOWNTIME_MS
#define CTL_MAX_TIMEOUT_S	VALIDATE_MAX_TIMEOUT_S
#define CTL_MAX_JOB_ID		INT64_MAX	/* the store's integer */
#define CTL_STR_(x)	#x
#define CTL_STR(x)	CTL_STR_(x)

struct ctl {
	const char	*socket;
	int		 fd;
	uint32_t	 serial;
	int		 denied;	/* refused as not in the group: exit 5 */
	int		 probing;	/* ctl_read: an EOF is not reported */
};

struct ctl_cmd {
	const char	*name;
	const char	*usage;		/* arguments, after the name */
	const char	*help;		/* one line */
	int		(*exec)(struct ctl *, int argc, char **argv);
};

/* client.c */
int	 ctl_connect(struct ctl *);
void	 ctl_close(struct ctl *);
int	 ctl_call(struct ctl *, uint16_t type, const ProtobufCMessage *,
	    const ProtobufCMessageDescriptor *reply_desc, ProtobufCMessage **reply);
int	 ctl_send(struct ctl *, uint16_t type, const ProtobufCMessage *,
	    uint32_t *serial);
int	 ctl_read(struct ctl *, int timeout_ms, struct frame **);
void	 ctl_print_frame_error(const struct frame *);

/* help.c */
void	 help_usage(FILE *, const struct ctl_cmd *);
int	 help_command(const struct ctl_cmd *);
int	 help_wanted(int argc, char **argv);

/* migopts.c: the options check and migrate share (and job set's) */
#define CTL_MIGOPTS_LONG						\
	{ "to", required_argument, NULL, 't' },				\
	{ "bandwidth", required_argument, NULL, 'b' },			\
	{ "max-downtime", required_argument, NULL, 'd' },		\
	{ "copy-storage", no_argument, NULL, 'c' },			\
	{ "parallel", required_argument, NULL, 'M' },			\
	{ "tls", no_argument, NULL, 'L' },				\
	{ "no-tls", no_argument, NULL, 'N' }
#define CTL_MIGOPTS_SHORT	"t:b:d:cM:LN"
/* 1: ch was one of them, 0: not, -1: a bad value (reported). */
int	 ctl_migopts_parse(struct migopts *, int ch, const char *arg);

/* output.c */
void	 out_set_json(int);		/* --json: strings printed as sent */
void	*out_unpack(const struct frame *, const ProtobufCMessageDescriptor *);
void	 out_sanitize(ProtobufCMessage *);	/* control chars -> \xHH */
const char *out_cell(const char *);	/* the same for one string */
void	 out_json(struct json_object *);	/* prints one line; takes the object */
void	 out_json_errors_on(void);	/* --json: errors as JSON on stdout */
int	 out_finish(int rc);		/* prints the JSON error; returns rc */
void	 out_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	 out_before_message(void (*)(void));
int	 out_usage(const struct ctl_cmd *);
int	 out_have_tty(void);
int	 out_confirm(const char *prompt, volatile sig_atomic_t *sigint);
/* A question that does not stop the caller: the terminal's fd to poll
 * (-1: none), its key (1 yes, 0 no, -1 none yet), closing it. */
int	 out_ask_open(const char *prompt);
int	 out_ask_key(void);
void	 out_ask_close(const char *answer);
void	 out_ask_restore(void);		/* async-signal-safe */

/* follow.c: the loop of every command that streams events. The command
 * gives the callbacks; each that returns int returns an exit status to end
 * the loop, or -1 to go on. */
struct follow;
struct follow_ops {
	uint16_t	 event_type;	/* the call's events (MSG_CTL_*_EVENT) */
	/* The call's reply (an error reply never comes here). */
	int	(*reply)(struct follow *, const struct frame *);
	/* One of its events; NULL: events are not followed. */
	int	(*event)(struct follow *, const struct frame *);
	/* The coordinator went away (or could not be written to). */
	void	(*lost)(struct follow *);
	/* Ctrl-C, when the command can interrupt what it follows (NULL ask:
	 * Ctrl-C is not caught). ask: 1 to interrupt now, 0 to ask prompt
	 * (written into it) first; pending: the Ctrl-C came before the reply.
	 * send: the abort or cancel, -1 if it could not go. sent_reply: its
	 * reply. again: a Ctrl-C after one sent (pending 0) or still pending
	 * (1). */
	int	(*ask)(struct follow *, int pending, char *prompt, size_t len);
	int	(*send)(struct follow *, uint32_t *serial);
	void	(*sent_reply)(struct follow *, const struct frame *);
	int	(*again)(struct follow *, int pending);
	/* The question opened or closed (follow's question, NULL when none):
	 * the live display drawn again with it. Returns 1 when that put the
	 * question on the terminal, 0 when follow must write it there. May
	 * be NULL (0). */
	int	(*redraw)(struct follow *);
};
struct follow {
	struct ctl		*c;
	const struct follow_ops	*ops;
	void			*arg;		/* the command's */
	int			 reply_wait_ms;
	/* Kept by follow_run: */
	uint32_t		 serial;	/* the call's */
	uint32_t		 sent_serial;	/* the interrupt's; 0: none */
	int			 pending;	/* a Ctrl-C before the reply */
	int			 have_reply;	/* an event callback may set it */
	volatile sig_atomic_t	*sigint;	/* for out_confirm */
	/* The question Ctrl-C opened, answered while events are still
	 * shown: its prompt (NULL: none open), for the command's redraw. */
	const char		*question;
	char			 qbuf[256];
	int			 question_written;	/* follow wrote it */
	int			 ask_fd;
};
/* Sends the call, then follows it. Returns the exit status. */
int	 follow_run(struct follow *, uint16_t type, const ProtobufCMessage *);

/* progress.c: a job's events as migrate and watch show them, and the
 * argument and time formats the job commands share */
#define PROGRESS_JSON		0x1	/* --json */
#define PROGRESS_ABORT_NOW	0x2	/* Ctrl-C aborts without asking */
int	 progress_follow(struct ctl *, uint16_t type, const ProtobufCMessage *,
	    int flags);
void	 progress_print_started(const Ferry__JobInfo *, int json);
int	 ctl_parse_id(const char *, uint64_t *);
int	 ctl_parse_num(const char *opt, const char *, uint64_t max, uint64_t *);
int	 ctl_parse_parallel(const char *, uint32_t *);
void	 ctl_fmt_time(uint64_t ms, int with_ms, char *, size_t);
void	 ctl_fmt_duration(uint64_t ms, char *, size_t);

/* cmd-jobctl.c: job set | postcopy | complete (argv[0] the subcommand) */
int	 jobctl_exec(struct ctl *, int argc, char **argv);

/* cmd-*.c */
extern const struct ctl_cmd cmd_hosts;
extern const struct ctl_cmd cmd_vms;
extern const struct ctl_cmd cmd_check;
extern const struct ctl_cmd cmd_migrate;
extern const struct ctl_cmd cmd_watch;
extern const struct ctl_cmd cmd_abort;
extern const struct ctl_cmd cmd_jobs;
extern const struct ctl_cmd cmd_job;
extern const struct ctl_cmd cmd_maintenance;
extern const struct ctl_cmd cmd_plan;
extern const struct ctl_cmd cmd_rebalance;
extern const struct ctl_cmd cmd_snapshot;
extern const struct ctl_cmd cmd_status;
extern const struct ctl_cmd cmd_place;
extern const struct ctl_cmd cmd_cpu_baseline;
extern const struct ctl_cmd cmd_audit;
extern const struct ctl_cmd cmd_metrics;
extern const struct ctl_cmd cmd_token;

#endif
