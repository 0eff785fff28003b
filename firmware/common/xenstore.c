/*
 * Xenstore ring client; see include/xenstore.h for the interface and
 * reference section 6 for the protocol.
 *
 * Ring discipline (as Linux's xenbus_comms.c):
 *   write: copy into req[MASK(prod)] while prod - cons < 1024, wmb, then
 *          publish req_prod; after the whole message, EVTCHNOP_send.
 *   read:  wait for rsp_prod != rsp_cons, rmb, copy from rsp[MASK(cons)],
 *          mb, publish rsp_cons; if the ring was full before, notify the
 *          server that space is available.
 * A producer/consumer gap larger than the ring is a corrupt ring (-EIO).
 */
#include "console.h"
#include "cpu.h"
#include "events.h"
#include "hypercall.h"
#include "irq.h"
#include "lib.h"
#include "xen_io.h"
#include "xenstore.h"

#define RING_MASK(i)        ((i) & (XENSTORE_RING_SIZE - 1u))
#define WATCH_QUEUE_LEN     8u
#define MAX_STRAY_MESSAGES  64u

static volatile struct xenstore_domain_interface *xs_intf;
static uint32_t xs_port;
static uint32_t xs_req_id;

volatile unsigned long xs_notifications;

/* Reply / event payload staging (payloads are at most 4096 bytes). */
static char xs_payload[XENSTORE_PAYLOAD_MAX + 1];

static struct xs_watch_event watch_queue[WATCH_QUEUE_LEN];
static unsigned int watch_head, watch_tail;

static void xs_evtchn(uint32_t port, void *arg)
{
    (void)port;
    (void)arg;
    xs_notifications++;
}

long xs_init(uint64_t gfn, uint32_t port)
{
    if (!gfn || gfn == ~0ull)
        return -XEN_ENOENT;
    xs_intf = (volatile struct xenstore_domain_interface *)(uintptr_t)(gfn << XEN_PAGE_SHIFT);
    xs_port = port;
    evtchn_bind_handler(port, xs_evtchn, NULL);
    evtchn_unmask(port);
    return 0;
}

static void xs_notify(void)
{
    (void)evtchn_send(xs_port);
}

/* ---- conditions for wait_until() ---- */

static bool req_has_space(void *arg)
{
    (void)arg;
    return READ_ONCE_U32(xs_intf->req_prod) - READ_ONCE_U32(xs_intf->req_cons) <
           XENSTORE_RING_SIZE;
}

static bool rsp_has_data(void *arg)
{
    (void)arg;
    return READ_ONCE_U32(xs_intf->rsp_prod) != READ_ONCE_U32(xs_intf->rsp_cons);
}

static long ring_write(const void *data, size_t len)
{
    const char *src = data;

    while (len) {
        uint32_t cons = READ_ONCE_U32(xs_intf->req_cons);
        uint32_t prod = READ_ONCE_U32(xs_intf->req_prod);
        uint32_t avail, chunk, i;

        mb();
        if (prod - cons > XENSTORE_RING_SIZE)
            return -XEN_EIO;
        avail = XENSTORE_RING_SIZE - (prod - cons);
        if (avail == 0) {
            xs_notify();
            if (!wait_until(req_has_space, NULL, timer_ms_to_ticks(XS_TIMEOUT_MS),
                            WAIT_MAX_WAKEUPS_DEFAULT))
                return -XEN_ETIMEDOUT;
            continue;
        }
        chunk = XENSTORE_RING_SIZE - RING_MASK(prod);   /* contiguous part */
        if (chunk > avail)
            chunk = avail;
        if (chunk > len)
            chunk = (uint32_t)len;
        for (i = 0; i < chunk; i++)
            xs_intf->req[RING_MASK(prod + i)] = src[i];
        wmb();      /* data before the index that publishes it */
        WRITE_ONCE_U32(xs_intf->req_prod, prod + chunk);
        src += chunk;
        len -= chunk;
    }
    return 0;
}

static long ring_read(void *data, size_t len)
{
    char *dst = data;

    while (len) {
        uint32_t cons = READ_ONCE_U32(xs_intf->rsp_cons);
        uint32_t prod = READ_ONCE_U32(xs_intf->rsp_prod);
        uint32_t avail, chunk, i;

        mb();
        if (prod - cons > XENSTORE_RING_SIZE)
            return -XEN_EIO;
        if (prod == cons) {
            if (!wait_until(rsp_has_data, NULL, timer_ms_to_ticks(XS_TIMEOUT_MS),
                            WAIT_MAX_WAKEUPS_DEFAULT))
                return -XEN_ETIMEDOUT;
            continue;
        }
        avail = prod - cons;
        chunk = XENSTORE_RING_SIZE - RING_MASK(cons);
        if (chunk > avail)
            chunk = avail;
        if (chunk > len)
            chunk = (uint32_t)len;
        rmb();      /* index before the data it covers */
        for (i = 0; i < chunk; i++)
            dst[i] = xs_intf->rsp[RING_MASK(cons + i)];
        mb();       /* data read before the space is handed back */
        WRITE_ONCE_U32(xs_intf->rsp_cons, cons + chunk);
        if (avail == XENSTORE_RING_SIZE)
            xs_notify();    /* it was full: the server may wait for room */
        dst += chunk;
        len -= chunk;
    }
    return 0;
}

static void queue_watch_event(const char *payload, uint32_t len)
{
    struct xs_watch_event *ev;
    size_t plen = strnlen(payload, len);
    const char *token = payload + plen + 1;
    size_t tlen = plen + 1 < len ? strnlen(token, len - plen - 1) : 0;

    if (watch_tail - watch_head >= WATCH_QUEUE_LEN) {
        kprintf("xenstore: watch event queue full, dropping an event\n");
        return;
    }
    ev = &watch_queue[watch_tail % WATCH_QUEUE_LEN];
    if (plen >= sizeof(ev->path))
        plen = sizeof(ev->path) - 1;
    if (tlen >= sizeof(ev->token))
        tlen = sizeof(ev->token) - 1;
    memcpy(ev->path, payload, plen);
    ev->path[plen] = '\0';
    memcpy(ev->token, token, tlen);
    ev->token[tlen] = '\0';
    watch_tail++;
}

/*
 * Read one message into xs_payload; watch events are queued and reported
 * as XS_WATCH_EVENT so the caller keeps waiting for its reply.
 */
static long read_message(struct xsd_sockmsg *hdr)
{
    long rc = ring_read(hdr, sizeof(*hdr));

    if (rc)
        return rc;
    if (hdr->len > XENSTORE_PAYLOAD_MAX)
        return -XEN_EIO;
    rc = ring_read(xs_payload, hdr->len);
    if (rc)
        return rc;
    xs_payload[hdr->len] = '\0';
    if (hdr->type == XS_WATCH_EVENT)
        queue_watch_event(xs_payload, hdr->len);
    return 0;
}

static const struct {
    const char *name;
    int err;
} xs_errors[] = {
    { "EINVAL", XEN_EINVAL }, { "EACCES", XEN_EACCES }, { "EEXIST", XEN_EEXIST },
    { "EISDIR", XEN_EISDIR }, { "ENOENT", XEN_ENOENT }, { "ENOMEM", XEN_ENOMEM },
    { "ENOSPC", XEN_ENOSPC }, { "EIO", XEN_EIO },       { "ENOTEMPTY", XEN_ENOTEMPTY },
    { "ENOSYS", XEN_ENOSYS }, { "EROFS", XEN_EROFS },   { "EBUSY", XEN_EBUSY },
    { "EAGAIN", XEN_EAGAIN }, { "EISCONN", XEN_EISCONN }, { "E2BIG", XEN_E2BIG },
    { "EPERM", XEN_EPERM },
};

static long error_from_name(const char *name)
{
    size_t i;

    for (i = 0; i < ARRAY_SIZE(xs_errors); i++)
        if (strcmp(name, xs_errors[i].name) == 0)
            return -xs_errors[i].err;
    return -XEN_EINVAL;     /* libxenstore's choice for unknown names */
}

struct xs_part {
    const void *data;
    size_t len;
};

/*
 * One request/reply exchange.  On success the reply payload is in
 * xs_payload (NUL-terminated) and its length is returned.
 */
static long xs_talk(uint32_t type, uint32_t tx, const struct xs_part *parts, unsigned int n)
{
    struct xsd_sockmsg hdr = { .type = type, .req_id = ++xs_req_id, .tx_id = tx, .len = 0 };
    unsigned int i, stray;
    long rc;

    if (!xs_intf)
        return -XEN_ENODEV;
    for (i = 0; i < n; i++)
        hdr.len += (uint32_t)parts[i].len;
    if (hdr.len > XENSTORE_PAYLOAD_MAX)
        return -XEN_E2BIG;
    rc = ring_write(&hdr, sizeof(hdr));
    for (i = 0; rc == 0 && i < n; i++)
        rc = ring_write(parts[i].data, parts[i].len);
    if (rc)
        return rc;
    xs_notify();

    for (stray = 0; stray < MAX_STRAY_MESSAGES; stray++) {
        struct xsd_sockmsg reply;

        rc = read_message(&reply);
        if (rc)
            return rc;
        if (reply.type == XS_WATCH_EVENT)
            continue;
        if (reply.req_id != hdr.req_id) {
            kprintf("xenstore: dropping reply to request %u (type %u)\n",
                    reply.req_id, reply.type);
            continue;
        }
        if (reply.type == XS_ERROR)
            return error_from_name(xs_payload);
        if (reply.type != type)
            return -XEN_EIO;
        return (long)reply.len;
    }
    return -XEN_EIO;
}

static long copy_out(long len, char *buf, size_t size)
{
    if (len < 0)
        return len;
    if (size == 0)
        return -XEN_E2BIG;
    if ((size_t)len >= size)
        len = (long)size - 1;
    memcpy(buf, xs_payload, (size_t)len);
    buf[len] = '\0';
    return len;
}

long xs_read(uint32_t tx, const char *path, char *buf, size_t size)
{
    struct xs_part p[] = { { path, strlen(path) + 1 } };

    return copy_out(xs_talk(XS_READ, tx, p, 1), buf, size);
}

long xs_write(uint32_t tx, const char *path, const char *value)
{
    struct xs_part p[] = { { path, strlen(path) + 1 }, { value, strlen(value) } };
    long rc = xs_talk(XS_WRITE, tx, p, 2);

    return rc < 0 ? rc : 0;
}

long xs_directory(uint32_t tx, const char *path, char *buf, size_t size)
{
    struct xs_part p[] = { { path, strlen(path) + 1 } };
    long len = xs_talk(XS_DIRECTORY, tx, p, 1), count = 0, i;

    if (len < 0)
        return len;
    if ((size_t)len >= size)
        return -XEN_E2BIG;
    memcpy(buf, xs_payload, (size_t)len);
    buf[len] = '\0';
    for (i = 0; i < len; i++)
        if (buf[i] == '\0')
            count++;
    return count;
}

long xs_watch(const char *path, const char *token)
{
    struct xs_part p[] = { { path, strlen(path) + 1 }, { token, strlen(token) + 1 } };
    long rc = xs_talk(XS_WATCH, 0, p, 2);

    return rc < 0 ? rc : 0;
}

long xs_transaction_start(uint32_t *tx)
{
    struct xs_part p[] = { { "", 1 } };
    long rc = xs_talk(XS_TRANSACTION_START, 0, p, 1);
    unsigned long id;

    if (rc < 0)
        return rc;
    if (!parse_ulong(xs_payload, strnlen(xs_payload, (size_t)rc), &id) || id == 0 ||
        id > 0xffffffffu)
        return -XEN_EIO;
    *tx = (uint32_t)id;
    return 0;
}

long xs_transaction_end(uint32_t tx, int abort)
{
    struct xs_part p[] = { { abort ? "F" : "T", 2 } };
    long rc = xs_talk(XS_TRANSACTION_END, tx, p, 1);

    return rc < 0 ? rc : 0;
}

static bool watch_or_data(void *arg)
{
    (void)arg;
    return watch_head != watch_tail || rsp_has_data(NULL);
}

long xs_next_watch_event(struct xs_watch_event *ev, uint64_t timeout_ticks)
{
    uint64_t deadline = timer_read_cntvct() + timeout_ticks;

    if (!xs_intf)
        return -XEN_ENODEV;
    for (;;) {
        uint64_t now;

        if (watch_head != watch_tail) {
            memcpy(ev, &watch_queue[watch_head % WATCH_QUEUE_LEN], sizeof(*ev));
            watch_head++;
            return 1;
        }
        if (rsp_has_data(NULL)) {
            struct xsd_sockmsg msg;
            long rc = read_message(&msg);

            if (rc)
                return rc;
            if (msg.type != XS_WATCH_EVENT)
                kprintf("xenstore: dropping unexpected message type %u\n", msg.type);
            continue;
        }
        now = timer_read_cntvct();
        if (now >= deadline)
            return 0;
        if (!wait_until(watch_or_data, NULL, deadline - now, WAIT_MAX_WAKEUPS_DEFAULT))
            return 0;
    }
}
