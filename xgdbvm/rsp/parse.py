"""Packet payload -> :mod:`~xgdbvm.rsp.commands` object.

Dispatch is by table: single-letter packets by their first byte, ``q``/``Q``/
``v``/``j`` packets by the name up to the first ``:``, ``,`` or ``;``, and the
few whose argument is glued to the name (``qRegisterInfo1f``) by prefix.
A parser raises ``ValueError`` on bad arguments and :func:`parse_command`
turns that into :class:`~xgdbvm.rsp.commands.Malformed`, so the session goes on.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from . import commands as c
from .constants import BreakpointType, ThreadOp
from .hexutil import hex_decode, parse_hex_int
from .thread_id import ThreadId


@dataclass(frozen=True, slots=True)
class ParseLimits:
    """Caps on what a peer may ask for, so a request is never an allocation.

    ``max_read_length`` bounds ``m`` (QEMU caps likewise and answers E22);
    ``max_xfer_length`` bounds one ``qXfer`` chunk.
    """

    max_read_length: int = 0x10000
    max_xfer_length: int = 0x10000


DEFAULT_LIMITS = ParseLimits()

Parser = Callable[[bytes, ParseLimits], c.Command]

_MULTI_LETTER = frozenset(b"qQvj")
_NAME_END = frozenset(b":,;")


def parse_command(payload: bytes, limits: ParseLimits = DEFAULT_LIMITS) -> c.Command:
    """Parse one packet payload (already unescaped and expanded by the framing)."""
    if not payload:
        return c.Unknown(payload)
    name, parser = _lookup(payload)
    if parser is None:
        return c.Unknown(payload)
    try:
        return parser(payload[len(name) :], limits)
    except ValueError as err:
        return c.Malformed(name.decode("ascii", "replace"), str(err))


def packet_name(payload: bytes) -> str:
    """The name a log line should show for ``payload`` (``m``, ``qXfer``, ...)."""
    return _lookup(payload)[0].decode("ascii", "replace") if payload else ""


def _lookup(payload: bytes) -> tuple[bytes, Parser | None]:
    if payload[0] not in _MULTI_LETTER:
        name = payload[:1]
        return name, _LETTERS.get(name)
    end = next((i for i, byte in enumerate(payload) if byte in _NAME_END), len(payload))
    name = payload[:end]
    parser = _NAMED.get(name)
    if parser is not None:
        return name, parser
    for prefix, prefixed in _PREFIXED.items():
        if payload.startswith(prefix):
            return prefix, prefixed
    return name, None


# --- argument helpers -------------------------------------------------------


def _num(text: bytes, what: str, *, max_digits: int = 16) -> int:
    try:
        return parse_hex_int(text, max_digits=max_digits)
    except ValueError as err:
        raise ValueError(f"bad {what}: {text[:32]!r}") from err


def _thread(text: bytes) -> ThreadId:
    return ThreadId.parse(text)


def _none(args: bytes) -> None:
    if args:
        raise ValueError(f"unexpected arguments {args[:32]!r}")


def _addr_len(text: bytes) -> tuple[int, int]:
    addr, comma, length = text.partition(b",")
    if not comma:
        raise ValueError("expected addr,length")
    return _num(addr, "address"), _num(length, "length", max_digits=8)


def _thread_suffix(args: bytes) -> tuple[bytes, ThreadId | None]:
    """Split lldb's ``;thread:tid;`` suffix off a register packet."""
    head, sep, tail = args.partition(b";thread:")
    if not sep:
        return args, None
    tid, _, rest = tail.partition(b";")
    if rest:
        raise ValueError("unexpected data after the thread suffix")
    return head, _thread(tid)


def _signal(text: bytes) -> int:
    return _num(text, "signal", max_digits=2)


def _optional_pid(args: bytes, sep: bytes) -> int | None:
    if not args:
        return None
    if not args.startswith(sep) or len(args) == len(sep):
        raise ValueError(f"expected {sep.decode()}pid")
    return _num(args[len(sep) :], "pid", max_digits=8)


def _nullary(factory: Callable[[], c.Command]) -> Parser:
    def parse(args: bytes, limits: ParseLimits) -> c.Command:
        _none(args)
        return factory()

    return parse


# --- single-letter packets --------------------------------------------------


def _p_read_registers(args: bytes, limits: ParseLimits) -> c.Command:
    rest, thread = _thread_suffix(args)
    _none(rest)
    return c.ReadRegisters(thread)


def _p_write_registers(args: bytes, limits: ParseLimits) -> c.Command:
    data, thread = _thread_suffix(args)
    if not data:
        raise ValueError("no register data")
    return c.WriteRegisters(hex_decode(data), thread)


def _p_read_register(args: bytes, limits: ParseLimits) -> c.Command:
    regnum, thread = _thread_suffix(args)
    return c.ReadRegister(_num(regnum, "register number", max_digits=8), thread)


def _p_write_register(args: bytes, limits: ParseLimits) -> c.Command:
    body, thread = _thread_suffix(args)
    regnum, eq, value = body.partition(b"=")
    if not eq or not value:
        raise ValueError("expected n=value")
    return c.WriteRegister(_num(regnum, "register number", max_digits=8), hex_decode(value), thread)


def _p_read_memory(args: bytes, limits: ParseLimits) -> c.Command:
    address, length = _addr_len(args)
    if length > limits.max_read_length:
        raise ValueError(f"read of {length:#x} bytes exceeds the cap {limits.max_read_length:#x}")
    return c.ReadMemory(address, length)


def _p_write_memory(args: bytes, limits: ParseLimits) -> c.Command:
    where, colon, data = args.partition(b":")
    if not colon:
        raise ValueError("expected addr,length:data")
    address, length = _addr_len(where)
    decoded = hex_decode(data)
    if len(decoded) != length:
        raise ValueError(f"length {length:#x} but {len(decoded):#x} bytes of data")
    return c.WriteMemory(address, decoded)


def _p_write_binary(args: bytes, limits: ParseLimits) -> c.Command:
    where, colon, data = args.partition(b":")
    if not colon:
        raise ValueError("expected addr,length:data")
    address, length = _addr_len(where)
    if len(data) != length:
        raise ValueError(f"length {length:#x} but {len(data):#x} bytes of data")
    return c.WriteMemory(address, data, binary=True)


def _resume(factory: Callable[[int | None, int | None], c.Command], *, signal: bool) -> Parser:
    def parse(args: bytes, limits: ParseLimits) -> c.Command:
        sig: int | None = None
        if signal:
            sig_text, _, args = args.partition(b";")
            sig = _signal(sig_text)
        address = _num(args, "address") if args else None
        return factory(address, sig)

    return parse


def _p_breakpoint(insert: bool) -> Parser:
    def parse(args: bytes, limits: ParseLimits) -> c.Command:
        # Conditions and commands ("...;X2,0a01;cmds:...") are ignored.
        head = args.partition(b";")[0]
        fields = head.split(b",")
        if len(fields) != 3:
            raise ValueError("expected type,addr,kind")
        kind_digit = _num(fields[0], "breakpoint type", max_digits=1)
        if kind_digit not in BreakpointType._value2member_map_:
            return c.Unknown((b"Z" if insert else b"z") + args)
        bp_type = BreakpointType(kind_digit)
        address = _num(fields[1], "address")
        kind = _num(fields[2], "kind", max_digits=8)
        if insert:
            return c.InsertBreakpoint(bp_type, address, kind)
        return c.RemoveBreakpoint(bp_type, address, kind)

    return parse


def _p_set_thread(args: bytes, limits: ParseLimits) -> c.Command:
    if not args:
        raise ValueError("expected op and thread")
    try:
        op = ThreadOp(args[0])
    except ValueError:
        raise ValueError(f"unknown H operation {chr(args[0])!r}") from None
    return c.SetThread(op, _thread(args[1:]))


def _p_thread_alive(args: bytes, limits: ParseLimits) -> c.Command:
    return c.ThreadAlive(_thread(args))


def _p_detach(args: bytes, limits: ParseLimits) -> c.Command:
    return c.Detach(_optional_pid(args, b";"))


_LETTERS: dict[bytes, Parser] = {
    b"?": _nullary(c.QueryHaltReason),
    b"g": _p_read_registers,
    b"G": _p_write_registers,
    b"p": _p_read_register,
    b"P": _p_write_register,
    b"m": _p_read_memory,
    b"M": _p_write_memory,
    b"X": _p_write_binary,
    b"c": _resume(lambda a, s: c.Continue(a, s), signal=False),
    b"C": _resume(lambda a, s: c.Continue(a, s), signal=True),
    b"s": _resume(lambda a, s: c.Step(a, s), signal=False),
    b"S": _resume(lambda a, s: c.Step(a, s), signal=True),
    b"Z": _p_breakpoint(insert=True),
    b"z": _p_breakpoint(insert=False),
    b"H": _p_set_thread,
    b"T": _p_thread_alive,
    b"D": _p_detach,
    b"k": _nullary(c.Kill),
}


# --- vCont ------------------------------------------------------------------


def _vcont_plain(kind: c.ResumeKind) -> Callable[[bytes], c.VContAction]:
    def parse(arg: bytes) -> c.VContAction:
        _none(arg)
        return c.VContAction(kind)

    return parse


def _vcont_signal(kind: c.ResumeKind) -> Callable[[bytes], c.VContAction]:
    return lambda arg: c.VContAction(kind, signal=_signal(arg))


def _vcont_range(arg: bytes) -> c.VContAction:
    start, comma, end = arg.partition(b",")
    if not comma:
        raise ValueError("expected r start,end")
    return c.VContAction(
        c.ResumeKind.RANGE_STEP, start=_num(start, "range start"), end=_num(end, "range end")
    )


_VCONT_ACTIONS: dict[int, Callable[[bytes], c.VContAction]] = {
    ord("c"): _vcont_plain(c.ResumeKind.CONTINUE),
    ord("C"): _vcont_signal(c.ResumeKind.CONTINUE),
    ord("s"): _vcont_plain(c.ResumeKind.STEP),
    ord("S"): _vcont_signal(c.ResumeKind.STEP),
    ord("r"): _vcont_range,
    ord("t"): _vcont_plain(c.ResumeKind.STOP),
}


def _p_vcont(args: bytes, limits: ParseLimits) -> c.Command:
    if not args.startswith(b";") or len(args) == 1:
        raise ValueError("expected ;action")
    actions = []
    for text in args[1:].split(b";"):
        body, colon, tid = text.partition(b":")
        if not body or body[0] not in _VCONT_ACTIONS:
            raise ValueError(f"unknown vCont action {body[:8]!r}")
        action = _VCONT_ACTIONS[body[0]](body[1:])
        if colon:
            action = c.VContAction(
                action.kind, action.signal, _thread(tid), action.start, action.end
            )
        actions.append(action)
    return c.VCont(tuple(actions))


# --- q / Q / v / j packets --------------------------------------------------


def _p_supported(args: bytes, limits: ParseLimits) -> c.Command:
    if not args:
        return c.QuerySupported()
    if not args.startswith(b":"):
        raise ValueError("expected qSupported:features")
    features = []
    for item in args[1:].split(b";"):
        if not item:
            continue
        text = item.decode("ascii", "replace")
        name, eq, value = text.partition("=")
        if eq:
            features.append((name, value))
        elif text[-1] in "+-?":
            features.append((text[:-1], text[-1]))
        else:
            raise ValueError(f"bad feature {text[:32]!r}")
    return c.QuerySupported(tuple(features))


def _p_xfer(args: bytes, limits: ParseLimits) -> c.Command:
    parts = args[1:].split(b":", 2)
    if not args.startswith(b":") or len(parts) != 3:
        raise ValueError("expected qXfer:object:operation:...")
    obj, operation, rest = parts
    if operation != b"read":
        return c.Unknown(b"qXfer" + args)
    annex, colon, span = rest.rpartition(b":")
    if not colon:
        raise ValueError("expected annex:offset,length")
    offset, length = _addr_len(span)
    if length > limits.max_xfer_length:
        length = limits.max_xfer_length  # a chunk is allowed to be short
    return c.ReadXfer(
        obj.decode("ascii", "replace"), annex.decode("utf-8", "replace"), offset, length
    )


def _p_thread_extra(args: bytes, limits: ParseLimits) -> c.Command:
    if not args.startswith(b","):
        raise ValueError("expected ,thread")
    return c.QueryThreadExtraInfo(_thread(args[1:]))


def _p_attached(args: bytes, limits: ParseLimits) -> c.Command:
    return c.QueryAttached(_optional_pid(args, b":"))


def _p_symbol(args: bytes, limits: ParseLimits) -> c.Command:
    if not args.startswith(b":"):
        raise ValueError("expected qSymbol:value:name")
    value_text, colon, name_text = args[1:].partition(b":")
    if not colon:
        raise ValueError("expected qSymbol:value:name")
    value = _num(value_text, "symbol value") if value_text else None
    name = hex_decode(name_text).decode("utf-8", "replace") if name_text else None
    if value is not None and name is None:
        raise ValueError("symbol value without a name")
    return c.QuerySymbol(value, name)


def _p_rcmd(args: bytes, limits: ParseLimits) -> c.Command:
    if not args.startswith(b","):
        raise ValueError("expected ,hex-command")
    return c.MonitorCommand(hex_decode(args[1:]).decode("utf-8", "replace"))


def _p_vkill(args: bytes, limits: ParseLimits) -> c.Command:
    return c.VKill(_optional_pid(args, b";"))


def _p_register_info(args: bytes, limits: ParseLimits) -> c.Command:
    return c.QueryRegisterInfo(_num(args, "register number", max_digits=8))


def _p_vcont_query(args: bytes, limits: ParseLimits) -> c.Command:
    _none(args)
    return c.VContQuery()


_NAMED: dict[bytes, Parser] = {
    b"qC": _nullary(c.QueryCurrentThread),
    b"qfThreadInfo": _nullary(c.QueryThreadInfoFirst),
    b"qsThreadInfo": _nullary(c.QueryThreadInfoNext),
    b"qThreadExtraInfo": _p_thread_extra,
    b"qAttached": _p_attached,
    b"qSupported": _p_supported,
    b"qXfer": _p_xfer,
    b"qSymbol": _p_symbol,
    b"qRcmd": _p_rcmd,
    b"qOffsets": _nullary(c.QueryOffsets),
    b"qTStatus": _nullary(c.QueryTraceStatus),
    b"qHostInfo": _nullary(c.QueryHostInfo),
    b"qProcessInfo": _nullary(c.QueryProcessInfo),
    b"qGDBServerVersion": _nullary(c.QueryServerVersion),
    b"QStartNoAckMode": _nullary(c.StartNoAckMode),
    b"QThreadSuffixSupported": _nullary(c.ThreadSuffixSupported),
    b"QListThreadsInStopReply": _nullary(c.ListThreadsInStopReply),
    b"QEnableErrorStrings": _nullary(c.EnableErrorStrings),
    b"vCont?": _p_vcont_query,
    b"vCont": _p_vcont,
    b"vKill": _p_vkill,
    b"vMustReplyEmpty": _nullary(c.MustReplyEmpty),
    b"vCtrlC": _nullary(c.CtrlC),
    b"jThreadsInfo": _nullary(c.ThreadsInfoJson),
}

_PREFIXED: dict[bytes, Parser] = {
    b"qRegisterInfo": _p_register_info,
}
