// SpinLock: a lock that may be released by a different execution context than the one that took
// it. Parking a goroutine takes a wait-queue lock on the goroutine's stack and releases it on the
// next context's stack (after the switch, so a waker cannot resume a half-saved goroutine).
// pthread mutexes record an owner thread, and TSan treats each goroutine as its own thread, so
// they would report that hand-over; this lock has no owner.
//
// Memory order: lock() acquires on the successful exchange, unlock() releases; the pair gives the
// critical sections a happens-before order. Hold times are a few hundred instructions at most
// (queue edits), so spinning with PAUSE and then sched_yield is cheaper than a futex.
#pragma once

#include <atomic>

#include <sched.h>

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
  void lock() noexcept {
    for (int spins = 0;; ++spins) {
      if (!locked_.exchange(true, std::memory_order_acquire)) return;  // pairs with unlock
      while (locked_.load(std::memory_order_relaxed)) {
        if (spins++ < 64) cpu_relax();
        else sched_yield();
      }
    }
  }
  bool try_lock() noexcept {
    return !locked_.load(std::memory_order_relaxed) &&
           !locked_.exchange(true, std::memory_order_acquire);
  }
  void unlock() noexcept { locked_.store(false, std::memory_order_release); }  // pairs with lock

 private:
  std::atomic<bool> locked_{false};
};

}  // namespace gort::rt
