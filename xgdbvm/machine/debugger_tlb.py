"""Stage-1 translations for a debugger's memory reads, kept and checked, not walked again.

gdb reads the same few pages (the code at the pc, the stack) at every stop, and a
walk of the guest's tables in Python costs 50-90 us. A kept translation records
the descriptors its walk read; it is used again only while each of them still
holds the value the walk saw, and the translation regime (SCTLR, TCR, the TTBRs,
MAIR: part of the key) is the same. The answer of a walk depends on nothing
else, so a kept translation is never stale, whatever the guest or a debugger
wrote meanwhile, and checking it costs one small read per table level. Once
checked, it is trusted until the guest runs again or a debugger writes memory
(``recheck``): the many reads of one stop check each page once.

No permissions are checked: this is the debugger's view (as ``monitor translate``
gives it), not the vCPU's.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from xgdbvm.machine.memory import PAGE_SHIFT, PAGE_SIZE, GuestMemoryFault

if TYPE_CHECKING:
    from xgdbvm.machine import mmu

CAPACITY = 4096  # pages kept; past this the cache starts over
# One descriptor a walk read: (IPA, bytes, value).
Descriptor = tuple[int, int, int]


class DebuggerTlb:
    def __init__(self, read_table: mmu.ReadPhys, capacity: int = CAPACITY) -> None:
        self._read_table = read_table
        self._capacity = capacity
        # (regime, va page): (ipa page, descriptors, the check round it was last checked in)
        self._pages: dict[tuple[mmu.Regime, int], tuple[int, tuple[Descriptor, ...], int]] = {}
        self._round = 0
        self.walks = 0  # translations that needed a walk (for tests and figures)

    def clear(self) -> None:
        self._pages.clear()

    def recheck(self) -> None:
        """Memory may have changed (the guest ran, a debugger wrote): check before use."""
        self._round += 1

    def ipa(self, regime: mmu.Regime, va: int) -> int:
        """The IPA of ``va``; GuestMemoryFault where the guest's tables map nothing."""
        key = (regime, va >> PAGE_SHIFT)
        kept = self._pages.get(key)
        if kept is not None:
            page, descriptors, checked = kept
            if checked == self._round:
                return page | (va & (PAGE_SIZE - 1))
            if self._still_holds(descriptors):
                self._pages[key] = (page, descriptors, self._round)
                return page | (va & (PAGE_SIZE - 1))
        page, descriptors = self._walk(regime, va)
        if len(self._pages) >= self._capacity:
            self._pages.clear()
        self._pages[key] = (page, descriptors, self._round)
        return page | (va & (PAGE_SIZE - 1))

    def _still_holds(self, descriptors: tuple[Descriptor, ...]) -> bool:
        from xgdbvm.machine import mmu

        read = self._read_table
        try:
            return all(
                int.from_bytes(read(address, width), "little") == value
                for address, width, value in descriptors
            )
        except mmu.PhysicalReadError:
            return False

    def _walk(self, regime: mmu.Regime, va: int) -> tuple[int, tuple[Descriptor, ...]]:
        from xgdbvm.machine import mmu

        self.walks += 1
        walk = mmu.translate(regime, self._read_table, va)
        if walk.fault is not None or walk.ipa is None:
            fault = walk.fault
            why = f"stage 1 {fault.kind.value} fault at level {fault.level}" if fault else "no IPA"
            raise GuestMemoryFault(va, 1, why)
        descriptors = tuple(
            (step.address, 4 if step.format is mmu.TableFormat.SHORT else 8, step.descriptor)
            for step in walk.steps
            if step.descriptor is not None
        )
        return walk.ipa & ~(PAGE_SIZE - 1), descriptors
