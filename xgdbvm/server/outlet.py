"""Host output (the guest's console, the server's own lines) that never holds up the server.

``xgdbvm run`` writes the guest console to stdout and its announcements (a GDB
client attached, a breakpoint hit) to stderr. Written directly, a full pipe
stops the server: run under a harness that never reads stderr, a session went
quiet after about 900 breakpoint stops, with gdb left waiting on a reply.

An ``Outlet`` takes bytes without ever blocking and hands them to a thread of
its own, which does the blocking writes. Up to ``limit`` bytes wait for a slow
reader; past that, output is dropped (and counted) until the reader catches up,
when one line says how much was lost. A reader that has gone (a closed pipe)
ends the thread and the rest is discarded: the server keeps serving either way.
"""

from __future__ import annotations

import os
import select
import threading
from collections import deque

DEFAULT_LIMIT = 8 << 20  # bytes waiting for the reader before output is dropped
CHUNK = 1 << 16  # bytes per write(2)


class Outlet:
    """A write-only binary sink for a file descriptor (which it does not close)."""

    def __init__(self, fd: int, name: str, *, limit: int = DEFAULT_LIMIT) -> None:
        self._fd = fd
        self._limit = limit
        self._queue: deque[bytes] = deque()
        self._queued = 0  # bytes in _queue
        self._dropped = 0  # bytes dropped since the last note
        self._gone = False  # the reader has gone: discard everything
        self._closing = False
        self._ready = threading.Condition(threading.Lock())
        self._thread = threading.Thread(target=self._drain, name=f"outlet-{name}", daemon=True)
        self._thread.start()

    @property
    def dropped(self) -> int:
        """Bytes dropped and not yet reported by a note."""
        return self._dropped

    @property
    def alive(self) -> bool:
        """The writing thread still runs (it may be blocked on the reader)."""
        return self._thread.is_alive()

    def write(self, data: bytes) -> int:
        """Queue ``data``; never blocks on the reader. Returns len(data) (as a file)."""
        if not data:
            return 0
        with self._ready:
            if self._gone or self._closing:
                return len(data)
            if self._queued + len(data) > self._limit:
                self._dropped += len(data)
                return len(data)
            self._queue.append(bytes(data))
            self._queued += len(data)
            self._ready.notify()
        return len(data)

    def flush(self) -> None:
        """Nothing to do: the thread writes as soon as the reader takes bytes."""

    def close(self, timeout: float) -> bool:
        """Stop taking output and wait up to ``timeout`` s for the backlog to be written;
        False if it was not (the reader is slow, or gone)."""
        with self._ready:
            self._closing = True
            self._ready.notify()
        self._thread.join(timeout)
        return not self._thread.is_alive() and not self._gone

    def _drain(self) -> None:
        while True:
            with self._ready:
                while not self._queue and not self._closing:
                    self._ready.wait()
                if not self._queue:
                    return  # closing, and all written
                data = b"".join(self._queue)
                self._queue.clear()
            if not self._write_all(data):
                with self._ready:
                    self._gone = True
                    self._queue.clear()
                    self._queued = 0
                return
            with self._ready:
                self._queued -= len(data)
                dropped, self._dropped = self._dropped, 0
            if dropped and not self._write_all(
                b"\n[xgdbvm: %d bytes of output dropped: the reader fell behind]\n" % dropped
            ):
                with self._ready:
                    self._gone = True
                return

    def _write_all(self, data: bytes) -> bool:
        view = memoryview(data)
        while view:
            try:
                written = os.write(self._fd, view[:CHUNK])
            except InterruptedError:
                continue
            except BlockingIOError:  # the descriptor was non-blocking: wait here instead
                select.select([], [self._fd], [])
                continue
            except OSError:
                return False  # EPIPE, EBADF: nobody will read this
            view = view[written:]
        return True
