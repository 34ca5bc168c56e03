// The lock-order checker of checked builds (lock_rank.hpp). Per thread, a small stack of the
// ranked locks held; releases may come in any order (a select unlocks its channels as it likes).
#include "runtime/lock_rank.hpp"

#include "runtime/fatal.hpp"

namespace gort::rt {

namespace {

constexpr int kMaxHeld = 64;  // a select over many channels holds one lock per channel

struct Held {
  LockRank rank;
  const void* lock;
};

struct HeldLocks {
  int n = 0;
  Held held[kMaxHeld];
};

thread_local HeldLocks tls_held;

// Read through a call the compiler cannot see into: code that parks between two lock operations
// may resume on another thread, and a cached address of the first thread's list would be wrong.
__attribute__((noipa)) HeldLocks& held_locks() { return tls_held; }

}  // namespace

const char* lock_rank_name(LockRank r) {
  switch (r) {
    case LockRank::kUnranked: return "unranked";
    case LockRank::kDump: return "dump";
    case LockRank::kTraceControl: return "trace control";
    case LockRank::kHogSample: return "hog sample";
    case LockRank::kNetpollInit: return "netpoll init";
    case LockRank::kSemaBucket: return "sema bucket";
    case LockRank::kChan: return "channel";
    case LockRank::kSched: return "Sched::lock";
    case LockRank::kGlobalQueue: return "global run queue";
    case LockRank::kStackInit: return "stack init";
    case LockRank::kStackScavenge: return "stack scavenge";
    case LockRank::kStackClassCreate: return "stack class creation";
    case LockRank::kStackSizeClass: return "stack size class";
    case LockRank::kStackArena: return "stack arenas";
    case LockRank::kStackCacheList: return "stack cache list";
    case LockRank::kGlobalFree: return "goroutine free list";
    case LockRank::kTimerHeap: return "timer heap";
    case LockRank::kPollDescPool: return "poll descriptor pool";
    case LockRank::kSocketPdInit: return "socket registration";
    case LockRank::kRingMail: return "io_uring mailbox";
    case LockRank::kTraceBuffer: return "trace buffer";
    case LockRank::kCount: break;
  }
  return "?";
}

void lock_rank_acquire(LockRank rank, const void* lock) {
  if (rank == LockRank::kUnranked) return;
  HeldLocks& h = held_locks();
  for (int i = 0; i < h.n; ++i) {
    const Held& o = h.held[i];
    if (o.lock == lock) {
      fatalf("runtime: lock order: %s lock %p taken twice by one thread", lock_rank_name(rank),
             lock);
    }
    if (!lock_rank_allows(o.rank, rank)) {
      fatalf("runtime: lock order: %s lock taken while holding %s lock (lock_rank.hpp)",
             lock_rank_name(rank), lock_rank_name(o.rank));
    }
    // A rank that nests with itself does so in address order only (what keeps two selects from
    // deadlocking on each other's channels).
    if (o.rank == rank && reinterpret_cast<uintptr_t>(o.lock) > reinterpret_cast<uintptr_t>(lock)) {
      fatalf("runtime: lock order: %s locks taken out of address order", lock_rank_name(rank));
    }
  }
  if (h.n == kMaxHeld) fatalf("runtime: lock order: more than %d locks held", kMaxHeld);
  h.held[h.n++] = Held{rank, lock};
}

void lock_rank_release(LockRank rank, const void* lock) {
  if (rank == LockRank::kUnranked) return;
  HeldLocks& h = held_locks();
  for (int i = h.n - 1; i >= 0; --i) {
    if (h.held[i].lock == lock) {
      for (int j = i; j + 1 < h.n; ++j) h.held[j] = h.held[j + 1];
      --h.n;
      return;
    }
  }
  fatalf("runtime: lock order: %s lock %p released by a thread that does not hold it",
         lock_rank_name(rank), lock);
}

int lock_rank_held_count() { return held_locks().n; }

}  // namespace gort::rt
