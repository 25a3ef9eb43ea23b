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
	    sizeof(err)), 0);	/* no shell ever sees it; libvirt rejects it */
	assert_int_equal(validate_migrate_uri("tcp://198.18.1.12", err,
	    sizeof(err)), 0);
	assert_int_equal(validate_migrate_uri("exec:cat /etc/shadow", err,
	    sizeof(err)), -1);
	assert_int_equal(validate_migrate_uri("tcp://a b", err, sizeof(err)),
	    -1);
	assert_int_equal(validate_host_name("h1", err, sizeof(err)), 0);
	assert_int_equal(validate_host_name("h1;ls", err, sizeof(err)), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_domain_names),
		cmocka_unit_test(test_uris),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
