"""Typed stop replies: why the guest stopped, as the GDB client sees it.

``parse_stop`` reads what the server sends after a resume (or for ``?``):

- ``T05swbreak:;...`` -> :class:`BreakpointStop` (``hwbreak`` for a hardware one)
- ``T05watch:ADDR;`` / ``rwatch`` / ``awatch`` -> :class:`WatchpointStop`
- any other ``T``/``S`` (a single step's SIGTRAP, Ctrl-C's SIGINT, a fault's
  SIGSEGV) -> :class:`SignalStop`
- ``W``\\ code (poweroff 0, reboot 1, suspend 2) -> :class:`ExitedStop`
- ``X``\\ signal (a crash: SIGABRT, a watchdog: SIGALRM) -> :class:`TerminatedStop`
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import ClassVar, Literal

from xgdbvm.api.registers import RegisterTable
from xgdbvm.rsp.constants import GdbSignal
from xgdbvm.rsp.hexutil import HexError, from_le, hex_decode, parse_hex_int

WATCH_KINDS = {"watch": "write", "rwatch": "read", "awatch": "access"}


def signal_name(signal: int) -> str:
    try:
        return f"SIG{GdbSignal(signal).name}"
    except ValueError:
        return f"signal {signal}"


@dataclass(frozen=True, kw_only=True)
class _StopBase:
    packet: bytes = field(repr=False)
    kind: ClassVar[str] = "stop"


@dataclass(frozen=True, kw_only=True)
class _Halted(_StopBase):
    """The vCPU is halted at ``pc`` (``symbol`` is ``name`` or ``name+0xoff``)."""

    signal: int
    pc: int | None = None
    symbol: str | None = None
    thread: str | None = None
    registers: Mapping[int, int] = field(default_factory=dict, repr=False)

    @property
    def signal_name(self) -> str:
        return signal_name(self.signal)


@dataclass(frozen=True, kw_only=True)
class BreakpointStop(_Halted):
    kind: ClassVar[Literal["breakpoint"]] = "breakpoint"
    hardware: bool = False


@dataclass(frozen=True, kw_only=True)
class WatchpointStop(_Halted):
    """``access`` is ``"write"``, ``"read"`` or ``"access"``; ``address`` the data address."""

    kind: ClassVar[Literal["watchpoint"]] = "watchpoint"
    address: int
    access: str


@dataclass(frozen=True, kw_only=True)
class SignalStop(_Halted):
    """A single step (SIGTRAP), an interrupt (SIGINT), a caught fault (SIGSEGV)..."""

    kind: ClassVar[Literal["signal"]] = "signal"


@dataclass(frozen=True, kw_only=True)
class ExitedStop(_StopBase):
    """The guest shut down: ``code`` 0 poweroff, 1 reboot, 2 suspend."""

    kind: ClassVar[Literal["exited"]] = "exited"
    code: int


@dataclass(frozen=True, kw_only=True)
class TerminatedStop(_StopBase):
    """The guest ended abnormally: SIGABRT for a crash, SIGALRM for a watchdog."""

    kind: ClassVar[Literal["terminated"]] = "terminated"
    signal: int

    @property
    def signal_name(self) -> str:
        return signal_name(self.signal)


Stop = BreakpointStop | WatchpointStop | SignalStop | ExitedStop | TerminatedStop


class StopFormatError(ValueError):
    """The server sent something that is not a stop reply."""


def parse_stop(
    packet: bytes,
    registers: RegisterTable | None = None,
    symbolize: Callable[[int], str | None] | None = None,
) -> Stop:
    try:
        return _parse(packet, registers, symbolize)
    except (HexError, ValueError, IndexError) as error:
        if isinstance(error, StopFormatError):
            raise
        raise StopFormatError(f"not a stop reply: {packet[:80]!r} ({error})") from None


def _parse(
    packet: bytes,
    table: RegisterTable | None,
    symbolize: Callable[[int], str | None] | None,
) -> Stop:
    letter = packet[:1]
    if letter in (b"W", b"X"):
        value = parse_hex_int(packet[1:3])
        if letter == b"W":
            return ExitedStop(packet=packet, code=value)
        return TerminatedStop(packet=packet, signal=value)
    if letter == b"S":
        return SignalStop(packet=packet, signal=parse_hex_int(packet[1:3]))
    if letter != b"T":
        raise StopFormatError(f"not a stop reply: {packet[:80]!r}")
    signal = parse_hex_int(packet[1:3])
    values: dict[int, int] = {}
    thread = None
    reason: str | None = None
    watch_address = 0
    for item in packet[3:].split(b";"):
        if not item:
            continue
        key, _, text = item.partition(b":")
        name = key.decode("ascii", "replace")
        if name in ("swbreak", "hwbreak"):
            reason = name
        elif name in WATCH_KINDS:
            reason = name
            watch_address = parse_hex_int(text)
        elif name == "thread":
            thread = text.decode("ascii", "replace")
        elif key and all(c in b"0123456789abcdefABCDEF" for c in key):
            values[int(key, 16)] = from_le(hex_decode(text))
    pc = None
    if table is not None:
        pc = values.get(table.pc.regnum)
    symbol = symbolize(pc) if symbolize is not None and pc is not None else None
    if reason in ("swbreak", "hwbreak"):
        return BreakpointStop(
            packet=packet,
            signal=signal,
            pc=pc,
            symbol=symbol,
            thread=thread,
            registers=values,
            hardware=reason == "hwbreak",
        )
    if reason in WATCH_KINDS:
        return WatchpointStop(
            packet=packet,
            signal=signal,
            pc=pc,
            symbol=symbol,
            thread=thread,
            registers=values,
            address=watch_address,
            access=WATCH_KINDS[reason],
        )
    return SignalStop(
        packet=packet, signal=signal, pc=pc, symbol=symbol, thread=thread, registers=values
    )


def describe(stop: Stop) -> str:
    """One line, for messages."""
    match stop:
        case ExitedStop():
            return f"exited with code {stop.code}"
        case TerminatedStop():
            return f"terminated by {stop.signal_name}"
        case BreakpointStop():
            where = stop.symbol or (f"{stop.pc:#x}" if stop.pc is not None else "?")
            return f"breakpoint at {where}"
        case WatchpointStop():
            return f"{stop.access} watchpoint on {stop.address:#x}"
        case SignalStop():
            where = stop.symbol or (f"{stop.pc:#x}" if stop.pc is not None else "?")
            return f"{stop.signal_name} at {where}"
    return str(stop)
