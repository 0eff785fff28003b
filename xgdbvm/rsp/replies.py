"""Reply builders: pure functions from values to payload bytes.

The payload is what goes between ``$`` and ``#``, unescaped: the framing
escapes ``$ # } *`` when it encodes, so binary replies (``qXfer`` chunks)
are built from raw bytes here. Builders whose spelling depends on what the
client negotiated take a :class:`~xgdbvm.rsp.session.ReplyFormat`.
"""

from __future__ import annotations

import binascii
import functools
import operator
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from .hexutil import from_le, hex_decode, hex_encode, hex_le, to_le
from .session import PLAIN, QSUPPORTED_FEATURES, Capabilities, ReplyFormat
from .thread_id import ThreadId

__all__ = [
    "ExpeditedRegisters",
    "StopReason",
    "StopReasonKind",
    "attached",
    "console_output",
    "current_thread",
    "empty",
    "error",
    "error_text",
    "exited",
    "from_le",
    "hex_decode",
    "hex_encode",
    "hex_le",
    "memory",
    "offsets",
    "ok",
    "register",
    "registers",
    "server_version",
    "signal_stop",
    "stop",
    "supported",
    "symbol_lookup",
    "terminated",
    "thread_extra_info",
    "thread_list",
    "to_le",
    "trace_status",
    "unavailable_register",
    "vcont_actions",
    "xfer_chunk",
]


def ok() -> bytes:
    return b"OK"


def empty() -> bytes:
    """The reply to anything unsupported; silence would hang the client."""
    return b""


def error(code: int, message: str | None = None, *, fmt: ReplyFormat = PLAIN) -> bytes:
    """``Exx``, or lldb's ``Exx;hex(message)`` once it sent ``QEnableErrorStrings``."""
    reply = b"E%02x" % (code & 0xFF)
    if message and fmt.error_strings:
        reply += b";" + hex_encode(message.encode("utf-8"))
    return reply


def error_text(message: str) -> bytes:
    """GDB's ``E.text`` form; GDB prints the text. Characters the framing
    would escape are replaced, because GDB does not unescape error replies.
    """
    text = message.encode("utf-8", "replace")
    return b"E." + bytes(b if b not in b"$#}*" else 0x3F for b in text)


# --- registers and memory ---------------------------------------------------


def register(value: bytes) -> bytes:
    """One register's target bytes for ``p``."""
    return hex_encode(value)


def unavailable_register(size: int) -> bytes:
    """A register whose value cannot be read: ``xx`` per byte, as GDB expects."""
    return b"xx" * size


def registers(values: Iterable[bytes | None], sizes: Sequence[int] | None = None) -> bytes:
    """The ``g`` reply; a ``None`` value (with its size from ``sizes``) reads as unavailable."""
    parts = []
    for index, value in enumerate(values):
        if value is None:
            if sizes is None:
                raise ValueError("an unavailable register needs its size")
            parts.append(unavailable_register(sizes[index]))
        else:
            parts.append(hex_encode(value))
    return b"".join(parts)


def memory(data: bytes) -> bytes:
    """The ``m`` reply. A short read (fewer bytes than asked) is legal."""
    return hex_encode(data)


# --- stop replies -----------------------------------------------------------


class StopReasonKind(StrEnum):
    SWBREAK = "swbreak"
    HWBREAK = "hwbreak"
    WATCH = "watch"
    RWATCH = "rwatch"
    AWATCH = "awatch"


_WATCH_KINDS = frozenset({StopReasonKind.WATCH, StopReasonKind.RWATCH, StopReasonKind.AWATCH})


@dataclass(frozen=True, slots=True)
class StopReason:
    """Why the target stopped; ``address`` is the data address for watchpoints."""

    kind: StopReasonKind
    address: int | None = None


def _reason_field(reason: StopReason, fmt: ReplyFormat) -> bytes:
    if reason.kind in _WATCH_KINDS:
        if reason.address is None:
            raise ValueError("a watchpoint stop needs the data address")
        return b"%s:%x;" % (reason.kind.encode(), reason.address)
    # GDB rejects stop replies with reasons it did not ask for in qSupported.
    allowed = fmt.swbreak if reason.kind is StopReasonKind.SWBREAK else fmt.hwbreak
    return reason.kind.encode() + b":;" if allowed else b""


class ExpeditedRegisters:
    """The ``n:r;`` fields of a stop reply for a fixed list of (regnum, size) registers.

    Built once per register list: every stop encodes its values with one pack, one
    hex conversion and one format, since a debugger's single step is a stop reply.
    """

    def __init__(self, layout: Sequence[tuple[int, int]]) -> None:
        codes = {4: "I", 8: "Q"}
        self._pack = struct.Struct("<" + "".join(codes[size] for _, size in layout)).pack
        self._masks = tuple((1 << (8 * size)) - 1 for _, size in layout)
        self._template = b"".join(b"%02x:%%s;" % regnum for regnum, _ in layout)
        spans, offset = [], 0
        for _, size in layout:
            spans.append(slice(offset, offset + 2 * size))
            offset += 2 * size
        self._split = operator.itemgetter(*spans)
        self._single = len(layout) == 1

    def encode(self, values: Sequence[int]) -> bytes:
        """The fields for these values (wider ones are cut to their register's size)."""
        try:
            digits = binascii.hexlify(self._pack(*values))
        except struct.error:  # rare: a value wider than its register, or negative
            digits = binascii.hexlify(self._pack(*map(operator.and_, values, self._masks)))
        return self._template % ((digits,) if self._single else self._split(digits))


def stop(
    signal: int,
    *,
    fmt: ReplyFormat = PLAIN,
    thread: ThreadId | None = None,
    reason: StopReason | None = None,
    expedited: bytes = b"",
    core: int | None = None,
    threads: Sequence[ThreadId] = (),
) -> bytes:
    """A ``T`` stop reply.

    ``expedited`` is the registers' ``n:r;`` fields (:class:`ExpeditedRegisters`):
    pc, sp and the frame pointer spare GDB a ``g`` round trip at every stop.
    ``threads`` is sent only to clients that enabled ``QListThreadsInStopReply``.
    """
    parts = [b"T%02x" % (signal & 0xFF)]
    if reason is not None:
        parts.append(_reason_field(reason, fmt))
    parts.append(expedited)
    if thread is not None:
        parts.append(_thread_field(thread, fmt.multiprocess, fmt.pid))
    if core is not None:
        parts.append(b"core:%x;" % core)
    if threads and fmt.threads_in_stop_reply:
        listed = b",".join(
            t.encode(multiprocess=fmt.multiprocess, default_pid=fmt.pid) for t in threads
        )
        parts.append(b"threads:" + listed + b";")
    return b"".join(parts)


@functools.lru_cache(maxsize=64)
def _thread_field(thread: ThreadId, multiprocess: bool, pid: int) -> bytes:
    # Every stop reply repeats it: spelled once per thread and format.
    return b"thread:" + thread.encode(multiprocess=multiprocess, default_pid=pid) + b";"


def signal_stop(signal: int) -> bytes:
    """The minimal ``S`` stop reply."""
    return b"S%02x" % (signal & 0xFF)


def exited(status: int, *, fmt: ReplyFormat = PLAIN) -> bytes:
    """``W`` — the target ended with ``status``; QEMU learned to send this on exit."""
    reply = b"W%02x" % (status & 0xFF)
    return reply + b";process:%x" % fmt.pid if fmt.multiprocess else reply


def terminated(signal: int, *, fmt: ReplyFormat = PLAIN) -> bytes:
    """``X`` — the target was ended by ``signal``."""
    reply = b"X%02x" % (signal & 0xFF)
    return reply + b";process:%x" % fmt.pid if fmt.multiprocess else reply


def console_output(text: str | bytes) -> bytes:
    """An ``O`` packet: GDB prints it (``monitor`` output, target console)."""
    data = text.encode("utf-8") if isinstance(text, str) else text
    if not data:
        raise ValueError("an empty O packet would read as 'O' + nothing; send nothing instead")
    return b"O" + hex_encode(data)


# --- queries ----------------------------------------------------------------


def supported(caps: Capabilities) -> bytes:
    """The ``qSupported`` reply, from the capability table."""
    items = [b"PacketSize=%x" % caps.packet_size]
    for attr, name in QSUPPORTED_FEATURES:
        items.append(name.encode() + (b"+" if getattr(caps, attr) else b"-"))
    items.extend(extra.encode() for extra in caps.extra)
    return b";".join(items)


def xfer_chunk(document: bytes, offset: int, length: int) -> bytes:
    """One ``qXfer`` read reply: ``m`` + data when more follows, ``l`` + data at the end."""
    chunk = document[offset : offset + length]
    more = offset + length < len(document)
    return (b"m" if more else b"l") + chunk


def thread_list(threads: Sequence[ThreadId], *, fmt: ReplyFormat = PLAIN) -> bytes:
    """A ``qfThreadInfo``/``qsThreadInfo`` reply; an empty list is the end marker ``l``."""
    if not threads:
        return b"l"
    encoded = (t.encode(multiprocess=fmt.multiprocess, default_pid=fmt.pid) for t in threads)
    return b"m" + b",".join(encoded)


def current_thread(thread: ThreadId, *, fmt: ReplyFormat = PLAIN) -> bytes:
    return b"QC" + thread.encode(multiprocess=fmt.multiprocess, default_pid=fmt.pid)


def thread_extra_info(text: str) -> bytes:
    """``qThreadExtraInfo``: GDB shows this next to the thread in ``info threads``."""
    return hex_encode(text.encode("utf-8"))


def attached(existing_process: bool) -> bytes:
    """``qAttached``: ``1`` means detaching must not kill (the VM keeps running)."""
    return b"1" if existing_process else b"0"


def offsets(text: int = 0, data: int = 0, bss: int | None = None) -> bytes:
    reply = b"Text=%x;Data=%x" % (text, data)
    return reply + (b";Bss=%x" % (data if bss is None else bss))


def vcont_actions(kinds: str = "cCsSrt") -> bytes:
    """The ``vCont?`` reply."""
    return b"vCont" + b"".join(b";" + kind.encode() for kind in kinds)


def symbol_lookup(name: str) -> bytes:
    """Ask GDB for a symbol's value (reply to ``qSymbol``); ``ok()`` ends the exchange."""
    return b"qSymbol:" + hex_encode(name.encode("utf-8"))


def trace_status(running: bool = False) -> bytes:
    """``qTStatus``: no tracepoint experiment."""
    return b"T1" if running else b"T0"


def server_version(name: str, version: str) -> bytes:
    """``qGDBServerVersion`` (lldb)."""
    return f"name:{name};version:{version};".encode()
