/* mountinfo.c: parse /proc/self/mountinfo and find the mount holding a path.
 *
 * Line format (proc(5)):
 *   36 25 0:45 / /var/lib/nova/instances rw,relatime shared:20 - nfs4 10.0.0.5:/export/vms rw,...
 *   id parent major:minor root mountpoint options [optional...] - fstype source superopts
 * root, mount point and source escape space, tab, newline and backslash as
 * \040 \011 \012 \134.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "storage.h"

#define MOUNTINFO_MAXSIZE	(64 * 1024 * 1024)

static void
mountinfo_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
mountinfo_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* Decode \ooo escapes in place. -1 on a stray backslash or \000. */
static int
mountinfo_unescape(char *s)
{
	char *r, *w;
	int v;

	for (r = w = s; *r != '\0'; r++, w++) {
		if (*r != '\\') {
			*w = *r;
			continue;
		}
		if (r[1] < '0' || r[1] > '3' || r[2] < '0' || r[2] > '7' ||
		    r[3] < '0' || r[3] > '7')
			return -1;
		v = (r[1] - '0') * 64 + (r[2] - '0') * 8 + (r[3] - '0');
		if (v == 0)
			return -1;
		*w = (char)v;
		r += 3;
	}
	*w = '\0';
	return 0;
}

static int
mountinfo_number(const char *s, long max, long *v)
{
	char *end;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	*v = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || *v > max)
		return -1;
	return 0;
}

/* Parse one line (len bytes, no newline) into e; e->buf owns a copy. */
static int
mountinfo_line(const char *line, size_t len, int lineno,
    struct mountinfo_entry *e, char *err, size_t errlen)
{
	char *f[64], *p, *colon;
	size_t nf = 0, sep, i;
	long v;

	memset(e, 0, sizeof(*e));
	e->line = lineno;
	if ((e->buf = malloc(len + 1)) == NULL) {
		mountinfo_err(err, errlen, "line %d: out of memory", lineno);
		return -1;
	}
	memcpy(e->buf, line, len);
	e->buf[len] = '\0';
	if (memchr(line, '\0', len) != NULL) {
		mountinfo_err(err, errlen, "line %d: NUL byte", lineno);
		goto fail;
	}

	/* The kernel separates fields with exactly one space. */
	for (p = e->buf;;) {
		if (nf == sizeof(f) / sizeof(f[0])) {
			mountinfo_err(err, errlen, "line %d: too many fields",
			    lineno);
			goto fail;
		}
		f[nf++] = p;
		if ((p = strchr(p, ' ')) == NULL)
			break;
		*p++ = '\0';
	}
	for (i = 0; i < nf; i++)
		if (*f[i] == '\0') {
			mountinfo_err(err, errlen, "line %d: empty field %zu",
			    lineno, i + 1);
			goto fail;
		}
	for (sep = 6; sep < nf && strcmp(f[sep], "-") != 0; sep++)
		;
	if (nf < 10 || sep >= nf) {
		mountinfo_err(err, errlen, "line %d: %zu fields or no \"-\" "
		    "separator", lineno, nf);
		goto fail;
	}
	if (nf - sep != 4) {
		mountinfo_err(err, errlen, "line %d: %zu fields after \"-\", "
		    "expected 3", lineno, nf - sep - 1);
		goto fail;
	}

	if (mountinfo_number(f[0], INT_MAX, &v) == -1) {
		mountinfo_err(err, errlen, "line %d: bad mount id \"%s\"",
		    lineno, f[0]);
		goto fail;
	}
	e->id = (int)v;
	if (mountinfo_number(f[1], INT_MAX, &v) == -1) {
		mountinfo_err(err, errlen, "line %d: bad parent id \"%s\"",
		    lineno, f[1]);
		goto fail;
	}
	e->parent = (int)v;
	if ((colon = strchr(f[2], ':')) == NULL) {
		mountinfo_err(err, errlen, "line %d: bad major:minor \"%s\"",
		    lineno, f[2]);
		goto fail;
	}
	*colon = '\0';
	if (mountinfo_number(f[2], UINT_MAX, &v) == -1) {
		*colon = ':';
		mountinfo_err(err, errlen, "line %d: bad major:minor \"%s\"",
		    lineno, f[2]);
		goto fail;
	}
	e->major = (unsigned int)v;
	if (mountinfo_number(colon + 1, UINT_MAX, &v) == -1) {
		*colon = ':';
		mountinfo_err(err, errlen, "line %d: bad major:minor \"%s\"",
		    lineno, f[2]);
		goto fail;
	}
	e->minor = (unsigned int)v;

	if (mountinfo_unescape(f[3]) == -1 || mountinfo_unescape(f[4]) == -1 ||
	    mountinfo_unescape(f[sep + 2]) == -1) {
		mountinfo_err(err, errlen, "line %d: bad escape sequence",
		    lineno);
		goto fail;
	}
	/* root is not always a path: nsfs shows "net:[4026532178]". */
	if (f[4][0] != '/') {
		mountinfo_err(err, errlen, "line %d: mount point \"%s\" not "
		    "absolute", lineno, f[4]);
		goto fail;
	}
	e->root = f[3];
	e->mountpoint = f[4];
	e->options = f[5];
	/* Optional fields are contiguous: put their spaces back. */
	if (sep > 6) {
		for (i = 6; i + 1 < sep; i++)
			f[i][strlen(f[i])] = ' ';
		e->optional = f[6];
	} else
		e->optional = f[sep] + 1;	/* the "" after "-" */
	e->fstype = f[sep + 1];
	e->source = f[sep + 2];
	e->superopts = f[sep + 3];
	e->bind = e->root[0] == '/' && e->root[1] != '\0';
	return 0;
 fail:
	free(e->buf);
	e->buf = NULL;
	return -1;
}

void
mountinfo_free(struct mountinfo *mi)
{
	size_t i;

	if (mi == NULL)
		return;
	for (i = 0; i < mi->nentries; i++)
		free(mi->entries[i].buf);
	free(mi->entries);
	free(mi);
}

int
mountinfo_parse(const char *text, struct mountinfo **mip, char *err,
    size_t errlen)
{
	struct mountinfo *mi;
	struct mountinfo_entry *ne;
	const char *line, *nl;
	size_t cap = 0, len;
	int lineno = 0;

	*mip = NULL;
	if ((mi = calloc(1, sizeof(*mi))) == NULL) {
		mountinfo_err(err, errlen, "out of memory");
		return -1;
	}
	for (line = text; *line != '\0'; line = nl + 1) {
		lineno++;
		if ((nl = strchr(line, '\n')) == NULL)
			nl = line + strlen(line) - 1;	/* last, unterminated */
		len = (size_t)(nl - line) + (*nl == '\n' ? 0 : 1);
		if (len == 0)
			continue;
		if (mi->nentries == cap) {
			cap = cap ? cap * 2 : 64;
			ne = reallocarray(mi->entries, cap, sizeof(*ne));
			if (ne == NULL) {
				mountinfo_err(err, errlen, "out of memory");
				goto fail;
			}
			mi->entries = ne;
		}
		if (mountinfo_line(line, len, lineno,
		    &mi->entries[mi->nentries], err, errlen) == -1)
			goto fail;
		mi->nentries++;
		if (nl[1] == '\0')
			break;
	}
	if (mi->nentries == 0) {
		mountinfo_err(err, errlen, "no mounts");
		goto fail;
	}
	*mip = mi;
	return 0;
 fail:
	mountinfo_free(mi);
	return -1;
}

int
mountinfo_read(const char *path, struct mountinfo **mip, char *err,
    size_t errlen)
{
	char *text = NULL, *nt;
	size_t len = 0, cap = 0;
	ssize_t n;
	int fd, rv = -1;

	*mip = NULL;
	if (path == NULL)
		path = MOUNTINFO_PATH;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		mountinfo_err(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	/* procfs files have no size: read until EOF. */
	for (;;) {
		if (cap - len < 4096) {
			if (cap >= MOUNTINFO_MAXSIZE) {
				mountinfo_err(err, errlen, "%s: too large",
				    path);
				goto done;
			}
			cap = cap ? cap * 2 : 16384;
			if ((nt = realloc(text, cap + 1)) == NULL) {
				mountinfo_err(err, errlen, "out of memory");
				goto done;
			}
			text = nt;
		}
		n = read(fd, text + len, cap - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			mountinfo_err(err, errlen, "%s: %s", path,
			    strerror(errno));
			goto done;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	text[len] = '\0';
	if (mountinfo_parse(text, mip, err, errlen) == -1) {
		/* Prefix the file name to the parser's message. */
		if (err != NULL && errlen > 0) {
			char msg[STORAGE_ERR_MAX];

			snprintf(msg, sizeof(msg), "%s", err);
			snprintf(err, errlen, "%s: %s", path, msg);
		}
		goto done;
	}
	rv = 0;
 done:
	free(text);
	close(fd);
	return rv;
}

/* Lexically clean an absolute path: no "//", ".", "..", trailing "/". */
static int
mountinfo_clean(const char *path, char *out, size_t outlen)
{
	const char *p, *end;
	size_t o = 0, n;

	if (path == NULL || path[0] != '/' || outlen < 2)
		return -1;
	for (p = path; *p != '\0'; p = end) {
		while (*p == '/')
			p++;
		if (*p == '\0')
			break;
		if ((end = strchr(p, '/')) == NULL)
			end = p + strlen(p);
		n = (size_t)(end - p);
		if (n == 1 && p[0] == '.')
			continue;
		if (n == 2 && p[0] == '.' && p[1] == '.') {
			while (o > 0 && out[o - 1] != '/')
				o--;
			if (o > 0)
				o--;
			continue;
		}
		if (o + 1 + n + 1 > outlen)
			return -1;
		out[o++] = '/';
		memcpy(out + o, p, n);
		o += n;
	}
	if (o == 0)
		out[o++] = '/';
	out[o] = '\0';
	return 0;
}

/* Is mount point mp path itself or an ancestor of it? Returns its length
 * (0 for "/"), or -1. */
static ssize_t
mountinfo_covers(const char *mp, const char *path)
{
	size_t n;

	if (strcmp(mp, "/") == 0)
		return 0;
	n = strlen(mp);
	if (strncmp(mp, path, n) != 0 || (path[n] != '\0' && path[n] != '/'))
		return -1;
	return (ssize_t)n;
}

static const struct mountinfo_entry *
mountinfo_byid(const struct mountinfo *mi, int id)
{
	size_t i;

	for (i = 0; i < mi->nentries; i++)
		if (mi->entries[i].id == id)
			return &mi->entries[i];
	return NULL;
}

/*
 * Follow the mount tree as the kernel's path walk does: from the root
 * mount, step into the child mounted on the longest prefix of path. A child
 * mounted on its parent's own mount point is stacked on it and hides every
 * other child of that parent. Returns NULL when the tree is not usable (no
 * root, inconsistent ids): the caller falls back to the flat rule.
 */
static const struct mountinfo_entry *
mountinfo_walk(const struct mountinfo *mi, const char *path)
{
	const struct mountinfo_entry *cur = NULL, *e, *best;
	size_t i, steps;
	ssize_t n, bestn;
	int stacked;

	for (i = 0; i < mi->nentries; i++) {
		e = &mi->entries[i];
		if (strcmp(e->mountpoint, "/") == 0 &&
		    (e->parent == e->id || mountinfo_byid(mi, e->parent) == NULL))
			cur = e;
	}
	if (cur == NULL)
		return NULL;
	for (steps = 0; steps <= mi->nentries; steps++) {
		best = NULL;
		bestn = -1;
		stacked = 0;
		for (i = 0; i < mi->nentries; i++) {
			e = &mi->entries[i];
			if (e == cur || e->parent != cur->id ||
			    (n = mountinfo_covers(e->mountpoint, path)) == -1)
				continue;
			if (strcmp(e->mountpoint, cur->mountpoint) == 0) {
				if (!stacked)
					best = e;	/* hides the rest */
				stacked = 1;
				continue;
			}
			if (!stacked && n >= bestn) {
				best = e;
				bestn = n;
			}
		}
		if (best == NULL)
			return cur;
		cur = best;
	}
	return NULL;	/* a cycle of ids */
}

const struct mountinfo_entry *
mountinfo_find(const struct mountinfo *mi, const char *path)
{
	const struct mountinfo_entry *e, *best = NULL;
	char clean[PATH_MAX];
	ssize_t n, bestn = -1;
	size_t i;

	if (mi == NULL || mountinfo_clean(path, clean, sizeof(clean)) == -1)
		return NULL;
	if ((e = mountinfo_walk(mi, clean)) != NULL)
		return e;
	/* Flat rule: longest mount point, the last of a stack. */
	for (i = 0; i < mi->nentries; i++) {
		e = &mi->entries[i];
		n = mountinfo_covers(e->mountpoint, clean);
		if (n != -1 && n >= bestn) {
			best = e;
			bestn = n;
		}
	}
	return best;
}

int
mountinfo_nfs_source(const char *source, char *server, size_t slen,
    char *path, size_t plen)
{
	const char *sep, *s = source;
	size_t n;

	if (source == NULL || (sep = strstr(source, ":/")) == NULL ||
	    sep == source)
		return -EINVAL;
	n = (size_t)(sep - s);
	if (s[0] == '[' && sep[-1] == ']') {	/* [fd00::5]:/export */
		s++;
		n -= 2;
	}
	if (n == 0 || n >= slen || strlen(sep + 1) >= plen)
		return -EINVAL;
	memcpy(server, s, n);
	server[n] = '\0';
	strcpy(path, sep + 1);
	return 0;
}

const struct mountinfo_entry *
mountinfo_bind_origin(const struct mountinfo *mi,
    const struct mountinfo_entry *me)
{
	const struct mountinfo_entry *e;
	size_t i, n;
	const char *mp, *op;

	if (mi == NULL || me == NULL)
		return NULL;
	mp = strchr(me->source, ':');
	for (i = 0; i < mi->nentries; i++) {
		e = &mi->entries[i];
		if (e == me)
			break;		/* earlier mounts only */
		if (e->major != me->major || e->minor != me->minor ||
		    strcmp(e->fstype, me->fstype) != 0)
			continue;
		if (me->bind)
			return e;	/* root tells already */
		/* Same superblock, source an ancestor of ours. */
		op = strchr(e->source, ':');
		if (mp == NULL || op == NULL || op - e->source !=
		    mp - me->source || strncmp(e->source, me->source,
		    (size_t)(op - e->source)) != 0)
			continue;
		n = strlen(op);
		if (n > 1 && op[n - 1] == '/')
			n--;
		if (strncmp(op, mp, n) == 0 && mp[n] == '/' && mp[n + 1] != '\0')
			return e;
	}
	return NULL;
}
