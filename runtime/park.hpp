// Parker: puts an OS thread to sleep on a futex until another thread unparks it. Used for idle Ms,
// sysmon's deep sleep and threads that wait on gort primitives from outside the runtime.
//
// One permit, like a binary semaphore: unpark() before park() makes the next park() return at
// once; several unparks collapse into one. Spurious returns are impossible (park loops until it
// consumes the permit), but callers re-check their condition anyway.
//
// Memory order: unpark's exchange(1) releases, park's exchange(0) acquires, so whatever the
// unparker wrote before unpark() is visible after park() returns.
#pragma once

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <ctime>

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace gort::rt {

inline long futex_wait(std::atomic<uint32_t>* addr, uint32_t expected, const timespec* rel) {
  return syscall(SYS_futex, reinterpret_cast<uint32_t*>(addr), FUTEX_WAIT_PRIVATE, expected, rel,
                 nullptr, 0);
}
inline long futex_wake(std::atomic<uint32_t>* addr, int count) {
  return syscall(SYS_futex, reinterpret_cast<uint32_t*>(addr), FUTEX_WAKE_PRIVATE, count, nullptr,
                 nullptr, 0);
}

class Parker {
 public:
  void park() noexcept {
    while (permit_.exchange(0, std::memory_order_acquire) == 0) {  // pairs with unpark
      futex_wait(&permit_, 0, nullptr);
    }
  }
  // Returns true if unparked, false on timeout.
  bool park_for(int64_t nanos) noexcept {
    if (permit_.exchange(0, std::memory_order_acquire) != 0) return true;
    timespec ts{static_cast<time_t>(nanos / 1000000000), static_cast<long>(nanos % 1000000000)};
    futex_wait(&permit_, 0, &ts);
    return permit_.exchange(0, std::memory_order_acquire) != 0;
  }
  // seq_cst (not just release): an M about to block in the netpoller stores M::in_poll and then
  // takes the permit with try_take(); a waker unparks and then reads in_poll (store-buffering:
  // one of the two sees the other; see wake_m in sched.cpp).
  void unpark() noexcept {
    if (permit_.exchange(1, std::memory_order_seq_cst) == 0) futex_wake(&permit_, 2);
  }
  // The futex word (1: a permit is pending), for waiting on it elsewhere: the io_uring backend
  // arms an IORING_OP_FUTEX_WAIT on it, which unpark's futex_wake completes. unpark wakes two:
  // the thread itself and its ring's wait, should both ever wait at once.
  std::atomic<uint32_t>* word() noexcept { return &permit_; }
  // Consumes a pending permit without sleeping.
  bool try_take() noexcept { return permit_.exchange(0, std::memory_order_seq_cst) != 0; }

 private:
  std::atomic<uint32_t> permit_{0};
};

}  // namespace gort::rt
