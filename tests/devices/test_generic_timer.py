"""Generic timer tests: registers at given counter values, output-line histories, deadlines."""

from __future__ import annotations

import logging

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xgdbvm.machine.devices.generic_timer import (
    DEFAULT_FREQUENCY,
    GenericTimer,
    TimerReg,
    TimerState,
)
from xgdbvm.machine.mmio import RecordingIrqLine

ENABLE, IMASK, ISTATUS = 1, 2, 4
MASK64 = (1 << 64) - 1


class Rig:
    def __init__(self, frequency: int = DEFAULT_FREQUENCY) -> None:
        self.phys = RecordingIrqLine()
        self.virt = RecordingIrqLine()
        self.timer = GenericTimer(self.phys, self.virt, frequency=frequency)


@pytest.fixture
def rig() -> Rig:
    return Rig()


def signed32(value: int) -> int:
    return value - (1 << 32) if value >> 31 else value


RESET = {
    TimerReg.CNTFRQ: 62_500_000,
    TimerReg.CNTP_CTL: 0,
    TimerReg.CNTP_CVAL: 0,
    TimerReg.CNTV_CTL: 0,
    TimerReg.CNTV_CVAL: 0,
    TimerReg.CNTVOFF: 0,
    TimerReg.CNTPCT: 1000,
    TimerReg.CNTVCT: 1000,
    TimerReg.CNTP_TVAL: (-1000) & 0xFFFF_FFFF,
    TimerReg.CNTV_TVAL: (-1000) & 0xFFFF_FFFF,
}


@pytest.mark.parametrize(("reg", "value"), sorted(RESET.items()))
def test_reset_values(rig: Rig, reg: TimerReg, value: int) -> None:
    assert rig.timer.read(reg, now=1000) == value
    assert rig.phys.history == rig.virt.history == []


def test_reset_restores_registers_and_drops_lines(rig: Rig) -> None:
    t = rig.timer
    t.write(TimerReg.CNTVOFF, 50, now=0)
    for ctl, cval in (
        (TimerReg.CNTP_CTL, TimerReg.CNTP_CVAL),
        (TimerReg.CNTV_CTL, TimerReg.CNTV_CVAL),
    ):
        t.write(cval, 10, now=100)
        t.write(ctl, ENABLE, now=100)
    assert rig.phys.level and rig.virt.level
    t.reset()
    assert rig.phys.history == rig.virt.history == [True, False]
    for reg, value in RESET.items():
        assert t.read(reg, now=1000) == value, reg.name
    assert rig.phys.history == rig.virt.history == [True, False]


def test_frequency_is_configurable_and_checked() -> None:
    assert Rig(frequency=24_000_000).timer.read(TimerReg.CNTFRQ, now=0) == 24_000_000
    with pytest.raises(ValueError):
        GenericTimer(frequency=0)
    with pytest.raises(ValueError):
        GenericTimer(frequency=1 << 32)


def test_register_encodings_are_the_aarch64_sysreg_fields() -> None:
    # CNTV_CTL_EL0 is S3_3_C14_C3_1.
    assert TimerReg.CNTV_CTL == (3 << 14) | (3 << 11) | (14 << 7) | (3 << 3) | 1
    assert TimerReg.CNTVOFF == (3 << 14) | (4 << 11) | (14 << 7) | (0 << 3) | 3


# ------------------------------------------------------------------ TVAL and CVAL


@pytest.mark.parametrize(
    ("tval", "cval"),
    [
        (TimerReg.CNTP_TVAL, TimerReg.CNTP_CVAL),
        (TimerReg.CNTV_TVAL, TimerReg.CNTV_CVAL),
    ],
)
def test_tval_is_a_signed_view_of_cval_minus_count(
    rig: Rig, tval: TimerReg, cval: TimerReg
) -> None:
    t = rig.timer
    t.write(tval, 500, now=10_000)
    assert t.read(cval, now=10_000) == 10_500
    assert t.read(tval, now=10_200) == 300
    assert signed32(t.read(tval, now=10_700)) == -200
    t.write(tval, 0xFFFF_FF9C, now=10_000)  # -100
    assert t.read(cval, now=0) == 9_900
    t.write(cval, 1 << 40, now=0)
    assert t.read(tval, now=0) == 0  # only the low 32 bits of CVAL - count
    t.write(tval, 0x1_0000_0005, now=7)  # bits above 31 of the written value are ignored
    assert t.read(cval, now=0) == 12


def test_tval_write_near_zero_wraps_cval_modulo_2_64(rig: Rig) -> None:
    rig.timer.write(TimerReg.CNTP_TVAL, (-10) & 0xFFFF_FFFF, now=3)
    assert rig.timer.read(TimerReg.CNTP_CVAL, now=3) == MASK64 - 6


def test_virtual_timer_counts_from_cntvoff(rig: Rig) -> None:
    t = rig.timer
    t.write(TimerReg.CNTVOFF, 1_000_000, now=0)
    assert t.read(TimerReg.CNTVCT, now=1_000_250) == 250
    assert t.read(TimerReg.CNTPCT, now=1_000_250) == 1_000_250
    t.write(TimerReg.CNTV_TVAL, 100, now=1_000_250)
    assert t.read(TimerReg.CNTV_CVAL, now=0) == 350
    t.write(TimerReg.CNTV_CTL, ENABLE, now=1_000_250)
    assert t.next_deadline(1_000_250) == 1_000_350
    t.update(1_000_349)
    assert rig.virt.history == []
    t.update(1_000_350)
    assert rig.virt.history == [True]
    assert t.read(TimerReg.CNTVCT, now=5) == (5 - 1_000_000) & MASK64


# ------------------------------------------------------------------ ISTATUS, IMASK, lines


def test_istatus_needs_enable_and_follows_the_comparison(rig: Rig) -> None:
    t = rig.timer
    t.write(TimerReg.CNTP_CVAL, 100, now=0)
    assert t.read(TimerReg.CNTP_CTL, now=200) == 0  # disabled: ISTATUS reads 0
    t.write(TimerReg.CNTP_CTL, ENABLE, now=50)
    assert t.read(TimerReg.CNTP_CTL, now=99) == ENABLE
    assert t.read(TimerReg.CNTP_CTL, now=100) == ENABLE | ISTATUS
    t.write(TimerReg.CNTP_CTL, ENABLE | IMASK | ISTATUS, now=100)  # ISTATUS is read-only
    assert t.read(TimerReg.CNTP_CTL, now=100) == ENABLE | IMASK | ISTATUS
    t.write(TimerReg.CNTP_CTL, 0xFFFF_FFF8 | ENABLE, now=100)
    assert t.read(TimerReg.CNTP_CTL, now=100) == ENABLE | ISTATUS


def test_line_follows_enable_imask_and_cval_over_time(rig: Rig) -> None:
    t = rig.timer
    t.write(TimerReg.CNTP_CVAL, 1000, now=0)
    t.write(TimerReg.CNTP_CTL, ENABLE, now=0)
    for now in (0, 500, 999):
        t.update(now)
    assert rig.phys.history == []
    t.update(1000)
    assert rig.phys.history == [True]
    t.write(TimerReg.CNTP_CTL, ENABLE | IMASK, now=1001)  # the guest masks it in its handler
    assert rig.phys.history == [True, False]
    assert t.read(TimerReg.CNTP_CTL, now=1002) & ISTATUS  # still firing, just masked
    t.write(TimerReg.CNTP_TVAL, 1000, now=1500)  # re-arm, then unmask
    t.write(TimerReg.CNTP_CTL, ENABLE, now=1500)
    assert rig.phys.history == [True, False]
    t.update(2500)
    assert rig.phys.history == [True, False, True]
    t.write(TimerReg.CNTP_CTL, 0, now=2600)
    assert rig.phys.history == [True, False, True, False]
    assert rig.virt.history == []


def test_writing_cval_into_the_past_fires_at_once_and_future_clears(rig: Rig) -> None:
    t = rig.timer
    t.write(TimerReg.CNTV_CTL, ENABLE, now=5000)
    assert rig.virt.history == [True]  # CVAL 0 <= count
    t.write(TimerReg.CNTV_CVAL, 9000, now=5000)
    assert rig.virt.history == [True, False]
    t.write(TimerReg.CNTV_CVAL, 4000, now=5000)
    assert rig.virt.history == [True, False, True]


def test_read_samples_the_counter_and_drives_the_line(rig: Rig) -> None:
    t = rig.timer
    t.write(TimerReg.CNTP_CVAL, 100, now=0)
    t.write(TimerReg.CNTP_CTL, ENABLE, now=0)
    assert t.read(TimerReg.CNTP_CTL, now=150) & ISTATUS
    assert rig.phys.level


def test_comparison_is_unsigned_64_bit(rig: Rig) -> None:
    t = rig.timer
    t.write(TimerReg.CNTP_CVAL, 1 << 63, now=0)
    t.write(TimerReg.CNTP_CTL, ENABLE, now=(1 << 63) - 1)
    assert not rig.phys.level
    t.update(1 << 63)
    assert rig.phys.level


def test_connect_later_drives_the_current_level() -> None:
    timer = GenericTimer()
    timer.write(TimerReg.CNTV_CTL, ENABLE, now=10)
    phys, virt = RecordingIrqLine(), RecordingIrqLine()
    timer.connect(phys, virt)
    assert (phys.history, virt.history) == ([], [True])


# ------------------------------------------------------------------ next_deadline


def test_next_deadline_is_the_earliest_enabled_unmasked_timer(rig: Rig) -> None:
    t = rig.timer
    assert t.next_deadline(0) is None
    t.write(TimerReg.CNTP_CVAL, 5000, now=0)
    t.write(TimerReg.CNTV_CVAL, 3000, now=0)
    assert t.next_deadline(0) is None  # neither enabled
    t.write(TimerReg.CNTP_CTL, ENABLE, now=0)
    assert t.next_deadline(0) == 5000
    t.write(TimerReg.CNTV_CTL, ENABLE | IMASK, now=0)
    assert t.next_deadline(0) == 5000  # masked timers wake nobody
    t.write(TimerReg.CNTV_CTL, ENABLE, now=0)
    assert t.next_deadline(0) == 3000
    t.write(TimerReg.CNTVOFF, 2500, now=0)
    assert t.next_deadline(0) == 5000  # the virtual one now fires at 3000 + 2500
    assert t.next_deadline(4999) == 5000
    assert t.next_deadline(5000) == 5500  # the physical one fires already: not an event
    assert t.next_deadline(5500) is None


def test_next_deadline_fast_forward_fires_exactly_then(rig: Rig) -> None:
    t = rig.timer
    t.write(TimerReg.CNTV_TVAL, 62_500, now=1_000)  # 1 ms at 62.5 MHz
    t.write(TimerReg.CNTV_CTL, ENABLE, now=1_000)
    deadline = t.next_deadline(1_000)
    assert deadline == 63_500
    t.update(deadline - 1)
    assert not rig.virt.level
    t.update(deadline)
    assert rig.virt.history == [True]


def test_next_deadline_beyond_the_counter_range_is_none(rig: Rig) -> None:
    t = rig.timer
    t.write(TimerReg.CNTVOFF, (1 << 64) - 10, now=0)  # virtual count = now + 10
    t.write(TimerReg.CNTV_CVAL, MASK64, now=0)
    t.write(TimerReg.CNTV_CTL, ENABLE, now=0)
    assert t.next_deadline(0) == MASK64 - 10
    t.write(TimerReg.CNTVOFF, 5, now=0)  # virtual count = now - 5
    assert t.next_deadline(10) is None  # reaching CVAL needs a physical count past 2**64


# ------------------------------------------------------------------ misc


def test_writes_to_counters_are_ignored_and_logged_once(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="xgdbvm.timer"):
        for _ in range(3):
            rig.timer.write(TimerReg.CNTPCT, 5, now=100)
            rig.timer.write(TimerReg.CNTVCT, 5, now=100)
    assert rig.timer.read(TimerReg.CNTPCT, now=100) == 100
    assert len(caplog.records) == 2


def test_describe_reports_both_timers_without_side_effects(rig: Rig) -> None:
    t = rig.timer
    t.write(TimerReg.CNTP_CVAL, 100, now=0)
    t.write(TimerReg.CNTP_CTL, ENABLE, now=0)
    assert t.describe(now=150)[0] == TimerState(
        name="phys",
        enabled=True,
        masked=False,
        istatus=True,
        cval=100,
        count=150,
        tval=-50,
        line=False,  # describe does not drive lines
    )
    assert rig.phys.history == []
    t.update(150)
    phys, virt = t.describe()
    assert phys.line and phys.count == 150
    assert (virt.name, virt.enabled, virt.line) == ("virt", False, False)


# ------------------------------------------------------------------ properties


@settings(max_examples=300, deadline=None)
@given(
    cval=st.integers(0, MASK64),
    offset=st.integers(0, MASK64),
    ctl=st.integers(0, 7),
    now=st.integers(0, MASK64),
)
def test_line_and_deadline_agree_with_the_architectural_condition(
    cval: int, offset: int, ctl: int, now: int
) -> None:
    rig = Rig()
    t = rig.timer
    t.write(TimerReg.CNTVOFF, offset, now=0)
    t.write(TimerReg.CNTV_CVAL, cval, now=0)
    t.write(TimerReg.CNTV_CTL, ctl, now=now)
    count = (now - offset) & MASK64
    firing = bool(ctl & ENABLE) and not ctl & IMASK and count >= cval
    assert rig.virt.level == firing
    assert bool(t.read(TimerReg.CNTV_CTL, now) & ISTATUS) == (bool(ctl & ENABLE) and count >= cval)
    deadline = t.next_deadline(now)
    if deadline is not None:
        assert deadline > now
        t.update(deadline - 1)
        assert not rig.virt.level
        t.update(deadline)
        assert rig.virt.level


@settings(max_examples=300, deadline=None)
@given(now=st.integers(0, MASK64), tval=st.integers(-(1 << 31), (1 << 31) - 1))
def test_tval_write_then_read_round_trips(now: int, tval: int) -> None:
    t = GenericTimer()
    t.write(TimerReg.CNTP_TVAL, tval & 0xFFFF_FFFF, now=now)
    assert signed32(t.read(TimerReg.CNTP_TVAL, now=now)) == tval
    assert t.read(TimerReg.CNTP_CVAL, now=now) == (now + tval) & MASK64
