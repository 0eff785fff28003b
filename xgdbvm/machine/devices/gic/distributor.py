"""GICD register handlers (IHI 0048B section 4.3), banked by the accessing CPU."""

from __future__ import annotations

from collections.abc import Callable

from .registers import (
    GICD_CTLR_ENABLE,
    GICD_ID_VALUES,
    GICD_IIDR_VALUE,
    NUM_PRIVATE,
    NUM_SGIS,
    SGIR_FILTER_LIST,
    SGIR_FILTER_OTHERS,
    SGIR_FILTER_SELF,
    SGIR_FILTER_SHIFT,
    SGIR_INTID_MASK,
    SGIR_TARGETS_SHIFT,
    GicdReg,
)
from .state import GicState, Irq
from .window import OnceLog, Reader, Register, Writer, ignore_write, read_as

# GICD_ICFGR0: every SGI is edge-triggered and the register is read-only.
ICFGR_SGI = 0xAAAAAAAA
# GICD_ICFGR1: Xen's vGIC keeps PPIs level-sensitive and ignores writes.
ICFGR_PPI = 0x00000000


class Distributor:
    """Builds the GICD register table over a ``GicState``."""

    def __init__(self, state: GicState, num_spis: int, log_once: OnceLog) -> None:
        self._state = state
        self._num_spis = num_spis
        self._log_once = log_once

    def registers(self) -> list[Register]:
        s = self._state
        bit_words = (s.num_irqs + 31) // 32
        byte_words = (s.num_irqs + 3) // 4
        pair_words = (s.num_irqs + 15) // 16

        def word(name: str, words: int, read: Reader, write: Writer = ignore_write) -> Register:
            return Register(name, GicdReg[name], read, write, words)

        def byte(name: str, words: int, read: Reader, write: Writer) -> Register:
            return Register(name, GicdReg[name], read, write, words, lane=1)

        ids = [
            Register(f"ID{i}", GicdReg.PIDR4 + 4 * i, read_as(value))
            for i, value in enumerate(GICD_ID_VALUES)
        ]
        return [
            word("CTLR", 1, self._read_ctlr, self._write_ctlr),
            word("TYPER", 1, read_as(self._typer())),
            word("IIDR", 1, read_as(GICD_IIDR_VALUE)),
            word("IGROUPR", bit_words, read_as(0)),
            word("ISENABLER", bit_words, *self._bits(_is_enabled, _set_enabled)),
            word("ICENABLER", bit_words, *self._bits(_is_enabled, _clear_enabled)),
            word("ISPENDR", bit_words, *self._bits(_is_pending, _set_pending)),
            word("ICPENDR", bit_words, *self._bits(_is_pending, _clear_pending)),
            word("ISACTIVER", bit_words, *self._bits(_is_active, _set_active)),
            word("ICACTIVER", bit_words, *self._bits(_is_active, _clear_active)),
            byte("IPRIORITYR", byte_words, self._read_priority, self._write_priority),
            byte("ITARGETSR", byte_words, self._read_target, self._write_target),
            word("ICFGR", pair_words, self._read_icfgr, self._write_icfgr),
            word("NSACR", pair_words, read_as(0)),
            word("SGIR", 1, read_as(0), self._write_sgir),
            byte("CPENDSGIR", 4, self._read_sgi_sources, self._clear_sgi_sources),
            byte("SPENDSGIR", 4, self._read_sgi_sources, self._set_sgi_sources),
            *ids,
        ]

    def _bits(
        self, get: Callable[[Irq], bool], put: Callable[[Irq], None]
    ) -> tuple[Reader, Writer]:
        """Handlers for a one-bit-per-interrupt array such as ISENABLERn."""

        def read(cpu: int, index: int) -> int:
            return sum(get(irq) << bit for bit, irq in self._state.irqs_in(cpu, 32 * index, 32))

        def write(cpu: int, index: int, value: int) -> None:
            for bit, irq in self._state.irqs_in(cpu, 32 * index, 32):
                if value >> bit & 1:
                    put(irq)

        return read, write

    def _typer(self) -> int:
        it_lines_number = (self._num_spis + 31) // 32
        return ((self._state.num_cpus - 1) << 5) | it_lines_number

    def _read_ctlr(self, cpu: int, index: int) -> int:
        return self._state.dist_ctlr

    def _write_ctlr(self, cpu: int, index: int, value: int) -> None:
        self._state.dist_ctlr = value & GICD_CTLR_ENABLE

    def _read_priority(self, cpu: int, index: int) -> int:
        return self._state.irq(cpu, index).priority if index < self._state.num_irqs else 0

    def _write_priority(self, cpu: int, index: int, value: int) -> None:
        if index < self._state.num_irqs:
            self._state.irq(cpu, index).priority = value

    def _read_target(self, cpu: int, index: int) -> int:
        return self._state.targets(cpu, index) if index < self._state.num_irqs else 0

    def _write_target(self, cpu: int, index: int, value: int) -> None:
        # ITARGETSR0-7 (SGIs/PPIs) are read-only.
        if not NUM_PRIVATE <= index < self._state.num_irqs:
            return
        # Like Xen, route to the lowest CPU named; a byte naming no CPU changes nothing.
        target = (value & -value).bit_length() - 1
        if 0 <= target < self._state.num_cpus:
            self._state.spis[index - NUM_PRIVATE].target = target
        else:
            offset = GicdReg.ITARGETSR + index
            self._log_once("ITARGETSR names no CPU, ignored", offset, 1, f"{value:#04x}")

    def _read_icfgr(self, cpu: int, index: int) -> int:
        if index < 2:
            return (ICFGR_SGI, ICFGR_PPI)[index]
        irqs = self._state.irqs_in(cpu, 16 * index, 16)
        return sum(irq.edge << (2 * field + 1) for field, irq in irqs)

    def _write_icfgr(self, cpu: int, index: int, value: int) -> None:
        if index < 2:
            return
        for field, irq in self._state.irqs_in(cpu, 16 * index, 16):
            irq.edge = bool(value >> (2 * field + 1) & 1)

    def _write_sgir(self, cpu: int, index: int, value: int) -> None:
        everyone = (1 << self._state.num_cpus) - 1
        targets = {
            SGIR_FILTER_LIST: (value >> SGIR_TARGETS_SHIFT) & everyone,
            SGIR_FILTER_OTHERS: everyone & ~(1 << cpu),
            SGIR_FILTER_SELF: 1 << cpu,
        }.get((value >> SGIR_FILTER_SHIFT) & 3)
        if targets is None:
            self._log_once("reserved SGIR target filter, ignored", GicdReg.SGIR, 4)
            return
        sgi = value & SGIR_INTID_MASK
        for target in range(self._state.num_cpus):
            if targets >> target & 1:
                self._state.private[target][sgi].sgi_sources |= 1 << cpu

    def _read_sgi_sources(self, cpu: int, index: int) -> int:
        return self._state.private[cpu][index].sgi_sources

    def _set_sgi_sources(self, cpu: int, index: int, value: int) -> None:
        everyone = (1 << self._state.num_cpus) - 1
        self._state.private[cpu][index].sgi_sources |= value & everyone

    def _clear_sgi_sources(self, cpu: int, index: int, value: int) -> None:
        self._state.private[cpu][index].sgi_sources &= ~value


def _is_enabled(irq: Irq) -> bool:
    return irq.enabled


def _is_pending(irq: Irq) -> bool:
    return irq.pending


def _is_active(irq: Irq) -> bool:
    return irq.active


def _set_enabled(irq: Irq) -> None:
    irq.enabled = True


def _clear_enabled(irq: Irq) -> None:
    irq.enabled = False


# SGI bits of ISPENDR/ICPENDR are WI: an SGI pends per source CPU, which they cannot name.
def _set_pending(irq: Irq) -> None:
    if irq.intid >= NUM_SGIS:
        irq.latch = True


def _clear_pending(irq: Irq) -> None:
    if irq.intid >= NUM_SGIS:
        irq.latch = False


def _set_active(irq: Irq) -> None:
    irq.active = True


def _clear_active(irq: Irq) -> None:
    irq.active = False
