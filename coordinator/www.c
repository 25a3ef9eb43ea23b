/* www.c: the web view's files (www/ in the source, installed under
 * /usr/share/ferry/www). They are read once at start into memory, and the
 * HTTPS server serves them from there: no request touches the disk or
 * names a path, only the fixed list below is served, and editing the page
 * needs no compiler. The page's Content-Security-Policy allows scripts,
 * styles and connections from the coordinator itself only, no inline
 * script or style, no frames. */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "coordinator.h"

#define WWW_MAX_FILE	(1024 * 1024)

static const struct {
	const char	*url;		/* what a request asks for */
	const char	*file;		/* under the directory */
	const char	*type;
} www_files[WWW_NFILES] = {
	{ "/", "index.html", "text/html; charset=utf-8" },
	{ "/ferry.css", "ferry.css", "text/css; charset=utf-8" },
	{ "/ferry.js", "ferry.js", "text/javascript; charset=utf-8" },
};

struct www {
	struct www_file	 f[WWW_NFILES];
};

static int
www_read(const char *path, char **out, size_t *lenp, char *err,
    size_t errlen)
{
	struct stat sb;
	char *buf = NULL;
	size_t got = 0;
	ssize_t n;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) == -1) {
		snprintf(err, errlen, "web view: %s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &sb) == -1 || !S_ISREG(sb.st_mode) ||
	    sb.st_size > WWW_MAX_FILE) {
		snprintf(err, errlen, "web view: %s: not a regular file of at "
		    "most %d bytes", path, WWW_MAX_FILE);
		goto fail;
	}
	if ((buf = malloc((size_t)sb.st_size + 1)) == NULL) {
		snprintf(err, errlen, "web view: out of memory");
		goto fail;
	}
	while (got < (size_t)sb.st_size && (n = read(fd, buf + got,
	    (size_t)sb.st_size - got)) > 0)
		got += (size_t)n;
	if (got != (size_t)sb.st_size) {
		snprintf(err, errlen, "web view: %s: short read", path);
		goto fail;
	}
	buf[got] = '\0';
	close(fd);
	*out = buf;
	*lenp = got;
	return 0;
fail:
	free(buf);
	close(fd);
	return -1;
}

/* At start, before the HTTPS server's threads: they only read it. */
int
www_load(struct coord *co, const char *dir, char *err, size_t errlen)
{
	struct www *w;
	char path[PATH_MAX];
	size_t i;

	if ((w = calloc(1, sizeof(*w))) == NULL) {
		snprintf(err, errlen, "web view: out of memory");
		return -1;
	}
	for (i = 0; i < WWW_NFILES; i++) {
		if (snprintf(path, sizeof(path), "%s/%s", dir,
		    www_files[i].file) >= (int)sizeof(path)) {
			snprintf(err, errlen, "web view: %s: path too long",
			    dir);
			goto fail;
		}
		w->f[i].url = www_files[i].url;
		w->f[i].type = www_files[i].type;
		if (www_read(path, &w->f[i].data, &w->f[i].len, err,
		    errlen) < 0)
			goto fail;
	}
	www_free(co);
	co->www = w;
	return 0;
fail:
	for (i = 0; i < WWW_NFILES; i++)
		free(w->f[i].data);
	free(w);
	return -1;
}

/* The file a URL path names; NULL: none (any query is the caller's). */
const struct www_file *
www_find(const struct www *w, const char *url)
{
	size_t i;

	if (w == NULL)
		return NULL;
	if (strcmp(url, "/index.html") == 0)
		url = "/";
	for (i = 0; i < WWW_NFILES; i++)
		if (strcmp(w->f[i].url, url) == 0)
			return &w->f[i];
	return NULL;
}

void
www_free(struct coord *co)
{
	size_t i;

	if (co->www == NULL)
		return;
	for (i = 0; i < WWW_NFILES; i++)
		free(co->www->f[i].data);
	free(co->www);
	co->www = NULL;
}
