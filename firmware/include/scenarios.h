/*
 * Scenario entry points (common/scenarios.c, common/scenarios_xen.c).
 * Each takes the iteration count from xgdbvm.n (or its default) and
 * returns to power off, or shuts down itself.
 */
#ifndef XGDBVM_FW_SCENARIOS_H
#define XGDBVM_FW_SCENARIOS_H

#include <stdbool.h>

/* xgdbvm.mmu=off on the command line: keep the MMU off in Xen scenarios. */
extern bool scenario_mmu_off;

/*
 * What the default boot will also do once the emulator supports it:
 * identity MMU on, shared_info mapped, HVM params, vcpu_info, event
 * channels, xenstore reads/writes, PV console banner.  0 on success (it
 * crash-shuts down itself on a failure).  Not called by the default boot
 * yet; the "bringup" scenario calls it.
 */
int default_xen_bringup(void);

void scenario_bringup(unsigned long n);
void scenario_xenstore(unsigned long seconds);
void scenario_events(unsigned long rounds);
void scenario_evtchn_stress(unsigned long total);
void scenario_timer(unsigned long ticks);
void scenario_fault(unsigned long n);
void scenario_hcall_fail(unsigned long n);
void scenario_mmu(unsigned long n);
void scenario_mmu_lpae(unsigned long n);

#endif /* XGDBVM_FW_SCENARIOS_H */
