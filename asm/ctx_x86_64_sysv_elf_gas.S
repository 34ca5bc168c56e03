/*
 * gort context switch: x86_64, System V ABI, ELF, GNU assembler.
 *
 *   void* gort_ctx_make(void* stack_top, void (*entry)(void*), void* arg);
 *   void  gort_ctx_swap(void** save, void* handle);
 *
 * A suspended context is the stack pointer at which gort_ctx_swap left its frame. The frame
 * (FRAME_SIZE = 0x40 bytes including the resume address) looks like this, addresses growing
 * upwards, `handle` being the saved stack pointer:
 *
 *     offset  size  contents                  fresh context (gort_ctx_make)
 *     ------  ----  ------------------------  -------------------------------------
 *     +0x00   4     MXCSR                     creator's MXCSR at make time
 *     +0x04   2     x87 FPU control word      creator's x87 CW at make time
 *     +0x06   2     (padding, never read)     -
 *     +0x08   8     r15                       0
 *     +0x10   8     r14                       0
 *     +0x18   8     r13                       0
 *     +0x20   8     r12                       arg
 *     +0x28   8     rbx                       entry
 *     +0x30   8     rbp                       0 (ends frame-pointer walks)
 *     +0x38   8     resume address            gort_ctx_trampoline
 *     +0x40   --    SP after resuming         stack_top - 16 (16-byte aligned)
 *     ...
 *     fresh context only: 16 zero bytes up to stack_top
 *
 * The FRAME_SIZE (0x40) is a multiple of 16 and a fresh handle is 16-byte aligned, so the
 * trampoline runs with %rsp % 16 == 0 and its `call` gives entry the ABI's entry alignment.
 *
 * Design notes
 *  - FP control state (MXCSR, x87 CW) is per context: it is saved on every swap and belongs to
 *    the context that was running. A fresh context starts with the state its creator had when it
 *    called gort_ctx_make.
 *  - Cost (AMD EPYC Zen 4, 2.6 GHz, one-way ping-pong): without FP state ~2.1 ns; with it
 *    ~5.2 ns. The price is almost all `stmxcsr`, which issues at most once per ~4.2 ns on that
 *    core; ldmxcsr + fldcw add ~0.4 ns. Restoring only when the target's saved state differs
 *    from the current one (GORT_CTX_FP_CONDITIONAL=1) measured SLOWER there (~6.1 ns): the
 *    compare must reload the value `stmxcsr` just stored, and that load waits on the slow store.
 *    So the default is an unconditional restore; the conditional variant stays as a build knob
 *    for cores where the loads are the expensive part.
 *  - GORT_CTX_SWITCH_FP=0 builds a variant that does not switch FP control state at all (it is
 *    then per thread, as in Go). That changes the documented semantics; the tests assume the
 *    default.
 *  - The swap ends with an indirect `jmp` to the resume address instead of `ret`: a `ret` here
 *    never matches the return-stack predictor (we return into a different stack), which costs
 *    several ns per switch; the indirect jump is predicted by the branch target buffer.
 *  - No data is ever kept below %rsp, so a signal may arrive at any instruction.
 *  - CET/IBT: a resume address is a return site after some `call gort_ctx_swap`, which has no
 *    endbr64. An ordinary tracked `jmp *%r11` to it would raise #CP under IBT, so the jump
 *    carries the `notrack` prefix (the same construct GCC emits for switch jump tables). The
 *    public entry points and the trampoline still start with endbr64.
 *  - CET shadow stacks are NOT supported: the `call` into gort_ctx_swap pushes a shadow-stack
 *    entry that the `jmp` never pops, and contexts do not carry shadow stacks of their own.
 *    Therefore the GNU property note below may claim IBT but never SHSTK.
 */

#if defined(__x86_64__) && defined(__ELF__)

/* endbr64 only when the build asks for CET (-fcf-protection); it is a NOP otherwise. */
#if defined(__CET__) && (__CET__ & 1)
#  define GORT_ENDBR endbr64
#else
#  define GORT_ENDBR
#endif

/* Build knobs, see the design notes above. */
#ifndef GORT_CTX_SWITCH_FP
#  define GORT_CTX_SWITCH_FP 1
#endif
#ifndef GORT_CTX_FP_CONDITIONAL
#  define GORT_CTX_FP_CONDITIONAL 0
#endif
#if !GORT_CTX_SWITCH_FP
#  undef GORT_CTX_FP_CONDITIONAL
#  define GORT_CTX_FP_CONDITIONAL 0
#endif

#include "ctx_offsets.h"
#define FRAME_SIZE GORT_CTX_X86_64_FRAME_SIZE
#define FP_SLOT GORT_CTX_X86_64_FP
#define PC_SLOT GORT_CTX_X86_64_PC
.if PC_SLOT != FRAME_SIZE - 8 || FP_SLOT != PC_SLOT - 8
.error "ctx_offsets.h: the resume address must end the frame, rbp just below it"
.endif

    .text

/* ------------------------------------------------------------------------------------------
 * void gort_ctx_swap(void** save, void* handle)      save in rdi, handle in rsi
 * ---------------------------------------------------------------------------------------- */
    .globl  gort_ctx_swap
    .type   gort_ctx_swap, @function
    .p2align 4
gort_ctx_swap:
    .cfi_startproc
    GORT_ENDBR
    leaq    -(FRAME_SIZE - 8)(%rsp), %rsp       /* resume address is already at +0x38 */
    .cfi_adjust_cfa_offset FRAME_SIZE - 8       /* CFA = rsp + 0x40 */
#if GORT_CTX_SWITCH_FP
    stmxcsr (%rsp)
    fnstcw  4(%rsp)
#endif
    movq    %r15, 0x08(%rsp)
    .cfi_rel_offset %r15, 0x08
    movq    %r14, 0x10(%rsp)
    .cfi_rel_offset %r14, 0x10
    movq    %r13, 0x18(%rsp)
    .cfi_rel_offset %r13, 0x18
    movq    %r12, 0x20(%rsp)
    .cfi_rel_offset %r12, 0x20
    movq    %rbx, 0x28(%rsp)
    .cfi_rel_offset %rbx, 0x28
    movq    %rbp, FP_SLOT(%rsp)
    .cfi_rel_offset %rbp, FP_SLOT
#if GORT_CTX_FP_CONDITIONAL
    movl    (%rsp), %eax                        /* current MXCSR (same-size store forward) */
    movzwl  4(%rsp), %ecx                       /* current x87 CW */
#endif
    movq    %rsp, (%rdi)                        /* *save = our frame */

    /* Switch stacks. From here on the frame at %rsp is the target's; it has the same layout,
     * so the CFI rules above describe the target context's caller from this instruction on. */
    movq    %rsi, %rsp
    movq    PC_SLOT(%rsp), %r11                    /* resume address; load early */
#if GORT_CTX_FP_CONDITIONAL
    cmpl    (%rsp), %eax
    jne     .Lfp_restore
    cmpw    4(%rsp), %cx
    jne     .Lfp_restore
.Lfp_done:
#elif GORT_CTX_SWITCH_FP
    ldmxcsr (%rsp)
    fldcw   4(%rsp)
#endif
    movq    0x08(%rsp), %r15
    movq    0x10(%rsp), %r14
    movq    0x18(%rsp), %r13
    movq    0x20(%rsp), %r12
    movq    0x28(%rsp), %rbx
    movq    FP_SLOT(%rsp), %rbp
    .cfi_remember_state
    /* The frame is popped next; the registers already hold the caller's values and the resume
     * address lives in %r11 until the jump. */
    .cfi_restore %r15
    .cfi_restore %r14
    .cfi_restore %r13
    .cfi_restore %r12
    .cfi_restore %rbx
    .cfi_restore %rbp
    .cfi_register %rip, %r11
    leaq    FRAME_SIZE(%rsp), %rsp
    .cfi_def_cfa_offset 0
    notrack jmp *%r11                           /* see the CET note at the top */

#if GORT_CTX_FP_CONDITIONAL
    /* Cold path: the target runs with different FP control state than we did. */
.Lfp_restore:
    .cfi_restore_state
    ldmxcsr (%rsp)
    fldcw   4(%rsp)
    jmp     .Lfp_done
#endif
    .cfi_endproc
    .size   gort_ctx_swap, . - gort_ctx_swap

/* ------------------------------------------------------------------------------------------
 * void* gort_ctx_make(void* stack_top, void (*entry)(void*), void* arg)   rdi, rsi, rdx
 * ---------------------------------------------------------------------------------------- */
    .globl  gort_ctx_make
    .type   gort_ctx_make, @function
    .p2align 4
gort_ctx_make:
    .cfi_startproc
    GORT_ENDBR
    andq    $-16, %rdi                          /* tolerate an unaligned top */
    leaq    -(FRAME_SIZE + 16)(%rdi), %rax      /* handle */
    stmxcsr (%rax)
    fnstcw  4(%rax)
    movw    $0, 6(%rax)
    xorl    %ecx, %ecx
    movq    %rcx, 0x08(%rax)                    /* r15 */
    movq    %rcx, 0x10(%rax)                    /* r14 */
    movq    %rcx, 0x18(%rax)                    /* r13 */
    movq    %rdx, 0x20(%rax)                    /* r12 = arg */
    movq    %rsi, 0x28(%rax)                    /* rbx = entry */
    movq    %rcx, FP_SLOT(%rax)                 /* rbp = 0 */
    leaq    gort_ctx_trampoline(%rip), %rdx
    movq    %rdx, PC_SLOT(%rax)                 /* resume at the trampoline */
    movq    %rcx, 0x40(%rax)                    /* zero padding up to stack_top */
    movq    %rcx, 0x48(%rax)
    ret
    .cfi_endproc
    .size   gort_ctx_make, . - gort_ctx_make

/* ------------------------------------------------------------------------------------------
 * First code of a fresh context, reached by gort_ctx_swap's jump with rbx = entry, r12 = arg,
 * rbp = 0 and %rsp 16-byte aligned. There is no caller: `.cfi_undefined rip` marks this as the
 * outermost frame, so debuggers and unwinders (including C++ exception unwinding, which then
 * calls std::terminate for an exception escaping `entry`) stop here.
 * ---------------------------------------------------------------------------------------- */
    .type   gort_ctx_trampoline, @function
    .p2align 4
gort_ctx_trampoline:
    .cfi_startproc
    .cfi_undefined %rip
    GORT_ENDBR
    movq    %r12, %rdi
    call    *%rbx                               /* entry(arg); rsp % 16 == 0 before the call */
    ud2                                         /* entry must never return */
    .cfi_endproc
    .size   gort_ctx_trampoline, . - gort_ctx_trampoline

    .section .note.GNU-stack, "", @progbits

/* GNU property note: IBT only, and only when this file was built for CET (see above). */
#if defined(__CET__) && (__CET__ & 1)
    .section .note.gnu.property, "a"
    .p2align 3
    .long   4                                   /* name size ("GNU\0") */
    .long   16                                  /* descriptor size */
    .long   5                                   /* NT_GNU_PROPERTY_TYPE_0 */
    .asciz  "GNU"
    .long   0xc0000002                          /* GNU_PROPERTY_X86_FEATURE_1_AND */
    .long   4                                   /* data size */
    .long   1                                   /* GNU_PROPERTY_X86_FEATURE_1_IBT */
    .long   0                                   /* pad to 8 */
#endif

#endif /* __x86_64__ && __ELF__ */
