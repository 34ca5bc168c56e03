// gort::Semaphore: a weighted FIFO semaphore in the style of golang.org/x/sync/semaphore.
// State (cur_, the request queue) lives under a gort::Mutex; each queued request sleeps on its
// own runtime-semaphore word. A release grants requests strictly from the head, stopping at the
// first that does not fit, so small requests cannot overtake a large one.
#include <stdexcept>

#include "gort/sync.hpp"
#include "runtime/sema.hpp"

namespace gort {

struct Semaphore::Waiter {
  int64_t n;
  // Set to 1 (sema_release) once the units were granted; the request lives on the waiting
  // goroutine's stack, and the granter touches it for the last time with that release.
  std::atomic<uint32_t> granted{0};
  Waiter* next = nullptr;
};

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
  Waiter w{n};
  if (tail_) tail_->next = &w;
  else head_ = &w;
  tail_ = &w;
  mu_.unlock();
  rt::sema_acquire(&w.granted, "semaphore.Acquire");
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
