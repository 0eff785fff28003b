"""Stage-1 access permissions and the separate access check.

Permissions are computed once per leaf descriptor (ARM DDI 0406C B3.7,
ARM DDI 0487 D8.4) and stored in the ``Translation``; ``check`` then tells
whether one access (read/write/fetch, privileged or not) aborts, with the
architected permission fault code. Callers translate once and check per
access.

Execute rules:
- AArch64 EL1&0: EL0 executes unless UXN; EL1 executes unless PXN or the
  page is EL0-writable; SCTLR_EL1.WXN removes execute from writable pages.
- AArch32 (both formats): a level executes only what it can read, unless XN;
  PL1 also needs PXN=0 and, with SCTLR.UWXN, no PL0 write; SCTLR.WXN as above.
- Short-descriptor Manager domains bypass every permission check.
"""

from __future__ import annotations

from functools import lru_cache

from xgdbvm.machine.mmu.fault import Access, Fault, FaultKind, TableFormat
from xgdbvm.machine.mmu.result import ALL_PERMISSIONS, Permissions, Translation

# AFE=0 short-descriptor AP[2:0] -> (PL1 read, PL1 write, PL0 read, PL0 write).
_AP3 = (
    (False, False, False, False),  # 000 no access
    (True, True, False, False),  # 001 PL1 RW
    (True, True, True, False),  # 010 PL1 RW, PL0 RO
    (True, True, True, True),  # 011 full access
    (False, False, False, False),  # 100 reserved
    (True, False, False, False),  # 101 PL1 RO
    (True, False, True, False),  # 110 RO (deprecated)
    (True, False, True, False),  # 111 RO
)


def _ap2(ap21: int) -> tuple[bool, bool, bool, bool]:
    """AP[2:1] (long descriptors, short with AFE=1): bit 1 read-only, bit 0 EL0 access."""
    read_only, el0 = bool(ap21 & 0b10), bool(ap21 & 0b01)
    return True, not read_only, el0, el0 and not read_only


@lru_cache(maxsize=512)
def aarch64_permissions(ap21: int, uxn: bool, pxn: bool, wxn: bool) -> Permissions:
    r1, w1, r0, w0 = _ap2(ap21)
    x0 = not uxn and not (wxn and w0)
    x1 = not pxn and not w0 and not (wxn and w1)
    return Permissions(r1, w1, x1, r0, w0, x0)


def _aarch32(
    rw: tuple[bool, bool, bool, bool], xn: bool, pxn: bool, wxn: bool, uwxn: bool
) -> Permissions:
    r1, w1, r0, w0 = rw
    x0 = r0 and not xn and not (wxn and w0)
    x1 = r1 and not xn and not pxn and not (uwxn and w0) and not (wxn and w1)
    return Permissions(r1, w1, x1, r0, w0, x0)


@lru_cache(maxsize=512)
def lpae_permissions(ap21: int, xn: bool, pxn: bool, wxn: bool, uwxn: bool) -> Permissions:
    return _aarch32(_ap2(ap21), xn, pxn, wxn, uwxn)


@lru_cache(maxsize=512)
def short_permissions(
    ap: int, xn: bool, pxn: bool, *, afe: bool, manager: bool, wxn: bool, uwxn: bool
) -> Permissions:
    """``ap`` is AP[2:0]; with SCTLR.AFE=1 AP[0] is the access flag and is ignored here."""
    if manager:
        return ALL_PERMISSIONS
    rw = _ap2(ap >> 1) if afe else _AP3[ap & 0b111]
    return _aarch32(rw, xn, pxn, wxn, uwxn)


def check(translation: Translation, access: Access, privileged: bool) -> Fault | None:
    """The fault ``access`` takes through ``translation``, or None if it is allowed.

    A translation that already faulted (translation, access flag, domain,
    address size, table read) returns that fault for every access.
    """
    if translation.fault is not None:
        return translation.fault
    attributes = translation.attributes
    if attributes is None or attributes.permissions.allows(access, privileged):
        return None
    level = translation.steps[-1].level if translation.steps else 1
    return Fault.make(
        translation.format,
        FaultKind.PERMISSION,
        level,
        domain=attributes.domain if translation.format is TableFormat.SHORT else None,
    )
