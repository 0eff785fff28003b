/*
 * CPU primitives shared by the drivers: barriers, the IRQ mask, WFI, the
 * generic timer's virtual-timer registers and 64-bit exclusive-access
 * atomics.  Everything is a static inline with the instruction spelled
 * out, so the code the emulator sees is exactly what is written here.
 *
 * Atomics: the event-channel bitmaps and evtchn_pending_sel are 64-bit
 * words (xen_ulong_t) on both architectures and Xen updates them
 * concurrently, so every read-modify-write of them is an exclusive pair on
 * the whole 64-bit word: ldxr/stxr on arm64, ldrexd/strexd on arm32.  Each
 * operation is fully ordered (dmb ish before and after), like Linux's
 * xchg() and test_and_set_bit().
 */
#ifndef XGDBVM_FW_CPU_H
#define XGDBVM_FW_CPU_H

#include <stdbool.h>
#include <stdint.h>

#define barrier()   __asm__ volatile("" ::: "memory")

static inline void dmb_ish(void) { __asm__ volatile("dmb ish" ::: "memory"); }
static inline void dsb_sy(void) { __asm__ volatile("dsb sy" ::: "memory"); }
static inline void isb(void) { __asm__ volatile("isb" ::: "memory"); }
static inline void wfi(void) { __asm__ volatile("wfi" ::: "memory"); }

/* Ordering between our accesses and Xen's / the backend's. */
#define mb()    dmb_ish()
#define rmb()   dmb_ish()
#define wmb()   dmb_ish()

#define READ_ONCE_U8(x)     (*(const volatile uint8_t *)&(x))
#define READ_ONCE_U32(x)    (*(const volatile uint32_t *)&(x))
#define READ_ONCE_U64(x)    (*(const volatile uint64_t *)&(x))
#define WRITE_ONCE_U8(x, v) (*(volatile uint8_t *)&(x) = (v))
#define WRITE_ONCE_U32(x, v) (*(volatile uint32_t *)&(x) = (v))
#define WRITE_ONCE_U64(x, v) (*(volatile uint64_t *)&(x) = (v))

#if defined(__aarch64__)

static inline void local_irq_enable(void)
{
    __asm__ volatile("msr daifclr, #2" ::: "memory");
}

static inline void local_irq_disable(void)
{
    __asm__ volatile("msr daifset, #2" ::: "memory");
}

static inline bool local_irq_disabled(void)
{
    uint64_t daif;
    __asm__ volatile("mrs %0, daif" : "=r"(daif));
    return (daif & (1u << 7)) != 0;
}

/* ---- generic timer, EL1 virtual timer ---- */
static inline uint32_t timer_read_cntfrq(void)
{
    uint64_t v;
    __asm__ volatile("mrs %0, cntfrq_el0" : "=r"(v));
    return (uint32_t)v;
}

static inline uint64_t timer_read_cntvct(void)
{
    uint64_t v;
    __asm__ volatile("isb\n\tmrs %0, cntvct_el0" : "=r"(v) : : "memory");
    return v;
}

static inline uint32_t timer_read_ctl(void)
{
    uint64_t v;
    __asm__ volatile("mrs %0, cntv_ctl_el0" : "=r"(v));
    return (uint32_t)v;
}

static inline void timer_write_ctl(uint32_t v)
{
    __asm__ volatile("msr cntv_ctl_el0, %0\n\tisb" : : "r"((uint64_t)v) : "memory");
}

static inline uint64_t timer_read_cval(void)
{
    uint64_t v;
    __asm__ volatile("mrs %0, cntv_cval_el0" : "=r"(v));
    return v;
}

static inline void timer_write_cval(uint64_t v)
{
    __asm__ volatile("msr cntv_cval_el0, %0\n\tisb" : : "r"(v) : "memory");
}

static inline int32_t timer_read_tval(void)
{
    uint64_t v;
    __asm__ volatile("mrs %0, cntv_tval_el0" : "=r"(v));
    return (int32_t)v;
}

static inline void timer_write_tval(int32_t v)
{
    __asm__ volatile("msr cntv_tval_el0, %0\n\tisb" : : "r"((uint64_t)(int64_t)v) : "memory");
}

/* ---- 64-bit exclusive-access atomics ---- */
static inline uint64_t atomic_xchg64(volatile uint64_t *p, uint64_t v)
{
    uint64_t old;
    uint32_t fail;

    __asm__ volatile(
        "   dmb     ish\n"
        "1: ldxr    %0, [%2]\n"
        "   stxr    %w1, %3, [%2]\n"
        "   cbnz    %w1, 1b\n"
        "   dmb     ish\n"
        : "=&r"(old), "=&r"(fail)
        : "r"(p), "r"(v)
        : "memory");
    return old;
}

/* *p |= m; returns the old value. */
static inline uint64_t atomic_fetch_or64(volatile uint64_t *p, uint64_t m)
{
    uint64_t old, new;
    uint32_t fail;

    __asm__ volatile(
        "   dmb     ish\n"
        "1: ldxr    %0, [%3]\n"
        "   orr     %1, %0, %4\n"
        "   stxr    %w2, %1, [%3]\n"
        "   cbnz    %w2, 1b\n"
        "   dmb     ish\n"
        : "=&r"(old), "=&r"(new), "=&r"(fail)
        : "r"(p), "r"(m)
        : "memory");
    return old;
}

/* *p &= ~m; returns the old value. */
static inline uint64_t atomic_fetch_andnot64(volatile uint64_t *p, uint64_t m)
{
    uint64_t old, new;
    uint32_t fail;

    __asm__ volatile(
        "   dmb     ish\n"
        "1: ldxr    %0, [%3]\n"
        "   bic     %1, %0, %4\n"
        "   stxr    %w2, %1, [%3]\n"
        "   cbnz    %w2, 1b\n"
        "   dmb     ish\n"
        : "=&r"(old), "=&r"(new), "=&r"(fail)
        : "r"(p), "r"(m)
        : "memory");
    return old;
}

#elif defined(__arm__)

static inline void local_irq_enable(void)
{
    __asm__ volatile("cpsie i" ::: "memory");
}

static inline void local_irq_disable(void)
{
    __asm__ volatile("cpsid i" ::: "memory");
}

static inline bool local_irq_disabled(void)
{
    uint32_t cpsr;
    __asm__ volatile("mrs %0, cpsr" : "=r"(cpsr));
    return (cpsr & (1u << 7)) != 0;
}

/* ---- generic timer (CP15 c14), PL1 virtual timer ---- */
static inline uint32_t timer_read_cntfrq(void)
{
    uint32_t v;
    __asm__ volatile("mrc p15, 0, %0, c14, c0, 0" : "=r"(v));
    return v;
}

static inline uint64_t timer_read_cntvct(void)
{
    uint32_t lo, hi;
    __asm__ volatile("isb\n\tmrrc p15, 1, %0, %1, c14" : "=r"(lo), "=r"(hi) : : "memory");
    return ((uint64_t)hi << 32) | lo;
}

static inline uint32_t timer_read_ctl(void)
{
    uint32_t v;
    __asm__ volatile("mrc p15, 0, %0, c14, c3, 1" : "=r"(v));
    return v;
}

static inline void timer_write_ctl(uint32_t v)
{
    __asm__ volatile("mcr p15, 0, %0, c14, c3, 1\n\tisb" : : "r"(v) : "memory");
}

static inline uint64_t timer_read_cval(void)
{
    uint32_t lo, hi;
    __asm__ volatile("mrrc p15, 3, %0, %1, c14" : "=r"(lo), "=r"(hi));
    return ((uint64_t)hi << 32) | lo;
}

static inline void timer_write_cval(uint64_t v)
{
    __asm__ volatile("mcrr p15, 3, %0, %1, c14\n\tisb"
                     : : "r"((uint32_t)v), "r"((uint32_t)(v >> 32)) : "memory");
}

static inline int32_t timer_read_tval(void)
{
    uint32_t v;
    __asm__ volatile("mrc p15, 0, %0, c14, c3, 0" : "=r"(v));
    return (int32_t)v;
}

static inline void timer_write_tval(int32_t v)
{
    __asm__ volatile("mcr p15, 0, %0, c14, c3, 0\n\tisb" : : "r"(v) : "memory");
}

/* ---- 64-bit exclusive-access atomics (ldrexd/strexd on a register pair) ---- */
static inline uint64_t atomic_xchg64(volatile uint64_t *p, uint64_t v)
{
    uint64_t old;
    uint32_t fail;

    __asm__ volatile(
        "   dmb     ish\n"
        "1: ldrexd  %0, %H0, [%2]\n"
        "   strexd  %1, %3, %H3, [%2]\n"
        "   teq     %1, #0\n"
        "   bne     1b\n"
        "   dmb     ish\n"
        : "=&r"(old), "=&r"(fail)
        : "r"(p), "r"(v)
        : "memory", "cc");
    return old;
}

static inline uint64_t atomic_fetch_or64(volatile uint64_t *p, uint64_t m)
{
    uint64_t old, new;
    uint32_t fail;

    __asm__ volatile(
        "   dmb     ish\n"
        "1: ldrexd  %0, %H0, [%3]\n"
        "   orr     %1, %0, %4\n"
        "   orr     %H1, %H0, %H4\n"
        "   strexd  %2, %1, %H1, [%3]\n"
        "   teq     %2, #0\n"
        "   bne     1b\n"
        "   dmb     ish\n"
        : "=&r"(old), "=&r"(new), "=&r"(fail)
        : "r"(p), "r"(m)
        : "memory", "cc");
    return old;
}

static inline uint64_t atomic_fetch_andnot64(volatile uint64_t *p, uint64_t m)
{
    uint64_t old, new;
    uint32_t fail;

    __asm__ volatile(
        "   dmb     ish\n"
        "1: ldrexd  %0, %H0, [%3]\n"
        "   bic     %1, %0, %4\n"
        "   bic     %H1, %H0, %H4\n"
        "   strexd  %2, %1, %H1, [%3]\n"
        "   teq     %2, #0\n"
        "   bne     1b\n"
        "   dmb     ish\n"
        : "=&r"(old), "=&r"(new), "=&r"(fail)
        : "r"(p), "r"(m)
        : "memory", "cc");
    return old;
}

#else
#error "unsupported architecture"
#endif

#define CNTV_CTL_ENABLE     (1u << 0)
#define CNTV_CTL_IMASK      (1u << 1)
#define CNTV_CTL_ISTATUS    (1u << 2)

/* Bit operations on arrays of 64-bit words (port p = word p/64, bit p%64). */
static inline uint64_t bit_mask64(unsigned int nr)
{
    return 1ull << (nr % 64u);
}

static inline void sync_set_bit(unsigned int nr, volatile uint64_t *base)
{
    (void)atomic_fetch_or64(&base[nr / 64u], bit_mask64(nr));
}

static inline void sync_clear_bit(unsigned int nr, volatile uint64_t *base)
{
    (void)atomic_fetch_andnot64(&base[nr / 64u], bit_mask64(nr));
}

static inline bool sync_test_and_set_bit(unsigned int nr, volatile uint64_t *base)
{
    return (atomic_fetch_or64(&base[nr / 64u], bit_mask64(nr)) & bit_mask64(nr)) != 0;
}

static inline bool sync_test_and_clear_bit(unsigned int nr, volatile uint64_t *base)
{
    return (atomic_fetch_andnot64(&base[nr / 64u], bit_mask64(nr)) & bit_mask64(nr)) != 0;
}

static inline bool sync_test_bit(unsigned int nr, const volatile uint64_t *base)
{
    return (base[nr / 64u] & bit_mask64(nr)) != 0;
}

#endif /* XGDBVM_FW_CPU_H */
