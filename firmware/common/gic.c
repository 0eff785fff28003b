/*
 * GICv2 driver, modelled on what Linux's irq-gic.c does for the boot CPU
 * (gic_dist_init + gic_cpu_init) and on the vGIC rules of Xen: the PPI
 * configuration register (GICD_ICFGR1) is read-only there, so only SPIs
 * are configured; priorities and targets are updated with 32-bit
 * read-modify-writes, which every GICv2 implementation accepts.
 */
#include "gic.h"
#include "cpu.h"
#include "mmio.h"

static uintptr_t gicd_base, gicc_base;
static unsigned int nr_lines;

static uint32_t gicd_read(unsigned int off) { return mmio_read32(gicd_base + off); }
static void gicd_write(unsigned int off, uint32_t v) { mmio_write32(gicd_base + off, v); }
static uint32_t gicc_read(unsigned int off) { return mmio_read32(gicc_base + off); }
static void gicc_write(unsigned int off, uint32_t v) { mmio_write32(gicc_base + off, v); }

bool gic_ready(void)
{
    return gicd_base != 0;
}

unsigned int gic_init(uintptr_t gicd, uintptr_t gicc)
{
    unsigned int i;
    uint32_t typer;

    gicd_base = gicd;
    gicc_base = gicc;

    gicd_write(GICD_CTLR, 0);
    typer = gicd_read(GICD_TYPER);
    nr_lines = 32u * ((typer & 0x1fu) + 1u);
    if (nr_lines > GIC_MAX_INTID)
        nr_lines = GIC_MAX_INTID;

    /* SPIs: level, CPU 0, default priority, disabled. */
    for (i = GIC_FIRST_SPI; i < nr_lines; i += 16)
        gicd_write(GICD_ICFGR + i / 4, 0);
    for (i = GIC_FIRST_SPI; i < nr_lines; i += 4) {
        gicd_write(GICD_ITARGETSR + i, 0x01010101u);
        gicd_write(GICD_IPRIORITYR + i, GIC_DEFAULT_PRIORITY * 0x01010101u);
    }
    for (i = GIC_FIRST_SPI; i < nr_lines; i += 32)
        gicd_write(GICD_ICENABLER + i / 8, 0xffffffffu);

    /* Banked SGIs/PPIs: PPIs off, SGIs on, default priority. */
    gicd_write(GICD_ICENABLER, 0xffff0000u);
    gicd_write(GICD_ISENABLER, 0x0000ffffu);
    for (i = 0; i < GIC_FIRST_SPI; i += 4)
        gicd_write(GICD_IPRIORITYR + i, GIC_DEFAULT_PRIORITY * 0x01010101u);

    gicd_write(GICD_CTLR, GICD_CTLR_ENABLE);

    gicc_write(GICC_PMR, GIC_PMR_THRESHOLD);
    gicc_write(GICC_CTLR, GICC_CTLR_ENABLE);
    return nr_lines;
}

static void gicd_rmw_byte(unsigned int base, unsigned int intid, uint8_t value)
{
    unsigned int off = base + (intid & ~3u);
    unsigned int shift = (intid & 3u) * 8u;
    uint32_t v = gicd_read(off);

    v = (v & ~(0xffu << shift)) | ((uint32_t)value << shift);
    gicd_write(off, v);
}

void gic_set_priority(unsigned int intid, uint8_t priority)
{
    gicd_rmw_byte(GICD_IPRIORITYR, intid, priority);
}

void gic_set_target(unsigned int spi, uint8_t cpu_mask)
{
    if (spi >= GIC_FIRST_SPI)
        gicd_rmw_byte(GICD_ITARGETSR, spi, cpu_mask);
}

void gic_set_edge(unsigned int spi, bool edge)
{
    unsigned int off = GICD_ICFGR + (spi / 16u) * 4u;
    unsigned int shift = (spi % 16u) * 2u + 1u;
    uint32_t v;

    if (spi < GIC_FIRST_SPI)
        return;
    v = gicd_read(off);
    v = edge ? (v | (1u << shift)) : (v & ~(1u << shift));
    gicd_write(off, v);
}

void gic_enable_irq(unsigned int intid)
{
    gicd_write(GICD_ISENABLER + (intid / 32u) * 4u, 1u << (intid % 32u));
}

void gic_disable_irq(unsigned int intid)
{
    gicd_write(GICD_ICENABLER + (intid / 32u) * 4u, 1u << (intid % 32u));
}

uint32_t gic_ack(void)
{
    uint32_t iar = gicc_read(GICC_IAR);

    dmb_ish();      /* nothing of the handler before the acknowledge */
    return iar;
}

void gic_eoi(uint32_t iar)
{
    dmb_ish();      /* the handler's effects before the EOI */
    gicc_write(GICC_EOIR, iar);
}
