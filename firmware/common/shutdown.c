/*
 * Leaving the guest: SCHEDOP_shutdown with a reason.  Real Xen never
 * returns from a successful shutdown; if the call fails the firmware says
 * so, tries the PSCI equivalent where there is one, and parks the CPU.
 */
#include "arch.h"
#include "console.h"
#include "guest.h"
#include "hypercall.h"
#include "psci.h"

static const char *farewell(unsigned int reason)
{
    switch (reason) {
    case SHUTDOWN_poweroff: return "powering off";
    case SHUTDOWN_reboot:   return "rebooting";
    case SHUTDOWN_crash:    return "crashing";
    default:                return "shutting down";
    }
}

void guest_shutdown_quiet(unsigned int reason)
{
    struct sched_shutdown arg = { .reason = reason };

    boot_stage = BOOT_STAGE_SHUTDOWN;
    (void)HYPERVISOR_sched_op(SCHEDOP_shutdown, &arg);
    arch_halt();
}

void guest_shutdown(unsigned int reason)
{
    struct sched_shutdown arg = { .reason = reason };
    long rc;

    kprintf("xgdbvm guest: %s\n", farewell(reason));
    boot_stage = BOOT_STAGE_SHUTDOWN;
    rc = HYPERVISOR_sched_op(SCHEDOP_shutdown, &arg);
    if (rc < 0)
        kprintf("sched_op failed: %ld\n", rc);
    else
        kprintf("sched_op(shutdown) returned %ld\n", rc);

    if (reason == SHUTDOWN_poweroff)
        rc = psci_call(PSCI_SYSTEM_OFF, 0, 0, 0);
    else if (reason == SHUTDOWN_reboot)
        rc = psci_call(PSCI_SYSTEM_RESET, 0, 0, 0);
    else
        guest_halt();
    kprintf("psci: shutdown returned %ld\n", rc);
    guest_halt();
}

void guest_halt(void)
{
    kprintf("xgdbvm guest: halted\n");
    arch_halt();
}

void guest_main_returned(void)
{
    guest_shutdown(SHUTDOWN_poweroff);
}
