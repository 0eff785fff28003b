"""The native hypercall path: constant calls answered in C, seen exactly as if Python had."""

from __future__ import annotations

import pytest

from tests.conftest import ARCHES, MachineFactory
from xgdbvm.machine.events import (
    ConsoleOutput,
    ExceptionInjected,
    HypercallBatch,
    HypercallEnter,
    HypercallExit,
    MachineEvent,
)
from xgdbvm.machine.fastcalls import CALL_RING
from xgdbvm.machine.stop import Breakpoint, Shutdown
from xgdbvm.machine.xen.abi import Hypercall, ShutdownReason, XenVer

BUDGET = 50_000_000
CALLS = 3 * CALL_RING + 17  # the ring fills and drains several times


def _calls(events: list[MachineEvent]) -> list[MachineEvent]:
    return [e for e in events if isinstance(e, HypercallEnter | HypercallExit)]


@pytest.mark.parametrize("arch", ARCHES)
def test_native_answers_leave_the_same_events_and_counts_as_python(
    make_machine: MachineFactory, arch: str
) -> None:
    bootargs = f"xgdbvm.test=hcall-loop xgdbvm.n={CALLS}"
    native, native_rec = make_machine(arch, bootargs=bootargs)
    python, python_rec = make_machine(arch, bootargs=bootargs)
    # Any hypercall breakpoint turns the native path off; this one never hits.
    python.hypercall_breaks.add("grant_table_op")

    for machine in (native, python):
        assert machine.run(BUDGET) == Shutdown(ShutdownReason.poweroff, "SCHEDOP_shutdown")

    # A call that finds the ring full goes through Python (which drains it).
    assert native.exceptions.served >= CALLS - CALLS // CALL_RING
    assert python.exceptions.served == 0
    assert _calls(native_rec.events) == _calls(python_rec.events)
    assert len(_calls(native_rec.events)) >= 2 * CALLS
    assert native.hypervisor.dispatcher.stats == python.hypervisor.dispatcher.stats
    assert native.clock.instructions == python.clock.instructions
    assert native.cpu.read_regs(native.cpu.hypercall_abi.args) == python.cpu.read_regs(
        python.cpu.hypercall_abi.args
    )


@pytest.mark.parametrize("arch", ARCHES)
def test_events_stay_in_execution_order_around_native_calls(
    make_machine: MachineFactory, arch: str
) -> None:
    machine, rec = make_machine(arch, bootargs=f"xgdbvm.test=hcall-loop xgdbvm.n={CALLS}")
    machine.run(BUDGET)
    icounts = [e.icount for e in rec.events]
    assert icounts == sorted(icounts)
    # The loop's report is printed after its last call, and the trace says so.
    report = next(
        i
        for i, e in enumerate(rec.events)
        if isinstance(e, ConsoleOutput) and b"hcall-loop:" in e.data
    )
    last_version = max(
        i
        for i, e in enumerate(rec.events)
        if isinstance(e, HypercallExit) and e.name == "xen_version"
    )
    assert last_version < report


def test_a_thumb_hypercall_is_answered_natively(make_machine: MachineFactory) -> None:
    machine, rec = make_machine("arm32")
    thumb = next(s for s in machine.layout.image.symbols if s.name == "thumb_xen_version")
    machine.run(BUDGET)
    start = thumb.address & ~1
    from_thumb = [e for e in rec.of(HypercallExit) if start <= e.pc < start + thumb.size]
    assert [(e.subop, e.ret) for e in from_thumb] == [("version", 0x4_0013)]  # type: ignore[union-attr]
    assert machine.exceptions.served >= 1


@pytest.mark.parametrize("arch", ARCHES)
def test_a_non_xen_immediate_with_xen_registers_still_injects_undef(
    make_machine: MachineFactory, arch: str
) -> None:
    # hvc #0x1 with the registers of xen_version(XENVER_version): the fast path must
    # read the immediate, not trust the registers.
    machine, rec = make_machine(arch, bootargs="xgdbvm.test=hvc-undef")
    machine.run(BUDGET)
    injected = rec.of(ExceptionInjected)
    assert [(e.kind, e.detail) for e in injected] == [("undef", "hvc #0x1")]  # type: ignore[union-attr]


@pytest.mark.parametrize("arch", ARCHES)
def test_a_hypercall_breakpoint_stops_at_a_call_the_fast_path_would_answer(
    make_machine: MachineFactory, arch: str
) -> None:
    machine, _ = make_machine(arch, bootargs="xgdbvm.test=hcall-loop xgdbvm.n=50")
    machine.hypercall_breaks.add("xen_version.version")
    stop = machine.run(BUDGET)
    assert isinstance(stop, Breakpoint)
    hit = machine.hypercall_breaks.last_hit
    assert hit is not None and hit.breakpoint.subop == "version"


def test_the_fast_table_lists_only_constant_answers(make_machine: MachineFactory) -> None:
    machine, _ = make_machine("arm64")
    table = {(c.number, c.cmd): c for c in machine.exceptions.calls}
    assert table[(Hypercall.xen_version, XenVer.version)].ret == 0x4_0013
    assert table[(Hypercall.xen_version, XenVer.pagesize)].ret == 4096
    assert (Hypercall.sched_op, 0) in table  # yield
    # Calls that touch guest memory or state never qualify.
    assert (Hypercall.xen_version, XenVer.get_features) not in table
    assert all(c.number != Hypercall.event_channel_op for c in table.values())


def test_a_batch_expands_into_enter_and_exit_pairs(make_machine: MachineFactory) -> None:
    machine, _ = make_machine("arm64", bootargs="xgdbvm.test=hcall-loop xgdbvm.n=5")
    batches: list[HypercallBatch] = []

    class BatchTaker:
        def machine_event(self, event: MachineEvent) -> None:
            pass

        def hypercall_batch(self, batch: HypercallBatch) -> None:
            batches.append(batch)

    machine.observers.subscribe(BatchTaker())
    machine.run(BUDGET)
    assert sum(len(b) for b in batches) == machine.exceptions.served >= 5
    events = [e for b in batches for e in b.events()]
    assert [type(e) for e in events[:2]] == [HypercallEnter, HypercallExit]
    assert events[0].pc == events[1].pc and events[0].icount == events[1].icount
    assert sum(b.counts()["xen_version"] for b in batches) >= 5
