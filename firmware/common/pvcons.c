/*
 * PV console output: copy bytes into out[out_prod & 2047] while the ring
 * has room (prod - cons < 2048), wmb, publish out_prod, EVTCHNOP_send.
 * When the ring is full, wait (WFI + events) for the backend to consume
 * and notify.  An index gap larger than the ring means a corrupt ring.
 */
#include "cpu.h"
#include "events.h"
#include "irq.h"
#include "pvcons.h"
#include "xen_io.h"

#define OUT_MASK(i)     ((i) & (XENCONS_OUT_SIZE - 1u))

static volatile struct xencons_interface *cons_intf;
static uint32_t cons_port;
static volatile unsigned long cons_notifications;

/* The backend notifies after consuming; waking wait_until() is all it takes. */
static void pvcons_event(uint32_t port, void *arg)
{
    (void)port;
    (void)arg;
    cons_notifications++;
}

static bool out_has_space(void *arg)
{
    (void)arg;
    return READ_ONCE_U32(cons_intf->out_prod) - READ_ONCE_U32(cons_intf->out_cons) <
           XENCONS_OUT_SIZE;
}

long pvcons_init(uint64_t gfn, uint32_t port)
{
    if (!gfn || !port)
        return -XEN_ENOENT;
    cons_intf = (volatile struct xencons_interface *)(uintptr_t)(gfn << XEN_PAGE_SHIFT);
    cons_port = port;
    evtchn_bind_handler(port, pvcons_event, NULL);
    evtchn_unmask(port);
    return 0;
}

long pvcons_write(const char *data, size_t len)
{
    size_t sent = 0;

    if (!cons_intf)
        return -XEN_ENODEV;
    while (sent < len) {
        uint32_t cons = READ_ONCE_U32(cons_intf->out_cons);
        uint32_t prod = READ_ONCE_U32(cons_intf->out_prod);

        mb();
        if (prod - cons > XENCONS_OUT_SIZE)
            return -XEN_EIO;
        if (prod - cons == XENCONS_OUT_SIZE) {
            if (!wait_until(out_has_space, NULL, timer_ms_to_ticks(PVCONS_TIMEOUT_MS),
                            WAIT_MAX_WAKEUPS_DEFAULT))
                return -XEN_ETIMEDOUT;
            continue;
        }
        while (sent < len && prod - cons < XENCONS_OUT_SIZE)
            cons_intf->out[OUT_MASK(prod++)] = data[sent++];
        wmb();
        WRITE_ONCE_U32(cons_intf->out_prod, prod);
        (void)evtchn_send(cons_port);
    }
    return (long)sent;
}
