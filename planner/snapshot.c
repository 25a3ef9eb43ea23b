/* snapshot.c: the cluster model as snapshot JSON, read and written, and a
 * plan as ferryctl plan --json prints it. See balance.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "balance.h"
#include "jsonv.h"
#include "place.h"

/* What a snapshot file may weigh: a 100,000-VM cluster is about 15 MiB. */
#define BALANCE_MAX_FILE	(256u << 20)

/* Line and column (from 1) of byte off of text. */
static void
balance_position(const char *text, size_t off, size_t *line, size_t *col)
{
	size_t i;

	*line = *col = 1;
	for (i = 0; i < off; i++) {
		if (text[i] == '\n') {
			(*line)++;
			*col = 1;
		} else
			(*col)++;
	}
}

/* An optional integer member within [min, max]: 0 found, 1 absent, -1 bad.
 * what names the object for messages. */
static int
balance_get_int(struct json_object *o, const char *key, int64_t min,
    int64_t max, int64_t *val, const char *what, char *err, size_t errlen)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || v == NULL)
		return 1;
	if (!json_object_is_type(v, json_type_int)) {
		snprintf(err, errlen, "%s: \"%s\" is not an integer", what, key);
		return -1;
	}
	errno = 0;
	*val = json_object_get_int64(v);
	if (errno != 0 || *val < min || *val > max) {
		snprintf(err, errlen, "%s: \"%s\" %s is out of range "
		    "(%lld to %lld)", what, key, json_object_to_json_string(v),
		    (long long)min, (long long)max);
		return -1;
	}
	return 0;
}

static int
balance_get_str(struct json_object *o, const char *key, const char **val,
    const char *what, char *err, size_t errlen)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || v == NULL)
		return 1;
	if (!json_object_is_type(v, json_type_string) ||
	    json_object_get_string_len(v) == 0) {
		snprintf(err, errlen, "%s: \"%s\" is not a non-empty string",
		    what, key);
		return -1;
	}
	*val = json_object_get_string(v);
	return 0;
}

static int
balance_get_array(struct json_object *o, const char *key,
    struct json_object **val, const char *what, char *err, size_t errlen)
{
	if (!json_object_object_get_ex(o, key, val) || *val == NULL)
		return 1;
	if (!json_object_is_type(*val, json_type_array)) {
		snprintf(err, errlen, "%s: \"%s\" is not an array", what, key);
		return -1;
	}
	return 0;
}

static int
balance_missing(int r, const char *what, const char *key, char *err,
    size_t errlen)
{
	if (r == 1)
		snprintf(err, errlen, "%s: missing \"%s\"", what, key);
	return r != 0;
}

/* "zone" and "labels" (hosts) or "requires_labels" (VMs). */
static int
balance_parse_place(struct balance_model *m, struct json_object *o, size_t i,
    int host, const char *what, char *err, size_t errlen)
{
	const char *key = host ? "labels" : "requires_labels", *zone = NULL, *l;
	struct json_object *arr = NULL, *e;
	size_t j;

	if (balance_get_str(o, "zone", &zone, what, err, errlen) == -1 ||
	    balance_get_array(o, key, &arr, what, err, errlen) == -1)
		return -1;
	if (zone != NULL && !place_label_valid(zone)) {
		snprintf(err, errlen, "%s: zone \"%.100s\" is not a zone name",
		    what, zone);
		return -1;
	}
	if (zone != NULL && (host ? balance_host_zone(m, i, zone) :
	    balance_vm_zone(m, i, zone)) == -1)
		goto nomem;
	for (j = 0; arr && j < json_object_array_length(arr); j++) {
		e = json_object_array_get_idx(arr, j);
		l = json_object_is_type(e, json_type_string) ?
		    json_object_get_string(e) : "";
		if (!place_label_valid(l)) {
			snprintf(err, errlen, "%s: %s[%zu] %.100s is not a label",
			    what, key, j, json_object_to_json_string(e));
			return -1;
		}
		if ((host ? balance_host_label(m, i, l) :
		    balance_vm_requires(m, i, l)) == -1)
			goto nomem;
	}
	return 0;
 nomem:
	snprintf(err, errlen, "out of memory");
	return -1;
}

static int
balance_parse_host(struct balance_model *m, struct json_object *o, size_t i,
    char *err, size_t errlen)
{
	char what[160];
	const char *name, *state = "up";
	int64_t mem, res = 0, cpus;
	long h;

	snprintf(what, sizeof(what), "hosts[%zu]", i);
	if (!json_object_is_type(o, json_type_object)) {
		snprintf(err, errlen, "%s: not an object", what);
		return -1;
	}
	if (balance_missing(balance_get_str(o, "name", &name, what, err,
	    errlen), what, "name", err, errlen))
		return -1;
	snprintf(what, sizeof(what), "hosts[%zu] \"%.100s\"", i, name);
	if (balance_missing(balance_get_int(o, "mem_mib", 1, INT64_MAX, &mem,
	    what, err, errlen), what, "mem_mib", err, errlen) ||
	    balance_missing(balance_get_int(o, "cpus", 1, UINT32_MAX, &cpus,
	    what, err, errlen), what, "cpus", err, errlen))
		return -1;
	if (balance_get_int(o, "reserved_mib", 0, mem, &res, what, err,
	    errlen) == -1 ||
	    balance_get_str(o, "state", &state, what, err, errlen) == -1)
		return -1;
	if (balance_find_host(m, name) != -1) {
		snprintf(err, errlen, "%s: duplicate host name", what);
		return -1;
	}
	if ((h = balance_add_host(m, name, (uint64_t)mem, (uint64_t)res,
	    (uint32_t)cpus, 1)) == -1 ||
	    balance_host_state(m, (size_t)h, state) == -1) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	return balance_parse_place(m, o, (size_t)h, 1, what, err, errlen);
}

static int
balance_parse_vm(struct balance_model *m, struct json_object *o, size_t i,
    char *err, size_t errlen)
{
	char what[160];
	const char *name, *host, *g, *hn;
	struct json_object *pin, *groups = NULL, *allowed = NULL, *e;
	enum balance_group_kind kind;
	int64_t mem, vcpus = 1;
	long h, v, a;
	size_t j;

	snprintf(what, sizeof(what), "vms[%zu]", i);
	if (!json_object_is_type(o, json_type_object)) {
		snprintf(err, errlen, "%s: not an object", what);
		return -1;
	}
	if (balance_missing(balance_get_str(o, "name", &name, what, err,
	    errlen), what, "name", err, errlen))
		return -1;
	snprintf(what, sizeof(what), "vms[%zu] \"%.100s\"", i, name);
	if (balance_missing(balance_get_str(o, "host", &host, what, err,
	    errlen), what, "host", err, errlen) ||
	    balance_missing(balance_get_int(o, "mem_mib", 0, INT64_MAX, &mem,
	    what, err, errlen), what, "mem_mib", err, errlen) ||
	    balance_get_int(o, "vcpus", 0, UINT32_MAX, &vcpus, what, err,
	    errlen) == -1 ||
	    balance_get_array(o, "groups", &groups, what, err, errlen) == -1 ||
	    balance_get_array(o, "allowed", &allowed, what, err, errlen) == -1)
		return -1;
	if (json_object_object_get_ex(o, "pinned", &pin) && pin != NULL &&
	    !json_object_is_type(pin, json_type_boolean)) {
		snprintf(err, errlen, "%s: \"pinned\" is not true or false",
		    what);
		return -1;
	}
	if ((h = balance_find_host(m, host)) == -1) {
		snprintf(err, errlen, "%s: unknown host \"%.100s\"", what, host);
		return -1;
	}
	if (balance_find_vm(m, name) != -1) {
		snprintf(err, errlen, "%s: duplicate VM name", what);
		return -1;
	}
	if ((v = balance_add_vm(m, name, (size_t)h, (uint64_t)mem,
	    (uint32_t)vcpus, pin != NULL && json_object_get_boolean(pin))) ==
	    -1)
		goto nomem;
	for (j = 0; groups && j < json_object_array_length(groups); j++) {
		e = json_object_array_get_idx(groups, j);
		g = json_object_is_type(e, json_type_string) ?
		    json_object_get_string(e) : "";
		if (strncmp(g, "anti:", 5) == 0 && g[5] != '\0') {
			kind = BALANCE_ANTI;
			g += 5;
		} else if (strncmp(g, "affinity:", 9) == 0 && g[9] != '\0') {
			kind = BALANCE_AFFINITY;
			g += 9;
		} else {
			snprintf(err, errlen, "%s: groups[%zu] %.100s is not "
			    "\"anti:NAME\" or \"affinity:NAME\"", what, j,
			    json_object_to_json_string(e));
			return -1;
		}
		if (balance_vm_group(m, (size_t)v, kind, g) == -1)
			goto nomem;
	}
	for (j = 0; allowed && j < json_object_array_length(allowed); j++) {
		e = json_object_array_get_idx(allowed, j);
		hn = json_object_is_type(e, json_type_string) ?
		    json_object_get_string(e) : "";
		if ((a = balance_find_host(m, hn)) == -1) {
			snprintf(err, errlen, "%s: allowed[%zu] %.100s is not "
			    "a host", what, j, json_object_to_json_string(e));
			return -1;
		}
		if (balance_vm_allow(m, (size_t)v, (size_t)a) == -1)
			goto nomem;
	}
	/* An empty list allows nothing. */
	if (allowed && json_object_array_length(allowed) == 0 &&
	    balance_vm_restrict(m, (size_t)v) == -1)
		goto nomem;
	return balance_parse_place(m, o, (size_t)v, 0, what, err, errlen);
 nomem:
	snprintf(err, errlen, "out of memory");
	return -1;
}

int
balance_parse(const char *text, size_t len, struct balance_model **out,
    char *err, size_t errlen)
{
	struct json_tokener *tok = NULL;
	struct json_object *root = NULL, *hosts, *vms = NULL;
	struct balance_model *m = NULL;
	enum json_tokener_error jerr;
	size_t i, end, line, col;
	int rc = -1;

	*out = NULL;
	if (len > INT32_MAX) {
		snprintf(err, errlen, "snapshot too large");
		goto out;
	}
	if ((tok = json_tokener_new()) == NULL ||
	    (m = balance_model_new()) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	root = json_tokener_parse_ex(tok, text, (int)len);
	jerr = json_tokener_get_error(tok);
	end = json_tokener_get_parse_end(tok);
	if (jerr == json_tokener_continue || (root == NULL &&
	    jerr == json_tokener_success)) {
		snprintf(err, errlen, "bad JSON: unexpected end of input");
		goto out;
	}
	if (jerr != json_tokener_success) {
		balance_position(text, end > 0 ? end - 1 : 0, &line, &col);
		snprintf(err, errlen, "bad JSON at line %zu column %zu: %s",
		    line, col, json_tokener_error_desc(jerr));
		goto out;
	}
	for (i = end; i < len; i++)
		if (!strchr(" \t\r\n", text[i])) {
			balance_position(text, i, &line, &col);
			snprintf(err, errlen, "bad JSON at line %zu column "
			    "%zu: data after the snapshot", line, col);
			goto out;
		}
	if (!json_object_is_type(root, json_type_object)) {
		snprintf(err, errlen, "snapshot: not a JSON object");
		goto out;
	}
	if (balance_missing(balance_get_array(root, "hosts", &hosts,
	    "snapshot", err, errlen), "snapshot", "hosts", err, errlen) ||
	    balance_get_array(root, "vms", &vms, "snapshot", err,
	    errlen) == -1)
		goto out;
	for (i = 0; i < json_object_array_length(hosts); i++)
		if (balance_parse_host(m, json_object_array_get_idx(hosts, i),
		    i, err, errlen) == -1)
			goto out;
	for (i = 0; vms && i < json_object_array_length(vms); i++)
		if (balance_parse_vm(m, json_object_array_get_idx(vms, i), i,
		    err, errlen) == -1)
			goto out;
	{
		const char *zp = "any";

		if (balance_get_str(root, "zone_policy", &zp, "snapshot", err,
		    errlen) == -1)
			goto out;
		if (strcmp(zp, "stay") != 0 && strcmp(zp, "any") != 0) {
			snprintf(err, errlen, "snapshot: zone_policy is \"stay\" "
			    "or \"any\"");
			goto out;
		}
		m->zone_stay = strcmp(zp, "stay") == 0;
	}
	*out = m;
	m = NULL;
	rc = 0;
 out:
	json_object_put(root);
	if (tok != NULL)
		json_tokener_free(tok);
	balance_model_free(m);
	return rc;
}

int
balance_read(const char *path, struct balance_model **out, char *err,
    size_t errlen)
{
	char *buf = NULL, *p, e[512];
	size_t len = 0, cap = 0, n;
	FILE *fp;
	int rc = -1;

	*out = NULL;
	if ((fp = fopen(path, "r")) == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	for (;;) {
		if (len == cap) {
			cap = cap ? cap * 2 : 65536;
			if (cap > BALANCE_MAX_FILE) {
				snprintf(err, errlen, "%s: larger than %u MiB",
				    path, BALANCE_MAX_FILE >> 20);
				goto out;
			}
			if ((p = realloc(buf, cap + 1)) == NULL) {
				snprintf(err, errlen, "out of memory");
				goto out;
			}
			buf = p;
		}
		n = fread(buf + len, 1, cap - len, fp);
		len += n;
		if (n == 0)
			break;
	}
	if (ferror(fp)) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		goto out;
	}
	buf[len] = '\0';
	if (balance_parse(buf, len, out, e, sizeof(e)) == -1) {
		snprintf(err, errlen, "%s: %s", path, e);
		goto out;
	}
	rc = 0;
 out:
	fclose(fp);
	free(buf);
	return rc;
}

/* Takes o; NULL (out of memory) makes the whole result NULL. */
static int
balance_put(struct json_object *obj, const char *key, struct json_object *o)
{
	if (o == NULL || json_object_object_add(obj, key, o) != 0) {
		json_object_put(o);
		return -1;
	}
	return 0;
}

static int
balance_append(struct json_object *arr, struct json_object *o)
{
	if (o == NULL || json_object_array_add(arr, o) != 0) {
		json_object_put(o);
		return -1;
	}
	return 0;
}

static char *
balance_to_string(struct json_object *o, int flags)
{
	char *s;

	s = strdup(json_object_to_json_string_ext(o, flags));
	json_object_put(o);
	return s;
}

char *
balance_write(const struct balance_model *m)
{
	/* a = NULL: gcc -O2 with -fsanitize cannot see that a is set whenever
	 * the label loops run (-Wmaybe-uninitialized under SAN=1). */
	struct json_object *root, *hosts, *vms, *o, *a = NULL;
	const struct balance_host *h;
	const struct balance_vm *v;
	const struct balance_group *g;
	char buf[512];
	size_t i, j;

	if ((root = json_object_new_object()) == NULL)
		return NULL;
	if (balance_put(root, "hosts", hosts = json_object_new_array()) ||
	    balance_put(root, "vms", vms = json_object_new_array()))
		goto fail;
	for (i = 0; i < m->nhosts; i++) {
		h = &m->hosts[i];
		if (balance_append(hosts, o = json_object_new_object()) ||
		    balance_put(o, "name", json_object_new_string(h->name)) ||
		    balance_put(o, "mem_mib",
		    json_object_new_int64((int64_t)h->mem_mib)) ||
		    balance_put(o, "reserved_mib",
		    json_object_new_int64((int64_t)h->reserved_mib)) ||
		    balance_put(o, "cpus", json_object_new_int64(h->cpus)) ||
		    balance_put(o, "state", json_object_new_string(h->state ?
		    h->state : h->usable ? "up" : "down")) ||
		    (h->zone && balance_put(o, "zone",
		    json_object_new_string(h->zone))))
			goto fail;
		if (h->nlabels && balance_put(o, "labels",
		    a = json_object_new_array()))
			goto fail;
		for (j = 0; j < h->nlabels; j++)
			if (balance_append(a, json_object_new_string(
			    h->labels[j])))
				goto fail;
	}
	if (m->zone_stay && balance_put(root, "zone_policy",
	    json_object_new_string("stay")))
		goto fail;
	for (i = 0; i < m->nvms; i++) {
		v = &m->vms[i];
		if (balance_append(vms, o = json_object_new_object()) ||
		    balance_put(o, "name", json_object_new_string(v->name)) ||
		    balance_put(o, "host",
		    json_object_new_string(m->hosts[v->host].name)) ||
		    balance_put(o, "mem_mib",
		    json_object_new_int64((int64_t)v->mem_mib)) ||
		    balance_put(o, "vcpus", json_object_new_int64(v->vcpus)) ||
		    balance_put(o, "pinned",
		    json_object_new_boolean(v->pinned)) ||
		    balance_put(o, "groups", a = json_object_new_array()))
			goto fail;
		for (j = 0; j < v->ngroups; j++) {
			g = &m->groups[v->groups[j]];
			snprintf(buf, sizeof(buf), "%s:%s",
			    g->kind == BALANCE_ANTI ? "anti" : "affinity",
			    g->name);
			if (balance_append(a, json_object_new_string(buf)))
				goto fail;
		}
		if (v->zone && balance_put(o, "zone",
		    json_object_new_string(v->zone)))
			goto fail;
		if (v->nrequires && balance_put(o, "requires_labels",
		    a = json_object_new_array()))
			goto fail;
		for (j = 0; j < v->nrequires; j++)
			if (balance_append(a, json_object_new_string(
			    v->requires[j])))
				goto fail;
		if (v->allowed == NULL)
			continue;
		if (balance_put(o, "allowed", a = json_object_new_array()))
			goto fail;
		for (j = 0; j < v->nallowed; j++)
			if (v->allowed[j] && balance_append(a,
			    json_object_new_string(m->hosts[j].name)))
				goto fail;
	}
	return balance_to_string(root, JSON_C_TO_STRING_PRETTY |
	    JSON_C_TO_STRING_SPACED | JSON_C_TO_STRING_NOSLASHESCAPE);
 fail:
	json_object_put(root);
	return NULL;
}

char *
balance_plan_json(const struct balance_model *m, const struct balance_plan *p,
    double elapsed_ms)
{
	struct json_object *root, *moves, *o;
	const struct balance_move *mv;
	size_t i;

	if ((root = json_object_new_object()) == NULL)
		return NULL;
	if (balance_put(root, "policy",
	    json_object_new_string(balance_policy_name(p->policy))) ||
	    balance_put(root, "objective",
	    json_object_new_string(balance_objective_name(p->objective))) ||
	    balance_put(root, "score_before", jsonv_sig6(1, p->score_before)) ||
	    balance_put(root, "score_after", jsonv_sig6(1, p->score_after)) ||
	    balance_put(root, "memory_moved_mib",
	    json_object_new_int64((int64_t)p->memory_moved_mib)) ||
	    balance_put(root, "moves", moves = json_object_new_array()))
		goto fail;
	for (i = 0; i < p->nmoves; i++) {
		mv = &p->moves[i];
		if (balance_append(moves, o = json_object_new_object()) ||
		    balance_put(o, "vm",
		    json_object_new_string(m->vms[mv->vm].name)) ||
		    balance_put(o, "source",
		    json_object_new_string(m->hosts[mv->from].name)) ||
		    balance_put(o, "destination",
		    json_object_new_string(m->hosts[mv->to].name)) ||
		    balance_put(o, "mem_mib",
		    json_object_new_int64((int64_t)mv->mem_mib)) ||
		    balance_put(o, "score_after", jsonv_sig6(1, mv->score_after)))
			goto fail;
	}
	/* Whole milliseconds, as every duration in Ferry's JSON. */
	if (balance_put(root, "elapsed_ms", json_object_new_int64(
	    (int64_t)(elapsed_ms + 0.5))))
		goto fail;
	return balance_to_string(root, JSON_C_TO_STRING_PLAIN |
	    JSON_C_TO_STRING_NOSLASHESCAPE);
 fail:
	json_object_put(root);
	return NULL;
}
