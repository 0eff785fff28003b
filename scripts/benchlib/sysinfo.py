"""The machine and tool versions a run was measured on."""

from __future__ import annotations

import os
import platform
import subprocess
from pathlib import Path


def _first_line(argv: list[str]) -> str:
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError) as error:
        return f"unavailable ({error})"
    return out.strip().splitlines()[0] if out.strip() else "unavailable"


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory() -> str:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                kib = int(line.split()[1])
                return f"{kib / (1 << 20):.1f} GiB"
    except OSError:
        pass
    return "unknown"


def load_average() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "unknown"


def machine() -> dict[str, str]:
    return {
        "CPU": f"{_cpu_model()}, {os.cpu_count()} CPUs (nproc {len(os.sched_getaffinity(0))})",
        "memory": _memory(),
        "kernel": f"{platform.system()} {platform.release()} {platform.machine()}",
    }


def versions() -> dict[str, str]:
    import unicorn

    return {
        "python": platform.python_version() + f" ({platform.python_implementation()})",
        "unicorn": f"{unicorn.__version__} (Python binding and library)",
        "qemu": _first_line(["qemu-system-aarch64", "--version"]),
        "gdb": _first_line(["gdb-multiarch", "--version"]),
    }
