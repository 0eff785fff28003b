"""Machine observer events -> trace events, and PCs -> symbol names.

trace/ does not import machine/ (they are independent layers): events are
recognised by their class name and read by attribute. The six kinds the
machine emits today map to their schema classes; any other event becomes a
``GenericEvent`` whose kind is the class name in snake_case (``IrqInjected``
-> ``irq_injected``, or the class's ``trace_kind`` attribute if it has one)
and whose fields are the dataclass fields, encoded generically. So new machine
events reach every subscriber without a change here, and never crash it.
"""

from __future__ import annotations

import bisect
import dataclasses
import re
from collections.abc import Callable, Mapping, Sequence
from enum import Enum
from json.encoder import encode_basestring as _escape
from typing import Any, NamedTuple, Protocol

from xgdbvm.trace.schema import (
    COMMON_KEYS,
    JsonObject,
    JsonValue,
    TraceEvent,
    encode_json,
    from_json,
    icount_to_ns,
)

SYMBOL_CACHE_MAX = 1 << 16
CONTEXT_FIELDS = ("vcpu", "pc", "icount")


class SymbolLike(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def address(self) -> int: ...

    @property
    def size(self) -> int: ...


class Symbolizer:
    """``name+0xoff`` of the symbol containing an address (Thumb bit ignored), cached."""

    def __init__(self, symbols: Sequence[SymbolLike]) -> None:
        ordered = sorted(symbols, key=lambda s: s.address & ~1)
        self._addresses = [s.address & ~1 for s in ordered]
        self._symbols = ordered
        self._cache: dict[int, str | None] = {}

    def __bool__(self) -> bool:
        return bool(self._symbols)

    def __call__(self, address: int) -> str | None:
        try:
            return self._cache[address]
        except KeyError:
            pass
        if len(self._cache) >= SYMBOL_CACHE_MAX:
            self._cache.clear()
        name = self._cache[address] = self._lookup(address)
        return name

    def _lookup(self, address: int) -> str | None:
        index = bisect.bisect_right(self._addresses, address) - 1
        if index < 0:
            return None
        symbol = self._symbols[index]
        offset = address - self._addresses[index]
        if symbol.size and offset >= symbol.size:
            return None
        return symbol.name + (f"+{offset:#x}" if offset else "")


def snake_case(name: str) -> str:
    name = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", name)
    return re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name).lower()


def encode_value(value: object) -> JsonValue:
    """Any field value as JSON: enums by value (str) or name, bytes as text, containers
    and dataclasses recursively, anything else as its ``str``."""
    if value is None or isinstance(value, bool | str | float):
        return value
    if isinstance(value, Enum):
        return value.value if isinstance(value.value, str) else (value.name or str(value.value))
    if isinstance(value, int):
        return int(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("utf-8", "backslashreplace")
    if isinstance(value, Mapping):
        return {str(k): encode_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [encode_value(v) for v in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: encode_value(getattr(value, f.name)) for f in dataclasses.fields(value)}
    return str(value)


def _field_names(cls: type) -> tuple[str, ...]:
    if dataclasses.is_dataclass(cls):
        return tuple(f.name for f in dataclasses.fields(cls))
    return ()


# A builder adds the kind-specific keys to the common head, in schema order. They build
# the JSON object directly: that is what the file and the sockets need, and the typed
# event (``from_json``) is made only where one is asked for.
Build = Callable[[Any, JsonObject], None]


def _hypercall_enter(event: Any, obj: JsonObject) -> None:
    obj["kind"] = "hypercall_enter"
    obj["number"] = event.number
    obj["name"] = event.name
    obj["subop"] = getattr(event, "subop", None)
    obj["args"] = list(event.args)


_EXIT_KNOWN = {*CONTEXT_FIELDS, "number", "name", "subop", "ret", "errno", "note"}


def _hypercall_exit_builder(cls: type) -> Build:
    # Decoded arguments: whatever fields the machine's HypercallExit has beyond the
    # known ones (a mapping is merged, anything else is one named field).
    extras = tuple(n for n in _field_names(cls) if n not in _EXIT_KNOWN)

    def build(event: Any, obj: JsonObject) -> None:
        obj["kind"] = "hypercall_exit"
        obj["number"] = event.number
        obj["name"] = event.name
        obj["subop"] = event.subop
        obj["ret"] = event.ret
        obj["errno"] = event.errno
        obj["note"] = event.note
        fields: dict[str, JsonValue] | None = None
        for name in extras:
            value = getattr(event, name)
            if value is None or (isinstance(value, Mapping) and not value):
                continue
            fields = {} if fields is None else fields
            if isinstance(value, Mapping):
                fields.update({str(k): encode_value(v) for k, v in value.items()})
            else:
                fields[name] = encode_value(value)
        obj["fields"] = fields

    return build


def _console(event: Any, obj: JsonObject) -> None:
    obj["kind"] = "console"
    obj["source"] = str(encode_value(event.source))
    obj["text"] = bytes(event.data).decode("utf-8", "replace")


def _smccc(event: Any, obj: JsonObject) -> None:
    obj["kind"] = "smccc"
    obj["function_id"] = event.function_id
    obj["name"] = event.name
    obj["args"] = list(event.args)
    obj["ret"] = event.ret


def _exception(event: Any, obj: JsonObject) -> None:
    obj["kind"] = "exception"
    obj["type"] = str(event.kind)
    obj["detail"] = str(event.detail)


def _lifecycle(event: Any, obj: JsonObject) -> None:
    obj["kind"] = "lifecycle"
    obj["type"] = str(event.kind)
    obj["detail"] = str(event.detail)
    extra = getattr(event, "extra", None) or {}
    obj["extra"] = {str(k): str(v) for k, v in dict(extra).items()}


KNOWN: dict[str, Callable[[type], Build]] = {
    "HypercallEnter": lambda cls: _hypercall_enter,
    "HypercallExit": _hypercall_exit_builder,
    "ConsoleOutput": lambda cls: _console,
    "SmcccCall": lambda cls: _smccc,
    "ExceptionInjected": lambda cls: _exception,
    "Lifecycle": lambda cls: _lifecycle,
}


def _generic_builder(cls: type) -> Build:
    kind = str(getattr(cls, "trace_kind", None) or snake_case(cls.__name__))
    names = [n for n in _field_names(cls) if n not in CONTEXT_FIELDS]
    # The schema's own keys cannot be reused: a field "kind" becomes "type", others
    # that collide get an "event_" prefix.
    keys = {n: ("type" if n == "kind" else f"event_{n}" if n in COMMON_KEYS else n) for n in names}

    def build(event: Any, obj: JsonObject) -> None:
        obj["kind"] = kind
        if keys:
            for name, key in keys.items():
                obj[key] = encode_value(getattr(event, name))
            return
        for name, value in getattr(event, "__dict__", {}).items():
            if name not in CONTEXT_FIELDS and not name.startswith("_"):
                key = "type" if name == "kind" else f"event_{name}" if name in COMMON_KEYS else name
                obj[key] = encode_value(value)

    return build


# -- the recorder's fast path: the JSON line itself -------------------------------------------
#
# The high-rate kinds are written straight to a JSON line with f-strings (about 3x
# faster than json's encoder, the largest cost of tracing); everything else goes
# through ``to_json`` and the encoder. A test checks both give the same JSON.


class Encoded(NamedTuple):
    """An event as the recorder hands it on: the line, and what filters look at."""

    line: str
    kind: str
    vcpu: int
    pc: int
    name: str | None
    subop: str | None


Tail = tuple[str, str, str | None, str | None]  # kind, the line after the head, name, subop
FastBuild = Callable[[Any], Tail]


def _json_str(value: str | None) -> str:
    return "null" if value is None else _escape(value)


def _fast_enter(event: Any) -> Tail:
    name, subop = event.name, getattr(event, "subop", None)
    args = ",".join([f"{a:d}" for a in event.args])
    tail = (
        f',"number":{event.number:d},"name":{_escape(name)},"subop":{_json_str(subop)},'
        f'"args":[{args}]'
    )
    return "hypercall_enter", tail, name, subop


def _fast_exit(event: Any) -> Tail:
    name, subop = event.name, event.subop
    tail = (
        f',"number":{event.number:d},"name":{_escape(name)},"subop":{_json_str(subop)},'
        f'"ret":{event.ret:d},"errno":{_json_str(event.errno)},"note":{_escape(event.note)},'
        '"fields":null'
    )
    return "hypercall_exit", tail, name, subop


def _fast_console(event: Any) -> Tail:
    source = _escape(str(encode_value(event.source)))
    text = _escape(bytes(event.data).decode("utf-8", "replace"))
    return "console", f',"source":{source},"text":{text}', None, None


# Used only when the class has exactly these fields: a field added later (decoded
# arguments, say) takes the general path, which encodes it.
FAST: dict[str, tuple[frozenset[str], FastBuild]] = {
    "HypercallEnter": (frozenset({*CONTEXT_FIELDS, "number", "name", "args"}), _fast_enter),
    "HypercallExit": (frozenset(_EXIT_KNOWN), _fast_exit),
    "ConsoleOutput": (frozenset({*CONTEXT_FIELDS, "source", "data"}), _fast_console),
}


def _fast_builder(cls: type) -> FastBuild | None:
    entry = FAST.get(cls.__name__)
    if entry is None or set(_field_names(cls)) != entry[0]:
        return None
    return entry[1]


class EventConverter:
    """Turns machine events into trace events, stamping the given sequence number:
    as a JSON line (``encode``, the recorder's hot path), as the schema's JSON object
    (``to_json``) or typed (``convert``, which decodes that object)."""

    def __init__(self, symbolize: Callable[[int], str | None] | None = None) -> None:
        self._symbolize = symbolize
        self._builders: dict[type, Build] = {}
        self._fast: dict[type, FastBuild | None] = {}

    def encode(self, event: object, seq: int) -> Encoded:
        cls = type(event)
        try:
            fast = self._fast[cls]
        except KeyError:
            fast = self._fast[cls] = _fast_builder(cls)
        if fast is None:
            obj = self.to_json(event, seq)
            name, subop = obj.get("name"), obj.get("subop")
            return Encoded(
                encode_json(obj),
                str(obj["kind"]),
                int(getattr(event, "vcpu", 0)),
                int(getattr(event, "pc", 0)),
                name if isinstance(name, str) else None,
                subop if isinstance(subop, str) else None,
            )
        kind, tail, name, subop = fast(event)
        ev: Any = event
        pc, icount, vcpu = ev.pc, ev.icount, ev.vcpu
        symbolize = self._symbolize
        sym = symbolize(pc) if symbolize is not None and pc else None
        line = (
            f'{{"seq":{seq:d},"kind":"{kind}","t_ns":{icount_to_ns(icount):d},"vcpu":{vcpu:d},'
            f'"pc":{pc:d},"sym":{_json_str(sym)},"icount":{icount:d}{tail}}}'
        )
        return Encoded(line, kind, vcpu, pc, name, subop)

    def to_json(self, event: object, seq: int) -> JsonObject:
        cls = type(event)
        build = self._builders.get(cls)
        if build is None:
            known = KNOWN.get(cls.__name__)
            build = self._builders[cls] = known(cls) if known else _generic_builder(cls)
        pc = int(getattr(event, "pc", 0))
        icount = int(getattr(event, "icount", 0))
        symbolize = self._symbolize
        obj: JsonObject = {
            "seq": seq,
            "kind": "",
            "t_ns": icount_to_ns(icount),
            "vcpu": int(getattr(event, "vcpu", 0)),
            "pc": pc,
            "sym": symbolize(pc) if symbolize is not None and pc else None,
            "icount": icount,
        }
        build(event, obj)
        return obj

    def convert(self, event: object, seq: int) -> TraceEvent:
        record = from_json(self.to_json(event, seq))
        assert isinstance(record, TraceEvent)
        return record
