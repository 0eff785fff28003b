"""Leaving ``open_vm`` by cancellation in the middle of a session leaks nothing: the
machine's worker thread has ended, every socket and file is closed, the private
directory is gone. Also: an exception from the block comes out as itself."""

from __future__ import annotations

import os
import tempfile
import threading
from pathlib import Path

import pytest
import trio

from xgdbvm import open_vm
from xgdbvm.api import ExpectationFailed, RegisterError
from xgdbvm.machine.errors import ConfigError

CANCEL_AFTER = 0.2
SETUP_TIMEOUT = 20


def open_fds() -> set[str]:
    return set(os.listdir("/proc/self/fd"))


def busy_threads() -> list[threading.Thread]:
    """Live threads, except Trio's idle cached workers (named "Trio thread N" between
    jobs; they exit after Trio's idle timeout). A worker still running a job, such as
    the machine's run, has the job's name instead."""
    return [t for t in threading.enumerate() if not t.name.startswith("Trio thread ")]


async def wait_until(predicate: object, timeout: float = 5.0) -> None:
    assert callable(predicate)
    with trio.fail_after(timeout):
        while not predicate():
            await trio.sleep(0.005)


@pytest.mark.parametrize("how", ["free-run", "gdb-cont"])
@pytest.mark.parametrize("arch", ["arm64", "arm32"])
async def test_fail_after_while_the_guest_runs_leaks_nothing(
    arch: str, how: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Temporary files of this test only (other processes use /tmp too).
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    before_threads = busy_threads()
    before_fds = open_fds()
    seen: dict[str, object] = {}
    # The deadline is set to fire CANCEL_AFTER seconds into the guest's run; until then
    # it only bounds the test.
    with pytest.raises(trio.TooSlowError), trio.fail_after(SETUP_TIMEOUT) as deadline:
        async with open_vm(
            arch=arch, bootargs="xgdbvm.test=spin", wait_for_gdb=how == "gdb-cont"
        ) as vm:
            assert vm.server is not None and vm.state_dir is not None
            assert vm.state_dir.parent == tmp_path
            seen["state_dir"] = vm.state_dir
            seen["socket"] = vm.xenstore_path
            assert len(busy_threads()) == len(before_threads)  # the guest has not run yet
            if how == "gdb-cont":
                gdb = await vm.gdb()
                await gdb.resume()
            else:
                await vm.console.expect("scenario: spin")
            await wait_until(lambda: vm.server is not None and vm.server.runner.running)
            # Trio renames its worker to the job's name once the job starts running.
            await wait_until(lambda: len(busy_threads()) > len(before_threads))
            seen["machine_threads"] = len(busy_threads()) - len(before_threads)
            # Opened toward the VM while it runs: the xenstore client's socket.
            assert await vm.xenstore.read(f"{vm.xenstore.domain_path}/name") == "guest"
            seen["fds_while_running"] = len(open_fds() - before_fds)
            deadline.deadline = trio.current_time() + CANCEL_AFTER
            if how == "gdb-cont":
                await gdb.wait_stop(timeout=30)  # the guest spins: fail_after fires here
            else:
                await trio.sleep_forever()
    assert seen["machine_threads"] == 1  # the worker thread running the guest
    assert seen["fds_while_running"] >= 6  # listeners, the trace socket pair, clients
    # Teardown is finished when open_vm returns, but a thread's last instructions after
    # signalling Trio may still be running: give it a bounded moment to be gone.
    await wait_until(lambda: not [t for t in busy_threads() if t not in before_threads])
    leftover = [t.name for t in busy_threads() if t not in before_threads]
    assert leftover == []
    # threading.active_count() is back where it was, idle cached Trio workers aside.
    idle_workers = threading.active_count() - len(busy_threads())
    assert threading.active_count() - idle_workers == len(before_threads)
    assert open_fds() == before_fds
    assert not Path(str(seen["state_dir"])).exists()
    assert not Path(str(seen["socket"])).exists()
    assert list(tmp_path.iterdir()) == []


async def test_an_error_in_the_block_comes_out_as_itself(tmp_path: Path) -> None:
    with trio.fail_after(10):
        with pytest.raises(ConfigError, match="No such file"):
            async with open_vm(image=tmp_path / "missing.elf"):
                pass
        with pytest.raises(ExpectationFailed, match="hypercall memory_op"):
            async with open_vm(wait_for_gdb=False, bootargs="xgdbvm.test=minimal") as vm:
                await vm.trace.expect(hypercall="memory_op", within=0.2)
        with pytest.raises(RegisterError, match="no register 'no_such_register' on aarch64"):
            async with open_vm() as vm:
                gdb = await vm.gdb()
                await gdb.read_register("no_such_register")
