/* precheck.c: what hostd checks before a live migration moves anything,
 * and the cleanup of what the checks (and --copy-storage) left; the small
 * per-domain calls around a migration are in precheck_domain.c. Every
 * function here runs on a worker thread (hostd_call_start): they block on
 * libvirt, filesystems and NFS, each with a timeout. */
#include <errno.h>
#include <libgen.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hostd.h"
#include "log.h"
#include "storage.h"

#define PRECHECK_TIMEOUT_MS	10000
#define PRECHECK_MAX		48

/* The verdicts of one pre-check call; the messages borrow the strings. */
struct checks {
	Ferry__CheckResult	 res[PRECHECK_MAX];
	Ferry__CheckResult	*v[PRECHECK_MAX];
	char			 name[PRECHECK_MAX][64];
	char			 reason[PRECHECK_MAX][768];
	char			 fs[PRECHECK_MAX][32];
	char			 vol[PRECHECK_MAX][256];
	char			 mnt[PRECHECK_MAX][256];
	size_t			 n;
	int			 blocked;
};

static void __attribute__((format(printf, 5, 6)))
checks_add(struct checks *c, const char *name, int ok, int warning,
    const char *fmt, ...)
{
	Ferry__CheckResult *r;
	va_list ap;

	if (c->n == PRECHECK_MAX)
		return;
	r = &c->res[c->n];
	ferry__check_result__init(r);
	snprintf(c->name[c->n], sizeof(c->name[c->n]), "%s", name);
	va_start(ap, fmt);
	vsnprintf(c->reason[c->n], sizeof(c->reason[c->n]), fmt, ap);
	va_end(ap);
	r->name = c->name[c->n];
	r->reason = c->reason[c->n];
	r->ok = ok;
	r->has_warning = warning;
	r->warning = warning;
	if (!ok)
		c->blocked = 1;
	c->v[c->n] = r;
	c->n++;
}

/* The storage of the last verdict, as separate fields for ferryctl
 * check's JSON (filesystem, volume, mount). */
static void
checks_where(struct checks *c, const struct storcheck_result *r)
{
	Ferry__CheckResult *cr;
	size_t i;

	if (c->n == 0)
		return;
	i = c->n - 1;
	cr = &c->res[i];
	if (r->fsname[0]) {
		snprintf(c->fs[i], sizeof(c->fs[i]), "%s", r->fsname);
		cr->filesystem = c->fs[i];
	}
	if (r->volume[0]) {
		snprintf(c->vol[i], sizeof(c->vol[i]), "%s", r->volume);
		cr->volume = c->vol[i];
	}
	if (r->mountpoint[0]) {
		snprintf(c->mnt[i], sizeof(c->mnt[i]), "%s", r->mountpoint);
		cr->mount = c->mnt[i];
	}
}

/* ---- --copy-storage ------------------------------------------------------
 * The disks this host pre-created for a job's copy: the only files a
 * STORAGE_CLEANUP may remove (the coordinator's word is not enough). Kept
 * in memory: after a hostd restart a half-copied file stays (logged at
 * creation) for the operator. */
struct precheck_copy {
	uint64_t	job_id;
	char		vm[HV_NAME_MAX];
	char		path[STORAGE_PATH_MAX];
};
#define PRECHECK_COPIES_MAX	64
static pthread_mutex_t		precheck_copies_lock = PTHREAD_MUTEX_INITIALIZER;
static struct precheck_copy	precheck_copies[PRECHECK_COPIES_MAX];

static int
precheck_copy_add(uint64_t job_id, const char *vm, const char *path)
{
	int i, rc = -1;

	pthread_mutex_lock(&precheck_copies_lock);
	for (i = 0; i < PRECHECK_COPIES_MAX; i++)
		if (precheck_copies[i].job_id == 0) {
			precheck_copies[i].job_id = job_id;
			snprintf(precheck_copies[i].vm,
			    sizeof(precheck_copies[i].vm), "%s", vm);
			snprintf(precheck_copies[i].path,
			    sizeof(precheck_copies[i].path), "%s", path);
			rc = 0;
			break;
		}
	pthread_mutex_unlock(&precheck_copies_lock);
	return rc;
}

/* 1 (and forgotten) if this host created path for job_id's vm. */
static int
precheck_copy_take(uint64_t job_id, const char *vm, const char *path)
{
	int i, rc = 0;

	pthread_mutex_lock(&precheck_copies_lock);
	for (i = 0; i < PRECHECK_COPIES_MAX; i++)
		if (precheck_copies[i].job_id == job_id && job_id != 0 &&
		    strcmp(precheck_copies[i].vm, vm) == 0 &&
		    strcmp(precheck_copies[i].path, path) == 0) {
			memset(&precheck_copies[i], 0,
			    sizeof(precheck_copies[i]));
			rc = 1;
			break;
		}
	pthread_mutex_unlock(&precheck_copies_lock);
	return rc;
}

/*
 * Source: a disk storcheck found on this host's own filesystem, to be
 * copied. Its image must be what the domain says (format), standalone (a
 * backing chain would be flattened or need the same base on the other
 * side: refused), and not a cdrom or read-only disk.
 */
static int
precheck_source_copy(struct checks *c, const char *cname,
    const struct hv_disk *d, const struct storcheck_result *sr, int timeout,
    Ferry__LocalDisk *ld, char *path, size_t plen, char *format, size_t flen)
{
	struct localdisk_info li;
	char e[STORAGE_ERR_MAX];

	if (strcmp(d->device, "disk") != 0 || d->readonly) {
		checks_add(c, cname, 0, 0, "%s; a %s%s is not copied by "
		    "--copy-storage", sr->reason, d->device,
		    d->readonly ? " (read-only)" : "");
		return -1;
	}
	if (localdisk_info(sr->path, timeout, &li, e, sizeof(e)) < 0) {
		checks_add(c, cname, 0, 0, "disk %s: cannot read the image %s: "
		    "%s", d->target, sr->path, e);
		return -1;
	}
	if (strcmp(li.format, "qcow2") != 0 && strcmp(li.format, "raw") != 0) {
		checks_add(c, cname, 0, 0, "disk %s: %s is %s; --copy-storage "
		    "copies qcow2 and raw images", d->target, sr->path,
		    li.format);
		return -1;
	}
	if (d->format[0] && strcmp(d->format, li.format) != 0) {
		checks_add(c, cname, 0, 0, "disk %s: the domain says %s but %s "
		    "is %s", d->target, d->format, sr->path, li.format);
		return -1;
	}
	if (li.backing[0]) {
		checks_add(c, cname, 0, 0, "disk %s: %s has a backing file (%s): "
		    "--copy-storage copies standalone images only", d->target,
		    sr->path, li.backing);
		return -1;
	}
	if (li.virtual_size == 0) {
		checks_add(c, cname, 0, 0, "disk %s: %s has no size", d->target,
		    sr->path);
		return -1;
	}
	snprintf(path, plen, "%s", sr->path);
	snprintf(format, flen, "%s", li.format);
	ferry__local_disk__init(ld);
	ld->target = (char *)d->target;
	ld->path = path;
	ld->format = format;
	ld->virtual_size = li.virtual_size;
	ld->has_actual_size = 1;
	ld->actual_size = li.actual_size;
	return 0;
}

static void
precheck_disk_of(const Ferry__Disk *pd, struct storcheck_disk *sd)
{
	memset(sd, 0, sizeof(*sd));
	sd->target = pd->target;
	sd->type = pd->type;
	sd->device = pd->device;
	sd->protocol = pd->protocol;
	sd->source = pd->source;
	sd->host = pd->host;
	sd->format = pd->format;
	sd->hosts = pd->hosts;
	sd->auth_user = pd->auth_user;
}

static void
precheck_hv_disk(const struct hv_disk *d, struct storcheck_disk *sd)
{
	memset(sd, 0, sizeof(*sd));
	sd->target = d->target;
	sd->type = d->type;
	sd->device = d->device;
	sd->protocol = d->protocol;
	sd->source = d->source;
	sd->host = d->host;
	sd->format = d->format;
	sd->hosts = d->hosts;
	sd->auth_user = d->auth_user;
}

/* Base64 of a libvirt secret's raw bytes: a Ceph key as librados takes it
 * (libvirt decodes the key it is given and hands QEMU its base64 again). */
static int
precheck_base64(const unsigned char *in, size_t n, char *out, size_t outlen)
{
	static const char tab[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t i, o = 0;
	uint32_t v;

	if (outlen < (n + 2) / 3 * 4 + 1)
		return -1;
	for (i = 0; i < n; i += 3) {
		v = (uint32_t)in[i] << 16;
		if (i + 1 < n)
			v |= (uint32_t)in[i + 1] << 8;
		if (i + 2 < n)
			v |= in[i + 2];
		out[o++] = tab[(v >> 18) & 63];
		out[o++] = tab[(v >> 12) & 63];
		out[o++] = i + 1 < n ? tab[(v >> 6) & 63] : '=';
		out[o++] = i + 2 < n ? tab[v & 63] : '=';
	}
	out[o] = '\0';
	return 0;
}

/* The key this host holds for an rbd disk's <auth>: the value of its own
 * libvirt secret of that UUID (the XML names the UUID, each host has its
 * own copy). 0 with key "" when the disk is no rbd disk or has no secret
 * (other protocols' secrets, e.g. iSCSI CHAP, are not Ferry's to read);
 * -1 with why in err. */
static int
precheck_disk_key(struct hostd *hd, const char *protocol, const char *target,
    const char *user, const char *uuid, char *key, size_t keylen, char *err,
    size_t errlen)
{
	unsigned char *v = NULL;
	size_t n = 0;
	int r;

	key[0] = '\0';
	if (protocol == NULL || strcmp(protocol, "rbd") != 0 || uuid == NULL ||
	    *uuid == '\0')
		return 0;
	if (hd->hv->ops->secret_value == NULL) {
		snprintf(err, errlen, "disk %s: this host cannot read libvirt "
		    "secrets (the key of client.%s)", target, user ? user : "?");
		return -1;
	}
	r = hd->hv->ops->secret_value(hd->hv, uuid, &v, &n);
	if (r < 0) {
		snprintf(err, errlen, "disk %s: %s (the key of client.%s): this "
		    "host cannot open the image", target, hv_last_error(),
		    user ? user : "?");
		return -1;
	}
	r = precheck_base64(v, n, key, keylen);
	if (v != NULL)
		memset(v, 0, n);
	free(v);
	if (r < 0) {
		snprintf(err, errlen, "disk %s: libvirt secret %s is too long "
		    "for a Ceph key", target, uuid);
		return -1;
	}
	return 0;
}

/* What ferryctl check shows of a disk: filesystem, volume, mount path. */
static void
precheck_describe(const struct storcheck_result *r, char *buf, size_t len)
{
	if (r->kind == STORCHECK_NFS_FILE)
		snprintf(buf, len, "%s on NFS (%s) export %s:%s, mounted at %s",
		    r->path, r->fstype, r->server, r->export, r->mountpoint);
	else if (r->kind == STORCHECK_SHARED_FILE && r->server[0])
		snprintf(buf, len, "%s on %s (%s) volume %s of %s, mounted at %s",
		    r->path, r->fsname, r->fstype, r->volume, r->server,
		    r->mountpoint);
	else if (r->kind == STORCHECK_SHARED_FILE)
		snprintf(buf, len, "%s on %s (%s) on %s, mounted at %s", r->path,
		    r->fsname, r->fstype, r->volume, r->mountpoint);
	else if (r->kind == STORCHECK_GLUSTER_NETWORK)
		snprintf(buf, len, "QEMU GlusterFS image gluster://%s/%s/%s "
		    "(volume %s), glusterd answering", r->server, r->volume,
		    r->relpath, r->volume);
	else if (r->kind == STORCHECK_ISCSI_NETWORK)
		snprintf(buf, len, "QEMU iSCSI LUN %d of target %s at portal %s "
		    "answers (%s)", r->lun, r->volume, r->server, r->lunid);
	else if (r->kind == STORCHECK_RBD_NETWORK)
		snprintf(buf, len, "QEMU Ceph RBD image %s (pool %s) opens with "
		    "this host's key, monitors %s answering (%s; %s)", r->remote,
		    r->volume, r->server, r->lunid, r->rbdnote);
	else if (r->kind == STORCHECK_NFS_NETWORK)
		snprintf(buf, len, "QEMU NFS image %s:%s%s%s readable over NFS",
		    r->server, r->export, r->relpath[0] ? "/" : "",
		    r->relpath);
	else
		snprintf(buf, len, "%s", r->reason[0] ? r->reason :
		    "nothing to check");
}

/* A local file's directory, for its nonce (dir; reldir "": no server). */
static void
precheck_local_dir(const char *path, char *dir, size_t dlen, char *reldir,
    size_t rlen)
{
	const char *slash = strrchr(path, '/');

	snprintf(dir, dlen, "%.*s", slash == NULL || slash == path ? 1 :
	    (int)(slash - path), slash ? path : "/");
	if (rlen)
		reldir[0] = '\0';
}

/* PRECHECK_SOURCE: the VM is here and running; each disk is on storage
 * Ferry can check; a nonce file next to each file disk for the
 * destination to find. */
/* A TLS migration: this host's side of QEMU's x509 set-up (tlscheck.c). */
static void
precheck_tls(struct hostd *hd, struct checks *c, int server)
{
	char dir[512], why[700];

	if (tlscheck_host(hd->conf.qemu_conf, server, dir, sizeof(dir), why,
	    sizeof(why)) < 0)
		checks_add(c, "tls", 0, 0, "no TLS for migrations set up here "
		    "(a %s needs QEMU's x509 files in %s, qemu.conf "
		    "migrate_tls_x509_cert_dir): %s", server ? "destination" :
		    "source", dir, why);
	else
		checks_add(c, "tls", 1, 0, "QEMU's %s certificates are in %s",
		    server ? "server" : "client", dir);
}

int
precheck_source(struct hostd *hd, const ProtobufCMessage *m, uint8_t **payload,
    size_t *len, char *err, size_t errlen)
{
	const Ferry__SourceCheckRequest *req =
	    (const Ferry__SourceCheckRequest *)m;
	Ferry__SourceCheckReply rep = FERRY__SOURCE_CHECK_REPLY__INIT;
	Ferry__Domain pd;
	Ferry__Disk *pdisks = NULL, **pdiskv = NULL;
	Ferry__Nonce nonces[PRECHECK_MAX], *noncev[PRECHECK_MAX];
	Ferry__DiskIdentity ids[PRECHECK_MAX], *idv[PRECHECK_MAX];
	char idstr[PRECHECK_MAX][sizeof(((struct storcheck_result *)0)->lunid)];
	char npath[PRECHECK_MAX][STORAGE_PATH_MAX + 64];
	char nrel[PRECHECK_MAX][STORAGE_PATH_MAX + 64];
	struct nonce nv[PRECHECK_MAX];
	struct storcheck_result *sr = NULL;
	struct storcheck_disk sd;
	struct checks *c = NULL;
	struct hv_domain d;
	char *cpu = NULL, *emu = NULL, *arch = NULL, *mach = NULL, *vt = NULL;
	char dir[STORAGE_PATH_MAX], reldir[STORAGE_PATH_MAX], what[1200];
	char e[STORAGE_ERR_MAX], key[256];
	int timeout = req->has_timeout_ms && req->timeout_ms ? (int)req->timeout_ms :
	    PRECHECK_TIMEOUT_MS;
	Ferry__LocalDisk lds[PRECHECK_MAX], *ldv[PRECHECK_MAX];
	char lpath[PRECHECK_MAX][HV_PATH_MAX], lfmt[PRECHECK_MAX][16];
	int copy = req->has_copy_storage && req->copy_storage;
	size_t i, nn = 0, ni = 0, nl = 0;
	int rc = -1, rv;

	memset(&d, 0, sizeof(d));
	if ((c = calloc(1, sizeof(*c))) == NULL ||
	    (sr = calloc(1, sizeof(*sr))) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto done;
	}
	if (hd->hv->ops->domain_info(hd->hv, req->name, &d) < 0) {
		snprintf(err, errlen, "%s", hv_last_error());
		goto done;
	}
	if (d.state != HV_STATE_RUNNING)
		checks_add(c, "state", 0, 0, "%s is %s, not running", d.name,
		    d.state_str[0] ? d.state_str : hv_state_name(d.state));
	else if (d.job_active)
		checks_add(c, "state", 0, 0, "libvirt already has a job on %s "
		    "(another migration?)", d.name);
	else
		checks_add(c, "state", 1, 0, "%s is running here", d.name);

	if (req->has_tls && req->tls)
		precheck_tls(hd, c, 0);

	if (d.state == HV_STATE_RUNNING &&
	    hd->hv->ops->domain_cpu(hd->hv, req->name, &cpu, &emu, &arch, &mach,
	    &vt) < 0)
		checks_add(c, "cpu", 0, 0, "cannot read the guest's CPU "
		    "definition: %s", hv_last_error());

	if (d.ndisks > PRECHECK_MAX - 4) {
		checks_add(c, "storage", 0, 0, "%zu disks: more than Ferry "
		    "checks (%d)", d.ndisks, PRECHECK_MAX - 4);
		d.ndisks = PRECHECK_MAX - 4;
	}
	for (i = 0; i < d.ndisks; i++) {
		char cname[64];

		snprintf(cname, sizeof(cname), "storage:%s", d.disks[i].target);
		precheck_hv_disk(&d.disks[i], &sd);
		if (precheck_disk_key(hd, d.disks[i].protocol, d.disks[i].target,
		    d.disks[i].auth_user, d.disks[i].secret_uuid, key,
		    sizeof(key), e, sizeof(e)) < 0) {
			checks_add(c, cname, 0, 0, "%s", e);
			continue;
		}
		sd.key = key;
		memset(sr, 0, sizeof(*sr));
		rv = storcheck_disk(&sd, NULL, timeout, sr);
		memset(key, 0, sizeof(key));
		if (rv < 0 && (!copy || !sr->local)) {
			checks_add(c, cname, 0, 0, "%s", sr->reason);
			checks_where(c, sr);
			continue;
		}
		if (sr->kind == STORCHECK_IGNORED)
			continue;
		if (sr->local) {
			/* --copy-storage: copied, and a nonce beside it for
			 * the destination to prove it does NOT see it. */
			if (nl == PRECHECK_MAX || precheck_source_copy(c, cname,
			    &d.disks[i], sr, timeout, &lds[nl], lpath[nl],
			    sizeof(lpath[nl]), lfmt[nl], sizeof(lfmt[nl])) < 0) {
				checks_where(c, sr);
				continue;
			}
			snprintf(what, sizeof(what), "%s (%s, %llu MiB, %llu MiB "
			    "allocated) on this host's %s at %s: to be copied "
			    "(--copy-storage)", sr->path, lds[nl].format,
			    (unsigned long long)(lds[nl].virtual_size >> 20),
			    (unsigned long long)(lds[nl].actual_size >> 20),
			    sr->fstype, sr->mountpoint);
			ldv[nl] = &lds[nl];
			nl++;
		} else
			precheck_describe(sr, what, sizeof(what));
		if (sr->kind == STORCHECK_RBD_NETWORK && sr->watchers == 0) {
			/* the running guest's QEMU watches the image it has
			 * open: nobody watching is not the guest's disk */
			checks_add(c, cname, 0, 0, "disk %s: Ceph RBD image %s "
			    "has no watcher although %s runs here: not the image "
			    "its QEMU has open", d.disks[i].target, sr->remote,
			    d.name);
			continue;
		}
		if ((sr->kind == STORCHECK_ISCSI_NETWORK ||
		    sr->kind == STORCHECK_RBD_NETWORK) && sr->lunid[0]) {
			/* for the destination to compare with its own view */
			ferry__disk_identity__init(&ids[ni]);
			snprintf(idstr[ni], sizeof(idstr[ni]), "%s", sr->lunid);
			ids[ni].target = d.disks[i].target;
			ids[ni].identity = idstr[ni];
			idv[ni] = &ids[ni];
			ni++;
		}
		if (!storcheck_is_file(sr) && !sr->local) {
			checks_add(c, cname, 1, 0, "%s", what);
			checks_where(c, sr);
			continue;
		}
		if (sr->local)
			precheck_local_dir(sr->path, dir, sizeof(dir), reldir,
			    sizeof(reldir));
		if ((!sr->local && storcheck_dirs(sr, dir, sizeof(dir), reldir,
		    sizeof(reldir)) < 0) || nonce_write(dir, &nv[nn], timeout, e,
		    sizeof(e)) < 0) {
			checks_add(c, cname, 0, 0, "cannot write a nonce file "
			    "next to %s: %s", sr->path, e);
			continue;
		}
		ferry__nonce__init(&nonces[nn]);
		snprintf(npath[nn], sizeof(npath[nn]), "%s/%s", dir, nv[nn].name);
		snprintf(nrel[nn], sizeof(nrel[nn]), "%s%s%s", reldir,
		    reldir[0] ? "/" : "", nv[nn].name);
		nonces[nn].target = d.disks[i].target;
		nonces[nn].path = npath[nn];
		nonces[nn].value = nv[nn].value;
		/* The storcheck result is reused per disk: copy what we send. */
		nonces[nn].server = strdup(sr->server);
		nonces[nn].export = strdup(sr->export);
		nonces[nn].rel_path = nrel[nn];
		noncev[nn] = &nonces[nn];
		nn++;
		checks_add(c, cname, 1, 0, "%s", what);
		checks_where(c, sr);
	}

	if (d.ndisks && ((pdisks = calloc(d.ndisks, sizeof(*pdisks))) == NULL ||
	    (pdiskv = calloc(d.ndisks, sizeof(*pdiskv))) == NULL)) {
		snprintf(err, errlen, "out of memory");
		goto done;
	}
	inventory_fill_domain(&pd, pdisks, pdiskv, &d);
	rep.domain = &pd;
	rep.checks = c->v;
	rep.n_checks = c->n;
	rep.nonces = noncev;
	rep.n_nonces = nn;
	rep.identities = idv;
	rep.n_identities = ni;
	rep.local_disks = ldv;
	rep.n_local_disks = nl;
	rep.cpu_xml = cpu;
	rep.emulator = emu;
	rep.arch = arch;
	rep.machine = mach;
	rep.virttype = vt;
	if (hostd_pack(&rep.base, payload, len) < 0) {
		snprintf(err, errlen, "out of memory");
		goto done;
	}
	rc = 0;
done:
	for (i = 0; i < nn; i++) {
		free(nonces[i].server);
		free(nonces[i].export);
	}
	free(pdisks);
	free(pdiskv);
	free(cpu);
	free(emu);
	free(arch);
	free(mach);
	free(vt);
	hv_domain_clear(&d);
	free(sr);
	free(c);
	return rc;
}

static const Ferry__Nonce *
precheck_find_nonce(const Ferry__DestCheckRequest *req, const char *target)
{
	size_t i;

	for (i = 0; i < req->n_nonces; i++)
		if (strcmp(req->nonces[i]->target, target) == 0)
			return req->nonces[i];
	return NULL;
}

/* Splits a nonce's path into its directory and a struct nonce. */
static int
precheck_nonce_of(const Ferry__Nonce *pn, char *dir, size_t dlen,
    struct nonce *n)
{
	char tmp[STORAGE_PATH_MAX + 64];
	const char *slash = strrchr(pn->path, '/');

	if (slash == NULL || slash == pn->path)
		return -1;
	snprintf(tmp, sizeof(tmp), "%.*s", (int)(slash - pn->path), pn->path);
	snprintf(dir, dlen, "%s", tmp);
	memset(n, 0, sizeof(*n));
	snprintf(n->name, sizeof(n->name), "%s", slash + 1);
	snprintf(n->value, sizeof(n->value), "%s", pn->value);
	return nonce_valid(n) == 0 ? 0 : -1;
}

static void
precheck_dest_file(struct checks *c, const char *cname,
    const Ferry__DestCheckRequest *req, const char *target,
    const struct storcheck_result *sr, int timeout)
{
	const Ferry__Nonce *pn = precheck_find_nonce(req, target);
	struct nfsprobe_target t;
	struct nonce n;
	char dir[STORAGE_PATH_MAX], mydir[STORAGE_PATH_MAX];
	char reldir[STORAGE_PATH_MAX], e[STORAGE_ERR_MAX], what[1200];
	const char *slash;

	if (pn == NULL || precheck_nonce_of(pn, dir, sizeof(dir), &n) < 0) {
		checks_add(c, cname, 0, 0, "the source sent no usable nonce "
		    "for %s", target);
		return;
	}
	if (pn->server && pn->export && (strcmp(pn->server, sr->server) != 0 ||
	    strcmp(pn->export, sr->export) != 0)) {
		checks_add(c, cname, 0, 0, "%s is on %s:%s here but on %s:%s "
		    "on the source", sr->path, sr->server, sr->export,
		    pn->server, pn->export);
		return;
	}
	if (storcheck_dirs(sr, mydir, sizeof(mydir), reldir,
	    sizeof(reldir)) < 0 || strcmp(mydir, dir) != 0) {
		checks_add(c, cname, 0, 0, "%s: the disk's directory is %s here "
		    "but %s on the source", target, mydir, dir);
		return;
	}
	if (nonce_read(dir, &n, timeout, e, sizeof(e)) < 0) {
		checks_add(c, cname, 0, 0, "the nonce the source wrote in %s is "
		    "not visible here: %s (not the same shared directory)", dir,
		    e);
		return;
	}
	precheck_describe(sr, what, sizeof(what));
	if (sr->kind == STORCHECK_SHARED_FILE) {
		/* storcheck_disk probed the server (if the filesystem has one)
		 * from here before we read the nonce. */
		checks_add(c, cname, 1, 0, "%s; the source's nonce is visible "
		    "here%s", what, sr->server[0] ? " and the server answers" :
		    " (cluster filesystem: no server to probe)");
		return;
	}
	/* The kernel mount agrees; ask the server itself, which catches a
	 * stale or hung mount serving cached data. */
	storcheck_target(sr, &t);
	slash = pn->rel_path ? strrchr(pn->rel_path, '/') : NULL;
	snprintf(reldir, sizeof(reldir), "%.*s",
	    slash ? (int)(slash - pn->rel_path) : 0, pn->rel_path ? pn->rel_path : "");
	if (nfsprobe_nonce(&t, reldir, &n, timeout, e, sizeof(e)) < 0) {
		checks_add(c, cname, 0, 0, "the NFS server %s does not show the "
		    "nonce in %s: %s (stale or hung mount?)", sr->server,
		    sr->export, e);
		return;
	}
	checks_add(c, cname, 1, 0, "%s; the source's nonce is visible here "
	    "and on the server", what);
}

/* An arch, machine type or virt type: what libvirt looks up in its own
 * capabilities, never a path. NULL is fine (libvirt's default). */
static int
precheck_token(const char *s)
{
	size_t i;

	if (s == NULL)
		return 1;
	if (s[0] == '\0' || strlen(s) > 64)
		return 0;
	for (i = 0; s[i]; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		    (s[i] >= '0' && s[i] <= '9') || s[i] == '-' || s[i] == '_' ||
		    s[i] == '.'))
			return 0;
	return 1;
}

/* An iSCSI LUN: the same size and serial here as the source saw, so the
 * same IQN does not name another LUN behind another portal. An RBD image:
 * the same size and image id, so the same name does not name another
 * image (another cluster behind other monitors, or one re-created). */
static void
precheck_dest_lun(struct checks *c, const char *cname,
    const Ferry__DestCheckRequest *req, const char *target,
    const struct storcheck_result *sr, const char *what)
{
	const char *theirs = NULL;
	size_t i;

	for (i = 0; i < req->n_identities; i++)
		if (strcmp(req->identities[i]->target, target) == 0)
			theirs = req->identities[i]->identity;
	int rbd = sr->kind == STORCHECK_RBD_NETWORK;

	if (theirs == NULL)
		checks_add(c, cname, 0, 0, "%s; but the source reported nothing "
		    "of this %s to compare with", what, rbd ? "image" : "LUN");
	else if (strcmp(theirs, sr->lunid) != 0 && rbd)
		checks_add(c, cname, 0, 0, "Ceph RBD image %s is %s here but %s "
		    "on the source: not the same image", sr->remote, sr->lunid,
		    theirs);
	else if (strcmp(theirs, sr->lunid) != 0)
		checks_add(c, cname, 0, 0, "iSCSI LUN %d of %s is %s here but %s "
		    "on the source: not the same LUN", sr->lun, sr->volume,
		    sr->lunid, theirs);
	else
		checks_add(c, cname, 1, 0, "%s; the same %s as on the source",
		    what, rbd ? "image (size and id)" : "LUN (size and serial)");
}

static const Ferry__LocalDisk *
precheck_find_local(const Ferry__DestCheckRequest *req, const char *target)
{
	size_t i;

	for (i = 0; i < req->n_local_disks; i++)
		if (strcmp(req->local_disks[i]->target, target) == 0)
			return req->local_disks[i];
	return NULL;
}

/*
 * Destination of --copy-storage: the disk's path must be the domain's, a
 * clean absolute path whose directory exists here, holds no file of that
 * name (never copied over anything: a shared directory after all, or a
 * leftover), does not show the source's nonce (the same directory seen
 * from both hosts would be copied onto itself), and has room for the
 * whole virtual size (a qcow2 copy can grow to it).
 */
static void
precheck_dest_copy(struct checks *c, const char *cname,
    const Ferry__DestCheckRequest *req, const Ferry__Disk *pd,
    const Ferry__LocalDisk *ld, int timeout)
{
	const Ferry__Nonce *pn = precheck_find_nonce(req, pd->target);
	struct nonce n;
	char dir[STORAGE_PATH_MAX], mydir[STORAGE_PATH_MAX], e[STORAGE_ERR_MAX];
	uint64_t avail = 0;
	int exists = 0, r;

	if (pd->type == NULL || strcmp(pd->type, "file") != 0 ||
	    pd->source == NULL || strcmp(pd->source, ld->path) != 0) {
		checks_add(c, cname, 0, 0, "disk %s: the source asks to copy %s, "
		    "which is not that disk's file", pd->target, ld->path);
		return;
	}
	if (ld->path[0] != '/' || strstr(ld->path, "/../") != NULL ||
	    strstr(ld->path, "/./") != NULL || strstr(ld->path, "//") != NULL ||
	    strlen(ld->path) >= STORAGE_PATH_MAX - 1) {
		checks_add(c, cname, 0, 0, "disk %s: %s is not a clean absolute "
		    "path", pd->target, ld->path);
		return;
	}
	if (strcmp(ld->format, "qcow2") != 0 && strcmp(ld->format, "raw") != 0) {
		checks_add(c, cname, 0, 0, "disk %s: format %s is not copied",
		    pd->target, ld->format);
		return;
	}
	precheck_local_dir(ld->path, mydir, sizeof(mydir), NULL, 0);
	if (pn == NULL || precheck_nonce_of(pn, dir, sizeof(dir), &n) < 0 ||
	    strcmp(dir, mydir) != 0) {
		checks_add(c, cname, 0, 0, "disk %s: the source sent no usable "
		    "nonce beside %s", pd->target, ld->path);
		return;
	}
	r = localdisk_room(ld->path, timeout, &avail, &exists, e, sizeof(e));
	if (r < 0) {
		checks_add(c, cname, 0, 0, "disk %s: cannot copy %s here: %s",
		    pd->target, ld->path, e);
		return;
	}
	r = nonce_read(dir, &n, timeout, e, sizeof(e));
	if (r == 0 || r == -EBADMSG) {
		checks_add(c, cname, 0, 0, "disk %s: %s is in a directory this "
		    "host shares with the source (its nonce is visible here): "
		    "not copied onto itself", pd->target, ld->path);
		return;
	}
	if (r != -ENOENT) {
		checks_add(c, cname, 0, 0, "disk %s: cannot tell whether %s is "
		    "shared with the source: %s", pd->target, dir, e);
		return;
	}
	if (exists) {
		checks_add(c, cname, 0, 0, "disk %s: %s already exists here "
		    "(a leftover copy?): never copied over", pd->target,
		    ld->path);
		return;
	}
	if (avail < ld->virtual_size) {
		checks_add(c, cname, 0, 0, "disk %s: not enough room for %s here: "
		    "%llu MiB needed (its virtual size), %llu MiB free in %s",
		    pd->target, ld->path,
		    (unsigned long long)((ld->virtual_size + (1 << 20) - 1) >> 20),
		    (unsigned long long)(avail >> 20), dir);
		return;
	}
	checks_add(c, cname, 1, 0, "disk %s: %s (%s, %llu MiB) to be copied "
	    "here: %llu MiB free in %s, not shared with the source",
	    pd->target, ld->path, ld->format,
	    (unsigned long long)(ld->virtual_size >> 20),
	    (unsigned long long)(avail >> 20), dir);
}

/* Pre-create the copies once every check here passed; all or none. */
static int
precheck_dest_prepare(struct checks *c, const Ferry__DestCheckRequest *req,
    int timeout, char **created, size_t *ncreated)
{
	char e[STORAGE_ERR_MAX];
	size_t i, j;

	*ncreated = 0;
	for (i = 0; i < req->n_local_disks; i++) {
		const Ferry__LocalDisk *ld = req->local_disks[i];

		if (localdisk_create(ld->path, ld->format, ld->virtual_size,
		    timeout, e, sizeof(e)) < 0 ||
		    precheck_copy_add(req->job_id, req->domain->name,
		    ld->path) < 0) {
			checks_add(c, "storage", 0, 0, "cannot pre-create %s for "
			    "the copy: %s", ld->path, e);
			for (j = 0; j < *ncreated; j++) {
				(void)precheck_copy_take(req->job_id,
				    req->domain->name, created[j]);
				(void)localdisk_remove(created[j], timeout, e,
				    sizeof(e));
			}
			*ncreated = 0;
			return -1;
		}
		log_info("job %llu: pre-created %s (%s, %llu bytes) for the "
		    "copy of %s", (unsigned long long)req->job_id, ld->path,
		    ld->format, (unsigned long long)ld->virtual_size,
		    req->domain->name);
		created[(*ncreated)++] = ld->path;
	}
	return 0;
}

/* PRECHECK_DEST: can this host take the VM the source described? */
int
precheck_dest(struct hostd *hd, const ProtobufCMessage *m, uint8_t **payload,
    size_t *len, char *err, size_t errlen)
{
	const Ferry__DestCheckRequest *req = (const Ferry__DestCheckRequest *)m;
	Ferry__DestCheckReply rep = FERRY__DEST_CHECK_REPLY__INIT;
	struct storcheck_result *sr = NULL;
	struct storcheck_disk sd;
	struct checks *c = NULL;
	struct hv_domain d;
	const Ferry__LocalDisk *ld;
	char *reason = NULL, *created[PRECHECK_MAX], key[256],
	    e[STORAGE_ERR_MAX];
	int timeout = req->has_timeout_ms && req->timeout_ms ?
	    (int)req->timeout_ms : PRECHECK_TIMEOUT_MS;
	size_t i, ncreated = 0;
	int rc = -1, r;

	memset(&d, 0, sizeof(d));
	if ((c = calloc(1, sizeof(*c))) == NULL ||
	    (sr = calloc(1, sizeof(*sr))) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto done;
	}
	r = hd->hv->ops->domain_info(hd->hv, req->domain->name, &d);
	if (r == 0 && (d.state == HV_STATE_RUNNING ||
	    d.state == HV_STATE_PAUSED || d.state == HV_STATE_BLOCKED))
		checks_add(c, "destination", 0, 0, "a domain named %s is already "
		    "%s on this host", d.name, hv_state_name(d.state));
	else if (r == 0)
		checks_add(c, "destination", 1, 1, "an inactive domain named %s "
		    "is defined here; the migration will replace its definition",
		    d.name);
	else if (r != -ENOENT)
		checks_add(c, "destination", 0, 0, "cannot ask libvirt here: %s",
		    hv_last_error());

	if (req->has_tls && req->tls)
		precheck_tls(hd, c, 1);

	if (req->cpu_xml == NULL)
		checks_add(c, "cpu", 1, 1, "the source sent no CPU definition; "
		    "not compared");
	else if (!precheck_token(req->arch) || !precheck_token(req->machine) ||
	    !precheck_token(req->virttype))
		checks_add(c, "cpu", 0, 0, "the source sent a bad arch, machine "
		    "or virt type");
	else {
		/* Never the source's <emulator>: libvirt would run that path
		 * here. NULL is this host's own default emulator for the
		 * arch and virt type (its domain capabilities). */
		r = hd->hv->ops->compare_cpu(hd->hv, req->cpu_xml, NULL,
		    req->arch, req->machine, req->virttype, &reason);
		if (r == HV_CPU_INCOMPATIBLE)
			checks_add(c, "cpu", 0, 0, "this host cannot run the "
			    "guest's CPU: %s", reason ? reason : "incompatible");
		else if (r < 0)
			checks_add(c, "cpu", 0, 0, "cannot compare the guest's CPU "
			    "here: %s", hv_last_error());
		else
			checks_add(c, "cpu", 1, 0, "the guest's CPU is %s here",
			    r == HV_CPU_IDENTICAL ? "identical" :
			    "supported (host is a superset)");
	}

	for (i = 0; i < req->domain->n_disks; i++) {
		const Ferry__Disk *pd = req->domain->disks[i];
		char cname[64], what[1200];

		snprintf(cname, sizeof(cname), "storage:%s", pd->target);
		if ((ld = precheck_find_local(req, pd->target)) != NULL) {
			precheck_dest_copy(c, cname, req, pd, ld, timeout);
			continue;
		}
		precheck_disk_of(pd, &sd);
		/* this host's own secret of the UUID the domain names */
		if (precheck_disk_key(hd, pd->protocol, pd->target, pd->auth_user,
		    pd->secret_uuid, key, sizeof(key), e, sizeof(e)) < 0) {
			checks_add(c, cname, 0, 0, "%s", e);
			continue;
		}
		sd.key = key;
		memset(sr, 0, sizeof(*sr));
		r = storcheck_disk(&sd, NULL, timeout, sr);
		memset(key, 0, sizeof(key));
		if (r < 0) {
			checks_add(c, cname, 0, 0, "%s", sr->reason);
			checks_where(c, sr);
			continue;
		}
		if (sr->kind == STORCHECK_IGNORED)
			continue;
		if (storcheck_is_file(sr)) {
			precheck_dest_file(c, cname, req, pd->target, sr, timeout);
			continue;
		}
		precheck_describe(sr, what, sizeof(what));
		if (sr->kind == STORCHECK_ISCSI_NETWORK ||
		    sr->kind == STORCHECK_RBD_NETWORK) {
			precheck_dest_lun(c, cname, req, pd->target, sr, what);
			checks_where(c, sr);
			continue;
		}
		checks_add(c, cname, 1, 0, "%s", what);
		checks_where(c, sr);
	}
	if (req->n_local_disks > PRECHECK_MAX)
		checks_add(c, "storage", 0, 0, "too many disks to copy");
	else if (req->n_local_disks > 0 && req->has_prepare && req->prepare &&
	    !c->blocked && (!req->has_job_id || req->job_id == 0))
		checks_add(c, "storage", 0, 0, "a copy needs a job");
	else if (req->n_local_disks > 0 && req->has_prepare && req->prepare &&
	    !c->blocked)
		(void)precheck_dest_prepare(c, req, timeout, created, &ncreated);
	rep.checks = c->v;
	rep.n_checks = c->n;
	rep.created = created;
	rep.n_created = ncreated;
	if (hostd_pack(&rep.base, payload, len) < 0) {
		snprintf(err, errlen, "out of memory");
		goto done;
	}
	rc = 0;
done:
	free(reason);
	hv_domain_clear(&d);
	free(sr);
	free(c);
	return rc;
}

/*
 * A failed copy's pre-created disks: removed only if this host created
 * them for that job and no domain of that name is alive here (libvirt's
 * word on this host, not the coordinator's): a VM that runs here after all
 * keeps its disk.
 */
static void
precheck_cleanup_copies(struct hostd *hd, const Ferry__StorageCleanup *req)
{
	struct hv_domain d;
	char e[STORAGE_ERR_MAX];
	size_t i;
	int r;

	memset(&d, 0, sizeof(d));
	r = hd->hv->ops->domain_info(hd->hv, req->vm, &d);
	if (r == 0 && d.state != HV_STATE_SHUTOFF) {
		log_warnx("job %llu: %s is %s here: keeping its copied disks",
		    (unsigned long long)req->job_id, req->vm,
		    hv_state_name(d.state));
		goto done;
	}
	if (r < 0 && r != -ENOENT) {
		log_warnx("job %llu: cannot ask libvirt about %s (%s): keeping "
		    "its copied disks", (unsigned long long)req->job_id, req->vm,
		    hv_last_error());
		goto done;
	}
	for (i = 0; i < req->n_created; i++) {
		if (!precheck_copy_take(req->job_id, req->vm, req->created[i])) {
			log_warnx("job %llu: refusing to remove %s: not created "
			    "here for this job", (unsigned long long)req->job_id,
			    req->created[i]);
			continue;
		}
		if (localdisk_remove(req->created[i], PRECHECK_TIMEOUT_MS, e,
		    sizeof(e)) < 0)
			log_warnx("job %llu: cannot remove the partial copy %s: %s",
			    (unsigned long long)req->job_id, req->created[i], e);
		else
			log_info("job %llu: removed the partial copy %s",
			    (unsigned long long)req->job_id, req->created[i]);
	}
 done:
	hv_domain_clear(&d);
}

/* STORAGE_CLEANUP: remove the nonce files this host wrote. */
int
precheck_cleanup(struct hostd *hd, const ProtobufCMessage *m, uint8_t **payload,
    size_t *len, char *err, size_t errlen)
{
	const Ferry__StorageCleanup *req = (const Ferry__StorageCleanup *)m;
	Ferry__Empty rep = FERRY__EMPTY__INIT;
	char dir[STORAGE_PATH_MAX], e[STORAGE_ERR_MAX];
	struct nonce n;
	size_t i;

	(void)hd;
	for (i = 0; i < req->n_nonces; i++) {
		if (precheck_nonce_of(req->nonces[i], dir, sizeof(dir), &n) < 0)
			continue;	/* never remove a file not of ours */
		if (nonce_remove(dir, &n, PRECHECK_TIMEOUT_MS, e, sizeof(e)) < 0 &&
		    strstr(e, "No such file") == NULL)
			log_warnx("cannot remove nonce %s: %s",
			    req->nonces[i]->path, e);
	}
	if (req->n_created > 0 && req->vm != NULL && req->has_job_id)
		precheck_cleanup_copies(hd, req);
	if (hostd_pack(&rep.base, payload, len) < 0) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}
