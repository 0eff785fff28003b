"""`monitor break hypercall NAME[.SUBOP]` stops at the entry of the call (before it
happens), continuing makes the call once, and `monitor trace [last N]` tell the story."""

from __future__ import annotations

import pytest

from tests.conftest import dts, firmware
from xgdbvm.adapters.console_history import ConsoleHistory
from xgdbvm.adapters.gdb_target import GdbTarget
from xgdbvm.adapters.monitor import MonitorContext, run_monitor
from xgdbvm.machine.board import MachineConfig
from xgdbvm.machine.hypercall_breaks import HypercallBreakError, HypercallBreaks
from xgdbvm.machine.machine import Machine
from xgdbvm.machine.stop import Breakpoint, Shutdown, StopReason
from xgdbvm.trace.recorder import TraceRecorder, TraceSource


class Session:
    """A machine with a trace recorder and the monitor as GDB would drive it."""

    def __init__(self, arch: str = "arm64", bootargs: str | None = None) -> None:
        config = MachineConfig(arch=arch, image=firmware(arch), dts=dts(arch), bootargs=bootargs)
        self.machine = Machine(config)
        image = self.machine.layout.image
        self.recorder = TraceRecorder(TraceSource(arch, image.path, 1, "guest", image.symbols))
        self.recorder.attach(self.machine)
        self.target = GdbTarget(self.machine, ConsoleHistory())
        self.context = MonitorContext(self.machine, ConsoleHistory(), self.target)

    def monitor(self, text: str) -> str:
        return run_monitor(self.context, text)

    def run(self) -> StopReason:
        stop = self.machine.run(50_000_000)
        self.target.last_stop = stop
        return stop

    def calls(self) -> list[tuple[str, str | None]]:
        return [
            (str(e.name), e.subop)  # type: ignore[attr-defined]
            for e in self.recorder.last(1000)
            if e.kind == "hypercall_exit"
        ]


@pytest.mark.parametrize("arch", ["arm64", "arm32"])
def test_a_break_stops_before_the_call_and_continue_makes_it_once(arch: str) -> None:
    session = Session(arch)
    assert session.monitor("break hypercall xen_version.get_features") == (
        "hypercall breakpoint: stop at the entry of xen_version.get_features\n"
    )
    stop = session.run()
    assert isinstance(stop, Breakpoint)
    assert session.machine.cpu.pc == stop.address  # rewound to the HVC
    word = session.machine.read_virtual(stop.address, 4)
    hvc_0xea1 = {"arm64": [0xD401D422], "arm32": [0xE140EA71, 0x8EA1F7E0]}  # A64; A32, T32
    assert int.from_bytes(word, "little") in hvc_0xea1[arch]
    assert ("xen_version", "get_features") not in session.calls()  # not made yet
    last = session.monitor("trace last 3").splitlines()
    assert "xen_version(extraversion, 0x" in last[-3] or "xen_version(extraversion" in "".join(last)
    assert last[-1].startswith("(stopped at the entry of xen_version.get_features(0x6, 0x")
    assert isinstance(session.run(), Shutdown)
    assert session.calls().count(("xen_version", "get_features")) == 1
    assert session.calls()[-1] == ("sched_op", "shutdown")


def test_a_break_without_sub_op_stops_at_every_call() -> None:
    session = Session(bootargs="xgdbvm.test=hcall-loop xgdbvm.n=3")
    session.monitor("break hypercall xen_version")
    stops = 0
    while isinstance(session.run(), Breakpoint):
        stops += 1
        assert stops < 20
    assert stops == 3 + 3  # version, extraversion, get_features at boot; 3 in the loop
    assert sum(name == "xen_version" for name, _ in session.calls()) == 6


def test_listing_deleting_and_numeric_sub_ops() -> None:
    session = Session()
    assert session.monitor("break hypercall") == "none\n"
    session.monitor("break hypercall xen_version.6 sched_op")
    assert session.monitor("break hypercall") == (
        "hypercall breakpoints:\n  xen_version.get_features\n  sched_op\n"
    )
    assert session.monitor("delete hypercall sched_op") == "deleted hypercall breakpoint sched_op\n"
    assert session.monitor("delete hypercall console_io") == "none matched\n"
    assert session.monitor("delete hypercall") == (
        "deleted hypercall breakpoint xen_version.get_features\n"
    )
    assert isinstance(session.run(), Shutdown)


@pytest.mark.parametrize(
    ("spec", "error"),
    [
        ("no_such_call", "no hypercall named 'no_such_call'"),
        ("xen_version.nope", "xen_version has no sub-op 'nope' (known: version, extraversion,"),
        ("multicall.foo", "multicall has no named sub-ops here; give the sub-op as a number"),
    ],
)
def test_mistakes_are_said(spec: str, error: str) -> None:
    session = Session()
    breaks = session.machine.hypercall_breaks  # type: ignore[attr-defined, unused-ignore]
    assert isinstance(breaks, HypercallBreaks)
    with pytest.raises(HypercallBreakError, match=error.replace("(", r"\(")):
        breaks.parse(spec)
    assert session.monitor(f"break hypercall {spec}").startswith(
        f"monitor break hypercall: {error}"
    )


def test_monitor_trace_shows_where_tracing_goes() -> None:
    session = Session()
    session.run()
    text = session.monitor("trace")
    assert text.startswith("tracing is off\n")
    assert "start xgdbvm run with --trace ADDR and/or --trace-file PATH" in text
    assert f"{session.recorder.events} events so far; the last 1000 kept" in text
    last = session.monitor("trace last 2").splitlines()
    assert len(last) == 2
    assert "sched_op(shutdown, reason=poweroff)" in last[0]
    assert "lifecycle shutdown poweroff" in last[1]
    assert session.monitor("trace last x") == "monitor trace last: 'x' is not a number\n"
    assert "try 'monitor trace last N'" in session.monitor("trace on")
    assert "trace last [N]" in session.monitor("help")
