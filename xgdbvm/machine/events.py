"""What leaves the machine: the one narrow observer interface.

The machine emits these frozen events to whoever subscribed (the trace
channel, monitor commands, the CLI's console printer) and never knows who
listens. Every event carries where and when it happened: the vCPU, the guest
PC and the instruction count (the machine's virtual clock).
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import Protocol

from xgdbvm.machine.xen.errno import errno_name
from xgdbvm.machine.xen.hypercall import ConstantCall


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


# One record of the native fast path's ring (native/hvc.c, struct xgdbvm_call_record).
CALL_RECORD = struct.Struct("<8Q")
_CALL_INDEX = f"<Q{CALL_RECORD.size - 8}x"  # a record's first field alone


@dataclass(frozen=True)
class HypercallBatch:
    """Hypercalls the native fast path answered since the last batch, in order.

    Each record stands for the HypercallEnter and HypercallExit the Python path
    would have emitted; ``events`` makes them. A batch travels as packed records
    so that observers which do not look at hypercalls pay nothing per call.
    """

    calls: tuple[ConstantCall, ...]  # the fast table, indexed by the records
    records: bytes  # CALL_RECORD each: call index, pc, icount, five arguments

    def __len__(self) -> int:
        return len(self.records) // CALL_RECORD.size

    def events(self) -> list[HypercallEnter | HypercallExit]:
        made: list[HypercallEnter | HypercallExit] = []
        for index, pc, icount, *args in CALL_RECORD.iter_unpack(self.records):
            call = self.calls[index]
            made.append(
                HypercallEnter(
                    number=call.number, name=call.name, args=tuple(args), pc=pc, icount=icount
                )
            )
            made.append(
                HypercallExit(
                    number=call.number,
                    name=call.name,
                    subop=call.subop,
                    ret=call.ret,
                    errno=errno_name(call.ret),
                    pc=pc,
                    icount=icount,
                )
            )
        return made

    def counts(self) -> dict[str, int]:
        """Calls per hypercall name."""
        counts: dict[str, int] = {}
        for (index,) in struct.iter_unpack(_CALL_INDEX, self.records):
            name = self.calls[index].name
            counts[name] = counts.get(name, 0) + 1
        return counts


class MachineObserver(Protocol):
    def machine_event(self, event: MachineEvent) -> None: ...


class BatchObserver(Protocol):
    """An observer that takes a fast-path batch whole (the trace recorder keeps it
    packed until someone reads it; the console ignores it). Other observers get
    the batch's events one by one."""

    def hypercall_batch(self, batch: HypercallBatch) -> None: ...


class Observers:
    """Fan-out to any number of observers.

    An observer may name the event types it wants in an ``observes`` attribute
    (the console printer and history want console output only): the others never
    reach it, which spares a call per observer on every event of a debugger's
    step. Without one it gets every event. An event may be deferred: it is built and
    goes out before the next one emitted, so the order observers see is the order of
    events, and whoever defers it pays only for capturing its fields.
    Observers must not raise: an exception reaches whatever emitted the event (the
    trace recorder catches and logs its own failures).
    """

    def __init__(self) -> None:
        self._observers: list[MachineObserver] = []
        self._by_type: dict[type, tuple[MachineObserver, ...]] = {}
        self._deferred: list[Callable[[], MachineEvent]] = []

    def subscribe(self, observer: MachineObserver) -> None:
        self._observers.append(observer)
        self._by_type.clear()

    def unsubscribe(self, observer: MachineObserver) -> None:
        if observer in self._observers:
            self._observers.remove(observer)
            self._by_type.clear()

    def __bool__(self) -> bool:
        return bool(self._observers)

    def _for(self, kind: type) -> tuple[MachineObserver, ...]:
        targets = self._by_type.get(kind)
        if targets is None:
            targets = self._by_type[kind] = tuple(
                observer
                for observer in self._observers
                if issubclass(kind, getattr(observer, "observes", None) or object)
            )
        return targets

    def defer(self, make: Callable[[], MachineEvent]) -> None:
        """Emit the event ``make()`` builds later: before the next event emitted, or at
        ``flush``. ``make`` must hold every value the event needs from now."""
        self._deferred.append(make)

    def flush(self) -> None:
        """Emit the deferred events, in order."""
        while self._deferred:
            makers, self._deferred = self._deferred, []
            for make in makers:
                self._emit(make())

    def emit(self, event: MachineEvent) -> None:
        if self._deferred:
            self.flush()
        self._emit(event)

    def _emit(self, event: MachineEvent) -> None:
        for observer in self._for(type(event)):
            observer.machine_event(event)

    def emit_batch(self, batch: HypercallBatch) -> None:
        if self._deferred:
            self.flush()
        events: list[HypercallEnter | HypercallExit] | None = None
        for observer in self._for(HypercallEnter):
            take_batch = getattr(observer, "hypercall_batch", None)
            if take_batch is not None:
                take_batch(batch)
                continue
            if events is None:
                events = batch.events()
            for event in events:
                observer.machine_event(event)
