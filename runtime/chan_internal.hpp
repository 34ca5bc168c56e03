// Channel internals shared by chan.cpp (single operations) and select.cpp.
//
// A channel (Go's hchan): a ring buffer of `cap` elements, FIFO queues of blocked senders and
// receivers, a closed flag, all under one SpinLock. A blocked operation is a Waiter (Go's sudog)
// living on the blocked goroutine's (or thread's) stack; a select puts one Waiter per case on
// the case's channel, all pointing to one WaitState.
//
// Claiming (why a select wakes exactly once): whoever completes a waiting operation (a sender
// finding a parked receiver, a receiver finding a parked sender, close(), a timer) first wins
// WaitState::claimed with a CAS 0 -> 1, under the channel lock of the Waiter it found. Only the
// winner writes `fired`/`status` and wakes the owner; waiters of a claimed state that are still
// queued elsewhere are skipped (and unlinked) by whoever meets them, and the owner unlinks the
// rest under each channel's lock after it wakes.
//
// Memory order: claimed.compare_exchange is acq_rel; the winner's writes (element moved into the
// owner's storage, fired, status) happen before ready()/unpark(), which publish them to the
// woken owner (run queue release/acquire, Parker release/acquire).
//
// Parking under channel locks: the owner parks with its channel locks held and releases them in
// park's after-switch hook (after its registers are saved), so no waker can resume it early.
// A deadline timer is armed in that same hook, before the unlock, for the same reason.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "gort/detail/chan_core.hpp"
#include "runtime/goroutine.hpp"
#include "runtime/park.hpp"
#include "runtime/spin_lock.hpp"

namespace gort::rt {

struct WaitState {
  std::atomic<uint32_t> claimed{0};
  size_t fired = SIZE_MAX;  // index of the case that completed (select), kTimedOut on timeout
  gort::detail::OpStatus status = gort::detail::OpStatus::kOk;
  G* g = nullptr;            // parked goroutine, or
  Parker* parker = nullptr;  // parked thread
  static constexpr size_t kTimedOut = SIZE_MAX - 1;

  // A single operation without a deadline can only be completed by a holder of its one
  // channel's lock (a peer or close), so it needs no CAS; a select (several channels) or a
  // deadline (the timer) can be raced for and does. Saves two locked instructions per
  // unbuffered round trip.
  bool exclusive = false;

  bool try_claim() {
    if (exclusive) {
      if (claimed.load(std::memory_order_relaxed) != 0) return false;
      claimed.store(1, std::memory_order_relaxed);  // under the only channel lock
      return true;
    }
    uint32_t expected = 0;
    return claimed.compare_exchange_strong(expected, 1, std::memory_order_acq_rel);
  }
};

struct Waiter {
  WaitState* state = nullptr;
  gort::detail::ChanCore* chan = nullptr;  // the channel whose queue it is in (sendq if is_send, else recvq)
  bool is_send = false;
  void* elem = nullptr;      // send: value to move from; recv: raw storage to move into
  size_t case_index = 0;
  Waiter* prev = nullptr;
  Waiter* next = nullptr;
  Waiter* wake_next = nullptr;  // close(): list of claimed waiters to wake after unlocking
  bool queued = false;
};

// FIFO of waiters; requires the channel lock.
struct WaitQueue {
  Waiter* head = nullptr;
  Waiter* tail = nullptr;

  void push(Waiter* w) {
    w->prev = tail;
    w->next = nullptr;
    if (tail) tail->next = w;
    else head = w;
    tail = w;
    w->queued = true;
  }
  void remove(Waiter* w) {
    if (!w->queued) return;
    if (w->prev) w->prev->next = w->next;
    else head = w->next;
    if (w->next) w->next->prev = w->prev;
    else tail = w->prev;
    w->prev = w->next = nullptr;
    w->queued = false;
  }
  // First waiter whose state we can claim; unlinks it and any stale (already claimed) ones.
  Waiter* claim_first() {
    while (Waiter* w = head) {
      remove(w);
      if (w->state->try_claim()) return w;
    }
    return nullptr;
  }
  bool has_claimable() const {
    for (Waiter* w = head; w; w = w->next) {
      if (w->state->claimed.load(std::memory_order_acquire) == 0) return true;
    }
    return false;
  }
};

}  // namespace gort::rt

namespace gort::detail {

struct ChanCore {
  gort::rt::SpinLock lock{gort::rt::LockRank::kChan};
  std::atomic<int64_t> refs{1};
  const ElementOps* ops = nullptr;
  size_t cap = 0;
  size_t count = 0;       // elements in the buffer
  size_t head = 0;        // index of the oldest element
  unsigned char* buf = nullptr;
  bool closed = false;
  std::atomic<size_t> len_hint{0};     // count, readable without the lock (len())
  std::atomic<bool> closed_hint{false};
  gort::rt::WaitQueue sendq;
  gort::rt::WaitQueue recvq;

  void* slot(size_t i) { return buf + ((head + i) % cap) * ops->size; }
  void publish_len() { len_hint.store(count, std::memory_order_relaxed); }
};

}  // namespace gort::detail

namespace gort::rt {

using gort::detail::ChanCore;

// While the calling goroutine is parked on `waiters` (each with chan and is_send set), shutdown
// can find them through G::wait_link and unlink them from channels that outlive the run. A
// plain thread's waiters need nothing: the thread stays blocked and its stack stays valid.
class ChanWaitLink {
 public:
  ChanWaitLink(Waiter* waiters, size_t n);
  ~ChanWaitLink();
  ChanWaitLink(const ChanWaitLink&) = delete;
  ChanWaitLink& operator=(const ChanWaitLink&) = delete;

 private:
  static void forget(WaitLink* link);
  WaitLink link_{&forget};  // first: forget casts the WaitLink* back
  Waiter* waiters_;
  size_t n_;
  G* g_;
};

// Wakes the owner of a claimed state (after the caller released the channel locks).
void wake_waiter(WaitState* st);

// Blocks the caller until its state is claimed (by a channel peer, close, or the deadline).
// Called with `locks[0..nlocks)` held (distinct channels, in address order); returns with none
// held. deadline_ns: gort::detail::kNoDeadline or a CLOCK_MONOTONIC deadline.
void block_on(WaitState* st, ChanCore** locks, size_t nlocks, int64_t deadline_ns,
              const char* reason);

// Completing operations against a claimed waiter; require the channel lock.
void hand_to_receiver(ChanCore* c, Waiter* receiver, void* elem);  // unbuffered or empty buffer
void take_from_sender(ChanCore* c, Waiter* sender, void* out);      // recv with a parked sender
bool buffer_push(ChanCore* c, void* elem);                           // false if full
bool buffer_pop(ChanCore* c, void* out);                             // false if empty
// close(): marks closed, claims every waiter (status kClosed) and returns them linked through
// wake_next; the caller wakes them after unlocking.
Waiter* close_locked(ChanCore* c);

}  // namespace gort::rt
