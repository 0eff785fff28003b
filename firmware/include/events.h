/*
 * Xen shared state and event channels (common/events.c), the way Linux's
 * arm/xen/enlighten.c and drivers/xen/events (2-level ABI) do it:
 *
 *   xen_map_shared_info()    XENMEM_add_to_physmap(XENMAPSPACE_shared_info,
 *                            idx 0, gpfn = the page-aligned .bss page
 *                            shared_info_page)
 *   xen_read_wallclock()     wc_version / wc_sec / wc_nsec / wc_sec_hi with
 *                            the odd-version retry protocol
 *   xen_register_vcpu_info() VCPUOP_register_vcpu_info(vcpu 0, gfn and offset
 *                            of the 64-byte aligned vcpu_info_area)
 *   evtchn_init()            mask all 4096 ports, take the upcall PPI
 *                            (/hypervisor interrupts[0]) through the GIC
 *
 * Upcall (PPI 31): loop { evtchn_upcall_pending = 0; 2-level scan } while
 * evtchn_upcall_pending.  The scan xchg()s evtchn_pending_sel to 0, then
 * for every selected word handles pending & ~mask, round-robin from the
 * port after the last one handled (Linux's evtchn_2l_handle_events);
 * each port's pending bit is cleared with an exclusive-access atomic
 * before its handler runs.
 */
#ifndef XGDBVM_FW_EVENTS_H
#define XGDBVM_FW_EVENTS_H

#include <stdbool.h>
#include <stdint.h>

#include "xen.h"

typedef void (*evtchn_handler_t)(uint32_t port, void *arg);

extern volatile struct shared_info *HYPERVISOR_shared_info;
extern volatile struct vcpu_info *xen_vcpu;     /* vCPU 0's vcpu_info in use */
extern uint8_t shared_info_page[XEN_PAGE_SIZE];

/* Guest virtual -> guest physical for the firmware's own (identity) map. */
static inline uint64_t virt_to_gfn(const volatile void *p)
{
    return (uint64_t)(uintptr_t)p >> XEN_PAGE_SHIFT;
}

struct xen_wallclock {
    uint32_t version;       /* even value the fields were read under */
    uint32_t sec, nsec, sec_hi;
};

long xen_map_shared_info(void);
bool xen_read_wallclock(struct xen_wallclock *wc);
long xen_register_vcpu_info(void);

/* HVMOP_get_param(DOMID_SELF, index). */
long hvm_get_param(uint32_t index, uint64_t *value);

/* Mask every port, hook the upcall PPI.  Needs the shared_info mapping. */
bool evtchn_init(void);

/* Handlers (one per port; NULL = count and drop). */
void evtchn_bind_handler(uint32_t port, evtchn_handler_t fn, void *arg);

void evtchn_mask(uint32_t port);
/* Linux's 2-level unmask: clear the mask bit; if the port is then pending,
 * set it again and ask Xen with EVTCHNOP_unmask (which re-raises it). */
void evtchn_unmask(uint32_t port);
bool evtchn_is_pending(uint32_t port);

/* Hypercall wrappers: 0 or -errno. */
long evtchn_alloc_unbound(uint16_t remote_dom, uint32_t *port);
long evtchn_bind_virq(uint32_t virq, uint32_t vcpu, uint32_t *port);
long evtchn_bind_interdomain(uint16_t remote_dom, uint32_t remote_port, uint32_t *port);
long evtchn_send(uint32_t port);
/* Masks the port and drops its handler before EVTCHNOP_close. */
long evtchn_close(uint32_t port);

/* Statistics. */
extern volatile unsigned long evtchn_upcalls;   /* upcall IRQs taken */
extern volatile unsigned long evtchn_delivered; /* ports dispatched */
extern volatile unsigned long evtchn_unbound;   /* dispatched with no handler */

/* Name of a (negated) Xen errno, e.g. "ENOSYS"; "E?" if unknown. */
const char *xen_errno_name(long rc);

#endif /* XGDBVM_FW_EVENTS_H */
