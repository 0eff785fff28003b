"""A GDB server that does no work: it replays a conversation recorded from a real one.

What is the fastest any server could serve a gdb script on this host? gdb's own
CPU time alone leaves out the kernel's part of every round trip (two sends, two
receives, waking gdb). This module measures the rest as well:

- ``recording(target)``: a loopback proxy between gdb and a real server that keeps
  the conversation as turns, the client's bytes until the server answers, then the
  server's until the client speaks again;
- ``python -m benchlib.replay FILE``: a server for one client that, for each turn,
  reads the client's bytes, checks they are the recorded ones and sends the server's
  recorded answer, spinning on a non-blocking socket meanwhile (as xgdbvm does while
  gdb is expected to answer).

gdb given the same answers sends the same packets, so the same script runs to the
end against the replay, with the same results. The replay process prints
``REPLAY listening on PORT`` once it listens, and exits 0 after the client closes at
the end of the recording, 1 on a turn that differs (reported on stderr).
"""

from __future__ import annotations

import contextlib
import select
import socket
import struct
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

LOOPBACK = "127.0.0.1"
CLIENT, SERVER = b"C", b"S"
_HEADER = struct.Struct("<cI")  # who spoke, how many bytes
READY = "REPLAY listening on"


def save(turns: list[tuple[bytes, bytes]], path: Path) -> None:
    with path.open("wb") as out:
        for side, data in turns:
            out.write(_HEADER.pack(side, len(data)))
            out.write(data)


def load(path: Path) -> list[tuple[bytes, bytes]]:
    blob = path.read_bytes()
    turns: list[tuple[bytes, bytes]] = []
    offset = 0
    while offset < len(blob):
        side, size = _HEADER.unpack_from(blob, offset)
        offset += _HEADER.size
        turns.append((side, blob[offset : offset + size]))
        offset += size
    return turns


class Recorder:
    """A proxy for one client, in a thread; ``turns`` is complete once it has joined."""

    def __init__(self, upstream: str, timeout: float) -> None:
        host, _, port = upstream.rpartition(":")
        self._upstream = (host, int(port))
        self._timeout = timeout
        self._listener = socket.create_server((LOOPBACK, 0))
        self.target = f"{LOOPBACK}:{self._listener.getsockname()[1]}"
        self.turns: list[tuple[bytes, bytearray]] = []
        self.error: str | None = None
        self._thread = threading.Thread(target=self._serve, name="replay recorder", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        try:
            self._listener.settimeout(self._timeout)
            client, _ = self._listener.accept()
            with client, socket.create_connection(self._upstream, self._timeout) as server:
                self._relay(client, server)
        except OSError as error:
            self.error = f"recording proxy: {error}"
        finally:
            self._listener.close()

    def _relay(self, client: socket.socket, server: socket.socket) -> None:
        peers = {client: (server, CLIENT), server: (client, SERVER)}
        for sock in peers:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        deadline = time.monotonic() + self._timeout
        while time.monotonic() < deadline:
            ready, _, _ = select.select(list(peers), [], [], deadline - time.monotonic())
            for sock in ready:
                data = sock.recv(65536)
                if not data:
                    return  # either side gone: the conversation is over
                other, side = peers[sock]
                other.sendall(data)
                if self.turns and self.turns[-1][0] == side:
                    self.turns[-1][1].extend(data)
                else:
                    self.turns.append((side, bytearray(data)))
        self.error = f"recording proxy: conversation longer than {self._timeout:.0f} s"

    def close(self) -> None:
        """Stop accepting (a client that never came leaves the thread to time out)."""
        with contextlib.suppress(OSError):
            self._listener.close()

    def join(self) -> list[tuple[bytes, bytes]]:
        self._thread.join(self._timeout)
        if self._thread.is_alive():
            raise RuntimeError("recording proxy did not finish")
        if self.error is not None:
            raise RuntimeError(self.error)
        return [(side, bytes(data)) for side, data in self.turns]


@contextlib.contextmanager
def recording(upstream: str, timeout: float) -> Iterator[Recorder]:
    """A Recorder in front of ``upstream`` (HOST:PORT); join it after the client is done."""
    recorder = Recorder(upstream, timeout)
    try:
        yield recorder
    finally:
        recorder.close()


class Mismatch(Exception):
    """The client departed from the recording, or left before its end."""


def _receive_exactly(conn: socket.socket, pending: bytearray, size: int, deadline: float) -> None:
    spins = 0
    while len(pending) < size:
        try:
            chunk = conn.recv(65536)
        except BlockingIOError:
            spins += 1
            if spins % 4096 == 0 and time.monotonic() > deadline:
                raise Mismatch("timed out waiting for the client") from None
            continue
        if not chunk:
            raise Mismatch(f"client closed with {len(pending)} of {size} bytes of a turn")
        pending += chunk


def _send_all(conn: socket.socket, data: bytes) -> None:
    view = memoryview(data)
    while view:
        try:
            view = view[conn.send(view) :]
        except BlockingIOError:
            select.select([], [conn], [], 1.0)


def replay(conn: socket.socket, turns: list[tuple[bytes, bytes]], timeout: float) -> None:
    """Serve ``turns`` to ``conn``; raises Mismatch where the client departs from them."""
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    conn.setblocking(False)
    deadline = time.monotonic() + timeout
    pending = bytearray()
    for index, (side, data) in enumerate(turns):
        if side == SERVER:
            _send_all(conn, data)
            continue
        _receive_exactly(conn, pending, len(data), deadline)
        if pending[: len(data)] != data:
            got = bytes(pending[: len(data)])
            raise Mismatch(f"turn {index}: client sent {got[:60]!r}, recorded {data[:60]!r}")
        del pending[: len(data)]


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m benchlib.replay RECORDING TIMEOUT_S", file=sys.stderr)
        return 2
    turns, timeout = load(Path(argv[0])), float(argv[1])
    with socket.create_server((LOOPBACK, 0)) as listener:
        print(f"{READY} {listener.getsockname()[1]}", flush=True)
        listener.settimeout(timeout)
        conn, _ = listener.accept()
    with conn:
        try:
            replay(conn, turns, timeout)
        except (Mismatch, OSError) as error:
            print(f"replay: {error}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
