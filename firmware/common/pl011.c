/*
 * PL011 / SBSA generic UART, transmit side only.
 *
 * The SBSA UART has no baud-rate or control registers to program, so
 * "bringing it up" is just remembering its base address.  Every byte waits
 * for UARTFR.TXFF (bit 5) to clear and is then written to UARTDR.  A '\n'
 * is sent as a single '\n' byte (no CR is added).
 *
 * Accesses are 32 bits wide and use plain LDR/STR without writeback, so a
 * hypervisor trapping them always gets a valid instruction syndrome.
 */
#include "console.h"
#include "lib.h"

static uintptr_t uart_base;

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

void pl011_init(uintptr_t base)
{
    uart_base = base;
}

int pl011_present(void)
{
    return uart_base != 0;
}

void pl011_putc(char c)
{
    if (!uart_base)
        return;
    while (mmio_read32(uart_base + PL011_UARTFR) & PL011_FR_TXFF)
        ;
    mmio_write32(uart_base + PL011_UARTDR, (uint32_t)(unsigned char)c);
}
