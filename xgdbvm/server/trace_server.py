"""The trace channel: JSON lines to any number of subscribers on ``--trace ADDR``.

A subscriber connects (TCP ``HOST:PORT`` or ``unix:PATH``) and may send one
filter line first (JSON or the ``--filter`` spelling); the server waits up to
``FILTER_WAIT`` seconds for it, then answers with the hello line and streams
events from that moment on. A bad filter is answered with an ``error`` record
and the connection is closed. Anything the subscriber sends after its first
line is ignored; closing its write side is fine.

Each subscriber has a bounded queue in the recorder (see trace.recorder):
a slow subscriber loses events (and is told how many with a ``dropped``
record; lifecycle events always get through) and never slows the guest; in
lossless mode the guest waits for it, within a bounded time. A subscriber
that goes away is unsubscribed quietly: that is never an error for the server.

Wake-ups: the machine's thread calls ``notify`` only when this task had found
the queue empty; ``notify`` schedules ``Event.set`` in the Trio thread with
``TrioToken.run_sync_soon``, so a busy subscriber costs no thread hop at all;
once woken, the task waits ``BATCH_DELAY`` for more events before it sends, so
one that keeps up costs at most one wake-up and one send per 2 ms.
"""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path
from types import TracebackType
from typing import TextIO

import trio

from xgdbvm.machine.errors import ConfigError
from xgdbvm.machine.machine import Machine
from xgdbvm.server.endpoints import Endpoint, StdioEndpoint, TcpEndpoint
from xgdbvm.server.listeners import Listening, adopt, listen
from xgdbvm.trace.filters import FilterError, TraceFilter
from xgdbvm.trace.recorder import DEFAULT_QUEUE, Subscription, TraceRecorder, TraceSource
from xgdbvm.trace.schema import DroppedEvent, ErrorRecord, Record, encode_line

log = logging.getLogger("xgdbvm.trace")

FILTER_WAIT = 0.2
BATCH_DELAY = 0.002  # latency added to a live stream, so it is sent in batches
FILTER_LINE_MAX = 64 * 1024
FLUSH_TIMEOUT = 5.0
SEND_TIMEOUT_ON_ERROR = 1.0


def trace_source(machine: Machine) -> TraceSource:
    image = machine.layout.image
    domain = machine.config.domain
    return TraceSource(
        arch=machine.config.arch,
        image=image.path,
        domid=domain.domid,
        domain=domain.name,
        symbols=image.symbols,
    )


def trace_recorder(
    machine: Machine, trace_file: Path | TextIO | None = None, *, lossless: bool = False
) -> TraceRecorder:
    """The recorder for a machine, observing it from now on (its ring always on, for
    ``monitor trace last``), writing ``trace_file`` (a path, or a file open for writing)
    if given."""
    recorder = TraceRecorder(trace_source(machine), lossless=lossless)
    if trace_file is not None:
        try:
            recorder.open_file(trace_file)
        except OSError as error:
            name = trace_file if isinstance(trace_file, Path) else trace_file.name
            raise ConfigError(f"--trace-file {name}: {error.strerror or error}") from None
    recorder.attach(machine)
    return recorder


class _Wakeup:
    """The consumer's sleep, set from the machine's thread through the Trio token."""

    def __init__(self, token: trio.lowlevel.TrioToken) -> None:
        self._token = token
        self.event = trio.Event()

    def arm(self) -> trio.Event:
        self.event = trio.Event()
        return self.event

    def notify(self) -> None:  # any thread
        with contextlib.suppress(trio.RunFinishedError):
            self._token.run_sync_soon(self._set)

    def _set(self) -> None:
        self.event.set()


class TraceServer:
    """Serves a recorder's events. Use as an async context manager around the server's
    nursery: leaving it closes the recorder (its file and subscriptions)."""

    def __init__(
        self,
        recorder: TraceRecorder,
        *,
        capacity: int = DEFAULT_QUEUE,
        filter_wait: float = FILTER_WAIT,
        batch_delay: float = BATCH_DELAY,
    ) -> None:
        self.recorder = recorder
        self.capacity = capacity
        self.filter_wait = filter_wait
        self.batch_delay = batch_delay
        recorder.capacity = capacity
        self._sending: set[Subscription] = set()

    async def __aenter__(self) -> TraceServer:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.recorder.close()

    async def serve(
        self,
        endpoint: Endpoint | Listening,
        *,
        task_status: trio.TaskStatus[str] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        """Serve subscribers on ``endpoint``, or on sockets already listening there."""
        if isinstance(endpoint, StdioEndpoint):
            raise ConfigError("--trace: stdio is only for --gdb")
        listening = endpoint if isinstance(endpoint, Listening) else listen(endpoint, "--trace")
        listeners, address = adopt(listening), listening.address
        self.recorder.listening = address
        task_status.started(address)
        try:
            await trio.serve_listeners(self._client, listeners)
        finally:
            self.recorder.listening = None

    async def flush(self, timeout: float = FLUSH_TIMEOUT) -> None:
        """Wait (at most ``timeout``) until every subscriber has been sent what is queued."""
        with trio.move_on_after(timeout):
            while self._sending or any(s.queued for s in self.recorder.subscriptions):
                await trio.sleep(0.01)

    async def _client(self, stream: trio.SocketStream) -> None:
        label = _peer(stream)
        async with stream:
            # A subscriber that goes away is never an error.
            with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
                await self.handle(stream, label)

    async def handle(self, stream: trio.abc.Stream, label: str = "") -> None:
        """One subscriber on any byte stream, until it goes away or we are cancelled."""
        first = await self._first_line(stream)
        try:
            spec = TraceFilter.parse_line(first.decode()) if first.strip() else TraceFilter()
        except (FilterError, UnicodeDecodeError) as error:
            with trio.move_on_after(SEND_TIMEOUT_ON_ERROR):
                await stream.send_all(_line(ErrorRecord(f"bad filter: {error}")))
            return
        wakeup = _Wakeup(trio.lowlevel.current_trio_token())
        subscription = self.recorder.subscribe(spec, wakeup.notify, label=label)
        log.info("trace subscriber %s attached (filter %s)", label or "?", spec)
        try:
            await stream.send_all(_line(self.recorder.source.hello(spec)))
            while True:
                event = wakeup.arm()
                lines, dropped = subscription.drain()
                if dropped:
                    lines.append(_line(DroppedEvent(dropped)))
                if not lines:
                    await event.wait()
                    # Let events gather: a consumer that keeps up would otherwise cost a
                    # wake-up and a send per event, taking GIL time from the guest.
                    await trio.sleep(self.batch_delay)
                    continue
                self._sending.add(subscription)
                try:
                    await stream.send_all(b"".join(lines))
                finally:
                    self._sending.discard(subscription)
        finally:
            self.recorder.unsubscribe(subscription)
            log.info("trace subscriber %s detached", label or "?")

    async def _first_line(self, stream: trio.abc.Stream) -> bytes:
        """The subscriber's filter line, if it sends one within ``filter_wait`` seconds."""
        data = b""
        with trio.move_on_after(self.filter_wait):
            while b"\n" not in data and len(data) < FILTER_LINE_MAX:
                chunk = await stream.receive_some(4096)
                if not chunk:
                    break
                data += chunk
        return data.partition(b"\n")[0]


def _line(record: Record) -> bytes:
    return (encode_line(record) + "\n").encode()


def _peer(stream: trio.SocketStream) -> str:
    try:
        peer = stream.socket.getpeername()
    except OSError:
        return "?"
    if isinstance(peer, tuple) and len(peer) >= 2:
        return str(TcpEndpoint(str(peer[0]), int(peer[1])))
    return "unix"
