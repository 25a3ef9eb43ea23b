/* ctlrtt.c: times `hosts` calls on the coordinator's control socket the
 * way ferryctl makes them, but reading each reply in bulk (the header,
 * then exactly its payload) instead of byte by byte. It separates the
 * coordinator's share of a `ferryctl hosts` round trip from the client's.
 *
 *   ctlrtt socket count
 *
 * Prints one line per call: milliseconds and reply bytes.
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "frame.h"
#include "msg.h"

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int
read_full(int fd, uint8_t *p, size_t n)
{
	ssize_t r;

	while (n > 0) {
		if ((r = read(fd, p, n)) == -1 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

int
main(int argc, char *argv[])
{
	struct sockaddr_un sun;
	struct frame_hdr h;
	uint8_t hb[FRAME_HDR_LEN], *req, *payload;
	size_t reqlen;
	double t0;
	int fd, i, count;

	if (argc != 3 || (count = atoi(argv[2])) <= 0 ||
	    strlen(argv[1]) >= sizeof(sun.sun_path)) {
		fprintf(stderr, "usage: ctlrtt socket count\n");
		return 2;
	}
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, argv[1], strlen(argv[1]) + 1);
	for (i = 0; i < count; i++) {
		t0 = now_ms();
		if ((fd = socket(AF_UNIX, SOCK_STREAM, 0)) == -1 ||
		    connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
			perror(argv[1]);
			return 1;
		}
		/* HostsRequest has no fields: an empty payload. */
		if (frame_pack_raw(MSG_CTL_HOSTS, FRAME_CALL, FRAME_OK,
		    (uint32_t)i + 1, NULL, 0, &req, &reqlen) < 0 ||
		    write(fd, req, reqlen) != (ssize_t)reqlen) {
			fprintf(stderr, "ctlrtt: cannot send\n");
			return 1;
		}
		free(req);
		if (read_full(fd, hb, sizeof(hb)) < 0 ||
		    frame_hdr_decode(hb, &h, FRAME_MAX_PAYLOAD) < 0 ||
		    (payload = malloc(h.len ? h.len : 1)) == NULL ||
		    read_full(fd, payload, h.len) < 0) {
			fprintf(stderr, "ctlrtt: bad reply\n");
			return 1;
		}
		printf("%.1f %u\n", now_ms() - t0, h.len);
		free(payload);
		close(fd);
	}
	return 0;
}
