"""Host output through an Outlet: in order, never blocking, bounded, and not fatal."""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import select
import signal
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest
import trio

from tests.conftest import firmware
from xgdbvm.client.rsp_client import RspClient
from xgdbvm.machine.image import load_image
from xgdbvm.server.outlet import Outlet

TIMEOUT = 30
PIPE_SIZE = 4096  # the smallest pipe Linux makes: full after a few dozen lines


@pytest.fixture
def pipe() -> Iterator[tuple[int, int]]:
    read_end, write_end = os.pipe()
    with contextlib.suppress(OSError):  # the tests overfill a default pipe (64 KiB) too
        fcntl.fcntl(write_end, fcntl.F_SETPIPE_SZ, PIPE_SIZE)
    yield read_end, write_end
    for fd in (read_end, write_end):
        with contextlib.suppress(OSError):
            os.close(fd)


def read_until(fd: int, wanted: bytes, timeout: float = TIMEOUT) -> bytes:
    data = b""
    deadline = time.monotonic() + timeout
    while wanted not in data:
        left = deadline - time.monotonic()
        assert left > 0, f"no {wanted!r} in {data[-200:]!r}"
        if select.select([fd], [], [], left)[0]:
            chunk = os.read(fd, 1 << 16)
            assert chunk, f"end of the pipe before {wanted!r}"
            data += chunk
    return data


def read_all(fd: int, timeout: float = TIMEOUT) -> bytes:
    """Up to the end of the pipe (every writer has closed it)."""
    chunks = []
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        assert left > 0, "the pipe did not end"
        if select.select([fd], [], [], left)[0]:
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)


def test_bytes_arrive_in_order(pipe: tuple[int, int]) -> None:
    read_end, write_end = pipe
    outlet = Outlet(write_end, "test")
    lines = [b"line %d\n" % i for i in range(20000)]  # several times any pipe
    for line in lines:
        outlet.write(line)
    assert read_until(read_end, b"line 19999\n") == b"".join(lines)
    assert outlet.close(timeout=TIMEOUT)


def test_a_reader_that_does_not_read_blocks_nobody(pipe: tuple[int, int]) -> None:
    read_end, write_end = pipe
    outlet = Outlet(write_end, "test", limit=1 << 20)
    started = time.monotonic()
    for _ in range(256):
        outlet.write(b"x" * 1024)  # 64 pipes' worth, nothing read
    assert time.monotonic() - started < TIMEOUT / 3
    assert outlet.dropped == 0
    assert not outlet.close(timeout=0.2)  # still waiting on the reader: gives up
    # The reader goes: the thread, blocked in write(2) so far, ends before its
    # descriptor is closed (and its number reused by the next test's pipe).
    os.close(read_end)
    outlet.close(timeout=TIMEOUT)
    assert not outlet.alive


def test_past_the_limit_output_is_dropped_and_then_reported(pipe: tuple[int, int]) -> None:
    read_end, write_end = pipe
    outlet = Outlet(write_end, "test", limit=64 * 1024)
    for _ in range(64):
        outlet.write(b"y" * 4096)  # 256 KiB against a limit of 64
    assert outlet.dropped > 0
    report = read_until(read_end, b"the reader fell behind]\n")
    dropped = int(re.search(rb"\[xgdbvm: (\d+) bytes of output dropped", report).group(1))  # type: ignore[union-attr]
    kept = len(report.partition(b"\n[xgdbvm:")[0])
    assert kept + dropped == 64 * 4096
    outlet.write(b"after\n")
    assert read_until(read_end, b"after\n").endswith(b"after\n")
    assert outlet.close(timeout=TIMEOUT)


def test_a_reader_that_has_gone_is_not_an_error(pipe: tuple[int, int]) -> None:
    read_end, write_end = pipe
    os.close(read_end)
    outlet = Outlet(write_end, "test")
    for _ in range(10):
        outlet.write(b"nobody reads this\n")
    assert not outlet.close(timeout=TIMEOUT)  # EPIPE: given up, not raised
    assert not outlet.alive


async def test_a_run_whose_stderr_is_never_read_keeps_answering_gdb(
    pipe: tuple[int, int],
) -> None:
    # Each breakpoint stop is announced on stderr; 1,200 of them overfill even a
    # default pipe. Before the outlet, the server stopped answering at the first full pipe.
    read_end, write_end = pipe
    image = load_image(firmware("arm64"), "arm64", 0x4000_0000)
    countdown = next(s.address for s in image.symbols if s.name == "hotloop_countdown")
    loop_head = countdown + 4  # hotloop_iter: subs x0, x0, #1
    server = subprocess.Popen(
        [sys.executable, "-m", "xgdbvm", "run", "--gdb", "127.0.0.1:0", "--wait-for-gdb"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=write_end,
    )
    os.close(write_end)
    try:
        banner = read_until(read_end, b"attach with").decode()
        address = re.search(r"GDB server on 127\.0\.0\.1:(\d+)", banner)
        assert address is not None
        stops = 1200
        with trio.fail_after(TIMEOUT):
            client = await RspClient.connect_tcp("127.0.0.1", int(address.group(1)))
            async with client:
                await client.start_no_ack()
                assert await client.request(b"P0=" + (10**9).to_bytes(8, "little").hex().encode())
                assert await client.request(
                    b"P20=" + countdown.to_bytes(8, "little").hex().encode()
                )
                assert await client.request(b"Z0,%x,4" % loop_head) == b"OK"
                for _ in range(stops):
                    await client.send(b"c")
                    stop = await client.wait_stop()
                    assert b"20:" + loop_head.to_bytes(8, "little").hex().encode() in stop, stop
                    await client.send(b"s")  # off the breakpoint, as gdb would
                    assert (await client.wait_stop()).startswith(b"T05")
        server.send_signal(signal.SIGINT)
        log = read_all(read_end).decode()  # read while it exits: it flushes as it goes
        assert server.wait(TIMEOUT) == 0
    finally:
        if server.poll() is None:
            server.kill()
            server.wait(TIMEOUT)
    # Nothing was lost: every stop's line came out once the pipe was read again.
    assert log.count("breakpoint") >= stops, log[-500:]
    assert "dropped" not in log


def test_a_short_write_to_a_reader_keeping_up_is_in_the_pipe_at_once(
    pipe: tuple[int, int],
) -> None:
    # No hand-off to the thread: the bytes are there when write returns.
    read_end, write_end = pipe
    outlet = Outlet(write_end, "test")
    for i in range(100):
        outlet.write(b"stop %d\n" % i)
        assert select.select([read_end], [], [], 0)[0]
        assert os.read(read_end, 4096) == b"stop %d\n" % i
    assert outlet.close(timeout=TIMEOUT)
