"""How hypercall handlers reach guest memory: by guest virtual address.

Xen copies hypercall arguments through the calling vCPU's stage-1 MMU and
then its p2m; a pointer that does not translate is -EFAULT. Handlers use the
``GuestAccess`` seam and never see Unicorn or the memory map.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Protocol

from xgdbvm.machine.memory import GuestMemoryFault
from xgdbvm.machine.xen.errno import HypercallError, XenErrno


class GuestAccess(Protocol):
    def read(self, va: int, size: int) -> bytes: ...

    def write(self, va: int, data: bytes) -> None: ...


class FaultingGuestAccess:
    """Wraps a translator so that every fault becomes -EFAULT for the handler."""

    def __init__(
        self, read: Callable[[int, int], bytes], write: Callable[[int, bytes], None]
    ) -> None:
        self._read = read
        self._write = write

    def read(self, va: int, size: int) -> bytes:
        try:
            return self._read(va, size)
        except GuestMemoryFault as fault:
            raise HypercallError(XenErrno.EFAULT, f"guest address {va:#x} not mapped") from fault

    def write(self, va: int, data: bytes) -> None:
        try:
            self._write(va, data)
        except GuestMemoryFault as fault:
            raise HypercallError(XenErrno.EFAULT, f"guest address {va:#x} not mapped") from fault


def read_u32(guest: GuestAccess, va: int) -> int:
    value: int = struct.unpack("<I", guest.read(va, 4))[0]
    return value


def write_padded(guest: GuestAccess, va: int, text: bytes, size: int) -> None:
    """Write a NUL-padded fixed-size string field (Xen's xen_*_t char arrays)."""
    guest.write(va, text[: size - 1].ljust(size, b"\0"))
