/*
 * The vCPU's exception hook, with a fast path for constant hypercalls.
 *
 * Every synchronous exception reaches the machine through one UC_HOOK_INTR
 * hook.  Entering Python for it costs tens of microseconds, which is most of
 * a hypercall-heavy guest's time when the call itself is trivial: xen_version
 * asked for the version, sched_op yield on a one-vCPU domain.  Python lists
 * such calls here (a hypercall number, a command in the first argument, and
 * the fixed answer); this hook answers them without the GIL and logs each one
 * in a ring that Python drains into trace events at its next exit, so nothing
 * a tracer or a counter sees is lost or reordered.  Anything else (other
 * calls, other exceptions, a full ring, an instruction that is not
 * `hvc #0xEA1`) goes to Python's hook unchanged.
 *
 * The ring has one producer (this hook, on the emulation thread) and one
 * consumer at a time (Python holds a lock while it drains), so `head` and
 * `tail` are enough: the hook publishes a record by storing `head` with
 * release order after writing it.
 */
#include <stdint.h>
#include <stddef.h>

#define XGDBVM_FAST_CALLS 8
#define XGDBVM_CALL_RING 1024 /* records; a power of two */
#define XGDBVM_HVC_TAG 0xEA1u
#define UC_PROT_EXEC 4

typedef int (*uc_reg_read_batch_fn)(void *uc, int *regs, void **values, int count);
typedef int (*uc_reg_write_fn)(void *uc, int regid, const void *value);
typedef int (*uc_vmem_read_fn)(void *uc, uint64_t address, int prot, void *bytes, size_t size);
typedef void (*intr_fn)(void *uc, uint32_t intno, void *data);

enum { REG_PC, REG_NUMBER, REG_ARG0, REG_MODE = REG_ARG0 + 5, REG_COUNT };

struct xgdbvm_fast_call {
    uint64_t number;   /* x16 / r12 */
    uint64_t cmd;      /* the first argument, masked, that selects the answer */
    uint64_t cmd_mask;
    uint64_t result;   /* written to x0 / r0 */
};

struct xgdbvm_call_record {
    uint64_t call;     /* index into the fast table */
    uint64_t pc;       /* the hvc instruction */
    uint64_t icount;   /* the instruction clock at the trap */
    uint64_t args[5];
};

struct xgdbvm_traps {
    uc_reg_read_batch_fn reg_read_batch;
    uc_reg_write_fn reg_write;
    uc_vmem_read_fn vmem_read;
    intr_fn slow;               /* Python's hook: every exception not served here */
    void *slow_data;
    const uint64_t *icount;
    uint64_t word_mask;         /* register width */
    uint32_t hvc_intno;
    uint32_t arm32;             /* decode A32/T32 (CPSR.T in REG_MODE), else A64 */
    int32_t regs[REG_COUNT];    /* pc, number, x0..x4 / r0..r4, CPSR (arm32 only) */
    int32_t result_reg;
    uint32_t fast_count;        /* entries of `fast` in use; 0 turns the path off */
    struct xgdbvm_fast_call fast[XGDBVM_FAST_CALLS];
    uint64_t head;              /* records published by the hook */
    uint64_t tail;              /* records taken by Python */
    struct xgdbvm_call_record ring[XGDBVM_CALL_RING];
};

static int is_xen_hvc(const struct xgdbvm_traps *t, uint32_t word, int thumb)
{
    if (!t->arm32)
        return (word & 0xFFE0001Fu) == 0xD4000002u && ((word >> 5) & 0xFFFF) == XGDBVM_HVC_TAG;
    if (thumb) {
        uint32_t hw1 = word & 0xFFFF, hw2 = word >> 16;
        return (hw1 & 0xFFF0) == 0xF7E0 && (hw2 & 0xF000) == 0x8000 &&
               (((hw1 & 0xF) << 12) | (hw2 & 0xFFF)) == XGDBVM_HVC_TAG;
    }
    return (word & 0x0FF000F0u) == 0x01400070u &&
           (((word >> 4) & 0xFFF0) | (word & 0xF)) == XGDBVM_HVC_TAG;
}

static int serve_fast(void *uc, struct xgdbvm_traps *t)
{
    uint64_t head = t->head;
    if (head - __atomic_load_n(&t->tail, __ATOMIC_ACQUIRE) >= XGDBVM_CALL_RING)
        return 0; /* full: Python drains it on the slow path */

    uint64_t values[REG_COUNT] = {0};
    void *pointers[REG_COUNT];
    for (int i = 0; i < REG_COUNT; i++)
        pointers[i] = &values[i];
    if (t->reg_read_batch(uc, t->regs, pointers, t->arm32 ? REG_COUNT : REG_MODE) != 0)
        return 0;
    for (int i = 0; i < REG_COUNT; i++)
        values[i] &= t->word_mask;

    const struct xgdbvm_fast_call *call = NULL;
    uint32_t index;
    for (index = 0; index < t->fast_count; index++) {
        const struct xgdbvm_fast_call *c = &t->fast[index];
        if (c->number == values[REG_NUMBER] && (values[REG_ARG0] & c->cmd_mask) == c->cmd) {
            call = c;
            break;
        }
    }
    if (call == NULL)
        return 0;

    /* The exception number says "hvc" but not which immediate: read it. */
    uint64_t pc = values[REG_PC] - 4;
    uint32_t word;
    if (t->vmem_read(uc, pc, UC_PROT_EXEC, &word, sizeof word) != 0)
        return 0;
    if (!is_xen_hvc(t, word, t->arm32 && (values[REG_MODE] & 0x20)))
        return 0;

    uint64_t result = call->result & t->word_mask;
    if (t->reg_write(uc, t->result_reg, &result) != 0)
        return 0;

    struct xgdbvm_call_record *record = &t->ring[head & (XGDBVM_CALL_RING - 1)];
    record->call = index;
    record->pc = pc;
    record->icount = *t->icount;
    for (int i = 0; i < 5; i++)
        record->args[i] = values[REG_ARG0 + i];
    __atomic_store_n(&t->head, head + 1, __ATOMIC_RELEASE);
    return 1;
}

void xgdbvm_traps_intr(void *uc, uint32_t intno, struct xgdbvm_traps *t)
{
    if (intno == t->hvc_intno && t->fast_count != 0 && serve_fast(uc, t))
        return;
    t->slow(uc, intno, t->slow_data);
}
