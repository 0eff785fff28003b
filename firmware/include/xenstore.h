/*
 * Xenstore client on the shared ring (common/xenstore.c).
 *
 * One request at a time: the 16-byte xsd_sockmsg header and the payload
 * go into req[], EVTCHNOP_send notifies the store port, and the reply is
 * read from rsp[], waiting with WFI + event handling (wait_until) until
 * the store port's events bring data.  Watch events arriving in between
 * are queued and handed out by xs_next_watch_event().  Paths may be
 * relative (to /local/domain/<domid>), as for any domain connection.
 *
 * Results: >= 0 on success, -errno on failure; an XS_ERROR reply is
 * turned back into its errno (name -> Xen errno number).
 */
#ifndef XGDBVM_FW_XENSTORE_H
#define XGDBVM_FW_XENSTORE_H

#include <stddef.h>
#include <stdint.h>

#define XS_VALUE_MAX        256     /* longest value/listing we keep */
#define XS_TIMEOUT_MS       2000    /* per reply, in counter time */

/* Map the ring at `gfn`, bind the store event channel `port`. */
long xs_init(uint64_t gfn, uint32_t port);

/* Read `path` into buf (NUL-terminated); returns the value length. */
long xs_read(uint32_t tx, const char *path, char *buf, size_t size);
long xs_write(uint32_t tx, const char *path, const char *value);
/* Children of `path`, NUL-separated in buf; returns how many. */
long xs_directory(uint32_t tx, const char *path, char *buf, size_t size);
long xs_watch(const char *path, const char *token);
long xs_transaction_start(uint32_t *tx);
long xs_transaction_end(uint32_t tx, int abort);

struct xs_watch_event {
    char path[128];
    char token[32];
};

/*
 * Next queued watch event, or wait for one up to `timeout_ticks` of
 * counter time.  Returns 1 with *ev filled, 0 on timeout, -errno on error.
 */
long xs_next_watch_event(struct xs_watch_event *ev, uint64_t timeout_ticks);

/* Store port statistics. */
extern volatile unsigned long xs_notifications;

#endif /* XGDBVM_FW_XENSTORE_H */
