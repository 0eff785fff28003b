"""`xgdbvm run --gdb`: the guest boots at once, the server outlives it, Ctrl-C ends it."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from pathlib import Path

import trio

from tests.conftest import firmware
from tests.server.conftest import wait_until
from tests.server.test_gdb_multiarch import gdb_batch

TIMEOUT = 60


async def test_server_keeps_serving_after_poweroff_and_reboots_for_a_new_client(
    tmp_path: Path,
) -> None:
    err = tmp_path / "stderr"
    out = tmp_path / "stdout"
    with trio.fail_after(TIMEOUT), err.open("wb") as err_sink, out.open("wb") as out_sink:
        async with trio.open_nursery() as nursery:
            server = await nursery.start(
                lambda task_status: trio.run_process(
                    [sys.executable, "-m", "xgdbvm", "run", "--gdb", "127.0.0.1:0"],
                    stdout=out_sink,
                    stderr=err_sink,
                    check=False,
                    task_status=task_status,
                )
            )

            def listening() -> str | None:
                found = re.search(r"GDB server on (127\.0\.0\.1:\d+)", err.read_text())
                return found.group(1) if found else None

            await wait_until(lambda: listening() is not None, timeout=TIMEOUT)
            await wait_until(lambda: "powering off" in out.read_text(), timeout=TIMEOUT)
            address = listening()
            assert address is not None
            session = await gdb_batch("arm64", address, "p/x $pc\ncontinue\n", tmp_path)
            server.send_signal(signal.SIGINT)
    assert server.returncode == 0
    assert "$1 = 0x40080000" in session, session  # rebooted from its image for this client
    assert "[Inferior 1 (process 1) exited normally]" in session
    log = err.read_text()
    assert "gdb-multiarch " + str(firmware("arm64")) in log
    assert "the guest had shut down; rebooted from its image" in log
    assert out.read_text().splitlines().count("xgdbvm guest: hello from arm64") == 2
    assert log.strip().splitlines()[-1].startswith("xgdbvm: guest shutdown: poweroff")


def test_plain_run_without_gdb_exits_with_the_guest() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "xgdbvm", "run", "--bootargs", "xgdbvm.test=crash"],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert result.returncode == 1
    assert "guest shutdown: crash" in result.stderr
