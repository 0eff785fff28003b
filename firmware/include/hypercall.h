/*
 * Hypercall entry points.  All of them are small assembly stubs in
 * arch/<arch>/hypercall.S that load the hypercall number into x16 (arm64)
 * or r12 (arm32), leave the arguments in x0-x4 / r0-r4 and execute
 * "hvc #0xEA1".  The result comes back in x0 / r0: >= 0 on success, a
 * negated Xen errno on failure.
 */
#ifndef XGDBVM_FW_HYPERCALL_H
#define XGDBVM_FW_HYPERCALL_H

#include "xen.h"

long HYPERVISOR_xen_version(int cmd, void *arg);
long HYPERVISOR_console_io(int cmd, unsigned int count, const char *buf);
long HYPERVISOR_sched_op(int cmd, void *arg);
long HYPERVISOR_memory_op(unsigned int cmd, void *arg);
long HYPERVISOR_grant_table_op(unsigned int cmd, void *uop, unsigned int count);
long HYPERVISOR_vcpu_op(int cmd, int vcpuid, void *arg);
long HYPERVISOR_event_channel_op(int cmd, void *arg);
long HYPERVISOR_hvm_op(int op, void *arg);

/* Any hypercall, up to five arguments (r4 carries the fifth on arm32). */
long xen_hypercall5(unsigned long nr, unsigned long a0, unsigned long a1,
                    unsigned long a2, unsigned long a3, unsigned long a4);

/*
 * common/thumb.c: XENVER_version through an inline "hvc #0xEA1".  On arm32
 * that file is compiled as Thumb-2, so this is the Thumb-state hypercall.
 */
long thumb_xen_version(void);

#endif /* XGDBVM_FW_HYPERCALL_H */
