/*
 * The virtually linked part of the "mmu" scenario.  guest.ld puts every
 * section of this object file into the .virt output section, whose VMA is
 * its LMA + MMU_VIRT_OFFSET, so all of this runs only at virtual
 * addresses, after arch/<arch>/mmu.S has enabled the MMU and jumped.
 *
 * Self-contained on purpose: calling or addressing anything of the
 * physically linked firmware from here would not even link on arm64 (out
 * of ADRP/BL range) and would fault at run time on arm32 once the
 * identity mapping is gone.  The physical side hands over everything it
 * knows in struct mmu_handoff, by virtual address.  UART output, number
 * formatting and hypercalls are therefore redone here in a few lines;
 * every pointer given to Xen from here is a virtual address, which Xen
 * translates with the vCPU's stage-1 tables.
 */
#include "mmu.h"
#include "xen.h"

struct vstate {
    const struct mmu_handoff *h;
    uintptr_t uart;
};

/* ---- output ---- */

static void vputc(const struct vstate *s, char c)
{
    volatile uint32_t *dr, *fr;
    unsigned int spins;

    if (!s->uart)
        return;
    dr = (volatile uint32_t *)(s->uart + 0x00);
    fr = (volatile uint32_t *)(s->uart + 0x18);
    for (spins = 0; spins < 1000000u && (*fr & (1u << 5)); spins++)
        ;
    *dr = (uint32_t)(unsigned char)c;
}

static void vputs(const struct vstate *s, const char *str)
{
    while (*str)
        vputc(s, *str++);
}

static void vhex(const struct vstate *s, uint64_t v, unsigned int digits)
{
    static const char hexd[] = "0123456789abcdef";
    char buf[19];
    unsigned int i, n = 0;

    buf[n++] = '0';
    buf[n++] = 'x';
    for (i = digits; i-- > 0;)
        buf[n++] = hexd[(v >> (i * 4)) & 0xf];
    buf[n] = '\0';
    vputs(s, buf);
}

/* Decimal without a 64-bit division (arm32 has no runtime library here). */
static void vdec(const struct vstate *s, uint64_t v, bool negative)
{
    char buf[24];
    unsigned int n = sizeof(buf) - 1;

    buf[n] = '\0';
    do {
        uint64_t q = 0;
        uint32_t rem = 0;
        int bit;

        for (bit = 63; bit >= 0; bit--) {
            rem = (rem << 1) | (uint32_t)((v >> bit) & 1u);
            q <<= 1;
            if (rem >= 10u) {
                rem -= 10u;
                q |= 1u;
            }
        }
        buf[--n] = (char)('0' + rem);
        v = q;
    } while (v);
    if (negative)
        buf[--n] = '-';
    vputs(s, buf + n);
}

static void vlong(const struct vstate *s, long v)
{
    if (v < 0)
        vdec(s, (uint64_t)0 - (uint64_t)v, true);
    else
        vdec(s, (uint64_t)v, false);
}

#if defined(__aarch64__)
#define ADDR_DIGITS 16u
#else
#define ADDR_DIGITS 8u
#endif

/* ---- hypercalls (pointers are virtual addresses) ---- */

static long vhypercall3(unsigned long nr, unsigned long a0, unsigned long a1, unsigned long a2)
{
#if defined(__aarch64__)
    register unsigned long x16 __asm__("x16") = nr;
    register unsigned long x0 __asm__("x0") = a0;
    register unsigned long x1 __asm__("x1") = a1;
    register unsigned long x2 __asm__("x2") = a2;

    __asm__ volatile("hvc #0xea1" : "+r"(x0), "+r"(x1), "+r"(x2), "+r"(x16) : : "memory");
    return (long)x0;
#else
    register unsigned long r12 __asm__("r12") = nr;
    register unsigned long r0 __asm__("r0") = a0;
    register unsigned long r1 __asm__("r1") = a1;
    register unsigned long r2 __asm__("r2") = a2;

    __asm__ volatile("hvc #0xea1" : "+r"(r0), "+r"(r1), "+r"(r2), "+r"(r12) : : "memory");
    return (long)r0;
#endif
}

static __attribute__((noreturn)) void vshutdown(const struct vstate *s, uint32_t reason)
{
    struct sched_shutdown sd;
    long rc;

    sd.reason = reason;
    vputs(s, reason == SHUTDOWN_poweroff ? "xgdbvm guest: powering off\n"
                                         : "xgdbvm guest: crashing\n");
    rc = vhypercall3(__HYPERVISOR_sched_op, SCHEDOP_shutdown, (uintptr_t)&sd, 0);
    vputs(s, "mmu: sched_op(shutdown) returned ");
    vlong(s, rc);
    vputs(s, "\nxgdbvm guest: halted\n");
    for (;;)
        __asm__ volatile("wfi");
}

/* ---- the remap ---- */

static void tlb_flush_all(void)
{
#if defined(__aarch64__)
    __asm__ volatile("dsb ishst\n\ttlbi vmalle1\n\tdsb ish\n\tisb" ::: "memory");
#else
    __asm__ volatile("dsb ishst\n\tmcr p15, 0, %0, c8, c7, 0\n\tdsb ish\n\tisb"
                     : : "r"(0) : "memory");
#endif
}

/*
 * Until now only this code, its stack, the tables and the switching page
 * are mapped.  Map all RAM (up to 1 GiB) at its alias and at its physical
 * address with large blocks, and the UART as Device memory.  Only invalid
 * entries become valid and valid ones are rewritten unchanged, so no
 * break-before-make is needed.
 */
#if defined(__aarch64__)
static uint64_t ttbr0_table(void)
{
    uint64_t v;
    __asm__ volatile("mrs %0, ttbr0_el1" : "=r"(v));
    return v & 0x0000fffffffff000ull; /* drop the ASID and CnP */
}
#endif

static int remap(const struct mmu_handoff *h)
{
    struct pt_pool pool = { .next = h->pool_next, .end = h->pool_end, .va_offset = h->offset };
    int rc = 0;

    /* Drop the boot page's identity entry first: the identity map of all RAM
     * below replaces it with entries of its own. */
    if (h->unmap_desc_pa) {
        volatile uint32_t *d = pt_ptr(&pool, h->unmap_desc_pa);

        d[0] = 0;
        if (h->unmap_desc_size == 8)
            d[1] = 0;
        tlb_flush_all();
    }
    /* RAM at its alias, and at its physical address too: the image's symbols
     * are linked physically, and a debugger reading &boot_stage should find
     * the same bytes before and after the switch. */
    if (h->format == MMU_FORMAT_LONG) {
        rc |= lpd_map(&pool, h->root_pa, (unsigned int)h->root_level, h->ram_pa + h->offset,
                      h->ram_pa, h->ram_size, PTE_NORMAL, true);
#if defined(__aarch64__)
        /* Low addresses belong to TTBR0 here (T0SZ 25: the walk starts at level 1). */
        rc |= lpd_map(&pool, ttbr0_table(), 1, h->ram_pa, h->ram_pa, h->ram_size, PTE_NORMAL,
                      true);
#else
        rc |= lpd_map(&pool, h->root_pa, (unsigned int)h->root_level, h->ram_pa, h->ram_pa,
                      h->ram_size, PTE_NORMAL, true);
#endif
        if (h->uart_pa)
            rc |= lpd_map(&pool, h->root_pa, (unsigned int)h->root_level,
                          h->uart_va & ~0x1fffffull, h->uart_pa & ~0x1fffffull, 0x200000,
                          PTE_DEVICE, true);
    } else {
        sd_map(&pool, h->root_pa, (uint32_t)(h->ram_pa + h->offset), (uint32_t)h->ram_pa,
               h->ram_size, SD_NORMAL);
        sd_map(&pool, h->root_pa, (uint32_t)h->ram_pa, (uint32_t)h->ram_pa, h->ram_size,
               SD_NORMAL);
        if (h->uart_pa)
            sd_map(&pool, h->root_pa, (uint32_t)h->uart_va, (uint32_t)h->uart_pa, 0x100000,
                   SD_DEVICE);
    }
    tlb_flush_all();
    return rc;
}

/* ---- main ---- */

#if defined(__aarch64__)
static uint64_t read_ttbr0(void)
{
    uint64_t v;
    __asm__ volatile("mrs %0, ttbr0_el1" : "=r"(v));
    return v;
}
#endif

void mmu_virtual_main(struct mmu_handoff *h)
{
    struct vstate s = { .h = h, .uart = 0 };
    struct xen_add_to_physmap xatp;
    volatile const struct shared_info *si;
    volatile const uint32_t *stage;
    uint32_t v1, v2, sec, nsec;
    unsigned int tries;
    long rc;

    rc = remap(h);
    s.uart = (uintptr_t)h->uart_va;
    vputs(&s, "mmu: running at virtual ");
    vhex(&s, (uintptr_t)mmu_virtual_main, ADDR_DIGITS);
    vputs(&s, "\n");
    if (rc) {
        vputs(&s, "mmu: remap failed\n");
        vshutdown(&s, SHUTDOWN_crash);
    }
    vputs(&s, "mmu: remapped RAM at ");
    vhex(&s, h->ram_pa + h->offset, ADDR_DIGITS);
    vputs(&s, ", UART at ");
    vhex(&s, h->uart_va, ADDR_DIGITS);
    vputs(&s, h->unmap_desc_pa ? ", identity map removed\n" : "\n");

    stage = (volatile const uint32_t *)(uintptr_t)(h->boot_stage_pa + h->offset);
    vputs(&s, "mmu: boot_stage=");
    vdec(&s, *stage, false);
    vputs(&s, " read at ");
    vhex(&s, (uintptr_t)stage, ADDR_DIGITS);
    vputs(&s, "\n");

    /* A console_io write whose buffer is a virtual address. */
    {
        static const char line[] = "mmu: console_io from virtual code\n";

        rc = vhypercall3(__HYPERVISOR_console_io, CONSOLEIO_write, sizeof(line) - 1,
                         (uintptr_t)line);
        if (rc < 0) {
            vputs(&s, "mmu: console_io failed: ");
            vlong(&s, rc);
            vputs(&s, "\n");
        }
    }

    /* shared_info: the struct is on the virtual stack. */
    xatp.domid = DOMID_SELF;
    xatp.size = 0;
    xatp.space = XENMAPSPACE_shared_info;
    xatp.idx = 0;
    xatp.gpfn = h->shared_info_pa >> XEN_PAGE_SHIFT;
    rc = vhypercall3(__HYPERVISOR_memory_op, XENMEM_add_to_physmap, (uintptr_t)&xatp, 0);
    if (rc) {
        vputs(&s, "mmu: add_to_physmap(shared_info) failed: ");
        vlong(&s, rc);
        vputs(&s, "\n");
        vshutdown(&s, SHUTDOWN_crash);
    }
    si = (volatile const struct shared_info *)(uintptr_t)(h->shared_info_pa + h->offset);
    for (tries = 0;; tries++) {
        v1 = si->wc_version;
        __asm__ volatile("dmb ish" ::: "memory");
        sec = si->wc_sec;
        nsec = si->wc_nsec;
        __asm__ volatile("dmb ish" ::: "memory");
        v2 = si->wc_version;
        if ((!(v1 & 1) && v1 == v2) || tries >= 1000)
            break;
    }
    vputs(&s, "mmu: shared_info at gpfn ");
    vhex(&s, xatp.gpfn, 8);
    vputs(&s, " wc_version=");
    vdec(&s, v1, false);
    vputs(&s, " wc_sec=");
    vdec(&s, sec, false);
    vputs(&s, " wc_nsec=");
    vdec(&s, nsec, false);
    vputs(&s, "\n");

#if defined(__aarch64__)
    {
        uint64_t before = read_ttbr0(), after;
        void (*switch_fn)(uint64_t) = (void (*)(uint64_t))(uintptr_t)h->switch_fn_pa;

        switch_fn(h->ttbr0_next);
        after = read_ttbr0();
        vputs(&s, "mmu: TTBR0 switched with the MMU off: ");
        vhex(&s, before, 8);
        vputs(&s, " -> ");
        vhex(&s, after, 8);
        vputs(&s, "\n");
    }
#endif

    vshutdown(&s, SHUTDOWN_poweroff);
}
