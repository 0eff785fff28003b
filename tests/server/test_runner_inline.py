"""The runner's inline part: steps and the start of a continue run in the Trio thread,
and what does not finish there goes on in a worker thread with the same outcome."""

from __future__ import annotations

import time

import pytest
import trio

from tests.conftest import dts, firmware
from xgdbvm.adapters.resume import Resume, ResumeMode
from xgdbvm.machine.board import MachineConfig
from xgdbvm.machine.machine import Machine
from xgdbvm.machine.stop import Breakpoint, HostInterrupt, Idle, StopReason
from xgdbvm.server import runner as runner_module
from xgdbvm.server.runner import MachineRunner

TIMEOUT = 10
CONTINUE = Resume(ResumeMode.CONTINUE)
COUNT = 1000


def hotloop_machine() -> tuple[Machine, int]:
    """arm64, pc at hotloop_countdown (cbz x0; subs x0, x0, #1; b.ne; ret), x0 = COUNT."""
    machine = Machine(MachineConfig(arch="arm64", image=firmware("arm64"), dts=dts("arm64")))
    func = next(s.address for s in machine.layout.image.symbols if s.name == "hotloop_countdown")
    registers = machine.cpu.register_table()
    registers["pc"].write(func)
    registers["x0"].write(COUNT)
    return machine, func


async def resume(runner: MachineRunner, how: Resume) -> StopReason:
    """What the GDB session does: inline first, the rest in the worker thread."""
    return runner.run_inline(how) or await runner.run(how)


async def test_a_continue_to_a_nearby_breakpoint_finishes_inline() -> None:
    machine, func = hotloop_machine()
    machine.debug.add_breakpoint(func + 8)
    runner = MachineRunner(machine)
    assert runner.run_inline(CONTINUE) == Breakpoint(func + 8)
    assert runner.last_stop == Breakpoint(func + 8)
    assert machine.cpu.register_table()["x0"].read() == COUNT - 1


@pytest.mark.parametrize("budget", [1, 2, 3, 4, 5])
@pytest.mark.parametrize(("offset", "x0_there"), [(4, COUNT), (8, COUNT - 1)])
async def test_a_breakpoint_where_the_inline_budget_ends_is_not_stepped_over(
    budget: int, offset: int, x0_there: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The budget ends runs at block starts; a breakpoint on the subs (a block start)
    # can be where one ends, before its hook ran: the thread must not take it for
    # one it resumes from and step over it.
    monkeypatch.setattr(runner_module, "INLINE_CONTINUE_INSTRUCTIONS", budget)
    machine, func = hotloop_machine()
    machine.debug.add_breakpoint(func + offset)
    runner = MachineRunner(machine)
    with trio.fail_after(TIMEOUT):
        assert await resume(runner, CONTINUE) == Breakpoint(func + offset)
    assert machine.cpu.register_table()["x0"].read() == x0_there  # its first arrival


async def test_a_long_continue_goes_on_in_a_thread_and_stops_when_interrupted() -> None:
    machine, _ = hotloop_machine()
    machine.cpu.register_table()["x0"].write(1 << 62)
    runner = MachineRunner(machine)
    stops: list[StopReason] = []

    async def run() -> None:
        stops.append(await resume(runner, CONTINUE))

    with trio.fail_after(TIMEOUT):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(run)
            while not runner.running:
                await trio.sleep(0.001)
            runner.interrupt()
    assert stops == [HostInterrupt()]
    assert machine.cpu.register_table()["x0"].read() < (1 << 62) - 2 * 500


async def test_a_guest_gone_idle_is_waited_for_in_the_thread_not_inline() -> None:
    machine = Machine(
        MachineConfig(
            arch="arm64", image=firmware("arm64"), dts=dts("arm64"), bootargs="xgdbvm.test=xenstore"
        )
    )
    machine.idle_pacing = True  # as the server has it: idle time passes as host time
    assert isinstance(machine.run(wait_idle=False), Idle)  # booted to its first WFI
    runner = MachineRunner(machine)
    started = time.monotonic()
    # It waits for a xenstore watch or a timer seconds away: inline, the run hands over
    # instead of sleeping.
    assert runner.run_inline(CONTINUE) is None
    assert time.monotonic() - started < 1.0
    stops: list[StopReason] = []

    async def run() -> None:
        stops.append(await runner.run(CONTINUE))

    with trio.fail_after(TIMEOUT):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(run)
            await trio.sleep(0.1)
            runner.interrupt()
    assert stops == [HostInterrupt()]


async def test_ctrl_c_before_the_threaded_run_starts_stops_it_when_it_does() -> None:
    machine, _ = hotloop_machine()
    machine.cpu.register_table()["x0"].write(1 << 62)
    runner = MachineRunner(machine)
    assert runner.run_inline(CONTINUE) is None  # the rest would go to the thread...
    runner.interrupt_starting_run()  # ...when Ctrl-C arrives first
    with trio.fail_after(TIMEOUT):
        assert await runner.run(CONTINUE) == HostInterrupt()
        # Only that run: the next one is not stopped by it.
        machine.debug.add_breakpoint(machine.cpu.pc)
        assert await runner.run(CONTINUE) == Breakpoint(machine.cpu.pc)


@pytest.mark.parametrize("offset", [4, 8])
async def test_a_breakpoint_set_in_code_that_already_ran_is_hit(offset: int) -> None:
    # As after Ctrl-C in a loop, then "break" inside it and "continue" (no step between).
    machine, func = hotloop_machine()
    machine.cpu.register_table()["x0"].write(1 << 62)
    runner = MachineRunner(machine)
    assert runner.run_inline(CONTINUE) is None  # the loop is translated by now
    machine.debug.add_breakpoint(func + offset)
    with trio.fail_after(TIMEOUT):
        assert await resume(runner, CONTINUE) == Breakpoint(func + offset)
