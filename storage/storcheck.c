/* storcheck.c: is one disk safe to migrate live on shared storage?
 *
 * Safe: a file on a kernel NFS mount (both hosts must then name the same
 * server and path, see storcheck_same, and pass the nonce check), or a
 * network disk QEMU opens over NFS itself (probed with libnfs). Everything
 * else is blocked with a reason naming the disk: Ferry cannot prove the
 * destination sees the same bytes.
 */
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "storage.h"

static int
storcheck_empty(const char *s)
{
	return s == NULL || *s == '\0';
}

static int
storcheck_is(const char *s, const char *what)
{
	return s != NULL && strcmp(s, what) == 0;
}

static void
storcheck_block(struct storcheck_result *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Blocked, reason "disk <target>: <fmt>". */
static void
storcheck_block(struct storcheck_result *r, const char *fmt, ...)
{
	va_list ap;
	int n;

	r->kind = STORCHECK_BLOCKED;
	n = snprintf(r->reason, sizeof(r->reason), "disk %s: ", r->target);
	if (n < 0 || (size_t)n >= sizeof(r->reason))
		return;
	va_start(ap, fmt);
	vsnprintf(r->reason + n, sizeof(r->reason) - n, fmt, ap);
	va_end(ap);
}

static int
storcheck_copy(char *dst, size_t len, const char *src)
{
	if (strlen(src) >= len)
		return -1;
	strcpy(dst, src);
	return 0;
}

/* remote = export/relpath without doubled slashes. */
static int
storcheck_join(char *out, size_t len, const char *dir, const char *rel)
{
	size_t n = strlen(dir);
	int w;

	while (n > 1 && dir[n - 1] == '/')
		n--;
	if (*rel == '\0')
		w = snprintf(out, len, "%.*s", (int)n, dir);
	else
		w = snprintf(out, len, "%.*s%s%s", (int)n, dir,
		    (n == 1 && dir[0] == '/') ? "" : "/", rel);
	return (w < 0 || (size_t)w >= len) ? -1 : 0;
}

static int
storcheck_nfsvers(const struct mountinfo_entry *e)
{
	const char *v;

	if (strcmp(e->fstype, "nfs4") == 0)
		return 4;
	if ((v = strstr(e->superopts, "vers=")) != NULL &&
	    (v == e->superopts || v[-1] == ',') && v[5] == '4')
		return 4;
	return 3;
}

static void
storcheck_file(const struct storcheck_disk *d, const struct mountinfo *mi,
    struct storcheck_result *r)
{
	const struct mountinfo_entry *e, *origin;
	const char *rel;
	char sub[STORAGE_PATH_MAX];
	size_t n;

	if (d->source[0] != '/') {
		storcheck_block(r, "file %s is not an absolute path",
		    d->source);
		return;
	}
	if ((e = mountinfo_find(mi, d->source)) == NULL) {
		storcheck_block(r, "file %s is under no mount", d->source);
		return;
	}
	if (storcheck_copy(r->path, sizeof(r->path), d->source) == -1 ||
	    storcheck_copy(r->mountpoint, sizeof(r->mountpoint),
	    e->mountpoint) == -1) {
		storcheck_block(r, "file %s: path too long", d->source);
		return;
	}
	snprintf(r->fstype, sizeof(r->fstype), "%s", e->fstype);
	origin = mountinfo_bind_origin(mi, e);
	r->bind = e->bind || origin != NULL;

	if (strcmp(e->fstype, "nfs") != 0 && strcmp(e->fstype, "nfs4") != 0) {
		if (e->bind)
			storcheck_block(r, "file %s is on %s mounted at %s "
			    "(bind mount of %s of %s), not on NFS", d->source,
			    e->fstype, e->mountpoint, e->root, e->source);
		else
			storcheck_block(r, "file %s is on %s mounted at %s "
			    "(%s), not on NFS", d->source, e->fstype,
			    e->mountpoint, e->source);
		return;
	}
	if (mountinfo_nfs_source(e->source, r->server, sizeof(r->server),
	    r->export, sizeof(r->export)) != 0) {
		storcheck_block(r, "file %s is on %s mounted at %s with "
		    "source \"%s\", not server:/path", d->source, e->fstype,
		    e->mountpoint, e->source);
		return;
	}
	/* Path below the mount point. */
	n = strcmp(e->mountpoint, "/") == 0 ? 0 : strlen(e->mountpoint);
	rel = d->source + n;
	while (*rel == '/')
		rel++;
	/*
	 * The kernel prints NFS roots as "/" and the source as the server path
	 * of the mount's own root, bind mounts included (nfs_show_path,
	 * nfs_show_devname). Should a root other than "/" show up anyway, it
	 * is below the source unless the source already ends with it.
	 */
	if (e->bind) {
		size_t el = strlen(r->export), rl = strlen(e->root);

		if (el < rl || strcmp(r->export + el - rl, e->root) != 0) {
			if (storcheck_join(sub, sizeof(sub), e->root + 1,
			    rel) == -1) {
				storcheck_block(r, "file %s: path too long",
				    d->source);
				return;
			}
			rel = sub;
		}
	}
	if (storcheck_copy(r->relpath, sizeof(r->relpath), rel) == -1 ||
	    storcheck_join(r->remote, sizeof(r->remote), r->export,
	    r->relpath) == -1) {
		storcheck_block(r, "file %s: path too long", d->source);
		return;
	}
	r->nfsvers = storcheck_nfsvers(e);
	r->kind = STORCHECK_NFS_FILE;
	if (origin != NULL)
		snprintf(r->reason, sizeof(r->reason), "disk %s: %s is on a "
		    "bind mount at %s of %s:%s (also mounted at %s)",
		    r->target, d->source, e->mountpoint, r->server, r->export,
		    origin->mountpoint);
	else if (e->bind)
		snprintf(r->reason, sizeof(r->reason), "disk %s: %s is on a "
		    "bind mount at %s of %s from %s", r->target, d->source,
		    e->mountpoint, e->root, e->source);
}

static void
storcheck_network(const struct storcheck_disk *d, struct storcheck_result *r)
{
	const char *slash;
	size_t n;

	if (!storcheck_is(d->protocol, "nfs")) {
		storcheck_block(r, "protocol %s is not supported by Ferry's "
		    "checks", storcheck_empty(d->protocol) ? "(none)" :
		    d->protocol);
		return;
	}
	if (storcheck_empty(d->host)) {
		storcheck_block(r, "nfs disk %s has no host", d->source);
		return;
	}
	/* QEMU (libnfs) mounts the image's directory and opens the file. */
	if (d->source[0] != '/' || (slash = strrchr(d->source, '/')) == NULL ||
	    slash[1] == '\0') {
		storcheck_block(r, "nfs disk name %s is not /export/path/file",
		    d->source);
		return;
	}
	n = slash == d->source ? 1 : (size_t)(slash - d->source);
	if (storcheck_copy(r->server, sizeof(r->server), d->host) == -1 ||
	    n >= sizeof(r->export) ||
	    storcheck_copy(r->relpath, sizeof(r->relpath), slash + 1) == -1 ||
	    storcheck_copy(r->remote, sizeof(r->remote), d->source) == -1) {
		storcheck_block(r, "nfs disk %s: name too long", d->source);
		return;
	}
	memcpy(r->export, d->source, n);
	r->export[n] = '\0';
	r->nfsvers = 3;		/* what QEMU's nfs driver speaks */
	r->kind = STORCHECK_NFS_NETWORK;
}

int
storcheck_classify(const struct storcheck_disk *d, const struct mountinfo *mi,
    struct storcheck_result *r)
{
	if (r == NULL)
		return -EINVAL;
	memset(r, 0, sizeof(*r));
	snprintf(r->target, sizeof(r->target), "%s",
	    d == NULL || storcheck_empty(d->target) ? "?" : d->target);
	if (d == NULL || mi == NULL) {
		storcheck_block(r, "nothing to check against");
		return -EINVAL;
	}
	if (storcheck_empty(d->source)) {
		if (storcheck_is(d->device, "cdrom") ||
		    storcheck_is(d->device, "floppy")) {
			r->kind = STORCHECK_IGNORED;
			snprintf(r->reason, sizeof(r->reason), "disk %s: %s "
			    "without media", r->target, d->device);
		} else
			storcheck_block(r, "%s disk without a source",
			    storcheck_empty(d->type) ? "typeless" : d->type);
		return 0;
	}
	if (storcheck_is(d->type, "file"))
		storcheck_file(d, mi, r);
	else if (storcheck_is(d->type, "network"))
		storcheck_network(d, r);
	else if (storcheck_is(d->type, "block"))
		storcheck_block(r, "block device %s is local", d->source);
	else if (storcheck_is(d->type, "volume"))
		storcheck_block(r, "storage pool volume %s is not supported "
		    "by Ferry's checks", d->source);
	else if (storcheck_is(d->type, "dir"))
		storcheck_block(r, "directory %s as a disk is not supported "
		    "by Ferry's checks", d->source);
	else
		storcheck_block(r, "disk type %s is not supported by Ferry's "
		    "checks", storcheck_empty(d->type) ? "(none)" : d->type);
	return 0;
}

struct storcheck_stat {
	char	path[PATH_MAX];
	dev_t	dev;
	mode_t	mode;
};

/* In the child: resolve symlinks (a link into NFS is fine, a link out of
 * it is not) and stat the file. */
static int
storcheck_stat_op(void *arg, void *out, size_t outlen, char *err,
    size_t errlen)
{
	const char *path = arg;
	struct storcheck_stat *ss = out;
	struct stat st;
	int rv;

	if (outlen != sizeof(*ss))
		return -EINVAL;
	if (realpath(path, ss->path) == NULL || stat(ss->path, &st) == -1) {
		rv = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return rv;
	}
	ss->dev = st.st_dev;
	ss->mode = st.st_mode;
	return 0;
}

int
storcheck_disk(const struct storcheck_disk *d, const struct mountinfo *mi,
    int timeout_ms, struct storcheck_result *r)
{
	struct storcheck_disk rd;
	struct storcheck_stat ss;
	struct mountinfo *own = NULL;
	const struct mountinfo_entry *e;
	struct nfsprobe_target t;
	char err[STORAGE_ERR_MAX];
	int rv;

	if (r == NULL || d == NULL)
		return -1;
	memset(r, 0, sizeof(*r));
	snprintf(r->target, sizeof(r->target), "%s",
	    storcheck_empty(d->target) ? "?" : d->target);
	rd = *d;
	if (storcheck_is(d->type, "file") && !storcheck_empty(d->source)) {
		memset(&ss, 0, sizeof(ss));
		rv = timed_call(timeout_ms, storcheck_stat_op,
		    (void *)d->source, &ss, sizeof(ss), err, sizeof(err));
		if (rv == -ENOENT) {
			storcheck_block(r, "%s: no such file", d->source);
			goto done;
		}
		if (rv == -ETIMEDOUT) {
			storcheck_block(r, "%s: %s (hung NFS mount?)",
			    d->source, err);
			goto done;
		}
		if (rv != 0) {
			storcheck_block(r, "%s", err);
			goto done;
		}
		if (S_ISBLK(ss.mode)) {
			storcheck_block(r, "block device %s is local",
			    ss.path);
			goto done;
		}
		if (!S_ISREG(ss.mode)) {
			storcheck_block(r, "%s is not a regular file",
			    ss.path);
			goto done;
		}
		rd.source = ss.path;
	}
	/* Read after the stat: it may have triggered an NFSv4 submount. */
	if (mi == NULL) {
		if (mountinfo_read(NULL, &own, err, sizeof(err)) == -1) {
			storcheck_block(r, "%s", err);
			goto done;
		}
		mi = own;
	}
	storcheck_classify(&rd, mi, r);
	if (r->kind == STORCHECK_NFS_FILE) {
		/* The mount table and the file must agree on the device. */
		e = mountinfo_find(mi, r->path);
		if (e == NULL || e->major != major(ss.dev) ||
		    e->minor != minor(ss.dev))
			storcheck_block(r, "%s is on device %u:%u, not on the "
			    "%s mount at %s", r->path, major(ss.dev),
			    minor(ss.dev), r->fstype, r->mountpoint);
	} else if (r->kind == STORCHECK_NFS_NETWORK) {
		storcheck_target(r, &t);
		if (nfsprobe_file(&t, r->relpath, d->format, timeout_ms, err,
		    sizeof(err)) != 0)
			storcheck_block(r, "%s", err);
	}
 done:
	mountinfo_free(own);
	if (r->kind == STORCHECK_BLOCKED)
		log_debug("storcheck: %s", r->reason);
	else
		log_debug("storcheck: disk %s: %s:%s", r->target, r->server,
		    r->remote);
	return r->kind == STORCHECK_BLOCKED ? -1 : 0;
}

/* Lexically equal paths ("/a//b/" is "/a/b"). */
static int
storcheck_samepath(const char *a, const char *b)
{
	for (;;) {
		while (*a == '/' && (a[1] == '/' || a[1] == '\0'))
			a++;
		while (*b == '/' && (b[1] == '/' || b[1] == '\0'))
			b++;
		if (*a != *b)
			return 0;
		if (*a == '\0')
			return 1;
		a++;
		b++;
	}
}

int
storcheck_same(const struct storcheck_result *src,
    const struct storcheck_result *dst, char *err, size_t errlen)
{
	if (src->kind == STORCHECK_BLOCKED || dst->kind == STORCHECK_BLOCKED) {
		snprintf(err, errlen, "%s", src->kind == STORCHECK_BLOCKED ?
		    src->reason : dst->reason);
		return -1;
	}
	if (src->kind == STORCHECK_IGNORED && dst->kind == STORCHECK_IGNORED)
		return 0;
	if (src->kind != dst->kind) {
		snprintf(err, errlen, "disk %s: %s on the source, %s on the "
		    "destination", src->target,
		    src->kind == STORCHECK_NFS_FILE ? "file on NFS" :
		    src->kind == STORCHECK_NFS_NETWORK ? "QEMU NFS" : "empty",
		    dst->kind == STORCHECK_NFS_FILE ? "file on NFS" :
		    dst->kind == STORCHECK_NFS_NETWORK ? "QEMU NFS" : "empty");
		return -1;
	}
	if (strcasecmp(src->server, dst->server) != 0 ||
	    !storcheck_samepath(src->remote, dst->remote)) {
		snprintf(err, errlen, "disk %s: %s:%s on the source, %s:%s on "
		    "the destination", src->target, src->server, src->remote,
		    dst->server, dst->remote);
		return -1;
	}
	return 0;
}

void
storcheck_target(const struct storcheck_result *r, struct nfsprobe_target *t)
{
	t->server = r->server;
	t->export = r->export;
	t->version = r->nfsvers;
}

int
storcheck_dirs(const struct storcheck_result *r, char *dir, size_t dlen,
    char *reldir, size_t rlen)
{
	const char *s;
	int n;

	if (r->kind != STORCHECK_NFS_FILE && r->kind != STORCHECK_NFS_NETWORK)
		return -EINVAL;
	if (dlen == 0 || rlen == 0)
		return -EINVAL;
	dir[0] = '\0';
	if (r->kind == STORCHECK_NFS_FILE) {
		if ((s = strrchr(r->path, '/')) == NULL)
			return -EINVAL;
		n = s == r->path ? 1 : (int)(s - r->path);
		if ((size_t)n >= dlen)
			return -ENAMETOOLONG;
		memcpy(dir, r->path, n);
		dir[n] = '\0';
	}
	n = (s = strrchr(r->relpath, '/')) == NULL ? 0 :
	    (int)(s - r->relpath);
	if ((size_t)n >= rlen)
		return -ENAMETOOLONG;
	memcpy(reldir, r->relpath, n);
	reldir[n] = '\0';
	return 0;
}
