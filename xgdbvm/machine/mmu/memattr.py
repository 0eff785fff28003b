"""Memory type and shareability from descriptor attribute fields.

Three encodings (ARM DDI 0406C B3.8, ARM DDI 0487 D8.5):

- a MAIR byte (LPAE MAIR0/MAIR1, AArch64 MAIR_EL1), selected by AttrIndx;
- short-descriptor TEX[2:0]/C/B with SCTLR.TRE=0 (table B3-10);
- short-descriptor TEX[0]/C/B through PRRR/NMRR with SCTLR.TRE=1.

Types are named with the ARMv8 vocabulary for every format: ARMv7
Strongly-ordered is "device-nGnRnE", ARMv7 Device is "device-nGnRE", Normal
memory is "normal-<cache>" with <cache> one of wb, wt, nc when inner and outer
agree, else "normal-i<inner>-o<outer>". Encodings the architecture leaves
UNPREDICTABLE or reserved read as "reserved".
"""

from __future__ import annotations

from functools import lru_cache

from xgdbvm.machine.mmu.result import Shareability

_DEVICE = ("device-nGnRnE", "device-nGnRE", "device-nGRE", "device-GRE")
# A two-bit cacheability field of TEX/NMRR: 00 NC, 01 WB-WA, 10 WT, 11 WB no WA.
_CACHE2 = ("nc", "wb", "wt", "wb")


def _mair_nibble(n: int) -> str:
    if n == 0b0100:
        return "nc"
    if n >> 2 in (0b00, 0b10):
        return "wt"  # 0b00RW transient, 0b10RW non-transient
    return "wb"  # 0b01RW transient, 0b11RW non-transient


def _normal(inner: str, outer: str) -> str:
    return f"normal-{inner}" if inner == outer else f"normal-i{inner}-o{outer}"


@lru_cache(maxsize=256)
def mair_memory(attr: int) -> str:
    """Decode one MAIR attribute byte."""
    attr &= 0xFF
    outer, inner = attr >> 4, attr & 0xF
    if outer == 0:
        return _DEVICE[inner >> 2] if inner & 0b11 == 0 else "reserved"
    if attr == 0xF0:
        return "normal-wb-tagged"  # FEAT_MTE2 Tagged Normal, inner/outer WB
    if inner == 0:
        return "reserved"
    return _normal(_mair_nibble(inner), _mair_nibble(outer))


def mair_attr(mair: int, index: int) -> int:
    """The attribute byte ``index`` of a 64-bit MAIR (MAIR0 | MAIR1 << 32 on arm32)."""
    return (mair >> (8 * index)) & 0xFF


def long_shareability(memory: str, sh: int) -> Shareability:
    """SH[1:0] of an LPAE/AArch64 leaf; Device and Normal NC are always Outer Shareable."""
    if memory.startswith("device") or memory == "normal-nc":
        return Shareability.OUTER
    return Shareability(sh & 0b11)


@lru_cache(maxsize=256)
def tex_memory(tex: int, c: int, b: int, s: int) -> tuple[str, Shareability]:
    """Short-descriptor TEX/C/B/S with SCTLR.TRE=0."""
    shared = Shareability.OUTER if s else Shareability.NON
    if tex & 0b100:
        return _normal(_CACHE2[(c << 1) | b], _CACHE2[tex & 0b11]), shared
    match (tex, c, b):
        case (0b000, 0, 0):
            return "device-nGnRnE", Shareability.OUTER  # Strongly-ordered
        case (0b000, 0, 1):
            return "device-nGnRE", Shareability.OUTER  # Shareable Device
        case (0b000, 1, 0):
            return "normal-wt", shared
        case (0b000, 1, 1):
            return "normal-wb", shared
        case (0b001, 0, 0):
            return "normal-nc", shared
        case (0b001, 1, 1):
            return "normal-wb", shared  # write-allocate
        case (0b010, 0, 0):
            return "device-nGnRE", Shareability.NON  # Non-shareable Device
    return "reserved", shared


@lru_cache(maxsize=256)
def remap_memory(
    prrr: int, nmrr: int, tex: int, c: int, b: int, s: int
) -> tuple[str, Shareability]:
    """Short-descriptor TEX[0]/C/B/S through PRRR/NMRR (SCTLR.TRE=1)."""
    n = ((tex & 1) << 2) | (c << 1) | b
    match (prrr >> (2 * n)) & 0b11:
        case 0b00:
            return "device-nGnRnE", Shareability.OUTER
        case 0b01:
            shareable = (prrr >> (17 if s else 16)) & 1  # DS1 / DS0
            return "device-nGnRE", Shareability.OUTER if shareable else Shareability.NON
        case 0b10:
            inner = _CACHE2[(nmrr >> (2 * n)) & 0b11]
            outer = _CACHE2[(nmrr >> (2 * n + 16)) & 0b11]
            share = Shareability.NON
            if (prrr >> (19 if s else 18)) & 1:  # NS1 / NS0
                not_outer = (prrr >> (24 + n)) & 1  # NOSn
                share = Shareability.INNER if not_outer else Shareability.OUTER
            return _normal(inner, outer), share
    return "reserved", Shareability.NON
