"""Enumerating the whole stage-1 map as merged ranges."""

from __future__ import annotations

import pytest

from xgdbvm.machine.mmu import (
    Arm32Regime,
    Arm64Regime,
    PageTableMap,
    SctlrEl1,
    TableFormat,
    Ttbcr,
    mappings,
    translate,
)
from xgdbvm.machine.mmu.regime import Sctlr32

from .tables import SA, LongTables, PhysMem, ShortTables, leaf

ROOT0, ROOT1, POOL0, POOL1 = 0x4000_0000, 0x4800_0000, 0x5000_0000, 0x5800_0000
TCR_48 = 16 | 16 << 16 | 0b10 << 30 | 0b101 << 32  # T0SZ=T1SZ=16, 4K granules, 48-bit IPS


def a64(**kw: int) -> Arm64Regime:
    fields = {"sctlr": int(SctlrEl1.M), "tcr": TCR_48, "ttbr0": ROOT0, "ttbr1": ROOT1} | kw
    return Arm64Regime(mair=0xFF, **fields)


def spans(table: PageTableMap) -> list[tuple[int, int, int]]:
    return [(r.va, r.size, r.ipa) for r in table.ranges]


@pytest.fixture
def mem() -> PhysMem:
    return PhysMem()


@pytest.fixture
def low(mem: PhysMem) -> LongTables:
    t = LongTables(mem, 12, 48, ROOT0, POOL0)
    mem.back(ROOT1, 4096)  # an empty TTBR1 table
    for i in range(3):  # three consecutive pages: one range
        t.map(0x1000 * (1 + i), 0x5000_0000 + 0x1000 * i, 4096, leaf())
    t.map(0x4000, 0x6000_0000, 4096, leaf())  # IPA not consecutive: new range
    t.map(0x5000, 0x6000_1000, 4096, leaf(ap=0b10))  # consecutive IPA, other attributes
    t.map(0x20_0000, 0x7000_0000, 1 << 21, leaf())  # a block then pages continuing it
    t.map(0x40_0000, 0x7020_0000, 4096, leaf())
    t.map(0x40_1000, 0x7020_1000, 4096, leaf())
    return t


def test_merges_consecutive_ranges_with_equal_attributes(mem: PhysMem, low: LongTables) -> None:
    high = LongTables(mem, 12, 48, ROOT1, POOL1)
    high.map(0xFFFF_8000_0000_0000, 0x4000_0000, 1 << 30, leaf(xn=True, pxn=True))
    table = mappings(a64(), mem)
    assert table.format is TableFormat.AARCH64 and not table.truncated
    assert spans(table) == [
        (0x1000, 0x3000, 0x5000_0000),
        (0x4000, 0x1000, 0x6000_0000),
        (0x5000, 0x1000, 0x6000_1000),
        (0x20_0000, 0x20_2000, 0x7000_0000),
        (0xFFFF_8000_0000_0000, 1 << 30, 0x4000_0000),
    ]
    assert str(table.ranges[2].attributes.permissions) == "EL1:r-x EL0:--x"
    assert str(table.ranges[4].attributes.permissions) == "EL1:rw- EL0:---"


def test_one_read_per_table(mem: PhysMem, low: LongTables) -> None:
    mem.reads.clear()
    mappings(a64(), mem)
    # Root, one level 1, one level 2, two level 3 tables (0x0 and 0x400000); TTBR1 root.
    assert len(mem.reads) == 6
    assert all(size == 4096 for _, size in mem.reads)


def test_va_range_clips(mem: PhysMem, low: LongTables) -> None:
    table = mappings(a64(), mem, (0x2000, 0x21_0000))
    assert spans(table) == [
        (0x2000, 0x2000, 0x5000_1000),
        (0x4000, 0x1000, 0x6000_0000),
        (0x5000, 0x1000, 0x6000_1000),
        (0x20_0000, 0x1_0000, 0x7000_0000),
    ]


def test_limit_truncates(mem: PhysMem, low: LongTables) -> None:
    table = mappings(a64(), mem, limit=2)
    assert table.truncated and spans(table) == spans(mappings(a64(), mem))[:2]
    assert not mappings(a64(), mem, limit=4).truncated


def test_table_budget_truncates(mem: PhysMem, low: LongTables) -> None:
    table = mappings(a64(), mem, max_tables=3)
    assert table.truncated and table.ranges == ()


def test_unreadable_tables_are_skipped_and_listed(mem: PhysMem, low: LongTables) -> None:
    l3 = low.entry(0x40_0000, 3) & ~0xFFF
    mem.unback(l3)
    table = mappings(a64(), mem)
    assert table.unreadable_tables == (l3,)
    assert spans(table)[-1] == (0x20_0000, 0x20_0000, 0x7000_0000)


def test_short_descriptor_map(mem: PhysMem) -> None:
    ttbr0 = 0x4100_0000
    low = ShortTables(mem, ttbr0, 0x4300_0000, entries=1024)
    high = ShortTables(mem, ROOT0, 0x4400_0000)
    low.section(0x0010_0000, 0x8000_0000)
    low.section(0x0020_0000, 0x8010_0000)
    low.large(0x0030_0000, 0x9000_0000)
    low.small(0x0031_0000, 0x9001_0000)
    low.small(0x0031_1000, 0x9200_0000, SA(ap=0b111))
    high.supersection(0xC000_0000, 0x1_2000_0000)
    high.section(0xFFF0_0000, 0x4000_0000, SA(tex=0, c=0, b=0))
    r = Arm32Regime(sctlr=Sctlr32.M, ttbcr=2, ttbr0=ttbr0, ttbr1=ROOT0, dacr=0x5555_5555)
    table = mappings(r, mem)
    assert table.format is TableFormat.SHORT
    assert spans(table) == [
        (0x0010_0000, 0x20_0000, 0x8000_0000),
        (0x0030_0000, 0x1_1000, 0x9000_0000),
        (0x0031_1000, 0x1000, 0x9200_0000),
        (0xC000_0000, 1 << 24, 0x1_2000_0000),
        (0xFFF0_0000, 1 << 20, 0x4000_0000),
    ]
    assert table.ranges[-1].attributes.memory == "device-nGnRnE"


def test_lpae_map_over_both_ttbrs(mem: PhysMem) -> None:
    low = LongTables(mem, 12, 32, ROOT0, POOL0)
    high = LongTables(mem, 12, 30, ROOT1, POOL1)
    low.map(0x8000_0000, 0x1_0000_0000, 1 << 30, leaf())  # in TTBR0's range
    low.map(0xC000_0000, 0x2_0000_0000, 1 << 30, leaf())  # shadowed: TTBR1 owns it
    high.map(0xC000_0000, 0x4000_0000, 1 << 21, leaf())
    r = Arm32Regime(sctlr=Sctlr32.M, ttbcr=Ttbcr.EAE | 2 << 16, ttbr0=ROOT0, ttbr1=ROOT1)
    table = mappings(r, mem)
    assert spans(table) == [
        (0x8000_0000, 1 << 30, 0x1_0000_0000),
        (0xC000_0000, 1 << 21, 0x4000_0000),
    ]


def test_lpae_ttbr1_takes_the_rest_when_t1sz_is_zero(mem: PhysMem) -> None:
    high = LongTables(mem, 12, 32, ROOT1, POOL1)  # T1SZ=0: a full 32-bit table
    high.map(0x0000_0000, 0x1_0000_0000, 1 << 30, leaf())  # below 2G: TTBR0's, never used
    high.map(0xC000_0000, 0x2_0000_0000, 1 << 30, leaf())
    mem.back(ROOT0, 4096)
    r = Arm32Regime(sctlr=Sctlr32.M, ttbcr=Ttbcr.EAE | 1, ttbr0=ROOT0, ttbr1=ROOT1)
    assert spans(mappings(r, mem)) == [(0xC000_0000, 1 << 30, 0x2_0000_0000)]
    t = translate(r, mem, 0xC000_0004)
    assert (t.ttbr, t.ipa) == (1, 0x2_0000_0004)


def test_mmu_off_is_one_identity_range(mem: PhysMem) -> None:
    table = mappings(Arm32Regime(sctlr=0), mem)
    assert table.format is TableFormat.NONE
    assert spans(table) == [(0, 1 << 32, 0)]
    assert spans(mappings(Arm64Regime(sctlr=0), mem, (0x1000, 0x3000))) == [
        (0x1000, 0x2000, 0x1000)
    ]
