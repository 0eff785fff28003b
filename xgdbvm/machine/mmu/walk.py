"""One VA through the current stage-1 regime: dispatch by architecture and format.

With SCTLR.M=0 the result is the identity map (``format`` NONE, full
permissions, Device-nGnRnE data attributes). On AArch64 a VA with bits set
at or above the implemented PA size (below the top byte when TBIn applies)
then takes a level 0 address size fault, as in
AArch64.TranslateAddressS1Off.
"""

from __future__ import annotations

from xgdbvm.machine.mmu import long, short
from xgdbvm.machine.mmu.fault import Fault, FaultKind, TableFormat
from xgdbvm.machine.mmu.geometry import aarch64_select, lpae_select
from xgdbvm.machine.mmu.regime import MAX_PA_BITS, Arm32Regime, Arm64Regime, Regime
from xgdbvm.machine.mmu.result import (
    ALL_PERMISSIONS,
    Attributes,
    ReadPhys,
    Shareability,
    Translation,
)

MMU_OFF_ATTRIBUTES = Attributes(ALL_PERMISSIONS, "device-nGnRnE", Shareability.OUTER)


def translate(regime: Regime, read_phys: ReadPhys, va: int) -> Translation:
    """Translate ``va`` (no permission check: see ``check``)."""
    match regime:
        case Arm32Regime():
            if not 0 <= va < 1 << 32:
                raise ValueError(f"{va:#x} is not a 32-bit virtual address")
            if not regime.enabled:
                return Translation(va, va, None, TableFormat.NONE, attributes=MMU_OFF_ATTRIBUTES)
            if not regime.lpae:
                return short.walk(regime, read_phys, va)
            selected = lpae_select(regime, va)
        case Arm64Regime():
            if not 0 <= va < 1 << 64:
                raise ValueError(f"{va:#x} is not a 64-bit virtual address")
            if not regime.enabled:
                return _aarch64_off(regime, va)
            selected = aarch64_select(regime, va)
        case _:
            raise TypeError(f"not a translation regime: {regime!r}")
    if isinstance(selected, Fault):
        return Translation(va, None, selected, selected.format)
    return long.walk(selected, read_phys, va)


def _aarch64_off(regime: Arm64Regime, va: int) -> Translation:
    pa_bits = min(regime.pa_bits, MAX_PA_BITS)
    top = 56 if regime.top_byte_ignored((va >> 55) & 1) else 64
    if (va & ((1 << top) - 1)) >> pa_bits:
        fault = Fault.make(TableFormat.AARCH64, FaultKind.ADDRESS_SIZE, 0)
        return Translation(va, None, fault, TableFormat.NONE)
    ipa = va & ((1 << pa_bits) - 1)
    return Translation(va, ipa, None, TableFormat.NONE, attributes=MMU_OFF_ATTRIBUTES)
