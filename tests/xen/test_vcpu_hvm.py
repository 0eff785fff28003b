"""vcpu_op, vm_assist and hvm_op against a fake guest."""

from __future__ import annotations

import struct

import pytest

from tests.xen.world import ARG, CONSOLE_PFN, DOMID, RAM_BASE, RAM_GFN, STORE_PFN, World
from xgdbvm.machine.xen.abi import DOMID_SELF, Hypercall
from xgdbvm.machine.xen.errno import XenErrno
from xgdbvm.machine.xen.hvm import HvmOp, HvmParam, callback_irq_ppi
from xgdbvm.machine.xen.shared_info import VcpuInfoHome, VcpuInfoLocation
from xgdbvm.machine.xen.vcpu import Runstate, RunstateState, VcpuOp

INFO_GFN = RAM_GFN + 1
INFO_VA = RAM_BASE + 0x1000


def register(w: World, vcpu: int, gfn: int, offset: int) -> tuple[str, int]:
    w.ram.write(ARG, struct.pack("<QII", gfn, offset, 0))
    call, ret = w.call(Hypercall.vcpu_op, VcpuOp.register_vcpu_info, vcpu, ARG)
    return call.note, ret


def test_register_vcpu_info_copies_and_forces_an_upcall() -> None:
    w = World()
    w.page[0:16] = bytes.fromhex("00000000000000000400000000000000")  # sel bit 2
    w.page[16:48] = bytes(range(32))  # vcpu_time_info contents travel too
    assert register(w, 0, INFO_GFN, 0x40)[1] == 0
    area = w.ram.read(INFO_VA + 0x40, 48)
    assert area[0] == 1 and area[8:16] == b"\xff" * 8 and area[16:48] == bytes(range(32))
    assert w.upcalls == [0]
    assert w.infos.location(0) == VcpuInfoLocation(VcpuInfoHome.GUEST_FRAME, INFO_GFN, 0x40)
    # From now on events go to the new area; shared_info's slot is left alone.
    bport = w.evtchn.backend_bind_interdomain(w.store_port)
    w.ram.write(INFO_VA + 0x40, bytes(16))
    w.evtchn.notify_guest(bport)
    assert w.ram.read(INFO_VA + 0x40, 16) == b"\x01" + bytes(7) + b"\x01" + bytes(7)
    assert w.page[0:16] == bytes.fromhex("00000000000000000400000000000000")
    assert w.upcalls == [0, 0]


def test_register_from_the_dummy_starts_from_zeros() -> None:
    w = World()
    w.evtchn.raise_virq(0, vcpu=1)  # nothing bound: no effect
    w.ram.write(INFO_VA, b"\xaa" * 48)
    assert register(w, 1, INFO_GFN, 0)[1] == 0
    area = w.ram.read(INFO_VA, 48)
    assert area == b"\x01" + bytes(7) + b"\xff" * 8 + bytes(32)
    assert w.upcalls == [1]


def test_forced_upcall_is_not_raised_when_already_pending() -> None:
    w = World()
    w.page[0] = 1
    assert register(w, 0, INFO_GFN, 0)[1] == 0
    assert w.upcalls == []  # the 0->1 edge did not happen


@pytest.mark.parametrize(
    ("vcpu", "gfn", "offset", "errno"),
    [
        (0, INFO_GFN, 4096, XenErrno.EINVAL),  # offset leaves the frame
        (0, (1 << 64) >> 12, 0, XenErrno.EINVAL),  # gfn too large for an address
        (0, (1 << 52) - 1, 0xFFF, XenErrno.EINVAL),  # all-ones address
        (0, INFO_GFN, 4096 - 40, XenErrno.ENXIO),  # crosses into the next page
        (0, INFO_GFN, 4, XenErrno.ENXIO),  # not 8-byte aligned
        (0, 0x1234, 0, XenErrno.EINVAL),  # not RAM
        (2, INFO_GFN, 0, XenErrno.ENOENT),
        (0xFFFF_FFFF, INFO_GFN, 0, XenErrno.ENOENT),
    ],
)
def test_register_vcpu_info_errors(vcpu: int, gfn: int, offset: int, errno: XenErrno) -> None:
    w = World()
    note, ret = register(w, vcpu, gfn & ((1 << 64) - 1), offset)
    assert ret == -errno and note
    assert w.upcalls == [] and not w.infos.registered(0)


def test_register_vcpu_info_twice_is_ebusy() -> None:
    w = World()
    assert register(w, 0, INFO_GFN, 0)[1] == 0
    note, ret = register(w, 0, INFO_GFN, 0x80)
    assert ret == -XenErrno.EBUSY and "already" in note
    assert register(w, 1, INFO_GFN, 0x80)[1] == 0  # another vCPU may


@pytest.mark.parametrize("cmd", [VcpuOp.up, VcpuOp.is_up, VcpuOp.initialise, 14, 99])
def test_other_vcpu_ops_are_einval_after_the_vcpu_check(cmd: int) -> None:
    w = World()
    call, ret = w.call(Hypercall.vcpu_op, cmd, 0, ARG)
    assert ret == -XenErrno.EINVAL and call.note != "not implemented"
    assert w.call(Hypercall.vcpu_op, cmd, 5, ARG)[1] == -XenErrno.ENOENT
    assert w.dispatcher.stats.unimplemented == {}


def test_runstate_area_is_written_now_and_on_switches() -> None:
    w = World()
    w.now = 1000
    w.ram.write(ARG, struct.pack("<Q", INFO_VA + 0x100))
    _, ret = w.call(Hypercall.vcpu_op, VcpuOp.register_runstate_memory_area, 0, ARG)
    assert ret == 0 and w.vcpu.runstate_area(0) == INFO_VA + 0x100

    def read() -> Runstate:
        return Runstate.decode(w.ram.read(INFO_VA + 0x100, 48))

    assert read() == Runstate(RunstateState.running, 0, (0, 0, 0, 0))
    w.now = 1500
    w.vcpu.set_runstate(0, RunstateState.blocked)
    assert read() == Runstate(RunstateState.blocked, 1500, (1500, 0, 0, 0))
    # vCPU1 is not the caller: its copy counts time up to now.
    w.ram.write(ARG, struct.pack("<Q", INFO_VA + 0x200))
    assert w.call(Hypercall.vcpu_op, VcpuOp.register_runstate_memory_area, 1, ARG)[1] == 0
    assert Runstate.decode(w.ram.read(INFO_VA + 0x200, 48)) == Runstate(
        RunstateState.offline, 0, (0, 0, 0, 1500)
    )


def test_runstate_area_that_faults_still_returns_zero() -> None:
    w = World()
    w.ram.write(ARG, struct.pack("<Q", 0xDEAD_0000))
    assert w.call(Hypercall.vcpu_op, VcpuOp.register_runstate_memory_area, 0, ARG)[1] == 0
    w.vcpu.set_runstate(0, RunstateState.blocked)  # does not raise either
    assert w.call(Hypercall.vcpu_op, VcpuOp.register_runstate_memory_area, 0, 0)[1] == (
        -XenErrno.EFAULT
    )


@pytest.mark.parametrize(
    ("cmd", "kind", "ret"),
    [
        (0, 5, 0),
        (1, 5, 0),
        (0, 2, -XenErrno.EINVAL),
        (0, 64, -XenErrno.EINVAL),
        (7, 5, -XenErrno.ENOSYS),
        (7, 2, -XenErrno.EINVAL),  # the type is checked first
    ],
)
def test_vm_assist(cmd: int, kind: int, ret: int) -> None:
    w = World()
    call, got = w.call(Hypercall.vm_assist, cmd, kind)
    assert got == ret
    if ret:
        assert call.note and call.note != "not implemented"


def test_vm_assist_state() -> None:
    w = World()
    w.call(Hypercall.vm_assist, 0, 5)
    assert w.vm_assist.enabled == {5}
    w.call(Hypercall.vm_assist, 1, 5)
    assert w.vm_assist.enabled == set()


# -- hvm_op -------------------------------------------------------------------------


def hvm(
    w: World, op: int, index: int, domid: int = DOMID_SELF, value: int = 0
) -> tuple[str, int, tuple[int, ...]]:
    w.ram.write(ARG, struct.pack("<HHIQ", domid, 0xABCD, index, value))
    call, ret = w.call(Hypercall.hvm_op, op, ARG)
    return call.note, ret, struct.unpack("<HHIQ", w.out(16))


def test_callback_irq_encoding() -> None:
    assert callback_irq_ppi() == 0x0200_0000_0000_021F
    assert callback_irq_ppi(ppi=19, edge=True, active_low=False) == 0x0200_0000_0000_0113


@pytest.mark.parametrize(
    ("index", "value"),
    [
        (HvmParam.CALLBACK_IRQ, 0x0200_0000_0000_021F),
        (HvmParam.STORE_PFN, STORE_PFN),
        (HvmParam.STORE_EVTCHN, 1),
        (HvmParam.CONSOLE_PFN, CONSOLE_PFN),
        (HvmParam.CONSOLE_EVTCHN, 2),
    ],
)
def test_guest_reads_its_params_and_may_not_set_them(index: int, value: int) -> None:
    w = World()
    note, ret, out = hvm(w, HvmOp.get_param, index, value=0x5555)
    assert ret == 0 and out == (DOMID_SELF, 0xABCD, index, value)
    assert hvm(w, HvmOp.get_param, index, domid=DOMID)[1] == 0
    note, ret, out = hvm(w, HvmOp.set_param, index, value=7)
    assert ret == -XenErrno.EPERM and note and out[3] == 7
    assert w.hvm.get(index) == value


@pytest.mark.parametrize(
    ("op", "index", "domid", "errno"),
    [
        (HvmOp.get_param, HvmParam.MONITOR_RING_PFN, DOMID_SELF, XenErrno.EPERM),
        (HvmOp.set_param, HvmParam.MONITOR_RING_PFN, DOMID_SELF, XenErrno.EPERM),
        (HvmOp.get_param, HvmParam.IOREQ_PFN, DOMID_SELF, XenErrno.EINVAL),
        (HvmOp.set_param, HvmParam.IOREQ_PFN, DOMID_SELF, XenErrno.EINVAL),
        (HvmOp.get_param, 39, DOMID_SELF, XenErrno.EINVAL),
        (HvmOp.get_param, 0xFFFF_FFFF, DOMID_SELF, XenErrno.EINVAL),
        (HvmOp.get_param, HvmParam.STORE_PFN, 7, XenErrno.ESRCH),
        (HvmOp.get_param, HvmParam.STORE_PFN, 0, XenErrno.EPERM),  # the backend domain
    ],
)
def test_hvm_param_errors(op: int, index: int, domid: int, errno: XenErrno) -> None:
    w = World()
    note, ret, _ = hvm(w, op, index, domid=domid)
    assert ret == -errno and note


def test_unset_params_read_as_zero() -> None:
    w = World()
    w.hvm.params.pop(HvmParam.CONSOLE_PFN)
    assert hvm(w, HvmOp.get_param, HvmParam.CONSOLE_PFN)[2][3] == 0


def test_other_hvm_ops() -> None:
    w = World()
    assert w.call(Hypercall.hvm_op, HvmOp.guest_request_vm_event, 0)[1] == 0
    assert w.call(Hypercall.hvm_op, HvmOp.guest_request_vm_event, ARG)[1] == -XenErrno.EINVAL
    assert w.call(Hypercall.hvm_op, 2, ARG)[1] == -XenErrno.ENOSYS
    assert w.call(Hypercall.hvm_op, 1 << 32, ARG)[1] == -XenErrno.ENOSYS  # no truncation
    assert w.call(Hypercall.hvm_op, HvmOp.get_param, 0)[1] == -XenErrno.EFAULT
