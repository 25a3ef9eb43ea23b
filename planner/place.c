/* place.c: the placement engine; see place.h. */
#include <stdio.h>
#include <string.h>

#include "place.h"

static int
place_str_set(const char *s)
{
	return s != NULL && s[0] != '\0';
}

int
place_label_valid(const char *s)
{
	size_t n;

	if (s == NULL || (n = strlen(s)) == 0 || n > 63)
		return 0;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		    (*s >= '0' && *s <= '9') || strchr("_.:=-", *s) != NULL))
			return 0;
	return 1;
}

int
place_zone_ok(const char *vm_zone, const char *cur_zone, int stay,
    const char *host_zone, char *why, size_t len)
{
	const char *want = NULL, *have;

	if (place_str_set(vm_zone))
		want = vm_zone;
	else if (stay && place_str_set(cur_zone))
		want = cur_zone;
	if (want == NULL)
		return 1;
	have = place_str_set(host_zone) ? host_zone : NULL;
	if (have != NULL && strcmp(have, want) == 0)
		return 1;
	if (have == NULL)
		snprintf(why, len, "no zone, VM must stay in zone %s", want);
	else
		snprintf(why, len, "zone %s, VM must stay in zone %s", have,
		    want);
	return 0;
}

int
place_labels_ok(const char *const *need, size_t nneed,
    const char *const *have, size_t nhave, char *why, size_t len)
{
	size_t i, j;

	for (i = 0; i < nneed; i++) {
		for (j = 0; j < nhave; j++)
			if (strcmp(need[i], have[j]) == 0)
				break;
		if (j == nhave) {
			snprintf(why, len, "VM requires label %s, host lacks it",
			    need[i]);
			return 0;
		}
	}
	return 1;
}

static int
place_in_group(const struct place_vm *v, size_t g)
{
	size_t i;

	for (i = 0; i < v->ngroups; i++)
		if (v->groups[i] == g)
			return 1;
	return 0;
}

/* Does placing vm on h break group g? 0: no, else 1 with why. */
static int
place_group_breaks(const struct place_model *m, size_t vm, size_t h,
    size_t g, char *why, size_t len)
{
	const struct place_vm *v = &m->vms[vm], *w;
	const struct place_group *gr = &m->groups[g];
	size_t i, j, n, elsewhere = PLACE_NONE;

	/* Members listed: only they are looked at (a big cluster). */
	n = gr->members ? gr->nmembers : m->nvms;
	for (j = 0; j < n; j++) {
		i = gr->members ? gr->members[j] : j;
		if (i >= m->nvms)
			continue;
		w = &m->vms[i];
		if (i == vm || w->host == PLACE_NONE || !place_in_group(w, g))
			continue;
		if (gr->anti && w->host == h) {
			snprintf(why, len, "%s group %s: %s is there",
			    gr->hard ? "anti-affinity" : "soft anti-affinity",
			    gr->name, w->name);
			return 1;
		}
		/* Affinity: members still beside vm's own host go along with
		 * it; a member already elsewhere says where. */
		if (!gr->anti && w->host != v->host && w->host != h)
			elsewhere = i;
	}
	if (!gr->anti && elsewhere != PLACE_NONE) {
		snprintf(why, len, "%s group %s: %s runs on %s",
		    gr->hard ? "affinity" : "soft affinity", gr->name,
		    m->vms[elsewhere].name,
		    m->hosts[m->vms[elsewhere].host].name);
		return 1;
	}
	return 0;
}

static int
place_hint_breaks(const struct place_model *m, const struct place_vm *v,
    size_t h, char *why, size_t len)
{
	const struct place_vm *w;
	size_t i;

	for (i = 0; i < v->nsame; i++) {
		w = &m->vms[v->same_host[i]];
		if (w->host == PLACE_NONE || w->host == v->host ||
		    w->host == h)
			continue;
		snprintf(why, len, "same-host hint: %s runs on %s", w->name,
		    m->hosts[w->host].name);
		return 1;
	}
	for (i = 0; i < v->ndifferent; i++) {
		w = &m->vms[v->different_host[i]];
		if (w->host == h) {
			snprintf(why, len, "different-host hint: %s is there",
			    w->name);
			return 1;
		}
	}
	return 0;
}

static uint64_t
place_free(const struct place_host *ph)
{
	uint64_t used = ph->used_mib + ph->reserve_mib;

	return ph->mem_mib > used ? ph->mem_mib - used : 0;
}

void
place_host_verdict(const struct place_model *m, size_t vm, size_t h,
    struct place_verdict *out)
{
	const struct place_vm *v = &m->vms[vm];
	const struct place_host *ph = &m->hosts[h];
	const char *cur_zone;
	char why[PLACE_REASON_MAX - 70], soft[PLACE_REASON_MAX - 70];
	const char *filter = NULL;
	uint64_t freem;
	size_t g, nsoft = 0;

	memset(out, 0, sizeof(*out));
	why[0] = soft[0] = '\0';
	freem = place_free(ph);
	cur_zone = v->host != PLACE_NONE ? m->hosts[v->host].zone : NULL;
	if (ph->state == NULL || strcmp(ph->state, "up") != 0) {
		filter = "usable";
		/* "host is in maintenance", never "is maintenance". */
		snprintf(why, sizeof(why), "host is %s", ph->state == NULL ?
		    "unknown" : strcmp(ph->state, "maintenance") == 0 ?
		    "in maintenance" : strcmp(ph->state, "draining") == 0 ?
		    "being drained" : ph->state);
	} else if (h == v->host) {
		filter = "source";
		snprintf(why, sizeof(why), "the VM runs here");
	} else if (freem < v->mem_mib) {
		filter = "memory";
		snprintf(why, sizeof(why), "needs %llu MiB, %llu MiB free after "
		    "the %llu MiB reserve and moves on their way",
		    (unsigned long long)v->mem_mib, (unsigned long long)freem,
		    (unsigned long long)ph->reserve_mib);
	} else if (m->vcpu_ratio_max > 0 && ph->cpus > 0 &&
	    (double)(ph->vcpus_used + v->vcpus) >
	    m->vcpu_ratio_max * (double)ph->cpus * (1 + 1e-12)) {
		filter = "vcpu";
		snprintf(why, sizeof(why), "%u vCPUs on %u CPUs would pass the "
		    "%.2g overcommit ceiling", ph->vcpus_used + v->vcpus,
		    ph->cpus, m->vcpu_ratio_max);
	} else if (v->cpu != NULL && v->cpu[h] == PLACE_NO) {
		filter = "cpu";
		snprintf(why, sizeof(why), "%s", v->cpu_why && v->cpu_why[h] ?
		    v->cpu_why[h] : "the host cannot run the guest's CPU");
	} else if (!place_zone_ok(v->zone, cur_zone, m->zone_stay, ph->zone,
	    why, sizeof(why))) {
		filter = "zone";
	} else if (!place_labels_ok(v->requires_labels, v->nrequires,
	    ph->labels, ph->nlabels, why, sizeof(why))) {
		filter = "labels";
	} else if (place_hint_breaks(m, v, h, why, sizeof(why))) {
		filter = "hint";
	} else if (v->storage != NULL && v->storage[h] == PLACE_NO) {
		filter = "storage";
		snprintf(why, sizeof(why), "%s", v->storage_why &&
		    v->storage_why[h] ? v->storage_why[h] :
		    "the VM's shared storage is not seen there");
	}
	for (g = 0; filter == NULL && g < v->ngroups; g++) {
		size_t gi = v->groups[g];

		if (!place_group_breaks(m, vm, h, gi, m->groups[gi].hard ? why :
		    soft, m->groups[gi].hard ? sizeof(why) : sizeof(soft)))
			continue;
		if (m->groups[gi].hard)
			filter = "group";
		else
			nsoft++;
	}
	if (filter != NULL) {
		out->filter = filter;
		snprintf(out->reason, sizeof(out->reason), "%s: %s: %s",
		    ph->name, filter, why);
		return;
	}
	out->ok = 1;
	out->weight = (ph->mem_mib ? (double)(freem - v->mem_mib) /
	    (double)ph->mem_mib : 0) - PLACE_SOFT_PENALTY * (double)nsoft;
	if (nsoft)
		snprintf(out->reason, sizeof(out->reason), "%s: accepted, "
		    "breaks %s", ph->name, soft);
	else
		snprintf(out->reason, sizeof(out->reason), "%s: accepted, "
		    "%llu MiB free after", ph->name,
		    (unsigned long long)(freem - v->mem_mib));
}

size_t
place_evaluate(const struct place_model *m, size_t vm,
    struct place_verdict *out)
{
	size_t h;

	if (vm >= m->nvms)
		return PLACE_NONE;
	for (h = 0; h < m->nhosts; h++)
		place_host_verdict(m, vm, h, &out[h]);
	return place_best(m, out, NULL);
}

/* The one choice rule: the accepted host with the highest weight (worst
 * fit), ties to the lower index. */
size_t
place_best(const struct place_model *m, const struct place_verdict *vd,
    const uint8_t *skip)
{
	size_t h, best = PLACE_NONE;

	for (h = 0; h < m->nhosts; h++)
		if (vd[h].ok && (skip == NULL || !skip[h]) &&
		    (best == PLACE_NONE || vd[h].weight > vd[best].weight))
			best = h;
	return best;
}

void
place_commit(struct place_model *m, size_t vm, size_t h)
{
	struct place_vm *v = &m->vms[vm];
	struct place_host *from;

	if (vm >= m->nvms || h >= m->nhosts || v->host == h)
		return;
	if (v->host != PLACE_NONE) {
		from = &m->hosts[v->host];
		from->used_mib -= from->used_mib >= v->mem_mib ? v->mem_mib :
		    from->used_mib;
		from->vcpus_used -= from->vcpus_used >= v->vcpus ? v->vcpus :
		    from->vcpus_used;
	}
	m->hosts[h].used_mib += v->mem_mib;
	m->hosts[h].vcpus_used += v->vcpus;
	v->host = h;
}

void
place_summary(const struct place_model *m, const struct place_verdict *vd,
    char *buf, size_t len)
{
	size_t h, off = 0;
	int n;

	if (len == 0)
		return;
	buf[0] = '\0';
	for (h = 0; h < m->nhosts && off < len; h++) {
		if (vd[h].ok || (vd[h].filter &&
		    strcmp(vd[h].filter, "source") == 0))
			continue;
		n = snprintf(buf + off, len - off, "%s%s", off ? "; " : "",
		    vd[h].reason);
		if (n < 0)
			break;
		off += (size_t)n;
	}
	if (buf[0] == '\0')
		snprintf(buf, len, "no other host");
}
