"""event_channel_op (hypercall 32) on the 2-level ABI, and the backend domain's end.

Contract (xen/common/event_channel.c, event_2l.c; reference sections 3.4, 4.3):

- Two port tables: the guest's, and the emulated backend domain's (dom0 by
  default) that lives in the server. An event set pending on a guest port goes
  through the 2-level bitmaps in shared_info (``TwoLevel``); one on a backend
  port calls ``Backend.on_send(backend_port)``.
- Ops and errors as Xen answers them: alloc_unbound, bind_interdomain (the new
  local port is always marked pending once), bind_virq, bind_ipi, close, send
  (unbound: silently dropped, 0), status, bind_vcpu, unmask (re-raises per
  4.3), reset; bind_pirq -EOPNOTSUPP (no CONFIG_HAS_PIRQ on ARM);
  init_control and expand_array -EOPNOTSUPP, as a Xen built without
  CONFIG_EVTCHN_FIFO answers, so Linux falls back to 2-level; set_priority
  -ENOSYS (2-level has no priorities). Unknown commands -ENOSYS.
- Domain ids: DOMID_SELF or the guest's own id is the guest; the backend id is
  the backend domain; anything else -ESRCH. Acting on the backend's table
  (alloc_unbound/status/reset with dom = backend) is -EPERM for an
  unprivileged guest (dummy XSM, XSM_TARGET). A domU may bind only per-vCPU and
  per-domain VIRQs; global ones are the hardware domain's (-EBUSY).
- Upcall: ``VcpuInfos.mark_events_pending`` calls ``raise_upcall(vcpu)`` on the
  0->1 edge of ``evtchn_upcall_pending`` only, as Xen's default vGIC injects.
  The guest clears that byte itself, so a machine that keeps the PPI line as a
  level should re-evaluate it from ``upcall_pending(vcpu)`` (e.g. on EOI).

The machine makes each call happen between two guest instructions; ``updates``
counts changed guest-visible words so it can clear the exclusive monitor.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, Protocol

from xgdbvm.machine.xen.abi import DOMID_SELF, Hypercall
from xgdbvm.machine.xen.errno import HypercallError, XenErrno
from xgdbvm.machine.xen.guest import GuestAccess
from xgdbvm.machine.xen.hypercall import Call, Handler, SubopTable
from xgdbvm.machine.xen.shared_info import VcpuInfos
from xgdbvm.machine.xen.structs import read_struct, write_struct

from .ops import EvtchnOp, EvtchnStat
from .ports import (
    DEFAULT_MAX_EVTCHN_PORT,
    NR_VIRQS,
    Channel,
    ChannelState,
    PortTable,
    VirqType,
    virq_name,
    virq_type,
)
from .two_level import TwoLevel

if TYPE_CHECKING:
    from .structs import Status

FIFO_REFUSAL: Final = XenErrno.EOPNOTSUPP
_LOW16: Final = 0xFFFF


class Backend(Protocol):
    """The emulated backend domain (xenstored, xenconsoled, ...) living in the server."""

    def on_send(self, port: int) -> None:
        """An event arrived on the backend's ``port`` (its own numbering)."""


@dataclass(frozen=True)
class PortInfo:
    """One in-use port, for ``monitor evtchn``."""

    domid: int
    port: int
    state: ChannelState
    remote_dom: int | None
    remote_port: int | None
    virq: int | None
    vcpu: int
    pending: bool
    masked: bool
    sends: int
    deliveries: int
    dropped: int

    @property
    def peer(self) -> str:
        if self.virq is not None:
            return virq_name(self.virq)
        if self.remote_port is not None:
            return f"dom{self.remote_dom}:{self.remote_port}"
        if self.remote_dom is not None:
            return f"for dom{self.remote_dom}"
        return "-"


def format_ports(infos: list[PortInfo]) -> list[str]:
    header = "dom  port  state        peer           vcpu  P M  sends  deliv  drop"
    rows = [
        f"{i.domid:<4} {i.port:<5} {i.state.name:<12} {i.peer:<14} {i.vcpu:<5} "
        f"{'P' if i.pending else '.'} {'M' if i.masked else '.'} "
        f"{i.sends:>6} {i.deliveries:>6} {i.dropped:>5}"
        for i in infos
    ]
    return [header, *rows]


@dataclass
class _Domain:
    table: PortTable
    deliver: Callable[[Channel], None]

    @property
    def domid(self) -> int:
        return self.table.domid


def _status_fields(channel: Channel, arg: Status) -> Status:
    """Fill evtchn_status OUT fields as evtchn_status() does (the union keeps what
    the guest passed where the state writes nothing)."""
    lo, hi = arg.union0, arg.union1
    fields: Mapping[ChannelState, tuple[EvtchnStat, int, int]] = {
        ChannelState.free: (EvtchnStat.closed, lo, hi),
        ChannelState.reserved: (EvtchnStat.closed, lo, hi),
        ChannelState.unbound: (
            EvtchnStat.unbound,
            (lo & ~_LOW16) | channel.remote_domid,
            hi,
        ),
        ChannelState.interdomain: (
            EvtchnStat.interdomain,
            (lo & ~_LOW16) | channel.remote_domid,
            channel.remote_port,
        ),
        ChannelState.virq: (EvtchnStat.virq, channel.virq, hi),
        ChannelState.ipi: (EvtchnStat.ipi, lo, hi),
    }
    status, union0, union1 = fields[channel.state]
    return dataclasses.replace(
        arg, status=status, vcpu=channel.notify_vcpu, union0=union0, union1=union1
    )


class EventChannels:
    """The guest's event channels and the backend domain's end of them."""

    def __init__(
        self,
        guest: GuestAccess,
        vcpu_infos: VcpuInfos,
        *,
        domid: int = 1,
        backend: Backend | None = None,
        backend_domid: int = 0,
        max_evtchn_port: int = DEFAULT_MAX_EVTCHN_PORT,
        privileged: bool = False,
    ) -> None:
        if domid == backend_domid:
            raise ValueError("the guest and the backend domain need different ids")
        self._mem = guest
        self.vcpu_infos = vcpu_infos
        self.two_level = TwoLevel(vcpu_infos)
        self.backend = backend
        self.privileged = privileged
        self.guest = _Domain(
            PortTable(domid, vcpu_infos.nr_vcpus, max_evtchn_port), self._deliver_to_guest
        )
        self.backend_domain = _Domain(
            PortTable(backend_domid, 1, DEFAULT_MAX_EVTCHN_PORT), self._deliver_to_backend
        )

    def hypercalls(self) -> Mapping[Hypercall, Handler]:
        return {
            Hypercall.event_channel_op: SubopTable(
                EvtchnOp,
                {
                    EvtchnOp.bind_interdomain: self._bind_interdomain,
                    EvtchnOp.bind_virq: self._bind_virq,
                    EvtchnOp.bind_pirq: self._bind_pirq,
                    EvtchnOp.close: self._close,
                    EvtchnOp.send: self._send,
                    EvtchnOp.status: self._status,
                    EvtchnOp.alloc_unbound: self._alloc_unbound,
                    EvtchnOp.bind_ipi: self._bind_ipi,
                    EvtchnOp.bind_vcpu: self._bind_vcpu,
                    EvtchnOp.unmask: self._unmask,
                    EvtchnOp.reset: self._reset,
                    EvtchnOp.reset_cont: self._reset_cont,
                    EvtchnOp.init_control: self._init_control,
                    EvtchnOp.expand_array: self._expand_array,
                    EvtchnOp.set_priority: self._set_priority,
                },
            )
        }

    # -- state the machine reads ------------------------------------------------

    @property
    def updates(self) -> int:
        """Bumped on every hypervisor write that changed shared_info or a vcpu_info."""
        return self.vcpu_infos.shared.updates.count

    def upcall_pending(self, vcpu: int) -> bool:
        return self.vcpu_infos.upcall_pending(vcpu)

    def reset(self) -> None:
        self.guest.table.reset()
        self.backend_domain.table.reset()

    def describe(self) -> list[PortInfo]:
        infos = []
        for domain in (self.guest, self.backend_domain):
            for channel in domain.table.in_use():
                infos.append(self._info(domain, channel))
        return infos

    def _info(self, domain: _Domain, channel: Channel) -> PortInfo:
        state = channel.state
        is_guest = domain is self.guest
        bound = state in (ChannelState.unbound, ChannelState.interdomain)
        return PortInfo(
            domid=domain.domid,
            port=channel.port,
            state=state,
            remote_dom=channel.remote_domid if bound else None,
            remote_port=channel.remote_port if state is ChannelState.interdomain else None,
            virq=channel.virq if state is ChannelState.virq else None,
            vcpu=channel.notify_vcpu,
            pending=is_guest and self.two_level.is_pending(channel.port),
            masked=is_guest and self.two_level.is_masked(channel.port),
            sends=channel.sends,
            deliveries=channel.deliveries,
            dropped=channel.dropped,
        )

    # -- what the toolstack, the backend and the machine call --------------------

    def toolstack_alloc_unbound(self, remote_domid: int | None = None) -> int:
        """libxl's ``xc_evtchn_alloc_unbound(guest, remote)`` for the store and
        console channels: a guest port waiting for ``remote`` (default: the backend)."""
        remote = self.backend_domain.domid if remote_domid is None else remote_domid
        port = self._allocate(self.guest)
        channel = self._channel(self.guest, port)
        channel.state = ChannelState.unbound
        channel.remote_domid = remote
        return port

    def backend_bind_interdomain(self, guest_port: int) -> int:
        """The backend binds to a guest port waiting for it; returns its own port.

        As in Xen, the binder's new port is marked pending once, so the backend
        gets one (spurious) ``on_send``. Raises HypercallError like the hypercall.
        """
        return self._bind_to(self.backend_domain, self.guest, guest_port)

    def backend_alloc_unbound(self) -> int:
        """A backend port waiting for the guest to bind_interdomain to it."""
        port = self._allocate(self.backend_domain)
        channel = self._channel(self.backend_domain, port)
        channel.state = ChannelState.unbound
        channel.remote_domid = self.guest.domid
        return port

    def notify_guest(self, backend_port: int) -> int:
        """The backend sends on its port: 0, or -EINVAL if the port cannot send."""
        try:
            self._send_from(self.backend_domain, backend_port)
        except HypercallError as error:
            return -error.errno
        return 0

    def backend_close(self, backend_port: int) -> None:
        self._close_port(self.backend_domain, backend_port)

    def guest_port_of(self, backend_port: int) -> int | None:
        channel = self.backend_domain.table.get(backend_port)
        if channel is None or channel.state is not ChannelState.interdomain:
            return None
        return channel.remote_port

    def raise_virq(self, virq: int, vcpu: int = 0) -> bool:
        """Xen raising a VIRQ (send_guest_vcpu_virq / send_guest_domain_virq).

        Per-vCPU VIRQs go to ``vcpu``'s binding, others to vCPU0's table and the
        channel's notify vCPU. Returns whether a port was bound.
        """
        per_vcpu = virq_type(virq) is VirqType.VCPU
        table = self.guest.table
        if not 0 <= virq < NR_VIRQS or not table.vcpu_valid(vcpu if per_vcpu else 0):
            return False
        port = table.virq_to_port[vcpu if per_vcpu else 0][virq]
        if port == 0:
            return False
        self._deliver(self.guest, self._channel(self.guest, port))
        return True

    # -- helpers -------------------------------------------------------------

    def _resolve(self, domid: int) -> _Domain:
        """``rcu_lock_domain_by_any_id``."""
        if domid in (DOMID_SELF, self.guest.domid):
            return self.guest
        if domid == self.backend_domain.domid:
            return self.backend_domain
        raise HypercallError(XenErrno.ESRCH, f"no domain {domid:#x}")

    def _domain(self, domid: int) -> _Domain:
        return self.guest if domid == self.guest.domid else self.backend_domain

    def _xsm_target(self, domain: _Domain) -> None:
        if domain is not self.guest and not self.privileged:
            raise HypercallError(
                XenErrno.EPERM,
                f"dom{self.guest.domid} may not act on dom{domain.domid}'s event channels",
            )

    def _allocate(self, domain: _Domain) -> int:
        port = domain.table.allocate()
        if port < 0:
            raise HypercallError(
                XenErrno.ENOSPC, f"dom{domain.domid} has no free port up to {domain.table.max_port}"
            )
        return port

    def _channel(self, domain: _Domain, port: int) -> Channel:
        channel = domain.table.get(port)
        if channel is None:
            raise HypercallError(XenErrno.EINVAL, f"dom{domain.domid} has no port {port}")
        return channel

    def _deliver(self, domain: _Domain, channel: Channel) -> None:
        channel.deliveries += 1
        domain.deliver(channel)

    def _deliver_to_guest(self, channel: Channel) -> None:
        if channel.in_use:
            self.two_level.set_pending(channel.notify_vcpu, channel.port)

    def _deliver_to_backend(self, channel: Channel) -> None:
        if self.backend is not None:
            self.backend.on_send(channel.port)

    def _bind_to(self, local: _Domain, remote: _Domain, remote_port: int) -> int:
        """``evtchn_bind_interdomain`` for ``local`` binding to ``remote_port``."""
        port = self._allocate(local)
        mine = self._channel(local, port)
        theirs = self._channel(remote, remote_port)
        if theirs.state is not ChannelState.unbound or theirs.remote_domid != local.domid:
            raise HypercallError(
                XenErrno.EINVAL,
                f"dom{remote.domid} port {remote_port} is {theirs.state.name}, "
                f"not unbound for dom{local.domid}",
            )
        for channel, peer, peer_port in ((mine, remote, remote_port), (theirs, local, port)):
            channel.state = ChannelState.interdomain
            channel.remote_domid = peer.domid
            channel.remote_port = peer_port
        self._deliver(local, mine)
        return port

    def _free(self, domain: _Domain, channel: Channel) -> None:
        if domain is self.guest and channel.in_use:
            self.two_level.clear_pending(channel.port)
        domain.table.free(channel)

    def _close_port(self, domain: _Domain, port: int) -> None:
        channel = self._channel(domain, port)
        match channel.state:
            case ChannelState.free | ChannelState.reserved:
                raise HypercallError(XenErrno.EINVAL, f"port {port} is not in use")
            case ChannelState.virq:
                per_vcpu = virq_type(channel.virq) is VirqType.VCPU
                vcpu = channel.notify_vcpu if per_vcpu else 0
                domain.table.virq_to_port[vcpu][channel.virq] = 0
            case ChannelState.interdomain:
                peer = self._domain(channel.remote_domid)
                theirs = self._channel(peer, channel.remote_port)
                theirs.state = ChannelState.unbound
                theirs.remote_domid = domain.domid
        self._free(domain, channel)

    def _send_from(self, domain: _Domain, port: int) -> str:
        channel = self._channel(domain, port)
        match channel.state:
            case ChannelState.interdomain:
                channel.sends += 1
                peer = self._domain(channel.remote_domid)
                self._deliver(peer, self._channel(peer, channel.remote_port))
                return ""
            case ChannelState.ipi:
                channel.sends += 1
                self._deliver(domain, channel)
                return ""
            case ChannelState.unbound:
                channel.dropped += 1
                return f"dropped: port {port} is unbound"
            case state:
                raise HypercallError(
                    XenErrno.EINVAL, f"port {port} is {state.name}: nothing to send to"
                )

    # -- hypercall handlers ----------------------------------------------------
    # Each imports its argument struct: the structs module loads with the guest's first
    # event_channel_op instead of at boot (a dozen dataclasses, ~10 ms of start-up).

    def _alloc_unbound(self, call: Call) -> int:
        from .structs import AllocUnbound

        arg = read_struct(self._mem, AllocUnbound, call.args[1])
        domain = self._resolve(arg.dom)
        port = self._allocate(domain)
        self._xsm_target(domain)
        channel = self._channel(domain, port)
        channel.state = ChannelState.unbound
        remote = self.guest.domid if arg.remote_dom == DOMID_SELF else arg.remote_dom
        channel.remote_domid = remote
        write_struct(self._mem, call.args[1], dataclasses.replace(arg, port=port))
        call.note = f"port {port} for dom{remote}"
        return 0

    def _bind_interdomain(self, call: Call) -> int:
        from .structs import BindInterdomain

        arg = read_struct(self._mem, BindInterdomain, call.args[1])
        remote = self._resolve(arg.remote_dom)
        port = self._bind_to(self.guest, remote, arg.remote_port)
        write_struct(self._mem, call.args[1], dataclasses.replace(arg, local_port=port))
        call.note = f"port {port} <-> dom{remote.domid}:{arg.remote_port}"
        return 0

    def _bind_virq(self, call: Call) -> int:
        from .structs import BindVirq

        arg = read_struct(self._mem, BindVirq, call.args[1])
        virq, vcpu, table = arg.virq, arg.vcpu, self.guest.table
        if virq >= NR_VIRQS:
            raise HypercallError(XenErrno.EINVAL, f"VIRQ {virq} >= NR_VIRQS")
        kind = virq_type(virq)
        if kind is not VirqType.VCPU and vcpu != 0:
            raise HypercallError(XenErrno.EINVAL, f"{virq_name(virq)} is bound on vCPU0 only")
        if not table.vcpu_valid(vcpu):
            raise HypercallError(XenErrno.ENOENT, f"no vCPU{vcpu}")
        if kind is VirqType.GLOBAL and not self.privileged:
            raise HypercallError(
                XenErrno.EBUSY, f"global {virq_name(virq)} belongs to the hardware domain"
            )
        if bound := table.virq_to_port[vcpu][virq]:
            raise HypercallError(
                XenErrno.EEXIST, f"{virq_name(virq)} already on port {bound} (vCPU{vcpu})"
            )
        port = self._allocate(self.guest)
        channel = self._channel(self.guest, port)
        channel.state = ChannelState.virq
        channel.notify_vcpu = vcpu
        channel.virq = virq
        table.virq_to_port[vcpu][virq] = port
        write_struct(self._mem, call.args[1], dataclasses.replace(arg, port=port))
        call.note = f"{virq_name(virq)} vCPU{vcpu} -> port {port}"
        return 0

    def _bind_ipi(self, call: Call) -> int:
        from .structs import BindIpi

        arg = read_struct(self._mem, BindIpi, call.args[1])
        if not self.guest.table.vcpu_valid(arg.vcpu):
            raise HypercallError(XenErrno.ENOENT, f"no vCPU{arg.vcpu}")
        port = self._allocate(self.guest)
        channel = self._channel(self.guest, port)
        channel.state = ChannelState.ipi
        channel.notify_vcpu = arg.vcpu
        write_struct(self._mem, call.args[1], dataclasses.replace(arg, port=port))
        call.note = f"IPI vCPU{arg.vcpu} -> port {port}"
        return 0

    def _bind_pirq(self, call: Call) -> int:
        from .structs import BindPirq

        read_struct(self._mem, BindPirq, call.args[1])
        raise HypercallError(XenErrno.EOPNOTSUPP, "no physical IRQs on ARM (CONFIG_HAS_PIRQ=n)")

    def _close(self, call: Call) -> int:
        from .structs import PortArg

        port = read_struct(self._mem, PortArg, call.args[1]).port
        call.note = f"port {port}"
        self._close_port(self.guest, port)
        return 0

    def _send(self, call: Call) -> int:
        from .structs import PortArg

        port = read_struct(self._mem, PortArg, call.args[1]).port
        call.note = self._send_from(self.guest, port) or f"port {port}"
        return 0

    def _status(self, call: Call) -> int:
        from .structs import Status

        arg = read_struct(self._mem, Status, call.args[1])
        domain = self._resolve(arg.dom)
        channel = self._channel(domain, arg.port)
        self._xsm_target(domain)
        write_struct(self._mem, call.args[1], _status_fields(channel, arg))
        call.note = f"port {arg.port}: {channel.state.name}"
        return 0

    def _bind_vcpu(self, call: Call) -> int:
        from .structs import BindVcpu

        arg = read_struct(self._mem, BindVcpu, call.args[1])
        if not self.guest.table.vcpu_valid(arg.vcpu):
            raise HypercallError(XenErrno.ENOENT, f"no vCPU{arg.vcpu}")
        channel = self._channel(self.guest, arg.port)
        match channel.state:
            case ChannelState.virq if virq_type(channel.virq) is VirqType.VCPU:
                raise HypercallError(
                    XenErrno.EINVAL, f"{virq_name(channel.virq)} is fixed to its vCPU"
                )
            case ChannelState.virq | ChannelState.unbound | ChannelState.interdomain:
                channel.notify_vcpu = arg.vcpu
            case state:
                raise HypercallError(XenErrno.EINVAL, f"port {arg.port} is {state.name}")
        return 0

    def _unmask(self, call: Call) -> int:
        from .structs import PortArg

        port = read_struct(self._mem, PortArg, call.args[1]).port
        channel = self._channel(self.guest, port)
        if channel.in_use:
            self.two_level.unmask(channel.notify_vcpu, port)
        return 0

    def _reset(self, call: Call) -> int:
        return self._reset_channels(call, resuming=False)

    def _reset_cont(self, call: Call) -> int:
        return self._reset_channels(call, resuming=True)

    def _reset_channels(self, call: Call, resuming: bool) -> int:
        from .structs import Reset

        domain = self._resolve(read_struct(self._mem, Reset, call.args[1]).dom)
        self._xsm_target(domain)
        if domain is not self.guest:
            raise HypercallError(XenErrno.EINVAL, "only a paused domain's channels can be reset")
        if resuming:
            raise HypercallError(XenErrno.EBUSY, "no reset in progress to continue")
        for channel in list(self.guest.table.in_use()):
            self._close_port(self.guest, channel.port)
        return 0

    def _init_control(self, call: Call) -> int:
        from .structs import InitControl

        read_struct(self._mem, InitControl, call.args[1])
        raise HypercallError(FIFO_REFUSAL, "no FIFO ABI (CONFIG_EVTCHN_FIFO=n): stay on 2-level")

    def _expand_array(self, call: Call) -> int:
        from .structs import ExpandArray

        read_struct(self._mem, ExpandArray, call.args[1])
        raise HypercallError(FIFO_REFUSAL, "no FIFO ABI (CONFIG_EVTCHN_FIFO=n)")

    def _set_priority(self, call: Call) -> int:
        from .structs import SetPriority

        arg = read_struct(self._mem, SetPriority, call.args[1])
        self._channel(self.guest, arg.port)
        raise HypercallError(XenErrno.ENOSYS, "the 2-level ABI has no priorities")
