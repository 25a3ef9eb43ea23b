/*
 * cmd-token.c: ferryctl token add NAME --role read|operate [--file FILE]:
 * a new bearer token for the HTTPS API. The token (32 bytes from the
 * kernel's random source) is printed once; the file keeps only its
 * SHA-256 (GnuTLS), as `name role sha256hex`. The coordinator reads the
 * file again when it changes: no restart. Works on the file, not the
 * socket, so it runs where the file is (the coordinator's machine).
 */
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

#include "ferryctl.h"

#define TOKEN_FILE	"/etc/ferry/api-tokens"
#define TOKEN_BYTES	32

static int
token_name_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 63)
		return 0;
	return strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "0123456789._-") == n;
}

/* Is name already in the file (open on fd)? -1 on a read error. */
static int
token_has_name(int fd, const char *name)
{
	char line[512], first[128];
	FILE *f;
	int dfd, found = 0;

	if ((dfd = dup(fd)) == -1 || (f = fdopen(dfd, "r")) == NULL) {
		if (dfd != -1)
			close(dfd);
		return -1;
	}
	rewind(f);
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "%127s", first) == 1 && first[0] != '#' &&
		    strcmp(first, name) == 0)
			found = 1;
	fclose(f);
	return found;
}

static int
token_add(const char *file, const char *name, const char *role)
{
	uint8_t raw[TOKEN_BYTES], hash[32];
	char token[2 * TOKEN_BYTES + 8], line[256];
	struct stat st;
	size_t i, off = 0;
	ssize_t n;
	int fd, rc = CTL_EXIT_FAIL, has;

	if ((fd = open(file, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC |
	    O_NOFOLLOW, 0600)) == -1) {
		out_fail("%s: %s", file, strerror(errno));
		return CTL_EXIT_FAIL;
	}
	/* Two adds at once: one after the other, each sees the other's. */
	if (flock(fd, LOCK_EX) == -1 || fstat(fd, &st) == -1) {
		out_fail("%s: %s", file, strerror(errno));
		goto done;
	}
	if (!S_ISREG(st.st_mode) || (st.st_mode & 077) != 0) {
		out_fail("%s: mode %04o is accessible by group or others: "
		    "refusing to add a token to it (chmod 600 it)", file,
		    (unsigned)(st.st_mode & 07777));
		goto done;
	}
	if ((has = token_has_name(fd, name)) != 0) {
		if (has < 0)
			out_fail("%s: %s", file, strerror(errno));
		else
			out_fail("a token named '%s' is already in %s", name,
			    file);
		goto done;
	}
	for (i = 0; i < sizeof(raw); i += (size_t)n)
		if ((n = getrandom(raw + i, sizeof(raw) - i, 0)) <= 0) {
			out_fail("getrandom: %s", strerror(errno));
			goto done;
		}
	off = (size_t)snprintf(token, sizeof(token), "fy_");
	for (i = 0; i < sizeof(raw); i++)
		off += (size_t)snprintf(token + off, sizeof(token) - off, "%02x",
		    raw[i]);
	if (gnutls_hash_fast(GNUTLS_DIG_SHA256, token, strlen(token),
	    hash) != 0) {
		out_fail("cannot hash the token");
		goto done;
	}
	off = (size_t)snprintf(line, sizeof(line), "%s %s ", name, role);
	for (i = 0; i < sizeof(hash); i++)
		off += (size_t)snprintf(line + off, sizeof(line) - off, "%02x",
		    hash[i]);
	off += (size_t)snprintf(line + off, sizeof(line) - off, "\n");
	if (write(fd, line, off) != (ssize_t)off || fsync(fd) == -1) {
		out_fail("%s: %s", file, strerror(errno));
		goto done;
	}
	printf("%s\n", token);
	rc = CTL_EXIT_OK;
done:
	explicit_bzero(raw, sizeof(raw));
	explicit_bzero(token, sizeof(token));
	close(fd);
	return rc;
}

static int
cmd_token_exec(struct ctl *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "role", required_argument, NULL, 'r' },
		{ "file", required_argument, NULL, 'f' },
		{ NULL, 0, NULL, 0 },
	};
	const char *role = NULL, *file, *env;
	int ch;

	(void)c;
	file = (env = getenv("FERRY_TOKENS")) && env[0] ? env : TOKEN_FILE;
	if (argc < 3 || strcmp(argv[1], "add") != 0)
		return out_usage(&cmd_token);
	optind = 0;
	while ((ch = getopt_long(argc - 1, argv + 1, "r:f:", opts, NULL)) != -1) {
		switch (ch) {
		case 'r':
			role = optarg;
			break;
		case 'f':
			file = optarg;
			break;
		default:
			return out_usage(&cmd_token);
		}
	}
	if (optind != argc - 2 || role == NULL)
		return out_usage(&cmd_token);
	if (!token_name_ok(argv[optind + 1])) {
		out_fail("token name '%s': 1-63 letters, digits, '.', '_', '-'",
		    argv[optind + 1]);
		return CTL_EXIT_USAGE;
	}
	if (strcmp(role, "read") != 0 && strcmp(role, "operate") != 0) {
		out_fail("--role must be read or operate");
		return CTL_EXIT_USAGE;
	}
	return token_add(file, argv[optind + 1], role);
}

const struct ctl_cmd cmd_token = {
	"token", "add NAME --role read|operate [--file FILE]",
	"create an API token (printed once; the file keeps its SHA-256)",
	cmd_token_exec,
};
