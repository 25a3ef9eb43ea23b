/* localdisk.c: a disk file on a host's own filesystem, for --copy-storage.
 *
 * libvirt's storage migration (NBD) copies a local disk into a file that
 * must already exist on the destination with the right format and a size
 * at least the source's virtual size (libvirt pre-creates only in storage
 * pools). These functions look at the source's image (qemu-img info),
 * measure the room on the destination, create the destination's image and
 * remove it again after a failed copy. Every one runs its filesystem work
 * (and qemu-img) in a timed child (timed.c): a hung filesystem fails the
 * call in about timeout_ms.
 */
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern char **environ;

#include "storage.h"

#define LOCALDISK_JSON_MAX	16384

/*
 * In a timed child: run argv, its stdout and stderr into out[outlen] (NUL
 * ended). posix_spawn, not fork: hostd's libraries have fork handlers that
 * recreate their own pipes in a forked child (closing ours).
 */
static int
localdisk_run(char *const argv[], char *out, size_t outlen, char *err,
    size_t errlen)
{
	posix_spawn_file_actions_t fa;
	int p[2], status, rc;
	size_t n = 0;
	ssize_t r;
	pid_t pid;

	if (pipe2(p, O_CLOEXEC) == -1) {
		snprintf(err, errlen, "pipe: %s", strerror(errno));
		return -EIO;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, p[1], 1);
	posix_spawn_file_actions_adddup2(&fa, p[1], 2);
	rc = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(p[1]);
	if (rc != 0) {
		snprintf(err, errlen, "%s: %s", argv[0], strerror(rc));
		close(p[0]);
		return -rc;
	}
	/* hostd's signal handlers (libuv's SIGCHLD) survive the fork: EINTR */
	while (n + 1 < outlen) {
		r = read(p[0], out + n, outlen - n - 1);
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		n += r;
	}
	out[n] = '\0';
	close(p[0]);
	while ((r = waitpid(pid, &status, 0)) == -1 && errno == EINTR)
		;
	if (r == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		/* qemu-img's own message is the useful part */
		n = strcspn(out, "\n");
		snprintf(err, errlen, "qemu-img %s failed: %.*s", argv[1],
		    (int)n, n ? out : "(no message)");
		return -EIO;
	}
	return 0;
}

static int
localdisk_info_op(void *arg, void *out, size_t outlen, char *err,
    size_t errlen)
{
	/* -U: QEMU holds the image's lock while the guest runs */
	char *argv[] = { "qemu-img", "info", "-U", "--output=json",
	    "--", arg, NULL };

	return localdisk_run(argv, out, outlen, err, errlen);
}

int
localdisk_info(const char *path, int timeout_ms, struct localdisk_info *li,
    char *err, size_t errlen)
{
	struct json_object *o = NULL, *v;
	char *json;
	int rc;

	memset(li, 0, sizeof(*li));
	if (path == NULL || path[0] != '/') {
		snprintf(err, errlen, "%s: not an absolute path",
		    path ? path : "(null)");
		return -EINVAL;
	}
	if ((json = calloc(1, LOCALDISK_JSON_MAX)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	rc = timed_call(timeout_ms, localdisk_info_op, (void *)path, json,
	    LOCALDISK_JSON_MAX, err, errlen);
	if (rc != 0)
		goto done;
	rc = -EBADMSG;
	if ((o = json_tokener_parse(json)) == NULL ||
	    !json_object_object_get_ex(o, "format", &v) ||
	    snprintf(li->format, sizeof(li->format), "%s",
	    json_object_get_string(v)) >= (int)sizeof(li->format) ||
	    !json_object_object_get_ex(o, "virtual-size", &v)) {
		snprintf(err, errlen, "qemu-img info %s: unexpected output: "
		    "%.80s", path, json);
		goto done;
	}
	li->virtual_size = (uint64_t)json_object_get_int64(v);
	if (json_object_object_get_ex(o, "actual-size", &v))
		li->actual_size = (uint64_t)json_object_get_int64(v);
	if (json_object_object_get_ex(o, "backing-filename", &v))
		snprintf(li->backing, sizeof(li->backing), "%s",
		    json_object_get_string(v));
	if (json_object_object_get_ex(o, "dirty-flag", &v))
		li->dirty = json_object_get_boolean(v);
	rc = 0;
 done:
	json_object_put(o);
	free(json);
	return rc;
}

struct localdisk_room_out {
	uint64_t	avail;
	int		exists;		/* the file itself */
	int		dir_ok;
};

static int
localdisk_room_op(void *arg, void *out, size_t outlen, char *err,
    size_t errlen)
{
	const char *path = arg;
	struct localdisk_room_out *ro = out;
	char dir[STORAGE_PATH_MAX];
	const char *slash = strrchr(path, '/');
	struct statvfs sv;
	struct stat st;

	if (outlen != sizeof(*ro) || slash == NULL)
		return -EINVAL;
	snprintf(dir, sizeof(dir), "%.*s", slash == path ? 1 :
	    (int)(slash - path), path);
	ro->exists = lstat(path, &st) == 0;
	if (stat(dir, &st) == -1 || !S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "directory %s: %s", dir,
		    errno ? strerror(errno) : "not a directory");
		return -ENOENT;
	}
	ro->dir_ok = 1;
	if (statvfs(dir, &sv) == -1) {
		snprintf(err, errlen, "statvfs %s: %s", dir, strerror(errno));
		return -EIO;
	}
	ro->avail = (uint64_t)sv.f_bavail * sv.f_frsize;
	return 0;
}

int
localdisk_room(const char *path, int timeout_ms, uint64_t *avail,
    int *exists, char *err, size_t errlen)
{
	struct localdisk_room_out ro;
	int rc;

	memset(&ro, 0, sizeof(ro));
	rc = timed_call(timeout_ms, localdisk_room_op, (void *)path, &ro,
	    sizeof(ro), err, errlen);
	*avail = ro.avail;
	*exists = ro.exists;
	return rc;
}

struct localdisk_create_arg {
	const char	*path;
	const char	*format;
	char		 size[32];
};

static int
localdisk_create_op(void *arg, void *out, size_t outlen, char *err,
    size_t errlen)
{
	struct localdisk_create_arg *a = arg;
	char *argv[] = { "qemu-img", "create", "-q", "-f", (char *)a->format,
	    "--", (char *)a->path, a->size, NULL };
	char msg[512];
	int fd, rc;

	/* O_EXCL: never over an existing file (a shared directory after all,
	 * or another job's copy); qemu-img then writes into ours. */
	if ((fd = open(a->path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
	    0600)) == -1) {
		rc = -errno;
		snprintf(err, errlen, "%s: %s", a->path, strerror(errno));
		return rc;
	}
	close(fd);
	(void)out;
	(void)outlen;
	if ((rc = localdisk_run(argv, msg, sizeof(msg), err, errlen)) != 0) {
		(void)unlink(a->path);
		return rc;
	}
	return 0;
}

int
localdisk_create(const char *path, const char *format, uint64_t size,
    int timeout_ms, char *err, size_t errlen)
{
	struct localdisk_create_arg a;

	if (path == NULL || path[0] != '/' || strstr(path, "/../") != NULL) {
		snprintf(err, errlen, "%s: not a clean absolute path",
		    path ? path : "(null)");
		return -EINVAL;
	}
	if (format == NULL || (strcmp(format, "qcow2") != 0 &&
	    strcmp(format, "raw") != 0)) {
		snprintf(err, errlen, "%s: format %s is not copied (qcow2 or raw "
		    "only)", path, format ? format : "(none)");
		return -EINVAL;
	}
	a.path = path;
	a.format = format;
	snprintf(a.size, sizeof(a.size), "%llu", (unsigned long long)size);
	return timed_call(timeout_ms, localdisk_create_op, &a, NULL, 0, err,
	    errlen);
}

static int
localdisk_remove_op(void *arg, void *out, size_t outlen, char *err,
    size_t errlen)
{
	(void)out;
	(void)outlen;
	if (unlink(arg) == -1) {
		int rc = -errno;

		snprintf(err, errlen, "%s: %s", (char *)arg, strerror(errno));
		return rc;
	}
	return 0;
}

int
localdisk_remove(const char *path, int timeout_ms, char *err, size_t errlen)
{
	return timed_call(timeout_ms, localdisk_remove_op, (void *)path, NULL, 0,
	    err, errlen);
}
