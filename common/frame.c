/* frame.c: encode and decode the fixed envelope; see frame.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"
#include "msg.h"

static void
put16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v;
}

static void
put32(uint8_t *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = v >> 16;
	p[2] = v >> 8;
	p[3] = v;
}

static uint16_t
get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t
get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

void
frame_hdr_encode(const struct frame_hdr *h, uint8_t out[FRAME_HDR_LEN])
{
	put32(out, h->len);
	put16(out + 4, h->version);
	put16(out + 6, h->type);
	put32(out + 8, h->serial);
	put16(out + 12, h->kind);
	put16(out + 14, h->status);
}

/* Returns 0, -EMSGSIZE (len over the limit), -EPROTONOSUPPORT (version) or
 * -EPROTO (kind or status out of range). Nothing is allocated. */
int
frame_hdr_decode(const uint8_t in[FRAME_HDR_LEN], struct frame_hdr *h,
    uint32_t max_payload)
{
	if (max_payload == 0 || max_payload > FRAME_MAX_PAYLOAD)
		max_payload = FRAME_MAX_PAYLOAD;
	h->len = get32(in);
	h->version = get16(in + 4);
	h->type = get16(in + 6);
	h->serial = get32(in + 8);
	h->kind = get16(in + 12);
	h->status = get16(in + 14);
	if (h->len > max_payload)
		return -EMSGSIZE;
	if (h->version != FERRY_PROTO_VERSION)
		return -EPROTONOSUPPORT;
	if (h->kind > FRAME_EVENT || h->status > FRAME_ERROR)
		return -EPROTO;
	return 0;
}

/* Packs header and message into one new buffer (*out, caller frees).
 * msg may be NULL for an empty payload. */
int
frame_pack(uint16_t type, uint16_t kind, uint16_t status, uint32_t serial,
    const ProtobufCMessage *msg, uint8_t **out, size_t *outlen)
{
	struct frame_hdr h;
	size_t plen = msg ? protobuf_c_message_get_packed_size(msg) : 0;
	uint8_t *buf;

	*out = NULL;
	*outlen = 0;
	if (plen > FRAME_MAX_PAYLOAD)
		return -EMSGSIZE;
	if ((buf = malloc(FRAME_HDR_LEN + plen)) == NULL)
		return -ENOMEM;
	h.len = plen;
	h.version = FERRY_PROTO_VERSION;
	h.type = type;
	h.serial = serial;
	h.kind = kind;
	h.status = status;
	frame_hdr_encode(&h, buf);
	if (plen > 0)
		protobuf_c_message_pack(msg, buf + FRAME_HDR_LEN);
	*out = buf;
	*outlen = FRAME_HDR_LEN + plen;
	return 0;
}

/* Like frame_pack, for a payload already packed (e.g. a cached inventory). */
int
frame_pack_raw(uint16_t type, uint16_t kind, uint16_t status, uint32_t serial,
    const uint8_t *payload, size_t plen, uint8_t **out, size_t *outlen)
{
	struct frame_hdr h;
	uint8_t *buf;

	*out = NULL;
	*outlen = 0;
	if (plen > FRAME_MAX_PAYLOAD)
		return -EMSGSIZE;
	if ((buf = malloc(FRAME_HDR_LEN + plen)) == NULL)
		return -ENOMEM;
	h.len = plen;
	h.version = FERRY_PROTO_VERSION;
	h.type = type;
	h.serial = serial;
	h.kind = kind;
	h.status = status;
	frame_hdr_encode(&h, buf);
	if (plen > 0)
		memcpy(buf + FRAME_HDR_LEN, payload, plen);
	*out = buf;
	*outlen = FRAME_HDR_LEN + plen;
	return 0;
}

int
frame_pack_error(uint16_t type, uint32_t serial, int code, const char *message,
    uint8_t **out, size_t *outlen)
{
	Ferry__Error e = FERRY__ERROR__INIT;

	e.code = code;
	e.message = (char *)(message ? message : "");
	return frame_pack(type, FRAME_REPLY, FRAME_ERROR, serial,
	    &e.base, out, outlen);
}

/* The payload as a message of the given descriptor, or NULL when it does
 * not parse. Free with protobuf_c_message_free_unpacked(m, NULL). */
ProtobufCMessage *
frame_unpack(const struct frame *f, const ProtobufCMessageDescriptor *desc)
{
	static const uint8_t empty[1];

	return protobuf_c_message_unpack(desc, NULL, f->hdr.len,
	    f->payload ? f->payload : empty);
}

void
frame_reader_init(struct frame_reader *r, uint32_t max_payload)
{
	memset(r, 0, sizeof(*r));
	r->max_payload = max_payload;
}

/* Bytes that complete the header or the current frame: a blocking reader
 * can read exactly this much and never take bytes of the next frame. */
size_t
frame_reader_want(const struct frame_reader *r)
{
	if (r->cur == NULL)
		return FRAME_HDR_LEN - r->hlen;
	return r->cur->hdr.len - r->plen;
}

void
frame_reader_reset(struct frame_reader *r)
{
	frame_free(r->cur);
	r->cur = NULL;
	r->hlen = 0;
	r->plen = 0;
}

/* True while a frame has been started but not finished (for idle timeouts). */
int
frame_reader_pending(const struct frame_reader *r)
{
	return r->hlen > 0 || r->cur != NULL;
}

/*
 * Consumes bytes from buf until one frame is complete or buf is used up.
 * Returns 1 with *out set (caller owns it) when a frame is complete, 0 when
 * more bytes are needed, or a negative errno from frame_hdr_decode (the
 * stream is then unusable and the peer must be dropped). *consumed says how
 * much of buf was used; call again with the rest.
 */
int
frame_reader_feed(struct frame_reader *r, const uint8_t *buf, size_t len,
    size_t *consumed, struct frame **out)
{
	struct frame_hdr h;
	size_t used = 0, n;
	int rc;

	*out = NULL;
	*consumed = 0;
	if (len == 0)
		return 0;
	if (r->cur == NULL) {
		n = FRAME_HDR_LEN - r->hlen;
		if (n > len)
			n = len;
		memcpy(r->hbuf + r->hlen, buf, n);
		r->hlen += n;
		used += n;
		*consumed = used;
		if (r->hlen < FRAME_HDR_LEN)
			return 0;
		/* Validate before allocating anything. */
		if ((rc = frame_hdr_decode(r->hbuf, &h, r->max_payload)) < 0) {
			frame_reader_reset(r);
			return rc;
		}
		if ((r->cur = calloc(1, sizeof(*r->cur))) == NULL ||
		    (h.len > 0 && (r->cur->payload = malloc(h.len)) == NULL)) {
			frame_reader_reset(r);
			return -ENOMEM;
		}
		r->cur->hdr = h;
		r->plen = 0;
	}
	n = r->cur->hdr.len - r->plen;
	if (n > len - used)
		n = len - used;
	if (n > 0)
		memcpy(r->cur->payload + r->plen, buf + used, n);
	r->plen += n;
	used += n;
	*consumed = used;
	if (r->plen < r->cur->hdr.len)
		return 0;
	*out = r->cur;
	r->cur = NULL;
	r->hlen = 0;
	r->plen = 0;
	return 1;
}

void
frame_free(struct frame *f)
{
	if (f == NULL)
		return;
	free(f->payload);
	free(f);
}

const char *
frame_strerror(int rc)
{
	switch (rc) {
	case -EMSGSIZE:
		return "frame larger than the limit";
	case -EPROTONOSUPPORT:
		return "unsupported protocol version";
	case -EPROTO:
		return "malformed frame header";
	case -ENOMEM:
		return "out of memory";
	default:
		return "frame error";
	}
}
