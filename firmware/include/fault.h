/*
 * Expected data aborts (common/fault.c): a scenario arms one expected
 * faulting instruction and where to resume; the architecture's abort
 * handler (arch/<arch>/trap.c) asks fault_fixup() whether the abort it
 * took is that one, and if so resumes there instead of crashing.
 */
#ifndef XGDBVM_FW_FAULT_H
#define XGDBVM_FW_FAULT_H

#include <stdbool.h>
#include <stdint.h>

void fault_expect(const void *insn, const void *resume);
void fault_expect_none(void);

/*
 * Called by the abort handler with the candidate addresses of the
 * faulting instruction (architectures and hypervisors disagree on the
 * arm32 LR offset), the fault address, the fault status code (arm64
 * ESR_EL1.DFSC, arm32 DFSR.FS) and the raw syndrome (ESR_EL1 / DFSR).
 * Prints "fault: data abort at ADDR status 0xSS", returns the resume
 * address, or 0 if the abort was not expected.
 */
uintptr_t fault_fixup(const uintptr_t *pcs, unsigned int npcs, uint64_t addr,
                      unsigned int status, uint32_t syndrome);

extern volatile unsigned int fault_count;

/* arch/<arch>/scenarios.S: one load / one store that may fault. */
uint32_t fault_probe_read(uintptr_t addr);      /* returns FAULT_PROBE_SKIPPED if skipped */
void fault_probe_write(uintptr_t addr, uint32_t value);
extern const char fault_probe_read_insn[], fault_probe_read_resume[];
extern const char fault_probe_write_insn[], fault_probe_write_resume[];

#define FAULT_PROBE_SKIPPED 0xfa17fa17u

#endif /* XGDBVM_FW_FAULT_H */
