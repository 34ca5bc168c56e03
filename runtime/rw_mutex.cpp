// gort::RWMutex: Go's writer-preferring scheme (see the fields in gort/sync.hpp). A writer
// first takes writer_ (excluding other writers), then subtracts kMaxReaders from
// reader_count_: from that moment arriving readers see a negative count and sleep on
// reader_sem_. The readers that were already inside (the count before the subtraction) are
// added to reader_wait_; each of them decrements it on the way out and the last one wakes the
// writer on writer_sem_. Unlock adds kMaxReaders back and releases exactly the readers that
// queued meanwhile.
#include "gort/sync.hpp"
#include "runtime/fatal.hpp"
#include "runtime/misuse.hpp"
#include "runtime/sema.hpp"

namespace gort {

void RWMutex::lock_shared_slow() {
  // A writer is pending; its unlock releases reader_sem_ once for every reader counted while
  // it held the lock, including this one.
  rt::sema_acquire(&reader_sem_, "sync.RWMutex.RLock");
}

void RWMutex::unlock_shared_slow(int32_t r) {
  if (r + 1 == 0 || r + 1 == -kMaxReaders) rt::fatal_misuse("sync: RUnlock of unlocked RWMutex");
  // A writer waits; the last reader it waits for wakes it.
  if (reader_wait_.fetch_sub(1, std::memory_order_acq_rel) - 1 == 0) {
    rt::sema_release(&writer_sem_);
  }
}

void RWMutex::lock() {
  writer_.lock();
  // Announce the writer; r = readers inside (or queued before us, which cannot be: a queued
  // reader implies a writer, and writer_ excludes that).
  int32_t r = reader_count_.fetch_sub(kMaxReaders, std::memory_order_acq_rel);
  if (r != 0 && reader_wait_.fetch_add(r, std::memory_order_acq_rel) + r != 0) {
    rt::sema_acquire(&writer_sem_, "sync.RWMutex.Lock");
  }
}

bool RWMutex::try_lock() {
  if (!writer_.try_lock()) return false;
  int32_t expected = 0;
  if (!reader_count_.compare_exchange_strong(expected, -kMaxReaders, std::memory_order_acq_rel,
                                             std::memory_order_relaxed)) {
    writer_.unlock();
    return false;
  }
  return true;
}

void RWMutex::unlock() {
  int32_t r = reader_count_.fetch_add(kMaxReaders, std::memory_order_acq_rel) + kMaxReaders;
  if (r >= kMaxReaders) rt::fatal_misuse("sync: Unlock of unlocked RWMutex");
  // Readers that arrived while we held it are sleeping (or about to): let each of them in.
  for (int32_t i = 0; i < r; ++i) rt::sema_release(&reader_sem_);
  writer_.unlock();
}

}  // namespace gort
