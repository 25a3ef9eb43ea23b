/* nfsprobe.c: ask an NFS server directly, with libnfs, not through a kernel
 * mount: is it up, is the export mountable, is the disk image there and
 * readable, is the nonce written on the other host visible.
 *
 * libnfs's synchronous API with nfs_set_timeout bounds each RPC, but not
 * name resolution, TCP connect retries or reconnects; so each probe also runs
 * whole under timed_call, which is the hard deadline.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <nfsc/libnfs.h>

#include "log.h"
#include "storage.h"

#define NFSPROBE_HEAD	512
#define NFSPROBE_V4	4	/* NFS_V4, only in libnfs-raw-nfs4.h */

enum nfsprobe_what {
	NFSPROBE_EXPORT,
	NFSPROBE_FILE,
	NFSPROBE_NONCE,
};

struct nfsprobe_op {
	enum nfsprobe_what		 what;
	const struct nfsprobe_target	*t;
	int				 timeout_ms;
	const char			*path;		/* relative to export */
	const char			*format;
	const struct nonce		*nonce;
};

/* libnfs wants whole seconds; keep it under our own deadline so its
 * message ("timed out") wins when the server is merely slow. */
static int
nfsprobe_rpc_timeout(int timeout_ms)
{
	int ms = (timeout_ms - 500) / 1000 * 1000;

	return ms < 1000 ? 1000 : ms;
}

static void
nfsprobe_seterr(char *err, size_t errlen, struct nfs_context *nfs, int rc,
    const char *what, const struct nfsprobe_target *t, const char *path)
{
	const char *msg = nfs != NULL ? nfs_get_error(nfs) : NULL;

	if (msg == NULL || *msg == '\0')
		msg = strerror(-rc);
	snprintf(err, errlen, "nfs://%s%s%s%s: %s: %s", t->server, t->export,
	    path != NULL ? "/" : "", path != NULL ? path : "", what, msg);
}

/* In the child: one probe, from init to destroy. */
static int
nfsprobe_run(void *arg, void *out, size_t outlen, char *err, size_t errlen)
{
	const struct nfsprobe_op *op = arg;
	const struct nfsprobe_target *t = op->t;
	struct nfs_context *nfs;
	struct nfs_stat_64 st;
	struct nfsfh *fh = NULL;
	char path[STORAGE_PATH_MAX + sizeof(struct nonce)];
	unsigned char head[NFSPROBE_HEAD];
	int rc, mounted = 0, n;

	(void)out;
	(void)outlen;
	if ((nfs = nfs_init_context()) == NULL) {
		snprintf(err, errlen, "nfs_init_context failed");
		return -ENOMEM;
	}
	nfs_set_timeout(nfs, nfsprobe_rpc_timeout(op->timeout_ms));
	nfs_set_autoreconnect(nfs, 0);
	if (t->version == 4 && (rc = nfs_set_version(nfs, NFSPROBE_V4)) != 0) {
		nfsprobe_seterr(err, errlen, nfs, rc, "NFSv4", t, NULL);
		goto done;
	}
	if ((rc = nfs_mount(nfs, t->server, t->export)) != 0) {
		nfsprobe_seterr(err, errlen, nfs, rc, "mount", t, NULL);
		goto done;
	}
	mounted = 1;

	switch (op->what) {
	case NFSPROBE_EXPORT:
		rc = nfs_stat64(nfs, "/", &st);
		if (rc != 0)
			nfsprobe_seterr(err, errlen, nfs, rc, "stat", t, NULL);
		break;
	case NFSPROBE_FILE:
		snprintf(path, sizeof(path), "/%s", op->path);
		if ((rc = nfs_stat64(nfs, path, &st)) != 0) {
			nfsprobe_seterr(err, errlen, nfs, rc, "stat", t,
			    op->path);
			break;
		}
		if (!S_ISREG(st.nfs_mode)) {
			snprintf(err, errlen, "nfs://%s%s/%s: not a regular "
			    "file", t->server, t->export, op->path);
			rc = -EINVAL;
			break;
		}
		if ((rc = nfs_open(nfs, path, O_RDONLY, &fh)) != 0) {
			nfsprobe_seterr(err, errlen, nfs, rc, "open", t,
			    op->path);
			break;
		}
		if ((n = nfs_pread(nfs, fh, 0, sizeof(head), head)) < 0) {
			rc = n;
			nfsprobe_seterr(err, errlen, nfs, rc, "read", t,
			    op->path);
			break;
		}
		if (op->format != NULL && strcmp(op->format, "qcow2") == 0 &&
		    (n < 4 || memcmp(head, "QFI\xfb", 4) != 0)) {
			snprintf(err, errlen, "nfs://%s%s/%s: no qcow2 magic",
			    t->server, t->export, op->path);
			rc = -EBADMSG;
		}
		break;
	case NFSPROBE_NONCE:
		if (op->path[0] == '\0')
			snprintf(path, sizeof(path), "/%s", op->nonce->name);
		else
			snprintf(path, sizeof(path), "/%s/%s", op->path,
			    op->nonce->name);
		if ((rc = nfs_open(nfs, path, O_RDONLY, &fh)) != 0) {
			nfsprobe_seterr(err, errlen, nfs, rc, "open", t,
			    path + 1);
			break;
		}
		n = nfs_pread(nfs, fh, 0, sizeof(head), head);
		if (n < 0) {
			rc = n;
			nfsprobe_seterr(err, errlen, nfs, rc, "read", t,
			    path + 1);
		} else if ((size_t)n != strlen(op->nonce->value) ||
		    memcmp(head, op->nonce->value, (size_t)n) != 0) {
			snprintf(err, errlen, "nfs://%s%s%s: contents differ "
			    "from the nonce written", t->server, t->export,
			    path);
			rc = -EBADMSG;
		}
		break;
	}
 done:
	if (fh != NULL)
		nfs_close(nfs, fh);
	if (mounted)
		(void)nfs_umount(nfs);
	nfs_destroy_context(nfs);
	return rc;
}

static int
nfsprobe_call(struct nfsprobe_op *op, int timeout_ms, char *err,
    size_t errlen)
{
	const struct nfsprobe_target *t = op->t;
	char msg[STORAGE_ERR_MAX];
	int rv;

	if (t == NULL || t->server == NULL || *t->server == '\0' ||
	    t->export == NULL || t->export[0] != '/' ||
	    (t->version != 0 && t->version != 3 && t->version != 4)) {
		snprintf(err, errlen, "nfsprobe: bad target");
		return -EINVAL;
	}
	op->timeout_ms = timeout_ms;
	rv = timed_call(timeout_ms, nfsprobe_run, op, NULL, 0, msg,
	    sizeof(msg));
	if (rv == -ETIMEDOUT)
		snprintf(err, errlen, "nfs://%s%s: %s", t->server, t->export,
		    msg);
	else if (rv != 0)
		snprintf(err, errlen, "%s", msg);
	return rv;
}

int
nfsprobe_export(const struct nfsprobe_target *t, int timeout_ms, char *err,
    size_t errlen)
{
	struct nfsprobe_op op = { .what = NFSPROBE_EXPORT, .t = t };

	return nfsprobe_call(&op, timeout_ms, err, errlen);
}

int
nfsprobe_file(const struct nfsprobe_target *t, const char *relpath,
    const char *format, int timeout_ms, char *err, size_t errlen)
{
	struct nfsprobe_op op = { .what = NFSPROBE_FILE, .t = t,
	    .path = relpath, .format = format };

	if (relpath == NULL || *relpath == '\0' || *relpath == '/' ||
	    strlen(relpath) >= STORAGE_PATH_MAX) {
		snprintf(err, errlen, "nfsprobe: bad path");
		return -EINVAL;
	}
	return nfsprobe_call(&op, timeout_ms, err, errlen);
}

int
nfsprobe_nonce(const struct nfsprobe_target *t, const char *reldir,
    const struct nonce *n, int timeout_ms, char *err, size_t errlen)
{
	struct nfsprobe_op op = { .what = NFSPROBE_NONCE, .t = t,
	    .path = reldir != NULL ? reldir : "", .nonce = n };

	if (nonce_valid(n) == -1 || op.path[0] == '/' ||
	    strlen(op.path) >= STORAGE_PATH_MAX) {
		snprintf(err, errlen, "nfsprobe: bad nonce or directory");
		return -EINVAL;
	}
	return nfsprobe_call(&op, timeout_ms, err, errlen);
}
