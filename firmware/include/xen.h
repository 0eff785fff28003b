/*
 * Xen guest ABI constants used by the firmware.
 *
 * Numbers come from Xen's public headers (xen.h, version.h, sched.h,
 * memory.h, event_channel.h, hvm/hvm_op.h, vcpu.h, grant_table.h); see
 * docs in /work/shared/reference/xen-arm-abi.md sections 1-3.  Everything
 * here is usable from both C and assembly (.S) files.
 */
#ifndef XGDBVM_FW_XEN_H
#define XGDBVM_FW_XEN_H

/* Immediate of the HVC instruction that carries a Xen hypercall. */
#define XEN_HYPERCALL_TAG               0xEA1

/* Hypercall numbers (x16 on arm64, r12 on arm32). */
#define __HYPERVISOR_memory_op          12
#define __HYPERVISOR_xen_version        17
#define __HYPERVISOR_console_io         18
#define __HYPERVISOR_grant_table_op     20
#define __HYPERVISOR_vcpu_op            24
#define __HYPERVISOR_sched_op           29
#define __HYPERVISOR_event_channel_op   32
#define __HYPERVISOR_hvm_op             34

/* xen_version sub-commands. */
#define XENVER_version                  0   /* returns (major << 16) | minor */
#define XENVER_extraversion             1   /* char[16] */
#define XENVER_compile_info             2
#define XENVER_capabilities             3
#define XENVER_changeset                4
#define XENVER_platform_parameters      5
#define XENVER_get_features             6   /* struct xen_feature_info */
#define XENVER_pagesize                 7
#define XENVER_guest_handle             8
#define XENVER_commandline              9
#define XENVER_EXTRAVERSION_LEN         16

/* XENFEAT_* bit numbers in submap 0. */
#define XENFEAT_auto_translated_physmap 2
#define XENFEAT_dom0                    11
#define XENFEAT_ARM_SMCCC_supported     14

/* console_io sub-commands. */
#define CONSOLEIO_write                 0
#define CONSOLEIO_read                  1

/* sched_op sub-commands and shutdown reasons. */
#define SCHEDOP_yield                   0
#define SCHEDOP_block                   1
#define SCHEDOP_shutdown                2
#define SCHEDOP_poll                    3
#define SCHEDOP_remote_shutdown         4
#define SCHEDOP_shutdown_code           5
#define SCHEDOP_watchdog                6

#define SHUTDOWN_poweroff               0
#define SHUTDOWN_reboot                 1
#define SHUTDOWN_suspend                2
#define SHUTDOWN_crash                  3
#define SHUTDOWN_watchdog               4
#define SHUTDOWN_soft_reset             5

/* memory_op sub-commands (low 6 bits of cmd). */
#define XENMEM_increase_reservation     0
#define XENMEM_decrease_reservation     1
#define XENMEM_maximum_ram_page         2
#define XENMEM_current_reservation      3
#define XENMEM_maximum_reservation      4
#define XENMEM_populate_physmap         6
#define XENMEM_add_to_physmap           7
#define XENMEM_maximum_gpfn             14
#define XENMEM_remove_from_physmap      15
#define XENMAPSPACE_shared_info         0
#define XENMAPSPACE_grant_table         1

/* event_channel_op sub-commands. */
#define EVTCHNOP_bind_interdomain       0
#define EVTCHNOP_bind_virq              1
#define EVTCHNOP_close                  3
#define EVTCHNOP_send                   4
#define EVTCHNOP_status                 5
#define EVTCHNOP_alloc_unbound          6
#define EVTCHNOP_bind_ipi               7
#define EVTCHNOP_bind_vcpu              8
#define EVTCHNOP_unmask                 9
#define EVTCHNOP_init_control           11

/* hvm_op sub-commands and parameters. */
#define HVMOP_set_param                 0
#define HVMOP_get_param                 1
#define HVM_PARAM_CALLBACK_IRQ          0
#define HVM_PARAM_STORE_PFN             1
#define HVM_PARAM_STORE_EVTCHN          2
#define HVM_PARAM_CONSOLE_PFN           17
#define HVM_PARAM_CONSOLE_EVTCHN        18

/* vcpu_op sub-commands that work on ARM. */
#define VCPUOP_register_runstate_memory_area 5
#define VCPUOP_register_vcpu_info       10

/* grant_table_op sub-commands. */
#define GNTTABOP_map_grant_ref          0
#define GNTTABOP_unmap_grant_ref        1
#define GNTTABOP_setup_table            2
#define GNTTABOP_query_size             6
#define GNTTABOP_set_version            8
#define GNTTABOP_get_version            10

#define DOMID_SELF                      0x7FF0

/* Xen errno values (returned negated). */
#define XEN_EPERM                       1
#define XEN_ENOENT                      2
#define XEN_EFAULT                      14
#define XEN_EINVAL                      22
#define XEN_ENOSYS                      38

#ifndef __ASSEMBLER__
#include <stdint.h>

/* XENVER_get_features argument (8 bytes). */
struct xen_feature_info {
    uint32_t submap_idx;    /* IN: which 32-bit chunk of the feature map */
    uint32_t submap;        /* OUT: the bits */
};

/* SCHEDOP_shutdown argument (4 bytes). */
struct sched_shutdown {
    uint32_t reason;        /* SHUTDOWN_* */
};

/* HVMOP_set_param / HVMOP_get_param argument (16 bytes). */
struct xen_hvm_param {
    uint16_t domid;
    uint16_t pad;
    uint32_t index;
    uint64_t value;
};

/* XENMEM_add_to_physmap argument (24 bytes). */
struct xen_add_to_physmap {
    uint16_t domid;
    uint16_t size;
    uint32_t space;
    uint64_t idx;
    uint64_t gpfn;
};

_Static_assert(sizeof(struct xen_feature_info) == 8, "xen_feature_info layout");
_Static_assert(sizeof(struct sched_shutdown) == 4, "sched_shutdown layout");
_Static_assert(sizeof(struct xen_hvm_param) == 16, "xen_hvm_param layout");
_Static_assert(sizeof(struct xen_add_to_physmap) == 24, "xen_add_to_physmap layout");
#endif /* !__ASSEMBLER__ */

#endif /* XGDBVM_FW_XEN_H */
