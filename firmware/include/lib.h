/* Minimal freestanding C library pieces (common/lib.c). */
#ifndef XGDBVM_FW_LIB_H
#define XGDBVM_FW_LIB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ARRAY_SIZE(a)   (sizeof(a) / sizeof((a)[0]))
#define NOINLINE        __attribute__((noinline))
#define NORETURN        __attribute__((noreturn))
#define USED            __attribute__((used))

/* The compiler may emit calls to these four even in freestanding mode. */
void *memset(void *dst, int c, size_t n);
void *memcpy(void *dst, const void *src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
int memcmp(const void *a, const void *b, size_t n);

size_t strlen(const char *s);
size_t strnlen(const char *s, size_t max);
int strcmp(const char *a, const char *b);
int strncmp(const char *a, const char *b, size_t n);

/*
 * Parse an unsigned number: decimal, or hexadecimal with a 0x prefix.
 * Consumes exactly `len` characters; false if any of them is not a digit
 * or the value overflows.
 */
bool parse_ulong(const char *s, size_t len, unsigned long *out);

#endif /* XGDBVM_FW_LIB_H */
