/*
 * SMCCC / PSCI function identifiers, issued with "hvc #0": function id in
 * x0/r0, arguments in x1-x3/r1-r3, result in x0/r0.
 */
#ifndef XGDBVM_FW_PSCI_H
#define XGDBVM_FW_PSCI_H

#define PSCI_HVC_IMM                    0

#define SMCCC_VERSION                   0x80000000
#define PSCI_VERSION                    0x84000000
#define PSCI_CPU_OFF                    0x84000002
#define PSCI_SYSTEM_OFF                 0x84000008
#define PSCI_SYSTEM_RESET               0x84000009
#define PSCI_FEATURES                   0x8400000A

/* Negative results. */
#define PSCI_RET_NOT_SUPPORTED          (-1)
#define PSCI_RET_INVALID_PARAMETERS     (-2)

#ifndef __ASSEMBLER__
/* arch/<arch>/hypercall.S: raw SMCCC call through "hvc #0". */
long psci_call(unsigned long fid, unsigned long a1, unsigned long a2,
               unsigned long a3);
#endif

#endif /* XGDBVM_FW_PSCI_H */
