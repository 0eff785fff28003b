"""vcpu_op (hypercall 24) and vm_assist (hypercall 21) as Xen on ARM answers them.

Contract (xen/arch/arm/domain.c ``do_vcpu_op``, xen/common/domain.c
``common_vcpu_op``, ``map_guest_area``, ``do_vm_assist``):

- vcpu_op(cmd, vcpuid, arg): a vcpuid the domain does not have is -ENOENT
  whatever the cmd; then only two cmds exist on ARM, everything else -EINVAL.
- VCPUOP_register_vcpu_info {mfn u64 @0 (a GFN), offset u32 @8, rsvd u32 @12}:
  gaddr = mfn*4096 + offset; all-ones or an offset leaving the frame -EINVAL;
  already registered -EBUSY; the 48-byte area crossing a page or not 8-byte
  aligned -ENXIO; a frame that is not ordinary RAM -EINVAL. On success the
  current vcpu_info is copied there (zeros if the vCPU had only Xen's dummy),
  ``evtchn_pending_sel`` becomes all ones and the events are marked pending:
  the guest always gets one upcall (raised on the 0->1 edge).
- VCPUOP_register_runstate_memory_area {addr u64 @0, a guest *virtual*
  address}: stored, and the 48-byte ``vcpu_runstate_info`` {state i32 @0,
  state_entry_time u64 @8, time[4] u64 @16} written there at once; a write
  that faults is ignored (the hypercall still returns 0), as in Xen.
  ``set_runstate`` rewrites it, as Xen does on each context switch.
- vm_assist(cmd, type): only type 5 (runstate_update_flag) is valid on ARM
  (-EINVAL otherwise, checked first); cmd enable 0 / disable 1, else -ENOSYS.
  The flag changes nothing visible here: runstate writes happen between two
  guest instructions, so XEN_RUNSTATE_UPDATE is never seen set.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import IntEnum
from typing import Final

from xgdbvm.machine.xen.abi import XEN_PAGE_SHIFT, XEN_PAGE_SIZE, Hypercall
from xgdbvm.machine.xen.errno import HypercallError, XenErrno
from xgdbvm.machine.xen.guest import GuestAccess
from xgdbvm.machine.xen.hypercall import Call, Handler, SubopTable
from xgdbvm.machine.xen.shared_info import ALL_ONES64, VCPU_INFO_SIZE, VcpuInfos
from xgdbvm.machine.xen.structs import GuestStruct, Layout, read_struct, write_struct

VCPU_INFO_ALIGN: Final = 8  # alignof(xen_ulong_t)
_U32: Final = 0xFFFF_FFFF


class VcpuOp(IntEnum):
    initialise = 0
    up = 1
    down = 2
    is_up = 3
    get_runstate_info = 4
    register_runstate_memory_area = 5
    set_periodic_timer = 6
    stop_periodic_timer = 7
    set_singleshot_timer = 8
    stop_singleshot_timer = 9
    register_vcpu_info = 10
    send_nmi = 11
    get_physid = 12
    register_vcpu_time_memory_area = 13
    register_runstate_phys_area = 14
    register_vcpu_time_phys_area = 15


class RunstateState(IntEnum):
    running = 0
    runnable = 1
    blocked = 2
    offline = 3


class VmAssistCmd(IntEnum):
    enable = 0
    disable = 1


class VmAssistType(IntEnum):
    four_gb_segments = 0
    four_gb_segments_notify = 1
    writable_pagetables = 2
    pae_extended_cr3 = 3
    architectural_iopl = 4
    runstate_update_flag = 5
    m2p_strict = 32


VM_ASSIST_VALID: Final = frozenset({VmAssistType.runstate_update_flag})  # ARM


@dataclass(frozen=True)
class RegisterVcpuInfo(GuestStruct):
    LAYOUT = Layout(lambda c: c.Struct("mfn" / c.Int64ul, "offset" / c.Int32ul, "rsvd" / c.Int32ul))

    mfn: int = 0
    offset: int = 0
    rsvd: int = 0


@dataclass(frozen=True)
class RunstateArea(GuestStruct):
    """``vcpu_register_runstate_memory_area``: a guest handle (virtual address)."""

    LAYOUT = Layout(lambda c: c.Struct("addr" / c.Int64ul))

    addr: int = 0


@dataclass(frozen=True)
class Runstate(GuestStruct):
    """``struct vcpu_runstate_info``."""

    LAYOUT = Layout(
        lambda c: c.Struct(
            "state" / c.Int32sl,
            c.Padding(4),
            "state_entry_time" / c.Int64ul,
            "time" / c.Array(4, c.Int64ul),
        )
    )

    state: int = RunstateState.running
    state_entry_time: int = 0
    time: tuple[int, ...] = (0, 0, 0, 0)

    @classmethod
    def decode(cls, data: bytes) -> Runstate:
        parsed = cls.LAYOUT.get().parse(data)
        return cls(parsed.state, parsed.state_entry_time, tuple(parsed.time))


class VcpuOps:
    def __init__(
        self,
        guest: GuestAccess,
        vcpu_infos: VcpuInfos,
        *,
        clock: Callable[[], int] = lambda: 0,
        current_vcpu: Callable[[], int] = lambda: 0,
        pointer_bits: int = 64,
    ) -> None:
        """``clock()``: guest system time in ns. ``current_vcpu()``: who is calling.
        ``pointer_bits``: 32 on arm32, where a handle's high half is ignored."""
        self._mem = guest
        self.vcpu_infos = vcpu_infos
        self._clock = clock
        self._current = current_vcpu
        self._pointer_mask = (1 << pointer_bits) - 1
        self._runstates: list[Runstate] = []
        self._runstate_areas: list[int | None] = []
        self.reset()

    def hypercalls(self) -> Mapping[Hypercall, Handler]:
        handlers: dict[int, Handler] = dict.fromkeys(VcpuOp, self._not_on_arm)
        handlers[VcpuOp.register_vcpu_info] = self._register_vcpu_info
        handlers[VcpuOp.register_runstate_memory_area] = self._register_runstate
        return {Hypercall.vcpu_op: SubopTable(VcpuOp, handlers, fallback=self._not_on_arm)}

    def reset(self) -> None:
        now = self._clock()
        nr = self.vcpu_infos.nr_vcpus
        self._runstates = [
            Runstate(RunstateState.running if v == 0 else RunstateState.offline, now)
            for v in range(nr)
        ]
        self._runstate_areas = [None] * nr

    # -- runstate, for the machine -------------------------------------------

    def runstate(self, vcpu: int, now: int | None = None) -> Runstate:
        """The runstate with the time in the current state counted up to ``now``
        (``vcpu_runstate_get``); ``now=None`` uses the clock."""
        stored = self._runstates[vcpu]
        now = self._clock() if now is None else now
        times = list(stored.time)
        times[stored.state] += max(0, now - stored.state_entry_time)
        return dataclasses.replace(stored, time=tuple(times))

    def set_runstate(self, vcpu: int, state: RunstateState) -> None:
        now = self._clock()
        self._runstates[vcpu] = dataclasses.replace(
            self.runstate(vcpu, now), state=state, state_entry_time=now
        )
        self.update_runstate_area(vcpu)

    def runstate_area(self, vcpu: int) -> int | None:
        return self._runstate_areas[vcpu]

    def update_runstate_area(self, vcpu: int) -> None:
        """Rewrite the registered area (Xen's ``update_runstate_area``)."""
        va = self._runstate_areas[vcpu]
        if va:
            self._write_runstate(va, self._runstates[vcpu])

    def _write_runstate(self, va: int, runstate: Runstate) -> None:
        with contextlib.suppress(HypercallError):  # Xen ignores the result of this copy
            write_struct(self._mem, va, runstate)

    # -- handlers --------------------------------------------------------------

    def _vcpu(self, call: Call) -> int:
        vcpu = call.args[1] & _U32
        if not self.vcpu_infos.valid(vcpu):
            raise HypercallError(XenErrno.ENOENT, f"no vCPU{vcpu}")
        return vcpu

    def _not_on_arm(self, call: Call) -> int:
        self._vcpu(call)
        raise HypercallError(XenErrno.EINVAL, f"VCPUOP {call.subop} is not available on ARM")

    def _register_vcpu_info(self, call: Call) -> int:
        vcpu = self._vcpu(call)
        arg = read_struct(self._mem, RegisterVcpuInfo, call.args[2])
        gaddr = ((arg.mfn << XEN_PAGE_SHIFT) + arg.offset) & ALL_ONES64
        if gaddr == ALL_ONES64 or gaddr >> XEN_PAGE_SHIFT != arg.mfn:
            raise HypercallError(
                XenErrno.EINVAL, f"gfn {arg.mfn:#x} + offset {arg.offset:#x} leaves the frame"
            )
        infos = self.vcpu_infos
        if infos.registered(vcpu):
            raise HypercallError(
                XenErrno.EBUSY, f"vCPU{vcpu} already has its vcpu_info at {infos.location(vcpu)}"
            )
        gfn, offset = arg.mfn, gaddr & (XEN_PAGE_SIZE - 1)
        last = (gaddr + VCPU_INFO_SIZE - 1) & ALL_ONES64
        if last >> XEN_PAGE_SHIFT != gfn:
            raise HypercallError(XenErrno.ENXIO, f"vcpu_info at {gaddr:#x} crosses a page")
        if gaddr % VCPU_INFO_ALIGN:
            raise HypercallError(XenErrno.ENXIO, f"vcpu_info at {gaddr:#x} is not 8-byte aligned")
        page = infos.map_guest_frame(gfn)
        if page is None:
            raise HypercallError(XenErrno.EINVAL, f"gfn {gfn:#x} is not guest RAM")
        infos.move(vcpu, gfn, offset, page)
        infos.view(vcpu).set_pending_sel(ALL_ONES64)
        infos.mark_events_pending(vcpu)
        call.note = f"vCPU{vcpu} vcpu_info at {gaddr:#x}"
        return 0

    def _register_runstate(self, call: Call) -> int:
        vcpu = self._vcpu(call)
        va = read_struct(self._mem, RunstateArea, call.args[2]).addr & self._pointer_mask
        self._runstate_areas[vcpu] = va
        current = vcpu == self._current()
        self._write_runstate(va, self._runstates[vcpu] if current else self.runstate(vcpu))
        call.note = f"vCPU{vcpu} runstate at {va:#x}"
        return 0


class VmAssist:
    """vm_assist (hypercall 21): only runstate_update_flag exists on ARM."""

    def __init__(self) -> None:
        self.enabled: set[VmAssistType] = set()

    def hypercalls(self) -> Mapping[Hypercall, Handler]:
        table = SubopTable(
            VmAssistCmd,
            {VmAssistCmd.enable: self._enable, VmAssistCmd.disable: self._disable},
            fallback=self._unknown_cmd,
        )
        return {Hypercall.vm_assist: table}

    def reset(self) -> None:
        self.enabled.clear()

    def _type(self, call: Call) -> VmAssistType:
        raw = call.args[1] & _U32
        if raw not in VM_ASSIST_VALID:
            raise HypercallError(XenErrno.EINVAL, f"assist type {raw} is not valid on ARM")
        kind = VmAssistType(raw)
        call.note = kind.name
        return kind

    def _enable(self, call: Call) -> int:
        self.enabled.add(self._type(call))
        return 0

    def _disable(self, call: Call) -> int:
        self.enabled.discard(self._type(call))
        return 0

    def _unknown_cmd(self, call: Call) -> int:
        self._type(call)
        raise HypercallError(XenErrno.ENOSYS, f"vm_assist command {call.subop} does not exist")
