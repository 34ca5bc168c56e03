// gort::Semaphore: a weighted FIFO semaphore in the style of golang.org/x/sync/semaphore.
// State (cur_, the request queue) lives under a gort::Mutex; each queued request sleeps on its
// own runtime-semaphore word. A release grants requests strictly from the head, stopping at the
// first that does not fit, so small requests cannot overtake a large one.
#include <stdexcept>

#include "gort/sync.hpp"
#include "runtime/goroutine.hpp"
#include "runtime/machine.hpp"
#include "runtime/sema.hpp"

namespace gort {

struct Semaphore::Waiter {
  // First member: forget casts the WaitLink* back. A goroutine queued here when `run` returns
  // is abandoned and its stack, which holds this request, freed; a Semaphore that outlives the
  // run must not keep it queued (G::wait_link).
  rt::WaitLink link{&forget};
  Semaphore* sem;
  int64_t n;
  // Set to 1 (sema_release) once the units were granted; the request lives on the waiting
  // goroutine's stack, and the granter touches it for the last time with that release.
  std::atomic<uint32_t> granted{0};
  Waiter* next = nullptr;
  bool goroutine = false;  // else a plain thread's

  static void forget(rt::WaitLink* link);
};

// At run's end, on the thread returning from run, with every M stopped: every goroutine still
// queued here is abandoned, not only this one, so all of their requests leave at once (one at a
// time, granting in between would hand units to the next abandoned one). Whoever is left are
// plain threads, which may fit now. A request already granted is no longer queued and its units
// stay taken: like units a goroutine held when it was abandoned, they never come back.
void Semaphore::Waiter::forget(rt::WaitLink* link) {
  Semaphore* s = reinterpret_cast<Waiter*>(link)->sem;
  s->mu_.lock();
  Waiter** at = &s->head_;
  s->tail_ = nullptr;
  while (Waiter* w = *at) {
    if (w->goroutine) {
      *at = w->next;
    } else {
      s->tail_ = w;
      at = &w->next;
    }
  }
  s->grant_and_unlock();
}

Semaphore::Semaphore(int64_t capacity) : size_(capacity) {
  if (capacity < 0) throw std::invalid_argument("gort::Semaphore: negative capacity");
}

void Semaphore::acquire(int64_t n) {
  if (n < 0 || n > size_) {
    throw std::invalid_argument("gort::Semaphore::acquire: n must be in [0, capacity]");
  }
  mu_.lock();
  if (head_ == nullptr && size_ - cur_ >= n) {
    cur_ += n;
    mu_.unlock();
    return;
  }
  rt::G* g = rt::parkable_g();  // null on a plain thread: nothing abandons those
  Waiter w{.sem = this, .n = n, .goroutine = g != nullptr};
  if (tail_) tail_->next = &w;
  else head_ = &w;
  tail_ = &w;
  if (g != nullptr) rt::wait_link_push(g, &w.link);
  mu_.unlock();
  rt::sema_acquire(&w.granted, "semaphore.Acquire");
  if (g != nullptr) rt::wait_link_pop(g, &w.link);
}

bool Semaphore::try_acquire(int64_t n) {
  if (n < 0) return false;
  std::lock_guard<Mutex> guard(mu_);
  if (head_ != nullptr || size_ - cur_ < n) return false;
  cur_ += n;
  return true;
}

void Semaphore::release(int64_t n) {
  if (n < 0) throw std::invalid_argument("gort::Semaphore::release: negative n");
  mu_.lock();
  if (n > cur_) {
    mu_.unlock();
    throw std::logic_error("gort::Semaphore::release: released more than held");
  }
  cur_ -= n;
  grant_and_unlock();
}

void Semaphore::grant_and_unlock() {
  // Grant from the head while it fits; the granted requests are unlinked now and woken after
  // the unlock (they stay valid until woken).
  Waiter* granted = nullptr;
  Waiter** granted_tail = &granted;
  while (head_ != nullptr && size_ - cur_ >= head_->n) {
    Waiter* w = head_;
    cur_ += w->n;
    head_ = w->next;
    if (head_ == nullptr) tail_ = nullptr;
    w->next = nullptr;
    *granted_tail = w;
    granted_tail = &w->next;
  }
  mu_.unlock();
  while (granted != nullptr) {
    Waiter* next = granted->next;
    rt::sema_release(&granted->granted);
    granted = next;
  }
}

}  // namespace gort
