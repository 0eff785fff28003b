"""Numbers of the Xen-on-ARM guest ABI (public/xen.h, version.h, features.h, sched.h).

Only constants live here; struct layouts are declared next to the handler
that reads them, with construct, and tested against known bytes.
"""

from __future__ import annotations

from enum import IntEnum, IntFlag

XEN_HYPERCALL_TAG = 0xEA1
XEN_PAGE_SHIFT = 12
XEN_PAGE_SIZE = 1 << XEN_PAGE_SHIFT
DOMID_SELF = 0x7FF0


class Hypercall(IntEnum):
    """Hypercall numbers; the ARM dispatch table wires up only some of them."""

    set_trap_table = 0
    mmu_update = 1
    set_gdt = 2
    stack_switch = 3
    set_callbacks = 4
    fpu_taskswitch = 5
    sched_op_compat = 6
    platform_op = 7
    set_debugreg = 8
    get_debugreg = 9
    update_descriptor = 10
    memory_op = 12
    multicall = 13
    update_va_mapping = 14
    set_timer_op = 15
    event_channel_op_compat = 16
    xen_version = 17
    console_io = 18
    physdev_op_compat = 19
    grant_table_op = 20
    vm_assist = 21
    update_va_mapping_otherdomain = 22
    iret = 23
    vcpu_op = 24
    set_segment_base = 25
    mmuext_op = 26
    xsm_op = 27
    nmi_op = 28
    sched_op = 29
    callback_op = 30
    xenoprof_op = 31
    event_channel_op = 32
    physdev_op = 33
    hvm_op = 34
    sysctl = 35
    domctl = 36
    kexec_op = 37
    tmem_op = 38
    argo_op = 39
    xenpmu_op = 40
    dm_op = 41
    hypfs_op = 42


class XenVer(IntEnum):
    version = 0
    extraversion = 1
    compile_info = 2
    capabilities = 3
    changeset = 4
    platform_parameters = 5
    get_features = 6
    pagesize = 7
    guest_handle = 8
    commandline = 9
    build_id = 10


class XenFeature(IntFlag):
    """Bits of XENVER_get_features submap 0 (public/features.h)."""

    writable_page_tables = 1 << 0
    writable_descriptor_tables = 1 << 1
    auto_translated_physmap = 1 << 2
    supervisor_mode_kernel = 1 << 3
    pae_pgdir_above_4gb = 1 << 4
    mmu_pt_update_preserve_ad = 1 << 5
    highmem_assist = 1 << 6
    gnttab_map_avail_bits = 1 << 7
    hvm_callback_vector = 1 << 8
    hvm_safe_pvclock = 1 << 9
    hvm_pirqs = 1 << 10
    dom0 = 1 << 11
    grant_map_identity = 1 << 12
    memory_op_vnode_supported = 1 << 13
    ARM_SMCCC_supported = 1 << 14
    linux_rsdp_unrestricted = 1 << 15
    not_direct_mapped = 1 << 16
    direct_mapped = 1 << 17
    runstate_phys_area = 1 << 18
    vcpu_time_phys_area = 1 << 19


# What current Xen reports to an ordinary ARM domU: 0x00056005.
DOMU_FEATURES = (
    XenFeature.writable_page_tables
    | XenFeature.auto_translated_physmap
    | XenFeature.memory_op_vnode_supported
    | XenFeature.ARM_SMCCC_supported
    | XenFeature.not_direct_mapped
    | XenFeature.runstate_phys_area
)
# A direct-mapped hardware domain: dom0 and direct_mapped instead of not_direct_mapped.
DOM0_FEATURES = (
    (DOMU_FEATURES & ~XenFeature.not_direct_mapped) | XenFeature.dom0 | XenFeature.direct_mapped
)


class ConsoleIO(IntEnum):
    write = 0
    read = 1


class SchedOp(IntEnum):
    yield_ = 0
    block = 1
    shutdown = 2
    poll = 3
    remote_shutdown = 4
    shutdown_code = 5
    watchdog = 6
    pin_override = 7


class ShutdownReason(IntEnum):
    poweroff = 0
    reboot = 1
    suspend = 2
    crash = 3
    watchdog = 4
    soft_reset = 5
