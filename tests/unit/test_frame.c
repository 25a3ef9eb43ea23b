/* test_frame.c: common/frame.c, the envelope codec and incremental reader. */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "frame.h"
#include "msg.h"

/* Hello { coordinator: "coord-1", version: 1 } as a CALL with serial
 * 0x01020304, written out by hand. tests/data/frames/hello.bin holds the
 * same bytes. */
static const uint8_t golden_hello[] = {
	0x00, 0x00, 0x00, 0x0b,		/* len 11 */
	0x00, 0x01,			/* version 1 */
	0x00, 0x01,			/* type MSG_HELLO */
	0x01, 0x02, 0x03, 0x04,		/* serial */
	0x00, 0x00,			/* kind CALL */
	0x00, 0x00,			/* status OK */
	0x0a, 0x07, 'c', 'o', 'o', 'r', 'd', '-', '1',	/* 1: "coord-1" */
	0x10, 0x01,			/* 2: 1 */
};

/* tests/data/ from $FERRY_TESTDATA, the source tree (cwd at the top of the
 * tree) or the build tree (B/tests/test_frame). */
static FILE *
open_testdata(const char *rel)
{
	char path[PATH_MAX + 64], exe[PATH_MAX];
	const char *env = getenv("FERRY_TESTDATA");
	ssize_t n;
	FILE *fp;
	char *p;

	if (env != NULL) {
		snprintf(path, sizeof(path), "%s/%s", env, rel);
		return fopen(path, "rb");
	}
	snprintf(path, sizeof(path), "tests/data/%s", rel);
	if ((fp = fopen(path, "rb")) != NULL)
		return fp;
	if ((n = readlink("/proc/self/exe", exe, sizeof(exe) - 1)) <= 0)
		return NULL;
	exe[n] = '\0';
	/* B/tests/test_frame -> B/../tests/data */
	if ((p = strrchr(exe, '/')) == NULL)
		return NULL;
	*p = '\0';
	if ((p = strrchr(exe, '/')) == NULL)
		return NULL;
	*p = '\0';
	snprintf(path, sizeof(path), "%s/../tests/data/%s", exe, rel);
	return fopen(path, "rb");
}

static void
pack_hello(uint8_t **out, size_t *outlen)
{
	Ferry__Hello h = FERRY__HELLO__INIT;

	h.coordinator = (char *)"coord-1";
	h.version = 1;
	assert_int_equal(frame_pack(MSG_HELLO, FRAME_CALL, FRAME_OK,
	    0x01020304, &h.base, out, outlen), 0);
}

static void
test_golden_bytes(void **state)
{
	uint8_t *buf, file[256];
	size_t len, n;
	FILE *fp;

	(void)state;
	pack_hello(&buf, &len);
	assert_int_equal(len, sizeof(golden_hello));
	assert_memory_equal(buf, golden_hello, len);

	fp = open_testdata("frames/hello.bin");
	if (fp == NULL)
		fail_msg("tests/data/frames/hello.bin not found "
		    "(run from the top of the tree or set FERRY_TESTDATA)");
	n = fread(file, 1, sizeof(file), fp);
	fclose(fp);
	assert_int_equal(n, len);
	assert_memory_equal(file, buf, len);
	free(buf);
}

static void
test_golden_decode(void **state)
{
	struct frame_reader r;
	struct frame *f;
	Ferry__Hello *h;
	size_t used;

	(void)state;
	frame_reader_init(&r, 0);
	assert_int_equal(frame_reader_feed(&r, golden_hello,
	    sizeof(golden_hello), &used, &f), 1);
	assert_int_equal(used, sizeof(golden_hello));
	assert_false(frame_reader_pending(&r));
	assert_int_equal(f->hdr.len, 11);
	assert_int_equal(f->hdr.version, FERRY_PROTO_VERSION);
	assert_int_equal(f->hdr.type, MSG_HELLO);
	assert_int_equal(f->hdr.serial, 0x01020304);
	assert_int_equal(f->hdr.kind, FRAME_CALL);
	assert_int_equal(f->hdr.status, FRAME_OK);
	assert_memory_equal(f->payload, golden_hello + FRAME_HDR_LEN, 11);

	h = (Ferry__Hello *)frame_unpack(f, &ferry__hello__descriptor);
	assert_non_null(h);
	assert_string_equal(h->coordinator, "coord-1");
	assert_int_equal(h->version, 1);
	protobuf_c_message_free_unpacked(&h->base, NULL);
	frame_free(f);
	frame_free(NULL);
}

static void
test_hdr_roundtrip(void **state)
{
	struct frame_hdr in = { 16, FERRY_PROTO_VERSION, 0xbeef, 0xfedcba98,
	    FRAME_EVENT, FRAME_ERROR }, out;
	uint8_t b[FRAME_HDR_LEN];
	static const uint8_t want[FRAME_HDR_LEN] = {
		0, 0, 0, 16, 0, 1, 0xbe, 0xef, 0xfe, 0xdc, 0xba, 0x98,
		0, 2, 0, 1,
	};

	(void)state;
	frame_hdr_encode(&in, b);
	assert_memory_equal(b, want, sizeof(want));
	assert_int_equal(frame_hdr_decode(b, &out, 16), 0);
	assert_memory_equal(&in, &out, sizeof(in));
}

/* A stream of frames of every shape: a call, an error reply, an empty
 * payload, an event. want[] gets the frames as the sender meant them. */
struct stream {
	uint8_t		*buf;
	size_t		 len;
	struct frame	 want[4];
	size_t		 nwant;
};

static void
stream_add(struct stream *s, uint8_t *fb, size_t flen)
{
	struct frame *w = &s->want[s->nwant++];

	assert_int_equal(frame_hdr_decode(fb, &w->hdr, 0), 0);
	w->payload = fb + FRAME_HDR_LEN;
	assert_non_null(s->buf = realloc(s->buf, s->len + flen));
	memcpy(s->buf + s->len, fb, flen);
	s->len += flen;
}

static void
stream_make(struct stream *s, uint8_t *parts[4])
{
	Ferry__Heartbeat hb = FERRY__HEARTBEAT__INIT;
	size_t len;

	memset(s, 0, sizeof(*s));
	pack_hello(&parts[0], &len);
	stream_add(s, parts[0], len);
	assert_int_equal(frame_pack_error(MSG_INVENTORY, 7, ENOENT,
	    "no such domain", &parts[1], &len), 0);
	stream_add(s, parts[1], len);
	assert_int_equal(frame_pack(MSG_INVENTORY, FRAME_CALL, FRAME_OK, 8,
	    NULL, &parts[2], &len), 0);
	assert_int_equal(len, FRAME_HDR_LEN);
	stream_add(s, parts[2], len);
	hb.seq = 300;
	hb.time_ms = 1700000000000ULL;
	hb.has_mem_free_mib = 1;
	hb.mem_free_mib = 4096;
	assert_int_equal(frame_pack(MSG_HEARTBEAT, FRAME_EVENT, FRAME_OK, 0,
	    &hb.base, &parts[3], &len), 0);
	stream_add(s, parts[3], len);
}

static void
stream_free(struct stream *s, uint8_t *parts[4])
{
	int i;

	for (i = 0; i < 4; i++)
		free(parts[i]);
	free(s->buf);
}

static void
assert_frame_equal(const struct frame *got, const struct frame *want)
{
	assert_memory_equal(&got->hdr, &want->hdr, sizeof(got->hdr));
	if (want->hdr.len == 0)
		assert_null(got->payload);
	else
		assert_memory_equal(got->payload, want->payload,
		    want->hdr.len);
}

/* Feeds s in chunks of the sizes next_chunk() picks and checks every
 * frame comes out whole, in order, once. */
static void
feed_chunked(const struct stream *s, size_t (*next_chunk)(uint32_t *),
    uint32_t seed)
{
	struct frame_reader r;
	struct frame *f;
	size_t off = 0, got = 0, chunk, used, k;
	int rc;

	frame_reader_init(&r, 0);
	while (off < s->len) {
		chunk = next_chunk(&seed);
		if (chunk > s->len - off)
			chunk = s->len - off;
		/* One chunk may hold the end of a frame and the next. */
		k = 0;
		while (k < chunk) {
			rc = frame_reader_feed(&r, s->buf + off + k, chunk - k,
			    &used, &f);
			assert_true(rc == 0 || rc == 1);
			assert_true(used <= chunk - k);
			k += used;
			if (rc == 1) {
				assert_true(got < s->nwant);
				assert_frame_equal(f, &s->want[got++]);
				frame_free(f);
			} else {
				assert_null(f);
				assert_int_equal(k, chunk);
			}
		}
		off += chunk;
	}
	assert_int_equal(got, s->nwant);
	assert_false(frame_reader_pending(&r));
	frame_reader_reset(&r);
}

static size_t
chunk_one(uint32_t *seed)
{
	(void)seed;
	return 1;
}

static size_t
chunk_all(uint32_t *seed)
{
	(void)seed;
	return SIZE_MAX;
}

/* xorshift32: the same chunkings on every run. */
static size_t
chunk_random(uint32_t *seed)
{
	uint32_t x = *seed;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	*seed = x;
	return 1 + x % 40;
}

static void
test_chunkings(void **state)
{
	uint8_t *parts[4];
	struct stream s;
	uint32_t seed;

	(void)state;
	stream_make(&s, parts);
	feed_chunked(&s, chunk_one, 0);
	feed_chunked(&s, chunk_all, 0);
	for (seed = 1; seed <= 300; seed++)
		feed_chunked(&s, chunk_random, seed * 2654435761u);
	stream_free(&s, parts);
}

/* Every proper prefix of a frame: "need more", never a frame. */
static void
test_truncated(void **state)
{
	struct frame_reader r;
	struct frame *f;
	size_t cut, used;

	(void)state;
	for (cut = 0; cut < sizeof(golden_hello); cut++) {
		frame_reader_init(&r, 0);
		f = (struct frame *)&r;
		assert_int_equal(frame_reader_feed(&r, golden_hello, cut,
		    &used, &f), 0);
		assert_null(f);
		assert_int_equal(used, cut);
		assert_int_equal(frame_reader_pending(&r), cut > 0);
		frame_reader_reset(&r);
		assert_false(frame_reader_pending(&r));
	}
	/* And the rest completes it. */
	frame_reader_init(&r, 0);
	assert_int_equal(frame_reader_feed(&r, golden_hello, 20, &used, &f), 0);
	assert_int_equal(frame_reader_feed(&r, golden_hello + 20,
	    sizeof(golden_hello) - 20, &used, &f), 1);
	assert_int_equal(f->hdr.serial, 0x01020304);
	frame_free(f);
}

static void
hdr_bytes(uint8_t b[FRAME_HDR_LEN], uint32_t len, uint16_t version,
    uint16_t kind, uint16_t status)
{
	struct frame_hdr h = { len, version, MSG_HELLO, 1, kind, status };

	frame_hdr_encode(&h, b);
}

/* A header claiming 4 GiB against a 16-byte limit: refused when the
 * header is complete, and the reader holds no frame or buffer after. */
static void
test_oversized(void **state)
{
	struct frame_reader r;
	struct frame_hdr h;
	struct frame *f;
	uint8_t b[FRAME_HDR_LEN + 16];
	size_t used;

	(void)state;
	hdr_bytes(b, UINT32_MAX, FERRY_PROTO_VERSION, FRAME_CALL, FRAME_OK);
	assert_int_equal(frame_hdr_decode(b, &h, 16), -EMSGSIZE);
	assert_int_equal(h.len, UINT32_MAX);
	assert_int_equal(frame_hdr_decode(b, &h, 0), -EMSGSIZE);

	frame_reader_init(&r, 16);
	assert_int_equal(frame_reader_feed(&r, b, 10, &used, &f), 0);
	assert_null(r.cur);
	assert_int_equal(frame_reader_feed(&r, b + 10, 6, &used, &f),
	    -EMSGSIZE);
	assert_null(f);
	assert_null(r.cur);
	assert_int_equal(r.hlen, 0);
	assert_false(frame_reader_pending(&r));
	assert_string_equal(frame_strerror(-EMSGSIZE),
	    "frame larger than the limit");

	/* The limit itself is fine; one more is not. */
	hdr_bytes(b, 17, FERRY_PROTO_VERSION, FRAME_CALL, FRAME_OK);
	assert_int_equal(frame_reader_feed(&r, b, FRAME_HDR_LEN, &used, &f),
	    -EMSGSIZE);
	assert_null(r.cur);
	hdr_bytes(b, 16, FERRY_PROTO_VERSION, FRAME_CALL, FRAME_OK);
	memset(b + FRAME_HDR_LEN, 0xab, 16);
	assert_int_equal(frame_reader_feed(&r, b, sizeof(b), &used, &f), 1);
	assert_int_equal(used, sizeof(b));
	assert_int_equal(f->hdr.len, 16);
	frame_free(f);

	/* The default limit. */
	hdr_bytes(b, FRAME_MAX_PAYLOAD + 1, FERRY_PROTO_VERSION, FRAME_CALL,
	    FRAME_OK);
	assert_int_equal(frame_hdr_decode(b, &h, 0), -EMSGSIZE);
	hdr_bytes(b, FRAME_MAX_PAYLOAD, FERRY_PROTO_VERSION, FRAME_CALL,
	    FRAME_OK);
	assert_int_equal(frame_hdr_decode(b, &h, 0), 0);
	/* A limit above the protocol's is clamped to it. */
	hdr_bytes(b, FRAME_MAX_PAYLOAD + 1, FERRY_PROTO_VERSION, FRAME_CALL,
	    FRAME_OK);
	assert_int_equal(frame_hdr_decode(b, &h, UINT32_MAX), -EMSGSIZE);
}

static void
test_bad_header(void **state)
{
	struct frame_reader r;
	struct frame_hdr h;
	struct frame *f;
	uint8_t b[FRAME_HDR_LEN];
	size_t used;

	(void)state;
	hdr_bytes(b, 0, 0, FRAME_CALL, FRAME_OK);
	assert_int_equal(frame_hdr_decode(b, &h, 0), -EPROTONOSUPPORT);
	hdr_bytes(b, 0, FERRY_PROTO_VERSION + 1, FRAME_CALL, FRAME_OK);
	assert_int_equal(frame_hdr_decode(b, &h, 0), -EPROTONOSUPPORT);
	frame_reader_init(&r, 0);
	assert_int_equal(frame_reader_feed(&r, b, sizeof(b), &used, &f),
	    -EPROTONOSUPPORT);
	assert_int_equal(used, FRAME_HDR_LEN);
	assert_null(f);
	assert_false(frame_reader_pending(&r));

	hdr_bytes(b, 0, FERRY_PROTO_VERSION, FRAME_EVENT + 1, FRAME_OK);
	assert_int_equal(frame_hdr_decode(b, &h, 0), -EPROTO);
	assert_int_equal(frame_reader_feed(&r, b, sizeof(b), &used, &f),
	    -EPROTO);
	assert_false(frame_reader_pending(&r));
	hdr_bytes(b, 0, FERRY_PROTO_VERSION, FRAME_REPLY, FRAME_ERROR + 1);
	assert_int_equal(frame_hdr_decode(b, &h, 0), -EPROTO);
	hdr_bytes(b, 0, FERRY_PROTO_VERSION, 0xffff, 0xffff);
	assert_int_equal(frame_hdr_decode(b, &h, 0), -EPROTO);
	hdr_bytes(b, 0, FERRY_PROTO_VERSION, FRAME_EVENT, FRAME_ERROR);
	assert_int_equal(frame_hdr_decode(b, &h, 0), 0);

	assert_string_equal(frame_strerror(-EPROTONOSUPPORT),
	    "unsupported protocol version");
	assert_string_equal(frame_strerror(-EPROTO), "malformed frame header");
}

static void
test_pack_error(void **state)
{
	struct frame_reader r;
	struct frame *f;
	Ferry__Error *e;
	uint8_t *buf;
	size_t len, used;

	(void)state;
	assert_int_equal(frame_pack_error(MSG_CTL_VMS, 42, EACCES,
	    "permission denied", &buf, &len), 0);
	frame_reader_init(&r, 0);
	assert_int_equal(frame_reader_feed(&r, buf, len, &used, &f), 1);
	free(buf);
	assert_int_equal(f->hdr.type, MSG_CTL_VMS);
	assert_int_equal(f->hdr.serial, 42);
	assert_int_equal(f->hdr.kind, FRAME_REPLY);
	assert_int_equal(f->hdr.status, FRAME_ERROR);
	e = (Ferry__Error *)frame_unpack(f, &ferry__error__descriptor);
	assert_non_null(e);
	assert_int_equal(e->code, EACCES);
	assert_string_equal(e->message, "permission denied");
	protobuf_c_message_free_unpacked(&e->base, NULL);
	frame_free(f);

	/* A NULL message travels as "" (message is required). */
	assert_int_equal(frame_pack_error(MSG_HELLO, 1, 0, NULL, &buf, &len),
	    0);
	assert_int_equal(frame_reader_feed(&r, buf, len, &used, &f), 1);
	free(buf);
	e = (Ferry__Error *)frame_unpack(f, &ferry__error__descriptor);
	assert_non_null(e);
	assert_int_equal(e->code, 0);
	assert_string_equal(e->message, "");
	protobuf_c_message_free_unpacked(&e->base, NULL);
	frame_free(f);
}

static void
test_unpack_garbage(void **state)
{
	static uint8_t garbage[] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	static uint8_t short_string[] = { 0x0a, 0x40, 'x' };
	static uint8_t only_version[] = { 0x10, 0x01 };
	struct frame f;
	ProtobufCMessage *m;

	(void)state;
	memset(&f, 0, sizeof(f));
	f.hdr.version = FERRY_PROTO_VERSION;
	f.hdr.type = MSG_HELLO;
	f.hdr.len = sizeof(garbage);
	f.payload = garbage;
	assert_null(frame_unpack(&f, &ferry__hello__descriptor));
	/* A string longer than the payload. */
	f.hdr.len = sizeof(short_string);
	f.payload = short_string;
	assert_null(frame_unpack(&f, &ferry__hello__descriptor));
	/* Well-formed but missing required fields. */
	f.hdr.len = sizeof(only_version);
	f.payload = only_version;
	assert_null(frame_unpack(&f, &ferry__hello__descriptor));
	/* An empty payload is a valid Empty, not a valid Hello. */
	f.hdr.len = 0;
	f.payload = NULL;
	assert_null(frame_unpack(&f, &ferry__hello__descriptor));
	assert_non_null(m = frame_unpack(&f, &ferry__empty__descriptor));
	protobuf_c_message_free_unpacked(m, NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_golden_bytes),
		cmocka_unit_test(test_golden_decode),
		cmocka_unit_test(test_hdr_roundtrip),
		cmocka_unit_test(test_chunkings),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_oversized),
		cmocka_unit_test(test_bad_header),
		cmocka_unit_test(test_pack_error),
		cmocka_unit_test(test_unpack_garbage),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
