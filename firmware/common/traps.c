/*
 * Architecture-independent parts of exception handling: the IRQ hook, the
 * undefined-instruction counter and the nesting guard that keeps a fault
 * inside a handler (for example a broken UART) from recursing forever.
 */
#include "arch.h"
#include "guest.h"

irq_handler_t irq_handler;
volatile unsigned int undef_count;
static unsigned int exception_depth;

void set_irq_handler(irq_handler_t handler)
{
    irq_handler = handler;
}

unsigned int exception_enter(void)
{
    return ++exception_depth;
}

void exception_leave(void)
{
    if (exception_depth)
        exception_depth--;
}
