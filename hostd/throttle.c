/* throttle.c: Ferry's vCPU throttle of a guest that out-dirties its
 * migration link, through the CPU bandwidth (CFS quota) of the vCPU cgroups
 * libvirt made for the domain: the same knob as virsh schedinfo's
 * vcpu_period/vcpu_quota, which reads it back from the cgroup.
 *
 * Why not virDomainSetSchedulerParameters: it needs libvirt's MODIFY job,
 * which an outgoing migration job does not allow; during a migration the
 * call waited 30 s for the job lock and failed (lab, libvirt 9.0: "cannot
 * acquire state change lock (held by monitor=remoteDispatchDomainMigrate
 * Perform3Params)"). The cgroup files are what libvirt writes itself; the
 * domain's definition is left alone, so the destination never inherits a
 * throttle, and the originals are written back when the migration ends.
 *
 * Blocking file I/O: call from workers only. Works with cgroup v1 (cpu
 * controller) and v2 (cpu.max).
 */
#include <sys/stat.h>
#include <sys/types.h>
#include <signal.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "hostd.h"
#include "log.h"

/* The period is the shortest that can express the share: libvirt's
 * default of 0.1 s (the guest is never frozen longer at a time), longer
 * only for shares below 1 % (the kernel's minimum quota is 1 ms); a guest
 * whose dirtying costs little CPU (the lab's, ~1 % under TCG) needs those. */
#define THROTTLE_PERIOD_US	100000
#define THROTTLE_PERIOD_MAX_US	1000000
#define THROTTLE_MIN_QUOTA_US	1000
/* The longest period of the gentle limit: a vCPU kept off its CPU longer
 * than this at a time could not keep time in the lab (a guest's timer
 * interrupts and its serial console's wait for each one): its heartbeat
 * lagged 0.3-0.5 s at periods up to ~200 ms, 0.4-1.4 s at 200-260 ms,
 * 1.4-4.5 s beyond (bench/RESULTS.md, two "sweep" runs). */
#define THROTTLE_GENTLE_PERIOD_US	225000
#define THROTTLE_QEMU_RUN	"/run/libvirt/qemu"

static int
throttle_read(const char *path, char *buf, size_t len)
{
	FILE *f;
	size_t n;

	if ((f = fopen(path, "re")) == NULL)
		return -1;
	n = fread(buf, 1, len - 1, f);
	fclose(f);
	buf[n] = '\0';
	return 0;
}

static int
throttle_write(const char *path, const char *val)
{
	FILE *f;
	int rc = 0;

	if ((f = fopen(path, "we")) == NULL)
		return -1;
	if (fputs(val, f) == EOF)
		rc = -1;
	if (fclose(f) == EOF)
		rc = -1;
	return rc;
}

/* The cgroup directory of a thread for the cpu controller: its path in
 * /proc/PID/task/TID/cgroup under the mount's root (mountinfo). */
static int
throttle_cgdir(pid_t pid, pid_t tid, char *dir, size_t len, int *v2)
{
	char path[PATH_MAX], line[4096], cg[PATH_MAX] = "", *p, *c;
	char root[PATH_MAX], mnt[PATH_MAX], fstype[64], sopts[1024];
	FILE *f;
	int found = 0, isv2 = 0;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/cgroup", (int)pid,
	    (int)tid);
	if ((f = fopen(path, "re")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		/* ID:CONTROLLERS:PATH */
		if ((p = strchr(line, ':')) == NULL || (c = strchr(p + 1, ':'))
		    == NULL)
			continue;
		*c = '\0';
		if (p[1] == '\0') {
			if (!found) {
				snprintf(cg, sizeof(cg), "%s", c + 1);
				isv2 = 1;
			}
			continue;
		}
		for (char *t = strtok(p + 1, ","); t; t = strtok(NULL, ","))
			if (strcmp(t, "cpu") == 0) {
				snprintf(cg, sizeof(cg), "%s", c + 1);
				found = 1;
				isv2 = 0;
			}
	}
	fclose(f);
	if (cg[0] == '\0')
		return -1;
	if ((f = fopen("/proc/self/mountinfo", "re")) == NULL)
		return -1;
	found = 0;
	while (!found && fgets(line, sizeof(line), f) != NULL) {
		/* id parent dev root mnt opts [tags] - fstype src sopts */
		if (sscanf(line, "%*s %*s %*s %4095s %4095s", root, mnt) != 2 ||
		    (p = strstr(line, " - ")) == NULL ||
		    sscanf(p + 3, "%63s %*s %1023s", fstype, sopts) != 2)
			continue;
		if (isv2 ? strcmp(fstype, "cgroup2") != 0 :
		    strcmp(fstype, "cgroup") != 0)
			continue;
		if (!isv2) {
			int cpu = 0;
			for (char *t = strtok(sopts, ","); t; t = strtok(NULL, ","))
				if (strcmp(t, "cpu") == 0)
					cpu = 1;
			if (!cpu)
				continue;
		}
		if (strcmp(root, "/") == 0)
			root[0] = '\0';
		if (strncmp(cg, root, strlen(root)) != 0)
			continue;
		if (snprintf(dir, len, "%s%s", mnt, cg + strlen(root)) <
		    (int)len)
			found = 1;
	}
	fclose(f);
	*v2 = isv2;
	return found ? 0 : -1;
}

/* Quota and period of one cgroup; quota -1: unlimited. */
static int
throttle_get(const char *dir, int v2, int64_t *quota, uint64_t *period)
{
	char path[PATH_MAX + 32], buf[128], q[32];
	unsigned long long per;

	if (v2) {
		snprintf(path, sizeof(path), "%s/cpu.max", dir);
		if (throttle_read(path, buf, sizeof(buf)) < 0 ||
		    sscanf(buf, "%31s %llu", q, &per) != 2)
			return -1;
		*quota = strcmp(q, "max") == 0 ? -1 : strtoll(q, NULL, 10);
		*period = per;
		return 0;
	}
	snprintf(path, sizeof(path), "%s/cpu.cfs_quota_us", dir);
	if (throttle_read(path, buf, sizeof(buf)) < 0)
		return -1;
	*quota = strtoll(buf, NULL, 10);
	snprintf(path, sizeof(path), "%s/cpu.cfs_period_us", dir);
	if (throttle_read(path, buf, sizeof(buf)) < 0)
		return -1;
	*period = strtoull(buf, NULL, 10);
	return 0;
}

static int
throttle_set(const char *dir, int v2, int64_t quota, uint64_t period)
{
	char path[PATH_MAX + 32], buf[64];

	if (v2) {
		snprintf(path, sizeof(path), "%s/cpu.max", dir);
		if (quota < 0)
			snprintf(buf, sizeof(buf), "max %" PRIu64, period);
		else
			snprintf(buf, sizeof(buf), "%" PRId64 " %" PRIu64, quota,
			    period);
		return throttle_write(path, buf);
	}
	/* Unlimited first, so that no period/quota pair in between is
	 * refused by the kernel (a parent's limit). */
	snprintf(path, sizeof(path), "%s/cpu.cfs_quota_us", dir);
	if (throttle_write(path, "-1") < 0)
		return -1;
	snprintf(buf, sizeof(buf), "%" PRIu64, period);
	snprintf(path, sizeof(path), "%s/cpu.cfs_period_us", dir);
	if (throttle_write(path, buf) < 0)
		return -1;
	if (quota < 0)
		return 0;
	snprintf(buf, sizeof(buf), "%" PRId64, quota);
	snprintf(path, sizeof(path), "%s/cpu.cfs_quota_us", dir);
	return throttle_write(path, buf);
}

/* Finds the domain's QEMU, its vCPU threads and their cgroups. */
static int
throttle_resolve(struct throttle *t, const char *name)
{
	char path[PATH_MAX], buf[64];
	struct dirent *de;
	DIR *d;
	pid_t pid;
	int n = 0;

	snprintf(path, sizeof(path), "%s/%s.pid", THROTTLE_QEMU_RUN, name);
	if (throttle_read(path, buf, sizeof(buf)) < 0 ||
	    (pid = (pid_t)strtol(buf, NULL, 10)) <= 0) {
		snprintf(t->err, sizeof(t->err), "no QEMU pid in %s", path);
		return -1;
	}
	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	if ((d = opendir(path)) == NULL) {
		snprintf(t->err, sizeof(t->err), "%s: %s", path,
		    strerror(errno));
		return -1;
	}
	while ((de = readdir(d)) != NULL && n < THROTTLE_VCPUS_MAX) {
		char comm[64];
		pid_t tid = (pid_t)strtol(de->d_name, NULL, 10);

		if (tid <= 0)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%d/comm", (int)pid,
		    (int)tid);
		/* "CPU 0/KVM", "CPU 1/TCG": QEMU's vCPU threads */
		if (throttle_read(path, comm, sizeof(comm)) < 0 ||
		    strncmp(comm, "CPU ", 4) != 0)
			continue;
		if (throttle_cgdir(pid, tid, t->vcpu[n].dir,
		    sizeof(t->vcpu[n].dir), &t->v2) < 0)
			continue;
		/* libvirt gives each vCPU its own cgroup (vcpuN); one
		 * without is no throttle of ours to set */
		if (strstr(t->vcpu[n].dir, "/vcpu") == NULL)
			continue;
		if (throttle_get(t->vcpu[n].dir, t->v2, &t->vcpu[n].orig_quota,
		    &t->vcpu[n].orig_period) < 0)
			continue;
		t->vcpu[n].tid = tid;
		n++;
	}
	closedir(d);
	if (n == 0) {
		snprintf(t->err, sizeof(t->err), "no vCPU cgroup with a cpu "
		    "controller for %s (libvirt's cgroup_controllers?)", name);
		return -1;
	}
	t->pid = pid;
	t->nvcpu = n;
	t->resolved = 1;
	return 0;
}

/* The vCPU time of the busiest vCPU thread, ns (schedstat). */
static uint64_t
throttle_cpu_ns(const struct throttle *t)
{
	char path[PATH_MAX], buf[128];
	uint64_t ns, max = 0;

	for (int i = 0; i < t->nvcpu; i++) {
		snprintf(path, sizeof(path), "/proc/%d/task/%d/schedstat",
		    (int)t->pid, (int)t->vcpu[i].tid);
		if (throttle_read(path, buf, sizeof(buf)) < 0)
			continue;
		ns = strtoull(buf, NULL, 10);
		if (ns > max)
			max = ns;
	}
	return max;
}

/*
 * One unthrottled sample of the busiest vCPU's share of a CPU. The base a
 * throttle takes its percentage of is their mean, not the peak: a vCPU
 * that was held up (QEMU's migration setup holds it for 1-4 s under TCG)
 * catches up in a burst, and a throttle of that burst's share left the lab
 * guest enough CPU to dirty at its full rate at 95 %.
 */
void
throttle_base_add(struct throttle *t, double share)
{
	if (!(share >= 0))
		return;
	if (share > t->peak_share)
		t->peak_share = share;
	t->share_sum += share;
	t->nshare++;
	t->base_share = t->share_sum / t->nshare;
}

/*
 * Worker: one sample of how much of a CPU the guest's busiest vCPU uses;
 * the highest share seen while not throttled is the base a throttle takes
 * its percentage of. Quiet when the domain has no vCPU cgroups.
 */
void
throttle_sample(struct throttle *t, const char *name)
{
	uint64_t ns, now = clock_mono_ms();
	double share;

	if (!t->resolved && (t->failed || throttle_resolve(t, name) < 0)) {
		if (!t->failed)
			log_debug("throttle %s: %s", name, t->err);
		t->failed = 1;
		return;
	}
	ns = throttle_cpu_ns(t);
	if (t->last_ms != 0 && now > t->last_ms && ns >= t->last_ns &&
	    t->pct == 0) {
		share = (double)(ns - t->last_ns) / 1e6 / (double)(now -
		    t->last_ms);
		throttle_base_add(t, share);
	}
	t->last_ns = ns;
	t->last_ms = now;
}

/*
 * The deepest throttle whose quota (at least the kernel's 1 ms) comes at
 * least every THROTTLE_GENTLE_PERIOD_US: 0 when even that is more than the
 * vCPU uses (or nothing is measured yet), which leaves the limit to the
 * policy's own maximum.
 */
uint32_t
throttle_gentle_pct(const struct throttle *t)
{
	double least = (double)THROTTLE_MIN_QUOTA_US / THROTTLE_GENTLE_PERIOD_US;

	if (!(t->base_share > 0.001) || t->base_share <= least)
		return 0;
	return (uint32_t)(100.0 * (1.0 - least / t->base_share));
}

/*
 * Worker: throttle the vCPUs by pct percent of the share they used (0:
 * release: the originals back). 0 or -1 with t->err.
 */
int
throttle_apply(struct throttle *t, const char *name, uint32_t pct)
{
	double base, q, share;
	uint64_t period;
	int64_t quota;
	int i, rc = 0;

	if (!t->resolved && throttle_resolve(t, name) < 0)
		return -1;
	if (pct > 99)
		pct = 99;
	/* Never measured (a guest idle so far): take a whole CPU. */
	base = t->base_share > 0.001 ? t->base_share : 1.0;
	if (base > 1.0)
		base = 1.0;
	share = base * (100 - pct) / 100.0;
	period = THROTTLE_PERIOD_US;
	if (share * period < THROTTLE_MIN_QUOTA_US)
		period = share > 0 ? (uint64_t)(THROTTLE_MIN_QUOTA_US / share) :
		    THROTTLE_PERIOD_MAX_US;
	if (period > THROTTLE_PERIOD_MAX_US)
		period = THROTTLE_PERIOD_MAX_US;
	q = share * period;
	quota = q < THROTTLE_MIN_QUOTA_US ? THROTTLE_MIN_QUOTA_US : (int64_t)q;
	for (i = 0; i < t->nvcpu; i++) {
		if (pct == 0)
			rc |= throttle_set(t->vcpu[i].dir, t->v2,
			    t->vcpu[i].orig_quota, t->vcpu[i].orig_period);
		else
			rc |= throttle_set(t->vcpu[i].dir, t->v2, quota,
			    period);
	}
	if (rc != 0) {
		/* The QEMU gone (migrated, destroyed): nothing left to
		 * release. */
		if (pct == 0 && kill(t->pid, 0) < 0 && errno == ESRCH) {
			t->pct = 0;
			return 0;
		}
		snprintf(t->err, sizeof(t->err), "cgroup %s: %s",
		    t->vcpu[0].dir, strerror(errno));
		return -1;
	}
	t->pct = pct;
	t->quota_us = pct ? quota : -1;
	t->period_us = pct ? period : 0;
	return 0;
}

/*
 * The record that lets a restarted hostd release a throttle its
 * predecessor left (killed mid-migration): one file per domain in
 * throttle_dir, "pid V2" then "DIR QUOTA PERIOD" per vCPU: the originals.
 * Written (atomically) when a throttle is first applied, removed when it
 * is released. Worker only.
 */
int
throttle_record(const struct throttle *t, const char *dir, const char *name)
{
	char path[PATH_MAX], tmp[PATH_MAX + 8];
	FILE *f;
	int i;

	if (dir[0] == '\0')
		return 0;
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return -1;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if ((f = fopen(tmp, "we")) == NULL)
		return -1;
	fprintf(f, "%d %d\n", (int)t->pid, t->v2);
	for (i = 0; i < t->nvcpu; i++)
		fprintf(f, "%s %" PRId64 " %" PRIu64 "\n", t->vcpu[i].dir,
		    t->vcpu[i].orig_quota, t->vcpu[i].orig_period);
	if (fflush(f) == EOF || fsync(fileno(f)) < 0) {
		fclose(f);
		unlink(tmp);
		return -1;
	}
	fclose(f);
	return rename(tmp, path);
}

void
throttle_forget(const char *dir, const char *name)
{
	char path[PATH_MAX];

	if (dir[0] == '\0')
		return;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	(void)unlink(path);
}

/* Worker, at start-up: every throttle a previous hostd left is released
 * (a migration still running after a restart goes on unthrottled), when
 * that QEMU still runs. */
void
throttle_recover(const char *dir)
{
	char path[PATH_MAX], line[1024], cg[512];
	struct dirent *de;
	long long q;
	unsigned long long per;
	int pid, v2, n;
	FILE *f;
	DIR *d;

	if (dir[0] == '\0' || (d = opendir(dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if ((f = fopen(path, "re")) == NULL)
			continue;
		n = 0;
		if (fgets(line, sizeof(line), f) != NULL &&
		    sscanf(line, "%d %d", &pid, &v2) == 2 && pid > 0 &&
		    kill(pid, 0) == 0) {
			while (fgets(line, sizeof(line), f) != NULL)
				if (sscanf(line, "%511s %lld %llu", cg, &q,
				    &per) == 3 && throttle_set(cg, v2, q,
				    per) == 0)
					n++;
		}
		fclose(f);
		if (n > 0)
			log_info("released the vCPU throttle of %s a previous "
			    "hostd left (%d vCPU%s)", de->d_name, n,
			    n == 1 ? "" : "s");
		(void)unlink(path);
	}
	closedir(d);
}
