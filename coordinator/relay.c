/* relay.c: what both ends of the HA relay share (relay_leader.c,
 * relay_standby.c): a control frame carried whole, header first, inside a
 * RelayFrame, and the EVENT every relay message goes as. */
#include <stdlib.h>
#include <string.h>

#include "coordinator.h"

/* Where ha.peers says the coordinator node is; NULL: not one of them. */
const struct coord_ha_peer *
relay_peer_conf(const struct coord *co, const char *node)
{
	size_t i;

	for (i = 0; i < co->conf.ha.npeers; i++)
		if (strcmp(co->conf.ha.peers[i].node, node) == 0)
			return &co->conf.ha.peers[i];
	return NULL;
}

/* Packs m as an EVENT of type and queues it on conn. -1 when it cannot
 * (no connection, out of memory, not up). */
int
relay_send(struct tr_conn *conn, uint16_t type, const ProtobufCMessage *m)
{
	uint8_t *buf;
	size_t len;

	if (conn == NULL ||
	    frame_pack(type, FRAME_EVENT, FRAME_OK, 0, m, &buf, &len) < 0)
		return -1;
	return tr_conn_send(conn, buf, len);
}

/* rf->frame := the frame h and payload make; *inner holds its bytes, the
 * caller's to free once rf is sent. */
int
relay_frame_wrap(Ferry__RelayFrame *rf, const struct frame_hdr *h,
    const uint8_t *payload, uint8_t **inner)
{
	if ((*inner = malloc(FRAME_HDR_LEN + h->len)) == NULL)
		return -1;
	frame_hdr_encode(h, *inner);
	if (h->len)
		memcpy(*inner + FRAME_HDR_LEN, payload, h->len);
	rf->frame.data = *inner;
	rf->frame.len = FRAME_HDR_LEN + h->len;
	return 0;
}

/* The frame rf carries, its payload borrowed from rf; -1 when what it
 * carries is not one whole frame. */
int
relay_frame_unwrap(const Ferry__RelayFrame *rf, struct frame *f)
{
	if (rf->frame.len < FRAME_HDR_LEN ||
	    frame_hdr_decode(rf->frame.data, &f->hdr, 0) < 0 ||
	    f->hdr.len != rf->frame.len - FRAME_HDR_LEN)
		return -1;
	f->payload = f->hdr.len ? rf->frame.data + FRAME_HDR_LEN : NULL;
	return 0;
}
