"""Stage-1 walks kept and checked, rather than done again.

gdb reads the same few pages (the code at the pc, the stack) at every stop, and
a hypercall's arguments are mostly in pages its guest used a moment ago; a walk
of the guest's tables in Python costs 50-90 us. A kept walk records the
descriptors it read and is used again only while each of them still holds the
value it saw and the translation regime (SCTLR, TCR, the TTBRs, MAIR: part of
the key) is the same. The walk's answer depends on nothing else, so a kept walk
is never stale, whatever the guest or a debugger wrote meanwhile; checking it
costs one small read per table level.

A debugger's many reads in one stop may skip even that: once checked, a walk
is trusted until ``recheck`` (the guest ran, or a debugger wrote memory). The
vCPU's own accesses (hypercall copies) always check, since the guest runs
between them without the machine knowing what it wrote.

Only walks that translate are kept; a fault is walked again each time.
Permissions are the caller's business (the walk's attributes are the page's).
"""

from __future__ import annotations

from xgdbvm.machine import mmu
from xgdbvm.machine.memory import PAGE_SHIFT, PAGE_SIZE

CAPACITY = 4096  # pages kept; past this the cache starts over
# One descriptor a walk read: (IPA, bytes, value).
Descriptor = tuple[int, int, int]
PAGE_MASK = ~(PAGE_SIZE - 1)


class WalkCache:
    def __init__(self, read_table: mmu.ReadPhys, capacity: int = CAPACITY) -> None:
        self._read_table = read_table
        self._capacity = capacity
        # (regime, va page): (walk, ipa page, descriptors, round last checked in)
        self._pages: dict[
            tuple[mmu.Regime, int], tuple[mmu.Translation, int, tuple[Descriptor, ...], int]
        ] = {}
        self._round = 0
        self.walks = 0  # walks done (for tests and figures)

    def clear(self) -> None:
        self._pages.clear()

    def recheck(self) -> None:
        """Memory may have changed (a run ended, a debugger wrote): check before use."""
        self._round += 1

    def lookup(
        self, regime: mmu.Regime, va: int, *, trust_checked: bool
    ) -> tuple[mmu.Translation, int | None]:
        """The walk of ``va``'s page and the IPA of that page (None: it does not
        translate, and ``walk.fault`` says why). ``trust_checked``: a walk already
        checked since the last ``recheck`` is used as it is (a debugger's reads)."""
        key = (regime, va >> PAGE_SHIFT)
        kept = self._pages.get(key)
        if kept is not None:
            walk, page, descriptors, checked = kept
            if trust_checked and checked == self._round:
                return walk, page
            if self._still_holds(descriptors):
                if checked != self._round:
                    self._pages[key] = (walk, page, descriptors, self._round)
                return walk, page
        walk = self._walk(regime, va)
        if walk.fault is not None or walk.ipa is None:
            return walk, None
        page = walk.ipa & PAGE_MASK
        if len(self._pages) >= self._capacity:
            self._pages.clear()
        self._pages[key] = (walk, page, _descriptors(walk), self._round)
        return walk, page

    def _still_holds(self, descriptors: tuple[Descriptor, ...]) -> bool:
        read = self._read_table
        try:
            return all(
                int.from_bytes(read(address, width), "little") == value
                for address, width, value in descriptors
            )
        except mmu.PhysicalReadError:
            return False

    def _walk(self, regime: mmu.Regime, va: int) -> mmu.Translation:
        self.walks += 1
        return mmu.translate(regime, self._read_table, va)


def _descriptors(walk: mmu.Translation) -> tuple[Descriptor, ...]:
    return tuple(
        (step.address, 4 if step.format is mmu.TableFormat.SHORT else 8, step.descriptor)
        for step in walk.steps
        if step.descriptor is not None
    )
