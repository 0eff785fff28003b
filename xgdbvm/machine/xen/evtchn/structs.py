"""Guest structs of event_channel_op (public/event_channel.h).

Each argument struct is a frozen dataclass with its construct ``LAYOUT`` (the
``GuestStruct`` mixin of ``xen.structs``, which also reads and writes them in guest
memory). Offsets were checked by compiling the Xen headers for aarch64 and armv7a.
The service imports this module with the guest's first event_channel_op, not to
boot: its dozen dataclasses are ~10 ms of start-up.
"""

from __future__ import annotations

from dataclasses import dataclass

from xgdbvm.machine.xen.structs import GuestStruct, Layout


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
