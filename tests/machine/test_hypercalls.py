"""The hypervisor side alone: handlers fed arguments, with a fake guest memory."""

from __future__ import annotations

import struct

import pytest

from xgdbvm.machine.memory import Backing, Extent, FrameKind, GuestMemoryFault, PhysicalMemory
from xgdbvm.machine.xen.abi import Hypercall, ShutdownReason, XenVer
from xgdbvm.machine.xen.domain import DomainConfig
from xgdbvm.machine.xen.errno import XenErrno, errno_name
from xgdbvm.machine.xen.guest import FaultingGuestAccess
from xgdbvm.machine.xen.hypervisor import Hypervisor
from xgdbvm.machine.xen.smccc import XEN_UID, Fid

BASE, SIZE = 0x1000, 0x1000


class FakeGuest:
    """One page of guest memory at BASE; anything else faults."""

    def __init__(self) -> None:
        self.mem = bytearray(SIZE)

    def _check(self, va: int, size: int) -> int:
        if not (va >= BASE and va + size <= BASE + SIZE):
            raise GuestMemoryFault(va, size)
        return va - BASE

    def read(self, va: int, size: int) -> bytes:
        off = self._check(va, size)
        return bytes(self.mem[off : off + size])

    def write(self, va: int, data: bytes) -> None:
        off = self._check(va, len(data))
        self.mem[off : off + len(data)] = data


class FakeUc:
    """Stands in for Unicorn's memory mapping calls (the p2m mirrors into it)."""

    def __init__(self) -> None:
        self.mapped: dict[int, int] = {}

    def mem_map_ptr(self, address: int, size: int, prot: int, host: int) -> None:
        self.mapped[address] = size

    def mem_unmap(self, address: int, size: int) -> None:
        self.mapped.pop(address, None)


RAM_GFN, RAM_PAGES = 0x40000, 256


def make(dom0: bool = False) -> tuple[Hypervisor, FakeGuest, list[bytes]]:
    guest = FakeGuest()
    lines: list[bytes] = []
    p2m = PhysicalMemory(FakeUc())
    ram = p2m.add_backing(Backing.allocate("ram0", RAM_PAGES * 4096, lambda off: 0x80000000 + off))
    hv = Hypervisor(
        DomainConfig(dom0=dom0),
        "arm64",
        (4, 19),
        FaultingGuestAccess(guest.read, guest.write),
        lines.append,
        p2m,
        (Extent(RAM_GFN, RAM_PAGES, FrameKind.RAM, ram, 0),),
    )
    return hv, guest, lines


def test_version_extraversion_and_pagesize() -> None:
    hv, guest, _ = make()
    assert hv.hypercall(Hypercall.xen_version, (XenVer.version, 0))[1] == 0x40013
    assert hv.hypercall(Hypercall.xen_version, (XenVer.extraversion, BASE))[1] == 0
    assert guest.mem[:16] == b".0" + bytes(14)
    assert hv.hypercall(Hypercall.xen_version, (XenVer.pagesize, 0))[1] == 4096
    assert hv.hypercall(Hypercall.xen_version, (XenVer.capabilities, BASE))[1] == 0
    assert guest.mem[:32].rstrip(b"\0") == b"xen-3.0-aarch64 xen-3.0-armv7l "


@pytest.mark.parametrize(("dom0", "features"), [(False, 0x00056005), (True, 0x00066805)])
def test_get_features(dom0: bool, features: int) -> None:
    hv, guest, _ = make(dom0)
    guest.mem[0:8] = struct.pack("<II", 0, 0xFFFFFFFF)
    assert hv.hypercall(Hypercall.xen_version, (XenVer.get_features, BASE))[1] == 0
    assert struct.unpack("<II", guest.mem[0:8]) == (0, features)
    guest.mem[0:4] = struct.pack("<I", 1)
    call, ret = hv.hypercall(Hypercall.xen_version, (XenVer.get_features, BASE))
    assert ret == -XenErrno.EINVAL and call.subop == "get_features"


def test_bad_pointer_is_efault_not_an_exception() -> None:
    hv, _, _ = make()
    call, ret = hv.hypercall(Hypercall.xen_version, (XenVer.extraversion, 0xDEAD0000))
    assert ret == -XenErrno.EFAULT
    assert "0xdead0000" in call.note
    assert errno_name(ret) == "EFAULT"


def test_unimplemented_numbers_and_subops_are_enosys_and_counted() -> None:
    hv, _, _ = make()
    call, ret = hv.hypercall(Hypercall.mmu_update, (0, 0, 0, 0, 0))
    assert ret == -XenErrno.ENOSYS and call.note == "not implemented"
    assert hv.hypercall(99, (0,))[1] == -XenErrno.ENOSYS
    call, ret = hv.hypercall(Hypercall.xen_version, (XenVer.build_id, BASE))
    assert ret == -XenErrno.ENOSYS and call.subop == "build_id"
    assert hv.dispatcher.stats.unimplemented == {
        "mmu_update": 1,
        "hypercall_99": 1,
        "xen_version.build_id": 1,
    }


def test_console_io_write_is_line_buffered_with_the_domain_prefix() -> None:
    hv, guest, lines = make()
    guest.mem[0:12] = b"hel\x07lo\nwor"
    assert hv.hypercall(Hypercall.console_io, (0, 10, BASE))[1] == 0
    assert lines == [b"(d1) hello\n"]
    guest.mem[0:4] = b"ld\n\0"
    hv.hypercall(Hypercall.console_io, (0, 3, BASE))
    assert lines[-1] == b"(d1) world\n"


def test_console_io_read_is_refused_to_a_domu_and_huge_writes_to_anyone() -> None:
    hv, _, _ = make()
    assert hv.hypercall(Hypercall.console_io, (1, 10, BASE))[1] == -XenErrno.EPERM
    assert hv.hypercall(Hypercall.console_io, (0, 1 << 30, BASE))[1] == -XenErrno.E2BIG


def test_sched_shutdown_records_the_reason_once() -> None:
    hv, guest, _ = make()
    assert hv.hypercall(Hypercall.sched_op, (0, 0))[1] == 0  # yield
    guest.mem[0:4] = struct.pack("<I", ShutdownReason.crash)
    assert hv.hypercall(Hypercall.sched_op, (2, BASE))[1] == 0
    guest.mem[0:4] = struct.pack("<I", ShutdownReason.poweroff)
    hv.hypercall(Hypercall.sched_op, (2, BASE))
    assert hv.state.shutdown is ShutdownReason.crash
    guest.mem[0:4] = struct.pack("<I", 77)
    hv.reset()
    assert hv.hypercall(Hypercall.sched_op, (2, BASE))[1] == -XenErrno.EINVAL
    assert hv.state.shutdown is None


def test_smccc_answers() -> None:
    hv, _, _ = make()
    assert hv.smccc_call((Fid.PSCI_VERSION,)).values == (0x10001,)
    assert hv.smccc_call((Fid.SMCCC_VERSION,)).values == (0x10002,)
    assert hv.smccc_call((Fid.PSCI_FEATURES, Fid.PSCI_SYSTEM_OFF)).values == (0,)
    assert hv.smccc_call((Fid.PSCI_FEATURES, 0x84000055)).values == (-1,)
    assert hv.smccc_call((0x86000001,)).values == (-1,)
    assert hv.smccc_call((Fid.XEN_CALL_UID,)).values == XEN_UID
    assert hv.smccc_call((Fid.PSCI_SYSTEM_RESET,)).name == "PSCI_SYSTEM_RESET"
    assert hv.state.shutdown is ShutdownReason.reboot
