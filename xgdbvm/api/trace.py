"""The VM's trace, as typed events, and the console inside it.

A :class:`TraceLog` is one subscription to the trace channel (the protocol of
``docs/trace.md``: a filter line, the hello line, then JSON-lines events),
taken when the VM starts and kept for its whole life: every event the guest
caused is in it, in order, so nothing is missed however late a test looks.

``vm.trace`` (a :class:`Trace`) reads that log:

    async for event in vm.trace(filter="kind=hypercall name=memory_op"): ...
    await vm.trace.expect(hypercall="memory_op", subop="add_to_physmap", within=2)
    await vm.trace.expect(kind="lifecycle", type="shutdown")
    await vm.trace.expect(console=r"powering off")
    vm.trace.calls()          # ["console_io.write", "xen_version.version", ...]

``expect`` searches from just after what the previous ``expect`` matched, so a
series of them asserts an order. When what it waits for does not come, it
raises :class:`ExpectationFailed` (an AssertionError) showing what did
happen: the events around, formatted as ``xgdbvm trace`` prints them, and the
last console lines.

``vm.console`` (a :class:`Console`) is the console text in the same log (the
UART, Xen's console_io and the PV console, in the order they were written).
"""

from __future__ import annotations

import difflib
import json
import math
import re
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import trio

from xgdbvm.trace.filters import FilterError, Selector, TraceFilter
from xgdbvm.trace.formatter import TraceFormatter
from xgdbvm.trace.schema import (
    ConsoleEvent,
    DroppedEvent,
    ErrorRecord,
    Hello,
    HypercallExitEvent,
    TraceEvent,
    TraceFormatError,
    decode_line,
)

DEFAULT_WITHIN = 5.0
HELLO_TIMEOUT = 10.0
CONTEXT_BEFORE = 5  # events shown before the search started
MAX_SHOWN = 60  # formatted trace lines in a failure message
CONSOLE_SHOWN = 20
SETTLE = 0.5  # how long a failure waits for the events that follow, to show them
QUIET = 0.05
SYNC_TIMEOUT = 2.0
MORE_CALLS_SHOWN = 10  # calls past the expected sequence shown in its diff
LINE_MAX = 1 << 20

FilterSpec = str | Mapping[str, Any] | TraceFilter | None


class TraceError(Exception):
    """The trace channel refused the subscription or sent something unreadable."""


class ExpectationFailed(AssertionError):
    """What a test waited for did not happen; the message shows what did."""


def parse_filter(spec: FilterSpec) -> TraceFilter:
    """A filter in any spelling: ``"kind=hypercall name=memory_op"``, its JSON object,
    or a :class:`TraceFilter`."""
    if spec is None:
        return TraceFilter()
    if isinstance(spec, TraceFilter):
        return spec
    try:
        if isinstance(spec, str):
            return TraceFilter.parse_line(spec)
        return TraceFilter.from_json(spec)
    except FilterError as error:
        raise ValueError(f"trace filter: {error}") from None


def call_name(event: HypercallExitEvent) -> str:
    """``name.subop`` (or ``name``), the spelling filters and ``expect_calls`` use."""
    return f"{event.name}.{event.subop}" if event.subop else event.name


def format_events(events: Sequence[TraceEvent]) -> list[str]:
    """Lines as ``xgdbvm trace`` prints them (without colour)."""
    return TraceFormatter().feed_all(events)


class TraceLog:
    """Every event of one trace subscription, in arrival order."""

    def __init__(self) -> None:
        self.hello: Hello | None = None
        self.events: list[TraceEvent] = []
        self.dropped = 0
        self.ended = False
        self.error: str | None = None
        self._changed = trio.Event()
        self._console: list[str] = []
        self._console_events = 0
        self._stream: trio.abc.Stream | None = None
        self._reader: _LineReader | None = None

    # -- the subscription ----------------------------------------------------------------

    async def subscribe(self, stream: trio.abc.Stream, spec: FilterSpec = None) -> Hello:
        """Send the filter line and read the hello; the subscription is live when this
        returns. :meth:`pump` then reads the events."""
        self._stream = stream
        self._reader = _LineReader(stream)
        line = json.dumps(parse_filter(spec).to_json(), separators=(",", ":"))
        await stream.send_all((line + "\n").encode())
        with trio.fail_after(HELLO_TIMEOUT):
            first = await self._reader.line()
        if first is None:
            raise TraceError("the trace channel closed before its hello line")
        record = _decode(first)
        if isinstance(record, ErrorRecord):
            raise TraceError(f"the trace channel refused the subscription: {record.message}")
        if not isinstance(record, Hello):
            raise TraceError(f"the trace channel began with {first[:80]!r}, not a hello")
        self.hello = record
        return record

    async def pump(self) -> None:
        """Read events until the channel closes (run it as a task); closes the stream."""
        if self._reader is None or self._stream is None:
            raise RuntimeError("subscribe() first")
        try:
            while (lines := await self._reader.lines()) is not None:
                for line in lines:
                    if line.strip():
                        self._add(_decode(line))
                self._notify()  # once per batch, not per event
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass
        except TraceError as error:
            self.error = str(error)
        finally:
            self.ended = True
            self._notify()
            await trio.aclose_forcefully(self._stream)

    @property
    def last_seq(self) -> int:
        """The sequence number of the last event received (-1 before any)."""
        return self.events[-1].seq if self.events else -1

    def add(self, record: object) -> None:
        """Take a record (an event, a ``dropped`` or ``error`` record) and wake waiters."""
        self._add(record)
        self._notify()

    def _add(self, record: object) -> None:
        if isinstance(record, TraceEvent):
            self.events.append(record)
        elif isinstance(record, DroppedEvent):
            self.dropped += record.count
        elif isinstance(record, ErrorRecord):
            self.error = record.message

    def _notify(self) -> None:
        self._changed.set()
        self._changed = trio.Event()

    async def wait_change(self) -> None:
        """Until an event arrives or the channel ends."""
        if not self.ended:
            await self._changed.wait()

    # -- the console inside ----------------------------------------------------------------

    def console_chunks(self) -> list[str]:
        for event in self.events[self._console_events :]:
            if isinstance(event, ConsoleEvent):
                self._console.append(event.text)
        self._console_events = len(self.events)
        return self._console


class Trace:
    """``vm.trace``: iterate, search and assert on the VM's trace (see the module doc)."""

    def __init__(
        self,
        log: TraceLog,
        console: Console | None = None,
        emitted: Callable[[], int] | None = None,
    ) -> None:
        self.log = log
        self.console = console
        self.emitted = emitted  # how many events the VM has emitted (in-process only)
        self.cursor = 0  # index of the first event the next expect looks at

    def __call__(
        self, filter: FilterSpec = None, *, follow: bool = True
    ) -> AsyncIterator[TraceEvent]:
        """Every event from the VM's start that passes ``filter``; with ``follow`` (the
        default) it then waits for new ones until the VM closes, else it ends with what
        has arrived so far."""
        return self._iterate(parse_filter(filter), follow)

    async def _iterate(self, spec: TraceFilter, follow: bool) -> AsyncIterator[TraceEvent]:
        selector: Selector[TraceEvent] | None = None if spec.empty else Selector(spec)
        index = 0
        while True:
            events = self.log.events
            while index < len(events):
                event = events[index]
                index += 1
                for passed in [event] if selector is None else selector.feed(event, event):
                    yield passed
            if not follow or self.log.ended:
                for passed in selector.flush() if selector is not None else []:
                    yield passed
                return
            await self.log.wait_change()

    async def sync(self, timeout: float = SYNC_TIMEOUT) -> None:
        """Wait until the log holds every event the VM has emitted so far (in-process VMs;
        elsewhere it returns at once). A GDB client of ``vm.gdb()`` does this at every
        stop, so after ``cont()`` the trace is complete up to the stop."""
        if self.emitted is None:
            return
        with trio.move_on_after(timeout):
            while not self.log.ended and self.log.last_seq < self.emitted() - 1:
                await self.log.wait_change()

    @property
    def hello(self) -> Hello | None:
        return self.log.hello

    @property
    def dropped(self) -> int:
        """Events the channel dropped because this reader fell behind (0 when lossless)."""
        return self.log.dropped

    def events(self, filter: FilterSpec = None) -> list[TraceEvent]:
        """The events so far that pass ``filter``."""
        spec = parse_filter(filter)
        if spec.empty:
            return list(self.log.events)
        selector: Selector[TraceEvent] = Selector(spec)
        out = [p for event in self.log.events for p in selector.feed(event, event)]
        return out + selector.flush()

    def calls(self) -> list[str]:
        """Every finished hypercall so far, as ``name.subop`` (``name`` without one)."""
        return [call_name(e) for e in self.log.events if isinstance(e, HypercallExitEvent)]

    def format(self, events: Sequence[TraceEvent] | None = None) -> str:
        """Events (all so far by default) as ``xgdbvm trace`` prints them."""
        lines = format_events(self.log.events if events is None else events)
        return "".join(line + "\n" for line in lines)

    # -- expectations --------------------------------------------------------------------

    async def expect(
        self,
        *,
        hypercall: str | None = None,
        subop: str | None = None,
        kind: str | None = None,
        console: str | re.Pattern[str] | None = None,
        within: float = DEFAULT_WITHIN,
        **fields: object,
    ) -> TraceEvent:
        """Wait (at most ``within`` seconds) for the next event that matches, and return it.

        ``hypercall="memory_op"`` (with ``subop="add_to_physmap"``, or spelled
        ``"memory_op.add_to_physmap"``) matches the call's exit, which carries its
        result; ``kind="lifecycle"`` any event of a kind (``"hypercall"`` covers enter
        and exit); ``console=REGEX`` a console event whose text matches; other keywords
        compare an event's fields (``type="shutdown"``, ``ret=0``, ``source="uart"``,
        or a decoded argument of a hypercall exit)."""
        want = Expectation.build(hypercall, subop, kind, console, fields)
        start = self.cursor
        found = await self._search(lambda _, event: want.matches(event), start, within)
        if found is not None:
            self.cursor = found + 1
            return self.log.events[found]
        raise ExpectationFailed(self._failure(f"expected {want} within {within:g} s", start))

    async def expect_calls(
        self, expected: Sequence[str], *, within: float = DEFAULT_WITHIN
    ) -> list[HypercallExitEvent]:
        """The next hypercalls are exactly ``expected`` (``name.subop`` or ``name``), in
        order; otherwise fail with a diff of the calls that were made."""
        start = self.cursor
        wanted = list(expected)
        seen: list[tuple[int, HypercallExitEvent]] = []

        def decided(index: int, event: TraceEvent) -> bool:
            """Enough calls to compare, or one that already differs."""
            if isinstance(event, HypercallExitEvent):
                seen.append((index, event))
                if call_name(event) != wanted[len(seen) - 1]:
                    return True
            return len(seen) >= len(wanted)

        if not wanted:
            return []
        found = await self._search(decided, start, within)
        calls = [call_name(e) for _, e in seen[: len(wanted)]]
        if found is not None and calls == wanted:
            self.cursor = seen[-1][0] + 1
            return [e for _, e in seen]
        if found is not None:
            await self._settle(min(SETTLE, within))  # let the rest arrive, for the diff
        # Every call since the search began, as far as it has been received.
        actual = [
            call_name(e) for e in self.log.events[start:] if isinstance(e, HypercallExitEvent)
        ][: len(wanted) + MORE_CALLS_SHOWN]
        diff = "\n".join(
            difflib.unified_diff(wanted, actual, "expected", "actual", lineterm="", n=len(wanted))
        )
        why = "other calls" if found is not None else f"only {len(calls)} in {within:g} s"
        raise ExpectationFailed(
            self._failure(f"expected the hypercalls {wanted}; got {why}:\n{diff}", start)
        )

    async def _search(
        self, predicate: Callable[[int, TraceEvent], bool], start: int, within: float
    ) -> int | None:
        """The index of the first event from ``start`` that ``predicate`` accepts, waiting
        for more until ``within`` runs out or the channel ends."""
        index = start
        deadline = trio.current_time() + within if math.isfinite(within) else math.inf
        while True:
            events = self.log.events
            while index < len(events):
                if predicate(index, events[index]):
                    return index
                index += 1
            if self.log.ended:
                return None
            with trio.move_on_at(deadline) as scope:
                await self.log.wait_change()
            if scope.cancelled_caught:
                return None

    async def _settle(self, limit: float) -> None:
        """Wait (at most ``limit``) until the trace has been quiet for ``QUIET``."""
        with trio.move_on_after(limit):
            while not self.log.ended:
                with trio.move_on_after(QUIET) as scope:
                    await self.log.wait_change()
                if scope.cancelled_caught:
                    return

    def _failure(self, headline: str, start: int) -> str:
        return failure_report(headline, self.log, start, self.console)


def failure_report(
    headline: str, log: TraceLog, start: int = 0, console: Console | None = None
) -> str:
    """``headline``, then the trace around ``start`` and the console's last lines."""
    events = log.events
    first = max(0, start - CONTEXT_BEFORE)
    lines = format_events(events[first:])
    omitted = len(lines) - MAX_SHOWN
    if omitted > 0:
        lines = lines[:MAX_SHOWN]
    out = [headline, ""]
    searched = len(events) - start
    out.append(
        f"What happened ({searched} event(s) searched"
        + (f", from event {start}, after the previous match" if start else "")
        + (f"; {log.dropped} dropped by the channel" if log.dropped else "")
        + (f"; the trace channel ended: {log.error}" if log.error else "")
        + "), as `xgdbvm trace` prints it:"
    )
    out += [f"  {line}" for line in lines] or ["  (no events)"]
    if omitted > 0:
        out.append(f"  ... {omitted} more line(s)")
    if console is not None:
        tail = console.lines[-CONSOLE_SHOWN:]
        out.append(f"Console (last {len(tail)} line(s)):")
        out += [f"  {line}" for line in tail] or ["  (nothing)"]
    return "\n".join(out)


@dataclass(frozen=True)
class Expectation:
    kind: str | None
    name: str | None
    subop: str | None
    console: re.Pattern[str] | None
    fields: tuple[tuple[str, object], ...]

    @classmethod
    def build(
        cls,
        hypercall: str | None,
        subop: str | None,
        kind: str | None,
        console: str | re.Pattern[str] | None,
        fields: Mapping[str, object],
    ) -> Expectation:
        if hypercall is not None and subop is None and "." in hypercall:
            hypercall, subop = hypercall.split(".", 1)
        if hypercall is not None or subop is not None:
            kind = kind or "hypercall_exit"
        if console is not None:
            kind = kind or "console"
            console = re.compile(console) if isinstance(console, str) else console
        if kind is None and not fields:
            raise TypeError("expect what? give hypercall=, kind=, console= or event fields")
        return cls(kind, hypercall, subop, console, tuple(fields.items()))

    def matches(self, event: TraceEvent) -> bool:
        kind = event.kind
        if self.kind is not None and kind != self.kind and not kind.startswith(self.kind + "_"):
            return False
        if self.name is not None and getattr(event, "name", None) != self.name:
            return False
        if self.subop is not None and getattr(event, "subop", None) != self.subop:
            return False
        if self.console is not None and not (
            isinstance(event, ConsoleEvent) and self.console.search(event.text)
        ):
            return False
        return all(_field(event, key) == value for key, value in self.fields)

    def __str__(self) -> str:
        if self.name is not None:
            text = f"hypercall {self.name}" + (f"({self.subop})" if self.subop else "")
        elif self.console is not None:
            text = f"console output matching {self.console.pattern!r}"
        elif self.kind is not None:
            text = f"a {self.kind} event"
        else:
            text = "an event"
        if self.fields:
            text += " with " + ", ".join(f"{k}={v!r}" for k, v in self.fields)
        return text


_MISSING = object()


def _field(event: TraceEvent, key: str) -> object:
    value = getattr(event, key, _MISSING)
    if value is _MISSING and isinstance(event, HypercallExitEvent) and event.fields:
        value = event.fields.get(key, _MISSING)
    return value


class Console:
    """``vm.console``: the guest's console output, from the trace."""

    def __init__(self, log: TraceLog) -> None:
        self.log = log
        self.cursor = 0  # where the next expect starts searching in ``text``

    @property
    def text(self) -> str:
        """Everything written so far."""
        return "".join(self.log.console_chunks())

    @property
    def lines(self) -> list[str]:
        text = self.text
        return text.splitlines()

    async def expect(
        self, pattern: str | re.Pattern[str], *, within: float = DEFAULT_WITHIN
    ) -> re.Match[str]:
        """Wait (at most ``within`` seconds) for output matching ``pattern`` after the
        previous match, and return the match."""
        regex = re.compile(pattern) if isinstance(pattern, str) else pattern
        start = self.cursor
        deadline = trio.current_time() + within
        while True:
            match = regex.search(self.text, start)
            if match is not None:
                self.cursor = match.end()
                return match
            if self.log.ended:
                break
            with trio.move_on_at(deadline) as scope:
                await self.log.wait_change()
            if scope.cancelled_caught:
                break
        text = self.text
        where = f" after offset {start}" if start else ""
        headline = (
            f"expected console output matching {regex.pattern!r}{where} within {within:g} s"
            f"; the console had {len(text)} characters, {len(text) - start} searched"
        )
        first = _first_event_after_console_offset(self.log, start)
        raise ExpectationFailed(failure_report(headline, self.log, first, self))


def _first_event_after_console_offset(log: TraceLog, offset: int) -> int:
    """The index of the console event that holds ``offset`` (for the failure context)."""
    seen = 0
    for index, event in enumerate(log.events):
        if isinstance(event, ConsoleEvent):
            seen += len(event.text)
            if seen > offset:
                return index
    return len(log.events)


class _LineReader:
    def __init__(self, stream: trio.abc.Stream) -> None:
        self._stream = stream
        self._buffer = bytearray()

    async def lines(self) -> list[str] | None:
        """The complete lines received so far (waiting for at least one), or None at the
        end of the stream."""
        first = await self.line()
        if first is None:
            return None
        out = [first]
        while (end := self._buffer.find(b"\n")) >= 0:
            out.append(bytes(self._buffer[:end]).decode("utf-8", "replace"))
            del self._buffer[: end + 1]
        return out

    async def line(self) -> str | None:
        """The next line without its newline, or None at the end of the stream."""
        while True:
            end = self._buffer.find(b"\n")
            if end >= 0:
                line = bytes(self._buffer[:end])
                del self._buffer[: end + 1]
                return line.decode("utf-8", "replace")
            if len(self._buffer) > LINE_MAX:
                raise TraceError("a trace line longer than 1 MiB")
            chunk = await self._stream.receive_some(65536)
            if not chunk:
                if self._buffer:
                    line = bytes(self._buffer)
                    self._buffer.clear()
                    return line.decode("utf-8", "replace")
                return None
            self._buffer += chunk


def _decode(line: str) -> object:
    try:
        return decode_line(line)
    except TraceFormatError as error:
        raise TraceError(f"unreadable trace line: {error}") from None
