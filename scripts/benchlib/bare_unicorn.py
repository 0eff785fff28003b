"""The bare-Unicorn references: the ceiling of guest speed and the floor of a trap.

Both run in the harness's own process with the venv's unicorn (the version
xgdbvm pins), CPU models as xgdbvm sets them (Cortex-A72 / Cortex-A15), and
time only uc.emu_start.
"""

from __future__ import annotations

import ctypes
import struct
import subprocess
import time
from pathlib import Path
from typing import Any

import unicorn
from unicorn import arm64_const as a64
from unicorn import arm_const as a32
from unicorn import unicorn_py3

from benchlib.elf import Elf
from benchlib.targets import Hotloop

PAGE = 0x1000


def _new(arch: str) -> unicorn.Uc:
    if arch == "arm64":
        uc = unicorn.Uc(unicorn.UC_ARCH_ARM64, unicorn.UC_MODE_ARM)
        uc.ctl_set_cpu_model(a64.UC_CPU_ARM64_A72)
    else:
        uc = unicorn.Uc(unicorn.UC_ARCH_ARM, unicorn.UC_MODE_ARM)
        uc.ctl_set_cpu_model(a32.UC_CPU_ARM_CORTEX_A15)
    return uc


def _count_reg(arch: str) -> int:
    return int(a64.UC_ARM64_REG_X0 if arch == "arm64" else a32.UC_ARM_REG_R0)


EMPTY_HOOK_C = (
    "void empty_block_hook(void *uc, unsigned long long address, unsigned size, void *data) {}\n"
)


def empty_block_hook(tmp: Path) -> Any:
    """A native block hook that does nothing, compiled here: the floor of counting the
    guest's instructions by block inside Unicorn, whatever the hook then does."""
    source, library = tmp / "empty_hook.c", tmp / "empty_hook.so"
    source.write_text(EMPTY_HOOK_C)
    subprocess.run(
        ["clang", "-O2", "-shared", "-fPIC", "-o", str(library), str(source)],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    return ctypes.CDLL(str(library)).empty_block_hook


def _add_native_block_hook(uc: unicorn.Uc, function: Any) -> None:
    handle = ctypes.c_size_t()
    uclib: Any = unicorn_py3.unicorn.uclib
    address = ctypes.cast(function, ctypes.c_void_p)
    err = uclib.uc_hook_add(
        uc._uch, ctypes.byref(handle), unicorn.UC_HOOK_BLOCK, address, None,
        ctypes.c_uint64(1), ctypes.c_uint64(0),
    )  # fmt: skip
    if err != 0:
        raise unicorn.UcError(err)


def hotloop_times(
    arch: str, elf: Elf, counts: tuple[int, int], block_hook: Any = None
) -> tuple[float, float]:
    """emu_start seconds for hotloop_countdown(n) for each n: the ELF's own bytes, no hooks
    (or only ``block_hook``, a native function), run from the function's entry until its
    return instruction (not executed)."""
    loop = Hotloop.of(elf)
    code = elf.read(loop.func, loop.ret + 4 - loop.func)
    uc = _new(arch)
    if block_hook is not None:
        _add_native_block_hook(uc, block_hook)
    base = loop.func & ~(PAGE - 1)
    uc.mem_map(base, 2 * PAGE)
    uc.mem_write(loop.func, code)
    reg = _count_reg(arch)
    times = []
    for n in counts:
        uc.reg_write(reg, n)
        start = time.perf_counter()
        uc.emu_start(loop.func, loop.ret)
        times.append(time.perf_counter() - start)
        if uc.reg_read(reg) != 0:
            raise RuntimeError(f"bare unicorn hotloop left count {uc.reg_read(reg)}")
    return times[0], times[1]


def _words(*words: int) -> bytes:
    return b"".join(struct.pack("<I", w) for w in words)


# loop: hvc #0xea1 ; subs x0/r0, #1 ; b.ne/bne loop ; (stop here)
HVC_LOOP = {
    "arm64": _words(0xD401D422, 0xF1000400, 0x54FFFFC1),
    "arm32": _words(0xE140EA71, 0xE2500001, 0x1AFFFFFC),
}
HVC_BASE = 0x4000_0000


def hvc_loop_times(arch: str, counts: tuple[int, int]) -> tuple[float, float]:
    """emu_start seconds for n round trips of `hvc #0xea1` through an empty Python
    UC_HOOK_INTR hook. EL2/Hyp is configured as xgdbvm does it (SCR NS|HCE, and RW on
    arm64), so that hvc at EL1/SVC raises EXCP_HVC with the PC already past it."""
    uc = _new(arch)
    if arch == "arm64":
        # (CRn, CRm, op0, op1, op2, value): SCR_EL3 = NS|HCE|RW, HCR_EL2 = RW; EL1h, DAIF masked
        uc.reg_write(a64.UC_ARM64_REG_CP_REG, (1, 1, 3, 6, 0, 1 | 1 << 8 | 1 << 10))
        uc.reg_write(a64.UC_ARM64_REG_CP_REG, (1, 1, 3, 4, 0, 1 << 31))
        uc.reg_write(a64.UC_ARM64_REG_PSTATE, 0x3C5)
    else:
        # (cp, is64, sec, CRn, CRm, opc1, opc2, value): SCR = NS|HCE; SVC, A/I/F masked
        uc.reg_write(a32.UC_ARM_REG_CP_REG, (15, 0, 0, 1, 1, 0, 0, 1 | 1 << 8))
        uc.reg_write(a32.UC_ARM_REG_CPSR, 0x400001D3)
    code = HVC_LOOP[arch]
    uc.mem_map(HVC_BASE, PAGE)
    uc.mem_write(HVC_BASE, code)
    calls = [0]

    def empty_hook(_uc: unicorn.Uc, _intno: int, _data: object) -> None:
        pass

    def counting_hook(_uc: unicorn.Uc, _intno: int, _data: object) -> None:
        calls[0] += 1

    # check once, with a counting hook, that every iteration really trapped
    check = uc.hook_add(unicorn.UC_HOOK_INTR, counting_hook)
    uc.reg_write(_count_reg(arch), 10)
    uc.emu_start(HVC_BASE, HVC_BASE + len(code))
    if calls[0] != 10:
        raise RuntimeError(f"hvc loop trapped {calls[0]} times for 10 iterations")
    uc.hook_del(check)
    uc.hook_add(unicorn.UC_HOOK_INTR, empty_hook)
    times = []
    for n in counts:
        uc.reg_write(_count_reg(arch), n)
        start = time.perf_counter()
        uc.emu_start(HVC_BASE, HVC_BASE + len(code))
        times.append(time.perf_counter() - start)
    return times[0], times[1]
