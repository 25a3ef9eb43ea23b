/* output.c: what ferryctl prints. JSON through json-c, one object or
 * array per line so scripts can read it line by line. */
#include <stdarg.h>
#include <stdio.h>

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
