"""ARM generic timer of one vCPU: its EL1 physical and its virtual timer (ARM DDI 0487).

Contract
--------
* No MMIO: the timers are system registers. ``read(reg, now)`` and
  ``write(reg, value, now)`` take a ``TimerReg`` and the physical counter value
  ``now`` (CNTPCT) at the instant of the access. The machine owns time and
  supplies ``now``; this module never reads a host clock, so a run is
  deterministic.
* Counters: CNTPCT = ``now``; CNTVCT = ``now - CNTVOFF`` (mod 2**64).
* Outputs: two level ``IrqLine`` s, ``phys_irq`` (the board wires it to PPI 30,
  GUEST_TIMER_PHYS_NS_PPI) and ``virt_irq`` (PPI 27, GUEST_TIMER_VIRT_PPI). A
  line is high while its timer has ENABLE set, IMASK clear and count >= CVAL
  (unsigned 64-bit compare). ``update(now)`` recomputes ISTATUS and the lines;
  every ``read`` and ``write`` does so too, first, so a guest that sees ISTATUS
  also has the line it implies. Lines are driven only when their level changes.
* ``next_deadline(now)``: the earliest counter value after ``now`` at which an
  enabled, unmasked timer's condition becomes true, or ``None``. A timer already
  firing is not a future event; its line is already high after ``update(now)``.
* Reset: CNTx_CTL = 0 (disabled), CNTx_CVAL = 0, CNTVOFF = 0, both lines low;
  CNTFRQ keeps the configured frequency.

Registers (ARM ARM, "The Generic Timer in AArch64 state")
----------------------------------------------------------
* CNTx_CTL: ENABLE bit 0, IMASK bit 1, ISTATUS bit 2 (read-only; reads 0 while
  the timer is disabled, where the architecture leaves it UNKNOWN).
* CNTx_CVAL: 64-bit compare value.
* CNTx_TVAL: a 32-bit signed view. Reads (CVAL - count)[31:0], returned as the
  unsigned 32-bit register value; writes set CVAL = count + SignExtend(value[31:0]).
* CNTFRQ: the counter frequency in Hz, reported to the guest; it does not change
  how ``now`` advances. Default 62.5 MHz: QEMU's long-standing virt-board value,
  a whole 16 ns per tick, so the machine's tick/nanosecond conversions stay
  exact. (Xen passes the host's CNTFRQ through, so a guest must read it anyway.)
* CNTVOFF (an EL2 register, set by the hypervisor, i.e. the machine; Xen sets it
  when it creates the domain so that the virtual count starts near 0).
* CNTPCT/CNTVCT are read-only; writes to them are ignored and logged once
  (logger ``xgdbvm.timer``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum, IntFlag

from xgdbvm.machine.mmio import IrqLine

log = logging.getLogger("xgdbvm.timer")

DEFAULT_FREQUENCY = 62_500_000
MASK64 = (1 << 64) - 1
MASK32 = (1 << 32) - 1


def _sysreg(op0: int, op1: int, crn: int, crm: int, op2: int) -> int:
    return (op0 << 14) | (op1 << 11) | (crn << 7) | (crm << 3) | op2


class TimerReg(IntEnum):
    """Timer registers, valued by their AArch64 encoding op0:op1:CRn:CRm:op2 (16 bits)."""

    CNTFRQ = _sysreg(3, 3, 14, 0, 0)
    CNTPCT = _sysreg(3, 3, 14, 0, 1)
    CNTVCT = _sysreg(3, 3, 14, 0, 2)
    CNTP_TVAL = _sysreg(3, 3, 14, 2, 0)
    CNTP_CTL = _sysreg(3, 3, 14, 2, 1)
    CNTP_CVAL = _sysreg(3, 3, 14, 2, 2)
    CNTV_TVAL = _sysreg(3, 3, 14, 3, 0)
    CNTV_CTL = _sysreg(3, 3, 14, 3, 1)
    CNTV_CVAL = _sysreg(3, 3, 14, 3, 2)
    CNTVOFF = _sysreg(3, 4, 14, 0, 3)


class TimerCtl(IntFlag):
    ENABLE = 1 << 0
    IMASK = 1 << 1
    ISTATUS = 1 << 2


# The checks made at every run slice test plain ints: an IntFlag's & goes through the
# enum machinery (a few microseconds each).
_ENABLE, _IMASK = int(TimerCtl.ENABLE), int(TimerCtl.IMASK)


@dataclass(frozen=True)
class TimerState:
    """One timer at one counter value, for ``monitor timer``."""

    name: str
    enabled: bool
    masked: bool
    istatus: bool
    cval: int
    count: int
    tval: int  # signed: negative once the timer has fired
    line: bool


class _Timer:
    def __init__(self, name: str, output: IrqLine | None) -> None:
        self.name = name
        self.output = output
        self.ctl = TimerCtl(0)
        self.cval = 0
        self.level = False

    def istatus(self, count: int) -> bool:
        return bool(int(self.ctl) & _ENABLE) and count >= self.cval

    def asserted(self, count: int) -> bool:
        return self.istatus(count) and not int(self.ctl) & _IMASK


Reader = Callable[[int], int]  # (now) -> value
Writer = Callable[[int, int], None]  # (value, now)


class GenericTimer:
    """The physical and virtual EL1 timers of one vCPU, over a caller-supplied counter."""

    def __init__(
        self,
        phys_irq: IrqLine | None = None,
        virt_irq: IrqLine | None = None,
        frequency: int = DEFAULT_FREQUENCY,
    ) -> None:
        if not 0 < frequency <= MASK32:
            raise ValueError(f"CNTFRQ must fit 32 bits and be non-zero, not {frequency}")
        self._frequency = frequency
        self._phys = _Timer("phys", phys_irq)
        self._virt = _Timer("virt", virt_irq)
        self._cntvoff = 0
        self._now = 0
        self._logged: set[TimerReg] = set()
        phys, virt = self._phys, self._virt
        self._table: dict[TimerReg, tuple[Reader, Writer]] = {
            TimerReg.CNTFRQ: (lambda now: self._frequency, self._write_frequency),
            TimerReg.CNTPCT: (self._physical_count, self._read_only(TimerReg.CNTPCT)),
            TimerReg.CNTVCT: (self._virtual_count, self._read_only(TimerReg.CNTVCT)),
            TimerReg.CNTVOFF: (lambda now: self._cntvoff, self._write_cntvoff),
            TimerReg.CNTP_CTL: self._ctl(phys, self._physical_count),
            TimerReg.CNTP_CVAL: self._cval(phys),
            TimerReg.CNTP_TVAL: self._tval(phys, self._physical_count),
            TimerReg.CNTV_CTL: self._ctl(virt, self._virtual_count),
            TimerReg.CNTV_CVAL: self._cval(virt),
            TimerReg.CNTV_TVAL: self._tval(virt, self._virtual_count),
        }

    # ----------------------------------------------------------- API

    @property
    def frequency(self) -> int:
        return self._frequency

    def connect(self, phys_irq: IrqLine | None, virt_irq: IrqLine | None) -> None:
        """Wire the outputs after construction; a line is driven at once if it should be high."""
        for timer, line in ((self._phys, phys_irq), (self._virt, virt_irq)):
            timer.output = line
            if line is not None and timer.level:
                line.set_level(True)

    def read(self, reg: TimerReg, now: int) -> int:
        self.update(now)
        reader, _ = self._table[reg]
        return reader(now)

    def write(self, reg: TimerReg, value: int, now: int) -> None:
        self.update(now)
        _, writer = self._table[reg]
        writer(value, now)
        self.update(now)

    def update(self, now: int) -> None:
        """Sample the counter at ``now``: recompute ISTATUS and drive both lines."""
        self._now = now
        for timer, count in self._timers(now):
            level = timer.asserted(count)
            if level != timer.level:
                timer.level = level
                if timer.output is not None:
                    timer.output.set_level(level)

    def next_deadline(self, now: int) -> int | None:
        """The earliest counter value after ``now`` at which an enabled, unmasked timer
        starts to fire; ``None`` if none will (timers already firing are not future events)."""
        deadlines = [
            now + (timer.cval - count)
            for timer, count in self._timers(now)
            if int(timer.ctl) & (_ENABLE | _IMASK) == _ENABLE
            and count < timer.cval
            and now + (timer.cval - count) <= MASK64
        ]
        return min(deadlines, default=None)

    def reset(self) -> None:
        self._cntvoff = 0
        for timer in (self._phys, self._virt):
            timer.ctl = TimerCtl(0)
            timer.cval = 0
            if timer.level and timer.output is not None:
                timer.output.set_level(False)
            timer.level = False

    def describe(self, now: int | None = None) -> list[TimerState]:
        """Both timers as of ``now``, or of the last sampled counter value; no side effects."""
        at = self._now if now is None else now
        states = []
        for timer, count in self._timers(at):
            tval = (timer.cval - count) & MASK32
            states.append(
                TimerState(
                    name=timer.name,
                    enabled=bool(timer.ctl & TimerCtl.ENABLE),
                    masked=bool(timer.ctl & TimerCtl.IMASK),
                    istatus=timer.istatus(count),
                    cval=timer.cval,
                    count=count,
                    tval=tval - (1 << 32) if tval >> 31 else tval,
                    line=timer.level,
                )
            )
        return states

    # ----------------------------------------------------------- counters

    def _physical_count(self, now: int) -> int:
        return now & MASK64

    def _virtual_count(self, now: int) -> int:
        return (now - self._cntvoff) & MASK64

    def _timers(self, now: int) -> list[tuple[_Timer, int]]:
        return [(self._phys, self._physical_count(now)), (self._virt, self._virtual_count(now))]

    # ----------------------------------------------------------- handlers

    def _write_frequency(self, value: int, now: int) -> None:
        self._frequency = value & MASK32

    def _write_cntvoff(self, value: int, now: int) -> None:
        self._cntvoff = value & MASK64

    def _read_only(self, reg: TimerReg) -> Writer:
        def write(value: int, now: int) -> None:
            if reg not in self._logged:
                self._logged.add(reg)
                log.warning("write %#x to read-only %s ignored", value, reg.name)

        return write

    def _ctl(self, timer: _Timer, counter: Callable[[int], int]) -> tuple[Reader, Writer]:
        def read(now: int) -> int:
            istatus = TimerCtl.ISTATUS if timer.istatus(counter(now)) else TimerCtl(0)
            return int(timer.ctl | istatus)

        def write(value: int, now: int) -> None:
            timer.ctl = TimerCtl(value & (TimerCtl.ENABLE | TimerCtl.IMASK))

        return read, write

    def _cval(self, timer: _Timer) -> tuple[Reader, Writer]:
        def read(now: int) -> int:
            return timer.cval

        def write(value: int, now: int) -> None:
            timer.cval = value & MASK64

        return read, write

    def _tval(self, timer: _Timer, counter: Callable[[int], int]) -> tuple[Reader, Writer]:
        def read(now: int) -> int:
            return (timer.cval - counter(now)) & MASK32

        def write(value: int, now: int) -> None:
            offset = value & MASK32
            if offset >> 31:
                offset -= 1 << 32
            timer.cval = (counter(now) + offset) & MASK64

        return read, write
