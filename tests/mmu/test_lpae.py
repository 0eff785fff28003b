"""ARMv7 LPAE long-descriptor walks (TTBCR.EAE=1): T0SZ/T1SZ, blocks, pages, faults."""

from __future__ import annotations

import pytest

from xgdbvm.machine.mmu import (
    Access,
    Arm32Regime,
    FaultKind,
    Sctlr32,
    Shareability,
    StepKind,
    TableFormat,
    Ttbcr,
    check,
    translate,
)

from .tables import LongTables, PhysMem, leaf, table_attrs

ROOT0 = 0x4000_0000
ROOT1 = 0x4200_0000
POOL = 0x4400_0000
# AttrIndx 0..3 in MAIR0, 4..7 in MAIR1.
MAIR0 = 0xFF44_0400  # 0 nGnRnE, 1 nGnRE, 2 normal NC, 3 normal WB
MAIR1 = 0x0CF0_4FBB  # 4 WT, 5 inner WB outer NC, 6 tagged, 7 GRE
EAE = int(Ttbcr.EAE)


def regime(ttbcr: int = EAE, **kw: int) -> Arm32Regime:
    fields = {
        "sctlr": int(Sctlr32.M),
        "ttbcr": ttbcr,
        "ttbr0": ROOT0,
        "ttbr1": ROOT1,
        "mair0": MAIR0,
        "mair1": MAIR1,
    } | kw
    return Arm32Regime(**fields)


def ttbcr(t0sz: int = 0, t1sz: int = 0, extra: int = 0) -> int:
    return EAE | t0sz | t1sz << 16 | extra


@pytest.fixture
def mem() -> PhysMem:
    return PhysMem()


@pytest.fixture
def low(mem: PhysMem) -> LongTables:
    return LongTables(mem, 12, 32, ROOT0, POOL)


def test_blocks_and_pages(mem: PhysMem, low: LongTables) -> None:
    assert low.start_level == 1
    low.map(0xC000_0000, 0xFF_4000_0000, 1 << 30, leaf(idx=3))
    low.map(0x4020_0000, 0x1_0000_0000, 1 << 21, leaf(idx=5, sh=0b10))
    low.map(0x0040_1000, 0x5000_3000, 1 << 12, leaf(idx=4))
    gig = translate(regime(), mem, 0xC012_3456)
    assert gig.format is TableFormat.LPAE and gig.fault is None
    assert gig.ipa == 0xFF_4012_3456 and gig.page_size == 1 << 30
    assert [s.kind for s in gig.steps] == [StepKind.BLOCK]
    assert gig.attributes is not None
    assert (gig.attributes.memory, gig.attributes.shareability) == ("normal-wb", Shareability.INNER)
    two = translate(regime(), mem, 0x4021_2345)
    assert two.ipa == 0x1_0001_2345 and two.page_size == 1 << 21
    assert two.attributes is not None and two.attributes.memory == "normal-iwb-onc"
    assert two.attributes.shareability is Shareability.OUTER
    page = translate(regime(), mem, 0x0040_1ABC)
    assert page.ipa == 0x5000_3ABC and page.page_size == 4096
    assert [(s.level, s.index) for s in page.steps] == [(1, 0), (2, 2), (3, 1)]
    assert page.steps[0].address == ROOT0
    assert page.attributes is not None and page.attributes.memory == "normal-wt"


def test_t1sz_gives_ttbr1_the_top_gigabyte(mem: PhysMem, low: LongTables) -> None:
    high = LongTables(mem, 12, 30, ROOT1, POOL + 0x100000)
    assert high.start_level == 2
    high.map(0xC000_0000, 0x6000_0000, 1 << 21, leaf(idx=3))
    low.map(0xBFE0_0000, 0x7000_0000, 1 << 21, leaf(idx=3))
    r = regime(ttbcr(t1sz=2))
    t = translate(r, mem, 0xC000_3456)
    assert (t.ttbr, t.ipa) == (1, 0x6000_3456)
    assert (t.steps[0].level, t.steps[0].index, t.steps[0].table) == (2, 0, ROOT1)
    t = translate(r, mem, 0xBFFF_F000)
    assert (t.ttbr, t.ipa) == (0, 0x701F_F000)
    assert (t.steps[0].level, t.steps[0].index) == (1, 2)


def test_gap_between_ranges_is_a_level_1_translation_fault(mem: PhysMem) -> None:
    r = regime(ttbcr(t0sz=2, t1sz=1))
    t = translate(r, mem, 0x4000_0000)
    assert t.fault is not None and t.steps == ()
    assert (t.fault.kind, t.fault.level, t.fault.status) == (FaultKind.TRANSLATION, 1, 0b000101)
    assert t.fault.fsr(Access.READ) == 0x205


def test_epd1(mem: PhysMem) -> None:
    t = translate(regime(ttbcr(t1sz=2, extra=Ttbcr.EPD1)), mem, 0xC000_0000)
    assert t.fault is not None and t.fault.fsr(Access.WRITE) == 0xA05


def test_translation_faults_at_each_level(mem: PhysMem, low: LongTables) -> None:
    low.map(0x0000_1000, 0x5000_0000, 1 << 12, leaf())
    r = regime()
    codes = []
    for va in (0x8000_0000, 0x0020_0000, 0x0000_2000):
        t = translate(r, mem, va)
        assert t.fault is not None and t.fault.kind is FaultKind.TRANSLATION
        codes.append((t.fault.level, t.fault.status, t.fault.fsr(Access.READ)))
        assert t.steps[-1].kind is StepKind.INVALID
    assert codes == [(1, 0x05, 0x205), (2, 0x06, 0x206), (3, 0x07, 0x207)]
    low.put(0x0000_3000, 3, 0x5000_0000 | leaf() | 0b01)  # reserved level 3 encoding
    t = translate(r, mem, 0x0000_3000)
    assert t.fault is not None and t.fault.status == 0x07


def test_access_flag(mem: PhysMem, low: LongTables) -> None:
    low.map(0x0000_1000, 0x5000_0000, 1 << 12, leaf(af=False))
    low.map(0x4000_0000, 0x8000_0000, 1 << 30, leaf(af=False))
    page = translate(regime(), mem, 0x0000_1000)
    assert page.fault is not None and page.fault.kind is FaultKind.ACCESS_FLAG
    assert (page.fault.status, page.fault.fsr(Access.FETCH)) == (0x0B, 0x20B)
    assert page.ipa == 0x5000_0000
    block = translate(regime(), mem, 0x4000_0000)
    assert block.fault is not None and block.fault.status == 0x09
    assert check(block, Access.READ, True) is block.fault


def test_permission_faults(mem: PhysMem, low: LongTables) -> None:
    low.map(0x0000_1000, 0x5000_0000, 1 << 12, leaf(ap=0b10))  # PL1 read-only
    low.map(0x0000_2000, 0x5000_1000, 1 << 12, leaf(ap=0b01, xn=True))
    ro = translate(regime(), mem, 0x0000_1000)
    fault = check(ro, Access.WRITE, privileged=True)
    assert fault is not None and fault.kind is FaultKind.PERMISSION
    assert (fault.level, fault.status, fault.fsr(Access.WRITE)) == (3, 0x0F, 0xA0F)
    fault = check(ro, Access.READ, privileged=False)
    assert fault is not None and fault.fsr(Access.READ) == 0x20F
    assert check(ro, Access.READ, privileged=True) is None
    xn = translate(regime(), mem, 0x0000_2000)
    fault = check(xn, Access.FETCH, privileged=True)
    assert fault is not None and fault.fsr(Access.FETCH) == 0x20F
    assert check(xn, Access.WRITE, privileged=False) is None


def test_execute_rules(mem: PhysMem, low: LongTables) -> None:
    low.map(0x0000_1000, 0x5000_0000, 1 << 12, leaf(ap=0b00))
    low.map(0x0000_2000, 0x5000_1000, 1 << 12, leaf(ap=0b01, pxn=True))
    low.map(0x0000_3000, 0x5000_2000, 1 << 12, leaf(ap=0b01))

    def perms(va: int, sctlr: int = Sctlr32.M) -> str:
        a = translate(regime(sctlr=sctlr), mem, va).attributes
        assert a is not None
        return str(a.permissions)

    assert perms(0x1000) == "EL1:rwx EL0:---"  # PL0 executes only what it can read
    assert perms(0x2000) == "EL1:rw- EL0:rwx"
    assert perms(0x3000, Sctlr32.M | Sctlr32.UWXN) == "EL1:rw- EL0:rwx"
    assert perms(0x3000, Sctlr32.M | Sctlr32.WXN) == "EL1:rw- EL0:rw-"


def test_hierarchical_table_attributes(mem: PhysMem, low: LongTables) -> None:
    low.map(0x0000_0000, 0x5000_0000, 1 << 12, leaf(ap=0b01), table_attrs(ap_table=0b10))
    low.map(0x4000_0000, 0x5000_1000, 1 << 12, leaf(ap=0b01), table_attrs(ap_table=0b01))
    low.map(0x8000_0000, 0x5000_2000, 1 << 12, leaf(ap=0b01), table_attrs(xn_table=True))
    low.map(0xC000_0000, 0x5000_3000, 1 << 12, leaf(ap=0b01), table_attrs(pxn_table=True))
    got = []
    for va in (0x0000_0000, 0x4000_0000, 0x8000_0000, 0xC000_0000):
        a = translate(regime(), mem, va).attributes
        assert a is not None
        got.append(str(a.permissions))
    assert got == ["EL1:r-x EL0:r-x", "EL1:rwx EL0:---", "EL1:rw- EL0:rw-", "EL1:rw- EL0:rwx"]


def test_address_size_faults(mem: PhysMem, low: LongTables) -> None:
    mem.put64(ROOT0 + 8 * 1, 1 << 40 | 0x4500_0000 | 0b11)  # table above 40 bits
    low.map(0x0000_1000, 0x5000_0000, 1 << 12, leaf())
    mem.put64(low.entry(0x0000_1000, 3), 1 << 41 | 0x5000_0000 | leaf() | 0b11)
    t = translate(regime(), mem, 0x4000_0000)
    assert t.fault is not None and t.fault.kind is FaultKind.ADDRESS_SIZE
    assert (t.fault.level, t.fault.fsr(Access.READ)) == (1, 0x201)
    t = translate(regime(), mem, 0x0000_1000)
    assert t.fault is not None and (t.fault.level, t.fault.status) == (3, 0x03)
    t = translate(regime(ttbr0=1 << 42 | ROOT0), mem, 0x0000_1000)
    assert t.fault is not None and (t.fault.level, t.fault.fsr(Access.READ)) == (0, 0x200)


def test_unbacked_tables(mem: PhysMem, low: LongTables) -> None:
    t = translate(regime(ttbr0=0x7000_0000), mem, 0x8000_0000)
    assert t.fault is not None and t.fault.kind is FaultKind.TABLE_READ
    assert (t.fault.level, t.fault.status) == (1, 0b010101)
    assert t.fault.table_address == 0x7000_0000 + 8 * 2
    low.map(0x0000_1000, 0x5000_0000, 1 << 12, leaf())
    mem.unback(low.entry(0x0000_1000, 3))
    t = translate(regime(), mem, 0x0000_1000)
    assert t.fault is not None and (t.fault.level, t.fault.status) == (3, 0b010111)
    assert [s.kind for s in t.steps] == [StepKind.TABLE, StepKind.TABLE, StepKind.UNREADABLE]


def test_asid_from_a1(mem: PhysMem) -> None:
    r = regime(ttbcr(extra=Ttbcr.A1), ttbr0=0x12 << 48 | ROOT0, ttbr1=0x34 << 48 | ROOT1)
    assert r.asid == 0x34
    assert regime(ttbr0=0x12 << 48 | ROOT0).asid == 0x12
