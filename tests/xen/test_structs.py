"""Every guest struct of the event-channel side against known bytes (offsets from
the Xen headers compiled for aarch64 and armv7a: identical)."""

from __future__ import annotations

from types import ModuleType

import pytest

from xgdbvm.machine.xen.evtchn.structs import (
    AllocUnbound,
    BindInterdomain,
    BindIpi,
    BindPirq,
    BindVcpu,
    BindVirq,
    ExpandArray,
    InitControl,
    PortArg,
    Reset,
    SetPriority,
    Status,
)
from xgdbvm.machine.xen.hvm import HvmParamArg
from xgdbvm.machine.xen.shared_info import (
    SHARED_INFO,
    SHARED_INFO_SIZE,
    VCPU_INFO,
    VCPU_INFO_SIZE,
    SharedInfo,
    SharedInfoField,
    SharedInfoState,
    VcpuInfo,
    VcpuInfoField,
    VcpuTimeInfo,
)
from xgdbvm.machine.xen.structs import GuestStruct, Layout
from xgdbvm.machine.xen.vcpu import RegisterVcpuInfo, Runstate, RunstateArea

CASES: list[tuple[GuestStruct, str]] = [
    (AllocUnbound(dom=0x7FF0, remote_dom=0, port=5), "f07f0000 05000000"),
    (
        BindInterdomain(remote_dom=0, pad=0xBEEF, remote_port=7, local_port=3),
        "0000efbe 07000000 03000000",
    ),
    (BindVirq(virq=0, vcpu=1, port=9), "00000000 01000000 09000000"),
    (BindPirq(pirq=4, flags=1, port=0), "04000000 01000000 00000000"),
    (PortArg(port=0x123), "23010000"),
    (
        Status(dom=0x7FF0, pad=0, port=1, status=2, vcpu=1, union0=0xAAAA0000, union1=4),
        "f07f0000 01000000 02000000 01000000 0000aaaa 04000000",
    ),
    (BindIpi(vcpu=1, port=6), "01000000 06000000"),
    (BindVcpu(port=6, vcpu=1), "06000000 01000000"),
    (Reset(dom=0x7FF0), "f07f"),
    (
        InitControl(control_gfn=0x40001, offset=0x80, vcpu=1, link_bits=17, pad=bytes(7)),
        "0100040000000000 80000000 01000000 11 00000000000000",
    ),
    (ExpandArray(array_gfn=0x40002), "0200040000000000"),
    (SetPriority(port=3, priority=7), "03000000 07000000"),
    (
        HvmParamArg(domid=0x7FF0, pad=0, index=0, value=0x020000000000021F),
        "f07f0000 00000000 1f02000000000002",
    ),
    (
        RegisterVcpuInfo(mfn=0x40001, offset=0x40, rsvd=0),
        "0100040000000000 40000000 00000000",
    ),
    (RunstateArea(addr=0xFFFF_0000_1234_5000), "0050341200 00ffff"),
    (
        Runstate(state=2, state_entry_time=1 << 63 | 5, time=(1, 2, 3, 4)),
        "02000000 00000000 0500000000000080"
        "0100000000000000 0200000000000000 0300000000000000 0400000000000000",
    ),
]


@pytest.mark.parametrize(("value", "known"), CASES, ids=lambda v: type(v).__name__)
def test_struct_round_trips_against_known_bytes(value: GuestStruct, known: str) -> None:
    data = bytes.fromhex(known.replace(" ", ""))
    assert type(value).byte_size() == len(data)
    assert value.encode() == data
    assert type(value).decode(data) == value


def test_sizes_match_the_compiled_headers() -> None:
    sizes: dict[type[GuestStruct], int] = {
        AllocUnbound: 8,
        BindInterdomain: 12,
        BindVirq: 12,
        BindPirq: 12,
        PortArg: 4,
        Status: 24,
        BindIpi: 8,
        BindVcpu: 8,
        Reset: 2,
        InitControl: 24,
        ExpandArray: 8,
        SetPriority: 8,
        HvmParamArg: 16,
        RegisterVcpuInfo: 16,
        RunstateArea: 8,
        Runstate: 48,
    }
    assert {cls: cls.byte_size() for cls in sizes} == sizes
    assert (VCPU_INFO.get().sizeof(), SHARED_INFO.get().sizeof()) == (
        VCPU_INFO_SIZE,
        SHARED_INFO_SIZE,
    )
    assert (VCPU_INFO_SIZE, SHARED_INFO_SIZE) == (48, 1088)


VCPU_INFO_BYTES = (
    "01 00 000000000000"  # upcall_pending 1, pad0 (x86's upcall_mask) 0, 6 pad bytes
    "0500000000000080"  # evtchn_pending_sel: bits 0, 2, 63
    "07000000 00000000"  # time.version 7, pad0
    "1122334455667788"  # tsc_timestamp
    "0010000000000000"  # system_time 0x1000
    "00ca9a3b fe 01 0000"  # tsc_to_system_mul, tsc_shift -2, flags 1, pad1
)
VCPU_INFO_VALUE = VcpuInfo(
    evtchn_upcall_pending=1,
    pad0=0,
    evtchn_pending_sel=(1 << 63) | 5,
    time=VcpuTimeInfo(7, 0, 0x8877665544332211, 0x1000, 0x3B9ACA00, -2, 1, bytes(2)),
)


def test_vcpu_info_round_trips_against_known_bytes() -> None:
    data = bytes.fromhex(VCPU_INFO_BYTES.replace(" ", ""))
    assert len(data) == VCPU_INFO_SIZE
    assert VcpuInfo.parse(data) == VCPU_INFO_VALUE
    assert VCPU_INFO_VALUE.build() == data
    assert data[VcpuInfoField.evtchn_pending_sel] == 0x05
    assert data[VcpuInfoField.time] == 7


def test_shared_info_round_trips_against_known_bytes() -> None:
    data = bytearray(SHARED_INFO_SIZE)
    data[:VCPU_INFO_SIZE] = bytes.fromhex(VCPU_INFO_BYTES.replace(" ", ""))
    data[48:56] = bytes.fromhex("0200000000000000")  # port 1 pending
    data[48 + 8 * 63 : 48 + 8 * 64] = bytes.fromhex("0000000000000080")  # port 4095
    data[560:568] = bytes.fromhex("0400000000000000")  # port 2 masked
    data[1072:1088] = bytes.fromhex("02000000 78563412 40420f00 01000000".replace(" ", ""))
    pending = [0] * 64
    pending[0], pending[63] = 2, 1 << 63
    mask = [0] * 64
    mask[0] = 4
    value = SharedInfoState(
        VCPU_INFO_VALUE, tuple(pending), tuple(mask), 2, 0x12345678, 1_000_000, 1
    )
    assert SharedInfoState.parse(bytes(data)) == value
    assert value.build() == bytes(data)
    assert [f.value for f in SharedInfoField] == [0, 48, 560, 1072, 1076, 1080, 1084]


def test_wallclock_is_published_with_an_even_version() -> None:
    page = bytearray(4096)
    shared = SharedInfo(memoryview(page))
    shared.set_wallclock((5 << 32) | 0x12345678, 999_999_999)
    shared.set_wallclock((5 << 32) | 0x12345678, 999_999_999)
    assert page[1072:1088] == bytes.fromhex("04000000 78563412 ffc99a3b 05000000".replace(" ", ""))
    state = shared.snapshot()
    assert (state.wc_version, state.wc_sec, state.wc_nsec, state.wc_sec_hi) == (
        4,
        0x12345678,
        999_999_999,
        5,
    )
    assert shared.updates.count == 2


def test_shared_info_needs_a_writable_page() -> None:
    with pytest.raises(ValueError, match="writable"):
        SharedInfo(memoryview(bytes(4096)))
    with pytest.raises(ValueError, match="4096"):
        SharedInfo(memoryview(bytearray(1088)))


def test_a_layout_is_built_once_when_first_used() -> None:
    built: list[ModuleType] = []

    def build(c: ModuleType) -> object:
        built.append(c)
        return object()

    layout = Layout(build)
    assert built == []
    assert layout.get() is layout.get()
    assert [module.__name__ for module in built] == ["construct"]
