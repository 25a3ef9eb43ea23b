/* tlscheck.c: is this host set up for a TLS migration? QEMU reads its
 * x509 files from qemu.conf's migrate_tls_x509_cert_dir (else
 * default_tls_x509_cert_dir, else /etc/pki/qemu): the destination, a TLS
 * server, needs ca-cert.pem, server-cert.pem and server-key.pem; the
 * source, its client (libvirt verifies clients by default), ca-cert.pem,
 * client-cert.pem and client-key.pem. Without them libvirt fails the
 * migration only once it has started the destination's QEMU; this says it
 * before anything starts. It checks that the files are there, readable
 * and PEM, not that the hosts trust each other's CA: a host whose
 * certificates another CA signed passes here and fails the handshake
 * (the migration then rolls back like any other failure).
 *
 * Runs on worker threads (file reads).
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "hostd.h"

#define TLSCHECK_DEFAULT_DIR	"/etc/pki/qemu"

/* key = "value" in qemu.conf (libvirt's syntax: # comments), into v. */
static int
tlscheck_conf_value(const char *line, const char *key, char *v, size_t vlen)
{
	const char *p = line, *q;
	size_t kl = strlen(key);

	while (isspace((unsigned char)*p))
		p++;
	if (strncmp(p, key, kl) != 0)
		return 0;
	p += kl;
	while (isspace((unsigned char)*p))
		p++;
	if (*p++ != '=')
		return 0;
	while (isspace((unsigned char)*p))
		p++;
	if (*p++ != '"' || (q = strchr(p, '"')) == NULL ||
	    (size_t)(q - p) >= vlen)
		return 0;
	snprintf(v, vlen, "%.*s", (int)(q - p), p);
	return 1;
}

/* The directory QEMU's migration TLS files are read from. */
void
tlscheck_dir(const char *qemu_conf, char *dir, size_t dlen)
{
	char line[1024], mig[512] = "", def[512] = "";
	FILE *fp;

	if (qemu_conf != NULL && (fp = fopen(qemu_conf, "re")) != NULL) {
		while (fgets(line, sizeof(line), fp) != NULL) {
			(void)tlscheck_conf_value(line,
			    "migrate_tls_x509_cert_dir", mig, sizeof(mig));
			(void)tlscheck_conf_value(line,
			    "default_tls_x509_cert_dir", def, sizeof(def));
		}
		fclose(fp);
	}
	snprintf(dir, dlen, "%s", mig[0] ? mig : def[0] ? def :
	    TLSCHECK_DEFAULT_DIR);
}

/* One PEM file: readable, and begins a PEM block. */
static int
tlscheck_file(const char *dir, const char *name, char *why, size_t whylen)
{
	char path[1024], line[256];
	FILE *fp;
	int ok = 0;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((fp = fopen(path, "re")) == NULL) {
		snprintf(why, whylen, "%s: %s", path, strerror(errno));
		return -1;
	}
	while (!ok && fgets(line, sizeof(line), fp) != NULL)
		ok = strncmp(line, "-----BEGIN ", 11) == 0;
	fclose(fp);
	if (!ok) {
		snprintf(why, whylen, "%s is not a PEM file", path);
		return -1;
	}
	return 0;
}

/*
 * 0 when this host can take the given side of a TLS migration (dir says
 * where it looked), -1 with why set otherwise.
 */
int
tlscheck_host(const char *qemu_conf, int server, char *dir, size_t dlen,
    char *why, size_t whylen)
{
	static const char *srv[] = { "ca-cert.pem", "server-cert.pem",
	    "server-key.pem" };
	static const char *cli[] = { "ca-cert.pem", "client-cert.pem",
	    "client-key.pem" };
	const char **v = server ? srv : cli;
	size_t i;

	tlscheck_dir(qemu_conf, dir, dlen);
	for (i = 0; i < 3; i++)
		if (tlscheck_file(dir, v[i], why, whylen) < 0)
			return -1;
	return 0;
}
