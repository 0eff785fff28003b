"""PL011 alone, qtest style: registers in, bytes and line levels out."""

from __future__ import annotations

from xgdbvm.machine.devices.pl011 import Flag, Int, Pl011, Reg
from xgdbvm.machine.mmio import RecordingIrqLine


class Sink:
    def __init__(self) -> None:
        self.data = bytearray()

    def write(self, data: bytes) -> None:
        self.data += data


def make() -> tuple[Pl011, Sink, RecordingIrqLine]:
    sink, irq = Sink(), RecordingIrqLine()
    return Pl011(sink, irq), sink, irq


def test_reset_values() -> None:
    uart, _, irq = make()
    assert uart.read(Reg.CR, 4) == 0x300
    assert uart.read(Reg.FR, 4) == Flag.TXFE | Flag.RXFE
    assert uart.read(Reg.IFLS, 4) == 0x12
    assert uart.read(Reg.IMSC, 4) == 0
    assert [uart.read(off, 4) for off in range(0xFE0, 0x1000, 4)] == [
        0x11,
        0x10,
        0x14,
        0x00,
        0x0D,
        0xF0,
        0x05,
        0xB1,
    ]
    assert not irq.level


def test_transmit_goes_to_the_sink_and_raises_tx_when_unmasked() -> None:
    uart, sink, irq = make()
    for byte in b"hi\n":
        uart.write(Reg.DR, 4, byte)
    assert bytes(sink.data) == b"hi\n"
    assert uart.read(Reg.RIS, 4) & Int.TX
    assert not irq.level  # masked
    uart.write(Reg.IMSC, 4, Int.TX)
    assert irq.level
    uart.write(Reg.ICR, 4, Int.TX)
    assert not irq.level
    assert irq.history == [False, True, False]  # reset drives it low first


def test_receive_fifo_and_rx_interrupt() -> None:
    uart, _, irq = make()
    uart.write(Reg.IMSC, 4, Int.RX)
    assert uart.receive(b"ab") == 2
    assert irq.level
    assert not uart.read(Reg.FR, 4) & Flag.RXFE
    assert uart.read(Reg.DR, 4) == ord("a")
    assert uart.read(Reg.DR, 4) == ord("b")
    assert uart.read(Reg.FR, 4) & Flag.RXFE
    assert not irq.level


def test_receive_is_bounded_by_the_fifo() -> None:
    uart, _, _ = make()
    assert uart.receive(bytes(100)) == 32
    assert uart.read(Reg.FR, 4) & Flag.RXFF
    assert uart.receive(b"x") == 0


def test_unknown_offsets_read_zero_and_ignore_writes() -> None:
    uart, sink, _ = make()
    uart.write(0x800, 4, 0xFFFF)
    assert uart.read(0x800, 4) == 0
    uart.write(Reg.FR, 4, 0)
    assert uart.read(Reg.FR, 4) == Flag.TXFE | Flag.RXFE
    assert not sink.data
