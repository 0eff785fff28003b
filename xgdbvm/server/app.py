"""The xgdbvm server: the machine's runner and its listeners in one Trio nursery.

``serve`` boots nothing itself: it gets a built Machine, runs it (unless told
to wait for a debugger), serves GDB clients if asked to, and returns the last
stop when it ends: on its own when the guest stops and nothing else is being
served, or when cancelled (Ctrl-C, SIGTERM, the caller's cancel scope).
"""

from __future__ import annotations

import logging
import os
import signal
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Protocol, TextIO

import trio

from xgdbvm.adapters.console_history import ConsoleHistory
from xgdbvm.adapters.resume import Resume, ResumeMode
from xgdbvm.machine.events import ConsoleOutput, ConsoleSource, MachineEvent
from xgdbvm.machine.machine import Machine
from xgdbvm.machine.stop import Shutdown, StopReason
from xgdbvm.machine.xen.abi import ShutdownReason
from xgdbvm.server.endpoints import Endpoint, StdioEndpoint
from xgdbvm.server.listeners import GDB_UNIX_BACKLOG, Listening, adopt, listen
from xgdbvm.server.runner import MachineRunner
from xgdbvm.server.trace_server import TraceServer, trace_recorder
from xgdbvm.server.xenstore_socket import XenstoreSocketServer

# GDB support (the target adapter, rsp/, the monitor commands and what they pull in from
# trace/) is imported where first used, in the functions below: a run held for GDB
# announces its port without paying for it (the first client does, when it connects).

log = logging.getLogger("xgdbvm.server")
REFUSAL_TIMEOUT = 5.0


@dataclass(frozen=True)
class ServeOptions:
    """What to serve. An endpoint may also be given as sockets already listening on it
    (``xgdbvm run`` listens before it imports Trio): the server adopts them."""

    gdb: Endpoint | Listening | None = None
    wait_for_gdb: bool = False
    max_instructions: int | None = None
    restart_on_reboot: bool = False
    trace: Endpoint | Listening | None = None
    trace_file: Path | TextIO | None = None  # a path, or a file open for writing
    trace_lossless: bool = False
    xenstore_socket: Path | Listening | None = None
    console_input: int | None = None  # a file descriptor whose bytes go to the PV console


@dataclass(frozen=True)
class Bound:
    """What the server listens on once started (ports chosen by the OS resolved)."""

    gdb: str | None
    trace: str | None = None
    xenstore: str | None = None


class ByteSink(Protocol):
    """Where console bytes go: a binary file, or an Outlet (server/outlet.py)."""

    def write(self, data: bytes, /) -> int: ...

    def flush(self) -> None: ...


class ConsolePrinter:
    """Writes guest console bytes to a binary stream as they come; lines from the PV
    console ring are marked, so they cannot be mistaken for the UART's."""

    PREFIX: ClassVar[dict[ConsoleSource, bytes]] = {ConsoleSource.PV: b"[pv] "}
    observes: ClassVar[tuple[type, ...]] = (ConsoleOutput,)

    def __init__(self, out: ByteSink) -> None:
        self._out = out
        self._line_start: dict[ConsoleSource, bool] = {}

    def machine_event(self, event: MachineEvent) -> None:
        if not isinstance(event, ConsoleOutput):
            return
        prefix = self.PREFIX.get(event.source)
        data = event.data
        if prefix is not None:
            start = self._line_start.get(event.source, True)
            lines = data.split(b"\n")
            marked = [
                (prefix if (i or start) and line else b"") + line for i, line in enumerate(lines)
            ]
            data = b"\n".join(marked)
            self._line_start[event.source] = data.endswith(b"\n")
        self._out.write(data)
        self._out.flush()


class Server:
    def __init__(
        self, machine: Machine, options: ServeOptions, announce: Callable[[str], None]
    ) -> None:
        self.machine = machine
        self.options = options
        self.runner = MachineRunner(machine)
        # Host tools can answer an idle guest: let idle time pass as host time.
        machine.idle_pacing = True
        self.history = ConsoleHistory()
        machine.observers.subscribe(self.history)
        self.trace = trace_recorder(machine, options.trace_file, lossless=options.trace_lossless)
        self.trace_server = TraceServer(self.trace)
        self._announce = announce
        self._client_attached = False

    async def serve(
        self, *, task_status: trio.TaskStatus[Bound] = trio.TASK_STATUS_IGNORED
    ) -> StopReason | None:
        async with self.trace_server, trio.open_nursery() as nursery:
            gdb_address = trace_address = None
            if self.options.gdb is not None:
                gdb_address = await nursery.start(self._serve_gdb, self.options.gdb)
            if self.options.trace is not None:
                trace_address = await nursery.start(self.trace_server.serve, self.options.trace)
            xenstore_path = None
            if self.options.xenstore_socket is not None:
                xenstore = XenstoreSocketServer(
                    self.machine.hypervisor.xenstored, self.options.xenstore_socket
                )
                xenstore_path = str(await nursery.start(xenstore.serve))
            if self.options.console_input is not None:
                nursery.start_soon(self._console_input, self.options.console_input)
            task_status.started(Bound(gdb_address, trace_address, xenstore_path))
            if not self.options.wait_for_gdb:
                await self._free_run()
                if self.options.gdb is None:
                    await self.trace_server.flush()
                    nursery.cancel_scope.cancel()
        return self.runner.last_stop

    async def _console_input(self, fd: int) -> None:
        """Host input (xgdbvm run's stdin) into the guest's PV console in[] ring."""
        pv_console = self.machine.hypervisor.pv_console
        stream = trio.lowlevel.FdStream(os.dup(fd))
        async with stream:
            while data := await stream.receive_some(1024):

                def deliver(chunk: bytes = data) -> None:
                    pv_console.send_input(chunk)
                    pv_console.serve()

                self.machine.post(deliver)

    async def _free_run(self) -> None:
        """Run from boot until the guest stops; --max-instructions bounds the whole run,
        across reboots when they restart the guest."""
        budget = self.options.max_instructions
        spent = 0
        while True:
            limit = None if budget is None else max(budget - spent, 0)
            stop = await self.runner.run(Resume(ResumeMode.CONTINUE), budget=limit)
            reboot = isinstance(stop, Shutdown) and stop.reason is ShutdownReason.reboot
            if not (reboot and self.options.restart_on_reboot):
                return
            spent += self.machine.clock.instructions
            self.machine.reset()

    # -- GDB ------------------------------------------------------------------------

    async def _serve_gdb(
        self,
        endpoint: Endpoint | Listening,
        *,
        task_status: trio.TaskStatus[str] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        if isinstance(endpoint, StdioEndpoint):
            stream = trio.StapledStream(
                trio.lowlevel.FdStream(os.dup(1)), trio.lowlevel.FdStream(os.dup(0))
            )
            task_status.started("stdio")
            await self._gdb_client(stream)
            return
        if not isinstance(endpoint, Listening):
            endpoint = listen(endpoint, "--gdb", unix_backlog=GDB_UNIX_BACKLOG)
        listeners = adopt(endpoint)
        task_status.started(endpoint.address)
        await trio.serve_listeners(self._gdb_client, listeners)

    async def _gdb_client(self, stream: trio.abc.Stream) -> None:
        from xgdbvm.adapters.gdb_target import GdbTarget
        from xgdbvm.server.gdb_session import GdbSession

        async with stream:
            if self._client_attached:
                await _refuse(stream, "another GDB client is attached to this VM")
                return
            self._client_attached = True
            try:
                await self.runner.halt()
                if isinstance(self.runner.last_stop, Shutdown):
                    self.machine.reset()
                    self.runner.last_stop = None
                    self._announce("xgdbvm: the guest had shut down; rebooted from its image")
                target = GdbTarget(self.machine, self.history)
                target.last_stop = self.runner.last_stop
                session = GdbSession(stream, self.runner, target, self._announce)
                self._announce("xgdbvm: GDB client attached")
                try:
                    await session.serve()
                except Exception:
                    # One broken session must not take the listener (and the VM) with it.
                    log.exception("GDB session ended by an internal error")
                if session.kill_requested:
                    self.machine.reset()
                    self.runner.last_stop = None
                self._announce("xgdbvm: GDB client detached; the guest stays halted")
            finally:
                self._client_attached = False


async def _refuse(stream: trio.abc.Stream, why: str) -> None:
    """Answer a second client's first packet with an error it will print, then close."""
    from xgdbvm.rsp import FrameDecoder, PacketReceived, encode_packet, replies

    decoder = FrameDecoder()
    with trio.move_on_after(REFUSAL_TIMEOUT):
        while data := await stream.receive_some(4096):
            if any(isinstance(e, PacketReceived) for e in decoder.feed(data)):
                await stream.send_all(b"+" + encode_packet(replies.error_text(why)))
                return


async def wait_for_signals(
    scope: trio.CancelScope, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
) -> None:
    """Cancel ``scope`` at the first SIGINT or SIGTERM; started once they are caught."""
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        task_status.started()
        async for _ in signals:
            scope.cancel()
            return
