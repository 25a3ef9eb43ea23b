/* parse.c: ferry-coordinator's configuration file (libconfig syntax). */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "converge.h"
#include "coordinator.h"
#include "validate.h"
#include "lease.h"
#include "place.h"

#define OFF(f)	offsetof(struct coord_conf, f)
#define SZ(f)	sizeof(((struct coord_conf *)0)->f)

static const struct conf_key coord_keys[] = {
	{ "name", CONF_STR, 0, OFF(name), SZ(name), 0, 0 },
	{ "database", CONF_STR, 0, OFF(database), SZ(database), 0, 0 },
	{ "socket", CONF_STR, 0, OFF(socket), SZ(socket), 0, 0 },
	{ "socket_group", CONF_STR, 0, OFF(socket_group), SZ(socket_group), 0, 0 },
	{ "identity", CONF_STR, 1, OFF(identity), SZ(identity), 0, 0 },
	{ "known_hosts", CONF_STR, 1, OFF(known_hosts), SZ(known_hosts), 0, 0 },
	{ "connect_timeout_ms", CONF_INT, 0, OFF(connect_timeout_ms), 0, 100,
	    120000 },
	{ "idle_timeout_ms", CONF_INT, 0, OFF(idle_timeout_ms), 0, 1000, 600000 },
	{ "call_timeout_ms", CONF_INT, 0, OFF(call_timeout_ms), 0, 100, 600000 },
	{ "backoff_min_ms", CONF_INT, 0, OFF(backoff_min_ms), 0, 10, 600000 },
	{ "backoff_max_ms", CONF_INT, 0, OFF(backoff_max_ms), 0, 10, 3600000 },
	{ "per_destination", CONF_INT, 0, OFF(per_destination), 0, 1, 64 },
	{ "host_max_frame_rate", CONF_INT, 0, OFF(host_max_frame_rate), 0, 10,
	    1000000 },
	{ "migration_parallel", CONF_INT, 0, OFF(migration_parallel), 0, 0,
	    VALIDATE_PARALLEL_MAX },
	{ "migration_tls", CONF_STR, 0, OFF(migration_tls), SZ(migration_tls),
	    0, 0 },
	{ "link_mibs", CONF_INT, 0, OFF(link_mibs), 0, 0, 1000000 },
	{ "max_outgoing", CONF_INT, 0, OFF(max_outgoing), 0, 1, 64 },
	{ "retention_days", CONF_INT, 0, OFF(retention_days), 0, 1, 36500 },
	{ "hosts", CONF_CUSTOM, 1, 0, 0, 0, 0 },
	{ "pinned", CONF_CUSTOM, 0, 0, 0, 0, 0 },
	{ "groups", CONF_CUSTOM, 0, 0, 0, 0, 0 },
	{ "rebalance", CONF_CUSTOM, 0, 0, 0, 0, 0 },
	{ "store", CONF_CUSTOM, 0, 0, 0, 0, 0 },
	{ "vms", CONF_CUSTOM, 0, 0, 0, 0, 0 },
	{ "zone_policy", CONF_CUSTOM, 0, 0, 0, 0, 0 },
	{ "ha", CONF_CUSTOM, 0, 0, 0, 0, 0 },
	{ "http", CONF_CUSTOM, 0, 0, 0, 0, 0 },
};

#define HOFF(f)	offsetof(struct coord_http_conf, f)
#define HSZ(f)	sizeof(((struct coord_http_conf *)0)->f)

static const struct conf_key http_keys[] = {
	{ "listen", CONF_STR, 1, HOFF(listen), HSZ(listen), 0, 0 },
	{ "cert", CONF_STR, 1, HOFF(cert), HSZ(cert), 0, 0 },
	{ "key", CONF_STR, 1, HOFF(key), HSZ(key), 0, 0 },
	{ "tokens", CONF_STR, 1, HOFF(tokens), HSZ(tokens), 0, 0 },
	{ "max_connections", CONF_INT, 0, HOFF(max_connections), 0, 1, 4096 },
	{ "max_connections_per_ip", CONF_INT, 0, HOFF(max_connections_per_ip),
	    0, 1, 4096 },
	{ "idle_timeout_s", CONF_INT, 0, HOFF(idle_timeout_s), 0, 1, 3600 },
	{ "max_header_kib", CONF_INT, 0, HOFF(max_header_kib), 0, 4, 1024 },
	{ "max_body_kib", CONF_INT, 0, HOFF(max_body_kib), 0, 1, 16384 },
	{ "rate", CONF_INT, 0, HOFF(rate), 0, 1, 1000000 },
	{ "answer_timeout_s", CONF_INT, 0, HOFF(answer_timeout_s), 0, 1, 600 },
	{ "events_kept", CONF_INT, 0, HOFF(events_kept), 0, 16, 1000000 },
	{ "www", CONF_STR, 0, HOFF(www), HSZ(www), 0, 0 },
	{ "metrics_token", CONF_BOOL, 0, HOFF(metrics_token), 0, 0, 0 },
};

void
parse_coord_defaults(struct coord_conf *c)
{
	memset(c, 0, sizeof(*c));
	if (gethostname(c->name, sizeof(c->name) - 1) == -1)
		snprintf(c->name, sizeof(c->name), "coordinator");
	snprintf(c->database, sizeof(c->database), "%s", COORD_DEFAULT_DB);
	snprintf(c->store.backend, sizeof(c->store.backend), "sqlite");
	snprintf(c->socket, sizeof(c->socket), "%s", COORD_DEFAULT_SOCKET);
	c->connect_timeout_ms = 5000;
	c->idle_timeout_ms = 5000;
	c->call_timeout_ms = 30000;
	c->backoff_min_ms = 200;
	c->backoff_max_ms = 10000;
	c->per_destination = 1;
	c->host_max_frame_rate = 500;
	c->retention_days = 90;
	c->zone_stay = 1;
	/* A failed post-copy leaves the guest split over two hosts. */
	c->postcopy = -1;
	snprintf(c->migration_tls, sizeof(c->migration_tls), "off");
	c->max_outgoing = 4;
	c->rebalance.interval_s = 300;
	c->rebalance.max_moves = 2;
	c->rebalance.quiet_period_s = 1800;
	snprintf(c->rebalance.policy, sizeof(c->rebalance.policy), "balance");
	snprintf(c->rebalance.threshold, sizeof(c->rebalance.threshold), "0.1");
	c->ha.lease_ms = 10000;
	c->ha.renew_ms = 2000;
	c->ha.margin_ms = 2000;
	c->ha.timeout_ms = 2000;
	c->http.max_connections = 64;
	c->http.max_connections_per_ip = 16;
	c->http.idle_timeout_s = 10;
	c->http.max_header_kib = 32;
	c->http.max_body_kib = 64;
	c->http.rate = 100;
	c->http.answer_timeout_s = 60;
	c->http.events_kept = 4096;
	c->http.metrics_token = 1;
}

static void
parse_strv_free(char **v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

void
parse_coord_conf_clear(struct coord_conf *c)
{
	size_t i;

	for (i = 0; c->hosts && i < c->nhosts; i++)
		parse_strv_free(c->hosts[i].labels, c->hosts[i].nlabels);
	free(c->hosts);
	c->hosts = NULL;
	c->nhosts = 0;
	parse_strv_free(c->pinned, c->npinned);
	c->pinned = NULL;
	c->npinned = 0;
	for (i = 0; i < c->ngroups; i++)
		parse_strv_free(c->groups[i].vms, c->groups[i].nvms);
	free(c->groups);
	c->groups = NULL;
	c->ngroups = 0;
	for (i = 0; i < c->nvms; i++) {
		parse_strv_free(c->vms[i].requires_labels, c->vms[i].nrequires);
		parse_strv_free(c->vms[i].same_host, c->vms[i].nsame);
		parse_strv_free(c->vms[i].different_host, c->vms[i].ndifferent);
	}
	free(c->vms);
	c->vms = NULL;
	c->nvms = 0;
}

static int	parse_strv(const config_setting_t *, char ***, size_t *,
		    const char *, char *, size_t);

/* A list of labels: place_label_valid names only. */
static int
parse_labels(const config_setting_t *s, char ***out, size_t *n,
    const char *path, char *err, size_t errlen)
{
	size_t i;

	if (parse_strv(s, out, n, path, err, errlen) < 0)
		return -1;
	for (i = 0; i < *n; i++)
		if (!place_label_valid((*out)[i])) {
			snprintf(err, errlen, "%s:%d: %s: '%s' is not a label "
			    "(1 to 63 of letters, digits, '_.:=-')", path,
			    config_setting_source_line(s),
			    config_setting_name(s), (*out)[i]);
			return -1;
		}
	return 0;
}

static int
parse_zone(const config_setting_t *g, char *dst, size_t size,
    const char *path, char *err, size_t errlen)
{
	if (conf_get_str(g, "zone", dst, size, 0, path, err, errlen) < 0)
		return -1;
	if (dst[0] != '\0' && !place_label_valid(dst)) {
		snprintf(err, errlen, "%s:%d: zone '%s' may only use letters, "
		    "digits and '_.:=-'", path, config_setting_source_line(g),
		    dst);
		return -1;
	}
	return 0;
}

static int
parse_vms(const config_setting_t *list, struct coord_conf *c,
    const char *path, char *err, size_t errlen)
{
	static const char *known[] = { "name", "zone", "requires_labels",
	    "same_host", "different_host" };
	const config_setting_t *g, *m;
	int i, n, k, line;
	size_t j, q;

	if (!config_setting_is_list(list)) {
		snprintf(err, errlen, "%s:%d: vms must be a list ( { name = ...; "
		    "zone = ...; requires_labels = [...]; }, ... )", path,
		    config_setting_source_line(list));
		return -1;
	}
	n = config_setting_length(list);
	if (n && (c->vms = calloc(n, sizeof(*c->vms))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (i = 0; i < n; i++) {
		struct coord_vm_conf *v = &c->vms[i];

		g = config_setting_get_elem(list, i);
		line = config_setting_source_line(g);
		c->nvms++;
		if (!config_setting_is_group(g)) {
			snprintf(err, errlen, "%s:%d: each VM must be { name; "
			    "zone; requires_labels; }", path, line);
			return -1;
		}
		for (k = 0; k < config_setting_length(g); k++) {
			m = config_setting_get_elem(g, k);
			for (q = 0; q < sizeof(known) / sizeof(known[0]); q++)
				if (strcmp(config_setting_name(m), known[q]) == 0)
					break;
			if (q == sizeof(known) / sizeof(known[0])) {
				snprintf(err, errlen, "%s:%d: unknown VM setting "
				    "'%s'", path, config_setting_source_line(m),
				    config_setting_name(m));
				return -1;
			}
		}
		if (conf_get_str(g, "name", v->name, sizeof(v->name), 1, path,
		    err, errlen) < 0 ||
		    parse_zone(g, v->zone, sizeof(v->zone), path, err,
		    errlen) < 0)
			return -1;
		if ((m = config_setting_get_member(g, "requires_labels")) &&
		    parse_labels(m, &v->requires_labels, &v->nrequires, path,
		    err, errlen) < 0)
			return -1;
		if ((m = config_setting_get_member(g, "same_host")) &&
		    parse_strv(m, &v->same_host, &v->nsame, path, err,
		    errlen) < 0)
			return -1;
		if ((m = config_setting_get_member(g, "different_host")) &&
		    parse_strv(m, &v->different_host, &v->ndifferent, path,
		    err, errlen) < 0)
			return -1;
		for (j = 0; j < v->nsame; j++)
			for (q = 0; q < v->ndifferent; q++)
				if (strcmp(v->same_host[j],
				    v->different_host[q]) == 0) {
					snprintf(err, errlen, "%s:%d: VM %s: %s is "
					    "both same_host and different_host",
					    path, line, v->name, v->same_host[j]);
					return -1;
				}
		for (k = 0; k < i; k++)
			if (strcmp(c->vms[k].name, v->name) == 0) {
				snprintf(err, errlen, "%s:%d: VM '%s' is listed "
				    "twice", path, line, v->name);
				return -1;
			}
	}
	return 0;
}

/* A list or array of strings: VM names. */
static int
parse_strv(const config_setting_t *s, char ***out, size_t *n,
    const char *path, char *err, size_t errlen)
{
	int i, len;
	const char *v;

	if (!config_setting_is_array(s) && !config_setting_is_list(s)) {
		snprintf(err, errlen, "%s:%d: %s must be a list of VM names",
		    path, config_setting_source_line(s), config_setting_name(s));
		return -1;
	}
	len = config_setting_length(s);
	if (len && (*out = calloc(len, sizeof(**out))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (i = 0; i < len; i++) {
		if ((v = config_setting_get_string_elem(s, i)) == NULL ||
		    v[0] == '\0' || strlen(v) > 255) {
			snprintf(err, errlen, "%s:%d: %s: element %d is not a VM "
			    "name", path, config_setting_source_line(s),
			    config_setting_name(s), i + 1);
			return -1;
		}
		if (((*out)[i] = strdup(v)) == NULL) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		(*n)++;
	}
	return 0;
}

static int
parse_groups(const config_setting_t *list, struct coord_conf *c,
    const char *path, char *err, size_t errlen)
{
	const config_setting_t *g, *vms, *hard;
	char type[16];
	int i, n;

	if (!config_setting_is_list(list)) {
		snprintf(err, errlen, "%s:%d: groups must be a list ( { name = ...; "
		    "type = \"anti\"|\"affinity\"; vms = [...]; }, ... )", path,
		    config_setting_source_line(list));
		return -1;
	}
	n = config_setting_length(list);
	if (n && (c->groups = calloc(n, sizeof(*c->groups))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (i = 0; i < n; i++) {
		struct coord_group *cg = &c->groups[i];

		g = config_setting_get_elem(list, i);
		c->ngroups++;
		if (!config_setting_is_group(g) ||
		    conf_get_str(g, "name", cg->name, sizeof(cg->name), 1, path,
		    err, errlen) < 0 ||
		    conf_get_str(g, "type", type, sizeof(type), 1, path, err,
		    errlen) < 0) {
			if (!config_setting_is_group(g))
				snprintf(err, errlen, "%s:%d: each group must be "
				    "{ name; type; vms; }", path,
				    config_setting_source_line(g));
			return -1;
		}
		if (strcmp(type, "anti") == 0)
			cg->anti = 1;
		else if (strcmp(type, "affinity") != 0) {
			snprintf(err, errlen, "%s:%d: group type must be \"anti\" "
			    "or \"affinity\"", path, config_setting_source_line(g));
			return -1;
		}
		cg->hard = 1;
		if ((hard = config_setting_get_member(g, "hard")) != NULL) {
			if (config_setting_type(hard) != CONFIG_TYPE_BOOL) {
				snprintf(err, errlen, "%s:%d: group %s: hard must "
				    "be true or false", path,
				    config_setting_source_line(hard), cg->name);
				return -1;
			}
			cg->hard = config_setting_get_bool(hard);
		}
		if ((vms = config_setting_get_member(g, "vms")) == NULL) {
			snprintf(err, errlen, "%s:%d: group %s has no vms", path,
			    config_setting_source_line(g), cg->name);
			return -1;
		}
		if (parse_strv(vms, &cg->vms, &cg->nvms, path, err, errlen) < 0)
			return -1;
	}
	return 0;
}

static const struct conf_key store_keys[] = {
	{ "backend", CONF_STR, 1, offsetof(struct coord_store_conf, backend),
	    sizeof(((struct coord_store_conf *)0)->backend), 0, 0 },
	{ "conninfo", CONF_STR, 0, offsetof(struct coord_store_conf, conninfo),
	    sizeof(((struct coord_store_conf *)0)->conninfo), 0, 0 },
};

/* The store group: the backend, and for PostgreSQL where it is. A
 * conninfo with a password makes the file a secret. */
static int
parse_store(const config_setting_t *s, struct coord_conf *c, const char *path,
    char *err, size_t errlen)
{
	int line = config_setting_source_line(s);

	if (!config_setting_is_group(s)) {
		snprintf(err, errlen, "%s:%d: store must be a group { ... }",
		    path, line);
		return -1;
	}
	if (conf_apply(s, store_keys, sizeof(store_keys) / sizeof(store_keys[0]),
	    &c->store, path, err, errlen) < 0)
		return -1;
	if (strcmp(c->store.backend, "sqlite") == 0) {
		if (c->store.conninfo[0] != '\0') {
			snprintf(err, errlen, "%s:%d: store conninfo is for "
			    "backend \"postgresql\" (sqlite uses database)",
			    path, line);
			return -1;
		}
		return 0;
	}
	if (strcmp(c->store.backend, "postgresql") != 0) {
		snprintf(err, errlen, "%s:%d: store backend must be \"sqlite\" "
		    "or \"postgresql\"", path, line);
		return -1;
	}
	if (c->store.conninfo[0] == '\0') {
		snprintf(err, errlen, "%s:%d: store backend \"postgresql\" "
		    "needs conninfo", path, line);
		return -1;
	}
	if (strstr(c->store.conninfo, "password") != NULL &&
	    conf_check_private(path, "configuration with a database password",
	    err, errlen) < 0)
		return -1;
	return 0;
}

static const struct conf_key ha_keys[] = {
	{ "node", CONF_STR, 1, offsetof(struct coord_ha_conf, node), 64, 0, 0 },
	{ "conninfo", CONF_STR, 0, offsetof(struct coord_ha_conf, conninfo),
	    1024, 0, 0 },
	{ "lease_ms", CONF_INT, 0, offsetof(struct coord_ha_conf, lease_ms), 0,
	    1000, 600000 },
	{ "renew_ms", CONF_INT, 0, offsetof(struct coord_ha_conf, renew_ms), 0,
	    100, 300000 },
	{ "margin_ms", CONF_INT, 0, offsetof(struct coord_ha_conf, margin_ms), 0,
	    100, 300000 },
	{ "timeout_ms", CONF_INT, 0, offsetof(struct coord_ha_conf, timeout_ms),
	    0, 100, 300000 },
	{ "relay_address", CONF_STR, 0,
	    offsetof(struct coord_ha_conf, relay_address), 64, 0, 0 },
	{ "relay_port", CONF_INT, 0, offsetof(struct coord_ha_conf, relay_port),
	    0, 1, 65535 },
	{ "relay_host_key", CONF_STR, 0,
	    offsetof(struct coord_ha_conf, relay_host_key), PATH_MAX, 0, 0 },
	{ "relay_authorized_keys", CONF_STR, 0,
	    offsetof(struct coord_ha_conf, relay_authorized_keys), PATH_MAX,
	    0, 0 },
	{ "peers", CONF_CUSTOM, 0, 0, 0, 0, 0 },
};

static const struct conf_key ha_peer_keys[] = {
	{ "node", CONF_STR, 1, offsetof(struct coord_ha_peer, node), 64, 0, 0 },
	{ "address", CONF_STR, 1, offsetof(struct coord_ha_peer, address), 64,
	    0, 0 },
	{ "port", CONF_INT, 0, offsetof(struct coord_ha_peer, port), 0, 1,
	    65535 },
};

/* ha.peers = ( { node = "c2"; address = "..."; port = N; }, ... ) and the
 * relay settings that go with them: all or nothing. */
static int
parse_ha_relay(const config_setting_t *ha, struct coord_conf *c,
    const char *path, char *err, size_t errlen)
{
	struct coord_ha_conf *hc = &c->ha;
	const config_setting_t *list, *g;
	int i, n, line = config_setting_source_line(ha);
	size_t j;

	if (hc->relay_port == 0)
		hc->relay_port = COORD_RELAY_PORT;
	if ((list = config_setting_get_member(ha, "peers")) != NULL) {
		line = config_setting_source_line(list);
		if (!config_setting_is_list(list)) {
			snprintf(err, errlen, "%s:%d: ha peers must be a list "
			    "( { node = ...; address = ...; }, ... )", path, line);
			return -1;
		}
		n = config_setting_length(list);
		if (n > HA_MAX_PEERS) {
			snprintf(err, errlen, "%s:%d: ha peers: at most %d",
			    path, line, HA_MAX_PEERS);
			return -1;
		}
		for (i = 0; i < n; i++) {
			struct coord_ha_peer *p = &hc->peers[i];

			g = config_setting_get_elem(list, i);
			if (!config_setting_is_group(g)) {
				snprintf(err, errlen, "%s:%d: each ha peer must "
				    "be a group { node = ...; address = ...; }",
				    path, config_setting_source_line(g));
				return -1;
			}
			if (conf_apply(g, ha_peer_keys, sizeof(ha_peer_keys) /
			    sizeof(ha_peer_keys[0]), p, path, err, errlen) < 0)
				return -1;
			if (p->port == 0)
				p->port = COORD_RELAY_PORT;
			if (validate_host_name(p->node, err, errlen) < 0 ||
			    strcmp(p->node, hc->node) == 0) {
				snprintf(err, errlen, "%s:%d: ha peer '%s' is not "
				    "another node's name", path,
				    config_setting_source_line(g), p->node);
				return -1;
			}
			for (j = 0; j < hc->npeers; j++)
				if (strcmp(hc->peers[j].node, p->node) == 0) {
					snprintf(err, errlen, "%s:%d: ha peer '%s' "
					    "twice", path,
					    config_setting_source_line(g), p->node);
					return -1;
				}
			hc->npeers++;
		}
	}
	if (hc->relay_address[0] == '\0' && hc->npeers == 0)
		return 0;
	if (hc->relay_address[0] == '\0' || hc->npeers == 0 ||
	    hc->relay_host_key[0] == '\0' ||
	    hc->relay_authorized_keys[0] == '\0') {
		snprintf(err, errlen, "%s:%d: the ha relay needs relay_address, "
		    "relay_host_key, relay_authorized_keys and peers, all of "
		    "them", path, line);
		return -1;
	}
	return 0;
}

static const struct conf_key rebalance_keys[] = {
	{ "enabled", CONF_BOOL, 0,
	    offsetof(struct coord_rebalance_conf, enabled), 0, 0, 0 },
	{ "interval_s", CONF_INT, 0,
	    offsetof(struct coord_rebalance_conf, interval_s), 0, 10, 86400 },
	{ "max_moves", CONF_INT, 0,
	    offsetof(struct coord_rebalance_conf, max_moves), 0, 1, 1000 },
	{ "quiet_period_s", CONF_INT, 0,
	    offsetof(struct coord_rebalance_conf, quiet_period_s), 0, 0, 604800 },
	{ "policy", CONF_STR, 0, offsetof(struct coord_rebalance_conf, policy),
	    16, 0, 0 },
	{ "threshold", CONF_STR, 0,
	    offsetof(struct coord_rebalance_conf, threshold), 32, 0, 0 },
};

static int
parse_valid_name(const char *s)
{
	size_t i;

	for (i = 0; s[i]; i++)
		if (!(s[i] == '-' || s[i] == '_' || s[i] == '.' ||
		    (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		    (s[i] >= '0' && s[i] <= '9')))
			return 0;
	return i > 0;
}

static int
parse_hosts(const config_setting_t *list, struct coord_conf *c,
    const char *path, char *err, size_t errlen)
{
	const config_setting_t *h, *port;
	int i, n, j;

	if (!config_setting_is_list(list) && !config_setting_is_array(list)) {
		snprintf(err, errlen, "%s:%d: hosts must be a list ( {...}, ... )",
		    path, config_setting_source_line(list));
		return -1;
	}
	n = config_setting_length(list);
	if (n == 0) {
		snprintf(err, errlen, "%s:%d: hosts is empty", path,
		    config_setting_source_line(list));
		return -1;
	}
	if ((c->hosts = calloc(n, sizeof(*c->hosts))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (i = 0; i < n; i++) {
		struct coord_host_conf *hc = &c->hosts[i];
		const config_setting_t *m;
		char e[300];
		int k, line;

		h = config_setting_get_elem(list, i);
		line = config_setting_source_line(h);
		if (!config_setting_is_group(h)) {
			snprintf(err, errlen, "%s:%d: each host must be a group "
			    "{ name = ...; address = ...; }", path, line);
			return -1;
		}
		c->nhosts++;	/* its labels are the conf's to free */
		for (k = 0; k < config_setting_length(h); k++) {
			m = config_setting_get_elem(h, k);
			if (strcmp(config_setting_name(m), "name") &&
			    strcmp(config_setting_name(m), "address") &&
			    strcmp(config_setting_name(m), "libvirt_uri") &&
			    strcmp(config_setting_name(m), "migration_address") &&
			    strcmp(config_setting_name(m), "port") &&
			    strcmp(config_setting_name(m), "zone") &&
			    strcmp(config_setting_name(m), "labels")) {
				snprintf(err, errlen, "%s:%d: unknown host setting "
				    "'%s'", path, config_setting_source_line(m),
				    config_setting_name(m));
				return -1;
			}
		}
		if (conf_get_str(h, "name", hc->name, sizeof(hc->name), 1, path,
		    err, errlen) < 0 || conf_get_str(h, "address", hc->address,
		    sizeof(hc->address), 1, path, err, errlen) < 0 ||
		    conf_get_str(h, "libvirt_uri", hc->libvirt_uri,
		    sizeof(hc->libvirt_uri), 0, path, err, errlen) < 0 ||
		    conf_get_str(h, "migration_address", hc->migration_address,
		    sizeof(hc->migration_address), 0, path, err, errlen) < 0)
			return -1;
		/* Where other hosts reach this one is the operator's word, so
		 * it is held to the same rules as what hostd would report. */
		if ((hc->libvirt_uri[0] && validate_libvirt_uri(hc->libvirt_uri,
		    e, sizeof(e)) < 0) || (hc->migration_address[0] &&
		    validate_migration_address(hc->migration_address, e,
		    sizeof(e)) < 0)) {
			snprintf(err, errlen, "%s:%d: host %s: %s", path, line,
			    hc->name, e);
			return -1;
		}
		if (!parse_valid_name(hc->name)) {
			snprintf(err, errlen, "%s:%d: host name '%s' may only use "
			    "letters, digits, '-', '_' and '.'", path, line,
			    hc->name);
			return -1;
		}
		if (parse_zone(h, hc->zone, sizeof(hc->zone), path, err,
		    errlen) < 0)
			return -1;
		if ((m = config_setting_get_member(h, "labels")) != NULL &&
		    parse_labels(m, &hc->labels, &hc->nlabels, path, err,
		    errlen) < 0)
			return -1;
		hc->port = 7220;
		if ((port = config_setting_get_member(h, "port")) != NULL) {
			if (config_setting_type(port) != CONFIG_TYPE_INT ||
			    config_setting_get_int(port) < 1 ||
			    config_setting_get_int(port) > 65535) {
				snprintf(err, errlen, "%s:%d: port must be an integer "
				    "in [1, 65535]", path,
				    config_setting_source_line(port));
				return -1;
			}
			hc->port = config_setting_get_int(port);
		}
		for (j = 0; j < i; j++)
			if (strcmp(c->hosts[j].name, hc->name) == 0) {
				snprintf(err, errlen, "%s:%d: host '%s' is listed "
				    "twice", path, line, hc->name);
				return -1;
			}
	}
	return 0;
}

/* Parses into a fresh struct; *out is replaced only when the file is valid. */
int
parse_coord_config(const char *path, struct coord_conf *out, char *err,
    size_t errlen)
{
	struct coord_conf c;
	config_setting_t *s;
	config_t cf;
	int rc = -1;

	parse_coord_defaults(&c);
	config_init(&cf);
	if (conf_load(&cf, path, err, errlen) < 0)
		goto done;
	if (conf_apply(config_root_setting(&cf), coord_keys,
	    sizeof(coord_keys) / sizeof(coord_keys[0]), &c, path, err,
	    errlen) < 0)
		goto done;
	if (parse_hosts(config_lookup(&cf, "hosts"), &c, path, err, errlen) < 0)
		goto done;
	if ((s = config_lookup(&cf, "pinned")) != NULL &&
	    parse_strv(s, &c.pinned, &c.npinned, path, err, errlen) < 0)
		goto done;
	if ((s = config_lookup(&cf, "groups")) != NULL &&
	    parse_groups(s, &c, path, err, errlen) < 0)
		goto done;
	if ((s = config_lookup(&cf, "vms")) != NULL &&
	    parse_vms(s, &c, path, err, errlen) < 0)
		goto done;
	if ((s = config_lookup(&cf, "zone_policy")) != NULL) {
		const char *zp = config_setting_get_string(s);

		if (zp == NULL || (strcmp(zp, "stay") && strcmp(zp, "any"))) {
			snprintf(err, errlen, "%s:%d: zone_policy must be \"stay\" "
			    "or \"any\"", path, config_setting_source_line(s));
			goto done;
		}
		c.zone_stay = strcmp(zp, "stay") == 0;
	}
	if ((s = config_lookup(&cf, "store")) != NULL &&
	    parse_store(s, &c, path, err, errlen) < 0)
		goto done;
	if ((s = config_lookup(&cf, "postcopy")) != NULL) {
		const char *pc = config_setting_get_string(s);

		if ((c.postcopy = converge_postcopy_mode(pc)) == 0) {
			snprintf(err, errlen, "%s:%d: postcopy must be \"never\", "
			    "\"stalled\" or \"always\"", path,
			    config_setting_source_line(s));
			goto done;
		}
	}
	if ((s = config_lookup(&cf, "rebalance")) != NULL) {
		char *end;

		if (!config_setting_is_group(s)) {
			snprintf(err, errlen, "%s:%d: rebalance must be a group "
			    "{ ... }", path, config_setting_source_line(s));
			goto done;
		}
		if (conf_apply(s, rebalance_keys, sizeof(rebalance_keys) /
		    sizeof(rebalance_keys[0]), &c.rebalance, path, err,
		    errlen) < 0)
			goto done;
		if (strcmp(c.rebalance.policy, "balance") != 0 &&
		    strcmp(c.rebalance.policy, "consolidate") != 0) {
			snprintf(err, errlen, "%s:%d: rebalance policy must be "
			    "\"balance\" or \"consolidate\"", path,
			    config_setting_source_line(s));
			goto done;
		}
		if (strtod(c.rebalance.threshold, &end) < 0 || *end != '\0') {
			snprintf(err, errlen, "%s:%d: rebalance threshold must be "
			    "a number", path, config_setting_source_line(s));
			goto done;
		}
	}
	if ((s = config_lookup(&cf, "ha")) != NULL) {
		struct lease_conf lc;

		if (!config_setting_is_group(s)) {
			snprintf(err, errlen, "%s:%d: ha must be a group "
			    "{ ... }", path, config_setting_source_line(s));
			goto done;
		}
		if (conf_apply(s, ha_keys, sizeof(ha_keys) / sizeof(ha_keys[0]),
		    &c.ha, path, err, errlen) < 0)
			goto done;
		/* The lease lives with the PostgreSQL store by default. */
		if (c.ha.conninfo[0] == '\0' &&
		    strcmp(c.store.backend, "postgresql") == 0)
			snprintf(c.ha.conninfo, sizeof(c.ha.conninfo), "%s",
			    c.store.conninfo);
		if (c.ha.conninfo[0] == '\0') {
			snprintf(err, errlen, "%s:%d: ha needs conninfo (or "
			    "store = { backend = \"postgresql\"; ... })", path,
			    config_setting_source_line(s));
			goto done;
		}
		if (validate_host_name(c.ha.node, err, errlen) < 0) {
			snprintf(err, errlen, "%s:%d: ha node '%s' is not a name",
			    path, config_setting_source_line(s), c.ha.node);
			goto done;
		}
		if (parse_ha_relay(s, &c, path, err, errlen) < 0)
			goto done;
		memset(&lc, 0, sizeof(lc));
		snprintf(lc.node, sizeof(lc.node), "%s", c.ha.node);
		lc.ttl_ms = c.ha.lease_ms;
		lc.renew_ms = c.ha.renew_ms;
		lc.margin_ms = c.ha.margin_ms;
		lc.timeout_ms = c.ha.timeout_ms;
		if (lease_conf_check(&lc, err, errlen) < 0) {
			char why[256];

			snprintf(why, sizeof(why), "%s", err);
			snprintf(err, errlen, "%s:%d: %s", path,
			    config_setting_source_line(s), why);
			goto done;
		}
	}
	if ((s = config_lookup(&cf, "http")) != NULL) {
		if (!config_setting_is_group(s)) {
			snprintf(err, errlen, "%s:%d: http must be a group "
			    "{ listen = ...; cert = ...; key = ...; tokens = ...; }",
			    path, config_setting_source_line(s));
			goto done;
		}
		if (conf_apply(s, http_keys, sizeof(http_keys) /
		    sizeof(http_keys[0]), &c.http, path, err, errlen) < 0)
			goto done;
		c.http.enabled = 1;
	}
	if (strcmp(c.migration_tls, "off") != 0 &&
	    strcmp(c.migration_tls, "on") != 0 &&
	    strcmp(c.migration_tls, "required") != 0) {
		snprintf(err, errlen, "%s: migration_tls must be \"off\", "
		    "\"on\" or \"required\"", path);
		goto done;
	}
	if (c.backoff_min_ms > c.backoff_max_ms) {
		snprintf(err, errlen, "%s: backoff_min_ms is above backoff_max_ms",
		    path);
		goto done;
	}
	*out = c;
	c.hosts = NULL;
	c.pinned = NULL;
	c.npinned = 0;
	c.groups = NULL;
	c.ngroups = 0;
	c.vms = NULL;
	c.nvms = 0;
	rc = 0;
done:
	parse_coord_conf_clear(&c);
	config_destroy(&cf);
	return rc;
}
