/* output.c: what ferryctl prints. JSON through json-c, one object or
 * array per line so scripts can read it line by line. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "ferryctl.h"

/* --json: strings are printed as sent (json-c escapes them). */
static int out_raw;
/* --json anywhere on the command line: an error is one JSON object on
 * stdout, {"error":{"code":..,"message":..}}, printed at exit with the
 * exit status it goes with (out_finish); the messages wait here. */
static int out_json_errors;
static char out_errbuf[2048];

void
out_set_json(int on)
{
	out_raw = on;
}

/* A byte a terminal may act on: C0, DEL, or the UTF-8 lead of a C1 control
 * (U+0080..U+009F, e.g. CSI as 0xc2 0x9b). Returns the sequence's length. */
static size_t
out_control(const unsigned char *p)
{
	if (*p < 0x20 || *p == 0x7f)
		return 1;
	if (p[0] == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f)
		return 2;
	return 0;
}

/* s with every control character written as \xHH (malloc'd), or NULL
 * when there is none (or no memory: then the caller drops the string). */
static char *
out_escape(const char *s, int *oom)
{
	const unsigned char *p;
	size_t n = 0, k, len = 0;
	char *e, *q;

	*oom = 0;
	for (p = (const unsigned char *)s; *p; p++, len++)
		if (out_control(p))
			n++;
	if (n == 0)
		return NULL;
	if ((e = malloc(len + n * 8 + 1)) == NULL) {
		*oom = 1;
		return NULL;
	}
	for (p = (const unsigned char *)s, q = e; *p; ) {
		if ((k = out_control(p)) == 0) {
			*q++ = (char)*p++;
			continue;
		}
		while (k-- > 0)
			q += sprintf(q, "\\x%02x", *p++);
	}
	*q = '\0';
	return e;
}

/* A table cell from text ferryctl did not get as a message (a plan's
 * JSON, a snapshot file): s itself when clean, else escaped into one of a
 * few static buffers (enough for the cells of one printf). */
const char *
out_cell(const char *s)
{
	static char ring[8][768];
	static unsigned next;
	char *e, *slot;
	int oom;

	if (s == NULL)
		return "";
	if ((e = out_escape(s, &oom)) == NULL)
		return oom ? "?" : s;
	slot = ring[next++ % 8];
	snprintf(slot, sizeof(ring[0]), "%s", e);
	free(e);
	return slot;
}

static void
out_sanitize_str(char **sp)
{
	char *e;
	int oom;

	if (*sp == NULL)
		return;
	e = out_escape(*sp, &oom);
	if (e == NULL && !oom)
		return;
	/* protobuf-c's default allocator: each string is its own malloc. */
	free(*sp);
	*sp = e != NULL ? e : strdup("?");
}

/*
 * Every string a host may have put in a reply reaches the terminal escaped:
 * walks m (as unpacked with the default allocator) and rewrites each
 * string field, repeated and nested ones too, in place.
 */
void
out_sanitize(ProtobufCMessage *m)
{
	const ProtobufCMessageDescriptor *d;
	unsigned i;
	size_t k, n;

	if (m == NULL)
		return;
	d = m->descriptor;
	for (i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		char *base = (char *)m + f->offset;

		if (f->type != PROTOBUF_C_TYPE_STRING &&
		    f->type != PROTOBUF_C_TYPE_MESSAGE)
			continue;
		if ((f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
		    *(uint32_t *)((char *)m + f->quantifier_offset) != f->id)
			continue;
		if (f->label == PROTOBUF_C_LABEL_REPEATED) {
			n = *(size_t *)((char *)m + f->quantifier_offset);
			for (k = 0; k < n; k++) {
				void **v = &(*(void ***)base)[k];

				if (f->type == PROTOBUF_C_TYPE_STRING)
					out_sanitize_str((char **)v);
				else
					out_sanitize(*v);
			}
		} else if (f->type == PROTOBUF_C_TYPE_STRING) {
			/* A default value is shared, static: never rewritten
			 * (none of ours has control characters). */
			if (*(char **)base != (const char *)f->default_value)
				out_sanitize_str((char **)base);
		} else
			out_sanitize(*(ProtobufCMessage **)base);
	}
}

/* Unpacks a coordinator frame; for the tables, with strings escaped. */
void *
out_unpack(const struct frame *f, const ProtobufCMessageDescriptor *desc)
{
	ProtobufCMessage *m = frame_unpack(f, desc);

	if (m != NULL && !out_raw)
		out_sanitize(m);
	return m;
}

/* A stdout that can no longer be written (a closed pipe: `| head -1`)
 * ends ferryctl at once, as SIGPIPE would: nothing it prints can reach
 * anyone. */
static void
out_check_stdout(void)
{
	if (fflush(stdout) == 0 && !ferror(stdout))
		return;
	if (errno == EPIPE) {
		signal(SIGPIPE, SIG_DFL);
		raise(SIGPIPE);
	}
	_exit(CTL_EXIT_FAIL);
}

void
out_json(struct json_object *o)
{
	printf("%s\n", o ? json_object_to_json_string_ext(o,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE) : "null");
	out_check_stdout();
	json_object_put(o);
}

void
out_json_errors_on(void)
{
	out_json_errors = 1;
}

/* The JSON error's code for an exit status. */
static const char *
out_error_code(int rc)
{
	switch (rc) {
	case CTL_EXIT_USAGE:
		return "usage";
	case CTL_EXIT_BLOCKED:
		return "blocked";
	case CTL_EXIT_UNREACHABLE:
		return "unreachable";
	case CTL_EXIT_DENIED:
		return "not_allowed";
	default:
		return "failed";
	}
}

int
out_finish(int rc)
{
	if (!out_json_errors || out_errbuf[0] == '\0')
		return rc;
	if (rc == CTL_EXIT_OK)	/* a warning on the way: not an error */
		fprintf(stderr, "ferryctl: %s\n", out_errbuf);
	else {
		printf("%s\n", json_object_to_json_string_ext(
		    jsonv_error(out_error_code(rc), out_errbuf),
		    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
		/* the object: freed by exit */
		out_check_stdout();
	}
	out_errbuf[0] = '\0';
	return rc;
}

/* --json: a message kept for the error object; several are joined. */
static void
out_keep(const char *fmt, va_list ap)
{
	size_t n = strlen(out_errbuf);

	if (n > 0 && n < sizeof(out_errbuf) - 2) {
		memcpy(out_errbuf + n, "; ", 3);
		n += 2;
	}
	if (n < sizeof(out_errbuf))
		vsnprintf(out_errbuf + n, sizeof(out_errbuf) - n, fmt, ap);
}

static void (*out_before)(void);

/* fn runs before every message on stderr (progress.c: close the live
 * line); NULL: none. */
void
out_before_message(void (*fn)(void))
{
	out_before = fn;
}

void
out_fail(const char *fmt, ...)
{
	va_list ap;

	if (out_before != NULL)
		out_before();
	fflush(stdout);
	if (out_json_errors) {
		va_start(ap, fmt);
		out_keep(fmt, ap);
		va_end(ap);
		return;
	}
	fprintf(stderr, "ferryctl: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
}

int
out_usage(const struct ctl_cmd *cmd)
{
	if (out_json_errors)
		out_fail("usage: ferryctl %s %s", cmd->name, cmd->usage);
	else
		help_usage(stderr, cmd);
	return CTL_EXIT_USAGE;
}

/* 1 when there is a terminal to ask a question on. */
int
out_have_tty(void)
{
	int fd = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);

	if (fd == -1)
		return 0;
	close(fd);
	return 1;
}

/*
 * Asks prompt on the terminal and reads one line: 1 for an answer starting
 * with y or Y, else 0. A second Ctrl-C while asking (*sigint set by the
 * caller's handler) means yes; so does having no terminal after all.
 */
int
out_confirm(const char *prompt, volatile sig_atomic_t *sigint)
{
	int fd, yes = 0, first = 1;
	ssize_t n;
	char ch;

	if ((fd = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY)) == -1)
		return 1;
	if (write(fd, prompt, strlen(prompt)) < 0)
		yes = 1;
	*sigint = 0;
	for (;;) {
		n = read(fd, &ch, 1);
		if (n == -1 && errno == EINTR) {
			if (*sigint) {
				*sigint = 0;
				if (write(fd, "\n", 1) < 0)
					break;
				yes = 1;
				break;
			}
			continue;
		}
		if (n <= 0 || ch == '\n')
			break;
		if (first)
			yes = ch == 'y' || ch == 'Y';
		first = 0;
	}
	close(fd);
	return yes;
}

/*
 * A question asked without stopping: out_ask_open opens the terminal with
 * single keys and no echo (a key answers at once, and nothing typed lands
 * in the live line being redrawn), non-blocking, so the caller polls it
 * beside the coordinator's socket; out_ask_key reads the answer once there
 * is one; out_ask_close puts the terminal back. The terminal is also put
 * back on SIGTERM, SIGHUP and a closed stdout (ctl_read), which end
 * ferryctl.
 */
static int out_ask_fd = -1;
static int out_ask_saved;
static int out_ask_sigs;		/* our SIGTERM/SIGHUP handlers */
static struct termios out_ask_tio;
static struct sigaction out_ask_oldterm, out_ask_oldhup;

/* Async-signal-safe: close(2) and tcsetattr(3) only. */
void
out_ask_restore(void)
{
	if (out_ask_fd == -1)
		return;
	if (out_ask_saved)
		(void)tcsetattr(out_ask_fd, TCSANOW, &out_ask_tio);
	out_ask_saved = 0;
	(void)close(out_ask_fd);
	out_ask_fd = -1;
}

static void
out_ask_on_signal(int sig)
{
	out_ask_restore();
	signal(sig, SIG_DFL);
	raise(sig);
}

int
out_ask_open(const char *prompt)
{
	struct termios tio;
	struct sigaction sa;

	if (out_ask_fd != -1)
		return out_ask_fd;
	if ((out_ask_fd = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY |
	    O_NONBLOCK)) == -1)
		return -1;
	if (tcgetattr(out_ask_fd, &out_ask_tio) == 0) {
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = out_ask_on_signal;
		sigemptyset(&sa.sa_mask);
		sigaction(SIGTERM, &sa, &out_ask_oldterm);
		sigaction(SIGHUP, &sa, &out_ask_oldhup);
		out_ask_sigs = 1;
		tio = out_ask_tio;
		/* ISIG stays: a second Ctrl-C still reaches the handler. */
		tio.c_lflag &= ~(ICANON | ECHO);
		tio.c_cc[VMIN] = 1;
		tio.c_cc[VTIME] = 0;
		out_ask_saved = tcsetattr(out_ask_fd, TCSANOW, &tio) == 0;
	}
	if (prompt != NULL && write(out_ask_fd, prompt, strlen(prompt)) < 0) {
		out_ask_close(NULL);
		return -1;
	}
	return out_ask_fd;
}

/* 1: yes (y or Y), 0: anything else or the terminal gone, -1: no answer
 * yet. */
int
out_ask_key(void)
{
	char ch;
	ssize_t n;

	if (out_ask_fd == -1)
		return 0;
	n = read(out_ask_fd, &ch, 1);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return -1;
	if (n != 1)
		return 0;
	return ch == 'y' || ch == 'Y';
}

/* Closes the question; with answer, writes it (and a newline) after the
 * prompt out_ask_open wrote. */
void
out_ask_close(const char *answer)
{
	int saved = out_ask_saved;

	if (out_ask_fd == -1)
		return;
	/* A terminal that went away has nothing to be told. */
	if (answer != NULL && write(out_ask_fd, answer, strlen(answer)) >= 0)
		(void)!write(out_ask_fd, "\n", 1);
	/* Keys typed after the answer are not the shell's next command. */
	if (saved)
		(void)tcflush(out_ask_fd, TCIFLUSH);
	out_ask_restore();
	if (out_ask_sigs) {
		sigaction(SIGTERM, &out_ask_oldterm, NULL);
		sigaction(SIGHUP, &out_ask_oldhup, NULL);
		out_ask_sigs = 0;
	}
}
