"""GDB Remote Serial Protocol core, sans-IO and standard library only.

Bytes in, events out; commands in, reply bytes out. Nothing here reads a
socket, knows Trio or touches the machine.

Modules (each one concept):

``framing``      ``FrameDecoder.feed(bytes) -> [FrameEvent]`` (``PacketReceived``,
                 ``AckReceived``, ``NackReceived``, ``InterruptReceived``,
                 ``ChecksumMismatch``, ``PacketTooLarge``, ``MalformedPacket``,
                 ``PacketAbandoned``) and ``encode_packet(payload, rle=False)``.
``connection``   ``RspConnection``: feed bytes with ``receive_data``, get
                 ``CommandReceived`` / ``InterruptRequested`` / ``ProtocolError`` /
                 ``UnsupportedPacket``; answer with ``send``; drain with
                 ``data_to_send``. Acks, retransmission, ``QStartNoAckMode``,
                 ``qSupported`` and other session packets are handled inside.
``commands``     one frozen dataclass per packet (``ReadMemory``, ``VCont`` ...).
``parse``        ``parse_command(payload, limits) -> Command``.
``replies``      pure reply builders (``ok``, ``error``, ``stop``, ``xfer_chunk`` ...).
``session``      ``Capabilities`` (what we offer), ``Session`` (what was agreed),
                 ``ReplyFormat`` (the part reply builders need).
``target_xml``   ``TargetDescription`` from ``Feature``/``Register`` lists; memory
                 map and thread list documents.
``arch``         GDB's ARM and AArch64 register features as data.
``lldb``         ``qHostInfo``, ``qProcessInfo``, ``qRegisterInfo``, ``jThreadsInfo``.
``thread_id``    ``ThreadId`` with the plain and ``p<pid>.<tid>`` spellings.

A server loop::

    conn = RspConnection(Capabilities(xfer_memory_map=True))
    while data := await stream.receive_some():
        for event in conn.receive_data(data):
            match event:
                case CommandReceived(ReadMemory(address, length)):
                    conn.send(replies.memory(machine.read(address, length)))
                case CommandReceived(command):
                    dispatch(command)          # exactly one conn.send(...)
                case InterruptRequested():
                    stop_target()              # then conn.send(replies.stop(...))
        await stream.send_all(conn.data_to_send())
"""

from . import arch, commands, framing, lldb, replies, target_xml
from .commands import (
    Command,
    Continue,
    CtrlC,
    Detach,
    EnableErrorStrings,
    InsertBreakpoint,
    Kill,
    ListThreadsInStopReply,
    Malformed,
    MonitorCommand,
    MustReplyEmpty,
    QueryAttached,
    QueryCurrentThread,
    QueryHaltReason,
    QueryHostInfo,
    QueryOffsets,
    QueryProcessInfo,
    QueryRegisterInfo,
    QueryServerVersion,
    QuerySupported,
    QuerySymbol,
    QueryThreadExtraInfo,
    QueryThreadInfoFirst,
    QueryThreadInfoNext,
    QueryTraceStatus,
    ReadMemory,
    ReadRegister,
    ReadRegisters,
    ReadXfer,
    RemoveBreakpoint,
    ResumeKind,
    SetThread,
    StartNoAckMode,
    Step,
    ThreadAlive,
    ThreadsInfoJson,
    ThreadSuffixSupported,
    Unknown,
    VCont,
    VContAction,
    VContQuery,
    VKill,
    WriteMemory,
    WriteRegister,
    WriteRegisters,
    expects_immediate_reply,
)
from .connection import (
    CommandReceived,
    Event,
    InterruptRequested,
    ProtocolError,
    ProtocolErrorKind,
    RspConnection,
    UnsupportedPacket,
)
from .constants import (
    DEFAULT_MAX_PACKET,
    ArmBreakpointKind,
    BreakpointType,
    ErrorCode,
    GdbSignal,
    ThreadOp,
)
from .framing import (
    AckReceived,
    ChecksumMismatch,
    FrameDecoder,
    FrameEvent,
    InterruptReceived,
    MalformedPacket,
    NackReceived,
    PacketAbandoned,
    PacketReceived,
    PacketTooLarge,
    encode_packet,
)
from .parse import DEFAULT_LIMITS, ParseLimits, parse_command
from .replies import StopReason, StopReasonKind
from .session import PLAIN, Capabilities, ReplyFormat, Session
from .target_xml import (
    Feature,
    FlagsField,
    FlagsType,
    MemoryRegion,
    MemoryType,
    NumberedRegister,
    Register,
    TargetDescription,
    ThreadEntry,
    UnionType,
    VectorType,
    memory_map_xml,
    threads_xml,
)
from .thread_id import ThreadId

__all__ = [
    "DEFAULT_LIMITS",
    "DEFAULT_MAX_PACKET",
    "PLAIN",
    "AckReceived",
    "ArmBreakpointKind",
    "BreakpointType",
    "Capabilities",
    "ChecksumMismatch",
    "Command",
    "CommandReceived",
    "Continue",
    "CtrlC",
    "Detach",
    "EnableErrorStrings",
    "ErrorCode",
    "Event",
    "Feature",
    "FlagsField",
    "FlagsType",
    "FrameDecoder",
    "FrameEvent",
    "GdbSignal",
    "InsertBreakpoint",
    "InterruptReceived",
    "InterruptRequested",
    "Kill",
    "ListThreadsInStopReply",
    "Malformed",
    "MalformedPacket",
    "MemoryRegion",
    "MemoryType",
    "MonitorCommand",
    "MustReplyEmpty",
    "NackReceived",
    "NumberedRegister",
    "PacketAbandoned",
    "PacketReceived",
    "PacketTooLarge",
    "ParseLimits",
    "ProtocolError",
    "ProtocolErrorKind",
    "QueryAttached",
    "QueryCurrentThread",
    "QueryHaltReason",
    "QueryHostInfo",
    "QueryOffsets",
    "QueryProcessInfo",
    "QueryRegisterInfo",
    "QueryServerVersion",
    "QuerySupported",
    "QuerySymbol",
    "QueryThreadExtraInfo",
    "QueryThreadInfoFirst",
    "QueryThreadInfoNext",
    "QueryTraceStatus",
    "ReadMemory",
    "ReadRegister",
    "ReadRegisters",
    "ReadXfer",
    "Register",
    "RemoveBreakpoint",
    "ReplyFormat",
    "ResumeKind",
    "RspConnection",
    "Session",
    "SetThread",
    "StartNoAckMode",
    "Step",
    "StopReason",
    "StopReasonKind",
    "TargetDescription",
    "ThreadAlive",
    "ThreadEntry",
    "ThreadId",
    "ThreadOp",
    "ThreadSuffixSupported",
    "ThreadsInfoJson",
    "UnionType",
    "Unknown",
    "UnsupportedPacket",
    "VCont",
    "VContAction",
    "VContQuery",
    "VKill",
    "VectorType",
    "WriteMemory",
    "WriteRegister",
    "WriteRegisters",
    "arch",
    "commands",
    "encode_packet",
    "expects_immediate_reply",
    "framing",
    "lldb",
    "memory_map_xml",
    "parse_command",
    "replies",
    "target_xml",
    "threads_xml",
]
