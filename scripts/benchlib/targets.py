"""The programs under measurement: xgdbvm, QEMU's gdbstub, gdb-multiarch.

Both GDB servers hold the guest at its first instruction until gdb attaches, both
listen on loopback only, on a port chosen free at that moment, and both are
killed (process group, SIGTERM then SIGKILL) when the measurement ends.
"""

from __future__ import annotations

import contextlib
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from benchlib import gdbscripts, procs
from benchlib.elf import Elf
from benchlib.procs import BenchError
from benchlib.tree import Tree

GDB = "gdb-multiarch"
LOOPBACK = "127.0.0.1"
RAM_BASE = 0x4000_0000
DEFAULT_RAM = "128M"  # xgdbvm's default; QEMU is given the same


@dataclass(frozen=True)
class Arch:
    name: str
    qemu: str
    qemu_cpu: str
    count_reg: str  # hotloop_countdown's argument
    lr: str
    big_count: int  # a count no benchmark exhausts


ARCHES = {
    "arm64": Arch("arm64", "qemu-system-aarch64", "cortex-a57", "x0", "x30", 1 << 62),
    "arm32": Arch("arm32", "qemu-system-arm", "cortex-a15", "r0", "lr", 0x7FFF_FFFF),
}


@dataclass(frozen=True)
class Hotloop:
    """Addresses of the firmware's hotloop_countdown in one ELF."""

    func: int
    iter: int
    ret: int  # its last instruction, ret / bx lr

    @classmethod
    def of(cls, elf: Elf) -> Hotloop:
        func = elf.symbol("hotloop_countdown")
        return cls(func.address, elf.symbol("hotloop_iter").address, func.address + func.size - 4)


def qemu_argv(arch: Arch, elf: Path, port: int, memory: str = DEFAULT_RAM) -> list[str]:
    return [
        arch.qemu, "-M", "virt", "-cpu", arch.qemu_cpu, "-m", memory,
        "-display", "none", "-nic", "none", "-serial", "null", "-monitor", "none",
        "-kernel", str(elf), "-S", "-gdb", f"tcp:{LOOPBACK}:{port}",
    ]  # fmt: skip


def xgdbvm_server_argv(tree: Tree, arch: Arch, extra: tuple[str, ...] = ()) -> list[str]:
    return [
        *tree.xgdbvm(),
        "run",
        "--arch",
        arch.name,
        "--gdb",
        f"{LOOPBACK}:0",
        "--wait-for-gdb",
        *extra,
    ]


SERVER_LINE = re.compile(r"GDB server on (\S+?):(\d+)")


@contextlib.contextmanager
def xgdbvm_server(
    tree: Tree, arch: Arch, tmp: Path, timeout: float, extra: tuple[str, ...] = ()
) -> Iterator[str]:
    """An xgdbvm GDB server holding the guest at its first instruction; yields HOST:PORT.
    ``extra``: more `xgdbvm run` arguments (a scenario's --bootargs)."""
    log = tmp / "xgdbvm-server.err"
    with log.open("wb") as err:
        proc = procs.spawn(
            xgdbvm_server_argv(tree, arch, extra), stderr=err, env=tree.env(), cwd=tree.root
        )
    try:
        line = procs.wait_for_file_line(log, "GDB server on", proc, timeout)
        match = SERVER_LINE.search(line)
        if match is None:
            raise BenchError(f"unexpected server line: {line[:160]}")
        yield f"{match.group(1)}:{match.group(2)}"
        if proc.poll() is not None:
            raise BenchError(
                f"xgdbvm exited with status {proc.returncode} during the run: {_tail(log)}"
            )
    finally:
        procs.stop(proc)


@contextlib.contextmanager
def qemu_server(arch: Arch, elf: Path, tmp: Path, timeout: float) -> Iterator[str]:
    """QEMU -S with its gdbstub on a free loopback port; yields HOST:PORT."""
    if shutil.which(arch.qemu) is None:
        raise BenchError(f"{arch.qemu} is not installed")
    log = tmp / "qemu.err"
    for _attempt in range(3):  # the free port can be taken between choosing and binding it
        port = procs.free_port()
        with log.open("wb") as err:
            proc = procs.spawn(qemu_argv(arch, elf, port), stderr=err)
        try:
            procs.wait_listening(port, proc, timeout)
        except BenchError:
            procs.stop(proc)
            if "Address already in use" in log.read_text(errors="replace"):
                continue
            raise BenchError(f"{arch.qemu}: {_tail(log)}") from None
        try:
            yield f"{LOOPBACK}:{port}"
        finally:
            procs.stop(proc)
        return
    raise BenchError(f"{arch.qemu}: no free port after 3 attempts")


def _tail(path: Path) -> str:
    lines = path.read_text(errors="replace").strip().splitlines() if path.exists() else []
    return lines[-1][:200] if lines else "(no output)"


def gdb_argv(elf: Path, *commands: str) -> list[str]:
    argv = [GDB, "-q", "-nx", "-batch", str(elf)]
    for command in commands:
        argv += ["-ex", command]
    return argv


def run_gdb_script(
    elf: Path, body: str, params: dict[str, object], tmp: Path, timeout: float
) -> dict[str, float]:
    """Run one gdbscripts body in gdb-multiarch; returns its BENCH values."""
    if shutil.which(GDB) is None:
        raise BenchError(f"{GDB} is not installed")
    path = tmp / "bench-gdb.py"
    path.write_text(f"P = {params!r}\n" + gdbscripts.script(body))
    try:
        done = subprocess.run(
            gdb_argv(elf, f"source {path}"), stdin=subprocess.DEVNULL, capture_output=True,
            text=True, errors="replace", timeout=timeout, start_new_session=True,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        raise BenchError(f"gdb script timed out after {timeout:.0f} s") from None
    values: dict[str, float] = {}
    for line in done.stdout.splitlines():
        if line.startswith("BENCHERROR "):
            raise BenchError(line[len("BENCHERROR ") :])
        if line.startswith("BENCH "):
            _, key, value = line.split(None, 2)
            values[key] = float(value)
    if not values:
        tail = (done.stderr.strip() or done.stdout.strip() or "(no output)").splitlines()[-1]
        raise BenchError(f"gdb printed no result (status {done.returncode}): {tail[:200]}")
    return values


def gdb_params(
    arch: Arch, elf: Elf, target: str, timeout: float, **extra: object
) -> dict[str, object]:
    loop = Hotloop.of(elf)
    return {
        "target": target, "count_reg": arch.count_reg, "lr": arch.lr,
        "big_count": arch.big_count, "func": loop.func, "iter": loop.iter, "ret": loop.ret,
        "connect_timeout": max(1, int(timeout)), **extra,
    }  # fmt: skip


def attach_time(elf: Path, target: str, timeout: float) -> float:
    """Seconds from starting gdb-multiarch to `info registers pc` having been printed."""
    argv = gdb_argv(
        elf, f"target remote {target}", "info registers pc",
        "python import time; print('BENCHT %r' % time.monotonic(), flush=True)",
    )  # fmt: skip
    start = time.monotonic()  # CLOCK_MONOTONIC: one clock for every process on Linux
    try:
        done = subprocess.run(
            argv, stdin=subprocess.DEVNULL, capture_output=True, text=True, errors="replace",
            timeout=timeout, start_new_session=True,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        raise BenchError(f"gdb did not attach within {timeout:.0f} s") from None
    pc_seen = False
    for line in done.stdout.splitlines():
        if re.match(r"pc\s+0x[0-9a-f]+", line):
            pc_seen = True
        if line.startswith("BENCHT ") and pc_seen:
            return float(line.split()[1]) - start
    tail = (done.stderr.strip() or done.stdout.strip() or "(no output)").splitlines()[-1]
    raise BenchError(f"gdb printed no pc: {tail[:200]}")
