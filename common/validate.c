/* validate.c: see validate.h. Each returns 0, or -1 with a reason. */
#include <stdio.h>
#include <string.h>

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
validate_uri_chars(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s <= 0x20 || *s == 0x7f || *s == '\'' ||
		    *s == '"' || *s == '`' || *s == '\\')
			return -1;
	return 0;
}

/* A libvirt URI of the QEMU driver that a peer libvirtd can open. */
int
validate_libvirt_uri(const char *s, char *err, size_t errlen)
{
	static const char *schemes[] = {
		"qemu://", "qemu+tcp://", "qemu+tls://", "qemu+ssh://",
		"qemu+libssh://", "qemu+libssh2://", "qemu+unix://",
	};
	size_t i;

	if (s == NULL || strlen(s) > 1000 || validate_uri_chars(s) < 0) {
		snprintf(err, errlen, "bad libvirt URI");
		return -1;
	}
	for (i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++)
		if (strncmp(s, schemes[i], strlen(schemes[i])) == 0)
			return 0;
	snprintf(err, errlen, "libvirt URI '%.200s' is not a qemu URI", s);
	return -1;
}

/* QEMU's migration stream: tcp://HOST[:PORT] or rdma:// or unix:. */
int
validate_migrate_uri(const char *s, char *err, size_t errlen)
{
	if (s == NULL || strlen(s) > 1000 || validate_uri_chars(s) < 0 ||
	    (strncmp(s, "tcp://", 6) != 0 && strncmp(s, "rdma://", 7) != 0 &&
	    strncmp(s, "unix:", 5) != 0)) {
		snprintf(err, errlen, "migration URI '%.200s' is not tcp://, "
		    "rdma:// or unix:", s ? s : "");
		return -1;
	}
	return 0;
}
