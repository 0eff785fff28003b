"""Guest structs of event_channel_op (public/event_channel.h) and a typed reader/writer.

Each argument struct is a construct ``Struct`` paired with a frozen dataclass;
``GuestStruct`` reads one from a guest virtual address into the dataclass and
writes the whole struct back, as Xen's ``copy_from_guest``/``__copy_to_guest``
do (so fields the guest passed in come back unchanged, padding included).
Offsets were checked by compiling the Xen headers for aarch64 and armv7a.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from enum import IntEnum
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from construct import Bytes, Int8ul, Int16ul, Int32ul, Int64ul, Struct

from xgdbvm.machine.xen.guest import GuestAccess

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

T = TypeVar("T", bound="DataclassInstance")


class GuestStruct(Generic[T]):
    """A construct struct and the frozen dataclass it parses into (same field names)."""

    def __init__(self, fmt: Struct, cls: type[T]) -> None:
        self.fmt = fmt
        self.cls = cls
        self.size: int = fmt.sizeof()
        self._names = tuple(f.name for f in dataclasses.fields(cls))

    def parse(self, data: bytes) -> T:
        parsed = self.fmt.parse(data)
        values: dict[str, Any] = {name: _frozen(parsed[name]) for name in self._names}
        return self.cls(**values)

    def build(self, value: T) -> bytes:
        data: bytes = self.fmt.build(dataclasses.asdict(value))
        return data

    def read(self, guest: GuestAccess, va: int) -> T:
        return self.parse(guest.read(va, self.size))

    def write(self, guest: GuestAccess, va: int, value: T) -> None:
        guest.write(va, self.build(value))


def _frozen(value: object) -> object:
    """construct parses arrays to lists; frozen dataclasses hold tuples."""
    return tuple(value) if isinstance(value, list) else value


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
class AllocUnbound:
    dom: int = 0
    remote_dom: int = 0
    port: int = 0  # OUT


@dataclass(frozen=True)
class BindInterdomain:
    remote_dom: int = 0
    pad: int = 0
    remote_port: int = 0
    local_port: int = 0  # OUT


@dataclass(frozen=True)
class BindVirq:
    virq: int = 0
    vcpu: int = 0
    port: int = 0  # OUT


@dataclass(frozen=True)
class BindPirq:
    pirq: int = 0
    flags: int = 0
    port: int = 0  # OUT


@dataclass(frozen=True)
class PortArg:
    """``evtchn_close``, ``evtchn_send`` and ``evtchn_unmask``: one port."""

    port: int = 0


@dataclass(frozen=True)
class Status:
    """``evtchn_status``; the union at 16 is two raw u32 words."""

    dom: int = 0
    pad: int = 0
    port: int = 0
    status: int = 0  # OUT
    vcpu: int = 0  # OUT
    union0: int = 0  # OUT: unbound.dom / interdomain.dom (u16), pirq, virq (u32)
    union1: int = 0  # OUT: interdomain.port


@dataclass(frozen=True)
class BindIpi:
    vcpu: int = 0
    port: int = 0  # OUT


@dataclass(frozen=True)
class BindVcpu:
    port: int = 0
    vcpu: int = 0


@dataclass(frozen=True)
class Reset:
    dom: int = 0


@dataclass(frozen=True)
class InitControl:
    control_gfn: int = 0
    offset: int = 0
    vcpu: int = 0
    link_bits: int = 0  # OUT
    pad: bytes = bytes(7)


@dataclass(frozen=True)
class ExpandArray:
    array_gfn: int = 0


@dataclass(frozen=True)
class SetPriority:
    port: int = 0
    priority: int = 0


ALLOC_UNBOUND = GuestStruct(
    Struct("dom" / Int16ul, "remote_dom" / Int16ul, "port" / Int32ul), AllocUnbound
)
BIND_INTERDOMAIN = GuestStruct(
    Struct(
        "remote_dom" / Int16ul,
        "pad" / Int16ul,
        "remote_port" / Int32ul,
        "local_port" / Int32ul,
    ),
    BindInterdomain,
)
BIND_VIRQ = GuestStruct(Struct("virq" / Int32ul, "vcpu" / Int32ul, "port" / Int32ul), BindVirq)
BIND_PIRQ = GuestStruct(Struct("pirq" / Int32ul, "flags" / Int32ul, "port" / Int32ul), BindPirq)
PORT_ARG = GuestStruct(Struct("port" / Int32ul), PortArg)
STATUS = GuestStruct(
    Struct(
        "dom" / Int16ul,
        "pad" / Int16ul,
        "port" / Int32ul,
        "status" / Int32ul,
        "vcpu" / Int32ul,
        "union0" / Int32ul,
        "union1" / Int32ul,
    ),
    Status,
)
BIND_IPI = GuestStruct(Struct("vcpu" / Int32ul, "port" / Int32ul), BindIpi)
BIND_VCPU = GuestStruct(Struct("port" / Int32ul, "vcpu" / Int32ul), BindVcpu)
RESET = GuestStruct(Struct("dom" / Int16ul), Reset)
INIT_CONTROL = GuestStruct(
    Struct(
        "control_gfn" / Int64ul,
        "offset" / Int32ul,
        "vcpu" / Int32ul,
        "link_bits" / Int8ul,
        "pad" / Bytes(7),
    ),
    InitControl,
)
EXPAND_ARRAY = GuestStruct(Struct("array_gfn" / Int64ul), ExpandArray)
SET_PRIORITY = GuestStruct(Struct("port" / Int32ul, "priority" / Int32ul), SetPriority)
