"""`xgdbvm run --trace-file/--trace` and `xgdbvm trace` as the real commands users run."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.trace.conftest import read_jsonl, sample_events
from xgdbvm.trace.schema import Hello, Record, TraceEvent, encode_line

TIMEOUT = 60
HELLO = Hello(arch="arm64", image="guest.elf", domid=1, domain="guest")


def xgdbvm(*args: str, timeout: float = TIMEOUT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "xgdbvm", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real run of 50 hypercalls recorded with --trace-file, nobody connected."""
    path = tmp_path_factory.mktemp("run") / "run.jsonl"
    result = xgdbvm(
        "run", "--trace-file", str(path), "--bootargs", "xgdbvm.test=hcall-loop xgdbvm.n=50"
    )
    assert result.returncode == 0, result.stderr
    return path


def test_the_file_records_the_run_from_its_first_instruction(recorded: Path) -> None:
    records = read_jsonl(recorded)
    assert isinstance(records[0], Hello)
    events = [r for r in records[1:] if isinstance(r, TraceEvent)]
    assert len(events) == len(records) - 1
    assert [e.seq for e in events] == list(range(len(events)))
    assert events[0].kind == "console"  # the guest's first output: nothing before it is missed
    assert events[-1].kind == "lifecycle"


def test_trace_file_prints_the_aligned_log(recorded: Path) -> None:
    result = xgdbvm("trace", str(recorded))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert all(re.match(r" +\d+\.\d{6}ms  vcpu0  \S", line) for line in lines), lines
    assert "xen_version(version, 0x0) -> 0x40013" in lines[3]
    assert lines[-2].endswith("sched_op(shutdown, " + lines[-2].split("sched_op(shutdown, ")[1])
    assert "sched_op(shutdown, reason=poweroff) -> 0" in lines[-2]
    assert "\x1b[" not in result.stdout  # piped: plain
    assert result.stderr.startswith("xgdbvm trace (schema 1): arm64 ")


def test_trace_file_with_a_filter(recorded: Path) -> None:
    result = xgdbvm("trace", str(recorded), "--filter", "kind=console", "--filter", "pc=0-1")
    assert (result.returncode, result.stdout) == (0, "")
    result = xgdbvm("trace", str(recorded), "--filter", "name=xen_version.get_features")
    assert [line.split("  ")[-1] for line in result.stdout.splitlines()] == [
        "xen_version(get_features, "
        + result.stdout.split("get_features, ")[1].split(")")[0]
        + ") -> 0"
    ]


def test_trace_file_summary_counts_calls(recorded: Path) -> None:
    result = xgdbvm("trace", str(recorded), "--summary")
    assert result.returncode == 0, result.stderr
    rows = {line.split()[0]: line.split()[1:] for line in result.stdout.splitlines() if line}
    assert rows["xen_version"][:2] == ["53", "0"]  # 3 at boot, 50 in the loop
    assert rows["version"][:2] == ["51", "0"]
    assert rows["sched_op"][:2] == ["1", "0"]
    assert "no failed calls" in result.stdout


def test_trace_summary_lists_failed_calls(tmp_path: Path) -> None:
    path = tmp_path / "fail.jsonl"
    records: list[Record] = [HELLO, *sample_events()]
    path.write_text("".join(encode_line(r) + "\n" for r in records))
    result = xgdbvm("trace", str(path), "--summary")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-2:] == [
        "failed calls (1):",
        "     0.063117ms  vcpu1  #6        console_io(write, 0x1f, 0x40107a70) -> -EPERM"
        "  [not the console domain]",
    ]


def test_trace_perfetto_export(recorded: Path, tmp_path: Path) -> None:
    out = tmp_path / "timeline.json"
    result = xgdbvm("trace", str(recorded), "--perfetto", str(out))
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    trace = json.loads(out.read_text())
    events = trace["traceEvents"]
    assert {e["ph"] for e in events} == {"M", "X", "i"}
    slices = [e for e in events if e["ph"] == "X"]
    assert sum(e["name"] == "xen_version.version" for e in slices) == 51
    assert slices[-1]["name"] == "sched_op.shutdown"
    assert {e["tid"] for e in events if e["ph"] != "M"} == {0}
    names = {e["args"]["name"] for e in events if e["ph"] == "M"}
    assert names == {"guest (d1, arm64)", "vcpu0"}
    assert all(e["ph"] == "i" for e in events if e.get("cat") == "console")


def test_trace_follow_reads_a_growing_file(tmp_path: Path) -> None:
    path = tmp_path / "growing.jsonl"
    events = sample_events()
    path.write_text(encode_line(HELLO) + "\n" + encode_line(events[0]) + "\n")
    follower = subprocess.Popen(
        [sys.executable, "-m", "xgdbvm", "trace", str(path), "--follow"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert follower.stdout is not None
        first = follower.stdout.readline()
        assert "console[uart] xgdbvm guest: hello from arm64" in first
        with path.open("a") as growing:
            line = encode_line(events[1]) + "\n" + encode_line(events[2]) + "\n"
            growing.write(line[:30])  # half a line: not read until complete
            growing.flush()
            time.sleep(0.3)
            growing.write(line[30:])
        assert "xen_version(version, 0x0) -> 0x40013" in follower.stdout.readline()
    finally:
        follower.send_signal(signal.SIGINT)
        follower.wait(TIMEOUT)
    assert follower.returncode == 0


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (["nope.jsonl"], "nope.jsonl: no such file, and not an address (HOST:PORT or unix:PATH)"),
        (["127.0.0.1:99999"], "127.0.0.1:99999: no such file, and not an address"),
        (["{dir}"], "is a directory, not a trace file"),
        (["{bad}"], "{bad}:2: not JSON"),
        (["{bad}", "--filter", "colour=red"], "--filter: unknown filter key 'colour'"),
        (["127.0.0.1:1"], "cannot subscribe to 127.0.0.1:1: Connection refused"),
        (["unix:{dir}/none.sock"], "cannot subscribe to unix:"),
    ],
)
def test_mistakes_are_one_line_and_exit_2(tmp_path: Path, args: list[str], error: str) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text(encode_line(HELLO) + "\n{oops\n")
    fill = {"dir": str(tmp_path), "bad": str(bad)}
    result = xgdbvm("trace", *[a.format(**fill) for a in args])
    assert result.returncode == 2
    # One line (after the hello's description, when the file had one).
    last = result.stderr.splitlines()[-1]
    assert result.stderr.count("xgdbvm trace: ") == 1, result.stderr
    assert last.startswith("xgdbvm trace: ")
    assert error.format(**fill) in last


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (["--trace-lossless"], "--trace-lossless needs --trace"),
        (["--trace", "stdio"], "--trace: stdio is only for --gdb"),
        (["--trace", "10.1.2.3:5000"], "is not a loopback address; add --allow-remote"),
        (["--trace-file", "/nonexistent/dir/t.jsonl"], "--trace-file /nonexistent/dir/t.jsonl:"),
    ],
)
def test_run_trace_option_mistakes(args: list[str], error: str) -> None:
    result = xgdbvm("run", *args)
    assert result.returncode == 2
    assert error in result.stderr


def test_run_announces_the_trace_server_and_still_exits_with_the_guest(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    result = xgdbvm("run", "--trace", "127.0.0.1:0", "--trace-file", str(path))
    assert result.returncode == 0, result.stderr
    assert re.search(
        r"trace server on 127\.0\.0\.1:\d+; read it with: xgdbvm trace 127\.0\.0\.1:\d+",
        result.stderr,
    )
    assert read_jsonl(path)[-1].kind == "lifecycle"


def test_summary_lists_the_calls_the_firmware_fails_on_purpose(tmp_path: Path) -> None:
    path = tmp_path / "fail.jsonl"
    run = xgdbvm("run", "--trace-file", str(path), "--bootargs", "xgdbvm.test=hcall-fail")
    assert run.returncode == 0, run.stderr
    result = xgdbvm("trace", str(path), "--summary")
    assert result.returncode == 0, result.stderr
    failed = result.stdout.split("failed calls (")[1].splitlines()[1:]
    assert "xen_version(get_features, 0x" in failed[0]
    assert failed[0].endswith("-> -EINVAL  [submap 1 does not exist]")
    assert any("-> -ENOSYS  [not implemented]" in line for line in failed[1:])
