// GlobalQueue: the FIFO of runnable goroutines not owned by any P (overflow from full rings,
// goroutines readied from outside the runtime, yields in migrate mode), under a SpinLock: a
// futex mutex here put threads to sleep in the middle of a park (measured: skynet spent ~10% in
// futex waits/wakes on this lock). `size_` is readable without the lock so the scheduler can
// skip an empty queue with one load.
//
// It is a queue of batches, as pushed: a P's overflow (129 goroutines), an injected list, or a
// single goroutine. A P pulling work takes whole batches, O(1) each under the lock, and moves
// their goroutines into its ring after unlocking. One flat list made the puller walk up to 128
// descriptors last written by another CPU (a cache miss each) while holding the lock, and the
// spawning P spun on it to spill its next half (perf, spawn at 2 procs: 13% of samples in the
// walk, 6% of them spinning in push_batch behind it).
//
// Invariants, under mu_: head_ .. tail_ are batch heads linked through G::batch_next (tail_'s
// is null); a batch is its head plus batch_size - 1 more goroutines linked through
// G::sched_next, the last one's sched_next null; size_ is the sum of the batch sizes. A batch
// taken off the queue belongs to the taker, who may read its links without the lock.
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
  void push(G* g) { push_batch(g, g, 1); }
  // Appends the list first..last (linked through sched_next) of n goroutines as one batch.
  void push_batch(G* first, G* last, uint32_t n);
  G* pop();
  // Takes whole batches while they add up to at most `want` goroutines (at least one batch,
  // and never more than `room`: a longer first batch is split). The first goroutine is
  // returned, the others go to `ring_push` (owner push into the caller's P), after the lock is
  // released; ring_push must not fail for up to room - 1 elements.
  template <class Push>
  G* pop_batch(uint32_t want, uint32_t room, Push&& ring_push);
  // seq_cst: the spinner's re-check after leaving the spinning state (sched.cpp) is the load
  // half of a store-buffering pattern; same instruction as acquire on x86.
  uint64_t size() const { return size_.load(std::memory_order_seq_cst); }
  bool empty() const { return size() == 0; }
  // Removes everything (shutdown) and calls f on each goroutine, in order, after unlocking.
  template <class F>
  void drain(F&& f);

 private:
  // Requires mu_. Detaches the first `take` (>= 1, <= size_) goroutines: whole batches, the
  // last one split if `take` ends inside it. Returns the first detached batch head; the
  // detached heads stay linked through batch_next, the last detached head's batch_next null.
  G* detach_locked(uint64_t take);
  // Calls f on every goroutine of the detached batches starting at `batches`, in order,
  // clearing the links as it goes.
  template <class F>
  static void for_each_detached(G* batches, F&& f);

  SpinLock mu_{LockRank::kGlobalQueue};  // held for O(batches) steps; never across a switch
  G* head_ = nullptr;
  G* tail_ = nullptr;
  std::atomic<uint64_t> size_{0};
};

template <class F>
void GlobalQueue::for_each_detached(G* batches, F&& f) {
  while (batches != nullptr) {
    G* next_batch = batches->batch_next;
    uint32_t n = batches->batch_size;
    batches->batch_next = nullptr;
    batches->batch_size = 0;
    G* g = batches;
    for (uint32_t i = 0; i < n; ++i) {
      G* next = g->sched_next;
      g->sched_next = nullptr;
      f(g);
      g = next;
    }
    batches = next_batch;
  }
}

template <class Push>
G* GlobalQueue::pop_batch(uint32_t want, uint32_t room, Push&& ring_push) {
  if (empty()) return nullptr;
  G* taken;
  {
    std::lock_guard<SpinLock> lock(mu_);
    if (head_ == nullptr) return nullptr;
    uint64_t take = head_->batch_size;
    if (take > room) take = room;
    // Further whole batches while they fit in `want` and in the room.
    const uint64_t limit = want < room ? want : room;
    for (G* b = head_->batch_next; b != nullptr && take + b->batch_size <= limit;
         b = b->batch_next) {
      take += b->batch_size;
    }
    taken = detach_locked(take);
  }
  G* first = nullptr;
  for_each_detached(taken, [&](G* g) {
    if (first == nullptr) first = g;
    else ring_push(g);
  });
  return first;
}

template <class F>
void GlobalQueue::drain(F&& f) {
  G* taken = nullptr;
  {
    std::lock_guard<SpinLock> lock(mu_);
    uint64_t n = size_.load(std::memory_order_relaxed);
    if (n != 0) taken = detach_locked(n);
  }
  for_each_detached(taken, f);
}

}  // namespace gort::rt
