/*
 * Everything the firmware needs from the device tree, gathered once.
 *
 *   /hypervisor   compatible must list "xen,xen-X.Y" and "xen,xen"
 *   memory        first node with device_type = "memory": reg[0]
 *   UART          compatible "arm,sbsa-uart" or "arm,pl011": reg[0]
 *   GIC           compatible "arm,cortex-a15-gic": reg[0] = GICD, reg[1] = GICC
 *   /chosen       bootargs (may be absent or empty)
 *   /hypervisor   interrupts[0] = event-channel upcall PPI, reg[0] = grant window
 *   timer         "arm,armv8-timer" / "arm,armv7-timer": interrupts[2] = virtual timer
 */
#include "fdt.h"
#include "guest.h"

struct platform platform;

/* "xen,xen-" followed by at least one character, somewhere in the list. */
static bool has_versioned_xen(const char *list, uint32_t len)
{
    static const char prefix[] = "xen,xen-";
    const size_t plen = sizeof(prefix) - 1;

    while (len > 0) {
        size_t n = strnlen(list, len);

        if (n == len)
            return false;
        if (n > plen && memcmp(list, prefix, plen) == 0)
            return true;
        list += n + 1;
        len -= (uint32_t)(n + 1);
    }
    return false;
}

/*
 * INTID of entry `index` of a node's GIC "interrupts" property (three
 * cells: 0 = SPI / 1 = PPI, number, flags), or `dflt` if there is none.
 */
static unsigned int gic_interrupt(const struct fdt *f, int node, unsigned int index,
                                  unsigned int dflt)
{
    const uint8_t *cells;
    uint32_t len, type, num;

    cells = fdt_getprop(f, node, "interrupts", &len);
    if (!cells || len < (index + 1) * 12u)
        return dflt;
    type = fdt_be32(cells + index * 12u);
    num = fdt_be32(cells + index * 12u + 4u);
    if (type == 1 && num < 16)
        return num + 16u;
    if (type == 0 && num < 988)
        return num + 32u;
    return dflt;
}

static void probe_hypervisor(struct platform *p, const struct fdt *f)
{
    int node = fdt_path_offset(f, "/hypervisor");
    const char *compat;
    uint32_t len;

    if (node < 0)
        return;
    p->hypervisor_node_found = true;
    compat = fdt_getprop(f, node, "compatible", &len);
    if (compat && fdt_stringlist_contains(compat, len, "xen,xen") &&
        has_versioned_xen(compat, len))
        p->have_hypervisor = true;
    p->evtchn_ppi = gic_interrupt(f, node, 0, p->evtchn_ppi);
    if (fdt_get_reg(f, node, 0, &p->gnttab_base, &p->gnttab_size) == 0)
        p->have_gnttab = true;
}

void platform_probe(struct platform *p, const void *blob)
{
    struct fdt f;
    uint64_t size;
    int node, chosen;

    memset(p, 0, sizeof(*p));
    p->bootargs = "";
    p->evtchn_ppi = 31;     /* GUEST_EVTCHN_PPI */
    p->vtimer_ppi = 27;     /* GUEST_TIMER_VIRT_PPI */
    p->fdt_error = fdt_open(&f, blob);
    if (p->fdt_error)
        return;

    probe_hypervisor(p, &f);

    node = fdt_node_by_prop_string(&f, -1, "device_type", "memory");
    if (node >= 0 && fdt_get_reg(&f, node, 0, &p->mem_base, &p->mem_size) == 0)
        p->have_memory = true;

    node = fdt_node_by_compatible(&f, -1, "arm,sbsa-uart");
    if (node < 0)
        node = fdt_node_by_compatible(&f, -1, "arm,pl011");
    if (node >= 0 && fdt_get_reg(&f, node, 0, &p->uart_base, &size) == 0)
        p->have_uart = true;

    node = fdt_node_by_compatible(&f, -1, "arm,cortex-a15-gic");
    if (node >= 0 && fdt_get_reg(&f, node, 0, &p->gicd_base, &size) == 0 &&
        fdt_get_reg(&f, node, 1, &p->gicc_base, &size) == 0)
        p->have_gic = true;

    node = fdt_node_by_compatible(&f, -1, "arm,armv8-timer");
    if (node < 0)
        node = fdt_node_by_compatible(&f, -1, "arm,armv7-timer");
    if (node >= 0)
        p->vtimer_ppi = gic_interrupt(&f, node, 2, p->vtimer_ppi);

    chosen = fdt_path_offset(&f, "/chosen");
    if (chosen >= 0) {
        const char *args = fdt_getprop_string(&f, chosen, "bootargs");
        if (args)
            p->bootargs = args;
    }
}
