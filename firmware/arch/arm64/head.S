/*
 * arm64 image header and entry.
 *
 * The first 64 bytes are the arm64 Linux "Image" header, so loaders that
 * boot Linux (Xen's toolstack, the xgdbvm board) accept the raw binary:
 *
 *   off  size  field          value
 *   0    4     code0          b primary_entry
 *   4    4     code1          0
 *   8    8     text_offset    0x80000 (load at RAM base + 0x80000)
 *   16   8     image_size     _end - _start (includes .bss and the stack)
 *   24   8     flags          0x2: little endian, 4K pages, near RAM base
 *   32   24    res2..res4     0
 *   56   4     magic          0x644d5241 ("ARM\x64")
 *   60   4     res5           0 (no PE/COFF header)
 *
 * Entry state (as for Linux): x0 = DTB physical address, EL1, MMU and
 * D-cache off, DAIF masked.  We keep DAIF masked, select SP_EL1, set the
 * stack, install VBAR_EL1, zero .bss and call guest_main(dtb).  SCTLR_EL1,
 * CPACR_EL1 and the timers are not touched (no FP/SIMD is ever used).
 */
#include "xen.h"

    .section .text.head, "ax", %progbits
    .globl _start
    .type _start, %function
_start:
    b       primary_entry               /* code0 */
    .long   0                           /* code1 */
    .quad   0x80000                     /* text_offset */
    .quad   _image_size                 /* image_size (linker script) */
    .quad   0x2                         /* flags */
    .quad   0                           /* res2 */
    .quad   0                           /* res3 */
    .quad   0                           /* res4 */
    .long   0x644d5241                  /* magic "ARM\x64" */
    .long   0                           /* res5 */
    .size _start, . - _start

    .globl primary_entry
    .type primary_entry, %function
primary_entry:
    mov     x19, x0                     /* keep the DTB address */
    msr     spsel, #1                   /* run on SP_EL1 (EL1h) */
    adrp    x1, __stack_top
    add     x1, x1, :lo12:__stack_top
    mov     sp, x1

    adrp    x1, exception_vectors
    add     x1, x1, :lo12:exception_vectors
    msr     vbar_el1, x1
    isb

    /* Zero .bss (16-byte aligned start and end, see guest.ld). */
    adrp    x1, __bss_start
    add     x1, x1, :lo12:__bss_start
    adrp    x2, __bss_end
    add     x2, x2, :lo12:__bss_end
1:  cmp     x1, x2
    b.hs    2f
    stp     xzr, xzr, [x1], #16
    b       1b
2:
    mov     x29, xzr                    /* end of the frame-pointer chain */
    mov     x30, xzr
    mov     x0, x19
    bl      guest_main
    bl      guest_main_returned         /* powers off, never returns */
3:  wfi
    b       3b
    .size primary_entry, . - primary_entry

/* The boot stack lives in .bss (zeroed above before first use). */
    .section .bss.stack, "aw", %nobits
    .balign 16
    .globl __stack_bottom, __stack_top
__stack_bottom:
    .space  16384
__stack_top:
