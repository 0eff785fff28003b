"""The trace event model, schema version 1, and its JSON-lines form.

One JSON object per line. A stream (a socket or a ``--trace-file``) opens with
a ``hello`` record; every other line is an event. Every event carries

    seq     sequence number, from 0 at the machine's first instruction, +1 per event
    kind    what happened (see ``KINDS``; unknown kinds are legal: readers keep them)
    t_ns    virtual time in nanoseconds (``icount_to_ns``)
    vcpu    the vCPU it happened on
    pc      the guest PC of the instruction concerned (the HVC for a hypercall)
    sym     ``name+0xoff`` of the nearest ELF symbol, or null
    icount  instructions the machine had executed when it happened

and the fields of its kind. ``docs/trace.md`` documents every field; this
module is the reference implementation: frozen dataclasses, ``to_json``/
``from_json`` on each, ``encode_line``/``decode_line`` for the wire.

Readers must ignore fields they do not know; a writer adds fields only within
a schema version and bumps the version for anything else.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeAlias

SCHEMA_VERSION = "1"
PRODUCER = "xgdbvm"

# The time model: virtual time advances with executed instructions, at a fixed
# rate until the machine has a time model of its own. Change it here only.
NS_PER_INSTRUCTION = 1


def icount_to_ns(icount: int) -> int:
    """Virtual nanoseconds for an instruction count (1 instruction = 1 ns, a 1 GHz core)."""
    return icount * NS_PER_INSTRUCTION


JsonValue: TypeAlias = "bool | int | float | str | list[JsonValue] | dict[str, JsonValue] | None"
JsonObject: TypeAlias = "dict[str, JsonValue]"

COMMON_KEYS = ("seq", "kind", "t_ns", "vcpu", "pc", "sym", "icount")


class TraceFormatError(ValueError):
    """A line that is not a trace record of a schema this reader knows."""


# -- events -------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True, slots=True)
class TraceEvent:
    """What every event has. Subclasses add the fields of one kind."""

    KIND: ClassVar[str] = "event"

    seq: int
    vcpu: int = 0
    pc: int = 0
    icount: int = 0
    t_ns: int = 0
    sym: str | None = None

    @property
    def kind(self) -> str:
        return self.KIND

    def to_json(self) -> JsonObject:
        head: JsonObject = {
            "seq": self.seq,
            "kind": self.kind,
            "t_ns": self.t_ns,
            "vcpu": self.vcpu,
            "pc": self.pc,
            "sym": self.sym,
            "icount": self.icount,
        }
        head.update(self._payload())
        return head

    def _payload(self) -> JsonObject:
        return {}


@dataclass(frozen=True, kw_only=True, slots=True)
class HypercallEnterEvent(TraceEvent):
    """A guest HVC #0xEA1: the hypercall number and the argument registers (x0-x4/r0-r4)."""

    KIND: ClassVar[str] = "hypercall_enter"
    number: int
    name: str
    args: tuple[int, ...] = ()
    subop: str | None = None  # known at entry only if the machine decodes it there

    def _payload(self) -> JsonObject:
        return {
            "number": self.number,
            "name": self.name,
            "subop": self.subop,
            "args": list(self.args),
        }


@dataclass(frozen=True, kw_only=True, slots=True)
class HypercallExitEvent(TraceEvent):
    """The hypercall's result. ``fields`` holds the arguments decoded from the guest's
    structs when the machine provides them (else null: readers show ``args`` of the enter)."""

    KIND: ClassVar[str] = "hypercall_exit"
    number: int
    name: str
    subop: str | None = None
    ret: int = 0
    errno: str | None = None
    note: str = ""
    fields: dict[str, JsonValue] | None = None

    def _payload(self) -> JsonObject:
        return {
            "number": self.number,
            "name": self.name,
            "subop": self.subop,
            "ret": self.ret,
            "errno": self.errno,
            "note": self.note,
            "fields": self.fields,
        }

    @property
    def failed(self) -> bool:
        return self.ret < 0


@dataclass(frozen=True, kw_only=True, slots=True)
class ConsoleEvent(TraceEvent):
    """Console output: a line (or up to 256 bytes) from the UART, Xen's console_io or the
    PV console ring. ``text`` is UTF-8 with undecodable bytes replaced."""

    KIND: ClassVar[str] = "console"
    source: str
    text: str

    def _payload(self) -> JsonObject:
        return {"source": self.source, "text": self.text}


@dataclass(frozen=True, kw_only=True, slots=True)
class SmcccEvent(TraceEvent):
    """An SMCCC call (HVC #0 or SMC #0: PSCI and the SMCCC version/feature queries)."""

    KIND: ClassVar[str] = "smccc"
    function_id: int
    name: str
    args: tuple[int, ...] = ()
    ret: int = 0

    def _payload(self) -> JsonObject:
        return {
            "function_id": self.function_id,
            "name": self.name,
            "args": list(self.args),
            "ret": self.ret,
        }


@dataclass(frozen=True, kw_only=True, slots=True)
class ExceptionEvent(TraceEvent):
    """An exception the machine entered into the guest (undef, breakpoint, abort, ...)."""

    KIND: ClassVar[str] = "exception"
    type: str
    detail: str = ""

    def _payload(self) -> JsonObject:
        return {"type": self.type, "detail": self.detail}


@dataclass(frozen=True, kw_only=True, slots=True)
class LifecycleEvent(TraceEvent):
    """Boot, reset, shutdown (``detail`` is the reason), and whatever else the machine adds."""

    KIND: ClassVar[str] = "lifecycle"
    type: str
    detail: str = ""
    extra: dict[str, str] = field(default_factory=dict)

    def _payload(self) -> JsonObject:
        return {"type": self.type, "detail": self.detail, "extra": dict(self.extra)}


@dataclass(frozen=True, kw_only=True, slots=True)
class GenericEvent(TraceEvent):
    """Any other kind: its fields as the machine event's dataclass fields (see convert)."""

    event_kind: str
    fields: dict[str, JsonValue] = field(default_factory=dict)

    @property
    def kind(self) -> str:
        return self.event_kind

    def _payload(self) -> JsonObject:
        return dict(self.fields)


# -- stream records that are not machine events ------------------------------------------


@dataclass(frozen=True, slots=True)
class DroppedEvent:
    """``count`` events that passed this subscriber's filter were lost because its queue
    was full. Sent when the subscriber catches up, in the place of the gap."""

    count: int
    kind: ClassVar[str] = "dropped"

    def to_json(self) -> JsonObject:
        return {"kind": self.kind, "count": self.count}


@dataclass(frozen=True, slots=True)
class Hello:
    """The first line of every stream: what is traced and how to read it."""

    arch: str
    image: str
    domid: int
    domain: str
    schema: str = SCHEMA_VERSION
    producer: str = PRODUCER
    ns_per_instruction: int = NS_PER_INSTRUCTION
    filter: dict[str, JsonValue] | None = None
    kind: ClassVar[str] = "hello"

    def to_json(self) -> JsonObject:
        return {
            "kind": self.kind,
            "schema": self.schema,
            "producer": self.producer,
            "arch": self.arch,
            "image": self.image,
            "domid": self.domid,
            "domain": self.domain,
            "time_unit": "ns",
            "ns_per_instruction": self.ns_per_instruction,
            "filter": self.filter,
        }


@dataclass(frozen=True, slots=True)
class ErrorRecord:
    """The server refuses a subscription (a bad filter line) and closes."""

    message: str
    kind: ClassVar[str] = "error"

    def to_json(self) -> JsonObject:
        return {"kind": self.kind, "message": self.message}


Record = TraceEvent | DroppedEvent | Hello | ErrorRecord

EVENT_CLASSES: dict[str, type[TraceEvent]] = {
    cls.KIND: cls
    for cls in (
        HypercallEnterEvent,
        HypercallExitEvent,
        ConsoleEvent,
        SmcccEvent,
        ExceptionEvent,
        LifecycleEvent,
    )
}
KINDS = (*EVENT_CLASSES, DroppedEvent.kind)


# -- JSON lines ----------------------------------------------------------------------


_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)


def encode_json(obj: JsonObject) -> str:
    """A record's JSON object as one line, without the newline."""
    return _ENCODER.encode(obj)


def encode_line(record: Record) -> str:
    """One record as one JSON line, without the newline."""
    return _ENCODER.encode(record.to_json())


def decode_line(line: str) -> Record:
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as error:
        raise TraceFormatError(f"not JSON: {error.msg} at column {error.colno}") from None
    if not isinstance(obj, dict):
        raise TraceFormatError("not a JSON object")
    return from_json(obj)


def from_json(obj: Mapping[str, Any]) -> Record:
    kind = obj.get("kind")
    if not isinstance(kind, str) or not kind:
        raise TraceFormatError("no 'kind'")
    try:
        if kind == "hello":
            return _hello(obj)
        if kind == "dropped":
            return DroppedEvent(int(obj["count"]))
        if kind == "error":
            return ErrorRecord(str(obj.get("message", "")))
        common = {
            "seq": int(obj["seq"]),
            "vcpu": int(obj.get("vcpu", 0)),
            "pc": int(obj.get("pc", 0)),
            "icount": int(obj.get("icount", 0)),
            "t_ns": int(obj.get("t_ns", 0)),
            "sym": _opt_str(obj.get("sym")),
        }
        return _event(kind, obj, common)
    except (KeyError, TypeError, ValueError) as error:
        what = f"missing field {error}" if isinstance(error, KeyError) else str(error)
        raise TraceFormatError(f"bad {kind} record: {what}") from None


def _event(kind: str, obj: Mapping[str, Any], common: dict[str, Any]) -> TraceEvent:
    match kind:
        case "hypercall_enter":
            return HypercallEnterEvent(
                **common,
                number=int(obj["number"]),
                name=str(obj["name"]),
                args=tuple(int(a) for a in obj.get("args", ())),
                subop=_opt_str(obj.get("subop")),
            )
        case "hypercall_exit":
            fields = obj.get("fields")
            return HypercallExitEvent(
                **common,
                number=int(obj["number"]),
                name=str(obj["name"]),
                subop=_opt_str(obj.get("subop")),
                ret=int(obj["ret"]),
                errno=_opt_str(obj.get("errno")),
                note=str(obj.get("note", "")),
                fields=dict(fields) if isinstance(fields, dict) else None,
            )
        case "console":
            return ConsoleEvent(**common, source=str(obj["source"]), text=str(obj["text"]))
        case "smccc":
            return SmcccEvent(
                **common,
                function_id=int(obj["function_id"]),
                name=str(obj["name"]),
                args=tuple(int(a) for a in obj.get("args", ())),
                ret=int(obj.get("ret", 0)),
            )
        case "exception":
            return ExceptionEvent(
                **common, type=str(obj["type"]), detail=str(obj.get("detail", ""))
            )
        case "lifecycle":
            extra = obj.get("extra") or {}
            return LifecycleEvent(
                **common,
                type=str(obj["type"]),
                detail=str(obj.get("detail", "")),
                extra={str(k): str(v) for k, v in dict(extra).items()},
            )
    fields = {k: v for k, v in obj.items() if k not in COMMON_KEYS}
    return GenericEvent(**common, event_kind=kind, fields=fields)


def _hello(obj: Mapping[str, Any]) -> Hello:
    schema = str(obj.get("schema", ""))
    if schema.split(".")[0] != SCHEMA_VERSION:
        raise TraceFormatError(
            f"trace schema {schema or '?'} is not supported (this xgdbvm reads {SCHEMA_VERSION})"
        )
    flt = obj.get("filter")
    return Hello(
        arch=str(obj.get("arch", "")),
        image=str(obj.get("image", "")),
        domid=int(obj.get("domid", 0)),
        domain=str(obj.get("domain", "")),
        schema=schema,
        producer=str(obj.get("producer", "")),
        ns_per_instruction=int(obj.get("ns_per_instruction", NS_PER_INSTRUCTION)),
        filter=dict(flt) if isinstance(flt, dict) else None,
    )


def _opt_str(value: object) -> str | None:
    return None if value is None else str(value)


def read_records(lines: Iterable[str], origin: str = "trace") -> Iterator[Record]:
    """Decode a stream of lines; blank lines are skipped; errors name ``origin:line``."""
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            yield decode_line(line)
        except TraceFormatError as error:
            raise TraceFormatError(f"{origin}:{number}: {error}") from None
