// Synchronization primitives for goroutines (Go's sync package and x/sync/semaphore). Waiting
// parks the goroutine, never its thread; called from a thread that is not a goroutine (or
// inside gort::blocking()), they block that thread instead. All of them wait through the
// runtime's one semaphore table.
//
// Mutex and RWMutex meet the standard Lockable / SharedLockable requirements, so
// std::lock_guard, std::unique_lock, std::scoped_lock and std::shared_lock work with them.
// Misuse that Go treats as fatal (unlocking an unlocked Mutex or RWMutex) aborts the process
// with a "sync: ..." message.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <utility>

namespace gort {

namespace detail {
// CondVar's wait list (Go's notifyList); the waiters themselves are queued in the runtime's
// semaphore table, keyed by this object's address.
//   wait:   next ticket to hand out; incremented (seq_cst) by a waiter while it holds the
//           user's lock, before it releases that lock.
//   notify: next ticket to wake; only written under the table's bucket lock for this address,
//           read there by waiters (a waiter whose ticket is below it does not sleep) and read
//           without the lock by notifiers only as a "nobody waits" hint (wait == notify).
//   Tickets compare by int32 distance, so wrap-around is harmless.
struct NotifyList {
  std::atomic<uint32_t> wait{0};
  std::atomic<uint32_t> notify{0};
};
}  // namespace detail

// Mutual exclusion lock (Go's sync.Mutex). Not recursive. Normal mode: a woken waiter competes
// with arriving goroutines, which may spin briefly while other processors run. A waiter that
// waited more than 1 ms switches the mutex to starvation mode, where unlock hands ownership
// straight to the oldest waiter and newcomers queue behind it.
class Mutex {
 public:
  constexpr Mutex() noexcept = default;
  Mutex(const Mutex&) = delete;
  Mutex& operator=(const Mutex&) = delete;

  void lock() {
    uint32_t expected = 0;
    if (state_.compare_exchange_strong(expected, kLocked, std::memory_order_acquire,
                                       std::memory_order_relaxed)) {
      return;
    }
    lock_slow();
  }
  bool try_lock() noexcept {
    uint32_t old = state_.load(std::memory_order_relaxed);
    if ((old & (kLocked | kStarving)) != 0) return false;
    return state_.compare_exchange_strong(old, old | kLocked, std::memory_order_acquire,
                                          std::memory_order_relaxed);
  }
  void unlock() {
    uint32_t now = state_.fetch_sub(kLocked, std::memory_order_release) - kLocked;
    if (now != 0) unlock_slow(now);
  }

 private:
  static constexpr uint32_t kLocked = 1;
  static constexpr uint32_t kWoken = 2;
  static constexpr uint32_t kStarving = 4;
  static constexpr int kWaiterShift = 3;

  void lock_slow();
  void unlock_slow(uint32_t now);

  // state_: bit 0 locked, bit 1 woken (a waiter is awake or a spinner announced itself, so
  // unlock need not wake another), bit 2 starving (ownership passes by handoff; nobody barges),
  // bits 3.. the number of goroutines queued on sema_. Every transition is one RMW on this
  // word, so the bits and the count always agree. Acquiring the lock is an acquire RMW and
  // releasing it a release RMW (the later slow-path RMWs extend the release sequence), which
  // is what orders the critical sections. Invariants: locked is never set while starving
  // without a handoff in progress; woken is set by at most one goroutine at a time, which
  // clears it again in its next successful CAS.
  std::atomic<uint32_t> state_{0};
  // Semaphore the waiters sleep on; each unlock that wakes someone adds one.
  std::atomic<uint32_t> sema_{0};
};

// Reader/writer lock (Go's sync.RWMutex): many readers or one writer. A writer waiting for the
// lock blocks new readers, so readers cannot starve writers. Not recursive for readers either:
// a reader that locks again while a writer waits deadlocks.
class RWMutex {
 public:
  constexpr RWMutex() noexcept = default;
  RWMutex(const RWMutex&) = delete;
  RWMutex& operator=(const RWMutex&) = delete;

  void lock();
  bool try_lock();
  void unlock();

  void lock_shared() {
    if (reader_count_.fetch_add(1, std::memory_order_acq_rel) + 1 < 0) lock_shared_slow();
  }
  bool try_lock_shared() noexcept {
    int32_t c = reader_count_.load(std::memory_order_relaxed);
    while (c >= 0) {
      if (reader_count_.compare_exchange_weak(c, c + 1, std::memory_order_acq_rel,
                                              std::memory_order_relaxed)) {
        return true;
      }
    }
    return false;
  }
  void unlock_shared() {
    int32_t r = reader_count_.fetch_sub(1, std::memory_order_acq_rel) - 1;
    if (r < 0) unlock_shared_slow(r);
  }

 private:
  static constexpr int32_t kMaxReaders = 1 << 30;

  void lock_shared_slow();
  void unlock_shared_slow(int32_t r);

  Mutex writer_;  // held by the writer for the whole write section: one writer at a time
  // reader_count_: readers holding or waiting for the lock, minus kMaxReaders while a writer
  // holds or wants it (so "negative" means "a writer is pending": new readers queue on
  // reader_sem_). reader_wait_: readers the pending writer still waits for; the last of them to
  // leave wakes it through writer_sem_. All RMWs are acq_rel: a reader's release must reach the
  // writer and the writer's release must reach the next readers; the semaphores order the
  // sleeping side.
  std::atomic<int32_t> reader_count_{0};
  std::atomic<int32_t> reader_wait_{0};
  std::atomic<uint32_t> writer_sem_{0};
  std::atomic<uint32_t> reader_sem_{0};
};

// Condition variable for gort::Mutex. Spurious wake-ups do not happen, but use the predicate
// form anyway: another goroutine may take the lock between the notify and the wake-up. A
// notify reaches every waiter that started waiting before it (tickets, not a flag).
class CondVar {
 public:
  constexpr CondVar() noexcept = default;
  CondVar(const CondVar&) = delete;
  CondVar& operator=(const CondVar&) = delete;

  // Atomically releases `lock` (which must own its mutex, else std::logic_error) and waits for a
  // notify; re-acquires the lock before returning.
  void wait(std::unique_lock<Mutex>& lock);
  template <class Pred>
  void wait(std::unique_lock<Mutex>& lock, Pred pred) {
    while (!pred()) wait(lock);
  }
  void notify_one() noexcept;
  void notify_all() noexcept;

 private:
  detail::NotifyList list_;
};

// Runs a function once (Go's sync.Once, std::call_once's rules). Concurrent callers wait until
// the first call finished. If the function throws, the exception reaches that caller and the
// Once stays not done: the next caller runs its function.
class Once {
 public:
  constexpr Once() noexcept = default;
  Once(const Once&) = delete;
  Once& operator=(const Once&) = delete;

  template <class F, class... Args>
  void call_once(F&& fn, Args&&... args) {
    if (done_.load(std::memory_order_acquire)) return;
    auto call = [&] { std::invoke(std::forward<F>(fn), std::forward<Args>(args)...); };
    call_slow([](void* c) { (*static_cast<decltype(call)*>(c))(); }, &call);
  }
  bool done() const noexcept { return done_.load(std::memory_order_acquire); }

 private:
  void call_slow(void (*thunk)(void*), void* ctx);

  // done_: set (release) only after the function returned normally, under mu_; the fast path's
  // acquire load then sees every write the function made.
  std::atomic<bool> done_{false};
  Mutex mu_;
};

template <class F, class... Args>
void call_once(Once& once, F&& fn, Args&&... args) {
  once.call_once(std::forward<F>(fn), std::forward<Args>(args)...);
}

// Weighted semaphore (golang.org/x/sync/semaphore): acquire(n) waits until n units are free.
// Strictly FIFO: while a request waits, later ones queue behind it even if they would fit, so a
// large request is never starved by a stream of small ones.
class Semaphore {
 public:
  explicit Semaphore(int64_t capacity);
  Semaphore(const Semaphore&) = delete;
  Semaphore& operator=(const Semaphore&) = delete;

  // Throws std::invalid_argument when n < 0 or n > capacity() (it could never succeed).
  void acquire(int64_t n = 1);
  // Takes n units only if they are free and nobody is queued.
  bool try_acquire(int64_t n = 1);
  // Throws std::logic_error when releasing more than is held.
  void release(int64_t n = 1);
  int64_t capacity() const noexcept { return size_; }

 private:
  struct Waiter;
  void grant_and_unlock();  // requires mu_
  Mutex mu_;
  const int64_t size_;
  int64_t cur_ = 0;           // units held; under mu_
  Waiter* head_ = nullptr;    // FIFO of queued requests; under mu_
  Waiter* tail_ = nullptr;
};

}  // namespace gort
