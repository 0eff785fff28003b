"""What leaves the machine: the one narrow observer interface.

The machine emits these frozen events to whoever subscribed (the trace
channel, monitor commands, the CLI's console printer) and never knows who
listens. Every event carries where and when it happened: the vCPU, the guest
PC and the instruction count (the machine's virtual clock).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Protocol


@dataclass(frozen=True, kw_only=True)
class EventContext:
    vcpu: int = 0
    pc: int = 0
    icount: int = 0


class ConsoleSource(Enum):
    UART = "uart"  # the emulated PL011
    XEN = "xen"  # HYPERVISOR_console_io, as Xen's own console prints it
    PV = "pv"  # the PV console ring


@dataclass(frozen=True, kw_only=True)
class ConsoleOutput(EventContext):
    source: ConsoleSource
    data: bytes


@dataclass(frozen=True, kw_only=True)
class HypercallEnter(EventContext):
    number: int
    name: str
    args: tuple[int, ...]


@dataclass(frozen=True, kw_only=True)
class HypercallExit(EventContext):
    number: int
    name: str
    subop: str | None
    ret: int
    errno: str | None
    note: str = ""
    fields: dict[str, int | str] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class SmcccCall(EventContext):
    """An HVC #0 (SMCCC/PSCI) call and its result."""

    function_id: int
    name: str
    args: tuple[int, ...]
    ret: int


@dataclass(frozen=True, kw_only=True)
class ExceptionInjected(EventContext):
    """An exception the machine entered into the guest by hand (undef, abort, IRQ)."""

    kind: str
    detail: str = ""


@dataclass(frozen=True, kw_only=True)
class Lifecycle(EventContext):
    """Boot, shutdown (with its reason), reset."""

    kind: str
    detail: str = ""
    extra: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class P2mChanged(EventContext):
    """The hypervisor changed the p2m (add_to_physmap, populate_physmap, ...)."""

    op: str
    gfn: int
    count: int
    detail: str = ""


@dataclass(frozen=True, kw_only=True)
class Stage2Fault(EventContext):
    """A guest access that stage 2 refused; the guest receives an abort."""

    access: str  # "read", "write" or "fetch"
    va: int
    ipa: int | None
    size: int
    why: str


@dataclass(frozen=True, kw_only=True)
class XenstoreRequest(EventContext):
    """One xenstore request and its reply (guest ring or host socket)."""

    domid: int
    type: str
    path: str
    value: str
    reply: str
    error: str | None


@dataclass(frozen=True, kw_only=True)
class EventChannelNotify(EventContext):
    """The emulated dom0 sent the guest an event (a reply, a watch, an echo)."""

    port: int
    from_domid: int = 0


@dataclass(frozen=True, kw_only=True)
class IrqAcknowledged(EventContext):
    """The guest read GICC_IAR and took an interrupt."""

    intid: int


MachineEvent = (
    ConsoleOutput
    | HypercallEnter
    | HypercallExit
    | SmcccCall
    | ExceptionInjected
    | Lifecycle
    | P2mChanged
    | Stage2Fault
    | XenstoreRequest
    | EventChannelNotify
    | IrqAcknowledged
)


class MachineObserver(Protocol):
    def machine_event(self, event: MachineEvent) -> None: ...


class Observers:
    """Fan-out to any number of observers; an observer that raises is dropped, not fatal."""

    def __init__(self) -> None:
        self._observers: list[MachineObserver] = []

    def subscribe(self, observer: MachineObserver) -> None:
        self._observers.append(observer)

    def unsubscribe(self, observer: MachineObserver) -> None:
        if observer in self._observers:
            self._observers.remove(observer)

    def __bool__(self) -> bool:
        return bool(self._observers)

    def emit(self, event: MachineEvent) -> None:
        for observer in tuple(self._observers):
            observer.machine_event(event)
