/*
 * One armed expectation at a time; see include/fault.h.
 */
#include "console.h"
#include "fault.h"

static uintptr_t expect_insn, expect_resume;
volatile unsigned int fault_count;

void fault_expect(const void *insn, const void *resume)
{
    expect_insn = (uintptr_t)insn;
    expect_resume = (uintptr_t)resume;
}

void fault_expect_none(void)
{
    expect_insn = 0;
    expect_resume = 0;
}

uintptr_t fault_fixup(const uintptr_t *pcs, unsigned int npcs, uint64_t addr,
                      unsigned int status, uint32_t syndrome)
{
    uintptr_t resume = expect_resume;
    unsigned int i;

    if (!expect_insn)
        return 0;
    for (i = 0; i < npcs; i++) {
        if (pcs[i] == expect_insn) {
            fault_expect_none();
            fault_count++;
            kprintf("fault: data abort at 0x%llx status 0x%02x\n",
                    (unsigned long long)addr, status);
#if defined(__aarch64__)
            kprintf("fault: esr 0x%08x\n", (unsigned int)syndrome);
#else
            kprintf("fault: dfsr 0x%08x\n", (unsigned int)syndrome);
#endif
            return resume;
        }
    }
    return 0;
}
