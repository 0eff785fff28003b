"""The GDB client's byte stream, as cheap per packet as Trio allows.

GDB talks in lock step: one small packet, one small reply. Through
``trio.SocketStream`` each receive and each send pass through the scheduler
(a checkpoint before the call, another after it), which measured about 35 us
of the ~60 us a loopback round trip costs the server. For a socket we try the
non-blocking call first and only park in ``wait_readable``/``wait_writable``
when it would block; any other stream (stdio, test memory streams) goes
through its own methods.

The fast path may go a while without a checkpoint, so ``receive_some`` yields
to the scheduler every ``YIELD_EVERY`` calls that did not have to wait.

``receive_some(linger=True)`` is for a peer that is about to answer (gdb, right
after a reply, while the guest is halted). Before parking in Trio it:

- spins for up to ``SPIN_S``, polling the socket without blocking, when the
  process may use more than one CPU. gdb thinks for some tens of microseconds per
  packet; a process asleep in ``poll`` costs the kernel a wake-up on top of that,
  and on a small virtual machine the wake-up is the larger part. With gdb on the
  other CPU, spinning took stepi from 1.0-1.3x QEMU's rate to 1.4-1.5x (arm64 and
  arm32, full benchmark runs). On a single CPU a spin would only delay gdb, so
  there is none;
- then blocks in ``poll`` for up to ``LINGER_S``, outside the scheduler: one
  system call instead of an epoll registration, a scheduler pass and a second
  receive (10-30% on stepi and continue before the spin existed).

Other tasks wait at most ``SPIN_S + LINGER_S``; a client that thinks longer is
awaited the usual way, so an idle gdb prompt costs one window of CPU per reply.
"""

from __future__ import annotations

import os
import select
import socket
import time
from typing import Protocol

import trio

RECEIVE_SIZE = 65536
YIELD_EVERY = 32
LINGER_S = 0.0005
SPIN_S = 0.001


def _usable_cpus() -> int:
    # The CPUs this process may run on (a container or taskset may allow fewer than
    # the machine has); where the platform cannot say, the machine's count.
    affinity = getattr(os, "sched_getaffinity", None)
    return len(affinity(0)) if affinity is not None else os.cpu_count() or 1


def spin_window(cpus: int) -> float:
    """How long to spin for the peer's next packet, given the CPUs we may run on."""
    return SPIN_S if cpus > 1 else 0.0


class Wire(Protocol):
    async def receive_some(self, *, linger: bool = False) -> bytes:
        """The next bytes from the peer; empty once it has gone. ``linger``: the peer
        is expected to answer within moments (see the module notes)."""
        ...

    async def send_all(self, data: bytes) -> None:
        """Send everything; raises trio.BrokenResourceError if the peer has gone."""
        ...

    def release(self) -> None:
        """Give the connection back to its stream (which the caller still closes)."""
        ...


class StreamWire:
    def __init__(self, stream: trio.abc.Stream) -> None:
        self._stream = stream

    async def receive_some(self, *, linger: bool = False) -> bytes:
        return bytes(await self._stream.receive_some(RECEIVE_SIZE))

    async def send_all(self, data: bytes) -> None:
        await self._stream.send_all(data)

    def release(self) -> None:
        pass


class SocketWire:
    """A connected, non-blocking socket borrowed from a trio.SocketStream."""

    def __init__(self, stream: trio.SocketStream) -> None:
        # A stdlib socket object on the same descriptor, detached (not closed) at the
        # end: the stream stays the owner and closes it.
        self._sock = socket.socket(fileno=stream.socket.fileno())
        self._sock.setblocking(False)
        self._unyielded = 0
        self._poll = select.poll()
        self._poll.register(self._sock.fileno(), select.POLLIN)
        self._spin_s = spin_window(_usable_cpus())

    async def receive_some(self, *, linger: bool = False) -> bytes:
        while True:
            try:
                data = self._sock.recv(RECEIVE_SIZE)
            except BlockingIOError:
                if linger:
                    linger = False  # once: after it, data (or a hang-up) is there or not
                    if self._spin() or self._poll.poll(LINGER_S * 1000):
                        continue
                self._unyielded = 0
                await trio.lowlevel.wait_readable(self._sock)
                continue
            except OSError:
                return b""  # reset by the peer: as good as gone
            self._unyielded += 1
            if self._unyielded >= YIELD_EVERY:
                self._unyielded = 0
                await trio.lowlevel.checkpoint()
            return data

    def _spin(self) -> bool:
        """Whether the socket became readable (or hung up) within the spin window."""
        if not self._spin_s:
            return False
        poll = self._poll.poll
        deadline = time.perf_counter() + self._spin_s
        while time.perf_counter() < deadline:
            if poll(0):
                return True
        return False

    async def send_all(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            try:
                sent = self._sock.send(view)
            except BlockingIOError:
                await trio.lowlevel.wait_writable(self._sock)
                continue
            except OSError as error:
                raise trio.BrokenResourceError(str(error)) from error
            view = view[sent:]

    def release(self) -> None:
        self._sock.detach()


def open_wire(stream: trio.abc.Stream) -> Wire:
    if isinstance(stream, trio.SocketStream):
        return SocketWire(stream)
    return StreamWire(stream)
