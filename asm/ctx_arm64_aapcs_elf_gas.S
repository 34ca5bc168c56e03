/*
 * gort context switch: AArch64, AAPCS64, ELF, GNU assembler.
 *
 *   void* gort_ctx_make(void* stack_top, void (*entry)(void*), void* arg);
 *   void  gort_ctx_swap(void** save, void* handle);
 *
 * A suspended context is the stack pointer at which gort_ctx_swap left its frame. The frame is
 * FRAME_SIZE = 0xb0 bytes (a multiple of 16, as sp must always be 16-byte aligned), addresses
 * growing upwards from `handle`:
 *
 *     offset  contents              fresh context (gort_ctx_make)
 *     ------  --------------------  ---------------------------------------
 *     +0x00   x19, x20              entry, arg
 *     +0x10   x21, x22              0, 0
 *     +0x20   x23, x24              0, 0
 *     +0x30   x25, x26              0, 0
 *     +0x40   x27, x28              0, 0
 *     +0x50   x29 (fp), x30 (lr)    0 (ends frame-record walks), gort_ctx_trampoline
 *     +0x60   d8,  d9               0, 0
 *     +0x70   d10, d11              0, 0
 *     +0x80   d12, d13              0, 0
 *     +0x90   d14, d15              0, 0
 *     +0xa0   FPCR                  creator's FPCR at make time
 *     +0xa8   (padding)             0
 *     +0xb0   sp after resuming     stack_top - 16
 *     fresh context only: 16 zero bytes up to stack_top
 *
 * x30 in the frame is the resume address: the return address of the gort_ctx_swap call that
 * suspended the context, or the trampoline for a fresh one.
 *
 * Design notes
 *  - Only the low 64 bits of v8-v15 (d8-d15) are callee-saved in AAPCS64.
 *  - FPCR (rounding mode, flush-to-zero, default NaN) is per context, as on x86_64. Writing
 *    FPCR can be slow, so it is only written when the target's saved value differs from the
 *    current one. FPSR (the sticky exception flags) is status, not control, and is not switched.
 *  - The swap ends with `ret`. BTI does not check `ret` targets, whereas a `br x30` into a
 *    return site (which has no landing pad) would fault in a BTI-guarded page. The cost is a
 *    return-stack mispredict per switch on cores that predict `ret` with a return stack.
 *  - Landing pads: the two public functions start with `bti c` (they may be reached through a
 *    PLT or a function pointer). The trampoline is reached by `ret`, which needs no pad; it
 *    carries `bti j` anyway so that an indirect-branch resume would also be accepted there.
 *    The BTI instructions are in the hint space and execute as NOPs on cores without BTI.
 *  - Return addresses are not signed (no PAC): the saved x30 is a plain address. The GNU
 *    property note therefore claims BTI only.
 *  - No data is ever kept below sp, so a signal may arrive at any instruction.
 */

#if defined(__aarch64__) && defined(__ELF__)

#define BTI_C hint #34
#define BTI_J hint #36

#include "ctx_offsets.h"
#define FRAME_SIZE GORT_CTX_ARM64_FRAME_SIZE
#define FP_SLOT GORT_CTX_ARM64_FP
#define PC_SLOT GORT_CTX_ARM64_PC
.if PC_SLOT != FP_SLOT + 8
.error "ctx_offsets.h: x29 and x30 are saved as one pair"
.endif

    .text

/* ------------------------------------------------------------------------------------------
 * void gort_ctx_swap(void** save, void* handle)        save in x0, handle in x1
 * ---------------------------------------------------------------------------------------- */
    .globl  gort_ctx_swap
    .type   gort_ctx_swap, %function
    .p2align 4
gort_ctx_swap:
    .cfi_startproc
    BTI_C
    sub     sp, sp, #FRAME_SIZE
    .cfi_def_cfa_offset FRAME_SIZE
    stp     x19, x20, [sp, #0x00]
    .cfi_rel_offset x19, 0x00
    .cfi_rel_offset x20, 0x08
    stp     x21, x22, [sp, #0x10]
    .cfi_rel_offset x21, 0x10
    .cfi_rel_offset x22, 0x18
    stp     x23, x24, [sp, #0x20]
    .cfi_rel_offset x23, 0x20
    .cfi_rel_offset x24, 0x28
    stp     x25, x26, [sp, #0x30]
    .cfi_rel_offset x25, 0x30
    .cfi_rel_offset x26, 0x38
    stp     x27, x28, [sp, #0x40]
    .cfi_rel_offset x27, 0x40
    .cfi_rel_offset x28, 0x48
    stp     x29, x30, [sp, #FP_SLOT]
    .cfi_rel_offset x29, FP_SLOT
    .cfi_rel_offset x30, PC_SLOT
    stp     d8,  d9,  [sp, #0x60]
    .cfi_rel_offset d8,  0x60
    .cfi_rel_offset d9,  0x68
    stp     d10, d11, [sp, #0x70]
    .cfi_rel_offset d10, 0x70
    .cfi_rel_offset d11, 0x78
    stp     d12, d13, [sp, #0x80]
    .cfi_rel_offset d12, 0x80
    .cfi_rel_offset d13, 0x88
    stp     d14, d15, [sp, #0x90]
    .cfi_rel_offset d14, 0x90
    .cfi_rel_offset d15, 0x98
    mrs     x9, fpcr
    str     x9, [sp, #0xa0]
    mov     x10, sp
    str     x10, [x0]                       /* *save = our frame */

    /* Switch stacks. The target's frame has the same layout, so from here on the CFI rules
     * describe the target context's caller. */
    mov     sp, x1
    ldr     x10, [sp, #0xa0]
    cmp     x9, x10
    b.ne    .Lfpcr_restore
.Lfpcr_done:
    ldp     x19, x20, [sp, #0x00]
    ldp     x21, x22, [sp, #0x10]
    ldp     x23, x24, [sp, #0x20]
    ldp     x25, x26, [sp, #0x30]
    ldp     x27, x28, [sp, #0x40]
    ldp     x29, x30, [sp, #FP_SLOT]
    ldp     d8,  d9,  [sp, #0x60]
    ldp     d10, d11, [sp, #0x70]
    ldp     d12, d13, [sp, #0x80]
    ldp     d14, d15, [sp, #0x90]
    .cfi_remember_state
    /* The registers hold the caller's values now; the frame is popped next. */
    .cfi_restore x19
    .cfi_restore x20
    .cfi_restore x21
    .cfi_restore x22
    .cfi_restore x23
    .cfi_restore x24
    .cfi_restore x25
    .cfi_restore x26
    .cfi_restore x27
    .cfi_restore x28
    .cfi_restore x29
    .cfi_restore x30
    .cfi_restore d8
    .cfi_restore d9
    .cfi_restore d10
    .cfi_restore d11
    .cfi_restore d12
    .cfi_restore d13
    .cfi_restore d14
    .cfi_restore d15
    add     sp, sp, #FRAME_SIZE
    .cfi_def_cfa_offset 0
    ret                                     /* see the BTI note at the top */

    /* Cold path: the target runs with a different FPCR than we did. */
.Lfpcr_restore:
    .cfi_restore_state
    msr     fpcr, x10
    b       .Lfpcr_done
    .cfi_endproc
    .size   gort_ctx_swap, . - gort_ctx_swap

/* ------------------------------------------------------------------------------------------
 * void* gort_ctx_make(void* stack_top, void (*entry)(void*), void* arg)     x0, x1, x2
 * ---------------------------------------------------------------------------------------- */
    .globl  gort_ctx_make
    .type   gort_ctx_make, %function
    .p2align 4
gort_ctx_make:
    .cfi_startproc
    BTI_C
    and     x0, x0, #~15                    /* tolerate an unaligned top */
    sub     x0, x0, #(FRAME_SIZE + 16)      /* handle */
    stp     x1,  x2,  [x0, #0x00]           /* x19 = entry, x20 = arg */
    stp     xzr, xzr, [x0, #0x10]
    stp     xzr, xzr, [x0, #0x20]
    stp     xzr, xzr, [x0, #0x30]
    stp     xzr, xzr, [x0, #0x40]
    adr     x9, gort_ctx_trampoline
    stp     xzr, x9,  [x0, #FP_SLOT]          /* x29 = 0, x30 = trampoline */
    stp     xzr, xzr, [x0, #0x60]
    stp     xzr, xzr, [x0, #0x70]
    stp     xzr, xzr, [x0, #0x80]
    stp     xzr, xzr, [x0, #0x90]
    mrs     x9, fpcr
    stp     x9,  xzr, [x0, #0xa0]
    stp     xzr, xzr, [x0, #0xb0]           /* zero padding up to stack_top */
    ret
    .cfi_endproc
    .size   gort_ctx_make, . - gort_ctx_make

/* ------------------------------------------------------------------------------------------
 * First code of a fresh context, reached by gort_ctx_swap's `ret` with x19 = entry,
 * x20 = arg, x29 = 0 and sp 16-byte aligned. There is no caller: `.cfi_undefined x30` marks
 * this as the outermost frame for debuggers and unwinders.
 * ---------------------------------------------------------------------------------------- */
    .type   gort_ctx_trampoline, %function
    .p2align 4
gort_ctx_trampoline:
    .cfi_startproc
    .cfi_undefined x30
    BTI_J
    mov     x0, x20
    blr     x19                             /* entry(arg) */
    udf     #0                              /* entry must never return */
    .cfi_endproc
    .size   gort_ctx_trampoline, . - gort_ctx_trampoline

    .section .note.GNU-stack, "", %progbits

/* GNU property note: BTI only, and only when the build asks for it (-mbranch-protection). */
#if defined(__ARM_FEATURE_BTI_DEFAULT) && __ARM_FEATURE_BTI_DEFAULT
    .section .note.gnu.property, "a"
    .p2align 3
    .long   4                               /* name size ("GNU\0") */
    .long   16                              /* descriptor size */
    .long   5                               /* NT_GNU_PROPERTY_TYPE_0 */
    .asciz  "GNU"
    .long   0xc0000000                      /* GNU_PROPERTY_AARCH64_FEATURE_1_AND */
    .long   4                               /* data size */
    .long   1                               /* GNU_PROPERTY_AARCH64_FEATURE_1_BTI */
    .long   0                               /* pad to 8 */
#endif

#endif /* __aarch64__ && __ELF__ */
