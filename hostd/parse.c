/* parse.c: ferry-hostd's configuration file (libconfig syntax). */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "hostd.h"

#define OFF(f)	offsetof(struct hostd_conf, f)
#define SZ(f)	sizeof(((struct hostd_conf *)0)->f)

static const struct conf_key hostd_keys[] = {
	{ "listen", CONF_STR, 0, OFF(listen), SZ(listen), 0, 0 },
	{ "port", CONF_INT, 0, OFF(port), 0, 1, 65535 },
	{ "host_key", CONF_STR, 0, OFF(host_key), SZ(host_key), 0, 0 },
	{ "authorized_keys", CONF_STR, 0, OFF(authorized_keys),
	    SZ(authorized_keys), 0, 0 },
	{ "libvirt_uri", CONF_STR, 0, OFF(libvirt_uri), SZ(libvirt_uri), 0, 0 },
	{ "advertise_uri", CONF_STR, 1, OFF(advertise_uri), SZ(advertise_uri),
	    0, 0 },
	{ "migration_address", CONF_STR, 1, OFF(migration_address),
	    SZ(migration_address), 0, 0 },
	{ "memory_reserve_mib", CONF_U64, 0, OFF(memory_reserve_mib), 0, 0,
	    1LL << 40 },
	{ "capacity_mib", CONF_U64, 0, OFF(capacity_mib), 0, 0, 1LL << 40 },
	{ "heartbeat_interval_ms", CONF_INT, 0, OFF(heartbeat_interval_ms), 0,
	    100, 60000 },
	{ "refresh_interval_ms", CONF_INT, 0, OFF(refresh_interval_ms), 0,
	    500, 3600000 },
	{ "handshake_timeout_ms", CONF_INT, 0, OFF(handshake_timeout_ms), 0,
	    100, 120000 },
	{ "idle_timeout_ms", CONF_INT, 0, OFF(idle_timeout_ms), 0, 1000,
	    600000 },
	{ "max_sessions", CONF_INT, 0, OFF(max_sessions), 0, 1, 1024 },
	{ "max_startups", CONF_STR, 0, OFF(max_startups), SZ(max_startups), 0,
	    0 },
	{ "per_source_max_startups", CONF_INT, 0, OFF(per_source_max_startups),
	    0, 1, 4096 },
	{ "max_frame_rate", CONF_INT, 0, OFF(max_frame_rate), 0, 10, 1000000 },
	{ "privsep", CONF_BOOL, 0, OFF(privsep), 0, 0, 0 },
	{ "privsep_user", CONF_STR, 0, OFF(privsep_user), SZ(privsep_user), 0,
	    0 },
	{ "privsep_dir", CONF_STR, 0, OFF(privsep_dir), SZ(privsep_dir), 0, 0 },
	{ "state_dir", CONF_STR, 0, OFF(state_dir), SZ(state_dir), 0, 0 },
	{ "throttle_dir", CONF_STR, 0, OFF(throttle_dir), SZ(throttle_dir), 0,
	    0 },
	{ "qemu_conf", CONF_STR, 0, OFF(qemu_conf), SZ(qemu_conf), 0, 0 },
};

#define STARTUPS_MAX	4096

/* sshd's MaxStartups syntax: "begin:rate:full", or "n" for n:100:n. */
static int
parse_startups(struct hostd_conf *c, const config_t *cf, const char *path,
    char *err, size_t errlen)
{
	const config_setting_t *st = config_lookup(cf, "max_startups");
	int line = st ? config_setting_source_line(st) : 0;
	int b, r, f, n = -1;

	if (sscanf(c->max_startups, "%d:%d:%d%n", &b, &r, &f, &n) == 3 &&
	    n == (int)strlen(c->max_startups))
		;
	else if (n = -1, sscanf(c->max_startups, "%d%n", &b, &n) == 1 &&
	    n == (int)strlen(c->max_startups)) {
		r = 100;
		f = b;
	} else {
		snprintf(err, errlen, "%s:%d: max_startups '%s' is not "
		    "begin:rate:full (e.g. \"10:30:60\") or a number", path,
		    line, c->max_startups);
		return -1;
	}
	if (b < 1 || f > STARTUPS_MAX || b > f || r < 1 || r > 100) {
		snprintf(err, errlen, "%s:%d: max_startups '%s': need "
		    "1 <= begin <= full <= %d and 1 <= rate <= 100", path, line,
		    c->max_startups, STARTUPS_MAX);
		return -1;
	}
	c->startups_begin = b;
	c->startups_rate = r;
	c->startups_full = f;
	return 0;
}

void
parse_hostd_defaults(struct hostd_conf *c)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->listen, sizeof(c->listen), "0.0.0.0");
	c->port = HOSTD_DEFAULT_PORT;
	snprintf(c->host_key, sizeof(c->host_key),
	    "/etc/ssh/ssh_host_ed25519_key");
	snprintf(c->authorized_keys, sizeof(c->authorized_keys),
	    "/etc/ferry/authorized_keys");
	snprintf(c->libvirt_uri, sizeof(c->libvirt_uri), "qemu:///system");
	c->memory_reserve_mib = 1024;
	c->heartbeat_interval_ms = 1000;
	c->refresh_interval_ms = 10000;
	c->handshake_timeout_ms = 10000;
	c->idle_timeout_ms = 15000;
	c->max_sessions = 8;
	snprintf(c->max_startups, sizeof(c->max_startups), "%d:%d:%d",
	    TR_STARTUPS_BEGIN, TR_STARTUPS_RATE, TR_STARTUPS_FULL);
	c->startups_begin = TR_STARTUPS_BEGIN;
	c->startups_rate = TR_STARTUPS_RATE;
	c->startups_full = TR_STARTUPS_FULL;
	c->per_source_max_startups = TR_PER_SOURCE_STARTUPS;
	c->max_frame_rate = 2000;
	/* In-process users of hostd (tests, simulators) have no file to
	 * re-execute with; a configuration file turns it on by default. */
	c->privsep = 0;
	snprintf(c->privsep_user, sizeof(c->privsep_user), "nobody");
	snprintf(c->privsep_dir, sizeof(c->privsep_dir), "/run/ferry-hostd");
	/* /run: a throttle matters only while its QEMU runs */
	snprintf(c->throttle_dir, sizeof(c->throttle_dir),
	    "/run/ferry-hostd-throttle");
	snprintf(c->qemu_conf, sizeof(c->qemu_conf), "/etc/libvirt/qemu.conf");
}

/* Whether path is dir or below it (textually; both absolute). */
static int
parse_under(const char *path, const char *dir)
{
	size_t n = strlen(dir);

	while (n > 1 && dir[n - 1] == '/')
		n--;
	return strncmp(path, dir, n) == 0 && (path[n] == '\0' ||
	    path[n] == '/' || n == 1);
}

/*
 * Parses path into a fresh struct; *out is written only when the whole file
 * is valid, so a reload can keep the running configuration on error.
 */
int
parse_hostd_config(const char *path, struct hostd_conf *out, char *err,
    size_t errlen)
{
	struct hostd_conf c;
	config_t cf;
	int rc = -1;

	parse_hostd_defaults(&c);
	c.privsep = 1;
	snprintf(c.state_dir, sizeof(c.state_dir), "/var/lib/ferry-hostd");
	if (realpath(path, c.conf_file) == NULL)
		c.conf_file[0] = '\0';	/* conf_load says why */
	config_init(&cf);
	if (conf_load(&cf, path, err, errlen) < 0)
		goto done;
	if (conf_apply(config_root_setting(&cf), hostd_keys,
	    sizeof(hostd_keys) / sizeof(hostd_keys[0]), &c, path, err,
	    errlen) < 0)
		goto done;
	if (parse_startups(&c, &cf, path, err, errlen) < 0)
		goto done;
	if (strncmp(c.advertise_uri, "qemu", 4) != 0 ||
	    strstr(c.advertise_uri, "://") == NULL) {
		snprintf(err, errlen, "%s: advertise_uri '%s' is not a libvirt "
		    "qemu URI (e.g. qemu+tcp://host/system)", path,
		    c.advertise_uri);
		goto done;
	}
	if (c.capacity_mib != 0 && c.memory_reserve_mib >= c.capacity_mib) {
		snprintf(err, errlen, "%s: memory_reserve_mib (%llu) must be "
		    "below capacity_mib (%llu)", path,
		    (unsigned long long)c.memory_reserve_mib,
		    (unsigned long long)c.capacity_mib);
		goto done;
	}
	if (c.privsep && c.privsep_dir[0] != '/') {
		snprintf(err, errlen, "%s: privsep_dir '%s' is not an absolute "
		    "path", path, c.privsep_dir);
		goto done;
	}
	if (c.state_dir[0] != '/') {
		snprintf(err, errlen, "%s: state_dir '%s' is not an absolute "
		    "path", path, c.state_dir);
		goto done;
	}
	/* The network process must never reach the epoch file (fence.c). */
	if (c.privsep && (parse_under(c.state_dir, c.privsep_dir) ||
	    parse_under(c.privsep_dir, c.state_dir))) {
		snprintf(err, errlen, "%s: state_dir '%s' and privsep_dir '%s' "
		    "must not contain each other", path, c.state_dir,
		    c.privsep_dir);
		goto done;
	}
	*out = c;
	rc = 0;
done:
	config_destroy(&cf);
	return rc;
}
