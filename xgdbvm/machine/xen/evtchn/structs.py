"""Guest structs of event_channel_op (public/event_channel.h), and guest-memory I/O for them.

Each argument struct is a frozen dataclass with its construct ``LAYOUT``
(the ``GuestStruct`` mixin of ``xen.structs``). ``read_struct`` copies one in
from a guest virtual address, ``write_struct`` copies the whole struct back,
as Xen's ``copy_from_guest``/``__copy_to_guest`` do: fields the guest passed
in come back unchanged, padding included. Offsets were checked by compiling
the Xen headers for aarch64 and armv7a.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import TypeVar

from xgdbvm.machine.xen.guest import GuestAccess
from xgdbvm.machine.xen.structs import GuestStruct, Layout

S = TypeVar("S", bound=GuestStruct)


def read_struct(guest: GuestAccess, struct: type[S], va: int) -> S:
    return struct.decode(guest.read(va, struct.byte_size()))


def write_struct(guest: GuestAccess, va: int, value: GuestStruct) -> None:
    guest.write(va, value.encode())


class EvtchnOp(IntEnum):
    bind_interdomain = 0
    bind_virq = 1
    bind_pirq = 2
    close = 3
    send = 4
    status = 5
    alloc_unbound = 6
    bind_ipi = 7
    bind_vcpu = 8
    unmask = 9
    reset = 10
    init_control = 11
    expand_array = 12
    set_priority = 13
    reset_cont = 14


class EvtchnStat(IntEnum):
    """``evtchn_status.status`` values."""

    closed = 0
    unbound = 1
    interdomain = 2
    pirq = 3
    virq = 4
    ipi = 5


@dataclass(frozen=True)
class AllocUnbound(GuestStruct):
    LAYOUT = Layout(
        lambda c: c.Struct("dom" / c.Int16ul, "remote_dom" / c.Int16ul, "port" / c.Int32ul)
    )

    dom: int = 0
    remote_dom: int = 0
    port: int = 0  # OUT


@dataclass(frozen=True)
class BindInterdomain(GuestStruct):
    LAYOUT = Layout(
        lambda c: c.Struct(
            "remote_dom" / c.Int16ul,
            "pad" / c.Int16ul,
            "remote_port" / c.Int32ul,
            "local_port" / c.Int32ul,
        )
    )

    remote_dom: int = 0
    pad: int = 0
    remote_port: int = 0
    local_port: int = 0  # OUT


@dataclass(frozen=True)
class BindVirq(GuestStruct):
    LAYOUT = Layout(lambda c: c.Struct("virq" / c.Int32ul, "vcpu" / c.Int32ul, "port" / c.Int32ul))

    virq: int = 0
    vcpu: int = 0
    port: int = 0  # OUT


@dataclass(frozen=True)
class BindPirq(GuestStruct):
    LAYOUT = Layout(lambda c: c.Struct("pirq" / c.Int32ul, "flags" / c.Int32ul, "port" / c.Int32ul))

    pirq: int = 0
    flags: int = 0
    port: int = 0  # OUT


@dataclass(frozen=True)
class PortArg(GuestStruct):
    """``evtchn_close``, ``evtchn_send`` and ``evtchn_unmask``: one port."""

    LAYOUT = Layout(lambda c: c.Struct("port" / c.Int32ul))

    port: int = 0


@dataclass(frozen=True)
class Status(GuestStruct):
    """``evtchn_status``; the union at 16 is two raw u32 words."""

    LAYOUT = Layout(
        lambda c: c.Struct(
            "dom" / c.Int16ul,
            "pad" / c.Int16ul,
            "port" / c.Int32ul,
            "status" / c.Int32ul,
            "vcpu" / c.Int32ul,
            "union0" / c.Int32ul,
            "union1" / c.Int32ul,
        )
    )

    dom: int = 0
    pad: int = 0
    port: int = 0
    status: int = 0  # OUT
    vcpu: int = 0  # OUT
    union0: int = 0  # OUT: unbound.dom / interdomain.dom (u16), pirq, virq (u32)
    union1: int = 0  # OUT: interdomain.port


@dataclass(frozen=True)
class BindIpi(GuestStruct):
    LAYOUT = Layout(lambda c: c.Struct("vcpu" / c.Int32ul, "port" / c.Int32ul))

    vcpu: int = 0
    port: int = 0  # OUT


@dataclass(frozen=True)
class BindVcpu(GuestStruct):
    LAYOUT = Layout(lambda c: c.Struct("port" / c.Int32ul, "vcpu" / c.Int32ul))

    port: int = 0
    vcpu: int = 0


@dataclass(frozen=True)
class Reset(GuestStruct):
    LAYOUT = Layout(lambda c: c.Struct("dom" / c.Int16ul))

    dom: int = 0


@dataclass(frozen=True)
class InitControl(GuestStruct):
    LAYOUT = Layout(
        lambda c: c.Struct(
            "control_gfn" / c.Int64ul,
            "offset" / c.Int32ul,
            "vcpu" / c.Int32ul,
            "link_bits" / c.Int8ul,
            "pad" / c.Bytes(7),
        )
    )

    control_gfn: int = 0
    offset: int = 0
    vcpu: int = 0
    link_bits: int = 0  # OUT
    pad: bytes = bytes(7)


@dataclass(frozen=True)
class ExpandArray(GuestStruct):
    LAYOUT = Layout(lambda c: c.Struct("array_gfn" / c.Int64ul))

    array_gfn: int = 0


@dataclass(frozen=True)
class SetPriority(GuestStruct):
    LAYOUT = Layout(lambda c: c.Struct("port" / c.Int32ul, "priority" / c.Int32ul))

    port: int = 0
    priority: int = 0
