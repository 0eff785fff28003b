/*
 * 32-bit MMIO accessors: plain LDR/STR with a base register and no
 * writeback, so a hypervisor that traps the access gets a valid
 * instruction syndrome (ESR ISV = 1) and can emulate it.
 */
#ifndef XGDBVM_FW_MMIO_H
#define XGDBVM_FW_MMIO_H

#include <stdint.h>

static inline uint32_t mmio_read32(uintptr_t addr)
{
    uint32_t v;
#if defined(__aarch64__)
    __asm__ volatile("ldr %w0, [%1]" : "=r"(v) : "r"(addr) : "memory");
#else
    __asm__ volatile("ldr %0, [%1]" : "=r"(v) : "r"(addr) : "memory");
#endif
    return v;
}

static inline void mmio_write32(uintptr_t addr, uint32_t v)
{
#if defined(__aarch64__)
    __asm__ volatile("str %w0, [%1]" : : "r"(v), "r"(addr) : "memory");
#else
    __asm__ volatile("str %0, [%1]" : : "r"(v), "r"(addr) : "memory");
#endif
}

#endif /* XGDBVM_FW_MMIO_H */
