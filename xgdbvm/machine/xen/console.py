"""console_io (hypercall 18): the guest writing to Xen's own console.

Xen prints a domU's console_io output line by line with a "(d<domid>) "
prefix and only printable characters; this model does the same and hands
each finished line to the console stream. Writes are allowed (as in a debug
build of Xen), reads are for the console domain only: -EPERM for a domU.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from xgdbvm.machine.xen.abi import ConsoleIO, Hypercall
from xgdbvm.machine.xen.domain import DomainConfig
from xgdbvm.machine.xen.errno import XenErrno
from xgdbvm.machine.xen.guest import GuestAccess
from xgdbvm.machine.xen.hypercall import Call, Handler, SubopTable

MAX_WRITE = 1 << 20  # far beyond any sane line, short of letting a guest exhaust the host
MAX_PENDING_LINE = 4096
PRINTABLE = frozenset(range(0x20, 0x7F)) | {0x09}


class ConsoleIo:
    def __init__(
        self, config: DomainConfig, guest: GuestAccess, emit_line: Callable[[bytes], None]
    ) -> None:
        self._config = config
        self._guest = guest
        self._emit_line = emit_line
        self._pending = bytearray()

    def hypercalls(self) -> Mapping[Hypercall, Handler]:
        return {
            Hypercall.console_io: SubopTable(
                ConsoleIO, {ConsoleIO.write: self._write, ConsoleIO.read: self._read}
            )
        }

    def reset(self) -> None:
        self._pending.clear()

    def _write(self, call: Call) -> int:
        count, buffer = call.args[1] & 0xFFFF_FFFF, call.args[2]
        if count > MAX_WRITE:
            call.note = f"count {count} exceeds {MAX_WRITE}"
            return -XenErrno.E2BIG
        data = self._guest.read(buffer, count)
        for byte in data:
            if byte == 0x0A or len(self._pending) >= MAX_PENDING_LINE:
                self._flush()
            elif byte in PRINTABLE:
                self._pending.append(byte)
        return 0

    def _flush(self) -> None:
        line = f"(d{self._config.domid}) ".encode() + bytes(self._pending) + b"\n"
        self._pending.clear()
        self._emit_line(line)

    def _read(self, call: Call) -> int:
        if not self._config.dom0:
            call.note = "only the console domain may read"
            return -XenErrno.EPERM
        return 0
