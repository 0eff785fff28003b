"""Guest time: virtual and deterministic unless the user asks for the host clock.

Virtual time advances with execution (one nanosecond per instruction of the
machine's instruction clock, so the guest sees a 1 GHz CPU) plus the time
skipped while the guest waits in WFI: an idle guest jumps straight to its
next timer deadline instead of spinning the host. The same image and inputs
therefore see the same time at the same instruction, run after run.

``realtime`` mode follows the host's monotonic clock instead (``--realtime``).
"""

from __future__ import annotations

import time
from typing import Protocol

NS_PER_INSTRUCTION = 1
COUNTER_HZ = 62_500_000  # the generic timer's CNTFRQ: 16 ns per tick
NS_PER_TICK = 1_000_000_000 // COUNTER_HZ


class Counted(Protocol):
    @property
    def instructions(self) -> int: ...


class VirtualTime:
    def __init__(self, clock: Counted, realtime: bool = False) -> None:
        self._clock = clock
        self.realtime = realtime
        self.idle_ns = 0
        self._host_start = time.monotonic_ns()

    def reset(self) -> None:
        self.idle_ns = 0
        self._host_start = time.monotonic_ns()

    def now_ns(self) -> int:
        if self.realtime:
            return time.monotonic_ns() - self._host_start
        return self._clock.instructions * NS_PER_INSTRUCTION + self.idle_ns

    def counter(self) -> int:
        """The generic timer's count (CNTPCT; CNTVCT is this minus CNTVOFF)."""
        return self.now_ns() // NS_PER_TICK

    def instructions_until(self, ticks: int) -> int:
        """How many more instructions until the counter reaches ``ticks`` (at least 1)."""
        if self.realtime:
            return 1 << 20  # re-check the host clock every million instructions
        remaining_ns = ticks * NS_PER_TICK - self.now_ns()
        return max(1, -(-remaining_ns // NS_PER_INSTRUCTION))

    def skip_to(self, ticks: int) -> None:
        """Idle until the counter reads ``ticks`` (WFI with a timer armed)."""
        if self.realtime:
            delay = ticks * NS_PER_TICK - self.now_ns()
            if delay > 0:
                time.sleep(min(delay / 1e9, 0.05))
            return
        self.idle_ns += max(0, ticks * NS_PER_TICK - self.now_ns())
