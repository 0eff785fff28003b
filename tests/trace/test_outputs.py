"""The three views of a trace: the aligned log, the summary and the Perfetto export."""

from __future__ import annotations

import json

from tests.trace.conftest import sample_events
from xgdbvm.trace.formatter import TraceFormatter
from xgdbvm.trace.perfetto import PerfettoExporter
from xgdbvm.trace.schema import (
    ConsoleEvent,
    DroppedEvent,
    ExceptionEvent,
    GenericEvent,
    Hello,
    HypercallEnterEvent,
    HypercallExitEvent,
    LifecycleEvent,
    Record,
    SmcccEvent,
)
from xgdbvm.trace.summary import TraceSummary

HELLO = Hello(arch="arm64", image="guest.elf", domid=1, domain="guest")


def test_the_log_lines_are_exact() -> None:
    lines = TraceFormatter().feed_all(sample_events())
    assert lines == [
        "   0.052286ms  vcpu0  console[uart] xgdbvm guest: hello from arm64",
        "   0.052315ms  vcpu0  xen_version(version, 0x0) -> 0x40013",
        "   0.061002ms  vcpu0  memory_op(add_to_physmap, space=shared_info, idx=0, gpfn=0x40101)"
        " -> 0",
        "   0.063117ms  vcpu1  console_io(write, 0x1f, 0x40107a70) -> -EPERM"
        "  [not the console domain]",
    ]


def test_other_kinds_in_the_log() -> None:
    records: list[Record] = [
        HELLO,
        SmcccEvent(
            seq=1,
            t_ns=1_000_000,
            function_id=0x8400000A,
            name="PSCI_FEATURES",
            args=(0x84000008, 0, 0),
            ret=0,
        ),
        ExceptionEvent(seq=2, t_ns=12_345_678, type="undef", detail="hvc #0x1"),
        DroppedEvent(17),
        GenericEvent(
            seq=3,
            t_ns=12_345_679,
            vcpu=12,
            event_kind="irq_injected",
            fields={"irq": 31, "line": "ppi", "level": True},
        ),
        ConsoleEvent(seq=4, t_ns=12_345_680, source="xen", text="two\nlines\n"),
        LifecycleEvent(seq=5, t_ns=12_345_690, type="shutdown", detail="poweroff"),
        HypercallEnterEvent(seq=6, t_ns=12_345_700, number=29, name="sched_op", args=(2, 0x40)),
    ]
    assert TraceFormatter().feed_all(records) == [
        "# xgdbvm trace (schema 1): arm64 guest.elf, domain 1 (guest), 1 instruction = 1 ns",
        "   1.000000ms  vcpu0  smccc PSCI_FEATURES(0x84000008) -> 0",
        "  12.345678ms  vcpu0  exception undef: hvc #0x1",
        "                      --- dropped 17 events ---",
        "  12.345679ms  vcpu12 irq_injected irq=31 line=ppi level=true",
        "  12.345680ms  vcpu0  console[xen] two",
        "  12.345680ms  vcpu0  console[xen] lines",
        "  12.345690ms  vcpu0  lifecycle shutdown poweroff",
        "  12.345700ms  vcpu0  sched_op(0x2, 0x40) -> ?",  # the stream ended inside the call
    ]


def test_an_exit_without_its_enter_prints_what_it_knows() -> None:
    exit = HypercallExitEvent(
        seq=9, number=12, name="memory_op", subop="decrease_reservation", ret=-12, errno="ENOMEM"
    )
    assert TraceFormatter().feed(exit) == [
        "   0.000000ms  vcpu0  memory_op(decrease_reservation) -> -ENOMEM"
    ]


def test_colour_is_ansi_and_only_when_asked() -> None:
    plain = TraceFormatter(color=False).feed_all(sample_events())
    coloured = TraceFormatter(color=True).feed_all(sample_events())
    assert not any("\x1b[" in line for line in plain)
    assert all("\x1b[" in line for line in coloured)
    assert "\x1b[1;31m-EPERM\x1b[0m" in coloured[-1]
    strip = __import__("re").compile(r"\x1b\[[0-9;]*m")
    assert [strip.sub("", line) for line in coloured] == plain


def test_the_summary_counts_times_and_lists_failed_calls() -> None:
    summary = TraceSummary()
    records: list[Record] = [HELLO, *sample_events(), DroppedEvent(5)]
    for record in records:
        summary.feed(record)
    text = summary.render()
    assert text.splitlines() == [
        "7 events, 5 dropped",
        "",
        "hypercall / sub-op                    calls  failed             time",
        "console_io                                1       1       0.000000ms",
        "  write                                   1       1       0.000000ms",
        "memory_op                                 1       0       0.000002ms",
        "  add_to_physmap                          1       0       0.000002ms",
        "xen_version                               1       0       0.000000ms",
        "  version                                 1       0       0.000000ms",
        "",
        "other events                          count",
        "console                                   1",
        "",
        "failed calls (1):",
        "     0.063117ms  vcpu1  #6        console_io(write, 0x1f, 0x40107a70) -> -EPERM"
        "  [not the console domain]",
    ]


def test_no_failures_is_said() -> None:
    summary = TraceSummary()
    summary.feed(sample_events()[0])
    assert summary.render().endswith("no failed calls\n")


def test_the_perfetto_export_has_slices_instants_and_a_track_per_vcpu() -> None:
    exporter = PerfettoExporter()
    extra: list[Record] = [
        GenericEvent(seq=7, vcpu=1, t_ns=70_000, event_kind="irq_injected", fields={"irq": 31}),
        DroppedEvent(3),
        HypercallEnterEvent(seq=8, vcpu=0, t_ns=80_000, number=29, name="sched_op", args=(2,)),
        SmcccEvent(seq=9, vcpu=1, t_ns=90_000, function_id=0x84000000, name="PSCI_VERSION"),
    ]
    records: list[Record] = [HELLO, *sample_events(), *extra]
    for record in records:
        exporter.feed(record)
    trace = json.loads(json.dumps(exporter.finish()))
    events = trace["traceEvents"]
    meta = [e for e in events if e["ph"] == "M"]
    assert {
        "name": "process_name",
        "ph": "M",
        "pid": 1,
        "tid": 0,
        "args": {"name": "guest (d1, arm64)"},
    } in meta
    threads = {e["tid"]: e["args"]["name"] for e in meta if e["name"] == "thread_name"}
    assert threads == {0: "vcpu0", 1: "vcpu1"}
    slices = [e for e in events if e["ph"] == "X" and e["cat"] == "hypercall"]
    assert [(s["name"], s["tid"], s["ts"], s["dur"]) for s in slices] == [
        ("xen_version.version", 0, 52.315, 0.0),
        ("memory_op.add_to_physmap", 0, 61.0, 0.002),
        ("console_io.write", 1, 63.117, 0.0),
        ("sched_op", 0, 80.0, 10.0),  # unfinished: up to the last event seen
    ]
    assert slices[2]["args"]["ret"] == "-EPERM"
    assert slices[1]["args"]["fields"] == {"space": "shared_info", "idx": 0, "gpfn": 0x40101}
    assert slices[3]["args"]["unfinished"] is True
    instants = [(e["name"], e["tid"], e["s"]) for e in events if e["ph"] == "i"]
    assert instants == [
        ("console[uart]", 0, "t"),
        ("irq_injected", 1, "t"),
        ("dropped 3 events", 0, "g"),
    ]
    assert {e["pid"] for e in events} == {1}
    assert trace["displayTimeUnit"] == "ns"
