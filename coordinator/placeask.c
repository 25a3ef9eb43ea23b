/* placeask.c: ferryctl place asks before it answers. The CPU filter only
 * knows what the hosts said (cpucache.c); a VM never checked would find
 * every host accepted. So unless the cache already holds every other
 * active host's verdict on the VM's guest CPU, the VM's source is asked
 * for it (PRECHECK_SOURCE, whose nonce files are removed at once) and
 * every other active host compares it (CPU_COMPARE), then the placement
 * engine answers. A host that does not answer stays unknown: accepted, and
 * the move's own checks decide.
 *
 * A request holds a reference to its client; a client that went away
 * (dead, control_client_alive) is never replied to. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coordinator.h"
#include "cpucache.h"
#include "log.h"
#include "placement.h"

#define PLACEASK_TIMEOUT_MS	30000

struct placeask {
	struct coord		*co;
	struct ctl_client	*client;	/* a reference (control.c) */
	uint16_t		 type;
	uint32_t		 serial;
	int			 calls;
	char			 vm[256];
};

static void
placeask_free(struct placeask *a)
{
	control_client_unref(a->client);
	free(a);
}

/* Every answer is in: reply with the engine's verdicts. */
static void
placeask_answer(struct placeask *a)
{
	Ferry__PlaceReply *r = NULL;
	char err[256];
	int rc;

	if (a->calls > 0)
		return;
	if (control_client_alive(a->client) && !a->co->stopping) {
		if ((rc = placement_reply(a->co, a->vm, &r, err,
		    sizeof(err))) < 0)
			(void)control_error(a->client, a->type, a->serial,
			    control_code(rc), "%s", err);
		else
			(void)control_reply(a->client, a->type, a->serial,
			    &r->base);
		placement_reply_free(r);
	}
	placeask_free(a);
}

static void
placeask_compared(void *arg)
{
	struct placeask *a = arg;

	a->calls--;
	placeask_answer(a);
}

static void
placeask_cleanup_cb(struct host *h, const struct frame *f, const char *err,
    void *arg)
{
	(void)arg;
	if (f == NULL)
		log_warnx("host %s: removing nonce files: %s", h->conf.name, err);
}

static void
placeask_source_cb(struct host *h, const struct frame *f, const char *err,
    void *arg)
{
	struct placeask *a = arg;
	Ferry__SourceCheckReply *r;
	Ferry__StorageCleanup sc = FERRY__STORAGE_CLEANUP__INIT;

	(void)err;
	a->calls--;
	if (f != NULL && !a->co->stopping &&
	    (r = (Ferry__SourceCheckReply *)frame_unpack(f,
	    &ferry__source_check_reply__descriptor)) != NULL) {
		/* Only the VM asked about: a host's word on its own VM. */
		if (r->domain != NULL && strcmp(r->domain->name, a->vm) == 0) {
			cpucache_guest(a->co, a->vm, r);
			a->calls += cpucache_prefetch(a->co, h, a->vm, r,
			    placeask_compared, a);
		}
		if (r->n_nonces) {
			sc.nonces = r->nonces;
			sc.n_nonces = r->n_nonces;
			(void)peer_call(h, MSG_STORAGE_CLEANUP, &sc.base,
			    PLACEASK_TIMEOUT_MS, placeask_cleanup_cb, NULL);
		}
		ferry__source_check_reply__free_unpacked(r, NULL);
	}
	placeask_answer(a);
}

int
placeask_request(struct coord *co, struct ctl_client *c, uint16_t type,
    uint32_t serial, const char *vm, char *err, size_t errlen)
{
	Ferry__SourceCheckRequest req = FERRY__SOURCE_CHECK_REQUEST__INIT;
	struct placement *p;
	struct placeask *a;
	struct host *src;
	size_t k;

	if (placement_build(co, &p, err, errlen) < 0)
		return -FERRY_EINTERNAL;
	if ((k = placement_find_vm(p, vm)) == PLACE_NONE) {
		snprintf(err, errlen, "%s runs on no host that is up", vm);
		placement_free(p);
		return -FERRY_ENOTFOUND;
	}
	src = p->hosts[p->m.vms[k].host];
	placement_free(p);
	if ((a = calloc(1, sizeof(*a))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -FERRY_EINTERNAL;
	}
	a->co = co;
	control_client_ref(c);
	a->client = c;
	a->type = type;
	a->serial = serial;
	snprintf(a->vm, sizeof(a->vm), "%s", vm);
	if (!cpucache_complete(co, vm, src)) {
		req.name = a->vm;
		req.has_timeout_ms = 1;
		req.timeout_ms = 10000;
		if (peer_call(src, MSG_PRECHECK_SOURCE, &req.base,
		    PLACEASK_TIMEOUT_MS, placeask_source_cb, a) == 0)
			a->calls++;
	}
	placeask_answer(a);
	return 0;
}
