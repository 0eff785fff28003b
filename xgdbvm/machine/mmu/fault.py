"""Stage-1 faults and their architected fault status codes.

Contract: a ``Fault`` names what went wrong (kind), at which lookup level, and
carries the exact status code the CPU would report, so the machine can inject
the abort bit for bit:

- short-descriptor (ARMv7 TTBCR.EAE=0): the 5-bit FS of DFSR/IFSR
  (ARM DDI 0406C B4.1.52, table B3-23);
- long-descriptor (ARMv7 LPAE, TTBCR.EAE=1): the 6-bit STATUS of DFSR/IFSR
  with DFSR.LPAE set (table B3-24);
- AArch64: the 6-bit DFSC/IFSC of ESR_EL1.ISS (ARM DDI 0487 D17.2.40), which
  shares the long-descriptor encoding.

``Fault.fsr`` assembles the register value for one access.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum


class Access(IntEnum):
    """The kind of access being checked."""

    READ = 0
    WRITE = 1
    FETCH = 2


class TableFormat(IntEnum):
    """Which translation regime produced a result (and so which FSR encoding applies)."""

    NONE = 0  # stage 1 disabled (SCTLR.M=0): flat identity map
    SHORT = 1  # ARMv7 short-descriptor (TTBCR.EAE=0)
    LPAE = 2  # ARMv7 long-descriptor (TTBCR.EAE=1)
    AARCH64 = 3  # VMSAv8-64, EL1&0 regime


class FaultKind(IntEnum):
    TRANSLATION = 0  # invalid descriptor, VA outside both TTBR ranges, walk disabled
    ACCESS_FLAG = 1  # AF=0 (LPAE/AArch64), AP[0]=0 with SCTLR.AFE=1 (short)
    DOMAIN = 2  # DACR says no access (short-descriptor only)
    PERMISSION = 3  # found by ``check``
    ADDRESS_SIZE = 4  # TTBR or descriptor address beyond the output address size
    TABLE_READ = 5  # a table's IPA could not be read (external abort on the walk)


# Short-descriptor FS values, indexed by (kind, level): level 1 = section, 2 = page.
_SHORT_FS: dict[tuple[FaultKind, int], int] = {
    (FaultKind.ACCESS_FLAG, 1): 0b00011,
    (FaultKind.ACCESS_FLAG, 2): 0b00110,
    (FaultKind.TRANSLATION, 1): 0b00101,
    (FaultKind.TRANSLATION, 2): 0b00111,
    (FaultKind.DOMAIN, 1): 0b01001,
    (FaultKind.DOMAIN, 2): 0b01011,
    (FaultKind.TABLE_READ, 1): 0b01100,
    (FaultKind.TABLE_READ, 2): 0b01110,
    (FaultKind.PERMISSION, 1): 0b01101,
    (FaultKind.PERMISSION, 2): 0b01111,
}

# Long-descriptor / AArch64 status: the kind picks bits [5:2], the level fills [1:0].
_LONG_BASE: dict[FaultKind, int] = {
    FaultKind.ADDRESS_SIZE: 0b000000,
    FaultKind.TRANSLATION: 0b000100,
    FaultKind.ACCESS_FLAG: 0b001000,
    FaultKind.PERMISSION: 0b001100,
    FaultKind.TABLE_READ: 0b010100,
}

FSR_LPAE = 1 << 9  # DFSR/IFSR.LPAE: the long-descriptor layout is in use
FSR_WNR = 1 << 11  # DFSR.WnR
ESR_WNR = 1 << 6  # ESR_ELx.ISS.WnR for data aborts


def status_code(fmt: TableFormat, kind: FaultKind, level: int) -> int:
    """The architected FS/STATUS/DFSC value for ``kind`` at ``level``."""
    if fmt is TableFormat.SHORT:
        try:
            return _SHORT_FS[(kind, level)]
        except KeyError:
            raise ValueError(f"no short-descriptor code for {kind.name} level {level}") from None
    if fmt in (TableFormat.LPAE, TableFormat.AARCH64):
        if kind not in _LONG_BASE or not 0 <= level <= 3:
            raise ValueError(f"no long-descriptor code for {kind.name} level {level}")
        return _LONG_BASE[kind] | level
    raise ValueError("no faults with the MMU off")


@dataclass(frozen=True, slots=True)
class Fault:
    """Why a stage-1 access aborts."""

    kind: FaultKind
    level: int
    format: TableFormat
    status: int  # FS (short), STATUS (LPAE) or DFSC/IFSC (AArch64)
    domain: int | None = None  # short-descriptor: the domain of the descriptor, when read
    table_address: int | None = None  # TABLE_READ: the descriptor IPA that could not be read

    @classmethod
    def make(
        cls,
        fmt: TableFormat,
        kind: FaultKind,
        level: int,
        *,
        domain: int | None = None,
        table_address: int | None = None,
    ) -> Fault:
        return cls(kind, level, fmt, status_code(fmt, kind, level), domain, table_address)

    def fsr(self, access: Access) -> int:
        """The fault status register value for ``access``.

        arm32: the DFSR (READ/WRITE) or IFSR (FETCH) value. arm64: the low ISS
        bits of ESR_EL1 (DFSC/IFSC and WnR); the caller adds EC and IL.
        """
        write = access is Access.WRITE
        match self.format:
            case TableFormat.SHORT:
                value = (self.status & 0xF) | ((self.status >> 4) << 10)
                if access is not Access.FETCH and self.domain is not None:
                    value |= self.domain << 4
                return value | (FSR_WNR if write else 0)
            case TableFormat.LPAE:
                return self.status | FSR_LPAE | (FSR_WNR if write else 0)
            case TableFormat.AARCH64:
                return self.status | (ESR_WNR if write else 0)
            case _:
                raise ValueError("no faults with the MMU off")

    def describe(self) -> str:
        name = self.kind.name.lower().replace("_", "-")
        code = "FS" if self.format is TableFormat.SHORT else "DFSC"
        if self.format is TableFormat.LPAE:
            code = "STATUS"
        text = f"{name} fault, level {self.level} ({code} {self.status:#04x})"
        if self.domain is not None:
            text += f", domain {self.domain}"
        if self.table_address is not None:
            text += f", table read at {self.table_address:#x}"
        return text
