"""The ``Gicv2`` object: MMIO views, interrupt inputs, nIRQ outputs, introspection."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from xgdbvm.machine.mmio import IrqLine

from .cpu_interface import CpuInterface
from .distributor import Distributor
from .registers import (
    GICC_SIZE,
    GICD_SIZE,
    MAX_CPUS,
    MAX_INTIDS,
    NUM_PRIVATE,
    NUM_SGIS,
    SPURIOUS_INTID,
)
from .state import GicState
from .window import OnceLog, Window


@dataclass(frozen=True)
class IrqState:
    """One interrupt as one CPU interface sees it (``monitor gic``)."""

    intid: int
    enabled: bool
    pending: bool
    active: bool
    priority: int
    targets: int
    edge: bool
    line: bool


@dataclass(frozen=True)
class CpuInterfaceState:
    """One CPU interface's registers and nIRQ level (``monitor gic``)."""

    cpu: int
    enabled: bool
    eoi_mode: bool
    pmr: int
    bpr: int
    running_priority: int
    highest_pending: int
    irq_out: bool


class GicView:
    """One CPU's view of the GICD or GICC window; an ``MmioDevice``."""

    def __init__(self, state: GicState, window: Window, cpu: int) -> None:
        self._state = state
        self._window = window
        self._cpu = cpu

    @property
    def mmio_size(self) -> int:
        return self._window.size

    def read(self, offset: int, size: int) -> int:
        value = self._window.read(self._cpu, offset, size)
        self._state.update()  # GICC_IAR changes state on read
        return value

    def write(self, offset: int, size: int, value: int) -> None:
        self._window.write(self._cpu, offset, size, value)
        self._state.update()

    def reset(self) -> None:
        """Reset the whole GIC: distributor and CPU interfaces share their state."""
        self._state.reset()


class _InputLine:
    def __init__(self, gic: Gicv2, intid: int, cpu: int) -> None:
        self._gic = gic
        self._intid = intid
        self._cpu = cpu

    def set_level(self, level: bool) -> None:
        self._gic.set_irq(self._intid, level, self._cpu)


class Gicv2:
    """A GICv2 with ``num_cpus`` CPU interfaces and ``num_spis`` SPIs (INTID 32 up)."""

    def __init__(
        self,
        num_cpus: int = 1,
        num_spis: int = 32,
        outputs: Sequence[IrqLine] | None = None,
        priority_bits: int = 5,
    ) -> None:
        if not 1 <= num_cpus <= MAX_CPUS:
            raise ValueError(f"GICv2 supports 1..{MAX_CPUS} CPU interfaces, not {num_cpus}")
        if not 0 <= num_spis <= MAX_INTIDS - NUM_PRIVATE:
            raise ValueError(f"num_spis must be 0..{MAX_INTIDS - NUM_PRIVATE}, not {num_spis}")
        if not 4 <= priority_bits <= 8:
            raise ValueError(f"priority_bits must be 4..8, not {priority_bits}")
        if outputs is not None and len(outputs) != num_cpus:
            raise ValueError(f"need {num_cpus} output lines, got {len(outputs)}")
        self.num_cpus = num_cpus
        self.num_spis = num_spis
        self._state = GicState(num_cpus, num_spis, priority_bits)
        for cpu, line in enumerate(outputs or []):
            self.connect_output(cpu, line)
        gicd_log, gicc_log = OnceLog("gicd"), OnceLog("gicc")
        gicd = Window(GICD_SIZE, Distributor(self._state, num_spis, gicd_log).registers(), gicd_log)
        gicc = Window(GICC_SIZE, CpuInterface(self._state, gicc_log).registers(), gicc_log)
        self._gicd_views = [GicView(self._state, gicd, cpu) for cpu in range(num_cpus)]
        self._gicc_views = [GicView(self._state, gicc, cpu) for cpu in range(num_cpus)]

    @property
    def num_irqs(self) -> int:
        return self._state.num_irqs

    # ----------------------------------------------------------- MMIO

    @property
    def distributor(self) -> GicView:
        """CPU 0's GICD view, the one a uniprocessor board maps."""
        return self._gicd_views[0]

    def distributor_view(self, cpu: int) -> GicView:
        """The GICD as CPU ``cpu`` sees it (its SGI/PPI bank, its SGIR source)."""
        return self._gicd_views[cpu]

    def cpu_interface(self, cpu: int) -> GicView:
        return self._gicc_views[cpu]

    # ----------------------------------------------------------- wires

    def connect_output(self, cpu: int, line: IrqLine) -> None:
        """Wire CPU ``cpu``'s nIRQ; it is driven at once if it should already be high."""
        self._state.outputs[cpu] = line
        self._state.cpus[cpu].output = line
        if self._state.cpus[cpu].level:
            line.set_level(True)

    def irq_pending(self, cpu: int) -> bool:
        """The level of CPU ``cpu``'s nIRQ."""
        return self._state.cpus[cpu].level

    def line(self, intid: int, cpu: int = 0) -> IrqLine:
        """An input wire for PPI ``intid`` of ``cpu``, or for SPI ``intid``."""
        self._check_input(intid, cpu)
        return _InputLine(self, intid, cpu)

    def set_irq(self, intid: int, level: bool, cpu: int = 0) -> None:
        """Drive input ``intid``: a PPI of ``cpu``, or an SPI (``cpu`` is then ignored)."""
        self._check_input(intid, cpu)
        irq = self._state.irq(cpu, intid)
        if irq.edge and level and not irq.line:
            irq.latch = True
        irq.line = level
        self._state.update()

    def _check_input(self, intid: int, cpu: int) -> None:
        if not NUM_SGIS <= intid < self._state.num_irqs:
            raise ValueError(f"INTID {intid} is not a PPI or an implemented SPI")
        if not 0 <= cpu < self.num_cpus:
            raise ValueError(f"no CPU interface {cpu}")

    # ----------------------------------------------------------- lifecycle

    def reset(self) -> None:
        self._state.reset()

    def describe(self, cpu: int = 0) -> list[IrqState]:
        """Every implemented interrupt, with ``cpu``'s bank of SGIs and PPIs."""
        return [
            IrqState(
                intid=irq.intid,
                enabled=irq.enabled,
                pending=irq.pending,
                active=irq.active,
                priority=irq.priority,
                targets=self._state.targets(cpu, irq.intid),
                edge=irq.edge,
                line=irq.line,
            )
            for irq in self._state.irqs_of(cpu)
        ]

    def describe_cpu(self, cpu: int = 0) -> CpuInterfaceState:
        state = self._state.cpus[cpu]
        highest = self._state.highest_pending(cpu)
        return CpuInterfaceState(
            cpu=cpu,
            enabled=state.enabled,
            eoi_mode=state.eoi_mode,
            pmr=state.pmr,
            bpr=state.bpr,
            running_priority=state.running_priority,
            highest_pending=SPURIOUS_INTID if highest is None else self._state.iar_value(highest),
            irq_out=state.level,
        )
