/*
 * A hypercall issued from Thumb state.
 *
 * On arm32 the Makefile compiles this file with -mthumb, so
 * thumb_xen_version is a Thumb function (its symbol has bit 0 set) and
 * the "hvc #0xEA1" below is the 32-bit T32 encoding (halfwords F7E0 8EA1).
 * ARM-state callers reach it through BLX (the linker rewrites BL).  On
 * arm64 the same source is simply built as A64 code.
 *
 * Register use follows the Xen convention: number in r12/x16, arguments
 * in r0-r1/x0-x1, result in r0/x0; r1/x1 and r12/x16 may come back
 * clobbered (debug Xen writes 0xDEADBEEF into them).
 */
#include "hypercall.h"
#include "lib.h"

#if defined(__aarch64__)
#define HCALL_NR_REG    "x16"
#define HCALL_ARG0_REG  "x0"
#define HCALL_ARG1_REG  "x1"
#else
#define HCALL_NR_REG    "r12"
#define HCALL_ARG0_REG  "r0"
#define HCALL_ARG1_REG  "r1"
#endif

NOINLINE long thumb_xen_version(void)
{
    register unsigned long nr __asm__(HCALL_NR_REG) = __HYPERVISOR_xen_version;
    register long a0 __asm__(HCALL_ARG0_REG) = XENVER_version;
    register unsigned long a1 __asm__(HCALL_ARG1_REG) = 0;     /* NULL */

    __asm__ volatile("hvc #0xea1"
                     : "+r"(a0), "+r"(a1), "+r"(nr)
                     :
                     : "memory");
    return a0;
}
