/*
 * Interrupts (common/irq.c): a per-INTID handler table behind the GIC,
 * plugged into the vector hook (set_irq_handler), the virtual-timer
 * helpers and the one way the firmware waits for anything.
 *
 * Interrupts stay masked (PSTATE.I / CPSR.I) while ordinary code runs;
 * they are taken only inside wait_until() (after each WFI) or where a
 * scenario unmasks them explicitly.  So output printed by handlers never
 * interleaves with output of the code that waits.
 */
#ifndef XGDBVM_FW_IRQ_H
#define XGDBVM_FW_IRQ_H

#include <stdbool.h>
#include <stdint.h>

typedef void (*irq_fn_t)(unsigned int intid, void *arg);

#define IRQ_TABLE_SIZE  64u     /* SGIs, PPIs and the first 32 SPIs */

/*
 * Initialise the GIC described by the device tree and install the IRQ
 * entry.  Idempotent.  Returns false (after printing why) if the device
 * tree has no GIC.
 */
bool irq_init(void);
/* Install a handler for `intid`, set its priority and enable it. */
void irq_request(unsigned int intid, irq_fn_t fn, void *arg);
void irq_release(unsigned int intid);

extern volatile unsigned long irq_count;        /* interrupts handled */
extern volatile unsigned long irq_spurious;     /* IARs >= 1020 on entry */

/* ---- virtual timer (PPI 27) ---- */

/* CNTFRQ, or 62.5 MHz when the register reads 0 (noted once). */
uint32_t timer_frequency(void);
/* Counter ticks in `ms` milliseconds. */
uint64_t timer_ms_to_ticks(uint64_t ms);
/*
 * Use the virtual timer only as the wake-up source of wait_until() (the
 * default), or hand it to a scenario's own handler (the timer scenario).
 */
void timer_use_for_wakeups(void);
void timer_claim(irq_fn_t fn, void *arg);

/* ---- waiting ---- */

typedef bool (*wait_cond_t)(void *arg);

/*
 * Wait until cond(arg) is true, for at most `timeout_ticks` of counter time
 * and at most `max_wakeups` WFI wake-ups (whichever ends first), and
 * return cond's final value.  With IRQs masked, each round checks the
 * condition, arms the virtual timer at the deadline (if wait_until owns
 * the timer), executes WFI, then unmasks IRQs for an instant so that what
 * woke the CPU is handled.  Race-free: an interrupt that arrives between
 * the check and WFI keeps WFI from sleeping.  Must be called with IRQs
 * masked; returns with IRQs masked.
 */
bool wait_until(wait_cond_t cond, void *arg, uint64_t timeout_ticks,
                unsigned long max_wakeups);

#define WAIT_MAX_WAKEUPS_DEFAULT 1000000ul

#endif /* XGDBVM_FW_IRQ_H */
