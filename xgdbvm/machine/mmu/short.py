"""ARMv7 short-descriptor table walks (TTBCR.EAE=0), ARM DDI 0406C B3.5.

TTBCR.N splits the 32-bit space: VAs whose top N bits are zero use TTBR0
(a 16K >> N first-level table), the rest use TTBR1 (a full 16K table);
TTBCR.PD0/PD1 turn a walk into a section translation fault.

First level (index VA[31:20], 4-byte entries): 0b00 fault; 0b01 page table
(base [31:10], PXN 2, NS 3, domain 8:5); 0b1x section (PXN 0, B 2, C 3, XN 4,
domain 8:5, AP[1:0] 11:10, TEX 14:12, AP[2] 15, S 16, nG 17, NS 19, base
[31:20]) or, with bit 18 set, a 16M supersection (base [31:24], PA[35:32] in
23:20, PA[39:36] in 8:5, always domain 0), repeated in 16 consecutive entries.

Second level (index VA[19:12]): 0b00 fault; 0b01 64K large page (B 2, C 3,
AP[1:0] 5:4, AP[2] 9, S 10, nG 11, TEX 14:12, XN 15, base [31:16]), repeated
in 16 entries; 0b1x 4K small page (XN 0, B 2, C 3, AP[1:0] 5:4, TEX 8:6,
AP[2] 9, S 10, nG 11, base [31:12]).

Fault order: translation, access flag (SCTLR.AFE=1 and AP[0]=0), domain
(DACR no access or reserved); permissions come from ``check`` and are
skipped for Manager domains. Level 1 faults use the section codes, level 2
the page codes.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass, replace
from functools import lru_cache

from xgdbvm.machine.mmu.fault import Fault, FaultKind, TableFormat
from xgdbvm.machine.mmu.memattr import remap_memory, tex_memory
from xgdbvm.machine.mmu.permissions import short_permissions
from xgdbvm.machine.mmu.regime import Arm32Regime, Sctlr32, Ttbcr
from xgdbvm.machine.mmu.result import (
    NO_PERMISSIONS,
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

FMT = TableFormat.SHORT
SECTION = 1 << 20
SUPERSECTION = 1 << 24
LARGE_PAGE = 1 << 16
SMALL_PAGE = 1 << 12
DOMAIN_MANAGER = 0b11
DOMAIN_CLIENT = 0b01


@dataclass(frozen=True, slots=True)
class _Leaf:
    """The fields of a section, supersection or page descriptor."""

    output: int
    span: int
    ap: int  # AP[2:0]
    tex: int
    c: int
    b: int
    s: int
    ng: bool
    xn: bool
    pxn: bool
    domain: int


def _decode_section(d: int) -> _Leaf:
    ap = ((d >> 10) & 0b11) | ((d >> 15) & 1) << 2
    tex, c, b, s = (d >> 12) & 0b111, (d >> 3) & 1, (d >> 2) & 1, (d >> 16) & 1
    ng, xn, pxn = bool(d & (1 << 17)), bool(d & (1 << 4)), bool(d & 1)
    if d & (1 << 18):
        output = (d & 0xFF000000) | ((d >> 20) & 0xF) << 32 | ((d >> 5) & 0xF) << 36
        return _Leaf(output, SUPERSECTION, ap, tex, c, b, s, ng, xn, pxn, domain=0)
    output, domain = d & 0xFFF00000, (d >> 5) & 0xF
    return _Leaf(output, SECTION, ap, tex, c, b, s, ng, xn, pxn, domain)


def _decode_page(d: int, domain: int, pxn: bool) -> _Leaf:
    ap = ((d >> 4) & 0b11) | ((d >> 9) & 1) << 2
    s, ng, c, b = (d >> 10) & 1, bool(d & (1 << 11)), (d >> 3) & 1, (d >> 2) & 1
    if d & 0b10:
        tex, xn = (d >> 6) & 0b111, bool(d & 1)
        return _Leaf(d & 0xFFFFF000, SMALL_PAGE, ap, tex, c, b, s, ng, xn, pxn, domain)
    tex, xn = (d >> 12) & 0b111, bool(d & (1 << 15))
    return _Leaf(d & 0xFFFF0000, LARGE_PAGE, ap, tex, c, b, s, ng, xn, pxn, domain)


@lru_cache(maxsize=1024)
def _attributes(leaf: _Leaf, regime: Arm32Regime) -> Attributes:
    sctlr = regime.sctlr
    afe = bool(sctlr & Sctlr32.AFE)
    if sctlr & Sctlr32.TRE:
        memory, share = remap_memory(regime.prrr, regime.nmrr, leaf.tex, leaf.c, leaf.b, leaf.s)
    else:
        memory, share = tex_memory(leaf.tex, leaf.c, leaf.b, leaf.s)
    domain = regime.domain_access(leaf.domain)
    permissions = short_permissions(
        leaf.ap,
        leaf.xn,
        leaf.pxn,
        afe=afe,
        manager=domain == DOMAIN_MANAGER,
        wxn=bool(sctlr & Sctlr32.WXN),
        uwxn=bool(sctlr & Sctlr32.UWXN),
    )
    if domain not in (DOMAIN_CLIENT, DOMAIN_MANAGER):
        permissions = NO_PERMISSIONS  # every access takes a domain fault
    return Attributes(
        permissions=permissions,
        memory=memory,
        shareability=share,
        not_global=leaf.ng,
        accessed=not afe or bool(leaf.ap & 1),
        domain=leaf.domain,
    )


def _leaf_key(leaf: _Leaf) -> _Leaf:
    """The leaf with its address fields zeroed, so the attribute cache stays small."""
    return replace(leaf, output=0, span=0)


def _first_level(regime: Arm32Regime, va: int) -> tuple[int, int] | None:
    """(TTBR number, first-level table base) for ``va``, or None if that walk is disabled."""
    n = regime.n
    if n and va >> (32 - n):
        return None if regime.ttbcr & Ttbcr.PD1 else (1, regime.ttbr1 & 0xFFFFC000)
    if regime.ttbcr & Ttbcr.PD0:
        return None
    return 0, regime.ttbr0 & 0xFFFFFFFF & ~(0x3FFF >> n)


def walk(regime: Arm32Regime, read_phys: ReadPhys, va: int) -> Translation:
    first = _first_level(regime, va)
    if first is None:
        return Translation(va, None, Fault.make(FMT, FaultKind.TRANSLATION, 1), FMT)
    ttbr, table = first
    steps: list[WalkStep] = []

    def read(level: int, table: int, index: int, span: int) -> int | None:
        address = table + 4 * index
        try:
            return int.from_bytes(read_phys(address, 4), "little")
        except PhysicalReadError:
            steps.append(
                WalkStep(FMT, level, table, index, address, None, StepKind.UNREADABLE, span)
            )
            return None

    def step(
        level: int,
        table: int,
        index: int,
        d: int,
        kind: StepKind,
        span: int,
        out: int | None = None,
    ) -> None:
        steps.append(WalkStep(FMT, level, table, index, table + 4 * index, d, kind, span, out))

    def fail(kind: FaultKind, level: int, domain: int | None = None) -> Translation:
        at = steps[-1].address if kind is FaultKind.TABLE_READ else None
        fault = Fault.make(FMT, kind, level, domain=domain, table_address=at)
        return Translation(va, None, fault, FMT, tuple(steps), ttbr=ttbr)

    index = va >> 20
    d1 = read(1, table, index, SECTION)
    if d1 is None:
        return fail(FaultKind.TABLE_READ, 1)
    if d1 & 0b11 == 0:
        step(1, table, index, d1, StepKind.INVALID, SECTION)
        return fail(FaultKind.TRANSLATION, 1)
    if d1 & 0b11 == 0b01:
        domain, l2 = (d1 >> 5) & 0xF, d1 & 0xFFFFFC00
        step(1, table, index, d1, StepKind.TABLE, SECTION, l2)
        index = (va >> 12) & 0xFF
        d2 = read(2, l2, index, SMALL_PAGE)
        if d2 is None:
            return fail(FaultKind.TABLE_READ, 2, domain)
        if d2 & 0b11 == 0:
            step(2, l2, index, d2, StepKind.INVALID, SMALL_PAGE)
            return fail(FaultKind.TRANSLATION, 2, domain)
        leaf, level = _decode_page(d2, domain, bool(d1 & 0b100)), 2
        step(2, l2, index, d2, StepKind.PAGE, leaf.span, leaf.output)
    else:
        leaf, level = _decode_section(d1), 1
        step(1, table, index, d1, StepKind.BLOCK, leaf.span, leaf.output)
    attributes = _attributes(_leaf_key(leaf), regime)
    fault = None
    if not attributes.accessed:
        fault = Fault.make(FMT, FaultKind.ACCESS_FLAG, level, domain=leaf.domain)
    elif regime.domain_access(leaf.domain) not in (DOMAIN_CLIENT, DOMAIN_MANAGER):
        fault = Fault.make(FMT, FaultKind.DOMAIN, level, domain=leaf.domain)
    ipa = leaf.output | (va & (leaf.span - 1))
    return Translation(va, ipa, fault, FMT, tuple(steps), attributes, leaf.span, ttbr)


def leaves(
    regime: Arm32Regime, read_phys: ReadPhys, budget: WalkBudget, lo: int, hi: int
) -> Iterator[Leaf]:
    """Every valid leaf overlapping [lo, hi), in VA order, one entry at a time."""
    split = 1 << (32 - regime.n)
    halves = [(0, split), (split, 1 << 32)] if regime.n else [(0, split)]
    for start, end in halves:
        lo_r, hi_r = max(lo, start), min(hi, end)
        first = _first_level(regime, start)
        if lo_r >= hi_r or first is None or not budget.take_table():
            continue
        table = first[1]
        i0, i1 = lo_r >> 20, (hi_r - 1) >> 20
        try:
            data = read_phys(table + 4 * i0, 4 * (i1 - i0 + 1))
        except PhysicalReadError:
            budget.unreadable.append(table)
            continue
        for offset, (d1,) in enumerate(struct.iter_unpack("<I", data)):
            va = (i0 + offset) << 20
            if d1 & 0b11 == 0:
                continue
            if d1 & 0b11 != 0b01:
                leaf = _decode_section(d1)
                ipa = leaf.output | (va & (leaf.span - 1))
                yield va, SECTION, ipa, _attributes(_leaf_key(leaf), regime)
                continue
            yield from _page_leaves(regime, read_phys, budget, d1, va, lo_r, hi_r)
            if budget.exhausted:
                return


def _page_leaves(
    regime: Arm32Regime,
    read_phys: ReadPhys,
    budget: WalkBudget,
    d1: int,
    base_va: int,
    lo: int,
    hi: int,
) -> Iterator[Leaf]:
    if not budget.take_table():
        return
    l2 = d1 & 0xFFFFFC00
    j0 = max(0, (lo - base_va) >> 12)
    j1 = min(255, (hi - 1 - base_va) >> 12)
    try:
        data = read_phys(l2 + 4 * j0, 4 * (j1 - j0 + 1))
    except PhysicalReadError:
        budget.unreadable.append(l2)
        return
    domain, pxn = (d1 >> 5) & 0xF, bool(d1 & 0b100)
    for offset, (d2,) in enumerate(struct.iter_unpack("<I", data)):
        if d2 & 0b11 == 0:
            continue
        va = base_va + ((j0 + offset) << 12)
        leaf = _decode_page(d2, domain, pxn)
        ipa = leaf.output | (va & (leaf.span - 1))
        yield va, SMALL_PAGE, ipa, _attributes(_leaf_key(leaf), regime)


def describe(step: WalkStep) -> str:
    """The decoded fields of one short-descriptor step."""
    d = step.descriptor
    if d is None:
        return "unreadable"
    if step.kind is StepKind.INVALID:
        return "invalid"
    if step.kind is StepKind.TABLE:
        parts = [f"page table -> {step.output:#x}", f"domain={(d >> 5) & 0xF}"]
        parts += ["PXN"] if d & 0b100 else []
        parts += ["NS"] if d & 0b1000 else []
        return " ".join(parts)
    if step.kind is StepKind.BLOCK:
        leaf = _decode_section(d)
        name = "supersection" if leaf.span == SUPERSECTION else "section"
    else:
        leaf = _decode_page(d, 0, False)
        name = "small page" if leaf.span == SMALL_PAGE else "large page"
    parts = [f"{name} {human_size(leaf.span)} -> {leaf.output:#x}", f"AP={leaf.ap:03b}"]
    parts.append(f"TEX={leaf.tex:03b} C={leaf.c} B={leaf.b} S={leaf.s}")
    parts += ["XN"] if leaf.xn else []
    parts += ["PXN"] if leaf.pxn else []
    parts += ["nG"] if leaf.ng else []
    if step.kind is StepKind.BLOCK:
        parts.append(f"domain={leaf.domain}")
    return " ".join(parts)
