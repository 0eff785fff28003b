"""ARMv7 short-descriptor walks: sections, supersections, pages, TTBCR.N, faults."""

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
    check,
    translate,
)

from .tables import SA, PhysMem, ShortTables

L1 = 0x4000_0000
POOL = 0x4001_0000
ALL_CLIENT = 0x5555_5555


def regime(**kw: int) -> Arm32Regime:
    fields = {"sctlr": int(Sctlr32.M), "ttbr0": L1, "dacr": ALL_CLIENT} | kw
    return Arm32Regime(**fields)


@pytest.fixture
def mem() -> PhysMem:
    return PhysMem()


@pytest.fixture
def tables(mem: PhysMem) -> ShortTables:
    return ShortTables(mem, L1, POOL)


def test_section(mem: PhysMem, tables: ShortTables) -> None:
    tables.section(0xC010_0000, 0x8000_0000, domain=1)
    t = translate(regime(), mem, 0xC012_3456)
    assert t.fault is None
    assert t.ipa == 0x8002_3456
    assert t.format is TableFormat.SHORT and t.ttbr == 0 and t.page_size == 1 << 20
    (step,) = t.steps
    assert (step.level, step.table, step.index) == (1, L1, 0xC01)
    assert step.address == L1 + 4 * 0xC01 and step.kind is StepKind.BLOCK
    assert step.output == 0x8000_0000
    a = t.attributes
    assert a is not None
    assert a.memory == "normal-wb" and a.shareability is Shareability.NON and a.domain == 1
    assert str(a.permissions) == "EL1:rwx EL0:rwx"


def test_supersection_reaches_40_bit_output(mem: PhysMem, tables: ShortTables) -> None:
    tables.supersection(0xD000_0000, 0xA5_2300_0000)
    t = translate(regime(), mem, 0xD0AB_CDEF)
    assert t.ipa == 0xA5_23AB_CDEF
    assert t.page_size == 1 << 24 and t.steps[0].kind is StepKind.BLOCK
    assert t.attributes is not None and t.attributes.domain == 0


def test_small_and_large_pages(mem: PhysMem, tables: ShortTables) -> None:
    tables.small(0x0001_2000, 0x9000_0000, domain=3)
    tables.large(0x0002_0000, 0xA000_0000, domain=3)
    t = translate(regime(), mem, 0x0001_2345)
    assert t.ipa == 0x9000_0345 and t.page_size == 4096
    assert [s.kind for s in t.steps] == [StepKind.TABLE, StepKind.PAGE]
    l2 = t.steps[0].output
    assert t.steps[1].table == l2 and t.steps[1].index == 0x12
    assert t.attributes is not None and t.attributes.domain == 3
    big = translate(regime(), mem, 0x0002_ABCD)
    assert big.ipa == 0xA000_ABCD and big.page_size == 1 << 16


def test_ttbcr_n_splits_between_ttbr0_and_ttbr1(mem: PhysMem) -> None:
    ttbr0 = 0x4100_0000  # N=2: a 4K first-level table
    low = ShortTables(mem, ttbr0, POOL, entries=1024)
    high = ShortTables(mem, L1, POOL + 0x10000)
    low.section(0x3FF0_0000, 0x1000_0000)
    high.section(0x4000_0000, 0x2000_0000)
    r = regime(ttbcr=2, ttbr0=ttbr0 | 0x5A, ttbr1=L1)  # TTBR0 low bits are attributes
    t0 = translate(r, mem, 0x3FF0_0010)
    assert (t0.ttbr, t0.ipa) == (0, 0x1000_0010)
    assert t0.steps[0].table == ttbr0 and t0.steps[0].address == ttbr0 + 4 * 0x3FF
    t1 = translate(r, mem, 0x4000_0010)
    assert (t1.ttbr, t1.ipa) == (1, 0x2000_0010)
    assert t1.steps[0].address == L1 + 4 * 0x400


def test_pd1_disables_ttbr1_walks(mem: PhysMem) -> None:
    t = translate(regime(ttbcr=2 | 1 << 5, ttbr1=L1), mem, 0x8000_0000)
    assert t.fault is not None and t.fault.kind is FaultKind.TRANSLATION
    assert (t.fault.level, t.fault.status, t.fault.fsr(Access.READ)) == (1, 0b00101, 0x005)
    assert t.steps == () and t.ipa is None


def test_unmapped_first_level_entry(mem: PhysMem, tables: ShortTables) -> None:
    t = translate(regime(), mem, 0x5000_0000)
    assert t.fault is not None
    assert (t.fault.kind, t.fault.level, t.fault.status) == (FaultKind.TRANSLATION, 1, 0b00101)
    assert t.fault.fsr(Access.WRITE) == 0x805
    assert t.steps[0].kind is StepKind.INVALID


def test_unmapped_second_level_entry_reports_domain(mem: PhysMem, tables: ShortTables) -> None:
    tables.small(0x0010_0000, 0x9000_0000, domain=3)
    t = translate(regime(), mem, 0x0010_5000)
    assert t.fault is not None
    assert (t.fault.kind, t.fault.level, t.fault.status) == (FaultKind.TRANSLATION, 2, 0b00111)
    assert t.fault.domain == 3
    assert t.fault.fsr(Access.READ) == 0x037
    assert t.fault.fsr(Access.WRITE) == 0x837
    assert t.fault.fsr(Access.FETCH) == 0x007  # IFSR has no domain field


def test_access_flag_with_afe(mem: PhysMem, tables: ShortTables) -> None:
    tables.section(0x0100_0000, 0x8000_0000, SA(ap=0b010))  # AP[0]=0: not accessed
    tables.small(0x0200_0000, 0x9000_0000, SA(ap=0b010))
    tables.small(0x0200_1000, 0x9000_1000, SA(ap=0b011))
    r = regime(sctlr=Sctlr32.M | Sctlr32.AFE)
    section = translate(r, mem, 0x0100_0000)
    assert section.fault is not None
    assert (section.fault.kind, section.fault.status) == (FaultKind.ACCESS_FLAG, 0b00011)
    assert section.ipa == 0x8000_0000  # the mapping exists; every access aborts
    page = translate(r, mem, 0x0200_0000)
    assert page.fault is not None and page.fault.status == 0b00110
    ok = translate(r, mem, 0x0200_1000)
    assert ok.fault is None
    assert ok.attributes is not None and str(ok.attributes.permissions) == "EL1:rwx EL0:rwx"
    # Without AFE, AP=010 is PL1 RW / PL0 RO and nothing faults.
    plain = translate(regime(), mem, 0x0100_0000)
    assert plain.fault is None and plain.attributes is not None
    assert str(plain.attributes.permissions) == "EL1:rwx EL0:r-x"


def test_domain_fault(mem: PhysMem, tables: ShortTables) -> None:
    tables.section(0x0100_0000, 0x8000_0000, domain=5)
    tables.small(0x0200_0000, 0x9000_0000, domain=5)
    r = regime(dacr=ALL_CLIENT & ~(0b11 << 10))  # domain 5: no access
    section = translate(r, mem, 0x0100_0000)
    assert section.fault is not None
    assert (section.fault.kind, section.fault.level) == (FaultKind.DOMAIN, 1)
    assert section.fault.fsr(Access.READ) == 0x059
    assert section.attributes is not None
    assert str(section.attributes.permissions) == "EL1:--- EL0:---"
    page = translate(r, mem, 0x0200_0000)
    assert page.fault is not None and page.fault.fsr(Access.WRITE) == 0x85B
    assert check(page, Access.READ, True) is page.fault


def test_manager_domain_skips_permission_checks(mem: PhysMem, tables: ShortTables) -> None:
    tables.section(0x0100_0000, 0x8000_0000, SA(ap=0b101, xn=True), domain=2)
    r = regime(dacr=ALL_CLIENT | 0b11 << 4)
    t = translate(r, mem, 0x0100_0000)
    assert check(t, Access.WRITE, privileged=True) is None
    assert check(t, Access.FETCH, privileged=False) is None
    client = translate(regime(), mem, 0x0100_0000)
    assert check(client, Access.READ, privileged=True) is None
    assert check(client, Access.READ, privileged=False) is not None


def test_permission_faults(mem: PhysMem, tables: ShortTables) -> None:
    tables.section(0x0100_0000, 0x8000_0000, SA(ap=0b111))  # read-only everywhere
    tables.small(0x0200_0000, 0x9000_0000, SA(ap=0b001), domain=4)  # PL1 only
    tables.small(0x0200_1000, 0x9000_1000, SA(xn=True), domain=4)
    r = regime()
    ro = translate(r, mem, 0x0100_0000)
    assert check(ro, Access.READ, privileged=False) is None
    fault = check(ro, Access.WRITE, privileged=True)
    assert fault is not None
    assert (fault.kind, fault.level, fault.status) == (FaultKind.PERMISSION, 1, 0b01101)
    assert fault.fsr(Access.WRITE) == 0x80D
    kernel = translate(r, mem, 0x0200_0000)
    fault = check(kernel, Access.READ, privileged=False)
    assert fault is not None and fault.status == 0b01111 and fault.fsr(Access.READ) == 0x04F
    xn = translate(r, mem, 0x0200_1000)
    fault = check(xn, Access.FETCH, privileged=True)
    assert fault is not None and fault.fsr(Access.FETCH) == 0x00F
    assert check(xn, Access.WRITE, privileged=False) is None


def test_pxn_wxn_uwxn(mem: PhysMem, tables: ShortTables) -> None:
    tables.section(0x0100_0000, 0x8000_0000, pxn=True)
    tables.section(0x0200_0000, 0x8010_0000)  # full access
    pxn = translate(regime(), mem, 0x0100_0000).attributes
    assert pxn is not None and str(pxn.permissions) == "EL1:rw- EL0:rwx"
    wxn = translate(regime(sctlr=Sctlr32.M | Sctlr32.WXN), mem, 0x0200_0000).attributes
    assert wxn is not None and str(wxn.permissions) == "EL1:rw- EL0:rw-"
    uwxn = translate(regime(sctlr=Sctlr32.M | Sctlr32.UWXN), mem, 0x0200_0000).attributes
    assert uwxn is not None and str(uwxn.permissions) == "EL1:rw- EL0:rwx"


def test_unbacked_tables(mem: PhysMem, tables: ShortTables) -> None:
    t = translate(regime(ttbr0=0x7000_0000), mem, 0x0030_0000)
    assert t.fault is not None
    assert (t.fault.kind, t.fault.level, t.fault.status) == (FaultKind.TABLE_READ, 1, 0b01100)
    assert t.fault.table_address == 0x7000_0000 + 4 * 3
    assert t.steps[0].kind is StepKind.UNREADABLE and t.steps[0].descriptor is None
    mem.put32(L1 + 4 * 0x10, 0x7100_0000 | 0b01 | 6 << 5)  # page table in nowhere
    t = translate(regime(), mem, 0x0100_2000)
    assert t.fault is not None
    assert (t.fault.level, t.fault.status, t.fault.domain) == (2, 0b01110, 6)
    assert t.fault.table_address == 0x7100_0000 + 4 * 2


@pytest.mark.parametrize(
    ("attrs", "memory", "share"),
    [
        (SA(tex=0, c=0, b=0), "device-nGnRnE", Shareability.OUTER),
        (SA(tex=0, c=0, b=1), "device-nGnRE", Shareability.OUTER),
        (SA(tex=0b010, c=0, b=0, s=1), "device-nGnRE", Shareability.NON),
        (SA(tex=0, c=1, b=0), "normal-wt", Shareability.NON),
        (SA(tex=0b001, c=0, b=0, s=1), "normal-nc", Shareability.OUTER),
        (SA(tex=0b101, c=1, b=0), "normal-iwt-owb", Shareability.NON),
        (SA(tex=0b110, c=1, b=0), "normal-wt", Shareability.NON),
    ],
)
def test_tex_c_b_without_remap(
    mem: PhysMem, tables: ShortTables, attrs: SA, memory: str, share: Shareability
) -> None:
    tables.section(0x0100_0000, 0x8000_0000, attrs)
    a = translate(regime(), mem, 0x0100_0000).attributes
    assert a is not None and (a.memory, a.shareability) == (memory, share)


LINUX_PRRR, LINUX_NMRR = 0xFF0A81A8, 0x40E040E0  # arch/arm/mm/proc-v7-2level.S


@pytest.mark.parametrize(
    ("attrs", "memory", "share"),
    [
        (SA(tex=0b001, c=1, b=1, s=1), "normal-wb", Shareability.INNER),  # WRITEALLOC
        (SA(tex=0b001, c=0, b=0, s=1), "device-nGnRE", Shareability.OUTER),  # DEV_SHARED
        (SA(tex=0, c=0, b=0), "device-nGnRnE", Shareability.OUTER),  # UNCACHED
        (SA(tex=0, c=0, b=1), "normal-nc", Shareability.NON),  # BUFFERABLE
        (SA(tex=0, c=1, b=0, s=1), "normal-wt", Shareability.INNER),  # WRITETHROUGH
    ],
)
def test_tex_remap_with_linux_prrr_nmrr(
    mem: PhysMem, tables: ShortTables, attrs: SA, memory: str, share: Shareability
) -> None:
    tables.section(0x0100_0000, 0x8000_0000, attrs)
    r = regime(sctlr=Sctlr32.M | Sctlr32.TRE, mair0=LINUX_PRRR, mair1=LINUX_NMRR)
    a = translate(r, mem, 0x0100_0000).attributes
    assert a is not None and (a.memory, a.shareability) == (memory, share)


def test_mmu_off_is_identity(mem: PhysMem) -> None:
    t = translate(Arm32Regime(sctlr=0), mem, 0x1234_5678)
    assert t.ipa == 0x1234_5678 and t.fault is None and not t.mmu_enabled
    assert check(t, Access.FETCH, privileged=False) is None
    with pytest.raises(ValueError):
        translate(Arm32Regime(sctlr=0), mem, 1 << 32)
