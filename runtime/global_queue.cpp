#include "runtime/global_queue.hpp"

namespace gort::rt {

void GlobalQueue::push(G* g) {
  g->sched_next = nullptr;
  std::lock_guard<SpinLock> lock(mu_);
  if (tail_) tail_->sched_next = g;
  else head_ = g;
  tail_ = g;
  size_.store(size_.load(std::memory_order_relaxed) + 1, std::memory_order_release);
}

void GlobalQueue::push_batch(G* first, G* last, uint32_t n) {
  last->sched_next = nullptr;
  std::lock_guard<SpinLock> lock(mu_);
  if (tail_) tail_->sched_next = first;
  else head_ = first;
  tail_ = last;
  size_.store(size_.load(std::memory_order_relaxed) + n, std::memory_order_release);
}

G* GlobalQueue::pop() {
  if (empty()) return nullptr;
  std::lock_guard<SpinLock> lock(mu_);
  G* g = head_;
  if (!g) return nullptr;
  head_ = g->sched_next;
  if (!head_) tail_ = nullptr;
  size_.store(size_.load(std::memory_order_relaxed) - 1, std::memory_order_release);
  g->sched_next = nullptr;
  return g;
}

G* GlobalQueue::drain() {
  std::lock_guard<SpinLock> lock(mu_);
  G* all = head_;
  head_ = tail_ = nullptr;
  size_.store(0, std::memory_order_release);
  return all;
}

}  // namespace gort::rt
