/*
 * arm32 hypercall stubs (ARM state).
 *
 * Xen: hypercall number in r12, arguments in r0-r4, "hvc #0xEA1"
 * (A32 encoding 0xe14ea071), result in r0.  r12 and the argument
 * registers may be clobbered; r0-r3 and r12 are caller-saved anyway, r4
 * is saved by xen_hypercall5, the only stub that passes a fifth argument.
 *
 * PSCI/SMCCC: function id in r0, arguments r1-r3, "hvc #0", result in r0.
 */
#include "xen.h"

    .syntax unified
    .arm

    .macro hypercall name, nr
    .section .text.\name, "ax", %progbits
    .globl \name
    .type \name, %function
    .balign 4
\name:
    mov     r12, #\nr
    hvc     #XEN_HYPERCALL_TAG
    bx      lr
    .size \name, . - \name
    .endm

    hypercall HYPERVISOR_memory_op,        __HYPERVISOR_memory_op
    hypercall HYPERVISOR_xen_version,      __HYPERVISOR_xen_version
    hypercall HYPERVISOR_console_io,       __HYPERVISOR_console_io
    hypercall HYPERVISOR_grant_table_op,   __HYPERVISOR_grant_table_op
    hypercall HYPERVISOR_vcpu_op,          __HYPERVISOR_vcpu_op
    hypercall HYPERVISOR_sched_op,         __HYPERVISOR_sched_op
    hypercall HYPERVISOR_event_channel_op, __HYPERVISOR_event_channel_op
    hypercall HYPERVISOR_hvm_op,           __HYPERVISOR_hvm_op

/*
 * long xen_hypercall5(nr, a0, a1, a2, a3, a4)
 * In: r0 = nr, r1-r3 = a0-a2, [sp] = a3, [sp+4] = a4.
 */
    .section .text.xen_hypercall5, "ax", %progbits
    .globl xen_hypercall5
    .type xen_hypercall5, %function
    .balign 4
xen_hypercall5:
    push    {r4, lr}
    mov     r12, r0
    mov     r0, r1
    mov     r1, r2
    mov     r2, r3
    ldr     r3, [sp, #8]
    ldr     r4, [sp, #12]
    hvc     #XEN_HYPERCALL_TAG
    pop     {r4, pc}
    .size xen_hypercall5, . - xen_hypercall5

/*
 * long psci_call(fid, a1, a2, a3)
 * SMCCC v1.0 allows r4-r7 to come back changed for some calls; keep them.
 */
    .section .text.psci_call, "ax", %progbits
    .globl psci_call
    .type psci_call, %function
    .balign 4
psci_call:
    push    {r4-r7}
    hvc     #0
    pop     {r4-r7}
    bx      lr
    .size psci_call, . - psci_call
