"""Guest stage-1 MMU: page-table walkers for ARMv7 short/LPAE and AArch64.

Pure logic: the caller supplies the regime registers and a ``read_phys``
that reads table memory by IPA (applying stage 2 behind it and raising
``PhysicalReadError`` when nothing backs the address). No Unicorn, no I/O.

    t = translate(regime, read_phys, va)       # walk, attributes, fault if any
    fault = check(t, Access.WRITE, privileged=True)
    table = mappings(regime, read_phys)        # merged ranges of the whole map
    print("\\n".join(format_translation(t)))
"""

from xgdbvm.machine.mmu.fault import Access, Fault, FaultKind, TableFormat, status_code
from xgdbvm.machine.mmu.mappings import mappings
from xgdbvm.machine.mmu.permissions import check
from xgdbvm.machine.mmu.regime import (
    Arm32Regime,
    Arm64Regime,
    Granule,
    Regime,
    Sctlr32,
    SctlrEl1,
    TcrEl1,
    Ttbcr,
)
from xgdbvm.machine.mmu.render import format_mappings, format_translation
from xgdbvm.machine.mmu.result import (
    Attributes,
    MappedRange,
    PageTableMap,
    Permissions,
    PhysicalReadError,
    ReadPhys,
    Shareability,
    StepKind,
    Translation,
    WalkStep,
)
from xgdbvm.machine.mmu.translate import translate

__all__ = [
    "Access",
    "Arm32Regime",
    "Arm64Regime",
    "Attributes",
    "Fault",
    "FaultKind",
    "Granule",
    "MappedRange",
    "PageTableMap",
    "Permissions",
    "PhysicalReadError",
    "ReadPhys",
    "Regime",
    "Sctlr32",
    "SctlrEl1",
    "Shareability",
    "StepKind",
    "TableFormat",
    "TcrEl1",
    "Translation",
    "Ttbcr",
    "WalkStep",
    "check",
    "format_mappings",
    "format_translation",
    "mappings",
    "status_code",
    "translate",
]
