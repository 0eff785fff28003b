"""GICC register handlers (IHI 0048B section 4.4): acknowledge, priority drop, deactivate.

The view a Xen guest gets here is really the hardware GICV frame, so reset
values and widths follow the virtual interface: one interrupt group, BPR reset
to its minimum, the Group 1 aliases and the active-priority registers unused.
"""

from __future__ import annotations

from .registers import (
    GICC_CTLR_ENABLE,
    GICC_CTLR_EOIMODE,
    GICC_IIDR_VALUE,
    IAR_INTID_MASK,
    SPURIOUS_INTID,
    GiccReg,
)
from .state import GicState
from .window import OnceLog, Reader, Register, Writer, ignore_write, read_as


class CpuInterface:
    """Builds the GICC register table over a ``GicState``; the view supplies the CPU."""

    def __init__(self, state: GicState, log_once: OnceLog) -> None:
        self._state = state
        self._log_once = log_once

    def registers(self) -> list[Register]:
        def word(name: str, read: Reader, write: Writer = ignore_write, words: int = 1) -> Register:
            return Register(name, GiccReg[name], read, write, words)

        return [
            word("CTLR", self._read_ctlr, self._write_ctlr),
            word("PMR", self._read_pmr, self._write_pmr),
            word("BPR", self._read_bpr, self._write_bpr),
            word("IAR", self._read_iar),
            word("EOIR", read_as(0), self._write_eoir),
            word("RPR", self._read_rpr),
            word("HPPIR", self._read_hppir),
            # No Group 1 interrupts exist, so the aliases see nothing to take.
            word("ABPR", read_as(0)),
            word("AIAR", read_as(SPURIOUS_INTID)),
            word("AEOIR", read_as(0)),
            word("AHPPIR", read_as(SPURIOUS_INTID)),
            word("APR", read_as(0), words=4),
            word("NSAPR", read_as(0), words=4),
            word("IIDR", read_as(GICC_IIDR_VALUE)),
            word("DIR", read_as(0), self._write_dir),
        ]

    def _read_ctlr(self, cpu: int, index: int) -> int:
        return self._state.cpus[cpu].ctlr

    def _write_ctlr(self, cpu: int, index: int, value: int) -> None:
        self._state.cpus[cpu].ctlr = value & (GICC_CTLR_ENABLE | GICC_CTLR_EOIMODE)

    def _read_pmr(self, cpu: int, index: int) -> int:
        return self._state.cpus[cpu].pmr

    def _write_pmr(self, cpu: int, index: int, value: int) -> None:
        self._state.cpus[cpu].pmr = value & self._state.priority_mask

    def _read_bpr(self, cpu: int, index: int) -> int:
        return self._state.cpus[cpu].bpr

    def _write_bpr(self, cpu: int, index: int, value: int) -> None:
        # Programming less than the minimum sets the minimum (GICC_BPR description).
        self._state.cpus[cpu].bpr = max(value & 7, self._state.min_bpr)

    def _read_rpr(self, cpu: int, index: int) -> int:
        return self._state.cpus[cpu].running_priority

    def _read_hppir(self, cpu: int, index: int) -> int:
        irq = self._state.highest_pending(cpu)
        return SPURIOUS_INTID if irq is None else self._state.iar_value(irq)

    def _read_iar(self, cpu: int, index: int) -> int:
        return self._state.acknowledge(cpu)

    def _write_eoir(self, cpu: int, index: int, value: int) -> None:
        intid = value & IAR_INTID_MASK
        s = self._state
        # The spec leaves an EOI of an inactive interrupt UNPREDICTABLE; ignoring it
        # keeps a stray write from dropping the priority of the handler that is running.
        if intid >= s.num_irqs or not s.irq(cpu, intid).active:
            self._log_once("EOI of an inactive interrupt, ignored", GiccReg.EOIR, 4, f"{intid}")
            return
        s.drop_priority(cpu)
        if not s.cpus[cpu].eoi_mode:
            s.deactivate(cpu, intid)

    def _write_dir(self, cpu: int, index: int, value: int) -> None:
        if not self._state.cpus[cpu].eoi_mode:
            self._log_once("DIR write with EOImode 0, ignored", GiccReg.DIR, 4)
            return
        self._state.deactivate(cpu, value & IAR_INTID_MASK)
