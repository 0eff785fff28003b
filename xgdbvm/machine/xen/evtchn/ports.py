"""One domain's event-channel table (xen/common/event_channel.c, xen/include/xen/sched.h).

Contract: ports are allocated lowest-free-first up to ``max_port`` (libxl's
default ``event_channels`` is 1023; the 2-level ABI caps it at 4095). Like
Xen, the table grows in buckets of ``EVTCHNS_PER_BUCKET`` (64: a page of
64-byte-aligned ``struct evtchn``) and a port is *valid* only once its bucket
exists, so operations on a port beyond the last bucket are -EINVAL even where
a port inside it would report "closed". Port 0 is ``reserved`` from creation
and never handed out. VIRQ bindings live per vCPU in ``virq_to_port``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from enum import Enum, IntEnum
from typing import Final

from xgdbvm.machine.xen.errno import XenErrno
from xgdbvm.machine.xen.shared_info import EVTCHN_2L_NR_CHANNELS

EVTCHNS_PER_BUCKET: Final = 64
DEFAULT_MAX_EVTCHN_PORT: Final = 1023
NR_VIRQS: Final = 24


class ChannelState(IntEnum):
    """Xen's ``ECS_*`` states (pirq is never entered on ARM)."""

    free = 0
    reserved = 1
    unbound = 2
    interdomain = 3
    pirq = 4
    virq = 5
    ipi = 6


class Virq(IntEnum):
    TIMER = 0
    DEBUG = 1
    CONSOLE = 2
    DOM_EXC = 3
    TBUF = 4
    DEBUGGER = 6
    XENOPROF = 7
    CON_RING = 8
    PCPU_STATE = 9
    MEM_EVENT = 10
    ARGO = 11
    ENOMEM = 12
    XENPMU = 13
    ARCH_0 = 16
    ARCH_1 = 17
    ARCH_2 = 18
    ARCH_3 = 19
    ARCH_4 = 20
    ARCH_5 = 21
    ARCH_6 = 22
    ARCH_7 = 23


class VirqType(Enum):
    GLOBAL = "global"  # bound by the global handler (the hardware domain) on vCPU0
    DOMAIN = "domain"  # per domain, on vCPU0
    VCPU = "vcpu"  # per vCPU


# get_virq_type(); everything else (including ARM's arch VIRQs) is global.
VIRQ_TYPES: Final[Mapping[int, VirqType]] = {
    Virq.TIMER: VirqType.VCPU,
    Virq.DEBUG: VirqType.VCPU,
    Virq.XENOPROF: VirqType.VCPU,
    Virq.XENPMU: VirqType.VCPU,
    Virq.ARGO: VirqType.DOMAIN,
}


def virq_type(virq: int) -> VirqType:
    return VIRQ_TYPES.get(virq, VirqType.GLOBAL)


def virq_name(virq: int) -> str:
    try:
        return f"VIRQ_{Virq(virq).name}"
    except ValueError:
        return f"VIRQ {virq}"


@dataclass
class Channel:
    """One port. ``remote_domid``: for unbound, the domain allowed to bind; for
    interdomain, the peer (whose port is ``remote_port``)."""

    port: int
    state: ChannelState = ChannelState.free
    notify_vcpu: int = 0
    remote_domid: int = 0
    remote_port: int = 0
    virq: int = 0
    sends: int = 0  # successful EVTCHNOP_send (or backend notify) from this port
    deliveries: int = 0  # times an event was set pending on this port
    dropped: int = 0  # sends on this port while it was unbound

    @property
    def in_use(self) -> bool:
        return self.state > ChannelState.reserved


class PortTable:
    def __init__(self, domid: int, nr_vcpus: int, max_port: int) -> None:
        self.domid = domid
        self.nr_vcpus = nr_vcpus
        self.max_port = min(max_port, EVTCHN_2L_NR_CHANNELS - 1)
        self._channels: list[Channel] = []
        self.virq_to_port: list[list[int]] = []
        self.reset()

    def reset(self) -> None:
        self._channels = [Channel(port) for port in range(EVTCHNS_PER_BUCKET)]
        self._channels[0].state = ChannelState.reserved
        self.virq_to_port = [[0] * NR_VIRQS for _ in range(self.nr_vcpus)]

    def valid(self, port: int) -> bool:
        return 0 <= port < len(self._channels)

    def get(self, port: int) -> Channel | None:
        return self._channels[port] if self.valid(port) else None

    def allocate(self) -> int:
        """``get_free_port``: the lowest free port, growing the table; -errno if none."""
        for port in range(self.max_port + 1):
            if not self.valid(port):
                start = len(self._channels)
                stop = start + EVTCHNS_PER_BUCKET
                self._channels.extend(Channel(p) for p in range(start, stop))
            if self._channels[port].state is ChannelState.free:
                self._channels[port] = Channel(port)
                return port
        return -XenErrno.ENOSPC

    def free(self, channel: Channel) -> None:
        """``evtchn_free`` minus the pending-bit clear, which the owner does first."""
        channel.state = ChannelState.free
        channel.notify_vcpu = 0

    def in_use(self) -> Iterator[Channel]:
        return (channel for channel in self._channels if channel.in_use)

    def vcpu_valid(self, vcpu: int) -> bool:
        return 0 <= vcpu < self.nr_vcpus
