"""``xgdbvm trace --summary``: what the guest asked of Xen, how often, how long, what failed.

Counts and total virtual time (enter to exit) per hypercall and per sub-op,
SMCCC calls by function, other event kinds by count, and every call that
failed (returned a negative value) with its errno, arguments and note, in
order. Memory stays bounded by the number of distinct names, plus the listed
failures (at most ``MAX_FAILURES``; the rest are counted).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from xgdbvm.trace.formatter import call_text, format_time
from xgdbvm.trace.schema import (
    DroppedEvent,
    HypercallEnterEvent,
    HypercallExitEvent,
    Record,
    SmcccEvent,
    TraceEvent,
)

MAX_FAILURES = 1000


@dataclass
class CallStats:
    calls: int = 0
    failed: int = 0
    time_ns: int = 0

    def add(self, failed: bool, time_ns: int) -> None:
        self.calls += 1
        self.failed += failed
        self.time_ns += time_ns


@dataclass(frozen=True)
class Failure:
    seq: int
    t_ns: int
    vcpu: int
    text: str  # the call as the log prints it
    errno: str | None


class TraceSummary:
    def __init__(self) -> None:
        self.hypercalls: dict[str, CallStats] = {}
        self.subops: dict[tuple[str, str], CallStats] = {}
        self.smccc: Counter[str] = Counter()
        self.kinds: Counter[str] = Counter()
        self.failures: list[Failure] = []
        self.failures_unlisted = 0
        self.dropped = 0
        self.events = 0
        self._enters: dict[int, HypercallEnterEvent] = {}

    def feed(self, record: Record) -> None:
        if isinstance(record, DroppedEvent):
            self.dropped += record.count
            return
        if not isinstance(record, TraceEvent):
            return
        self.events += 1
        self.kinds[record.kind] += 1
        if isinstance(record, HypercallEnterEvent):
            self._enters[record.vcpu] = record
        elif isinstance(record, HypercallExitEvent):
            self._exit(record)
        elif isinstance(record, SmcccEvent):
            self.smccc[record.name] += 1

    def _exit(self, exit: HypercallExitEvent) -> None:
        enter = self._enters.pop(exit.vcpu, None)
        if enter is not None and enter.number != exit.number:
            enter = None
        duration = exit.t_ns - enter.t_ns if enter is not None else 0
        self.hypercalls.setdefault(exit.name, CallStats()).add(exit.failed, duration)
        if exit.subop:
            self.subops.setdefault((exit.name, exit.subop), CallStats()).add(exit.failed, duration)
        if exit.failed:
            if len(self.failures) < MAX_FAILURES:
                text = call_text(enter, exit)
                self.failures.append(Failure(exit.seq, exit.t_ns, exit.vcpu, text, exit.errno))
            else:
                self.failures_unlisted += 1

    def render(self) -> str:
        lines = [f"{self.events} events" + (f", {self.dropped} dropped" if self.dropped else "")]
        if self.hypercalls:
            lines += ["", f"{'hypercall / sub-op':<34} {'calls':>8} {'failed':>7} {'time':>16}"]
            for name in sorted(self.hypercalls):
                lines.append(_row(name, self.hypercalls[name]))
                for (call, subop), stats in sorted(self.subops.items()):
                    if call == name:
                        lines.append(_row("  " + subop, stats))
        if self.smccc:
            lines += ["", f"{'smccc call':<34} {'calls':>8}"]
            lines += [f"{name:<34} {n:>8}" for name, n in sorted(self.smccc.items())]
        others = {k: n for k, n in self.kinds.items() if not k.startswith("hypercall_")}
        others.pop("smccc", None)
        if others:
            lines += ["", f"{'other events':<34} {'count':>8}"]
            lines += [f"{kind:<34} {n:>8}" for kind, n in sorted(others.items())]
        total_failed = len(self.failures) + self.failures_unlisted
        lines.append("")
        if not total_failed:
            lines.append("no failed calls")
        else:
            lines.append(f"failed calls ({total_failed}):")
            lines += [
                f"  {format_time(f.t_ns):>13}  vcpu{f.vcpu:<2} #{f.seq:<8} {f.text}"
                for f in self.failures
            ]
            if self.failures_unlisted:
                lines.append(f"  ... and {self.failures_unlisted} more")
        return "\n".join(lines) + "\n"


def _row(label: str, stats: CallStats) -> str:
    return f"{label:<34} {stats.calls:>8} {stats.failed:>7} {format_time(stats.time_ns):>16}"
