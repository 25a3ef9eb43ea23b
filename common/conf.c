/* conf.c: see conf.h. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "conf.h"

/* Reads and parses path into cf (caller config_init'd it). */
int
conf_load(config_t *cf, const char *path, char *err, size_t errlen)
{
	FILE *fp;

	if ((fp = fopen(path, "r")) == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (config_read(cf, fp) != CONFIG_TRUE) {
		snprintf(err, errlen, "%s:%d: %s", path, config_error_line(cf),
		    config_error_text(cf));
		fclose(fp);
		return -1;
	}
	fclose(fp);
	return 0;
}

static const struct conf_key *
conf_lookup(const struct conf_key *keys, size_t n, const char *name)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(keys[i].name, name) == 0)
			return &keys[i];
	return NULL;
}

static int
conf_one(const config_setting_t *s, const struct conf_key *k, void *base,
    const char *path, char *err, size_t errlen)
{
	int line = config_setting_source_line(s);
	int type = config_setting_type(s);
	char *p = (char *)base + k->off;
	long long v;
	const char *str;

	switch (k->type) {
	case CONF_STR:
		if (type != CONFIG_TYPE_STRING)
			goto badtype;
		str = config_setting_get_string(s);
		if (str[0] == '\0') {
			snprintf(err, errlen, "%s:%d: %s must not be empty",
			    path, line, k->name);
			return -1;
		}
		if (strlen(str) >= k->size) {
			snprintf(err, errlen, "%s:%d: %s is too long (max %zu)",
			    path, line, k->name, k->size - 1);
			return -1;
		}
		memcpy(p, str, strlen(str) + 1);
		return 0;
	case CONF_INT:
	case CONF_U64:
		if (type == CONFIG_TYPE_INT)
			v = config_setting_get_int(s);
		else if (type == CONFIG_TYPE_INT64)
			v = config_setting_get_int64(s);
		else
			goto badtype;
		if (v < k->min || v > k->max) {
			snprintf(err, errlen, "%s:%d: %s = %lld is out of range "
			    "[%lld, %lld]", path, line, k->name, v, k->min, k->max);
			return -1;
		}
		if (k->type == CONF_INT)
			*(int *)(void *)p = (int)v;
		else
			*(uint64_t *)(void *)p = (uint64_t)v;
		return 0;
	case CONF_BOOL:
		if (type != CONFIG_TYPE_BOOL)
			goto badtype;
		*(int *)(void *)p = config_setting_get_bool(s);
		return 0;
	case CONF_CUSTOM:
		return 0;
	}
badtype:
	snprintf(err, errlen, "%s:%d: %s must be %s", path, line, k->name,
	    k->type == CONF_STR ? "a string" : k->type == CONF_BOOL ?
	    "true or false" : "an integer");
	return -1;
}

/*
 * Copies every known setting of group into base as keys describe. Unknown
 * names, wrong types, out-of-range values and missing required keys are
 * errors naming the file and line.
 */
int
conf_apply(const config_setting_t *group, const struct conf_key *keys,
    size_t n, void *base, const char *path, char *err, size_t errlen)
{
	const config_setting_t *s;
	const struct conf_key *k;
	int i, count = config_setting_length(group);
	size_t j;

	for (i = 0; i < count; i++) {
		s = config_setting_get_elem(group, i);
		if ((k = conf_lookup(keys, n, config_setting_name(s))) == NULL) {
			snprintf(err, errlen, "%s:%d: unknown setting '%s'", path,
			    config_setting_source_line(s), config_setting_name(s));
			return -1;
		}
		if (conf_one(s, k, base, path, err, errlen) < 0)
			return -1;
	}
	for (j = 0; j < n; j++) {
		if (keys[j].required &&
		    config_setting_get_member(group, keys[j].name) == NULL) {
			snprintf(err, errlen, "%s:%d: missing required setting "
			    "'%s'", path, config_setting_source_line(group),
			    keys[j].name);
			return -1;
		}
	}
	return 0;
}

/* A string member of a group (a list element), for nested settings. */
int
conf_get_str(const config_setting_t *group, const char *name, char *dst,
    size_t size, int required, const char *path, char *err, size_t errlen)
{
	const config_setting_t *s = config_setting_get_member(group, name);
	const char *v;

	if (s == NULL) {
		if (!required)
			return 0;
		snprintf(err, errlen, "%s:%d: missing '%s'", path,
		    config_setting_source_line(group), name);
		return -1;
	}
	if ((v = config_setting_get_string(s)) == NULL || v[0] == '\0' ||
	    strlen(v) >= size) {
		snprintf(err, errlen, "%s:%d: '%s' must be a non-empty string "
		    "shorter than %zu", path, config_setting_source_line(s),
		    name, size);
		return -1;
	}
	memcpy(dst, v, strlen(v) + 1);
	return 0;
}

/* A secret (private key) must exist, be readable and not be readable by
 * group or others: refuse rather than run with a leaked key. */
int
conf_check_private(const char *file, const char *what, char *err, size_t errlen)
{
	struct stat st;

	if (stat(file, &st) == -1) {
		snprintf(err, errlen, "%s %s: %s", what, file, strerror(errno));
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s %s: not a regular file", what, file);
		return -1;
	}
	if (st.st_mode & 077) {
		snprintf(err, errlen, "%s %s: mode %04o is accessible by group "
		    "or others; chmod 600 it", what, file, st.st_mode & 07777);
		return -1;
	}
	return 0;
}
