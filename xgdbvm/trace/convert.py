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
from typing import Any, Protocol

from xgdbvm.trace.schema import (
    COMMON_KEYS,
    ConsoleEvent,
    ExceptionEvent,
    GenericEvent,
    HypercallEnterEvent,
    HypercallExitEvent,
    JsonValue,
    LifecycleEvent,
    SmcccEvent,
    TraceEvent,
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


Common = dict[str, Any]
Build = Callable[[Any, Common], TraceEvent]


def _hypercall_enter(event: Any, common: Common) -> TraceEvent:
    return HypercallEnterEvent(
        **common,
        number=event.number,
        name=event.name,
        args=tuple(event.args),
        subop=getattr(event, "subop", None),
    )


_EXIT_KNOWN = {*CONTEXT_FIELDS, "number", "name", "subop", "ret", "errno", "note"}


def _hypercall_exit(event: Any, common: Common) -> TraceEvent:
    # Decoded arguments: whatever fields the machine's HypercallExit has beyond the
    # known ones (a mapping is merged, anything else is one named field).
    fields: dict[str, JsonValue] | None = None
    for name in _field_names(type(event)):
        if name in _EXIT_KNOWN:
            continue
        value = getattr(event, name)
        if value is None:
            continue
        fields = {} if fields is None else fields
        if isinstance(value, Mapping):
            fields.update({str(k): encode_value(v) for k, v in value.items()})
        else:
            fields[name] = encode_value(value)
    return HypercallExitEvent(
        **common,
        number=event.number,
        name=event.name,
        subop=event.subop,
        ret=event.ret,
        errno=event.errno,
        note=event.note,
        fields=fields,
    )


def _console(event: Any, common: Common) -> TraceEvent:
    source = encode_value(event.source)
    return ConsoleEvent(
        **common, source=str(source), text=bytes(event.data).decode("utf-8", "replace")
    )


def _smccc(event: Any, common: Common) -> TraceEvent:
    return SmcccEvent(
        **common,
        function_id=event.function_id,
        name=event.name,
        args=tuple(event.args),
        ret=event.ret,
    )


def _exception(event: Any, common: Common) -> TraceEvent:
    return ExceptionEvent(**common, type=str(event.kind), detail=str(event.detail))


def _lifecycle(event: Any, common: Common) -> TraceEvent:
    extra = {str(k): str(v) for k, v in dict(getattr(event, "extra", {}) or {}).items()}
    return LifecycleEvent(**common, type=str(event.kind), detail=str(event.detail), extra=extra)


KNOWN: dict[str, Build] = {
    "HypercallEnter": _hypercall_enter,
    "HypercallExit": _hypercall_exit,
    "ConsoleOutput": _console,
    "SmcccCall": _smccc,
    "ExceptionInjected": _exception,
    "Lifecycle": _lifecycle,
}


def _generic_builder(cls: type) -> Build:
    kind = getattr(cls, "trace_kind", None) or snake_case(cls.__name__)
    names = [n for n in _field_names(cls) if n not in CONTEXT_FIELDS]
    # The schema's own keys cannot be reused: a field "kind" becomes "type", others
    # that collide get an "event_" prefix.
    keys = {n: ("type" if n == "kind" else f"event_{n}" if n in COMMON_KEYS else n) for n in names}

    def build(event: Any, common: Common) -> TraceEvent:
        if keys:
            fields = {key: encode_value(getattr(event, n)) for n, key in keys.items()}
        else:
            attrs = getattr(event, "__dict__", {})
            fields = {
                k: encode_value(v)
                for k, v in attrs.items()
                if k not in CONTEXT_FIELDS and not k.startswith("_")
            }
        return GenericEvent(**common, event_kind=str(kind), fields=fields)

    return build


class EventConverter:
    """Turns machine events into trace events, stamping the given sequence number."""

    def __init__(self, symbolize: Callable[[int], str | None] | None = None) -> None:
        self._symbolize = symbolize
        self._builders: dict[type, Build] = {}

    def convert(self, event: object, seq: int) -> TraceEvent:
        cls = type(event)
        build = self._builders.get(cls)
        if build is None:
            build = self._builders[cls] = KNOWN.get(cls.__name__) or _generic_builder(cls)
        pc = int(getattr(event, "pc", 0))
        icount = int(getattr(event, "icount", 0))
        common: Common = {
            "seq": seq,
            "vcpu": int(getattr(event, "vcpu", 0)),
            "pc": pc,
            "icount": icount,
            "t_ns": icount_to_ns(icount),
            "sym": self._symbolize(pc) if self._symbolize is not None and pc else None,
        }
        return build(event, common)
