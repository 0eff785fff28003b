/*
 * arm64 MMU switching code.  Everything here lives in .text.idmap, one
 * page-aligned page (guest.ld checks the size), so that a single page
 * table entry maps all of it: at its physical address (identity, TTBR0)
 * and, for the offset-mapping scenario, at its virtual alias (TTBR1).
 *
 * struct mmu_regs   { mair, tcr, ttbr0, ttbr1 }            (include/mmu.h)
 * struct mmu_enter  { regs; offset, entry, sp, arg, vbar }
 */


#define SCTLR_M     (1 << 0)
#define SCTLR_C     (1 << 2)
#define SCTLR_I     (1 << 12)

#define ENTER_OFFSET    32
#define ENTER_ENTRY     40
#define ENTER_SP        48
#define ENTER_ARG       56
#define ENTER_VBAR      64

    .section .text.idmap, "ax", %progbits

/*
 * void mmu_enable(const struct mmu_regs *r)
 * Program MAIR/TCR/TTBRs, invalidate TLBs and the I-cache, then turn on
 * SCTLR_EL1.M, C and I.  Must run identity-mapped in the new tables.
 */
    .globl mmu_enable
    .type mmu_enable, %function
    .balign 4
mmu_enable:
    ldp     x1, x2, [x0]
    ldp     x3, x4, [x0, #16]
    msr     mair_el1, x1
    msr     tcr_el1, x2
    msr     ttbr0_el1, x3
    msr     ttbr1_el1, x4
    isb
    tlbi    vmalle1
    dsb     nsh
    ic      iallu
    dsb     nsh
    isb
    mrs     x1, sctlr_el1
    mov     x2, #(SCTLR_M | SCTLR_C | SCTLR_I)
    orr     x1, x1, x2
    msr     sctlr_el1, x1
    isb
    ret
    .size mmu_enable, . - mmu_enable

/*
 * void mmu_enter_virtual(const struct mmu_enter *e)   -- does not return
 * Mini-OS's sequence: the tables map this page at its physical address
 * and at physical + offset.  Enable the MMU (still executing at the
 * identity address), branch to the alias of label 1, switch to the
 * virtual stack and vectors and call e->entry(e->arg).  Everything needed
 * after the jump is loaded into registers first: nothing but this page
 * and what the tables map at the alias is reachable afterwards.
 */
    .globl mmu_enter_virtual
    .type mmu_enter_virtual, %function
    .balign 4
mmu_enter_virtual:
    mov     x19, x0
    ldr     x20, [x19, #ENTER_OFFSET]
    ldr     x21, [x19, #ENTER_ENTRY]
    ldr     x22, [x19, #ENTER_SP]
    ldr     x23, [x19, #ENTER_ARG]
    ldr     x24, [x19, #ENTER_VBAR]
    bl      mmu_enable
    adr     x1, 1f
    add     x1, x1, x20
    br      x1                          /* to the virtual alias of 1: */
1:  mov     sp, x22
    msr     vbar_el1, x24
    isb
    mov     x0, x23
    mov     x29, xzr
    mov     x30, xzr
    br      x21
    .size mmu_enter_virtual, . - mmu_enter_virtual

/*
 * void mmu_switch_ttbr0_id(uint64_t ttbr0)
 * Replace TTBR0_EL1 with the MMU off, the way Xen's arm64 head.S
 * (switch_ttbr_id) has to: called through the identity mapping of this
 * page, which both the old and the new TTBR0 tables must contain.  Leaf
 * function, touches no memory; returns with the MMU back on to the
 * (virtual) caller.
 */
    .globl mmu_switch_ttbr0_id
    .type mmu_switch_ttbr0_id, %function
    .balign 4
mmu_switch_ttbr0_id:
    dsb     ish                         /* finish outstanding accesses */
    isb
    mrs     x1, sctlr_el1
    bic     x2, x1, #SCTLR_M
    msr     sctlr_el1, x2               /* MMU off: now running at PA == VA */
    isb
    tlbi    vmalle1                     /* nothing of the old tables survives */
    dsb     nsh
    isb
    msr     ttbr0_el1, x0
    isb
    ic      iallu
    dsb     nsh
    isb
    msr     sctlr_el1, x1               /* MMU back on with the new TTBR0 */
    isb
    ret
    .size mmu_switch_ttbr0_id, . - mmu_switch_ttbr0_id

/*
 * void mmu_inval_dcache_range(uintptr_t start, uintptr_t end)
 * DC IVAC over [start, end), line size from CTR_EL0.DminLine.  Used with
 * the MMU off before turning the caches on, so no line the firmware wrote
 * non-cacheably can be shadowed by a stale one.
 */
    .globl mmu_inval_dcache_range
    .type mmu_inval_dcache_range, %function
    .balign 4
mmu_inval_dcache_range:
    mrs     x3, ctr_el0
    ubfx    x3, x3, #16, #4
    mov     x2, #4
    lsl     x2, x2, x3                  /* line size in bytes */
    sub     x3, x2, #1
    bic     x0, x0, x3
1:  cmp     x0, x1
    b.hs    2f
    dc      ivac, x0
    add     x0, x0, x2
    b       1b
2:  dsb     sy
    ret
    .size mmu_inval_dcache_range, . - mmu_inval_dcache_range

/*
 * Link-time facts C cannot take the address of directly (the virtual
 * symbols are out of ADRP range of the physical code).
 *   mmu_layout[0] VMA of .virt, [1] its LMA, [2] VMA end, [3] mmu_virtual_main
 */
    .section .rodata.mmu_layout, "a", %progbits
    .balign 8
    .globl mmu_layout
mmu_layout:
    .quad   __virt_start
    .quad   __virt_lma_start
    .quad   __virt_end
    .quad   mmu_virtual_main
    .size mmu_layout, . - mmu_layout
