/*
 * Firmware-wide state and services shared by common/ and arch/.
 */
#ifndef XGDBVM_FW_GUEST_H
#define XGDBVM_FW_GUEST_H

#include "lib.h"

/*
 * boot_stage: a global the debugger (and the emulator's tests) can read to
 * see how far the boot got.  It only ever moves forward; each value is
 * stored exactly once on the default path, so along that path the value is
 * incremented by one at each milestone.
 *
 *   value  name                        set when
 *   -----  --------------------------  ---------------------------------------
 *     0    (none)                      .bss zeroed, guest_main not yet entered
 *     1    BOOT_STAGE_ENTRY            first statement of guest_main
 *     2    BOOT_STAGE_DTB_PARSED       device tree walked (even if incomplete)
 *     3    BOOT_STAGE_UART_UP          PL011 base taken from the DT
 *     4    BOOT_STAGE_BANNER           banner sent to the UART and console_io
 *     5    BOOT_STAGE_VERSION          xen_version/extraversion/features done
 *     6    BOOT_STAGE_SCENARIO         "scenario: NAME" printed, scenario runs
 *     7    BOOT_STAGE_SHUTDOWN         right before SCHEDOP_shutdown or
 *                                      PSCI SYSTEM_OFF/RESET is issued
 *
 * The fatal paths (no valid device tree, no Xen /hypervisor node) go from
 * 3 straight to 7.
 */
enum boot_stage_value {
    BOOT_STAGE_ENTRY = 1,
    BOOT_STAGE_DTB_PARSED = 2,
    BOOT_STAGE_UART_UP = 3,
    BOOT_STAGE_BANNER = 4,
    BOOT_STAGE_VERSION = 5,
    BOOT_STAGE_SCENARIO = 6,
    BOOT_STAGE_SHUTDOWN = 7,
};

extern volatile unsigned int boot_stage;

/* What the firmware learned from the device tree. */
struct platform {
    int fdt_error;              /* 0, or a negated FDT_ERR_* */
    bool have_hypervisor;       /* /hypervisor compatible "xen,xen-X.Y" + "xen,xen" */
    bool hypervisor_node_found; /* node present, compatible possibly wrong */
    bool have_memory, have_uart, have_gic;
    uint64_t mem_base, mem_size;
    uint64_t uart_base;
    uint64_t gicd_base, gicc_base;
    const char *bootargs;       /* "" when absent */
    /* GIC INTIDs: /hypervisor interrupts[0] (Xen's event upcall PPI) and
     * the timer node's third interrupt (EL1 virtual timer); the Xen
     * defaults 31 and 27 when the device tree does not say. */
    unsigned int evtchn_ppi;
    unsigned int vtimer_ppi;
    bool have_gnttab;           /* /hypervisor reg[0]: grant-table window */
    uint64_t gnttab_base, gnttab_size;
};

extern struct platform platform;

/* common/platform.c */
void platform_probe(struct platform *p, const void *fdt);

/* common/shutdown.c: print a farewell line, then SCHEDOP_shutdown(reason). */
NORETURN void guest_shutdown(unsigned int reason);
/* Same, but without printing (used when printing itself may be broken). */
NORETURN void guest_shutdown_quiet(unsigned int reason);
/* Park the CPU for good (wfi loop). */
NORETURN void guest_halt(void);
/* Called by the assembly entry code if guest_main ever returns. */
NORETURN void guest_main_returned(void);

/* common/scenarios.c */
void scenario_run(const char *bootargs);

/* Globals the debugger tests look at (defined in common/scenarios.c). */
extern volatile unsigned long spin_count;
extern volatile unsigned long loop_count;
extern volatile unsigned long loop_last_arg;
extern volatile unsigned int undef_count;
void loop_body(unsigned long i);

/* Name of this build's architecture: "arm64" or "arm32". */
extern const char arch_name[];

void guest_main(const void *fdt);

#endif /* XGDBVM_FW_GUEST_H */
