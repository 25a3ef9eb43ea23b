/*
 * fence.c: hostd's side of coordinator leadership. Each leader of an HA
 * coordinator group holds an epoch (coordinator/lease.c) that rises with
 * every change of leader. A new leader first announces its epoch (EPOCH);
 * hostd makes it durable here and then refuses every acting call (pre-checks,
 * migrate, abort, leftover removal, storage cleanup) that carries a lower
 * one, with FERRY_EFENCED and a log line. A deposed leader that wakes up
 * and carries on therefore cannot touch this host, whatever it believes.
 *
 * The file is state_dir/epoch, "epoch N leader NAME\n", written to a
 * temporary file, fsynced, renamed over and the directory fsynced, so that a
 * crash leaves the old or the new epoch, never less. It lives in the root
 * process's state directory: with privilege separation the network process
 * parses SSH but never frames, runs chrooted in privsep_dir and cannot
 * reach state_dir (parse.c refuses one inside the other), so a compromised
 * network process can neither raise nor lower the epoch except by sending
 * EPOCH calls an authenticated coordinator could send too.
 *
 * An epoch only rises, and only after it is on disk: raises are made on a
 * worker thread under fence->mtx; the loop thread reads the durable value
 * with an atomic load and never waits for the disk. Calls without an epoch
 * (a single coordinator without HA) pass while no epoch was ever announced;
 * once one was, they are refused too (a forgotten non-HA coordinator is as
 * stale as a deposed leader). Going back to a single coordinator means
 * removing the file while hostd is stopped.
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hostd.h"
#include "log.h"

#define FENCE_FILE_MAX	256

/* Reads state_dir/epoch; a missing file is epoch 0. Called at start. */
static int
fence_load(struct fence *f, char *err, size_t errlen)
{
	char buf[FENCE_FILE_MAX + 1], leader[64];
	unsigned long long e;
	ssize_t n;
	int fd, k = 0;

	if ((fd = open(f->path, O_RDONLY | O_CLOEXEC)) < 0) {
		if (errno == ENOENT)
			return 0;
		snprintf(err, errlen, "%s: %s", f->path, strerror(errno));
		return -1;
	}
	n = read(fd, buf, FENCE_FILE_MAX);
	close(fd);
	if (n < 0) {
		snprintf(err, errlen, "%s: %s", f->path, strerror(errno));
		return -1;
	}
	buf[n] = '\0';
	leader[0] = '\0';
	if (sscanf(buf, "epoch %llu leader %63s%n", &e, leader, &k) < 1 &&
	    sscanf(buf, "epoch %llu%n", &e, &k) < 1) {
		/* Never guess low: a file we cannot read refuses to start. */
		snprintf(err, errlen, "%s: not an epoch file (remove it only if "
		    "no HA coordinator group uses this host)", f->path);
		return -1;
	}
	__atomic_store_n(&f->epoch, (uint64_t)e, __ATOMIC_RELEASE);
	snprintf(f->leader, sizeof(f->leader), "%s", leader);
	return 0;
}

int
fence_init(struct fence *f, const char *state_dir, char *err, size_t errlen)
{
	memset(f, 0, sizeof(*f));
	pthread_mutex_init(&f->mtx, NULL);
	f->initialized = 1;
	if (state_dir == NULL || state_dir[0] == '\0')
		return 0;	/* in-process users: kept in memory */
	if ((size_t)snprintf(f->dir, sizeof(f->dir), "%s", state_dir) >=
	    sizeof(f->dir) || (size_t)snprintf(f->path, sizeof(f->path),
	    "%s/epoch", state_dir) >= sizeof(f->path)) {
		snprintf(err, errlen, "state_dir too long");
		return -1;
	}
	if (fence_load(f, err, errlen) < 0)
		return -1;
	if (f->epoch > 0)
		log_info("fence: epoch %" PRIu64 " (leader %s) from %s",
		    f->epoch, f->leader[0] ? f->leader : "?", f->path);
	return 0;
}

void
fence_free(struct fence *f)
{
	if (f == NULL || !f->initialized)
		return;
	pthread_mutex_destroy(&f->mtx);
	f->initialized = 0;
}

uint64_t
fence_epoch(struct fence *f)
{
	return __atomic_load_n(&f->epoch, __ATOMIC_ACQUIRE);
}

/* Writes the file durably. Called with f->mtx held, on a worker thread. */
static int
fence_write(struct fence *f, uint64_t epoch, const char *leader, char *err,
    size_t errlen)
{
	char tmp[PATH_MAX + 8], buf[FENCE_FILE_MAX];
	int fd = -1, dfd = -1, len, rc = -1;

	if (f->path[0] == '\0')
		return 0;
	if (mkdir(f->dir, 0700) < 0 && errno != EEXIST) {
		snprintf(err, errlen, "%s: %s", f->dir, strerror(errno));
		return -1;
	}
	snprintf(tmp, sizeof(tmp), "%s.tmp", f->path);
	len = snprintf(buf, sizeof(buf), "epoch %" PRIu64 " leader %s\n",
	    epoch, leader[0] ? leader : "-");
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0600)) < 0 || write(fd, buf, (size_t)len) != len ||
	    fsync(fd) < 0) {
		snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
		goto done;
	}
	if (close(fd) < 0) {
		fd = -1;
		snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
		goto done;
	}
	fd = -1;
	if (rename(tmp, f->path) < 0) {
		snprintf(err, errlen, "rename %s: %s", f->path, strerror(errno));
		goto done;
	}
	/* The rename is durable once the directory is. */
	if ((dfd = open(f->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 ||
	    fsync(dfd) < 0) {
		snprintf(err, errlen, "%s: %s", f->dir, strerror(errno));
		goto done;
	}
	rc = 0;
done:
	if (fd >= 0)
		close(fd);
	if (dfd >= 0)
		close(dfd);
	if (rc < 0)
		(void)unlink(tmp);
	return rc;
}

/*
 * EPOCH: raises the epoch to epoch if it is higher, durably, before the
 * caller answers. *cur gets the highest epoch afterwards, *leader its
 * announcer. Returns 0, -FERRY_EFENCED when a higher epoch is already
 * known (the caller is deposed), or -EIO when the disk refused (then
 * nothing changed). Worker thread.
 */
int
fence_raise(struct fence *f, uint64_t epoch, const char *leader,
    uint64_t *cur, char *curleader, size_t curleaderlen, char *err,
    size_t errlen)
{
	int rc = 0;

	pthread_mutex_lock(&f->mtx);
	if (epoch < f->epoch) {
		snprintf(err, errlen, "fenced: epoch %" PRIu64 " is older than "
		    "epoch %" PRIu64 " of leader %s", epoch, f->epoch,
		    f->leader[0] ? f->leader : "?");
		rc = -FERRY_EFENCED;
	} else if (epoch > f->epoch) {
		if (fence_write(f, epoch, leader, err, errlen) < 0)
			rc = -EIO;
		else {
			snprintf(f->leader, sizeof(f->leader), "%s", leader);
			__atomic_store_n(&f->epoch, epoch, __ATOMIC_RELEASE);
		}
	}
	*cur = f->epoch;
	snprintf(curleader, curleaderlen, "%s", f->leader);
	pthread_mutex_unlock(&f->mtx);
	return rc;
}

/*
 * The check every acting call passes, on the loop thread before it is
 * queued and again on the worker just before it acts (an EPOCH may have
 * come in between). epoch 0 is "none": a coordinator without HA.
 */
int
fence_check(struct fence *f, uint64_t epoch, char *err, size_t errlen)
{
	uint64_t cur = fence_epoch(f);

	if (epoch >= cur)
		return 0;
	if (epoch == 0)
		snprintf(err, errlen, "fenced: call without an epoch, but "
		    "epoch %" PRIu64 " was announced here (an HA leader "
		    "acts on this host)", cur);
	else
		snprintf(err, errlen, "fenced: epoch %" PRIu64 " is older than "
		    "epoch %" PRIu64 " (this coordinator is no longer the "
		    "leader)", epoch, cur);
	return -FERRY_EFENCED;
}

/* The epoch an acting call carries; 0 and -1 for calls that do not act. */
int
fence_epoch_of(uint16_t type, const ProtobufCMessage *m, uint64_t *epoch)
{
	*epoch = 0;
	switch (type) {
	case MSG_PRECHECK_SOURCE:
		*epoch = ((const Ferry__SourceCheckRequest *)m)->epoch;
		return 0;
	case MSG_PRECHECK_DEST:
		*epoch = ((const Ferry__DestCheckRequest *)m)->epoch;
		return 0;
	case MSG_STORAGE_CLEANUP:
		*epoch = ((const Ferry__StorageCleanup *)m)->epoch;
		return 0;
	case MSG_MIGRATE:
		*epoch = ((const Ferry__MigrateRequest *)m)->epoch;
		return 0;
	case MSG_ABORT:
		*epoch = ((const Ferry__JobRef *)m)->epoch;
		return 0;
	case MSG_DESTROY_LEFTOVER:
	case MSG_UNDEFINE_LEFTOVER:
		*epoch = ((const Ferry__DestroyRequest *)m)->epoch;
		return 0;
	default:
		return -1;
	}
}
