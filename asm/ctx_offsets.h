/* The suspended-context frame offsets that code outside asm/ reads: the backtrace of a parked
 * goroutine (runtime/backtrace.hpp, static_assert'ed there) and, through the exported layout, the
 * gdb script. Shared by the .S files (preprocessed) and C++, so: #defines only. The full frame
 * layouts are the tables at the top of each .S file. */
#ifndef GORT_ASM_CTX_OFFSETS_H
#define GORT_ASM_CTX_OFFSETS_H

/* x86_64 System V (ctx_x86_64_sysv_elf_gas.S) */
#define GORT_CTX_X86_64_FRAME_SIZE 0x40 /* including the resume address */
#define GORT_CTX_X86_64_FP 0x30         /* rbp */
#define GORT_CTX_X86_64_PC 0x38         /* resume address */

/* AArch64 AAPCS64 (ctx_arm64_aapcs_elf_gas.S) */
#define GORT_CTX_ARM64_FRAME_SIZE 0xb0
#define GORT_CTX_ARM64_FP 0x50          /* x29; x30, the resume address, follows */
#define GORT_CTX_ARM64_PC 0x58          /* x30 */

#endif
