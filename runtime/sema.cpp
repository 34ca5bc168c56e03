// Semaphore table. 251 buckets (prime, as Go's semTabSize), each under its own SpinLock, with an
// atomic waiter count so a release with no waiters takes no lock. A bucket maps each waited-on
// key to that key's FIFO of waiters, so a release finds its waiters in O(1) however many other
// addresses share the bucket. (One list per bucket made every release scan past the waiters of
// other addresses: a tree of a million goroutines each waiting on its own WaitGroup spent a
// quarter of its samples in that scan; Go uses a treap per bucket for the same reason.) Keys are
// of two kinds, told apart by the key's low bit (Kind): semaphore counters, and notify lists
// (CondVar) whose waiters are ordered by ticket. Both share the parking code and the shutdown
// sweep.
//
// Protocol (no lost wake-ups):
//   acquire: lock bucket; nwait++ (seq_cst); re-try the decrement; enqueue (tail, or ahead of
//            the other waiters on addr when lifo); park, releasing the lock only after the
//            goroutine is switched out (park's after-switch hook).
//   release: *addr++ (seq_cst); if nwait == 0 return; lock; dequeue the first waiter on addr;
//            with handoff, take the count for it (Waiter::handed); unlock; wake it. A woken
//            waiter without `handed` retries the decrement and re-queues if another acquirer
//            took the count first.
//   The seq_cst increment of *addr and of nwait order the two sides: a releaser that reads
//   nwait == 0 did its increment before the acquirer's nwait++, so the acquirer's re-try sees it.
//
// Waking happens after the unlock, so the releaser never holds a bucket lock across ready()
// (which may take the global queue lock). A dequeued Waiter stays valid until it is woken: a
// goroutine cannot run before ready(), and a parked thread loops until `dequeued` is set. So
// the waker reads everything it needs from the Waiter first and touches it last with that store.
#include "runtime/sema.hpp"

#include "absl/container/flat_hash_map.h"

#include "gort/sync.hpp"
#include "runtime/machine.hpp"
#include "runtime/park.hpp"
#include "runtime/sched.hpp"
#include "runtime/spin_lock.hpp"

namespace gort::rt {

namespace {

enum class Kind : uint8_t { kSema, kNotify };

struct Waiter {
  G* g = nullptr;              // parked goroutine, or null for a parked thread
  Parker* parker = nullptr;    // the thread's parker when g is null
  Waiter* next = nullptr;
  uint32_t ticket = 0;         // kNotify: the notify ticket waited for
  bool handed = false;         // kSema: the releaser took the count for us (handoff)
  // Thread waiters only: set (release) by the waker as its last touch of this record; the
  // waiter loops on it (acquire), so a stale futex permit never lets it leave while queued.
  std::atomic<bool> dequeued{false};
};

// The waiters of one key, in arrival order (lifo acquirers go to the front).
struct Queue {
  Waiter* head = nullptr;
  Waiter* tail = nullptr;

  void push_back(Waiter* w) {
    w->next = nullptr;
    if (tail) tail->next = w;
    else head = w;
    tail = w;
  }
  void push_front(Waiter* w) {
    w->next = head;
    head = w;
    if (tail == nullptr) tail = w;
  }
  void unlink(Waiter* prev, Waiter* w) {
    if (prev) prev->next = w->next;
    else head = w->next;
    if (tail == w) tail = prev;
    w->next = nullptr;
  }
  bool empty() const { return head == nullptr; }
};

// A key: the waited-on address with the kind in its low bit (both kinds of object hold 4-byte
// aligned atomics, so that bit is free).
uintptr_t key_of(const void* addr, Kind kind) {
  return reinterpret_cast<uintptr_t>(addr) | static_cast<uintptr_t>(kind);
}

// `queues` holds an entry only while its key has waiters, so its size is bounded by the
// waiters parked now; the map may allocate while the bucket lock is held (it grows), never
// while switched out.
struct alignas(64) Bucket {
  SpinLock lock{LockRank::kSemaBucket};
  std::atomic<uint32_t> nwait{0};
  absl::flat_hash_map<uintptr_t, Queue> queues;

  // The key's queue, or null if nobody waits on it.
  Queue* find(uintptr_t key) {
    auto it = queues.find(key);
    return it == queues.end() ? nullptr : &it->second;
  }
  void erase_if_empty(uintptr_t key, Queue* q) {
    if (q->empty()) queues.erase(key);
  }
};

constexpr size_t kBuckets = 251;

Bucket& bucket_for(const void* addr) {
  // Never destroyed: threads still blocked in a semaphore at exit must find it intact.
  static Bucket* const table = new Bucket[kBuckets];
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


// Called with b.lock held and w queued; returns once w was dequeued and woken, lock released.
void sleep_queued(Bucket& b, Waiter& w, const char* wait_reason) {
  if (w.g != nullptr) {
    w.g->wait_reason = wait_reason;
    w.g->set_status(GStatus::kRunning, GStatus::kWaiting);
    park([](G*, void* bucket) { static_cast<Bucket*>(bucket)->lock.unlock(); }, &b);
    w.g->wait_reason = nullptr;
  } else {
    if (current_m() == nullptr) note_foreign_thread();  // may wake goroutines later
    b.lock.unlock();
    while (!w.dequeued.load(std::memory_order_acquire)) w.parker->park();
  }
}

void init_waiter(Waiter& w) {
  w.g = parkable_g();
  w.parker = w.g ? nullptr : this_thread_parker();
}

// Wakes a waiter already unlinked from its bucket (lock released). Returns whether it was a
// goroutine. w must not be touched afterwards.
bool wake(Waiter* w) {
  G* g = w->g;
  if (g != nullptr) {
    ready(g);
    return true;
  }
  Parker* parker = w->parker;
  w->dequeued.store(true, std::memory_order_release);
  parker->unpark();
  return false;
}

// int32 distance: a ticket t is "before" n even across wrap-around.
bool ticket_less(uint32_t a, uint32_t b) { return static_cast<int32_t>(a - b) < 0; }

}  // namespace

void sema_acquire(std::atomic<uint32_t>* addr, const char* wait_reason, bool lifo) {
  if (try_acquire(addr)) return;
  Bucket& b = bucket_for(addr);
  const uintptr_t key = key_of(addr, Kind::kSema);
  for (;;) {
    Waiter w;
    init_waiter(w);
    b.lock.lock();
    Queue* q;
    try {
      q = &b.queues[key];  // may allocate (the map grows)
    } catch (...) {
      b.lock.unlock();
      throw;
    }
    b.nwait.fetch_add(1, std::memory_order_seq_cst);
    if (try_acquire(addr)) {
      b.nwait.fetch_sub(1, std::memory_order_relaxed);
      b.erase_if_empty(key, q);
      b.lock.unlock();
      return;
    }
    if (lifo) q->push_front(&w);
    else q->push_back(&w);
    sleep_queued(b, w, wait_reason);
    if (w.handed || try_acquire(addr)) return;
  }
}

void sema_release(std::atomic<uint32_t>* addr, bool handoff) {
  addr->fetch_add(1, std::memory_order_seq_cst);
  Bucket& b = bucket_for(addr);
  if (b.nwait.load(std::memory_order_seq_cst) == 0) return;
  b.lock.lock();
  const uintptr_t key = key_of(addr, Kind::kSema);
  Queue* q = b.find(key);
  if (q == nullptr) {
    b.lock.unlock();
    return;
  }
  Waiter* w = q->head;
  q->unlink(nullptr, w);
  b.erase_if_empty(key, q);
  b.nwait.fetch_sub(1, std::memory_order_relaxed);
  // Taking the count here, under the lock, is what makes the handoff direct: a newcomer's
  // fast-path decrement can no longer beat the waiter to it.
  bool handed = handoff && try_acquire(addr);
  w->handed = handed;
  b.lock.unlock();
  bool was_g = wake(w);
  // Let the waiter run now on this processor (it sits in runnext): in starvation mode the
  // releaser would otherwise keep the CPU and the waiter's turn would wait a time slice.
  if (handed && was_g && parkable_g() != nullptr) yield_current();
}

uint32_t notify_list_add(detail::NotifyList* list) {
  return list->wait.fetch_add(1, std::memory_order_seq_cst);
}

void notify_list_wait(detail::NotifyList* list, uint32_t ticket, const char* wait_reason) {
  Bucket& b = bucket_for(list);
  b.lock.lock();
  // notify is only advanced under this lock, so this check and the enqueue are atomic with
  // respect to notifiers: either the ticket was already notified or the notifier will find us.
  if (ticket_less(ticket, list->notify.load(std::memory_order_relaxed))) {
    b.lock.unlock();
    return;
  }
  Queue* q;
  try {
    q = &b.queues[key_of(list, Kind::kNotify)];  // may allocate (the map grows)
  } catch (...) {
    b.lock.unlock();
    throw;
  }
  Waiter w;
  init_waiter(w);
  w.ticket = ticket;
  q->push_back(&w);
  b.nwait.fetch_add(1, std::memory_order_relaxed);
  sleep_queued(b, w, wait_reason);
}

void notify_list_notify_one(detail::NotifyList* list) {
  // Fast path: no ticket handed out since the last notify. A waiter that took its ticket
  // under the user's lock is visible here when the notifier holds (or held) that lock.
  if (list->wait.load(std::memory_order_seq_cst) == list->notify.load(std::memory_order_relaxed)) return;
  Bucket& b = bucket_for(list);
  b.lock.lock();
  uint32_t t = list->notify.load(std::memory_order_relaxed);
  if (t == list->wait.load(std::memory_order_seq_cst)) {
    b.lock.unlock();
    return;
  }
  list->notify.store(t + 1, std::memory_order_relaxed);
  const uintptr_t key = key_of(list, Kind::kNotify);
  if (Queue* q = b.find(key)) {
    // Tickets are taken in order but queued as their owners get here: usually the head.
    Waiter* prev = nullptr;
    for (Waiter* w = q->head; w != nullptr; prev = w, w = w->next) {
      if (w->ticket == t) {
        q->unlink(prev, w);
        b.erase_if_empty(key, q);
        b.nwait.fetch_sub(1, std::memory_order_relaxed);
        b.lock.unlock();
        wake(w);
        return;
      }
    }
  }
  // Ticket t was taken but its owner has not queued yet: it will see notify > t and not sleep.
  b.lock.unlock();
}

void notify_list_notify_all(detail::NotifyList* list) {
  if (list->wait.load(std::memory_order_seq_cst) == list->notify.load(std::memory_order_relaxed)) return;
  Bucket& b = bucket_for(list);
  b.lock.lock();
  list->notify.store(list->wait.load(std::memory_order_seq_cst), std::memory_order_relaxed);
  Waiter* woken = nullptr;
  auto it = b.queues.find(key_of(list, Kind::kNotify));
  if (it != b.queues.end()) {
    woken = it->second.head;
    b.queues.erase(it);
  }
  uint32_t n = 0;
  for (Waiter* w = woken; w != nullptr; w = w->next) ++n;
  b.nwait.fetch_sub(n, std::memory_order_relaxed);
  b.lock.unlock();
  while (woken != nullptr) {  // in ticket order
    Waiter* next = woken->next;  // read before the wake: the record dies when its owner runs
    wake(woken);
    woken = next;
  }
}

void sema_forget_goroutine_waiters() {
  for (size_t i = 0; i < kBuckets; ++i) {
    // Every bucket, through any address that maps to it.
    Bucket& b = bucket_for(reinterpret_cast<const void*>(i << 3));
    b.lock.lock();
    uint32_t kept = 0;
    for (auto it = b.queues.begin(); it != b.queues.end();) {
      Queue& q = it->second;
      Waiter* prev = nullptr;
      for (Waiter* w = q.head; w != nullptr;) {
        Waiter* next = w->next;
        if (w->g != nullptr) {
          q.unlink(prev, w);  // an abandoned goroutine's record, on a stack about to be freed
        } else {
          prev = w;  // a parked thread: still waiting, still valid
          ++kept;
        }
        w = next;
      }
      if (q.empty()) b.queues.erase(it++);
      else ++it;
    }
    b.nwait.store(kept, std::memory_order_seq_cst);
    b.lock.unlock();
  }
}

uint32_t sema_waiters(std::atomic<uint32_t>* addr) {
  Bucket& b = bucket_for(addr);
  b.lock.lock();
  uint32_t n = 0;
  if (Queue* q = b.find(key_of(addr, Kind::kSema))) {
    for (Waiter* w = q->head; w; w = w->next) ++n;
  }
  b.lock.unlock();
  return n;
}

}  // namespace gort::rt
