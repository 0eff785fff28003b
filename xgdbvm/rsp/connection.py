"""One GDB remote session, sans-IO: bytes in -> events, replies -> bytes out.

Contract:

* :meth:`RspConnection.receive_data` takes whatever the socket produced and
  returns the events the owner must act on. Acknowledgements, retransmission
  and the purely protocol-level packets (``QStartNoAckMode``, ``qSupported``,
  ``QEnableErrorStrings``, ``QThreadSuffixSupported``,
  ``QListThreadsInStopReply``, ``vMustReplyEmpty``, malformed and unknown
  packets) are answered here and never reach the owner.
* Every :class:`CommandReceived` needs exactly one :meth:`RspConnection.send`,
  except ``k`` (no reply) and resumes (the stop reply, sent when the target
  stops). ``O`` console packets may be sent at any time before it.
* In ack mode we hold each packet until the peer's ``+`` before sending the
  next, and resend it on ``-``: a NAKed ``O`` packet must not be overtaken by
  the stop reply behind it. A new packet from the peer also counts as an ack,
  so a client that never acks cannot wedge the session.
* With ``reuse_replies``, the reply to a read-only command (memory,
  registers, ``qXfer``, ``?``) is kept, framed, and sent again when the same
  packet arrives byte for byte, without decoding or asking the owner. GDB
  reads the same few words at the pc several times per stop. Any other packet
  drops what was kept, and so must the owner (:meth:`forget_replies`) whenever
  the target changes by other means: at every resume and stop. Only in no-ack
  mode, where one packet is one chunk from the peer.
* Memory replies outlive :meth:`forget_replies` on probation when the owner
  gives ``memory_unchanged``: the same packet again is answered with the same
  reply if the owner says the memory still reads that way (a cheaper question
  than the command itself). GDB reads the same code around the pc after every
  step of a loop.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from . import commands as cmd
from . import framing as fr
from . import replies
from .constants import ErrorCode
from .parse import DEFAULT_LIMITS, ParseLimits, parse_command
from .session import Capabilities, ReplyFormat, Session

# What reuse keeps is bounded: gdb repeats small reads (code at the pc, registers),
# never a dump's chunks, which would otherwise all stay alive until the next resume.
REUSE_MAX_FRAME = 4096
REUSE_MAX_REPLIES = 64
# Parsed commands are kept for small frames only (never a memory write's data), and
# forgotten all at once when full: what gdb repeats comes back within a few stops.
PARSED_MAX_FRAME = 64
# Run-length encoding pays on long replies (a dump of zeroed RAM, the registers); on
# a stop reply or a word of code it saves a few bytes and costs more than it saves.
RLE_MIN_PAYLOAD = 256
# Short replies recur (a step's stop reply, "OK", a word of code): their frames are
# kept, since framing one (escapes, checksum) costs more than the rest of sending it.
FRAMES_MAX = 256
PARSED_MAX_ENTRIES = 256
# Memory replies kept on probation: gdb's reads around the pc in a loop of a few
# instructions, not a whole session's.
PROBATION_MAX = 16

# --- events -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CommandReceived:
    """A command the owner must answer (see the module contract)."""

    command: cmd.Command


@dataclass(frozen=True, slots=True)
class InterruptRequested:
    """The peer sent Ctrl-C (0x03): stop the target and send a stop reply."""


class ProtocolErrorKind(StrEnum):
    CHECKSUM_MISMATCH = "checksum mismatch"
    PACKET_TOO_LARGE = "packet too large"
    MALFORMED_FRAME = "malformed frame"
    ABANDONED_FRAME = "abandoned frame"
    MALFORMED_COMMAND = "malformed command"


@dataclass(frozen=True, slots=True)
class ProtocolError:
    """Something the peer got wrong. Already answered; worth a log line."""

    kind: ProtocolErrorKind
    detail: str


@dataclass(frozen=True, slots=True)
class UnsupportedPacket:
    """A packet we do not implement; already answered with the empty reply."""

    payload: bytes


Event = CommandReceived | InterruptRequested | ProtocolError | UnsupportedPacket


class RspConnection:
    """Server side of a GDB remote connection; one per client, :meth:`reset` on reconnect."""

    def __init__(
        self,
        capabilities: Capabilities | None = None,
        *,
        limits: ParseLimits = DEFAULT_LIMITS,
        rle: bool = False,
        reuse_replies: bool = False,
        memory_unchanged: Callable[[cmd.ReadMemory, bytes], bool] | None = None,
    ) -> None:
        """``memory_unchanged(command, payload)``: whether that memory read would
        still be answered with ``payload`` (see the module notes)."""
        self.capabilities = capabilities or Capabilities()
        self.limits = limits
        self.rle = rle
        self.reuse_replies = reuse_replies
        self.memory_unchanged = memory_unchanged
        self.reset()

    def reset(self) -> None:
        """Forget everything about the peer: a new client starts in ack mode."""
        self.session = Session(self.capabilities)
        self._decoder = fr.FrameDecoder(self.capabilities.packet_size)
        self._out = bytearray()
        self._unacked: deque[bytes] = deque()
        self._awaiting: cmd.Command | None = None
        self._awaiting_frame = b""
        self._replies: dict[bytes, bytes] = {}  # request frame -> reply frame
        # request frame -> (command, reply payload, reply frame), oldest first
        self._probation: dict[bytes, tuple[cmd.ReadMemory, bytes, bytes]] = {}
        self._parsed: dict[bytes, cmd.Command] = {}  # request frame -> its command
        self._frames: dict[bytes, bytes] = {}  # short reply payload -> its frame
        self._format: ReplyFormat | None = None

    # --- input --------------------------------------------------------------

    def receive_data(self, data: bytes | bytearray) -> list[Event]:
        events: list[Event] = []
        if not self.session.ack_mode and not self._decoder.in_packet:
            # In no-ack mode GDB sends each packet as one chunk, and repeats many
            # (the step, the reads at the pc): a chunk seen before is answered from
            # the kept reply, or at least not decoded and parsed again.
            frame = bytes(data)
            reply = self._replies.get(frame) or self._still_valid(frame)
            if reply is not None:
                self._out += reply
                return events
            command = self._parsed.get(frame)
            if command is not None:
                self._on_command(command, frame, events)
                return events
        for frame_event in self._decoder.feed(data):
            handler = _FRAME_HANDLERS[type(frame_event)]
            handler(self, frame_event, events)
        return events

    def _still_valid(self, frame: bytes) -> bytes | None:
        """The reply on probation for ``frame`` if the owner confirms it, else None."""
        kept = self._probation.get(frame)
        if kept is None or self.memory_unchanged is None:
            return None
        command, payload, reply = kept
        if not self.memory_unchanged(command, payload):
            del self._probation[frame]
            return None
        self._replies[frame] = reply  # as good as new until the target changes again
        return reply

    def _on_packet(self, event: fr.FrameEvent, events: list[Event]) -> None:
        assert isinstance(event, fr.PacketReceived)
        if self.session.ack_mode:
            self._out += b"+"
        self._implicit_ack()
        command = parse_command(event.payload, self.limits)
        frame = b""  # kept by frame only without acks, where a packet is a chunk
        if not self.session.ack_mode:
            # The frame as the peer sends it again: gdb never escapes these packets.
            frame = fr.encode_packet(event.payload)
            if len(frame) <= PARSED_MAX_FRAME:
                if len(self._parsed) >= PARSED_MAX_ENTRIES:
                    self._parsed.clear()
                self._parsed[frame] = command  # parsing is a pure function of the frame
        self._on_command(command, frame, events)

    def _on_command(self, command: cmd.Command, frame: bytes, events: list[Event]) -> None:
        if type(command) not in READ_ONLY:
            self._replies.clear()
        handler = _SESSION_HANDLERS.get(type(command))
        if handler is not None:
            handler(self, command, events)
            self._format = None  # the peer may have negotiated something
        else:
            self._awaiting = command
            if self.reuse_replies and frame and type(command) in READ_ONLY:
                self._awaiting_frame = frame
            events.append(CommandReceived(command))

    def _on_ack(self, event: fr.FrameEvent, events: list[Event]) -> None:
        self._implicit_ack()

    def _on_nack(self, event: fr.FrameEvent, events: list[Event]) -> None:
        # With nothing outstanding a '-' is line noise: resending an old reply
        # would be read as the answer to the peer's next packet.
        if self._unacked:
            self._out += self._unacked[0]

    def _on_interrupt(self, event: fr.FrameEvent, events: list[Event]) -> None:
        events.append(InterruptRequested())

    def _on_checksum(self, event: fr.FrameEvent, events: list[Event]) -> None:
        assert isinstance(event, fr.ChecksumMismatch)
        detail = f"expected {event.expected:02x}, got {event.received:02x}"
        self._reject_damaged(ProtocolErrorKind.CHECKSUM_MISMATCH, detail, events)

    def _on_malformed(self, event: fr.FrameEvent, events: list[Event]) -> None:
        assert isinstance(event, fr.MalformedPacket)
        if event.resend:
            self._reject_damaged(ProtocolErrorKind.MALFORMED_FRAME, event.reason, events)
        else:
            self._reject_intact(ProtocolErrorKind.MALFORMED_FRAME, event.reason, events)

    def _on_too_large(self, event: fr.FrameEvent, events: list[Event]) -> None:
        assert isinstance(event, fr.PacketTooLarge)
        detail = f"{event.size} bytes, limit {event.limit}"
        self._reject_intact(ProtocolErrorKind.PACKET_TOO_LARGE, detail, events, ErrorCode.E2BIG)

    def _on_abandoned(self, event: fr.FrameEvent, events: list[Event]) -> None:
        assert isinstance(event, fr.PacketAbandoned)
        events.append(ProtocolError(ProtocolErrorKind.ABANDONED_FRAME, event.reason))

    def _reject_damaged(self, kind: ProtocolErrorKind, detail: str, events: list[Event]) -> None:
        """A frame that may have been corrupted in transit: ask for it again.

        Without acks the peer will not resend, and it is waiting for a reply:
        an error is better than acting on corrupted data or leaving it hanging.
        """
        if self.session.ack_mode:
            self._out += b"-"
        else:
            self._queue_reply(self._error(ErrorCode.EIO, detail))
        events.append(ProtocolError(kind, detail))

    def _reject_intact(
        self,
        kind: ProtocolErrorKind,
        detail: str,
        events: list[Event],
        code: ErrorCode = ErrorCode.EINVAL,
    ) -> None:
        """A frame that arrived whole but is unusable; resending would not help.

        It is acknowledged (GDB would otherwise resend it forever) and answered
        with an error so the peer gets its one reply.
        """
        if self.session.ack_mode:
            self._out += b"+"
        self._implicit_ack()
        self._queue_reply(self._error(code, detail))
        events.append(ProtocolError(kind, detail))

    # --- protocol-level packets answered here -------------------------------

    def _answer_feature(self, offered: bool, enable: Callable[[], None]) -> None:
        if offered:
            self._queue_reply(replies.ok())
            enable()
        else:
            self._queue_reply(replies.empty())

    def _h_no_ack(self, command: cmd.Command, events: list[Event]) -> None:
        self._answer_feature(self.capabilities.no_ack_mode, self._enter_no_ack)

    def _enter_no_ack(self) -> None:
        # The OK itself travels in ack mode (the peer acks it, as the protocol
        # requires); only later packets go unacknowledged. Anything queued
        # behind it is sent now since nothing will wait for acks any more.
        self.session.ack_mode = False
        pending = list(self._unacked)
        for frame in pending[1:]:
            self._out += frame
        self._unacked = deque(pending[-1:])

    def _h_error_strings(self, command: cmd.Command, events: list[Event]) -> None:
        self._answer_feature(self.capabilities.error_strings, self._enable_error_strings)

    def _enable_error_strings(self) -> None:
        self.session.error_strings = True

    def _h_thread_suffix(self, command: cmd.Command, events: list[Event]) -> None:
        self._answer_feature(self.capabilities.thread_suffix, self._enable_thread_suffix)

    def _enable_thread_suffix(self) -> None:
        self.session.thread_suffix = True

    def _h_list_threads(self, command: cmd.Command, events: list[Event]) -> None:
        self._answer_feature(
            self.capabilities.list_threads_in_stop_reply, self._enable_threads_in_stop_reply
        )

    def _enable_threads_in_stop_reply(self) -> None:
        self.session.threads_in_stop_reply = True

    def _h_supported(self, command: cmd.Command, events: list[Event]) -> None:
        assert isinstance(command, cmd.QuerySupported)
        self.session.client = command
        self._queue_reply(replies.supported(self.capabilities))

    def _h_must_reply_empty(self, command: cmd.Command, events: list[Event]) -> None:
        self._queue_reply(replies.empty())

    def _h_malformed(self, command: cmd.Command, events: list[Event]) -> None:
        assert isinstance(command, cmd.Malformed)
        self._queue_reply(self._error(ErrorCode.EINVAL, command.reason))
        detail = f"{command.packet}: {command.reason}"
        events.append(ProtocolError(ProtocolErrorKind.MALFORMED_COMMAND, detail))

    def _h_unknown(self, command: cmd.Command, events: list[Event]) -> None:
        assert isinstance(command, cmd.Unknown)
        self._queue_reply(replies.empty())
        events.append(UnsupportedPacket(command.payload))

    # --- output -------------------------------------------------------------

    def send(self, payload: bytes) -> None:
        """Queue a reply (or an ``O`` packet) for the peer."""
        is_console = payload.startswith(b"O") and payload != b"OK"
        if is_console:
            self._queue_reply(payload)
            return
        awaiting, self._awaiting = self._awaiting, None
        if isinstance(awaiting, cmd.SetThread) and payload == b"OK":
            self.session.select_thread(awaiting.op, awaiting.thread)
        request, self._awaiting_frame = self._awaiting_frame, b""
        frame = self._queue_reply(payload)
        if request and len(frame) <= REUSE_MAX_FRAME and len(self._replies) < REUSE_MAX_REPLIES:
            self._replies[request] = frame
            if isinstance(awaiting, cmd.ReadMemory) and not payload.startswith(b"E"):
                self._probation.pop(request, None)
                self._probation[request] = (awaiting, payload, frame)
                if len(self._probation) > PROBATION_MAX:
                    del self._probation[next(iter(self._probation))]

    @property
    def reply_format(self) -> ReplyFormat:
        """``session.reply_format``, rebuilt only after a packet that may change it."""
        if self._format is None:
            self._format = self.session.reply_format
        return self._format

    def forget_replies(self) -> None:
        """The target changed other than by the peer's commands: answer everything anew
        (memory replies on probation, given ``memory_unchanged``)."""
        self._replies.clear()

    def send_error(self, code: int, message: str | None = None) -> None:
        """Queue an ``E`` reply, with text when the client asked for error strings."""
        self.send(self._error(code, message))

    def data_to_send(self) -> bytes:
        """Drain the bytes queued for the peer."""
        data = bytes(self._out)
        self._out.clear()
        return data

    @property
    def awaiting_ack(self) -> bool:
        """True while a packet waits for the peer's ``+``."""
        return bool(self._unacked)

    def _error(self, code: int, message: str | None) -> bytes:
        return replies.error(code, message, fmt=self.session.reply_format)

    def _frame(self, payload: bytes) -> bytes:
        if len(payload) >= RLE_MIN_PAYLOAD:
            return fr.encode_packet(payload, rle=self.rle)
        frame = self._frames.get(payload)
        if frame is None:
            if len(self._frames) >= FRAMES_MAX:
                self._frames.clear()
            frame = self._frames[payload] = fr.encode_packet(payload)
        return frame

    def _queue_reply(self, payload: bytes) -> bytes:
        frame = self._frame(payload)
        if not self.session.ack_mode:
            self._unacked.clear()
            self._out += frame
            return frame
        self._unacked.append(frame)
        if len(self._unacked) == 1:
            self._out += frame
        return frame

    def _implicit_ack(self) -> None:
        """Retire the packet in flight and put the next one on the wire.

        Called for ``+`` and also for any new packet: a peer that sends a new
        command has taken our last packet, whether it acked it or not.
        """
        if self._unacked:
            self._unacked.popleft()
            if self._unacked:
                self._out += self._unacked[0]


#: Commands that change nothing in the target: their replies may be reused.
READ_ONLY: frozenset[type] = frozenset(
    {
        cmd.ReadMemory,
        cmd.ReadRegisters,
        cmd.ReadRegister,
        cmd.ReadXfer,
        cmd.QueryHaltReason,
    }
)

_FrameHandler = Callable[[RspConnection, fr.FrameEvent, list[Event]], None]
_CommandHandler = Callable[[RspConnection, cmd.Command, list[Event]], None]

_FRAME_HANDLERS: dict[type, _FrameHandler] = {
    fr.PacketReceived: RspConnection._on_packet,
    fr.AckReceived: RspConnection._on_ack,
    fr.NackReceived: RspConnection._on_nack,
    fr.InterruptReceived: RspConnection._on_interrupt,
    fr.ChecksumMismatch: RspConnection._on_checksum,
    fr.MalformedPacket: RspConnection._on_malformed,
    fr.PacketTooLarge: RspConnection._on_too_large,
    fr.PacketAbandoned: RspConnection._on_abandoned,
}

_SESSION_HANDLERS: dict[type, _CommandHandler] = {
    cmd.StartNoAckMode: RspConnection._h_no_ack,
    cmd.EnableErrorStrings: RspConnection._h_error_strings,
    cmd.ThreadSuffixSupported: RspConnection._h_thread_suffix,
    cmd.ListThreadsInStopReply: RspConnection._h_list_threads,
    cmd.QuerySupported: RspConnection._h_supported,
    cmd.MustReplyEmpty: RspConnection._h_must_reply_empty,
    cmd.Malformed: RspConnection._h_malformed,
    cmd.Unknown: RspConnection._h_unknown,
}
