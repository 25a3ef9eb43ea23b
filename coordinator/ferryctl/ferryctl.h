/* ferryctl.h: the operator's command-line client. One file per command
 * (cmd-*.c), each exporting a descriptor gathered in ferryctl.c's table. */
#ifndef FERRY_FERRYCTL_H
#define FERRY_FERRYCTL_H

#include <stdint.h>

#include <json-c/json.h>

#include "msg.h"

#define CTL_EXIT_OK		0
#define CTL_EXIT_FAIL		1	/* the operation failed or was refused */
#define CTL_EXIT_USAGE		2
#define CTL_EXIT_BLOCKED	3	/* a pre-check blocked (check, migrate) */
#define CTL_EXIT_UNREACHABLE	4	/* no coordinator at the socket */

struct ctl {
	const char	*socket;
	int		 fd;
	uint32_t	 serial;
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

/* output.c */
void	 out_json(struct json_object *);	/* prints one line; takes the object */
struct json_object *out_str(const char *);	/* JSON null for NULL */
void	 out_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int	 out_usage(const struct ctl_cmd *);

/* cmd-*.c */
extern const struct ctl_cmd cmd_hosts;
extern const struct ctl_cmd cmd_vms;

#endif
