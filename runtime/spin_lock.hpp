// SpinLock: a lock that may be released by a different execution context than the one that took
// it. Parking a goroutine takes a wait-queue lock on the goroutine's stack and releases it on the
// next context's stack (after the switch, so a waker cannot resume a half-saved goroutine).
// pthread mutexes record an owner thread, and TSan treats each goroutine as its own thread, so
// they would report that hand-over; this lock has no owner.
//
// Memory order: lock() acquires on the successful exchange, unlock() releases; the pair gives the
// critical sections a happens-before order. Hold times are a few hundred instructions at most
// (queue edits), so spinning with PAUSE and then sched_yield is cheaper than a futex.
//
// Each runtime SpinLock carries its LockRank (lock_rank.hpp), checked in checked builds.
#pragma once

#include <atomic>
#include <cstdint>

#include <sched.h>

#include "runtime/lock_rank.hpp"

namespace gort::rt {

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield" ::: "memory");
#endif
}

class SpinLock {
 public:
  explicit constexpr SpinLock(LockRank rank = LockRank::kUnranked) noexcept : rank_(rank) {}
  SpinLock(const SpinLock&) = delete;
  SpinLock& operator=(const SpinLock&) = delete;

  void lock() noexcept {
    if constexpr (kLockRanking) lock_rank_acquire(rank_, this);
    if (!locked_.exchange(true, std::memory_order_acquire)) return;  // pairs with unlock
    lock_contended();
  }
  bool try_lock() noexcept {
    if (locked_.load(std::memory_order_relaxed) ||
        locked_.exchange(true, std::memory_order_acquire)) {
      return false;
    }
    if constexpr (kLockRanking) lock_rank_acquire(rank_, this);
    return true;
  }
  void unlock() noexcept {
    if constexpr (kLockRanking) lock_rank_release(rank_, this);
    locked_.store(false, std::memory_order_release);  // pairs with lock
  }

 private:
  // Exponential backoff: after each lost race wait twice as long (up to 1024 PAUSEs) before
  // looking again, so two cores hammering one lock stop bouncing its cache line on every try;
  // only a holder that stays away long (descheduled) makes us yield the thread.
  __attribute__((noinline)) void lock_contended() noexcept {
    for (uint32_t backoff = 4, rounds = 0;; ++rounds) {
      for (uint32_t i = 0; i < backoff; ++i) cpu_relax();
      if (backoff < 1024) backoff *= 2;
      if (!locked_.load(std::memory_order_relaxed) &&
          !locked_.exchange(true, std::memory_order_acquire)) {
        return;
      }
      if (rounds > 64) sched_yield();
    }
  }

  std::atomic<bool> locked_{false};
  LockRank rank_;
};

}  // namespace gort::rt
