/* cmd-maintenance.c: ferryctl maintenance enter|cancel|exit HOST: emptying
 * a host through the coordinator's drain, following it, calling it off, and
 * bringing the host (and with --restore its VMs) back. */
#include <sys/ioctl.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ferryctl.h"

#define MAX_PARALLEL	64
#define REPLY_WAIT_MS	60000
#define PLAIN_EVERY_MS	1000
#define ERASE_LINE	"\r\033[K"

enum sub { SUB_ENTER, SUB_CANCEL, SUB_EXIT };
enum mode { MODE_JSON, MODE_TTY, MODE_PLAIN };

struct maint {
	struct ctl	*c;
	enum sub	 sub;
	enum mode	 mode;
	const char	*host;
	int		 json, wait, dry_run, force, restore;
	int		 following;	/* the drain's events too */
	int		 have_reply;
	Ferry__DrainInfo *snap;		/* the last state shown */
	int		 drawn;		/* lines of the live block on screen */
	int		 qshown;	/* the question on the line below it */
	struct follow	*fl;
	int		 wvm, wdst;	/* column widths */
	uint64_t	 last_plain_ms;
};

struct counts {
	size_t	n, unmovable, moved, failed, migrating;
};

static uint64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int
str_is(const char *s, const char *want)
{
	return s != NULL && strcmp(s, want) == 0;
}

static int
str_same(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

static const char *
or_dash(const char *s)
{
	return s && s[0] ? s : "-";
}

static const char *
plural(size_t n)
{
	return n == 1 ? "" : "s";
}

static void
count_items(const Ferry__DrainInfo *d, struct counts *k)
{
	size_t i;

	memset(k, 0, sizeof(*k));
	k->n = d->n_items;
	for (i = 0; i < d->n_items; i++) {
		const char *st = d->items[i]->state;

		if (str_is(st, "unmovable"))
			k->unmovable++;
		else if (str_is(st, "moved"))
			k->moved++;
		else if (str_is(st, "failed"))
			k->failed++;
		else if (str_is(st, "migrating"))
			k->migrating++;
	}
}

static void
widen(struct maint *m, const Ferry__DrainInfo *d)
{
	size_t i, n;

	if (m->wvm == 0) {
		m->wvm = 2;		/* "VM" */
		m->wdst = 11;		/* "DESTINATION" */
	}
	for (i = 0; i < d->n_items; i++) {
		if ((n = strlen(or_dash(d->items[i]->vm))) > (size_t)m->wvm)
			m->wvm = n > 40 ? 40 : (int)n;
		n = strlen(or_dash(d->items[i]->destination));
		if (n > (size_t)m->wdst)
			m->wdst = n > 40 ? 40 : (int)n;
	}
}

/* Trailing blanks of padded columns are noise in a pipe. */
static char *
rtrim(char *line)
{
	size_t n = strlen(line);

	while (n > 0 && line[n - 1] == ' ')
		line[--n] = '\0';
	return line;
}

static void
print_summary(const Ferry__DrainInfo *d)
{
	struct counts k;

	count_items(d, &k);
	printf("%zu VM%s, %zu to move, %zu unmovable", k.n, plural(k.n),
	    k.n - k.unmovable, k.unmovable);
	if (d->has_max_parallel) {
		printf("; at most %u at once", d->max_parallel);
		if (d->has_per_destination)
			printf(", %u per destination", d->per_destination);
	}
	printf("\n");
}

static void
print_plan(struct maint *m, const Ferry__DrainInfo *d)
{
	char order[16], line[512];
	size_t i;

	widen(m, d);
	printf("%-5s %-*s %8s %-*s %-9s %s\n", "ORDER", m->wvm, "VM",
	    "MEM(MiB)", m->wdst, "DESTINATION", "STATE", "REASON");
	for (i = 0; i < d->n_items; i++) {
		const Ferry__DrainItem *it = d->items[i];

		if (it->has_order)
			snprintf(order, sizeof(order), "%u", it->order);
		else
			snprintf(order, sizeof(order), "-");
		snprintf(line, sizeof(line), "%-5s %-*s %8" PRIu64 " %-*s "
		    "%-9s %s", order, m->wvm, or_dash(it->vm), it->mem_mib,
		    m->wdst, or_dash(it->destination), or_dash(it->state),
		    it->reason ? it->reason : "");
		printf("%s\n", rtrim(line));
	}
	print_summary(d);
}

/* One VM as --wait shows it: VM, destination, state, percent while
 * migrating, attempts, reason. */
static void
item_line(const struct maint *m, const Ferry__DrainItem *it, char *line,
    size_t len)
{
	size_t off = 0;

#define APPEND(...) do {						\
	if (off < len)							\
		off += snprintf(line + off, len - off, __VA_ARGS__);	\
} while (0)
	APPEND("%-*s -> %-*s %-9s", m->wvm, or_dash(it->vm), m->wdst,
	    or_dash(it->destination), or_dash(it->state));
	if (str_is(it->state, "migrating") && it->has_percent)
		APPEND(" %5.1f%%", it->percent);
	if (it->has_attempts && it->attempts > 0)
		APPEND("  attempt %u", it->attempts);
	if (it->reason && it->reason[0])
		APPEND("  %s", it->reason);
#undef APPEND
	rtrim(line);
}

/* Ends the live block before anything else is printed below it. */
static void
block_close(struct maint *m)
{
	if (m->qshown)
		fputs(ERASE_LINE, stdout);
	m->qshown = 0;
	m->drawn = 0;
}

/* The open question (follow.c's) on the line under the block, or that
 * line cleared once it is answered. */
static void
question_line(struct maint *m)
{
	const char *q = m->fl ? m->fl->question : NULL;

	if (q != NULL) {
		printf(ERASE_LINE "%s", q);
		m->qshown = 1;
	} else if (m->qshown) {
		fputs(ERASE_LINE, stdout);
		m->qshown = 0;
	}
}

static void
draw_block(struct maint *m, const Ferry__DrainInfo *d)
{
	struct winsize ws;
	char line[512];
	size_t i;

	widen(m, d);
	if (m->drawn > 0)
		printf("\033[%dA", m->drawn);
	for (i = 0; i < d->n_items; i++) {
		item_line(m, d->items[i], line, sizeof(line));
		/* A wrapped line would break the redraw: cut it. */
		if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 &&
		    ws.ws_col > 1 && ws.ws_col - 1 < (int)sizeof(line))
			line[ws.ws_col - 1] = '\0';
		printf(ERASE_LINE "%s\n", line);
	}
	if ((size_t)m->drawn > d->n_items)
		printf("\033[J");
	m->drawn = (int)d->n_items;
	question_line(m);
	fflush(stdout);
}

static const Ferry__DrainItem *
find_item(const Ferry__DrainInfo *d, const char *vm)
{
	size_t i;

	if (d == NULL)
		return NULL;
	for (i = 0; i < d->n_items; i++)
		if (str_same(d->items[i]->vm, vm))
			return d->items[i];
	return NULL;
}

/* 0: unchanged, 1: only the percent moved, 2: anything else changed. */
static int
item_changed(const Ferry__DrainItem *a, const Ferry__DrainItem *b)
{
	if (a == NULL)
		return 2;
	if (!str_same(a->state, b->state) ||
	    !str_same(a->destination, b->destination) ||
	    !str_same(a->reason, b->reason) ||
	    a->has_job_id != b->has_job_id || a->job_id != b->job_id ||
	    a->has_attempts != b->has_attempts || a->attempts != b->attempts)
		return 2;
	if (a->has_percent != b->has_percent ||
	    (a->has_percent && a->percent != b->percent))
		return 1;
	return 0;
}

/* Shows what changed since the last snapshot, then keeps d as it. */
static void
show_changes(struct maint *m, Ferry__DrainInfo *d)
{
	char line[512];
	size_t i;
	int ch, percent_due;

	if (m->mode == MODE_TTY) {
		draw_block(m, d);
	} else {
		widen(m, d);
		/* Percent alone changes often; into a pipe, once a second. */
		percent_due = mono_ms() - m->last_plain_ms >= PLAIN_EVERY_MS;
		for (i = 0; i < d->n_items; i++) {
			ch = item_changed(find_item(m->snap, d->items[i]->vm),
			    d->items[i]);
			if (ch == 0)
				continue;
			if (m->mode == MODE_JSON) {
				out_json(jsonv_drain_event("item", d,
				    d->items[i]));
				continue;
			}
			if (ch == 1 && !percent_due)
				continue;
			if (ch == 1)
				m->last_plain_ms = mono_ms();
			item_line(m, d->items[i], line, sizeof(line));
			printf("%s\n", line);
		}
		fflush(stdout);
	}
	if (m->snap != d) {
		if (m->snap)
			ferry__drain_info__free_unpacked(m->snap, NULL);
		m->snap = d;
	}
}

static const char *
what(const struct maint *m)
{
	return m->sub == SUB_EXIT ? "restore" : "drain";
}

static int
exit_for_done(const struct maint *m, const Ferry__DrainInfo *d)
{
	if (!str_is(d->state, "completed"))
		return CTL_EXIT_FAIL;
	/* A drain succeeded only when nothing is left on the host. */
	if (m->sub == SUB_ENTER && !str_is(d->host_state, "maintenance"))
		return CTL_EXIT_FAIL;
	return CTL_EXIT_OK;
}

static void
show_done(struct maint *m, const Ferry__DrainInfo *d)
{
	struct counts k;

	count_items(d, &k);
	if (m->mode == MODE_JSON) {
		out_json(jsonv_drain_event("done", d, NULL));
		return;
	}
	block_close(m);
	printf("%s: %s %" PRIu64 " %s: %zu moved, %zu failed, %zu unmovable",
	    or_dash(d->host), what(m), d->id, or_dash(d->state), k.moved,
	    k.failed, k.unmovable);
	if (d->host_state)
		printf("; host %s", d->host_state);
	printf("\n");
	if (d->message && d->message[0])
		printf("%s\n", d->message);
	fflush(stdout);
}

/* The reply to enter or exit, as text. */
static void
show_reply_text(struct maint *m, const Ferry__DrainInfo *d, int follow)
{
	const char *h = or_dash(d->host ? d->host : m->host);
	struct counts k;

	count_items(d, &k);
	if (m->sub == SUB_EXIT && !m->restore) {
		printf("%s: out of maintenance", h);
		if (d->host_state)
			printf("; host %s", d->host_state);
		printf("\n");
		if (d->message && d->message[0])
			printf("%s\n", d->message);
		return;
	}
	if (d->n_items > 0)
		print_plan(m, d);
	if (str_is(d->state, "refused"))
		printf("%s: %s refused%s%s\n", h, what(m),
		    d->message ? ": " : "", d->message ? d->message : "");
	else if (str_is(d->state, "planning")) {
		if (d->message && d->message[0])
			printf("%s\n", d->message);
		if (k.unmovable)
			printf("dry run: %zu VM%s cannot move; --force would "
			    "leave %s on %s\n", k.unmovable, plural(k.unmovable),
			    k.unmovable == 1 ? "it" : "them", h);
		else
			printf("dry run: every VM can move\n");
	} else if (str_is(d->state, "draining")) {
		if (d->message && d->message[0])
			printf("%s\n", d->message);
		if (follow)
			printf("%s %" PRIu64 " started\n", what(m), d->id);
		else if (m->sub == SUB_EXIT)
			printf("restore %" PRIu64 " started; %zu VM%s return "
			    "to %s\n", d->id, k.n - k.unmovable,
			    plural(k.n - k.unmovable), h);
		else
			printf("drain %" PRIu64 " started; ferryctl hosts "
			    "shows %s draining\n", d->id, h);
	} else if (str_is(d->state, "completed") && d->n_items == 0) {
		printf("%s: no VMs to %s", h,
		    m->sub == SUB_EXIT ? "bring back" : "move");
		if (d->host_state)
			printf("; host %s", d->host_state);
		printf("\n");
	} else {
		printf("%s: %s %" PRIu64 " %s%s%s", h, what(m), d->id,
		    or_dash(d->state), d->message ? ": " : "",
		    d->message ? d->message : "");
		if (d->host_state)
			printf("; host %s", d->host_state);
		printf("\n");
	}
}

/* The status for a reply that is not followed by events. */
static int
exit_for_reply(const struct maint *m, const Ferry__DrainInfo *d)
{
	struct counts k;

	if (str_is(d->state, "refused"))
		return CTL_EXIT_BLOCKED;
	if (m->dry_run) {
		count_items(d, &k);
		return k.unmovable ? CTL_EXIT_BLOCKED : CTL_EXIT_OK;
	}
	if (m->sub == SUB_EXIT)
		return CTL_EXIT_OK;
	if (str_is(d->state, "draining"))
		return m->wait ? CTL_EXIT_FAIL : CTL_EXIT_OK;
	if (str_is(d->state, "completed"))
		return exit_for_done(m, d);
	return CTL_EXIT_FAIL;
}

/* Takes the reply (or a first event standing in for it). Returns an exit
 * status when there is nothing to follow, else -1. */
static int
on_reply(struct maint *m, Ferry__DrainInfo *d, int following)
{
	int follow = following && str_is(d->state, "draining");
	int rc = follow ? -1 : exit_for_reply(m, d);

	m->have_reply = 1;
	if (m->mode == MODE_JSON) {
		if (!following)
			out_json(jsonv_drain(d));
		else {
			out_json(jsonv_drain_event("plan", d, NULL));
			/* The stream always ends with "done", even when
			 * the drain never started. */
			if (!follow)
				show_done(m, d);
		}
	} else {
		show_reply_text(m, d, follow);
		/* On a terminal the live block starts with the plan. */
		if (follow && m->mode == MODE_TTY)
			draw_block(m, d);
		fflush(stdout);
	}
	if (m->snap)
		ferry__drain_info__free_unpacked(m->snap, NULL);
	m->snap = d;
	return rc;
}

/* Asks on the terminal (follow.c keeps showing events meanwhile); a
 * second Ctrl-C while asking means yes. Without a terminal to ask on,
 * Ctrl-C means cancel, as with --json. */
static int
ask_cancel(struct maint *m, char *prompt, size_t len)
{
	if (m->mode == MODE_JSON || !out_have_tty())
		return 1;
	snprintf(prompt, len, "cancel the %s %s %s? [y/N] ",
	    what(m), m->sub == SUB_EXIT ? "to" : "of", m->host);
	return 0;
}

static int
send_cancel(struct maint *m, uint32_t *serial)
{
	Ferry__MaintenanceRequest req = FERRY__MAINTENANCE_REQUEST__INIT;

	req.host = (char *)m->host;
	return ctl_send(m->c, MSG_CTL_MAINT_CANCEL, &req.base, serial);
}

static void
on_cancel_reply(struct maint *m, const struct frame *fr)
{
	Ferry__DrainInfo *d;

	if (fr->hdr.status == FRAME_ERROR) {
		block_close(m);
		ctl_print_frame_error(fr);
		return;
	}
	if (m->mode == MODE_JSON)
		return;
	d = (Ferry__DrainInfo *)out_unpack(fr, &ferry__drain_info__descriptor);
	block_close(m);
	printf("cancel requested: %s %s%s%s\n", what(m),
	    d ? or_dash(d->state) : "unknown", d && d->message ? ": " : "",
	    d && d->message ? d->message : "");
	fflush(stdout);
	if (d)
		ferry__drain_info__free_unpacked(d, NULL);
}

/* Returns an exit status once "done" came, else -1. */
static int
on_event(struct maint *m, Ferry__DrainEvent *e)
{
	Ferry__DrainInfo *d = e->drain;
	int rc;

	if (d == NULL)
		return -1;
	if (m->have_reply && m->snap && d->id != m->snap->id)
		return -1;
	e->drain = NULL;		/* d outlives e as the snapshot */
	if (!m->have_reply) {
		/* Events ahead of the reply: the first one is the plan. */
		if ((rc = on_reply(m, d, 1)) >= 0)
			return rc;
	} else
		show_changes(m, d);
	if (str_is(e->event, "done")) {
		show_done(m, m->snap);
		return exit_for_done(m, m->snap);
	}
	return -1;
}

static void
lost(struct maint *m)
{
	block_close(m);
	fflush(stdout);
	if (m->have_reply)
		out_fail("lost the coordinator; the %s continues: ferryctl "
		    "hosts shows %s", what(m), m->host);
}

/* follow_run's callbacks. */
static int
maint_reply(struct follow *fl, const struct frame *fr)
{
	struct maint *m = fl->arg;
	Ferry__DrainInfo *d;

	if ((d = (Ferry__DrainInfo *)out_unpack(fr,
	    &ferry__drain_info__descriptor)) == NULL) {
		out_fail("malformed reply from the coordinator");
		return CTL_EXIT_FAIL;
	}
	return on_reply(m, d, m->following);
}

static int
maint_event(struct follow *fl, const struct frame *fr)
{
	struct maint *m = fl->arg;
	Ferry__DrainEvent *e;
	int rc;

	if ((e = (Ferry__DrainEvent *)out_unpack(fr,
	    &ferry__drain_event__descriptor)) == NULL)
		return -1;
	rc = on_event(m, e);
	ferry__drain_event__free_unpacked(e, NULL);
	/* An event ahead of the reply may stand in for it. */
	fl->have_reply = m->have_reply;
	return rc;
}

static void
maint_lost(struct follow *fl)
{
	lost(fl->arg);
}

static int
maint_ask(struct follow *fl, int pending, char *prompt, size_t len)
{
	(void)pending;
	return ask_cancel(fl->arg, prompt, len);
}

/* On a terminal the question sits under the live block. */
static int
maint_redraw(struct follow *fl)
{
	struct maint *m = fl->arg;

	if (m->mode != MODE_TTY)
		return 0;
	question_line(m);
	fflush(stdout);
	return 1;
}

static int
maint_send(struct follow *fl, uint32_t *serial)
{
	return send_cancel(fl->arg, serial);
}

static void
maint_sent_reply(struct follow *fl, const struct frame *fr)
{
	on_cancel_reply(fl->arg, fr);
}

/* Ctrl-C after the cancel went out: stop waiting, not the cancel. One
 * before the reply is still pending: nothing more to do. */
static int
maint_again(struct follow *fl, int pending)
{
	struct maint *m = fl->arg;

	if (pending)
		return -1;
	block_close(m);
	fflush(stdout);
	out_fail("not waiting for the cancel; ferryctl hosts shows %s",
	    m->host);
	return CTL_EXIT_FAIL;
}

/* Sends enter or exit, shows the reply and, when following, the drain's
 * events until "done". Returns the exit status. */
static int
maint_run(struct maint *m, uint16_t type, const Ferry__MaintenanceRequest *req,
    int following)
{
	static const struct follow_ops follow = {
		MSG_CTL_DRAIN_EVENT, maint_reply, maint_event, maint_lost,
		maint_ask, maint_send, maint_sent_reply, maint_again,
		maint_redraw,
	};
	/* Only the reply: no events, Ctrl-C not caught. */
	static const struct follow_ops reply_only = {
		MSG_CTL_DRAIN_EVENT, maint_reply, NULL, maint_lost,
		NULL, NULL, NULL, NULL, NULL,
	};
	struct follow fl;
	int rc;

	memset(&fl, 0, sizeof(fl));
	fl.c = m->c;
	fl.ops = following ? &follow : &reply_only;
	fl.arg = m;
	fl.reply_wait_ms = REPLY_WAIT_MS;
	m->following = following;
	m->fl = &fl;
	rc = follow_run(&fl, type, &req->base);
	block_close(m);
	m->fl = NULL;
	if (m->snap)
		ferry__drain_info__free_unpacked(m->snap, NULL);
	m->snap = NULL;
	return rc;
}

static int
maint_cancel(struct maint *m, const Ferry__MaintenanceRequest *req)
{
	Ferry__DrainInfo *d;
	struct counts k;
	int rc;

	if (ctl_call(m->c, MSG_CTL_MAINT_CANCEL, &req->base,
	    &ferry__drain_info__descriptor, (ProtobufCMessage **)&d) < 0)
		return CTL_EXIT_FAIL;
	rc = str_is(d->state, "cancelled") ? CTL_EXIT_OK : CTL_EXIT_FAIL;
	if (m->json) {
		out_json(jsonv_drain(d));
		ferry__drain_info__free_unpacked(d, NULL);
		return rc;
	}
	count_items(d, &k);
	if (rc == CTL_EXIT_OK) {
		printf("%s: drain cancelled", or_dash(d->host));
		if (k.migrating)
			printf("; %zu migration%s finishing", k.migrating,
			    plural(k.migrating));
		if (d->host_state)
			printf("; host %s", d->host_state);
		printf("\n");
		if (d->message && d->message[0])
			printf("%s\n", d->message);
	} else
		printf("%s: drain not cancelled (%s)%s%s\n", or_dash(d->host),
		    or_dash(d->state), d->message ? ": " : "",
		    d->message ? d->message : "");
	ferry__drain_info__free_unpacked(d, NULL);
	return rc;
}

static const char *
opt_name(int ch)
{
	switch (ch) {
	case 'w':
		return "--wait";
	case 'm':
		return "--max-parallel";
	case 'n':
		return "--dry-run";
	case 'f':
		return "--force";
	case 'r':
		return "--restore";
	case 'c':
		return "--copy-storage";
	}
	return "?";
}

static int
cmd_maintenance_exec(struct ctl *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "wait", no_argument, NULL, 'w' },
		{ "max-parallel", required_argument, NULL, 'm' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "force", no_argument, NULL, 'f' },
		{ "restore", no_argument, NULL, 'r' },
		{ "copy-storage", no_argument, NULL, 'c' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	static const char *allowed[] = {
		[SUB_ENTER] = "wmnfcj",
		[SUB_CANCEL] = "j",
		[SUB_EXIT] = "rwj",
	};
	Ferry__MaintenanceRequest req = FERRY__MAINTENANCE_REQUEST__INIT;
	struct maint m;
	uint64_t v;
	int ch, following;

	memset(&m, 0, sizeof(m));
	m.c = c;
	if (argc < 2)
		return out_usage(&cmd_maintenance);
	if (strcmp(argv[1], "enter") == 0)
		m.sub = SUB_ENTER;
	else if (strcmp(argv[1], "cancel") == 0)
		m.sub = SUB_CANCEL;
	else if (strcmp(argv[1], "exit") == 0)
		m.sub = SUB_EXIT;
	else {
		out_fail("maintenance: '%s' is not enter, cancel or exit",
		    argv[1]);
		return out_usage(&cmd_maintenance);
	}

	/* The subcommand stands in for the program name; 0, not 1, lets
	 * options follow HOST. */
	optind = 0;
	while ((ch = getopt_long(argc - 1, argv + 1, "wm:nfrcj", opts,
	    NULL)) != -1) {
		if (ch == '?' || ch == ':')
			return out_usage(&cmd_maintenance);
		if (strchr(allowed[m.sub], ch) == NULL) {
			out_fail("maintenance %s does not take %s", argv[1],
			    opt_name(ch));
			return out_usage(&cmd_maintenance);
		}
		switch (ch) {
		case 'w':
			m.wait = 1;
			break;
		case 'm':
			if (ctl_parse_num("--max-parallel", optarg,
			    MAX_PARALLEL, &v) < 0)
				return CTL_EXIT_USAGE;
			req.has_max_parallel = 1;
			req.max_parallel = (uint32_t)v;
			break;
		case 'n':
			m.dry_run = 1;
			break;
		case 'f':
			m.force = 1;
			break;
		case 'r':
			m.restore = 1;
			break;
		case 'c':
			req.has_copy_storage = 1;
			req.copy_storage = 1;
			break;
		case 'j':
			m.json = 1;
			out_set_json(1);
			break;
		}
	}
	if (optind != argc - 2 || argv[optind + 1][0] == '\0') {
		if (optind == argc - 2)
			out_fail("maintenance %s: HOST is empty", argv[1]);
		return out_usage(&cmd_maintenance);
	}
	m.host = argv[optind + 1];
	m.mode = m.json ? MODE_JSON :
	    isatty(STDOUT_FILENO) ? MODE_TTY : MODE_PLAIN;
	req.host = (char *)m.host;

	if (ctl_connect(c) < 0)
		return CTL_EXIT_UNREACHABLE;
	switch (m.sub) {
	case SUB_ENTER:
		/* A dry run only plans: nothing to wait for. */
		following = m.wait && !m.dry_run;
		req.has_dry_run = req.has_force = req.has_wait = 1;
		req.dry_run = m.dry_run;
		req.force = m.force;
		req.wait = following;
		return maint_run(&m, MSG_CTL_MAINT_ENTER, &req, following);
	case SUB_EXIT:
		following = m.wait && m.restore;
		req.has_restore = req.has_wait = 1;
		req.restore = m.restore;
		req.wait = following;
		return maint_run(&m, MSG_CTL_MAINT_EXIT, &req, following);
	case SUB_CANCEL:
		break;
	}
	return maint_cancel(&m, &req);
}

const struct ctl_cmd cmd_maintenance = {
	"maintenance",
	"enter|cancel|exit HOST [--wait] [--max-parallel N] [--dry-run] "
	    "[--force] [--copy-storage] [--restore] [--json]",
	"drain a host, cancel the drain, or bring the host back",
	cmd_maintenance_exec,
};
