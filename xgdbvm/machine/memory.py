"""Stage 2: machine frames, the p2m, and guest-physical memory access.

Model. Machine memory is a set of *backings*: anonymous host mappings (lazy,
so untouched RAM costs nothing), each with the machine address of its first
byte. Guest RAM banks, the toolstack's magic pages and Xen's own pages
(shared_info, grant frames) are separate backings. The p2m maps guest frames
(gfn, guest-physical address >> 12) onto them in extents; every extent is
mapped with ``mem_map_ptr`` in Unicorn, so one host buffer can appear at several
guest frames, and a Xen page shows up wherever the guest asks for it. Unicorn
regions are cut at every 2 MiB guest-physical boundary: unmapping part of a
region costs time in proportion to the region's size (about 0.4 ms per MiB
here), so a guest placing shared_info over one page of a 128 MiB bank paid
~50 ms for that hypercall, and a balloon driver that much per page.

Layouts decide the machine addresses of guest RAM (``--p2m``):
- ``scatter`` (domU default): RAM lives in 2 MiB machine chunks in a shuffled,
  deterministic order, as on a host that has been running for a while;
- ``identity``: machine address == guest-physical address (a direct-mapped dom0);
- ``offset:N``: one contiguous block N bytes above the guest's RAM base.

A guest access with no p2m entry, or a write to a read-only one, is a stage-2
fault; Python-side reads and writes raise ``GuestMemoryFault`` instead.
"""

from __future__ import annotations

import bisect
import ctypes
import mmap
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from enum import Enum

import unicorn

PAGE_SHIFT = 12
PAGE_SIZE = 1 << PAGE_SHIFT
CHUNK = 2 << 20  # scatter granularity
REGION_MAX = 2 << 20  # largest Unicorn region, aligned to it (the module docstring says why)
SCATTER_POOL_BASE = 0x8_0000_0000  # machine address where scattered RAM chunks live
XEN_HEAP_BASE = 0x7_F000_0000  # machine address of Xen's own pages
SCATTER_SEED = 0x5EED


class GuestMemoryFault(Exception):
    """A guest-physical address that no p2m entry backs (or that is read-only)."""

    def __init__(self, address: int, size: int, why: str = "not mapped") -> None:
        super().__init__(f"guest-physical {address:#x} (+{size}): {why}")
        self.address = address
        self.size = size


class FrameKind(Enum):
    RAM = "ram"
    MAGIC = "magic"  # console and xenstore rings, outside the DT memory nodes
    SHARED_INFO = "shared_info"
    GRANT = "grant"


@dataclass(eq=False)
class Backing:
    """One host buffer of machine frames and the machine address of each byte."""

    name: str
    size: int
    machine_address: Callable[[int], int]  # offset in this backing -> machine address
    buffer: mmap.mmap = field(repr=False)
    view: memoryview = field(repr=False)
    host: int = 0  # host virtual address of byte 0

    @classmethod
    def allocate(cls, name: str, size: int, machine_address: Callable[[int], int]) -> Backing:
        buffer = mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
        host = ctypes.addressof(ctypes.c_char.from_buffer(buffer))
        return cls(name, size, machine_address, buffer, memoryview(buffer), host)

    def zero(self) -> None:
        # Private anonymous pages read back as zero after MADV_DONTNEED: a reset
        # costs nothing however large RAM is.
        self.buffer.madvise(mmap.MADV_DONTNEED)


@dataclass(frozen=True)
class Extent:
    gfn: int
    count: int
    kind: FrameKind
    backing: Backing
    offset: int  # byte offset of gfn's page in the backing
    writable: bool = True

    @property
    def end(self) -> int:
        return self.gfn + self.count

    @property
    def address(self) -> int:
        return self.gfn << PAGE_SHIFT

    def mfn(self, gfn: int) -> int:
        return self.backing.machine_address(self.offset + ((gfn - self.gfn) << PAGE_SHIFT)) >> (
            PAGE_SHIFT
        )

    def slice(self, gfn: int, count: int) -> Extent:
        return Extent(
            gfn,
            count,
            self.kind,
            self.backing,
            self.offset + ((gfn - self.gfn) << PAGE_SHIFT),
            self.writable,
        )


@dataclass(frozen=True)
class P2mLayout:
    """How guest RAM is placed in machine memory (``--p2m``)."""

    kind: str  # "scatter", "identity" or "offset"
    offset: int = 0

    @classmethod
    def parse(cls, text: str) -> P2mLayout:
        if text in ("scatter", "identity"):
            return cls(text)
        if text.startswith("offset:"):
            try:
                value = int(text[len("offset:") :].replace("_", ""), 0)
            except ValueError:
                value = -1
            if value < 0 or value % PAGE_SIZE:
                raise ValueError(f"{text!r}: the offset must be a non-negative multiple of 4 KiB")
            return cls("offset", value)
        raise ValueError(f"{text!r} is not scatter, identity or offset:N")

    def __str__(self) -> str:
        return f"offset:{self.offset:#x}" if self.kind == "offset" else self.kind

    def machine_addresses(self, ram_base: int, size: int, chunk_base: int) -> Callable[[int], int]:
        """Machine address of each byte of a RAM bank at ``ram_base``."""
        if self.kind == "identity":
            return lambda off: ram_base + off
        if self.kind == "offset":
            return lambda off: ram_base + self.offset + off
        chunks = -(-size // CHUNK)
        order = list(range(chunks))
        random.Random(SCATTER_SEED + ram_base).shuffle(order)
        # Spread the chunks over a machine range twice the bank's size: holes
        # between them, as other domains' memory would leave.
        return lambda off: chunk_base + 2 * CHUNK * order[off // CHUNK] + off % CHUNK


class PhysicalMemory:
    """The p2m of one domain, mirrored into its Unicorn engine."""

    def __init__(self, uc: unicorn.Uc) -> None:
        self._uc = uc
        self._extents: list[Extent] = []
        self._starts: list[int] = []
        self.backings: list[Backing] = []
        self.generation = 0  # bumped on every p2m change (for caches and the trace)

    # -- the p2m -----------------------------------------------------------------------

    @property
    def extents(self) -> tuple[Extent, ...]:
        return tuple(self._extents)

    def add_backing(self, backing: Backing) -> Backing:
        self.backings.append(backing)
        return backing

    def map(self, extent: Extent) -> None:
        if extent.count <= 0:
            raise ValueError("empty extent")
        if self.overlapping(extent.gfn, extent.count):
            raise ValueError(f"gfn {extent.gfn:#x}+{extent.count:#x} is already mapped")
        prot = (
            unicorn.UC_PROT_ALL
            if extent.writable
            else (unicorn.UC_PROT_READ | unicorn.UC_PROT_EXEC)
        )
        host = extent.backing.host + extent.offset - extent.address
        start, end = extent.address, extent.address + (extent.count << PAGE_SHIFT)
        while start < end:
            stop = min((start // REGION_MAX + 1) * REGION_MAX, end)
            self._uc.mem_map_ptr(start, stop - start, prot, host + start)
            start = stop
        index = bisect.bisect(self._starts, extent.gfn)
        self._extents.insert(index, extent)
        self._starts.insert(index, extent.gfn)
        self.generation += 1

    def unmap(self, gfn: int, count: int) -> list[Extent]:
        """Remove [gfn, gfn+count) from the p2m; returns the pieces that were mapped."""
        removed: list[Extent] = []
        for extent in self.overlapping(gfn, count):
            lo, hi = max(gfn, extent.gfn), min(gfn + count, extent.end)
            self._remove(extent)
            self._uc.mem_unmap(lo << PAGE_SHIFT, (hi - lo) << PAGE_SHIFT)
            removed.append(extent.slice(lo, hi - lo))
            for piece in (
                extent.slice(extent.gfn, lo - extent.gfn),
                extent.slice(hi, extent.end - hi),
            ):
                if piece.count > 0:
                    self._insert_bookkeeping(piece)
        if removed:
            self.generation += 1
        return removed

    def _remove(self, extent: Extent) -> None:
        index = self._extents.index(extent)
        del self._extents[index]
        del self._starts[index]

    def _insert_bookkeeping(self, extent: Extent) -> None:
        # The Unicorn region for this piece still exists (mem_unmap split it).
        index = bisect.bisect(self._starts, extent.gfn)
        self._extents.insert(index, extent)
        self._starts.insert(index, extent.gfn)

    def overlapping(self, gfn: int, count: int) -> list[Extent]:
        index = max(bisect.bisect(self._starts, gfn) - 1, 0)
        found = []
        for extent in self._extents[index:]:
            if extent.gfn >= gfn + count:
                break
            if extent.end > gfn:
                found.append(extent)
        return found

    def lookup(self, gfn: int) -> Extent | None:
        index = bisect.bisect(self._starts, gfn) - 1
        if index >= 0:
            extent = self._extents[index]
            if gfn < extent.end:
                return extent
        return None

    def unmap_all(self) -> None:
        for extent in list(self._extents):
            self._uc.mem_unmap(extent.address, extent.count << PAGE_SHIFT)
        self._extents.clear()
        self._starts.clear()
        self.generation += 1

    # -- guest-physical access from the hypervisor side ----------------------------

    def _spans(self, address: int, size: int, write: bool) -> Iterator[tuple[memoryview, int, int]]:
        """(view, offset, length) pieces covering [address, address+size)."""
        while size > 0:
            extent = self.lookup(address >> PAGE_SHIFT)
            if extent is None:
                raise GuestMemoryFault(address, size)
            if write and not extent.writable:
                raise GuestMemoryFault(address, size, "read-only in the p2m")
            offset = extent.offset + address - extent.address
            length = min(size, (extent.end << PAGE_SHIFT) - address)
            yield extent.backing.view, offset, length
            address += length
            size -= length

    def read(self, address: int, size: int) -> bytes:
        if size <= 0:
            return b""
        extent = self.lookup(address >> PAGE_SHIFT)
        if extent is not None and address + size <= extent.end << PAGE_SHIFT:
            offset = extent.offset + address - extent.address  # the common case: one extent
            return bytes(extent.backing.view[offset : offset + size])
        pieces = [bytes(v[o : o + n]) for v, o, n in self._spans(address, size, write=False)]
        return pieces[0] if len(pieces) == 1 else b"".join(pieces)

    def write(self, address: int, data: bytes) -> None:
        done = 0
        spans = list(self._spans(address, len(data), write=True))  # all-or-nothing
        for view, offset, length in spans:
            view[offset : offset + length] = data[done : done + length]
            done += length

    def page_view(self, gfn: int) -> memoryview | None:
        """The host memory behind one guest frame (shared pages), or None."""
        extent = self.lookup(gfn)
        if extent is None:
            return None
        offset = extent.offset + ((gfn - extent.gfn) << PAGE_SHIFT)
        return extent.backing.view[offset : offset + PAGE_SIZE]

    def read_u32(self, address: int) -> int:
        return int.from_bytes(self.read(address, 4), "little")

    def read_u64(self, address: int) -> int:
        return int.from_bytes(self.read(address, 8), "little")

    def write_u32(self, address: int, value: int) -> None:
        self.write(address, (value & 0xFFFF_FFFF).to_bytes(4, "little"))

    def write_u64(self, address: int, value: int) -> None:
        self.write(address, (value & 0xFFFF_FFFF_FFFF_FFFF).to_bytes(8, "little"))

    # -- machine addresses --------------------------------------------------------------

    def machine_address(self, address: int) -> int | None:
        extent = self.lookup(address >> PAGE_SHIFT)
        if extent is None:
            return None
        return extent.backing.machine_address(extent.offset + address - extent.address)

    def read_machine(self, maddr: int, size: int) -> bytes:
        """Read by machine address (``monitor mem machine``): any backing, mapped or not."""
        for backing in self.backings:
            page = maddr & ~(PAGE_SIZE - 1)
            for offset in range(0, backing.size, PAGE_SIZE):
                if backing.machine_address(offset) == page:
                    start = offset + maddr - page
                    if start + size <= backing.size and (
                        size <= PAGE_SIZE - (maddr - page)
                        or backing.machine_address(offset + PAGE_SIZE) == page + PAGE_SIZE
                    ):
                        return bytes(backing.view[start : start + size])
        raise GuestMemoryFault(maddr, size, "no machine frame there")

    def zero(self) -> None:
        for backing in self.backings:
            backing.zero()
