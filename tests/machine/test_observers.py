"""The machine's observer fan-out: an observer that names the events it wants gets
those only, batches included; the others get everything; subscribing and
unsubscribing take effect at the next event; a deferred event goes out before the
next one, batches included."""

from __future__ import annotations

from typing import ClassVar

from xgdbvm.machine.events import (
    CALL_RECORD,
    ConsoleOutput,
    ConsoleSource,
    HypercallBatch,
    HypercallEnter,
    Lifecycle,
    MachineEvent,
    Observers,
)
from xgdbvm.machine.xen.hypercall import ConstantCall


class Everything:
    def __init__(self) -> None:
        self.seen: list[object] = []

    def machine_event(self, event: MachineEvent) -> None:
        self.seen.append(event)


class ConsoleOnly(Everything):
    observes: ClassVar[tuple[type, ...]] = (ConsoleOutput,)


class HypercallsOnly(Everything):
    observes: ClassVar[tuple[type, ...]] = (HypercallEnter,)


CONSOLE = ConsoleOutput(source=ConsoleSource.UART, data=b"hi\n")
BOOT = Lifecycle(kind="boot")


def test_an_observer_gets_only_what_it_observes() -> None:
    observers = Observers()
    every, console = Everything(), ConsoleOnly()
    observers.subscribe(every)
    observers.subscribe(console)
    observers.emit(BOOT)
    observers.emit(CONSOLE)
    assert every.seen == [BOOT, CONSOLE]
    assert console.seen == [CONSOLE]


def test_a_batch_goes_to_observers_of_hypercalls_only() -> None:
    call = ConstantCall(number=17, name="xen_version", cmd=0, cmd_mask=0, subop=None, ret=0x40011)
    records = CALL_RECORD.pack(0, 0x4000_0000, 7, 0, 0, 0, 0, 0)  # call 0 at pc, count, args
    batch = HypercallBatch(calls=(call,), records=records)
    observers = Observers()
    console, hypercalls = ConsoleOnly(), HypercallsOnly()
    observers.subscribe(console)
    observers.subscribe(hypercalls)
    observers.emit_batch(batch)
    assert console.seen == []
    assert [type(e).__name__ for e in hypercalls.seen] == ["HypercallEnter", "HypercallExit"]


def test_subscriptions_change_at_the_next_event() -> None:
    observers = Observers()
    first, second = Everything(), Everything()
    observers.subscribe(first)
    observers.emit(BOOT)  # the fan-out for Lifecycle is now worked out and kept
    observers.subscribe(second)
    observers.emit(BOOT)
    observers.unsubscribe(first)
    observers.emit(BOOT)
    assert len(first.seen) == 2
    assert len(second.seen) == 2
    assert not Observers()
    assert observers


def test_a_deferred_event_goes_out_before_the_next_one_or_at_flush() -> None:
    observers = Observers()
    every = Everything()
    observers.subscribe(every)
    resume = Lifecycle(kind="gdb-resume")
    observers.defer(lambda: resume)
    assert every.seen == []
    observers.emit(CONSOLE)
    assert every.seen == [resume, CONSOLE]
    observers.defer(lambda: resume)
    observers.flush()
    observers.flush()  # nothing left: nothing twice
    assert every.seen == [resume, CONSOLE, resume]


def test_a_deferred_event_precedes_a_batch() -> None:
    call = ConstantCall(number=17, name="xen_version", cmd=0, cmd_mask=0, subop=None, ret=0)
    batch = HypercallBatch(
        calls=(call,), records=CALL_RECORD.pack(0, 0x4000_0000, 7, 0, 0, 0, 0, 0)
    )
    observers = Observers()
    every = Everything()
    observers.subscribe(every)
    observers.defer(lambda: BOOT)
    observers.emit_batch(batch)
    assert [type(e).__name__ for e in every.seen] == [
        "Lifecycle",
        "HypercallEnter",
        "HypercallExit",
    ]
