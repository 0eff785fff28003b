/*
 * Console output: a PL011 / SBSA UART driver (common/pl011.c) and a small
 * printf (common/printf.c).
 *
 * Supported conversions: %s %c %d %i %u %x %X %p %%, with an optional '0'
 * or '-' flag, a field width and the length modifiers l, ll and z.
 */
#ifndef XGDBVM_FW_CONSOLE_H
#define XGDBVM_FW_CONSOLE_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* PL011 register offsets and flag bits (only what the firmware uses). */
#define PL011_UARTDR        0x00
#define PL011_UARTFR        0x18
#define PL011_FR_TXFF       (1u << 5)   /* transmit FIFO full */

/* Start using the UART at this physical address (0 = no UART). */
void pl011_init(uintptr_t base);
int pl011_present(void);
void pl011_putc(char c);

/* Formatted output to the UART (dropped when there is no UART). */
__attribute__((format(printf, 1, 2))) void kprintf(const char *fmt, ...);
void kvprintf(const char *fmt, va_list ap);
void kputs(const char *s);          /* no newline appended */

/* Formatted output into a buffer; always NUL-terminates when size > 0. */
__attribute__((format(printf, 3, 4)))
int ksnprintf(char *buf, size_t size, const char *fmt, ...);
int kvsnprintf(char *buf, size_t size, const char *fmt, va_list ap);

/*
 * Print on the UART and also through HYPERVISOR_console_io(CONSOLEIO_write),
 * for lines that matter even when no UART is described (fatal errors).
 */
__attribute__((format(printf, 1, 2))) void kprintf_both(const char *fmt, ...);

#endif /* XGDBVM_FW_CONSOLE_H */
