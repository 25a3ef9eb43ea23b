/* srvprobe.c: is a storage server's daemon answering at all? A TCP connect
 * to its well-known port (glusterd 24007, Ceph monitor 6789), made in a
 * timed child so that a name lookup or a dropped SYN cannot hold a worker.
 *
 * Why not gfapi (libgfapi) or librados: Debian 12 packages no headers for
 * gfapi (libgfapi0 only), and a whole client graph per check would take
 * seconds to tear down (about 10 s for gfapi). The connect proves the
 * daemon listens from this host's network; the nonce read back through the
 * other host's mount proves both see the same files.
 */
#include <sys/socket.h>
#include <sys/types.h>

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "storage.h"

struct srvprobe_arg {
	const char	*server;
	int		 port;
};

/* In the child. */
static int
srvprobe_op(void *arg, void *out, size_t outlen, char *err, size_t errlen)
{
	const struct srvprobe_arg *a = arg;
	struct addrinfo hints, *res = NULL, *ai;
	char port[16];
	int fd, rc, saved = ECONNREFUSED;

	(void)out;
	(void)outlen;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	snprintf(port, sizeof(port), "%d", a->port);
	if ((rc = getaddrinfo(a->server, port, &hints, &res)) != 0) {
		snprintf(err, errlen, "%s: %s", a->server, gai_strerror(rc));
		return -EHOSTUNREACH;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		if ((fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC,
		    ai->ai_protocol)) == -1) {
			saved = errno;
			continue;
		}
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
			close(fd);
			freeaddrinfo(res);
			return 0;
		}
		saved = errno;
		close(fd);
	}
	freeaddrinfo(res);
	snprintf(err, errlen, "%s port %d: %s", a->server, a->port,
	    strerror(saved));
	return -saved;
}

int
srvprobe_tcp(const char *server, int port, int timeout_ms, char *err,
    size_t errlen)
{
	struct srvprobe_arg a;
	char e[STORAGE_ERR_MAX] = "";
	int rv;

	if (server == NULL || *server == '\0' || port <= 0 || port > 65535) {
		snprintf(err, errlen, "no server to probe");
		return -EINVAL;
	}
	a.server = server;
	a.port = port;
	rv = timed_call(timeout_ms, srvprobe_op, &a, NULL, 0, e, sizeof(e));
	if (rv == -ETIMEDOUT)
		snprintf(err, errlen, "%s port %d: no answer (%s)", server,
		    port, e);
	else if (rv != 0)
		snprintf(err, errlen, "%s", e);
	return rv;
}
