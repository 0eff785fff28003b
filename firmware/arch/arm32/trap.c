/*
 * arm32 exception handling (called from vectors.S, in SVC mode).
 *
 *   IRQ                      -> dispatch_irq()
 *   undefined instruction    -> print "undef: pc=... spsr=...", resume
 *                               after the faulting instruction
 *   data abort at an insn    -> print, resume where fault_expect() said
 *   armed with fault_expect()
 *   anything else            -> "exception: ..." and crash shutdown
 */
#include "arch.h"
#include "console.h"
#include "fault.h"
#include "guest.h"
#include "hypercall.h"

enum {
    VEC_RESET, VEC_UNDEF, VEC_SVC, VEC_PABT, VEC_DABT, VEC_HYP, VEC_IRQ, VEC_FIQ,
};

/* A32 "hvc #imm16": cond=1110, 0001 0100 imm12 0111 imm4. */
#define A32_HVC_MASK    0xfff000f0u
#define A32_HVC_BITS    0xe1400070u
/* T32 "hvc #imm16": 1111 0111 1110 imm4, 1000 imm12. */
#define T32_HVC_HW1_MASK 0xfff0u
#define T32_HVC_HW1_BITS 0xf7e0u
#define T32_HVC_HW2_MASK 0xf000u
#define T32_HVC_HW2_BITS 0x8000u

void arm32_exception(struct exc_frame *f, unsigned int kind);

static const char *const vector_names[8] = {
    "reset", "undefined instruction", "svc", "prefetch abort",
    "data abort", "hyp trap", "irq", "fiq",
};

static bool in_text(uint32_t addr, uint32_t size)
{
    return addr >= (uintptr_t)_start && addr + size <= (uintptr_t)_etext;
}

static bool is_a32_hvc_at(uint32_t addr)
{
    if ((addr & 3) || !in_text(addr, 4))
        return false;
    return (*(const volatile uint32_t *)addr & A32_HVC_MASK) == A32_HVC_BITS;
}

static bool is_t32_hvc_at(uint32_t addr)
{
    const volatile uint16_t *hw = (const volatile uint16_t *)addr;

    if ((addr & 1) || !in_text(addr, 4))
        return false;
    return (hw[0] & T32_HVC_HW1_MASK) == T32_HVC_HW1_BITS &&
           (hw[1] & T32_HVC_HW2_MASK) == T32_HVC_HW2_BITS;
}

static uint32_t t32_insn_size(uint32_t addr)
{
    uint16_t hw1;

    if ((addr & 1) || !in_text(addr, 2))
        return 2;
    hw1 = *(const volatile uint16_t *)addr;
    return (hw1 >> 11) >= 0x1d ? 4 : 2;
}

static uint32_t read_dfsr(void)
{
    uint32_t v;
    __asm__ volatile("mrc p15, 0, %0, c5, c0, 0" : "=r"(v));
    return v;
}

static uint32_t read_ifsr(void)
{
    uint32_t v;
    __asm__ volatile("mrc p15, 0, %0, c5, c0, 1" : "=r"(v));
    return v;
}

static uint32_t read_dfar(void)
{
    uint32_t v;
    __asm__ volatile("mrc p15, 0, %0, c6, c0, 0" : "=r"(v));
    return v;
}

static uint32_t read_ifar(void)
{
    uint32_t v;
    __asm__ volatile("mrc p15, 0, %0, c6, c0, 2" : "=r"(v));
    return v;
}

/*
 * Architecturally LR_und = faulting instruction + 4 (ARM) / + 2 (Thumb).
 * Xen injects the exception for an HVC with a bad immediate after the HVC
 * trap, when the saved PC already points past the 4-byte HVC, so there
 * LR_und = hvc + 8 (ARM) / hvc + 6 (Thumb).  Accept both conventions.
 */
static void handle_undef(struct exc_frame *f)
{
    uint32_t lr = f->pc, fault, size;

    if (f->spsr & PSR_T_BIT) {
        fault = lr - 2;
        if (!is_t32_hvc_at(fault) && is_t32_hvc_at(lr - 6))
            fault = lr - 6;
        size = t32_insn_size(fault);
    } else {
        fault = lr - 4;
        if (!is_a32_hvc_at(fault) && is_a32_hvc_at(lr - 8))
            fault = lr - 8;
        size = 4;
    }
    undef_count++;
    kprintf("undef: pc=0x%lx spsr=0x%08x\n", (unsigned long)fault,
            (unsigned int)f->spsr);
    f->pc = fault + size;
}

/*
 * DFSR fault status: FS[4] is bit 10 and FS[3:0] bits 3:0 in the short
 * format; with the long-descriptor format (DFSR bit 9) it is bits 5:0.
 */
static unsigned int dfsr_status(uint32_t dfsr)
{
    if (dfsr & (1u << 9))
        return dfsr & 0x3fu;
    return (dfsr & 0xfu) | ((dfsr >> 6) & 0x10u);
}

/*
 * Architecturally LR_abt = faulting instruction + 8.  Xen's
 * inject_abt32_exception sets LR_abt = instruction + 0 (ARM) / + 4
 * (Thumb) instead, and reports DFSR = 0x2 ("debug event"), or 0x222 with
 * LPAE.  Accept every one of those as the expected instruction.
 */
static bool handle_dabt(struct exc_frame *f)
{
    uintptr_t pcs[3] = { f->pc - 8, f->pc, f->pc - 4 };
    uint32_t dfsr = read_dfsr();
    uintptr_t resume = fault_fixup(pcs, 3, read_dfar(), dfsr_status(dfsr), dfsr);

    if (!resume)
        return false;
    f->pc = resume;
    return true;
}

void dispatch_irq(struct exc_frame *f)
{
    if (irq_handler) {
        irq_handler(f);
        return;
    }
    kprintf("exception: unexpected irq pc=0x%lx spsr=0x%08x\n",
            (unsigned long)f->pc, (unsigned int)f->spsr);
    guest_shutdown(SHUTDOWN_crash);
}

static NORETURN void fatal_exception(struct exc_frame *f, unsigned int kind)
{
    bool thumb = (f->spsr & PSR_T_BIT) != 0;
    uint32_t pc;

    switch (kind) {
    case VEC_DABT:
        pc = f->pc - 8;
        kprintf("exception: data abort pc=0x%lx dfsr=0x%08x dfar=0x%08x spsr=0x%08x\n",
                (unsigned long)pc, (unsigned int)read_dfsr(),
                (unsigned int)read_dfar(), (unsigned int)f->spsr);
        break;
    case VEC_PABT:
        pc = f->pc - 4;
        kprintf("exception: prefetch abort pc=0x%lx ifsr=0x%08x ifar=0x%08x spsr=0x%08x\n",
                (unsigned long)pc, (unsigned int)read_ifsr(),
                (unsigned int)read_ifar(), (unsigned int)f->spsr);
        break;
    case VEC_SVC:
        pc = f->pc - (thumb ? 2 : 4);
        kprintf("exception: svc pc=0x%lx spsr=0x%08x\n", (unsigned long)pc,
                (unsigned int)f->spsr);
        break;
    default:
        kprintf("exception: %s lr=0x%lx spsr=0x%08x\n", vector_names[kind & 7],
                (unsigned long)f->pc, (unsigned int)f->spsr);
        break;
    }
    kprintf("exception: r0=0x%lx r1=0x%lx r2=0x%lx r3=0x%lx sp=0x%lx lr=0x%lx\n",
            (unsigned long)f->r[0], (unsigned long)f->r[1], (unsigned long)f->r[2],
            (unsigned long)f->r[3], (unsigned long)((uintptr_t)f + sizeof(*f)),
            (unsigned long)f->lr);
    guest_shutdown(SHUTDOWN_crash);
}

void arm32_exception(struct exc_frame *f, unsigned int kind)
{
    unsigned int depth = exception_enter();

    if (depth > 2)
        guest_shutdown_quiet(SHUTDOWN_crash);   /* the report itself faulted */
    if (depth == 2) {
        kprintf("exception: nested %s lr=0x%lx spsr=0x%08x\n",
                vector_names[kind & 7], (unsigned long)f->pc,
                (unsigned int)f->spsr);
        guest_shutdown_quiet(SHUTDOWN_crash);
    }

    if (kind == VEC_IRQ)
        dispatch_irq(f);
    else if (kind == VEC_UNDEF)
        handle_undef(f);
    else if (kind == VEC_DABT && handle_dabt(f))
        ;   /* resumed by the fixup */
    else
        fatal_exception(f, kind);
    exception_leave();
}
