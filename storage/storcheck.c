/* storcheck.c: is one disk safe to migrate live on shared storage?
 *
 * Safe: a file on a mounted shared filesystem (kernel NFS; GlusterFS over
 * FUSE, CephFS, GFS2, OCFS2 by their mountinfo types; both hosts must then
 * name the same server and path, see storcheck_same, and pass the nonce
 * check), or a network disk QEMU opens itself over NFS (probed with libnfs)
 * or gluster:// (glusterd probed), an iSCSI LUN (libiscsi login) or a Ceph
 * RBD image (librados/librbd with this host's own key). Everything else is
 * blocked
 * with a reason naming the disk: Ferry cannot prove the destination sees
 * the same bytes.
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

#include "clock.h"
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

/* The shared filesystems Ferry recognises beside NFS, by mountinfo type. */
static const struct {
	const char	*fstype;
	const char	*name;
	int		 server;	/* source is server:/path */
} storcheck_shared[] = {
	{ "fuse.glusterfs",	"GlusterFS",	1 },
	{ "ceph",		"CephFS",	1 },
	{ "fuse.ceph-fuse",	"CephFS",	0 },
	{ "gfs2",		"GFS2",		0 },
	{ "ocfs2",		"OCFS2",	0 },
};

/* A file on GlusterFS, CephFS, GFS2 or OCFS2: the same nonce check as NFS
 * proves both hosts share the directory; the server (if any) is probed by
 * storcheck_disk. */
static void
storcheck_shared_file(const struct storcheck_disk *d,
    const struct mountinfo_entry *e, size_t which, const char *rel,
    struct storcheck_result *r)
{
	const char *slash;
	size_t n;

	snprintf(r->fsname, sizeof(r->fsname), "%s",
	    storcheck_shared[which].name);
	if (storcheck_shared[which].server) {
		/* "server:/volume[/subdir]"; CephFS "mon1,mon2:6789:/path" */
		const char *c = strstr(e->source, ":/");

		if (c == NULL || c == e->source ||
		    (size_t)(c - e->source) >= sizeof(r->server)) {
			storcheck_block(r, "file %s is on %s mounted at %s with "
			    "source \"%s\", not server:/volume", d->source,
			    e->fstype, e->mountpoint, e->source);
			return;
		}
		memcpy(r->server, e->source, c - e->source);
		r->server[c - e->source] = '\0';
		if (storcheck_copy(r->export, sizeof(r->export), c + 1) == -1) {
			storcheck_block(r, "file %s: path too long", d->source);
			return;
		}
		if (strcmp(r->fsname, "GlusterFS") == 0) {
			/* the volume is the first component */
			slash = strchr(r->export + 1, '/');
			n = slash ? (size_t)(slash - r->export - 1) :
			    strlen(r->export + 1);
			snprintf(r->volume, sizeof(r->volume), "%.*s", (int)n,
			    r->export + 1);
		} else
			snprintf(r->volume, sizeof(r->volume), "%s", r->export);
		if (storcheck_copy(r->relpath, sizeof(r->relpath), rel) == -1 ||
		    storcheck_join(r->remote, sizeof(r->remote), r->export,
		    r->relpath) == -1) {
			storcheck_block(r, "file %s: path too long", d->source);
			return;
		}
	} else {
		/* A cluster filesystem on a shared block device (or ceph-fuse):
		 * device names may differ between hosts; the path must not. */
		snprintf(r->volume, sizeof(r->volume), "%s", e->source);
		snprintf(r->export, sizeof(r->export), "%s", e->mountpoint);
		if (storcheck_copy(r->relpath, sizeof(r->relpath), rel) == -1 ||
		    storcheck_copy(r->remote, sizeof(r->remote), d->source) == -1) {
			storcheck_block(r, "file %s: path too long", d->source);
			return;
		}
	}
	r->kind = STORCHECK_SHARED_FILE;
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
		size_t i;

		for (i = 0; i < sizeof(storcheck_shared) /
		    sizeof(storcheck_shared[0]); i++)
			if (strcmp(e->fstype, storcheck_shared[i].fstype) == 0)
				break;
		if (i < sizeof(storcheck_shared) / sizeof(storcheck_shared[0]) &&
		    !e->bind && origin == NULL) {
			n = strcmp(e->mountpoint, "/") == 0 ? 0 :
			    strlen(e->mountpoint);
			rel = d->source + n;
			while (*rel == '/')
				rel++;
			storcheck_shared_file(d, e, i, rel, r);
			return;
		}
		/* Shared types on a bind stay blocked, but not "local". */
		r->local = i == sizeof(storcheck_shared) /
		    sizeof(storcheck_shared[0]);
		snprintf(r->fsname, sizeof(r->fsname), "%s", e->fstype);
		snprintf(r->volume, sizeof(r->volume), "%s", e->source);
		if (e->bind)
			storcheck_block(r, "file %s is on %s mounted at %s "
			    "(bind mount of %s of %s), not on shared storage",
			    d->source, e->fstype, e->mountpoint, e->root,
			    e->source);
		else
			storcheck_block(r, "file %s is on %s mounted at %s "
			    "(%s), not on shared storage", d->source, e->fstype,
			    e->mountpoint, e->source);
		return;
	}
	snprintf(r->fsname, sizeof(r->fsname), "NFS");
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
	snprintf(r->volume, sizeof(r->volume), "%s", r->export);
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

/* gluster://: name "volume/path/in/volume", the first <host> its server. */
static void
storcheck_gluster(const struct storcheck_disk *d, struct storcheck_result *r)
{
	const char *name = d->source, *slash;

	snprintf(r->fsname, sizeof(r->fsname), "GlusterFS");
	if (storcheck_empty(d->host)) {
		storcheck_block(r, "gluster disk %s has no host", d->source);
		return;
	}
	while (*name == '/')
		name++;
	if ((slash = strchr(name, '/')) == NULL || slash == name ||
	    slash[1] == '\0') {
		storcheck_block(r, "gluster disk name %s is not volume/path",
		    d->source);
		return;
	}
	if ((size_t)(slash - name) + 2 > sizeof(r->export) ||
	    storcheck_copy(r->server, sizeof(r->server), d->host) == -1 ||
	    storcheck_copy(r->relpath, sizeof(r->relpath), slash + 1) == -1 ||
	    snprintf(r->remote, sizeof(r->remote), "/%s", name) >=
	    (int)sizeof(r->remote)) {
		storcheck_block(r, "gluster disk %s: name too long", d->source);
		return;
	}
	memcpy(r->volume, name, slash - name);
	r->volume[slash - name] = '\0';
	r->export[0] = '/';
	memcpy(r->export + 1, name, slash - name);
	r->export[slash - name + 1] = '\0';
	r->kind = STORCHECK_GLUSTER_NETWORK;
}

/* iscsi: name "IQN/LUN" (LUN 0 when absent), the first <host> the portal. */
static void
storcheck_iscsi(const struct storcheck_disk *d, struct storcheck_result *r)
{
	const char *slash = strrchr(d->source, '/');
	char *end;
	long lun = 0;
	size_t n = strlen(d->source);

	snprintf(r->fsname, sizeof(r->fsname), "iSCSI");
	if (storcheck_empty(d->host)) {
		storcheck_block(r, "iSCSI disk %s has no portal", d->source);
		return;
	}
	if (slash != NULL) {
		errno = 0;
		lun = strtol(slash + 1, &end, 10);
		if (slash[1] == '\0' || *end != '\0' || errno != 0 || lun < 0 ||
		    lun > 16383) {
			storcheck_block(r, "iSCSI disk name %s is not IQN/LUN",
			    d->source);
			return;
		}
		n = slash - d->source;
	}
	if (n == 0 || n >= sizeof(r->volume) ||
	    storcheck_copy(r->server, sizeof(r->server), d->host) == -1 ||
	    storcheck_copy(r->remote, sizeof(r->remote), d->source) == -1) {
		storcheck_block(r, "iSCSI disk %s: name too long", d->source);
		return;
	}
	memcpy(r->volume, d->source, n);
	r->volume[n] = '\0';
	r->lun = (int)lun;
	snprintf(r->relpath, sizeof(r->relpath), "%d", r->lun);
	r->kind = STORCHECK_ISCSI_NETWORK;
}

/* rbd: name "pool/image" or "pool/namespace/image"; the monitors are every
 * <host> (hosts), else the first (host). server: the monitors, volume: the
 * pool, export: the namespace, relpath: the image. */
static void
storcheck_rbd(const struct storcheck_disk *d, struct storcheck_result *r)
{
	const char *name = d->source, *s1, *s2 = NULL;
	const char *mons = storcheck_empty(d->hosts) ? d->host : d->hosts;

	snprintf(r->fsname, sizeof(r->fsname), "Ceph RBD");
	if (storcheck_empty(mons)) {
		storcheck_block(r, "Ceph RBD image %s has no monitor <host>",
		    d->source);
		return;
	}
	if (strchr(name, '@') != NULL) {
		storcheck_block(r, "Ceph RBD image %s is a snapshot: not "
		    "supported by Ferry's checks", d->source);
		return;
	}
	if ((s1 = strchr(name, '/')) == NULL || s1 == name || s1[1] == '\0' ||
	    ((s2 = strchr(s1 + 1, '/')) != NULL && (s2 == s1 + 1 ||
	    s2[1] == '\0' || strchr(s2 + 1, '/') != NULL))) {
		storcheck_block(r, "Ceph RBD disk name %s is not pool/image or "
		    "pool/namespace/image", d->source);
		return;
	}
	if ((size_t)(s1 - name) >= sizeof(r->volume) ||
	    storcheck_copy(r->server, sizeof(r->server), mons) == -1 ||
	    storcheck_copy(r->remote, sizeof(r->remote), name) == -1) {
		storcheck_block(r, "Ceph RBD disk %s: name too long", d->source);
		return;
	}
	memcpy(r->volume, name, s1 - name);
	r->volume[s1 - name] = '\0';
	if (s2 != NULL) {
		snprintf(r->export, sizeof(r->export), "%.*s",
		    (int)(s2 - s1 - 1), s1 + 1);
		snprintf(r->relpath, sizeof(r->relpath), "%s", s2 + 1);
	} else
		snprintf(r->relpath, sizeof(r->relpath), "%s", s1 + 1);
	r->kind = STORCHECK_RBD_NETWORK;
}

static void
storcheck_network(const struct storcheck_disk *d, struct storcheck_result *r)
{
	const char *slash;
	size_t n;

	if (storcheck_is(d->protocol, "gluster")) {
		storcheck_gluster(d, r);
		return;
	}
	if (storcheck_is(d->protocol, "rbd")) {
		storcheck_rbd(d, r);
		return;
	}
	if (storcheck_is(d->protocol, "iscsi")) {
		storcheck_iscsi(d, r);
		return;
	}
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
	snprintf(r->fsname, sizeof(r->fsname), "NFS");
	snprintf(r->volume, sizeof(r->volume), "%s", r->export);
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

/* " (on fuse.glusterfs 10.0.0.3:/vol mounted at /mnt)": which storage a
 * failed path is on, for the message (reading mountinfo never blocks). */
static void
storcheck_where(const char *path, const struct mountinfo *mi, char *buf,
    size_t len)
{
	struct mountinfo *own = NULL;
	const struct mountinfo_entry *e;
	char err[STORAGE_ERR_MAX];

	buf[0] = '\0';
	if (mi == NULL && mountinfo_read(NULL, &own, err, sizeof(err)) == 0)
		mi = own;
	if (mi != NULL && (e = mountinfo_find(mi, path)) != NULL)
		snprintf(buf, len, " (on %s %s mounted at %s)", e->fstype,
		    e->source, e->mountpoint);
	mountinfo_free(own);
}

/* The server of a GlusterFS or CephFS disk answers from this host: the
 * mount (or QEMU) may still serve cached data, or fail only later. */
static void
storcheck_probe_server(struct storcheck_result *r, int timeout_ms)
{
	char err[STORAGE_ERR_MAX], server[STORAGE_NAME_MAX];
	const char *port_s;
	int port;

	if (r->kind != STORCHECK_SHARED_FILE &&
	    r->kind != STORCHECK_GLUSTER_NETWORK)
		return;
	if (strcmp(r->fsname, "GlusterFS") == 0) {
		snprintf(server, sizeof(server), "%s", r->server);
		port = SRVPROBE_GLUSTERD_PORT;
	} else if (strcmp(r->fsname, "CephFS") == 0 && r->server[0]) {
		/* the first monitor: "mon1[:port],mon2..." */
		snprintf(server, sizeof(server), "%.*s",
		    (int)strcspn(r->server, ","), r->server);
		port = SRVPROBE_CEPH_MON_PORT;
		if ((port_s = strrchr(server, ':')) != NULL &&
		    strchr(server, ':') == port_s) {
			port = atoi(port_s + 1);
			server[port_s - server] = '\0';
		}
	} else
		return;		/* GFS2, OCFS2: no server; the nonce decides */
	if (srvprobe_tcp(server, port, timeout_ms, err, sizeof(err)) != 0)
		storcheck_block(r, "the %s server does not answer from here: %s",
		    r->fsname, err);
}

/* Some monitor of "a[:port],[v6addr]:port,..." accepts a TCP connection
 * (each gets its share of the deadline). A monitor that is down refuses at
 * once, where librados would retry until its own timeout. 0 if one does,
 * else -1 with the last one's reason in err. */
static int
storcheck_rbd_mons(const char *mons, int timeout_ms, char *err, size_t errlen)
{
	char buf[STORAGE_NAME_MAX], e[STORAGE_ERR_MAX] = "no monitor", *tok;
	char *save = NULL, *host, *p;
	const char *s;
	int port, n = 1, each;

	for (s = mons; *s; s++)
		n += *s == ',';
	each = timeout_ms / n > 1000 ? timeout_ms / n : 1000;
	snprintf(buf, sizeof(buf), "%s", mons);
	for (tok = strtok_r(buf, ",", &save); tok != NULL;
	    tok = strtok_r(NULL, ",", &save)) {
		host = tok;
		port = SRVPROBE_CEPH_MON_PORT;
		if (*host == '[') {
			if ((p = strchr(host, ']')) == NULL)
				continue;
			*p = '\0';
			host++;
			if (p[1] == ':')
				port = atoi(p + 2);
		} else if ((p = strchr(host, ':')) != NULL &&
		    strchr(p + 1, ':') == NULL) {
			*p = '\0';
			port = atoi(p + 1);
		}
		if (srvprobe_tcp(host, port, each, e, sizeof(e)) == 0)
			return 0;
	}
	snprintf(err, errlen, "%s", e);
	return -1;
}

/* An RBD image opens from here with this host's key: monitors answer, the
 * key is accepted, pool and image exist. Its size and id are what the other
 * host compares; its watchers say who has it open. */
static void
storcheck_probe_rbd(const struct storcheck_disk *d, struct storcheck_result *r,
    int timeout_ms)
{
	struct rbdprobe_target t;
	struct rbdprobe_info info;
	char err[STORAGE_ERR_MAX];
	int64_t t0;
	int left;

	if (!storcheck_empty(d->auth_user) && storcheck_empty(d->key)) {
		storcheck_block(r, "Ceph RBD image %s: this host holds no key "
		    "for client.%s", r->remote, d->auth_user);
		return;
	}
	t0 = (int64_t)clock_mono_ms();
	if (storcheck_rbd_mons(r->server, timeout_ms, err, sizeof(err)) != 0) {
		storcheck_block(r, "Ceph monitor %s unreachable: %s", r->server,
		    err);
		return;
	}
	/* librados gets what is left of the deadline, at least 2 s */
	left = timeout_ms - (int)((int64_t)clock_mono_ms() - t0);
	memset(&t, 0, sizeof(t));
	t.monitors = r->server;
	t.user = storcheck_empty(d->auth_user) ? NULL : d->auth_user;
	t.key = d->key;
	t.pool = r->volume;
	t.nspace = r->export;
	t.image = r->relpath;
	if (rbdprobe_image(&t, left > 2000 ? left : 2000, &info, err,
	    sizeof(err)) != 0) {
		storcheck_block(r, "%s", err);
		return;
	}
	snprintf(r->lunid, sizeof(r->lunid), "%llu MiB, id %s",
	    (unsigned long long)(info.bytes >> 20), info.id);
	r->watchers = info.watchers;
	if (info.watchers < 0)
		snprintf(r->rbdnote, sizeof(r->rbdnote), "watchers unknown");
	else
		snprintf(r->rbdnote, sizeof(r->rbdnote), "%d watcher%s%s%s, "
		    "exclusive lock %s", info.watchers,
		    info.watchers == 1 ? "" : "s", info.watcher[0] ? " " : "",
		    info.watcher, info.lock_owners > 0 ? "held" : "free");
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
	char err[STORAGE_ERR_MAX], where[STORAGE_PATH_MAX + 300];
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
		if (rv != 0)
			storcheck_where(d->source, mi, where, sizeof(where));
		if (rv == -ENOENT) {
			storcheck_block(r, "%s: no such file%s", d->source, where);
			goto done;
		}
		if (rv == -ETIMEDOUT) {
			storcheck_block(r, "%s: %s (hung mount?)%s",
			    d->source, err, where);
			goto done;
		}
		if (rv != 0) {
			storcheck_block(r, "%s%s", err, where);
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
	if (r->kind == STORCHECK_NFS_FILE || r->kind == STORCHECK_SHARED_FILE) {
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
	storcheck_probe_server(r, timeout_ms);
	if (r->kind == STORCHECK_ISCSI_NETWORK) {
		struct iscsiprobe_info info;
		char portal[STORAGE_NAME_MAX + 16];

		/* a bare IPv6 address needs brackets before the port */
		snprintf(portal, sizeof(portal), strchr(r->server, ':') &&
		    r->server[0] != '[' ? "[%s]:%d" : "%s:%d", r->server,
		    ISCSIPROBE_PORT);
		if (iscsiprobe_lun(portal, r->volume, r->lun, timeout_ms, &info,
		    err, sizeof(err)) != 0)
			storcheck_block(r, "%s", err);
		else
			snprintf(r->lunid, sizeof(r->lunid), "%llu MiB, serial "
			    "%s", (unsigned long long)(info.bytes >> 20),
			    info.serial[0] ? info.serial : "(none)");
	}
	if (r->kind == STORCHECK_RBD_NETWORK)
		storcheck_probe_rbd(d, r, timeout_ms);
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
	if (src->kind != dst->kind || strcmp(src->fsname, dst->fsname) != 0) {
		snprintf(err, errlen, "disk %s: %s on the source, %s on the "
		    "destination", src->target, storcheck_kind_name(src),
		    storcheck_kind_name(dst));
		return -1;
	}
	if (strcasecmp(src->server, dst->server) != 0 ||
	    !storcheck_samepath(src->remote, dst->remote)) {
		if (src->kind == STORCHECK_SHARED_FILE ||
		    src->kind == STORCHECK_GLUSTER_NETWORK ||
		    src->kind == STORCHECK_RBD_NETWORK)
			snprintf(err, errlen, "disk %s: %s %s:%s on the source, "
			    "%s %s:%s on the destination", src->target,
			    src->fsname, src->server, src->remote, dst->fsname,
			    dst->server, dst->remote);
		else
			snprintf(err, errlen, "disk %s: %s:%s on the source, "
			    "%s:%s on the destination", src->target,
			    src->server, src->remote, dst->server, dst->remote);
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
storcheck_is_file(const struct storcheck_result *r)
{
	return r->kind == STORCHECK_NFS_FILE || r->kind == STORCHECK_SHARED_FILE;
}

const char *
storcheck_kind_name(const struct storcheck_result *r)
{
	static const char *const files[] = { "file on NFS", "file on GlusterFS",
	    "file on CephFS", "file on GFS2", "file on OCFS2" };
	size_t i;

	switch (r->kind) {
	case STORCHECK_NFS_FILE:
		return files[0];
	case STORCHECK_SHARED_FILE:
		for (i = 1; i < sizeof(files) / sizeof(files[0]); i++)
			if (strcmp(files[i] + 8, r->fsname) == 0)
				return files[i];
		return "file on a shared filesystem";
	case STORCHECK_NFS_NETWORK:
		return "QEMU NFS";
	case STORCHECK_GLUSTER_NETWORK:
		return "QEMU GlusterFS";
	case STORCHECK_ISCSI_NETWORK:
		return "QEMU iSCSI";
	case STORCHECK_RBD_NETWORK:
		return "QEMU Ceph RBD";
	case STORCHECK_IGNORED:
		return "empty";
	default:
		return "blocked";
	}
}

int
storcheck_dirs(const struct storcheck_result *r, char *dir, size_t dlen,
    char *reldir, size_t rlen)
{
	const char *s;
	int n;

	if (r->kind != STORCHECK_NFS_FILE && r->kind != STORCHECK_NFS_NETWORK &&
	    r->kind != STORCHECK_SHARED_FILE)
		return -EINVAL;
	if (dlen == 0 || rlen == 0)
		return -EINVAL;
	dir[0] = '\0';
	if (storcheck_is_file(r)) {
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
