/*
 * arm32 zImage-style header and entry.
 *
 *   off   contents
 *   0x00  b primary_entry   (word 0 branches over the header)
 *   0x04  8 x nop
 *   0x24  0x016f2818        zImage magic
 *   0x28  0                 start address: 0 = "enter at the load address"
 *   0x2c  _zimage_size      end address relative to start = raw image size
 *
 * Entry state (as for Linux): r0 = 0, r1 = machine id (0xffffffff), r2 =
 * DTB physical address, SVC mode, ARM state, MMU and D-cache off, IRQ/FIQ
 * masked.  We make sure of SVC mode with A/I/F masked, set the stack,
 * install VBAR, zero .bss and call guest_main(dtb).  SCTLR is not written:
 * the exception code relies on SCTLR.V = 0 (vectors at VBAR) and
 * SCTLR.TE = 0 (exceptions taken in ARM state), Xen's reset values.
 */
    .syntax unified
    .arm

    .section .text.head, "ax", %progbits
    .globl _start
    .type _start, %function
_start:
    b       primary_entry               /* 0x00 */
    .rept   8
    nop                                 /* 0x04 .. 0x20 */
    .endr
    .word   0x016f2818                  /* 0x24 magic */
    .word   0                           /* 0x28 start */
    .word   _zimage_size                /* 0x2c end */
    .size _start, . - _start

    .globl primary_entry
    .type primary_entry, %function
primary_entry:
    mov     r4, r2                      /* keep the DTB address */
    cpsid   aif, #0x13                  /* SVC mode, A/I/F masked */
    ldr     sp, =__stack_top

    ldr     r0, =exception_vectors
    mcr     p15, 0, r0, c12, c0, 0      /* VBAR */
    isb

    /* Zero .bss (16-byte aligned start and end, see guest.ld). */
    ldr     r0, =__bss_start
    ldr     r1, =__bss_end
    mov     r2, #0
    mov     r3, #0
1:  cmp     r0, r1
    strdlo  r2, r3, [r0], #8
    blo     1b

    mov     fp, #0                      /* end of the frame-pointer chain */
    mov     lr, #0
    mov     r0, r4
    bl      guest_main
    bl      guest_main_returned         /* powers off, never returns */
2:  wfi
    b       2b
    .size primary_entry, . - primary_entry
    .ltorg

/* The boot (SVC) stack lives in .bss.  Exceptions run on it too. */
    .section .bss.stack, "aw", %nobits
    .balign 16
    .globl __stack_bottom, __stack_top
__stack_bottom:
    .space  16384
__stack_top:
