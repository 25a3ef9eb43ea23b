/* job_copy.c: --copy-storage in a migration job.
 *
 * Local disks (files on the source's own filesystem) are copied by libvirt
 * over NBD (hostd: VIR_MIGRATE_NON_SHARED_DISK). The source reports them in
 * its check (LocalDisk), the destination checks room and absence and, for
 * a real job, pre-creates them; MIGRATE names them. A job that does not
 * succeed asks the destination to remove what it pre-created: hostd does so
 * only for its own files of that job and only while no domain of the VM is
 * alive there. The source's disk is never touched.
 *
 * Each function is one call from the job's steps (job.c, job_check.c,
 * job_verify.c), so the rest of the machine knows nothing of copies.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "coordinator.h"
#include "jsonv.h"
#include "log.h"

#define MIB	(1024.0 * 1024.0)

/* The storage fields (filesystem, volume, mount) of a host's verdict, onto
 * the check just added (owned by j). */
void
job_copy_check_where(struct job *j, const Ferry__CheckResult *v)
{
	Ferry__CheckResult *r;
	size_t i;

	if (j->nchecks == 0)
		return;
	i = j->nchecks - 1;
	r = &j->checks[i];
	if (v->filesystem && r->filesystem == NULL)
		r->filesystem = j->check_where[i][0] = strdup(v->filesystem);
	if (v->volume && r->volume == NULL)
		r->volume = j->check_where[i][1] = strdup(v->volume);
	if (v->mount && r->mount == NULL)
		r->mount = j->check_where[i][2] = strdup(v->mount);
}

/* The destination's pre-created copies, to remove unless the job succeeds. */
void
job_copy_take_created(struct job *j, const Ferry__DestCheckReply *r)
{
	size_t i;

	if (r->n_created == 0 || j->copy_created != NULL ||
	    (j->copy_created = calloc(r->n_created,
	    sizeof(*j->copy_created))) == NULL)
		return;
	for (i = 0; i < r->n_created; i++)
		if ((j->copy_created[j->ncopy_created] =
		    strdup(r->created[i])) != NULL)
			j->ncopy_created++;
}

void
job_copy_free(struct job *j)
{
	size_t i;

	for (i = 0; i < j->nchecks; i++) {
		free(j->check_where[i][0]);
		free(j->check_where[i][1]);
		free(j->check_where[i][2]);
	}
	for (i = 0; i < j->ncopy_created; i++)
		free(j->copy_created[i]);
	free(j->copy_created);
	j->copy_created = NULL;
	j->ncopy_created = 0;
}

static void
job_copy_cleanup_cb(struct host *h, const struct frame *f, const char *err,
    void *arg)
{
	(void)arg;
	if (f == NULL)
		log_warnx("host %s: removing a partial copy: %s", h->conf.name,
		    err);
}

/*
 * After a job that did not succeed (verified on both hosts, or refused
 * before MIGRATE; also before trying the next destination): ask the
 * destination to remove what it pre-created.
 */
void
job_copy_cleanup(struct job *j)
{
	Ferry__StorageCleanup sc = FERRY__STORAGE_CLEANUP__INIT;
	struct host *dh;
	size_t i;

	if (j->ncopy_created == 0)
		return;
	if ((dh = coord_host_find(j->co, j->destination)) != NULL) {
		sc.has_job_id = 1;
		sc.job_id = j->id;
		sc.vm = j->vm;
		sc.created = j->copy_created;
		sc.n_created = j->ncopy_created;
		if (peer_call(dh, MSG_STORAGE_CLEANUP, &sc.base,
		    HOSTD_TIMEOUT_MS, job_copy_cleanup_cb, NULL) == 0)
			log_job_info(j->id, j->vm, "asked %s to remove the "
			    "partial copy (%zu disk%s)", j->destination,
			    j->ncopy_created, j->ncopy_created == 1 ? "" : "s");
		else
			log_job_warnx(j->id, j->vm, "%s is not connected: its "
			    "partial copy stays", j->destination);
	}
	for (i = 0; i < j->ncopy_created; i++)
		free(j->copy_created[i]);
	free(j->copy_created);
	j->copy_created = NULL;
	j->ncopy_created = 0;
}

/* The source's local disks, for the destination to check (and, for a real
 * job, pre-create). */
void
job_copy_dest_request(struct job *j, Ferry__DestCheckRequest *req)
{
	if (!j->opts.copy_storage || j->src == NULL ||
	    j->src->n_local_disks == 0)
		return;
	req->local_disks = j->src->local_disks;
	req->n_local_disks = j->src->n_local_disks;
	req->has_prepare = 1;
	req->prepare = !j->check_only;
	req->has_job_id = 1;
	req->job_id = j->id;
}

/* MiB of the disks to copy: the completion timeout scales with all that
 * is sent, not with memory alone. */
uint64_t
job_copy_mib(const struct job *j)
{
	uint64_t mib = 0;
	size_t i;

	if (!j->opts.copy_storage || j->src == NULL)
		return 0;
	for (i = 0; i < j->src->n_local_disks; i++)
		mib += (j->src->local_disks[i]->virtual_size + (1 << 20) - 1) >>
		    20;
	return mib;
}

/* MIGRATE's disks to copy (targets[max] is the caller's): the ones the
 * destination pre-created; hostd scales its completion timeout by them. */
void
job_copy_migrate_request(struct job *j, Ferry__MigrateRequest *req,
    char **targets, size_t max)
{
	size_t i;

	if (!j->opts.copy_storage || j->src == NULL)
		return;
	for (i = 0; i < j->src->n_local_disks && i < max; i++)
		targets[i] = j->src->local_disks[i]->target;
	req->copy_disks = targets;
	req->n_copy_disks = i;
	req->mem_mib += job_copy_mib(j);
}

/* A sample with disks: totals include them (libvirt's data_* count disk
 * and memory), so progress follows data, not memory. 1 if so. */
int
job_copy_progress(const Ferry__JobStats *s, Ferry__JobEvent *ev)
{
	if (!s->has_disk_total || s->disk_total == 0)
		return 0;
	if (ev != NULL) {
		ev->has_disk_processed_mib = ev->has_disk_total_mib = 1;
		ev->disk_processed_mib = s->disk_processed / MIB;
		ev->disk_total_mib = s->disk_total / MIB;
	}
	return 1;
}

/* The destination's completed statistics' disk figures, when it has any
 * (libvirt 9.0 keeps none for an incoming copy: then none are claimed). */
void
job_copy_figures(struct job *j, const Ferry__JobFigures *f)
{
	j->has_disk = 0;
	if (f != NULL && f->has_disk_bytes && f->has_disk_total) {
		j->has_disk = 1;
		j->disk_bytes = f->disk_bytes;
		j->disk_total = f->disk_total;
	}
}

/* The end's journal entry: the disk figures (null: none known). */
void
job_copy_journal(const struct job *j, struct json_object *o)
{
	if (!j->opts.copy_storage)
		return;
	/* Exact, and in MiB as the done event shows it. */
	json_object_object_add(o, "disk_bytes", j->has_disk ?
	    json_object_new_int64(j->disk_bytes) : NULL);
	json_object_object_add(o, "disk_mib", jsonv_num1(j->has_disk,
	    j->disk_bytes / MIB));
}

/* The end's event, and the partial copy removed unless the job succeeded. */
void
job_copy_done(struct job *j, enum job_state s, Ferry__JobEvent *ev)
{
	ev->has_disk_processed_mib = ev->has_disk_total_mib = j->has_disk;
	ev->disk_processed_mib = j->disk_bytes / MIB;
	ev->disk_total_mib = j->disk_total / MIB;
	if (s != JOB_SUCCEEDED)
		job_copy_cleanup(j);
}
