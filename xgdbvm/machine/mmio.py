"""The seam between the board and its devices.

A device is a register file the board maps at a guest-physical base. The board
turns each guest load/store in that window into ``read``/``write`` with an
offset relative to the base; devices never see addresses, never see Unicorn and
never import each other. They talk to the rest of the machine only through the
lines and byte streams the board hands them when it builds them.
"""

from __future__ import annotations

from typing import Protocol


class MmioDevice(Protocol):
    """A memory-mapped device: its window size and its register handlers."""

    @property
    def mmio_size(self) -> int:
        """Size in bytes of the register window the board maps."""
        ...

    def read(self, offset: int, size: int) -> int:
        """A guest load of ``size`` bytes (1, 2, 4 or 8) at ``offset``."""
        ...

    def write(self, offset: int, size: int, value: int) -> None:
        """A guest store of ``size`` bytes at ``offset``."""
        ...

    def reset(self) -> None:
        """Return every register to its reset value."""
        ...


class IrqLine(Protocol):
    """One interrupt wire: a device drives it, the interrupt controller samples it."""

    def set_level(self, level: bool) -> None: ...


class ByteSink(Protocol):
    """Where a device's output bytes go (console stream, socket, test buffer)."""

    def write(self, data: bytes) -> None: ...


class NullIrqLine:
    """A line wired to nothing, for devices built alone in tests or left unconnected."""

    def set_level(self, level: bool) -> None:
        del level


class RecordingIrqLine:
    """A line that remembers every level it was driven to (device tests)."""

    def __init__(self) -> None:
        self.history: list[bool] = []

    @property
    def level(self) -> bool:
        return bool(self.history) and self.history[-1]

    def set_level(self, level: bool) -> None:
        if not self.history or self.history[-1] != level:
            self.history.append(level)
