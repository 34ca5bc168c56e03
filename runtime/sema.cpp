// Semaphore table. 251 buckets (prime, as Go's semTabSize) of FIFO waiter lists, each under its
// own SpinLock, with an atomic waiter count so a release with no waiters takes no lock.
//
// Protocol (no lost wake-ups):
//   acquire: lock bucket; nwait++ (seq_cst); re-try the decrement; enqueue; park, releasing the
//            lock only after the goroutine is switched out (park's after-switch hook).
//   release: *addr++ (seq_cst); if nwait == 0 return; lock; dequeue the first waiter on addr;
//            unlock; wake it. The woken waiter retries the decrement and re-queues if another
//            acquirer took the count first (no handoff yet; Mutex's starvation mode will add one).
//   The seq_cst increment of *addr and of nwait order the two sides: a releaser that reads
//   nwait == 0 did its increment before the acquirer's nwait++, so the acquirer's re-try sees it.
#include "runtime/sema.hpp"

#include "runtime/machine.hpp"
#include "runtime/park.hpp"
#include "runtime/sched.hpp"
#include "runtime/spin_lock.hpp"

namespace gort::rt {

namespace {

struct Waiter {
  std::atomic<uint32_t>* addr;
  G* g;               // parked goroutine, or null for a parked thread
  Parker* parker;     // the thread's parker when g is null
  Waiter* next;
};

struct alignas(64) Bucket {
  SpinLock lock;
  std::atomic<uint32_t> nwait{0};
  Waiter* head = nullptr;  // FIFO
  Waiter* tail = nullptr;
};

constexpr size_t kBuckets = 251;
Bucket table[kBuckets];

Bucket& bucket_for(const void* addr) {
  return table[(reinterpret_cast<uintptr_t>(addr) >> 3) % kBuckets];
}

bool try_acquire(std::atomic<uint32_t>* addr) {
  // seq_cst: the re-check after nwait++ is the load half of a store-buffering pattern with
  // sema_release (see the protocol above); acquire would not be enough in the C++ model.
  uint32_t v = addr->load(std::memory_order_seq_cst);
  while (v > 0) {
    if (addr->compare_exchange_weak(v, v - 1, std::memory_order_acq_rel)) return true;
  }
  return false;
}

thread_local Parker thread_parker;

__attribute__((noipa)) Parker* this_thread_parker() { return &thread_parker; }

}  // namespace

void sema_acquire(std::atomic<uint32_t>* addr, const char* wait_reason) {
  if (try_acquire(addr)) return;
  Bucket& b = bucket_for(addr);
  for (;;) {
    M* m = current_m();
    G* g = (m != nullptr && !m->in_blocking) ? m->curg : nullptr;
    Waiter w{addr, g, g ? nullptr : this_thread_parker(), nullptr};
    b.lock.lock();
    b.nwait.fetch_add(1, std::memory_order_seq_cst);
    if (try_acquire(addr)) {
      b.nwait.fetch_sub(1, std::memory_order_relaxed);
      b.lock.unlock();
      return;
    }
    if (b.tail) b.tail->next = &w;
    else b.head = &w;
    b.tail = &w;
    if (g != nullptr) {
      g->wait_reason = wait_reason;
      g->set_status(GStatus::kRunning, GStatus::kWaiting);
      park([](G*, void* bucket) { static_cast<Bucket*>(bucket)->lock.unlock(); }, &b);
      g->wait_reason = nullptr;
    } else {
      b.lock.unlock();
      w.parker->park();
    }
    if (try_acquire(addr)) return;
  }
}

void sema_release(std::atomic<uint32_t>* addr) {
  addr->fetch_add(1, std::memory_order_seq_cst);
  Bucket& b = bucket_for(addr);
  if (b.nwait.load(std::memory_order_seq_cst) == 0) return;
  b.lock.lock();
  Waiter* prev = nullptr;
  Waiter* w = b.head;
  while (w != nullptr && w->addr != addr) {
    prev = w;
    w = w->next;
  }
  if (w == nullptr) {
    b.lock.unlock();
    return;
  }
  if (prev) prev->next = w->next;
  else b.head = w->next;
  if (b.tail == w) b.tail = prev;
  b.nwait.fetch_sub(1, std::memory_order_relaxed);
  // Copy out before unlocking: a thread waiter may return (and its Waiter die) right after.
  G* g = w->g;
  Parker* parker = w->parker;
  b.lock.unlock();
  if (g != nullptr) ready(g);
  else parker->unpark();
}

void sema_forget_goroutine_waiters() {
  for (Bucket& b : table) {
    b.lock.lock();
    Waiter* keep_head = nullptr;
    Waiter* keep_tail = nullptr;
    uint32_t kept = 0;
    for (Waiter* w = b.head; w;) {
      Waiter* next = w->next;
      if (w->g == nullptr) {  // a parked thread: still waiting, still valid
        w->next = nullptr;
        if (keep_tail) keep_tail->next = w;
        else keep_head = w;
        keep_tail = w;
        ++kept;
      }
      w = next;
    }
    b.head = keep_head;
    b.tail = keep_tail;
    b.nwait.store(kept, std::memory_order_seq_cst);
    b.lock.unlock();
  }
}

uint32_t sema_waiters(std::atomic<uint32_t>* addr) {
  Bucket& b = bucket_for(addr);
  b.lock.lock();
  uint32_t n = 0;
  for (Waiter* w = b.head; w; w = w->next) n += (w->addr == addr);
  b.lock.unlock();
  return n;
}

}  // namespace gort::rt
