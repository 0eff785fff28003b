"""event_channel_op against a fake guest: ops, 2-level delivery bits, errors."""

from __future__ import annotations

import struct

import pytest

from tests.xen.world import ARG, DOMID, RAM_BASE, World
from xgdbvm.machine.xen.abi import DOMID_SELF, Hypercall
from xgdbvm.machine.xen.errno import XenErrno
from xgdbvm.machine.xen.evtchn import (
    EVTCHNS_PER_BUCKET,
    ChannelState,
    EvtchnOp,
    EvtchnStat,
    Virq,
    format_ports,
)

BACKEND = 0


def alloc_unbound(w: World, remote: int = BACKEND, dom: int = DOMID_SELF) -> tuple[int, int]:
    _, ret = w.evtchn_op(EvtchnOp.alloc_unbound, struct.pack("<HHI", dom, remote, 0))
    return ret, w.out_u32(4)


def bind_virq(w: World, virq: int, vcpu: int = 0) -> tuple[int, int]:
    _, ret = w.evtchn_op(EvtchnOp.bind_virq, struct.pack("<III", virq, vcpu, 0))
    return ret, w.out_u32(8)


def port_op(w: World, op: EvtchnOp, port: int) -> int:
    return w.evtchn_op(op, struct.pack("<I", port))[1]


def status(w: World, port: int, dom: int = DOMID_SELF, union: bytes = bytes(8)) -> tuple[int, ...]:
    arg = struct.pack("<HHIII", dom, 0, port, 0xEE, 0xEE) + union
    _, ret = w.evtchn_op(EvtchnOp.status, arg)
    return (ret, *struct.unpack("<HHIIIII", w.out(24)))


def test_toolstack_ports_are_1_and_2_and_wait_for_the_backend() -> None:
    w = World()
    assert (w.store_port, w.console_port) == (1, 2)
    ret, _, _, port, stat, vcpu, union0, _ = status(w, 1)
    assert (ret, port, stat, vcpu, union0 & 0xFFFF) == (0, 1, EvtchnStat.unbound, 0, BACKEND)


def test_backend_bind_then_guest_send_reaches_on_send() -> None:
    w = World()
    bport = w.evtchn.backend_bind_interdomain(w.store_port)
    assert w.backend.sends == [bport]  # Xen marks the binder's new port pending once
    assert w.evtchn.guest_port_of(bport) == w.store_port
    assert not w.pending(w.store_port)
    assert port_op(w, EvtchnOp.send, w.store_port) == 0
    assert w.backend.sends == [bport, bport]
    _, _, _, _, stat, _, union0, union1 = status(w, w.store_port)
    assert (stat, union0 & 0xFFFF, union1) == (EvtchnStat.interdomain, BACKEND, bport)


def test_guest_alloc_unbound_then_backend_bind_and_send() -> None:
    w = World()
    ret, port = alloc_unbound(w)
    assert (ret, port) == (0, 3)
    bport = w.evtchn.backend_bind_interdomain(port)
    w.backend.sends.clear()
    assert port_op(w, EvtchnOp.send, port) == 0
    assert w.backend.sends == [bport]


def test_notify_sets_pending_sel_and_upcall_exactly_once() -> None:
    w = World()
    bport = w.evtchn.backend_bind_interdomain(w.store_port)
    updates = w.evtchn.updates
    assert w.evtchn.notify_guest(bport) == 0
    assert w.pending(1) and w.sel() == 1 and w.upcall_pending() == 1
    assert w.upcalls == [0]
    assert w.evtchn.updates == updates + 3
    # Already pending: nothing changes, no second upcall.
    w.evtchn.notify_guest(bport)
    assert w.upcalls == [0] and w.evtchn.updates == updates + 3
    # The guest acks the port but has not taken the selector: pending again, no upcall.
    w.guest_clear_pending(1)
    w.page[0] = 0
    w.evtchn.notify_guest(bport)
    assert w.pending(1) and w.upcall_pending() == 0 and w.upcalls == [0]
    # Selector taken: the next event selects the word again and raises.
    w.guest_clear_pending(1)
    w.page[8:16] = bytes(8)
    w.evtchn.notify_guest(bport)
    assert w.sel() == 1 and w.upcall_pending() == 1 and w.upcalls == [0, 0]
    info = next(i for i in w.evtchn.describe() if i.port == 1 and i.domid == DOMID)
    assert (info.deliveries, info.pending, info.masked) == (4, True, False)


def test_upcall_pending_already_set_is_not_raised_again() -> None:
    w = World()
    bport = w.evtchn.backend_bind_interdomain(w.store_port)
    w.page[0] = 1
    w.evtchn.notify_guest(bport)
    assert w.sel() == 1 and w.upcalls == []


def test_masked_port_is_pending_silently_until_unmask_reraises() -> None:
    w = World()
    bport = w.evtchn.backend_bind_interdomain(w.console_port)
    w.guest_mask(2)
    w.evtchn.notify_guest(bport)
    assert w.pending(2) and w.sel() == 0 and w.upcall_pending() == 0 and w.upcalls == []
    assert port_op(w, EvtchnOp.unmask, 2) == 0
    assert not w.masked(2) and w.sel() == 1 and w.upcall_pending() == 1 and w.upcalls == [0]
    # Unmasking a port that is not masked, or not pending, raises nothing.
    assert port_op(w, EvtchnOp.unmask, 2) == 0
    w.guest_mask(1)
    assert port_op(w, EvtchnOp.unmask, 1) == 0
    assert w.upcalls == [0]


def test_port_in_the_second_word_selects_bit_1() -> None:
    w = World()
    ports = [alloc_unbound(w)[1] for _ in range(70)]
    bport = w.evtchn.backend_bind_interdomain(ports[-1])
    w.evtchn.notify_guest(bport)
    assert ports[-1] == 72 and w.sel() == 1 << 1 and w.pending(72)


def test_bind_virq_and_raise() -> None:
    w = World()
    assert not w.evtchn.raise_virq(Virq.TIMER)
    ret, port = bind_virq(w, Virq.TIMER)
    assert (ret, port) == (0, 3)
    assert w.evtchn.raise_virq(Virq.TIMER)
    assert w.pending(3) and w.upcalls == [0]
    _, _, _, _, stat, vcpu, union0, _ = status(w, port)
    assert (stat, vcpu, union0) == (EvtchnStat.virq, 0, Virq.TIMER)
    # Per-vCPU: vCPU1's timer is a separate binding.
    ret, port1 = bind_virq(w, Virq.TIMER, vcpu=1)
    assert (ret, port1) == (0, 4)
    assert w.evtchn.raise_virq(Virq.TIMER, vcpu=1)
    assert w.upcalls == [0, 1] and w.page[0] == 1  # vCPU1 is still on Xen's dummy


@pytest.mark.parametrize(
    ("virq", "vcpu", "errno"),
    [
        (Virq.TIMER, 0, XenErrno.EEXIST),
        (Virq.CONSOLE, 0, XenErrno.EBUSY),  # global: the hardware domain's
        (Virq.CONSOLE, 1, XenErrno.EINVAL),  # not per-vCPU: vCPU0 only
        (Virq.DEBUG, 5, XenErrno.ENOENT),
        (24, 0, XenErrno.EINVAL),
        (0xFFFF_FFFF, 0, XenErrno.EINVAL),
    ],
)
def test_bind_virq_errors(virq: int, vcpu: int, errno: XenErrno) -> None:
    w = World()
    bind_virq(w, Virq.TIMER)
    call, ret = w.evtchn_op(EvtchnOp.bind_virq, struct.pack("<III", virq, vcpu, 0))
    assert ret == -errno
    assert call.subop == "bind_virq" and call.note


def test_privileged_guest_may_bind_global_virqs() -> None:
    w = World(privileged=True)
    assert bind_virq(w, Virq.CONSOLE)[0] == 0


def test_bind_ipi_and_send_notify_the_bound_vcpu() -> None:
    w = World()
    _, ret = w.evtchn_op(EvtchnOp.bind_ipi, struct.pack("<II", 0, 0))
    port = w.out_u32(4)
    assert (ret, port) == (0, 3)
    assert port_op(w, EvtchnOp.send, port) == 0
    assert w.pending(port) and w.upcalls == [0]
    _, _, _, _, stat, vcpu, _, _ = status(w, port)
    assert (stat, vcpu) == (EvtchnStat.ipi, 0)
    assert w.evtchn_op(EvtchnOp.bind_ipi, struct.pack("<II", 2, 0))[1] == -XenErrno.ENOENT


def test_close_frees_and_leaves_the_peer_unbound() -> None:
    w = World()
    bport = w.evtchn.backend_bind_interdomain(w.store_port)
    w.evtchn.notify_guest(bport)
    assert w.pending(1)
    assert port_op(w, EvtchnOp.close, 1) == 0
    assert not w.pending(1)  # evtchn_free clears the pending bit
    assert status(w, 1)[4] == EvtchnStat.closed
    assert port_op(w, EvtchnOp.close, 1) == -XenErrno.EINVAL
    backend_port = next(i for i in w.evtchn.describe() if i.domid == BACKEND)
    assert (backend_port.state, backend_port.remote_dom) == (ChannelState.unbound, DOMID)
    # The backend sending on its now-unbound port is dropped, not an error.
    assert w.evtchn.notify_guest(bport) == 0
    # The freed port is handed out again.
    assert alloc_unbound(w)[1] == 1


def test_close_virq_allows_rebinding() -> None:
    w = World()
    _, port = bind_virq(w, Virq.TIMER)
    assert port_op(w, EvtchnOp.close, port) == 0
    assert bind_virq(w, Virq.TIMER) == (0, port)


def test_status_reports_each_state_and_keeps_untouched_union_bytes() -> None:
    w = World()
    bport = w.evtchn.backend_bind_interdomain(w.store_port)
    _, virq_port = bind_virq(w, Virq.DEBUG)
    w.evtchn_op(EvtchnOp.bind_ipi, struct.pack("<II", 1, 0))
    ipi_port = w.out_u32(4)
    junk = bytes.fromhex("1122334455667788")
    rows = {
        0: status(w, 0, union=junk),
        1: status(w, 1, union=junk),
        2: status(w, 2, union=junk),
        virq_port: status(w, virq_port, union=junk),
        ipi_port: status(w, ipi_port, union=junk),
        10: status(w, 10, union=junk),
    }
    u0, u1 = struct.unpack("<II", junk)
    assert rows[0][4:] == (EvtchnStat.closed, 0, u0, u1)  # port 0: reserved
    assert rows[1][4:] == (EvtchnStat.interdomain, 0, u0 & 0xFFFF0000 | BACKEND, bport)
    assert rows[2][4:] == (EvtchnStat.unbound, 0, u0 & 0xFFFF0000 | BACKEND, u1)
    assert rows[virq_port][4:] == (EvtchnStat.virq, 0, Virq.DEBUG, u1)
    assert rows[ipi_port][4:] == (EvtchnStat.ipi, 1, u0, u1)
    assert rows[10][4:] == (EvtchnStat.closed, 0, u0, u1)
    assert all(row[0] == 0 for row in rows.values())


@pytest.mark.parametrize(
    ("dom", "port", "errno"),
    [(7, 1, XenErrno.ESRCH), (BACKEND, 1, XenErrno.EPERM), (DOMID, EVTCHNS_PER_BUCKET, None)],
)
def test_status_errors(dom: int, port: int, errno: XenErrno | None) -> None:
    w = World()
    w.evtchn.backend_bind_interdomain(w.store_port)
    ret = status(w, port, dom=dom)[0]
    assert ret == (-errno if errno else -XenErrno.EINVAL)


def test_ports_beyond_the_last_bucket_are_invalid() -> None:
    w = World()
    for op in (EvtchnOp.close, EvtchnOp.send, EvtchnOp.unmask):
        assert port_op(w, op, EVTCHNS_PER_BUCKET) == -XenErrno.EINVAL
        assert port_op(w, op, 1 << 31) == -XenErrno.EINVAL
    assert status(w, EVTCHNS_PER_BUCKET - 1)[4] == EvtchnStat.closed
    ports = [alloc_unbound(w)[1] for _ in range(EVTCHNS_PER_BUCKET - 2)]
    assert ports[-1] == EVTCHNS_PER_BUCKET
    assert status(w, 2 * EVTCHNS_PER_BUCKET - 1)[4] == EvtchnStat.closed


def test_send_errors_and_drops() -> None:
    w = World()
    assert port_op(w, EvtchnOp.send, 0) == -XenErrno.EINVAL  # reserved
    assert port_op(w, EvtchnOp.send, 5) == -XenErrno.EINVAL  # free
    call, ret = w.evtchn_op(EvtchnOp.send, struct.pack("<I", 1))  # unbound: dropped
    assert ret == 0 and "dropped" in call.note
    assert w.backend.sends == []
    info = next(i for i in w.evtchn.describe() if i.port == 1)
    assert (info.sends, info.dropped) == (0, 1)


def test_alloc_unbound_errors() -> None:
    w = World()
    assert alloc_unbound(w, dom=7)[0] == -XenErrno.ESRCH
    assert alloc_unbound(w, dom=BACKEND)[0] == -XenErrno.EPERM
    assert alloc_unbound(w, dom=DOMID)[0] == 0  # its own id works like DOMID_SELF
    small = World(max_evtchn_port=3)
    assert alloc_unbound(small) == (0, 3)
    call, ret = small.evtchn_op(EvtchnOp.alloc_unbound, struct.pack("<HHI", DOMID_SELF, 0, 0))
    assert ret == -XenErrno.ENOSPC and call.note


def test_bind_interdomain_to_a_backend_port() -> None:
    w = World()
    bport = w.evtchn.backend_alloc_unbound()
    arg = struct.pack("<HHII", BACKEND, 0, bport, 0)
    _, ret = w.evtchn_op(EvtchnOp.bind_interdomain, arg)
    assert ret == 0
    local = w.out_u32(8)
    assert local == 3 and w.pending(local) and w.upcalls == [0]  # always pending once
    assert w.evtchn.guest_port_of(bport) == local
    # Now bound, not unbound: a second bind fails; so do unknown ports and domains.
    assert w.evtchn_op(EvtchnOp.bind_interdomain, arg)[1] == -XenErrno.EINVAL
    missing = struct.pack("<HHII", BACKEND, 0, 999, 0)
    assert w.evtchn_op(EvtchnOp.bind_interdomain, missing)[1] == -XenErrno.EINVAL
    nobody = struct.pack("<HHII", 9, 0, 1, 0)
    assert w.evtchn_op(EvtchnOp.bind_interdomain, nobody)[1] == -XenErrno.ESRCH


def test_loopback_interdomain() -> None:
    w = World()
    _, a = alloc_unbound(w, remote=DOMID_SELF)
    _, ret = w.evtchn_op(EvtchnOp.bind_interdomain, struct.pack("<HHII", DOMID_SELF, 0, a, 0))
    b = w.out_u32(8)
    assert ret == 0 and w.pending(b)
    w.guest_clear_pending(b)
    assert port_op(w, EvtchnOp.send, b) == 0 and w.pending(a)
    assert port_op(w, EvtchnOp.send, a) == 0 and w.pending(b)
    assert port_op(w, EvtchnOp.close, a) == 0
    assert status(w, b)[4:7] == (EvtchnStat.unbound, 0, DOMID)


def test_bind_vcpu_moves_delivery() -> None:
    w = World()
    bport = w.evtchn.backend_bind_interdomain(w.store_port)
    w.evtchn_op(EvtchnOp.bind_vcpu, struct.pack("<II", 1, 1))
    assert status(w, 1)[5] == 1
    w.evtchn.notify_guest(bport)
    assert w.pending(1) and w.upcalls == [1] and w.sel() == 0  # vCPU1's (dummy) vcpu_info
    _, timer = bind_virq(w, Virq.TIMER)
    bind_vcpu = EvtchnOp.bind_vcpu
    assert w.evtchn_op(bind_vcpu, struct.pack("<II", timer, 1))[1] == -XenErrno.EINVAL
    assert w.evtchn_op(bind_vcpu, struct.pack("<II", 1, 2))[1] == -XenErrno.ENOENT
    assert w.evtchn_op(bind_vcpu, struct.pack("<II", 0, 1))[1] == -XenErrno.EINVAL
    assert w.evtchn_op(bind_vcpu, struct.pack("<II", 99, 1))[1] == -XenErrno.EINVAL


@pytest.mark.parametrize(
    ("op", "arg", "errno"),
    [
        (EvtchnOp.init_control, bytes(24), XenErrno.EOPNOTSUPP),
        (EvtchnOp.expand_array, bytes(8), XenErrno.EOPNOTSUPP),
        (EvtchnOp.set_priority, struct.pack("<II", 1, 7), XenErrno.ENOSYS),
        (EvtchnOp.set_priority, struct.pack("<II", 99, 7), XenErrno.EINVAL),
        (EvtchnOp.bind_pirq, bytes(12), XenErrno.EOPNOTSUPP),
        (EvtchnOp.reset_cont, struct.pack("<H", DOMID_SELF), XenErrno.EBUSY),
        (EvtchnOp.reset, struct.pack("<H", BACKEND), XenErrno.EPERM),
        (EvtchnOp.reset, struct.pack("<H", 9), XenErrno.ESRCH),
    ],
)
def test_refused_ops(op: EvtchnOp, arg: bytes, errno: XenErrno) -> None:
    w = World()
    call, ret = w.evtchn_op(op, arg)
    assert ret == -errno and call.note and call.note != "not implemented"


def test_unknown_op_and_bad_pointer() -> None:
    w = World()
    call, ret = w.call(Hypercall.event_channel_op, 99, ARG)
    assert ret == -XenErrno.ENOSYS and call.note == "not implemented"
    call, ret = w.call(Hypercall.event_channel_op, EvtchnOp.send, 0xDEAD_0000)
    assert ret == -XenErrno.EFAULT and call.subop == "send"
    call, ret = w.call(Hypercall.event_channel_op, EvtchnOp.alloc_unbound, RAM_BASE - 4)
    assert ret == -XenErrno.EFAULT


def test_reset_closes_everything() -> None:
    w = World()
    w.evtchn.backend_bind_interdomain(w.store_port)
    bind_virq(w, Virq.TIMER)
    assert w.evtchn_op(EvtchnOp.reset, struct.pack("<H", DOMID_SELF))[1] == 0
    guest_ports = [i for i in w.evtchn.describe() if i.domid == DOMID]
    assert guest_ports == []
    assert bind_virq(w, Virq.TIMER) == (0, 1)


def test_describe_and_format() -> None:
    w = World()
    bport = w.evtchn.backend_bind_interdomain(w.store_port)
    bind_virq(w, Virq.TIMER)
    w.evtchn.notify_guest(bport)
    w.guest_mask(3)
    port_op(w, EvtchnOp.send, 1)
    infos = w.evtchn.describe()
    assert [(i.domid, i.port, i.state) for i in infos] == [
        (DOMID, 1, ChannelState.interdomain),
        (DOMID, 2, ChannelState.unbound),
        (DOMID, 3, ChannelState.virq),
        (BACKEND, 1, ChannelState.interdomain),
    ]
    store, console, timer, back = infos
    assert (store.peer, store.sends, store.deliveries, store.pending) == ("dom0:1", 1, 1, True)
    assert (console.peer, timer.peer, timer.masked) == ("for dom0", "VIRQ_TIMER", True)
    assert (back.sends, back.deliveries, back.peer) == (1, 2, f"dom{DOMID}:1")
    lines = format_ports(infos)
    assert len(lines) == 5 and "VIRQ_TIMER" in lines[3]
