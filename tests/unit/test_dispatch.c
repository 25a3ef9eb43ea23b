/* test_dispatch.c: common/dispatch.c with a small table whose handlers
 * count their calls and record what they were given. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "frame.h"
#include "msg.h"

struct calls {
	int		 hello;
	int		 inventory;
	int		 heartbeat;
	char		 coordinator[64];
	uint32_t	 version;
	uint32_t	 serial;
	uint64_t	 seq;
};

static int
on_hello(void *ctx, const struct frame_hdr *h, ProtobufCMessage *m,
    char *err, size_t errlen)
{
	struct calls *c = ctx;
	Ferry__Hello *hello = (Ferry__Hello *)m;

	(void)err;
	(void)errlen;
	c->hello++;
	c->serial = h->serial;
	snprintf(c->coordinator, sizeof(c->coordinator), "%s",
	    hello->coordinator);
	c->version = hello->version;
	return 0;
}

static int
on_inventory(void *ctx, const struct frame_hdr *h, ProtobufCMessage *m,
    char *err, size_t errlen)
{
	struct calls *c = ctx;

	(void)h;
	(void)m;
	(void)err;
	(void)errlen;
	c->inventory++;
	return 0;
}

/* Fails with a message for seq 0, without one for seq 1. */
static int
on_heartbeat(void *ctx, const struct frame_hdr *h, ProtobufCMessage *m,
    char *err, size_t errlen)
{
	struct calls *c = ctx;
	Ferry__Heartbeat *hb = (Ferry__Heartbeat *)m;

	(void)h;
	c->heartbeat++;
	c->seq = hb->seq;
	if (hb->seq == 0) {
		snprintf(err, errlen, "heartbeat seq %llu out of order",
		    (unsigned long long)hb->seq);
		return -1;
	}
	if (hb->seq == 1)
		return -1;
	return 0;
}

/* Indexed by type. MSG_NONE is empty; a row with a handler but no
 * descriptor is not dispatchable either. */
static const struct dispatch_entry table[] = {
	[MSG_HELLO] = { "hello", &ferry__hello__descriptor, on_hello, 0 },
	[MSG_INVENTORY] = { "inventory", &ferry__empty__descriptor,
	    on_inventory, DISPATCH_AUTH },
	[MSG_HEARTBEAT] = { "heartbeat", &ferry__heartbeat__descriptor,
	    on_heartbeat, DISPATCH_AUTH },
	[MSG_HOST_MAX] = { "half", NULL, on_inventory, 0 },
};
#define NTABLE	(sizeof(table) / sizeof(table[0]))

/* Packs msg and reads it back through a frame_reader: the frame a
 * session would hand to the dispatcher. */
static struct frame *
make_frame(uint16_t type, uint32_t serial, const ProtobufCMessage *msg)
{
	struct frame_reader r;
	struct frame *f = NULL;
	uint8_t *buf;
	size_t len, used;

	assert_int_equal(frame_pack(type, FRAME_CALL, FRAME_OK, serial, msg,
	    &buf, &len), 0);
	frame_reader_init(&r, 0);
	assert_int_equal(frame_reader_feed(&r, buf, len, &used, &f), 1);
	assert_int_equal(used, len);
	free(buf);
	return f;
}

static struct frame *
hello_frame(uint32_t serial)
{
	Ferry__Hello h = FERRY__HELLO__INIT;

	h.coordinator = (char *)"coord-east";
	h.version = FERRY_PROTO_VERSION;
	return make_frame(MSG_HELLO, serial, &h.base);
}

static struct frame *
heartbeat_frame(uint64_t seq)
{
	Ferry__Heartbeat hb = FERRY__HEARTBEAT__INIT;

	hb.seq = seq;
	hb.time_ms = 1;
	return make_frame(MSG_HEARTBEAT, 0, &hb.base);
}

static void
assert_no_calls(const struct calls *c)
{
	assert_int_equal(c->hello, 0);
	assert_int_equal(c->inventory, 0);
	assert_int_equal(c->heartbeat, 0);
}

static void
test_good_call(void **state)
{
	struct calls c;
	struct frame *f = hello_frame(77);
	char err[128] = "stale";

	(void)state;
	memset(&c, 0, sizeof(c));
	/* Hello needs no authentication: it is how a session gets it. */
	assert_int_equal(dispatch_frame(table, NTABLE, &c, 0, f, err,
	    sizeof(err)), 0);
	assert_int_equal(c.hello, 1);
	assert_int_equal(c.inventory + c.heartbeat, 0);
	assert_string_equal(c.coordinator, "coord-east");
	assert_int_equal(c.version, FERRY_PROTO_VERSION);
	assert_int_equal(c.serial, 77);
	assert_string_equal(err, "");
	assert_int_equal(dispatch_frame(table, NTABLE, &c, 1, f, err,
	    sizeof(err)), 0);
	assert_int_equal(c.hello, 2);
	frame_free(f);
}

static void
test_unknown_type(void **state)
{
	static const uint16_t types[] = { MSG_NONE, MSG_HOST_MAX,
	    MSG_HOST_MAX + 1, MSG_CTL_HOSTS, UINT16_MAX };
	struct frame *f = make_frame(MSG_NONE, 1, NULL);
	struct calls c;
	char err[128], want[64];
	size_t i;

	(void)state;
	memset(&c, 0, sizeof(c));
	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		f->hdr.type = types[i];
		err[0] = '\0';
		assert_int_equal(dispatch_frame(table, NTABLE, &c, 1, f, err,
		    sizeof(err)), -1);
		snprintf(want, sizeof(want), "unknown message type %u",
		    types[i]);
		assert_string_equal(err, want);
		assert_null(dispatch_lookup(table, NTABLE, types[i]));
	}
	assert_no_calls(&c);
	frame_free(f);

	assert_ptr_equal(dispatch_lookup(table, NTABLE, MSG_HELLO),
	    &table[MSG_HELLO]);
	/* A shorter table does not reach the rows past its end. */
	assert_null(dispatch_lookup(table, MSG_HEARTBEAT, MSG_HEARTBEAT));
	assert_null(dispatch_lookup(table, 0, MSG_HELLO));
}

static void
test_auth_required(void **state)
{
	Ferry__Empty e = FERRY__EMPTY__INIT;
	struct frame *f = make_frame(MSG_INVENTORY, 3, &e.base);
	struct calls c;
	char err[128] = "";

	(void)state;
	memset(&c, 0, sizeof(c));
	assert_int_equal(dispatch_frame(table, NTABLE, &c, 0, f, err,
	    sizeof(err)), -1);
	assert_string_equal(err, "inventory before hello");
	assert_no_calls(&c);
	assert_int_equal(dispatch_frame(table, NTABLE, &c, 1, f, err,
	    sizeof(err)), 0);
	assert_int_equal(c.inventory, 1);
	frame_free(f);
}

static void
test_malformed_payload(void **state)
{
	static const uint8_t junk[] = { 0x0a, 0x7f, 'x', 'y' };
	struct frame *f;
	struct calls c;
	char err[128] = "";

	(void)state;
	memset(&c, 0, sizeof(c));
	f = make_frame(MSG_HELLO, 9, NULL);
	assert_null(f->payload);
	/* Empty: Hello's required fields are missing. */
	assert_int_equal(dispatch_frame(table, NTABLE, &c, 1, f, err,
	    sizeof(err)), -1);
	assert_string_equal(err, "malformed hello payload");
	assert_non_null(f->payload = malloc(sizeof(junk)));
	memcpy(f->payload, junk, sizeof(junk));
	f->hdr.len = sizeof(junk);
	err[0] = '\0';
	assert_int_equal(dispatch_frame(table, NTABLE, &c, 1, f, err,
	    sizeof(err)), -1);
	assert_string_equal(err, "malformed hello payload");
	assert_no_calls(&c);
	frame_free(f);
}

static void
test_handler_error(void **state)
{
	struct frame *f;
	struct calls c;
	char err[128] = "";

	(void)state;
	memset(&c, 0, sizeof(c));
	f = heartbeat_frame(0);
	assert_int_equal(dispatch_frame(table, NTABLE, &c, 1, f, err,
	    sizeof(err)), -1);
	assert_string_equal(err, "heartbeat seq 0 out of order");
	assert_int_equal(c.heartbeat, 1);
	frame_free(f);

	/* A handler failing without a word gets a generic message, not
	 * the previous call's. */
	f = heartbeat_frame(1);
	assert_int_equal(dispatch_frame(table, NTABLE, &c, 1, f, err,
	    sizeof(err)), -1);
	assert_string_equal(err, "heartbeat failed");
	assert_int_equal(c.heartbeat, 2);
	frame_free(f);

	f = heartbeat_frame(5);
	assert_int_equal(dispatch_frame(table, NTABLE, &c, 1, f, err,
	    sizeof(err)), 0);
	assert_string_equal(err, "");
	assert_int_equal(c.seq, 5);
	assert_int_equal(c.heartbeat, 3);
	frame_free(f);
}

static void
test_type_names(void **state)
{
	(void)state;
	assert_string_equal(msg_type_name(MSG_HELLO), "hello");
	assert_string_equal(msg_type_name(MSG_INVENTORY), "inventory");
	assert_string_equal(msg_type_name(MSG_HEARTBEAT), "heartbeat");
	assert_string_equal(msg_type_name(MSG_CTL_HOSTS), "hosts");
	assert_string_equal(msg_type_name(MSG_CTL_VMS), "vms");
	assert_string_equal(msg_type_name(MSG_NONE), "unknown");
	assert_string_equal(msg_type_name(UINT16_MAX), "unknown");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good_call),
		cmocka_unit_test(test_unknown_type),
		cmocka_unit_test(test_auth_required),
		cmocka_unit_test(test_malformed_payload),
		cmocka_unit_test(test_handler_error),
		cmocka_unit_test(test_type_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
