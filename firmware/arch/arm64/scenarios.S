/*
 * arm64 helpers for the test scenarios that need exact instructions.
 */

/*
 * void hotloop_countdown(unsigned long n)
 * Exactly 2 instructions per iteration (subs + b.ne), n iterations
 * (n = 0 does nothing).  Total: 2n + 2 instructions including the cbz and
 * ret, excluding the call.
 */
    .section .text.hotloop_countdown, "ax", %progbits
    .globl hotloop_countdown
    .type hotloop_countdown, %function
    .balign 16
hotloop_countdown:
    cbz     x0, 2f
    .globl hotloop_iter
hotloop_iter:
1:  subs    x0, x0, #1
    b.ne    1b
2:  ret
    .size hotloop_countdown, . - hotloop_countdown

/*
 * void hvc_undef_probe(void)
 * "hvc #0x1" is not a Xen hypercall: Xen injects an undefined-instruction
 * exception (ESR_EL1.EC = 0).  The handler resumes at the instruction
 * after the hvc; the nop keeps the next instruction from being an hvc so
 * the handler can tell the two possible ELR conventions apart.
 */
    .section .text.hvc_undef_probe, "ax", %progbits
    .globl hvc_undef_probe, hvc_undef_insn
    .type hvc_undef_probe, %function
    .balign 4
hvc_undef_probe:
    /* The registers of xen_version(XENVER_version): only the immediate
       tells this hvc from a Xen hypercall. */
    mov     x16, #17
    mov     x0, #0
hvc_undef_insn:
    hvc     #0x1
    nop
    ret
    .size hvc_undef_probe, . - hvc_undef_probe

/* void arch_halt(void): wait for interrupts forever (they stay masked). */
    .section .text.arch_halt, "ax", %progbits
    .globl arch_halt
    .type arch_halt, %function
    .balign 4
arch_halt:
1:  wfi
    b       1b
    .size arch_halt, . - arch_halt

/*
 * uint32_t fault_probe_read(uintptr_t addr)
 * void fault_probe_write(uintptr_t addr, uint32_t value)
 * One 32-bit load / store (base register, no writeback: a valid ISS).
 * The fault scenario arms fault_probe_*_insn with fault_probe_*_resume as
 * the resume address, so an aborted load returns FAULT_PROBE_SKIPPED.
 */
    .section .text.fault_probe, "ax", %progbits
    .globl fault_probe_read, fault_probe_read_insn, fault_probe_read_resume
    .type fault_probe_read, %function
    .balign 4
fault_probe_read:
    mov     x1, x0
    movz    w0, #0xfa17
    movk    w0, #0xfa17, lsl #16
fault_probe_read_insn:
    ldr     w0, [x1]
fault_probe_read_resume:
    ret
    .size fault_probe_read, . - fault_probe_read

    .globl fault_probe_write, fault_probe_write_insn, fault_probe_write_resume
    .type fault_probe_write, %function
    .balign 4
fault_probe_write:
fault_probe_write_insn:
    str     w1, [x0]
fault_probe_write_resume:
    ret
    .size fault_probe_write, . - fault_probe_write
