/* test_config.c: both daemons' configuration parsers and the checks on
 * secrets: every error names the file and line. */
#include <sys/stat.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "conf.h"
#include "coordinator.h"
#include "hostd.h"

static char tmpdir[] = "/tmp/ferry-test-config.XXXXXX";

static const char *
write_file(const char *name, const char *text, mode_t mode)
{
	static char path[512];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	assert_non_null(fp = fopen(path, "w"));
	fputs(text, fp);
	fclose(fp);
	assert_int_equal(chmod(path, mode), 0);
	return path;
}

static int
setup(void **state)
{
	(void)state;
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int
teardown(void **state)
{
	char cmd[600];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	return system(cmd);
}

#define HOSTD_OK							\
	"# lab host\n"							\
	"listen = \"198.18.1.11\";\n"					\
	"port = 7221;\n"						\
	"host_key = \"/k/host\";\n"					\
	"authorized_keys = \"/k/auth\";\n"				\
	"advertise_uri = \"qemu+tcp://198.18.1.11/system\";\n"		\
	"migration_address = \"198.18.1.11\";\n"			\
	"memory_reserve_mib = 256;\n"					\
	"capacity_mib = 4096;\n"

static void
test_hostd_ok(void **state)
{
	struct hostd_conf c;
	char err[512] = "";

	(void)state;
	assert_int_equal(parse_hostd_config(write_file("h.conf", HOSTD_OK,
	    0644), &c, err, sizeof(err)), 0);
	assert_string_equal(c.listen, "198.18.1.11");
	assert_int_equal(c.port, 7221);
	assert_string_equal(c.host_key, "/k/host");
	assert_string_equal(c.authorized_keys, "/k/auth");
	assert_string_equal(c.libvirt_uri, "qemu:///system");	/* default */
	assert_string_equal(c.advertise_uri, "qemu+tcp://198.18.1.11/system");
	assert_int_equal(c.memory_reserve_mib, 256);
	assert_int_equal(c.capacity_mib, 4096);
	assert_int_equal(c.heartbeat_interval_ms, 1000);	/* default */
	assert_int_equal(c.startups_begin, 10);			/* defaults */
	assert_int_equal(c.startups_rate, 30);
	assert_int_equal(c.startups_full, 60);
	assert_int_equal(c.per_source_max_startups, 4);
	assert_int_equal(c.max_frame_rate, 2000);
	assert_string_equal(c.state_dir, "/var/lib/ferry-hostd");
	assert_int_equal(parse_hostd_config(write_file("h.conf", HOSTD_OK
	    "privsep_dir = \"/run/fh\";\nstate_dir = \"/run/fh2\";\n", 0644),
	    &c, err, sizeof(err)), 0);
	assert_string_equal(c.state_dir, "/run/fh2");
	assert_int_equal(parse_hostd_config(write_file("h.conf", HOSTD_OK
	    "max_startups = \"5:50:20\";\nper_source_max_startups = 2;\n",
	    0644), &c, err, sizeof(err)), 0);
	assert_int_equal(c.startups_begin, 5);
	assert_int_equal(c.startups_rate, 50);
	assert_int_equal(c.startups_full, 20);
	assert_int_equal(c.per_source_max_startups, 2);
	assert_int_equal(parse_hostd_config(write_file("h.conf", HOSTD_OK
	    "max_startups = \"12\";\n", 0644), &c, err, sizeof(err)), 0);
	assert_int_equal(c.startups_begin, 12);
	assert_int_equal(c.startups_full, 12);
}

static void
expect_hostd_error(const char *text, const char *want)
{
	struct hostd_conf c;
	char err[512] = "";

	memset(&c, 0x5a, sizeof(c));
	assert_int_equal(parse_hostd_config(write_file("bad.conf", text, 0644),
	    &c, err, sizeof(err)), -1);
	if (strstr(err, want) == NULL)
		fail_msg("error '%s' does not contain '%s'", err, want);
	/* Nothing was half-applied. */
	assert_int_equal(c.port, 0x5a5a5a5a);
}

/* The two required settings, on lines 1 and 2. */
#define HOSTD_REQ							\
	"advertise_uri = \"qemu+tcp://198.18.1.11/system\";\n"		\
	"migration_address = \"198.18.1.11\";\n"

static void
test_hostd_errors(void **state)
{
	(void)state;
	expect_hostd_error(HOSTD_REQ "\nport = 70000;\n",
	    "bad.conf:4: port = 70000 is out of range [1, 65535]");
	expect_hostd_error(HOSTD_OK "colour = \"blue\";\n",
	    "bad.conf:10: unknown setting 'colour'");
	expect_hostd_error(HOSTD_REQ "port = \"7220\";\n",
	    "bad.conf:3: port must be an integer");
	expect_hostd_error(HOSTD_REQ "listen = 198.18.1.11;\n",
	    "bad.conf:3: ");
	expect_hostd_error(HOSTD_OK "port = 7222;\n",
	    "bad.conf:10: duplicate setting name");
	expect_hostd_error("listen = \"a\";\nport = 1\n", "bad.conf:");
	expect_hostd_error("advertise_uri = \"qemu+tcp://x/system\";\n",
	    "missing required setting 'migration_address'");
	expect_hostd_error("advertise_uri = \"http://x\";\n"
	    "migration_address = \"x\";\n", "is not a libvirt qemu URI");
	expect_hostd_error(HOSTD_REQ "capacity_mib = 4096;\n"
	    "memory_reserve_mib = 5000;\n", "must be below capacity_mib");
	expect_hostd_error(HOSTD_REQ "host_key = \"\";\n",
	    "bad.conf:3: host_key must not be empty");
	expect_hostd_error(HOSTD_REQ "max_startups = \"10:30\";\n",
	    "bad.conf:3: max_startups '10:30' is not begin:rate:full");
	expect_hostd_error(HOSTD_REQ "max_startups = \"10:30:60x\";\n",
	    "bad.conf:3: max_startups '10:30:60x' is not");
	expect_hostd_error(HOSTD_REQ "max_startups = \"60:30:10\";\n",
	    "bad.conf:3: max_startups '60:30:10': need 1 <= begin <= full");
	expect_hostd_error(HOSTD_REQ "max_startups = \"10:0:60\";\n",
	    "1 <= rate <= 100");
	expect_hostd_error(HOSTD_REQ "max_startups = \"0\";\n",
	    "bad.conf:3: max_startups '0': need");
	expect_hostd_error(HOSTD_REQ "max_startups = 10;\n",
	    "bad.conf:3: max_startups must be a string");
	expect_hostd_error(HOSTD_REQ "per_source_max_startups = 0;\n",
	    "bad.conf:3: per_source_max_startups = 0 is out of range");
	expect_hostd_error(HOSTD_REQ "max_frame_rate = 5;\n",
	    "bad.conf:3: max_frame_rate = 5 is out of range [10, 1000000]");
	/* The epoch file out of the network process's reach (fence.c). */
	expect_hostd_error(HOSTD_REQ "state_dir = \"var/ferry\";\n",
	    "state_dir 'var/ferry' is not an absolute path");
	expect_hostd_error(HOSTD_REQ "privsep_dir = \"/run/fh\";\n"
	    "state_dir = \"/run/fh/state\";\n", "must not contain each other");
	expect_hostd_error(HOSTD_REQ "privsep_dir = \"/var/lib/fh/ps/\";\n"
	    "state_dir = \"/var/lib/fh\";\n", "must not contain each other");
}

static void
test_hostd_missing_file(void **state)
{
	struct hostd_conf c;
	char err[512] = "";

	(void)state;
	assert_int_equal(parse_hostd_config("/nonexistent/hostd.conf", &c, err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "/nonexistent/hostd.conf: No such file"));
}

#define COORD_OK							\
	"database = \"/var/lib/ferry/f.db\";\n"				\
	"identity = \"/k/id\";\n"					\
	"known_hosts = \"/k/known\";\n"					\
	"hosts = (\n"							\
	"  { name = \"h1\"; address = \"198.18.1.11\"; },\n"		\
	"  { name = \"h2\"; address = \"198.18.1.12\"; port = 7300; }\n" \
	");\n"

static void
test_coord_ok(void **state)
{
	struct coord_conf c;
	char err[512] = "";

	(void)state;
	assert_int_equal(parse_coord_config(write_file("c.conf", COORD_OK,
	    0644), &c, err, sizeof(err)), 0);
	assert_string_equal(c.database, "/var/lib/ferry/f.db");
	assert_string_equal(c.socket, COORD_DEFAULT_SOCKET);
	assert_int_equal(c.nhosts, 2);
	assert_string_equal(c.hosts[0].name, "h1");
	assert_int_equal(c.hosts[0].port, 7220);
	assert_string_equal(c.hosts[1].address, "198.18.1.12");
	assert_int_equal(c.hosts[1].port, 7300);
	assert_int_equal(c.host_max_frame_rate, 500);		/* default */
	assert_string_equal(c.store.backend, "sqlite");		/* default */
	assert_string_equal(c.store.conninfo, "");
	assert_int_equal(c.migration_parallel, 0);		/* auto */
	assert_string_equal(c.migration_tls, "off");
	assert_int_equal(c.link_mibs, 0);			/* unknown */
	assert_int_equal(c.max_outgoing, 4);
	parse_coord_conf_clear(&c);
	parse_coord_conf_clear(&c);	/* twice is harmless */
	assert_int_equal(parse_coord_config(write_file("w.conf", COORD_OK
	    "migration_parallel = 4;\nmigration_tls = \"required\";\n"
	    "link_mibs = 1200;\nmax_outgoing = 6;\n", 0644), &c, err,
	    sizeof(err)), 0);
	assert_int_equal(c.migration_parallel, 4);
	assert_string_equal(c.migration_tls, "required");
	assert_int_equal(c.link_mibs, 1200);
	assert_int_equal(c.max_outgoing, 6);
	parse_coord_conf_clear(&c);

	/* The PostgreSQL store. */
	assert_int_equal(parse_coord_config(write_file("c.conf", COORD_OK
	    "store = { backend = \"postgresql\";\n"
	    "  conninfo = \"host=/run/pg dbname=ferry\"; };\n", 0644), &c,
	    err, sizeof(err)), 0);
	assert_string_equal(c.store.backend, "postgresql");
	assert_string_equal(c.store.conninfo, "host=/run/pg dbname=ferry");
	parse_coord_conf_clear(&c);
}

static void
expect_coord_error(const char *text, const char *want)
{
	struct coord_conf c;
	char err[512] = "";

	memset(&c, 0, sizeof(c));
	assert_int_equal(parse_coord_config(write_file("bad.conf", text, 0644),
	    &c, err, sizeof(err)), -1);
	if (strstr(err, want) == NULL)
		fail_msg("error '%s' does not contain '%s'", err, want);
	assert_null(c.hosts);
}

static void
test_coord_errors(void **state)
{
	(void)state;
	expect_coord_error("identity = \"/k\";\nknown_hosts = \"/k\";\n",
	    "missing required setting 'hosts'");
	expect_coord_error("identity = \"/k\";\nknown_hosts = \"/k\";\n"
	    "hosts = ();\n", "bad.conf:3: hosts is empty");
	expect_coord_error("identity = \"/k\";\nknown_hosts = \"/k\";\n"
	    "hosts = ( { name = \"h1\"; address = \"a\"; },\n"
	    "          { name = \"h1\"; address = \"b\"; } );\n",
	    "bad.conf:4: host 'h1' is listed twice");
	expect_coord_error("identity = \"/k\";\nknown_hosts = \"/k\";\n"
	    "hosts = ( { name = \"h 1\"; address = \"a\"; } );\n",
	    "host name 'h 1' may only use");
	expect_coord_error("identity = \"/k\";\nknown_hosts = \"/k\";\n"
	    "hosts = ( { name = \"h1\"; addr = \"a\"; } );\n",
	    "bad.conf:3: unknown host setting 'addr'");
	expect_coord_error("identity = \"/k\";\nknown_hosts = \"/k\";\n"
	    "hosts = ( { name = \"h1\"; address = \"a\"; port = 0; } );\n",
	    "port must be an integer in [1, 65535]");
	expect_coord_error(COORD_OK "backoff_min_ms = 5000;\n"
	    "backoff_max_ms = 100;\n", "backoff_min_ms is above");
	expect_coord_error(COORD_OK "migration_tls = \"yes\";\n",
	    "migration_tls must be \"off\", \"on\" or \"required\"");
	expect_coord_error(COORD_OK "migration_parallel = 1000;\n",
	    "migration_parallel = 1000 is out of range [0, 16]");
	expect_coord_error(COORD_OK "max_outgoing = 0;\n",
	    "max_outgoing = 0 is out of range [1, 64]");
	expect_coord_error(COORD_OK "host_max_frame_rate = 0;\n",
	    "host_max_frame_rate = 0 is out of range [10, 1000000]");
	expect_coord_error(COORD_OK "store = { backend = \"mysql\"; };\n",
	    "bad.conf:8: store backend must be \"sqlite\" or \"postgresql\"");
	expect_coord_error(COORD_OK "store = { backend = \"postgresql\"; };\n",
	    "bad.conf:8: store backend \"postgresql\" needs conninfo");
	expect_coord_error(COORD_OK "store = { backend = \"sqlite\"; "
	    "conninfo = \"x\"; };\n", "store conninfo is for backend");
	expect_coord_error(COORD_OK "store = { conninfo = \"x\"; };\n",
	    "backend");
	expect_coord_error(COORD_OK "store = \"pg\";\n",
	    "bad.conf:8: store must be a group");
	/* A password in a file others can read is refused. */
	expect_coord_error(COORD_OK "store = { backend = \"postgresql\"; "
	    "conninfo = \"dbname=ferry password=s3cret\"; };\n",
	    "mode 0644 is accessible by group or others");
	expect_coord_error(COORD_OK "hosts2 = 1;\n",
	    "bad.conf:8: unknown setting 'hosts2'");
	/* Placement keys. */
	expect_coord_error("identity = \"/k\";\nknown_hosts = \"/k\";\n"
	    "hosts = ( { name = \"h1\"; address = \"a\"; zone = \"a b\"; } );\n",
	    "bad.conf:3: zone 'a b' may only use");
	expect_coord_error("identity = \"/k\";\nknown_hosts = \"/k\";\n"
	    "hosts = ( { name = \"h1\"; address = \"a\";\n"
	    "  labels = [ \"ssd\", \"x;y\" ]; } );\n",
	    "bad.conf:4: labels: 'x;y' is not a label");
	expect_coord_error(COORD_OK "zone_policy = \"nearby\";\n",
	    "bad.conf:8: zone_policy must be \"stay\" or \"any\"");
	expect_coord_error(COORD_OK "vms = ( { name = \"v\"; zone = 3; } );\n",
	    "zone");
	expect_coord_error(COORD_OK "vms = ( { name = \"v\"; needs = [ ] ; } );\n",
	    "bad.conf:8: unknown VM setting 'needs'");
	expect_coord_error(COORD_OK "vms = ( { name = \"v\"; same_host = "
	    "[ \"w\" ]; different_host = [ \"w\" ]; } );\n",
	    "VM v: w is both same_host and different_host");
	expect_coord_error(COORD_OK "vms = ( { name = \"v\"; },\n"
	    "  { name = \"v\"; } );\n", "bad.conf:9: VM 'v' is listed twice");
	expect_coord_error(COORD_OK "groups = ( { name = \"g\"; type = \"anti\"; "
	    "hard = 1; vms = [ \"a\" ]; } );\n",
	    "group g: hard must be true or false");
	/* The HA relay: all its settings or none, peers other nodes. */
#define HA_PRE	COORD_OK "ha = { node = \"c1\"; conninfo = \"dbname=f\";\n"
	expect_coord_error(HA_PRE "relay_address = \"10.0.0.1\"; };\n",
	    "bad.conf:8: the ha relay needs relay_address, relay_host_key, "
	    "relay_authorized_keys and peers, all of them");
	expect_coord_error(HA_PRE "peers = ( { node = \"c1\"; address = "
	    "\"a\"; } ); };\n", "bad.conf:9: ha peer 'c1' is not another "
	    "node's name");
	expect_coord_error(HA_PRE "peers = ( { node = \"c2\"; address = "
	    "\"a\"; },\n { node = \"c2\"; address = \"b\"; } ); };\n",
	    "bad.conf:10: ha peer 'c2' twice");
	expect_coord_error(HA_PRE "peers = ( { node = \"c2\"; addr = "
	    "\"a\"; } ); };\n", "unknown setting 'addr'");
	expect_coord_error(HA_PRE "peers = ( { node = \"c2\"; address = "
	    "\"a\"; port = 70000; } ); };\n", "port");
}

/* The relay's settings as parsed, its port's default included. */
static void
test_coord_ha_relay(void **state)
{
	struct coord_conf c;
	char err[512] = "";

	(void)state;
	memset(&c, 0, sizeof(c));
	assert_int_equal(parse_coord_config(write_file("ha.conf", HA_PRE
	    "relay_address = \"10.0.0.1\"; relay_host_key = \"/k1\";\n"
	    "relay_authorized_keys = \"/k2\";\n"
	    "peers = ( { node = \"c2\"; address = \"10.0.0.2\"; },\n"
	    "  { node = \"c3\"; address = \"10.0.0.3\"; port = 7300; } ); };\n",
	    0600), &c, err, sizeof(err)), 0);
	assert_string_equal(c.ha.relay_address, "10.0.0.1");
	assert_int_equal(c.ha.relay_port, 7221);
	assert_int_equal(c.ha.npeers, 2);
	assert_string_equal(c.ha.peers[0].node, "c2");
	assert_int_equal(c.ha.peers[0].port, 7221);
	assert_string_equal(c.ha.peers[1].address, "10.0.0.3");
	assert_int_equal(c.ha.peers[1].port, 7300);
	parse_coord_conf_clear(&c);
}

/* Placement keys land where placement reads them. */
static void
test_coord_placement(void **state)
{
	struct coord_conf c;
	char err[512] = "";

	(void)state;
	assert_int_equal(parse_coord_config(write_file("p.conf",
	    "identity = \"/k\";\nknown_hosts = \"/k\";\n"
	    "hosts = ( { name = \"h1\"; address = \"a\"; zone = \"ra\";\n"
	    "  labels = [ \"ssd\", \"gpu=a100\" ]; },\n"
	    "  { name = \"h2\"; address = \"b\"; } );\n"
	    "zone_policy = \"any\";\n"
	    "groups = ( { name = \"g\"; type = \"anti\"; hard = false; "
	    "vms = [ \"a\", \"b\" ]; },\n"
	    "  { name = \"k\"; type = \"affinity\"; vms = [ \"c\" ]; } );\n"
	    "vms = ( { name = \"v\"; zone = \"rb\"; requires_labels = "
	    "[ \"ssd\" ];\n  same_host = [ \"w\" ]; different_host = "
	    "[ \"x\", \"y\" ]; } );\n", 0644), &c, err, sizeof(err)), 0);
	assert_string_equal(c.hosts[0].zone, "ra");
	assert_int_equal(c.hosts[0].nlabels, 2);
	assert_string_equal(c.hosts[0].labels[1], "gpu=a100");
	assert_string_equal(c.hosts[1].zone, "");
	assert_int_equal(c.hosts[1].nlabels, 0);
	assert_int_equal(c.zone_stay, 0);
	assert_int_equal(c.groups[0].hard, 0);
	assert_int_equal(c.groups[1].hard, 1);
	assert_int_equal(c.nvms, 1);
	assert_string_equal(c.vms[0].zone, "rb");
	assert_string_equal(c.vms[0].requires_labels[0], "ssd");
	assert_int_equal(c.vms[0].nsame, 1);
	assert_int_equal(c.vms[0].ndifferent, 2);
	parse_coord_conf_clear(&c);
	/* The default policy is stay. */
	assert_int_equal(parse_coord_config(write_file("p.conf", COORD_OK,
	    0644), &c, err, sizeof(err)), 0);
	assert_int_equal(c.zone_stay, 1);
	parse_coord_conf_clear(&c);
}

/* The example files shipped in deploy/etc are valid configurations. */
static void
test_examples(void **state)
{
	struct hostd_conf h;
	struct coord_conf c;
	char err[512] = "";

	(void)state;
	if (parse_hostd_config("deploy/etc/hostd.conf.example", &h, err,
	    sizeof(err)) < 0)
		fail_msg("%s", err);
	assert_string_equal(h.migration_address, "10.20.0.11");
	if (parse_coord_config("deploy/etc/coordinator.conf.example", &c, err,
	    sizeof(err)) < 0)
		fail_msg("%s", err);
	assert_int_equal(c.nhosts, 3);
	assert_string_equal(c.hosts[2].zone, "rack-b");
	assert_int_equal(c.hosts[2].nlabels, 2);
	parse_coord_conf_clear(&c);
}

static void
test_private_keys(void **state)
{
	char err[512] = "";
	const char *p;

	(void)state;
	p = write_file("key", "secret\n", 0600);
	assert_int_equal(conf_check_private(p, "host key", err, sizeof(err)), 0);
	p = write_file("key", "secret\n", 0640);
	assert_int_equal(conf_check_private(p, "host key", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "mode 0640 is accessible by group or others"));
	p = write_file("key", "secret\n", 0604);
	assert_int_equal(conf_check_private(p, "identity", err, sizeof(err)), -1);
	assert_int_equal(conf_check_private("/nonexistent/key", "identity", err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "identity /nonexistent/key: No such file"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hostd_ok),
		cmocka_unit_test(test_hostd_errors),
		cmocka_unit_test(test_hostd_missing_file),
		cmocka_unit_test(test_coord_ok),
		cmocka_unit_test(test_coord_errors),
		cmocka_unit_test(test_coord_ha_relay),
		cmocka_unit_test(test_coord_placement),
		cmocka_unit_test(test_private_keys),
		cmocka_unit_test(test_examples),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
