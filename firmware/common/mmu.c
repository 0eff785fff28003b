/*
 * MMU setup with the MMU still off (see include/mmu.h): the identity map
 * used by the scenarios that share memory with Xen, and the physical half
 * of the "mmu" scenario (build the boot tables, fill the handoff, jump).
 */
#include "arch.h"
#include "console.h"
#include "events.h"
#include "guest.h"
#include "mmu.h"

#define MMU_POOL_PAGES      32u
#define MMU_STACK_PAGES     2u
#define SZ_1M               0x100000ull
#define SZ_2M               0x200000ull

/* Guest physical map constants (reference section 5.1). */
#define GUEST_LOW_IO_END    0x38000000ull   /* below: devices */
#define GUEST_GNTTAB_BASE   0x38000000ull   /* grant window + magic pages: RAM-like */
#define GUEST_MAGIC_END     0x3a000000ull
#define GUEST_LOW_END       0x40000000ull

/* Page tables, the virtual stack and the handoff all come from here. */
static uint8_t mmu_pool[MMU_POOL_PAGES * MMU_PAGE_SIZE] __attribute__((aligned(SD_TABLE_SIZE)));
static bool mmu_on;

/* arch/<arch>/mmu.S: VMA/LMA of .virt and mmu_virtual_main's VMA. */
extern const uintptr_t mmu_layout[4];
extern const char exception_vectors[];

static uint64_t round_up(uint64_t v, uint64_t a)
{
    return (v + a - 1) & ~(a - 1);
}

static void pool_init(struct pt_pool *p)
{
    p->next = (uintptr_t)mmu_pool;
    p->end = (uintptr_t)mmu_pool + sizeof(mmu_pool);
    p->va_offset = 0;
}

bool mmu_is_on(void)
{
    return mmu_on;
}

#if defined(__aarch64__)
static uint64_t tcr_ips(void)
{
    uint64_t mmfr0;

    __asm__ volatile("mrs %0, id_aa64mmfr0_el1" : "=r"(mmfr0));
    mmfr0 &= 7u;                /* PARange */
    return mmfr0 > 5u ? 5u : mmfr0;     /* 52-bit needs other descriptors */
}
#endif

bool mmu_identity_enable(void)
{
    struct mmu_regs regs;
    struct pt_pool pool;
    uint64_t ram_base, ram_end, root;

    if (mmu_on)
        return true;
    if (!platform.have_memory)
        return false;
    pool_init(&pool);
    ram_base = platform.mem_base;
    ram_end = platform.mem_base + platform.mem_size;

#if defined(__aarch64__)
    root = pt_alloc(&pool, MMU_PAGE_SIZE, MMU_PAGE_SIZE);
    if (lpd_map(&pool, root, 1, 0, 0, GUEST_LOW_IO_END, PTE_DEVICE, true) ||
        lpd_map(&pool, root, 1, GUEST_GNTTAB_BASE, GUEST_GNTTAB_BASE,
                GUEST_MAGIC_END - GUEST_GNTTAB_BASE, PTE_NORMAL, true) ||
        lpd_map(&pool, root, 1, GUEST_MAGIC_END, GUEST_MAGIC_END,
                GUEST_LOW_END - GUEST_MAGIC_END, PTE_DEVICE, true) ||
        lpd_map(&pool, root, 1, ram_base, ram_base,
                round_up(ram_end, MMU_PAGE_SIZE) - ram_base, PTE_NORMAL, true)) {
        kprintf("mmu: page table pool exhausted\n");
        return false;
    }
    regs.mair = MAIR_VALUE;
    regs.tcr = TCR_T0SZ(25) | TCR_IRGN0_WBWA | TCR_ORGN0_WBWA | TCR_SH0_INNER | TCR_TG0_4K |
               TCR_T1SZ(25) | TCR_EPD1 | TCR_TG1_4K | TCR_IPS(tcr_ips());
    regs.ttbr0 = root;
    regs.ttbr1 = 0;
#else
    root = pt_alloc(&pool, SD_TABLE_SIZE, SD_TABLE_SIZE);
    if (ram_end > 0x100000000ull)
        ram_end = 0x100000000ull;
    sd_map(&pool, root, 0, 0, GUEST_LOW_IO_END, SD_DEVICE);
    sd_map(&pool, root, (uint32_t)GUEST_GNTTAB_BASE, (uint32_t)GUEST_GNTTAB_BASE,
           GUEST_MAGIC_END - GUEST_GNTTAB_BASE, SD_NORMAL);
    sd_map(&pool, root, (uint32_t)GUEST_MAGIC_END, (uint32_t)GUEST_MAGIC_END,
           GUEST_LOW_END - GUEST_MAGIC_END, SD_DEVICE);
    sd_map(&pool, root, (uint32_t)ram_base, (uint32_t)ram_base,
           round_up(ram_end, SZ_1M) - ram_base, SD_NORMAL);
    regs.ttbcr = 0;
    regs.dacr = 1;              /* domain 0: client (check the AP bits) */
    regs.mair0 = 0;
    regs.mair1 = 0;
    regs.ttbr0 = root | TTBR_SD_ATTRS;
    regs.ttbr1 = 0;
#endif
    /* Written with the MMU off: drop any stale cached copy first. */
    mmu_inval_dcache_range((uintptr_t)_start, (uintptr_t)_end);
    mmu_enable(&regs);
    mmu_on = true;
    return true;
}

/* ------------------------------------------------------------------ */

static void fail(const char *what)
{
    kprintf("mmu: %s\n", what);
    guest_shutdown(SHUTDOWN_crash);
}

void mmu_offset_scenario(bool lpae)
{
    static struct mmu_enter enter;
    uintptr_t vma = mmu_layout[0], lma = mmu_layout[1], vend = mmu_layout[2];
    uintptr_t vmain = mmu_layout[3];
    uint64_t off = (uint64_t)(vma - lma);
    uint64_t idmap = (uintptr_t)__idmap_start;
    uint64_t virt_size = round_up(vend - vma, MMU_PAGE_SIZE);
    uint64_t pool_base = (uintptr_t)mmu_pool, pool_size = sizeof(mmu_pool);
    uint64_t uart_va = 0, handoff_pa, stack_pa, ram_size;
    struct mmu_handoff *h;
    struct pt_pool pool;
    int rc = 0;

    if (!platform.have_memory)
        fail("no memory node in the device tree");
    if (off != (uint64_t)MMU_VIRT_OFFSET)
        fail(".virt is not linked at MMU_VIRT_OFFSET");
    if (mmu_on)
        fail("the MMU is already on");
    if ((uintptr_t)__idmap_end - idmap > MMU_PAGE_SIZE)
        fail(".text.idmap is larger than a page");

    pool_init(&pool);
    handoff_pa = pt_alloc(&pool, MMU_PAGE_SIZE, MMU_PAGE_SIZE);
    stack_pa = pt_alloc(&pool, MMU_STACK_PAGES * MMU_PAGE_SIZE, MMU_PAGE_SIZE);
    h = (struct mmu_handoff *)(uintptr_t)handoff_pa;
    ram_size = platform.mem_size < MMU_VIRT_RAM_MAX ? platform.mem_size : MMU_VIRT_RAM_MAX;

    memset(&enter, 0, sizeof(enter));
    memset(h, 0, sizeof(*h));

#if defined(__aarch64__)
    (void)lpae;
    {
        uint64_t ttbr0 = pt_alloc(&pool, MMU_PAGE_SIZE, MMU_PAGE_SIZE);
        uint64_t ttbr0_next = pt_alloc(&pool, MMU_PAGE_SIZE, MMU_PAGE_SIZE);
        uint64_t ttbr1 = pt_alloc(&pool, MMU_PAGE_SIZE, MMU_PAGE_SIZE);

        /* The current page at both addresses; the virtual code, its
         * stack and the tables (the pool) at their aliases only. */
        rc |= lpd_map(&pool, ttbr0, 1, idmap, idmap, MMU_PAGE_SIZE, PTE_NORMAL, false);
        rc |= lpd_map(&pool, ttbr0_next, 1, idmap, idmap, MMU_PAGE_SIZE, PTE_NORMAL, false);
        rc |= lpd_map(&pool, ttbr1, 0, idmap + off, idmap, MMU_PAGE_SIZE, PTE_NORMAL, false);
        rc |= lpd_map(&pool, ttbr1, 0, vma, lma, virt_size, PTE_NORMAL, false);
        rc |= lpd_map(&pool, ttbr1, 0, pool_base + off, pool_base, pool_size, PTE_NORMAL, false);

        enter.regs.mair = MAIR_VALUE;
        enter.regs.tcr = TCR_T0SZ(25) | TCR_IRGN0_WBWA | TCR_ORGN0_WBWA | TCR_SH0_INNER |
                         TCR_TG0_4K | TCR_T1SZ(16) | TCR_IRGN1_WBWA | TCR_ORGN1_WBWA |
                         TCR_SH1_INNER | TCR_TG1_4K | TCR_IPS(tcr_ips());
        enter.regs.ttbr0 = ttbr0;
        enter.regs.ttbr1 = ttbr1;

        h->format = MMU_FORMAT_LONG;
        h->root_pa = ttbr1;
        h->root_level = 0;
        h->switch_fn_pa = (uintptr_t)mmu_switch_ttbr0_id;
        h->ttbr0_next = ttbr0_next;
        if (platform.have_uart)
            uart_va = MMU_VIRT_IO_BASE + (platform.uart_base & (SZ_2M - 1));
        kprintf("mmu: 4K granule, TTBR1 0x%016llx = physical 0x%08llx, TTBR0 identity for 0x%08llx\n",
                (unsigned long long)(platform.mem_base + off),
                (unsigned long long)platform.mem_base, (unsigned long long)idmap);
    }
#else
    if (!lpae) {
        uint64_t l1 = pt_alloc(&pool, SD_TABLE_SIZE, SD_TABLE_SIZE);

        sd_map(&pool, l1, (uint32_t)idmap, (uint32_t)idmap, SZ_1M, SD_NORMAL);
        sd_map(&pool, l1, (uint32_t)(idmap + off), (uint32_t)idmap, SZ_1M, SD_NORMAL);
        sd_map(&pool, l1, (uint32_t)vma, (uint32_t)lma, round_up(virt_size, SZ_1M), SD_NORMAL);
        sd_map(&pool, l1, (uint32_t)(pool_base + off), (uint32_t)pool_base,
               round_up(pool_size, SZ_1M), SD_NORMAL);
        enter.regs.ttbcr = 0;
        enter.regs.dacr = 1;
        enter.regs.ttbr0 = l1 | TTBR_SD_ATTRS;

        h->format = MMU_FORMAT_SHORT;
        h->root_pa = l1;
        h->unmap_desc_pa = l1 + 4u * (idmap >> SD_SECTION_SHIFT);
        h->unmap_desc_size = 4;
        if (platform.have_uart)
            uart_va = MMU_VIRT_IO_BASE + (platform.uart_base & (SZ_1M - 1));
        kprintf("mmu: short-descriptor sections, virtual 0x%08llx = physical 0x%08llx\n",
                (unsigned long long)(platform.mem_base + off),
                (unsigned long long)platform.mem_base);
    } else {
        uint64_t l1 = pt_alloc(&pool, MMU_PAGE_SIZE, MMU_PAGE_SIZE);

        rc |= lpd_map(&pool, l1, 1, idmap, idmap, MMU_PAGE_SIZE, PTE_NORMAL, false);
        rc |= lpd_map(&pool, l1, 1, idmap + off, idmap, MMU_PAGE_SIZE, PTE_NORMAL, false);
        rc |= lpd_map(&pool, l1, 1, vma, lma, virt_size, PTE_NORMAL, false);
        rc |= lpd_map(&pool, l1, 1, pool_base + off, pool_base, pool_size, PTE_NORMAL, false);
        enter.regs.ttbcr = TTBCR_LPAE_VALUE;
        enter.regs.dacr = 1;
        enter.regs.mair0 = (uint32_t)MAIR_VALUE;
        enter.regs.mair1 = (uint32_t)(MAIR_VALUE >> 32);
        enter.regs.ttbr0 = l1;

        h->format = MMU_FORMAT_LONG;
        h->root_pa = l1;
        h->root_level = 1;
        h->unmap_desc_pa = l1 + 8u * (idmap >> 30);
        h->unmap_desc_size = 8;
        h->lpae = 1;
        if (platform.have_uart)
            uart_va = MMU_VIRT_IO_BASE + (platform.uart_base & (SZ_2M - 1));
        kprintf("mmu: LPAE long descriptors, virtual 0x%08llx = physical 0x%08llx\n",
                (unsigned long long)(platform.mem_base + off),
                (unsigned long long)platform.mem_base);
    }
#endif
    if (rc)
        fail("page table pool exhausted");

    h->offset = off;
    h->ram_pa = platform.mem_base;
    h->ram_size = ram_size;
    h->uart_pa = platform.have_uart ? platform.uart_base : 0;
    h->uart_va = uart_va;
    h->boot_stage_pa = (uintptr_t)&boot_stage;
    h->shared_info_pa = (uintptr_t)shared_info_page;
    h->pool_next = pool.next;       /* the virtual side keeps allocating here */
    h->pool_end = pool.end;

    enter.offset = (uintptr_t)off;
    enter.entry = vmain;
    enter.sp = (uintptr_t)(stack_pa + MMU_STACK_PAGES * MMU_PAGE_SIZE + off);
    enter.arg = (uintptr_t)(handoff_pa + off);
    enter.vbar = (uintptr_t)((uintptr_t)exception_vectors + off);

    kprintf("mmu: enabling, then mmu_virtual_main at 0x%lx\n", (unsigned long)vmain);
    mmu_inval_dcache_range((uintptr_t)_start, (uintptr_t)_end);
    mmu_enter_virtual(&enter);
}
