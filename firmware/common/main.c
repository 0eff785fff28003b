/*
 * guest_main: the C side of the boot, entered from arch/<arch>/head.S with
 * the MMU off, interrupts masked, a stack, exception vectors and a zeroed
 * .bss.  `fdt` is the device tree address the loader passed (x0 on arm64,
 * r2 on arm32).
 *
 * Default boot, in order (hypercalls in brackets):
 *   1. walk the device tree, start the UART described there
 *   2. banner on the UART, then the same line via [console_io write]
 *   3. [xen_version XENVER_version] from Thumb code on arm32 (thumb.c),
 *      [xen_version XENVER_extraversion], [xen_version XENVER_get_features]
 *   4. "dtb: ..." summary, "scenario: NAME", run the scenario
 *   5. "xgdbvm guest: powering off", [sched_op SCHEDOP_shutdown poweroff]
 */
#include "console.h"
#include "guest.h"
#include "hypercall.h"

volatile unsigned int boot_stage;

#if defined(__aarch64__)
const char arch_name[] = "arm64";
#else
const char arch_name[] = "arm32";
#endif

static void print_banner(void)
{
    char line[64];
    long rc;
    int n;

    n = ksnprintf(line, sizeof(line), "xgdbvm guest: hello from %s\n", arch_name);
    kputs(line);
    rc = HYPERVISOR_console_io(CONSOLEIO_write, (unsigned int)n, line);
    if (rc < 0)
        kprintf("console_io failed: %ld\n", rc);
}

static void print_xen_version(void)
{
    char extra[XENVER_EXTRAVERSION_LEN + 1];
    struct xen_feature_info fi;
    long version, rc;

    version = thumb_xen_version();
    if (version < 0) {
        kprintf("xen_version failed: %ld\n", version);
    } else {
        memset(extra, 0, sizeof(extra));
        rc = HYPERVISOR_xen_version(XENVER_extraversion, extra);
        if (rc < 0) {
            kprintf("xen_version(extraversion) failed: %ld\n", rc);
            extra[0] = '\0';
        }
        extra[XENVER_EXTRAVERSION_LEN] = '\0';
        kprintf("Xen %lu.%lu%s\n", ((unsigned long)version >> 16) & 0xffff,
                (unsigned long)version & 0xffff, extra);
    }

    fi.submap_idx = 0;
    fi.submap = 0;
    rc = HYPERVISOR_xen_version(XENVER_get_features, &fi);
    if (rc < 0)
        kprintf("xen_version(get_features) failed: %ld\n", rc);
    else
        kprintf("Xen features: 0x%08x\n", fi.submap);
}

static void print_platform(const struct platform *p)
{
    kputs("dtb:");
    if (p->have_memory)
        kprintf(" memory 0x%08llx+0x%08llx", (unsigned long long)p->mem_base,
                (unsigned long long)p->mem_size);
    else
        kputs(" memory none");
    if (p->have_uart)
        kprintf(" uart 0x%08llx", (unsigned long long)p->uart_base);
    else
        kputs(" uart none");
    if (p->have_gic)
        kprintf(" gicd 0x%08llx gicc 0x%08llx", (unsigned long long)p->gicd_base,
                (unsigned long long)p->gicc_base);
    else
        kputs(" gicd none gicc none");
    kputs("\n");
}

void guest_main(const void *fdt)
{
    boot_stage = BOOT_STAGE_ENTRY;

    platform_probe(&platform, fdt);
    boot_stage = BOOT_STAGE_DTB_PARSED;

    if (platform.have_uart)
        pl011_init((uintptr_t)platform.uart_base);
    boot_stage = BOOT_STAGE_UART_UP;

    if (platform.fdt_error) {
        kprintf_both("xgdbvm guest: error: no valid device tree at %p (error %d)\n",
                     fdt, platform.fdt_error);
        guest_shutdown(SHUTDOWN_crash);
    }
    if (!platform.have_hypervisor) {
        kprintf_both(platform.hypervisor_node_found
                         ? "xgdbvm guest: error: /hypervisor is not compatible with \"xen,xen-X.Y\", \"xen,xen\"\n"
                         : "xgdbvm guest: error: no /hypervisor node in the device tree\n");
        guest_shutdown(SHUTDOWN_crash);
    }

    print_banner();
    boot_stage = BOOT_STAGE_BANNER;

    print_xen_version();
    boot_stage = BOOT_STAGE_VERSION;

    print_platform(&platform);
    scenario_run(platform.bootargs);

    guest_shutdown(SHUTDOWN_poweroff);
}
