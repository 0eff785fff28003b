"""The trace recorder: the machine observer behind ``--trace``, ``--trace-file`` and
``monitor trace``.

Threads: the machine calls ``machine_event`` from the worker thread that runs
Unicorn (and from the server's thread while the guest is halted, e.g. on a
reset; never both at once). Subscribers are drained from the server's thread.
The hand-off is a lock-protected deque per subscriber; the recorder knows no
event loop: each subscription has a ``notify`` callable (the server passes one
that schedules a wake-up in Trio), called only when the consumer had found its
queue empty and said it would sleep. So a busy consumer costs no thread hop
per event, and with nobody subscribed and no file an event costs a sequence
number and a ring append (the trace event is built only when someone needs it).

Per event, in order: stamp ``seq``; keep it in a ring of the last ``ring_size``
(``monitor trace last``); write it to the trace file (JSON lines, line-buffered,
so a crash or a reader with ``--follow`` sees every complete line); offer it to
every subscriber whose filter it passes.

A subscriber's queue holds ``capacity`` lines. When it is full:
- lossy (default): the event is dropped for that subscriber and counted; the
  count reaches the subscriber as a ``dropped`` record when it drains again;
- lossless (``--trace-lossless``): the machine's thread waits until the
  subscriber has room, at most ``lossless_wait`` seconds. A subscriber that
  makes no room in that time is marked stalled and treated as lossy (its
  losses counted and reported) until it drains again, so one dead client cannot
  hang the guest for more than one wait.
Either way, lifecycle events (boot, shutdown, reset: a few per run) go in beyond
the capacity, after a ``dropped`` record for the gap before them, so that even a
subscriber that lost events learns how the run went and ended.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TextIO, runtime_checkable

from xgdbvm.trace.convert import Encoded, EventConverter, Symbolizer, SymbolLike
from xgdbvm.trace.filters import Selector, TraceFilter
from xgdbvm.trace.schema import DroppedEvent, Hello, LifecycleEvent, TraceEvent, encode_line

log = logging.getLogger("xgdbvm.trace")

DEFAULT_RING = 1000
DEFAULT_QUEUE = 10_000
LOSSLESS_WAIT = 10.0


@dataclass(frozen=True)
class TraceSource:
    """What is traced, as the hello line tells readers."""

    arch: str
    image: str
    domid: int
    domain: str
    symbols: Sequence[SymbolLike] = ()

    def hello(self, spec: TraceFilter | None = None) -> Hello:
        return Hello(
            arch=self.arch,
            image=self.image,
            domid=self.domid,
            domain=self.domain,
            filter=spec.to_json() if spec is not None and not spec.empty else None,
        )


class Subscription:
    """One subscriber's filter and bounded queue of encoded lines."""

    def __init__(
        self,
        spec: TraceFilter,
        notify: Callable[[], None],
        *,
        capacity: int = DEFAULT_QUEUE,
        lossless: bool = False,
        lossless_wait: float = LOSSLESS_WAIT,
        label: str = "",
    ) -> None:
        if capacity < 1:
            raise ValueError("a subscription needs room for at least one event")
        self.spec = spec
        self.label = label
        self.capacity = capacity
        self.lossless = lossless
        self.lossless_wait = lossless_wait
        self.delivered = 0
        self.dropped_total = 0
        self.stalls = 0
        self.blocked_s = 0.0
        self._notify = notify
        self._selector: Selector[bytes] = Selector(spec)
        self._queue: deque[bytes] = deque()
        self._dropped = 0
        self._gaps = 0  # dropped records in the queue, which are not events
        self._waiting = False
        self._stalled = False
        self._closed = False
        self._lock = threading.Lock()
        self._room = threading.Condition(self._lock)
        self._consumer = threading.get_ident()

    # -- producer side (the machine's thread) ---------------------------------------------

    def offer(self, event: Encoded, line: bytes) -> None:
        """An event (encoded, and its line as bytes) from the machine's thread."""
        selector = self._selector
        keep = event.kind == LifecycleEvent.KIND
        if selector.passes_all:
            self._put((line,), keep)
            return
        items = selector.feed_fields(
            event.kind, event.vcpu, event.pc, event.name, event.subop, line
        )
        if items:
            self._put(items, keep)

    def _put(self, items: Sequence[bytes], keep: bool = False) -> None:
        with self._lock:
            if self._closed:
                return
            for item in items:
                # self._queue, not a local: the consumer swaps it while _make_room waits.
                if len(self._queue) >= self.capacity and not self._make_room():
                    if not keep:
                        self._dropped += 1
                        self.dropped_total += 1
                        continue
                    if self._dropped:  # the gap goes before the event, where it was
                        gap = encode_line(DroppedEvent(self._dropped)) + "\n"
                        self._queue.append(gap.encode())
                        self._dropped = 0
                        self._gaps += 1
                self._queue.append(item)
            if self._waiting and self._queue:
                self._waiting = False
                self._notify()

    def _make_room(self) -> bool:
        """Called with the lock held and the queue full: may the item go in?"""
        if not self.lossless or self._stalled:
            return False
        if threading.get_ident() == self._consumer:
            return True  # the consumer's own thread cannot wait for itself: exceed the bound
        if self._waiting:
            self._waiting = False
            self._notify()
        started = time.monotonic()
        deadline = started + self.lossless_wait
        try:
            while len(self._queue) >= self.capacity and not self._closed:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    self._stalled = True
                    self.stalls += 1
                    log.warning(
                        "trace subscriber %s made no room in %.1f s: dropping its events "
                        "until it reads again",
                        self.label or "?",
                        self.lossless_wait,
                    )
                    return False
                self._room.wait(remaining)
        finally:
            self.blocked_s += time.monotonic() - started
        return not self._closed

    # -- consumer side (the server's thread) ---------------------------------------------

    def drain(self) -> tuple[list[bytes], int]:
        """Everything queued, and how many events were dropped after it. When both are
        empty the subscription notes that the consumer sleeps: the next event notifies."""
        with self._lock:
            items = self._queue
            self._queue = deque()
            dropped = self._dropped
            self._dropped = 0
            self._stalled = False
            self.delivered += len(items) - self._gaps
            self._gaps = 0
            if not items and not dropped:
                self._waiting = True
            self._room.notify_all()
        return list(items), dropped

    @property
    def queued(self) -> int:
        return len(self._queue)

    @property
    def stalled(self) -> bool:
        return self._stalled

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._room.notify_all()


@dataclass(frozen=True)
class SubscriberStatus:
    label: str
    filter: str
    delivered: int
    queued: int
    dropped: int
    stalled: bool


@dataclass(frozen=True)
class TraceStatus:
    events: int
    ring: int
    file: str | None
    file_lines: int
    file_error: str | None
    listening: str | None
    lossless: bool
    capacity: int
    subscribers: tuple[SubscriberStatus, ...]

    @property
    def on(self) -> bool:
        return self.file is not None or self.listening is not None

    def render(self) -> str:
        lines = [f"tracing is {'on' if self.on else 'off'}"]
        if self.file is not None:
            lines.append(f"  file: {self.file} ({self.file_lines} events written)")
        if self.file_error:
            lines.append(f"  file error: {self.file_error} (no longer written)")
        if self.listening is not None:
            mode = (
                "lossless: the guest waits for slow subscribers"
                if self.lossless
                else "lossy: slow subscribers lose events"
            )
            lines.append(
                f"  listening on {self.listening}; {len(self.subscribers)} subscriber(s); "
                f"{mode}; queue {self.capacity} events each"
            )
            for sub in self.subscribers:
                stalled = " (stalled)" if sub.stalled else ""
                lines.append(
                    f"    {sub.label or '?'}  filter {sub.filter}  delivered {sub.delivered}  "
                    f"queued {sub.queued}  dropped {sub.dropped}{stalled}"
                )
        if not self.on:
            lines.append("  start xgdbvm run with --trace ADDR and/or --trace-file PATH")
        lines.append(
            f"  {self.events} events so far; the last {self.ring} kept for 'monitor trace last'"
        )
        return "\n".join(lines) + "\n"


@runtime_checkable
class EventBatch(Protocol):
    """Several machine events delivered at once (the machine's HypercallBatch)."""

    def __len__(self) -> int: ...

    def events(self) -> Sequence[object]: ...


class _Observers(Protocol):
    def subscribe(self, observer: Any) -> None: ...


class Observable(Protocol):
    @property
    def observers(self) -> _Observers: ...


_ATTACHED: weakref.WeakKeyDictionary[Any, TraceRecorder] = weakref.WeakKeyDictionary()


class TraceRecorder:
    def __init__(
        self,
        source: TraceSource,
        *,
        ring_size: int = DEFAULT_RING,
        lossless: bool = False,
        lossless_wait: float = LOSSLESS_WAIT,
    ) -> None:
        self.source = source
        self.lossless = lossless
        self.lossless_wait = lossless_wait
        self.listening: str | None = None
        self.capacity = DEFAULT_QUEUE
        symbolize = Symbolizer(source.symbols) if source.symbols else None
        self._converter = EventConverter(symbolize)
        self._seq = 0
        # (first seq, event or batch, events it holds): at least the last ring_size events.
        self._ring: deque[tuple[int, object, int]] = deque()
        self._ring_size = max(1, ring_size)
        self._ring_events = 0
        self._ring_lock = threading.Lock()
        self._subscribers: tuple[Subscription, ...] = ()
        self._subscribers_lock = threading.Lock()
        self._file: TextIO | None = None
        self.file_path: str | None = None
        self.file_lines = 0
        self.file_error: str | None = None
        self._failed_once = False

    # -- wiring --------------------------------------------------------------------------

    def attach(self, machine: Observable) -> None:
        """Observe ``machine`` and be what ``TraceRecorder.of(machine)`` returns."""
        machine.observers.subscribe(self)
        _ATTACHED[machine] = self

    @staticmethod
    def of(machine: object) -> TraceRecorder | None:
        return _ATTACHED.get(machine)

    def open_file(self, target: Path | TextIO) -> None:
        """Record every event from now on to ``target``, hello line first: a path
        (truncated) or a text file already open for writing, which the recorder then
        owns. Raises OSError if it cannot be opened or written."""
        self.close_file()
        file: TextIO = (
            target.open("w", encoding="utf-8", buffering=1) if isinstance(target, Path) else target
        )
        file.write(encode_line(self.source.hello()) + "\n")
        self._file = file
        self.file_path = str(target) if isinstance(target, Path) else file.name
        self.file_lines = 0
        self.file_error = None

    def close_file(self) -> None:
        file, self._file = self._file, None
        if file is not None:
            file.close()

    def subscribe(
        self,
        spec: TraceFilter,
        notify: Callable[[], None],
        *,
        capacity: int | None = None,
        label: str = "",
    ) -> Subscription:
        """A new subscriber, from the next event on. Call from the consumer's thread."""
        subscription = Subscription(
            spec,
            notify,
            capacity=capacity or self.capacity,
            lossless=self.lossless,
            lossless_wait=self.lossless_wait,
            label=label,
        )
        with self._subscribers_lock:
            self._subscribers = (*self._subscribers, subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        with self._subscribers_lock:
            self._subscribers = tuple(s for s in self._subscribers if s is not subscription)
        subscription.close()

    @property
    def subscriptions(self) -> tuple[Subscription, ...]:
        return self._subscribers

    # -- the observer --------------------------------------------------------------------

    def machine_event(self, event: object) -> None:
        # Host-side xenstore requests arrive on the server's thread, the rest on the
        # machine's: numbering and the ring are taken together under one lock.
        with self._ring_lock:
            seq = self._seq
            self._seq = seq + 1
            self._keep(seq, event, 1)
        if self._file is not None or self._subscribers:
            self._publish(seq, (event,))

    def hypercall_batch(self, batch: EventBatch) -> None:
        """Calls the machine answered natively: kept packed, and expanded into their
        events only for a file or subscribers (or when ``last`` reads them)."""
        count = 2 * len(batch)
        with self._ring_lock:
            seq = self._seq
            self._seq = seq + count
            self._keep(seq, batch, count)
        if self._file is not None or self._subscribers:
            self._publish(seq, batch.events())

    def _keep(self, seq: int, item: object, count: int) -> None:
        ring = self._ring
        ring.append((seq, item, count))
        self._ring_events += count
        while self._ring_events - ring[0][2] >= self._ring_size:
            self._ring_events -= ring.popleft()[2]

    def _publish(self, seq: int, events: Sequence[object]) -> None:
        file, subscribers = self._file, self._subscribers
        try:
            for offset, event in enumerate(events):
                encoded = self._converter.encode(event, seq + offset)
                if file is not None:
                    self._write(file, encoded.line)
                    file = self._file
                if subscribers:
                    data = (encoded.line + "\n").encode()
                    for subscriber in subscribers:
                        subscriber.offer(encoded, data)
        except Exception:
            # Never into the CPU hook: a tracing bug must not stop the guest.
            if not self._failed_once:
                self._failed_once = True
                log.exception("tracing event %d (%s) failed", seq, type(events[0]).__name__)

    def _write(self, file: TextIO, line: str) -> None:
        try:
            file.write(line + "\n")
            self.file_lines += 1
        except OSError as error:
            self.file_error = error.strerror or str(error)
            log.error("trace file %s: %s; no longer written", self.file_path, self.file_error)
            self._file = None

    # -- readers -------------------------------------------------------------------------

    @property
    def events(self) -> int:
        """Events seen so far (the next sequence number)."""
        return self._seq

    def last(self, count: int) -> list[TraceEvent]:
        """The last ``count`` events kept in the ring, oldest first."""
        if count <= 0:
            return []
        with self._ring_lock:
            kept = list(self._ring)
        chosen: list[tuple[int, object]] = []
        for seq, item, size in reversed(kept):
            if size == 1:
                chosen.append((seq, item))
            else:
                assert isinstance(item, EventBatch)
                chosen.extend(reversed(list(enumerate(item.events(), seq))))
            if len(chosen) >= count:
                break
        chosen = chosen[:count][::-1]
        return [self._converter.convert(event, seq) for seq, event in chosen]

    def status(self) -> TraceStatus:
        return TraceStatus(
            events=self._seq,
            ring=self._ring_size,
            file=self.file_path,
            file_lines=self.file_lines,
            file_error=self.file_error,
            listening=self.listening,
            lossless=self.lossless,
            capacity=self.capacity,
            subscribers=tuple(
                SubscriberStatus(
                    s.label, str(s.spec), s.delivered, s.queued, s.dropped_total, s.stalled
                )
                for s in self._subscribers
            ),
        )

    def close(self) -> None:
        self.close_file()
        for subscription in self._subscribers:
            self.unsubscribe(subscription)
