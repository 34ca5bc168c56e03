// RunQueue: a P's local run queue. A bounded single-producer / multi-consumer ring of 256 slots
// plus a one-element `runnext` slot (DESIGN §2, Go's runq).
//
// Who may call what:
//   push, push_next, pop, steal_into (as the thief's own queue)  only the owning P's M;
//   steal_into (as the victim), empty, size, head_index, tail_index   any thread.
//
// Invariants:
//   * head and tail are free-running 32-bit counters; tail - head is the number of queued Gs,
//     always <= kSize. Slot i % kSize holds an element iff head <= i < tail.
//   * Only the owner writes tail and the slots, and only slots at index >= tail, which no
//     consumer can be reading: consumers read [head, tail) and the owner writes slot t only
//     when t - head < kSize with a head it loaded, so t % kSize cannot alias a slot a consumer
//     holds a snapshot of.
//   * Consumers (the owner's pop and thieves) claim elements only by CAS on head; a failed CAS
//     discards the snapshot, so each element is taken exactly once.
//   * runnext is set only by the owner; anyone may take it with a CAS to null.
//
// Memory orders:
//   * tail.store(release) in push publishes the slot write; consumers load tail with acquire.
//   * head CAS is release on success (a consumer is done reading the slots it claimed, so the
//     owner may reuse them) and the owner loads head with acquire before overwriting slots.
//   * Slots are relaxed atomics: the ordering comes from head/tail; atomics only avoid the
//     formal data race of a thief reading a slot it then discards.
//   * runnext exchange/CAS are acq_rel: the G handed over must be fully written.
#pragma once

#include <atomic>
#include <cstdint>

#include "runtime/goroutine.hpp"

namespace gort::rt {

class RunQueue {
 public:
  static constexpr uint32_t kSize = 256;  // Go's runq size; a half-batch is 128

  // Owner: appends g at the tail. Returns false if full (the caller moves half to the global
  // queue with take_half_for_overflow and retries).
  bool push(G* g) {
    uint32_t h = head_.load(std::memory_order_acquire);  // pairs with consumers' CAS release
    uint32_t t = tail_.load(std::memory_order_relaxed);  // only we write tail
    if (t - h >= kSize) return false;
    slots_[t % kSize].store(g, std::memory_order_relaxed);
    tail_.store(t + 1, std::memory_order_release);  // publishes the slot; pairs with acquire loads
    return true;
  }

  // Owner: puts g in runnext; returns the G it displaced (to be pushed at the tail) or null.
  G* push_next(G* g) {
    return runnext_.exchange(g, std::memory_order_acq_rel);  // hands g over with its contents
  }

  // Owner: takes runnext if set, else the head of the ring. `from_next` says which.
  // `ring_first`: try the ring before runnext (a P asked to preempt: the pair that keeps
  // readying each other through runnext must let the ring run).
  G* pop(bool* from_next = nullptr, bool ring_first = false) {
    if (ring_first) {
      if (G* g = pop_ring()) {
        if (from_next) *from_next = false;
        return g;
      }
    }
    G* next = runnext_.load(std::memory_order_relaxed);
    if (next != nullptr &&
        runnext_.compare_exchange_strong(next, nullptr, std::memory_order_acq_rel)) {
      if (from_next) *from_next = true;
      return next;
    }
    if (from_next) *from_next = false;
    return pop_ring();
  }

  // Owner: takes the head of the ring (not runnext).
  G* pop_ring() {
    for (;;) {
      uint32_t h = head_.load(std::memory_order_acquire);
      uint32_t t = tail_.load(std::memory_order_relaxed);  // only we write tail
      if (t == h) return nullptr;
      G* g = slots_[h % kSize].load(std::memory_order_relaxed);
      if (head_.compare_exchange_weak(h, h + 1, std::memory_order_release,
                                      std::memory_order_relaxed)) {
        return g;
      }
    }
  }

  // Owner, on overflow: claims the older half (kSize/2) of the ring and writes them to out.
  // Returns how many were claimed (0 if a thief took some meanwhile: retry push).
  uint32_t take_half_for_overflow(G** out) {
    uint32_t h = head_.load(std::memory_order_acquire);
    uint32_t t = tail_.load(std::memory_order_relaxed);
    uint32_t n = (t - h) / 2;
    if (n != kSize / 2) return 0;  // not full any more: a consumer made room
    for (uint32_t i = 0; i < n; ++i) out[i] = slots_[(h + i) % kSize].load(std::memory_order_relaxed);
    if (!head_.compare_exchange_strong(h, h + n, std::memory_order_release,
                                       std::memory_order_relaxed)) {
      return 0;
    }
    return n;
  }

  // Thief (the caller owns `into`): moves half (rounded up) of this queue into `into` and returns
  // one of them to run at once, or null. `take_runnext`: also consider the victim's runnext when
  // the ring is empty (Go does that only on its last steal pass).
  // `only_next` (with take_runnext): take runnext only if it still holds that goroutine.
  G* steal_into(RunQueue& into, bool take_runnext, uint32_t* stolen, G* only_next = nullptr) {
    uint32_t dst_tail = into.tail_.load(std::memory_order_relaxed);  // we own `into`
    uint32_t n = grab(into, dst_tail, take_runnext, only_next);
    *stolen = n;
    if (n == 0) return nullptr;
    --n;
    G* g = into.slots_[(dst_tail + n) % kSize].load(std::memory_order_relaxed);
    if (n == 0) return g;
    into.tail_.store(dst_tail + n, std::memory_order_release);  // publish the rest
    return g;
  }

  bool empty() const {
    // Re-read tail so a G moving from runnext into the ring is not missed (Go's runqempty).
    for (;;) {
      uint32_t h = head_.load(std::memory_order_acquire);
      uint32_t t = tail_.load(std::memory_order_acquire);
      G* next = runnext_.load(std::memory_order_acquire);
      if (tail_.load(std::memory_order_acquire) == t) return h == t && next == nullptr;
    }
  }
  // Any thread: the free-running counters (sysmon's waiting-work check: an element below an
  // earlier tail that is still at or above the head now has been queued all along).
  uint32_t head_index() const { return head_.load(std::memory_order_acquire); }
  uint32_t tail_index() const { return tail_.load(std::memory_order_acquire); }
  // Owner: nothing in the ring (runnext aside). Thieves only move head forward, so a true
  // answer stays true until the owner pushes.
  bool ring_empty() const {
    return tail_.load(std::memory_order_relaxed) == head_.load(std::memory_order_acquire);
  }
  // Any thread: the goroutine in runnext now (a hint; see steal_work).
  G* peek_next() const { return runnext_.load(std::memory_order_acquire); }
  uint32_t size() const {
    uint32_t h = head_.load(std::memory_order_acquire);
    uint32_t t = tail_.load(std::memory_order_acquire);
    uint32_t n = t - h;
    if (n > kSize) n = 0;  // inconsistent snapshot
    return n + (runnext_.load(std::memory_order_relaxed) != nullptr ? 1 : 0);
  }

 private:
  // Copies up to half of the ring into `into` starting at dst_tail, commits by CAS on head.
  uint32_t grab(RunQueue& into, uint32_t dst_tail, bool take_runnext, G* only_next) {
    for (;;) {
      uint32_t h = head_.load(std::memory_order_acquire);  // pairs with other consumers
      uint32_t t = tail_.load(std::memory_order_acquire);  // pairs with the owner's push
      uint32_t n = t - h;
      n = n - n / 2;
      if (n == 0) {
        if (take_runnext) {
          G* next = runnext_.load(std::memory_order_acquire);
          if (only_next != nullptr && next != only_next) return 0;
          if (next != nullptr &&
              runnext_.compare_exchange_strong(next, nullptr, std::memory_order_acq_rel)) {
            into.slots_[dst_tail % kSize].store(next, std::memory_order_relaxed);
            return 1;
          }
        }
        return 0;
      }
      if (n > kSize / 2) continue;  // read head and tail at different times: retry
      for (uint32_t i = 0; i < n; ++i) {
        G* g = slots_[(h + i) % kSize].load(std::memory_order_relaxed);
        into.slots_[(dst_tail + i) % kSize].store(g, std::memory_order_relaxed);
      }
      if (head_.compare_exchange_strong(h, h + n, std::memory_order_acq_rel,
                                        std::memory_order_relaxed)) {
        return n;
      }
    }
  }

  alignas(64) std::atomic<uint32_t> head_{0};
  alignas(64) std::atomic<uint32_t> tail_{0};
  std::atomic<G*> runnext_{nullptr};
  std::atomic<G*> slots_[kSize] = {};
};

}  // namespace gort::rt
