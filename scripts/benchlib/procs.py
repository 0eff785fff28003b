"""Child processes with bounded waits, exact wall times and their own peak RSS.

Every child is started in its own session and recorded; `kill_all` (run at exit
and on SIGINT/SIGTERM) ends the ones still alive, by their process group id.
Waits block in waitpid on the one pid, so the wall time is not quantised by a polling
loop.

Peak RSS needs care: Linux carries the RSS high-water mark of the image a process
had before exec into its ru_maxrss, so a child forked from this (large) harness
reports at least the harness's size. `rss_wrapped` runs the command under a
small Python that forks it and reports the grandchild's own ru_maxrss.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO


class BenchError(Exception):
    """A measurement could not be made (a tool failed, timed out or printed nonsense).

    The harness reports it in the benchmark's row and goes on."""


_children: dict[int, subprocess.Popen[bytes]] = {}
_lock = threading.Lock()


def spawn(
    argv: list[str],
    *,
    stdout: int | IO[bytes] | None = subprocess.DEVNULL,
    stderr: int | IO[bytes] | None = subprocess.DEVNULL,
    env: dict[str, str] | None = None,
    cwd: str | Path | None = None,
) -> subprocess.Popen[bytes]:
    try:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=stdout,
            stderr=stderr,
            env=env,
            cwd=cwd,
            start_new_session=True,
        )
    except OSError as error:
        raise BenchError(f"cannot start {argv[0]}: {error}") from None
    with _lock:
        _children[proc.pid] = proc
    return proc


def _forget(proc: subprocess.Popen[bytes]) -> None:
    with _lock:
        _children.pop(proc.pid, None)


def _signal_group(proc: subprocess.Popen[bytes], sig: int) -> None:
    try:
        os.killpg(proc.pid, sig)  # its own session: the group id is its pid
    except ProcessLookupError:
        pass
    except PermissionError:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(sig)


def stop(proc: subprocess.Popen[bytes], grace: float = 3.0) -> None:
    """SIGTERM, then SIGKILL after `grace` seconds; always reaps."""
    if proc.returncode is None:
        _signal_group(proc, signal.SIGTERM)
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            _signal_group(proc, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=grace)
    else:
        _signal_group(proc, signal.SIGKILL)  # stragglers left in its group
    _forget(proc)


def kill_all() -> None:
    with _lock:
        procs = list(_children.values())
    for proc in procs:
        stop(proc, grace=1.0)


def _on_signal(signum: int, _frame: object) -> None:
    kill_all()
    raise SystemExit(128 + signum)


def install_cleanup() -> None:
    atexit.register(kill_all)
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)


@dataclass(frozen=True)
class Finished:
    returncode: int
    wall: float  # seconds from just before fork to the child's exit being reaped
    stdout: str
    stderr: str


def run_timed(
    argv: list[str],
    *,
    timeout: float,
    env: dict[str, str] | None = None,
    cwd: str | Path | None = None,
    tmpdir: Path,
) -> Finished:
    """Run to completion; output goes to files so that no pipe can fill and stall the child."""
    out_path, err_path = tmpdir / "run.out", tmpdir / "run.err"
    with out_path.open("wb") as out, err_path.open("wb") as err:
        start = time.perf_counter()
        proc = spawn(argv, stdout=out, stderr=err, env=env, cwd=cwd)
        timed_out = threading.Event()

        def watchdog() -> None:
            timed_out.set()
            _signal_group(proc, signal.SIGKILL)

        timer = threading.Timer(timeout, watchdog)
        timer.daemon = True
        timer.start()
        try:
            _, status = os.waitpid(proc.pid, 0)
            wall = time.perf_counter() - start
        finally:
            timer.cancel()
        proc.returncode = os.waitstatus_to_exitcode(status)
        _signal_group(proc, signal.SIGKILL)  # anything it left behind in its group
        _forget(proc)
    stdout = out_path.read_text(errors="replace")
    stderr = err_path.read_text(errors="replace")
    if timed_out.is_set():
        raise BenchError(f"{Path(argv[0]).name} timed out after {timeout:.0f} s")
    return Finished(proc.returncode, wall, stdout, stderr)


_RSS_WRAPPER = r"""
import os, signal, sys
out, argv = sys.argv[1], sys.argv[2:]
pid = os.fork()
if pid == 0:
    try:
        os.execvp(argv[0], argv)
    finally:
        os._exit(127)
def forward(signum, _frame):
    try:
        os.kill(pid, signum)
    except ProcessLookupError:
        pass
signal.signal(signal.SIGTERM, forward)
signal.signal(signal.SIGINT, forward)
_, status, usage = os.wait4(pid, 0)
with open(out, "w") as f:
    f.write(str(usage.ru_maxrss))
code = os.waitstatus_to_exitcode(status)
os._exit(code if code >= 0 else 128 - code)
"""


def rss_wrapped(argv: list[str], rss_file: Path) -> list[str]:
    """argv run under a small forking wrapper that writes the command's peak RSS (KiB)."""
    return [sys.executable, "-I", "-S", "-c", _RSS_WRAPPER, str(rss_file), *argv]


def read_rss(rss_file: Path) -> int:
    try:
        return int(rss_file.read_text())
    except (OSError, ValueError):
        raise BenchError("the RSS wrapper reported nothing") from None


def terminate_wrapped(proc: subprocess.Popen[bytes], timeout: float) -> None:
    """SIGTERM to the wrapper alone (it forwards it and records the RSS), then reap."""
    try:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        pass
    finally:
        stop(proc)


def wait_for_line(
    stream: IO[bytes], needle: bytes, proc: subprocess.Popen[bytes], timeout: float
) -> tuple[bytes, float]:
    """Read a pipe until a line containing `needle`; returns (line, perf_counter at arrival)."""
    fd = stream.fileno()
    buf = b""
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise BenchError(f"no {needle.decode()!r} within {timeout:.0f} s")
        ready, _, _ = select.select([fd], [], [], left)
        if not ready:
            continue
        chunk = os.read(fd, 65536)
        now = time.perf_counter()
        if not chunk:
            proc.wait(timeout=5)
            tail = buf.decode(errors="replace").strip().splitlines()[-1:] or ["(no output)"]
            raise BenchError(
                f"exited with status {proc.returncode} before {needle.decode()!r}: {tail[0][:160]}"
            )
        buf += chunk
        for line in buf.splitlines():
            if needle in line:
                return line, now


def wait_for_file_line(
    path: Path, needle: str, proc: subprocess.Popen[bytes], timeout: float
) -> str:
    """Poll a log file until a line containing `needle` appears."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = path.read_text(errors="replace") if path.exists() else ""
        for line in text.splitlines():
            if needle in line:
                return line
        if proc.poll() is not None:
            tail = text.strip().splitlines()[-1:] or ["(no output)"]
            raise BenchError(f"exited with status {proc.returncode}: {tail[0][:160]}")
        time.sleep(0.005)
    raise BenchError(f"no {needle!r} within {timeout:.0f} s")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def tcp_listening(port: int) -> bool:
    """Whether something listens on 127.0.0.1:port (from /proc/net/tcp, without connecting:
    a probe connection would be taken for a GDB client by a gdbstub)."""
    try:
        lines = Path("/proc/net/tcp").read_text().splitlines()[1:]
    except OSError:
        return False
    for line in lines:
        fields = line.split()
        local, state = fields[1], fields[3]
        host, _, hexport = local.partition(":")
        if state == "0A" and int(hexport, 16) == port and host in ("0100007F", "00000000"):
            return True
    return False


def wait_listening(port: int, proc: subprocess.Popen[bytes], timeout: float) -> float:
    """Poll until `port` listens; returns perf_counter at the first positive poll."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if tcp_listening(port):
            return time.perf_counter()
        if proc.poll() is not None:
            raise BenchError(f"exited with status {proc.returncode} before listening")
        time.sleep(0.001)
    raise BenchError(f"nothing listening on port {port} within {timeout:.0f} s")
