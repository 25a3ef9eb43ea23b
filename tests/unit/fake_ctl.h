/* fake_ctl.h: a fake coordinator for tests of the built ferryctl binary.
 *
 * The test binds a Unix socket in a fresh temp dir (fctl_setup), runs
 * ferryctl --socket on it (fctl_spawn, $FERRYCTL else build/ferryctl),
 * accepts its connection, reads the CALL it sends and answers with
 * scripted frames, then reads what ferryctl printed and its exit status.
 * Every wait gives up after FCTL_WAIT_MS with a cmocka failure;
 * fctl_teardown also cleans up after one (no ferryctl outlives a test).
 * Needs cmocka and json-c.
 */
#ifndef FERRY_FAKE_CTL_H
#define FERRY_FAKE_CTL_H

#include <sys/types.h>

#include <stddef.h>
#include <stdint.h>

#include "frame.h"

#define FCTL_WAIT_MS	5000
#define FCTL_MAX_LINES	32

struct json_object;

struct fctl_session {
	char		 dir[64];
	char		 path[128];
	int		 lfd;		/* the fake coordinator's socket */
	int		 cfd;		/* ferryctl's connection */
	uint8_t		 in[8192];	/* bytes read from ferryctl, unparsed */
	size_t		 inlen;
	pid_t		 pid;
	int		 out, err;	/* ferryctl's stdout and stderr */
	char		 obuf[65536];
	size_t		 olen, ooff;	/* ooff: next unread line */
	char		 ebuf[8192];
	size_t		 elen;
	int		 status;	/* exit status once reaped */
	char		 tty[64];	/* the pty's slave, when spawned on one */
	char		*lines[FCTL_MAX_LINES];
	int		 nlines;
};

/* dirtmpl: a mkdtemp(3) template, e.g. "/tmp/ferryctl-test.XXXXXX". */
int		 fctl_setup(void **, const char *dirtmpl);
int		 fctl_teardown(void **);

/* socket NULL: the session's; then ferryctl's arguments, NULL-ended. */
void		 fctl_spawn(struct fctl_session *, const char *socket, ...);
/* The same with stdout and stderr both on one pseudo-terminal (s->out). */
void		 fctl_spawn_tty(struct fctl_session *, const char *socket, ...);

/* On a pseudo-terminal that is also its controlling terminal and stdin,
 * in an operator's modes (lines, echo, signals): a question can be asked
 * and answered (fctl_type). */
void		 fctl_spawn_ctty(struct fctl_session *, const char *socket, ...);
void		 fctl_type(struct fctl_session *, const char *keys);
unsigned	 fctl_tty_lflag(struct fctl_session *);
const char	*fctl_wait_output(struct fctl_session *, size_t from,
		    const char *needle);
int		 fctl_wait_exit(struct fctl_session *);

void		 fctl_accept(struct fctl_session *);
void		*fctl_call(struct fctl_session *, uint16_t,
		    const ProtobufCMessageDescriptor *, uint32_t *);
void		 fctl_write(struct fctl_session *, uint8_t *, size_t);
void		 fctl_send(struct fctl_session *, uint16_t, uint16_t, uint32_t,
		    const ProtobufCMessage *);

const char	*fctl_next_line(struct fctl_session *);
int		 fctl_finish(struct fctl_session *);

struct json_object *fctl_json_next(struct fctl_session *);
void		 fctl_json_lines(struct fctl_session *);
struct json_object *fctl_line(struct fctl_session *, int);
struct json_object *fctl_get(struct json_object *, const char *);
void		 fctl_assert_str(struct json_object *, const char *,
		    const char *);
void		 fctl_assert_int(struct json_object *, const char *, int64_t);
void		 fctl_assert_num(struct json_object *, const char *, double);
void		 fctl_assert_keys(struct json_object *, const char *const *);

/* cases: ferryctl's arguments, NULL-padded; each must exit 2 at once. */
void		 fctl_bad_args(struct fctl_session *, const char *const (*)[5],
		    size_t);

#endif /* FERRY_FAKE_CTL_H */
