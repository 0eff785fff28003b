"""The runner: the one owner of the machine inside the Trio server.

Unicorn runs in a worker thread, one run at a time; nobody else touches the
machine while it runs. ``interrupt`` (GDB's Ctrl-C, a new client, shutdown
of the server) asks the running slice to stop and is safe at any moment.
When the guest is halted, callers in the Trio thread may use the machine
directly: there is no other thread then.

A single step, the first steps of a range step and the first instructions of
a continue run in the Trio thread itself: they are bounded (a few instructions,
hypercalls never wait on the host, and an idle guest hands over rather than
wait), and the round trip to a worker thread costs more than they do (a
continue to a breakpoint in a short loop: ~40 us of guest work, ~250 us of hop).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import NoReturn

import outcome
import trio

from xgdbvm.adapters.resume import Resume, ResumeMode
from xgdbvm.machine.machine import Machine
from xgdbvm.machine.stop import (
    Breakpoint,
    BudgetExhausted,
    HostInterrupt,
    Idle,
    SingleStep,
    StopReason,
)

# Range-step instructions done inline before the rest goes to a worker thread, where
# Ctrl-C can reach it (a one-line loop would otherwise step forever).
INLINE_RANGE_STEPS = 64
# Instructions of a continue done inline: at worst (every one an MMIO access handled
# in Python) a few tens of milliseconds without Ctrl-C or the other tasks.
INLINE_CONTINUE_INSTRUCTIONS = 1000


class MachineRunner:
    def __init__(self, machine: Machine) -> None:
        self.machine = machine
        self.last_stop: StopReason | None = None
        self._running = False
        self._interrupt_next = False
        self._idle = trio.Event()
        self._idle.set()
        self.on_stop: list[Callable[[StopReason], None]] = []

    @property
    def running(self) -> bool:
        return self._running

    async def run(self, resume: Resume, budget: int | None = None) -> StopReason:
        """Run the guest as asked and return why it stopped. Cancellation stops it.

        ``budget`` bounds a continue to that many instructions."""
        # One checkpoint first, as to_thread.run_sync had: a cancelled caller starts
        # nothing, and the tasks that started us get to run before the guest does.
        await trio.lowlevel.checkpoint()
        # A flag, not a trio.Lock: taking an uncontended lock costs two more scheduler
        # passes, and runs only ever overlap when two callers race to resume.
        while self._running:
            await self._idle.wait()
        self._running = True
        self._idle = trio.Event()
        if self._interrupt_next:
            self._interrupt_next = False
            self.machine.request_stop()
        try:
            stop = await self._in_thread(self._work(resume, budget))
        finally:
            self._running = False
            self._idle.set()
        self._stopped(stop)
        return stop

    def run_inline(self, resume: Resume) -> StopReason | None:
        """Do a step here and now, without a thread or a checkpoint, if nothing runs.

        None means the caller must ``run`` it (or the rest of a long range step)."""
        if self._running:
            return None
        stop = self._inline(resume)
        if stop is not None:
            self._stopped(stop)
        return stop

    def _stopped(self, stop: StopReason) -> None:
        self.last_stop = stop
        for callback in self.on_stop:
            callback(stop)

    def interrupt(self) -> None:
        if self._running:
            self.machine.request_stop()

    def interrupt_starting_run(self) -> None:
        """Ctrl-C for a run that was asked for and has not started yet (its task is
        still to be scheduled): it stops as soon as it starts."""
        if self._running:
            self.machine.request_stop()
        else:
            self._interrupt_next = True

    async def halt(self) -> None:
        """Stop the guest if it runs and wait until it has."""
        self._interrupt_next = False  # meant for a run that will not come now
        self.interrupt()
        await self._idle.wait()

    def _inline(self, resume: Resume) -> StopReason | None:
        """The stop of a step done here, or None for what must run in a thread."""
        machine = self.machine
        if resume.mode is ResumeMode.STEP:
            return machine.step()
        if resume.mode is ResumeMode.RANGE_STEP:
            for _ in range(INLINE_RANGE_STEPS):
                stop = machine.step()
                if (
                    not isinstance(stop, SingleStep)
                    or not resume.start <= machine.cpu.pc < resume.end
                ):
                    return stop
            return None
        if machine.config.fast or machine.stress is not None:
            return None  # --fast pays for an instruction budget; stress feeds a backend
        stop = machine.run(INLINE_CONTINUE_INSTRUCTIONS, wait_idle=False)
        if not isinstance(stop, BudgetExhausted | Idle):
            return stop
        pc = machine.cpu.pc
        if pc in machine.debug.breakpoints:
            # The run went no further than a breakpoint it had not yet hit: the thread's
            # run would step over it as over one it had stopped at, so stop here.
            return Breakpoint(pc)
        return None

    def _work(self, resume: Resume, budget: int | None) -> Callable[[], StopReason]:
        machine = self.machine
        if resume.mode is ResumeMode.STEP:
            return machine.step
        if resume.mode is ResumeMode.RANGE_STEP:

            def range_step() -> StopReason:
                # gdb's "next"/"step" over a line: one instruction at a time while the
                # PC stays in [start, end); any other stop ends it early.
                while True:
                    stop = machine.step()
                    pc = machine.cpu.pc
                    if not isinstance(stop, SingleStep) or not resume.start <= pc < resume.end:
                        return stop
                    if machine.consume_stop_request():
                        return HostInterrupt()

            return range_step
        return lambda: machine.run(budget)

    async def _in_thread(self, work: Callable[[], StopReason]) -> StopReason:
        # One park of this task, one wake-up when the worker is done: to_thread.run_sync
        # plus a watcher task for cancellation took several scheduler passes (~400 us of
        # a ~450 us continue to a nearby breakpoint). The thread cannot be abandoned (it
        # owns Unicorn), so a cancellation asks the machine to stop and keeps waiting.
        task = trio.lowlevel.current_task()
        token = trio.lowlevel.current_trio_token()

        def deliver(result: outcome.Outcome[StopReason]) -> None:
            with contextlib.suppress(trio.RunFinishedError):
                token.run_sync_soon(trio.lowlevel.reschedule, task, result)

        def abort(_raise_cancel: Callable[[], NoReturn]) -> trio.lowlevel.Abort:
            self.machine.request_stop()
            return trio.lowlevel.Abort.FAILED

        trio.lowlevel.start_thread_soon(work, deliver, name=f"xgdbvm machine from {task.name}")
        stop: StopReason = await trio.lowlevel.wait_task_rescheduled(abort)
        return stop
