// Backtraces of goroutine stacks: a frame-pointer walk bounded by the stack it walks, and
// abseil's symbolizer to name the frames. Used by the hog detector (a running goroutine,
// sampled by a signal) and the goroutine dump (a parked goroutine, from its saved context).
//
// Why not abseil's unwinder: it bounds its walk by the calling thread's stack, and a goroutine's
// stack is neither that nor, for a parked goroutine, the stack of any running thread.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "asm/ctx_offsets.h"

namespace gort::rt {

struct G;

constexpr int kMaxBacktraceFrames = 32;  // what a report or a dump entry keeps

// Where gort_ctx_swap leaves the suspended side's frame pointer and resume address, relative to
// the saved stack pointer (the context's handle). Both backends save them at fixed offsets:
// asm/ctx_offsets.h holds the asm backends' slots (asm/ctx_*.S document their frames); Boost.Context's fcontext frames (1.74) put rbp at 0x30 and
// the return address at 0x38 on x86_64, and fp at 0x90 and the resume pc at 0xa0 on AArch64.
// (The gdb script reads them from the program: runtime/debugger.cpp.)
#if defined(__x86_64__)
// The same slots in both backends.
constexpr uintptr_t kSavedFpOffset = GORT_CTX_X86_64_FP, kSavedPcOffset = GORT_CTX_X86_64_PC;
#elif defined(__aarch64__) && defined(GORT_CONTEXT_BOOST)
constexpr uintptr_t kSavedFpOffset = 0x90, kSavedPcOffset = 0xa0;
#elif defined(__aarch64__)
constexpr uintptr_t kSavedFpOffset = GORT_CTX_ARM64_FP, kSavedPcOffset = GORT_CTX_ARM64_PC;
#else
constexpr uintptr_t kSavedFpOffset = 0, kSavedPcOffset = 0;  // no frames on other targets
#endif

// Walks the frame-pointer chain from (pc, fp), accepting only frame records inside [lo, hi)
// and above `sp`, so a frame-pointer register that holds anything else (code built without
// frame pointers) ends the walk instead of faulting. out[0] = pc; then return addresses.
// Async-signal-safe.
int walk_frames(uintptr_t pc, uintptr_t sp, uintptr_t fp, uintptr_t lo, uintptr_t hi,
                uintptr_t* out, int max);

// The frames of a suspended goroutine, read from the registers its context switch saved. Racy
// by nature when called from another thread (the goroutine may be resumed meanwhile): the walk
// stays inside its stack, and callers re-check the goroutine's state afterwards.
int suspended_frames(const G* g, uintptr_t* out, int max);

// The running goroutine g's own frames, innermost first: out[0] is in the function that calls
// this (nobody saved its registers). The walk stays on g's stack.
int own_frames(const G* g, uintptr_t* out, int max);

// "0xPC SYMBOL" for each frame, innermost first. frames[0] is an exact pc; the others are return
// addresses. Stops at the first return address that names no function: the walk left the frame
// chain there, and nothing after it can be trusted.
std::vector<std::string> describe_frames(const uintptr_t* frames, int n);

}  // namespace gort::rt
