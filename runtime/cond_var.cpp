// gort::CondVar on the semaphore table's notify lists. The ticket is taken before the user's
// lock is released, which is what closes the window between "decided to wait" and "parked":
// a notify in that window advances the notify counter past our ticket, and notify_list_wait
// then returns without sleeping.
#include <stdexcept>

#include "gort/sync.hpp"
#include "runtime/sema.hpp"

namespace gort {

void CondVar::wait(std::unique_lock<Mutex>& lock) {
  if (!lock.owns_lock()) throw std::logic_error("gort::CondVar::wait: lock not held");
  uint32_t ticket = rt::notify_list_add(&list_);
  lock.unlock();
  rt::notify_list_wait(&list_, ticket, "sync.Cond.Wait");
  lock.lock();
}

void CondVar::notify_one() noexcept { rt::notify_list_notify_one(&list_); }

void CondVar::notify_all() noexcept { rt::notify_list_notify_all(&list_); }

}  // namespace gort
