// gort::Mutex slow paths: Go's sync.Mutex algorithm (see the state word in gort/sync.hpp).
//
// Normal mode: waiters queue FIFO on the semaphore, but a woken waiter does not own the lock;
// it competes with goroutines that just arrived (and are on a CPU), which usually win. That is
// good for throughput. A waiter that lost for more than 1 ms sets the starving bit; from then on
// unlock hands the lock straight to the head waiter (sema_release with handoff, which also
// yields so the waiter runs now), arrivals neither spin nor barge, and a waiter that re-queues
// goes to the front (LIFO) to keep its place. The mode ends when the waiter that got the lock
// waited less than 1 ms or was the last one.
#include <cstdint>

#include "gort/sync.hpp"
#include "runtime/fatal.hpp"
#include "runtime/misuse.hpp"
#include "runtime/mutex_stats.hpp"
#include "runtime/sched.hpp"
#include "runtime/sema.hpp"
#include "runtime/spin_lock.hpp"

namespace gort {

namespace {
constexpr int64_t kStarvationThresholdNs = 1'000'000;
constexpr int kSpinPauses = 30;  // per spin round, as Go's procyield(30)
std::atomic<uint64_t> starvation_entries{0};
}  // namespace

void Mutex::lock_slow() {
  int64_t wait_start = 0;
  bool starving = false;  // this goroutine waited > 1 ms
  bool awoke = false;     // this goroutine owns the woken bit
  int iter = 0;
  uint32_t old = state_.load(std::memory_order_relaxed);
  for (;;) {
    // Spin only in normal mode while the lock is held: in starvation mode the lock goes to a
    // waiter anyway, and can_spin says whether another processor runs the owner.
    if ((old & (kLocked | kStarving)) == kLocked && rt::can_spin(iter)) {
      // Announce ourselves so unlock does not wake a sleeper that would only lose to us.
      if (!awoke && (old & kWoken) == 0 && (old >> kWaiterShift) != 0 &&
          state_.compare_exchange_strong(old, old | kWoken, std::memory_order_relaxed)) {
        awoke = true;
      }
      for (int i = 0; i < kSpinPauses; ++i) rt::cpu_relax();
      ++iter;
      old = state_.load(std::memory_order_relaxed);
      continue;
    }
    uint32_t next = old;
    if ((old & kStarving) == 0) next |= kLocked;  // arrivals do not take a starving mutex
    if ((old & (kLocked | kStarving)) != 0) next += 1u << kWaiterShift;
    // Only switch to starvation mode if the lock is held: otherwise the unlock that would end
    // the mode could find no waiter.
    if (starving && (old & kLocked) != 0) next |= kStarving;
    if (awoke) {
      if ((next & kWoken) == 0) rt::fatal("sync: inconsistent mutex state");
      next &= ~kWoken;
    }
    if (!state_.compare_exchange_weak(old, next, std::memory_order_acq_rel,
                                      std::memory_order_relaxed)) {
      continue;  // old reloaded by the failed CAS
    }
    if ((old & (kLocked | kStarving)) == 0) return;  // took it
    if ((old & kStarving) == 0 && (next & kStarving) != 0) {
      starvation_entries.fetch_add(1, std::memory_order_relaxed);
    }
    bool requeue = wait_start != 0;
    if (wait_start == 0) wait_start = rt::now_ns();
    rt::sema_acquire(&sema_, "sync.Mutex.Lock", /*lifo=*/requeue);
    starving = starving || rt::now_ns() - wait_start > kStarvationThresholdNs;
    old = state_.load(std::memory_order_relaxed);
    if ((old & kStarving) != 0) {
      // Handed to us: the unlocker left locked clear and counted us as a waiter.
      if ((old & (kLocked | kWoken)) != 0 || (old >> kWaiterShift) == 0) {
        rt::fatal("sync: inconsistent mutex state");
      }
      uint32_t delta = kLocked - (1u << kWaiterShift);
      if (!starving || (old >> kWaiterShift) == 1) delta -= kStarving;  // leave starvation mode
      state_.fetch_add(delta, std::memory_order_acq_rel);
      return;
    }
    awoke = true;
    iter = 0;
  }
}

void Mutex::unlock_slow(uint32_t now) {
  if (((now + kLocked) & kLocked) == 0) rt::fatal_misuse("sync: unlock of unlocked mutex");
  if ((now & kStarving) != 0) {
    // Ownership goes to the head waiter; it sets locked itself.
    rt::sema_release(&sema_, /*handoff=*/true);
    return;
  }
  uint32_t old = now;
  for (;;) {
    // Nobody to wake, or someone already awake/locked it/starvation took over.
    if ((old >> kWaiterShift) == 0 || (old & (kLocked | kWoken | kStarving)) != 0) return;
    uint32_t next = (old - (1u << kWaiterShift)) | kWoken;
    if (state_.compare_exchange_weak(old, next, std::memory_order_acq_rel,
                                     std::memory_order_relaxed)) {
      rt::sema_release(&sema_, /*handoff=*/false);
      return;
    }
  }
}

}  // namespace gort

namespace gort::rt {
uint64_t mutex_starvation_entries() noexcept {
  return starvation_entries.load(std::memory_order_relaxed);
}
}  // namespace gort::rt
