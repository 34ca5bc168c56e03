// Sync primitives: Mutex, RWMutex, CondVar, Once, Semaphore under 1, 2 and 4 processors, plus
// use from plain threads. Behaviour only: every wait is bounded by progress flags, never by time.
#include <atomic>
#include <chrono>
#include <deque>
#include <mutex>
#include <shared_mutex>
#include <stdexcept>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "gort/gort.hpp"
#include "runtime/mutex_stats.hpp"
#include "tests/support/procs.hpp"
#include "tests/support/what.hpp"

namespace {

using gort::test::kScale;

class SyncTest : public gort::test::ProcsTest {};

// Mutual exclusion: a plain counter plus an "inside" witness that must never see two holders.
TEST_P(SyncTest, MutexExcludesUnderContention) {
  constexpr int kGoroutines = 16;
  const int iters = 20000 / kScale;
  int64_t counter = 0;  // deliberately not atomic: the mutex must order every access
  std::atomic<int> inside{0};
  std::atomic<int> overlaps{0};
  gort::run([&] {
    gort::Mutex mu;
    gort::WaitGroup wg;
    wg.add(kGoroutines);
    for (int g = 0; g < kGoroutines; ++g) {
      gort::go([&, g] {
        for (int i = 0; i < iters; ++i) {
          mu.lock();
          if (inside.fetch_add(1, std::memory_order_relaxed) != 0) overlaps.fetch_add(1);
          ++counter;
          if ((i + g) % 97 == 0) gort::yield();  // park other contenders while held
          inside.fetch_sub(1, std::memory_order_relaxed);
          mu.unlock();
        }
        wg.done();
      });
    }
    wg.wait();
  }, config());
  EXPECT_EQ(counter, int64_t{kGoroutines} * iters);
  EXPECT_EQ(overlaps.load(), 0);
}

TEST_P(SyncTest, MutexWorksWithStdLockers) {
  constexpr int kGoroutines = 8;
  const int iters = 5000 / kScale;
  int64_t a_count = 0, b_count = 0, both = 0;
  gort::run([&] {
    gort::Mutex a, b;
    gort::WaitGroup wg;
    wg.add(kGoroutines);
    for (int g = 0; g < kGoroutines; ++g) {
      gort::go([&, g] {
        for (int i = 0; i < iters; ++i) {
          {
            std::lock_guard<gort::Mutex> guard(a);
            ++a_count;
          }
          {
            std::unique_lock<gort::Mutex> lock(b);
            ++b_count;
            lock.unlock();
            lock.lock();
          }
          // Opposite orders in different goroutines: std::scoped_lock must avoid the deadlock.
          if (g % 2 == 0) {
            std::scoped_lock both_locks(a, b);
            ++both;
          } else {
            std::scoped_lock both_locks(b, a);
            ++both;
          }
        }
        wg.done();
      });
    }
    wg.wait();
  }, config());
  EXPECT_EQ(a_count, int64_t{kGoroutines} * iters);
  EXPECT_EQ(b_count, int64_t{kGoroutines} * iters);
  EXPECT_EQ(both, int64_t{kGoroutines} * iters);
}

TEST_P(SyncTest, MutexTryLock) {
  gort::run([&] {
    gort::Mutex mu;
    ASSERT_TRUE(mu.try_lock());
    std::atomic<int> result{-1};
    gort::WaitGroup wg;
    wg.add(1);
    gort::go([&] {
      result = mu.try_lock() ? 1 : 0;
      wg.done();
    });
    wg.wait();
    EXPECT_EQ(result.load(), 0);
    mu.unlock();
    wg.add(1);
    gort::go([&] {
      result = mu.try_lock() ? 1 : 0;
      if (result == 1) mu.unlock();
      wg.done();
    });
    wg.wait();
    EXPECT_EQ(result.load(), 1);
  }, config());
}

// One goroutine relocks in a tight loop (yielding while it holds the lock, so the waiter gets to
// run and fail); the waiter must still get the lock, through starvation mode if needed.
TEST_P(SyncTest, MutexWaiterIsNotStarved) {
  constexpr int64_t kMaxIters = 200'000'000;
  std::atomic<bool> got{false};
  int64_t iters = 0;
  gort::run([&] {
    gort::Mutex mu;
    gort::WaitGroup wg;
    wg.add(2);
    gort::go([&] {
      for (iters = 0; iters < kMaxIters && !got.load(std::memory_order_relaxed); ++iters) {
        mu.lock();
        if (iters % 16 == 0) gort::yield();
        mu.unlock();
      }
      wg.done();
    });
    gort::go([&] {
      gort::yield();
      mu.lock();
      got = true;
      mu.unlock();
      wg.done();
    });
    wg.wait();
  }, config());
  EXPECT_TRUE(got.load());
  EXPECT_LT(iters, kMaxIters);
}

// With one processor the waiter only runs while the hog holds the lock (it yields inside), so
// it always loses in normal mode: getting the lock at all proves starvation mode and the
// handoff. Entering the mode needs 1 ms of waiting; the loop is bounded by progress only.
TEST(SyncStarvation, MutexEntersStarvationModeAndHandsOff) {
  uint64_t before = gort::rt::mutex_starvation_entries();
  std::atomic<bool> got{false};
  std::atomic<bool> hog_started{false};
  gort::Config c;
  c.procs = 1;
  gort::run([&] {
    gort::Mutex mu;
    gort::WaitGroup wg;
    wg.add(2);
    gort::go([&] {
      while (!got.load(std::memory_order_relaxed)) {
        mu.lock();
        hog_started = true;
        gort::yield();
        mu.unlock();
      }
      wg.done();
    });
    gort::go([&] {
      while (!hog_started.load()) gort::yield();  // runs first (runnext): let the hog lock
      mu.lock();
      got = true;
      mu.unlock();
      wg.done();
    });
    wg.wait();
  }, c);
  EXPECT_TRUE(got.load());
  EXPECT_GT(gort::rt::mutex_starvation_entries(), before);
}

// All N readers are inside at once: each waits inside for the others (a WaitGroup barrier),
// which would deadlock if read locks excluded each other.
TEST_P(SyncTest, RWMutexReadersShare) {
  constexpr int kReaders = 8;
  std::atomic<int> inside{0};
  std::atomic<int> max_inside{0};
  gort::run([&] {
    gort::RWMutex rw;
    gort::WaitGroup arrived, done;
    arrived.add(kReaders);
    done.add(kReaders);
    for (int r = 0; r < kReaders; ++r) {
      gort::go([&] {
        std::shared_lock<gort::RWMutex> lock(rw);
        int now = inside.fetch_add(1) + 1;
        int prev = max_inside.load();
        while (prev < now && !max_inside.compare_exchange_weak(prev, now)) {
        }
        arrived.done();
        arrived.wait();  // nobody leaves before everyone is in
        inside.fetch_sub(1);
        lock.unlock();
        done.done();
      });
    }
    done.wait();
  }, config());
  EXPECT_EQ(max_inside.load(), kReaders);
}

TEST_P(SyncTest, RWMutexWritersExclusive) {
  constexpr int kWriters = 4, kReaders = 4;
  const int iters = 5000 / kScale;
  int64_t a = 0, b = 0;  // writers keep a == b; readers must never see them differ
  std::atomic<int> torn{0};
  gort::run([&] {
    gort::RWMutex rw;
    gort::WaitGroup wg;
    wg.add(kWriters + kReaders);
    for (int w = 0; w < kWriters; ++w) {
      gort::go([&, w] {
        for (int i = 0; i < iters; ++i) {
          std::lock_guard<gort::RWMutex> lock(rw);
          ++a;
          if ((i + w) % 61 == 0) gort::yield();
          ++b;
        }
        wg.done();
      });
    }
    for (int r = 0; r < kReaders; ++r) {
      gort::go([&] {
        for (int i = 0; i < iters; ++i) {
          if (i % 2 == 0) {
            std::shared_lock<gort::RWMutex> lock(rw);
            if (a != b) torn.fetch_add(1);
          } else if (rw.try_lock_shared()) {
            if (a != b) torn.fetch_add(1);
            rw.unlock_shared();
          }
        }
        wg.done();
      });
    }
    wg.wait();
  }, config());
  EXPECT_EQ(a, int64_t{kWriters} * iters);
  EXPECT_EQ(b, a);
  EXPECT_EQ(torn.load(), 0);
}

// A writer waiting for a reader blocks new readers; it gets the lock before them.
TEST_P(SyncTest, RWMutexPrefersWaitingWriter) {
  gort::run([&] {
    gort::RWMutex rw;
    std::atomic<int> order{0};
    std::atomic<int> writer_at{-1}, reader_at{-1};
    rw.lock_shared();
    EXPECT_FALSE(rw.try_lock());
    gort::WaitGroup wg;
    wg.add(2);
    gort::go([&] {
      rw.lock();
      writer_at = order.fetch_add(1);
      rw.unlock();
      wg.done();
    });
    // Wait until the writer announced itself: from then on new read locks are refused.
    bool pending = false;
    for (int i = 0; i < 10'000'000 && !pending; ++i) {
      if (rw.try_lock_shared()) {
        rw.unlock_shared();
        gort::yield();
      } else {
        pending = true;
      }
    }
    ASSERT_TRUE(pending);
    gort::go([&] {
      rw.lock_shared();  // must queue behind the writer
      reader_at = order.fetch_add(1);
      rw.unlock_shared();
      wg.done();
    });
    for (int i = 0; i < 100; ++i) gort::yield();
    EXPECT_EQ(writer_at.load(), -1);  // still waiting for our read lock
    rw.unlock_shared();
    wg.wait();
    EXPECT_EQ(writer_at.load(), 0);
    EXPECT_EQ(reader_at.load(), 1);
    EXPECT_TRUE(rw.try_lock());
    rw.unlock();
  }, config());
}

// Bounded queue with notify_one only: a lost signal would hang, a double delivery would break
// the sums.
TEST_P(SyncTest, CondVarProducerConsumer) {
  constexpr int kProducers = 4, kConsumers = 4, kCapacity = 4;
  const int per_producer = 5000 / kScale;
  int64_t consumed_sum = 0, consumed_count = 0;
  gort::run([&] {
    gort::Mutex mu;
    gort::CondVar not_full, not_empty;
    std::deque<int64_t> q;
    gort::WaitGroup producers, consumers;
    producers.add(kProducers);
    consumers.add(kConsumers);
    for (int c = 0; c < kConsumers; ++c) {
      gort::go([&] {
        for (;;) {
          std::unique_lock<gort::Mutex> lock(mu);
          not_empty.wait(lock, [&] { return !q.empty(); });
          int64_t v = q.front();
          q.pop_front();
          not_full.notify_one();
          if (v < 0) break;
          consumed_sum += v;
          ++consumed_count;
        }
        consumers.done();
      });
    }
    for (int p = 0; p < kProducers; ++p) {
      gort::go([&, p] {
        for (int i = 0; i < per_producer; ++i) {
          std::unique_lock<gort::Mutex> lock(mu);
          not_full.wait(lock, [&] { return q.size() < kCapacity; });
          q.push_back(int64_t{p} * per_producer + i + 1);
          not_empty.notify_one();
        }
        producers.done();
      });
    }
    producers.wait();
    for (int c = 0; c < kConsumers; ++c) {
      std::unique_lock<gort::Mutex> lock(mu);
      not_full.wait(lock, [&] { return q.size() < kCapacity; });
      q.push_back(-1);
      not_empty.notify_one();
    }
    consumers.wait();
  }, config());
  const int64_t n = int64_t{kProducers} * per_producer;
  EXPECT_EQ(consumed_count, n);
  EXPECT_EQ(consumed_sum, n * (n + 1) / 2);
}

TEST_P(SyncTest, CondVarNotifyAllWakesEveryWaiter) {
  constexpr int kWaiters = 16;
  std::atomic<int> woke{0};
  gort::run([&] {
    gort::Mutex mu;
    gort::CondVar cv;
    bool go_flag = false;
    int waiting = 0;
    gort::WaitGroup wg;
    wg.add(kWaiters);
    for (int i = 0; i < kWaiters; ++i) {
      gort::go([&] {
        std::unique_lock<gort::Mutex> lock(mu);
        ++waiting;
        cv.wait(lock, [&] { return go_flag; });
        woke.fetch_add(1);
        lock.unlock();  // before done(): once wg.wait() returns, mu goes out of scope
        wg.done();
      });
    }
    for (;;) {
      std::unique_lock<gort::Mutex> lock(mu);
      if (waiting == kWaiters) break;
      lock.unlock();
      gort::yield();
    }
    {
      std::lock_guard<gort::Mutex> lock(mu);
      go_flag = true;
    }
    cv.notify_all();  // one call, no lock held: every earlier waiter must wake
    wg.wait();
  }, config());
  EXPECT_EQ(woke.load(), kWaiters);
}

// Strict ping-pong over one CondVar: each side waits for its turn, notifies and goes back to
// waiting, so every notify races with the other side's registration.
TEST_P(SyncTest, CondVarPingPongLosesNoSignal) {
  const int rounds = 20000 / kScale;
  int turn_count = 0;
  gort::run([&] {
    gort::Mutex mu;
    gort::CondVar cv;
    int turn = 0;
    gort::WaitGroup wg;
    wg.add(2);
    for (int side = 0; side < 2; ++side) {
      gort::go([&, side] {
        for (int i = 0; i < rounds; ++i) {
          std::unique_lock<gort::Mutex> lock(mu);
          cv.wait(lock, [&] { return turn % 2 == side; });
          ++turn;
          ++turn_count;
          cv.notify_one();
        }
        wg.done();
      });
    }
    wg.wait();
  }, config());
  EXPECT_EQ(turn_count, 2 * rounds);
}

TEST_P(SyncTest, OnceRunsExactlyOnce) {
  constexpr int kCallers = 32;
  std::atomic<int> runs{0};
  std::atomic<int> saw_value{0};
  gort::run([&] {
    gort::Once once;
    int value = 0;
    gort::WaitGroup wg;
    wg.add(kCallers);
    for (int i = 0; i < kCallers; ++i) {
      gort::go([&] {
        once.call_once([&] {
          runs.fetch_add(1);
          gort::yield();  // let the others arrive and wait
          value = 42;
        });
        if (value == 42) saw_value.fetch_add(1);  // every caller returns after the run
        wg.done();
      });
    }
    wg.wait();
    EXPECT_TRUE(once.done());
  }, config());
  EXPECT_EQ(runs.load(), 1);
  EXPECT_EQ(saw_value.load(), kCallers);
}

TEST_P(SyncTest, OnceExceptionLeavesItNotDone) {
  gort::run([&] {
    gort::Once once;
    int runs = 0;
    EXPECT_THROW(once.call_once([&] {
      ++runs;
      throw std::runtime_error("first");
    }), std::runtime_error);
    EXPECT_FALSE(once.done());
    gort::call_once(once, [&](int add) { runs += add; }, 10);
    EXPECT_TRUE(once.done());
    once.call_once([&] { runs += 100; });
    EXPECT_EQ(runs, 11);
  }, config());
}

TEST_P(SyncTest, SemaphoreWeightedConservation) {
  constexpr int64_t kCapacity = 10;
  constexpr int kGoroutines = 12;
  const int iters = 3000 / kScale;
  std::atomic<int64_t> in_use{0};
  std::atomic<int> over{0};
  gort::run([&] {
    gort::Semaphore sem(kCapacity);
    gort::WaitGroup wg;
    wg.add(kGoroutines);
    for (int g = 0; g < kGoroutines; ++g) {
      gort::go([&, g] {
        for (int i = 0; i < iters; ++i) {
          int64_t n = 1 + (g + i) % 5;
          sem.acquire(n);
          if (in_use.fetch_add(n) + n > kCapacity) over.fetch_add(1);
          if (i % 7 == 0) gort::yield();
          in_use.fetch_sub(n);
          sem.release(n);
        }
        wg.done();
      });
    }
    wg.wait();
    EXPECT_TRUE(sem.try_acquire(kCapacity));  // everything came back
    sem.release(kCapacity);
  }, config());
  EXPECT_EQ(over.load(), 0);
  EXPECT_EQ(in_use.load(), 0);
}

// Small requests keep cycling; a request for the whole capacity must still get through, since
// once it queues nobody may overtake it.
TEST_P(SyncTest, SemaphoreBigRequestNotStarved) {
  constexpr int kSmall = 6;
  constexpr int64_t kMaxIters = 50'000'000;
  std::atomic<bool> big_done{false};
  std::atomic<int> gave_up{0};
  gort::run([&] {
    gort::Semaphore sem(4);
    gort::WaitGroup wg;
    wg.add(kSmall + 1);
    for (int s = 0; s < kSmall; ++s) {
      gort::go([&] {
        int64_t i = 0;
        for (; i < kMaxIters && !big_done.load(); ++i) {
          sem.acquire(1);
          gort::yield();
          sem.release(1);
        }
        if (i == kMaxIters) gave_up.fetch_add(1);
        wg.done();
      });
    }
    gort::go([&] {
      gort::yield();
      sem.acquire(4);
      big_done = true;
      sem.release(4);
      wg.done();
    });
    wg.wait();
  }, config());
  EXPECT_TRUE(big_done.load());
  EXPECT_EQ(gave_up.load(), 0);
}

TEST_P(SyncTest, SemaphoreTryAcquireAndMisuse) {
  gort::run([&] {
    gort::Semaphore sem(3);
    EXPECT_TRUE(sem.try_acquire(2));
    EXPECT_FALSE(sem.try_acquire(2));
    EXPECT_TRUE(sem.try_acquire(1));
    EXPECT_FALSE(sem.try_acquire(1));
    EXPECT_THROW(sem.acquire(4), std::invalid_argument);
    sem.release(3);
    EXPECT_THROW(sem.release(1), std::logic_error);
    // A queued request blocks try_acquire even when the units would fit.
    sem.acquire(2);
    std::atomic<bool> big_in{false};
    gort::WaitGroup wg;
    wg.add(1);
    gort::go([&] {
      sem.acquire(3);
      big_in = true;
      sem.release(3);
      wg.done();
    });
    bool queued_blocks = false;
    for (int i = 0; i < 10'000'000 && !queued_blocks; ++i) {
      if (sem.try_acquire(1)) {
        sem.release(1);
        gort::yield();  // the big request may not have queued yet
      } else {
        queued_blocks = true;
      }
    }
    EXPECT_TRUE(queued_blocks);
    EXPECT_FALSE(big_in.load());
    sem.release(2);
    wg.wait();
    EXPECT_TRUE(big_in.load());
  }, config());
}

// A Mutex shared by a plain std::thread (parks on its futex) and goroutines.
TEST_P(SyncTest, MutexSharedWithForeignThread) {
  const int iters = 20000 / kScale;
  constexpr int kGoroutines = 4;
  int64_t counter = 0;
  gort::run([&] {
    gort::Mutex mu;
    gort::CondVar cv;
    bool thread_done = false;
    std::thread t([&] {
      for (int i = 0; i < iters; ++i) {
        std::lock_guard<gort::Mutex> lock(mu);
        ++counter;
      }
      std::lock_guard<gort::Mutex> lock(mu);
      thread_done = true;
      cv.notify_all();
    });
    gort::WaitGroup wg;
    wg.add(kGoroutines);
    for (int g = 0; g < kGoroutines; ++g) {
      gort::go([&] {
        for (int i = 0; i < iters; ++i) {
          std::lock_guard<gort::Mutex> lock(mu);
          ++counter;
          if (i % 50 == 0) gort::yield();
        }
        wg.done();
      });
    }
    {
      std::unique_lock<gort::Mutex> lock(mu);
      cv.wait(lock, [&] { return thread_done; });  // a goroutine woken by a plain thread
    }
    wg.wait();
    gort::blocking([&] { t.join(); });
  }, config());
  EXPECT_EQ(counter, int64_t{kGoroutines + 1} * iters);
}

// Thousands of waiters on distinct WaitGroups, dozens per semaphore bucket: each release wakes
// the waiter of that address and no other, in any order, and waiters that share a bucket with a
// released one stay parked. (The bucket keeps one queue per address; see runtime/sema.cpp.)
TEST_P(SyncTest, ReleasesWakeOnlyTheirOwnAddressAmongManyInABucket) {
  const int n = 5000 / gort::test::kScale;
  std::vector<int> woken_order;
  gort::run([&] {
    std::vector<gort::WaitGroup> gates(n);
    gort::Chan<int> woken(n);
    gort::WaitGroup started;
    started.add(n);
    for (int i = 0; i < n; ++i) {
      gates[i].add(1);
      gort::go([&, i] {
        started.done();
        gates[i].wait();
        woken.send(i);
      });
    }
    started.wait();
    // Release in a scrambled order (7919 is prime, coprime with n's factors 2 and 5).
    for (int k = 0; k < n; ++k) {
      int i = static_cast<int>((static_cast<int64_t>(k) * 7919) % n);
      gates[i].done();
      woken_order.push_back(woken.recv().value());  // the one released, before anyone else
      EXPECT_FALSE(woken.try_recv().has_value()) << "a waiter woke without its release";
    }
  }, config());
  ASSERT_EQ(static_cast<int>(woken_order.size()), n);
  for (int k = 0; k < n; ++k) {
    ASSERT_EQ(woken_order[k], static_cast<int>((static_cast<int64_t>(k) * 7919) % n)) << k;
  }
}

INSTANTIATE_TEST_SUITE_P(Procs, SyncTest, ::testing::Values(1, 2, 4), gort::test::procs_name);

// No runtime at all: every primitive falls back to parking threads.
TEST(SyncThreads, PrimitivesWorkBetweenPlainThreads) {
  constexpr int kThreads = 4;
  const int iters = 20000 / kScale;
  gort::Mutex mu;
  gort::RWMutex rw;
  gort::CondVar cv;
  gort::Once once;
  gort::Semaphore sem(2);
  int64_t counter = 0, rw_counter = 0;
  int once_runs = 0, finished = 0;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      once.call_once([&] { ++once_runs; });
      for (int i = 0; i < iters; ++i) {
        {
          std::lock_guard<gort::Mutex> lock(mu);
          ++counter;
        }
        if (i % 4 == 0) {
          std::lock_guard<gort::RWMutex> lock(rw);
          ++rw_counter;
        } else {
          std::shared_lock<gort::RWMutex> lock(rw);
          (void)rw_counter;
        }
        sem.acquire(1);
        sem.release(1);
      }
      std::lock_guard<gort::Mutex> lock(mu);
      ++finished;
      cv.notify_all();
    });
  }
  {
    std::unique_lock<gort::Mutex> lock(mu);
    cv.wait(lock, [&] { return finished == kThreads; });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(counter, int64_t{kThreads} * iters);
  EXPECT_EQ(rw_counter, int64_t{kThreads} * ((iters + 3) / 4));
  EXPECT_EQ(once_runs, 1);
}

// A Semaphore outliving the run: requests of goroutines abandoned there (their stacks freed)
// leave its queue, and whoever waited behind them and now fits (a plain thread) gets its units.
TEST(SyncSemaphore, OutlivingTheRunForgetsAbandonedRequests) {
  gort::Semaphore sem(2);
  std::thread plain;
  std::atomic<bool> plain_got{false};
  gort::run([&] {
    sem.acquire(1);
    // One P: a goroutine that said it is about to acquire runs on until it has parked there.
    std::atomic<int> entered{0};
    gort::go([&] {
      entered.store(1);
      sem.acquire(2);  // heads the queue: one unit is held
    });
    while (entered.load() != 1) gort::yield();
    gort::go([&] {
      entered.store(2);
      sem.acquire(1);  // behind it (FIFO), although one unit is free
    });
    while (entered.load() != 2) gort::yield();
    plain = std::thread([&] {
      sem.acquire(1);  // queued behind both, on a thread nobody abandons
      plain_got.store(true);
    });
    // Not a timing assertion: only makes it likely the thread queued before the run ends.
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }, gort::Config{.procs = 1});
  plain.join();  // the abandoned head left: the thread's unit fits
  EXPECT_TRUE(plain_got.load());
  EXPECT_FALSE(sem.try_acquire(1));  // main's unit and the thread's are held
  sem.release(2);
  EXPECT_TRUE(sem.try_acquire(2));  // no abandoned request took them
  sem.release(2);
}

// WaitGroup misuse is an exception that names it, never a silently wrong count: the counter is
// 32 bits, so a delta that does not fit would otherwise wrap (5e9 counted as 705,032,704).
TEST(SyncWaitGroup, MisuseThrowsAndNamesTheMistake) {
  using gort::test::what_of;
  gort::WaitGroup negative;
  EXPECT_NE(what_of([&] { negative.done(); }).find("negative counter"), std::string::npos);

  gort::WaitGroup huge;
  EXPECT_THROW(huge.add(int64_t{5'000'000'000}), std::out_of_range);
  EXPECT_THROW(huge.add(-int64_t{5'000'000'000}), std::out_of_range);
  huge.wait();  // nothing was added: returns at once

  gort::WaitGroup full;
  full.add(INT32_MAX);
  EXPECT_NE(what_of([&] { full.add(1); }).find("overflow"), std::string::npos);
}

TEST(SyncMutexDeathTest, UnlockOfUnlockedMutexIsFatal) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        gort::Mutex mu;
        mu.unlock();
      },
      "sync: unlock of unlocked mutex");
  EXPECT_DEATH(
      {
        gort::RWMutex rw;
        rw.unlock_shared();
      },
      "sync: RUnlock of unlocked RWMutex");
}

// The report names who made the mistake: the goroutine and where it was created, or the plain
// thread, and the frames that led there, symbolized.
TEST(SyncMutexDeathTest, UnlockOfUnlockedMutexNamesTheCaller) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        gort::run([] {
          gort::go([] {
            gort::Mutex mu;
            mu.unlock();
          });
          gort::sleep_for(std::chrono::seconds(10));
        }, gort::Config{.procs = 1});
      },
      "sync: unlock of unlocked mutex.*goroutine [0-9]+ \\[running\\]:.*created at "
      ".*sync_test.cpp.*#0 .*gort::Mutex::unlock");
  EXPECT_DEATH(
      {
        gort::RWMutex rw;
        rw.unlock();
      },
      "sync: Unlock of unlocked RWMutex.*on a thread outside the runtime's goroutines:.*"
      "#0 .*gort::RWMutex::unlock");
}

}  // namespace
