"""Timer ticks, event channels and determinism, on the real firmware."""

from __future__ import annotations

import itertools
import re
import time

import pytest

from tests.conftest import ARCHES, MachineFactory
from xgdbvm.machine.events import ExceptionInjected, HypercallExit
from xgdbvm.machine.stop import Shutdown
from xgdbvm.machine.xen.abi import ShutdownReason

POWEROFF = Shutdown(ShutdownReason.poweroff, "SCHEDOP_shutdown")
BUDGET = 400_000_000


@pytest.mark.parametrize("arch", ARCHES)
def test_timer_ticks_arrive_with_the_right_period(make_machine: MachineFactory, arch: str) -> None:
    machine, rec = make_machine(arch, bootargs="xgdbvm.test=timer xgdbvm.n=10")
    assert machine.run(BUDGET) == POWEROFF
    console = rec.console()
    counts = [int(c) for c in re.findall(r"tick \d+ at count (\d+)", console)]
    assert len(counts) == 10
    period = 62_500  # 1 ms at CNTFRQ 62.5 MHz
    gaps = [b - a for a, b in itertools.pairwise(counts)]
    # Each tick is taken within a few microseconds of virtual time after its deadline.
    assert all(period <= gap < period + 200 for gap in gaps), gaps
    irqs = [e for e in rec.of(ExceptionInjected) if e.kind == "irq"]  # type: ignore[union-attr]
    assert len(irqs) == 10


def test_wfi_skips_virtual_time_instead_of_burning_the_host(make_machine: MachineFactory) -> None:
    # 200 ticks of 1 ms: 0.2 s of guest time, almost all of it idle in WFI.
    machine, _ = make_machine("arm64", bootargs="xgdbvm.test=timer xgdbvm.n=200")
    started = time.process_time()
    assert machine.run(BUDGET) == POWEROFF
    cpu = time.process_time() - started
    assert machine.time.now_ns() >= 200_000_000
    assert machine.time.idle_ns > 0.9 * machine.time.now_ns()  # the guest mostly slept
    assert cpu < 5.0  # generous bound; the point is it does not spin for 0.2 s per tick


@pytest.mark.parametrize("arch", ARCHES)
def test_events_scenario_upcall_sequence(make_machine: MachineFactory, arch: str) -> None:
    machine, rec = make_machine(arch, bootargs="xgdbvm.test=events")
    assert machine.run(BUDGET) == POWEROFF
    events = re.findall(r"^event: port (\d+)$", rec.console(), re.MULTILINE)
    # VIRQ_DEBUG first (raised with the first echo), three echoes, then the loopback pair.
    assert events == ["3", "4", "4", "4", "6", "6", "5"], events
    assert "events: 7 events in 6 upcalls, ports closed" in rec.console()
    ops = [e.subop for e in rec.of(HypercallExit) if e.name == "event_channel_op"]  # type: ignore[union-attr]
    assert ops[:3] == ["bind_virq", "alloc_unbound", "send"]
    assert ops.count("close") == 4


@pytest.mark.parametrize("arch", ARCHES)
def test_evtchn_stress_loses_no_event(make_machine: MachineFactory, arch: str) -> None:
    machine, rec = make_machine(arch, bootargs="xgdbvm.test=evtchn-stress xgdbvm.n=100000")
    assert machine.run(2_000_000_000) == POWEROFF
    assert "evtchn-stress: received 100000 of 100000 events" in rec.console()
    assert machine.stress is not None and machine.stress.sent == 100_000


def _trace(machine_and_rec: tuple[object, object]) -> list[tuple[object, ...]]:
    machine, rec = machine_and_rec
    machine.run(BUDGET)  # type: ignore[attr-defined]
    return [
        (
            type(e).__name__,
            e.pc,
            e.icount,
            getattr(e, "name", ""),
            getattr(e, "ret", None),
            getattr(e, "kind", ""),
        )
        for e in rec.events  # type: ignore[attr-defined]
    ]


@pytest.mark.parametrize("scenario", ["timer", "events"])
def test_two_runs_give_identical_traces(make_machine: MachineFactory, scenario: str) -> None:
    first = _trace(make_machine("arm64", bootargs=f"xgdbvm.test={scenario}"))
    second = _trace(make_machine("arm64", bootargs=f"xgdbvm.test={scenario}"))
    assert len(first) > 20
    assert first == second


@pytest.mark.parametrize("arch", ARCHES)
def test_fast_mode_runs_without_the_instruction_clock(
    make_machine: MachineFactory, arch: str
) -> None:
    machine, rec = make_machine(arch, bootargs="xgdbvm.test=hotloop xgdbvm.n=1000000", fast=True)
    assert machine.run() == POWEROFF
    assert machine.clock.instructions == 0  # nothing counted: that is the point of --fast
    assert "hotloop: 1000000 iterations" in rec.console()


def test_arm32_timer_scan_hooks_every_timer_access_in_the_image(
    make_machine: MachineFactory,
) -> None:
    """The prefiltered scan hooks exactly what decoding every word would."""
    from xgdbvm.machine.cpu.arm32 import _timer_access

    machine, _ = make_machine("arm32")
    expected = {
        segment.address + offset
        for segment in machine.layout.image.segments
        for offset in range(0, len(segment.data) - 3, 4)
        if _timer_access(int.from_bytes(segment.data[offset : offset + 4], "little"))
    }
    assert expected  # the firmware reads and programs the timer
    assert set(machine.cpu._timer_hooks) == expected  # type: ignore[attr-defined]
    # MRC p15, 0, r0, c14, c3, 1 (CNTV_CTL) once aligned, once straddling two words.
    mrc = (0xEE1E0F33).to_bytes(4, "little")
    code = bytes(4) + mrc + bytes(2) + mrc + bytes(2)
    assert machine.cpu.scan_code(0x5000_0000, code) == 1
    assert 0x5000_0004 in machine.cpu._timer_hooks  # type: ignore[attr-defined]
