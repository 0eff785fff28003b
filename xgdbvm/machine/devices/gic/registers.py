"""GICv2 register offsets, field bits and fixed values (ARM IHI 0048B chapter 4)."""

from __future__ import annotations

from enum import IntEnum

GICD_SIZE = 0x1000
GICC_SIZE = 0x2000

SPURIOUS_INTID = 1023
NUM_SGIS = 16
NUM_PRIVATE = 32  # SGIs 0-15 and PPIs 16-31 are banked per CPU interface
MAX_CPUS = 8  # GICD_TYPER.CPUNumber and the SGI/target masks are 8 bits wide
MAX_INTIDS = 1020  # 1020-1023 are special INTIDs
IDLE_PRIORITY = 0xFF  # GICC_RPR with nothing active

# What Xen's vGIC returns for GICD_IIDR (the low half of GIC-400's value).
GICD_IIDR_VALUE = 0x0000043B
# GIC-400's GICC_IIDR (= its GICV_IIDR, what a Xen guest really reads): Arm, GICv2.
GICC_IIDR_VALUE = 0x0202143B
# GIC-400 peripheral/component ID registers at GICD 0xFD0..0xFFC, four bytes apart:
# PIDR4-7, PIDR0-3, CIDR0-3. PIDR2 (ICPIDR2, 0xFE8) = 0x2B: ArchRev 2.
GICD_ID_VALUES = (0x04, 0x00, 0x00, 0x00, 0x90, 0xB4, 0x2B, 0x00, 0x0D, 0xF0, 0x05, 0xB1)


class GicdReg(IntEnum):
    """GICD register and register-array offsets (IHI 0048B distributor register map)."""

    CTLR = 0x000
    TYPER = 0x004
    IIDR = 0x008
    IGROUPR = 0x080
    ISENABLER = 0x100
    ICENABLER = 0x180
    ISPENDR = 0x200
    ICPENDR = 0x280
    ISACTIVER = 0x300
    ICACTIVER = 0x380
    IPRIORITYR = 0x400
    ITARGETSR = 0x800
    ICFGR = 0xC00
    NSACR = 0xE00
    SGIR = 0xF00
    CPENDSGIR = 0xF10
    SPENDSGIR = 0xF20
    PIDR4 = 0xFD0
    PIDR0 = 0xFE0
    ICPIDR2 = 0xFE8
    CIDR0 = 0xFF0


class GiccReg(IntEnum):
    """GICC register offsets (IHI 0048B CPU interface register map)."""

    CTLR = 0x00
    PMR = 0x04
    BPR = 0x08
    IAR = 0x0C
    EOIR = 0x10
    RPR = 0x14
    HPPIR = 0x18
    ABPR = 0x1C
    AIAR = 0x20
    AEOIR = 0x24
    AHPPIR = 0x28
    APR = 0xD0
    NSAPR = 0xE0
    IIDR = 0xFC
    DIR = 0x1000


GICD_CTLR_ENABLE = 1 << 0
GICC_CTLR_ENABLE = 1 << 0
GICC_CTLR_EOIMODE = 1 << 9

SGIR_INTID_MASK = 0xF
SGIR_TARGETS_SHIFT = 16
SGIR_FILTER_SHIFT = 24
SGIR_FILTER_LIST = 0
SGIR_FILTER_OTHERS = 1
SGIR_FILTER_SELF = 2

IAR_INTID_MASK = 0x3FF
IAR_CPUID_SHIFT = 10
