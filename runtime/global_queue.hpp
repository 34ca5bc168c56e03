// GlobalQueue: the FIFO of runnable goroutines not owned by any P (overflow from full rings,
// goroutines readied from outside the runtime, yields in migrate mode). An intrusive list
// (G::sched_next) under a SpinLock: a futex mutex here put threads to sleep in the middle of a
// park (measured: skynet spent ~10% in futex waits/wakes on this lock); `size_` is readable without the lock so the scheduler can skip
// an empty queue with one load.
//
// Memory order of size_: written under the lock with release stores; lock-free readers load it
// seq_cst and treat the value as a hint, re-checking under the lock before relying on it.
// Producers publish, then do a seq_cst read-modify-write before looking for idle Ps
// (wakep_global in sched.cpp).
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>

#include "runtime/goroutine.hpp"
#include "runtime/spin_lock.hpp"

namespace gort::rt {

class GlobalQueue {
 public:
  void push(G* g);
  // Appends the list first..last (linked through sched_next) of n goroutines in one lock.
  void push_batch(G* first, G* last, uint32_t n);
  // Takes up to max goroutines; the first is returned, the rest are pushed to `ring_push`
  // (owner push into the caller's P), which must not fail for up to max-1 elements.
  G* pop();
  template <class Push>
  G* pop_batch(uint32_t max, Push&& ring_push);
  // seq_cst: the spinner's re-check after leaving the spinning state (sched.cpp) is the load
  // half of a store-buffering pattern; same instruction as acquire on x86.
  uint64_t size() const { return size_.load(std::memory_order_seq_cst); }
  bool empty() const { return size() == 0; }
  // Removes everything (shutdown); returns the list.
  G* drain();

 private:
  SpinLock mu_{LockRank::kGlobalQueue};  // held for at most a 128-element splice; never across a switch
  G* head_ = nullptr;
  G* tail_ = nullptr;
  std::atomic<uint64_t> size_{0};
};

template <class Push>
G* GlobalQueue::pop_batch(uint32_t max, Push&& ring_push) {
  if (empty()) return nullptr;
  std::lock_guard<SpinLock> lock(mu_);
  uint64_t n = size_.load(std::memory_order_relaxed);
  if (n == 0) return nullptr;
  if (n > max) n = max;
  G* first = head_;
  head_ = first->sched_next;
  G* cur = head_;
  for (uint64_t i = 1; i < n; ++i) {
    G* next = cur->sched_next;
    ring_push(cur);
    cur = next;
  }
  head_ = cur;
  if (head_ == nullptr) tail_ = nullptr;
  size_.store(size_.load(std::memory_order_relaxed) - n, std::memory_order_release);
  first->sched_next = nullptr;
  return first;
}

}  // namespace gort::rt
