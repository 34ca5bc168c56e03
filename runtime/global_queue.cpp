#include "runtime/global_queue.hpp"

namespace gort::rt {

void GlobalQueue::push_batch(G* first, G* last, uint32_t n) {
  last->sched_next = nullptr;
  first->batch_next = nullptr;
  first->batch_size = n;
  std::lock_guard<SpinLock> lock(mu_);
  if (tail_) tail_->batch_next = first;
  else head_ = first;
  tail_ = first;
  size_.store(size_.load(std::memory_order_relaxed) + n, std::memory_order_release);
}

G* GlobalQueue::pop() {
  if (empty()) return nullptr;
  G* taken;
  {
    std::lock_guard<SpinLock> lock(mu_);
    if (head_ == nullptr) return nullptr;
    taken = detach_locked(1);
  }
  taken->batch_next = nullptr;
  taken->batch_size = 0;
  taken->sched_next = nullptr;
  return taken;
}

G* GlobalQueue::detach_locked(uint64_t take) {
  G* first = head_;
  G* last_head = head_;  // the last batch that is detached (whole or its front part)
  uint64_t left = take;
  while (left > last_head->batch_size) {
    left -= last_head->batch_size;
    last_head = last_head->batch_next;
  }
  if (left == last_head->batch_size) {
    head_ = last_head->batch_next;
    if (head_ == nullptr) tail_ = nullptr;
  } else {
    // Split: the first `left` goroutines go, the rest becomes a batch of its own at the head.
    G* end = last_head;
    for (uint64_t i = 1; i < left; ++i) end = end->sched_next;
    G* rest = end->sched_next;
    end->sched_next = nullptr;
    rest->batch_next = last_head->batch_next;
    rest->batch_size = static_cast<uint32_t>(last_head->batch_size - left);
    last_head->batch_size = static_cast<uint32_t>(left);
    head_ = rest;
    if (tail_ == last_head) tail_ = rest;
  }
  last_head->batch_next = nullptr;
  size_.store(size_.load(std::memory_order_relaxed) - take, std::memory_order_release);
  return first;
}

}  // namespace gort::rt
