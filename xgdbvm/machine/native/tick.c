/*
 * The machine's instruction clock, as a Unicorn block hook written in C.
 *
 * Unicorn has no icount and a Python hook per block costs ~100x in guest
 * speed, so the count lives here: each translated block adds its instruction
 * count when it starts, and when the count reaches the deadline the hook asks
 * Unicorn to stop.  The Python side reads and writes the struct through ctypes
 * between (and during) emu_start calls.
 *
 * Counting is per block, so a stop lands at a block boundary at or after the
 * deadline; hypercalls and exceptions end a block, so the count is exact at
 * every trap.  Instruction width: 4 bytes (A64/A32) or 2 (T32, an
 * approximation for 32-bit Thumb encodings).  The result is deterministic,
 * which is what virtual time needs.
 *
 * This file is built as a CPython extension module only so that pip builds it
 * with the package; Python code reaches the hook through ctypes.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>

typedef int (*uc_emu_stop_fn)(void *uc);
typedef int (*uc_reg_read_fn)(void *uc, int regid, void *value);

struct xgdbvm_tick {
    uint64_t instructions;   /* instructions started so far */
    uint64_t deadline;       /* stop once instructions >= deadline */
    uint64_t blocks;         /* blocks started so far */
    uint32_t shift;          /* log2 of the instruction width (2 or 1) */
    uint32_t stopped;        /* 1: deadline reached, 2: interrupt window opened */
    uc_emu_stop_fn emu_stop; /* uc_emu_stop from the loaded libunicorn */
    uc_reg_read_fn reg_read; /* uc_reg_read, for the interrupt-window check */
    int32_t mask_reg;        /* PSTATE / CPSR register id */
    uint32_t irq_waiting;    /* an interrupt is pending but the vCPU masks it */
    uint64_t mask_bit;       /* the I bit in that register */
};

/*
 * Unmasking interrupts (msr daifclr, cpsie i) ends a translated block, so
 * checking the mask at block starts, and only while an interrupt waits,
 * finds the first boundary where it can be taken without any per-instruction
 * cost and without trapping the unmask itself.
 */
void xgdbvm_tick_block(void *uc, uint64_t address, uint32_t size, struct xgdbvm_tick *tick)
{
    (void)address;
    tick->blocks += 1;
    tick->instructions += size >> tick->shift;
    if (tick->stopped)
        return;
    if (tick->instructions >= tick->deadline) {
        tick->stopped = 1;
        tick->emu_stop(uc);
    } else if (tick->irq_waiting) {
        uint64_t value = tick->mask_bit;
        if (tick->reg_read(uc, tick->mask_reg, &value) == 0 && !(value & tick->mask_bit)) {
            tick->stopped = 2;
            tick->emu_stop(uc);
        }
    }
}

static struct PyModuleDef tick_module = {
    PyModuleDef_HEAD_INIT, "_tick", "Native instruction-clock hook (see tick.c).", -1, NULL,
};

PyMODINIT_FUNC PyInit__tick(void)
{
    return PyModule_Create(&tick_module);
}
