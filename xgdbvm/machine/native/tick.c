/*
 * The machine's instruction clock: a count of guest instructions that stops
 * Unicorn at a deadline, kept without any per-block Python.
 *
 * Two ways to keep it, the same struct for both:
 *  - inline: the libunicorn that ./scripts/bootstrap builds carries a patch
 *    (scripts/unicorn/tb-counter.patch): the helper every translated block
 *    already calls at its start, to check for exit requests, also adds the
 *    block's instruction count to `instructions` and calls xgdbvm_tick_slow
 *    once it reaches `limit`. No hook: an add and a compare per block.
 *  - block hook: with a stock libunicorn, a C block hook does the same add
 *    and compare (xgdbvm_tick_block below), at the cost of Unicorn's hook
 *    dispatch per block.
 *
 * Counting is per block, so a stop lands at a block boundary at or after the
 * deadline; hypercalls and exceptions end a block, so the count is exact at
 * every trap.  The inline count is exact for T32 too; the block hook knows
 * only the block's size in bytes and divides by the instruction width, 4
 * (A64/A32) or 2 (T32, an approximation for 32-bit Thumb encodings).  Either
 * way the result is deterministic, which is what virtual time needs.
 *
 * Unicorn calls these functions by address; Python hands them over through
 * ctypes. The extension module they are built into also carries the register
 * and run calls of uccalls.c.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>

#include "uccalls.h"

typedef int (*uc_emu_stop_fn)(void *uc);
typedef int (*uc_reg_read_fn)(void *uc, int regid, void *value);

/* Its first two fields are the patched libunicorn's uc_tb_counter. */
struct xgdbvm_tick {
    uint64_t instructions;   /* instructions started so far */
    uint64_t limit;          /* the slow path runs once instructions >= limit */
    uint64_t deadline;       /* stop once instructions >= deadline */
    uint32_t stopped;        /* 1: deadline reached, 2: interrupt window opened */
    uint32_t irq_waiting;    /* an interrupt is pending but the vCPU masks it */
    uc_emu_stop_fn emu_stop; /* uc_emu_stop from the loaded libunicorn */
    uc_reg_read_fn reg_read; /* uc_reg_read, for the interrupt-window check */
    int32_t mask_reg;        /* PSTATE / CPSR register id */
    uint32_t reserved;
    uint64_t mask_bit;       /* the I bit in that register */
};

/*
 * Everything but the count, out of the hot path; the inline counter calls it
 * directly. The Python side keeps limit = deadline, or 0 while an interrupt
 * waits (every block comes here).
 *
 * Unmasking interrupts (msr daifclr, cpsie i) ends a translated block, so
 * checking the mask at block starts, and only while an interrupt waits,
 * finds the first boundary where it can be taken without any per-instruction
 * cost and without trapping the unmask itself.
 */
__attribute__((noinline)) void xgdbvm_tick_slow(void *uc, struct xgdbvm_tick *tick)
{
    if (tick->stopped)
        return;
    if (tick->instructions >= tick->deadline) {
        tick->stopped = 1;
        tick->limit = UINT64_MAX;
        tick->emu_stop(uc);
    } else if (tick->irq_waiting) {
        uint64_t value = tick->mask_bit;
        if (tick->reg_read(uc, tick->mask_reg, &value) == 0 && !(value & tick->mask_bit)) {
            tick->stopped = 2;
            tick->limit = UINT64_MAX;
            tick->emu_stop(uc);
        }
    } else {
        tick->limit = tick->deadline; /* a limit set before the deadline moved on */
    }
}

/*
 * The block hook's hot path: one add, one compare, per block. Aligned to 64
 * bytes so that its branches never straddle a 32-byte boundary: on Intel
 * cores with the jump-conditional-code erratum fix, a hook placed across one
 * ran 25-30% slower than an empty hook, and at the same speed once aligned.
 */
#define TICK_BLOCK(name, shift)                                                           \
    __attribute__((aligned(64))) void name(void *uc, uint64_t address, uint32_t size,     \
                                           struct xgdbvm_tick *tick)                      \
    {                                                                                     \
        (void)address;                                                                    \
        uint64_t instructions = tick->instructions + (size >> (shift));                   \
        tick->instructions = instructions;                                                \
        if (__builtin_expect(instructions >= tick->limit, 0))                             \
            xgdbvm_tick_slow(uc, tick);                                                   \
    }

TICK_BLOCK(xgdbvm_tick_block, 2)     /* A64 and A32: 4-byte instructions */
TICK_BLOCK(xgdbvm_tick_block_t32, 1) /* T32: 2 bytes, an approximation for 32-bit encodings */

static struct PyModuleDef tick_module = {
    PyModuleDef_HEAD_INIT, "_tick", "The instruction clock (tick.c) and libunicorn calls (uccalls.c).",
    -1, xgdbvm_uccalls_methods,
};

PyMODINIT_FUNC PyInit__tick(void)
{
    return PyModule_Create(&tick_module);
}
