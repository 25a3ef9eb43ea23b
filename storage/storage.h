/* storage.h: shared-storage checks run by ferry-hostd before a live migration.
 *
 * For every disk of a VM both hosts must see the same shared storage. This
 * library classifies a disk (file on a kernel NFS mount, QEMU-native NFS,
 * or something Ferry cannot migrate live), probes NFS servers directly with
 * libnfs and proves with a nonce file that two hosts see the same directory.
 * It knows nothing of the wire protocol.
 *
 * Threads: every function is safe to call from several worker threads at
 * once. Functions taking a timeout_ms may touch a filesystem or the network;
 * they run that part in a child process and return -ETIMEDOUT in about
 * timeout_ms however stuck the filesystem is (see timed.c). The others are
 * pure and never block.
 *
 * Errors: functions return 0, or -1 / a negative errno; a message for the
 * caller (naming the disk, path or server) goes into err[errlen] (err may
 * be NULL only with errlen 0).
 */
#ifndef FERRY_STORAGE_H
#define FERRY_STORAGE_H

#include <stddef.h>
#include <stdint.h>

#define STORAGE_PATH_MAX	1024
#define STORAGE_NAME_MAX	256
#define STORAGE_ERR_MAX		512

/* mountinfo.c: /proc/self/mountinfo, parsed. */

#define MOUNTINFO_PATH	"/proc/self/mountinfo"

struct mountinfo_entry {
	int		 id;
	int		 parent;
	unsigned int	 major, minor;
	const char	*root;		/* decoded; "/" unless a bind of a subdir
					 * (nsfs: "net:[4026532178]") */
	const char	*mountpoint;	/* decoded */
	const char	*options;	/* per-mount: rw,relatime */
	const char	*optional;	/* "shared:20 master:1", "" if none */
	const char	*fstype;	/* nfs4, ext4, fuse.sshfs ... */
	const char	*source;	/* decoded; "10.0.0.5:/export/vms" */
	const char	*superopts;
	int		 bind;		/* root is a directory other than "/" */
	int		 line;		/* 1-based line in the text */
	char		*buf;		/* owned: the fields point into it */
};

struct mountinfo {
	struct mountinfo_entry	*entries;	/* owned, in file order */
	size_t			 nentries;
};

/* Parse mountinfo text; *mip is the caller's, free with mountinfo_free.
 * A malformed line fails the whole parse, err names its line number. */
int	mountinfo_parse(const char *text, struct mountinfo **mip, char *err,
	    size_t errlen);
/* Read and parse a file (NULL: MOUNTINFO_PATH). Meant for procfs or local
 * copies: reading mountinfo never waits on NFS servers. */
int	mountinfo_read(const char *path, struct mountinfo **mip, char *err,
	    size_t errlen);
void	mountinfo_free(struct mountinfo *);
/* The mount containing absolute path: longest mount point on a component
 * boundary, the last in file order when several are stacked. The path is
 * taken lexically (no symlinks resolved); NULL if none or not absolute. */
const struct mountinfo_entry *
	mountinfo_find(const struct mountinfo *, const char *path);
/* For a mount whose root is "/" but which shares its superblock (same
 * major:minor) with an earlier mount of an ancestor of its source, that
 * earlier mount: what an NFS bind mount of a subdirectory looks like (the
 * kernel prints "/" as root for NFS and the full server path as source). */
const struct mountinfo_entry *
	mountinfo_bind_origin(const struct mountinfo *,
	    const struct mountinfo_entry *);
/* Split an NFS source "server:/path" ("[v6addr]:/path") into server and
 * path. -EINVAL if it has no ":/". */
int	mountinfo_nfs_source(const char *source, char *server, size_t slen,
	    char *path, size_t plen);

/* timed.c: run a blocking operation with a deadline. */

/* The operation, run in a child process. It fills out[outlen] and err,
 * returns 0 or a negative errno; both come back to the caller. */
typedef int	(*timed_fn)(void *arg, void *out, size_t outlen, char *err,
		    size_t errlen);

/* fn's return value, or -ETIMEDOUT ("timed out after N ms") once timeout_ms
 * passed, or -EIO if the child died. out is undefined on error. */
int	timed_call(int timeout_ms, timed_fn fn, void *arg, void *out,
	    size_t outlen, char *err, size_t errlen);
/* Children killed on timeout that were still in the kernel (uninterruptible
 * NFS wait) are reaped later; this says how many are still pending. */
int	timed_pending(void);

/* nonce.c: prove two hosts see the same directory. */

#define NONCE_PREFIX	".ferry-nonce-"
#define NONCE_HEXLEN	32

struct nonce {
	char	name[sizeof(NONCE_PREFIX) + NONCE_HEXLEN];	/* file name */
	char	value[NONCE_HEXLEN + 1];			/* contents */
};

/* Create dir/<n->name> (fresh random name and value, O_EXCL), write the
 * value, fsync the file and the directory. On any failure, timeout
 * included, the file may exist: call nonce_remove anyway. */
int	nonce_write(const char *dir, struct nonce *n, int timeout_ms,
	    char *err, size_t errlen);
/* 0 if dir/<n->name> exists and holds n->value; -ENOENT if missing,
 * -EBADMSG if the contents differ, -EINVAL for a name not of ours. */
int	nonce_read(const char *dir, const struct nonce *n, int timeout_ms,
	    char *err, size_t errlen);
int	nonce_remove(const char *dir, const struct nonce *n, int timeout_ms,
	    char *err, size_t errlen);
/* 0 if name is NONCE_PREFIX and hex (safe to join to a directory). */
int	nonce_valid(const struct nonce *);
/* Fill n with a fresh random name and value. */
int	nonce_generate(struct nonce *);

/* nfsprobe.c: talk to an NFS server directly (libnfs, no kernel mount). */

struct nfsprobe_target {
	const char	*server;	/* host name or address */
	const char	*export;	/* path given to MOUNT, "/export/vms" */
	int		 version;	/* 3 or 4; 0: 3 */
};

/* The server answers and the export can be mounted. */
int	nfsprobe_export(const struct nfsprobe_target *, int timeout_ms,
	    char *err, size_t errlen);
/* relpath (relative to the export) is a regular file we can open and read;
 * format "qcow2" also checks the qcow2 magic. */
int	nfsprobe_file(const struct nfsprobe_target *, const char *relpath,
	    const char *format, int timeout_ms, char *err, size_t errlen);
/* reldir/<n->name> is there with n->value: as nonce_read, through NFS. */
int	nfsprobe_nonce(const struct nfsprobe_target *, const char *reldir,
	    const struct nonce *, int timeout_ms, char *err, size_t errlen);

/* srvprobe.c: a storage daemon answers (TCP connect, in a timed child). */

#define SRVPROBE_GLUSTERD_PORT	24007
#define SRVPROBE_CEPH_MON_PORT	6789

int	srvprobe_tcp(const char *server, int port, int timeout_ms, char *err,
	    size_t errlen);

/* iscsiprobe.c: log in to an iSCSI target and ask the LUN (libiscsi). */

#define ISCSIPROBE_PORT	3260

struct iscsiprobe_info {
	uint64_t	bytes;		/* READ CAPACITY(16) */
	char		serial[128];	/* INQUIRY VPD 0x80, "" if none */
};

/* portal "host[:port]"; the LUN answers within timeout_ms. */
int	iscsiprobe_lun(const char *portal, const char *iqn, int lun,
	    int timeout_ms, struct iscsiprobe_info *info, char *err,
	    size_t errlen);

/* localdisk.c: a disk on the host's own filesystem, for --copy-storage. */

struct localdisk_info {
	char		format[16];		/* as qemu-img reads the file */
	uint64_t	virtual_size;		/* bytes */
	uint64_t	actual_size;		/* bytes allocated */
	char		backing[STORAGE_PATH_MAX]; /* backing file, "" if none */
	int		dirty;
};

/* qemu-img info -U of the image (in a timed child). */
int	localdisk_info(const char *path, int timeout_ms,
	    struct localdisk_info *, char *err, size_t errlen);
/* The free bytes (for an unprivileged user's view: f_bavail) of path's
 * directory, and whether path itself exists. -ENOENT: no directory. */
int	localdisk_room(const char *path, int timeout_ms, uint64_t *avail,
	    int *exists, char *err, size_t errlen);
/* Create path (O_EXCL: never over an existing file) as an empty image of
 * format (qcow2 or raw) and size bytes; removed again if qemu-img fails. */
int	localdisk_create(const char *path, const char *format, uint64_t size,
	    int timeout_ms, char *err, size_t errlen);
int	localdisk_remove(const char *path, int timeout_ms, char *err,
	    size_t errlen);

/* rbdprobe.c: open a Ceph RBD image through librados/librbd. */

#define RBDPROBE_WATCHERS_MAX	16

struct rbdprobe_target {
	const char	*monitors;	/* mon_host: "a[:port][,b...]" */
	const char	*user;		/* cephx id without "client.";
					 * NULL: librados' default (admin) */
	const char	*key;		/* base64 cephx key; NULL or "": no
					 * auth (auth_client_required none) */
	const char	*pool;
	const char	*nspace;	/* RADOS namespace, NULL or "": none */
	const char	*image;
};

struct rbdprobe_info {
	uint64_t	bytes;
	char		id[64];		/* rbd_get_id: new per image */
	int		watchers;	/* -1: could not list */
	char		watcher[128];	/* the first watcher's address */
	int		lock_owners;	/* exclusive-lock owners */
};

/* Connect with the target's user and key, open pool/image read-only, fill
 * info. Errors (err names the monitor, user, pool or image):
 * -EHOSTUNREACH or -ETIMEDOUT the monitors do not answer, -EKEYREJECTED
 * the key is refused, -ENOENT the pool or image does not exist. */
int	rbdprobe_image(const struct rbdprobe_target *, int timeout_ms,
	    struct rbdprobe_info *info, char *err, size_t errlen);

/* storcheck.c: is one disk safe for a live migration on shared storage. */

/* A disk as libvirt describes it (hostd copies its hv_disk here). Strings
 * are the caller's; NULL or "" means absent. */
struct storcheck_disk {
	const char	*target;	/* vda */
	const char	*type;		/* file block network volume dir */
	const char	*device;	/* disk cdrom floppy lun */
	const char	*protocol;	/* network: nfs rbd iscsi ... */
	const char	*source;	/* file path / network name */
	const char	*host;		/* network: first <host name=> */
	const char	*format;	/* qcow2 raw */
	const char	*hosts;		/* network: every <host> as
					 * "name[:port],...": rbd monitors */
	const char	*auth_user;	/* <auth username=>: rbd cephx id */
	const char	*key;		/* rbd: this host's key for auth_user
					 * (its libvirt secret), base64 */
};

enum storcheck_kind {
	STORCHECK_BLOCKED = 0,	/* not safe; reason says why */
	STORCHECK_IGNORED,	/* nothing to check (empty cdrom) */
	STORCHECK_NFS_FILE,	/* file on a kernel NFS mount */
	STORCHECK_NFS_NETWORK,	/* QEMU opens it over NFS itself */
	STORCHECK_SHARED_FILE,	/* file on another mounted shared filesystem:
				 * GlusterFS (FUSE), CephFS, GFS2, OCFS2 */
	STORCHECK_GLUSTER_NETWORK, /* QEMU opens it over gluster:// itself */
	STORCHECK_ISCSI_NETWORK, /* QEMU logs in to the target itself */
	STORCHECK_RBD_NETWORK,	/* QEMU opens a Ceph RBD image (librbd) */
};

struct storcheck_result {
	enum storcheck_kind	kind;
	char	target[32];
	char	fsname[32];			/* NFS GlusterFS CephFS GFS2 OCFS2 */
	char	volume[STORAGE_PATH_MAX];	/* GlusterFS volume, NFS export,
						 * CephFS path, GFS2/OCFS2 device */
	char	path[STORAGE_PATH_MAX];		/* file: resolved local path */
	char	fstype[32];			/* file: of its mount */
	char	mountpoint[STORAGE_PATH_MAX];	/* file: its mount point */
	char	server[STORAGE_NAME_MAX];	/* NFS/Gluster server, Ceph
						 * monitors; "" for GFS2/OCFS2 */
	char	export[STORAGE_PATH_MAX];	/* server path as mounted */
	char	relpath[STORAGE_PATH_MAX];	/* file below export, no "/" */
	char	remote[STORAGE_PATH_MAX];	/* export/relpath, compare this */
	int	nfsvers;			/* 3 or 4 */
	int	lun;				/* iSCSI: LUN; volume: IQN */
	char	lunid[192];			/* iSCSI: size and serial seen;
						 * RBD: size and image id */
	int	watchers;			/* RBD: watchers of the image */
	char	rbdnote[192];			/* RBD: watchers, lock owners */
	int	bind;				/* file: its mount is a bind */
	int	local;				/* blocked: a regular file on a
						 * filesystem of this host only
						 * (--copy-storage can copy it) */
	char	reason[STORAGE_ERR_MAX];	/* why blocked, or a note */
};

/* Pure: classify d against mi. A file source must be absolute and already
 * resolved (storcheck_disk does that). Always fills r; -EINVAL only for
 * missing arguments. Safe means kind NFS_FILE or IGNORED; NFS_NETWORK is
 * safe once nfsprobe_file succeeds. */
int	storcheck_classify(const struct storcheck_disk *d,
	    const struct mountinfo *mi, struct storcheck_result *r);
/* Classify with I/O: resolve a file's path (realpath, in a child) and stat
 * it, then storcheck_classify; for a network NFS disk run nfsprobe_file
 * too. mi NULL: read MOUNTINFO_PATH. Returns 0 if safe, -1 if blocked
 * (r->reason says why, naming the disk). */
int	storcheck_disk(const struct storcheck_disk *d,
	    const struct mountinfo *mi, int timeout_ms,
	    struct storcheck_result *r);
/* Do the results of the same disk on two hosts name the same file on the
 * same server? 0 if so, else -1 with why in err. */
int	storcheck_same(const struct storcheck_result *src,
	    const struct storcheck_result *dst, char *err, size_t errlen);
/* The nfsprobe target for an NFS result (points into r). */
void	storcheck_target(const struct storcheck_result *r,
	    struct nfsprobe_target *t);
/* Where the nonce goes for an NFS or shared-file result: the file's
 * directory, locally (dir, NFS_FILE and SHARED_FILE only, else "") and below
 * the export (reldir, "" for the export's root). */
/* A file disk on a mounted filesystem whose directory both hosts share. */
int	storcheck_is_file(const struct storcheck_result *r);
/* "file on GlusterFS", "QEMU NFS", ...: for messages. */
const char *
	storcheck_kind_name(const struct storcheck_result *r);
int	storcheck_dirs(const struct storcheck_result *r, char *dir,
	    size_t dlen, char *reldir, size_t rlen);

#endif
