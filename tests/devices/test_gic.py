"""GICv2 device tests, qtest style: one Gicv2 alone, register accesses, nIRQ histories."""

from __future__ import annotations

import logging

import pytest

from xgdbvm.machine.devices.gic import (
    GICC_SIZE,
    GICD_SIZE,
    SPURIOUS_INTID,
    GiccReg,
    GicdReg,
    Gicv2,
    GicView,
    IrqState,
)
from xgdbvm.machine.mmio import MmioDevice, RecordingIrqLine

PPI_VTIMER = 27
PPI_EVTCHN = 31
SPI_UART = 32


class Rig:
    """A GIC with recorded outputs and short-hands for its registers."""

    def __init__(self, num_cpus: int = 1, num_spis: int = 32) -> None:
        self.out = [RecordingIrqLine() for _ in range(num_cpus)]
        self.gic = Gicv2(num_cpus=num_cpus, num_spis=num_spis, outputs=self.out)

    def gicd(self, cpu: int = 0) -> GicView:
        return self.gic.distributor_view(cpu)

    def gicc(self, cpu: int = 0) -> GicView:
        return self.gic.cpu_interface(cpu)

    def dread(self, offset: int, cpu: int = 0, size: int = 4) -> int:
        return self.gicd(cpu).read(offset, size)

    def dwrite(self, offset: int, value: int, cpu: int = 0, size: int = 4) -> None:
        self.gicd(cpu).write(offset, size, value)

    def cread(self, offset: int, cpu: int = 0) -> int:
        return self.gicc(cpu).read(offset, 4)

    def cwrite(self, offset: int, value: int, cpu: int = 0) -> None:
        self.gicc(cpu).write(offset, 4, value)

    def enable(self, *intids: int, cpu: int = 0) -> None:
        for intid in intids:
            self.dwrite(GicdReg.ISENABLER + 4 * (intid // 32), 1 << (intid % 32), cpu)

    def prio(self, intid: int, priority: int, cpu: int = 0) -> None:
        self.dwrite(GicdReg.IPRIORITYR + intid, priority, cpu, size=1)

    def pend(self, intid: int, cpu: int = 0) -> None:
        self.dwrite(GicdReg.ISPENDR + 4 * (intid // 32), 1 << (intid % 32), cpu)

    def start(self, pmr: int = 0xF8) -> None:
        """Distributor and every CPU interface on, PMR open."""
        self.dwrite(GicdReg.CTLR, 1)
        for cpu in range(self.gic.num_cpus):
            self.cwrite(GiccReg.CTLR, 1, cpu)
            self.cwrite(GiccReg.PMR, pmr, cpu)

    def ack(self, cpu: int = 0) -> int:
        return self.cread(GiccReg.IAR, cpu)

    def eoi(self, value: int, cpu: int = 0) -> None:
        self.cwrite(GiccReg.EOIR, value, cpu)

    def state(self, intid: int, cpu: int = 0) -> IrqState:
        return self.gic.describe(cpu)[intid]


@pytest.fixture
def rig() -> Rig:
    return Rig()


# ------------------------------------------------------------------ shape


def test_views_are_mmio_devices_with_the_xen_window_sizes(rig: Rig) -> None:
    gicd: MmioDevice = rig.gic.distributor
    gicc: MmioDevice = rig.gic.cpu_interface(0)
    assert (gicd.mmio_size, gicc.mmio_size) == (GICD_SIZE, GICC_SIZE) == (0x1000, 0x2000)


def test_constructor_rejects_impossible_configurations() -> None:
    with pytest.raises(ValueError):
        Gicv2(num_cpus=0)
    with pytest.raises(ValueError):
        Gicv2(num_cpus=9)
    with pytest.raises(ValueError):
        Gicv2(num_spis=989)
    with pytest.raises(ValueError):
        Gicv2(num_cpus=2, outputs=[RecordingIrqLine()])


# ------------------------------------------------------------------ reset values

GICD_RESET = {
    GicdReg.CTLR: 0,
    GicdReg.TYPER: 0x1,  # one CPU, ITLinesNumber 1 (64 INTIDs)
    GicdReg.IIDR: 0x0000043B,
    GicdReg.IGROUPR: 0,
    GicdReg.IGROUPR + 4: 0,
    GicdReg.ISENABLER: 0,
    GicdReg.ISENABLER + 4: 0,
    GicdReg.ICENABLER: 0,
    GicdReg.ICENABLER + 4: 0,
    GicdReg.ISPENDR: 0,
    GicdReg.ICPENDR + 4: 0,
    GicdReg.ISACTIVER: 0,
    GicdReg.ICACTIVER + 4: 0,
    GicdReg.ICFGR: 0xAAAAAAAA,
    GicdReg.ICFGR + 4: 0,
    GicdReg.ICFGR + 8: 0,
    GicdReg.ICFGR + 12: 0,
    GicdReg.NSACR: 0,
    GicdReg.SGIR: 0,
    **{GicdReg.IPRIORITYR + 4 * i: 0 for i in range(16)},
    **{GicdReg.ITARGETSR + 4 * i: 0x01010101 for i in range(16)},
    **{GicdReg.CPENDSGIR + 4 * i: 0 for i in range(4)},
    **{GicdReg.SPENDSGIR + 4 * i: 0 for i in range(4)},
    0xFD0: 0x04,
    0xFD4: 0,
    0xFD8: 0,
    0xFDC: 0,
    0xFE0: 0x90,
    0xFE4: 0xB4,
    GicdReg.ICPIDR2: 0x2B,
    0xFEC: 0,
    0xFF0: 0x0D,
    0xFF4: 0xF0,
    0xFF8: 0x05,
    0xFFC: 0xB1,
}

GICC_RESET = {
    GiccReg.CTLR: 0,
    GiccReg.PMR: 0,
    GiccReg.BPR: 2,
    GiccReg.IAR: SPURIOUS_INTID,
    GiccReg.RPR: 0xFF,
    GiccReg.HPPIR: SPURIOUS_INTID,
    GiccReg.ABPR: 0,
    GiccReg.AIAR: SPURIOUS_INTID,
    GiccReg.AHPPIR: SPURIOUS_INTID,
    **{GiccReg.APR + 4 * i: 0 for i in range(4)},
    **{GiccReg.NSAPR + 4 * i: 0 for i in range(4)},
    GiccReg.IIDR: 0x0202143B,
}


@pytest.mark.parametrize(("offset", "value"), sorted(GICD_RESET.items()))
def test_gicd_reset_value(rig: Rig, offset: int, value: int) -> None:
    assert rig.dread(offset) == value


@pytest.mark.parametrize(("offset", "value"), sorted(GICC_RESET.items()))
def test_gicc_reset_value(rig: Rig, offset: int, value: int) -> None:
    assert rig.cread(offset) == value


def test_typer_reports_cpus_and_it_lines() -> None:
    assert Rig(num_cpus=4, num_spis=64).dread(GicdReg.TYPER) == (3 << 5) | 2
    assert Rig(num_spis=0).dread(GicdReg.TYPER) == 0
    assert Rig(num_spis=33).dread(GicdReg.TYPER) == 2


def test_reset_restores_every_register_and_drops_the_line(rig: Rig) -> None:
    rig.start()
    rig.enable(SPI_UART, PPI_VTIMER)
    rig.prio(SPI_UART, 0x80)
    rig.dwrite(GicdReg.ICFGR + 8, 0xFFFFFFFF)
    rig.gic.set_irq(SPI_UART, True)
    rig.cwrite(GiccReg.BPR, 5)
    rig.pend(PPI_VTIMER)
    assert rig.ack() == PPI_VTIMER  # priority 0: now running, nothing can preempt
    rig.eoi(PPI_VTIMER)
    rig.dwrite(GicdReg.ISACTIVER + 4, 1 << 8)
    assert rig.out[0].level
    rig.gic.reset()
    assert rig.out[0].history[-1] is False
    for offset, value in GICD_RESET.items():
        assert rig.dread(offset) == value, hex(offset)
    for offset, value in GICC_RESET.items():
        assert rig.cread(offset) == value, hex(offset)


def test_view_reset_resets_the_whole_gic(rig: Rig) -> None:
    rig.start()
    rig.gic.cpu_interface(0).reset()
    assert rig.dread(GicdReg.CTLR) == 0
    assert rig.cread(GiccReg.CTLR) == 0


# ------------------------------------------------------------------ distributor state


def test_enable_set_and_clear(rig: Rig) -> None:
    rig.dwrite(GicdReg.ISENABLER + 4, 0x0000_0005)
    rig.dwrite(GicdReg.ISENABLER, 0x8800_0001)
    assert rig.dread(GicdReg.ISENABLER + 4) == rig.dread(GicdReg.ICENABLER + 4) == 0x5
    assert rig.dread(GicdReg.ICENABLER) == 0x8800_0001
    rig.dwrite(GicdReg.ICENABLER + 4, 0x1)
    rig.dwrite(GicdReg.ICENABLER, 0x8000_0000)
    assert rig.dread(GicdReg.ISENABLER + 4) == 0x4
    assert rig.dread(GicdReg.ISENABLER) == 0x0800_0001


def test_pending_set_and_clear_but_sgi_bits_are_wi(rig: Rig) -> None:
    rig.dwrite(GicdReg.ISPENDR, 0xFFFF_FFFF)
    rig.dwrite(GicdReg.ISPENDR + 4, 0x3)
    assert rig.dread(GicdReg.ISPENDR) == 0xFFFF_0000
    assert rig.dread(GicdReg.ICPENDR + 4) == 0x3
    rig.dwrite(GicdReg.ICPENDR + 4, 0x1)
    rig.dwrite(GicdReg.ICPENDR, 0x8000_0000)
    assert rig.dread(GicdReg.ISPENDR + 4) == 0x2
    assert rig.dread(GicdReg.ISPENDR) == 0x7FFF_0000


def test_active_set_and_clear(rig: Rig) -> None:
    rig.dwrite(GicdReg.ISACTIVER, 0x8000_0002)
    rig.dwrite(GicdReg.ISACTIVER + 4, 0x10)
    assert rig.dread(GicdReg.ICACTIVER) == 0x8000_0002
    assert rig.state(36).active
    rig.dwrite(GicdReg.ICACTIVER, 0x2)
    rig.dwrite(GicdReg.ICACTIVER + 4, 0x10)
    assert rig.dread(GicdReg.ISACTIVER) == 0x8000_0000
    assert rig.dread(GicdReg.ISACTIVER + 4) == 0


def test_distributor_ctlr_keeps_only_the_enable_bit(rig: Rig) -> None:
    rig.dwrite(GicdReg.CTLR, 0xFFFF_FFFF)
    assert rig.dread(GicdReg.CTLR) == 1


def test_read_only_and_raz_wi_registers_ignore_writes(rig: Rig) -> None:
    for offset in (GicdReg.TYPER, GicdReg.IIDR, GicdReg.IGROUPR, GicdReg.NSACR, GicdReg.ICPIDR2):
        before = rig.dread(offset)
        rig.dwrite(offset, 0xFFFF_FFFF)
        assert rig.dread(offset) == before


def test_priority_bytes_words_and_all_eight_bits_kept(rig: Rig) -> None:
    rig.prio(33, 0xA7)
    assert rig.dread(GicdReg.IPRIORITYR + 32) == 0x0000_A700
    assert rig.dread(GicdReg.IPRIORITYR + 33, size=1) == 0xA7
    rig.dwrite(GicdReg.IPRIORITYR + 4, 0x11223344)
    assert [rig.dread(GicdReg.IPRIORITYR + 4 + i, size=1) for i in range(4)] == [
        0x44,
        0x33,
        0x22,
        0x11,
    ]
    assert rig.state(7).priority == 0x11


def test_priorities_of_sgis_and_ppis_are_banked_per_cpu() -> None:
    rig = Rig(num_cpus=2)
    rig.prio(PPI_VTIMER, 0x40, cpu=1)
    assert rig.dread(GicdReg.IPRIORITYR + PPI_VTIMER, cpu=0, size=1) == 0
    assert rig.dread(GicdReg.IPRIORITYR + PPI_VTIMER, cpu=1, size=1) == 0x40
    rig.prio(SPI_UART, 0x50, cpu=1)
    assert rig.dread(GicdReg.IPRIORITYR + SPI_UART, cpu=0, size=1) == 0x50


def test_itargetsr_private_entries_read_the_accessing_cpu_and_are_read_only() -> None:
    rig = Rig(num_cpus=2)
    assert rig.dread(GicdReg.ITARGETSR, cpu=0) == 0x01010101
    assert rig.dread(GicdReg.ITARGETSR + 28, cpu=1) == 0x02020202
    rig.dwrite(GicdReg.ITARGETSR + 27, 0x02, cpu=0, size=1)
    assert rig.dread(GicdReg.ITARGETSR + 27, cpu=0, size=1) == 0x01


def test_itargetsr_spi_byte_write_routes_to_the_lowest_named_cpu(
    caplog: pytest.LogCaptureFixture,
) -> None:
    rig = Rig(num_cpus=2)
    rig.dwrite(GicdReg.ITARGETSR + 33, 0x02, size=1)
    assert rig.dread(GicdReg.ITARGETSR + 32) == 0x01010201
    rig.dwrite(GicdReg.ITARGETSR + 32, 0x03020103)
    assert rig.dread(GicdReg.ITARGETSR + 32) == 0x01020101
    with caplog.at_level(logging.WARNING, logger="xgdbvm.gic"):
        rig.dwrite(GicdReg.ITARGETSR + 32, 0x04, size=1)  # CPU 2 does not exist
    assert rig.dread(GicdReg.ITARGETSR + 32, size=1) == 0x01
    assert len(caplog.records) == 1


def test_icfgr_sgis_edge_ppis_level_both_read_only_spis_writable(rig: Rig) -> None:
    rig.dwrite(GicdReg.ICFGR, 0)
    rig.dwrite(GicdReg.ICFGR + 4, 0xFFFF_FFFF)
    assert rig.dread(GicdReg.ICFGR) == 0xAAAA_AAAA
    assert rig.dread(GicdReg.ICFGR + 4) == 0
    rig.dwrite(GicdReg.ICFGR + 8, 0xFFFF_FFFF)
    assert rig.dread(GicdReg.ICFGR + 8) == 0xAAAA_AAAA  # bit 2F is reserved
    assert rig.state(32).edge and rig.state(47).edge and not rig.state(48).edge
    rig.dwrite(GicdReg.ICFGR + 8, 0x0000_0008)
    assert [rig.state(i).edge for i in (32, 33, 34)] == [False, True, False]


# ------------------------------------------------------------------ delivery


def test_no_signal_until_distributor_cpu_interface_and_pmr_all_allow(rig: Rig) -> None:
    rig.enable(SPI_UART)
    rig.prio(SPI_UART, 0xA0)
    rig.gic.set_irq(SPI_UART, True)
    assert rig.out[0].history == []
    rig.dwrite(GicdReg.CTLR, 1)
    rig.cwrite(GiccReg.CTLR, 1)
    assert not rig.gic.irq_pending(0)  # PMR 0 masks everything
    rig.cwrite(GiccReg.PMR, 0xA8)
    assert rig.out[0].history == [True]
    assert rig.gic.irq_pending(0)
    rig.dwrite(GicdReg.CTLR, 0)
    assert rig.out[0].history == [True, False]
    assert rig.ack() == SPURIOUS_INTID


def test_pmr_masks_by_strictly_higher_priority_and_implements_five_bits(rig: Rig) -> None:
    rig.start(pmr=0xA0)
    rig.cwrite(GiccReg.PMR, 0xA7)
    assert rig.cread(GiccReg.PMR) == 0xA0
    rig.enable(40)
    rig.prio(40, 0xA5)  # effective priority 0xA0, not below PMR 0xA0
    rig.pend(40)
    assert not rig.out[0].level
    assert rig.ack() == SPURIOUS_INTID
    assert rig.cread(GiccReg.HPPIR) == 40  # HPPIR ignores the mask
    rig.cwrite(GiccReg.PMR, 0xA8)
    assert rig.out[0].level
    assert rig.ack() == 40


def test_disabled_interrupt_stays_pending_but_is_not_signalled(rig: Rig) -> None:
    rig.start()
    rig.pend(40)
    assert rig.state(40).pending and not rig.out[0].level
    rig.enable(40)
    assert rig.out[0].level
    rig.dwrite(GicdReg.ICENABLER + 4, 1 << 8)
    assert not rig.out[0].level


def test_highest_priority_wins_and_ties_go_to_the_lowest_intid(rig: Rig) -> None:
    rig.start()
    for intid, priority in ((40, 0x80), (35, 0x80), (50, 0x40), (20, 0xC0)):
        rig.enable(intid)
        rig.prio(intid, priority)
        rig.pend(intid)
    rig.cwrite(GiccReg.BPR, 7)  # no preemption, so one at a time
    order = []
    for _ in range(4):
        intid = rig.ack()
        order.append(intid)
        rig.eoi(intid)
    assert order == [50, 35, 40, 20]
    assert rig.ack() == SPURIOUS_INTID


def test_iar_eoir_flow_tracks_running_priority(rig: Rig) -> None:
    rig.start()
    rig.enable(40)
    rig.prio(40, 0x90)
    rig.pend(40)
    assert rig.out[0].history == [True]
    assert rig.ack() == 40
    assert rig.out[0].history == [True, False]
    assert rig.cread(GiccReg.RPR) == 0x90
    assert rig.state(40).active and not rig.state(40).pending
    assert rig.cread(GiccReg.HPPIR) == SPURIOUS_INTID
    rig.eoi(40)
    assert rig.cread(GiccReg.RPR) == 0xFF
    assert not rig.state(40).active
    assert rig.out[0].history == [True, False]


def test_higher_priority_preempts_lower_waits_for_eoi(rig: Rig) -> None:
    rig.start()
    for intid, priority in ((40, 0xA0), (41, 0x80), (42, 0xC0)):
        rig.enable(intid)
        rig.prio(intid, priority)
    rig.pend(40)
    assert rig.ack() == 40
    rig.pend(42)  # lower than the running 0xA0
    assert not rig.out[0].level
    assert rig.ack() == SPURIOUS_INTID
    rig.pend(41)  # higher: preempts
    assert rig.out[0].level
    assert rig.ack() == 41
    assert rig.cread(GiccReg.RPR) == 0x80
    assert not rig.out[0].level
    rig.eoi(41)
    assert rig.cread(GiccReg.RPR) == 0xA0
    assert not rig.out[0].level  # 0xC0 still below the running 0xA0
    rig.eoi(40)
    assert rig.out[0].level
    assert rig.ack() == 42
    assert rig.out[0].history == [True, False, True, False, True, False]


def test_preemption_compares_group_priority_set_by_bpr(rig: Rig) -> None:
    rig.start()
    rig.cwrite(GiccReg.BPR, 3)  # group priority = bits [7:4]
    for intid, priority in ((40, 0xA8), (41, 0xA0), (42, 0x98)):
        rig.enable(intid)
        rig.prio(intid, priority)
    rig.pend(40)
    assert rig.ack() == 40
    assert rig.cread(GiccReg.RPR) == 0xA0
    rig.pend(41)  # same group 0xA0: no preemption
    assert not rig.out[0].level
    rig.pend(42)  # group 0x90
    assert rig.ack() == 42


def test_bpr_write_below_minimum_sets_the_minimum(rig: Rig) -> None:
    rig.cwrite(GiccReg.BPR, 0)
    assert rig.cread(GiccReg.BPR) == 2
    rig.cwrite(GiccReg.BPR, 0xFF)
    assert rig.cread(GiccReg.BPR) == 7


def test_bpr_seven_means_no_preemption(rig: Rig) -> None:
    rig.start()
    rig.cwrite(GiccReg.BPR, 7)
    rig.enable(40, 41)
    rig.prio(40, 0xF0)
    rig.prio(41, 0x00)
    rig.pend(40)
    assert rig.ack() == 40
    rig.pend(41)
    assert not rig.out[0].level


def test_spurious_when_nothing_pending_or_interface_disabled(rig: Rig) -> None:
    assert rig.ack() == SPURIOUS_INTID
    rig.start()
    assert rig.ack() == SPURIOUS_INTID
    rig.enable(40)
    rig.pend(40)
    rig.cwrite(GiccReg.CTLR, 0)
    assert rig.ack() == SPURIOUS_INTID
    assert rig.cread(GiccReg.HPPIR) == SPURIOUS_INTID
    rig.cwrite(GiccReg.CTLR, 1)
    assert rig.ack() == 40


def test_eoi_of_spurious_or_inactive_interrupt_is_ignored(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    rig.start()
    rig.enable(40)
    rig.pend(40)
    assert rig.ack() == 40
    with caplog.at_level(logging.WARNING, logger="xgdbvm.gic"):
        rig.eoi(SPURIOUS_INTID)
        rig.eoi(41)
    assert rig.cread(GiccReg.RPR) == 0  # 40 still running
    assert rig.state(40).active
    assert len(caplog.records) == 1  # logged once for the EOIR offset


# ------------------------------------------------------------------ level and edge


def test_level_interrupt_follows_its_line(rig: Rig) -> None:
    rig.start()
    rig.enable(SPI_UART)
    line = rig.gic.line(SPI_UART)
    line.set_level(True)
    assert rig.state(SPI_UART).pending and rig.out[0].level
    line.set_level(False)
    assert not rig.state(SPI_UART).pending
    assert rig.out[0].history == [True, False]


def test_level_interrupt_still_asserted_after_eoi_is_pending_again(rig: Rig) -> None:
    rig.start()
    rig.enable(PPI_EVTCHN)
    rig.gic.set_irq(PPI_EVTCHN, True)
    assert rig.ack() == PPI_EVTCHN
    state = rig.state(PPI_EVTCHN)
    assert state.active and state.pending  # active and pending while the line is high
    assert not rig.out[0].level
    rig.eoi(PPI_EVTCHN)
    assert rig.out[0].level
    assert rig.ack() == PPI_EVTCHN
    rig.gic.set_irq(PPI_EVTCHN, False)
    rig.eoi(PPI_EVTCHN)
    assert not rig.out[0].level
    assert rig.out[0].history == [True, False, True, False]


def test_icpendr_cannot_clear_an_asserted_level_interrupt(rig: Rig) -> None:
    rig.gic.set_irq(SPI_UART, True)
    rig.dwrite(GicdReg.ICPENDR + 4, 1)
    assert rig.state(SPI_UART).pending
    rig.gic.set_irq(SPI_UART, False)
    assert not rig.state(SPI_UART).pending


def test_ispendr_holds_a_level_interrupt_pending_until_acknowledged(rig: Rig) -> None:
    rig.start()
    rig.enable(SPI_UART)
    rig.pend(SPI_UART)
    assert rig.state(SPI_UART).pending
    assert rig.ack() == SPI_UART
    assert not rig.state(SPI_UART).pending


def test_edge_interrupt_latches_on_rising_edge_only(rig: Rig) -> None:
    rig.start()
    rig.dwrite(GicdReg.ICFGR + 8, 0x2 << (2 * 1))  # INTID 33 edge-triggered
    rig.enable(33)
    rig.gic.set_irq(33, True)
    rig.gic.set_irq(33, False)
    assert rig.state(33).pending  # the pulse is remembered
    assert rig.ack() == 33
    assert not rig.state(33).pending
    rig.gic.set_irq(33, True)  # new edge while active: active and pending
    rig.gic.set_irq(33, True)  # no edge: no second latch
    assert rig.state(33).pending and rig.state(33).active
    rig.eoi(33)
    assert rig.ack() == 33
    rig.eoi(33)
    assert rig.ack() == SPURIOUS_INTID  # line still high, but edge: not pending
    assert not rig.state(33).pending


def test_input_lines_reject_sgis_and_unknown_intids(rig: Rig) -> None:
    with pytest.raises(ValueError):
        rig.gic.set_irq(3, True)
    with pytest.raises(ValueError):
        rig.gic.line(64)
    with pytest.raises(ValueError):
        rig.gic.line(PPI_VTIMER, cpu=1)


# ------------------------------------------------------------------ EOImode 1


def test_eoimode_one_splits_priority_drop_and_deactivation(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    rig.start()
    rig.cwrite(GiccReg.CTLR, 1 | (1 << 9))
    assert rig.cread(GiccReg.CTLR) == 0x201
    rig.enable(PPI_VTIMER)
    rig.prio(PPI_VTIMER, 0x80)
    rig.gic.set_irq(PPI_VTIMER, True)
    assert rig.ack() == PPI_VTIMER
    rig.eoi(PPI_VTIMER)
    assert rig.cread(GiccReg.RPR) == 0xFF  # priority dropped
    assert rig.state(PPI_VTIMER).active  # but still active: not signalled again
    assert not rig.out[0].level
    rig.cwrite(GiccReg.DIR, PPI_VTIMER)
    assert not rig.state(PPI_VTIMER).active
    assert rig.out[0].level
    rig.cwrite(GiccReg.CTLR, 1)
    assert rig.ack() == PPI_VTIMER
    with caplog.at_level(logging.WARNING, logger="xgdbvm.gic"):
        rig.cwrite(GiccReg.DIR, PPI_VTIMER)  # EOImode 0: ignored
    assert rig.state(PPI_VTIMER).active
    assert len(caplog.records) == 1


# ------------------------------------------------------------------ SGIs


@pytest.mark.parametrize(
    ("sgir", "expected_targets"),
    [
        ((0 << 24) | (0b1010 << 16) | 5, {1, 3}),  # target list
        ((0 << 24) | (0xF0 << 16) | 5, set()),  # list naming only absent CPUs
        ((1 << 24) | 5, {0, 2, 3}),  # all but the requester (CPU 1)
        ((2 << 24) | 5, {1}),  # the requester only
        ((3 << 24) | 5, set()),  # reserved filter
    ],
)
def test_sgir_target_filters(sgir: int, expected_targets: set[int]) -> None:
    rig = Rig(num_cpus=4)
    rig.start()
    for cpu in range(4):
        rig.enable(5, cpu=cpu)
    rig.dwrite(GicdReg.SGIR, sgir, cpu=1)
    assert {cpu for cpu in range(4) if rig.gic.irq_pending(cpu)} == expected_targets
    for cpu in expected_targets:
        assert rig.ack(cpu) == 5 | (1 << 10)  # source CPU 1 in bits [12:10]
        assert rig.dread(GicdReg.SPENDSGIR + 4, cpu=cpu) == 0


def test_sgi_pends_once_per_source_and_acks_report_each_source() -> None:
    rig = Rig(num_cpus=3)
    rig.start()
    rig.enable(2, cpu=0)
    rig.dwrite(GicdReg.SGIR, (1 << 16) | 2, cpu=2)
    rig.dwrite(GicdReg.SGIR, (1 << 16) | 2, cpu=1)
    rig.dwrite(GicdReg.SGIR, (1 << 16) | 2, cpu=1)  # same source again: no extra
    assert rig.dread(GicdReg.SPENDSGIR + 2, size=1) == 0b110
    assert rig.dread(GicdReg.SPENDSGIR) == 0b110 << 16
    assert rig.cread(GiccReg.HPPIR) == 2 | (1 << 10)
    assert rig.ack() == 2 | (1 << 10)
    assert rig.state(2).pending and rig.state(2).active
    rig.eoi(2 | (1 << 10))
    assert rig.ack() == 2 | (2 << 10)
    rig.eoi(2 | (2 << 10))
    assert rig.ack() == SPURIOUS_INTID


def test_spendsgir_and_cpendsgir_bytes(rig: Rig) -> None:
    rig.start()
    rig.enable(9)
    rig.dwrite(GicdReg.SPENDSGIR + 9, 0xFF, size=1)  # only CPU 0 exists
    assert rig.dread(GicdReg.SPENDSGIR + 8) == 0x0100
    assert rig.dread(GicdReg.CPENDSGIR + 8) == 0x0100
    assert rig.out[0].level
    rig.dwrite(GicdReg.CPENDSGIR + 8, 0x0100)
    assert rig.dread(GicdReg.SPENDSGIR + 8) == 0
    assert not rig.out[0].level


def test_sgi_enable_bits_are_writable(rig: Rig) -> None:
    rig.dwrite(GicdReg.ISENABLER, 0x0000_FFFF)
    assert rig.dread(GicdReg.ISENABLER) == 0xFFFF
    rig.dwrite(GicdReg.ICENABLER, 0x0000_0001)
    assert rig.dread(GicdReg.ISENABLER) == 0xFFFE


# ------------------------------------------------------------------ several CPUs


def test_ppis_are_banked_and_drive_only_their_cpu() -> None:
    rig = Rig(num_cpus=2)
    rig.start()
    rig.enable(PPI_VTIMER, cpu=1)
    rig.gic.set_irq(PPI_VTIMER, True, cpu=0)  # disabled on CPU 0
    rig.gic.line(PPI_VTIMER, cpu=1).set_level(True)
    assert rig.out[0].history == [] and rig.out[1].history == [True]
    assert rig.dread(GicdReg.ISENABLER, cpu=0) == 0
    assert rig.dread(GicdReg.ISPENDR, cpu=0) == 1 << PPI_VTIMER
    assert rig.ack(cpu=1) == PPI_VTIMER
    assert rig.dread(GicdReg.ISACTIVER, cpu=1) == 1 << PPI_VTIMER
    assert rig.dread(GicdReg.ISACTIVER, cpu=0) == 0


def test_spi_goes_to_its_target_cpu_only() -> None:
    rig = Rig(num_cpus=2)
    rig.start()
    rig.enable(SPI_UART)
    rig.dwrite(GicdReg.ITARGETSR + SPI_UART, 0x02, size=1)
    rig.gic.set_irq(SPI_UART, True, cpu=0)  # the cpu argument means nothing for an SPI
    assert rig.out[0].history == [] and rig.out[1].history == [True]
    assert rig.ack(cpu=0) == SPURIOUS_INTID
    assert rig.ack(cpu=1) == SPI_UART
    assert rig.gic.describe(0)[SPI_UART].targets == 0x02


def test_connect_output_later_drives_the_current_level() -> None:
    gic = Gicv2()
    gic.distributor.write(GicdReg.CTLR, 4, 1)
    gic.distributor.write(GicdReg.ISENABLER + 4, 4, 1)
    gic.cpu_interface(0).write(GiccReg.CTLR, 4, 1)
    gic.cpu_interface(0).write(GiccReg.PMR, 4, 0xFF)
    gic.set_irq(SPI_UART, True)
    assert gic.irq_pending(0)
    line = RecordingIrqLine()
    gic.connect_output(0, line)
    assert line.history == [True]


# ------------------------------------------------------------------ access sizes and holes


def test_undefined_offsets_are_raz_wi_and_logged_once_each(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    holes = [
        (rig.gicd(), 0x00C),
        (rig.gicd(), 0x7FC),
        (rig.gicd(), 0xD00),
        (rig.gicd(), GicdReg.ISENABLER + 8),  # beyond the 64 implemented INTIDs
        (rig.gicd(), 0x1000),  # outside the window
        (rig.gicc(), 0x02C),
        (rig.gicc(), 0x1004),
    ]
    with caplog.at_level(logging.WARNING, logger="xgdbvm.gic"):
        for view, offset in holes:
            for _ in range(3):
                view.write(offset, 4, 0xFFFF_FFFF)
                assert view.read(offset, 4) == 0
    records = [r for r in caplog.records if r.name == "xgdbvm.gic"]
    assert len(records) == len(holes)


def test_word_only_registers_ignore_other_sizes_and_log_once(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="xgdbvm.gic"):
        rig.dwrite(GicdReg.CTLR, 1, size=1)
        rig.dwrite(GicdReg.CTLR, 1, size=1)
        rig.dwrite(GicdReg.ISENABLER + 4, 0xFFFF, size=2)
        rig.dwrite(GicdReg.ISENABLER + 4, 0xFFFF_FFFF_FFFF_FFFF, size=8)
        assert rig.gicc().read(GiccReg.IAR, 2) == 0
        assert rig.dread(GicdReg.IPRIORITYR + 2, size=2) == 0  # byte or word only
        rig.dwrite(GicdReg.IPRIORITYR + 2, 0x1234, size=2)
        assert rig.dread(GicdReg.ISENABLER + 5) == 0  # misaligned word
    assert rig.dread(GicdReg.CTLR) == 0
    assert rig.dread(GicdReg.ISENABLER + 4) == 0
    assert rig.dread(GicdReg.IPRIORITYR) == 0
    assert len(caplog.records) == 6


def test_byte_access_to_itargetsr_and_ipriorityr_word_access_to_sgi_bytes(rig: Rig) -> None:
    rig.dwrite(GicdReg.IPRIORITYR + 63, 0xF0, size=1)
    assert rig.dread(GicdReg.IPRIORITYR + 60) == 0xF000_0000
    assert rig.dread(GicdReg.ITARGETSR + 63, size=1) == 0x01
    rig.dwrite(GicdReg.SPENDSGIR, 0x0101_0101)
    assert rig.dread(GicdReg.ISPENDR) == 0xF


def test_guest_writes_wider_than_the_access_are_truncated(rig: Rig) -> None:
    rig.dwrite(GicdReg.IPRIORITYR + 40, 0x1FF, size=1)
    assert rig.dread(GicdReg.IPRIORITYR + 40, size=1) == 0xFF
    assert rig.dread(GicdReg.IPRIORITYR + 41, size=1) == 0


# ------------------------------------------------------------------ introspection


def test_describe_and_describe_cpu(rig: Rig) -> None:
    rig.start()
    rig.enable(SPI_UART)
    rig.prio(SPI_UART, 0x60)
    rig.gic.set_irq(SPI_UART, True)
    states = rig.gic.describe()
    assert len(states) == 64
    assert states[SPI_UART] == IrqState(
        intid=SPI_UART,
        enabled=True,
        pending=True,
        active=False,
        priority=0x60,
        targets=0x01,
        edge=False,
        line=True,
    )
    assert states[3].edge and not states[PPI_VTIMER].edge
    cpu = rig.gic.describe_cpu(0)
    assert (cpu.enabled, cpu.pmr, cpu.bpr, cpu.running_priority) == (True, 0xF8, 2, 0xFF)
    assert (cpu.highest_pending, cpu.irq_out) == (SPI_UART, True)
    rig.ack()
    assert rig.gic.describe_cpu(0).running_priority == 0x60
