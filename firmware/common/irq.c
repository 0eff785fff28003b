/*
 * IRQ dispatch and waiting.  The vector code (arch/<arch>/vectors.S)
 * calls dispatch_irq(), which calls irq_entry() below: it acknowledges
 * through GICC_IAR, runs the handler registered for the INTID and writes
 * the same value to GICC_EOIR, until the IAR reads a spurious INTID (as
 * Linux's gic_handle_irq does).  An INTID with no handler is reported and
 * disabled so it cannot storm.
 */
#include "arch.h"
#include "console.h"
#include "cpu.h"
#include "gic.h"
#include "guest.h"
#include "irq.h"

#define IRQ_MAX_PER_ENTRY   64u
#define TIMER_DEFAULT_FREQ  62500000u

volatile unsigned long irq_count;
volatile unsigned long irq_spurious;

static struct {
    irq_fn_t fn;
    void *arg;
} irq_table[IRQ_TABLE_SIZE];

static bool irq_up;
static uint32_t timer_freq;
static bool timer_for_wakeups = true;

static void irq_entry(struct exc_frame *frame)
{
    unsigned int n;

    (void)frame;
    for (n = 0; n < IRQ_MAX_PER_ENTRY; n++) {
        uint32_t iar = gic_ack();
        unsigned int intid = iar & GICC_IAR_INTID_MASK;

        if (intid >= GIC_MAX_INTID) {
            if (n == 0)
                irq_spurious++;
            return;
        }
        irq_count++;
        if (intid < IRQ_TABLE_SIZE && irq_table[intid].fn) {
            irq_table[intid].fn(intid, irq_table[intid].arg);
        } else {
            kprintf("irq: unexpected interrupt %u, disabling it\n", intid);
            gic_disable_irq(intid);
        }
        gic_eoi(iar);
    }
}

bool irq_init(void)
{
    if (irq_up)
        return true;
    if (!platform.have_gic) {
        kprintf("irq: no GIC in the device tree\n");
        return false;
    }
    gic_init((uintptr_t)platform.gicd_base, (uintptr_t)platform.gicc_base);
    set_irq_handler(irq_entry);
    irq_up = true;
    timer_use_for_wakeups();
    return true;
}

void irq_request(unsigned int intid, irq_fn_t fn, void *arg)
{
    if (intid >= IRQ_TABLE_SIZE)
        return;
    irq_table[intid].fn = fn;
    irq_table[intid].arg = arg;
    gic_set_priority(intid, GIC_DEFAULT_PRIORITY);
    gic_enable_irq(intid);
}

void irq_release(unsigned int intid)
{
    if (intid >= IRQ_TABLE_SIZE)
        return;
    gic_disable_irq(intid);
    irq_table[intid].fn = NULL;
    irq_table[intid].arg = NULL;
}

/* ------------------------------------------------------------ timer */

uint32_t timer_frequency(void)
{
    if (!timer_freq) {
        timer_freq = timer_read_cntfrq();
        if (!timer_freq) {
            kprintf("timer: CNTFRQ reads 0, assuming %u Hz\n", TIMER_DEFAULT_FREQ);
            timer_freq = TIMER_DEFAULT_FREQ;
        }
    }
    return timer_freq;
}

uint64_t timer_ms_to_ticks(uint64_t ms)
{
    return ms * (timer_frequency() / 1000u);
}

/* As a wake-up source the timer only has to stop asserting its PPI. */
static void timer_wakeup_irq(unsigned int intid, void *arg)
{
    (void)intid;
    (void)arg;
    timer_write_ctl(CNTV_CTL_ENABLE | CNTV_CTL_IMASK);
}

void timer_use_for_wakeups(void)
{
    timer_write_ctl(0);
    timer_for_wakeups = true;
    irq_request(platform.vtimer_ppi, timer_wakeup_irq, NULL);
}

void timer_claim(irq_fn_t fn, void *arg)
{
    timer_write_ctl(0);
    timer_for_wakeups = false;
    irq_request(platform.vtimer_ppi, fn, arg);
}

/* ------------------------------------------------------------ waiting */

bool wait_until(wait_cond_t cond, void *arg, uint64_t timeout_ticks,
                unsigned long max_wakeups)
{
    uint64_t deadline = timer_read_cntvct() + timeout_ticks;
    bool arm = irq_up && timer_for_wakeups;
    unsigned long wakeups;
    bool ok = false;

    local_irq_disable();
    for (wakeups = 0;; wakeups++) {
        if (cond(arg)) {
            ok = true;
            break;
        }
        if (wakeups >= max_wakeups || timer_read_cntvct() >= deadline)
            break;
        if (arm) {
            timer_write_cval(deadline);
            timer_write_ctl(CNTV_CTL_ENABLE);
        }
        dsb_sy();
        wfi();
        local_irq_enable();
        isb();
        local_irq_disable();
    }
    if (arm)
        timer_write_ctl(0);
    return ok;
}
