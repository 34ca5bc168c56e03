// A goroutine that computes without ever calling the runtime, for the tests that look at a
// running goroutine from outside (the hog detector, the goroutine dump). Out of line, so that
// its name appears in their backtraces.
#pragma once

#include <atomic>

namespace gort::test {

__attribute__((noinline)) inline void SpinUntil(const std::atomic<bool>& stop) {
  while (!stop.load(std::memory_order_relaxed)) {
  }
  asm volatile("");  // keeps the function a frame of its own
}

}  // namespace gort::test
