/*
 * GICv2 driver (common/gic.c): distributor + CPU interface of the guest's
 * vGIC at the addresses the device tree gives (GUEST_GICD_BASE /
 * GUEST_GICC_BASE).  All register accesses are 32-bit LDR/STR without
 * writeback, so a trapping hypervisor always sees a valid syndrome.
 */
#ifndef XGDBVM_FW_GIC_H
#define XGDBVM_FW_GIC_H

#include <stdbool.h>
#include <stdint.h>

/* Distributor registers. */
#define GICD_CTLR           0x000
#define GICD_TYPER          0x004
#define GICD_IIDR           0x008
#define GICD_ISENABLER      0x100
#define GICD_ICENABLER      0x180
#define GICD_ISPENDR        0x200
#define GICD_ICPENDR        0x280
#define GICD_IPRIORITYR     0x400
#define GICD_ITARGETSR      0x800
#define GICD_ICFGR          0xc00

/* CPU interface registers. */
#define GICC_CTLR           0x000
#define GICC_PMR            0x004
#define GICC_BPR            0x008
#define GICC_IAR            0x00c
#define GICC_EOIR           0x010
#define GICC_RPR            0x014
#define GICC_HPPIR          0x018

#define GICD_CTLR_ENABLE    1u
#define GICC_CTLR_ENABLE    1u
#define GICC_IAR_INTID_MASK 0x3ffu
#define GIC_SPURIOUS_INTID  1023u
#define GIC_FIRST_SPI       32u
#define GIC_MAX_INTID       1020u

/* Linux's defaults: every interrupt at 0xa0, CPU priority mask 0xf0. */
#define GIC_DEFAULT_PRIORITY 0xa0u
#define GIC_PMR_THRESHOLD    0xf0u

/* PPIs used by a Xen guest (reference section 5.1). */
#define GIC_PPI_VTIMER      27u
#define GIC_PPI_EVTCHN      31u

/*
 * Bring the distributor and this CPU's interface up: every SPI disabled,
 * level-triggered, priority 0xa0, routed to CPU 0; PPIs disabled; SGIs
 * enabled; distributor and CPU interface enabled, PMR 0xf0.  Returns the
 * number of interrupt lines GICD_TYPER reports.
 */
unsigned int gic_init(uintptr_t gicd, uintptr_t gicc);
bool gic_ready(void);

void gic_set_priority(unsigned int intid, uint8_t priority);
void gic_set_target(unsigned int spi, uint8_t cpu_mask);        /* SPIs only */
void gic_set_edge(unsigned int spi, bool edge);                 /* SPIs only */
void gic_enable_irq(unsigned int intid);
void gic_disable_irq(unsigned int intid);

/* Acknowledge: read GICC_IAR (the full value, CPU id bits included). */
uint32_t gic_ack(void);
/* End of interrupt: write the value gic_ack() returned to GICC_EOIR. */
void gic_eoi(uint32_t iar);

#endif /* XGDBVM_FW_GIC_H */
