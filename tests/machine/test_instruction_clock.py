"""The native instruction clock on a bare Unicorn vCPU: counts, deadlines, stops, and
the interrupt window, both ways of keeping it really executed: the inline counter of
the libunicorn ./scripts/bootstrap builds, and the C block hook of
xgdbvm/machine/native/tick.c that a stock libunicorn needs."""

from __future__ import annotations

import struct
import threading
import time

import pytest
import unicorn
import unicorn.arm64_const as a64
import unicorn.arm_const as a32

from xgdbvm.machine.ucnative import ClockKind, InstructionClock

BASE = 0x10000
PSTATE_I = 1 << 7
# loop: subs x0, x0, #1 ; b.ne loop ; msr daifclr, #2 ; b .  (then the stop address)
LOOP = struct.pack("<4I", 0xF1000400, 0x54FFFFE1, 0xD50342FF, 0x14000000)
AFTER_LOOP = BASE + 8  # the msr: where the counting loop ends
SPIN = BASE + 12  # b . : runs until stopped


@pytest.fixture(params=list(ClockKind), ids=lambda kind: kind.name.lower())
def kind(request: pytest.FixtureRequest) -> ClockKind:
    return request.param  # type: ignore[no-any-return]


def _vcpu(
    iterations: int, kind: ClockKind, *, masked: bool = False
) -> tuple[unicorn.Uc, InstructionClock]:
    uc = unicorn.Uc(unicorn.UC_ARCH_ARM64, unicorn.UC_MODE_ARM)
    uc.mem_map(BASE, 0x1000)
    uc.mem_write(BASE, LOOP)
    uc.reg_write(a64.UC_ARM64_REG_X0, iterations)
    if masked:
        uc.reg_write(a64.UC_ARM64_REG_PSTATE, uc.reg_read(a64.UC_ARM64_REG_PSTATE) | PSTATE_I)
    return uc, InstructionClock(uc, a64.UC_ARM64_REG_PSTATE, PSTATE_I, kind=kind)


def test_the_bootstrapped_libunicorn_counts_inline() -> None:
    # scripts/unicorn/build installs it; without it a free-running guest runs at
    # about half speed (the block hook), and this is where that shows.
    uc = unicorn.Uc(unicorn.UC_ARCH_ARM64, unicorn.UC_MODE_ARM)
    assert InstructionClock(uc, a64.UC_ARM64_REG_PSTATE, PSTATE_I).kind is ClockKind.INLINE


def test_counts_every_instruction_by_block(kind: ClockKind) -> None:
    uc, clock = _vcpu(1000, kind)
    uc.emu_start(BASE, AFTER_LOOP)
    assert uc.reg_read(a64.UC_ARM64_REG_X0) == 0
    assert clock.instructions == 2000  # one block of subs + b.ne per iteration
    assert not clock.deadline_hit


def test_the_instruction_at_the_stop_address_is_not_counted(kind: ClockKind) -> None:
    uc, clock = _vcpu(1000, kind)
    uc.emu_start(BASE, BASE + 4)  # the block is cut at the b.ne, which does not run
    assert uc.reg_read(a64.UC_ARM64_REG_X0) == 999
    assert uc.reg_read(a64.UC_ARM64_REG_PC) == BASE + 4
    assert clock.instructions == 1


def test_a_deadline_stops_at_the_first_block_start_at_or_after_it(kind: ClockKind) -> None:
    uc, clock = _vcpu(1000, kind)
    clock.set_deadline(101)
    uc.emu_start(BASE, AFTER_LOOP)
    assert clock.deadline_hit
    assert clock.instructions == 102  # blocks of two: 100 was short of it
    assert uc.reg_read(a64.UC_ARM64_REG_X0) == 1000 - 50  # the 51st block did not run
    clock.set_deadline(None)  # and the run goes on from there to the end
    uc.emu_start(uc.reg_read(a64.UC_ARM64_REG_PC), AFTER_LOOP)
    assert not clock.deadline_hit
    assert uc.reg_read(a64.UC_ARM64_REG_X0) == 0
    assert clock.instructions == 2002


def test_stop_soon_from_another_thread_ends_an_endless_run(kind: ClockKind) -> None:
    uc, clock = _vcpu(1, kind)
    stopper = threading.Timer(0.05, clock.stop_soon)
    stopper.start()
    started = time.monotonic()
    uc.emu_start(SPIN, 0)  # b . for ever, unless the clock stops it
    stopper.join()
    assert clock.deadline_hit
    assert time.monotonic() - started < 10
    assert uc.reg_read(a64.UC_ARM64_REG_PC) == SPIN


def test_a_waiting_interrupt_stops_the_run_where_the_vcpu_unmasks(kind: ClockKind) -> None:
    uc, clock = _vcpu(500, kind, masked=True)
    clock.watch_irq_window(True)
    clock.set_deadline(None)
    uc.emu_start(BASE, 0)  # without the window, b . would spin for ever
    assert clock.irq_window_opened and not clock.deadline_hit
    assert uc.reg_read(a64.UC_ARM64_REG_X0) == 0  # the whole loop ran masked
    assert uc.reg_read(a64.UC_ARM64_REG_PC) == SPIN  # stopped at the block after the msr
    assert not uc.reg_read(a64.UC_ARM64_REG_PSTATE) & PSTATE_I


def test_no_waiting_interrupt_means_no_window_check(kind: ClockKind) -> None:
    uc, clock = _vcpu(500, kind, masked=True)
    clock.watch_irq_window(True)
    clock.watch_irq_window(False)  # the interrupt was taken meanwhile
    clock.set_deadline(5000)
    uc.emu_start(BASE, 0)
    assert clock.deadline_hit and not clock.irq_window_opened


# loop: add.w r1, r1, #1 (32-bit) ; subs r0, #1 ; bne loop ; b .  (Thumb)
THUMB_LOOP = struct.pack("<5H", 0xF101, 0x0101, 0x3801, 0xD1FB, 0xE7FE)


@pytest.mark.parametrize(
    ("kind", "counted"),
    [(ClockKind.INLINE, 30), (ClockKind.BLOCK_HOOK, 40)],
    ids=["inline", "block_hook"],
)
def test_thumb_counts(kind: ClockKind, counted: int) -> None:
    uc = unicorn.Uc(unicorn.UC_ARCH_ARM, unicorn.UC_MODE_THUMB)
    uc.mem_map(BASE, 0x1000)
    uc.mem_write(BASE, THUMB_LOOP)
    uc.reg_write(a32.UC_ARM_REG_R0, 10)
    clock = InstructionClock(uc, a32.UC_ARM_REG_CPSR, PSTATE_I, instruction_shift=1, kind=kind)
    uc.emu_start(BASE | 1, BASE + 8)
    assert uc.reg_read(a32.UC_ARM_REG_R1) == 10
    # Ten blocks of three instructions in eight bytes: the inline count is exact; the
    # block hook sees bytes and counts 2-byte units, the T32 approximation.
    assert clock.instructions == counted


def test_an_unknown_instruction_width_is_refused() -> None:
    uc = unicorn.Uc(unicorn.UC_ARCH_ARM64, unicorn.UC_MODE_ARM)
    with pytest.raises(ValueError, match="no tick hook"):
        InstructionClock(uc, a64.UC_ARM64_REG_PSTATE, PSTATE_I, instruction_shift=3)
