// WaitGroup: wait for a collection of goroutines to finish (Go's sync.WaitGroup). Waiting parks
// the goroutine, never the thread; from a thread that is not a goroutine, wait() blocks it.
#pragma once

#include <atomic>
#include <cstdint>

namespace gort {

class WaitGroup {
 public:
  WaitGroup() = default;
  WaitGroup(const WaitGroup&) = delete;
  WaitGroup& operator=(const WaitGroup&) = delete;

  // Adds delta (may be negative) to the counter. Throws std::logic_error if it goes negative
  // or past 2^31 - 1, std::out_of_range for a |delta| above that (the counter is 32 bits, as
  // in Go).
  void add(int64_t delta = 1);
  void done() { add(-1); }
  // Blocks until the counter is zero.
  void wait();

 private:
  // High 32 bits: counter; low 32 bits: number of waiters.
  std::atomic<uint64_t> state_{0};
  std::atomic<uint32_t> sema_{0};
};

}  // namespace gort
