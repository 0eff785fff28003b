"""Long-descriptor table walks: ARMv7 LPAE and AArch64 with 4K/16K/64K granules.

Descriptor layout (ARM DDI 0406C B3.6.1-2, ARM DDI 0487 D8.3):

- bit 0 valid; bit 1 table (levels < 3) or page (level 3); a level 3 entry
  with bit 1 clear is reserved and faults like an invalid one, and so does a
  block at a level where blocks are not legal for the granule;
- table: next-level address [47:granule], NSTable 63, APTable 62:61,
  XNTable/UXNTable 60, PXNTable 59;
- block/page: output address [47:size], XN/UXN 54, PXN 53, Contiguous 52,
  nG 11, AF 10, SH 9:8, AP[2:1] 7:6, NS 5, AttrIndx 4:2.

Faults: invalid -> translation fault at that level; address bits above the
output size in the TTBR (level 0) or a descriptor (its level) -> address size
fault; AF=0 -> access flag fault (unless TCR_EL1.HA); a table read that
``read_phys`` refuses -> external abort on the walk at that level.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from functools import lru_cache

from xgdbvm.machine.mmu.fault import Fault, FaultKind, TableFormat
from xgdbvm.machine.mmu.geometry import ADDRESS_MASK_48, LongGeometry, Region
from xgdbvm.machine.mmu.memattr import long_shareability, mair_attr, mair_memory
from xgdbvm.machine.mmu.permissions import aarch64_permissions, lpae_permissions
from xgdbvm.machine.mmu.result import (
    Attributes,
    Leaf,
    PhysicalReadError,
    ReadPhys,
    StepKind,
    Translation,
    WalkBudget,
    WalkStep,
    human_size,
)

VALID = 1 << 0
TABLE = 1 << 1
AF = 1 << 10
NG = 1 << 11
CONTIGUOUS = 1 << 52
PXN = 1 << 53
XN = 1 << 54
# The leaf bits that decide the attributes: AttrIndx..nG and Contiguous..XN.
LEAF_ATTR_MASK = 0xFFC | CONTIGUOUS | PXN | XN
# Table attributes gathered as (desc >> 59) & 0xF.
T_PXN, T_XN, T_AP0, T_AP1 = 1, 2, 4, 8


def classify(geometry: LongGeometry, descriptor: int, level: int) -> StepKind:
    if not descriptor & VALID:
        return StepKind.INVALID
    if level == 3:
        return StepKind.PAGE if descriptor & TABLE else StepKind.INVALID
    if descriptor & TABLE:
        return StepKind.TABLE
    return StepKind.BLOCK if level >= geometry.min_block_level else StepKind.INVALID


def _output(geometry: LongGeometry, descriptor: int, kind: StepKind, span: int) -> int:
    low = (1 << geometry.granule_bits) - 1 if kind is StepKind.TABLE else span - 1
    return descriptor & ADDRESS_MASK_48 & ~low


def _too_wide(geometry: LongGeometry, address: int) -> bool:
    return address >> geometry.oa_bits != 0


@lru_cache(maxsize=1024)
def leaf_attributes(
    fmt: TableFormat,
    bits: int,
    table: int,
    mair: int,
    hierarchical: bool,
    wxn: bool,
    uwxn: bool,
) -> Attributes:
    """Attributes of a leaf with ``bits`` = descriptor & LEAF_ATTR_MASK under ``table`` attrs."""
    ap21 = (bits >> 6) & 0b11
    xn, pxn = bool(bits & XN), bool(bits & PXN)
    if hierarchical:
        if table & T_AP0:
            ap21 &= ~0b01  # APTable[0]: no EL0 access below
        if table & T_AP1:
            ap21 |= 0b10  # APTable[1]: read-only below
        xn = xn or bool(table & T_XN)
        pxn = pxn or bool(table & T_PXN)
    if fmt is TableFormat.AARCH64:
        permissions = aarch64_permissions(ap21, xn, pxn, wxn)
    else:
        permissions = lpae_permissions(ap21, xn, pxn, wxn, uwxn)
    memory = mair_memory(mair_attr(mair, (bits >> 2) & 0b111))
    return Attributes(
        permissions=permissions,
        memory=memory,
        shareability=long_shareability(memory, (bits >> 8) & 0b11),
        not_global=bool(bits & NG),
        accessed=bool(bits & AF),
    )


def _attributes(geometry: LongGeometry, descriptor: int, table: int) -> Attributes:
    return leaf_attributes(
        geometry.format,
        descriptor & LEAF_ATTR_MASK,
        table if geometry.hierarchical else 0,
        geometry.mair,
        geometry.hierarchical,
        geometry.wxn,
        geometry.uwxn,
    )


def walk(geometry: LongGeometry, read_phys: ReadPhys, va: int) -> Translation:
    """Translate ``va`` through the tables ``geometry`` describes."""
    fmt = geometry.format

    def fail(
        kind: FaultKind, level: int, steps: list[WalkStep], at: int | None = None
    ) -> Translation:
        fault = Fault.make(fmt, kind, level, table_address=at)
        return Translation(va, None, fault, fmt, tuple(steps), ttbr=geometry.ttbr)

    steps: list[WalkStep] = []
    if _too_wide(geometry, geometry.base):
        return fail(FaultKind.ADDRESS_SIZE, 0, steps)
    table, level, table_attrs = geometry.base, geometry.start_level, 0
    while True:
        shift = geometry.shift(level)
        span = 1 << shift
        index = (va >> shift) & (geometry.entries(level) - 1)
        address = table + 8 * index
        try:
            descriptor = int.from_bytes(read_phys(address, 8), "little")
        except PhysicalReadError:
            steps.append(
                WalkStep(fmt, level, table, index, address, None, StepKind.UNREADABLE, span)
            )
            return fail(FaultKind.TABLE_READ, level, steps, address)
        kind = classify(geometry, descriptor, level)
        if kind is StepKind.INVALID:
            steps.append(WalkStep(fmt, level, table, index, address, descriptor, kind, span))
            return fail(FaultKind.TRANSLATION, level, steps)
        output = _output(geometry, descriptor, kind, span)
        steps.append(WalkStep(fmt, level, table, index, address, descriptor, kind, span, output))
        if _too_wide(geometry, output):
            return fail(FaultKind.ADDRESS_SIZE, level, steps)
        if kind is StepKind.TABLE:
            table_attrs |= (descriptor >> 59) & 0xF
            table, level = output, level + 1
            continue
        attributes = _attributes(geometry, descriptor, table_attrs)
        fault = None
        if not attributes.accessed and not geometry.hw_access_flag:
            fault = Fault.make(fmt, FaultKind.ACCESS_FLAG, level)
        return Translation(
            va,
            output | (va & (span - 1)),
            fault,
            fmt,
            tuple(steps),
            attributes,
            span,
            geometry.ttbr,
        )


def leaves(
    region: Region, read_phys: ReadPhys, budget: WalkBudget, lo: int, hi: int
) -> Iterator[Leaf]:
    """Every valid leaf of ``region`` overlapping [lo, hi), in VA order."""
    geometry = region.geometry
    if _too_wide(geometry, geometry.base):
        return
    lister = _Lister(geometry, read_phys, budget, max(lo, region.start), min(hi, region.end))
    yield from lister.table(geometry.base, geometry.start_level, region.table_va, 0)


class _Lister:
    """Recursive table reader for ``leaves``: one whole (clipped) table per read."""

    def __init__(
        self, geometry: LongGeometry, read_phys: ReadPhys, budget: WalkBudget, lo: int, hi: int
    ) -> None:
        self.geometry, self.read_phys, self.budget = geometry, read_phys, budget
        self.lo, self.hi = lo, hi

    def table(self, table: int, level: int, table_va: int, table_attrs: int) -> Iterator[Leaf]:
        geometry, budget = self.geometry, self.budget
        if self.lo >= self.hi or not budget.take_table():
            return
        span = 1 << geometry.shift(level)
        first = max(0, (self.lo - table_va) // span)
        last = min(geometry.entries(level) - 1, (self.hi - 1 - table_va) // span)
        try:
            data = self.read_phys(table + 8 * first, 8 * (last - first + 1))
        except PhysicalReadError:
            budget.unreadable.append(table)
            return
        for offset, (descriptor,) in enumerate(struct.iter_unpack("<Q", data)):
            if not descriptor & VALID:
                continue
            kind = classify(geometry, descriptor, level)
            if kind is StepKind.INVALID:
                continue
            output = _output(geometry, descriptor, kind, span)
            if _too_wide(geometry, output):
                continue
            va = table_va + (first + offset) * span
            if kind is StepKind.TABLE:
                inherited = table_attrs | ((descriptor >> 59) & 0xF)
                yield from self.table(output, level + 1, va, inherited)
                if budget.exhausted:
                    return
            else:
                yield va, span, output, _attributes(geometry, descriptor, table_attrs)


def describe(step: WalkStep) -> str:
    """The decoded fields of one long-descriptor step."""
    descriptor = step.descriptor
    if descriptor is None:
        return "unreadable"
    if step.kind is StepKind.INVALID:
        return "invalid" if not descriptor & VALID else "reserved encoding"
    if step.kind is StepKind.TABLE:
        parts = [f"table -> {step.output:#x}"]
        attrs = (descriptor >> 59) & 0xF
        if attrs & (T_AP0 | T_AP1):
            parts.append(f"APTable={(attrs >> 2) & 0b11:02b}")
        if attrs & T_XN:
            parts.append("UXNTable" if step.format is TableFormat.AARCH64 else "XNTable")
        if attrs & T_PXN:
            parts.append("PXNTable")
        if descriptor >> 63:
            parts.append("NSTable")
        return " ".join(parts)
    name = "page" if step.kind is StepKind.PAGE else "block"
    parts = [f"{name} {human_size(step.span)} -> {step.output:#x}"]
    parts.append(f"AP={(descriptor >> 6) & 0b11:02b}")
    parts.append(f"AttrIndx={(descriptor >> 2) & 0b111}")
    parts.append(f"SH={(descriptor >> 8) & 0b11:02b}")
    parts.append("AF" if descriptor & AF else "AF=0")
    if descriptor & XN:
        parts.append("UXN" if step.format is TableFormat.AARCH64 else "XN")
    if descriptor & PXN:
        parts.append("PXN")
    if descriptor & NG:
        parts.append("nG")
    if descriptor & CONTIGUOUS:
        parts.append("Contiguous")
    if descriptor & (1 << 5):
        parts.append("NS")
    return " ".join(parts)
