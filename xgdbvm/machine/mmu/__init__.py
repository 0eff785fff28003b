"""Guest stage-1 MMU: page-table walkers for ARMv7 short/LPAE and AArch64.

Pure logic: the caller supplies the regime registers and a ``read_phys``
that reads table memory by IPA (applying stage 2 behind it and raising
``PhysicalReadError`` when nothing backs the address). No Unicorn, no I/O.

    t = translate(regime, read_phys, va)       # walk, attributes, fault if any
    fault = check(t, Access.WRITE, privileged=True)
    table = mappings(regime, read_phys)        # merged ranges of the whole map
    print("\\n".join(format_translation(t)))
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from xgdbvm.machine.mmu.fault import Access, Fault, FaultKind, TableFormat, status_code
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

if TYPE_CHECKING:
    from xgdbvm.machine.mmu.permissions import check
    from xgdbvm.machine.mmu.ranges import mappings
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
    from xgdbvm.machine.mmu.walk import translate

# The walkers, their results and their rendering load on first use (PEP 562): a machine
# boots and waits for its debugger without translating anything, and they are about
# 15 ms of imports (a dozen dataclasses). The regimes and faults load at once: the CPU
# and the traps need them. No submodule is named after a function it exports, so the
# import system never replaces one of these functions with a module.
_WALKERS = {
    "check": "permissions",
    "mappings": "ranges",
    "format_mappings": "render",
    "format_translation": "render",
    "Attributes": "result",
    "MappedRange": "result",
    "PageTableMap": "result",
    "Permissions": "result",
    "PhysicalReadError": "result",
    "ReadPhys": "result",
    "Shareability": "result",
    "StepKind": "result",
    "Translation": "result",
    "WalkStep": "result",
    "translate": "walk",
}


def __getattr__(name: str) -> Any:
    submodule = _WALKERS.get(name)
    if submodule is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{submodule}"), name)
    globals()[name] = value  # from now on an ordinary attribute
    return value


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
