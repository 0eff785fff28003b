"""Guest-physical memory: RAM regions backed by host buffers the emulator shares.

Every RAM region is an anonymous host mapping handed to Unicorn with
``mem_map_ptr``, so the CPU and the Python side see the same bytes and the
hypervisor side reads guest memory with a slice instead of a call into the
emulator. Untouched pages cost no host memory (anonymous mmap is lazy).

Addresses here are guest-physical (IPA). A read or write that leaves RAM
raises ``GuestMemoryFault``; hypercall handlers turn that into -EFAULT.
"""

from __future__ import annotations

import bisect
import ctypes
import mmap
from dataclasses import dataclass, field
from enum import Enum

import unicorn

PAGE_SIZE = 4096


class GuestMemoryFault(Exception):
    """A guest address that no RAM region backs."""

    def __init__(self, address: int, size: int) -> None:
        super().__init__(f"no guest memory at {address:#x} (+{size})")
        self.address = address
        self.size = size


class RegionKind(Enum):
    RAM = "ram"
    MAGIC = "magic"  # toolstack pages outside the DT memory nodes (console, xenstore)


@dataclass(eq=False)
class RamRegion:
    base: int
    size: int
    kind: RegionKind
    name: str
    buffer: mmap.mmap = field(repr=False)
    view: memoryview = field(repr=False)

    @property
    def end(self) -> int:
        return self.base + self.size

    def contains(self, address: int, size: int) -> bool:
        return self.base <= address and address + size <= self.end


class PhysicalMemory:
    """The RAM regions of one machine, mapped into its Unicorn engine."""

    def __init__(self, uc: unicorn.Uc) -> None:
        self._uc = uc
        self._regions: list[RamRegion] = []
        self._bases: list[int] = []

    @property
    def regions(self) -> tuple[RamRegion, ...]:
        return tuple(self._regions)

    def add_ram(self, base: int, size: int, name: str, kind: RegionKind = RegionKind.RAM) -> None:
        if base % PAGE_SIZE or size % PAGE_SIZE or size <= 0:
            raise ValueError(f"RAM region {name} at {base:#x}+{size:#x} is not page aligned")
        for region in self._regions:
            if base < region.end and region.base < base + size:
                raise ValueError(f"RAM region {name} overlaps {region.name}")
        buffer = mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
        host = ctypes.addressof(ctypes.c_char.from_buffer(buffer))
        self._uc.mem_map_ptr(base, size, unicorn.UC_PROT_ALL, host)
        region = RamRegion(base, size, kind, name, buffer, memoryview(buffer))
        index = bisect.bisect(self._bases, base)
        self._regions.insert(index, region)
        self._bases.insert(index, base)

    def region_at(self, address: int, size: int = 1) -> RamRegion:
        index = bisect.bisect(self._bases, address) - 1
        if index >= 0:
            region = self._regions[index]
            if region.contains(address, size):
                return region
        raise GuestMemoryFault(address, size)

    def read(self, address: int, size: int) -> bytes:
        region = self.region_at(address, size)
        offset = address - region.base
        return bytes(region.view[offset : offset + size])

    def write(self, address: int, data: bytes) -> None:
        region = self.region_at(address, len(data))
        offset = address - region.base
        region.view[offset : offset + len(data)] = data

    def read_u32(self, address: int) -> int:
        return int.from_bytes(self.read(address, 4), "little")

    def read_u64(self, address: int) -> int:
        return int.from_bytes(self.read(address, 8), "little")

    def write_u32(self, address: int, value: int) -> None:
        self.write(address, (value & 0xFFFF_FFFF).to_bytes(4, "little"))

    def write_u64(self, address: int, value: int) -> None:
        self.write(address, (value & 0xFFFF_FFFF_FFFF_FFFF).to_bytes(8, "little"))

    def read_cstring(self, address: int, limit: int) -> bytes:
        """Bytes up to (not including) a NUL, at most ``limit``; stops at the region's end."""
        region = self.region_at(address, 1)
        offset = address - region.base
        chunk = bytes(region.view[offset : min(offset + limit, region.size)])
        nul = chunk.find(b"\0")
        return chunk if nul < 0 else chunk[:nul]

    def clear(self) -> None:
        """Zero every region (machine reset)."""
        for region in self._regions:
            # Dropping private anonymous pages refills them with zeroes on next touch,
            # without writing gigabytes of zeroes by hand.
            region.buffer.madvise(mmap.MADV_DONTNEED)
