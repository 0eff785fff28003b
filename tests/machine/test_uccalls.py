"""The register and run calls of native/uccalls.c, through ucnative, on a real Unicorn
vCPU: core and system register values round-trip, a run's error comes back as the
binding's error, and emu_start keeps the binding's contract (a hook's exception
surfaces, other threads run meanwhile)."""

from __future__ import annotations

import struct
import threading

import pytest
import unicorn
import unicorn.arm64_const as a64
import unicorn.arm_const as a32

from xgdbvm.machine import ucnative
from xgdbvm.machine.cpu.arm32 import Cp15
from xgdbvm.machine.cpu.arm64 import SysReg
from xgdbvm.machine.ucnative import RegisterFile, SystemRegisterFile, emu_start

BASE = 0x10000
# add x1, x1, #1 ; b .-4 (a loop that never ends by itself) ; hvc #0
LOOP = struct.pack("<3I", 0x91000421, 0x17FFFFFF, 0xD4000002)
U64 = (1 << 64) - 1


def _arm64() -> tuple[unicorn.Uc, RegisterFile]:
    uc = unicorn.Uc(unicorn.UC_ARCH_ARM64, unicorn.UC_MODE_ARM)
    uc.mem_map(BASE, 0x1000)
    uc.mem_write(BASE, LOOP)
    return uc, RegisterFile(uc, U64)


def test_reads_and_writes_round_trip_full_width() -> None:
    uc, regs = _arm64()
    regs.write(a64.UC_ARM64_REG_X3, 0xFEDC_BA98_7654_3210)
    regs.write(a64.UC_ARM64_REG_X4, -1)  # taken modulo 2**64, as a register holds it
    assert regs.read(a64.UC_ARM64_REG_X3) == 0xFEDC_BA98_7654_3210
    assert uc.reg_read(a64.UC_ARM64_REG_X4) == U64
    assert regs.read_many((a64.UC_ARM64_REG_X4, a64.UC_ARM64_REG_X3)) == (
        U64,
        0xFEDC_BA98_7654_3210,
    )


def test_arm32_registers_are_masked_to_32_bits() -> None:
    uc = unicorn.Uc(unicorn.UC_ARCH_ARM, unicorn.UC_MODE_ARM)
    regs = RegisterFile(uc, 0xFFFF_FFFF)
    regs.write(a32.UC_ARM_REG_R2, 0x1_2345_6789)
    assert regs.read(a32.UC_ARM_REG_R2) == 0x2345_6789
    assert regs.read_many((a32.UC_ARM_REG_R2, a32.UC_ARM_REG_R3)) == (0x2345_6789, 0)


def test_a_batch_is_bounded() -> None:
    _, regs = _arm64()
    assert len(regs.read_many((a64.UC_ARM64_REG_X0,) * 64)) == 64
    with pytest.raises(ValueError, match="at most 64"):
        regs.read_many((a64.UC_ARM64_REG_X0,) * 65)


def test_emu_start_runs_counts_and_reports_status() -> None:
    uc, regs = _arm64()
    emu_start(uc, BASE, 0, count=9)  # 5 adds and 4 branches
    assert regs.read(a64.UC_ARM64_REG_X1) == 5
    with pytest.raises(unicorn.UcError) as caught:
        emu_start(uc, 0x8000_0000, 0, count=1)  # nothing mapped there
    assert caught.value.errno == unicorn.UC_ERR_FETCH_UNMAPPED


def test_emu_start_raises_what_a_python_hook_raised() -> None:
    uc, _ = _arm64()

    def hook(uc: unicorn.Uc, address: int, size: int, user_data: object) -> None:
        raise LookupError("from the hook")

    uc.hook_add(unicorn.UC_HOOK_CODE, hook)
    with pytest.raises(LookupError, match="from the hook"):
        emu_start(uc, BASE, 0, count=3)


def test_emu_start_lets_other_threads_run_and_stop_it() -> None:
    # The loop never ends by itself: only a stop from this thread, which needs the
    # GIL while the run is under way, can end it.
    uc, regs = _arm64()
    runner = threading.Thread(target=emu_start, args=(uc, BASE, 0))
    runner.start()
    for _ in range(2000):
        if regs.read(a64.UC_ARM64_REG_X1) > 1000:
            break
        threading.Event().wait(0.001)
    uc.emu_stop()
    runner.join(timeout=10)
    assert not runner.is_alive()
    assert regs.read(a64.UC_ARM64_REG_X1) > 1000


def test_system_registers_round_trip_in_both_selector_layouts() -> None:
    # The binding's own structs are the reference for where each field and the value go.
    uc64 = unicorn.Uc(unicorn.UC_ARCH_ARM64, unicorn.UC_MODE_ARM)
    sysregs64 = SystemRegisterFile(uc64, a64.UC_ARM64_REG_CP_REG)
    vbar = SysReg.VBAR_EL1.cp_tuple
    sysregs64.write(vbar, 0xFFFF_0000_4008_0800)
    assert uc64.reg_read(a64.UC_ARM64_REG_CP_REG, (*vbar, 0)) == 0xFFFF_0000_4008_0800
    uc64.reg_write(a64.UC_ARM64_REG_CP_REG, (*vbar, 0x4000_0000))
    assert sysregs64.read(vbar) == 0x4000_0000

    uc32 = unicorn.Uc(unicorn.UC_ARCH_ARM, unicorn.UC_MODE_ARM)
    uc32.ctl_set_cpu_model(a32.UC_CPU_ARM_CORTEX_A15)
    sysregs32 = SystemRegisterFile(uc32, a32.UC_ARM_REG_CP_REG)
    ttbr0_64 = (15, 1, 0, 0, 2, 0, 0)  # the LPAE 64-bit form (MRRC p15, 0, ..., c2)
    sysregs32.write(ttbr0_64, 0x12_3456_7000)
    assert uc32.reg_read(a32.UC_ARM_REG_CP_REG, (*ttbr0_64, 0)) == 0x12_3456_7000
    assert sysregs32.read(Cp15.TTBR0.cp_tuple) == 0x3456_7000  # its 32-bit view


def test_a_selector_tuple_is_bounded() -> None:
    uc = unicorn.Uc(unicorn.UC_ARCH_ARM64, unicorn.UC_MODE_ARM)
    with pytest.raises(TypeError, match="at most 7"):
        SystemRegisterFile(uc, a64.UC_ARM64_REG_CP_REG).read((0,) * 8)


def test_a_null_engine_is_refused_not_dereferenced() -> None:
    with pytest.raises(ValueError, match="null"):
        ucnative._uccalls.reg_read(0, a64.UC_ARM64_REG_X0)
    with pytest.raises(ValueError, match="null"):
        ucnative._uccalls.emu_start(0, BASE, 0, 0, 1)
