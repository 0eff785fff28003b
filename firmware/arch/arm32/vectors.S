/*
 * arm32 exception vectors (VBAR, 32-byte aligned, 8 branch slots).
 *
 * Every handler moves to SVC mode straight away and runs on the one SVC
 * stack: "srsdb sp!, #SVC" pushes the exception's LR and SPSR there, then
 * r0-r12 and the SVC-mode LR follow, giving a struct exc_frame
 * (include/arch.h).  C is called as
 *     void arm32_exception(struct exc_frame *frame, unsigned int kind)
 * with kind = vector slot 0..7.  frame->pc holds the raw LR of the
 * exception mode, except for IRQ/FIQ where 4 is subtracted first so it is
 * the resume address.  C may edit frame->pc (the undef handler does); the
 * exit path pops the registers and "rfeia sp!" returns to frame->pc with
 * CPSR = frame->spsr.  No per-mode (UND/ABT/IRQ/FIQ) stacks are needed.
 */
    .syntax unified
    .arm

#define MODE_SVC    0x13

    .macro handler name, kind, lr_adjust
    .type \name, %function
\name:
    .if \lr_adjust
    sub     lr, lr, #\lr_adjust
    .endif
    srsdb   sp!, #MODE_SVC
    cps     #MODE_SVC
    push    {r0-r12, lr}
    mov     r1, #\kind
    b       exception_common
    .size \name, . - \name
    .endm

    .section .text.vectors, "ax", %progbits
    .balign 32
    .globl exception_vectors
exception_vectors:
    b       vec_reset                   /* 0x00 reset (not used via VBAR) */
    b       vec_undef                   /* 0x04 undefined instruction */
    b       vec_svc                     /* 0x08 supervisor call */
    b       vec_pabt                    /* 0x0c prefetch abort */
    b       vec_dabt                    /* 0x10 data abort */
    b       vec_hyp                     /* 0x14 (hyp trap; unused at PL1) */
    b       vec_irq                     /* 0x18 IRQ */
    b       vec_fiq                     /* 0x1c FIQ */

    handler vec_reset, 0, 0
    handler vec_undef, 1, 0
    handler vec_svc,   2, 0
    handler vec_pabt,  3, 0
    handler vec_dabt,  4, 0
    handler vec_hyp,   5, 0
    handler vec_irq,   6, 4
    handler vec_fiq,   7, 4

    .type exception_common, %function
exception_common:
    mov     r0, sp                      /* struct exc_frame * */
    mov     r4, sp                      /* callee-saved copy */
    bic     sp, sp, #7                  /* AAPCS: 8-byte aligned stack */
    mov     fp, #0                      /* handlers start a fresh frame chain */
    bl      arm32_exception
    mov     sp, r4
    pop     {r0-r12, lr}
    rfeia   sp!
    .size exception_common, . - exception_common
