"""The domain's memory as Xen accounts for it: pages owned, Xen pages it maps, the limit.

Policy over the p2m (memory.py is the mechanism): which machine frames back a
gfn, what add_to_physmap may replace, how many pages the domain owns
(tot_pages) and may own (max_pages). Xen's own pages — shared_info and the
grant-table frames — live in a Xen-heap backing and can each be mapped at
one gfn at a time (a second gfn without removing the first is -EBUSY, as
xenmem_add_to_physmap_one does for xenheap pages).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from xgdbvm.machine.memory import (
    PAGE_SHIFT,
    PAGE_SIZE,
    XEN_HEAP_BASE,
    Backing,
    Extent,
    FrameKind,
    PhysicalMemory,
)
from xgdbvm.machine.xen.errno import XenErrno

MAX_GRANT_FRAMES = 64  # gnttab_max_frames default
INITIAL_GRANT_FRAMES = 1
BALLOON_BASE = 0x9_0000_0000  # machine addresses of frames populated at run time
BALLOON_SLACK_PAGES = 256  # max_pages = initial RAM + this, as libxl adds video/slack


@dataclass
class XenPage:
    """One Xen-heap page and the gfn it is mapped at (None: not mapped)."""

    index: int
    gfn: int | None = None


@dataclass
class DomainMemory:
    p2m: PhysicalMemory
    initial: tuple[Extent, ...] = ()
    tot_pages: int = 0
    max_pages: int = 0
    heap: Backing = field(init=False)
    shared_info: XenPage = field(init=False)
    grant_frames: list[XenPage] = field(init=False)
    grant_frames_in_use: int = INITIAL_GRANT_FRAMES
    _balloon_next: int = 0

    def __post_init__(self) -> None:
        pages = 1 + MAX_GRANT_FRAMES
        self.heap = self.p2m.add_backing(
            Backing.allocate("xen-heap", pages * PAGE_SIZE, lambda off: XEN_HEAP_BASE + off)
        )
        self.shared_info = XenPage(0)
        self.grant_frames = [XenPage(1 + i) for i in range(MAX_GRANT_FRAMES)]

    # -- lifecycle ---------------------------------------------------------------------

    def set_initial(self, extents: tuple[Extent, ...]) -> None:
        """The toolstack's p2m (RAM banks and magic pages), restored on every reset."""
        self.initial = extents
        self.reset()

    def reset(self) -> None:
        self.p2m.unmap_all()
        self.p2m.zero()
        for extent in self.initial:
            self.p2m.map(extent)
        ram = sum(e.count for e in self.initial if e.kind is FrameKind.RAM)
        self.tot_pages = ram + sum(e.count for e in self.initial if e.kind is FrameKind.MAGIC)
        self.max_pages = self.tot_pages + BALLOON_SLACK_PAGES
        self.shared_info.gfn = None
        for page in self.grant_frames:
            page.gfn = None
        self.grant_frames_in_use = INITIAL_GRANT_FRAMES

    # -- Xen pages ----------------------------------------------------------------------

    def shared_info_view(self) -> memoryview:
        return self.heap.view[0:PAGE_SIZE]

    def grant_frame_view(self, index: int) -> memoryview:
        start = (1 + index) * PAGE_SIZE
        return self.heap.view[start : start + PAGE_SIZE]

    def _map_xen_page(self, page: XenPage, gfn: int, kind: FrameKind) -> int:
        if page.gfn is not None and page.gfn != gfn:
            return -XenErrno.EBUSY
        if page.gfn == gfn:
            return 0
        self._drop(gfn)
        self.p2m.map(Extent(gfn, 1, kind, self.heap, page.index * PAGE_SIZE))
        page.gfn = gfn
        return 0

    def map_shared_info(self, gfn: int) -> int:
        return self._map_xen_page(self.shared_info, gfn, FrameKind.SHARED_INFO)

    def map_grant_frame(self, index: int, gfn: int) -> int:
        if not 0 <= index < MAX_GRANT_FRAMES:
            return -XenErrno.EINVAL
        self.grant_frames_in_use = max(self.grant_frames_in_use, index + 1)
        return self._map_xen_page(self.grant_frames[index], gfn, FrameKind.GRANT)

    # -- removing and adding frames ---------------------------------------------------

    def _drop(self, gfn: int) -> FrameKind | None:
        """Take whatever is at gfn out of the p2m, with Xen's bookkeeping."""
        removed = self.p2m.unmap(gfn, 1)
        if not removed:
            return None
        kind = removed[0].kind
        if kind in (FrameKind.RAM, FrameKind.MAGIC):
            self.tot_pages -= 1
        for page in (self.shared_info, *self.grant_frames):
            if page.gfn == gfn:
                page.gfn = None
        return kind

    def remove(self, gfn: int) -> int:
        return 0 if self._drop(gfn) is not None else -XenErrno.ENOENT

    def populate(self, gfn: int, order: int) -> bool:
        """Back 2^order frames at gfn with fresh RAM; False if over max_pages."""
        count = 1 << order
        if self.tot_pages + count > self.max_pages:
            return False
        for page in range(gfn, gfn + count):
            self._drop(page)
        base = BALLOON_BASE + self._balloon_next
        self._balloon_next += count * PAGE_SIZE
        backing = self.p2m.add_backing(
            Backing.allocate(f"populated@{gfn:#x}", count * PAGE_SIZE, lambda off: base + off)
        )
        self.p2m.map(Extent(gfn, count, FrameKind.RAM, backing, 0))
        self.tot_pages += count
        return True

    def decrease(self, gfn: int, order: int) -> bool:
        """Give back 2^order RAM frames at gfn; False if any of them is not RAM."""
        count = 1 << order
        for page in range(gfn, gfn + count):
            extent = self.p2m.lookup(page)
            if extent is None or extent.kind is not FrameKind.RAM:
                return False
        for page in range(gfn, gfn + count):
            self._drop(page)
        return True

    def headroom(self, order: int) -> int:
        """How many more extents of 2^order pages the domain may own."""
        return max(self.max_pages - self.tot_pages, 0) >> order

    def maximum_gpfn(self) -> int:
        extents = self.p2m.extents
        return max((e.end - 1 for e in extents), default=0)

    def describe(self, first: int, last: int) -> list[str]:
        """The p2m between two gfns as lines: ranges of one kind, holes between."""
        lines: list[str] = []
        cursor = first
        for extent in self.p2m.extents:
            if extent.end <= first or extent.gfn > last:
                continue
            lo, hi = max(extent.gfn, first), min(extent.end - 1, last)
            if lo > cursor:
                lines.append(f"  gfn {cursor:#09x}-{lo - 1:#09x}  hole")
            rw = "rw" if extent.writable else "ro"
            for run_lo, run_hi in _machine_runs(extent, lo, hi):
                lines.append(
                    f"  gfn {run_lo:#09x}-{run_hi:#09x}  {extent.kind.value:<11} {rw}  "
                    f"mfn {extent.mfn(run_lo):#x}  [{extent.backing.name}]"
                )
            cursor = hi + 1
        if cursor <= last and lines:
            lines.append(f"  gfn {cursor:#09x}-{last:#09x}  hole")
        return lines


def _machine_runs(extent: Extent, lo: int, hi: int) -> list[tuple[int, int]]:
    """Split [lo, hi] where the machine frames stop being consecutive (2 MiB steps)."""
    step = 512
    runs: list[tuple[int, int]] = []
    start = lo
    gfn = lo
    while gfn <= hi:
        nxt = min((gfn // step + 1) * step, hi + 1)
        if nxt <= hi and extent.mfn(nxt) != extent.mfn(nxt - 1) + 1:
            runs.append((start, nxt - 1))
            start = nxt
        gfn = nxt
    runs.append((start, hi))
    return runs


def gfn_of(address: int) -> int:
    return address >> PAGE_SHIFT
