"""Which TTBR covers a VA, and the shape of the long-descriptor walk behind it.

LPAE (ARM DDI 0406C B3.6.4): T0SZ/T1SZ split the 32-bit space; with both
zero TTBR0 maps everything, with one zero the other register takes the rest,
with both non-zero the gap between the two ranges faults (level 1). The walk
starts at level 1 when TnSZ is 0 or 1 and at level 2 otherwise; tables use 4K
granules and the output is 40 bits.

AArch64 (ARM DDI 0487 D5.2): VA bit 55 picks TTBR0 or TTBR1; the bits above
the input size (64 - TnSZ, TnSZ in 16..39) must all equal bit 55 (only up to
bit 55 with TBIn), else a level 0 translation fault. The start level is
``4 - ceil((inputsize - granule_bits) / stride)`` with ``stride =
granule_bits - 3``; blocks are legal from level 1 (4K) or level 2 (16K, 64K).
EPDn and out-of-range TnSZ give a level 0 translation fault.
"""

from __future__ import annotations

from dataclasses import dataclass

from xgdbvm.machine.mmu.fault import Fault, FaultKind, TableFormat
from xgdbvm.machine.mmu.regime import (
    Arm32Regime,
    Arm64Regime,
    Granule,
    Sctlr32,
    SctlrEl1,
    TcrEl1,
    Ttbcr,
)

ADDRESS_MASK_48 = (1 << 48) - 1
LPAE_OA_BITS = 40
MIN_TSZ, MAX_TSZ = 16, 39  # AArch64 without FEAT_LVA / FEAT_TTST


@dataclass(frozen=True, slots=True)
class LongGeometry:
    """Everything a long-descriptor walk through one TTBR needs."""

    format: TableFormat
    ttbr: int  # 0 or 1
    granule_bits: int
    input_bits: int
    start_level: int
    oa_bits: int
    base: int  # start table IPA (may exceed oa_bits: that is an address size fault)
    mair: int  # MAIR_EL1, or MAIR0 | MAIR1 << 32
    hierarchical: bool = True  # APTable/XNTable/PXNTable honoured (TCR_EL1.HPDn=0)
    wxn: bool = False
    uwxn: bool = False
    hw_access_flag: bool = False  # TCR_EL1.HA: AF=0 does not fault

    @property
    def stride(self) -> int:
        return self.granule_bits - 3

    def shift(self, level: int) -> int:
        """Lowest VA bit resolved at ``level`` (log2 of the entry span)."""
        return self.granule_bits + self.stride * (3 - level)

    def entries(self, level: int) -> int:
        if level == self.start_level:
            return 1 << (self.input_bits - self.shift(level))
        return 1 << self.stride

    @property
    def min_block_level(self) -> int:
        return 1 if self.granule_bits == Granule.K4 else 2


@dataclass(frozen=True, slots=True)
class Region:
    """A VA range [start, end) and the walk that maps it."""

    start: int
    end: int
    geometry: LongGeometry

    @property
    def table_va(self) -> int:
        """The VA of entry 0 of the start-level table."""
        return self.start & ~((1 << self.geometry.input_bits) - 1)


def _start_level(input_bits: int, granule_bits: int) -> int:
    stride = granule_bits - 3
    return 4 - -(-(input_bits - granule_bits) // stride)


def _table_base(ttbr: int, input_bits: int, granule_bits: int, start_level: int) -> int:
    shift = granule_bits + (granule_bits - 3) * (3 - start_level)
    table_bytes = 8 << (input_bits - shift)
    return ttbr & ADDRESS_MASK_48 & ~(table_bytes - 1) & ~0b111


# --- LPAE -------------------------------------------------------------------


def _lpae_geometry(regime: Arm32Regime, select: int) -> LongGeometry | None:
    ttbcr = regime.ttbcr
    if ttbcr & (Ttbcr.EPD1 if select else Ttbcr.EPD0):
        return None
    input_bits = 32 - (regime.t1sz if select else regime.t0sz)
    level = _start_level(input_bits, Granule.K4)
    ttbr = regime.ttbr1 if select else regime.ttbr0
    return LongGeometry(
        format=TableFormat.LPAE,
        ttbr=select,
        granule_bits=Granule.K4,
        input_bits=input_bits,
        start_level=level,
        oa_bits=LPAE_OA_BITS,
        base=_table_base(ttbr, input_bits, Granule.K4, level),
        mair=(regime.mair0 & 0xFFFFFFFF) | (regime.mair1 & 0xFFFFFFFF) << 32,
        wxn=bool(regime.sctlr & Sctlr32.WXN),
        uwxn=bool(regime.sctlr & Sctlr32.UWXN),
    )


def _lpae_bounds(regime: Arm32Regime) -> tuple[int, int]:
    """(end of TTBR0 range, start of TTBR1 range); equal unless there is a gap."""
    t0sz, t1sz = regime.t0sz, regime.t1sz
    end0 = 1 << (32 - t0sz)
    if not t1sz:
        return end0, end0
    start1 = (1 << 32) - (1 << (32 - t1sz))
    if not t0sz:
        end0 = start1
    return end0, start1


def lpae_select(regime: Arm32Regime, va: int) -> LongGeometry | Fault:
    end0, start1 = _lpae_bounds(regime)
    if va < end0:
        select = 0
    elif va >= start1:
        select = 1
    else:
        return Fault.make(TableFormat.LPAE, FaultKind.TRANSLATION, 1)
    geometry = _lpae_geometry(regime, select)
    if geometry is None:
        return Fault.make(TableFormat.LPAE, FaultKind.TRANSLATION, 1)
    return geometry


def lpae_regions(regime: Arm32Regime) -> list[Region]:
    end0, start1 = _lpae_bounds(regime)
    regions = []
    for start, end, select in ((0, end0, 0), (start1, 1 << 32, 1)):
        geometry = _lpae_geometry(regime, select)
        if start < end and geometry is not None:
            regions.append(Region(start, end, geometry))
    return regions


# --- AArch64 ----------------------------------------------------------------


def _aarch64_geometry(regime: Arm64Regime, select: int) -> LongGeometry | None:
    tsz = regime.tsz(select)
    if regime.walk_disabled(select) or not MIN_TSZ <= tsz <= MAX_TSZ:
        return None
    granule = regime.granule(select)
    input_bits = 64 - tsz
    level = _start_level(input_bits, granule)
    return LongGeometry(
        format=TableFormat.AARCH64,
        ttbr=select,
        granule_bits=granule,
        input_bits=input_bits,
        start_level=level,
        oa_bits=regime.oa_bits,
        base=_table_base(regime.ttbr1 if select else regime.ttbr0, input_bits, granule, level),
        mair=regime.mair,
        hierarchical=regime.hierarchical(select),
        wxn=bool(regime.sctlr & SctlrEl1.WXN),
        hw_access_flag=bool(regime.tcr & TcrEl1.HA),
    )


def aarch64_select(regime: Arm64Regime, va: int) -> LongGeometry | Fault:
    select = (va >> 55) & 1
    geometry = _aarch64_geometry(regime, select)
    if geometry is None:
        return Fault.make(TableFormat.AARCH64, FaultKind.TRANSLATION, 0)
    top = 56 if regime.top_byte_ignored(select) else 64
    width = top - geometry.input_bits
    high = (va >> geometry.input_bits) & ((1 << width) - 1)
    if high != (((1 << width) - 1) if select else 0):
        return Fault.make(TableFormat.AARCH64, FaultKind.TRANSLATION, 0)
    return geometry


def aarch64_regions(regime: Arm64Regime) -> list[Region]:
    regions = []
    for select in (0, 1):
        geometry = _aarch64_geometry(regime, select)
        if geometry is None:
            continue
        size = 1 << geometry.input_bits
        start = (1 << 64) - size if select else 0
        regions.append(Region(start, start + size, geometry))
    return regions
