/* precheck.c: what hostd checks before a live migration moves anything,
 * and the small per-domain calls around one (state, dirty rate, leftover
 * removal). Every function here runs on a worker thread (hostd_call_start):
 * they block on libvirt, filesystems and NFS, each with a timeout. */
#include <errno.h>
#include <libgen.h>
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
	else if (r->kind == STORCHECK_NFS_NETWORK)
		snprintf(buf, len, "QEMU NFS image %s:%s%s%s readable over NFS",
		    r->server, r->export, r->relpath[0] ? "/" : "",
		    r->relpath);
	else
		snprintf(buf, len, "%s", r->reason[0] ? r->reason :
		    "nothing to check");
}

/* PRECHECK_SOURCE: the VM is here and running; each disk is on storage
 * Ferry can check; a nonce file next to each file disk for the
 * destination to find. */
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
	char e[STORAGE_ERR_MAX];
	int timeout = req->has_timeout_ms && req->timeout_ms ? (int)req->timeout_ms :
	    PRECHECK_TIMEOUT_MS;
	size_t i, nn = 0, ni = 0;
	int rc = -1;

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
		memset(sr, 0, sizeof(*sr));
		if (storcheck_disk(&sd, NULL, timeout, sr) < 0) {
			checks_add(c, cname, 0, 0, "%s", sr->reason);
			continue;
		}
		if (sr->kind == STORCHECK_IGNORED)
			continue;
		precheck_describe(sr, what, sizeof(what));
		if (sr->kind == STORCHECK_ISCSI_NETWORK && sr->lunid[0]) {
			/* for the destination to compare with its own view */
			ferry__disk_identity__init(&ids[ni]);
			snprintf(idstr[ni], sizeof(idstr[ni]), "%s", sr->lunid);
			ids[ni].target = d.disks[i].target;
			ids[ni].identity = idstr[ni];
			idv[ni] = &ids[ni];
			ni++;
		}
		if (!storcheck_is_file(sr)) {
			checks_add(c, cname, 1, 0, "%s", what);
			continue;
		}
		if (storcheck_dirs(sr, dir, sizeof(dir), reldir,
		    sizeof(reldir)) < 0 || nonce_write(dir, &nv[nn], timeout, e,
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
 * same IQN does not name another LUN behind another portal. */
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
	if (theirs == NULL)
		checks_add(c, cname, 0, 0, "%s; but the source reported nothing "
		    "of this LUN to compare with", what);
	else if (strcmp(theirs, sr->lunid) != 0)
		checks_add(c, cname, 0, 0, "iSCSI LUN %d of %s is %s here but %s "
		    "on the source: not the same LUN", sr->lun, sr->volume,
		    sr->lunid, theirs);
	else
		checks_add(c, cname, 1, 0, "%s; the same LUN (size and serial) as "
		    "on the source", what);
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
	char *reason = NULL;
	int timeout = req->has_timeout_ms && req->timeout_ms ?
	    (int)req->timeout_ms : PRECHECK_TIMEOUT_MS;
	size_t i;
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
		precheck_disk_of(pd, &sd);
		memset(sr, 0, sizeof(*sr));
		if (storcheck_disk(&sd, NULL, timeout, sr) < 0) {
			checks_add(c, cname, 0, 0, "%s", sr->reason);
			continue;
		}
		if (sr->kind == STORCHECK_IGNORED)
			continue;
		if (storcheck_is_file(sr)) {
			precheck_dest_file(c, cname, req, pd->target, sr, timeout);
			continue;
		}
		precheck_describe(sr, what, sizeof(what));
		if (sr->kind == STORCHECK_ISCSI_NETWORK) {
			precheck_dest_lun(c, cname, req, pd->target, sr, what);
			continue;
		}
		checks_add(c, cname, 1, 0, "%s", what);
	}
	rep.checks = c->v;
	rep.n_checks = c->n;
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
	if (hostd_pack(&rep.base, payload, len) < 0) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}

static void
precheck_state_of(const struct hv_domain *d, Ferry__DomainState *st)
{
	st->exists = 1;
	if (d->uuid[0])
		st->uuid = (char *)d->uuid;
	st->state = (char *)(d->state_str[0] ? d->state_str :
	    hv_state_name(d->state));
	if (d->reason_str[0])
		st->reason = (char *)d->reason_str;
	st->has_job_active = st->has_persistent = st->has_mem_mib = 1;
	st->job_active = d->job_active;
	st->persistent = d->persistent;
	st->mem_mib = d->mem_mib;
}

/* DOMAIN_STATE: what libvirtd here says of a domain, now. */
int
precheck_domain_state(struct hostd *hd, const ProtobufCMessage *m,
    uint8_t **payload, size_t *len, char *err, size_t errlen)
{
	const Ferry__DomainRef *req = (const Ferry__DomainRef *)m;
	Ferry__DomainState st = FERRY__DOMAIN_STATE__INIT;
	Ferry__JobFigures fig = FERRY__JOB_FIGURES__INIT;
	struct hv_job_stats cs;
	struct hv_domain d;
	int r, rc = -1;

	memset(&d, 0, sizeof(d));
	st.name = req->name;
	r = hd->hv->ops->domain_info(hd->hv, req->name, &d);
	if (r == 0) {
		precheck_state_of(&d, &st);
		/* After a migration in, libvirt keeps what it measured. */
		if (d.state != HV_STATE_SHUTOFF &&
		    hd->hv->ops->job_completed != NULL &&
		    hd->hv->ops->job_completed(hd->hv, req->name, &cs) == 0) {
			if (cs.has_downtime) {
				fig.has_downtime_ms = 1;
				fig.downtime_ms = cs.downtime;
			}
			fig.has_data_bytes = fig.has_time_elapsed_ms = 1;
			fig.data_bytes = cs.data_processed;
			fig.time_elapsed_ms = cs.time_elapsed;
			fig.has_iterations = 1;
			fig.iterations = cs.memory_iteration;
			fig.has_memory_bytes = fig.has_memory_total = 1;
			fig.memory_bytes = cs.memory_processed;
			fig.memory_total = cs.memory_total;
			st.completed = &fig;
		}
	} else if (r != -ENOENT) {
		/* Not knowing is not "absent": the caller must not conclude. */
		snprintf(err, errlen, "cannot ask libvirt about %s: %s",
		    req->name, hv_last_error());
		goto done;
	}
	if (hostd_pack(&st.base, payload, len) < 0) {
		snprintf(err, errlen, "out of memory");
		goto done;
	}
	rc = 0;
done:
	hv_domain_clear(&d);
	return rc;
}

/* DESTROY_LEFTOVER: stop what a failed incoming migration left here. */
int
precheck_destroy(struct hostd *hd, const ProtobufCMessage *m, uint8_t **payload,
    size_t *len, char *err, size_t errlen)
{
	const Ferry__DestroyRequest *req = (const Ferry__DestroyRequest *)m;
	Ferry__DomainState st = FERRY__DOMAIN_STATE__INIT;
	struct hv_domain d;
	int r, rc = -1;

	memset(&d, 0, sizeof(d));
	st.name = req->name;
	r = hd->hv->ops->domain_info(hd->hv, req->name, &d);
	if (r < 0 && r != -ENOENT) {
		snprintf(err, errlen, "%s", hv_last_error());
		goto done;
	}
	if (r == 0 && d.state != HV_STATE_SHUTOFF) {
		/* Only what a failed incoming migration leaves, named by its
		 * UUID: the coordinator's word is checked against libvirt's.
		 * The session refused already if this host migrates it out. */
		if (req->uuid == NULL || strcmp(req->uuid, d.uuid) != 0) {
			snprintf(err, errlen, "refusing to destroy %s: the request "
			    "names UUID %.40s, the domain here is %s", req->name,
			    req->uuid ? req->uuid : "(none)", d.uuid);
			goto done;
		}
		if (d.state != HV_STATE_PAUSED ||
		    (strcmp(d.reason_str, "migration") != 0 &&
		    strcmp(d.reason_str, "starting-up") != 0) || d.job_active) {
			snprintf(err, errlen, "refusing to destroy %s: it is %s "
			    "(%s)%s here, not a migration's leftover", req->name,
			    hv_state_name(d.state), d.reason_str,
			    d.job_active ? " with a job" : "");
			goto done;
		}
		log_warnx("destroying leftover domain %s (%s)", req->name,
		    hv_state_name(d.state));
		if (hd->hv->ops->destroy(hd->hv, req->name) < 0) {
			snprintf(err, errlen, "%s", hv_last_error());
			goto done;
		}
		hv_domain_clear(&d);
		r = hd->hv->ops->domain_info(hd->hv, req->name, &d);
	}
	if (r == 0)
		precheck_state_of(&d, &st);
	if (hostd_pack(&st.base, payload, len) < 0) {
		snprintf(err, errlen, "out of memory");
		goto done;
	}
	rc = 0;
done:
	hv_domain_clear(&d);
	return rc;
}

/*
 * UNDEFINE_LEFTOVER: remove the persistent, inactive definition a finished
 * migration left on its source (libvirt's UNDEFINE_SOURCE did not run, e.g.
 * after a post-copy whose connection broke). Refused unless the domain here
 * has the request's UUID and is shut off: a running or another domain of
 * that name is never touched. Replies with the state afterwards.
 */
int
precheck_undefine(struct hostd *hd, const ProtobufCMessage *m,
    uint8_t **payload, size_t *len, char *err, size_t errlen)
{
	const Ferry__DestroyRequest *req = (const Ferry__DestroyRequest *)m;
	Ferry__DomainState st = FERRY__DOMAIN_STATE__INIT;
	struct hv_domain d;
	int r, rc = -1;

	memset(&d, 0, sizeof(d));
	st.name = req->name;
	if (hd->hv->ops->undefine == NULL) {
		snprintf(err, errlen, "undefine is not supported here");
		goto done;
	}
	r = hd->hv->ops->undefine(hd->hv, req->name, req->uuid);
	if (r < 0 && r != -ENOENT) {
		snprintf(err, errlen, "refusing to undefine %s: %s", req->name,
		    hv_last_error());
		goto done;
	}
	if (r == 0)
		log_warnx("undefined the inactive leftover definition of %s "
		    "(UUID %s)", req->name, req->uuid);
	r = hd->hv->ops->domain_info(hd->hv, req->name, &d);
	if (r == 0)
		precheck_state_of(&d, &st);
	else if (r != -ENOENT) {
		snprintf(err, errlen, "%s", hv_last_error());
		goto done;
	}
	if (hostd_pack(&st.base, payload, len) < 0) {
		snprintf(err, errlen, "out of memory");
		goto done;
	}
	rc = 0;
done:
	hv_domain_clear(&d);
	return rc;
}

/* DIRTY_RATE: libvirt's dirty-rate calculation over a few seconds. */
int
precheck_dirty_rate(struct hostd *hd, const ProtobufCMessage *m,
    uint8_t **payload, size_t *len, char *err, size_t errlen)
{
	const Ferry__DirtyRateRequest *req = (const Ferry__DirtyRateRequest *)m;
	Ferry__DirtyRateReply rep = FERRY__DIRTY_RATE_REPLY__INIT;
	uint64_t mibs = 0;
	int secs = req->seconds < 1 ? 1 : req->seconds > 60 ? 60 : req->seconds;

	if (hd->hv->ops->dirty_rate(hd->hv, req->name, secs, &mibs) < 0) {
		snprintf(err, errlen, "%s", hv_last_error());
		return -1;
	}
	rep.mib_per_s = (double)mibs;
	if (hostd_pack(&rep.base, payload, len) < 0) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}
