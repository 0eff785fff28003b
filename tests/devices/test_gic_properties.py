"""Hypothesis properties of the GICv2: the nIRQ output agrees with an independent
reading of the architecture after any sequence of guest and device actions, and no
guest access at any offset or size ever raises."""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import given, settings
from hypothesis import strategies as st

from xgdbvm.machine.devices.gic import SPURIOUS_INTID, GiccReg, GicdReg, Gicv2
from xgdbvm.machine.mmio import RecordingIrqLine

NUM_CPUS = 2
INPUTS = (27, 30, 31, 32, 33, 34, 35)
INTIDS = (1, 5, *INPUTS)


@dataclass(frozen=True)
class Op:
    kind: str
    cpu: int
    intid: int
    value: int
    flag: bool  # line level, or the enable bit written to a CTLR


ops = st.builds(
    Op,
    kind=st.sampled_from(
        [
            "line",
            "enable",
            "disable",
            "pend",
            "unpend",
            "priority",
            "pmr",
            "bpr",
            "gicd_ctlr",
            "gicc_ctlr",
            "ack",
            "eoi",
            "eoi_any",
            "sgi",
            "target",
            "config",
        ]
    ),
    cpu=st.integers(0, NUM_CPUS - 1),
    intid=st.sampled_from(INTIDS),
    # Few distinct priorities, so ties and equal group priorities come up often.
    value=st.one_of(
        st.sampled_from([0x00, 0x01, 0x80, 0x88, 0x90, 0xA0, 0xF0, 0xFF]),
        st.integers(0, 0xFFFF_FFFF),
    ),
    # Mostly true, so the GIC spends most of a sequence enabled and lines are often high.
    flag=st.sampled_from([True, True, True, False]),
)


def group_priority(priority: int, bpr: int) -> int:
    return priority & 0xF8 & (0xFF << (bpr + 1))


def reference_deliverable(gic: Gicv2, cpu: int, dist_enabled: bool) -> bool:
    """The architecture's signalling rule, evaluated from the introspection API alone."""
    cpu_state = gic.describe_cpu(cpu)
    if not (dist_enabled and cpu_state.enabled):
        return False
    for irq in gic.describe(cpu):
        if not (irq.enabled and irq.pending and not irq.active and irq.targets >> cpu & 1):
            continue
        priority = irq.priority & 0xF8
        if priority < cpu_state.pmr and (
            group_priority(priority, cpu_state.bpr) < cpu_state.running_priority
        ):
            return True
    return False


class Driver:
    def __init__(self, started: bool) -> None:
        self.out = [RecordingIrqLine() for _ in range(NUM_CPUS)]
        self.gic = Gicv2(num_cpus=NUM_CPUS, outputs=self.out)
        self.acked: list[list[int]] = [[] for _ in range(NUM_CPUS)]
        self.dist_enabled = started
        if started:  # interesting sequences need every enable and an open PMR
            self.gic.distributor.write(GicdReg.CTLR, 4, 1)
            for cpu in range(NUM_CPUS):
                self.gic.cpu_interface(cpu).write(GiccReg.CTLR, 4, 1)
                self.gic.cpu_interface(cpu).write(GiccReg.PMR, 4, 0xFF)
                for intid in INTIDS:
                    self.apply(Op("enable", cpu, intid, 0, True))

    def apply(self, op: Op) -> None:
        gicd = self.gic.distributor_view(op.cpu)
        gicc = self.gic.cpu_interface(op.cpu)
        bank, bit = 4 * (op.intid // 32), 1 << (op.intid % 32)
        match op.kind:
            case "line":
                if op.intid >= 16:
                    self.gic.set_irq(op.intid, op.flag, op.cpu)
            case "enable":
                gicd.write(GicdReg.ISENABLER + bank, 4, bit)
            case "disable":
                gicd.write(GicdReg.ICENABLER + bank, 4, bit)
            case "pend":
                gicd.write(GicdReg.ISPENDR + bank, 4, bit)
            case "unpend":
                gicd.write(GicdReg.ICPENDR + bank, 4, bit)
            case "priority":
                gicd.write(GicdReg.IPRIORITYR + op.intid, 1, op.value & 0xFF)
            case "pmr":
                gicc.write(GiccReg.PMR, 4, op.value & 0xFF)
            case "bpr":
                gicc.write(GiccReg.BPR, 4, op.value & 7)
            case "gicd_ctlr":
                self.dist_enabled = op.flag
                gicd.write(GicdReg.CTLR, 4, (op.value & ~1) | op.flag)
            case "gicc_ctlr":
                gicc.write(GiccReg.CTLR, 4, int(op.flag))  # EOImode 0 throughout
            case "ack":
                expect_interrupt = self.out[op.cpu].level
                value = gicc.read(GiccReg.IAR, 4)
                assert (value != SPURIOUS_INTID) == expect_interrupt
                if value != SPURIOUS_INTID:
                    self.acked[op.cpu].append(value)
            case "eoi":
                if self.acked[op.cpu]:
                    gicc.write(GiccReg.EOIR, 4, self.acked[op.cpu].pop())
            case "eoi_any":
                gicc.write(GiccReg.EOIR, 4, op.intid)
                matches = [v for v in self.acked[op.cpu] if v & 0x3FF == op.intid]
                if matches:
                    self.acked[op.cpu].remove(matches[-1])
            case "sgi":
                gicd.write(GicdReg.SGIR, 4, (op.value & 0x03FF_0000) | (op.intid & 0xF))
            case "target":
                if op.intid >= 32:
                    gicd.write(GicdReg.ITARGETSR + op.intid, 1, 1 + (op.value & 1))
            case "config":
                if op.intid >= 32:
                    gicd.write(GicdReg.ICFGR + 8, 4, op.value)

    def check(self) -> None:
        for cpu in range(NUM_CPUS):
            level = self.gic.irq_pending(cpu)
            assert level == self.out[cpu].level
            assert level == reference_deliverable(self.gic, cpu, self.dist_enabled)


@settings(max_examples=200, deadline=None)
@given(st.booleans(), st.lists(ops, min_size=10, max_size=60))
def test_output_line_always_matches_the_architectural_rule(
    started: bool, sequence: list[Op]
) -> None:
    driver = Driver(started)
    for op in sequence:
        driver.apply(op)
        driver.check()


@settings(max_examples=100, deadline=None)
@given(st.booleans(), st.lists(ops, min_size=5, max_size=40))
def test_clearing_every_input_pending_and_active_state_leaves_the_gic_quiet(
    started: bool, sequence: list[Op]
) -> None:
    driver = Driver(started)
    for op in sequence:
        driver.apply(op)
    for intid in INPUTS:
        for cpu in range(NUM_CPUS):
            if intid < 32 or cpu == 0:
                driver.gic.set_irq(intid, False, cpu)
    for cpu in range(NUM_CPUS):
        gicd = driver.gic.distributor_view(cpu)
        gicc = driver.gic.cpu_interface(cpu)
        gicd.write(GicdReg.ICACTIVER, 4, 0xFFFF_FFFF)
        gicd.write(GicdReg.ICACTIVER + 4, 4, 0xFFFF_FFFF)
        gicd.write(GicdReg.ICPENDR + 4, 4, 0xFFFF_FFFF)
        gicd.write(GicdReg.ICPENDR, 4, 0xFFFF_FFFF)
        gicd.write(GicdReg.CPENDSGIR, 4, 0xFFFF_FFFF)
        gicd.write(GicdReg.CPENDSGIR + 4, 4, 0xFFFF_FFFF)
        gicd.write(GicdReg.CPENDSGIR + 8, 4, 0xFFFF_FFFF)
        gicd.write(GicdReg.CPENDSGIR + 12, 4, 0xFFFF_FFFF)
        assert not driver.gic.irq_pending(cpu)
        assert gicc.read(GiccReg.IAR, 4) == SPURIOUS_INTID
        assert not any(irq.pending or irq.active for irq in driver.gic.describe(cpu))


@settings(max_examples=500, deadline=None)
@given(
    window=st.sampled_from(["gicd", "gicc"]),
    offset=st.integers(-8, 0x2100),
    size=st.sampled_from([1, 2, 4, 8, 3]),
    value=st.integers(0, (1 << 64) - 1),
)
def test_no_guest_access_raises(window: str, offset: int, size: int, value: int) -> None:
    gic = Gicv2()
    view = gic.distributor if window == "gicd" else gic.cpu_interface(0)
    view.write(offset, size, value)
    result = view.read(offset, size)
    assert 0 <= result < (1 << 32)
