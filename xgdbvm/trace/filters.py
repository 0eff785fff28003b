"""Which events a reader wants: kinds, call names (with an optional sub-op), a PC range.

Two spellings of one filter:

- command line (``xgdbvm trace --filter``, also accepted as a subscriber's first line):
  ``kind=hypercall,console name=memory_op,xen_version.get_features pc=0x40080000-0x40090000``
- JSON (a subscriber's first line, echoed in the hello):
  ``{"kind": ["hypercall", "console"], "name": ["memory_op"], "pc": [1074266112, 1074331648]}``

Semantics: an event passes if it passes every term given.
- ``kind=K,...``: the event's kind is K or starts with ``K_`` (``hypercall`` selects
  ``hypercall_enter`` and ``hypercall_exit``; ``irq`` would select ``irq_injected``).
- ``name=N[.SUB],...``: hypercall and SMCCC events pass if their name is one of the
  N (and, if given, their sub-op is SUB); other kinds are not affected. Without
  ``kind=``, ``name=`` implies ``kind=hypercall,smccc``.
- ``pc=LO-HI``: LO <= pc < HI (``pc=ADDR`` is the one address).

A hypercall's sub-op is known at its exit. With ``name=N.SUB``, a ``Selector``
holds an N enter (and what follows it on that vCPU) until the exit decides.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from xgdbvm.trace.schema import JsonValue, TraceEvent

T = TypeVar("T")

NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z0-9_]+)?")
KIND_RE = re.compile(r"[a-z][a-z0-9_]*")
CALL_KINDS = ("hypercall_enter", "hypercall_exit", "smccc")
KEYS = ("kind", "name", "pc")


class FilterError(ValueError):
    """A filter a user wrote wrong; the message says what and where."""


@dataclass(frozen=True, order=True)
class CallName:
    name: str
    subop: str | None = None

    @classmethod
    def parse(cls, text: str) -> CallName:
        if not NAME_RE.fullmatch(text):
            raise FilterError(f"{text!r} is not NAME or NAME.SUBOP")
        name, _, subop = text.partition(".")
        return cls(name, subop or None)

    def __str__(self) -> str:
        return self.name if self.subop is None else f"{self.name}.{self.subop}"


@dataclass(frozen=True)
class TraceFilter:
    kinds: frozenset[str] = frozenset()
    names: frozenset[CallName] = frozenset()
    pc: tuple[int, int] | None = None

    @property
    def empty(self) -> bool:
        return not self.kinds and not self.names and self.pc is None

    # -- spellings -----------------------------------------------------------------------

    @classmethod
    def parse(cls, text: str) -> TraceFilter:
        """The command-line spelling: whitespace-separated ``key=v1,v2`` terms."""
        kinds: set[str] = set()
        names: set[CallName] = set()
        pc: tuple[int, int] | None = None
        for term in text.split():
            key, sep, value = term.partition("=")
            values = [v for v in value.split(",") if v]
            if not sep or not values:
                raise FilterError(f"{term!r} is not KEY=VALUE[,VALUE...] ({', '.join(KEYS)})")
            if key == "kind":
                kinds.update(_kind(v) for v in values)
            elif key == "name":
                names.update(CallName.parse(v) for v in values)
            elif key == "pc":
                if pc is not None or len(values) != 1:
                    raise FilterError("give one pc=LO-HI range")
                pc = _pc_range(values[0])
            else:
                raise FilterError(f"unknown filter key {key!r} (use {', '.join(KEYS)})")
        return cls(frozenset(kinds), frozenset(names), pc)

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> TraceFilter:
        unknown = set(obj) - set(KEYS)
        if unknown:
            raise FilterError(f"unknown filter key {sorted(unknown)[0]!r} (use {', '.join(KEYS)})")
        kinds = frozenset(_kind(v) for v in _strings(obj.get("kind"), "kind"))
        names = frozenset(CallName.parse(v) for v in _strings(obj.get("name"), "name"))
        pc_value = obj.get("pc")
        pc: tuple[int, int] | None = None
        if isinstance(pc_value, str):
            pc = _pc_range(pc_value)
        elif isinstance(pc_value, list | tuple):
            if len(pc_value) != 2 or not all(
                isinstance(v, int) and not isinstance(v, bool) for v in pc_value
            ):
                raise FilterError('pc must be [LO, HI] integers or "LO-HI"')
            pc = _checked_range(pc_value[0], pc_value[1])
        elif pc_value is not None:
            raise FilterError('pc must be [LO, HI] integers or "LO-HI"')
        return cls(kinds, names, pc)

    @classmethod
    def parse_line(cls, line: str) -> TraceFilter:
        """A subscriber's first line: a JSON object, or the command-line spelling."""
        text = line.strip()
        if not text.startswith("{"):
            return cls.parse(text)
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as error:
            raise FilterError(f"filter line is not JSON: {error.msg}") from None
        if not isinstance(obj, dict):
            raise FilterError("filter line must be a JSON object")
        return cls.from_json(obj)

    def to_json(self) -> dict[str, JsonValue]:
        obj: dict[str, JsonValue] = {}
        if self.kinds:
            obj["kind"] = list(sorted(self.kinds))
        if self.names:
            obj["name"] = [str(n) for n in sorted(self.names, key=str)]
        if self.pc is not None:
            obj["pc"] = [self.pc[0], self.pc[1]]
        return obj

    def __str__(self) -> str:
        terms = []
        if self.kinds:
            terms.append("kind=" + ",".join(sorted(self.kinds)))
        if self.names:
            terms.append("name=" + ",".join(sorted(str(n) for n in self.names)))
        if self.pc is not None:
            terms.append(f"pc={self.pc[0]:#x}-{self.pc[1]:#x}")
        return " ".join(terms) or "(everything)"


def _kind(text: str) -> str:
    if not KIND_RE.fullmatch(text):
        raise FilterError(f"{text!r} is not an event kind")
    return text


def _strings(value: object, key: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [v for v in value.split(",") if v]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value)
    raise FilterError(f"{key} must be a string or a list of strings")


def _int(text: str) -> int:
    try:
        return int(text.replace("_", ""), 0)
    except ValueError:
        raise FilterError(f"{text!r} is not an address") from None


def _pc_range(text: str) -> tuple[int, int]:
    low, sep, high = text.partition("-")
    if not sep:
        address = _int(low)
        return _checked_range(address, address + 1)
    return _checked_range(_int(low), _int(high))


def _checked_range(low: int, high: int) -> tuple[int, int]:
    if low < 0 or high <= low:
        raise FilterError(f"pc range {low:#x}-{high:#x} is empty")
    return low, high


@dataclass
class _Held(Generic[T]):
    name: str
    payload: T
    after: list[tuple[T, bool]] = field(default_factory=list)


class Selector(Generic[T]):
    """A filter applied to one ordered stream. ``feed`` (a typed event) or ``feed_json``
    (its JSON object) returns the payloads (each event's own, e.g. its encoded line)
    that pass, in order; ``flush`` ends the stream."""

    def __init__(self, spec: TraceFilter) -> None:
        self.spec = spec
        self.passes_all = spec.empty
        kinds = spec.kinds or (frozenset({"hypercall", "smccc"}) if spec.names else frozenset())
        self._kinds = kinds
        self._kind_cache: dict[str, bool] = {}
        self._names: dict[str, set[str | None]] = {}
        for call in spec.names:
            self._names.setdefault(call.name, set()).add(call.subop)
        self._pc = spec.pc
        self._held: dict[int, _Held[T]] = {}

    def _kind_ok(self, kind: str) -> bool:
        ok = self._kind_cache.get(kind)
        if ok is None:
            ok = self._kind_cache[kind] = not self._kinds or any(
                kind == k or kind.startswith(k + "_") for k in self._kinds
            )
        return ok

    def _name_ok(self, name: str, subop: str | None) -> bool | None:
        subops = self._names.get(name)
        if not subops:
            return False
        if None in subops:
            return True
        return None if subop is None else subop in subops

    def decide(
        self, kind: str, pc: int, name: str | None = None, subop: str | None = None
    ) -> bool | None:
        """True/False, or None for a hypercall enter whose sub-op decides."""
        if self._pc is not None and not self._pc[0] <= pc < self._pc[1]:
            return False
        if not self._kind_ok(kind):
            return False
        if self._names and kind in CALL_KINDS:
            verdict = self._name_ok(name or "", subop)
            if verdict is None and kind != "hypercall_enter":
                return False
            return verdict
        return True

    def feed(self, event: TraceEvent, payload: T) -> list[T]:
        if self.passes_all:
            return [payload]
        name = getattr(event, "name", None)
        subop = getattr(event, "subop", None)
        return self._feed(event.kind, event.vcpu, event.pc, name, subop, payload)

    def feed_fields(
        self, kind: str, vcpu: int, pc: int, name: str | None, subop: str | None, payload: T
    ) -> list[T]:
        """``feed`` for an event given by the fields filters look at."""
        if self.passes_all:
            return [payload]
        return self._feed(kind, vcpu, pc, name, subop, payload)

    def _feed(
        self, kind: str, vcpu: int, pc: int, name: str | None, subop: str | None, payload: T
    ) -> list[T]:
        held = self._held.get(vcpu)
        if held is not None:
            if kind == "hypercall_exit":
                del self._held[vcpu]
                enter_ok = name == held.name and bool(self._name_ok(name, subop))
                out = [held.payload] if enter_ok else []
                out += [p for p, ok in held.after if ok]
                if self.decide(kind, pc, name, subop):
                    out.append(payload)
                return out
            if kind != "hypercall_enter":
                held.after.append((payload, bool(self.decide(kind, pc, name, subop))))
                return []
            # An enter without an exit before it (the stream began or stopped mid-call):
            # the held one stays undecided and is left out.
            del self._held[vcpu]
            return [p for p, ok in held.after if ok] + self._feed(
                kind, vcpu, pc, name, subop, payload
            )
        verdict = self.decide(kind, pc, name, subop)
        if verdict is None:
            self._held[vcpu] = _Held(name or "", payload)
            return []
        return [payload] if verdict else []

    def flush(self) -> list[T]:
        out = [p for held in self._held.values() for p, ok in held.after if ok]
        self._held.clear()
        return out
