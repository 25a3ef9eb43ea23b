/* validate.c: see validate.h. Each returns 0, or -1 with a reason. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/uri.h>

#include "validate.h"

/* libvirt accepts almost anything as a domain name; Ferry takes what
 * operators use: printable, no '/', no leading '-' or '.', <= 255 bytes. */
int
validate_domain_name(const char *s, char *err, size_t errlen)
{
	size_t i, n = s ? strlen(s) : 0;

	if (n == 0 || n > 255) {
		snprintf(err, errlen, "a VM name must have 1 to 255 characters");
		return -1;
	}
	if (s[0] == '-' || s[0] == '.') {
		snprintf(err, errlen, "VM name '%.64s' must not start with '%c'",
		    s, s[0]);
		return -1;
	}
	for (i = 0; i < n; i++) {
		unsigned char c = s[i];

		if (c < 0x20 || c == 0x7f || c == '/' || c == '\\') {
			snprintf(err, errlen, "VM name has a forbidden character "
			    "(0x%02x) at %zu", c, i);
			return -1;
		}
	}
	return 0;
}

int
validate_host_name(const char *s, char *err, size_t errlen)
{
	size_t i, n = s ? strlen(s) : 0;

	if (n == 0 || n > 63) {
		snprintf(err, errlen, "a host name must have 1 to 63 characters");
		return -1;
	}
	for (i = 0; i < n; i++)
		if (!(s[i] == '-' || s[i] == '_' || s[i] == '.' ||
		    (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		    (s[i] >= '0' && s[i] <= '9'))) {
			snprintf(err, errlen, "host name has a forbidden character "
			    "at %zu", i);
			return -1;
		}
	return 0;
}

static int
validate_in(const char *s, const char *allowed)
{
	for (; *s; s++)
		if ((*s < 'a' || *s > 'z') && (*s < 'A' || *s > 'Z') &&
		    (*s < '0' || *s > '9') && strchr(allowed, *s) == NULL)
			return -1;
	return 0;
}

/* A DNS name, an IPv4 address or an IPv6 literal (without brackets, as
 * libxml2 hands the server over). */
static int
validate_server(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	if (n == 0 || n > 253 || s[0] == '-' || s[0] == '.')
		return -1;
	if (s[0] == '[' && s[n - 1] == ']' && n > 2)	/* libxml2 keeps them */
		return strspn(s + 1, "0123456789abcdefABCDEF:.") == n - 2 ? 0 : -1;
	if (strchr(s, ':') != NULL)
		return strspn(s, "0123456789abcdefABCDEF:.") == n ? 0 : -1;
	return validate_in(s, "-.");
}

/*
 * The query parameters a peer-to-peer migration may carry in the
 * destination's libvirt URI. Everything else is refused: libvirt's remote
 * driver runs `command=` (ssh transports) and connects to `socket=`,
 * `netcat=`, `proxy=`, `mode=`, `name=`, and `known_hosts*=`, `sshauth=`,
 * `no_tty=` loosen how it reaches the peer; none is needed to migrate.
 *   no_verify=0|1        qemu+tls: skip the peer's certificate check
 *   pkipath=/ABS/DIR     qemu+tls: the directory of this host's PKI
 *   keyfile=/ABS/FILE    qemu+ssh: the private key to log in with
 */
static int
validate_query_param(const char *p, size_t len, char *err, size_t errlen)
{
	char buf[600];
	const char *v;

	if (len == 0)
		return 0;	/* "a&&b": libvirt skips empty ones too */
	if (len >= sizeof(buf)) {
		snprintf(err, errlen, "libvirt URI parameter too long");
		return -1;
	}
	memcpy(buf, p, len);
	buf[len] = '\0';
	if ((v = strchr(buf, '=')) == NULL) {
		snprintf(err, errlen, "libvirt URI parameter '%.64s' has no value",
		    buf);
		return -1;
	}
	buf[v - buf] = '\0';
	v++;
	if (strcmp(buf, "no_verify") == 0) {
		if (strcmp(v, "0") == 0 || strcmp(v, "1") == 0)
			return 0;
	} else if (strcmp(buf, "pkipath") == 0 || strcmp(buf, "keyfile") == 0) {
		if (v[0] == '/' && strstr(v, "..") == NULL &&
		    validate_in(v, "/._-") == 0)
			return 0;
	} else {
		snprintf(err, errlen, "libvirt URI parameter '%.64s' is not "
		    "allowed (only no_verify, pkipath, keyfile)", buf);
		return -1;
	}
	snprintf(err, errlen, "libvirt URI parameter %s has a bad value", buf);
	return -1;
}

/*
 * A libvirt URI of the QEMU driver on another host, for a peer-to-peer
 * migration: qemu[+tcp|+tls|+ssh|+libssh|+libssh2]://[USER@]SERVER[:PORT]
 * /system[?ALLOWED-PARAMS]. Parsed with libxml2's URI parser, as libvirt
 * itself parses it (virURIParse), so both see the same parts.
 */
int
validate_libvirt_uri(const char *s, char *err, size_t errlen)
{
	static const char *schemes[] = {
		"qemu", "qemu+tcp", "qemu+tls", "qemu+ssh", "qemu+libssh",
		"qemu+libssh2",
	};
	xmlURIPtr u = NULL;
	const char *q, *amp, *query;
	size_t i;
	int rc = -1;

	if (s == NULL || strlen(s) > 1000) {
		snprintf(err, errlen, "bad libvirt URI");
		return -1;
	}
	/* No escapes, no spaces or quotes: nothing a legitimate URI needs,
	 * and each is a way to hide a parameter from a check. */
	query = strchr(s, '?');
	for (q = s; *q; q++)
		if ((unsigned char)*q <= 0x20 || *q == 0x7f || *q == '%' ||
		    *q == '\'' || *q == '"' || *q == '`' || *q == '\\' ||
		    (*q == '+' && query != NULL && q > query)) {
			snprintf(err, errlen, "libvirt URI has a forbidden "
			    "character (0x%02x)", (unsigned char)*q);
			return -1;
		}
	if ((u = xmlParseURI(s)) == NULL || u->scheme == NULL) {
		snprintf(err, errlen, "libvirt URI '%.200s' does not parse", s);
		goto done;
	}
	for (i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++)
		if (strcmp(u->scheme, schemes[i]) == 0)
			break;
	if (i == sizeof(schemes) / sizeof(schemes[0])) {
		snprintf(err, errlen, "libvirt URI '%.200s' is not a remote qemu "
		    "URI (qemu, qemu+tcp, qemu+tls, qemu+ssh, qemu+libssh)", s);
		goto done;
	}
	if (validate_server(u->server) < 0) {
		snprintf(err, errlen, "libvirt URI '%.200s' names no valid host",
		    s);
		goto done;
	}
	if (u->user != NULL && (u->user[0] == '\0' || u->user[0] == '-' ||
	    validate_in(u->user, "._-") < 0)) {
		snprintf(err, errlen, "libvirt URI '%.200s' has a bad user", s);
		goto done;
	}
	if (u->port < 0 || u->port > 65535) {
		snprintf(err, errlen, "libvirt URI '%.200s' has a bad port", s);
		goto done;
	}
	if (u->path == NULL || strcmp(u->path, "/system") != 0) {
		snprintf(err, errlen, "libvirt URI '%.200s' must name /system", s);
		goto done;
	}
	if (u->fragment != NULL || u->opaque != NULL || u->authority != NULL) {
		snprintf(err, errlen, "libvirt URI '%.200s' has a fragment or "
		    "an unexpected part", s);
		goto done;
	}
	/* query_raw: as written, so a check and libvirt split it alike
	 * (libvirt splits on '&' and ';'). */
	for (q = u->query_raw; q != NULL && *q; q = *amp ? amp + 1 : amp) {
		amp = q + strcspn(q, "&;");
		if (validate_query_param(q, amp - q, err, errlen) < 0)
			goto done;
	}
	rc = 0;
done:
	xmlFreeURI(u);
	return rc;
}

/* Where QEMU's migration stream goes: HOST or HOST:PORT (an IPv6 address
 * in brackets). */
int
validate_migration_address(const char *s, char *err, size_t errlen)
{
	char host[300];
	const char *colon, *end;
	size_t n = s ? strlen(s) : 0;
	long port;

	if (n == 0 || n >= sizeof(host)) {
		snprintf(err, errlen, "bad migration address");
		return -1;
	}
	if (s[0] == '[') {
		if ((end = strchr(s, ']')) == NULL)
			goto bad;
		snprintf(host, sizeof(host), "%.*s", (int)(end - s - 1), s + 1);
		colon = end[1] == ':' ? end + 1 : NULL;
		if (end[1] != '\0' && colon == NULL)
			goto bad;
		if (strchr(host, ':') == NULL)
			goto bad;
	} else {
		colon = strchr(s, ':');
		snprintf(host, sizeof(host), "%.*s", colon ? (int)(colon - s) :
		    (int)n, s);
		if (strchr(host, ':') != NULL)
			goto bad;
	}
	if (validate_server(host) < 0)
		goto bad;
	if (colon != NULL) {
		char *e;

		port = strtol(colon + 1, &e, 10);
		if (colon[1] == '\0' || *e != '\0' || port < 1 || port > 65535)
			goto bad;
	}
	return 0;
bad:
	snprintf(err, errlen, "migration address '%.200s' is not HOST or "
	    "HOST:PORT", s);
	return -1;
}

/* QEMU's migration stream: tcp://HOST[:PORT] only (what Ferry builds from
 * a migration address); rdma://, unix: and exec: are refused. */
int
validate_migrate_uri(const char *s, char *err, size_t errlen)
{
	if (s == NULL || strncmp(s, "tcp://", 6) != 0 ||
	    validate_migration_address(s + 6, err, errlen) < 0) {
		snprintf(err, errlen, "migration URI '%.200s' is not "
		    "tcp://HOST[:PORT]", s ? s : "");
		return -1;
	}
	return 0;
}

/* A number of multifd connections: 1..VALIDATE_PARALLEL_MAX. */
int
validate_parallel(unsigned long long n, char *err, size_t errlen)
{
	if (n >= 1 && n <= VALIDATE_PARALLEL_MAX)
		return 0;
	snprintf(err, errlen, "--parallel %llu: the number of migration "
	    "streams must be 1 (one stream) to %d", n, VALIDATE_PARALLEL_MAX);
	return -1;
}
