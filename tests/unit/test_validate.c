/* test_validate.c: what may reach libvirt as a name or URI. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "validate.h"

static void
test_domain_names(void **state)
{
	char err[256], longname[300];

	(void)state;
	assert_int_equal(validate_domain_name("vm1", err, sizeof(err)), 0);
	assert_int_equal(validate_domain_name("web-01.prod_a b", err,
	    sizeof(err)), 0);
	assert_int_equal(validate_domain_name("", err, sizeof(err)), -1);
	assert_int_equal(validate_domain_name(NULL, err, sizeof(err)), -1);
	assert_int_equal(validate_domain_name("../etc", err, sizeof(err)), -1);
	assert_int_equal(validate_domain_name("a/b", err, sizeof(err)), -1);
	assert_int_equal(validate_domain_name("-rf", err, sizeof(err)), -1);
	assert_int_equal(validate_domain_name("a\nb", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "0x0a"));
	memset(longname, 'x', 256);
	longname[256] = '\0';
	assert_int_equal(validate_domain_name(longname, err, sizeof(err)), -1);
	longname[255] = '\0';
	assert_int_equal(validate_domain_name(longname, err, sizeof(err)), 0);
}

static void
test_uris(void **state)
{
	char err[256];

	(void)state;
	assert_int_equal(validate_libvirt_uri("qemu+tcp://10.0.0.2/system", err,
	    sizeof(err)), 0);
	assert_int_equal(validate_libvirt_uri("qemu+tls://kvm1/system", err,
	    sizeof(err)), 0);
	assert_int_equal(validate_libvirt_uri("xen://x/", err, sizeof(err)), -1);
	assert_int_equal(validate_libvirt_uri("qemu+ssh://h/system?command="
	    "'rm -rf /'", err, sizeof(err)), -1);
	assert_int_equal(validate_libvirt_uri("qemu+tcp://h/system;reboot", err,
	    sizeof(err)), -1);	/* a path other than /system */
	assert_int_equal(validate_migrate_uri("tcp://198.18.1.12", err,
	    sizeof(err)), 0);
	assert_int_equal(validate_migrate_uri("exec:cat /etc/shadow", err,
	    sizeof(err)), -1);
	assert_int_equal(validate_migrate_uri("tcp://a b", err, sizeof(err)),
	    -1);
	assert_int_equal(validate_migrate_uri("unix:/tmp/x", err, sizeof(err)),
	    -1);
	assert_int_equal(validate_migrate_uri("tcp://[fd00::2]:49152", err,
	    sizeof(err)), 0);
	assert_int_equal(validate_migrate_uri("tcp://h:1:2", err, sizeof(err)),
	    -1);
	assert_int_equal(validate_host_name("h1", err, sizeof(err)), 0);
	assert_int_equal(validate_host_name("h1;ls", err, sizeof(err)), -1);
}

/* Finding 1 of issue 11: libvirt's remote driver runs the command= of an
 * ssh URI; every parameter off a short allowlist is refused, however it is
 * spelled. */
static void
test_uri_parameters(void **state)
{
	static const char *refused[] = {
		"qemu+ssh://198.18.23.12/system?command=/mnt/nfs/payload",
		"qemu+ssh://h/system?no_verify=1&command=/bin/sh",
		"qemu+ssh://h/system?no_verify=1;command=/bin/sh",
		"qemu+ssh://h/system?Command=/bin/sh",
		"qemu+ssh://h/system?comm%61nd=/bin/sh",
		"qemu+ssh://h/system?netcat=/tmp/nc",
		"qemu+ssh://h/system?known_hosts_verify=ignore",
		"qemu+ssh://h/system?known_hosts=/tmp/kh",
		"qemu+libssh://h/system?sshauth=agent",
		"qemu+unix:///system?socket=/tmp/evil.sock",
		"qemu+tcp://h/system?socket=/tmp/evil.sock",
		"qemu+tcp://h/system?mode=direct",
		"qemu+tcp://h/system?proxy=native",
		"qemu+tcp://h/system?name=qemu:///system",
		"qemu+ext://h/system?command=/bin/sh",
		"qemu+ssh://h/system#frag",
		"qemu+ssh://h/session",
		"qemu+ssh:///system",
		"qemu+ssh://-oProxyCommand=x/system",
		"qemu+ssh://h/system?keyfile=../../etc/shadow",
		"qemu+tls://h/system?no_verify=yes",
		"qemu+tls://h/system?pkipath=/etc/pki/../../tmp",
		"qemu+ssh://h/system?keyfile",
		"qemu+ssh://h/system?+command=/bin/sh",
	};
	static const char *allowed[] = {
		"qemu+tcp://198.18.23.12/system",
		"qemu+tls://kvm1.example.org:16514/system",
		"qemu://kvm1/system",
		"qemu+ssh://root@kvm1/system?keyfile=/etc/ferry/libvirt_key",
		"qemu+tls://kvm1/system?pkipath=/etc/pki/libvirt&no_verify=0",
		"qemu+tcp://[fd00::2]/system",
	};
	char err[256];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		err[0] = '\0';
		if (validate_libvirt_uri(refused[i], err, sizeof(err)) != -1)
			fail_msg("accepted %s", refused[i]);
		assert_true(err[0] != '\0');
	}
	for (i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++)
		if (validate_libvirt_uri(allowed[i], err, sizeof(err)) != 0)
			fail_msg("refused %s: %s", allowed[i], err);
	assert_int_equal(validate_libvirt_uri("qemu+ssh://h/system?command=/x",
	    err, sizeof(err)), -1);
	assert_non_null(strstr(err, "'command' is not allowed"));
	assert_int_equal(validate_migration_address("198.18.23.12", err,
	    sizeof(err)), 0);
	assert_int_equal(validate_migration_address("kvm1:49152", err,
	    sizeof(err)), 0);
	assert_int_equal(validate_migration_address("a/b", err, sizeof(err)),
	    -1);
	assert_int_equal(validate_migration_address("h?x=1", err, sizeof(err)),
	    -1);
}

static void
test_parallel(void **state)
{
	char err[256];

	(void)state;
	assert_int_equal(validate_parallel(1, err, sizeof(err)), 0);
	assert_int_equal(validate_parallel(VALIDATE_PARALLEL_MAX, err,
	    sizeof(err)), 0);
	assert_int_equal(validate_parallel(0, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "--parallel 0: the number of migration "
	    "streams must be 1 (one stream) to 16"));
	assert_int_equal(validate_parallel(1000, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "--parallel 1000"));
	assert_int_equal(validate_parallel(~0ULL, err, sizeof(err)), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_domain_names),
		cmocka_unit_test(test_uris),
		cmocka_unit_test(test_uri_parameters),
		cmocka_unit_test(test_parallel),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
