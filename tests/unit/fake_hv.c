/* fake_hv.c: a scriptable hypervisor for unit tests; see fake_hv.h. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libvirt/libvirt.h>

#include "hv.h"
#include "fake_hv.h"

#define FAKE_MAX_OPEN		16
#define FAKE_MAX_EVENTS		(2 * FAKE_MAX_OPEN)
#define FAKE_MIGRATE_TIMEOUT	10

struct fake_dom {
	struct hv_domain	 d;		/* d.disks owned */
	char			*cpu_xml, *emulator, *arch, *machine,
				*virttype;
	uint64_t		 dirty_mibs;
	struct fake_hv_tuning	 tuning;
	/* the migration script; samples owned */
	int			 scripted;
	struct hv_job_stats	*samples;
	size_t			 nsamples, next;
	int			 script_rc;
	char			 script_msg[256];
	struct hv_job_stats	 script_completed;	/* for the destination */
	int			 has_script_completed;
	struct hv_job_stats	 completed;		/* libvirt's completed stats */
	int			 has_completed;
	int			 allow_postcopy;	/* of the running migrate */
	int			 after_set, after_state, after_reason;
	int			 destroyed;		/* while migrating */
	struct fake_dom		*nextdom;
};

struct fake_fail {
	int	times;
	int	rc;
	char	msg[256];
};

struct fake_host {
	char			 uri[HV_PATH_MAX];
	struct hv_host		 info;
	struct fake_dom		*doms;
	int			 cmp_result;
	char			 cmp_reason[512];
	char			 cmp_emulator[HV_PATH_MAX];	/* last asked; "" NULL */
	unsigned		 cmp_calls;
	char			 host_cpu[2048];	/* "": the default */
	struct fake_fail	 fail[FAKE_OP_COUNT];
	int			 delay_ms[FAKE_OP_COUNT];
	unsigned		 calls[FAKE_OP_COUNT];
	unsigned		 active[FAKE_OP_COUNT];	/* delayed calls waiting */
	struct hv		*open[FAKE_MAX_OPEN];
	size_t			 nopen;
	struct fake_hv_migrate_rec last;
	int			 has_last;
	char			 secret_uuid[40];	/* "": none */
	unsigned char		 secret[64];
	size_t			 secret_len;
	struct fake_host	*nexthost;
};

/* Events are collected under the lock and delivered after it. */
struct fake_event {
	struct hv	*hv;
	int		 kind;
	char		 domain[HV_NAME_MAX];
	int		 detail, sub;
};

struct fake_events {
	struct fake_event	ev[FAKE_MAX_EVENTS];
	size_t			n;
};

static pthread_mutex_t	 fake_mtx = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t	 fake_cond = PTHREAD_COND_INITIALIZER;
static struct fake_host	*fake_hosts;
static unsigned		 fake_gen;	/* bumped by reset */

static const char fake_default_cpu[] =
    "<cpu mode='custom' match='exact' check='full'>"
    "<model fallback='forbid'>qemu64</model></cpu>";

/* fake_mtx held. Get or create. */
static struct fake_host *
fake_host(const char *uri)
{
	struct fake_host *h;
	unsigned hash = 5381;
	const char *s, *name;

	for (h = fake_hosts; h != NULL; h = h->nexthost)
		if (strcmp(h->uri, uri) == 0)
			return h;
	if ((h = calloc(1, sizeof(*h))) == NULL)
		abort();	/* tests only */
	snprintf(h->uri, sizeof(h->uri), "%s", uri);
	for (s = uri; *s; s++)
		hash = hash * 33 + (unsigned char)*s;
	name = strstr(uri, "://") ? strstr(uri, "://") + 3 : uri;
	snprintf(h->info.hostname, sizeof(h->info.hostname), "%s", name);
	snprintf(h->info.uuid, sizeof(h->info.uuid),
	    "%08x-0000-4000-8000-%012x", hash, hash);
	snprintf(h->info.arch, sizeof(h->info.arch), "x86_64");
	h->info.cpus = 4;
	h->info.mem_mib = 8192;
	h->info.mem_free_mib = 4096;
	h->cmp_result = HV_CPU_IDENTICAL;
	h->nexthost = fake_hosts;
	fake_hosts = h;
	return h;
}

static struct fake_dom *
fake_dom(struct fake_host *h, const char *name)
{
	struct fake_dom *fd;

	for (fd = h->doms; fd != NULL; fd = fd->nextdom)
		if (strcmp(fd->d.name, name) == 0)
			return fd;
	return NULL;
}

static void
fake_dom_free(struct fake_dom *fd)
{
	if (fd == NULL)
		return;
	hv_domain_clear(&fd->d);
	free(fd->cpu_xml);
	free(fd->emulator);
	free(fd->arch);
	free(fd->machine);
	free(fd->virttype);
	free(fd->samples);
	free(fd);
}

static void
fake_dom_unlink(struct fake_host *h, struct fake_dom *fd)
{
	struct fake_dom **pp;

	for (pp = &h->doms; *pp != NULL; pp = &(*pp)->nextdom)
		if (*pp == fd) {
			*pp = fd->nextdom;
			fake_dom_free(fd);
			return;
		}
}

/* A deep copy of a domain (disks included); aborts on ENOMEM (tests). */
static void
fake_domain_copy(struct hv_domain *dst, const struct hv_domain *src)
{
	*dst = *src;
	dst->disks = NULL;
	if (src->ndisks == 0)
		return;
	if ((dst->disks = calloc(src->ndisks, sizeof(*dst->disks))) == NULL)
		abort();
	memcpy(dst->disks, src->disks, src->ndisks * sizeof(*dst->disks));
}

static char *
fake_strdup(const char *s)
{
	char *d;

	if ((d = strdup(s)) == NULL)
		abort();
	return d;
}

static void
fake_state(struct hv_domain *d, int state, int reason)
{
	static const char *running[] = { "unknown", "booted", "migrated",
	    "restored", "from-snapshot", "unpaused", "migration-canceled",
	    "save-canceled", "wakeup", "crashed", "postcopy",
	    "postcopy-failed" };
	static const char *paused[] = { "unknown", "user", "migration",
	    "save", "dump", "ioerror", "watchdog", "from-snapshot",
	    "shutdown", "snapshot", "crashed", "starting-up", "postcopy",
	    "postcopy-failed" };
	static const char *shutoff[] = { "unknown", "shutdown", "destroyed",
	    "crashed", "migrated", "saved", "failed", "from-snapshot",
	    "daemon" };
	const char *r = "unknown";

	d->state = state;
	d->reason = reason;
	snprintf(d->state_str, sizeof(d->state_str), "%s",
	    hv_state_name(state));
	if (reason >= 0) {
		if (state == VIR_DOMAIN_RUNNING && (size_t)reason <
		    sizeof(running) / sizeof(running[0]))
			r = running[reason];
		else if (state == VIR_DOMAIN_PAUSED && (size_t)reason <
		    sizeof(paused) / sizeof(paused[0]))
			r = paused[reason];
		else if (state == VIR_DOMAIN_SHUTOFF && (size_t)reason <
		    sizeof(shutoff) / sizeof(shutoff[0]))
			r = shutoff[reason];
	}
	snprintf(d->reason_str, sizeof(d->reason_str), "%s", r);
}

/* fake_mtx held: queue an event to every hv open on h. */
static void
fake_queue(struct fake_events *q, struct fake_host *h, int kind,
    const char *domain, int detail, int sub)
{
	size_t i;
	struct fake_event *e;

	for (i = 0; i < h->nopen && q->n < FAKE_MAX_EVENTS; i++) {
		e = &q->ev[q->n++];
		e->hv = h->open[i];
		e->kind = kind;
		snprintf(e->domain, sizeof(e->domain), "%s",
		    domain ? domain : "");
		e->detail = detail;
		e->sub = sub;
	}
}

/* Without fake_mtx. */
static void
fake_deliver(struct fake_events *q)
{
	size_t i;
	struct fake_event *e;

	for (i = 0; i < q->n; i++) {
		e = &q->ev[i];
		if (e->hv->on_event != NULL)
			e->hv->on_event(e->hv, e->kind,
			    e->domain[0] ? e->domain : NULL, e->detail, e->sub,
			    e->hv->event_arg);
	}
	q->n = 0;
}

/* fake_mtx held: count the call, wait out an injected delay (the lock is
 * released meanwhile; fake_hv_delay with 0 ends the wait early) and apply
 * an injected failure. Returns 0 to go on, else the rc to return. */
static int
fake_enter(struct fake_host *h, enum fake_hv_op op)
{
	struct fake_fail *f = &h->fail[op];
	struct timespec deadline;
	int ms;

	h->calls[op]++;
	if ((ms = h->delay_ms[op]) > 0) {
		clock_gettime(CLOCK_REALTIME, &deadline);
		deadline.tv_sec += ms / 1000;
		deadline.tv_nsec += (long)(ms % 1000) * 1000000;
		if (deadline.tv_nsec >= 1000000000) {
			deadline.tv_sec++;
			deadline.tv_nsec -= 1000000000;
		}
		h->active[op]++;
		while (h->delay_ms[op] > 0 && pthread_cond_timedwait(&fake_cond,
		    &fake_mtx, &deadline) != ETIMEDOUT)
			;
		h->active[op]--;
	}
	if (f->times <= 0)
		return 0;
	f->times--;
	hv_set_error("%s", f->msg);
	return f->rc ? f->rc : -1;
}

/* fake_mtx held: a domain that must exist; -ENOENT otherwise. */
static int
fake_need(struct fake_host *h, const char *name, struct fake_dom **fdp)
{
	if ((*fdp = fake_dom(h, name)) == NULL) {
		hv_set_error("no domain %s", name);
		return -ENOENT;
	}
	return 0;
}

static int
fake_active(const struct fake_dom *fd, const char *what)
{
	if (fd->d.state == VIR_DOMAIN_RUNNING ||
	    fd->d.state == VIR_DOMAIN_PAUSED)
		return 0;
	hv_set_error("%s %s: Requested operation is not valid: domain is not "
	    "running", what, fd->d.name);
	return -1;
}

void
fake_hv_reset(void)
{
	struct fake_host *h;
	struct fake_dom *fd;

	pthread_mutex_lock(&fake_mtx);
	while ((h = fake_hosts) != NULL) {
		fake_hosts = h->nexthost;
		while ((fd = h->doms) != NULL) {
			h->doms = fd->nextdom;
			fake_dom_free(fd);
		}
		free(h);
	}
	fake_gen++;
	pthread_cond_broadcast(&fake_cond);
	pthread_mutex_unlock(&fake_mtx);
}

void
fake_hv_set_secret(const char *uri, const char *uuid, const void *value,
    size_t len)
{
	struct fake_host *h;

	pthread_mutex_lock(&fake_mtx);
	h = fake_host(uri);
	snprintf(h->secret_uuid, sizeof(h->secret_uuid), "%s", uuid);
	h->secret_len = len < sizeof(h->secret) ? len : sizeof(h->secret);
	memcpy(h->secret, value, h->secret_len);
	pthread_mutex_unlock(&fake_mtx);
}

void
fake_hv_set_host(const char *uri, const struct hv_host *info)
{
	pthread_mutex_lock(&fake_mtx);
	fake_host(uri)->info = *info;
	pthread_mutex_unlock(&fake_mtx);
}

int
fake_hv_add_domain(const char *uri, const struct hv_domain *d)
{
	struct fake_host *h;
	struct fake_dom *fd;

	pthread_mutex_lock(&fake_mtx);
	h = fake_host(uri);
	if ((fd = fake_dom(h, d->name)) != NULL)
		fake_dom_unlink(h, fd);
	if ((fd = calloc(1, sizeof(*fd))) == NULL)
		abort();
	fake_domain_copy(&fd->d, d);
	fd->nextdom = h->doms;
	h->doms = fd;
	pthread_mutex_unlock(&fake_mtx);
	return 0;
}

int
fake_hv_add_running(const char *uri, const char *name,
    const struct hv_disk *disks, size_t ndisks)
{
	struct hv_domain d;
	unsigned hash = 5381;
	const char *s;

	memset(&d, 0, sizeof(d));
	snprintf(d.name, sizeof(d.name), "%s", name);
	for (s = name; *s; s++)
		hash = hash * 33 + (unsigned char)*s;
	snprintf(d.uuid, sizeof(d.uuid), "%08x-1111-4000-8000-%012x", hash,
	    hash);
	fake_state(&d, VIR_DOMAIN_RUNNING, VIR_DOMAIN_RUNNING_BOOTED);
	d.mem_mib = 256;
	d.vcpus = 1;
	d.persistent = 1;
	d.disks = (struct hv_disk *)disks;	/* copied by add_domain */
	d.ndisks = ndisks;
	return fake_hv_add_domain(uri, &d);
}

int
fake_hv_remove_domain(const char *uri, const char *name)
{
	struct fake_host *h;
	struct fake_dom *fd;
	int rc = -ENOENT;

	pthread_mutex_lock(&fake_mtx);
	h = fake_host(uri);
	if ((fd = fake_dom(h, name)) != NULL) {
		fake_dom_unlink(h, fd);
		rc = 0;
	}
	pthread_cond_broadcast(&fake_cond);
	pthread_mutex_unlock(&fake_mtx);
	return rc;
}

int
fake_hv_has_domain(const char *uri, const char *name)
{
	int r;

	pthread_mutex_lock(&fake_mtx);
	r = fake_dom(fake_host(uri), name) != NULL;
	pthread_mutex_unlock(&fake_mtx);
	return r;
}

int
fake_hv_migrating(const char *uri, const char *name)
{
	struct fake_dom *fd;
	int r;

	pthread_mutex_lock(&fake_mtx);
	fd = fake_dom(fake_host(uri), name);
	r = fd != NULL && fd->tuning.migrating;
	pthread_mutex_unlock(&fake_mtx);
	return r;
}

int
fake_hv_get_domain(const char *uri, const char *name, struct hv_domain *out)
{
	struct fake_dom *fd;
	int rc = -ENOENT;

	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&fake_mtx);
	if ((fd = fake_dom(fake_host(uri), name)) != NULL) {
		fake_domain_copy(out, &fd->d);
		rc = 0;
	}
	pthread_mutex_unlock(&fake_mtx);
	return rc;
}

int
fake_hv_set_state(const char *uri, const char *name, int state, int reason)
{
	struct fake_dom *fd;
	int rc = -ENOENT;

	pthread_mutex_lock(&fake_mtx);
	if ((fd = fake_dom(fake_host(uri), name)) != NULL) {
		fake_state(&fd->d, state, reason);
		rc = 0;
	}
	pthread_mutex_unlock(&fake_mtx);
	return rc;
}

static void
fake_replace(char **dst, const char *src)
{
	if (src == NULL)
		return;
	free(*dst);
	*dst = fake_strdup(src);
}

int
fake_hv_set_cpu(const char *uri, const char *name, const char *cpu_xml,
    const char *emulator, const char *arch, const char *machine,
    const char *virttype)
{
	struct fake_dom *fd;
	int rc = -ENOENT;

	pthread_mutex_lock(&fake_mtx);
	if ((fd = fake_dom(fake_host(uri), name)) != NULL) {
		fake_replace(&fd->cpu_xml, cpu_xml);
		fake_replace(&fd->emulator, emulator);
		fake_replace(&fd->arch, arch);
		fake_replace(&fd->machine, machine);
		fake_replace(&fd->virttype, virttype);
		rc = 0;
	}
	pthread_mutex_unlock(&fake_mtx);
	return rc;
}

int
fake_hv_set_dirty_rate(const char *uri, const char *name, uint64_t mibs)
{
	struct fake_dom *fd;
	int rc = -ENOENT;

	pthread_mutex_lock(&fake_mtx);
	if ((fd = fake_dom(fake_host(uri), name)) != NULL) {
		fd->dirty_mibs = mibs;
		rc = 0;
	}
	pthread_mutex_unlock(&fake_mtx);
	return rc;
}

void
fake_hv_set_host_cpu(const char *uri, const char *model,
    const char *const *features, size_t n)
{
	struct fake_host *h;
	size_t i, off;

	pthread_mutex_lock(&fake_mtx);
	h = fake_host(uri);
	off = (size_t)snprintf(h->host_cpu, sizeof(h->host_cpu),
	    "<cpu><arch>x86_64</arch><model>%s</model>", model);
	for (i = 0; i < n && off < sizeof(h->host_cpu); i++)
		off += (size_t)snprintf(h->host_cpu + off, sizeof(h->host_cpu) -
		    off, "<feature name='%s'/>", features[i]);
	if (off < sizeof(h->host_cpu))
		snprintf(h->host_cpu + off, sizeof(h->host_cpu) - off, "</cpu>");
	pthread_mutex_unlock(&fake_mtx);
}

void
fake_hv_set_compare(const char *uri, int result, const char *reason)
{
	struct fake_host *h;

	pthread_mutex_lock(&fake_mtx);
	h = fake_host(uri);
	h->cmp_result = result;
	snprintf(h->cmp_reason, sizeof(h->cmp_reason), "%s",
	    reason ? reason : "");
	pthread_mutex_unlock(&fake_mtx);
}

void
fake_hv_fail(const char *uri, enum fake_hv_op op, int times, int rc,
    const char *msg)
{
	struct fake_fail *f;

	if (op < 0 || op >= FAKE_OP_COUNT)
		return;
	pthread_mutex_lock(&fake_mtx);
	f = &fake_host(uri)->fail[op];
	f->times = times;
	f->rc = rc;
	snprintf(f->msg, sizeof(f->msg), "%s", msg ? msg : "fake failure");
	pthread_mutex_unlock(&fake_mtx);
}

int
fake_hv_script_completed(const char *uri, const char *name,
    const struct hv_job_stats *completed)
{
	struct fake_dom *fd;
	int ret = -ENOENT;

	pthread_mutex_lock(&fake_mtx);
	if ((fd = fake_dom(fake_host(uri), name)) != NULL) {
		fd->script_completed = *completed;
		fd->script_completed.active = 0;
		fd->has_script_completed = 1;
		ret = 0;
	}
	pthread_mutex_unlock(&fake_mtx);
	return ret;
}

int
fake_hv_script_migration(const char *uri, const char *name,
    const struct hv_job_stats *samples, size_t n, int rc, const char *msg)
{
	struct fake_dom *fd;
	int ret = -ENOENT;

	pthread_mutex_lock(&fake_mtx);
	if ((fd = fake_dom(fake_host(uri), name)) != NULL) {
		free(fd->samples);
		fd->samples = NULL;
		if (n > 0) {
			if ((fd->samples = calloc(n, sizeof(*samples))) ==
			    NULL)
				abort();
			memcpy(fd->samples, samples, n * sizeof(*samples));
		}
		fd->nsamples = n;
		fd->next = 0;
		fd->script_rc = rc;
		snprintf(fd->script_msg, sizeof(fd->script_msg), "%s",
		    msg ? msg : "fake migration failure");
		fd->scripted = 1;
		ret = 0;
	}
	pthread_mutex_unlock(&fake_mtx);
	return ret;
}

void
fake_hv_delay(const char *uri, enum fake_hv_op op, int ms)
{
	pthread_mutex_lock(&fake_mtx);
	fake_host(uri)->delay_ms[op] = ms;
	pthread_cond_broadcast(&fake_cond);
	pthread_mutex_unlock(&fake_mtx);
}

void
fake_hv_delay_none(void)
{
	struct fake_host *h;

	pthread_mutex_lock(&fake_mtx);
	for (h = fake_hosts; h != NULL; h = h->nexthost)
		memset(h->delay_ms, 0, sizeof(h->delay_ms));
	pthread_cond_broadcast(&fake_cond);
	pthread_mutex_unlock(&fake_mtx);
}

unsigned
fake_hv_delayed(const char *uri, enum fake_hv_op op)
{
	unsigned n;

	pthread_mutex_lock(&fake_mtx);
	n = fake_host(uri)->active[op];
	pthread_mutex_unlock(&fake_mtx);
	return n;
}

int
fake_hv_script_after(const char *uri, const char *name, int state, int reason)
{
	struct fake_dom *fd;
	int rc;

	pthread_mutex_lock(&fake_mtx);
	if ((rc = fake_need(fake_host(uri), name, &fd)) == 0) {
		fd->after_set = 1;
		fd->after_state = state;
		fd->after_reason = reason;
	}
	pthread_mutex_unlock(&fake_mtx);
	return rc;
}

unsigned
fake_hv_calls(const char *uri, enum fake_hv_op op)
{
	unsigned n;

	if (op < 0 || op >= FAKE_OP_COUNT)
		return 0;
	pthread_mutex_lock(&fake_mtx);
	n = fake_host(uri)->calls[op];
	pthread_mutex_unlock(&fake_mtx);
	return n;
}

int
fake_hv_last_compare(const char *uri, char *emulator, size_t len)
{
	struct fake_host *h;
	int rc;

	pthread_mutex_lock(&fake_mtx);
	h = fake_host(uri);
	rc = h->cmp_calls ? 0 : -ENOENT;
	snprintf(emulator, len, "%s", h->cmp_emulator);
	pthread_mutex_unlock(&fake_mtx);
	return rc;
}

int
fake_hv_last_migrate(const char *uri, struct fake_hv_migrate_rec *rec)
{
	struct fake_host *h;
	int rc = -1;

	pthread_mutex_lock(&fake_mtx);
	h = fake_host(uri);
	if (h->has_last) {
		*rec = h->last;
		rc = 0;
	}
	pthread_mutex_unlock(&fake_mtx);
	return rc;
}

int
fake_hv_get_tuning(const char *uri, const char *name,
    struct fake_hv_tuning *t)
{
	struct fake_dom *fd;
	int rc = -ENOENT;

	pthread_mutex_lock(&fake_mtx);
	if ((fd = fake_dom(fake_host(uri), name)) != NULL) {
		*t = fd->tuning;
		rc = 0;
	}
	pthread_mutex_unlock(&fake_mtx);
	return rc;
}

int
fake_hv_emit(const char *uri, int kind, const char *domain, int detail,
    int sub)
{
	struct fake_events q;
	int n;

	q.n = 0;
	pthread_mutex_lock(&fake_mtx);
	fake_queue(&q, fake_host(uri), kind, domain, detail, sub);
	pthread_mutex_unlock(&fake_mtx);
	n = (int)q.n;
	fake_deliver(&q);
	return n;
}

/* The ops. hv->priv is unused: the host is looked up by hv->uri. */

static int
fake_open(struct hv *hv)
{
	struct fake_host *h;
	struct fake_events q;
	int rc;

	q.n = 0;
	pthread_mutex_lock(&fake_mtx);
	h = fake_host(hv->uri);
	if ((rc = fake_enter(h, FAKE_OP_OPEN)) == 0) {
		if (h->nopen == FAKE_MAX_OPEN) {
			hv_set_error("fake: too many opens of %s", hv->uri);
			rc = -1;
		} else {
			h->open[h->nopen++] = hv;
			/* Only this hv: the others did not reconnect. */
			q.ev[0].hv = hv;
			q.ev[0].kind = HV_EV_CONN_UP;
			q.ev[0].domain[0] = '\0';
			q.ev[0].detail = q.ev[0].sub = 0;
			q.n = 1;
		}
	}
	pthread_mutex_unlock(&fake_mtx);
	fake_deliver(&q);
	return rc;
}

static void
fake_close(struct hv *hv)
{
	struct fake_host *h;
	size_t i;

	pthread_mutex_lock(&fake_mtx);
	h = fake_host(hv->uri);
	h->calls[FAKE_OP_CLOSE]++;
	for (i = 0; i < h->nopen; i++)
		if (h->open[i] == hv) {
			h->open[i] = h->open[--h->nopen];
			break;
		}
	pthread_mutex_unlock(&fake_mtx);
}

static int
fake_host_info(struct hv *hv, struct hv_host *out)
{
	struct fake_host *h;
	int rc;

	pthread_mutex_lock(&fake_mtx);
	h = fake_host(hv->uri);
	if ((rc = fake_enter(h, FAKE_OP_HOST_INFO)) == 0)
		*out = h->info;
	pthread_mutex_unlock(&fake_mtx);
	return rc;
}

static int
fake_list_domains(struct hv *hv, struct hv_domain **out, size_t *n)
{
	struct fake_host *h;
	struct fake_dom *fd;
	size_t count = 0;
	int rc;

	*out = NULL;
	*n = 0;
	pthread_mutex_lock(&fake_mtx);
	h = fake_host(hv->uri);
	if ((rc = fake_enter(h, FAKE_OP_LIST_DOMAINS)) != 0)
		goto done;
	for (fd = h->doms; fd != NULL; fd = fd->nextdom)
		count++;
	if (count > 0 && (*out = calloc(count, sizeof(**out))) == NULL)
		abort();
	for (fd = h->doms; fd != NULL; fd = fd->nextdom)
		fake_domain_copy(&(*out)[(*n)++], &fd->d);
 done:
	pthread_mutex_unlock(&fake_mtx);
	return rc;
}

static int
fake_domain_info(struct hv *hv, const char *name, struct hv_domain *out)
{
	struct fake_host *h;
	struct fake_dom *fd;
	int rc;

	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&fake_mtx);
	h = fake_host(hv->uri);
	if ((rc = fake_enter(h, FAKE_OP_DOMAIN_INFO)) == 0 &&
	    (rc = fake_need(h, name, &fd)) == 0) {
		fake_domain_copy(out, &fd->d);
		out->job_active = fd->tuning.migrating;
	}
	pthread_mutex_unlock(&fake_mtx);
	return rc;
}

static int
fake_domain_cpu(struct hv *hv, const char *name, char **cpu_xml,
    char **emulator, char **arch, char **machine, char **virttype)
{
	struct fake_host *h;
	struct fake_dom *fd;
	int rc;

	*cpu_xml = *emulator = *arch = *machine = *virttype = NULL;
	pthread_mutex_lock(&fake_mtx);
	h = fake_host(hv->uri);
	if ((rc = fake_enter(h, FAKE_OP_DOMAIN_CPU)) == 0 &&
	    (rc = fake_need(h, name, &fd)) == 0 &&
	    (rc = fake_active(fd, "domain cpu")) == 0) {
		*cpu_xml = fake_strdup(fd->cpu_xml ? fd->cpu_xml :
		    fake_default_cpu);
		*emulator = fake_strdup(fd->emulator ? fd->emulator :
		    "/usr/bin/qemu-system-x86_64");
		*arch = fake_strdup(fd->arch ? fd->arch : "x86_64");
		*machine = fake_strdup(fd->machine ? fd->machine :
		    "pc-i440fx-7.2");
		*virttype = fake_strdup(fd->virttype ? fd->virttype : "qemu");
	}
	pthread_mutex_unlock(&fake_mtx);
	return rc;
}

static int
fake_compare_cpu(struct hv *hv, const char *cpu_xml, const char *emulator,
    const char *arch, const char *machine, const char *virttype,
    char **reason)
{
	struct fake_host *h;
	int rc;

	(void)arch;
	(void)machine;
	(void)virttype;
	*reason = NULL;
	pthread_mutex_lock(&fake_mtx);
	h = fake_host(hv->uri);
	snprintf(h->cmp_emulator, sizeof(h->cmp_emulator), "%s",
	    emulator ? emulator : "");
	h->cmp_calls++;
	if (fake_enter(h, FAKE_OP_COMPARE_CPU) != 0)
		rc = HV_CPU_ERROR;
	else if (cpu_xml == NULL || cpu_xml[0] == '\0') {
		hv_set_error("compare cpu: invalid argument: no cpu");
		rc = HV_CPU_ERROR;
	} else {
		rc = h->cmp_result;
		if (rc == HV_CPU_INCOMPATIBLE)
			*reason = fake_strdup(h->cmp_reason);
		else if (rc == HV_CPU_ERROR)
			hv_set_error("compare cpu: %s", h->cmp_reason);
	}
	pthread_mutex_unlock(&fake_mtx);
	return rc;
}

static int
fake_host_cpu(struct hv *hv, char **cpu_xml)
{
	struct fake_host *h;
	int rc;

	*cpu_xml = NULL;
	pthread_mutex_lock(&fake_mtx);
	h = fake_host(hv->uri);
	if ((rc = fake_enter(h, FAKE_OP_HOST_CPU)) == 0)
		*cpu_xml = fake_strdup(h->host_cpu[0] ? h->host_cpu :
		    "<cpu><arch>x86_64</arch><model>qemu64</model></cpu>");
	pthread_mutex_unlock(&fake_mtx);
	return rc;
}

/* Whether cpu names feature f ("<feature name='f'/>"). */
static int
fake_has_feature(const char *cpu, const char *f, size_t flen)
{
	const char *p;

	for (p = cpu; (p = strstr(p, "<feature name='")) != NULL; p += 15)
		if (strncmp(p + 15, f, flen) == 0 && p[15 + flen] == '\'')
			return 1;
	return 0;
}

static int
fake_baseline_cpu(struct hv *hv, const char *const *cpus, size_t n,
    char **out)
{
	struct fake_host *h;
	char buf[4096];
	const char *p, *q, *m;
	size_t off, i, flen;
	int rc, all;

	*out = NULL;
	pthread_mutex_lock(&fake_mtx);
	h = fake_host(hv->uri);
	if ((rc = fake_enter(h, FAKE_OP_BASELINE)) != 0)
		goto out;
	if (n == 0 || (m = strstr(cpus[0], "<model>")) == NULL ||
	    (q = strstr(m, "</model>")) == NULL) {
		hv_set_error("baseline: invalid argument: no CPU model");
		rc = -1;
		goto out;
	}
	off = (size_t)snprintf(buf, sizeof(buf), "<cpu mode='custom' "
	    "match='exact'><model fallback='forbid'>%.*s</model>",
	    (int)(q - m - 7), m + 7);
	for (p = cpus[0]; (p = strstr(p, "<feature name='")) != NULL; p += 15) {
		flen = strcspn(p + 15, "'");
		for (i = 1, all = 1; i < n && all; i++)
			all = fake_has_feature(cpus[i], p + 15, flen);
		if (all && off < sizeof(buf))
			off += (size_t)snprintf(buf + off, sizeof(buf) - off,
			    "<feature policy='require' name='%.*s'/>", (int)flen,
			    p + 15);
	}
	if (off < sizeof(buf))
		snprintf(buf + off, sizeof(buf) - off, "</cpu>");
	*out = fake_strdup(buf);
 out:
	pthread_mutex_unlock(&fake_mtx);
	return rc;
}

static int
fake_dirty_rate(struct hv *hv, const char *name, int seconds, uint64_t *mibs)
{
	struct fake_host *h;
	struct fake_dom *fd;
	int rc;

	(void)seconds;
	*mibs = 0;
	pthread_mutex_lock(&fake_mtx);
	h = fake_host(hv->uri);
	if ((rc = fake_enter(h, FAKE_OP_DIRTY_RATE)) == 0 &&
	    (rc = fake_need(h, name, &fd)) == 0 &&
	    (rc = fake_active(fd, "dirty rate")) == 0)
		*mibs = fd->dirty_mibs;
	pthread_mutex_unlock(&fake_mtx);
	return rc;
}

/* fake_mtx held: the scripted outcome on both hosts. */
static int
fake_migrate_finish(struct fake_host *h, struct fake_dom *fd,
    const struct hv_migrate_params *mp, struct fake_events *q)
{
	struct fake_host *dst = NULL, *x;
	struct fake_dom *nd, *od;
	int rc = 0, persistent, has_completed;

	for (x = fake_hosts; x != NULL; x = x->nexthost)
		if (x != h && strcmp(x->uri, mp->dest_uri) == 0)
			dst = x;
	if (fd->destroyed) {
		/* destroy during the migration: already SHUTOFF/DESTROYED */
		hv_set_error("migrate %s: operation failed: domain is not "
		    "running", fd->d.name);
		fd->destroyed = 0;
		if (!fd->d.persistent)
			fake_dom_unlink(h, fd);
		return -1;
	}
	if (fd->tuning.aborted) {
		hv_set_error("migrate %s: operation aborted: migration out: "
		    "canceled by client", fd->d.name);
		rc = -1;
	} else if (fd->scripted && fd->script_rc != 0) {
		hv_set_error("migrate %s: %s", fd->d.name, fd->script_msg);
		rc = fd->script_rc;
	}
	if (rc != 0 && fd->tuning.postcopy_started && !fd->tuning.aborted) {
		fake_state(&fd->d, VIR_DOMAIN_PAUSED,
		    VIR_DOMAIN_PAUSED_POSTCOPY_FAILED);
		if (dst != NULL) {
			if ((nd = calloc(1, sizeof(*nd))) == NULL)
				abort();
			fake_domain_copy(&nd->d, &fd->d);
			fake_state(&nd->d, VIR_DOMAIN_RUNNING,
			    VIR_DOMAIN_RUNNING_POSTCOPY_FAILED);
			if ((od = fake_dom(dst, fd->d.name)) != NULL)
				fake_dom_unlink(dst, od);
			nd->nextdom = dst->doms;
			dst->doms = nd;
		}
	} else if (rc != 0 && fd->after_set) {
		fake_state(&fd->d, fd->after_state, fd->after_reason);
		fd->after_set = 0;
	} else if (rc != 0) {
		fake_state(&fd->d, VIR_DOMAIN_RUNNING,
		    VIR_DOMAIN_RUNNING_MIGRATION_CANCELED);
	}
	fd->scripted = 0;
	has_completed = fd->has_script_completed;
	fd->has_script_completed = 0;
	free(fd->samples);
	fd->samples = NULL;
	fd->nsamples = fd->next = 0;
	if (rc != 0)
		return rc;

	fake_queue(q, h, HV_EV_LIFECYCLE, fd->d.name, VIR_DOMAIN_EVENT_STOPPED,
	    VIR_DOMAIN_EVENT_STOPPED_MIGRATED);
	fake_queue(q, h, HV_EV_JOB_COMPLETED, fd->d.name, 0, 0);
	if (dst != NULL) {
		if ((nd = fake_dom(dst, fd->d.name)) != NULL)
			fake_dom_unlink(dst, nd);
		if ((nd = calloc(1, sizeof(*nd))) == NULL)
			abort();
		fake_domain_copy(&nd->d, &fd->d);
		fake_state(&nd->d, VIR_DOMAIN_RUNNING,
		    VIR_DOMAIN_RUNNING_MIGRATED);
		nd->d.persistent = mp->persist ? 1 : 0;
		nd->d.job_active = 0;
		/* libvirt hands the source's statistics to the destination in
		 * the migration cookie; they stay there. */
		nd->completed = fd->script_completed;
		nd->has_completed = has_completed;
		nd->dirty_mibs = fd->dirty_mibs;
		nd->cpu_xml = fd->cpu_xml ? fake_strdup(fd->cpu_xml) : NULL;
		nd->nextdom = dst->doms;
		dst->doms = nd;
		fake_queue(q, dst, HV_EV_LIFECYCLE, fd->d.name,
		    VIR_DOMAIN_EVENT_RESUMED, VIR_DOMAIN_EVENT_RESUMED_MIGRATED);
	}
	persistent = fd->d.persistent;
	if (mp->persist || !persistent)
		fake_dom_unlink(h, fd);
	else
		fake_state(&fd->d, VIR_DOMAIN_SHUTOFF,
		    VIR_DOMAIN_SHUTOFF_MIGRATED);
	return 0;
}

static int
fake_migrate(struct hv *hv, const char *name,
    const struct hv_migrate_params *mp)
{
	struct fake_host *h;
	struct fake_dom *fd;
	struct fake_events q;
	struct timespec deadline;
	unsigned gen;
	int rc, r;

	q.n = 0;
	pthread_mutex_lock(&fake_mtx);
	h = fake_host(hv->uri);
	if ((rc = fake_enter(h, FAKE_OP_MIGRATE)) != 0 ||
	    (rc = fake_need(h, name, &fd)) != 0)
		goto done;
	memset(&h->last, 0, sizeof(h->last));
	snprintf(h->last.name, sizeof(h->last.name), "%s", name);
	snprintf(h->last.dest_uri, sizeof(h->last.dest_uri), "%s",
	    mp->dest_uri ? mp->dest_uri : "");
	snprintf(h->last.migrate_uri, sizeof(h->last.migrate_uri), "%s",
	    mp->migrate_uri ? mp->migrate_uri : "");
	h->last.bandwidth_mibs = mp->bandwidth_mibs;
	h->last.allow_postcopy = mp->allow_postcopy;
	h->last.auto_converge = mp->auto_converge;
	h->last.persist = mp->persist;
	h->last.postcopy_resume = mp->postcopy_resume;
	h->last.parallel = mp->parallel;
	h->last.tls = mp->tls;
	h->has_last = 1;
	if (mp->dest_uri == NULL || mp->dest_uri[0] == '\0') {
		hv_set_error("migrate %s: no destination", name);
		rc = -1;
		goto done;
	}
	if (fd->tuning.migrating) {
		hv_set_error("migrate %s: Timed out during operation: cannot "
		    "acquire state change lock", name);
		rc = -1;
		goto done;
	}
	if ((rc = fake_active(fd, "migrate")) != 0)
		goto done;
	fd->tuning.migrating = 1;
	fd->tuning.aborted = 0;
	fd->tuning.postcopy_started = 0;
	fd->allow_postcopy = mp->allow_postcopy;
	fd->d.job_active = 1;
	gen = fake_gen;
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += FAKE_MIGRATE_TIMEOUT;
	while (fd->scripted && fd->next < fd->nsamples &&
	    !fd->tuning.aborted) {
		r = pthread_cond_timedwait(&fake_cond, &fake_mtx, &deadline);
		/* The test may have reset or removed things meanwhile. */
		if (gen != fake_gen || (fd = fake_dom(h, name)) == NULL) {
			hv_set_error("migrate %s: fake state reset", name);
			rc = -1;
			goto done;
		}
		if (r == ETIMEDOUT)
			break;
	}
	fd->tuning.migrating = 0;
	fd->d.job_active = 0;
	if (fd->scripted && fd->next < fd->nsamples && !fd->tuning.aborted) {
		hv_set_error("migrate %s: fake: the script was not polled "
		    "within %d s", name, FAKE_MIGRATE_TIMEOUT);
		rc = -1;
		goto done;
	}
	rc = fake_migrate_finish(h, fd, mp, &q);
 done:
	pthread_mutex_unlock(&fake_mtx);
	fake_deliver(&q);
	return rc;
}

static int
fake_job_stats(struct hv *hv, const char *name, struct hv_job_stats *s)
{
	struct fake_host *h;
	struct fake_dom *fd;
	int rc;

	memset(s, 0, sizeof(*s));
	pthread_mutex_lock(&fake_mtx);
	h = fake_host(hv->uri);
	if ((rc = fake_enter(h, FAKE_OP_JOB_STATS)) != 0 ||
	    (rc = fake_need(h, name, &fd)) != 0)
		goto done;
	if (!fd->tuning.migrating)
		goto done;
	if (fd->nsamples > 0) {
		*s = fd->samples[fd->next < fd->nsamples ? fd->next :
		    fd->nsamples - 1];
		if (fd->next < fd->nsamples)
			fd->next++;
		pthread_cond_broadcast(&fake_cond);
	}
	s->active = 1;
	if (s->type == VIR_DOMAIN_JOB_NONE)
		s->type = VIR_DOMAIN_JOB_UNBOUNDED;
	if (fd->tuning.postcopy_started)
		s->postcopy = 1;
 done:
	pthread_mutex_unlock(&fake_mtx);
	return rc;
}

static int
fake_job_completed(struct hv *hv, const char *name, struct hv_job_stats *s)
{
	struct fake_host *h;
	struct fake_dom *fd;
	int rc;

	memset(s, 0, sizeof(*s));
	pthread_mutex_lock(&fake_mtx);
	h = fake_host(hv->uri);
	if ((rc = fake_enter(h, FAKE_OP_JOB_COMPLETED)) != 0 ||
	    (rc = fake_need(h, name, &fd)) != 0)
		goto done;
	if (!fd->has_completed) {
		hv_set_error("libvirt keeps no completed job statistics for %s",
		    name);
		rc = -ENODATA;
		goto done;
	}
	*s = fd->completed;
	s->type = VIR_DOMAIN_JOB_COMPLETED;
 done:
	pthread_mutex_unlock(&fake_mtx);
	return rc;
}

/* fake_mtx held: a migration must be running on fd. */
static int
fake_need_job(struct fake_dom *fd, const char *what)
{
	if (fd->tuning.migrating)
		return 0;
	hv_set_error("%s %s: Requested operation is not valid: no job is "
	    "active on the domain", what, fd->d.name);
	return -1;
}

static int
fake_abort_job(struct hv *hv, const char *name, int postcopy)
{
	struct fake_host *h;
	struct fake_dom *fd;
	int rc;

	pthread_mutex_lock(&fake_mtx);
	h = fake_host(hv->uri);
	if ((rc = fake_enter(h, FAKE_OP_ABORT_JOB)) == 0 &&
	    (rc = fake_need(h, name, &fd)) == 0 &&
	    (rc = fake_need_job(fd, "abort job")) == 0) {
		if (fd->tuning.postcopy_started && !postcopy) {
			hv_set_error("abort job %s: cannot abort migration in "
			    "post-copy mode", name);
			rc = -1;
		} else {
			fd->tuning.aborted = 1;
			pthread_cond_broadcast(&fake_cond);
		}
	}
	pthread_mutex_unlock(&fake_mtx);
	return rc;
}

static int
fake_set_max_downtime(struct hv *hv, const char *name, uint64_t ms)
{
	struct fake_host *h;
	struct fake_dom *fd;
	int rc;

	pthread_mutex_lock(&fake_mtx);
	h = fake_host(hv->uri);
	if ((rc = fake_enter(h, FAKE_OP_SET_MAX_DOWNTIME)) == 0 &&
	    (rc = fake_need(h, name, &fd)) == 0)
		fd->tuning.max_downtime_ms = ms;
	pthread_mutex_unlock(&fake_mtx);
	return rc;
}

static int
fake_set_max_speed(struct hv *hv, const char *name, uint64_t mibs)
{
	struct fake_host *h;
	struct fake_dom *fd;
	int rc;

	pthread_mutex_lock(&fake_mtx);
	h = fake_host(hv->uri);
	if ((rc = fake_enter(h, FAKE_OP_SET_MAX_SPEED)) == 0 &&
	    (rc = fake_need(h, name, &fd)) == 0)
		fd->tuning.max_speed_mibs = mibs;
	pthread_mutex_unlock(&fake_mtx);
	return rc;
}

static int
fake_start_postcopy(struct hv *hv, const char *name)
{
	struct fake_host *h;
	struct fake_dom *fd;
	int rc;

	pthread_mutex_lock(&fake_mtx);
	h = fake_host(hv->uri);
	if ((rc = fake_enter(h, FAKE_OP_START_POSTCOPY)) == 0 &&
	    (rc = fake_need(h, name, &fd)) == 0 &&
	    (rc = fake_need_job(fd, "start post-copy")) == 0) {
		if (!fd->allow_postcopy) {
			hv_set_error("start post-copy %s: Requested operation "
			    "is not valid: switching to post-copy requires "
			    "migration to be started with VIR_MIGRATE_POSTCOPY "
			    "flag", name);
			rc = -1;
		} else
			fd->tuning.postcopy_started = 1;
	}
	pthread_mutex_unlock(&fake_mtx);
	return rc;
}

static int
fake_resume(struct hv *hv, const char *name)
{
	struct fake_host *h;
	struct fake_dom *fd;
	struct fake_events q;
	int rc;

	q.n = 0;
	pthread_mutex_lock(&fake_mtx);
	h = fake_host(hv->uri);
	if ((rc = fake_enter(h, FAKE_OP_RESUME)) == 0 &&
	    (rc = fake_need(h, name, &fd)) == 0 &&
	    (rc = fake_active(fd, "resume")) == 0 &&
	    fd->d.state == VIR_DOMAIN_PAUSED) {
		fake_state(&fd->d, VIR_DOMAIN_RUNNING,
		    VIR_DOMAIN_RUNNING_UNPAUSED);
		fake_queue(&q, h, HV_EV_LIFECYCLE, name,
		    VIR_DOMAIN_EVENT_RESUMED, VIR_DOMAIN_EVENT_RESUMED_UNPAUSED);
	}
	pthread_mutex_unlock(&fake_mtx);
	fake_deliver(&q);
	return rc;
}

static int
fake_destroy(struct hv *hv, const char *name)
{
	struct fake_host *h;
	struct fake_dom *fd;
	struct fake_events q;
	int rc;

	q.n = 0;
	pthread_mutex_lock(&fake_mtx);
	h = fake_host(hv->uri);
	if ((rc = fake_enter(h, FAKE_OP_DESTROY)) == 0 &&
	    (rc = fake_need(h, name, &fd)) == 0 &&
	    (rc = fake_active(fd, "destroy")) == 0) {
		if (fd->tuning.migrating) {
			/* The migration fails; migrate removes a transient
			 * domain when it returns. */
			fd->destroyed = 1;
			fd->tuning.aborted = 1;
			pthread_cond_broadcast(&fake_cond);
			fake_state(&fd->d, VIR_DOMAIN_SHUTOFF,
			    VIR_DOMAIN_SHUTOFF_DESTROYED);
		} else if (fd->d.persistent)
			fake_state(&fd->d, VIR_DOMAIN_SHUTOFF,
			    VIR_DOMAIN_SHUTOFF_DESTROYED);
		else
			fake_dom_unlink(h, fd);
		fake_queue(&q, h, HV_EV_LIFECYCLE, name,
		    VIR_DOMAIN_EVENT_STOPPED, VIR_DOMAIN_EVENT_STOPPED_DESTROYED);
	}
	pthread_mutex_unlock(&fake_mtx);
	fake_deliver(&q);
	return rc;
}

/* libvirt's answers: no such secret (-ENOENT), else a copy of its value. */
static int
fake_secret_value(struct hv *hv, const char *uuid, unsigned char **value,
    size_t *len)
{
	struct fake_host *h;
	int rc = 0;

	*value = NULL;
	*len = 0;
	pthread_mutex_lock(&fake_mtx);
	h = fake_host(hv->uri);
	if (h->secret_uuid[0] == '\0' || strcmp(h->secret_uuid, uuid) != 0) {
		hv_set_error("no libvirt secret %s on this host", uuid);
		rc = -ENOENT;
	} else if ((*value = malloc(h->secret_len ? h->secret_len : 1)) ==
	    NULL)
		rc = -ENOMEM;
	else {
		memcpy(*value, h->secret, h->secret_len);
		*len = h->secret_len;
	}
	pthread_mutex_unlock(&fake_mtx);
	return rc;
}

/* As libvirt: only an inactive domain of that UUID (hv.h). */
static int
fake_undefine(struct hv *hv, const char *name, const char *uuid)
{
	struct fake_host *h;
	struct fake_dom *fd;
	int rc;

	pthread_mutex_lock(&fake_mtx);
	h = fake_host(hv->uri);
	if ((rc = fake_enter(h, FAKE_OP_UNDEFINE)) == 0 &&
	    (rc = fake_need(h, name, &fd)) == 0) {
		if (uuid == NULL || strcmp(fd->d.uuid, uuid) != 0) {
			hv_set_error("undefine %s: its UUID is %s", name,
			    fd->d.uuid);
			rc = -EEXIST;
		} else if (fd->d.state != VIR_DOMAIN_SHUTOFF) {
			hv_set_error("undefine %s: the domain is active", name);
			rc = -EBUSY;
		} else
			fake_dom_unlink(h, fd);
	}
	pthread_mutex_unlock(&fake_mtx);
	return rc;
}

const struct hv_ops fake_hv_ops = {
	.name = "fake",
	.open = fake_open,
	.close = fake_close,
	.host_info = fake_host_info,
	.list_domains = fake_list_domains,
	.domain_info = fake_domain_info,
	.domain_cpu = fake_domain_cpu,
	.compare_cpu = fake_compare_cpu,
	.host_cpu = fake_host_cpu,
	.baseline_cpu = fake_baseline_cpu,
	.dirty_rate = fake_dirty_rate,
	.migrate = fake_migrate,
	.job_stats = fake_job_stats,
	.job_completed = fake_job_completed,
	.abort_job = fake_abort_job,
	.set_max_downtime = fake_set_max_downtime,
	.set_max_speed = fake_set_max_speed,
	.start_postcopy = fake_start_postcopy,
	.resume = fake_resume,
	.destroy = fake_destroy,
	.secret_value = fake_secret_value,
	.undefine = fake_undefine,
};
