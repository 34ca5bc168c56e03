// Goroutine stacks: reserved, lazily committed regions carved from large arenas.
//
// A stack slot is `guard + usable` bytes of one big MAP_NORESERVE mapping (an arena); the kernel
// commits pages only as the goroutine touches them, so a parked goroutine that used < 4 KiB costs
// one page plus its share of page tables. Slots of the default size are recycled through a
// per-P cache (owner-only: no locks, no atomic read-modify-writes) backed by a global pool under
// a mutex; only the scavenger (called from sysmon) gives pages of idle cached stacks back to the
// kernel, never the spawn path.
//
// Guards, probed once at stack_system_init():
//   1. madvise(MADV_GUARD_INSTALL) on the slot's lowest page (Linux >= 6.13): no new VMAs.
//   2. mprotect(PROT_NONE) guard pages while the VMA budget derived from vm.max_map_count allows.
//   3. no guard: a canary word at the lowest usable address, checked by the scheduler at each
//      switch (stack_canary_ok).
// The mode actually used is reported once on stderr when it is not the first. The environment
// variable GORT_STACK_GUARD=mprotect|canary forces a weaker mode (to exercise fallbacks in CI).
//
// Overflow: a SIGSEGV handler on an alternate signal stack recognizes faults in a guard region
// and prints, through the describer the runtime installs, a line such as
//   goroutine 17 stack overflow (reserved 256 KiB), created at main.cpp:12
// then aborts. Other faults are passed on to the previously installed handler (ASan's, or the
// default action).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace gort::rt {

inline constexpr size_t kDefaultStackReserve = 256 * 1024;  // DESIGN §3: 4.6 KiB/parked G floor

struct Stack {
  char* lo = nullptr;    // lowest usable byte (just above the guard)
  char* hi = nullptr;    // one past the highest usable byte: the initial stack top
  size_t reserved = 0;   // hi - lo
  uint32_t size_class = 0;  // allocator bookkeeping; opaque to callers
  bool valid() const { return lo != nullptr; }
};

enum class GuardMode : uint8_t { kGuardInstall, kMprotect, kCanary };

// Per-P cache of free stacks of the default size. Owner-only (the P's current M); not thread-safe.
class StackCache {
 public:
  StackCache() = default;
  StackCache(const StackCache&) = delete;
  StackCache& operator=(const StackCache&) = delete;
  ~StackCache();
  size_t size() const { return count_; }

 private:
  friend struct StackAllocator;
  static constexpr size_t kCapacity = 64;  // refill/flush half (32) from/to the global pool
  Stack items_[kCapacity];
  size_t count_ = 0;
  // For stack_stats() only: the owner mirrors count_ here (a plain store, no read-modify-write)
  // so that stats can sum the caches without a data race. Caches are linked into a registry
  // (under the allocator's mutex) the first time they are used, and unlinked by the destructor.
  std::atomic<size_t> published_count_{0};
  StackCache* reg_prev_ = nullptr;
  StackCache* reg_next_ = nullptr;
  bool registered_ = false;
};

// Writes a one-line description of the goroutine that owns the stack [lo, hi) into buf
// (async-signal-safe: no allocation, no locks). Returns the length written.
using OverflowDescriber = size_t (*)(const char* stack_lo, const char* stack_hi, char* buf, size_t len);

// Process-wide set-up: probes the guard mode, sets the default reservation, installs the
// SIGSEGV handler. Idempotent; later calls only update the default reservation.
void stack_system_init(size_t default_reserve);
// Gives the calling thread an alternate signal stack so overflow reports can run. Call once per
// thread that runs goroutines (every M and the thread calling gort::run).
void stack_thread_init();
void stack_set_overflow_describer(OverflowDescriber describer);

// Allocates a stack with at least `reserve` usable bytes (0 = the default). `cache` may be null
// (then the global pool is used). Returns an invalid Stack when address space or the mapping
// limit is exhausted.
Stack stack_allocate(size_t reserve, StackCache* cache);
// Returns a stack for reuse. `cache` may be null. Under ASan the stack's shadow must be clean:
// a stack that ran a goroutine goes through stack_forget_frames first.
void stack_release(const Stack& stack, StackCache* cache);
// ASan only (a no-op otherwise): clears the shadow poisoning of the frames that were live on
// `stack` when its goroutine switched away for the last time, which all lie in [sp, top):
// `sp` is the context's saved handle. Frames that returned unpoisoned themselves, and an
// exception's unwinding is unpoisoned by ASan's no-return hook, so nothing below sp is left.
void stack_forget_frames(const Stack& stack, const void* sp);
// Moves every stack of `cache` to the global pool (a P going away).
void stack_cache_flush(StackCache* cache);
// Gives back to the kernel the pages of stacks idle in the global pool since the previous call
// (MADV_FREE / MADV_DONTNEED). Called periodically by sysmon. Returns bytes advised away.
size_t stack_scavenge();

GuardMode stack_guard_mode();
size_t stack_default_reserve();
// Canary mode only (always true otherwise): whether the word at the stack's low end is intact.
bool stack_canary_ok(const Stack& stack);

struct StackStats {
  uint64_t arenas_mapped = 0;     // number of arena mappings
  uint64_t bytes_reserved = 0;    // address space reserved for stacks
  uint64_t stacks_in_use = 0;
  uint64_t stacks_cached = 0;     // in the global pool (per-P caches not counted)
  uint64_t scavenged_bytes = 0;   // total given back by stack_scavenge
  uint64_t stacks_in_p_caches = 0;  // held by per-P caches (neither in use nor in the pool)
  uint64_t guarded_slots = 0;     // slots carved with a guard (MADV_GUARD_INSTALL or mprotect)
  uint64_t canary_slots = 0;      // slots carved without a guard (canary only)
};
StackStats stack_stats();

// Whether the stack has a real guard below lo (false: canary only).
bool stack_is_guarded(const Stack& stack);

// ---- testing ---------------------------------------------------------------------------------
// Forces the guard mode used for slots carved from now on (slots already carved keep theirs, as
// recycled slots always do). kGuardInstall is refused (the mode is left unchanged) when the kernel
// lacks it. Returns the previous mode. stack_system_init must have run.
GuardMode stack_force_guard_mode_for_testing(GuardMode mode);
// Sets how many more mprotect guards may be installed before new slots fall back to canaries.
void stack_set_mprotect_guard_budget_for_testing(size_t guards);

}  // namespace gort::rt
