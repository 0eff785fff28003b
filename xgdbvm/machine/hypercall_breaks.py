"""Hypercall breakpoints: stop the guest at the entry of a named hypercall (and sub-op).

Contract with the machine: its hypercall trap calls ``stop_at_entry(number,
args, pc)`` first, with ``pc`` the address of the HVC. On a match this rewinds
the vCPU's PC to the HVC, records a ``Breakpoint(pc)`` stop and stops the
emulator, and returns True: the machine returns at once, so the call has not
happened (no enter event, no side effect). When the guest resumes, the HVC
traps again and that one call passes (``_passing``), so ``continue`` runs the
hypercall and stops at the next match. With no breakpoints set the check is
one truth test.

Sub-ops are named as the dispatcher names them (``memory_op.add_to_physmap``,
``xen_version.get_features``), or by number (``memory_op.7``). The names come
from the hypercall's ``SubopTable``, found in the dispatcher's table (directly
or inside a wrapping handler); a hypercall without one can be broken on by
number only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum

import unicorn.arm64_const as a64
import unicorn.arm_const as a32

from xgdbvm.machine.cpu.base import Cpu
from xgdbvm.machine.stop import Breakpoint, StopReason
from xgdbvm.machine.xen.abi import Hypercall
from xgdbvm.machine.xen.hypercall import Dispatcher, hypercall_name

PC_REGISTER = {"arm64": a64.UC_ARM64_REG_PC, "arm32": a32.UC_ARM_REG_PC}


class HypercallBreakError(ValueError):
    """A hypercall breakpoint spec that names nothing."""


@dataclass(frozen=True)
class HypercallBreak:
    number: int
    name: str
    subop: str | None = None  # a sub-op name or a decimal command number

    def __str__(self) -> str:
        return self.name if self.subop is None else f"{self.name}.{self.subop}"


@dataclass(frozen=True)
class HypercallHit:
    """The last stop: which breakpoint, and the call that was about to be made."""

    breakpoint: HypercallBreak
    args: tuple[int, ...]
    pc: int
    subop: str | None


class HypercallBreaks:
    def __init__(
        self, cpu: Cpu, dispatcher: Dispatcher, record_stop: Callable[[StopReason], None]
    ) -> None:
        self._cpu = cpu
        self._dispatcher = dispatcher
        self._record_stop = record_stop
        self._by_number: dict[int, list[HypercallBreak]] = {}
        self._passing: tuple[int, int] | None = None
        self.last_hit: HypercallHit | None = None

    def __bool__(self) -> bool:
        return bool(self._by_number)

    @property
    def breaks(self) -> tuple[HypercallBreak, ...]:
        return tuple(b for group in self._by_number.values() for b in group)

    # -- setting ---------------------------------------------------------------------------

    def parse(self, spec: str) -> HypercallBreak:
        """``NAME[.SUBOP]`` -> a checked breakpoint (HypercallBreakError if it names nothing)."""
        name, _, subop = spec.strip().partition(".")
        number = _hypercall_number(name)
        canonical = hypercall_name(number)
        if not subop:
            return HypercallBreak(number, canonical)
        table = self._dispatcher.subop_table(number)
        names = None if table is None else table.names
        if subop.isdigit():
            command = int(subop)
            named = None if table is None else table.subop_name(command)
            return HypercallBreak(number, canonical, named or str(command))
        if names is None:
            raise HypercallBreakError(
                f"{canonical} has no named sub-ops here; give the sub-op as a number"
            )
        known = [_subop_name(member) for member in names]
        if subop not in known:
            raise HypercallBreakError(
                f"{canonical} has no sub-op {subop!r} (known: {', '.join(known)})"
            )
        return HypercallBreak(number, canonical, subop)

    def add(self, spec: str) -> HypercallBreak:
        hypercall_break = self.parse(spec)
        group = self._by_number.setdefault(hypercall_break.number, [])
        if hypercall_break not in group:
            group.append(hypercall_break)
        return hypercall_break

    def remove(self, spec: str | None = None) -> list[HypercallBreak]:
        """Remove one breakpoint (``NAME`` alone removes all of that hypercall's), or all."""
        if spec is None:
            removed = list(self.breaks)
            self._by_number.clear()
            return removed
        target = self.parse(spec)
        group = self._by_number.get(target.number, [])
        removed = [b for b in group if target.subop is None or b == target]
        kept = [b for b in group if b not in removed]
        if kept:
            self._by_number[target.number] = kept
        else:
            self._by_number.pop(target.number, None)
        return removed

    # -- the machine's check ---------------------------------------------------------------

    def stop_at_entry(self, number: int, args: tuple[int, ...], pc: int) -> bool:
        passing, self._passing = self._passing, None
        group = self._by_number.get(number) if self._by_number else None
        if not group or passing == (pc, number):
            return False
        subop: tuple[str, str] | None = None
        hit = None
        for candidate in group:
            if candidate.subop is None:
                hit = candidate
                break
            if subop is None:
                subop = self._subop_of(number, args)
            if candidate.subop in subop:
                hit = candidate
                break
        if hit is None:
            return False
        self._passing = (pc, number)
        self.last_hit = HypercallHit(hit, args, pc, subop[0] if subop else None)
        cpu = self._cpu
        thumb = cpu.resume_address() & 1
        cpu.write_reg(PC_REGISTER[cpu.arch_name], pc | thumb)
        self._record_stop(Breakpoint(pc))
        cpu.uc.emu_stop()
        return True

    def _subop_of(self, number: int, args: tuple[int, ...]) -> tuple[str, str]:
        """The call's sub-op as (name, decimal command), as the dispatcher would name it."""
        table = self._dispatcher.subop_table(number)
        command = (args[0] if args else 0) & (table.mask if table else 0xFFFF_FFFF)
        named = None if table is None else table.subop_name(command)
        return named or str(command), str(command)


def _hypercall_number(name: str) -> int:
    if name.isdigit():
        return int(name)
    if name.startswith("hypercall_") and name[len("hypercall_") :].isdigit():
        return int(name[len("hypercall_") :])
    try:
        return int(Hypercall[name])
    except KeyError:
        raise HypercallBreakError(f"no hypercall named {name!r}") from None


def _subop_name(member: IntEnum) -> str:
    return member.name.rstrip("_")
