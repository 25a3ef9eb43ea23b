/* nfsprobe-cli.c: drives storage/ from tests/lab/storage_probe.sh against a
 * real NFS server. Not installed; the script compiles it with cc.
 *
 *   nfsprobe-cli export SERVER EXPORT VERS TIMEOUT_MS
 *   nfsprobe-cli file SERVER EXPORT RELPATH FORMAT TIMEOUT_MS
 *   nfsprobe-cli disk SERVER NAME FORMAT TIMEOUT_MS      (network disk, protocol nfs)
 *   nfsprobe-cli nonce-write DIR                          (prints NAME VALUE)
 *   nfsprobe-cli nonce-read DIR NAME VALUE
 *   nfsprobe-cli nonce-remove DIR NAME VALUE
 *   nfsprobe-cli nonce-nfs SERVER EXPORT RELDIR NAME VALUE VERS TIMEOUT_MS
 *
 * Prints "ok" or "fail: <error>" and the time taken; exit 0 on success.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "storage.h"

static int64_t
nfsprobe_cli_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int
nfsprobe_cli_nonce(struct nonce *n, const char *name, const char *value)
{
	memset(n, 0, sizeof(*n));
	if (strlen(name) >= sizeof(n->name) || strlen(value) >= sizeof(n->value))
		return -1;
	strcpy(n->name, name);
	strcpy(n->value, value);
	return 0;
}

static void
nfsprobe_cli_usage(void)
{
	fprintf(stderr, "usage: nfsprobe-cli export|file|disk|nonce-write|"
	    "nonce-read|nonce-remove|nonce-nfs ARGS (see the source)\n");
	exit(2);
}

int
main(int argc, char *argv[])
{
	struct nfsprobe_target t;
	struct storcheck_disk d;
	struct storcheck_result r;
	struct mountinfo *mi = NULL;
	struct nonce n;
	char err[STORAGE_ERR_MAX] = "";
	const char *cmd;
	int64_t t0;
	int rv;

	if (argc < 3)
		nfsprobe_cli_usage();
	cmd = argv[1];
	t0 = nfsprobe_cli_ms();
	if (strcmp(cmd, "export") == 0 && argc == 6) {
		t = (struct nfsprobe_target){ argv[2], argv[3], atoi(argv[4]) };
		rv = nfsprobe_export(&t, atoi(argv[5]), err, sizeof(err));
	} else if (strcmp(cmd, "file") == 0 && argc == 7) {
		t = (struct nfsprobe_target){ argv[2], argv[3], 3 };
		rv = nfsprobe_file(&t, argv[4], argv[5], atoi(argv[6]), err,
		    sizeof(err));
	} else if (strcmp(cmd, "disk") == 0 && argc == 6) {
		d = (struct storcheck_disk){ .target = "vda",
		    .type = "network", .device = "disk", .protocol = "nfs",
		    .host = argv[2], .source = argv[3], .format = argv[4] };
		if (mountinfo_read(NULL, &mi, err, sizeof(err)) == -1) {
			printf("fail: %s\n", err);
			return 1;
		}
		rv = storcheck_disk(&d, mi, atoi(argv[5]), &r);
		snprintf(err, sizeof(err), "%s", r.reason);
		if (rv == 0)
			printf("server %s export %s relpath %s\n", r.server,
			    r.export, r.relpath);
		mountinfo_free(mi);
	} else if (strcmp(cmd, "nonce-write") == 0 && argc == 3) {
		rv = nonce_write(argv[2], &n, 5000, err, sizeof(err));
		if (rv == 0)
			printf("%s %s\n", n.name, n.value);
	} else if (strcmp(cmd, "nonce-read") == 0 && argc == 5) {
		if (nfsprobe_cli_nonce(&n, argv[3], argv[4]) == -1)
			nfsprobe_cli_usage();
		rv = nonce_read(argv[2], &n, 5000, err, sizeof(err));
	} else if (strcmp(cmd, "nonce-remove") == 0 && argc == 5) {
		if (nfsprobe_cli_nonce(&n, argv[3], argv[4]) == -1)
			nfsprobe_cli_usage();
		rv = nonce_remove(argv[2], &n, 5000, err, sizeof(err));
	} else if (strcmp(cmd, "nonce-nfs") == 0 && argc == 9) {
		if (nfsprobe_cli_nonce(&n, argv[5], argv[6]) == -1)
			nfsprobe_cli_usage();
		t = (struct nfsprobe_target){ argv[2], argv[3], atoi(argv[7]) };
		rv = nfsprobe_nonce(&t, argv[4], &n, atoi(argv[8]), err,
		    sizeof(err));
	} else
		nfsprobe_cli_usage();
	if (rv == 0)
		printf("ok (%lld ms)\n", (long long)(nfsprobe_cli_ms() - t0));
	else
		printf("fail: %s (%s, %lld ms)\n", err, strerror(rv < -1 ?
		    -rv : EIO), (long long)(nfsprobe_cli_ms() - t0));
	return rv == 0 ? 0 : 1;
}
