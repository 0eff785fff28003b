"""The ``monitor translate`` / ``monitor pagetables`` text."""

from __future__ import annotations

from xgdbvm.machine.mmu import (
    Arm32Regime,
    Arm64Regime,
    Sctlr32,
    SctlrEl1,
    format_mappings,
    format_translation,
    mappings,
    translate,
)

from .tables import LongTables, PhysMem, ShortTables, leaf

TCR = 16 | 16 << 16 | 0b10 << 30 | 0b101 << 32


def test_aarch64_walk_lines() -> None:
    mem = PhysMem()
    LongTables(mem, 12, 48, 0x4000_0000, 0x5000_0000).map(
        0x1234_5000, 0x8765_4000, 4096, leaf(ap=0b01, xn=True, ng=True)
    )
    r = Arm64Regime(sctlr=SctlrEl1.M, tcr=TCR, ttbr0=0x4000_0000, mair=0xFF)
    lines = format_translation(translate(r, mem, 0x1234_5ABC))
    assert lines[0] == "0x12345abc: AArch64, TTBR0"
    assert len(lines) == 6
    assert lines[1].startswith("  L0 0x40000000[0] @0x40000000 = 0x")
    assert "table -> 0x50000000" in lines[1]
    assert "page 4K -> 0x87654000 AP=01 AttrIndx=0 SH=11 AF UXN nG" in lines[4]
    assert lines[5] == "  => IPA 0x87654abc (4K mapping) normal-wb inner EL1:rw- EL0:rw- nG"
    fault = format_translation(translate(r, mem, 0x8000_0000))
    assert fault[-1] == "  => translation fault, level 1 (DFSC 0x05)"
    assert fault[-2].endswith("= 0x0000000000000000  invalid")


def test_short_walk_lines() -> None:
    mem = PhysMem()
    ShortTables(mem, 0x4000_0000, 0x4100_0000).section(0xC000_0000, 0x8000_0000, domain=2)
    r = Arm32Regime(sctlr=Sctlr32.M, ttbr0=0x4000_0000, dacr=0x5555_5555)
    lines = format_translation(translate(r, mem, 0xC000_0010))
    assert lines[0] == "0xc0000010: ARMv7 short-descriptor, TTBR0"
    assert lines[1] == (
        "  L1 0x40000000[3072] @0x40003000 = 0x80001c4e  "
        "section 1M -> 0x80000000 AP=011 TEX=001 C=1 B=1 S=0 domain=2"
    )
    assert lines[2] == "  => IPA 0x80000010 (1M mapping) normal-wb non EL1:rwx EL0:rwx domain=2"
    unmapped = format_translation(translate(r, mem, 0x1000))
    assert unmapped[-1] == "  => translation fault, level 1 (FS 0x05)"


def test_mmu_off_and_mappings_lines() -> None:
    off = format_translation(translate(Arm32Regime(sctlr=0), PhysMem(), 0x1000))
    assert off[0] == "0x1000: MMU off"
    assert off[1].startswith("  => IPA 0x1000 (identity) device-nGnRnE outer EL1:rwx EL0:rwx")
    mem = PhysMem()
    LongTables(mem, 12, 48, 0x4000_0000, 0x5000_0000).map(0x20_0000, 0x8000_0000, 1 << 21, leaf())
    r = Arm64Regime(sctlr=SctlrEl1.M, tcr=TCR | 1 << 23, ttbr0=0x4000_0000, mair=0xFF)
    assert format_mappings(mappings(r, mem)) == [
        "0000000000200000-00000000003fffff -> 0x80000000 (2M) normal-wb inner EL1:rwx EL0:--x"
    ]
    assert format_mappings(mappings(r, mem, limit=0))[-1] == "... truncated after 0 ranges"
