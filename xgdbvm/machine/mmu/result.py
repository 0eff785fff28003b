"""What a stage-1 walk produces: steps, attributes, the translation itself.

Everything here is a frozen value. ``Translation.ipa`` is set whenever a leaf
descriptor was found, even when the access would still abort for a reason
that does not depend on the access type (access flag, domain); the
``fault`` field says whether it aborts. Permission faults depend on the
access and come from ``check``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum
from typing import TypeAlias

from xgdbvm.machine.mmu.fault import Access, Fault, TableFormat


class PhysicalReadError(Exception):
    """Raised by a ``read_phys`` callable when the IPA is not backed (or stage 2 refuses)."""

    def __init__(self, address: int, size: int) -> None:
        super().__init__(f"no memory behind IPA {address:#x} (+{size})")
        self.address = address
        self.size = size


ReadPhys: TypeAlias = Callable[[int, int], bytes]
"""Reads ``size`` bytes of translation table at an IPA; raises ``PhysicalReadError``."""


class StepKind(IntEnum):
    TABLE = 0  # points at the next-level table
    BLOCK = 1  # a leaf above the last level: section, supersection, LPAE/AArch64 block
    PAGE = 2  # a last-level leaf: small/large page, LPAE/AArch64 page
    INVALID = 3  # faulting or reserved encoding
    UNREADABLE = 4  # read_phys raised: there is no descriptor value


@dataclass(frozen=True, slots=True)
class WalkStep:
    """One descriptor fetch of a walk."""

    format: TableFormat
    level: int
    table: int  # IPA of the table base
    index: int  # entry index within the table
    address: int  # IPA of the descriptor
    descriptor: int | None  # None when the read failed
    kind: StepKind
    span: int  # bytes of VA this entry covers
    output: int | None = None  # next table base (TABLE) or output base (BLOCK/PAGE)


class Shareability(IntEnum):
    NON = 0
    RESERVED = 1
    OUTER = 2
    INNER = 3


@dataclass(frozen=True, slots=True)
class Permissions:
    """What each exception level may do through one mapping (stage 1 only)."""

    el1_read: bool
    el1_write: bool
    el1_exec: bool
    el0_read: bool
    el0_write: bool
    el0_exec: bool

    def allows(self, access: Access, privileged: bool) -> bool:
        match access:
            case Access.READ:
                return self.el1_read if privileged else self.el0_read
            case Access.WRITE:
                return self.el1_write if privileged else self.el0_write
            case Access.FETCH:
                return self.el1_exec if privileged else self.el0_exec
        raise ValueError(access)

    def __str__(self) -> str:
        def rwx(r: bool, w: bool, x: bool) -> str:
            return ("r" if r else "-") + ("w" if w else "-") + ("x" if x else "-")

        el1 = rwx(self.el1_read, self.el1_write, self.el1_exec)
        el0 = rwx(self.el0_read, self.el0_write, self.el0_exec)
        return f"EL1:{el1} EL0:{el0}"


ALL_PERMISSIONS = Permissions(True, True, True, True, True, True)
NO_PERMISSIONS = Permissions(False, False, False, False, False, False)


@dataclass(frozen=True, slots=True)
class Attributes:
    """The attributes of a mapping; equal attributes let neighbouring ranges merge."""

    permissions: Permissions
    memory: str  # "normal-wb", "normal-iwb-onc", "device-nGnRnE", ...
    shareability: Shareability
    not_global: bool = False  # nG: the entry is tagged with the current ASID
    accessed: bool = True  # AF (or AP[0] with SCTLR.AFE=1); False aborts every access
    domain: int | None = None  # short-descriptor domain

    def __str__(self) -> str:
        text = f"{self.memory} {self.shareability.name.lower()} {self.permissions}"
        if self.not_global:
            text += " nG"
        if not self.accessed:
            text += " AF=0"
        if self.domain is not None:
            text += f" domain={self.domain}"
        return text


@dataclass(frozen=True, slots=True)
class Translation:
    """The stage-1 result for one virtual address."""

    va: int
    ipa: int | None
    fault: Fault | None
    format: TableFormat
    steps: tuple[WalkStep, ...] = ()
    attributes: Attributes | None = None
    page_size: int | None = None  # size of the block/page that maps va
    ttbr: int | None = None  # which TTBR the walk used

    @property
    def mmu_enabled(self) -> bool:
        return self.format is not TableFormat.NONE

    @property
    def ok(self) -> bool:
        return self.fault is None


@dataclass(frozen=True, slots=True)
class MappedRange:
    """Consecutive VAs mapping consecutive IPAs with equal attributes."""

    va: int
    size: int
    ipa: int
    attributes: Attributes

    @property
    def va_end(self) -> int:
        return self.va + self.size


@dataclass(frozen=True, slots=True)
class PageTableMap:
    """The enumerated stage-1 map, possibly cut short."""

    format: TableFormat
    ranges: tuple[MappedRange, ...]
    truncated: bool = False  # the range or table budget ran out before the end
    unreadable_tables: tuple[int, ...] = ()  # table IPAs read_phys refused (skipped)


class WalkBudget:
    """Shared limits of one enumeration: tables left, and tables that could not be read."""

    def __init__(self, tables: int) -> None:
        self.tables = tables
        self.exhausted = False
        self.unreadable: list[int] = []

    def take_table(self) -> bool:
        if self.tables <= 0:
            self.exhausted = True
            return False
        self.tables -= 1
        return True


Leaf: TypeAlias = tuple[int, int, int, Attributes]
"""One leaf found while enumerating: va, size, ipa, attributes."""


def human_size(size: int) -> str:
    """1 << 21 -> "2M"; exact multiples only, else hex."""
    for shift, unit in ((40, "T"), (30, "G"), (20, "M"), (10, "K")):
        if size >= 1 << shift and size % (1 << shift) == 0:
            return f"{size >> shift}{unit}"
    return f"{size:#x}"
