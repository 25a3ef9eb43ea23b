/* version.h: the release, as debian/changelog names it (tests/unit/
 * t_version.sh checks that they agree), and the wire protocol's version. */
#ifndef FERRY_VERSION_H
#define FERRY_VERSION_H

#define FERRY_VERSION	"0.1.0"

/* "NAME 0.1.0 (protocol 1)\n" on stdout: --version of every binary. */
#define FERRY_VERSION_LINE(name)	name " " FERRY_VERSION \
	" (protocol " FERRY_STR(FERRY_PROTO_VERSION) ")\n"
#define FERRY_STR_(x)	#x
#define FERRY_STR(x)	FERRY_STR_(x)

#endif
