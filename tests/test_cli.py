"""The command line as a user runs it: a real process, its output and exit status."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ARCHES, dts, firmware, run_python


def xgdbvm(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "xgdbvm", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.mark.parametrize("arch", ARCHES)
def test_run_prints_console_and_summary(arch: str) -> None:
    result = xgdbvm("run", "--arch", arch)
    assert result.returncode == 0, result.stderr
    assert f"xgdbvm guest: hello from {arch}\n" in result.stdout
    assert "Xen 4.19.0\n" in result.stdout
    *start, summary = result.stderr.strip().splitlines()
    # At start: where host xenstore tools connect. On shutdown: one summary line.
    assert [line.split(" on ")[0] for line in start] == ["xgdbvm: xenstore"]
    assert summary.startswith("xgdbvm: guest shutdown: poweroff (via SCHEDOP_shutdown); ")
    assert "instructions" in summary
    assert (
        "hypercalls: console_io=1 event_channel_op=6 hvm_op=5 memory_op=1 sched_op=1 "
        "vcpu_op=1 xen_version=3" in summary
    )


@pytest.mark.parametrize(
    ("bootargs", "status"),
    [("xgdbvm.test=crash", 1), ("xgdbvm.test=reboot", 3), ("xgdbvm.test=psci", 0)],
)
def test_exit_status_follows_the_shutdown_reason(bootargs: str, status: int) -> None:
    assert xgdbvm("run", "--bootargs", bootargs).returncode == status


def test_reboot_can_restart_the_guest() -> None:
    result = xgdbvm(
        "run",
        "--bootargs",
        "xgdbvm.test=reboot",
        "--on-reboot",
        "restart",
        "--max-instructions",
        "400000",
    )
    assert result.stdout.count("hello from arm64\n") >= 2
    assert "instruction budget exhausted" in result.stderr
    assert result.returncode == 1


def test_max_instructions_stops_a_spinning_guest() -> None:
    result = xgdbvm("run", "--bootargs", "xgdbvm.test=spin", "--max-instructions", "3000000")
    assert result.returncode == 1
    assert "instruction budget exhausted; 300" in result.stderr


def _cut_hypervisor(tmp_path: Path) -> Path:
    source = dts("arm64").read_text()
    start = source.index("hypervisor {")
    end = source.index("};", start) + 2
    path = tmp_path / "nohyp.dts"
    path.write_text(source[:start] + source[end:])
    return path


@pytest.mark.parametrize(
    ("make_args", "message"),
    [
        (lambda tmp: ["--image", "/etc/hostname"], "not an ELF, arm64 Image or arm32 zImage"),
        (lambda tmp: ["--image", str(tmp / "missing.elf")], "No such file or directory"),
        (lambda tmp: ["--dts", str(_cut_hypervisor(tmp))], "no /hypervisor node"),
        (lambda tmp: ["--memory", "0"], "memory size 0x0 is out of range"),
        (lambda tmp: ["--memory", "lots"], "is not a size"),
        (lambda tmp: ["--arch", "arm32", "--image", str(firmware("arm64"))], "is not arm32"),
        (lambda tmp: ["--gdb", "0.0.0.0:1234"], "not a loopback address; add --allow-remote"),
        (lambda tmp: ["--gdb", "nonsense"], "is not HOST:PORT, unix:PATH or stdio"),
        (lambda tmp: ["--gdb", "127.0.0.1:99999"], "port 99999 is out of range"),
        (lambda tmp: ["--wait-for-gdb"], "--wait-for-gdb needs --gdb"),
    ],
)
def test_bad_input_is_one_clear_line_and_status_2(tmp_path: Path, make_args, message: str) -> None:  # type: ignore[no-untyped-def]
    result = xgdbvm("run", *make_args(tmp_path))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.stderr


def test_truncated_elf(tmp_path: Path) -> None:
    cut = tmp_path / "cut.elf"
    cut.write_bytes(firmware("arm64").read_bytes()[:500])
    result = xgdbvm("run", "--image", str(cut))
    assert result.returncode == 2
    assert result.stderr.strip() == f"xgdbvm: {cut}: truncated or corrupt ELF file"


@pytest.mark.parametrize("option", ["--gdb", "--trace"])
def test_a_port_in_use_is_one_clear_line(option: str) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = xgdbvm("run", option, f"127.0.0.1:{port}")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == (
        f"xgdbvm: {option}: cannot listen on 127.0.0.1:{port}: Address already in use"
    )
    assert "Traceback" not in result.stderr


def test_run_announces_before_loading_what_serving_needs() -> None:
    """Start-up time: the announce does not wait for Trio, the server, the trace modules,
    the stage-1 walkers or construct (the machine is built and its sockets listen; the
    rest loads when first used)."""
    probe = (
        "import sys, xgdbvm.cli as cli\n"
        "def announce(self, text):\n"
        "    late = ('trio', 'xgdbvm.trace', 'xgdbvm.server.app', 'xgdbvm.rsp', 'construct',\n"
        "            'xgdbvm.machine.mmu.walk', 'xgdbvm.machine.mmu.result')\n"
        "    print(sorted(m for m in sys.modules if m.startswith(late)))\n"
        "    raise SystemExit(0)\n"
        "cli._Streams.announce = announce\n"
        "cli.main(['run', '--gdb', '127.0.0.1:0', '--wait-for-gdb'])\n"
    )
    result = run_python(probe)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
