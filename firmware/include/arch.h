/*
 * Interface between the architecture code (arch/<arch>/) and the rest.
 *
 * Exception flow: the vector table (arch/<arch>/vectors.S) saves the
 * interrupted context into a struct exc_frame on the current stack and
 * calls the architecture's C handler (arch/<arch>/trap.c), which
 *   - sends IRQs to the handler installed with set_irq_handler(),
 *   - resolves undefined-instruction exceptions (see undef_resume()),
 *   - reports anything else as "exception: ..." and crash-shuts down.
 * When the C handler returns, the (possibly edited) frame is restored and
 * the exception returns to frame->pc / frame->elr.
 */
#ifndef XGDBVM_FW_ARCH_H
#define XGDBVM_FW_ARCH_H

#include "lib.h"

#if defined(__aarch64__)

/* Layout shared with arch/arm64/vectors.S (EXC_FRAME_* offsets there). */
struct exc_frame {
    uint64_t x[31];     /* x0..x30 */
    uint64_t sp;        /* SP at the time of the exception */
    uint64_t elr;       /* ELR_EL1: resume address */
    uint64_t spsr;      /* SPSR_EL1 */
    uint64_t esr;       /* ESR_EL1 */
    uint64_t far;       /* FAR_EL1 */
};
_Static_assert(sizeof(struct exc_frame) == 36 * 8, "exc_frame layout");

#define ESR_EC_SHIFT        26
#define ESR_EC_UNKNOWN      0x00
#define ESR_EC_SVC64        0x15
#define ESR_EC_HVC64        0x16
#define ESR_EC_IABT_CUR     0x21
#define ESR_EC_PC_ALIGN     0x22
#define ESR_EC_DABT_CUR     0x25
#define ESR_EC_SP_ALIGN     0x26
#define ESR_EC_SERROR       0x2f
#define ESR_EC_BRK64        0x3c

#elif defined(__arm__)

/* Layout shared with arch/arm32/vectors.S. */
struct exc_frame {
    uint32_t r[13];     /* r0..r12 */
    uint32_t lr;        /* lr of the interrupted SVC-mode code */
    uint32_t pc;        /* return address: raw LR of the exception mode
                           (minus 4 for IRQ/FIQ, i.e. the resume address) */
    uint32_t spsr;      /* CPSR of the interrupted code */
};
_Static_assert(sizeof(struct exc_frame) == 16 * 4, "exc_frame layout");

#define PSR_T_BIT           (1u << 5)
#define PSR_MODE_MASK       0x1fu

#else
#error "unsupported architecture"
#endif

/* IRQ handler hook: later work installs the GIC handler here. */
typedef void (*irq_handler_t)(struct exc_frame *frame);
void set_irq_handler(irq_handler_t handler);
extern irq_handler_t irq_handler;

/* arch/<arch>/trap.c: IRQ dispatch (prints + crashes if no handler). */
void dispatch_irq(struct exc_frame *frame);

/*
 * common/traps.c: exception nesting guard.  exception_enter() returns the
 * nesting level including this exception (1 = not nested); every handler
 * that returns to the interrupted code calls exception_leave() first.
 */
unsigned int exception_enter(void);
void exception_leave(void);

/* arch/<arch>/scenarios.S */
void hotloop_countdown(unsigned long n);    /* 2 instructions per iteration */
void hvc_undef_probe(void);                 /* executes "hvc #0x1" */
extern const char hvc_undef_insn[];         /* address of that hvc */
NORETURN void arch_halt(void);              /* wfi forever */

/* Linker-script symbols. */
extern const char _start[], _etext[], _edata[], _end[];

#endif /* XGDBVM_FW_ARCH_H */
