/* rbdprobe.c: reach a Ceph cluster's monitors with this host's own cephx
 * key and open an RBD image read-only, with librados/librbd (the libraries
 * QEMU's rbd driver itself uses), in a timed child: a monitor that drops
 * packets fails the check in its deadline, never a worker.
 *
 * What it proves: this host reaches a monitor, the monitor accepts the key
 * this host holds for the user the domain names (cephx), the pool exists
 * and the image in it opens. It reports the image's size and its RBD id
 * (unique in the pool, new for every image created, even under the same
 * name), its watchers and exclusive-lock owners: both hosts must see the
 * same id, and the running guest's QEMU is one of the watchers.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rados/librados.h>
#include <rbd/librbd.h>

#include "storage.h"

struct rbdprobe_arg {
	const struct rbdprobe_target	*t;
	int				 timeout_s;
};

/* librados options are strings. */
static int
rbdprobe_set(rados_t c, const char *opt, const char *val, char *err,
    size_t errlen)
{
	int r;

	if ((r = rados_conf_set(c, opt, val)) < 0)
		snprintf(err, errlen, "Ceph option %s: %s", opt, strerror(-r));
	return r;
}

/* In the child: handles are never reused, so errors just return. */
static int
rbdprobe_op(void *arg, void *out, size_t outlen, char *err, size_t errlen)
{
	const struct rbdprobe_arg *a = arg;
	const struct rbdprobe_target *t = a->t;
	struct rbdprobe_info *info = out;
	rados_t c = NULL;
	rados_ioctx_t io = NULL;
	rbd_image_t img = NULL;
	rbd_image_info_t st;
	rbd_image_watcher_t w[RBDPROBE_WATCHERS_MAX];
	rbd_lock_mode_t mode;
	char *owners[4], tmo[16], what[STORAGE_NAME_MAX + 16];
	size_t nw = RBDPROBE_WATCHERS_MAX, no = 4;
	int r, rv = -EIO;

	if (outlen != sizeof(*info))
		return -EINVAL;
	memset(info, 0, sizeof(*info));
	snprintf(what, sizeof(what), "client.%s", t->user ? t->user : "admin");
	if ((r = rados_create(&c, t->user)) < 0) {
		snprintf(err, errlen, "cannot create a Ceph client: %s",
		    strerror(-r));
		return r;
	}
	/* Nothing from /etc/ceph: only what the domain and this host's
	 * secret say, like QEMU's rbd driver given mon_host and key. */
	snprintf(tmo, sizeof(tmo), "%d", a->timeout_s);
	if ((r = rbdprobe_set(c, "mon_host", t->monitors, err, errlen)) < 0 ||
	    (r = rbdprobe_set(c, "keyring", "", err, errlen)) < 0 ||
	    (r = rbdprobe_set(c, "client_mount_timeout", tmo, err,
	    errlen)) < 0 ||
	    (r = rbdprobe_set(c, "rados_mon_op_timeout", tmo, err,
	    errlen)) < 0 ||
	    (r = rbdprobe_set(c, "rados_osd_op_timeout", tmo, err,
	    errlen)) < 0 ||
	    (r = rbdprobe_set(c, "log_to_stderr", "false", err, errlen)) < 0 ||
	    (r = rbdprobe_set(c, "err_to_stderr", "false", err, errlen)) < 0) {
		rv = r;
		goto done;
	}
	if (t->key != NULL && *t->key != '\0')
		r = rbdprobe_set(c, "key", t->key, err, errlen);
	else
		r = rbdprobe_set(c, "auth_client_required", "none", err, errlen);
	if (r < 0) {
		rv = r == -EINVAL ? -EKEYREJECTED : r;
		if (r == -EINVAL)
			snprintf(err, errlen, "the key this host holds for %s "
			    "is not a cephx key", what);
		goto done;
	}
	if ((r = rados_connect(c)) < 0) {
		if (r == -EINVAL && t->key != NULL && *t->key != '\0') {
			/* librados decodes the key only now */
			snprintf(err, errlen, "the key this host holds for %s "
			    "is not a cephx key", what);
			rv = -EKEYREJECTED;
		} else if (r == -EACCES || r == -EPERM || r == -EKEYREJECTED) {
			snprintf(err, errlen, "Ceph monitor %s refused the key "
			    "this host holds for %s (%s)", t->monitors, what,
			    strerror(-r));
			rv = -EKEYREJECTED;
		} else if (r == -ETIMEDOUT) {
			snprintf(err, errlen, "Ceph monitor %s unreachable: no "
			    "session within %d s", t->monitors, a->timeout_s);
			rv = -EHOSTUNREACH;
		} else {
			snprintf(err, errlen, "cannot reach Ceph monitor %s as "
			    "%s: %s", t->monitors, what, strerror(-r));
			rv = r;
		}
		/* a handle that never connected: rados_shutdown is safe */
		goto done;
	}
	if ((r = rados_ioctx_create(c, t->pool, &io)) < 0) {
		snprintf(err, errlen, r == -ENOENT ? "Ceph pool %s does not "
		    "exist" : "Ceph pool %s: %s", t->pool, strerror(-r));
		io = NULL;
		rv = r;
		goto done;
	}
	if (t->nspace != NULL && *t->nspace != '\0')
		rados_ioctx_set_namespace(io, t->nspace);
	if ((r = rbd_open_read_only(io, t->image, &img, NULL)) < 0) {
		if (r == -ENOENT)
			snprintf(err, errlen, "RBD image %s/%s%s%s does not exist",
			    t->pool, t->nspace && *t->nspace ? t->nspace : "",
			    t->nspace && *t->nspace ? "/" : "", t->image);
		else if (r == -EPERM || r == -EACCES)
			snprintf(err, errlen, "%s may not open RBD image %s/%s: "
			    "%s", what, t->pool, t->image, strerror(-r));
		else if (r == -ETIMEDOUT)
			snprintf(err, errlen, "RBD image %s/%s: the OSDs do not "
			    "answer within %d s", t->pool, t->image,
			    a->timeout_s);
		else
			snprintf(err, errlen, "cannot open RBD image %s/%s: %s",
			    t->pool, t->image, strerror(-r));
		img = NULL;
		rv = r;
		goto done;
	}
	if ((r = rbd_stat(img, &st, sizeof(st))) < 0 ||
	    (r = rbd_get_id(img, info->id, sizeof(info->id))) < 0) {
		snprintf(err, errlen, "RBD image %s/%s: %s", t->pool, t->image,
		    strerror(-r));
		rv = r;
		goto done;
	}
	info->bytes = st.size;
	if (rbd_watchers_list(img, w, &nw) == 0) {
		info->watchers = (int)nw;
		if (nw > 0 && w[0].addr != NULL)
			snprintf(info->watcher, sizeof(info->watcher), "%s",
			    w[0].addr);
		rbd_watchers_list_cleanup(w, nw);
	} else
		info->watchers = -1;
	if (rbd_lock_get_owners(img, &mode, owners, &no) == 0) {
		info->lock_owners = (int)no;
		rbd_lock_get_owners_cleanup(owners, no);
	} else
		info->lock_owners = 0;	/* -ENOENT: nobody holds it */
	rv = 0;
 done:
	if (img != NULL)
		rbd_close(img);
	if (io != NULL)
		rados_ioctx_destroy(io);
	rados_shutdown(c);
	return rv;
}

int
rbdprobe_image(const struct rbdprobe_target *t, int timeout_ms,
    struct rbdprobe_info *info, char *err, size_t errlen)
{
	struct rbdprobe_arg a;
	char e[STORAGE_ERR_MAX] = "";
	int rv;

	if (t == NULL || t->monitors == NULL || *t->monitors == '\0' ||
	    t->pool == NULL || *t->pool == '\0' || t->image == NULL ||
	    *t->image == '\0') {
		snprintf(err, errlen, "no Ceph monitor, pool or image");
		return -EINVAL;
	}
	a.t = t;
	/* librados gives up a little before the child is killed, so its own
	 * reason (monitor, key, pool, image) comes back */
	a.timeout_s = timeout_ms > 3000 ? (timeout_ms - 1500) / 1000 : 1;
	rv = timed_call(timeout_ms, rbdprobe_op, &a, info, sizeof(*info), e,
	    sizeof(e));
	if (rv == -ETIMEDOUT)
		snprintf(err, errlen, "Ceph monitor %s (image %s/%s): no answer "
		    "(%s)", t->monitors, t->pool, t->image, e);
	else if (rv != 0)
		snprintf(err, errlen, "%s", e);
	return rv;
}
