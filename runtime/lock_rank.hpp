// Lock ranks: the runtime's one lock order, declared here and checked in checked builds (Debug
// and sanitizer builds, GORT_CHECKED), as Go does with its lock ranks. ARCHITECTURE.md §5 lists
// what each lock protects; this file is where their order lives.
//
// Every runtime lock (SpinLock, RankedMutex) is constructed with a LockRank. kMayHoldWhile below
// lists, for each rank, the ranks a thread may already hold when it takes a lock of that rank;
// the checker follows it transitively (holding A while taking B, and B while taking C, allows A
// while taking C), and a static_assert rejects a cycle. A rank listed as holding itself may nest
// with itself only in address order (a select locks its channels by address).
//
// What the checker does, per thread (an M, or a foreign thread calling gort primitives): every
// acquire compares the new rank with each lock the thread holds, and fatal()s on an order the
// table does not allow, naming both locks; every release must name a lock the thread holds.
// A wait-queue lock held across a park is released by the after-switch hook on the same thread,
// so the per-thread view stays exact. Release builds compile none of this.
#pragma once

#include <cstdint>
#include <mutex>

namespace gort::rt {

enum class LockRank : uint8_t {
  kUnranked = 0,     // not checked (tests' own locks)
  kDump,             // dump.cpp: one dump at a time
  kTraceControl,     // trace.cpp: start, stop, shutdown
  kHogSample,        // hog.cpp: one requester of the hog mailboxes at a time
  kNetpollInit,      // netpoll.cpp: backend selection
  kSemaBucket,       // sema.cpp: a bucket's waiters (held across a park)
  kChan,             // chan_internal.hpp: one channel (held across a park; selects nest them)
  kSched,            // Sched::lock
  kGlobalQueue,      // GlobalQueue::mu_
  kStackInit,        // stack.cpp: init and probe
  kStackScavenge,    // stack.cpp: one scavenger at a time
  kStackClassCreate, // stack.cpp: creation of size classes
  kStackSizeClass,   // stack.cpp: a size class's pool and carving
  kStackArena,       // stack.cpp: arena registry appends
  kStackCacheList,   // stack.cpp: the StackCache registry
  kGlobalFree,       // goroutine.cpp: global G free list and slabs
  kTimerHeap,        // timer.hpp: one timer heap
  kPollDescPool,     // poll_desc.cpp: descriptor free list
  kSocketPdInit,     // socket.hpp: registering an fd created outside a runtime
  kRingMail,         // machine.hpp: an M's io_uring cancel mailbox
  kTraceBuffer,      // trace.cpp: one trace buffer
  kCount
};

const char* lock_rank_name(LockRank r);

namespace lock_rank_detail {

constexpr int kN = static_cast<int>(LockRank::kCount);
using R = LockRank;

struct Edge {
  R held;
  R taken;
};

// Each pair: `held` may be held while `taken` is acquired. The nestings that occur (ARCHITECTURE
// §5): wait-queue locks over the trace buffer and the timer heaps (a park's after-switch hook
// records the run's end, arms the deadline and only then unlocks), and, in migrate mode, over the
// global queue, Sched::lock and a first stack; Sched::lock over the global queue; the stack
// allocator's chain; the dump and trace control locks over what they read; Sched::lock over the
// deadlock report's dump and an idle P's trace event.
constexpr Edge kMayHoldWhile[] = {
    {R::kDump, R::kHogSample},
    {R::kDump, R::kGlobalFree},  // the dump walks the descriptor slabs
    {R::kTraceControl, R::kTraceBuffer},
    {R::kSemaBucket, R::kTraceBuffer},
    {R::kSemaBucket, R::kTimerHeap},
    {R::kSemaBucket, R::kSched},
    {R::kSemaBucket, R::kGlobalQueue},
    {R::kSemaBucket, R::kStackInit},
    {R::kSemaBucket, R::kStackCacheList},
    {R::kSemaBucket, R::kStackSizeClass},
    {R::kSemaBucket, R::kStackClassCreate},
    {R::kChan, R::kChan},  // a select: address order
    {R::kChan, R::kTraceBuffer},
    {R::kChan, R::kTimerHeap},
    {R::kChan, R::kSched},
    {R::kChan, R::kGlobalQueue},
    {R::kChan, R::kStackInit},  // migrate mode, as for a sema bucket
    {R::kChan, R::kStackCacheList},
    {R::kChan, R::kStackSizeClass},
    {R::kChan, R::kStackClassCreate},
    {R::kSched, R::kGlobalQueue},
    {R::kSched, R::kDump},         // deadlock detection dumps every goroutine, all Ms idle
    {R::kSched, R::kTraceBuffer},  // a P going idle is a trace event
    {R::kSocketPdInit, R::kPollDescPool},  // registering takes a descriptor from the pool
    {R::kStackInit, R::kStackClassCreate},
    {R::kStackScavenge, R::kStackSizeClass},
    {R::kStackSizeClass, R::kStackArena},
    {R::kStackClassCreate, R::kStackSizeClass},
};

struct Order {
  bool may[kN][kN] = {};  // may[held][taken], transitively closed
};

constexpr Order closure() {
  Order o;
  for (const Edge& e : kMayHoldWhile) {
    o.may[static_cast<int>(e.held)][static_cast<int>(e.taken)] = true;
  }
  for (int k = 0; k < kN; ++k) {
    for (int i = 0; i < kN; ++i) {
      for (int j = 0; j < kN; ++j) {
        if (o.may[i][k] && o.may[k][j]) o.may[i][j] = true;
      }
    }
  }
  return o;
}

inline constexpr Order kOrder = closure();

// Acyclic apart from declared self-nesting: no rank reaches itself through another rank.
constexpr bool acyclic() {
  for (int i = 0; i < kN; ++i) {
    for (int k = 0; k < kN; ++k) {
      if (k != i && kOrder.may[i][k] && kOrder.may[k][i]) return false;
    }
  }
  return true;
}
static_assert(acyclic(), "lock_rank.hpp: kMayHoldWhile has a cycle");

}  // namespace lock_rank_detail

// May a thread holding `held` acquire `taken`? (Unranked locks are never checked.)
constexpr bool lock_rank_allows(LockRank held, LockRank taken) {
  if (held == LockRank::kUnranked || taken == LockRank::kUnranked) return true;
  return lock_rank_detail::kOrder.may[static_cast<int>(held)][static_cast<int>(taken)];
}

#if defined(GORT_CHECKED)
inline constexpr bool kLockRanking = true;
#else
inline constexpr bool kLockRanking = false;
#endif

// The checker (lock_rank.cpp); called only when kLockRanking. `lock` names the lock instance
// (address order for self-nesting ranks, and matching releases).
void lock_rank_acquire(LockRank rank, const void* lock);
void lock_rank_release(LockRank rank, const void* lock);
// How many ranked locks this thread holds (tests).
int lock_rank_held_count();

// A std::mutex with a rank, for the runtime's blocking locks. Same interface (lock_guard,
// unique_lock work); the rank is checked before blocking, so a wrong order is reported instead of
// deadlocking.
class RankedMutex {
 public:
  explicit constexpr RankedMutex(LockRank rank) noexcept : rank_(rank) {}
  RankedMutex(const RankedMutex&) = delete;
  RankedMutex& operator=(const RankedMutex&) = delete;
  void lock() {
    if constexpr (kLockRanking) lock_rank_acquire(rank_, this);
    mu_.lock();
  }
  bool try_lock() {
    if (!mu_.try_lock()) return false;
    if constexpr (kLockRanking) lock_rank_acquire(rank_, this);
    return true;
  }
  void unlock() {
    if constexpr (kLockRanking) lock_rank_release(rank_, this);
    mu_.unlock();
  }

 private:
  std::mutex mu_;
  const LockRank rank_;
};

}  // namespace gort::rt
