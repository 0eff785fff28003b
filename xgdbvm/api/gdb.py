"""A connected GDB client with the operations a test needs, over :class:`RspClient`.

    gdb = await vm.gdb()
    bp = await gdb.break_at("guest_main")
    stop = await gdb.cont()                 # BreakpointStop(pc=..., symbol="guest_main")
    x0 = await gdb.read_register("x0")
    stage = await gdb.read_symbol("boot_stage")
    await gdb.delete(bp)

Register names come from the server's target description (``target.xml``),
symbols from the guest image's ELF. Every call is bounded by ``timeout``
(the client's default unless given) and raises :class:`trio.TooSlowError`
past it; a ``cont`` that times out interrupts the guest first, so the
session stays usable. Errors the server answers (``E..``) raise
:class:`GdbError`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal

import trio

from xgdbvm.api.registers import RegisterTable
from xgdbvm.api.stops import Stop, StopFormatError, parse_stop
from xgdbvm.api.symbols import NO_SYMBOLS, Symbols
from xgdbvm.client.rsp_client import DEFAULT_TIMEOUT, RspClient, RspClientError
from xgdbvm.rsp.constants import BreakpointType
from xgdbvm.rsp.hexutil import HexError, from_le, hex_decode, hex_encode, to_le
from xgdbvm.server.endpoints import EndpointError, StdioEndpoint, UnixEndpoint, parse_endpoint

MEMORY_CHUNK = 0x4000  # bytes per m/M packet: the hex reply stays well under PacketSize
XFER_CHUNK = 0x3000
DETACH_TIMEOUT = 1.0
WatchKind = Literal["write", "read", "access"]
WATCH_TYPES: dict[str, BreakpointType] = {
    "write": BreakpointType.WRITE_WATCH,
    "read": BreakpointType.READ_WATCH,
    "access": BreakpointType.ACCESS_WATCH,
}
# Z0 kinds: the breakpoint instruction's size (GDB's convention for ARM).
ARM_KIND, THUMB_KIND, AARCH64_KIND = 4, 2, 4


class GdbError(Exception):
    """The server refused a request (an ``E..`` reply) or the session cannot go on."""


@dataclass(frozen=True)
class Breakpoint:
    address: int
    kind: int
    type: BreakpointType = BreakpointType.SOFTWARE
    where: str = ""

    def __str__(self) -> str:
        return f"breakpoint at {self.where or hex(self.address)}"


@dataclass(frozen=True)
class Watchpoint:
    address: int
    length: int
    access: str
    where: str = ""

    @property
    def type(self) -> BreakpointType:
        return WATCH_TYPES[self.access]

    def __str__(self) -> str:
        return f"{self.access} watchpoint on {self.where or hex(self.address)}"


class GdbClient(trio.abc.AsyncResource):
    """One GDB remote session. Use ``async with`` or call :meth:`aclose`."""

    def __init__(
        self,
        rsp: RspClient,
        registers: RegisterTable,
        symbols: Symbols = NO_SYMBOLS,
        after_stop: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.rsp = rsp
        self.registers = registers
        self.symbols = symbols
        self.after_stop = after_stop  # e.g. the VM's trace catching up with the stop
        self.last_stop: Stop | None = None
        self._breakpoints: list[Breakpoint] = []
        self._running = False
        self._closed = False

    # -- connecting ------------------------------------------------------------------------

    @classmethod
    async def connect(
        cls,
        address: str,
        *,
        symbols: Symbols = NO_SYMBOLS,
        timeout: float = DEFAULT_TIMEOUT,
        after_stop: Callable[[], Awaitable[None]] | None = None,
    ) -> GdbClient:
        """Connect to ``HOST:PORT`` or ``unix:PATH`` and set the session up: no-ack mode,
        the features GDB asks for, the target description, the current stop."""
        try:
            endpoint = parse_endpoint(address, stdio_allowed=False)
        except EndpointError as error:
            raise GdbError(f"{address}: {error}") from None
        assert not isinstance(endpoint, StdioEndpoint)
        if isinstance(endpoint, UnixEndpoint):
            rsp = await RspClient.connect_unix(endpoint.path, timeout=timeout)
        else:
            rsp = await RspClient.connect_tcp(endpoint.host, endpoint.port, timeout=timeout)
        try:
            client = await cls._handshake(rsp, symbols)
        except BaseException:
            await trio.aclose_forcefully(rsp.stream)
            raise
        client.after_stop = after_stop
        return client

    @classmethod
    async def _handshake(cls, rsp: RspClient, symbols: Symbols) -> GdbClient:
        _check(await rsp.start_no_ack(), "QStartNoAckMode")
        _check(await rsp.request(b"qSupported:swbreak+;hwbreak+;vContSupported+"), "qSupported")
        xml = await _read_xfer(rsp, b"features", b"target.xml")
        client = cls(rsp, RegisterTable.from_xml(xml), symbols)
        client.last_stop = client._stop(_check(await rsp.request(b"?"), "?"))
        return client

    async def aclose(self) -> None:
        """Detach (the guest stays as it is: halted, or running if it runs) and close."""
        if self._closed:
            return
        self._closed = True
        try:
            if not self._running:
                with (
                    trio.move_on_after(DETACH_TIMEOUT),
                    contextlib.suppress(RspClientError, trio.BrokenResourceError),
                ):
                    await self.rsp.request(b"D")
        finally:
            await trio.aclose_forcefully(self.rsp.stream)

    async def abort(self) -> None:
        """Close the connection at once, without detaching (safe while cancelled)."""
        self._closed = True
        await trio.aclose_forcefully(self.rsp.stream)

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def running(self) -> bool:
        """True between a resume and the stop reply that ends it."""
        return self._running

    # -- packets ---------------------------------------------------------------------------

    async def raw(self, packet: bytes | str, *, timeout: float | None = None) -> bytes:
        """Send any packet and return the reply payload, unchecked. Resumes (``c``,
        ``s``, ``vCont``) belong to :meth:`cont`/:meth:`step`/:meth:`resume`."""
        self._check_halted()
        data = packet.encode() if isinstance(packet, str) else packet
        return await self.rsp.request(data, timeout=timeout)

    async def _request(self, packet: bytes, *, timeout: float | None = None) -> bytes:
        self._check_halted()
        reply = await self.rsp.request(packet, timeout=timeout)
        return _check(reply, packet.decode("ascii", "replace")[:40])

    def _check_halted(self) -> None:
        if self._closed:
            raise GdbError("this GDB client is closed")
        if self._running:
            raise GdbError(
                "the guest is running: wait_stop() or interrupt() first "
                "(a cont() that was cancelled leaves it running)"
            )

    # -- running ---------------------------------------------------------------------------

    async def resume(self) -> None:
        """Continue the guest and return at once; :meth:`wait_stop` gets the stop."""
        self._check_halted()
        await self.rsp.send(b"c")
        self._running = True

    async def wait_stop(self, *, timeout: float | None = None) -> Stop:
        """The stop that ends the current resume."""
        if not self._running:
            raise GdbError("the guest is not running")
        reply = await self.rsp.wait_stop(timeout=timeout)
        self._running = False
        stop = self.last_stop = self._stop(reply)
        if self.after_stop is not None:
            await self.after_stop()
        return stop

    async def cont(self, *, timeout: float | None = None) -> Stop:
        """Continue until the guest stops (a breakpoint, a watchpoint, a shutdown...).
        Past ``timeout`` the guest is interrupted and :class:`trio.TooSlowError` raised."""
        await self.resume()
        try:
            return await self.wait_stop(timeout=timeout)
        except trio.TooSlowError:
            await self.interrupt()
            await self.wait_stop()
            raise

    async def interrupt(self) -> None:
        """Ctrl-C: stop a running guest. The stop (SIGINT) ends the pending :meth:`cont`
        or :meth:`wait_stop`, which may be waiting in another task."""
        if not self._running:
            raise GdbError("the guest is not running")
        await self.rsp.interrupt()

    async def step(self, n: int = 1, *, timeout: float | None = None) -> Stop:
        """Execute ``n`` instructions, one at a time; the last stop (or the first that
        is not a plain single step: a watchpoint, a shutdown)."""
        if n < 1:
            raise ValueError("step at least one instruction")
        stop: Stop | None = None
        with trio.fail_after(self.rsp.timeout if timeout is None else timeout):
            for _ in range(n):
                stop = await self._step_once()
                if stop.kind != "signal" or stop.signal != 5:
                    break
        assert stop is not None
        return stop

    async def _step_once(self) -> Stop:
        # As GDB does, lift our breakpoint at the PC for the step (the server would
        # otherwise run on past it) and put it back after.
        pc = getattr(self.last_stop, "pc", None)
        lifted = [bp for bp in self._breakpoints if bp.address == pc]
        for bp in lifted:
            await self._request(b"z%d,%x,%x" % (bp.type, bp.address, bp.kind))
        try:
            self._check_halted()
            await self.rsp.send(b"s")
            self._running = True
            return await self.wait_stop()
        finally:
            if not self._running:
                for bp in lifted:
                    await self._request(b"Z%d,%x,%x" % (bp.type, bp.address, bp.kind))

    def _stop(self, reply: bytes) -> Stop:
        if reply.startswith(b"E"):
            raise GdbError(f"the server answered {_error_text(reply)}")
        try:
            return parse_stop(reply, self.registers, self.symbols.symbolize)
        except StopFormatError as error:
            raise GdbError(str(error)) from None

    # -- breakpoints and watchpoints ---------------------------------------------------------

    def address_of(self, where: str | int) -> int:
        """An address as given, or a symbol's value."""
        return where if isinstance(where, int) else self.symbols.address(where)

    async def break_at(self, where: str | int, *, hardware: bool = False) -> Breakpoint:
        """A breakpoint at a symbol or an address (a Thumb function's odd symbol value
        gives a Thumb breakpoint, as GDB does)."""
        address = self.address_of(where)
        if self.registers.architecture.startswith("aarch64"):
            kind = AARCH64_KIND
        elif address & 1:
            kind, address = THUMB_KIND, address & ~1
        else:
            kind = ARM_KIND
        kind_type = BreakpointType.HARDWARE if hardware else BreakpointType.SOFTWARE
        await self._request(b"Z%d,%x,%x" % (kind_type, address, kind))
        breakpoint = Breakpoint(address, kind, kind_type, where if isinstance(where, str) else "")
        self._breakpoints.append(breakpoint)
        return breakpoint

    async def watch(
        self, where: str | int, kind: WatchKind = "write", *, length: int = 4
    ) -> Watchpoint:
        """A watchpoint on ``length`` bytes at a symbol or an address."""
        if kind not in WATCH_TYPES:
            raise ValueError(f"kind must be one of {', '.join(WATCH_TYPES)}")
        address = self.address_of(where)
        await self._request(b"Z%d,%x,%x" % (WATCH_TYPES[kind], address, length))
        return Watchpoint(address, length, kind, where if isinstance(where, str) else "")

    async def delete(self, point: Breakpoint | Watchpoint) -> None:
        size = point.kind if isinstance(point, Breakpoint) else point.length
        await self._request(b"z%d,%x,%x" % (point.type, point.address, size))
        if point in self._breakpoints:
            self._breakpoints.remove(point)

    # -- registers -------------------------------------------------------------------------

    async def read_register(self, name: str) -> int:
        """A register by its name in the target description (``x0``, ``pc``, ``cpsr``,
        ``SCTLR_EL1``...; ``lr``/``fp`` are understood), as an unsigned integer."""
        reg = self.registers.lookup(name)
        reply = await self._request(b"p%x" % reg.regnum)
        if reply.lower().startswith(b"xx"):
            raise GdbError(f"register {reg.name} is unavailable")
        return from_le(_unhex(reply))

    async def write_register(self, name: str, value: int) -> None:
        reg = self.registers.lookup(name)
        await self._request(b"P%x=%s" % (reg.regnum, hex_encode(to_le(value, reg.size))))

    # -- memory ----------------------------------------------------------------------------

    async def read_memory(self, address: str | int, length: int) -> bytes:
        """``length`` bytes at a guest virtual address (or a symbol)."""
        start = self.address_of(address)
        out = bytearray()
        while len(out) < length:
            count = min(MEMORY_CHUNK, length - len(out))
            reply = await self._request(b"m%x,%x" % (start + len(out), count))
            data = _unhex(reply)
            if not data:
                raise GdbError(f"cannot read memory at {start + len(out):#x}")
            out += data
        return bytes(out)

    async def write_memory(self, address: str | int, data: bytes) -> None:
        start = self.address_of(address)
        for offset in range(0, len(data), MEMORY_CHUNK):
            chunk = data[offset : offset + MEMORY_CHUNK]
            await self._request(b"M%x,%x:%s" % (start + offset, len(chunk), hex_encode(chunk)))

    def symbol_address(self, name: str) -> int:
        """A symbol's value from the image's ELF symbol table."""
        return self.symbols.address(name)

    async def read_symbol(self, name: str, size: int = 4, *, signed: bool = False) -> int:
        """The little-endian integer of ``size`` bytes at a symbol (``boot_stage``...)."""
        data = await self.read_memory(self.symbols.address(name) & ~1, size)
        return int.from_bytes(data, "little", signed=signed)

    async def write_symbol(self, name: str, value: int, size: int = 4) -> None:
        data = (value % (1 << (8 * size))).to_bytes(size, "little")
        await self.write_memory(self.symbols.address(name) & ~1, data)

    # -- monitor ---------------------------------------------------------------------------

    async def monitor(self, command: str, *, timeout: float | None = None) -> str:
        """``monitor COMMAND``: its output, as GDB would print it."""
        self._check_halted()
        response = await self.rsp.exchange(
            b"qRcmd," + hex_encode(command.encode()), timeout=timeout
        )
        text = response.console.decode("utf-8", "replace")
        if response.payload.startswith(b"E"):
            raise GdbError(f"monitor {command}: {_error_text(response.payload)} {text}".strip())
        if response.payload not in (b"OK", b""):
            # Some servers answer with the output itself, hex encoded.
            text += _unhex(response.payload).decode("utf-8", "replace")
        return text


def _check(reply: bytes, what: str) -> bytes:
    if reply.startswith(b"E") and (len(reply) == 3 or reply[1:2] in (b".", b";")):
        raise GdbError(f"{what}: {_error_text(reply)}")
    return reply


def _error_text(reply: bytes) -> str:
    if reply.startswith(b"E."):
        return reply[2:].decode("utf-8", "replace")
    code, _, message = reply[1:].partition(b";")
    text = f"error {code.decode('ascii', 'replace')}"
    if message:
        with contextlib.suppress(HexError):
            text += ": " + hex_decode(message).decode("utf-8", "replace")
    return text


def _unhex(reply: bytes) -> bytes:
    try:
        return hex_decode(reply)
    except HexError as error:
        raise GdbError(f"unexpected reply {reply[:40]!r}: {error}") from None


async def _read_xfer(rsp: RspClient, obj: bytes, annex: bytes) -> bytes:
    document = bytearray()
    while True:
        reply = await rsp.request(
            b"qXfer:%s:read:%s:%x,%x" % (obj, annex, len(document), XFER_CHUNK)
        )
        if reply[:1] not in (b"m", b"l"):
            raise GdbError(f"qXfer:{obj.decode()}:read:{annex.decode()}: {_error_text(reply)}")
        document += reply[1:]
        if reply[:1] == b"l":
            return bytes(document)
