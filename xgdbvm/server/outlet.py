"""Host output (the guest's console, the server's own lines) that never holds up the server.

``xgdbvm run`` writes the guest console to stdout and its announcements (a GDB
client attached, a breakpoint hit) to stderr. Written directly, a full pipe
stops the server: run under a harness that never reads stderr, a session went
quiet after about 900 breakpoint stops, with gdb left waiting on a reply.

An ``Outlet`` takes bytes without ever blocking. A short write with nothing
queued before it, to a descriptor that ``poll`` says can take it, goes out at
once: a stop line, say, costs one system call and no thread hand-off, which on
two CPUs would take the one gdb is about to run on. Everything else goes to a
thread of its own, which does the blocking writes. Up to ``limit`` bytes wait for a slow
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
# Written at once when poll says the descriptor can take them: a pipe then has a
# free page (4 KiB), a terminal at least 256 bytes of room, so such a write never blocks.
DIRECT_MAX = 256
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
        self._poll = select.poll()
        self._poll.register(fd, select.POLLOUT)
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
        size = len(data)
        if not size:
            return 0
        with self._ready:
            if self._gone or self._closing:
                return size
            if not self._queued and not self._dropped and size <= DIRECT_MAX:
                # Nothing queued or in flight: the bytes cannot overtake any.
                data = self._write_now(data)
                if not data:
                    return size
            if self._queued + len(data) > self._limit:
                self._dropped += len(data)
                return size
            self._queue.append(bytes(data))
            self._queued += len(data)
            self._ready.notify()
        return size

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

    def _write_now(self, data: bytes) -> bytes:
        """Write what the descriptor takes without blocking; the rest (the caller holds
        the lock)."""
        try:
            if not self._poll.poll(0):
                return data
            written = os.write(self._fd, data)
        except (BlockingIOError, InterruptedError):
            return data
        except OSError:
            self._gone = True  # the reader has gone (EPIPE), or the descriptor
            return b""
        return data[written:]

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
                if self._dropped:
                    # Queued, not written here: a direct write must not overtake it.
                    note = b"\n[xgdbvm: %d bytes of output dropped: the reader fell behind]\n"
                    self._queue.append(note % self._dropped)
                    self._queued += len(self._queue[-1])
                    self._dropped = 0

    def _write_all(self, data: bytes) -> bool:
        view = memoryview(data)
        while view:
            try:
                written = os.write(self._fd, view[:CHUNK])
            except InterruptedError:
                continue
            except BlockingIOError:  # the descriptor was non-blocking: wait here instead
                self._poll.poll()
                continue
            except OSError:
                return False  # EPIPE, EBADF: nobody will read this
            view = view[written:]
        return True
