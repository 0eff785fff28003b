"""Numeric constants of the remote protocol.

GDB numbers signals itself (``enum gdb_signal`` in ``include/gdb/signals.def``),
independently of any host: these values are what travels in ``T``/``S``/``X``
stop replies and ``C``/``S`` resume packets.
"""

from __future__ import annotations

from enum import IntEnum


class GdbSignal(IntEnum):
    """GDB's target-independent signal numbers (a subset; any 0..255 is legal)."""

    NONE = 0
    HUP = 1
    INT = 2
    QUIT = 3
    ILL = 4
    TRAP = 5
    ABRT = 6
    EMT = 7
    FPE = 8
    KILL = 9
    BUS = 10
    SEGV = 11
    SYS = 12
    PIPE = 13
    ALRM = 14
    TERM = 15


class ErrorCode(IntEnum):
    """Codes for ``Exx`` replies.

    GDB prints the number but gives it no meaning; errno values are the
    convention gdbserver and QEMU follow, so a user reading a log recognises them.
    ``NO_MORE_REGISTERS`` is what lldb expects after the last ``qRegisterInfo``.
    """

    EPERM = 0x01
    ENOENT = 0x02
    EIO = 0x05
    E2BIG = 0x07
    EFAULT = 0x0E
    EBUSY = 0x10
    EINVAL = 0x16
    ENOSPC = 0x1C
    NO_MORE_REGISTERS = 0x45


class BreakpointType(IntEnum):
    """The digit after ``Z``/``z``."""

    SOFTWARE = 0
    HARDWARE = 1
    WRITE_WATCH = 2
    READ_WATCH = 3
    ACCESS_WATCH = 4


class ArmBreakpointKind(IntEnum):
    """``kind`` of a ``Z0``/``Z1`` on ARM: the size of the instruction to patch."""

    THUMB = 2
    THUMB2 = 3
    ARM = 4


class ThreadOp(IntEnum):
    """Which operations an ``H`` packet selects a thread for."""

    GENERAL = ord("g")
    CONTINUE = ord("c")


#: Default largest packet payload we accept and advertise in ``PacketSize``.
DEFAULT_MAX_PACKET = 0x4000
