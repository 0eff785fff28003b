"""The human view of a trace: one aligned line per call, console line or event.

    0.052315ms  vcpu0  xen_version(version, 0x0) -> 0x40013
    0.061002ms  vcpu0  memory_op(add_to_physmap, space=shared_info, idx=0, gpfn=0x40101) -> 0
    0.063117ms  vcpu0  console_io(write, 0x1f, 0x40107a70) -> -EPERM  [not allowed]

A hypercall is one line, written at its exit with the arguments of its enter:
decoded into named fields when the exit carries them, otherwise the argument
registers in hex (as many as the hypercall takes; the first is the sub-op when
there is one). Colour (ANSI) only when asked: the CLI asks on a terminal.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping

from xgdbvm.trace.schema import (
    ConsoleEvent,
    DroppedEvent,
    ErrorRecord,
    ExceptionEvent,
    GenericEvent,
    Hello,
    HypercallEnterEvent,
    HypercallExitEvent,
    JsonValue,
    LifecycleEvent,
    Record,
    SmcccEvent,
    TraceEvent,
)

# Arguments each hypercall takes on Arm (Xen's hypercall-defs.c); 5 if unknown.
ARITY = {
    "memory_op": 2,
    "domctl": 1,
    "sched_op": 2,
    "sched_op_compat": 2,
    "console_io": 3,
    "xen_version": 2,
    "xsm_op": 1,
    "event_channel_op": 2,
    "event_channel_op_compat": 1,
    "physdev_op": 2,
    "physdev_op_compat": 1,
    "sysctl": 1,
    "hvm_op": 2,
    "grant_table_op": 3,
    "multicall": 2,
    "platform_op": 1,
    "vcpu_op": 3,
    "vm_assist": 2,
    "argo_op": 5,
    "xenpmu_op": 2,
    "dm_op": 3,
    "hypfs_op": 5,
}
MAX_ARGS = 5
TIME_WIDTH = 13
VCPU_WIDTH = 6

RESET = "\x1b[0m"
STYLES = {
    "time": "\x1b[2m",
    "vcpu": "\x1b[2m",
    "call": "\x1b[1;36m",
    "subop": "\x1b[36m",
    "ok": "\x1b[32m",
    "error": "\x1b[1;31m",
    "note": "\x1b[33m",
    "console": "\x1b[2;37m",
    "event": "\x1b[1;35m",
    "dropped": "\x1b[1;31m",
}


def format_time(t_ns: int) -> str:
    return f"{t_ns / 1e6:.6f}ms"


def format_int(value: int) -> str:
    """Small numbers (counts, ports, IRQs) in decimal, anything bigger in hex."""
    return str(value) if -1024 < value < 1024 else (f"{value:#x}" if value >= 0 else str(value))


def format_value(value: JsonValue) -> str:
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, int):
        return format_int(value)
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"))


def format_ret(ret: int, errno: str | None) -> str:
    if ret < 0 and errno:
        return f"-{errno}"
    return format_int(ret)


def call_arguments(enter: HypercallEnterEvent | None, exit: HypercallExitEvent | None) -> list[str]:
    """The parts between the parentheses: sub-op, then decoded fields or hex registers."""
    subop = (exit.subop if exit is not None else None) or (enter.subop if enter else None)
    parts = [subop] if subop else []
    if exit is not None and exit.fields is not None:
        return parts + [f"{k}={format_value(v)}" for k, v in exit.fields.items()]
    if enter is None:
        return parts
    arity = ARITY.get(enter.name, MAX_ARGS)
    registers = enter.args[1:arity] if subop else enter.args[:arity]
    return parts + [f"{a:#x}" for a in registers]


def call_text(enter: HypercallEnterEvent | None, exit: HypercallExitEvent | None) -> str:
    """``name(args) -> ret  [note]`` without colour (the summary uses it too)."""
    name = exit.name if exit is not None else enter.name if enter is not None else "?"
    text = f"{name}({', '.join(call_arguments(enter, exit))})"
    if exit is None:
        return text + " -> ?"
    text += f" -> {format_ret(exit.ret, exit.errno)}"
    return text + (f"  [{exit.note}]" if exit.note else "")


class TraceFormatter:
    """Feed records in stream order; each call returns the finished lines."""

    def __init__(self, *, color: bool = False) -> None:
        self.color = color
        self._enters: dict[int, HypercallEnterEvent] = {}

    def _paint(self, style: str, text: str) -> str:
        return f"{STYLES[style]}{text}{RESET}" if self.color and text else text

    def _line(self, event: TraceEvent | None, text: str) -> str:
        if event is None:
            head = " " * TIME_WIDTH + "  " + " " * VCPU_WIDTH
        else:
            head = (
                self._paint("time", f"{format_time(event.t_ns):>{TIME_WIDTH}}")
                + "  "
                + self._paint("vcpu", f"{'vcpu' + str(event.vcpu):<{VCPU_WIDTH}}")
            )
        return f"{head} {text}"

    def feed(self, record: Record) -> list[str]:
        match record:
            case HypercallEnterEvent():
                lines = self._unfinished(record.vcpu)
                self._enters[record.vcpu] = record
                return lines
            case HypercallExitEvent():
                enter = self._enters.pop(record.vcpu, None)
                if enter is not None and enter.number != record.number:
                    lines = [self._line(enter, self._call(enter, None))]
                    enter = None
                else:
                    lines = []
                return [*lines, self._line(record, self._call(enter, record))]
            case ConsoleEvent():
                label = self._paint("console", f"console[{record.source}]")
                return [self._line(record, f"{label} {text}") for text in _lines(record.text)]
            case SmcccEvent():
                args = list(record.args)
                while args and args[-1] == 0:
                    args.pop()
                text = (
                    f"smccc {self._paint('call', record.name)}"
                    f"({', '.join(f'{a:#x}' for a in args)}) -> {format_int(record.ret)}"
                )
                return [self._line(record, text)]
            case ExceptionEvent():
                detail = f": {record.detail}" if record.detail else ""
                return [
                    self._line(record, self._paint("error", "exception " + record.type) + detail)
                ]
            case LifecycleEvent():
                extra = "".join(f" {k}={v}" for k, v in record.extra.items())
                text = f"{self._paint('event', 'lifecycle ' + record.type)} {record.detail}{extra}"
                return [self._line(record, text.rstrip())]
            case GenericEvent():
                return [self._line(record, self._generic(record.kind, record.fields))]
            case DroppedEvent():
                text = self._paint("dropped", f"--- dropped {record.count} events ---")
                return [self._line(None, text)]
            case Hello():
                return [f"# {describe_hello(record)}"]
            case ErrorRecord():
                return [f"# error: {record.message}"]
            case TraceEvent():
                return [self._line(record, self._generic(record.kind, {}))]
        return []

    def finish(self) -> list[str]:
        """Calls still waiting for their exit (the stream ended, or the guest stopped)."""
        lines = []
        for vcpu in sorted(self._enters):
            lines += self._unfinished(vcpu)
        return lines

    def feed_all(self, records: Iterable[Record]) -> list[str]:
        lines = [line for record in records for line in self.feed(record)]
        return lines + self.finish()

    def _unfinished(self, vcpu: int) -> list[str]:
        enter = self._enters.pop(vcpu, None)
        return [] if enter is None else [self._line(enter, self._call(enter, None))]

    def _call(self, enter: HypercallEnterEvent | None, exit: HypercallExitEvent | None) -> str:
        if not self.color:
            return call_text(enter, exit)
        source = exit if exit is not None else enter
        assert source is not None
        args = call_arguments(enter, exit)
        if (exit is not None and exit.subop) or (enter is not None and enter.subop):
            args[0] = self._paint("subop", args[0])
        text = f"{self._paint('call', source.name)}({', '.join(args)})"
        if exit is None:
            return text + " -> ?"
        style = "error" if exit.ret < 0 else "ok"
        text += " -> " + self._paint(style, format_ret(exit.ret, exit.errno))
        return text + (self._paint("note", f"  [{exit.note}]") if exit.note else "")

    def _generic(self, kind: str, fields: Mapping[str, JsonValue]) -> str:
        values = "".join(f" {k}={format_value(v)}" for k, v in fields.items())
        return self._paint("event", kind) + values


def _lines(text: str) -> list[str]:
    return text.rstrip("\n").split("\n") if text.strip("\n") else []


def describe_hello(hello: Hello) -> str:
    text = (
        f"xgdbvm trace (schema {hello.schema}): {hello.arch} {hello.image}, "
        f"domain {hello.domid} ({hello.domain}), 1 instruction = {hello.ns_per_instruction} ns"
    )
    if hello.filter:
        text += f", filter {json.dumps(hello.filter, separators=(',', ':'))}"
    return text
