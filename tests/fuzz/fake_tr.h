/* fake_tr.h: the fuzzers' loopback transport (fake_tr.c), linked instead
 * of common/transport_*.c. */
#ifndef FERRY_FAKE_TR_H
#define FERRY_FAKE_TR_H

#include <stddef.h>
#include <stdint.h>

#include "transport.h"

/* A server session with no peer (what it sends is dropped); on_up runs. */
struct tr_conn *fake_tr_accept(struct tr_server *);
/* Bytes to deliver to c as if its peer had sent them (copied). */
int	 fake_tr_inject(struct tr_conn *, const uint8_t *, size_t);
int	 fake_tr_busy(void);
uint64_t fake_tr_nsent(void);

#endif
