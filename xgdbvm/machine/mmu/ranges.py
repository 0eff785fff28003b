"""The whole current stage-1 map as merged ranges (for ``monitor pagetables``).

Tables are read whole (one ``read_phys`` call per table, clipped to the VA
range asked for) and invalid entries are skipped without decoding. Leaves
come out in VA order; consecutive VAs mapping consecutive IPAs with equal
attributes merge into one ``MappedRange``. The output stops at ``limit``
ranges and the walk at ``max_tables`` tables; either sets ``truncated``.
Tables ``read_phys`` refuses are skipped and listed. Entries that would
fault for every access (AF=0, domain no-access) are still listed: their
attributes say so.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from xgdbvm.machine.mmu import long, short
from xgdbvm.machine.mmu.fault import TableFormat
from xgdbvm.machine.mmu.geometry import Region, aarch64_regions, lpae_regions
from xgdbvm.machine.mmu.regime import MAX_PA_BITS, Arm32Regime, Arm64Regime, Regime
from xgdbvm.machine.mmu.result import Leaf, MappedRange, PageTableMap, ReadPhys, WalkBudget
from xgdbvm.machine.mmu.walk import MMU_OFF_ATTRIBUTES

DEFAULT_LIMIT = 4096
DEFAULT_MAX_TABLES = 8192


def mappings(
    regime: Regime,
    read_phys: ReadPhys,
    va_range: tuple[int, int] | None = None,
    *,
    limit: int = DEFAULT_LIMIT,
    max_tables: int = DEFAULT_MAX_TABLES,
) -> PageTableMap:
    """Enumerate the stage-1 map over ``va_range`` = [start, end) (default: everything)."""
    va_bits = 32 if isinstance(regime, Arm32Regime) else 64
    lo, hi = va_range if va_range is not None else (0, 1 << va_bits)
    lo, hi = max(lo, 0), min(hi, 1 << va_bits)
    budget = WalkBudget(max_tables)
    fmt: TableFormat
    source: Iterable[Leaf]
    match regime:
        case Arm32Regime() | Arm64Regime() if not regime.enabled:
            fmt = TableFormat.NONE
            flat = 1 << 32
            if isinstance(regime, Arm64Regime):
                flat = 1 << min(regime.pa_bits, MAX_PA_BITS)
            source = [(0, flat, 0, MMU_OFF_ATTRIBUTES)]
        case Arm32Regime() if not regime.lpae:
            fmt = TableFormat.SHORT
            source = short.leaves(regime, read_phys, budget, lo, hi)
        case Arm32Regime():
            fmt = TableFormat.LPAE
            source = _regions(lpae_regions(regime), read_phys, budget, lo, hi)
        case Arm64Regime():
            fmt = TableFormat.AARCH64
            source = _regions(aarch64_regions(regime), read_phys, budget, lo, hi)
        case _:
            raise TypeError(f"not a translation regime: {regime!r}")
    ranges, truncated = merge(source, lo, hi, limit)
    return PageTableMap(fmt, tuple(ranges), truncated or budget.exhausted, tuple(budget.unreadable))


def _regions(
    regions: list[Region], read_phys: ReadPhys, budget: WalkBudget, lo: int, hi: int
) -> Iterator[Leaf]:
    for region in regions:
        yield from long.leaves(region, read_phys, budget, lo, hi)
        if budget.exhausted:
            return


def merge(leaves: Iterable[Leaf], lo: int, hi: int, limit: int) -> tuple[list[MappedRange], bool]:
    """Clip leaves to [lo, hi) and merge neighbours; True if more than ``limit`` ranges."""
    out: list[MappedRange] = []
    run: list[Any] | None = None  # [va, size, ipa, attributes] of the range being grown
    for va, size, ipa, attributes in leaves:
        if va < lo:
            ipa, size, va = ipa + (lo - va), size - (lo - va), lo
        size = min(size, hi - va)
        if size <= 0:
            continue
        if (
            run is not None
            and run[0] + run[1] == va
            and run[2] + run[1] == ipa
            and (run[3] is attributes or run[3] == attributes)
        ):
            run[1] += size
            continue
        if run is not None:
            if len(out) == limit:
                return out, True
            out.append(MappedRange(*run))
        run = [va, size, ipa, attributes]
    if run is not None:
        if len(out) == limit:
            return out, True
        out.append(MappedRange(*run))
    return out, False
