"""Typed commands: one frozen dataclass per packet the server answers.

:func:`xgdbvm.rsp.parse.parse_command` turns a packet payload into one of
these. Addresses, lengths and register numbers are already ints, hex data is
already bytes, ``qRcmd`` text is already decoded, so a server dispatches with
one ``match`` (or a dict keyed by type) and never looks at wire syntax.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from .constants import BreakpointType, ThreadOp
from .thread_id import ThreadId

# --- status and registers ---------------------------------------------------


@dataclass(frozen=True, slots=True)
class QueryHaltReason:
    """``?`` — answer with the current stop reply."""


@dataclass(frozen=True, slots=True)
class ReadRegisters:
    """``g`` — ``thread`` is set when lldb used the ``;thread:`` suffix."""

    thread: ThreadId | None = None


@dataclass(frozen=True, slots=True)
class WriteRegisters:
    """``G`` — raw register bytes in ``g`` order; the server checks the length."""

    data: bytes
    thread: ThreadId | None = None


@dataclass(frozen=True, slots=True)
class ReadRegister:
    """``p n``."""

    regnum: int
    thread: ThreadId | None = None


@dataclass(frozen=True, slots=True)
class WriteRegister:
    """``P n=value`` — ``value`` is target bytes; the server checks the width."""

    regnum: int
    value: bytes
    thread: ThreadId | None = None


# --- memory -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReadMemory:
    """``m addr,len`` — ``length`` is already checked against the read cap."""

    address: int
    length: int


@dataclass(frozen=True, slots=True)
class WriteMemory:
    """``M addr,len:hex`` or (``binary``) ``X addr,len:data``; ``len(data)`` equals len."""

    address: int
    data: bytes
    binary: bool = False


# --- execution --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Continue:
    """``c [addr]`` or ``C sig[;addr]``; the reply is the stop reply, sent later."""

    address: int | None = None
    signal: int | None = None


@dataclass(frozen=True, slots=True)
class Step:
    """``s [addr]`` or ``S sig[;addr]``; the reply is the stop reply, sent later."""

    address: int | None = None
    signal: int | None = None


class ResumeKind(StrEnum):
    CONTINUE = "c"
    STEP = "s"
    RANGE_STEP = "r"
    STOP = "t"


@dataclass(frozen=True, slots=True)
class VContAction:
    """One ``;action[:tid]`` of ``vCont``; ``thread`` None applies to all others.

    ``start``/``end`` are set only for ``r`` (step while ``start <= pc < end``).
    """

    kind: ResumeKind
    signal: int | None = None
    thread: ThreadId | None = None
    start: int | None = None
    end: int | None = None


@dataclass(frozen=True, slots=True)
class VContQuery:
    """``vCont?`` — answer with :func:`xgdbvm.rsp.replies.vcont_actions`."""


@dataclass(frozen=True, slots=True)
class VCont:
    """``vCont;...`` — actions in packet order; GDB applies the leftmost match per thread."""

    actions: tuple[VContAction, ...]


@dataclass(frozen=True, slots=True)
class CtrlC:
    """``vCtrlC`` — stop the target, reply OK; the stop reply follows separately."""


# --- breakpoints ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class InsertBreakpoint:
    """``Z type,addr,kind`` — for breakpoints ``kind`` is the ARM instruction size
    (:class:`~xgdbvm.rsp.constants.ArmBreakpointKind`), for watchpoints the length.
    Condition lists after ``;`` are dropped: the target evaluates none.
    """

    type: BreakpointType
    address: int
    kind: int


@dataclass(frozen=True, slots=True)
class RemoveBreakpoint:
    """``z type,addr,kind``."""

    type: BreakpointType
    address: int
    kind: int


# --- threads ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SetThread:
    """``Hg``/``Hc`` — reply OK to accept; the connection then records the choice."""

    op: ThreadOp
    thread: ThreadId


@dataclass(frozen=True, slots=True)
class ThreadAlive:
    """``T tid`` — OK if alive, ``E`` otherwise."""

    thread: ThreadId


@dataclass(frozen=True, slots=True)
class QueryCurrentThread:
    """``qC``."""


@dataclass(frozen=True, slots=True)
class QueryThreadInfoFirst:
    """``qfThreadInfo``."""


@dataclass(frozen=True, slots=True)
class QueryThreadInfoNext:
    """``qsThreadInfo``."""


@dataclass(frozen=True, slots=True)
class QueryThreadExtraInfo:
    """``qThreadExtraInfo,tid``."""

    thread: ThreadId


@dataclass(frozen=True, slots=True)
class ThreadsInfoJson:
    """lldb's ``jThreadsInfo``."""


# --- queries ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class QueryAttached:
    """``qAttached[:pid]``."""

    pid: int | None = None


@dataclass(frozen=True, slots=True)
class QuerySupported:
    """``qSupported[:features]`` — ``features`` pairs a name with ``+``, ``-``,
    ``?`` or the text after ``=``. The connection answers this itself.
    """

    features: tuple[tuple[str, str], ...] = ()

    def get(self, name: str) -> str | None:
        for key, value in self.features:
            if key == name:
                return value
        return None

    def supports(self, name: str) -> bool:
        return self.get(name) == "+"


@dataclass(frozen=True, slots=True)
class ReadXfer:
    """``qXfer:object:read:annex:offset,length`` — answer with
    :func:`xgdbvm.rsp.replies.xfer_chunk`.
    """

    object: str
    annex: str
    offset: int
    length: int


@dataclass(frozen=True, slots=True)
class QuerySymbol:
    """``qSymbol::`` (both None: the target may ask for symbols now) or
    ``qSymbol:value:name`` (value None when GDB does not know ``name``).
    """

    value: int | None = None
    name: str | None = None


@dataclass(frozen=True, slots=True)
class MonitorCommand:
    """``qRcmd,hex`` — GDB's ``monitor`` text. Output goes in ``O`` packets, then OK."""

    text: str


@dataclass(frozen=True, slots=True)
class QueryOffsets:
    """``qOffsets``."""


@dataclass(frozen=True, slots=True)
class QueryTraceStatus:
    """``qTStatus`` — GDB asks this on connect; ``T0`` or empty are both fine."""


@dataclass(frozen=True, slots=True)
class QueryServerVersion:
    """``qGDBServerVersion``."""


@dataclass(frozen=True, slots=True)
class QueryHostInfo:
    """lldb's ``qHostInfo``."""


@dataclass(frozen=True, slots=True)
class QueryProcessInfo:
    """lldb's ``qProcessInfo``."""


@dataclass(frozen=True, slots=True)
class QueryRegisterInfo:
    """lldb's ``qRegisterInfo<hex n>``."""

    regnum: int


# --- session ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Detach:
    """``D[;pid]`` — reply OK, then the session ends."""

    pid: int | None = None


@dataclass(frozen=True, slots=True)
class Kill:
    """``k`` — GDB expects no reply."""


@dataclass(frozen=True, slots=True)
class VKill:
    """``vKill;pid`` — reply OK."""

    pid: int | None = None


@dataclass(frozen=True, slots=True)
class MustReplyEmpty:
    """``vMustReplyEmpty`` — GDB's probe that unknown ``v`` packets get an empty reply."""


@dataclass(frozen=True, slots=True)
class StartNoAckMode:
    """``QStartNoAckMode``."""


@dataclass(frozen=True, slots=True)
class EnableErrorStrings:
    """lldb's ``QEnableErrorStrings``: errors may carry ``;hex(text)``."""


@dataclass(frozen=True, slots=True)
class ThreadSuffixSupported:
    """lldb's ``QThreadSuffixSupported``: register packets may end in ``;thread:tid;``."""


@dataclass(frozen=True, slots=True)
class ListThreadsInStopReply:
    """lldb's ``QListThreadsInStopReply``: stop replies may carry ``threads:``."""


# --- not understood ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Malformed:
    """A known packet whose arguments do not parse; answer with an ``E`` reply."""

    packet: str
    reason: str


@dataclass(frozen=True, slots=True)
class Unknown:
    """A packet this module does not know; the protocol's answer is an empty reply."""

    payload: bytes


Command = (
    QueryHaltReason
    | ReadRegisters
    | WriteRegisters
    | ReadRegister
    | WriteRegister
    | ReadMemory
    | WriteMemory
    | Continue
    | Step
    | VContQuery
    | VCont
    | CtrlC
    | InsertBreakpoint
    | RemoveBreakpoint
    | SetThread
    | ThreadAlive
    | QueryCurrentThread
    | QueryThreadInfoFirst
    | QueryThreadInfoNext
    | QueryThreadExtraInfo
    | ThreadsInfoJson
    | QueryAttached
    | QuerySupported
    | ReadXfer
    | QuerySymbol
    | MonitorCommand
    | QueryOffsets
    | QueryTraceStatus
    | QueryServerVersion
    | QueryHostInfo
    | QueryProcessInfo
    | QueryRegisterInfo
    | Detach
    | Kill
    | VKill
    | MustReplyEmpty
    | StartNoAckMode
    | EnableErrorStrings
    | ThreadSuffixSupported
    | ListThreadsInStopReply
    | Malformed
    | Unknown
)

#: Commands whose answer is not sent right away: ``k`` has none, a resume is
#: answered by the stop reply once the target stops.
NO_IMMEDIATE_REPLY: tuple[type, ...] = (Kill, Continue, Step, VCont)


def expects_immediate_reply(command: Command) -> bool:
    if isinstance(command, VCont):
        # A vCont that only stops threads (non-stop style) resumes nothing.
        return all(action.kind is ResumeKind.STOP for action in command.actions)
    return not isinstance(command, NO_IMMEDIATE_REPLY)
