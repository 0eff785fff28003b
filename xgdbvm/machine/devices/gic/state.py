"""GICv2 interrupt state and the prioritization rules (IHI 0048B chapter 3).

Register handlers in ``distributor`` and ``cpu_interface`` only flip the fields
here; which interrupt a CPU would take, and whether its nIRQ is high, is always
derived from these fields, never cached beyond the output level itself.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from xgdbvm.machine.mmio import IrqLine

from .registers import (
    GICC_CTLR_ENABLE,
    GICC_CTLR_EOIMODE,
    GICD_CTLR_ENABLE,
    IAR_CPUID_SHIFT,
    IDLE_PRIORITY,
    NUM_PRIVATE,
    NUM_SGIS,
    SPURIOUS_INTID,
)


@dataclass(slots=True)
class Irq:
    """One interrupt; SGIs and PPIs have one of these per CPU interface."""

    intid: int
    edge: bool
    enabled: bool = False
    latch: bool = False  # pended by an edge or ISPENDR; acknowledge and ICPENDR clear it
    line: bool = False  # the input wire's level
    active: bool = False
    priority: int = 0  # all 8 bits as written; delivery masks it
    sgi_sources: int = 0  # an SGI pends separately for each source CPU
    target: int = 0  # SPIs only: the one CPU it is routed to

    @property
    def pending(self) -> bool:
        return self.latch or self.sgi_sources != 0 or (self.line and not self.edge)


@dataclass(slots=True)
class CpuState:
    """One CPU interface: its control registers, active priorities and nIRQ."""

    output: IrqLine | None
    bpr: int
    ctlr: int = 0
    pmr: int = 0
    # Group priorities acknowledged and not yet dropped by EOIR: the GICC_APR bits.
    active_priorities: set[int] = field(default_factory=set)
    level: bool = False

    @property
    def running_priority(self) -> int:
        return min(self.active_priorities, default=IDLE_PRIORITY)

    @property
    def enabled(self) -> bool:
        return bool(self.ctlr & GICC_CTLR_ENABLE)

    @property
    def eoi_mode(self) -> bool:
        return bool(self.ctlr & GICC_CTLR_EOIMODE)


class GicState:
    """Every interrupt and CPU interface of one GICv2, plus the delivery rules."""

    def __init__(self, num_cpus: int, num_spis: int, priority_bits: int) -> None:
        self.num_cpus = num_cpus
        self.num_irqs = NUM_PRIVATE + num_spis
        self.priority_mask = (0xFF << (8 - priority_bits)) & 0xFF
        # A smaller BPR would split implemented bits off the group priority
        # ("Priority grouping", IHI 0048B chapter 3).
        self.min_bpr = max(0, 7 - priority_bits)
        self.outputs: list[IrqLine | None] = [None] * num_cpus
        self.dist_ctlr = 0
        self.private: list[list[Irq]] = []
        self.spis: list[Irq] = []
        self.cpus: list[CpuState] = []
        self.reset()

    def reset(self) -> None:
        self.dist_ctlr = 0
        self.private = [
            [Irq(intid, edge=intid < NUM_SGIS) for intid in range(NUM_PRIVATE)]
            for _ in range(self.num_cpus)
        ]
        self.spis = [Irq(intid, edge=False) for intid in range(NUM_PRIVATE, self.num_irqs)]
        previous = self.cpus
        self.cpus = [CpuState(output, bpr=self.min_bpr) for output in self.outputs]
        for old in previous:
            if old.level and old.output is not None:
                old.output.set_level(False)

    # ------------------------------------------------------------- lookup

    def irq(self, cpu: int, intid: int) -> Irq:
        if intid < NUM_PRIVATE:
            return self.private[cpu][intid]
        return self.spis[intid - NUM_PRIVATE]

    def irqs_of(self, cpu: int) -> Iterator[Irq]:
        """All interrupts with ``cpu``'s SGI/PPI bank."""
        yield from self.private[cpu]
        yield from self.spis

    def irqs_in(self, cpu: int, first: int, count: int) -> Iterator[tuple[int, Irq]]:
        """``(position, irq)`` for the implemented INTIDs in ``first .. first+count-1``."""
        for position in range(min(count, self.num_irqs - first)):
            yield position, self.irq(cpu, first + position)

    def targets(self, cpu: int, intid: int) -> int:
        return 1 << (cpu if intid < NUM_PRIVATE else self.spis[intid - NUM_PRIVATE].target)

    # ------------------------------------------------------------- delivery

    def group_priority(self, priority: int, bpr: int) -> int:
        return priority & self.priority_mask & (0xFF << (bpr + 1))

    def highest_pending(self, cpu: int) -> Irq | None:
        """The best pending, enabled, inactive interrupt routed to ``cpu``, PMR aside.

        Ties go to the lowest INTID (the spec leaves the choice IMPLEMENTATION DEFINED).
        """
        state = self.cpus[cpu]
        if not (self.dist_ctlr & GICD_CTLR_ENABLE and state.enabled):
            return None
        best: Irq | None = None
        best_priority = IDLE_PRIORITY + 1
        for irq in self.irqs_of(cpu):
            if not irq.enabled or irq.active or not irq.pending:
                continue
            if irq.intid >= NUM_PRIVATE and irq.target != cpu:
                continue
            priority = irq.priority & self.priority_mask
            if priority < best_priority:
                best, best_priority = irq, priority
        return best

    def deliverable(self, cpu: int) -> Irq | None:
        """``highest_pending`` if it beats both GICC_PMR and the running priority, the
        latter compared by group priority ("Preemption", IHI 0048B chapter 3)."""
        irq = self.highest_pending(cpu)
        if irq is None:
            return None
        state = self.cpus[cpu]
        priority = irq.priority & self.priority_mask
        if priority >= state.pmr:
            return None
        if self.group_priority(priority, state.bpr) >= state.running_priority:
            return None
        return irq

    def update(self) -> None:
        """Recompute every nIRQ; drive a line only when its level changes."""
        for cpu, state in enumerate(self.cpus):
            level = self.deliverable(cpu) is not None
            if level != state.level:
                state.level = level
                if state.output is not None:
                    state.output.set_level(level)

    # ------------------------------------------------------------- CPU side

    @staticmethod
    def iar_value(irq: Irq) -> int:
        """INTID, plus for an SGI the lowest pending source CPU in bits [12:10]."""
        if irq.intid >= NUM_SGIS:
            return irq.intid
        source = (irq.sgi_sources & -irq.sgi_sources).bit_length() - 1
        return irq.intid | (source << IAR_CPUID_SHIFT)

    def acknowledge(self, cpu: int) -> int:
        irq = self.deliverable(cpu)
        if irq is None:
            return SPURIOUS_INTID
        value = self.iar_value(irq)
        if irq.intid < NUM_SGIS:
            irq.sgi_sources &= ~(1 << (value >> IAR_CPUID_SHIFT))
        else:
            # A level input still high keeps it pending: active and pending until EOI.
            irq.latch = False
        irq.active = True
        state = self.cpus[cpu]
        priority = irq.priority & self.priority_mask
        state.active_priorities.add(self.group_priority(priority, state.bpr))
        return value

    def drop_priority(self, cpu: int) -> None:
        state = self.cpus[cpu]
        state.active_priorities.discard(state.running_priority)

    def deactivate(self, cpu: int, intid: int) -> None:
        if intid < self.num_irqs:
            self.irq(cpu, intid).active = False
