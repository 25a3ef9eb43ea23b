/* output.c: what ferryctl prints. JSON through json-c, one object or
 * array per line so scripts can read it line by line. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "ferryctl.h"

void
out_json(struct json_object *o)
{
	printf("%s\n", json_object_to_json_string_ext(o,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	fflush(stdout);
	json_object_put(o);
}

struct json_object *
out_str(const char *s)
{
	return s ? json_object_new_string(s) : NULL;
}

void
out_fail(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fprintf(stderr, "ferryctl: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
}

int
out_usage(const struct ctl_cmd *cmd)
{
	fprintf(stderr, "usage: ferryctl %s %s\n", cmd->name, cmd->usage);
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
