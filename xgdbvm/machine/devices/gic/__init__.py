"""GICv2 (ARM IHI 0048B): distributor plus one CPU interface per vCPU, as a Xen domU sees it.

Contract
--------
* MMIO: ``Gicv2.distributor`` is the GICD window (0x1000 bytes, Xen's
  GUEST_GICD_BASE); ``Gicv2.cpu_interface(cpu)`` is that CPU's GICC window
  (0x2000 bytes, GUEST_GICC_BASE; GICC_DIR lives at +0x1000). Both are banked
  views: the view says which CPU an access comes from, so banked registers
  (SGI/PPI state, ITARGETSR0-7, SGIR's source, all of GICC) need no notion of a
  "current CPU". ``distributor_view(cpu)`` gives the other CPUs' GICD views.
* Inputs: ``set_irq(intid, level, cpu)`` or ``line(intid, cpu)`` for PPIs
  (16-31, per CPU) and SPIs (32 up). A level-sensitive input is pending while
  high; an edge-triggered one latches pending on a rising edge.
* Outputs: one nIRQ ``IrqLine`` per CPU, high while the distributor and that CPU
  interface are enabled and a pending, enabled, inactive interrupt routed to the
  CPU beats both GICC_PMR and the running priority (by group priority, per
  GICC_BPR). Recomputed after every state change, driven only when it changes;
  ``irq_pending(cpu)`` reads it.
* Reset: all interrupts disabled, idle, priority 0, SPIs level-sensitive and
  routed to CPU 0 (as Xen's vGIC); GICD_CTLR, GICC_CTLR, GICC_PMR = 0;
  GICC_BPR = its minimum (2); GICC_RPR = 0xFF; GICC_IAR = 1023.

Model choices ("Xen" means xen/arch/arm/vgic-v2.c, the guest-visible emulation)
--------------------------------------------------------------------------------
* One interrupt group, no Security Extensions: GICD_IGROUPR and GICD_NSACR are
  RAZ/WI as in Xen; GICC_AIAR/AHPPIR read 1023; ABPR, AEOIR, APR, NSAPR RAZ/WI.
* Priority: GICD_IPRIORITYR keeps all 8 bits the guest writes, as Xen's vGIC
  does. Delivery uses the top ``priority_bits`` (default 5): Xen hands each
  interrupt to the hardware virtual CPU interface, whose list registers and
  GICV_PMR hold 5 bits ([7:3]). So GICC_PMR implements bits [7:3] (low bits
  RAZ/WI) and GICC_BPR's minimum, and reset value, is 2.
* SPI routing follows Xen: an SPI targets exactly one CPU, the lowest one named
  in the written ITARGETSR byte; a byte naming no existing CPU is ignored.
  ITARGETSR0-7 read as the accessing CPU's bit and are read-only.
* GICD_ICFGR0 (SGIs) reads 0xAAAAAAAA (edge) and GICD_ICFGR1 (PPIs) reads 0
  (level, as Xen), both read-only; SPI fields keep only the edge bit (2F+1).
* SGI enable bits are writable (as Xen). SGI bits of ISPENDR/ICPENDR are WI:
  SGIs pend per source CPU, through GICD_SGIR or GICD_SPENDSGIR.
* GICC_CTLR implements Enable (bit 0) and EOImode (bit 9); with EOImode 1 an
  EOIR write only drops priority and GICC_DIR deactivates.
* An EOIR naming an interrupt that is not active is ignored (UNPREDICTABLE in
  the spec) so a stray write cannot drop the running handler's priority.
* Accesses: aligned words everywhere, plus aligned bytes for IPRIORITYR,
  ITARGETSR, CPENDSGIR and SPENDSGIR. Any other size or alignment, an offset
  with no register, or one outside the window reads as zero and ignores writes,
  logged once per offset (logger ``xgdbvm.gic``). A guest access never raises.

Modules: ``registers`` (offsets, constants), ``window`` (offset-table dispatch,
size checks, log-once), ``state`` (interrupt state and prioritization),
``distributor`` and ``cpu_interface`` (register handlers), ``gicv2`` (facade).
"""

from .gicv2 import CpuInterfaceState, Gicv2, GicView, IrqState
from .registers import GICC_SIZE, GICD_SIZE, SPURIOUS_INTID, GiccReg, GicdReg

__all__ = [
    "GICC_SIZE",
    "GICD_SIZE",
    "SPURIOUS_INTID",
    "CpuInterfaceState",
    "GicView",
    "GiccReg",
    "GicdReg",
    "Gicv2",
    "IrqState",
]
