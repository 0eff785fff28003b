"""The guest console as lines, bounded: what ``monitor console`` shows."""

from __future__ import annotations

from collections import deque
from typing import ClassVar

from xgdbvm.machine.events import ConsoleOutput, ConsoleSource, MachineEvent

MAX_LINES = 1000


class ConsoleHistory:
    """Observer keeping the last lines of every console source, in order."""

    observes: ClassVar[tuple[type, ...]] = (ConsoleOutput,)

    def __init__(self, max_lines: int = MAX_LINES) -> None:
        self._lines: deque[str] = deque(maxlen=max_lines)
        self._partial: dict[ConsoleSource, str] = {}

    def machine_event(self, event: MachineEvent) -> None:
        if not isinstance(event, ConsoleOutput):
            return
        text = self._partial.pop(event.source, "") + event.data.decode("utf-8", "replace")
        *complete, rest = text.split("\n")
        self._lines.extend(complete)
        if rest:
            self._partial[event.source] = rest

    def last(self, count: int) -> list[str]:
        lines = list(self._lines) + [p for p in self._partial.values() if p]
        return lines[-count:] if count > 0 else []
