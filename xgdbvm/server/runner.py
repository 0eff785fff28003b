"""The runner: the one owner of the machine inside the Trio server.

Unicorn runs in a worker thread, one run at a time; nobody else touches the
machine while it runs. ``interrupt`` (GDB's Ctrl-C, a new client, shutdown
of the server) asks the running slice to stop and is safe at any moment.
When the guest is halted, callers in the Trio thread may use the machine
directly: there is no other thread then.

A single step, and the first steps of a range step, run in the Trio thread
itself: they are bounded (one instruction each, and hypercalls never wait on
the host), and the round trip to a worker thread would cost more than they do.
"""

from __future__ import annotations

from collections.abc import Callable

import trio

from xgdbvm.adapters.gdb_target import Resume, ResumeMode
from xgdbvm.machine.machine import Machine
from xgdbvm.machine.stop import HostInterrupt, SingleStep, StopReason

# Range-step instructions done inline before the rest goes to a worker thread, where
# Ctrl-C can reach it (a one-line loop would otherwise step forever).
INLINE_RANGE_STEPS = 64


class MachineRunner:
    def __init__(self, machine: Machine) -> None:
        self.machine = machine
        self.last_stop: StopReason | None = None
        self._running = False
        self._idle = trio.Event()
        self._idle.set()
        self._lock = trio.Lock()
        self.on_stop: list[Callable[[StopReason], None]] = []

    @property
    def running(self) -> bool:
        return self._running

    async def run(self, resume: Resume, budget: int | None = None) -> StopReason:
        """Run the guest as asked and return why it stopped. Cancellation stops it.

        ``budget`` bounds a continue to that many instructions."""
        async with self._lock:
            self._running = True
            self._idle = trio.Event()
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
        if self._lock.locked():
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

    async def halt(self) -> None:
        """Stop the guest if it runs and wait until it has."""
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
        # The thread cannot be abandoned (it owns Unicorn), so on cancellation we ask
        # the machine to stop and then wait for the thread to come back.
        finished = False
        async with trio.open_nursery() as nursery:

            async def stop_on_cancel() -> None:
                try:
                    await trio.sleep_forever()
                finally:
                    if not finished:
                        self.machine.request_stop()

            nursery.start_soon(stop_on_cancel)
            stop = await trio.to_thread.run_sync(work, abandon_on_cancel=False)
            finished = True
            nursery.cancel_scope.cancel()
        return stop
