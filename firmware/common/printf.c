/*
 * A small printf.  One formatting engine writes through a sink callback;
 * kprintf() sinks into the UART, ksnprintf() into a buffer.
 *
 * 64-bit values are converted to decimal by shift-and-subtract division so
 * that arm32 does not need the compiler runtime (__aeabi_uldivmod).
 */
#include "console.h"
#include "hypercall.h"
#include "lib.h"

typedef void (*sink_fn)(void *ctx, char c);

struct buf_sink {
    char *buf;
    size_t size;
    size_t len;     /* characters produced so far (may exceed size) */
};

/* Divide *val by 10 in place and return the remainder. */
static unsigned int divmod10(uint64_t *val)
{
    uint64_t n = *val, q = 0;
    uint32_t rem = 0;
    int bit;

    if ((n >> 32) == 0) {
        uint32_t m = (uint32_t)n;
        *val = m / 10u;
        return m % 10u;
    }
    for (bit = 63; bit >= 0; bit--) {
        rem = (rem << 1) | (uint32_t)((n >> bit) & 1u);
        q <<= 1;
        if (rem >= 10u) {
            rem -= 10u;
            q |= 1u;
        }
    }
    *val = q;
    return rem;
}

struct spec {
    bool zero_pad;
    bool left;
    unsigned int width;
};

static void emit_padded(sink_fn out, void *ctx, const struct spec *sp,
                        const char *prefix, const char *digits, size_t ndigits)
{
    size_t plen = strlen(prefix);
    size_t total = plen + ndigits;
    size_t pad = sp->width > total ? sp->width - total : 0;
    size_t i;

    if (!sp->left && !sp->zero_pad)
        for (i = 0; i < pad; i++)
            out(ctx, ' ');
    for (i = 0; i < plen; i++)
        out(ctx, prefix[i]);
    if (!sp->left && sp->zero_pad)
        for (i = 0; i < pad; i++)
            out(ctx, '0');
    for (i = 0; i < ndigits; i++)
        out(ctx, digits[i]);
    if (sp->left)
        for (i = 0; i < pad; i++)
            out(ctx, ' ');
}

static void emit_number(sink_fn out, void *ctx, const struct spec *sp,
                        uint64_t v, unsigned int base, bool upper,
                        const char *prefix)
{
    static const char lower_digits[] = "0123456789abcdef";
    static const char upper_digits[] = "0123456789ABCDEF";
    const char *digits = upper ? upper_digits : lower_digits;
    char tmp[24];
    size_t n = sizeof(tmp);

    do {
        unsigned int d;
        if (base == 16) {
            d = (unsigned int)(v & 0xfu);
            v >>= 4;
        } else {
            d = divmod10(&v);
        }
        tmp[--n] = digits[d];
    } while (v);
    emit_padded(out, ctx, sp, prefix, tmp + n, sizeof(tmp) - n);
}

static void vformat(sink_fn out, void *ctx, const char *fmt, va_list ap)
{
    for (; *fmt; fmt++) {
        struct spec sp = { false, false, 0 };
        int lng = 0;        /* 0: int, 1: long, 2: long long, 3: size_t */
        uint64_t u;
        int64_t s;

        if (*fmt != '%') {
            out(ctx, *fmt);
            continue;
        }
        fmt++;
        for (;; fmt++) {
            if (*fmt == '0')
                sp.zero_pad = true;
            else if (*fmt == '-')
                sp.left = true;
            else
                break;
        }
        while (*fmt >= '0' && *fmt <= '9')
            sp.width = sp.width * 10u + (unsigned int)(*fmt++ - '0');
        if (*fmt == 'l') {
            lng = 1;
            fmt++;
            if (*fmt == 'l') {
                lng = 2;
                fmt++;
            }
        } else if (*fmt == 'z') {
            lng = 3;
            fmt++;
        }

        switch (*fmt) {
        case 'd':
        case 'i':
            if (lng == 2)
                s = va_arg(ap, long long);
            else if (lng == 1)
                s = va_arg(ap, long);
            else if (lng == 3)
                s = (int64_t)va_arg(ap, size_t);
            else
                s = va_arg(ap, int);
            if (s < 0)
                emit_number(out, ctx, &sp, (uint64_t)0 - (uint64_t)s, 10, false, "-");
            else
                emit_number(out, ctx, &sp, (uint64_t)s, 10, false, "");
            break;
        case 'u':
        case 'x':
        case 'X':
            if (lng == 2)
                u = va_arg(ap, unsigned long long);
            else if (lng == 1)
                u = va_arg(ap, unsigned long);
            else if (lng == 3)
                u = va_arg(ap, size_t);
            else
                u = va_arg(ap, unsigned int);
            emit_number(out, ctx, &sp, u, *fmt == 'u' ? 10 : 16, *fmt == 'X', "");
            break;
        case 'p':
            u = (uintptr_t)va_arg(ap, void *);
            emit_number(out, ctx, &sp, u, 16, false, "0x");
            break;
        case 'c': {
            char c = (char)va_arg(ap, int);
            sp.zero_pad = false;
            emit_padded(out, ctx, &sp, "", &c, 1);
            break;
        }
        case 's': {
            const char *str = va_arg(ap, const char *);
            if (!str)
                str = "(null)";
            sp.zero_pad = false;
            emit_padded(out, ctx, &sp, "", str, strlen(str));
            break;
        }
        case '%':
            out(ctx, '%');
            break;
        case '\0':
            return;
        default:
            /* Unknown conversion: show it literally. */
            out(ctx, '%');
            out(ctx, *fmt);
            break;
        }
    }
}

static void uart_sink(void *ctx, char c)
{
    (void)ctx;
    pl011_putc(c);
}

static void buf_sink(void *ctx, char c)
{
    struct buf_sink *b = ctx;

    if (b->len + 1 < b->size)
        b->buf[b->len] = c;
    b->len++;
}

void kvprintf(const char *fmt, va_list ap)
{
    vformat(uart_sink, NULL, fmt, ap);
}

void kprintf(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    kvprintf(fmt, ap);
    va_end(ap);
}

void kputs(const char *s)
{
    while (*s)
        pl011_putc(*s++);
}

int kvsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
    struct buf_sink b = { buf, size, 0 };

    vformat(buf_sink, &b, fmt, ap);
    if (size)
        buf[b.len < size ? b.len : size - 1] = '\0';
    return (int)b.len;
}

int ksnprintf(char *buf, size_t size, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = kvsnprintf(buf, size, fmt, ap);
    va_end(ap);
    return n;
}

void kprintf_both(const char *fmt, ...)
{
    char line[160];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = kvsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (n >= (int)sizeof(line))
        n = (int)sizeof(line) - 1;
    kputs(line);
    /* Best effort: a refused console_io is not worth another message. */
    (void)HYPERVISOR_console_io(CONSOLEIO_write, (unsigned int)n, line);
}
