/* transport_keys.c: the files that hold keys: the private key's
 * mode, sshd's StrictModes for authorized_keys and known_hosts, and the
 * authorized keys themselves.
 */
#include <sys/types.h>
#include <sys/stat.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <libssh/libssh.h>

#include "log.h"
#include "transport_int.h"

/* Secrets must be 0600 (or stricter); say so rather than use them. */
int
tr_check_private(const char *path, char *err, size_t errlen)
{
	struct stat st;

	if (path == NULL) {
		snprintf(err, errlen, "no private key file given");
		return -1;
	}
	if (stat(path, &st) == -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (st.st_mode & 077) {
		snprintf(err, errlen, "%s: private key is accessible by "
		    "group/others (mode %04o); it must be 0600", path,
		    (unsigned)(st.st_mode & 07777));
		return -1;
	}
	return 0;
}

/*
 * sshd's StrictModes for the files that decide who gets in (authorized_keys)
 * and whom we believe (known_hosts): a regular file owned by root or by us
 * and writable by nobody else, in directories nobody else can write to (a
 * root-owned sticky directory such as /tmp is fine: others cannot replace
 * what is ours in it). Anything else would let a local user add a key.
 */
int
tr_check_trusted(const char *path, const char *what, char *err, size_t errlen)
{
	char real[PATH_MAX], *slash;
	struct stat st;
	uid_t me = geteuid();
	int dir = 0;

	if (path == NULL) {
		snprintf(err, errlen, "no %s file given", what);
		return -1;
	}
	if (realpath(path, real) == NULL || stat(real, &st) == -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s: %s is not a regular file", path, what);
		return -1;
	}
	for (;;) {
		if (st.st_uid != 0 && st.st_uid != me) {
			snprintf(err, errlen, "%s: refusing %s: %s%s is owned by "
			    "uid %u (only root or uid %u may own it)", path, what,
			    dir ? "directory " : "", real, (unsigned)st.st_uid,
			    (unsigned)me);
			return -1;
		}
		if ((st.st_mode & 022) && !(dir && (st.st_mode & S_ISVTX) &&
		    st.st_uid == 0)) {
			snprintf(err, errlen, "%s: refusing %s: %s%s is writable "
			    "by group/others (mode %04o)", path, what, dir ?
			    "directory " : "", real, (unsigned)(st.st_mode & 07777));
			return -1;
		}
		if (strcmp(real, "/") == 0)
			return 0;
		if ((slash = strrchr(real, '/')) == real)
			real[1] = '\0';
		else
			*slash = '\0';
		dir = 1;
		if (stat(real, &st) == -1) {
			snprintf(err, errlen, "%s: %s", real, strerror(errno));
			return -1;
		}
	}
}

/* Re-read per session so operators can edit the file without a restart.
 * Returns the number of keys (in *keys, caller frees with tr_keys_free) or
 * -1 when the file cannot be read. */
int
tr_keys_load(const char *path, ssh_key **keysp)
{
	FILE *fp;
	char *line = NULL, *p, *type, *b64, *save;
	size_t cap = 0;
	ssh_key *keys = NULL, *nk, key;
	int n = 0, lineno = 0;
	enum ssh_keytypes_e kt;

	*keysp = NULL;
	if ((fp = fopen(path, "r")) == NULL) {
		log_warn("%s", path);
		return -1;
	}
	while (getline(&line, &cap, fp) != -1) {
		lineno++;
		p = line + strspn(line, " \t");
		if (*p == '#' || *p == '\n' || *p == '\r' || *p == '\0')
			continue;
		type = strtok_r(p, " \t\r\n", &save);
		b64 = strtok_r(NULL, " \t\r\n", &save);
		kt = type ? ssh_key_type_from_name(type) : SSH_KEYTYPE_UNKNOWN;
		key = NULL;
		if (kt == SSH_KEYTYPE_UNKNOWN || b64 == NULL ||
		    ssh_pki_import_pubkey_base64(b64, kt, &key) != SSH_OK) {
			log_warnx("%s:%d: cannot parse (key options are not "
			    "supported), line skipped", path, lineno);
			continue;
		}
		if ((nk = reallocarray(keys, n + 1, sizeof(*keys))) == NULL) {
			ssh_key_free(key);
			log_warn("%s", __func__);
			break;
		}
		keys = nk;
		keys[n++] = key;
	}
	free(line);
	fclose(fp);
	*keysp = keys;
	return n;
}

void
tr_keys_free(ssh_key *keys, int n)
{
	int i;

	for (i = 0; i < n; i++)
		ssh_key_free(keys[i]);
	free(keys);
}
