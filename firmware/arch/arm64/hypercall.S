/*
 * arm64 hypercall stubs.
 *
 * Xen: hypercall number in x16, arguments in x0-x4, "hvc #0xEA1", result
 * in x0.  x16 and the argument registers may be clobbered, which the C
 * calling convention already allows, so each stub is three instructions.
 *
 * PSCI/SMCCC: function id in x0, arguments x1-x3, "hvc #0", result in x0.
 */
#include "xen.h"

    .macro hypercall name, nr
    .section .text.\name, "ax", %progbits
    .globl \name
    .type \name, %function
    .balign 4
\name:
    mov     x16, #\nr
    hvc     #XEN_HYPERCALL_TAG
    ret
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

/* long xen_hypercall5(nr, a0, a1, a2, a3, a4): x0 = nr, x1..x5 = a0..a4 */
    .section .text.xen_hypercall5, "ax", %progbits
    .globl xen_hypercall5
    .type xen_hypercall5, %function
    .balign 4
xen_hypercall5:
    mov     x16, x0
    mov     x0, x1
    mov     x1, x2
    mov     x2, x3
    mov     x3, x4
    mov     x4, x5
    hvc     #XEN_HYPERCALL_TAG
    ret
    .size xen_hypercall5, . - xen_hypercall5

/* long psci_call(fid, a1, a2, a3) */
    .section .text.psci_call, "ax", %progbits
    .globl psci_call
    .type psci_call, %function
    .balign 4
psci_call:
    hvc     #0
    ret
    .size psci_call, . - psci_call
