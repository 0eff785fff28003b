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

/* Guest pages are 4 KiB for the ABI on both architectures. */
#define XEN_PAGE_SHIFT                  12
#define XEN_PAGE_SIZE                   4096

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
#define MEMOP_CMD_MASK                  0x3f

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
#define EVTCHNOP_reset                  10
#define EVTCHNOP_init_control           11

/* VIRQs (event_channel bind_virq). VIRQ_DEBUG is per-vCPU. */
#define VIRQ_TIMER                      0
#define VIRQ_DEBUG                      1
#define VIRQ_CONSOLE                    2

/* 2-level event channel ABI: 64 words of 64 bits = 4096 ports. */
#define EVTCHN_2L_NR_CHANNELS           4096
#define EVTCHN_WORD_BITS                64
#define EVTCHN_2L_NR_WORDS              64

/* hvm_op sub-commands and parameters. */
#define HVMOP_set_param                 0
#define HVMOP_get_param                 1
#define HVM_PARAM_CALLBACK_IRQ          0
#define HVM_PARAM_STORE_PFN             1
#define HVM_PARAM_STORE_EVTCHN          2
#define HVM_PARAM_CONSOLE_PFN           17
#define HVM_PARAM_CONSOLE_EVTCHN        18
/* HVM_PARAM_CALLBACK_IRQ on ARM: type in bits 63:56 (2 = PPI), flags in
 * 15:8 (bit 8 edge, bit 9 active low), PPI INTID in 7:0. */
#define HVM_PARAM_CALLBACK_TYPE_SHIFT   56
#define HVM_PARAM_CALLBACK_TYPE_PPI     2

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
#define DOMID_INVALID                   0x7FF4

/* Xen errno values (returned negated); public/errno.h. */
#define XEN_EPERM                       1
#define XEN_ENOENT                      2
#define XEN_ESRCH                       3
#define XEN_EINTR                       4
#define XEN_EIO                         5
#define XEN_ENXIO                       6
#define XEN_E2BIG                       7
#define XEN_EBADF                       9
#define XEN_EAGAIN                      11
#define XEN_ENOMEM                      12
#define XEN_EACCES                      13
#define XEN_EFAULT                      14
#define XEN_EBUSY                       16
#define XEN_EEXIST                      17
#define XEN_ENODEV                      19
#define XEN_EISDIR                      21
#define XEN_EINVAL                      22
#define XEN_ENOSPC                      28
#define XEN_EROFS                       30
#define XEN_ERANGE                      34
#define XEN_ENOSYS                      38
#define XEN_ENOTEMPTY                   39
#define XEN_ENODATA                     61
#define XEN_EOVERFLOW                   75
#define XEN_EOPNOTSUPP                  95
#define XEN_EISCONN                     106
#define XEN_ETIMEDOUT                   110

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

/*
 * shared_info and vcpu_info (public/xen.h, public/arch-arm.h).  On ARM
 * xen_ulong_t is 64 bits on both arm32 and arm64, arch_vcpu_info and
 * arch_shared_info are empty, and byte 1 of vcpu_info (x86's
 * evtchn_upcall_mask) is plain padding: delivery is gated by the GIC.
 */
struct vcpu_time_info {
    uint32_t version;
    uint32_t pad0;
    uint64_t tsc_timestamp;
    uint64_t system_time;
    uint32_t tsc_to_system_mul;
    int8_t tsc_shift;
    uint8_t flags;
    uint8_t pad1[2];
};

struct vcpu_info {
    uint8_t evtchn_upcall_pending;
    uint8_t pad0;               /* evtchn_upcall_mask on x86 */
    uint8_t pad1[6];
    uint64_t evtchn_pending_sel;
    struct vcpu_time_info time; /* never updated by Xen on ARM */
};

struct shared_info {
    struct vcpu_info vcpu_info[1];          /* XEN_LEGACY_MAX_VCPUS = 1 */
    uint64_t evtchn_pending[EVTCHN_2L_NR_WORDS];
    uint64_t evtchn_mask[EVTCHN_2L_NR_WORDS];
    uint32_t wc_version;                    /* odd while Xen updates */
    uint32_t wc_sec;
    uint32_t wc_nsec;
    uint32_t wc_sec_hi;
};

/* VCPUOP_register_vcpu_info argument (16 bytes). */
struct vcpu_register_vcpu_info {
    uint64_t mfn;           /* guest frame number of the page holding it */
    uint32_t offset;        /* offset inside that page */
    uint32_t rsvd;
};

/* event_channel_op arguments. */
struct evtchn_alloc_unbound {
    uint16_t dom, remote_dom;   /* IN */
    uint32_t port;              /* OUT */
};
struct evtchn_bind_interdomain {
    uint16_t remote_dom;        /* IN */
    uint16_t pad;
    uint32_t remote_port;       /* IN */
    uint32_t local_port;        /* OUT */
};
struct evtchn_bind_virq {
    uint32_t virq;              /* IN */
    uint32_t vcpu;              /* IN */
    uint32_t port;              /* OUT */
};
struct evtchn_port_op {         /* close, send, unmask: just the port */
    uint32_t port;
};

_Static_assert(sizeof(struct vcpu_time_info) == 32, "vcpu_time_info layout");
_Static_assert(sizeof(struct vcpu_info) == 48, "vcpu_info layout");
_Static_assert(__builtin_offsetof(struct vcpu_info, evtchn_pending_sel) == 8, "vcpu_info layout");
_Static_assert(sizeof(struct shared_info) == 1088, "shared_info layout");
_Static_assert(__builtin_offsetof(struct shared_info, evtchn_pending) == 48, "shared_info layout");
_Static_assert(__builtin_offsetof(struct shared_info, evtchn_mask) == 560, "shared_info layout");
_Static_assert(__builtin_offsetof(struct shared_info, wc_version) == 1072, "shared_info layout");
_Static_assert(__builtin_offsetof(struct shared_info, wc_sec_hi) == 1084, "shared_info layout");
_Static_assert(sizeof(struct vcpu_register_vcpu_info) == 16, "register_vcpu_info layout");
_Static_assert(sizeof(struct evtchn_alloc_unbound) == 8, "alloc_unbound layout");
_Static_assert(sizeof(struct evtchn_bind_interdomain) == 12, "bind_interdomain layout");
_Static_assert(sizeof(struct evtchn_bind_virq) == 12, "bind_virq layout");

_Static_assert(sizeof(struct xen_feature_info) == 8, "xen_feature_info layout");
_Static_assert(sizeof(struct sched_shutdown) == 4, "sched_shutdown layout");
_Static_assert(sizeof(struct xen_hvm_param) == 16, "xen_hvm_param layout");
_Static_assert(sizeof(struct xen_add_to_physmap) == 24, "xen_add_to_physmap layout");
#endif /* !__ASSEMBLER__ */

#endif /* XGDBVM_FW_XEN_H */
