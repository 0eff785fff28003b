"""Breakpoints, watchpoints and single steps on the real firmware."""

from __future__ import annotations

import pytest

from tests.conftest import ARCHES, MachineFactory
from xgdbvm.machine.debug import WatchKind, WatchRange
from xgdbvm.machine.machine import COUNTED_RUN_MAX, Machine
from xgdbvm.machine.stop import Breakpoint, BudgetExhausted, Shutdown, SingleStep, Watchpoint
from xgdbvm.machine.xen.abi import ShutdownReason

BUDGET = 50_000_000


def symbol(machine, name: str) -> int:  # type: ignore[no-untyped-def]
    return next(s.address for s in machine.layout.image.symbols if s.name == name) & ~1


@pytest.mark.parametrize("arch", ARCHES)
def test_breakpoint_in_a_loop_hits_every_iteration(make_machine: MachineFactory, arch: str) -> None:
    machine, _ = make_machine(arch, bootargs="xgdbvm.test=loop xgdbvm.n=5")
    body = symbol(machine, "loop_body")
    machine.debug.add_breakpoint(body)
    hits = 0
    while isinstance(stop := machine.run(BUDGET), Breakpoint):
        assert stop.address == body == machine.cpu.pc
        hits += 1
    assert hits == 5
    assert stop == Shutdown(ShutdownReason.poweroff, "SCHEDOP_shutdown")


@pytest.mark.parametrize("arch", ARCHES)
def test_removed_breakpoint_no_longer_stops(make_machine: MachineFactory, arch: str) -> None:
    machine, _ = make_machine(arch, bootargs="xgdbvm.test=loop xgdbvm.n=5")
    body = symbol(machine, "loop_body")
    machine.debug.add_breakpoint(body)
    assert isinstance(machine.run(BUDGET), Breakpoint)
    assert machine.debug.remove_breakpoint(body)
    assert isinstance(machine.run(BUDGET), Shutdown)


@pytest.mark.parametrize("arch", ARCHES)
def test_write_watchpoint_on_boot_stage(make_machine: MachineFactory, arch: str) -> None:
    machine, _ = make_machine(arch)
    stage = symbol(machine, "boot_stage")
    machine.debug.add_watchpoint(WatchRange(stage, 4, WatchKind.WRITE))
    values = []
    while isinstance(stop := machine.run(BUDGET), Watchpoint):
        assert stop.address == stage and stop.kind == "watch"
        values.append(machine.memory.read_u32(stage))
    # The first write is the entry code zeroing .bss; then one per milestone.
    assert values == [0, 1, 2, 3, 4, 5, 6, 7]
    assert isinstance(stop, Shutdown)


@pytest.mark.parametrize("arch", ARCHES)
def test_single_steps_follow_the_code(make_machine: MachineFactory, arch: str) -> None:
    machine, _ = make_machine(arch)
    entry = machine.cpu.pc
    pcs = [entry]
    for _ in range(50):
        assert machine.step() == SingleStep()
        pcs.append(machine.cpu.pc)
    assert len(set(pcs)) > 10
    assert isinstance(machine.run(BUDGET), Shutdown)


@pytest.mark.parametrize("arch", ARCHES)
def test_a_step_from_a_breakpoint_moves_one_instruction(
    make_machine: MachineFactory, arch: str
) -> None:
    machine, _ = make_machine(arch)
    main = symbol(machine, "guest_main")
    machine.debug.add_breakpoint(main)
    assert machine.run(BUDGET) == Breakpoint(main)
    assert machine.step() == SingleStep()
    assert machine.cpu.pc - main in (2, 4)  # one instruction, ARM or Thumb
    assert main in machine.debug.breakpoints  # put back after the step


@pytest.mark.parametrize("arch", ARCHES)
def test_steps_after_a_long_run_take_one_instruction_each(
    make_machine: MachineFactory, arch: str
) -> None:
    # Code translated during an uncounted run has no call to Unicorn's count hook: a
    # step from there once ran on to the end of the block (five instructions, say).
    reference, _ = make_machine(arch)
    successors: dict[int, set[int]] = {}
    for _ in range(25_000):
        pc = reference.cpu.pc
        assert reference.step() == SingleStep()
        successors.setdefault(pc, set()).add(reference.cpu.pc)
    machine, _ = make_machine(arch)
    assert isinstance(machine.run(20_000), BudgetExhausted)  # long: not counted
    for _ in range(3):
        pc = machine.cpu.pc
        assert machine.step() == SingleStep()
        assert machine.cpu.pc in successors[pc]


def _loop_with_breakpoint(make_machine: MachineFactory, arch: str) -> tuple[Machine, int]:
    """The five-iteration loop scenario with a breakpoint on the loop's body."""
    machine, _ = make_machine(arch, bootargs="xgdbvm.test=loop xgdbvm.n=5")
    body = symbol(machine, "loop_body")
    machine.debug.add_breakpoint(body)
    return machine, body


@pytest.mark.parametrize("arch", ARCHES)
def test_a_breakpoint_removed_and_inserted_at_each_stop_keeps_hitting(
    make_machine: MachineFactory, arch: str
) -> None:
    """gdb's own rhythm: remove every breakpoint at a stop, step, insert them, continue."""
    machine, body = _loop_with_breakpoint(make_machine, arch)
    hits = 0
    while isinstance(stop := machine.run(COUNTED_RUN_MAX), Breakpoint | BudgetExhausted):
        if isinstance(stop, Breakpoint):
            hits += 1
            assert machine.debug.remove_breakpoint(body)
            assert machine.step() == SingleStep()
            machine.debug.add_breakpoint(body)
        assert hits <= 5
    assert hits == 5
    assert isinstance(stop, Shutdown)


@pytest.mark.parametrize("arch", ARCHES)
def test_a_removed_breakpoint_stays_quiet_in_short_runs(
    make_machine: MachineFactory, arch: str
) -> None:
    # Its hook is only parked (inert) until the next long run.
    machine, body = _loop_with_breakpoint(make_machine, arch)
    assert machine.run(BUDGET) == Breakpoint(body)
    assert machine.debug.remove_breakpoint(body)
    for _ in range(10_000):
        stop = machine.run(COUNTED_RUN_MAX)
        if not isinstance(stop, BudgetExhausted):
            break
    assert isinstance(stop, Shutdown)
