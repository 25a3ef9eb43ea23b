/* nonce.c: a nonce file written on one host and read back on the other.
 *
 * If the source host writes .ferry-nonce-<hex> into a disk's directory and
 * the destination finds it there with the same contents, both see the same
 * directory of the same server, now (not a stale cache or a local directory
 * of the same name). Each step is its own call: they run on different hosts.
 * Every file operation runs under timed_call.
 */
#include <sys/random.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "storage.h"

struct nonce_op {
	const char		*dir;
	const struct nonce	*n;
};

int
nonce_valid(const struct nonce *n)
{
	size_t i, plen = strlen(NONCE_PREFIX);

	if (n == NULL || strncmp(n->name, NONCE_PREFIX, plen) != 0 ||
	    strlen(n->name) != plen + NONCE_HEXLEN ||
	    strlen(n->value) != NONCE_HEXLEN)
		return -1;
	for (i = plen; n->name[i] != '\0'; i++)
		if (strchr("0123456789abcdef", n->name[i]) == NULL)
			return -1;
	return 0;
}

int
nonce_generate(struct nonce *n)
{
	unsigned char r[NONCE_HEXLEN];	/* half for the name, half the value */
	size_t got = 0, i;
	ssize_t k;

	while (got < sizeof(r)) {
		k = getrandom(r + got, sizeof(r) - got, 0);
		if (k == -1 && errno == EINTR)
			continue;
		if (k == -1)
			return -errno;
		got += (size_t)k;
	}
	memcpy(n->name, NONCE_PREFIX, strlen(NONCE_PREFIX));
	for (i = 0; i < NONCE_HEXLEN / 2; i++) {
		snprintf(n->name + strlen(NONCE_PREFIX) + 2 * i, 3, "%02x",
		    r[i]);
		snprintf(n->value + 2 * i, 3, "%02x", r[NONCE_HEXLEN / 2 + i]);
	}
	return 0;
}

static int
nonce_path(const char *dir, const struct nonce *n, char *path, size_t len,
    char *err, size_t errlen)
{
	if (dir == NULL || dir[0] != '/' || nonce_valid(n) == -1) {
		snprintf(err, errlen, "bad nonce or directory");
		return -EINVAL;
	}
	if ((size_t)snprintf(path, len, "%s/%s", dir, n->name) >= len) {
		snprintf(err, errlen, "%s: path too long", dir);
		return -ENAMETOOLONG;
	}
	return 0;
}

/* In the child. */
static int
nonce_write_op(void *arg, void *out, size_t outlen, char *err, size_t errlen)
{
	const struct nonce_op *op = arg;
	char path[STORAGE_PATH_MAX];
	size_t len = strlen(op->n->value), done = 0;
	ssize_t w;
	int fd = -1, dfd = -1, rv;

	(void)out;
	(void)outlen;
	if ((rv = nonce_path(op->dir, op->n, path, sizeof(path), err,
	    errlen)) != 0)
		return rv;
	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, 0644)) == -1)
		goto fail;
	while (done < len) {
		if ((w = write(fd, op->n->value + done, len - done)) == -1) {
			if (errno == EINTR)
				continue;
			goto fail;
		}
		done += (size_t)w;
	}
	if (fsync(fd) == -1 || close(fd) == -1) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	/* The entry itself must reach the server too. */
	if ((dfd = open(op->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1 ||
	    fsync(dfd) == -1) {
		rv = -errno;
		snprintf(err, errlen, "%s: fsync: %s", op->dir,
		    strerror(errno));
		if (dfd != -1)
			close(dfd);
		return rv;
	}
	close(dfd);
	return 0;
 fail:
	rv = -errno;
	snprintf(err, errlen, "%s: %s", path, strerror(errno));
	if (fd != -1)
		close(fd);
	return rv;
}

static int
nonce_read_op(void *arg, void *out, size_t outlen, char *err, size_t errlen)
{
	const struct nonce_op *op = arg;
	char path[STORAGE_PATH_MAX], buf[NONCE_HEXLEN * 2];
	size_t got = 0;
	ssize_t r;
	int fd, rv;

	(void)out;
	(void)outlen;
	if ((rv = nonce_path(op->dir, op->n, path, sizeof(path), err,
	    errlen)) != 0)
		return rv;
	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) == -1) {
		rv = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return rv;
	}
	while (got < sizeof(buf)) {
		if ((r = read(fd, buf + got, sizeof(buf) - got)) == -1) {
			if (errno == EINTR)
				continue;
			rv = -errno;
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
			close(fd);
			return rv;
		}
		if (r == 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	if (got != strlen(op->n->value) ||
	    memcmp(buf, op->n->value, got) != 0) {
		snprintf(err, errlen, "%s: contents differ from the nonce "
		    "written", path);
		return -EBADMSG;
	}
	return 0;
}

static int
nonce_remove_op(void *arg, void *out, size_t outlen, char *err, size_t errlen)
{
	const struct nonce_op *op = arg;
	char path[STORAGE_PATH_MAX];
	int rv;

	(void)out;
	(void)outlen;
	if ((rv = nonce_path(op->dir, op->n, path, sizeof(path), err,
	    errlen)) != 0)
		return rv;
	if (unlink(path) == -1) {
		rv = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return rv;
	}
	return 0;
}

int
nonce_write(const char *dir, struct nonce *n, int timeout_ms, char *err,
    size_t errlen)
{
	struct nonce_op op = { dir, n };
	int rv;

	if ((rv = nonce_generate(n)) != 0) {
		snprintf(err, errlen, "getrandom: %s", strerror(-rv));
		return rv;
	}
	return timed_call(timeout_ms, nonce_write_op, &op, NULL, 0, err,
	    errlen);
}

int
nonce_read(const char *dir, const struct nonce *n, int timeout_ms, char *err,
    size_t errlen)
{
	struct nonce_op op = { dir, n };

	if (nonce_valid(n) == -1) {
		snprintf(err, errlen, "not a Ferry nonce name");
		return -EINVAL;
	}
	return timed_call(timeout_ms, nonce_read_op, &op, NULL, 0, err,
	    errlen);
}

int
nonce_remove(const char *dir, const struct nonce *n, int timeout_ms,
    char *err, size_t errlen)
{
	struct nonce_op op = { dir, n };

	if (nonce_valid(n) == -1) {
		snprintf(err, errlen, "not a Ferry nonce name");
		return -EINVAL;
	}
	return timed_call(timeout_ms, nonce_remove_op, &op, NULL, 0, err,
	    errlen);
}
