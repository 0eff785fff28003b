/*
 * arm32 MMU switching code, all in the one-page .text.idmap section
 * (guest.ld checks its size), so one section / page entry maps it at its
 * physical address and at its virtual alias.
 *
 * struct mmu_regs   { u32 ttbcr, dacr, mair0, mair1; u64 ttbr0, ttbr1 }
 * struct mmu_enter  { regs; offset, entry, sp, arg, vbar }   (u32 each)
 */


    .syntax unified
    .arm

#define SCTLR_M     (1 << 0)
#define SCTLR_C     (1 << 2)
#define SCTLR_Z     (1 << 11)
#define SCTLR_I     (1 << 12)
#define TTBCR_EAE   (1 << 31)

#define REGS_TTBCR      0
#define REGS_DACR       4
#define REGS_MAIR0      8
#define REGS_MAIR1      12
#define REGS_TTBR0      16
#define REGS_TTBR1      24
#define ENTER_OFFSET    32
#define ENTER_ENTRY     36
#define ENTER_SP        40
#define ENTER_ARG       44
#define ENTER_VBAR      48

    .section .text.idmap, "ax", %progbits

/*
 * void mmu_enable(const struct mmu_regs *r)
 * TTBCR first (it decides whether c10/c2 are MAIR0/1 and whether TTBR0
 * is written as 64 bits), then TLB/I-cache/branch-predictor invalidation,
 * then SCTLR.M, C, Z, I.  Must run identity-mapped in the new tables;
 * uses no memory but *r (read before the switch).
 */
    .globl mmu_enable
    .type mmu_enable, %function
    .balign 4
mmu_enable:
    ldr     r1, [r0, #REGS_TTBCR]
    mcr     p15, 0, r1, c2, c0, 2       @ TTBCR
    isb
    ldr     r2, [r0, #REGS_DACR]
    mcr     p15, 0, r2, c3, c0, 0       @ DACR
    tst     r1, #TTBCR_EAE
    beq     1f
    ldr     r2, [r0, #REGS_MAIR0]
    mcr     p15, 0, r2, c10, c2, 0      @ MAIR0
    ldr     r2, [r0, #REGS_MAIR1]
    mcr     p15, 0, r2, c10, c2, 1      @ MAIR1
    ldrd    r2, r3, [r0, #REGS_TTBR0]
    mcrr    p15, 0, r2, r3, c2          @ TTBR0 (64-bit)
    ldrd    r2, r3, [r0, #REGS_TTBR1]
    mcrr    p15, 1, r2, r3, c2          @ TTBR1 (64-bit)
    b       2f
1:  ldr     r2, [r0, #REGS_TTBR0]
    mcr     p15, 0, r2, c2, c0, 0       @ TTBR0 (32-bit)
    ldr     r2, [r0, #REGS_TTBR1]
    mcr     p15, 0, r2, c2, c0, 1       @ TTBR1 (32-bit)
2:  isb
    mov     r1, #0
    mcr     p15, 0, r1, c8, c7, 0       @ TLBIALL
    mcr     p15, 0, r1, c7, c5, 0       @ ICIALLU
    mcr     p15, 0, r1, c7, c5, 6       @ BPIALL
    dsb
    isb
    mrc     p15, 0, r1, c1, c0, 0       @ SCTLR
    orr     r1, r1, #(SCTLR_M | SCTLR_C)
    orr     r1, r1, #(SCTLR_Z | SCTLR_I)
    mcr     p15, 0, r1, c1, c0, 0
    isb
    bx      lr                          @ no stack: it may not be mapped yet
    .size mmu_enable, . - mmu_enable

/*
 * void mmu_enter_virtual(const struct mmu_enter *e)   -- does not return
 * As Mini-OS's arm32.S: this section is mapped at its physical address
 * and at physical + offset; enable, jump to the alias of 1:, switch to
 * the virtual stack and VBAR, call e->entry(e->arg).
 */
    .globl mmu_enter_virtual
    .type mmu_enter_virtual, %function
    .balign 4
mmu_enter_virtual:
    mov     r4, r0
    ldr     r5, [r4, #ENTER_OFFSET]
    ldr     r6, [r4, #ENTER_ENTRY]
    ldr     r7, [r4, #ENTER_SP]
    ldr     r8, [r4, #ENTER_ARG]
    ldr     r9, [r4, #ENTER_VBAR]
    bl      mmu_enable
    adr     r1, 1f
    add     r1, r1, r5
    bx      r1                          @ to the virtual alias of 1:
1:  mov     sp, r7
    mcr     p15, 0, r9, c12, c0, 0      @ VBAR
    isb
    mov     r0, r8
    mov     fp, #0
    mov     lr, #0
    bx      r6
    .size mmu_enter_virtual, . - mmu_enter_virtual

/*
 * void mmu_inval_dcache_range(uintptr_t start, uintptr_t end)
 * DCIMVAC over [start, end), line size from CTR.DminLine.
 */
    .globl mmu_inval_dcache_range
    .type mmu_inval_dcache_range, %function
    .balign 4
mmu_inval_dcache_range:
    mrc     p15, 0, r3, c0, c0, 1       @ CTR
    ubfx    r3, r3, #16, #4
    mov     r2, #4
    lsl     r2, r2, r3
    sub     r3, r2, #1
    bic     r0, r0, r3
1:  cmp     r0, r1
    bhs     2f
    mcr     p15, 0, r0, c7, c6, 1       @ DCIMVAC
    add     r0, r0, r2
    b       1b
2:  dsb
    bx      lr
    .size mmu_inval_dcache_range, . - mmu_inval_dcache_range

/* mmu_layout[0] VMA of .virt, [1] its LMA, [2] VMA end, [3] mmu_virtual_main */
    .section .rodata.mmu_layout, "a", %progbits
    .balign 4
    .globl mmu_layout
mmu_layout:
    .word   __virt_start
    .word   __virt_lma_start
    .word   __virt_end
    .word   mmu_virtual_main
    .size mmu_layout, . - mmu_layout
