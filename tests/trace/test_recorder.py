"""The recorder on its own: sequence numbers, the ring, the file, and the hand-off to
subscribers (bounded, lossy or lossless, one wake-up per sleep, not per event)."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

from tests.conftest import MachineFactory
from tests.trace.conftest import read_jsonl
from xgdbvm.machine.events import (
    CALL_RECORD,
    ConsoleOutput,
    ConsoleSource,
    HypercallBatch,
    HypercallEnter,
    Lifecycle,
)
from xgdbvm.machine.xen.hypercall import ConstantCall
from xgdbvm.trace.filters import TraceFilter
from xgdbvm.trace.recorder import TraceRecorder, TraceSource
from xgdbvm.trace.schema import ConsoleEvent, Hello, HypercallEnterEvent, HypercallExitEvent

SOURCE = TraceSource("arm64", "/guest.elf", 1, "guest")


def console(n: int) -> ConsoleOutput:
    return ConsoleOutput(source=ConsoleSource.UART, data=f"line {n}\n".encode(), icount=n)


def test_sequence_numbers_and_the_ring() -> None:
    recorder = TraceRecorder(SOURCE, ring_size=3)
    for n in range(5):
        recorder.machine_event(console(n))
    assert recorder.events == 5
    last = recorder.last(10)
    assert [e.seq for e in last] == [2, 3, 4]
    assert last[-1] == ConsoleEvent(seq=4, icount=4, t_ns=4, source="uart", text="line 4\n")
    assert [e.seq for e in recorder.last(1)] == [4]
    assert recorder.last(0) == []


def test_the_file_has_the_hello_then_every_event_and_is_readable_while_open(
    tmp_path: Path,
) -> None:
    recorder = TraceRecorder(SOURCE)
    path = tmp_path / "t.jsonl"
    recorder.open_file(path)
    recorder.machine_event(console(0))
    recorder.machine_event(HypercallEnter(number=17, name="xen_version", args=(0, 0), icount=9))
    records = read_jsonl(path)  # not closed yet: line-buffered
    assert records[0] == Hello(arch="arm64", image="/guest.elf", domid=1, domain="guest")
    assert records[1:] == [
        ConsoleEvent(seq=0, source="uart", text="line 0\n"),
        HypercallEnterEvent(seq=1, icount=9, t_ns=9, number=17, name="xen_version", args=(0, 0)),
    ]
    recorder.close()
    assert recorder.status().file_lines == 2


def test_a_full_queue_drops_and_reports_the_count_once() -> None:
    recorder = TraceRecorder(SOURCE)
    wakeups: list[int] = []
    sub = recorder.subscribe(TraceFilter(), lambda: wakeups.append(1), capacity=3)
    assert sub.drain() == ([], 0)  # the consumer goes to sleep
    for n in range(5):
        recorder.machine_event(console(n))
    assert wakeups == [1]  # one wake-up for five events
    lines, dropped = sub.drain()
    assert [json.loads(line)["seq"] for line in lines] == [0, 1, 2]
    assert dropped == 2
    recorder.machine_event(console(5))
    lines, dropped = sub.drain()
    assert ([json.loads(line)["seq"] for line in lines], dropped) == ([5], 0)
    status = recorder.status().subscribers[0]
    assert (status.delivered, status.dropped, status.queued) == (4, 2, 0)


def test_a_lifecycle_event_is_never_dropped_and_follows_the_gap_before_it() -> None:
    # A lossy subscriber that fell behind still learns how the run ended.
    recorder = TraceRecorder(SOURCE)
    sub = recorder.subscribe(TraceFilter(), lambda: None, capacity=3)
    for n in range(5):
        recorder.machine_event(console(n))
    recorder.machine_event(Lifecycle(kind="shutdown", detail="poweroff", icount=5))
    recorder.machine_event(console(7))
    lines, dropped = sub.drain()
    records = [json.loads(line) for line in lines]
    assert [(r["kind"], r.get("seq", r.get("count"))) for r in records] == [
        ("console", 0),
        ("console", 1),
        ("console", 2),
        ("dropped", 2),
        ("lifecycle", 5),
    ]
    assert dropped == 1  # the console line after the shutdown, which found no room
    status = recorder.status().subscribers[0]
    assert (status.delivered, status.dropped) == (4, 3)


def test_no_wakeup_while_the_consumer_is_busy() -> None:
    recorder = TraceRecorder(SOURCE)
    wakeups: list[int] = []
    sub = recorder.subscribe(TraceFilter(), lambda: wakeups.append(1))
    for n in range(100):
        recorder.machine_event(console(n))
    assert wakeups == []  # it never said it sleeps
    assert len(sub.drain()[0]) == 100
    assert sub.drain() == ([], 0)
    recorder.machine_event(console(100))
    recorder.machine_event(console(101))
    assert wakeups == [1]


def test_filters_apply_before_the_queue() -> None:
    recorder = TraceRecorder(SOURCE)
    sub = recorder.subscribe(TraceFilter.parse("kind=hypercall"), lambda: None, capacity=1)
    for n in range(10):
        recorder.machine_event(console(n))
    recorder.machine_event(HypercallEnter(number=17, name="xen_version", args=(0,)))
    lines, dropped = sub.drain()
    assert ([json.loads(line)["kind"] for line in lines], dropped) == (["hypercall_enter"], 0)


def test_unsubscribed_and_unobserved_events_cost_no_encoding() -> None:
    recorder = TraceRecorder(SOURCE)
    sub = recorder.subscribe(TraceFilter(), lambda: None)
    recorder.unsubscribe(sub)
    recorder.machine_event(console(0))
    assert sub.drain() == ([], 0)
    assert recorder.status().subscribers == ()


def test_lossless_waits_for_the_consumer() -> None:
    recorder = TraceRecorder(SOURCE, lossless=True)
    sub = recorder.subscribe(TraceFilter(), lambda: None, capacity=2)
    received: list[int] = []
    stop = threading.Event()

    def consume() -> None:
        while not stop.is_set() or sub.queued:
            time.sleep(0.002)  # a slow reader
            received.extend(json.loads(line)["seq"] for line in sub.drain()[0])

    consumer = threading.Thread(target=consume)
    consumer.start()

    def produce() -> None:
        for n in range(50):
            recorder.machine_event(console(n))

    producer = threading.Thread(target=produce)
    producer.start()
    producer.join(10)
    stop.set()
    consumer.join(10)
    assert received == list(range(50))
    assert sub.dropped_total == 0 and sub.blocked_s > 0


def test_lossless_gives_up_on_a_stalled_consumer_after_a_bounded_wait() -> None:
    recorder = TraceRecorder(SOURCE, lossless=True, lossless_wait=0.05)
    sub = recorder.subscribe(TraceFilter(), lambda: None, capacity=2)

    def produce() -> None:
        for n in range(10):
            recorder.machine_event(console(n))

    producer = threading.Thread(target=produce)
    started = time.monotonic()
    producer.start()
    producer.join(10)
    assert time.monotonic() - started < 2  # one wait, then the stalled subscriber is lossy
    assert sub.stalled and sub.stalls == 1
    lines, dropped = sub.drain()
    assert (len(lines), dropped) == (2, 8)
    assert not sub.stalled  # it read again: lossless again


def test_the_consumers_own_thread_never_waits_for_itself() -> None:
    # A reset while the guest is halted emits from the server's thread: exceed the bound.
    recorder = TraceRecorder(SOURCE, lossless=True, lossless_wait=5)
    sub = recorder.subscribe(TraceFilter(), lambda: None, capacity=1)
    started = time.monotonic()
    for n in range(3):
        recorder.machine_event(console(n))
    assert time.monotonic() - started < 1
    lines, dropped = sub.drain()
    assert (len(lines), dropped) == (3, 0)


def test_status_says_where_tracing_goes(tmp_path: Path) -> None:
    recorder = TraceRecorder(SOURCE)
    assert recorder.status().render().startswith("tracing is off\n")
    recorder.open_file(tmp_path / "t.jsonl")
    recorder.listening = "127.0.0.1:4000"
    recorder.subscribe(TraceFilter.parse("kind=console"), lambda: None, label="127.0.0.1:5555")
    recorder.machine_event(console(0))
    text = recorder.status().render()
    assert text.startswith("tracing is on\n")
    assert f"file: {tmp_path / 't.jsonl'} (1 events written)" in text
    assert "listening on 127.0.0.1:4000; 1 subscriber(s); lossy" in text
    assert "127.0.0.1:5555  filter kind=console  delivered 0  queued 1  dropped 0" in text
    recorder.close()


def test_attached_to_a_real_boot(make_machine: MachineFactory) -> None:
    machine, _ = make_machine("arm64")
    image = machine.layout.image
    recorder = TraceRecorder(TraceSource("arm64", image.path, 1, "guest", image.symbols))
    recorder.attach(machine)
    assert TraceRecorder.of(machine) is recorder
    machine.run(5_000_000)
    kinds = [e.kind for e in recorder.last(100)]
    assert kinds[-3:] == ["hypercall_enter", "hypercall_exit", "lifecycle"]
    enter = recorder.last(3)[0]
    assert enter.sym is not None and enter.sym.startswith("HYPERVISOR_sched_op")


def batch_of(*icounts: int) -> HypercallBatch:
    call = ConstantCall(17, "xen_version", 0, 0xFFFF_FFFF, "version", 0x4_0013)
    records = b"".join(CALL_RECORD.pack(0, 0x4000_1000, n, 0, 0, 0, 0, 0) for n in icounts)
    return HypercallBatch(calls=(call,), records=records)


def test_a_batch_takes_two_sequence_numbers_a_call_and_reads_back_as_events(
    tmp_path: Path,
) -> None:
    recorder = TraceRecorder(SOURCE, ring_size=5)
    path = tmp_path / "t.jsonl"
    recorder.open_file(path)
    recorder.machine_event(console(1))
    recorder.hypercall_batch(batch_of(2, 3))
    recorder.machine_event(console(4))
    assert recorder.events == 6
    kinds = [(e.seq, type(e).__name__) for e in recorder.last(10)]
    assert kinds == [
        (1, "HypercallEnterEvent"),
        (2, "HypercallExitEvent"),
        (3, "HypercallEnterEvent"),
        (4, "HypercallExitEvent"),
        (5, "ConsoleEvent"),
    ]
    assert [e.seq for e in recorder.last(2)] == [4, 5]
    records = read_jsonl(path)[1:]
    assert [r.seq for r in records] == [0, 1, 2, 3, 4, 5]
    assert isinstance(records[2], HypercallExitEvent) and records[2].ret == 0x4_0013
    recorder.close()


def test_the_ring_keeps_at_least_its_size_in_events_across_batches() -> None:
    recorder = TraceRecorder(SOURCE, ring_size=4)
    for start in range(0, 30, 3):
        recorder.hypercall_batch(batch_of(start, start + 1, start + 2))
    assert recorder.events == 60
    last = recorder.last(100)
    assert 4 <= len(last) <= 4 + 6  # whole batches are kept: at most one batch more
    assert [e.seq for e in last] == list(range(60 - len(last), 60))
