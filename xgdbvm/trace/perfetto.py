"""Export to the Chrome trace-event JSON format that Perfetto and chrome://tracing load.

- one process (pid 1) named after the VM (``guest (d1, arm64)``);
- one track per vCPU: tid = vCPU number, thread name ``vcpuN``;
- hypercalls are complete events (``"ph": "X"``) from enter to exit, named
  ``name.subop``, with the registers, return value, errno and note as args;
  SMCCC calls likewise;
- console lines, IRQs, exceptions, lifecycle changes and every other kind are
  instant events (``"ph": "i"``) on their vCPU's track; dropped-event markers
  are global instants.

Timestamps are the trace's virtual time in microseconds (the format's unit).
A call with no virtual duration (the hypercall path costs no guest instructions
today) is a zero-length slice.
"""

from __future__ import annotations

from typing import Any

from xgdbvm.trace.formatter import call_arguments, format_ret
from xgdbvm.trace.schema import (
    ConsoleEvent,
    DroppedEvent,
    GenericEvent,
    Hello,
    HypercallEnterEvent,
    HypercallExitEvent,
    Record,
    SmcccEvent,
    TraceEvent,
)

PID = 1

TraceJson = dict[str, Any]


def _us(t_ns: int) -> float:
    return t_ns / 1000.0


class PerfettoExporter:
    def __init__(self) -> None:
        self._events: list[TraceJson] = []
        self._process = "xgdbvm guest"
        self._vcpus: set[int] = set()
        self._enters: dict[int, HypercallEnterEvent] = {}
        self._last_ns = 0

    def feed(self, record: Record) -> None:
        if isinstance(record, Hello):
            self._process = f"{record.domain} (d{record.domid}, {record.arch})"
            return
        if isinstance(record, DroppedEvent):
            self._events.append(
                {
                    "name": f"dropped {record.count} events",
                    "ph": "i",
                    "s": "g",
                    "pid": PID,
                    "tid": 0,
                    "ts": _us(self._last_ns),
                    "args": {"count": record.count},
                }
            )
            return
        if not isinstance(record, TraceEvent):
            return
        self._vcpus.add(record.vcpu)
        self._last_ns = max(self._last_ns, record.t_ns)
        if isinstance(record, HypercallEnterEvent):
            self._close(record.vcpu)
            self._enters[record.vcpu] = record
        elif isinstance(record, HypercallExitEvent):
            enter = self._enters.pop(record.vcpu, None)
            if enter is not None and enter.number != record.number:
                self._slice(enter, None)
                enter = None
            self._slice(enter, record)
        elif isinstance(record, SmcccEvent):
            self._events.append(
                self._base(record, record.name, "smccc")
                | {
                    "ph": "X",
                    "dur": 0.0,
                    "args": {"args": [f"{a:#x}" for a in record.args], "ret": f"{record.ret:#x}"},
                }
            )
        elif isinstance(record, ConsoleEvent):
            args = {"source": record.source, "text": record.text}
            self._instant(record, f"console[{record.source}]", "console", args)
        elif isinstance(record, GenericEvent):
            self._instant(record, record.kind, record.kind.split("_")[0], dict(record.fields))
        else:
            fields = {k: v for k, v in record.to_json().items() if k not in ("kind", "seq")}
            self._instant(record, record.kind, record.kind, fields)

    def _base(self, event: TraceEvent, name: str, category: str) -> TraceJson:
        return {"name": name, "cat": category, "pid": PID, "tid": event.vcpu, "ts": _us(event.t_ns)}

    def _instant(self, event: TraceEvent, name: str, category: str, args: TraceJson) -> None:
        args = {"seq": event.seq, "pc": f"{event.pc:#x}", **args}
        if event.sym:
            args["sym"] = event.sym
        self._events.append(self._base(event, name, category) | {"ph": "i", "s": "t", "args": args})

    def _slice(self, enter: HypercallEnterEvent | None, exit: HypercallExitEvent | None) -> None:
        first = enter if enter is not None else exit
        assert first is not None
        subop = exit.subop if exit is not None else None
        name = first.name + (f".{subop}" if subop else "")
        args: TraceJson = {"seq": first.seq, "pc": f"{first.pc:#x}"}
        if first.sym:
            args["sym"] = first.sym
        args["call"] = f"{first.name}({', '.join(call_arguments(enter, exit))})"
        if enter is not None:
            args["args"] = [f"{a:#x}" for a in enter.args]
        if exit is not None:
            args["ret"] = format_ret(exit.ret, exit.errno)
            if exit.note:
                args["note"] = exit.note
            if exit.fields is not None:
                args["fields"] = exit.fields
            end = exit.t_ns
        else:
            args["unfinished"] = True
            end = self._last_ns
        duration = max(end - first.t_ns, 0)
        self._events.append(
            self._base(first, name, "hypercall") | {"ph": "X", "dur": _us(duration), "args": args}
        )

    def _close(self, vcpu: int) -> None:
        enter = self._enters.pop(vcpu, None)
        if enter is not None:
            self._slice(enter, None)

    def finish(self) -> TraceJson:
        for vcpu in sorted(self._enters):
            self._close(vcpu)
        meta: list[TraceJson] = [
            {
                "name": "process_name",
                "ph": "M",
                "pid": PID,
                "tid": 0,
                "args": {"name": self._process},
            }
        ]
        for vcpu in sorted(self._vcpus or {0}):
            meta.append(
                {
                    "name": "thread_name",
                    "ph": "M",
                    "pid": PID,
                    "tid": vcpu,
                    "args": {"name": f"vcpu{vcpu}"},
                }
            )
        return {"traceEvents": meta + self._events, "displayTimeUnit": "ns"}
