/* progress.c: following a job's events (migrate, watch): one JSON object
 * per line, a live line redrawn in place on a terminal, or plain lines at
 * most once a second into a pipe. Also the number and time formats the job
 * commands share. */
#include <sys/ioctl.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ferryctl.h"
#include "validate.h"

#define ERASE_LINE	"\r\033[K"
#define REPLY_WAIT_MS	60000
#define PLAIN_EVERY_MS	1000

enum mode { MODE_JSON, MODE_TTY, MODE_PLAIN };

struct progress {
	struct follow	*fl;
	enum mode	 mode;
	int		 have_reply;
	int		 started_shown;
	int		 line_open;	/* a progress line waits for its \n */
	char		 last[512];	/* that line's text, for redraws */
	uint64_t	 last_plain_ms;
	uint64_t	 job;
	char		*kind, *vm, *state, *source, *destination;
	char		*action;	/* the policy's decision last shown */
	int		 abort_now;	/* --abort-on-interrupt */
};

static struct progress *progress_cur;	/* whose line out_fail must close */

static uint64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
set_str(char **dst, const char *src)
{
	if (src == NULL || src[0] == '\0')
		return;
	free(*dst);
	*dst = strdup(src);
}

static const char *
or_dash(const char *s)
{
	return s ? s : "-";
}

/* What earlier messages told of the job, for the events that leave it out. */
static void
known_of(const struct progress *f, Ferry__JobInfo *k)
{
	ferry__job_info__init(k);
	k->id = f->job;
	k->kind = f->kind;
	k->vm = f->vm;
	k->state = f->state;
	k->source = f->source;
	k->destination = f->destination;
}

/* One event of the stream as JSON. */
static void
show_json(const struct progress *f, const char *event,
    const Ferry__JobEvent *e)
{
	Ferry__JobInfo k;

	known_of(f, &k);
	out_json(e ? jsonv_job_event(event, e, &k) : jsonv_job_started(&k));
}

/* Ends a live progress line before anything else is printed. */
static void
line_close(struct progress *f)
{
	if (f->line_open) {
		fputs(ERASE_LINE, stdout);
		f->line_open = 0;
	}
}

/* The live line on a terminal: the open question first (a cut line
 * keeps it), then the last progress. */
static void
line_draw(struct progress *f)
{
	struct winsize ws;
	char line[768];
	const char *q = f->fl ? f->fl->question : NULL;

	snprintf(line, sizeof(line), "%s%s", q ? q : "", f->last);
	if (line[0] == '\0') {
		line_close(f);
		return;
	}
	/* A wrapped line cannot be redrawn with \r: cut it. */
	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 &&
	    ws.ws_col > 1 && ws.ws_col - 1 < (int)sizeof(line))
		line[ws.ws_col - 1] = '\0';
	printf(ERASE_LINE "%s", line);
	f->line_open = 1;
}

/* After a message: the question back under it, while it waits. */
static void
line_again(struct progress *f)
{
	if (f->mode == MODE_TTY && f->fl && f->fl->question)
		line_draw(f);
}

/* out_fail's hook: an error (e.g. from ctl_read) never lands on the end
 * of a progress line. */
static void
line_close_cur(void)
{
	if (progress_cur != NULL) {
		line_close(progress_cur);
		fflush(stdout);
	}
}

static void
fmt_secs(double s, char *buf, size_t len)
{
	unsigned long t;

	if (!isfinite(s) || s < 0)
		s = 0;
	t = (unsigned long)(s + 0.5);
	if (t < 60)
		snprintf(buf, len, "%lus", t);
	else if (t < 3600)
		snprintf(buf, len, "%lum%02lus", t / 60, t % 60);
	else
		snprintf(buf, len, "%luh%02lum", t / 3600, t / 60 % 60);
}

static void
show_started(struct progress *f)
{

	if (f->started_shown)
		return;
	f->started_shown = 1;
	if (f->mode == MODE_JSON) {
		show_json(f, "started", NULL);
		return;
	}
	line_close(f);
	printf("job %" PRIu64 ": %s %s from %s to %s\n", f->job,
	    f->kind ? f->kind : "migrate", or_dash(f->vm), or_dash(f->source),
	    f->destination ? f->destination : "(the coordinator's choice)");
	line_again(f);
	fflush(stdout);
}

static void
show_progress(struct progress *f, const Ferry__JobEvent *e)
{
	char line[512], eta[32];
	size_t off = 0;
	int i, fill;

	if (f->mode == MODE_JSON) {
		show_json(f, "progress", e);
		return;
	}
	if (f->mode == MODE_PLAIN) {
		if (f->last_plain_ms != 0 &&
		    mono_ms() - f->last_plain_ms < PLAIN_EVERY_MS)
			return;
		f->last_plain_ms = mono_ms();
	}

#define APPEND(...) do {						\
	if (off < sizeof(line))						\
		off += snprintf(line + off, sizeof(line) - off, __VA_ARGS__); \
} while (0)
	/* What is true: sent can exceed the total (passes resend dirty
	 * pages), so it is shown apart from what remains of the total;
	 * the percentage follows the remaining's low-water mark. */
	if (e->has_percent) {
		APPEND("%5.1f%%", e->percent);
		if (f->mode == MODE_TTY) {
			fill = (int)(e->percent / 5 + 0.5);
			fill = fill < 0 ? 0 : fill > 20 ? 20 : fill;
			APPEND(" [");
			for (i = 0; i < 20; i++)
				APPEND("%c", i < fill ? '#' : '-');
			APPEND("]");
		}
	} else
		APPEND("progress");
	if (e->has_data_processed_mib)
		APPEND("  sent %.1f MiB", e->data_processed_mib);
	if (e->has_data_remaining_mib) {
		APPEND("  remaining %.1f", e->data_remaining_mib);
		if (e->has_data_total_mib)
			APPEND(" of %.1f", e->data_total_mib);
		APPEND(" MiB");
		if (e->has_remaining_low_mib)
			APPEND(" (low %.1f)", e->remaining_low_mib);
	}
	if (e->has_disk_total_mib)
		APPEND("  disk %.1f of %.1f MiB", e->disk_processed_mib,
		    e->disk_total_mib);
	if (e->has_iteration)
		APPEND("  pass %" PRIu64, e->iteration);
	if (e->has_mib_per_s)
		APPEND("  %.1f MiB/s", e->mib_per_s);
	if (e->has_dirty_mib_per_s)
		APPEND("  dirty %.1f MiB/s", e->dirty_mib_per_s);
	if (e->has_expected_downtime_ms)
		APPEND("  downtime ~%" PRIu64 " ms", e->expected_downtime_ms);
	/* The coordinator sends an ETA only when it can estimate one. */
	if (e->has_eta_s && isfinite(e->eta_s) && e->eta_s >= 0) {
		fmt_secs(e->eta_s, eta, sizeof(eta));
		APPEND("  ETA %s", eta);
	}
#undef APPEND

	if (f->mode == MODE_PLAIN) {
		printf("%s\n", line);
	} else {
		snprintf(f->last, sizeof(f->last), "%s", line);
		line_draw(f);
	}
	fflush(stdout);
}

static void
show_checks(const Ferry__JobEvent *e)
{
	size_t i;

	for (i = 0; i < e->n_checks; i++) {
		const Ferry__CheckResult *r = e->checks[i];

		if (!r->ok)
			printf("  BLOCKED %s: %s\n", r->name, r->reason);
		else if (r->has_warning && r->warning)
			printf("  warning %s: %s\n", r->name, r->reason);
	}
}

/* rolled_back reads "rolled back" on a terminal. */
static void
state_label(const char *state, char *buf, size_t len)
{
	char *p;

	snprintf(buf, len, "%s", state ? state : "ended");
	for (p = buf; *p; p++)
		if (*p == '_')
			*p = ' ';
}

static void
show_state(struct progress *f, const Ferry__JobEvent *e)
{
	char label[64];

	if (f->mode == MODE_JSON) {
		show_json(f, "state", e);
		return;
	}
	line_close(f);
	state_label(f->state, label, sizeof(label));
	if (e->message && e->message[0])
		printf("%s: %s\n", label, e->message);
	else
		printf("%s\n", label);
	show_checks(e);
	line_again(f);
	fflush(stdout);
}

static void
show_info(struct progress *f, const Ferry__JobEvent *e)
{

	if (e->message == NULL)
		return;
	if (f->mode == MODE_JSON) {
		show_json(f, "info", e);
		return;
	}
	line_close(f);
	printf("%s\n", e->message);
	line_again(f);
	fflush(stdout);
}

static void
show_done(struct progress *f, const Ferry__JobEvent *e)
{
	char dur[32], extra[128];
	size_t off = 0;
	const char *on = e->running_on;

	if (f->mode == MODE_JSON) {
		show_json(f, "done", e);
		return;
	}
	line_close(f);
	if (f->state && strcmp(f->state, "succeeded") == 0) {
		extra[0] = '\0';
		if (e->has_elapsed_ms) {
			ctl_fmt_duration(e->elapsed_ms, dur, sizeof(dur));
			off += snprintf(extra + off, sizeof(extra) - off, "%s",
			    dur);
		}
		/* Measured figures only (libvirt's completed statistics). */
		if (off < sizeof(extra)) {
			if (e->has_downtime_ms)
				off += snprintf(extra + off, sizeof(extra) -
				    off, "%sdowntime %" PRIu64 " ms",
				    off ? ", " : "", e->downtime_ms);
			else
				off += snprintf(extra + off, sizeof(extra) -
				    off, "%sdowntime unknown", off ? ", " : "");
		}
		if (e->has_data_mib && off < sizeof(extra))
			off += snprintf(extra + off, sizeof(extra) - off,
			    "%s%.1f MiB sent", off ? ", " : "", e->data_mib);
		if (e->has_passes && off < sizeof(extra))
			off += snprintf(extra + off, sizeof(extra) - off,
			    "%s%" PRIu64 " pass%s", off ? ", " : "", e->passes,
			    e->passes == 1 ? "" : "es");
		if (e->has_disk_total_mib && off < sizeof(extra))
			off += snprintf(extra + off, sizeof(extra) - off,
			    "%sdisk %.1f MiB copied", off ? ", " : "",
			    e->disk_processed_mib);
		printf("succeeded: %s now runs on %s%s%s%s\n", or_dash(f->vm),
		    or_dash(on ? on : f->destination), off ? " (" : "", extra,
		    off ? ")" : "");
	} else {
		char label[64];
		int refused = f->state && strcmp(f->state, "refused") == 0;

		state_label(f->state, label, sizeof(label));
		if (refused && on == NULL)
			on = f->source;
		printf("%s: %s", label, or_dash(f->vm));
		if (on)
			printf(" %s on %s", refused ? "stays" : "runs", on);
		if (e->error && e->error[0])
			printf(": %s", e->error);
		printf("\n");
		show_checks(e);
	}
	f->last[0] = '\0';
	line_again(f);
	fflush(stdout);
}

static int
exit_for_state(const char *state)
{
	if (state && strcmp(state, "succeeded") == 0)
		return CTL_EXIT_OK;
	if (state && strcmp(state, "refused") == 0)
		return CTL_EXIT_BLOCKED;
	return CTL_EXIT_FAIL;
}

static void
take_info(struct progress *f, const Ferry__JobInfo *ji)
{
	f->job = ji->id;
	set_str(&f->kind, ji->kind);
	set_str(&f->vm, ji->vm);
	set_str(&f->state, ji->state);
	set_str(&f->source, ji->source);
	set_str(&f->destination, ji->destination);
}

/* Asks on the terminal (follow.c keeps showing events meanwhile); a
 * second Ctrl-C while asking means yes. Without a terminal to ask on,
 * Ctrl-C means abort, as with --json. */
static int
ask_abort(struct progress *f, char *prompt, size_t len)
{
	if (f->abort_now || f->mode == MODE_JSON || !out_have_tty())
		return 1;
	snprintf(prompt, len, "abort job %" PRIu64 "? [y/N] ", f->job);
	return 0;
}

static void
on_abort_reply(struct progress *f, const struct frame *fr)
{
	Ferry__JobInfo *ji;

	if (fr->hdr.status == FRAME_ERROR) {
		ctl_print_frame_error(fr);
		return;
	}
	if (f->mode == MODE_JSON)
		return;
	ji = (Ferry__JobInfo *)out_unpack(fr, &ferry__job_info__descriptor);
	line_close(f);
	printf("abort requested (state %s)\n", ji ? ji->state : "unknown");
	line_again(f);
	fflush(stdout);
	if (ji)
		ferry__job_info__free_unpacked(ji, NULL);
}

/* Returns 1 when the job is done. */
static int
on_event(struct progress *f, const Ferry__JobEvent *e)
{
	if (f->have_reply && e->job_id != f->job)
		return 0;
	if (!f->have_reply)
		f->job = e->job_id;
	set_str(&f->vm, e->vm);
	set_str(&f->source, e->source);
	set_str(&f->destination, e->destination);
	set_str(&f->state, e->state);
	if (strcmp(e->event, "started") == 0) {
		show_started(f);
		return 0;
	}
	/* The reply may not know the destination yet; the first event
	 * after it does, or never will. */
	show_started(f);
	if (strcmp(e->event, "progress") == 0) {
		/* Progress repeats the policy's latest decision; tell it
		 * once, as info, so progress objects keep their shape. */
		if (e->message && e->message[0] && (f->action == NULL ||
		    strcmp(f->action, e->message) != 0)) {
			set_str(&f->action, e->message);
			show_info(f, e);
		}
		show_progress(f, e);
	}
	else if (strcmp(e->event, "state") == 0)
		show_state(f, e);
	else if (strcmp(e->event, "info") == 0)
		show_info(f, e);
	else if (strcmp(e->event, "done") == 0) {
		show_done(f, e);
		return 1;
	}
	return 0;
}

static void
lost(struct progress *f)
{
	line_close(f);
	fflush(stdout);
	if (f->have_reply)
		out_fail("lost the coordinator; the job continues: "
		    "ferryctl watch %" PRIu64, f->job);
}

/* follow_run's callbacks. */
static int
progress_reply(struct follow *fl, const struct frame *fr)
{
	struct progress *f = fl->arg;
	Ferry__JobInfo *ji;

	ji = (Ferry__JobInfo *)out_unpack(fr, &ferry__job_info__descriptor);
	if (ji == NULL) {
		out_fail("malformed reply from the coordinator");
		return CTL_EXIT_FAIL;
	}
	take_info(f, ji);
	f->have_reply = 1;
	ferry__job_info__free_unpacked(ji, NULL);
	if (f->destination)
		show_started(f);
	return -1;
}

static int
progress_event(struct follow *fl, const struct frame *fr)
{
	struct progress *f = fl->arg;
	Ferry__JobEvent *e;
	int done;

	e = (Ferry__JobEvent *)out_unpack(fr, &ferry__job_event__descriptor);
	if (e == NULL)
		return -1;
	done = on_event(f, e);
	ferry__job_event__free_unpacked(e, NULL);
	return done ? exit_for_state(f->state) : -1;
}

static void
progress_lost(struct follow *fl)
{
	lost(fl->arg);
}

/* A Ctrl-C before the reply aborts without asking: it was meant then. */
static int
progress_ask(struct follow *fl, int pending, char *prompt, size_t len)
{
	return pending ? 1 : ask_abort(fl->arg, prompt, len);
}

/* On a terminal the question leads the live line, redrawn with each
 * progress; into a pipe follow.c writes it on the terminal. */
static int
progress_redraw(struct follow *fl)
{
	struct progress *f = fl->arg;

	if (f->mode != MODE_TTY)
		return 0;
	line_draw(f);
	fflush(stdout);
	return 1;
}

static int
progress_send(struct follow *fl, uint32_t *serial)
{
	struct progress *f = fl->arg;
	Ferry__JobRequest req = FERRY__JOB_REQUEST__INIT;

	req.id = f->job;
	return ctl_send(fl->c, MSG_CTL_ABORT, &req.base, serial);
}

static void
progress_sent_reply(struct follow *fl, const struct frame *fr)
{
	on_abort_reply(fl->arg, fr);
}

/* Ctrl-C after the abort went out (or was asked for): stop waiting, not
 * the job. */
static int
progress_again(struct follow *fl, int pending)
{
	struct progress *f = fl->arg;

	(void)pending;
	line_close(f);
	fflush(stdout);
	out_fail("not waiting for the abort; follow it with: ferryctl watch "
	    "%" PRIu64, f->job);
	return CTL_EXIT_FAIL;
}

/* Sends the call (MIGRATE with wait, or WATCH), then shows its reply and
 * the job's events until "done". Returns the exit status. */
int
progress_follow(struct ctl *c, uint16_t type, const ProtobufCMessage *m,
    int flags)
{
	static const struct follow_ops ops = {
		MSG_CTL_JOB_EVENT, progress_reply, progress_event,
		progress_lost, progress_ask, progress_send,
		progress_sent_reply, progress_again, progress_redraw,
	};
	struct follow fl;
	struct progress f;
	int rc;

	memset(&f, 0, sizeof(f));
	memset(&fl, 0, sizeof(fl));
	fl.c = c;
	fl.ops = &ops;
	fl.arg = &f;
	fl.reply_wait_ms = REPLY_WAIT_MS;
	f.fl = &fl;
	f.mode = flags & PROGRESS_JSON ? MODE_JSON :
	    isatty(STDOUT_FILENO) ? MODE_TTY : MODE_PLAIN;
	f.abort_now = (flags & PROGRESS_ABORT_NOW) != 0;
	progress_cur = &f;
	out_before_message(line_close_cur);

	rc = follow_run(&fl, type, m);

	line_close(&f);
	fflush(stdout);
	out_before_message(NULL);
	progress_cur = NULL;
	free(f.kind);
	free(f.vm);
	free(f.state);
	free(f.source);
	free(f.destination);
	free(f.action);
	return rc;
}

/* migrate --no-wait: the id alone, for $(...), or the "started" object. */
void
progress_print_started(const Ferry__JobInfo *ji, int json)
{
	struct progress f;

	if (!json) {
		printf("%" PRIu64 "\n", ji->id);
		return;
	}
	memset(&f, 0, sizeof(f));
	f.mode = MODE_JSON;
	take_info(&f, ji);
	show_started(&f);
	free(f.kind);
	free(f.vm);
	free(f.state);
	free(f.source);
	free(f.destination);
}

/* Job ids are positive decimal integers; 0 is never a job. */
int
ctl_parse_id(const char *s, uint64_t *out)
{
	uint64_t v;

	if (ctl_parse_num(NULL, s, CTL_MAX_JOB_ID, &v) < 0)
		return -1;
	*out = v;
	return 0;
}

/* A positive decimal integer no larger than max. With opt, a bad value
 * is reported against it. */
int
ctl_parse_num(const char *opt, const char *s, uint64_t max, uint64_t *out)
{
	unsigned long long v;
	const char *p;
	char *end;

	for (p = s; *p; p++)
		if (*p < '0' || *p > '9')
			break;
	errno = 0;
	if (s[0] == '\0' || *p != '\0' ||
	    (v = strtoull(s, &end, 10)) == 0 || errno != 0 || v > max) {
		if (opt)
			out_fail("%s wants a whole number from 1 to %" PRIu64
			    ", not '%s'", opt, max, s);
		else
			out_fail("'%s' is not a job id (a positive integer)", s);
		return -1;
	}
	*out = v;
	return 0;
}

/* --parallel N: 1 (one stream) .. VALIDATE_PARALLEL_MAX, else refused. */
int
ctl_parse_parallel(const char *s, uint32_t *out)
{
	unsigned long long v;
	char e[160], *end;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (s[0] < '0' || s[0] > '9' || *end != '\0' || errno != 0) {
		out_fail("--parallel wants a number of streams, 1 to %d, not "
		    "'%s'", VALIDATE_PARALLEL_MAX, s);
		return -1;
	}
	if (validate_parallel(v, e, sizeof(e)) < 0) {
		out_fail("%s", e);
		return -1;
	}
	*out = (uint32_t)v;
	return 0;
}

/* Local time, as an operator reads it. */
void
ctl_fmt_time(uint64_t ms, int with_ms, char *buf, size_t len)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	size_t n;

	if (localtime_r(&t, &tm) == NULL ||
	    (n = strftime(buf, len, "%Y-%m-%d %H:%M:%S", &tm)) == 0) {
		snprintf(buf, len, "-");
		return;
	}
	if (with_ms)
		snprintf(buf + n, len - n, ".%03u", (unsigned)(ms % 1000));
}

void
ctl_fmt_duration(uint64_t ms, char *buf, size_t len)
{
	if (ms < 60000)
		snprintf(buf, len, "%.1f s", ms / 1000.0);
	else
		fmt_secs(ms / 1000.0, buf, len);
}
