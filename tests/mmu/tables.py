"""Hand-built translation tables in a sparse fake physical memory.

The builders know only the descriptor layouts from the ARM ARM; they share
no code with the walkers under test.
"""

from __future__ import annotations

from dataclasses import dataclass

from xgdbvm.machine.mmu import PhysicalReadError

PAGE = 4096


class PhysMem:
    """Sparse little-endian memory: 4K pages exist once backed or written."""

    def __init__(self) -> None:
        self.pages: dict[int, bytearray] = {}
        self.reads: list[tuple[int, int]] = []

    def back(self, base: int, size: int) -> None:
        for page in range(base // PAGE, (base + size - 1) // PAGE + 1):
            self.pages.setdefault(page, bytearray(PAGE))

    def unback(self, base: int) -> None:
        del self.pages[base // PAGE]

    def write(self, address: int, data: bytes) -> None:
        self.back(address, len(data))
        done = 0
        while done < len(data):
            page, offset = divmod(address + done, PAGE)
            chunk = data[done : done + PAGE - offset]
            self.pages[page][offset : offset + len(chunk)] = chunk
            done += len(chunk)

    def put64(self, address: int, value: int) -> None:
        self.write(address, value.to_bytes(8, "little"))

    def put32(self, address: int, value: int) -> None:
        self.write(address, value.to_bytes(4, "little"))

    def __call__(self, address: int, size: int) -> bytes:
        self.reads.append((address, size))
        out = bytearray()
        for page in range(address // PAGE, (address + size - 1) // PAGE + 1):
            if page not in self.pages:
                raise PhysicalReadError(address, size)
            out += self.pages[page]
        start = address - (address // PAGE) * PAGE
        return bytes(out[start : start + size])


# --- long descriptors (LPAE, AArch64) ----------------------------------------


def leaf(
    *,
    ap: int = 0b00,
    idx: int = 0,
    sh: int = 0b11,
    af: bool = True,
    xn: bool = False,
    pxn: bool = False,
    ng: bool = False,
    contiguous: bool = False,
) -> int:
    """Lower and upper attributes of a block/page descriptor (no type bits, no address)."""
    return (
        idx << 2
        | ap << 6
        | sh << 8
        | int(af) << 10
        | int(ng) << 11
        | int(contiguous) << 52
        | int(pxn) << 53
        | int(xn) << 54
    )


def table_attrs(*, ap_table: int = 0, xn_table: bool = False, pxn_table: bool = False) -> int:
    return ap_table << 61 | int(xn_table) << 60 | int(pxn_table) << 59


class LongTables:
    """Builds long-descriptor tables for one TTBR."""

    def __init__(
        self, mem: PhysMem, granule_bits: int, input_bits: int, root: int, pool: int
    ) -> None:
        self.mem, self.g, self.input_bits = mem, granule_bits, input_bits
        self.stride = granule_bits - 3
        levels = -(-(input_bits - granule_bits) // self.stride)
        self.start_level = 4 - levels
        self.root = root
        self.pool = pool
        mem.back(root, max(8 << (input_bits - self.shift(self.start_level)), 8))

    def shift(self, level: int) -> int:
        return self.g + self.stride * (3 - level)

    def index(self, va: int, level: int) -> int:
        bits = self.stride
        if level == self.start_level:
            bits = self.input_bits - self.shift(level)
        return (va >> self.shift(level)) & ((1 << bits) - 1)

    def alloc(self) -> int:
        address = self.pool
        self.pool += 1 << self.g
        self.mem.back(address, 1 << self.g)
        return address

    def entry(self, va: int, level: int) -> int:
        """Descriptor address for ``va`` at ``level``; the tables above must exist."""
        table = self.root
        for lvl in range(self.start_level, level):
            descriptor = int.from_bytes(self.mem(table + 8 * self.index(va, lvl), 8), "little")
            assert descriptor & 0b11 == 0b11, f"no table at level {lvl}"
            table = descriptor & ((1 << 48) - 1) & ~((1 << self.g) - 1)
        return table + 8 * self.index(va, level)

    def table_at(self, va: int, level: int, attrs: int = 0) -> int:
        """Ensure tables down to ``level`` exist for ``va``; return that level's table."""
        table = self.root
        for lvl in range(self.start_level, level):
            address = table + 8 * self.index(va, lvl)
            descriptor = int.from_bytes(self.mem(address, 8), "little")
            if descriptor & 0b11 != 0b11:
                descriptor = self.alloc() | 0b11 | attrs
                self.mem.put64(address, descriptor)
            table = descriptor & ((1 << 48) - 1) & ~((1 << self.g) - 1)
        return table

    def map(self, va: int, out: int, size: int, attrs: int, table_bits: int = 0) -> None:
        level = next(lvl for lvl in range(4) if 1 << self.shift(lvl) == size)
        self.table_at(va, level, table_bits)
        kind = 0b11 if level == 3 else 0b01
        self.mem.put64(self.entry(va, level), out | attrs | kind)

    def put(self, va: int, level: int, descriptor: int) -> None:
        self.table_at(va, level)
        self.mem.put64(self.entry(va, level), descriptor)


# --- short descriptors --------------------------------------------------------


@dataclass(frozen=True)
class SA:
    """Short-descriptor leaf attributes (defaults: full access, Normal WB-WA)."""

    ap: int = 0b011
    tex: int = 0b001
    c: int = 1
    b: int = 1
    s: int = 0
    xn: bool = False
    ng: bool = False


class ShortTables:
    """Builds a short-descriptor first-level table and its second-level tables."""

    def __init__(self, mem: PhysMem, l1: int, pool: int, entries: int = 4096) -> None:
        self.mem, self.l1, self.pool = mem, l1, pool
        mem.back(l1, 4 * entries)

    @staticmethod
    def _section_bits(a: SA, domain: int, pxn: bool) -> int:
        return (
            0b10
            | int(pxn)
            | a.b << 2
            | a.c << 3
            | int(a.xn) << 4
            | domain << 5
            | (a.ap & 0b11) << 10
            | a.tex << 12
            | (a.ap >> 2) << 15
            | a.s << 16
            | int(a.ng) << 17
        )

    def section(self, va: int, pa: int, a: SA = SA(), *, domain: int = 0, pxn: bool = False) -> int:
        descriptor = pa & 0xFFF00000 | self._section_bits(a, domain, pxn)
        self.mem.put32(self.l1 + 4 * (va >> 20), descriptor)
        return descriptor

    def supersection(self, va: int, pa: int, a: SA = SA(), *, pxn: bool = False) -> int:
        bits = self._section_bits(a, 0, pxn) | 1 << 18
        base = pa & 0xFF000000 | ((pa >> 32) & 0xF) << 20 | ((pa >> 36) & 0xF) << 5
        for i in range(16):
            self.mem.put32(self.l1 + 4 * ((va >> 20) + i), base | bits)
        return base | bits

    def page_table(self, va: int, *, domain: int = 0, pxn: bool = False) -> int:
        address = self.l1 + 4 * (va >> 20)
        descriptor = int.from_bytes(self.mem(address, 4), "little")
        if descriptor & 0b11 == 0b01:
            return descriptor & 0xFFFFFC00
        l2 = self.pool
        self.pool += 1024
        self.mem.back(l2, 1024)
        self.mem.put32(address, l2 | 0b01 | int(pxn) << 2 | domain << 5)
        return l2

    def small(self, va: int, pa: int, a: SA = SA(), *, domain: int = 0, pxn: bool = False) -> int:
        descriptor = (
            pa & 0xFFFFF000
            | 0b10
            | int(a.xn)
            | a.b << 2
            | a.c << 3
            | (a.ap & 0b11) << 4
            | a.tex << 6
            | (a.ap >> 2) << 9
            | a.s << 10
            | int(a.ng) << 11
        )
        l2 = self.page_table(va, domain=domain, pxn=pxn)
        self.mem.put32(l2 + 4 * ((va >> 12) & 0xFF), descriptor)
        return descriptor

    def large(self, va: int, pa: int, a: SA = SA(), *, domain: int = 0) -> int:
        descriptor = (
            pa & 0xFFFF0000
            | 0b01
            | a.b << 2
            | a.c << 3
            | (a.ap & 0b11) << 4
            | (a.ap >> 2) << 9
            | a.s << 10
            | int(a.ng) << 11
            | a.tex << 12
            | int(a.xn) << 15
        )
        l2 = self.page_table(va, domain=domain)
        first = (va >> 12) & 0xF0
        for i in range(16):
            self.mem.put32(l2 + 4 * (first + i), descriptor)
        return descriptor
