/*
 * arm64 exception vectors (VBAR_EL1): 16 entries of 0x80 bytes, 2 KiB
 * aligned.  Groups of four (sync, irq, fiq, serror) for: current EL with
 * SP_EL0, current EL with SP_ELx (the firmware runs here: EL1h), lower EL
 * AArch64, lower EL AArch32.
 *
 * Each entry pushes a struct exc_frame (include/arch.h) and calls
 *     void arm64_exception(struct exc_frame *frame, unsigned long kind)
 * with kind = vector index 0..15 (group * 4 + type).  On return the frame
 * is restored (ELR/SPSR included, so C may redirect the return) and the
 * entry returns with eret.
 */

#define FRAME_SIZE      (36 * 8)
#define FRAME_X30_SP    (30 * 8)
#define FRAME_ELR_SPSR  (32 * 8)
#define FRAME_ESR_FAR   (34 * 8)

    .macro ventry kind
    .balign 0x80
    sub     sp, sp, #FRAME_SIZE
    stp     x0, x1, [sp, #0]
    mov     x1, #\kind
    b       exception_common
    .endm

    .section .text.vectors, "ax", %progbits
    .balign 2048
    .globl exception_vectors
exception_vectors:
    ventry  0       /* current EL, SP_EL0: sync */
    ventry  1       /*                     irq */
    ventry  2       /*                     fiq */
    ventry  3       /*                     serror */
    ventry  4       /* current EL, SP_ELx: sync */
    ventry  5       /*                     irq */
    ventry  6       /*                     fiq */
    ventry  7       /*                     serror */
    ventry  8       /* lower EL, AArch64:  sync */
    ventry  9       /*                     irq */
    ventry  10      /*                     fiq */
    ventry  11      /*                     serror */
    ventry  12      /* lower EL, AArch32:  sync */
    ventry  13      /*                     irq */
    ventry  14      /*                     fiq */
    ventry  15      /*                     serror */

    .balign 0x80
    .type exception_common, %function
exception_common:
    stp     x2, x3, [sp, #16]
    stp     x4, x5, [sp, #32]
    stp     x6, x7, [sp, #48]
    stp     x8, x9, [sp, #64]
    stp     x10, x11, [sp, #80]
    stp     x12, x13, [sp, #96]
    stp     x14, x15, [sp, #112]
    stp     x16, x17, [sp, #128]
    stp     x18, x19, [sp, #144]
    stp     x20, x21, [sp, #160]
    stp     x22, x23, [sp, #176]
    stp     x24, x25, [sp, #192]
    stp     x26, x27, [sp, #208]
    stp     x28, x29, [sp, #224]
    add     x2, sp, #FRAME_SIZE         /* SP before the exception */
    stp     x30, x2, [sp, #FRAME_X30_SP]
    mrs     x2, elr_el1
    mrs     x3, spsr_el1
    stp     x2, x3, [sp, #FRAME_ELR_SPSR]
    mrs     x2, esr_el1
    mrs     x3, far_el1
    stp     x2, x3, [sp, #FRAME_ESR_FAR]

    mov     x0, sp
    mov     x29, xzr                    /* handlers start a fresh frame chain */
    bl      arm64_exception

    ldp     x2, x3, [sp, #FRAME_ELR_SPSR]
    msr     elr_el1, x2
    msr     spsr_el1, x3
    ldp     x0, x1, [sp, #0]
    ldp     x2, x3, [sp, #16]
    ldp     x4, x5, [sp, #32]
    ldp     x6, x7, [sp, #48]
    ldp     x8, x9, [sp, #64]
    ldp     x10, x11, [sp, #80]
    ldp     x12, x13, [sp, #96]
    ldp     x14, x15, [sp, #112]
    ldp     x16, x17, [sp, #128]
    ldp     x18, x19, [sp, #144]
    ldp     x20, x21, [sp, #160]
    ldp     x22, x23, [sp, #176]
    ldp     x24, x25, [sp, #192]
    ldp     x26, x27, [sp, #208]
    ldp     x28, x29, [sp, #224]
    ldr     x30, [sp, #FRAME_X30_SP]
    add     sp, sp, #FRAME_SIZE
    eret
    .size exception_common, . - exception_common
