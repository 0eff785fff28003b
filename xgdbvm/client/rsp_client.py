"""A small GDB remote client on Trio, for scripting sessions and for tests.

It speaks the client half of the protocol with the same framing code the
server uses (:mod:`xgdbvm.rsp.framing`): it acks what it receives, resends
on ``-``, NAKs damaged replies, switches to no-ack mode on request and sets
``O`` console packets aside from the real reply.

Every wait is bounded: each call takes ``timeout`` (seconds) and otherwise
uses the client's default; running out raises :class:`trio.TooSlowError`.
"""

from __future__ import annotations

import os
from collections import deque
from dataclasses import dataclass

import trio

from xgdbvm.rsp.framing import (
    AckReceived,
    ChecksumMismatch,
    FrameDecoder,
    FrameEvent,
    MalformedPacket,
    NackReceived,
    PacketReceived,
    PacketTooLarge,
    encode_packet,
)
from xgdbvm.rsp.hexutil import HexError, hex_decode

#: Replies can be far larger than requests (``m`` doubles, ``qXfer`` chunks).
DEFAULT_MAX_REPLY = 0x100000
DEFAULT_TIMEOUT = 10.0
#: Give up after this many ``-`` for one packet: the line is not going to heal.
MAX_RETRANSMITS = 8


class RspClientError(Exception):
    """The session cannot go on."""


class ConnectionClosed(RspClientError):
    """The server closed the connection."""


@dataclass(frozen=True, slots=True)
class Response:
    """A reply plus the console text (``O`` packets) that arrived before it."""

    payload: bytes
    console: bytes


def console_text(payload: bytes) -> bytes | None:
    """The text of an ``O`` packet, or None if ``payload`` is not one (``OK`` is not)."""
    if len(payload) < 3 or payload[:1] != b"O":
        return None
    try:
        return hex_decode(payload[1:])
    except HexError:
        return None


class RspClient(trio.abc.AsyncResource):
    """Client side of one GDB remote connection."""

    def __init__(
        self,
        stream: trio.abc.Stream,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        max_reply: int = DEFAULT_MAX_REPLY,
    ) -> None:
        self.stream = stream
        self.timeout = timeout
        self.ack_mode = True
        self.console = bytearray()
        self._decoder = FrameDecoder(max_reply)
        self._events: deque[FrameEvent] = deque()
        self._packets: deque[bytes] = deque()
        self._last_sent: bytes | None = None
        self._send_lock = trio.Lock()

    # --- connecting ---------------------------------------------------------

    @classmethod
    async def connect_tcp(
        cls,
        host: str,
        port: int,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        max_reply: int = DEFAULT_MAX_REPLY,
    ) -> RspClient:
        with trio.fail_after(timeout):
            stream = await trio.open_tcp_stream(host, port)
        return cls(stream, timeout=timeout, max_reply=max_reply)

    @classmethod
    async def connect_unix(
        cls,
        path: str | os.PathLike[str],
        *,
        timeout: float = DEFAULT_TIMEOUT,
        max_reply: int = DEFAULT_MAX_REPLY,
    ) -> RspClient:
        with trio.fail_after(timeout):
            stream = await trio.open_unix_socket(os.fspath(path))
        return cls(stream, timeout=timeout, max_reply=max_reply)

    async def aclose(self) -> None:
        await self.stream.aclose()

    # --- public operations --------------------------------------------------

    async def request(self, payload: bytes, *, timeout: float | None = None) -> bytes:
        """Send ``payload`` and return the reply; console output goes to :attr:`console`."""
        return (await self.exchange(payload, timeout=timeout)).payload

    async def exchange(self, payload: bytes, *, timeout: float | None = None) -> Response:
        """Send ``payload`` and return the reply with the console text that preceded it."""
        with trio.fail_after(self._timeout(timeout)):
            await self._send_packet(payload)
            return await self._reply()

    async def send(self, payload: bytes, *, timeout: float | None = None) -> None:
        """Send a packet whose answer comes later or never (``c``, ``vCont;c``, ``k``)."""
        with trio.fail_after(self._timeout(timeout)):
            await self._send_packet(payload)

    async def start_no_ack(self, *, timeout: float | None = None) -> bytes:
        """Ask for ``QStartNoAckMode``; on ``OK`` both sides stop acknowledging."""
        reply = await self.request(b"QStartNoAckMode", timeout=timeout)
        if reply == b"OK":
            self.ack_mode = False
        return reply

    async def interrupt(self) -> None:
        """Send Ctrl-C (0x03); the stop reply comes through :meth:`wait_stop`.

        Safe to call from another task while one is inside :meth:`wait_stop`.
        """
        async with self._send_lock:
            await self.stream.send_all(b"\x03")

    async def wait_stop(self, *, timeout: float | None = None) -> bytes:
        """Wait for the stop reply after a resume (``T05...``, ``S02``, ``W00``...)."""
        with trio.fail_after(self._timeout(timeout)):
            return (await self._reply()).payload

    def take_console(self) -> bytes:
        """Console text received so far, and forget it."""
        text = bytes(self.console)
        self.console.clear()
        return text

    # --- internals ----------------------------------------------------------

    def _timeout(self, timeout: float | None) -> float:
        return self.timeout if timeout is None else timeout

    async def _write(self, data: bytes) -> None:
        async with self._send_lock:
            await self.stream.send_all(data)

    async def _next_event(self) -> FrameEvent:
        while not self._events:
            data = await self.stream.receive_some()
            if not data:
                raise ConnectionClosed("the server closed the connection")
            self._events.extend(self._decoder.feed(data))
        return self._events.popleft()

    async def _send_packet(self, payload: bytes) -> None:
        frame = encode_packet(payload)
        self._last_sent = frame
        await self._write(frame)
        if not self.ack_mode:
            return
        retransmits = 0
        while True:
            event = await self._next_event()
            if isinstance(event, AckReceived):
                return
            if isinstance(event, NackReceived):
                retransmits += 1
                if retransmits > MAX_RETRANSMITS:
                    raise RspClientError(f"packet refused {retransmits} times: {payload[:40]!r}")
                await self._write(frame)
            else:
                # The server may talk before acking us (console output, a
                # stop reply racing our packet): keep it for the reply reader.
                await self._take_packet_event(event)

    async def _take_packet_event(self, event: FrameEvent) -> None:
        """Ack or NAK one incoming frame, keeping its payload if it is good."""
        if isinstance(event, PacketReceived):
            if self.ack_mode:
                await self._write(b"+")
            self._packets.append(event.payload)
        elif isinstance(event, ChecksumMismatch) or (
            isinstance(event, MalformedPacket) and event.resend
        ):
            if self.ack_mode:
                await self._write(b"-")
        elif isinstance(event, PacketTooLarge | MalformedPacket):
            raise RspClientError(f"unusable reply from the server: {event}")
        elif isinstance(event, NackReceived) and self._last_sent is not None:
            # The server lost our packet after acking it? Only a resend helps.
            await self._write(self._last_sent)

    async def _next_packet(self) -> bytes:
        while not self._packets:
            await self._take_packet_event(await self._next_event())
        return self._packets.popleft()

    async def _reply(self) -> Response:
        console = bytearray()
        while True:
            payload = await self._next_packet()
            text = console_text(payload)
            if text is None:
                return Response(payload, bytes(console))
            console += text
            self.console += text
