// WaitGroup on the runtime semaphore, with Go's state word: counter in the high 32 bits,
// waiter count in the low 32 bits, so add() and wait() agree on one atomic value.
#include "gort/wait_group.hpp"

#include <cstdint>
#include <stdexcept>

#include "runtime/sema.hpp"

namespace gort {

void WaitGroup::add(int64_t delta) {
  // The counter is the state word's high 32 bits: a larger delta would wrap it silently (to a
  // positive count, even: add(5'000'000'000) would count 705'032'704).
  if (delta > INT32_MAX || delta < -int64_t{INT32_MAX}) {
    throw std::out_of_range("gort::WaitGroup::add: delta out of range (|delta| < 2^31)");
  }
  // acq_rel: done() must publish the finished goroutine's writes to the waiter it releases.
  uint64_t state = state_.fetch_add(static_cast<uint64_t>(delta) << 32, std::memory_order_acq_rel) +
                   (static_cast<uint64_t>(delta) << 32);
  int32_t counter = static_cast<int32_t>(state >> 32);
  uint32_t waiters = static_cast<uint32_t>(state);
  if (counter < 0) {
    throw std::logic_error(delta > 0
                               ? "gort::WaitGroup: counter overflow (2^31 or more pending)"
                               : "gort::WaitGroup: negative counter (more done() than add())");
  }
  if (counter > 0 || waiters == 0) return;
  // Counter hit zero with waiters: nobody may add concurrently now (Go's rule), so reset and
  // release each waiter once.
  state_.store(0, std::memory_order_release);
  for (; waiters > 0; --waiters) rt::sema_release(&sema_);
}

void WaitGroup::wait() {
  uint64_t state = state_.load(std::memory_order_acquire);
  for (;;) {
    if ((state >> 32) == 0) return;
    if (state_.compare_exchange_weak(state, state + 1, std::memory_order_acq_rel)) {
      rt::sema_acquire(&sema_, "WaitGroup.wait");
      return;
    }
  }
}

}  // namespace gort
