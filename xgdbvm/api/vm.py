"""A VM a test can drive: ``open_vm`` boots one in this process, ``connect`` reaches
one that ``xgdbvm run`` serves. Both give a :class:`VM` with the same API.

``open_vm`` builds the machine and the server exactly as ``xgdbvm run`` does
(``Machine(MachineConfig(...))``, ``Server(machine, ServeOptions(...))``),
with GDB and the trace channel on 127.0.0.1 (ports chosen by the OS) and
xenstore on a Unix socket in a private temporary directory, all inside a
nursery it opens itself. Before the guest executes anything it subscribes to
the trace channel, so ``vm.trace`` and ``vm.console`` hold everything from the
first instruction. Leaving the ``async with`` (normally, by an exception or
by cancellation) closes the clients, cancels the server (whose runner stops
the machine's worker thread and waits for it) and removes the directory.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import tempfile
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import BinaryIO, Literal

import trio

from xgdbvm.api.gdb import GdbClient
from xgdbvm.api.symbols import NO_SYMBOLS, Symbols
from xgdbvm.api.trace import Console, Trace, TraceLog
from xgdbvm.api.xenstore import XenstoreClient
from xgdbvm.cli import default_dts, default_image, parse_size
from xgdbvm.client.rsp_client import DEFAULT_TIMEOUT
from xgdbvm.machine.board import MachineConfig
from xgdbvm.machine.errors import ConfigError
from xgdbvm.machine.machine import Machine
from xgdbvm.machine.memory import P2mLayout
from xgdbvm.machine.stop import StopReason
from xgdbvm.machine.xen.domain import DomainConfig
from xgdbvm.server.app import ConsolePrinter, ServeOptions, Server
from xgdbvm.server.endpoints import (
    EndpointError,
    StdioEndpoint,
    TcpEndpoint,
    UnixEndpoint,
    parse_endpoint,
)
from xgdbvm.server.trace_server import TraceServer

log = logging.getLogger("xgdbvm.api")

LOOPBACK = "127.0.0.1"
SUBSCRIBER_LABEL = "xgdbvm.api"


class VM:
    """A running VM. Attributes that only an in-process VM has are None otherwise."""

    def __init__(
        self,
        *,
        arch: str,
        image: Path | None,
        gdb_address: str | None,
        trace_address: str | None,
        xenstore_path: str | None,
        trace_log: TraceLog,
        emitted: Callable[[], int] | None = None,
        domid: int = 1,
        machine: Machine | None = None,
        server: Server | None = None,
        symbols: Symbols | None = None,
        trace_file: Path | None = None,
        state_dir: Path | None = None,
    ) -> None:
        self.arch = arch
        self.image = image
        self.gdb_address = gdb_address
        self.trace_address = trace_address
        self.xenstore_path = xenstore_path
        self.machine = machine
        self.server = server
        self.trace_file = trace_file
        self.state_dir = state_dir
        self.announcements: list[str] = []
        self.console = Console(trace_log)
        self.trace = Trace(trace_log, self.console, emitted)
        self.xenstore = XenstoreClient(xenstore_path, domid)
        self._symbols = symbols
        self._clients: list[GdbClient] = []
        self.closed = False

    @property
    def symbols(self) -> Symbols:
        """The image's ELF symbols (read from ``image`` for a VM of another process)."""
        if self._symbols is None:
            self._symbols = NO_SYMBOLS
            if self.image is not None:
                try:
                    self._symbols = Symbols.from_image(self.image, self.arch)
                except ConfigError as error:
                    log.warning("no symbols: %s", error)
        return self._symbols

    @property
    def last_stop(self) -> StopReason | None:
        """Why the guest last stopped (in-process VMs only)."""
        return self.server.runner.last_stop if self.server is not None else None

    async def gdb(self, *, timeout: float = DEFAULT_TIMEOUT) -> GdbClient:
        """A connected GDB client. The server takes one client at a time: close this one
        (``await gdb.aclose()``) before another, or before ``gdbscript.run``."""
        if self.gdb_address is None:
            raise RuntimeError("this VM has no GDB address")
        client = await GdbClient.connect(
            self.gdb_address, symbols=self.symbols, timeout=timeout, after_stop=self.trace.sync
        )
        self._clients = [c for c in self._clients if not c.closed] + [client]
        return client

    @property
    def gdb_clients(self) -> list[GdbClient]:
        """The clients of :meth:`gdb` that are still open."""
        return [c for c in self._clients if not c.closed]

    async def _close_clients(self) -> None:
        """Close everything this VM opened toward the servers, also while cancelled
        (shielded: a cancellation would otherwise end this at the first checkpoint)."""
        with trio.CancelScope(shield=True):
            for client in self._clients:
                await client.abort()
            await self.xenstore.aclose()

    def __repr__(self) -> str:
        where = "in-process" if self.machine is not None else "remote"
        return f"<VM {self.arch} {where} gdb={self.gdb_address} trace={self.trace_address}>"


@asynccontextmanager
async def open_vm(
    arch: str = "arm64",
    image: Path | str | None = None,
    dts: Path | str | None = None,
    bootargs: str | None = None,
    memory: int | str = 128 << 20,
    p2m: P2mLayout | str | None = None,
    *,
    wait_for_gdb: bool = True,
    domid: int = 1,
    name: str = "guest",
    dom0: bool = False,
    max_instructions: int | None = None,
    on_reboot: Literal["exit", "restart"] = "exit",
    trace_file: Path | str | None = None,
    trace_lossless: bool = True,
    console_output: BinaryIO | None = None,
) -> AsyncIterator[VM]:
    """Boot a VM in this process and serve it (see the module doc).

    ``wait_for_gdb`` (the default) holds the guest at its first instruction until a
    GDB client resumes it; without it the guest runs at once. ``trace_lossless``
    (the default) makes the guest wait for the VM's trace reader rather than drop
    events. ``trace_file`` also records the trace as JSON lines, and
    ``console_output`` gets the console bytes as ``xgdbvm run`` prints them."""
    config = MachineConfig(
        arch=arch,
        image=Path(image) if image is not None else default_image(arch),
        dts=Path(dts) if dts is not None else default_dts(arch),
        memory=_size(memory),
        bootargs=bootargs,
        domain=DomainConfig(domid=domid, name=name, dom0=dom0),
        p2m=P2mLayout.parse(p2m) if isinstance(p2m, str) else p2m,
    )
    machine = Machine(config)
    state_dir = Path(tempfile.mkdtemp(prefix="xgdbvm-"))
    server: Server | None = None
    record_to = Path(trace_file) if trace_file is not None else None
    try:
        options = ServeOptions(
            gdb=TcpEndpoint(LOOPBACK, 0),
            wait_for_gdb=wait_for_gdb,
            max_instructions=max_instructions,
            restart_on_reboot=on_reboot == "restart",
            trace=TcpEndpoint(LOOPBACK, 0),
            trace_file=record_to,
            trace_lossless=trace_lossless,
            xenstore_socket=state_dir / "xenstored.sock",
        )
        announcements: list[str] = []

        def announce(text: str) -> None:
            announcements.append(text)
            log.info("%s", text)

        server = Server(machine, options, announce)
        recorder = server.trace
        if console_output is not None:
            machine.observers.subscribe(ConsolePrinter(console_output))
        trace_log = TraceLog()
        async with _background() as nursery:
            await _subscribe_in_process(nursery, server.trace_server, trace_log)
            bound = await nursery.start(server.serve)
            vm = VM(
                arch=arch,
                image=config.image,
                gdb_address=bound.gdb,
                trace_address=bound.trace,
                xenstore_path=bound.xenstore,
                trace_log=trace_log,
                emitted=lambda: recorder.events,
                domid=domid,
                machine=machine,
                server=server,
                symbols=Symbols(machine.layout.image.symbols, str(config.image)),
                trace_file=record_to,
                state_dir=state_dir,
            )
            vm.announcements = announcements
            try:
                yield vm
            finally:
                vm.closed = True
                await vm._close_clients()
    finally:
        if server is not None:
            server.trace.close()  # the server closes it when it ran; this is for when not
        shutil.rmtree(state_dir, ignore_errors=True)


@asynccontextmanager
async def connect(
    gdb: str | None = None,
    trace: str | None = None,
    *,
    xenstore: str | Path | None = None,
    image: Path | str | None = None,
    arch: str | None = None,
) -> AsyncIterator[VM]:
    """The same API against a VM another process serves
    (``xgdbvm run --gdb ADDR --trace ADDR [--xenstore-socket PATH]``).

    ``gdb`` and ``trace`` are ``HOST:PORT`` or ``unix:PATH``. The trace subscription
    starts now: run the server with ``--wait-for-gdb`` to see its boot from the first
    instruction. ``arch`` and ``image`` (for symbols) default to what the trace's
    hello line says."""
    trace_log = TraceLog()
    async with _background() as nursery:
        hello = None
        if trace is not None:
            stream = await _open_stream(trace)
            hello = await trace_log.subscribe(stream)
            nursery.start_soon(trace_log.pump)
        else:
            trace_log.ended = True
        image_path = image if image is not None else (hello.image if hello else None)
        vm = VM(
            arch=arch or (hello.arch if hello else "arm64"),
            image=Path(image_path) if image_path else None,
            gdb_address=gdb,
            trace_address=trace,
            xenstore_path=str(xenstore) if xenstore is not None else None,
            trace_log=trace_log,
            domid=hello.domid if hello else 1,
        )
        try:
            yield vm
        finally:
            vm.closed = True
            await vm._close_clients()


async def _subscribe_in_process(
    nursery: trio.Nursery, trace_server: TraceServer, trace_log: TraceLog
) -> None:
    """Subscribe to the trace channel before the server runs the guest: the trace
    server's own subscriber protocol (``TraceServer.handle``) over a socket pair."""
    ours, theirs = trio.socket.socketpair()
    our_end, their_end = trio.SocketStream(ours), trio.SocketStream(theirs)

    async def serve_subscriber() -> None:
        async with their_end:
            with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
                await trace_server.handle(their_end, SUBSCRIBER_LABEL)

    nursery.start_soon(serve_subscriber)
    try:
        await trace_log.subscribe(our_end)
    except BaseException:
        await trio.aclose_forcefully(our_end)
        raise
    nursery.start_soon(trace_log.pump)


async def _open_stream(address: str) -> trio.SocketStream:
    try:
        endpoint = parse_endpoint(address, stdio_allowed=False)
    except EndpointError as error:
        raise ValueError(f"{address}: {error}") from None
    assert not isinstance(endpoint, StdioEndpoint)
    with trio.fail_after(DEFAULT_TIMEOUT):
        if isinstance(endpoint, UnixEndpoint):
            return await trio.open_unix_socket(str(endpoint.path))
        return await trio.open_tcp_stream(endpoint.host, endpoint.port)


@asynccontextmanager
async def _background() -> AsyncIterator[trio.Nursery]:
    """A nursery for the VM's tasks, cancelled when the caller's block ends. An exception
    from the block (an assertion, a cancellation) comes out as itself, not wrapped in an
    exception group; so does a single failure of a background task."""
    body_error: BaseException | None = None
    try:
        async with trio.open_nursery() as nursery:
            try:
                yield nursery
            except BaseException as error:
                body_error = error
                raise
            finally:
                nursery.cancel_scope.cancel()
    except BaseExceptionGroup as group:
        errors = [e for e in _leaves(group) if not isinstance(e, trio.Cancelled)]
        if body_error is not None and (not errors or errors == [body_error]):
            raise body_error from None
        if len(errors) == 1:
            raise errors[0] from None
        raise


def _leaves(group: BaseExceptionGroup[BaseException]) -> list[BaseException]:
    out: list[BaseException] = []
    for error in group.exceptions:
        out += _leaves(error) if isinstance(error, BaseExceptionGroup) else [error]
    return out


def _size(memory: int | str) -> int:
    if isinstance(memory, int):
        return memory
    try:
        return parse_size(memory)
    except Exception as error:  # argparse.ArgumentTypeError
        raise ValueError(str(error)) from None
