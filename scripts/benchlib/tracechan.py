"""The trace channel from the outside: a held guest, subscribers, a one-packet GDB client.

`held_guest` starts `xgdbvm run ... --gdb 127.0.0.1:0 --wait-for-gdb` (and
`--trace 127.0.0.1:0` when asked), so the guest waits at its first instruction
while the subscribers connect. `deliver` connects them (each sends an empty
filter line, "everything", and reads its hello line, which the server sends once
it has subscribed it), then resumes the guest with one `$c#63` packet on a raw
GDB connection and reads every subscriber as fast as it can, in one thread with
select, until each has seen the final `lifecycle shutdown` event and GDB has had
the `W` stop reply. Everything is on loopback and every wait has a deadline.

Lines are counted, not parsed: only `dropped` records (for their counts) and the
shutdown event (for its sequence number, which checks that received + dropped
is every event the guest made) are decoded.
"""

from __future__ import annotations

import contextlib
import json
import re
import selectors
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from benchlib import procs
from benchlib.procs import BenchError

RESUME = b"$c#63"
GDB_LINE = re.compile(r"GDB server on (\S+?):(\d+)")
TRACE_LINE = re.compile(r"trace server on (\S+?):(\d+);")
STOP_REPLY = re.compile(rb"\$([WXST])([0-9a-fA-F]{2})")
DROPPED = re.compile(rb'"kind":\s*"dropped"[^\n]*?"count":\s*(\d+)')
FIRST_SEQ = re.compile(rb'^\{"seq":\s*(\d+)', re.M)
SHUTDOWN = re.compile(rb'^[^\n]*"kind":\s*"lifecycle"[^\n]*"type":\s*"shutdown"[^\n]*$', re.M)
IDLE_AFTER_STOP = 2.0  # seconds without data, after the guest stopped, that end a stream


@dataclass(frozen=True)
class Held:
    proc: subprocess.Popen[bytes]
    gdb: tuple[str, int]
    trace: tuple[str, int] | None
    log: Path


def _address(pattern: re.Pattern[str], text: str, what: str) -> tuple[str, int]:
    match = pattern.search(text)
    if match is None:
        raise BenchError(f"xgdbvm announced no {what} address")
    return match.group(1), int(match.group(2))


@contextlib.contextmanager
def held_guest(
    argv: list[str], *, env: dict[str, str], cwd: Path, tmp: Path, timeout: float
) -> Iterator[Held]:
    """`argv` (an `xgdbvm run` with --gdb 127.0.0.1:0 --wait-for-gdb) started and waiting;
    stopped (SIGTERM, then SIGKILL) on the way out."""
    log = tmp / "xgdbvm.err"
    traced = "--trace" in argv
    with log.open("wb") as err:
        proc = procs.spawn(argv, stderr=err, env=env, cwd=cwd)
    try:
        needle = "trace server on" if traced else "GDB server on"
        procs.wait_for_file_line(log, needle, proc, timeout)
        text = log.read_text(errors="replace")
        gdb = _address(GDB_LINE, text, "GDB server")
        trace = _address(TRACE_LINE, text, "trace server") if traced else None
        yield Held(proc, gdb, trace, log)
    finally:
        procs.stop(proc)


@dataclass
class _Subscriber:
    sock: socket.socket
    carry: bytes = b""
    events: int = 0
    dropped: int = 0
    first_seq: int | None = None  # of the first event it was offered (received or dropped)
    last_seq: int | None = None  # of the shutdown event, once seen
    last_at: float = 0.0  # perf_counter when its latest event arrived
    closed: bool = False

    @property
    def done(self) -> bool:
        return self.last_seq is not None or self.closed

    def take(self, chunk: bytes, now: float) -> None:
        """Count the complete lines of `chunk` up to and including the shutdown event;
        what follows it (gdb-stop and the like) is not part of the measured run."""
        if self.last_seq is not None:
            return
        data = self.carry + chunk
        cut = data.rfind(b"\n") + 1
        lines, self.carry = data[:cut], data[cut:]
        if not lines:
            return
        if b'"lifecycle"' in lines and (end := SHUTDOWN.search(lines)) is not None:
            self.last_seq = int(json.loads(end.group(0))["seq"])
            lines = lines[: end.end() + 1]
        counts = DROPPED.findall(lines) if b'"dropped"' in lines else []
        if self.first_seq is None and (first := FIRST_SEQ.search(lines)) is not None:
            lead = lines[: first.start()]
            self.first_seq = int(first.group(1)) - sum(
                int(m.group(1)) for m in DROPPED.finditer(lead)
            )
        records = lines.count(b"\n") - len(counts)
        self.dropped += sum(int(count) for count in counts)
        if records > 0:
            self.events += records
            self.last_at = now

    def offered(self) -> int | None:
        """Events from the first to the shutdown, by their sequence numbers."""
        if self.first_seq is None or self.last_seq is None:
            return None
        return self.last_seq - self.first_seq + 1


@dataclass(frozen=True)
class Delivery:
    events: list[int]  # per subscriber: events received (not hello or dropped records)
    dropped: list[int]  # per subscriber: events the server reported dropped
    seconds: list[float]  # per subscriber: from the resume to its last event's arrival
    stopped: float  # from the resume to GDB's W stop reply


@dataclass
class _Gdb:
    sock: socket.socket
    received: bytes = b""
    stopped_at: float | None = None
    closed: bool = False


def _read_line(sock: socket.socket, deadline: float) -> tuple[bytes, bytes]:
    """One line from a blocking socket within the deadline: (line, what came after it)."""
    data = b""
    while b"\n" not in data:
        left = deadline - time.monotonic()
        if left <= 0:
            raise BenchError("no hello line from the trace server in time")
        sock.settimeout(left)
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            continue
        if not chunk:
            raise BenchError(f"the trace server closed before its hello line: {data[:160]!r}")
        data += chunk
    line, _, rest = data.partition(b"\n")
    return line, rest


def deliver(held: Held, subscribers: int, timeout: float) -> Delivery:
    """Subscribe `subscribers` clients, resume the guest, read until the end; see the module."""
    deadline = time.monotonic() + timeout
    subs: list[_Subscriber] = []
    gdb: _Gdb | None = None
    selector = selectors.DefaultSelector()
    try:
        for _ in range(subscribers):
            assert held.trace is not None
            sock = socket.create_connection(held.trace, timeout=timeout)
            subs.append(_Subscriber(sock))
            sock.sendall(b"\n")  # an empty filter line: everything, and no 0.2 s wait
        for sub in subs:
            hello, sub.carry = _read_line(sub.sock, deadline)
            if b'"hello"' not in hello:
                raise BenchError(f"the trace server answered {hello[:160]!r}")
            sub.sock.setblocking(False)
            selector.register(sub.sock, selectors.EVENT_READ, sub)
        gdb = _Gdb(socket.create_connection(held.gdb, timeout=timeout))
        gdb.sock.setblocking(False)
        selector.register(gdb.sock, selectors.EVENT_READ, gdb)
        started = time.perf_counter()
        gdb.sock.sendall(RESUME)
        last_data = time.monotonic()
        while not (gdb.stopped_at is not None and all(s.done for s in subs)):
            now_mono = time.monotonic()
            if now_mono > deadline:
                raise BenchError(
                    f"the traced run did not end within {timeout:.0f} s "
                    f"(events received: {[s.events for s in subs]})"
                )
            if gdb.stopped_at is not None and now_mono - last_data > IDLE_AFTER_STOP:
                break  # the guest is done and nothing more comes: the checks below say why
            if gdb.closed and gdb.stopped_at is None:
                raise BenchError(f"xgdbvm closed the GDB connection: {gdb.received[-160:]!r}")
            for key, _ in selector.select(min(0.5, max(0.0, deadline - now_mono))):
                now = time.perf_counter()
                owner: _Subscriber | _Gdb = key.data
                try:
                    chunk = owner.sock.recv(1 << 20)
                except (BlockingIOError, InterruptedError):
                    continue
                except OSError:
                    chunk = b""
                if not chunk:
                    selector.unregister(key.fileobj)
                    owner.closed = True
                    continue
                last_data = time.monotonic()
                if isinstance(owner, _Subscriber):
                    owner.take(chunk, now)
                else:
                    _gdb_take(owner, chunk, now)
        if gdb.stopped_at is None:
            raise BenchError("no stop reply from xgdbvm's GDB server")
        for index, sub in enumerate(subs):
            if sub.last_seq is None:
                raise BenchError(
                    f"subscriber {index + 1} saw no shutdown event ({sub.events} events, "
                    f"{sub.dropped} dropped)"
                )
            if sub.events + sub.dropped != sub.offered():
                raise BenchError(
                    f"subscriber {index + 1}: {sub.events} received + {sub.dropped} dropped, "
                    f"but sequence numbers {sub.first_seq} to {sub.last_seq}"
                )
        return Delivery(
            events=[s.events for s in subs],
            dropped=[s.dropped for s in subs],
            seconds=[s.last_at - started for s in subs],
            stopped=gdb.stopped_at - started,
        )
    except OSError as error:
        raise BenchError(f"trace channel: {error}") from None
    finally:
        selector.close()
        for sock in [s.sock for s in subs] + ([gdb.sock] if gdb is not None else []):
            sock.close()


def _gdb_take(gdb: _Gdb, chunk: bytes, now: float) -> None:
    gdb.received += chunk
    match = STOP_REPLY.search(gdb.received)
    if match is None or gdb.stopped_at is not None:
        return
    if match.group(1) in (b"S", b"T"):
        raise BenchError(f"the guest stopped before powering off: {gdb.received[-160:]!r}")
    gdb.stopped_at = now


def file_events(path: Path) -> int:
    """The events in a --trace-file recording (every line but the hello), checked: their
    sequence numbers run without a gap from the first to the last, and the shutdown event
    is among the last ones. Counted in 1 MiB blocks, without parsing the lines."""
    lines = 0
    head = tail = b""
    try:
        with path.open("rb") as f:
            while block := f.read(1 << 20):
                lines += block.count(b"\n")
                if len(head) < 4096:
                    head += block[:4096]
                tail = (tail + block)[-65536:]
    except OSError as error:
        raise BenchError(f"trace file: {error}") from None
    first = FIRST_SEQ.search(head)
    last_line = tail.rstrip(b"\n").rpartition(b"\n")[2]
    last = FIRST_SEQ.match(last_line)
    if first is None or last is None or SHUTDOWN.search(tail) is None:
        raise BenchError(f"the trace file does not end with the shutdown: {last_line[:160]!r}")
    events = lines - 1  # the first line is the hello
    if events != int(last.group(1)) - int(first.group(1)) + 1:
        raise BenchError(
            f"the trace file holds {events} events, sequence numbers "
            f"{first.group(1).decode()} to {last.group(1).decode()}"
        )
    return events
