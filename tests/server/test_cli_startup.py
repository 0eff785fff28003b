"""`xgdbvm run` announces its sockets before the server has imported Trio: whatever a
client does the moment it reads an announce line must work, and a signal that comes
then must end the run as cleanly as one that comes later."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import pytest

TIMEOUT = 60
GDB_LINE = re.compile(r"GDB server on 127\.0\.0\.1:(\d+)")
XENSTORE_LINE = re.compile(r"xenstore on (\S+);")
TRACE_LINE = re.compile(r"trace server on 127\.0\.0\.1:(\d+);")


@contextmanager
def held_run(*extra: str) -> Iterator[subprocess.Popen[bytes]]:
    """``xgdbvm run --gdb 127.0.0.1:0 --wait-for-gdb`` with its stderr piped."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "xgdbvm", "run", "--gdb", "127.0.0.1:0", "--wait-for-gdb", *extra],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(TIMEOUT)
        assert proc.stderr is not None
        proc.stderr.close()


def read_until(stream: IO[bytes] | None, pattern: re.Pattern[str]) -> re.Match[str]:
    assert stream is not None
    seen = []
    while line := stream.readline():
        seen.append(line.decode())
        if found := pattern.search(seen[-1]):
            return found
    raise AssertionError(f"no {pattern.pattern!r} in {''.join(seen)!r}")


def receive_until(sock: socket.socket, end: bytes) -> bytes:
    data = b""
    while end not in data:
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


def test_clients_connecting_at_the_announce_are_served(tmp_path: Path) -> None:
    with held_run("--trace", "127.0.0.1:0") as proc:
        gdb_port = int(read_until(proc.stderr, GDB_LINE).group(1))
        # Connect at once, before the server can have started: the kernel queues us.
        gdb = socket.create_connection(("127.0.0.1", gdb_port), timeout=TIMEOUT)
        xenstore = read_until(proc.stderr, XENSTORE_LINE).group(1)
        trace_port = int(read_until(proc.stderr, TRACE_LINE).group(1))
        trace = socket.create_connection(("127.0.0.1", trace_port), timeout=TIMEOUT)
        with gdb, trace:
            gdb.sendall(b"+$?#3f")
            assert re.search(rb"\$T05", receive_until(gdb, b"#")), "no stop reply"
            trace.sendall(b"\n")
            hello = json.loads(receive_until(trace, b"\n").split(b"\n")[0])
            assert hello["kind"] == "hello"
        read = subprocess.run(
            ["xenstore-read", "/local/domain/1/name"],
            env={**os.environ, "XENSTORED_PATH": xenstore},
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            check=False,
        )
        assert read.stdout.strip() == "guest", read.stderr
        proc.send_signal(signal.SIGINT)
        assert proc.wait(TIMEOUT) == 0


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_at_the_announce_ends_the_run_cleanly(stop: signal.Signals) -> None:
    with held_run() as proc:
        read_until(proc.stderr, GDB_LINE)
        xenstore = Path(read_until(proc.stderr, XENSTORE_LINE).group(1))
        proc.send_signal(stop)
        assert proc.wait(TIMEOUT) == 0
        assert proc.stderr is not None
        rest = proc.stderr.read().decode()
    assert "Traceback" not in rest
    assert rest.strip().splitlines()[-1].startswith("xgdbvm: interrupted;"), rest
    assert not xenstore.parent.exists()  # the run's state directory is gone
