"""Why a run of the machine ended: typed stop reasons."""

from __future__ import annotations

from dataclasses import dataclass

from xgdbvm.machine.xen.abi import ShutdownReason


@dataclass(frozen=True)
class Shutdown:
    """The guest shut itself down (SCHEDOP_shutdown or PSCI)."""

    reason: ShutdownReason
    via: str


@dataclass(frozen=True)
class BudgetExhausted:
    """The instruction budget the caller gave ran out."""

    instructions: int


@dataclass(frozen=True)
class HostInterrupt:
    """Someone on the host asked the machine to stop (GDB Ctrl-C, a signal)."""


@dataclass(frozen=True)
class Breakpoint:
    address: int


@dataclass(frozen=True)
class Watchpoint:
    address: int
    kind: str  # "watch", "rwatch" or "awatch"


@dataclass(frozen=True)
class SingleStep:
    pass


@dataclass(frozen=True)
class Idle:
    """The guest waits for an interrupt (WFI) and nothing can ever wake it."""

    pc: int


@dataclass(frozen=True)
class GuestFault:
    """A stage-2 fault caught for the debugger, before its abort is injected."""

    access: str
    va: int
    ipa: int | None
    pc: int
    why: str


@dataclass(frozen=True)
class MachineFault:
    """The machine cannot go on (the CPU raised something no model handles)."""

    message: str


StopReason = (
    Shutdown
    | BudgetExhausted
    | HostInterrupt
    | Breakpoint
    | Watchpoint
    | SingleStep
    | Idle
    | GuestFault
    | MachineFault
)
