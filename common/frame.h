/* frame.h: the envelope every Ferry message travels in, on SSH channels
 * (coordinator <-> hostd) and on the ferryctl Unix socket alike.
 *
 *   0       4        6      8        12     14       16
 *   | len  | version | type | serial | kind | status | payload (len bytes) ...
 *
 * All fields big-endian. len counts the payload only and is checked against
 * FRAME_MAX_PAYLOAD before anything is allocated. The payload is a packed
 * protobuf-c message whose type follows from (type, kind, status): see msg.h. */
#ifndef FERRY_FRAME_H
#define FERRY_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#define FERRY_PROTO_VERSION	1
#define FRAME_HDR_LEN		16
#define FRAME_MAX_PAYLOAD	(4u * 1024 * 1024)

enum frame_kind {
	FRAME_CALL = 0,		/* a request; the peer answers with one REPLY */
	FRAME_REPLY = 1,	/* the answer, same type and serial as the call */
	FRAME_EVENT = 2,	/* unsolicited; serial is 0 or the job it concerns */
};

enum frame_status {
	FRAME_OK = 0,
	FRAME_ERROR = 1,	/* payload is a Ferry__Error */
};

struct frame_hdr {
	uint32_t	len;
	uint16_t	version;
	uint16_t	type;
	uint32_t	serial;
	uint16_t	kind;
	uint16_t	status;
};

/* A complete received frame. Owned by whoever holds the pointer; frame_free. */
struct frame {
	struct frame_hdr hdr;
	uint8_t		*payload;	/* len bytes, NULL when len == 0 */
};

/* Incremental decoder: feed it bytes as they arrive. */
struct frame_reader {
	uint8_t		 hbuf[FRAME_HDR_LEN];
	size_t		 hlen;		/* header bytes collected */
	struct frame	*cur;		/* frame being filled, NULL while in header */
	size_t		 plen;		/* payload bytes collected */
	uint32_t	 max_payload;	/* 0: FRAME_MAX_PAYLOAD */
};

/* frame.c */
void	 frame_hdr_encode(const struct frame_hdr *, uint8_t out[FRAME_HDR_LEN]);
int	 frame_hdr_decode(const uint8_t in[FRAME_HDR_LEN], struct frame_hdr *,
	    uint32_t max_payload);
int	 frame_pack(uint16_t type, uint16_t kind, uint16_t status, uint32_t serial,
	    const ProtobufCMessage *, uint8_t **out, size_t *outlen);
int	 frame_pack_raw(uint16_t type, uint16_t kind, uint16_t status,
	    uint32_t serial, const uint8_t *payload, size_t plen, uint8_t **out,
	    size_t *outlen);
int	 frame_pack_error(uint16_t type, uint32_t serial, int code,
	    const char *message, uint8_t **out, size_t *outlen);
ProtobufCMessage *frame_unpack(const struct frame *,
	    const ProtobufCMessageDescriptor *);
void	 frame_reader_init(struct frame_reader *, uint32_t max_payload);
int	 frame_reader_feed(struct frame_reader *, const uint8_t *, size_t,
	    size_t *consumed, struct frame **out);
int	 frame_reader_pending(const struct frame_reader *);
size_t	 frame_reader_want(const struct frame_reader *);
void	 frame_reader_reset(struct frame_reader *);
void	 frame_free(struct frame *);
const char *frame_strerror(int);

#endif
