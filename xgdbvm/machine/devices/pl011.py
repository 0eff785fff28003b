"""PL011 / SBSA generic UART: the guest's serial console.

Contract (ARM PrimeCell UART PL011 TRM, DDI 0183; SBSA generic UART subset):
- MMIO window 0x1000 bytes; registers are 32-bit, narrower accesses act on
  the low bits of the same register.
- One interrupt output, level-high: (RIS & IMSC) != 0. Xen's guest DT wires
  it to SPI 32.
- Transmit never backs up: every byte written to DR leaves at once through
  the byte sink, so FR.TXFF is never set and TXRIS is raised after each
  write (as a real FIFO that drained immediately).
- Receive: bytes pushed with ``receive`` wait in a bounded FIFO (the real one
  has 32 entries; excess input is held by the host side, not dropped here).
- Reset: CR = 0x300 (TXE|RXE), FR = TXFE|RXFE, IFLS = 0x12, other registers 0.
- Unknown offsets read as zero and ignore writes.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from enum import IntEnum, IntFlag

from xgdbvm.machine.mmio import ByteSink, IrqLine, NullIrqLine

log = logging.getLogger("xgdbvm.pl011")

RX_FIFO_DEPTH = 32
PERIPH_ID = (0x11, 0x10, 0x14, 0x00, 0x0D, 0xF0, 0x05, 0xB1)  # 0xFE0..0xFFC


class Reg(IntEnum):
    DR = 0x000
    RSR = 0x004
    FR = 0x018
    ILPR = 0x020
    IBRD = 0x024
    FBRD = 0x028
    LCR_H = 0x02C
    CR = 0x030
    IFLS = 0x034
    IMSC = 0x038
    RIS = 0x03C
    MIS = 0x040
    ICR = 0x044
    DMACR = 0x048


class Flag(IntFlag):
    BUSY = 1 << 3
    RXFE = 1 << 4
    TXFF = 1 << 5
    RXFF = 1 << 6
    TXFE = 1 << 7


class Int(IntFlag):
    RX = 1 << 4
    TX = 1 << 5
    RT = 1 << 6


class Pl011:
    mmio_size = 0x1000

    def __init__(self, sink: ByteSink, irq: IrqLine | None = None) -> None:
        self._sink = sink
        self._irq = irq or NullIrqLine()
        self._rx: deque[int] = deque()
        self._regs: dict[int, int] = {}
        self._ris = 0
        self.on_rx_space: Callable[[], None] | None = None
        self._reads: dict[int, Callable[[], int]] = {
            Reg.DR: self._read_dr,
            Reg.FR: self._read_fr,
            Reg.RIS: lambda: self._ris,
            Reg.MIS: lambda: self._ris & self._regs[Reg.IMSC],
        }
        self._writes: dict[int, Callable[[int], None]] = {
            Reg.DR: self._write_dr,
            Reg.ICR: self._write_icr,
            Reg.IMSC: self._write_imsc,
        }
        self.reset()

    def reset(self) -> None:
        self._rx.clear()
        self._regs = {reg: 0 for reg in Reg}
        self._regs[Reg.CR] = 0x300
        self._regs[Reg.IFLS] = 0x12
        self._ris = 0
        self._update_irq()

    # -- host side -------------------------------------------------------------

    def rx_space(self) -> int:
        return RX_FIFO_DEPTH - len(self._rx)

    def receive(self, data: bytes) -> int:
        """Queue input bytes; returns how many fitted in the FIFO."""
        accepted = data[: self.rx_space()]
        self._rx.extend(accepted)
        if accepted:
            self._ris |= Int.RX
            self._update_irq()
        return len(accepted)

    # -- guest side ------------------------------------------------------------

    def read(self, offset: int, size: int) -> int:
        reg = offset & ~3
        if 0xFE0 <= reg <= 0xFFC:
            return PERIPH_ID[(reg - 0xFE0) // 4]
        handler = self._reads.get(reg)
        if handler is not None:
            return handler()
        return self._regs.get(reg, 0)

    def write(self, offset: int, size: int, value: int) -> None:
        reg = offset & ~3
        handler = self._writes.get(reg)
        if handler is not None:
            handler(value)
        elif reg in self._regs and reg not in (Reg.FR, Reg.RIS, Reg.MIS):
            self._regs[reg] = value & 0xFFFF

    def _read_dr(self) -> int:
        if not self._rx:
            return 0
        byte = self._rx.popleft()
        if not self._rx:
            self._ris &= ~(Int.RX | Int.RT)
            self._update_irq()
        if self.on_rx_space is not None:
            self.on_rx_space()
        return byte

    def _read_fr(self) -> int:
        flags = Flag.TXFE
        flags |= Flag.RXFE if not self._rx else 0
        flags |= Flag.RXFF if len(self._rx) >= RX_FIFO_DEPTH else 0
        return int(flags)

    def _write_dr(self, value: int) -> None:
        self._sink.write(bytes([value & 0xFF]))
        self._ris |= Int.TX
        self._update_irq()

    def _write_icr(self, value: int) -> None:
        self._ris &= ~value
        self._update_irq()

    def _write_imsc(self, value: int) -> None:
        self._regs[Reg.IMSC] = value & 0x7FF
        self._update_irq()

    def _update_irq(self) -> None:
        self._irq.set_level(bool(self._ris & self._regs.get(Reg.IMSC, 0)))
