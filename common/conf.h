/* conf.h: table-driven validation of libconfig settings, shared by both
 * daemons' parse.c. libconfig does the syntax (and reports its own line);
 * this checks names, types, ranges and required keys, and reports
 * "FILE:LINE: message" for each problem it finds. */
#ifndef FERRY_CONF_H
#define FERRY_CONF_H

#include <stddef.h>
#include <stdint.h>

#include <libconfig.h>

enum conf_type {
	CONF_STR,	/* char[size] at off */
	CONF_INT,	/* int at off, within [min, max] */
	CONF_U64,	/* uint64_t at off, within [min, max] */
	CONF_BOOL,	/* int at off */
	CONF_CUSTOM,	/* handled by the caller; only the name is accepted */
};

struct conf_key {
	const char	*name;
	enum conf_type	 type;
	int		 required;
	size_t		 off;
	size_t		 size;		/* CONF_STR: buffer size */
	long long	 min, max;	/* CONF_INT, CONF_U64 */
};

/* conf.c */
int	conf_load(config_t *, const char *path, char *err, size_t errlen);
int	conf_apply(const config_setting_t *group, const struct conf_key *,
	    size_t nkeys, void *base, const char *path, char *err, size_t errlen);
int	conf_get_str(const config_setting_t *, const char *name, char *dst,
	    size_t size, int required, const char *path, char *err, size_t errlen);
int	conf_check_private(const char *file, const char *what, char *err, size_t errlen);

#endif
