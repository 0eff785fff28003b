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


def _libunicorn() -> str:
    import unicorn
    import unicorn.arm64_const as a64

    from xgdbvm.machine.ucnative import ClockKind, InstructionClock

    uc = unicorn.Uc(unicorn.UC_ARCH_ARM64, unicorn.UC_MODE_ARM)
    if InstructionClock(uc, a64.UC_ARM64_REG_PSTATE, 1 << 7).kind is ClockKind.INLINE:
        return "library built by scripts/unicorn/build with its patches, arm and aarch64"
    return "stock library, no inline instruction counter"


def versions() -> dict[str, str]:
    import unicorn

    return {
        "python": platform.python_version() + f" ({platform.python_implementation()})",
        "unicorn": f"{unicorn.__version__} (Python binding; {_libunicorn()})",
        "qemu": _first_line(["qemu-system-aarch64", "--version"]),
        "gdb": _first_line(["gdb-multiarch", "--version"]),
    }
