"""The EL1&0 stage-1 translation regime as register values.

The machine reads these registers from the vCPU when it needs a walk and
hands them over unchanged; the walkers decode the fields they need.

arm32 (ARM DDI 0406C B4.1): SCTLR, TTBCR, TTBR0/TTBR1 (64-bit MCRR form when
TTBCR.EAE=1, else the low word), DACR, CONTEXTIDR, and c10,c2,{0,1} which are
PRRR/NMRR with the short-descriptor format and MAIR0/MAIR1 with LPAE.

arm64 (ARM DDI 0487 D5, D17): SCTLR_EL1, TCR_EL1, TTBR0_EL1, TTBR1_EL1,
MAIR_EL1, plus the implemented physical address size (ID_AA64MMFR0_EL1.PARange
as bits; 48 at most here).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum, IntFlag
from typing import TypeAlias


class Sctlr32(IntFlag):
    """ARMv7 SCTLR bits the walkers use."""

    M = 1 << 0  # stage 1 MMU enable
    A = 1 << 1
    C = 1 << 2
    WXN = 1 << 19  # writable implies XN
    UWXN = 1 << 20  # PL0-writable implies PL1 XN
    EE = 1 << 25  # big-endian tables (not supported)
    TRE = 1 << 28  # TEX remap through PRRR/NMRR
    AFE = 1 << 29  # AP[0] is an access flag


class Ttbcr(IntFlag):
    """ARMv7 TTBCR bits (short-descriptor N/PD0/PD1, LPAE T0SZ/T1SZ/EPDn/A1, EAE)."""

    PD0 = 1 << 4  # short: no walks through TTBR0
    PD1 = 1 << 5  # short: no walks through TTBR1
    EPD0 = 1 << 7  # LPAE: no walks through TTBR0
    A1 = 1 << 22  # LPAE: the ASID comes from TTBR1
    EPD1 = 1 << 23  # LPAE: no walks through TTBR1
    EAE = 1 << 31  # long-descriptor format


class SctlrEl1(IntFlag):
    M = 1 << 0
    A = 1 << 1
    C = 1 << 2
    WXN = 1 << 19
    EE = 1 << 25  # big-endian tables (not supported)


class TcrEl1(IntFlag):
    """Single-bit TCR_EL1 fields; multi-bit ones are decoded by ``Arm64Regime``."""

    EPD0 = 1 << 7
    A1 = 1 << 22
    EPD1 = 1 << 23
    TBI0 = 1 << 37
    TBI1 = 1 << 38
    HA = 1 << 39  # hardware access flag update (FEAT_HAFDBS)
    HPD0 = 1 << 41  # hierarchical permissions disabled for TTBR0 (FEAT_HPDS)
    HPD1 = 1 << 42


class Granule(IntEnum):
    """Translation granule, as log2 of its size."""

    K4 = 12
    K16 = 14
    K64 = 16


# TCR_EL1.TG0 and TG1 encode the granule differently; reserved values act as 4K.
_TG0 = {0b00: Granule.K4, 0b01: Granule.K64, 0b10: Granule.K16}
_TG1 = {0b01: Granule.K16, 0b10: Granule.K4, 0b11: Granule.K64}

# TCR_EL1.IPS / ID_AA64MMFR0_EL1.PARange -> bits.
IPS_BITS = (32, 36, 40, 42, 44, 48, 52)

MAX_PA_BITS = 48


@dataclass(frozen=True, slots=True)
class Arm32Regime:
    """PL1&0 stage-1 state of an AArch32 (ARMv7-A) vCPU."""

    sctlr: int
    ttbcr: int = 0
    ttbr0: int = 0
    ttbr1: int = 0
    dacr: int = 0
    contextidr: int = 0
    mair0: int = 0  # c10,c2,0: PRRR (EAE=0) or MAIR0 (EAE=1)
    mair1: int = 0  # c10,c2,1: NMRR (EAE=0) or MAIR1 (EAE=1)

    @property
    def enabled(self) -> bool:
        return bool(self.sctlr & Sctlr32.M)

    @property
    def lpae(self) -> bool:
        return bool(self.ttbcr & Ttbcr.EAE)

    @property
    def prrr(self) -> int:
        return self.mair0

    @property
    def nmrr(self) -> int:
        return self.mair1

    @property
    def n(self) -> int:
        """Short-descriptor TTBCR.N: TTBR0 covers the low 2^(32-N) bytes."""
        return self.ttbcr & 0b111

    @property
    def t0sz(self) -> int:
        return self.ttbcr & 0b111

    @property
    def t1sz(self) -> int:
        return (self.ttbcr >> 16) & 0b111

    def domain_access(self, domain: int) -> int:
        """DACR field: 0 no access, 1 client, 2 reserved, 3 manager."""
        return (self.dacr >> (2 * domain)) & 0b11

    @property
    def asid(self) -> int:
        if self.lpae:
            ttbr = self.ttbr1 if self.ttbcr & Ttbcr.A1 else self.ttbr0
            return (ttbr >> 48) & 0xFF
        return self.contextidr & 0xFF


@dataclass(frozen=True, slots=True)
class Arm64Regime:
    """EL1&0 stage-1 state of an AArch64 vCPU."""

    sctlr: int
    tcr: int = 0
    ttbr0: int = 0
    ttbr1: int = 0
    mair: int = 0
    pa_bits: int = MAX_PA_BITS  # implemented PA size (ID_AA64MMFR0_EL1.PARange)

    @property
    def enabled(self) -> bool:
        return bool(self.sctlr & SctlrEl1.M)

    def tsz(self, select: int) -> int:
        return (self.tcr >> (16 if select else 0)) & 0x3F

    def granule(self, select: int) -> Granule:
        if select:
            return _TG1.get((self.tcr >> 30) & 0b11, Granule.K4)
        return _TG0.get((self.tcr >> 14) & 0b11, Granule.K4)

    def walk_disabled(self, select: int) -> bool:
        return bool(self.tcr & (TcrEl1.EPD1 if select else TcrEl1.EPD0))

    def top_byte_ignored(self, select: int) -> bool:
        return bool(self.tcr & (TcrEl1.TBI1 if select else TcrEl1.TBI0))

    def hierarchical(self, select: int) -> bool:
        return not self.tcr & (TcrEl1.HPD1 if select else TcrEl1.HPD0)

    @property
    def oa_bits(self) -> int:
        """Effective output size: TCR_EL1.IPS bounded by the implemented PA size."""
        ips = IPS_BITS[min((self.tcr >> 32) & 0b111, len(IPS_BITS) - 1)]
        return min(ips, self.pa_bits, MAX_PA_BITS)

    @property
    def asid(self) -> int:
        ttbr = self.ttbr1 if self.tcr & TcrEl1.A1 else self.ttbr0
        bits = 16 if self.tcr & (1 << 36) else 8
        return (ttbr >> 48) & ((1 << bits) - 1)


Regime: TypeAlias = Arm32Regime | Arm64Regime
