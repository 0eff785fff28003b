/*
 * shared_info, vcpu_info and 2-level event channels (see include/events.h).
 *
 * Sources of the behaviour: Linux arch/arm/xen/enlighten.c (shared_info
 * and vcpu_info registration), drivers/xen/events/events_2l.c (scan,
 * unmask) and events_base.c (upcall loop); Xen common/event_2l.c for what
 * the other side does.
 */
#include "console.h"
#include "cpu.h"
#include "events.h"
#include "guest.h"
#include "hypercall.h"
#include "irq.h"

#define UPCALL_MAX_LOOPS    (1ul << 24)

/*
 * The frame Xen replaces with the shared_info page: any page of our RAM
 * will do (Linux uses a freshly allocated one), so a page-aligned .bss
 * page, whose guest frame number is its address >> 12 (identity map).
 */
uint8_t shared_info_page[XEN_PAGE_SIZE] __attribute__((aligned(XEN_PAGE_SIZE)));

/* vCPU 0's own vcpu_info: 64-byte aligned so it can never straddle a page. */
static struct vcpu_info vcpu_info_area __attribute__((aligned(64)));

volatile struct shared_info *HYPERVISOR_shared_info;
volatile struct vcpu_info *xen_vcpu;

volatile unsigned long evtchn_upcalls;
volatile unsigned long evtchn_delivered;
volatile unsigned long evtchn_unbound;

static struct {
    evtchn_handler_t fn;
    void *arg;
} evtchn_handlers[EVTCHN_2L_NR_CHANNELS];

/* Round-robin position of the 2-level scan (Linux's per-CPU variables). */
static unsigned int current_word_idx, current_bit_idx;

/* ------------------------------------------------------------------ */

long xen_map_shared_info(void)
{
    struct xen_add_to_physmap xatp = {
        .domid = DOMID_SELF,
        .size = 0,
        .space = XENMAPSPACE_shared_info,
        .idx = 0,
        .gpfn = virt_to_gfn(shared_info_page),
    };
    long rc;

    rc = HYPERVISOR_memory_op(XENMEM_add_to_physmap, &xatp);
    if (rc != 0)
        return rc;
    HYPERVISOR_shared_info = (volatile struct shared_info *)shared_info_page;
    xen_vcpu = &HYPERVISOR_shared_info->vcpu_info[0];
    return 0;
}

bool xen_read_wallclock(struct xen_wallclock *wc)
{
    volatile struct shared_info *s = HYPERVISOR_shared_info;
    unsigned int tries;

    if (!s)
        return false;
    for (tries = 0; tries < 1000; tries++) {
        uint32_t v = READ_ONCE_U32(s->wc_version);

        rmb();
        wc->sec = READ_ONCE_U32(s->wc_sec);
        wc->nsec = READ_ONCE_U32(s->wc_nsec);
        wc->sec_hi = READ_ONCE_U32(s->wc_sec_hi);
        rmb();
        if (!(v & 1) && v == READ_ONCE_U32(s->wc_version)) {
            wc->version = v;
            return true;
        }
    }
    return false;
}

long xen_register_vcpu_info(void)
{
    struct vcpu_register_vcpu_info info = {
        .mfn = virt_to_gfn(&vcpu_info_area),
        .offset = (uint32_t)((uintptr_t)&vcpu_info_area & (XEN_PAGE_SIZE - 1)),
        .rsvd = 0,
    };
    long rc;

    rc = HYPERVISOR_vcpu_op(VCPUOP_register_vcpu_info, 0, &info);
    if (rc == 0)
        xen_vcpu = &vcpu_info_area;
    return rc;
}

long hvm_get_param(uint32_t index, uint64_t *value)
{
    struct xen_hvm_param p = { .domid = DOMID_SELF, .pad = 0, .index = index, .value = 0 };
    long rc;

    rc = HYPERVISOR_hvm_op(HVMOP_get_param, &p);
    if (rc == 0)
        *value = p.value;
    return rc;
}

/* ------------------------------------------------------------------ */

static inline unsigned int first_bit64(uint64_t w)
{
    return (unsigned int)__builtin_ctzll(w);
}

/* Bits at positions >= i. */
static inline uint64_t mask_lsbs(uint64_t w, unsigned int i)
{
    return w & (~0ull << i);
}

static uint64_t active_evtchns(unsigned int word)
{
    volatile struct shared_info *s = HYPERVISOR_shared_info;

    return READ_ONCE_U64(s->evtchn_pending[word]) & ~READ_ONCE_U64(s->evtchn_mask[word]);
}

static void handle_port(uint32_t port)
{
    evtchn_handler_t fn = evtchn_handlers[port].fn;

    /* Ack first (Linux's ack_dynirq -> clear_evtchn), then handle. */
    sync_clear_bit(port, HYPERVISOR_shared_info->evtchn_pending);
    evtchn_delivered++;
    if (fn)
        fn(port, evtchn_handlers[port].arg);
    else
        evtchn_unbound++;
}

static void evtchn_2l_handle_events(void)
{
    unsigned int start_word_idx = current_word_idx;
    unsigned int start_bit_idx = current_bit_idx;
    unsigned int word_idx = start_word_idx, bit_idx, i;
    uint64_t pending_words;

    /* Clearing the selector must come after clearing upcall_pending;
     * the xchg is fully ordered. */
    pending_words = atomic_xchg64(&xen_vcpu->evtchn_pending_sel, 0);

    for (i = 0; pending_words != 0; i++) {
        uint64_t pending_bits, words;

        words = mask_lsbs(pending_words, word_idx);
        if (words == 0) {
            /* Everything at or after word_idx done: wrap around. */
            word_idx = 0;
            bit_idx = 0;
            continue;
        }
        word_idx = first_bit64(words);

        pending_bits = active_evtchns(word_idx);
        bit_idx = 0;
        if (word_idx == start_word_idx && i == 0)
            bit_idx = start_bit_idx;    /* resume where the last scan stopped */

        do {
            uint64_t bits = mask_lsbs(pending_bits, bit_idx);

            if (bits == 0)
                break;
            bit_idx = first_bit64(bits);
            handle_port(word_idx * EVTCHN_WORD_BITS + bit_idx);

            bit_idx = (bit_idx + 1) % EVTCHN_WORD_BITS;
            current_word_idx = bit_idx ? word_idx : (word_idx + 1) % EVTCHN_2L_NR_WORDS;
            current_bit_idx = bit_idx;
        } while (bit_idx != 0);

        /* The start word is scanned twice (its head last), others once. */
        if (word_idx != start_word_idx || i != 0)
            pending_words &= ~(1ull << word_idx);
        word_idx = (word_idx + 1) % EVTCHN_2L_NR_WORDS;
    }
}

static void evtchn_upcall(unsigned int intid, void *arg)
{
    unsigned long loops = 0;

    (void)intid;
    (void)arg;
    evtchn_upcalls++;
    do {
        WRITE_ONCE_U8(xen_vcpu->evtchn_upcall_pending, 0);
        evtchn_2l_handle_events();
        rmb();      /* Xen may set upcall_pending again meanwhile */
        if (++loops >= UPCALL_MAX_LOOPS) {
            kprintf("evtchn: upcall storm (%lu rounds), giving up\n", loops);
            guest_shutdown(SHUTDOWN_crash);
        }
    } while (READ_ONCE_U8(xen_vcpu->evtchn_upcall_pending));
}

bool evtchn_init(void)
{
    unsigned int i;

    if (!HYPERVISOR_shared_info)
        return false;
    /* 2-level setup: every port masked until someone binds it. */
    for (i = 0; i < EVTCHN_2L_NR_WORDS; i++)
        WRITE_ONCE_U64(HYPERVISOR_shared_info->evtchn_mask[i], ~0ull);
    wmb();
    if (!irq_init())
        return false;
    irq_request(platform.evtchn_ppi, evtchn_upcall, NULL);
    return true;
}

void evtchn_bind_handler(uint32_t port, evtchn_handler_t fn, void *arg)
{
    if (port >= EVTCHN_2L_NR_CHANNELS)
        return;
    evtchn_handlers[port].arg = arg;
    evtchn_handlers[port].fn = fn;
}

void evtchn_mask(uint32_t port)
{
    sync_set_bit(port, HYPERVISOR_shared_info->evtchn_mask);
}

bool evtchn_is_pending(uint32_t port)
{
    return sync_test_bit(port, HYPERVISOR_shared_info->evtchn_pending);
}

void evtchn_unmask(uint32_t port)
{
    volatile struct shared_info *s = HYPERVISOR_shared_info;

    wmb();      /* everything before the unmask is visible first */
    sync_clear_bit(port, s->evtchn_mask);
    if (sync_test_bit(port, s->evtchn_pending)) {
        /* An HVM-type guest cannot re-raise the upcall itself: remask
         * and let Xen do it (it only does when the mask bit was set). */
        struct evtchn_port_op op = { .port = port };

        sync_set_bit(port, s->evtchn_mask);
        (void)HYPERVISOR_event_channel_op(EVTCHNOP_unmask, &op);
    }
}

long evtchn_alloc_unbound(uint16_t remote_dom, uint32_t *port)
{
    struct evtchn_alloc_unbound op = { .dom = DOMID_SELF, .remote_dom = remote_dom, .port = 0 };
    long rc = HYPERVISOR_event_channel_op(EVTCHNOP_alloc_unbound, &op);

    if (rc == 0)
        *port = op.port;
    return rc;
}

long evtchn_bind_virq(uint32_t virq, uint32_t vcpu, uint32_t *port)
{
    struct evtchn_bind_virq op = { .virq = virq, .vcpu = vcpu, .port = 0 };
    long rc = HYPERVISOR_event_channel_op(EVTCHNOP_bind_virq, &op);

    if (rc == 0)
        *port = op.port;
    return rc;
}

long evtchn_bind_interdomain(uint16_t remote_dom, uint32_t remote_port, uint32_t *port)
{
    struct evtchn_bind_interdomain op = {
        .remote_dom = remote_dom, .pad = 0, .remote_port = remote_port, .local_port = 0,
    };
    long rc = HYPERVISOR_event_channel_op(EVTCHNOP_bind_interdomain, &op);

    if (rc == 0)
        *port = op.local_port;
    return rc;
}

long evtchn_send(uint32_t port)
{
    struct evtchn_port_op op = { .port = port };

    return HYPERVISOR_event_channel_op(EVTCHNOP_send, &op);
}

long evtchn_close(uint32_t port)
{
    struct evtchn_port_op op = { .port = port };

    if (HYPERVISOR_shared_info)
        evtchn_mask(port);
    evtchn_bind_handler(port, NULL, NULL);
    return HYPERVISOR_event_channel_op(EVTCHNOP_close, &op);
}

/* ------------------------------------------------------------------ */

static const struct {
    int err;
    const char *name;
} errno_names[] = {
    { XEN_EPERM, "EPERM" },     { XEN_ENOENT, "ENOENT" },   { XEN_ESRCH, "ESRCH" },
    { XEN_EINTR, "EINTR" },     { XEN_EIO, "EIO" },         { XEN_ENXIO, "ENXIO" },
    { XEN_E2BIG, "E2BIG" },     { XEN_EBADF, "EBADF" },     { XEN_EAGAIN, "EAGAIN" },
    { XEN_ENOMEM, "ENOMEM" },   { XEN_EACCES, "EACCES" },   { XEN_EFAULT, "EFAULT" },
    { XEN_EBUSY, "EBUSY" },     { XEN_EEXIST, "EEXIST" },   { XEN_ENODEV, "ENODEV" },
    { XEN_EISDIR, "EISDIR" },   { XEN_EINVAL, "EINVAL" },   { XEN_ENOSPC, "ENOSPC" },
    { XEN_EROFS, "EROFS" },     { XEN_ERANGE, "ERANGE" },   { XEN_ENOSYS, "ENOSYS" },
    { XEN_ENOTEMPTY, "ENOTEMPTY" }, { XEN_ENODATA, "ENODATA" },
    { XEN_EOVERFLOW, "EOVERFLOW" }, { XEN_EOPNOTSUPP, "EOPNOTSUPP" },
    { XEN_EISCONN, "EISCONN" }, { XEN_ETIMEDOUT, "ETIMEDOUT" },
};

const char *xen_errno_name(long rc)
{
    long e = rc < 0 ? -rc : rc;
    size_t i;

    for (i = 0; i < ARRAY_SIZE(errno_names); i++)
        if (errno_names[i].err == e)
            return errno_names[i].name;
    return "E?";
}
