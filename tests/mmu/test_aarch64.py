"""AArch64 EL1&0 stage-1 walks: 4K/16K/64K granules, TTBR0/TTBR1, faults, attributes."""

from __future__ import annotations

import pytest

from xgdbvm.machine.mmu import (
    Access,
    Arm64Regime,
    FaultKind,
    SctlrEl1,
    Shareability,
    StepKind,
    TableFormat,
    TcrEl1,
    check,
    translate,
)

from .tables import LongTables, PhysMem, leaf, table_attrs

ROOT0 = 0x4000_0000
ROOT1 = 0x4800_0000
POOL0 = 0x5000_0000
POOL1 = 0x5800_0000
# 0 WB, 1 tagged, 2 NC, 3 nGnRnE, 4 nGnRE, 5 WT
MAIR = 0x0000_BB04_0044_F0FF
TG0 = {12: 0b00, 14: 0b10, 16: 0b01}
TG1 = {12: 0b10, 14: 0b01, 16: 0b11}


def tcr(
    t0sz: int = 16,
    t1sz: int = 16,
    granule: int = 12,
    granule1: int | None = None,
    ips: int = 0b101,
    extra: int = 0,
) -> int:
    g1 = granule if granule1 is None else granule1
    return t0sz | TG0[granule] << 14 | t1sz << 16 | TG1[g1] << 30 | ips << 32 | extra


def regime(tcr_value: int | None = None, **kw: int) -> Arm64Regime:
    fields = {
        "sctlr": int(SctlrEl1.M),
        "tcr": tcr() if tcr_value is None else tcr_value,
        "ttbr0": ROOT0,
        "ttbr1": ROOT1,
        "mair": MAIR,
    } | kw
    return Arm64Regime(**fields)


@pytest.fixture
def mem() -> PhysMem:
    return PhysMem()


def indices(va: int, shifts: list[int], mask: int = 0x1FF) -> list[int]:
    return [(va >> s) & mask for s in shifts]


def test_4k_48_bit_page_walk(mem: PhysMem) -> None:
    tables = LongTables(mem, 12, 48, ROOT0, POOL0)
    va = 0x0000_1234_5678_9000
    tables.map(va, 0x8765_4000, 4096, leaf(idx=0))
    t = translate(regime(), mem, va + 0xABC)
    assert t.format is TableFormat.AARCH64 and t.fault is None
    assert t.ipa == 0x8765_4ABC and t.page_size == 4096 and t.ttbr == 0
    assert [s.level for s in t.steps] == [0, 1, 2, 3]
    assert [s.index for s in t.steps] == indices(va, [39, 30, 21, 12])
    assert [s.kind for s in t.steps] == [StepKind.TABLE] * 3 + [StepKind.PAGE]
    assert t.steps[0].address == ROOT0 + 8 * ((va >> 39) & 0x1FF)
    for upper, lower in zip(t.steps, t.steps[1:], strict=False):
        assert lower.table == upper.output
    a = t.attributes
    assert a is not None
    assert (a.memory, a.shareability, a.not_global) == ("normal-wb", Shareability.INNER, False)
    # AP=00, no UXN: EL0 cannot touch the data but may execute it (execute-only).
    assert str(a.permissions) == "EL1:rwx EL0:--x"


def test_4k_39_bit_blocks(mem: PhysMem) -> None:
    tables = LongTables(mem, 12, 39, ROOT0, POOL0)
    assert tables.start_level == 1
    tables.map(0x4000_0000, 0xC000_0000, 1 << 30, leaf(idx=4, xn=True, pxn=True))
    tables.map(0x0020_0000, 0x8000_0000, 1 << 21, leaf(idx=5))
    r = regime(tcr(t0sz=25))
    gig = translate(r, mem, 0x4123_4567)
    assert gig.ipa == 0xC123_4567 and gig.page_size == 1 << 30
    assert [(s.level, s.kind) for s in gig.steps] == [(1, StepKind.BLOCK)]
    assert gig.attributes is not None
    assert gig.attributes.memory == "device-nGnRE"
    assert gig.attributes.shareability is Shareability.OUTER
    two = translate(r, mem, 0x003F_FFFF)
    assert two.ipa == 0x801F_FFFF and two.page_size == 1 << 21
    assert [(s.level, s.kind) for s in two.steps] == [(1, StepKind.TABLE), (2, StepKind.BLOCK)]
    assert two.attributes is not None and two.attributes.memory == "normal-wt"


def test_ttbr1_upper_half(mem: PhysMem) -> None:
    tables = LongTables(mem, 12, 48, ROOT1, POOL1)
    tables.map(0xFFFF_0000_0010_0000, 0x4123_4000, 4096, leaf(ap=0b10, ng=True))
    tables.map(0xFFFF_8000_0000_0000, 0x4000_0000, 1 << 21, leaf(xn=True))
    t = translate(regime(), mem, 0xFFFF_0000_0010_0008)
    assert (t.ttbr, t.ipa) == (1, 0x4123_4008)
    assert t.steps[0].table == ROOT1
    assert [s.index for s in t.steps] == indices(0xFFFF_0000_0010_0000, [39, 30, 21, 12])
    assert t.attributes is not None and t.attributes.not_global
    t = translate(regime(), mem, 0xFFFF_8000_0012_3456)
    assert t.ipa == 0x4012_3456


def test_address_in_neither_range(mem: PhysMem) -> None:
    r = regime(tcr(t0sz=25, t1sz=25))
    for va in (0x0000_0080_0000_0000, 0xFFFF_FF7F_FFFF_F000, 0x0080_0000_0000_0000):
        t = translate(r, mem, va)
        assert t.fault is not None and t.steps == ()
        assert (t.fault.kind, t.fault.level, t.fault.status) == (FaultKind.TRANSLATION, 0, 0x04)
        assert t.fault.fsr(Access.WRITE) == 0x44
        assert t.fault.fsr(Access.FETCH) == 0x04


def test_top_byte_ignore(mem: PhysMem) -> None:
    tables = LongTables(mem, 12, 48, ROOT0, POOL0)
    tables.map(0x1234_5000, 0x9000_0000, 4096, leaf())
    tagged = 0x5A00_0000_1234_5010
    assert translate(regime(tcr(extra=TcrEl1.TBI0)), mem, tagged).ipa == 0x9000_0010
    t = translate(regime(), mem, tagged)
    assert t.fault is not None and t.fault.status == 0x04


def test_epd_and_bad_tsz(mem: PhysMem) -> None:
    for r, va in (
        (regime(tcr(extra=TcrEl1.EPD0)), 0x1000),
        (regime(tcr(extra=TcrEl1.EPD1)), 0xFFFF_0000_0000_1000),
        (regime(tcr(t0sz=12)), 0x1000),
        (regime(tcr(t0sz=40)), 0x1000),
    ):
        t = translate(r, mem, va)
        assert t.fault is not None and (t.fault.kind, t.fault.level) == (FaultKind.TRANSLATION, 0)


def test_16k_granule(mem: PhysMem) -> None:
    tables = LongTables(mem, 14, 47, ROOT0, POOL0)
    assert tables.start_level == 1
    tables.map(0x0200_0000, 0x1_0000_0000, 1 << 25, leaf())
    tables.map(0x1_0000_4000, 0x9000_C000, 1 << 14, leaf())
    r = regime(tcr(t0sz=17, granule=14))
    block = translate(r, mem, 0x0234_5678)
    assert block.ipa == 0x1_0034_5678 and block.page_size == 32 << 20
    assert [s.level for s in block.steps] == [1, 2]
    page = translate(r, mem, 0x1_0000_7ABC)
    assert page.ipa == 0x9000_FABC and page.page_size == 16 << 10
    assert [s.index for s in page.steps] == [
        (0x1_0000_4000 >> 36) & 0x7FF,
        (0x1_0000_4000 >> 25) & 0x7FF,
        (0x1_0000_4000 >> 14) & 0x7FF,
    ]
    # No level 1 blocks with 16K granules (without FEAT_LPA2).
    tables.put(0x10_0000_0000, 1, 0x10_0000_0000 | leaf() | 0b01)
    t = translate(r, mem, 0x10_0000_0000)
    assert t.fault is not None and (t.fault.level, t.fault.status) == (1, 0x05)


def test_16k_48_bit_has_a_two_entry_level_0(mem: PhysMem) -> None:
    tables = LongTables(mem, 14, 48, ROOT0, POOL0)
    assert tables.start_level == 0
    tables.map(0x8000_0000_4000, 0x7000_0000, 1 << 14, leaf())
    t = translate(regime(tcr(granule=14)), mem, 0x8000_0000_4321)
    assert t.ipa == 0x7000_0321
    assert (t.steps[0].level, t.steps[0].index) == (0, 1)


def test_64k_granule(mem: PhysMem) -> None:
    tables = LongTables(mem, 16, 42, ROOT0, POOL0)
    assert tables.start_level == 2
    tables.map(0x2000_0000, 0x6000_0000, 1 << 29, leaf())
    tables.map(0x4001_0000, 0x8765_0000, 1 << 16, leaf())
    r = regime(tcr(t0sz=22, granule=16))
    block = translate(r, mem, 0x2123_4567)
    assert block.ipa == 0x6123_4567 and block.page_size == 512 << 20
    page = translate(r, mem, 0x4001_FEDC)
    assert page.ipa == 0x8765_FEDC and page.page_size == 64 << 10
    assert [(s.level, s.index) for s in page.steps] == [(2, 2), (3, 1)]


def test_64k_granule_48_bit_ttbr1(mem: PhysMem) -> None:
    tables = LongTables(mem, 16, 48, ROOT1, POOL1)
    assert tables.start_level == 1
    va = 0xFFFF_8000_1234_0000
    tables.map(va, 0x9999_0000, 1 << 16, leaf())
    r = regime(tcr(granule=12, granule1=16))
    t = translate(r, mem, va + 0x42)
    assert t.ipa == 0x9999_0042 and [s.level for s in t.steps] == [1, 2, 3]
    tables.put(0xFFFF_0400_0000_0000, 1, 0x400_0000_0000 | leaf() | 0b01)
    t = translate(r, mem, 0xFFFF_0400_0000_0000)
    assert t.fault is not None and (t.fault.level, t.fault.status) == (1, 0x05)


def test_illegal_and_reserved_encodings(mem: PhysMem) -> None:
    tables = LongTables(mem, 12, 48, ROOT0, POOL0)
    mem.put64(ROOT0, leaf() | 0b01)  # level 0 block: not with 4K granules
    t = translate(regime(), mem, 0x1000)
    assert t.fault is not None and (t.fault.level, t.fault.status) == (0, 0x04)
    tables.put(0x80_0000_0000, 3, 0x5000_0000 | leaf() | 0b01)  # level 3 reserved
    t = translate(regime(), mem, 0x80_0000_0000)
    assert t.fault is not None and (t.fault.level, t.fault.status) == (3, 0x07)
    assert t.steps[-1].kind is StepKind.INVALID


def test_faults_at_every_level(mem: PhysMem) -> None:
    tables = LongTables(mem, 12, 48, ROOT0, POOL0)
    tables.map(0x1000, 0x5000_0000, 4096, leaf())
    got = []
    for va in (0x80_0000_0000, 0x4000_0000, 0x20_0000, 0x2000):
        t = translate(regime(), mem, va)
        assert t.fault is not None and t.fault.kind is FaultKind.TRANSLATION
        got.append(t.fault.status)
    assert got == [0x04, 0x05, 0x06, 0x07]


def test_output_size_from_ips(mem: PhysMem) -> None:
    tables = LongTables(mem, 12, 48, ROOT0, POOL0)
    tables.map(0x1000, 1 << 40 | 0x5000_0000, 4096, leaf())
    tables.put(0x80_0000_0000, 0, 1 << 44 | 0x6000_0000 | 0b11)
    r = regime(tcr(ips=0b010))  # 40 bits
    t = translate(r, mem, 0x1000)
    assert t.fault is not None and t.fault.kind is FaultKind.ADDRESS_SIZE
    assert (t.fault.level, t.fault.status) == (3, 0x03)
    assert translate(regime(), mem, 0x1000).ipa == 1 << 40 | 0x5000_0000  # 48-bit IPS
    t = translate(r, mem, 0x80_0000_0000)
    assert t.fault is not None and (t.fault.level, t.fault.status) == (0, 0x00)
    t = translate(regime(tcr(ips=0b010), ttbr0=1 << 45 | ROOT0), mem, 0x1000)
    assert t.fault is not None and t.fault.status == 0x00 and t.steps == ()
    # The implemented PA size bounds IPS.
    t = translate(regime(pa_bits=36), mem, 0x1000)
    assert t.fault is not None and t.fault.kind is FaultKind.ADDRESS_SIZE


def test_access_flag_and_hardware_update(mem: PhysMem) -> None:
    tables = LongTables(mem, 12, 48, ROOT0, POOL0)
    tables.map(0x1000, 0x5000_0000, 4096, leaf(af=False))
    tables.map(0x4000_0000, 0x8000_0000, 1 << 30, leaf(af=False))
    t = translate(regime(), mem, 0x1000)
    assert t.fault is not None and t.fault.kind is FaultKind.ACCESS_FLAG
    assert (t.fault.status, t.fault.fsr(Access.WRITE)) == (0x0B, 0x4B)
    block = translate(regime(), mem, 0x4000_0000)
    assert block.fault is not None and block.fault.status == 0x09
    assert translate(regime(tcr(extra=TcrEl1.HA)), mem, 0x1000).fault is None


def test_permissions_and_faults(mem: PhysMem) -> None:
    tables = LongTables(mem, 12, 48, ROOT0, POOL0)
    tables.map(0x1000, 0x5000_0000, 4096, leaf(ap=0b11))
    tables.map(0x2000, 0x5000_1000, 4096, leaf(ap=0b01))
    tables.map(0x3000, 0x5000_2000, 4096, leaf(ap=0b00, xn=True, pxn=True))
    ro = translate(regime(), mem, 0x1000)
    fault = check(ro, Access.WRITE, privileged=False)
    assert fault is not None and fault.kind is FaultKind.PERMISSION
    assert (fault.level, fault.status, fault.fsr(Access.WRITE)) == (3, 0x0F, 0x4F)
    assert check(ro, Access.WRITE, privileged=True) is not None
    assert check(ro, Access.READ, privileged=False) is None
    user = translate(regime(), mem, 0x2000)
    assert user.attributes is not None
    assert str(user.attributes.permissions) == "EL1:rw- EL0:rwx"  # EL0-writable: PXN implied
    assert check(user, Access.FETCH, privileged=True) is not None
    kernel = translate(regime(), mem, 0x3000)
    fault = check(kernel, Access.FETCH, privileged=True)
    assert fault is not None and fault.fsr(Access.FETCH) == 0x0F
    assert check(kernel, Access.FETCH, privileged=False) is not None
    wxn = translate(regime(sctlr=SctlrEl1.M | SctlrEl1.WXN), mem, 0x1000)
    assert wxn.attributes is not None and str(wxn.attributes.permissions) == "EL1:r-x EL0:r-x"
    wxn = translate(regime(sctlr=SctlrEl1.M | SctlrEl1.WXN), mem, 0x2000)
    assert wxn.attributes is not None and str(wxn.attributes.permissions) == "EL1:rw- EL0:rw-"


def test_hierarchical_controls_and_hpd(mem: PhysMem) -> None:
    tables = LongTables(mem, 12, 48, ROOT0, POOL0)
    attrs = table_attrs(ap_table=0b10, xn_table=True)
    tables.map(0x1000, 0x5000_0000, 4096, leaf(ap=0b01), attrs)
    a = translate(regime(), mem, 0x1000).attributes
    assert a is not None and str(a.permissions) == "EL1:r-x EL0:r--"
    a = translate(regime(tcr(extra=TcrEl1.HPD0)), mem, 0x1000).attributes
    assert a is not None and str(a.permissions) == "EL1:rw- EL0:rwx"


@pytest.mark.parametrize(
    ("idx", "sh", "memory", "share"),
    [
        (0, 0b10, "normal-wb", Shareability.OUTER),
        (1, 0b11, "normal-wb-tagged", Shareability.INNER),
        (2, 0b11, "normal-nc", Shareability.OUTER),
        (3, 0b00, "device-nGnRnE", Shareability.OUTER),
        (4, 0b11, "device-nGnRE", Shareability.OUTER),
        (5, 0b00, "normal-wt", Shareability.NON),
    ],
)
def test_mair_attributes(mem: PhysMem, idx: int, sh: int, memory: str, share: Shareability) -> None:
    tables = LongTables(mem, 12, 48, ROOT0, POOL0)
    tables.map(0x1000, 0x5000_0000, 4096, leaf(idx=idx, sh=sh))
    a = translate(regime(), mem, 0x1000).attributes
    assert a is not None and (a.memory, a.shareability) == (memory, share)


def test_unbacked_table(mem: PhysMem) -> None:
    tables = LongTables(mem, 12, 48, ROOT0, POOL0)
    tables.map(0x1000, 0x5000_0000, 4096, leaf())
    mem.unback(tables.entry(0x1000, 2))
    t = translate(regime(), mem, 0x1000)
    assert t.fault is not None and t.fault.kind is FaultKind.TABLE_READ
    assert (t.fault.level, t.fault.status, t.fault.table_address) == (
        2,
        0x16,
        tables.entry(0x1000, 2),
    )
    assert t.ipa is None and t.steps[-1].descriptor is None


def test_mmu_off(mem: PhysMem) -> None:
    off = regime(sctlr=0)
    t = translate(off, mem, 0x8000_1234)
    assert t.ipa == 0x8000_1234 and not t.mmu_enabled and t.fault is None
    assert check(t, Access.WRITE, privileged=False) is None
    t = translate(off, mem, 1 << 50)
    assert t.fault is not None and (t.fault.kind, t.fault.status) == (FaultKind.ADDRESS_SIZE, 0)
    tagged = translate(regime(sctlr=0, tcr=tcr(extra=TcrEl1.TBI0)), mem, 0x7F00_0000_8000_0000)
    assert tagged.ipa == 0x8000_0000
