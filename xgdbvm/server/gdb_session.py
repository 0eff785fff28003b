"""One GDB client: bytes from its stream through the RSP core to the target, and back.

A reader task feeds received bytes to the connection and queues the events;
the session loop answers them in order. While the guest runs, the only
command that means anything is Ctrl-C; anything else gets an error rather
than touching a machine that a worker thread is executing.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass

import trio

from xgdbvm.adapters.gdb_target import Close, GdbTarget, Reply, Resume
from xgdbvm.machine.stop import SingleStep, StopReason
from xgdbvm.rsp import (
    Capabilities,
    CommandReceived,
    InterruptRequested,
    ProtocolError,
    RspConnection,
    UnsupportedPacket,
    replies,
)
from xgdbvm.rsp.constants import ErrorCode
from xgdbvm.rsp.session import ReplyFormat
from xgdbvm.server.describe import describe_stop
from xgdbvm.server.runner import MachineRunner

log = logging.getLogger("xgdbvm.gdb")

PACKET_SIZE = 0x10000  # gdb reads memory in chunks of up to half of this
O_PACKET_TEXT = 4000  # console text per O packet (hex doubles it)
RECEIVE_SIZE = 65536


@dataclass(frozen=True)
class _Flush:
    """The reader handed over a chunk: send whatever the connection queued (acks)."""


@dataclass(frozen=True)
class _Stopped:
    stop: StopReason


_SessionEvent = CommandReceived | InterruptRequested | ProtocolError | UnsupportedPacket
_Queued = _SessionEvent | _Flush | _Stopped


def capabilities() -> Capabilities:
    # multiprocess: gdb then names the guest "process 1" in its messages.
    return Capabilities(packet_size=PACKET_SIZE, xfer_memory_map=True, multiprocess=True)


class GdbSession:
    def __init__(
        self,
        stream: trio.abc.Stream,
        runner: MachineRunner,
        target: GdbTarget,
        announce: Callable[[str], None],
    ) -> None:
        self._stream = stream
        self._runner = runner
        self._target = target
        self._announce = announce
        # Run-length encoded replies: memory dumps are mostly runs (zeroed RAM).
        self._conn = RspConnection(capabilities(), rle=True)
        self._send_events, self._events = trio.open_memory_channel[_Queued](256)
        self.kill_requested = False

    async def serve(self) -> None:
        """Serve until the client leaves, detaches or kills; the guest is left halted."""
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._reader, nursery.cancel_scope)
                await self._loop(nursery)
                nursery.cancel_scope.cancel()
        finally:
            with trio.CancelScope(shield=True):
                await self._runner.halt()
            self._target.end_session()

    async def _reader(self, done: trio.CancelScope) -> None:
        try:
            while data := await self._stream.receive_some(RECEIVE_SIZE):
                for event in self._conn.receive_data(data):
                    await self._send_events.send(event)
                await self._send_events.send(_Flush())
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass
        done.cancel()

    async def _flush(self) -> None:
        data = self._conn.data_to_send()
        if data:
            with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
                await self._stream.send_all(data)

    async def _loop(self, nursery: trio.Nursery) -> None:
        async for event in self._events:
            match event:
                case CommandReceived(command):
                    if self._runner.running:
                        self._conn.send(
                            replies.error(ErrorCode.EBUSY, "the guest is running", fmt=self._fmt)
                        )
                    elif not await self._command(command, nursery):
                        await self._flush()
                        return
                case InterruptRequested():
                    self._runner.interrupt()
                case _Stopped(stop):
                    if not isinstance(stop, SingleStep):
                        self._announce(describe_stop(stop, self._target.machine))
                    self._conn.send(self._target.stop_reply(stop, self._fmt))
                case ProtocolError(kind, detail):
                    log.info("gdb client protocol error: %s %s", kind, detail)
                case _:
                    pass
            await self._flush()

    @property
    def _fmt(self) -> ReplyFormat:
        return self._conn.session.reply_format

    async def _command(self, command: object, nursery: trio.Nursery) -> bool:
        """Answer one command; False ends the session."""
        try:
            outcome = self._target.handle(command, self._fmt)  # type: ignore[arg-type]
        except Exception:
            # A bug of ours must cost the client one packet, not the session or the server.
            log.exception("internal error answering %r", command)
            outcome = Reply(
                replies.error(ErrorCode.EIO, "internal error in xgdbvm (logged)", fmt=self._fmt)
            )
        match outcome:
            case Reply(payload, console):
                for text in console:
                    for i in range(0, len(text), O_PACKET_TEXT):
                        self._conn.send(replies.console_output(text[i : i + O_PACKET_TEXT]))
                self._conn.send(payload)
            case Resume():
                nursery.start_soon(self._run, outcome)
            case Close(payload, kill):
                if payload is not None:
                    self._conn.send(payload)
                self.kill_requested = kill
                return False
        return True

    async def _run(self, resume: Resume) -> None:
        machine = self._target.machine
        machine.note_lifecycle("gdb-resume", resume.mode.value)
        stop = await self._runner.run(resume)
        machine.note_lifecycle("gdb-stop", type(stop).__name__)
        await self._send_events.send(_Stopped(stop))
