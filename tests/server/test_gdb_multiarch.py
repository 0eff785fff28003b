"""Real gdb-multiarch (and lldb) sessions against the server, on both arches."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest
import trio

from tests.conftest import ARCHES, firmware
from tests.server.conftest import running_server, wait_until

GDB_TIMEOUT = 60


async def gdb_batch(arch: str, address: str, script: str, tmp_path: Path) -> str:
    path = tmp_path / "session.gdb"
    path.write_text(f"set pagination off\nset confirm off\ntarget remote {address}\n{script}")
    with trio.fail_after(GDB_TIMEOUT):
        result = await trio.run_process(
            ["gdb-multiarch", "-nx", "-batch", "-x", str(path), str(firmware(arch))],
            capture_stdout=True,
            stderr=subprocess.STDOUT,
            check=False,
        )
    return result.stdout.decode(errors="replace")


@pytest.mark.parametrize("arch", ARCHES)
async def test_debug_the_boot_from_first_instruction_to_poweroff(arch: str, tmp_path: Path) -> None:
    script = """
p/x $pc
break guest_main
continue
bt
info registers
p boot_stage
stepi 300
p/x $pc
watch boot_stage
continue
delete
continue
"""
    async with running_server(arch) as srv:
        out = await gdb_batch(arch, srv.address, script, tmp_path)
        entry = 0x40080000 if arch == "arm64" else 0x40008000
        assert f"$1 = {entry:#x}" in out, out
        assert "Breakpoint 1, guest_main (fdt=0x47e00000)" in out
        assert "#0  guest_main" in out
        assert "cpsr" in out and ("x30" in out if arch == "arm64" else "r12" in out)
        assert "$2 = 0" in out  # boot_stage when guest_main starts
        assert "Hardware watchpoint 2: boot_stage" in out
        assert "Old value = 1\nNew value = 2" in out
        assert "[Inferior 1 (process 1) exited normally]" in out
        assert srv.machine.hypervisor.state.shutdown is not None


async def test_thumb_breakpoint_on_arm32(tmp_path: Path) -> None:
    script = """
break thumb_xen_version
continue
p/x $cpsr & 0x20
x/2i $pc
finish
continue
"""
    async with running_server("arm32") as srv:
        out = await gdb_batch("arm32", srv.address, script, tmp_path)
        assert "Breakpoint 1, thumb_xen_version ()" in out, out
        assert "$1 = 0x20" in out  # the T bit: the vCPU is in Thumb state
        assert "Value returned is $2 = 262163" in out  # (4 << 16) | 19 from the Thumb hvc
        assert "[Inferior 1 (process 1) exited normally]" in out


@pytest.mark.parametrize("arch", ARCHES)
async def test_ctrl_c_stops_a_spinning_guest(arch: str, tmp_path: Path) -> None:
    path = tmp_path / "spin.gdb"
    path.write_text(
        "set pagination off\nset confirm off\n"
        "continue\np spin_count > 1000\np $pc >= scenario_spin\nkill\n"
    )
    log = tmp_path / "gdb.log"
    async with running_server(arch, "xgdbvm.test=spin") as srv:
        with trio.fail_after(GDB_TIMEOUT), log.open("wb") as sink:
            async with trio.open_nursery() as nursery:
                gdb = await nursery.start(
                    lambda task_status: trio.run_process(
                        [
                            "gdb-multiarch",
                            "-nx",
                            "-batch",
                            "-ex",
                            f"target remote {srv.address}",
                            "-x",
                            str(path),
                            str(firmware(arch)),
                        ],
                        stdout=sink,
                        stderr=subprocess.STDOUT,
                        check=False,
                        task_status=task_status,
                    )
                )
                await wait_until(lambda: srv.server.runner.running)
                await trio.sleep(0.3)  # let the guest spin for a while
                gdb.send_signal(signal.SIGINT)  # what a user's Ctrl-C does
    out = log.read_text(errors="replace")
    assert "Program received signal SIGINT" in out, out
    assert "$1 = 1" in out and "$2 = 1" in out, out


async def test_lldb_attaches_and_reads_pc() -> None:
    async with running_server("arm64") as srv:
        with trio.fail_after(GDB_TIMEOUT):
            result = await trio.run_process(
                [
                    "lldb",
                    "--batch",
                    "--no-lldbinit",
                    "-o",
                    f"gdb-remote {srv.address}",
                    "-o",
                    "register read pc",
                    str(firmware("arm64")),
                ],
                capture_stdout=True,
                stderr=subprocess.STDOUT,
                check=False,
            )
    out = result.stdout.decode(errors="replace")
    assert "pc = 0x0000000040080000" in out, out


async def test_gdb_over_stdio_pipe(tmp_path: Path) -> None:
    """`target remote | xgdbvm run --gdb stdio`: gdb starts the server as its pipe."""
    script = tmp_path / "stdio.gdb"
    script.write_text(
        # gdb resends a packet not acked within remotetimeout (2 s); on a loaded
        # machine the server may take that long to start reading the pipe.
        "set pagination off\nset confirm off\nset remotetimeout 30\n"
        f"target remote | {sys.executable} -m xgdbvm run --gdb stdio --wait-for-gdb\n"
        "break guest_main\ncontinue\np boot_stage\ncontinue\n"
    )
    with trio.fail_after(GDB_TIMEOUT):
        result = await trio.run_process(
            ["gdb-multiarch", "-nx", "-batch", "-x", str(script), str(firmware("arm64"))],
            capture_stdout=True,
            stderr=subprocess.STDOUT,
            check=False,
        )
    out = result.stdout.decode(errors="replace")
    assert "Breakpoint 1, guest_main" in out, out
    assert "[Inferior 1 (process 1) exited normally]" in out
    # The guest console went to stderr, which gdb shows, not into the protocol stream.
    assert "xgdbvm guest: hello from arm64" in out


async def test_gdb_over_a_unix_socket(tmp_path: Path) -> None:
    sock = tmp_path / "gdb.sock"
    async with trio.open_nursery() as nursery:
        server = await nursery.start(
            lambda task_status: trio.run_process(
                [
                    sys.executable,
                    "-m",
                    "xgdbvm",
                    "run",
                    "--gdb",
                    f"unix:{sock}",
                    "--wait-for-gdb",
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                check=False,
                task_status=task_status,
            )
        )
        await wait_until(sock.exists, timeout=GDB_TIMEOUT)
        assert sock.stat().st_mode & 0o777 == 0o600
        out = await gdb_batch("arm64", str(sock), "p/x $pc\ncontinue\n", tmp_path)
        server.terminate()
    assert "$1 = 0x40080000" in out, out
    assert "exited normally" in out
