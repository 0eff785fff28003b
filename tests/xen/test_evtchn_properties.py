"""No event is lost: any interleaving of backend sends with a Linux-style guest
consumer (upcall handler in small steps, mask/unmask) ends with the guest
having consumed every port after its last send."""

from __future__ import annotations

import struct
from collections.abc import Iterator

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.xen.world import World
from xgdbvm.machine.xen.evtchn import EvtchnOp

WATCHED = (1, 2, 3, 63, 64, 65, 72)


class LinuxGuest:
    """vCPU0 of a 2-level guest as Linux runs it (events_2l.c), one small step at a time.

    ``raise_upcall`` latches the PPI (edge); a step either advances the running
    upcall handler or, with the PPI latched and no handler running, acks the
    PPI and starts one. The handler clears ``evtchn_upcall_pending``, swaps the
    selector out, reads each selected word (pending & ~mask) and acks ports one
    by one (clearing the pending bit: that is the consumption), and loops while
    ``evtchn_upcall_pending`` got set again.
    """

    def __init__(self, world: World) -> None:
        self.w = world
        self.page = world.page
        self.ppi = False
        self.handler: Iterator[None] | None = None
        self.consumed: dict[int, int] = {}
        self.clock = 0

    def raise_upcall(self, vcpu: int) -> None:
        assert vcpu == 0
        self.ppi = True

    def _word(self, offset: int, index: int) -> int:
        value: int = struct.unpack_from("<Q", self.page, offset + 8 * index)[0]
        return value

    def _upcall(self) -> Iterator[None]:
        while True:
            self.page[0] = 0
            yield
            sel = struct.unpack_from("<Q", self.page, 8)[0]
            struct.pack_into("<Q", self.page, 8, 0)  # xchg: one atomic step
            yield
            for word in range(64):
                if not sel >> word & 1:
                    continue
                active = self._word(48, word) & ~self._word(560, word)
                yield
                for bit in range(64):
                    if active >> bit & 1:
                        port = word * 64 + bit
                        self.w.guest_clear_pending(port)
                        self.consumed[port] = self.clock
                        yield
            if not self.page[0]:
                return
            yield

    def step(self) -> None:
        if self.handler is None and self.ppi:
            self.ppi = False
            self.handler = self._upcall()
        if self.handler is not None and next(self.handler, "done") == "done":
            self.handler = None

    def idle(self) -> bool:
        return self.handler is None and not self.ppi

    def unmask_like_linux(self, port: int) -> None:
        """evtchn_2l_unmask on the local CPU of an HVM guest, as one atomic step."""
        if self.w.pending(port):
            self.w.evtchn_op(EvtchnOp.unmask, struct.pack("<I", port))
        else:
            self.page[560 + port // 8] &= ~(1 << port % 8) & 0xFF


actions = st.lists(
    st.one_of(
        st.tuples(st.just("send"), st.sampled_from(WATCHED)),
        st.tuples(st.just("step"), st.just(0)),
        st.tuples(st.just("mask"), st.sampled_from(WATCHED)),
        st.tuples(st.just("unmask_hypercall"), st.sampled_from(WATCHED)),
        st.tuples(st.just("unmask_linux"), st.sampled_from(WATCHED)),
    ),
    max_size=200,
)


@settings(max_examples=300, deadline=None)
@given(actions)
def test_no_event_is_lost(script: list[tuple[str, int]]) -> None:
    ppi: list[LinuxGuest] = []
    w = World(raise_upcall=lambda vcpu: ppi[0].raise_upcall(vcpu))
    guest = LinuxGuest(w)
    ppi.append(guest)
    backend_port = {}
    for port in [w.store_port, w.console_port] + [
        w.evtchn.toolstack_alloc_unbound() for _ in range(70)
    ]:
        backend_port[port] = w.evtchn.backend_bind_interdomain(port)
    assert set(WATCHED) <= set(backend_port)
    sent: dict[int, int] = {}

    for clock, (action, port) in enumerate(script, start=1):
        guest.clock = clock
        match action:
            case "send":
                assert w.evtchn.notify_guest(backend_port[port]) == 0
                sent[port] = clock
            case "step":
                guest.step()
            case "mask":
                w.guest_mask(port)
            case "unmask_hypercall":
                w.evtchn_op(EvtchnOp.unmask, struct.pack("<I", port))
            case "unmask_linux":
                guest.unmask_like_linux(port)

    # Drain: unmask everything, then let the guest run until the PPI stays quiet.
    guest.clock = len(script) + 1
    for port in WATCHED:
        guest.unmask_like_linux(port)
    for _ in range(10_000):
        if guest.idle():
            break
        guest.step()
    assert guest.idle()

    for port, when in sent.items():
        assert guest.consumed.get(port, -1) >= when, f"event on port {port} lost"
        assert not w.pending(port)
    assert w.upcall_pending() == 0
