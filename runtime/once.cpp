// gort::Once slow path: the first caller runs the function under mu_; the others wait on mu_
// (parking through the semaphore table) and find done_ set. If the function throws, the lock is
// released by unwinding and done_ stays false, so the next caller in line tries its own function.
#include "gort/sync.hpp"

namespace gort {

void Once::call_slow(void (*thunk)(void*), void* ctx) {
  std::lock_guard<Mutex> guard(mu_);
  if (done_.load(std::memory_order_relaxed)) return;  // mu_ orders it against the writer
  thunk(ctx);
  done_.store(true, std::memory_order_release);
}

}  // namespace gort
