"""One GDB client: bytes from its stream through the RSP core to the target, and back.

The receive loop answers every complete packet of a chunk before it awaits
anything, then sends all the replies at once: a packet costs no task switch,
and the machine is only ever used from this thread while the guest is halted.
A resume starts a run task that sends the stop reply itself. While the guest
runs, the only command that means anything is Ctrl-C; anything else gets an
error rather than touching a machine that a worker thread is executing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import trio

from xgdbvm.adapters.gdb_target import Close, GdbTarget, Reply
from xgdbvm.adapters.resume import Resume
from xgdbvm.machine.stop import SingleStep, StopReason
from xgdbvm.rsp import (
    Capabilities,
    CommandReceived,
    InterruptRequested,
    ProtocolError,
    RspConnection,
    replies,
)
from xgdbvm.rsp.commands import ReadMemory
from xgdbvm.rsp.constants import ErrorCode
from xgdbvm.rsp.session import ReplyFormat
from xgdbvm.server.describe import describe_stop
from xgdbvm.server.runner import MachineRunner
from xgdbvm.server.wire import open_wire
from xgdbvm.trace.convert import Symbolizer

log = logging.getLogger("xgdbvm.gdb")

PACKET_SIZE = 0x10000  # gdb reads memory in chunks of up to half of this
O_PACKET_TEXT = 4000  # console text per O packet (hex doubles it)


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
        self._runner = runner
        self._target = target
        self._announce = announce
        # Run-length encoded replies: memory dumps are mostly runs (zeroed RAM). Replies
        # to repeated reads are reused: while the guest is halted only the client's own
        # commands change it (host work posted to the machine waits for the next run).
        # Memory replies outlive resumes while the memory reads the same: gdb reads the
        # code around the pc after every step.
        self._conn = RspConnection(
            capabilities(),
            rle=True,
            reuse_replies=True,
            memory_unchanged=self._memory_unchanged,
        )
        self._symbolize = Symbolizer(target.machine.layout.image.symbols)
        self._resumed = False  # from the resume command until its stop reply is queued
        self._unnoted: StopReason | None = None  # a stop replied to, not yet noted
        self._sending = False
        self._closed = False
        self.kill_requested = False
        # Last: from here on serve() must run, since only its exit releases the wire.
        self._wire = open_wire(stream)

    def _memory_unchanged(self, command: ReadMemory, payload: bytes) -> bool:
        # Never while a worker thread runs the guest: the packet gets "busy" then.
        return not self._resumed and self._target.memory_unchanged(command, payload)

    async def serve(self) -> None:
        """Serve until the client leaves, detaches or kills; the guest is left halted."""
        try:
            async with trio.open_nursery() as nursery:
                await self._receive_loop(nursery)
                nursery.cancel_scope.cancel()
        finally:
            with trio.CancelScope(shield=True):
                await self._runner.halt()
            self._note_stop()
            self._target.machine.flush_notes()  # a resume whose run never reported
            self._target.end_session()
            self._wire.release()

    async def _receive_loop(self, nursery: trio.Nursery) -> None:
        try:
            # Lingering while the guest is halted: gdb's next packet follows our reply.
            while data := await self._wire.receive_some(linger=not self._resumed):
                for event in self._conn.receive_data(data):
                    if not self._on_event(event, nursery):
                        self._closed = True
                        break
                await self._flush()
                self._note_stop()
                if self._closed:
                    return
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass

    async def _flush(self) -> None:
        """Send what the connection queued. The receive loop and a run task both flush:
        whichever is already sending also takes what the other queued meanwhile."""
        if self._sending:
            return
        self._sending = True
        try:
            while data := self._conn.data_to_send():
                await self._wire.send_all(data)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass
        finally:
            self._sending = False

    def _on_event(self, event: object, nursery: trio.Nursery) -> bool:
        """Act on one event without awaiting; False ends the session."""
        match event:
            case CommandReceived(command):
                if self._resumed:
                    self._conn.send(
                        replies.error(ErrorCode.EBUSY, "the guest is running", fmt=self._fmt)
                    )
                    return True
                return self._command(command, nursery)
            case InterruptRequested():
                if self._resumed:
                    self._runner.interrupt_starting_run()
                else:
                    self._runner.interrupt()
            case ProtocolError(kind, detail):
                log.info("gdb client protocol error: %s %s", kind, detail)
            case _:
                pass
        return True

    @property
    def _fmt(self) -> ReplyFormat:
        return self._conn.reply_format

    def _command(self, command: object, nursery: trio.Nursery) -> bool:
        """Answer one command; False ends the session."""
        if self._unnoted is not None:
            self._note_stop()  # a run task's stop, still sending: it came first
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
                # Noted before anything runs, inline or in the thread: the trace's
                # gdb-resume carries the pc and count the user resumed from.
                self._note_resume(outcome)
                stop = self._runner.run_inline(outcome)
                if stop is not None:
                    self._stopped(stop)
                else:
                    self._resumed = True
                    nursery.start_soon(self._run, outcome)
            case Close(payload, kill):
                if payload is not None:
                    self._conn.send(payload)
                self.kill_requested = kill
                return False
        return True

    async def _run(self, resume: Resume) -> None:
        stop = await self._runner.run(resume)
        self._stopped(stop)
        self._resumed = False
        await self._flush()
        self._note_stop()

    def _note_resume(self, resume: Resume) -> None:
        self._conn.forget_replies()
        # Deferred: the trace gets it before anything the run emits, or with the stop.
        self._target.machine.note_lifecycle("gdb-resume", resume.mode.value, defer=True)

    def _stopped(self, stop: StopReason) -> None:
        """Queue the stop reply (the caller flushes, then calls ``_note_stop``)."""
        self._conn.forget_replies()  # including any "busy" errors answered during the run
        self._conn.send(self._target.stop_reply(stop, self._fmt))
        self._unnoted = stop

    def _note_stop(self) -> None:
        """Tell the trace and the user about the stop just replied to.

        After the reply, not before: gdb works on it meanwhile (in a stepi loop these
        notes took a third of the step packet's time in the server). Nothing runs in
        between, so the trace's order, the pc and the count are the same either way."""
        stop, self._unnoted = self._unnoted, None
        if stop is None:
            return
        machine = self._target.machine
        machine.note_lifecycle("gdb-stop", type(stop).__name__)
        if not isinstance(stop, SingleStep):
            self._announce(describe_stop(stop, machine, self._symbolize))
