/*
 * http_token.c: the API's bearer tokens. The file holds one token a line,
 * `name role sha256hex`: only the SHA-256 of a token (GnuTLS's), never
 * the token, so the file read by an attacker opens nothing. It must be
 * 0600. It is read again when it changes (inode, size or mtime), so
 * `ferryctl token add` or an edit takes effect without a restart; a file
 * that became unreadable or invalid keeps no token at all (fail closed).
 */
#include <sys/stat.h>

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <nettle/memops.h>

#include "conf.h"
#include "http.h"
#include "log.h"

#define TOKENS_MAX	1024

struct http_token {
	char		name[64];
	enum http_role	role;
	uint8_t		hash[32];
};

struct http_tokens {
	char		*path;
	pthread_mutex_t	 mu;
	struct http_token *v;
	size_t		 n;
	dev_t		 dev;
	ino_t		 ino;
	off_t		 size;
	struct timespec	 mtime;
	struct timespec	 ctime;		/* a chmod changes it */
	mode_t		 mode;
	int		 valid;
};

enum http_role
http_role_of(const char *s)
{
	if (strcmp(s, "read") == 0)
		return HTTP_ROLE_READ;
	if (strcmp(s, "operate") == 0)
		return HTTP_ROLE_OPERATE;
	return HTTP_ROLE_NONE;
}

static int
http_token_hash(const char *token, uint8_t out[32])
{
	return gnutls_hash_fast(GNUTLS_DIG_SHA256, token, strlen(token),
	    out) == 0 ? 0 : -1;
}

int
http_token_hash_hex(const char *token, char out[65])
{
	uint8_t h[32];
	size_t i;

	if (http_token_hash(token, h) < 0)
		return -1;
	for (i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", h[i]);
	return 0;
}

static int
http_unhex(const char *s, uint8_t out[32])
{
	size_t i;
	unsigned v;

	if (strlen(s) != 64)
		return -1;
	for (i = 0; i < 32; i++) {
		if (!isxdigit((unsigned char)s[2 * i]) ||
		    !isxdigit((unsigned char)s[2 * i + 1]) ||
		    sscanf(s + 2 * i, "%2x", &v) != 1)
			return -1;
		out[i] = (uint8_t)v;
	}
	return 0;
}

/* Reads path into a fresh table. */
static int
http_tokens_read(const char *path, struct http_token **vp, size_t *np,
    char *err, size_t errlen)
{
	struct http_token *v = NULL, *nv;
	char line[512], name[128], role[32], hex[128], extra[8];
	size_t n = 0, i;
	int lineno = 0, rc = -1;
	FILE *f;

	if (conf_check_private(path, "http tokens", err, errlen) < 0)
		return -1;
	if ((f = fopen(path, "re")) == NULL) {
		snprintf(err, errlen, "http tokens %s: %s", path,
		    strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		lineno++;
		if (line[0] == '#' || strspn(line, " \t\r\n") == strlen(line))
			continue;
		if (sscanf(line, "%127s %31s %127s %7s", name, role, hex,
		    extra) != 3 || strlen(name) >= sizeof(v->name) ||
		    http_role_of(role) == HTTP_ROLE_NONE) {
			snprintf(err, errlen, "%s:%d: expected `name read|operate "
			    "sha256hex`", path, lineno);
			goto done;
		}
		if (n == TOKENS_MAX) {
			snprintf(err, errlen, "%s: more than %d tokens", path,
			    TOKENS_MAX);
			goto done;
		}
		if ((nv = realloc(v, (n + 1) * sizeof(*v))) == NULL) {
			snprintf(err, errlen, "out of memory");
			goto done;
		}
		v = nv;
		if (http_unhex(hex, v[n].hash) < 0) {
			snprintf(err, errlen, "%s:%d: the hash must be 64 hex "
			    "digits (sha256)", path, lineno);
			goto done;
		}
		for (i = 0; i < n; i++)
			if (strcmp(v[i].name, name) == 0) {
				snprintf(err, errlen, "%s:%d: token '%s' is "
				    "listed twice", path, lineno, name);
				goto done;
			}
		snprintf(v[n].name, sizeof(v[n].name), "%s", name);
		v[n].role = http_role_of(role);
		n++;
	}
	if (ferror(f)) {
		snprintf(err, errlen, "http tokens %s: read error", path);
		goto done;
	}
	*vp = v;
	*np = n;
	v = NULL;
	rc = 0;
done:
	fclose(f);
	free(v);
	return rc;
}

static void
http_tokens_seen(struct http_tokens *t, const struct stat *st)
{
	t->dev = st->st_dev;
	t->ino = st->st_ino;
	t->size = st->st_size;
	t->mode = st->st_mode;
	t->mtime = st->st_mtim;
	t->ctime = st->st_ctim;
}

/* Under t->mu: reads the file again if it is not what was read. */
static void
http_tokens_refresh(struct http_tokens *t)
{
	struct http_token *v = NULL;
	struct stat st;
	char err[512];
	size_t n = 0;

	if (stat(t->path, &st) == -1) {
		if (t->valid)
			log_warnx("http tokens %s: %s: no token is accepted "
			    "now", t->path, strerror(errno));
		t->valid = 0;
		t->n = 0;
		memset(&t->mtime, 0, sizeof(t->mtime));
		return;
	}
	if (st.st_dev == t->dev && st.st_ino == t->ino && st.st_size == t->size &&
	    st.st_mode == t->mode &&
	    st.st_mtim.tv_sec == t->mtime.tv_sec &&
	    st.st_mtim.tv_nsec == t->mtime.tv_nsec &&
	    st.st_ctim.tv_sec == t->ctime.tv_sec &&
	    st.st_ctim.tv_nsec == t->ctime.tv_nsec)
		return;
	http_tokens_seen(t, &st);
	if (http_tokens_read(t->path, &v, &n, err, sizeof(err)) < 0) {
		log_warnx("%s: no token is accepted until it is fixed", err);
		free(t->v);
		t->v = NULL;
		t->n = 0;
		t->valid = 0;
		return;
	}
	free(t->v);
	t->v = v;
	t->n = n;
	t->valid = 1;
	log_info("http tokens %s: %zu tokens", t->path, n);
}

int
http_tokens_open(const char *path, struct http_tokens **out, char *err,
    size_t errlen)
{
	struct http_tokens *t;
	struct stat st;

	if ((t = calloc(1, sizeof(*t))) == NULL ||
	    (t->path = strdup(path)) == NULL) {
		free(t);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	pthread_mutex_init(&t->mu, NULL);
	/* At start a bad file is an error; later it only locks the API. */
	if (http_tokens_read(path, &t->v, &t->n, err, errlen) < 0) {
		http_tokens_free(t);
		return -1;
	}
	t->valid = 1;
	if (stat(path, &st) == 0)
		http_tokens_seen(t, &st);
	*out = t;
	return 0;
}

void
http_tokens_free(struct http_tokens *t)
{
	if (t == NULL)
		return;
	pthread_mutex_destroy(&t->mu);
	free(t->v);
	free(t->path);
	free(t);
}

/*
 * Every entry is compared, in constant time (nettle's memeql_sec), so
 * neither the time to a match nor a prefix tells anything of a token.
 */
enum http_role
http_tokens_check(struct http_tokens *t, const char *token, char *name,
    size_t namelen)
{
	enum http_role role = HTTP_ROLE_NONE;
	uint8_t h[32];
	size_t i;

	if (token == NULL || *token == '\0' || strlen(token) > 256 ||
	    http_token_hash(token, h) < 0)
		return HTTP_ROLE_NONE;
	pthread_mutex_lock(&t->mu);
	http_tokens_refresh(t);
	for (i = 0; i < t->n; i++)
		if (memeql_sec(t->v[i].hash, h, sizeof(h)) &&
		    role == HTTP_ROLE_NONE) {
			role = t->v[i].role;
			snprintf(name, namelen, "%s", t->v[i].name);
		}
	pthread_mutex_unlock(&t->mu);
	return role;
}
