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

namespace gort::rt {

struct G;

constexpr int kMaxBacktraceFrames = 32;  // what a report or a dump entry keeps

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

// "0xPC SYMBOL" for each frame, innermost first. frames[0] is an exact pc; the others are return
// addresses. Stops at the first return address that names no function: the walk left the frame
// chain there, and nothing after it can be trusted.
std::vector<std::string> describe_frames(const uintptr_t* frames, int n);

}  // namespace gort::rt
