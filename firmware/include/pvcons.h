/*
 * PV console ring writer (common/pvcons.c): the guest side of
 * xencons_interface out[] at HVM_PARAM_CONSOLE_PFN, notified through
 * HVM_PARAM_CONSOLE_EVTCHN (reference section 8), as Linux's hvc_xen.c
 * __write_console does for a domU.
 */
#ifndef XGDBVM_FW_PVCONS_H
#define XGDBVM_FW_PVCONS_H

#include <stddef.h>
#include <stdint.h>

#define PVCONS_TIMEOUT_MS   2000    /* waiting for ring space */

long pvcons_init(uint64_t gfn, uint32_t port);
/* Returns bytes written (all of them) or -errno (-ETIMEDOUT, -EIO). */
long pvcons_write(const char *data, size_t len);

#endif /* XGDBVM_FW_PVCONS_H */
