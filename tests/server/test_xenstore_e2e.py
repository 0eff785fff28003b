"""The guest's xenstore seen by Debian's xenstore-utils, by GDB, and under a hostile guest."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import trio

from tests.conftest import ARCHES, MachineFactory
from tests.server.conftest import running_server, wait_until
from xgdbvm.client.rsp_client import RspClient
from xgdbvm.machine.events import ConsoleOutput, ConsoleSource
from xgdbvm.machine.stop import Shutdown
from xgdbvm.machine.xen.abi import ShutdownReason
from xgdbvm.machine.xen.xenstore import RingError, RingOffset, XsType
from xgdbvm.rsp.hexutil import hex_encode

TIMEOUT = 60


async def xs(socket: Path, *argv: str) -> str:
    env = {**os.environ, "XENSTORED_PATH": str(socket)}
    with trio.fail_after(TIMEOUT):
        result = await trio.run_process(list(argv), capture_stdout=True, env=env, check=True)
    return result.stdout.decode()


@pytest.mark.parametrize("arch", ARCHES)
async def test_xenstore_utils_list_the_guest_and_power_it_off(arch: str, tmp_path: Path) -> None:
    socket = tmp_path / "xs.sock"
    out = tmp_path / "console"
    with trio.fail_after(TIMEOUT), out.open("wb") as sink:
        async with trio.open_nursery() as nursery:
            vm = await nursery.start(
                lambda task_status: trio.run_process(
                    [
                        sys.executable,
                        "-m",
                        "xgdbvm",
                        "run",
                        "--arch",
                        arch,
                        "--bootargs",
                        "xgdbvm.test=xenstore",
                        "--xenstore-socket",
                        str(socket),
                    ],
                    stdout=sink,
                    stderr=subprocess.DEVNULL,
                    check=False,
                    task_status=task_status,
                )
            )
            await wait_until(lambda: "watching control/shutdown" in out.read_text(), TIMEOUT)
            listing = await xs(socket, "xenstore-ls", "/local/domain/1")
            boot_status = await xs(socket, "xenstore-read", "/local/domain/1/data/boot-status")
            await xs(socket, "xenstore-write", "/local/domain/1/control/shutdown", "poweroff")
    assert vm.returncode == 0, out.read_text()
    for node in ('name = "guest"', 'domid = "1"', 'target = "131072"', "store =", "console ="):
        assert node in listing, listing
    assert 'feature-poweroff = "1"' in listing
    assert 'boot-status = "ok"' in listing and boot_status.strip() == "ok"
    console = out.read_text()
    assert 'xenstore: control/shutdown = "poweroff"' in console
    assert console.rstrip().endswith("xgdbvm guest: powering off")
    assert f"[pv] xgdbvm guest: hello from {arch}" in console  # the PV console ring, marked


async def test_monitor_xs_reads_writes_and_watches(tmp_path: Path) -> None:
    async with (
        running_server("arm64", "xgdbvm.test=bringup") as srv,
        await RspClient.connect_tcp(srv.host, srv.port, timeout=TIMEOUT) as gdb,
    ):
        assert (await gdb.request(b"c", timeout=TIMEOUT)).startswith(b"W00")

        async def monitor(text: str) -> str:
            reply = await gdb.exchange(b"qRcmd," + hex_encode(text.encode()), timeout=TIMEOUT)
            return reply.console.decode()

        assert "watching /local/domain/1/data" in await monitor("xs watch /local/domain/1/data")
        assert await monitor("xs read /local/domain/1/data/boot-status") == "ok\n"
        await monitor("xs write /local/domain/1/data/probe hello")
        fired = await monitor("xs watch")
        assert "fired: /local/domain/1/data/probe" in fired
        listing = await monitor("xs ls /local/domain/1/control")
        assert "feature-poweroff = '1'" in listing
        assert "removed" in await monitor("xs rm /local/domain/1/data/probe")
        assert "ENOENT" in await monitor("xs read /local/domain/1/data/probe")


@pytest.mark.parametrize("arch", ARCHES)
def test_pv_console_ring_output_reaches_the_console_stream(
    make_machine: MachineFactory, arch: str
) -> None:
    machine, rec = make_machine(arch, bootargs="xgdbvm.test=bringup")
    assert machine.run(400_000_000) == Shutdown(ShutdownReason.poweroff, "SCHEDOP_shutdown")
    pv = b"".join(
        e.data
        for e in rec.of(ConsoleOutput)
        if e.source is ConsoleSource.PV  # type: ignore[union-attr]
    )
    assert pv == f"xgdbvm guest: hello from {arch}\n".encode()


@pytest.mark.parametrize(
    ("field", "value", "error"),
    [
        (RingOffset.REQ_PROD, 5000, RingError.RINGIDX),  # indexes more than a ring apart
        (None, None, RingError.PROTO),  # a header promising more than 4096 bytes
    ],
)
def test_a_corrupt_ring_sets_the_error_field_and_the_store_keeps_serving(
    make_machine: MachineFactory, field: RingOffset | None, value: int | None, error: RingError
) -> None:
    machine, _ = make_machine("arm64", bootargs="xgdbvm.test=bringup")
    machine.run(400_000_000)
    xenstored = machine.hypervisor.xenstored
    page = machine.memory.page_view(machine.hypervisor.store_gfn)
    assert page is not None
    cons = int.from_bytes(page[RingOffset.REQ_CONS : RingOffset.REQ_CONS + 4], "little")
    if field is not None and value is not None:
        page[field : field + 4] = (cons + value).to_bytes(4, "little")
    else:
        header = (XsType.READ).to_bytes(4, "little") + bytes(8) + (100_000).to_bytes(4, "little")
        start = cons % 1024
        page[RingOffset.REQ + start : RingOffset.REQ + start + 16] = header
        page[RingOffset.REQ_PROD : RingOffset.REQ_PROD + 4] = (cons + 16).to_bytes(4, "little")
    xenstored.serve_guest()
    assert int.from_bytes(page[RingOffset.ERROR : RingOffset.ERROR + 4], "little") == error
    # Everybody else is still served.
    conn = xenstored.connect()
    assert xenstored.request(conn, XsType.READ, "/local/domain/1/name") == b"guest"
    # And the guest's ring does not take the machine down when it notifies again.
    xenstored.serve_guest()


async def test_xenstore_watch_tool_sees_a_host_write(tmp_path: Path) -> None:
    socket = tmp_path / "xs.sock"
    with trio.fail_after(TIMEOUT):
        async with trio.open_nursery() as nursery:
            vm = await nursery.start(
                lambda task_status: trio.run_process(
                    [
                        sys.executable,
                        "-m",
                        "xgdbvm",
                        "run",
                        "--gdb",
                        "127.0.0.1:0",
                        "--wait-for-gdb",
                        "--xenstore-socket",
                        str(socket),
                    ],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    check=False,
                    task_status=task_status,
                )
            )
            await wait_until(socket.exists, TIMEOUT)
            env = {**os.environ, "XENSTORED_PATH": str(socket)}
            watch = await nursery.start(
                lambda task_status: trio.run_process(
                    ["xenstore-watch", "-n", "2", "/local/domain/1/data"],
                    capture_stdout=True,
                    env=env,
                    check=False,
                    task_status=task_status,
                )
            )
            await trio.sleep(0.5)  # let the watch register
            await xs(socket, "xenstore-write", "/local/domain/1/data/hello", "world")
            with trio.fail_after(TIMEOUT):
                while watch.returncode is None:
                    await trio.sleep(0.05)
            vm.terminate()
    assert watch.returncode == 0


async def test_host_input_reaches_the_pv_console_in_ring() -> None:
    from tests.conftest import dts, firmware
    from xgdbvm.machine.board import MachineConfig
    from xgdbvm.machine.machine import Machine
    from xgdbvm.server.app import ServeOptions, Server

    machine = Machine(
        MachineConfig(image=firmware("arm64"), dts=dts("arm64"), bootargs="xgdbvm.test=xenstore")
    )
    read_end, write_end = os.pipe()
    server = Server(machine, ServeOptions(console_input=read_end), lambda text: None)
    page = machine.memory.page_view(machine.hypervisor.console_gfn)
    assert page is not None
    with trio.fail_after(TIMEOUT):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(server.serve)
            await wait_until(
                lambda: any("watching control/shutdown" in line for line in server.history.last(5))
            )
            os.write(write_end, b"hello\n")
            await wait_until(lambda: int.from_bytes(page[3076:3080], "little") == 6)
            assert bytes(page[0:6]) == b"hello\n"  # in[] with in_prod = 6
            conn = machine.hypervisor.xenstored.connect()
            machine.hypervisor.xenstored.request(
                conn, XsType.WRITE, "/local/domain/1/control/shutdown", value=b"poweroff"
            )
            os.close(write_end)
    os.close(read_end)
    assert server.runner.last_stop == Shutdown(ShutdownReason.poweroff, "SCHEDOP_shutdown")
