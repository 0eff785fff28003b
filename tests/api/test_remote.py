"""xgdbvm.connect: the same API against a VM that ``xgdbvm run`` serves in another
process; and gdbscript.run, a real gdb-multiarch batch script against a VM."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import trio

import xgdbvm
from xgdbvm import gdbscript
from xgdbvm.api import BreakpointStop, ExitedStop
from xgdbvm.gdbscript import GdbScriptError

TIMEOUT = 30
from tests.examples.test_example import BOOT_HYPERCALLS  # noqa: E402 - the documented list


async def read_addresses(stream: trio.abc.ReceiveStream) -> dict[str, str]:
    """The addresses ``xgdbvm run`` announces on stderr."""
    text = ""
    found: dict[str, str] = {}
    while len(found) < 2:
        chunk = await stream.receive_some()
        assert chunk, f"xgdbvm run ended before announcing its servers:\n{text}"
        text += chunk.decode()
        for key, pattern in (
            ("gdb", r"GDB server on (\S+);"),
            ("trace", r"trace server on (\S+);"),
        ):
            match = re.search(pattern, text)
            if match:
                found[key] = match.group(1)
    return found


async def test_connect_to_a_vm_served_by_xgdbvm_run(tmp_path: Path) -> None:
    socket = tmp_path / "xenstored.sock"
    command = [
        sys.executable,
        "-m",
        "xgdbvm",
        "run",
        "--arch",
        "arm32",
        "--gdb",
        "127.0.0.1:0",
        "--trace",
        "127.0.0.1:0",
        "--wait-for-gdb",
        "--xenstore-socket",
        str(socket),
    ]
    with trio.fail_after(TIMEOUT):
        async with trio.open_nursery() as nursery:
            process = await trio.lowlevel.open_process(
                command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
            )
            try:
                assert process.stderr is not None
                addresses = await read_addresses(process.stderr)
                async with xgdbvm.connect(
                    addresses["gdb"], addresses["trace"], xenstore=socket
                ) as vm:
                    assert vm.machine is None and vm.arch == "arm32"  # from the hello line
                    assert vm.image is not None and vm.image.name == "guest.elf"
                    gdb = await vm.gdb()
                    await gdb.break_at("guest_main")
                    stop = await gdb.cont()
                    assert isinstance(stop, BreakpointStop) and stop.symbol == "guest_main"
                    assert await gdb.read_register("r0") == 0x47E0_0000
                    name = await vm.xenstore.read(f"{vm.xenstore.domain_path}/name")
                    assert name == "guest"
                    stop = await gdb.cont()
                    assert isinstance(stop, ExitedStop) and stop.code == 0
                    await vm.trace.expect_calls(BOOT_HYPERCALLS)
                    await vm.console.expect("xgdbvm guest: powering off")
            finally:
                process.send_signal(signal.SIGTERM)
                nursery.cancel_scope.cancel()
                with trio.CancelScope(shield=True):
                    await process.wait()
                    if process.stderr is not None:
                        await process.stderr.aclose()


@pytest.mark.parametrize("arch", ["arm64", "arm32"])
async def test_gdbscript_runs_a_gdb_batch_script(arch: str) -> None:
    register = "x0" if arch == "arm64" else "r0"
    with trio.fail_after(TIMEOUT):
        async with xgdbvm.open_vm(arch=arch) as vm:
            gdb = await vm.gdb()
            with pytest.raises(GdbScriptError, match="one GDB client at a time"):
                await gdbscript.run(vm, "p 1")
            await gdb.aclose()
            out = await gdbscript.run(
                vm,
                f"""
                break guest_main
                continue
                p/x ${register}
                p boot_stage
                """,
            )
            assert "Breakpoint 1, guest_main (fdt=0x47e00000)" in out, out
            assert "$1 = 0x47e00000" in out and "$2 = 0" in out
            # GDB detached: the guest waits where the script left it.
            gdb = await vm.gdb()
            stop = gdb.last_stop
            assert stop is not None and stop.kind == "breakpoint"
            assert getattr(stop, "symbol", "").startswith("guest_main")
