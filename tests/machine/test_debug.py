"""Breakpoints, watchpoints and single steps on the real firmware."""

from __future__ import annotations

import pytest

from tests.conftest import ARCHES, MachineFactory
from xgdbvm.machine.debug import WatchKind, WatchRange
from xgdbvm.machine.stop import Breakpoint, Shutdown, SingleStep, Watchpoint
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
