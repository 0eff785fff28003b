/*
 * arm64 exception handling (called from vectors.S).
 *
 *   kind 5 (IRQ, current EL, SP_EL1)  -> dispatch_irq()
 *   sync with ESR_EL1.EC == 0        -> undefined instruction: print
 *                                       "undef: pc=... esr=...", resume
 *                                       after the faulting instruction
 *   sync with EC 0x24/0x25 (data     -> if the instruction at ELR_EL1 was
 *   abort) at an expected insn          armed with fault_expect(): print,
 *                                       resume where it says
 *   anything else                    -> "exception: ..." and crash shutdown
 */
#include "arch.h"
#include "console.h"
#include "fault.h"
#include "guest.h"
#include "hypercall.h"

#define VEC_TYPE_SYNC   0
#define VEC_TYPE_IRQ    1
#define ESR_EC_DABT_LOW 0x24
#define ESR_DFSC_MASK   0x3fu

#define A64_HVC_MASK    0xffe0001fu     /* hvc #imm16 = 0xd4000002 | imm16 << 5 */
#define A64_HVC_BITS    0xd4000002u

void arm64_exception(struct exc_frame *f, unsigned long kind);

static const char *const vector_names[16] = {
    "sync (EL1t)", "irq (EL1t)", "fiq (EL1t)", "serror (EL1t)",
    "sync", "irq", "fiq", "serror",
    "sync (lower EL, AArch64)", "irq (lower EL, AArch64)",
    "fiq (lower EL, AArch64)", "serror (lower EL, AArch64)",
    "sync (lower EL, AArch32)", "irq (lower EL, AArch32)",
    "fiq (lower EL, AArch32)", "serror (lower EL, AArch32)",
};

/* Only look at instruction words inside our own code. */
static bool is_hvc_at(uint64_t addr)
{
    if ((addr & 3) || addr < (uintptr_t)_start || addr + 4 > (uintptr_t)_etext)
        return false;
    return (*(const volatile uint32_t *)(uintptr_t)addr & A64_HVC_MASK) == A64_HVC_BITS;
}

/*
 * An undefined instruction normally leaves ELR_EL1 pointing at itself.
 * Xen's injection for an HVC with a bad immediate, however, happens after
 * the HVC trap, whose return address is already the next instruction, so
 * ELR_EL1 = hvc + 4 there.  Accept both: if ELR is not an HVC but the
 * word before it is, the faulting instruction is that HVC.
 */
static void handle_undef(struct exc_frame *f)
{
    uint64_t fault = f->elr;

    if (!is_hvc_at(fault) && is_hvc_at(fault - 4))
        fault -= 4;
    undef_count++;
    kprintf("undef: pc=0x%lx esr=0x%08x\n", (unsigned long)fault,
            (unsigned int)f->esr);
    f->elr = fault + 4;
}

void dispatch_irq(struct exc_frame *f)
{
    if (irq_handler) {
        irq_handler(f);
        return;
    }
    kprintf("exception: unexpected irq pc=0x%lx spsr=0x%08x\n",
            (unsigned long)f->elr, (unsigned int)f->spsr);
    guest_shutdown(SHUTDOWN_crash);
}

static NORETURN void fatal_exception(struct exc_frame *f, unsigned long kind)
{
    unsigned int ec = (unsigned int)(f->esr >> ESR_EC_SHIFT) & 0x3f;

    kprintf("exception: %s esr=0x%08x ec=0x%02x elr=0x%lx far=0x%lx spsr=0x%08x\n",
            vector_names[kind & 15], (unsigned int)f->esr, ec,
            (unsigned long)f->elr, (unsigned long)f->far, (unsigned int)f->spsr);
    kprintf("exception: x0=0x%lx x1=0x%lx x2=0x%lx x3=0x%lx sp=0x%lx lr=0x%lx\n",
            (unsigned long)f->x[0], (unsigned long)f->x[1], (unsigned long)f->x[2],
            (unsigned long)f->x[3], (unsigned long)f->sp, (unsigned long)f->x[30]);
    guest_shutdown(SHUTDOWN_crash);
}

/*
 * Xen injects a data abort for an access to an IPA it does not map with
 * ELR_EL1 = the faulting instruction, FAR_EL1 = the address and ESR_EL1 =
 * EC 0x25 (current EL) with ISS 0.
 */
static bool handle_dabt(struct exc_frame *f)
{
    uintptr_t pc = (uintptr_t)f->elr;
    uintptr_t resume = fault_fixup(&pc, 1, f->far, (unsigned int)f->esr & ESR_DFSC_MASK,
                                   (uint32_t)f->esr);

    if (!resume)
        return false;
    f->elr = resume;
    return true;
}

void arm64_exception(struct exc_frame *f, unsigned long kind)
{
    unsigned int depth = exception_enter();
    unsigned int type = kind & 3;
    unsigned int ec = (unsigned int)(f->esr >> ESR_EC_SHIFT) & 0x3f;

    if (depth > 2)
        guest_shutdown_quiet(SHUTDOWN_crash);   /* the report itself faulted */
    if (depth == 2) {
        kprintf("exception: nested %s esr=0x%08x elr=0x%lx far=0x%lx\n",
                vector_names[kind & 15], (unsigned int)f->esr,
                (unsigned long)f->elr, (unsigned long)f->far);
        guest_shutdown_quiet(SHUTDOWN_crash);
    }

    if (kind < 8 && type == VEC_TYPE_IRQ) {
        dispatch_irq(f);
    } else if (kind < 8 && type == VEC_TYPE_SYNC && ec == ESR_EC_UNKNOWN) {
        handle_undef(f);
    } else if (kind < 8 && type == VEC_TYPE_SYNC &&
               (ec == ESR_EC_DABT_CUR || ec == ESR_EC_DABT_LOW) && handle_dabt(f)) {
        /* resumed by the fixup */
    } else {
        fatal_exception(f, kind);
    }
    exception_leave();
}
