"""Table-driven MMIO dispatch shared by the GICD and GICC windows.

A window is a table from word offset to a register (or register array). Word
registers take aligned 32-bit accesses only; byte arrays (``lane == 1``) take
aligned byte and word accesses, a word access being four byte accesses
(IHI 0048B, "GIC register access"). Everything else is RAZ/WI and logged once per offset.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger("xgdbvm.gic")

Reader = Callable[[int, int], int]
"""``(cpu, index) -> value``: index counts lanes from the register's base."""
Writer = Callable[[int, int, int], None]
"""``(cpu, index, value)``."""


def ignore_write(cpu: int, index: int, value: int) -> None:
    del cpu, index, value


def read_as(value: int) -> Reader:
    return lambda cpu, index: value


@dataclass(frozen=True)
class Register:
    """A register, or an array of ``words`` registers; ``lane`` is 1 for byte arrays."""

    name: str
    base: int
    read: Reader
    write: Writer = ignore_write
    words: int = 1
    lane: int = 4


class OnceLog:
    """Logs each kind of guest mistake once per offset, so a polling loop cannot flood."""

    def __init__(self, window: str) -> None:
        self._window = window
        self._seen: set[tuple[str, int, int]] = set()

    def __call__(self, what: str, offset: int, size: int = 0, detail: str = "") -> None:
        if (what, offset, size) in self._seen:
            return
        self._seen.add((what, offset, size))
        access = f", {size}-byte access" if size else ""
        suffix = f" ({detail})" if detail else ""
        log.warning("%s+%#06x%s: %s%s", self._window, offset, access, what, suffix)


class Window:
    """One MMIO window: bounds and size checks, then a table lookup."""

    def __init__(self, size: int, registers: list[Register], log_once: OnceLog) -> None:
        self.size = size
        self.log_once = log_once
        self._table: dict[int, Register] = {}
        for register in registers:
            for word in range(register.words):
                self._table[register.base + 4 * word] = register

    def _lookup(self, offset: int, size: int) -> Register | None:
        register = self._table.get(offset & ~3) if 0 <= offset < self.size else None
        if register is None:
            self.log_once("unimplemented offset, RAZ/WI", offset)
            return None
        if size not in (1, 4) or (size == 1 and register.lane != 1) or offset % size:
            self.log_once(f"unsupported access to {register.name}, RAZ/WI", offset, size)
            return None
        return register

    def read(self, cpu: int, offset: int, size: int) -> int:
        register = self._lookup(offset, size)
        if register is None:
            return 0
        first = (offset - register.base) // register.lane
        if register.lane == size:
            return register.read(cpu, first) & 0xFFFFFFFF
        return sum((register.read(cpu, first + i) & 0xFF) << (8 * i) for i in range(4))

    def write(self, cpu: int, offset: int, size: int, value: int) -> None:
        register = self._lookup(offset, size)
        if register is None:
            return
        value &= (1 << (8 * size)) - 1
        first = (offset - register.base) // register.lane
        if register.lane == size:
            register.write(cpu, first, value)
            return
        for i in range(4):
            register.write(cpu, first + i, (value >> (8 * i)) & 0xFF)
