/*
 * Stage-1 MMU support (common/mmu.c, common/mmu_virt.c, arch/<arch>/mmu.S).
 *
 * Two users:
 *
 *  - mmu_identity_enable(): an identity map (VA == IPA) with RAM, the
 *    grant window and the magic pages as Normal write-back memory and the
 *    rest of the low 1 GiB as Device memory, then MMU + caches on.  The
 *    scenarios that share pages with Xen use it, because real Xen writes
 *    those pages through cacheable mappings (reference section 0: memory
 *    shared with Xen must be Normal, Inner/Outer WB, Inner-Shareable).
 *    arm64: 4K granule, 39-bit TTBR0 (levels 1-3), 1 GiB / 2 MiB blocks;
 *    arm32: short-descriptor 1 MiB sections (TTBCR = 0).
 *
 *  - the "mmu" / "mmu-lpae" scenarios: the offset mapping of Mini-OS's ARM
 *    boot code (code linked at a virtual base, running at another physical
 *    address): map the current page at both its physical and its virtual
 *    address, enable, jump to the virtual alias, then remap the rest.
 *    VA = PA + MMU_VIRT_OFFSET for RAM:
 *      arm64  0xffff000000000000 <-> 0x40000000 (TTBR1, 48-bit, 4 levels)
 *      arm32  0xc0000000         <-> 0x40000000 (one TTBR0 table)
 *    The code that runs there is common/mmu_virt.c, linked into the .virt
 *    output section (VMA = LMA + MMU_VIRT_OFFSET); it only reaches the
 *    rest of the firmware through struct mmu_handoff.
 *
 * Descriptor formats: "long" = VMSAv8-64 / ARMv7 LPAE 64-bit descriptors
 * (same layout for the bits used here), "short" = ARMv7 short-descriptor
 * sections.  MAIR: attr0 Device-nGnRnE, attr1 Device-nGnRE, attr2 Normal
 * WB read/write-allocate.
 */
#ifndef XGDBVM_FW_MMU_H
#define XGDBVM_FW_MMU_H

#include <stdbool.h>
#include <stdint.h>

#define MMU_PAGE_SIZE       4096u
#define MMU_PAGE_SHIFT      12u

#if defined(__aarch64__)
#define MMU_VIRT_OFFSET     0xfffeffffc0000000ull   /* 0xffff000000000000 - 0x40000000 */
#define MMU_VIRT_RAM_BASE   0xffff000000000000ull
#define MMU_VIRT_IO_BASE    0xffff000040000000ull   /* UART's 2 MiB block */
#define MMU_VIRT_RAM_MAX    0x40000000ull           /* alias at most 1 GiB of RAM */
#else
#define MMU_VIRT_OFFSET     0x80000000u
#define MMU_VIRT_RAM_BASE   0xc0000000u
#define MMU_VIRT_IO_BASE    0xbfe00000u             /* 2 MiB below the RAM alias */
#define MMU_VIRT_RAM_MAX    0x40000000u
#endif

#define MAIR_VALUE          0x0000000000ff0400ull
#define MAIR_IDX_DEVICE     1u
#define MAIR_IDX_NORMAL     2u

/* Long descriptors. */
#define PTE_TYPE_MASK       3ull
#define PTE_TYPE_BLOCK      1ull
#define PTE_TYPE_TABLE      3ull    /* levels 0-2 */
#define PTE_TYPE_PAGE       3ull    /* level 3 */
#define PTE_ATTRIDX(n)      ((uint64_t)(n) << 2)
#define PTE_SH_INNER        (3ull << 8)
#define PTE_AF              (1ull << 10)
#define PTE_PXN             (1ull << 53)
#define PTE_XN              (1ull << 54)    /* UXN on arm64 */
#define PTE_ADDR_MASK       0x0000fffffffff000ull
#define PTE_NORMAL          (PTE_ATTRIDX(MAIR_IDX_NORMAL) | PTE_AF | PTE_SH_INNER)
#define PTE_DEVICE          (PTE_ATTRIDX(MAIR_IDX_DEVICE) | PTE_AF | PTE_PXN | PTE_XN)

/* Short-descriptor sections (domain 0, AP = full access at PL1). */
#define SD_SECTION          0x2u
#define SD_B                (1u << 2)
#define SD_C                (1u << 3)
#define SD_XN               (1u << 4)
#define SD_AP_RW            (3u << 10)
#define SD_TEX(x)           ((uint32_t)(x) << 12)
#define SD_S                (1u << 16)
#define SD_NORMAL           (SD_SECTION | SD_TEX(1) | SD_C | SD_B | SD_S | SD_AP_RW)
#define SD_DEVICE           (SD_SECTION | SD_B | SD_XN | SD_AP_RW)
#define SD_SECTION_SHIFT    20u
#define SD_TABLE_SIZE       16384u

/* TTBR0 attributes for the short-descriptor walk: IRGN = RGN = WB-WA, S. */
#define TTBR_SD_ATTRS       0x4au
/* TTBCR with LPAE: EAE, inner shareable WB-WA walks, TTBR1 walks off. */
#define TTBCR_EAE           (1u << 31)
#define TTBCR_LPAE_VALUE    (TTBCR_EAE | (1u << 23) | (3u << 12) | (1u << 10) | (1u << 8))

/* arm64 TCR_EL1 fields. */
#define TCR_T0SZ(x)         ((uint64_t)(x) << 0)
#define TCR_IRGN0_WBWA      (1ull << 8)
#define TCR_ORGN0_WBWA      (1ull << 10)
#define TCR_SH0_INNER       (3ull << 12)
#define TCR_TG0_4K          (0ull << 14)
#define TCR_T1SZ(x)         ((uint64_t)(x) << 16)
#define TCR_EPD1            (1ull << 23)
#define TCR_IRGN1_WBWA      (1ull << 24)
#define TCR_ORGN1_WBWA      (1ull << 26)
#define TCR_SH1_INNER       (3ull << 28)
#define TCR_TG1_4K          (2ull << 30)
#define TCR_IPS(x)          ((uint64_t)(x) << 32)

#define MMU_FORMAT_LONG     1u      /* arm64, arm32 LPAE */
#define MMU_FORMAT_SHORT    2u      /* arm32 short descriptors */

#ifndef __ASSEMBLER__

/* Values arch/<arch>/mmu.S loads before setting SCTLR.M/C/I. */
struct mmu_regs {
#if defined(__aarch64__)
    uint64_t mair, tcr, ttbr0, ttbr1;
#else
    uint32_t ttbcr, dacr, mair0, mair1;
    uint64_t ttbr0, ttbr1;          /* 32-bit MCR unless TTBCR.EAE */
#endif
};

/* mmu_enter_virtual(): registers, then where to go once the MMU is on. */
struct mmu_enter {
    struct mmu_regs regs;
    uintptr_t offset;       /* VA - PA of the alias to jump to */
    uintptr_t entry;        /* virtual entry point, called as entry(arg) */
    uintptr_t sp;           /* virtual stack top */
    uintptr_t arg;          /* virtual address of the struct mmu_handoff */
    uintptr_t vbar;         /* virtual alias of the exception vectors */
};

/* What the virtual code gets (by its virtual address). */
struct mmu_handoff {
    uint64_t offset;            /* VA = PA + offset for RAM */
    uint64_t format;            /* MMU_FORMAT_* */
    uint64_t root_pa;           /* table to extend: TTBR1 root / the TTBR0 table */
    uint64_t root_level;        /* long format: start level of root_pa */
    uint64_t ram_pa, ram_size;  /* RAM to map at the alias */
    uint64_t uart_pa;           /* 0 = no UART */
    uint64_t uart_va;           /* where the remap puts it */
    uint64_t boot_stage_pa;
    uint64_t shared_info_pa;    /* page given to XENMEM_add_to_physmap */
    uint64_t unmap_desc_pa;     /* identity descriptor to clear after the jump (0 = none) */
    uint64_t unmap_desc_size;   /* 4 or 8 */
    uint64_t pool_next, pool_end;   /* table allocator, continued in virtual mode */
    uint64_t switch_fn_pa;      /* arm64: identity address of mmu_switch_ttbr0_id */
    uint64_t ttbr0_next;        /* arm64: the TTBR0 to switch to */
    uint64_t lpae;              /* arm32: 1 with LPAE */
};

/* ---- page-table building, shared by the physical and the virtual side ---- */

struct pt_pool {
    uint64_t next, end;     /* physical allocation cursor and limit */
    uint64_t va_offset;     /* table pointer = PA + va_offset (0: MMU off) */
};

static inline volatile void *pt_ptr(const struct pt_pool *p, uint64_t pa)
{
    return (volatile void *)(uintptr_t)(pa + p->va_offset);
}

/* A zeroed, `align`-aligned block of `size` bytes; 0 when exhausted. */
static inline uint64_t pt_alloc(struct pt_pool *p, uint64_t size, uint64_t align)
{
    uint64_t pa = (p->next + align - 1) & ~(align - 1);
    volatile uint32_t *w;
    uint64_t i;

    if (pa + size > p->end || pa + size < pa)
        return 0;
    p->next = pa + size;
    w = pt_ptr(p, pa);
    for (i = 0; i < size / 4; i++)
        w[i] = 0;
    return pa;
}

/*
 * Map [va, va + size) to pa with long descriptors below the table at
 * root_pa (start level 0 or 1, 4K granule).  With `blocks`, 1 GiB and
 * 2 MiB blocks are used where alignment allows and no table exists yet;
 * existing tables are always followed, never replaced (so a live mapping
 * can be extended without break-before-make).  Returns 0 or < 0.
 */
static inline int lpd_map(struct pt_pool *p, uint64_t root_pa, unsigned int start_level,
                          uint64_t va, uint64_t pa, uint64_t size, uint64_t attrs, bool blocks)
{
    while (size) {
        uint64_t table = root_pa, step = 0;
        unsigned int level;

        for (level = start_level; level <= 3; level++) {
            unsigned int shift = 39u - 9u * level;
            uint64_t bsize = 1ull << shift;
            volatile uint64_t *t = pt_ptr(p, table);
            unsigned int idx = (unsigned int)((va >> shift) & 511u);
            uint64_t e = t[idx];

            if (level == 3) {
                t[idx] = (pa & PTE_ADDR_MASK) | attrs | PTE_TYPE_PAGE;
                step = MMU_PAGE_SIZE;
                break;
            }
            if (blocks && level >= 1 && !((va | pa) & (bsize - 1)) && size >= bsize &&
                (e & PTE_TYPE_MASK) != PTE_TYPE_TABLE) {
                t[idx] = (pa & PTE_ADDR_MASK) | attrs | PTE_TYPE_BLOCK;
                step = bsize;
                break;
            }
            if ((e & PTE_TYPE_MASK) == PTE_TYPE_BLOCK)
                return -1;          /* would have to split a block */
            if ((e & PTE_TYPE_MASK) != PTE_TYPE_TABLE) {
                uint64_t next = pt_alloc(p, MMU_PAGE_SIZE, MMU_PAGE_SIZE);

                if (!next)
                    return -2;
                t[idx] = next | PTE_TYPE_TABLE;
                e = t[idx];
            }
            table = e & PTE_ADDR_MASK;
        }
        if (step > size)
            step = size;
        va += step;
        pa += step;
        size -= step;
    }
    return 0;
}

/* Short descriptors: map [va, va + size) with 1 MiB sections. */
static inline void sd_map(const struct pt_pool *p, uint64_t l1_pa, uint32_t va, uint32_t pa,
                          uint64_t size, uint32_t attrs)
{
    volatile uint32_t *t = pt_ptr(p, l1_pa);
    uint64_t done;

    va &= ~((1u << SD_SECTION_SHIFT) - 1u);
    pa &= ~((1u << SD_SECTION_SHIFT) - 1u);
    for (done = 0; done < size; done += 1u << SD_SECTION_SHIFT) {
        t[va >> SD_SECTION_SHIFT] = pa | attrs;
        va += 1u << SD_SECTION_SHIFT;
        pa += 1u << SD_SECTION_SHIFT;
    }
}

/* ---- common/mmu.c ---- */

/* Identity map + MMU and caches on.  Returns false if there is nothing to map. */
bool mmu_identity_enable(void);
bool mmu_is_on(void);

/* The "mmu" scenario (lpae selects the arm32 LPAE variant); never returns. */
void mmu_offset_scenario(bool lpae);

/* ---- arch/<arch>/mmu.S (all in the one-page .text.idmap section) ---- */
void mmu_enable(const struct mmu_regs *regs);
__attribute__((noreturn)) void mmu_enter_virtual(const struct mmu_enter *e);
#if defined(__aarch64__)
void mmu_switch_ttbr0_id(uint64_t ttbr0);
#endif
void mmu_inval_dcache_range(uintptr_t start, uintptr_t end);
extern const char __idmap_start[], __idmap_end[];

/* ---- common/mmu_virt.c (linked at the virtual base) ---- */
__attribute__((noreturn)) void mmu_virtual_main(struct mmu_handoff *h);

#endif /* !__ASSEMBLER__ */

#endif /* XGDBVM_FW_MMU_H */
