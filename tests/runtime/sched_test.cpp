// Scheduler behaviour: everything spawned runs exactly once, work spreads across processors,
// fairness, yields, processor counts, goroutine ids, spawning from foreign threads.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "gort/gort.hpp"
#include "netpoll/netpoll.hpp"
#include "runtime/config.hpp"
#include "runtime/machine.hpp"
#include "runtime/sched.hpp"
#include "runtime/stack.hpp"
#include "tests/support/procs.hpp"

namespace {

// pthread_self() is declared const, so the compiler may reuse its value across a yield;
// an opaque call reads the thread we are on now.
__attribute__((noipa)) std::thread::id this_thread_now() { return std::this_thread::get_id(); }

using gort::test::ProcsTest;
using gort::test::kScale;
using namespace std::chrono_literals;

// A goroutine queued on a busy processor without waking anyone (as a thread queues the
// completions it reaped from its own io_uring) must still reach the idle processor: sysmon
// starts a thread for work that waited a whole round. The queuing goroutine then computes
// without one preemption point until the queued one has run, so nothing else can run it.
TEST(Sched, WorkQueuedWithoutAWakeUpReachesAnIdleProcessor) {
  gort::Config c;
  c.procs = 2;
  gort::run([] {
    namespace rt = gort::rt;
    std::atomic<rt::G*> parked{nullptr};
    std::atomic<bool> ran{false};
    gort::WaitGroup wg;
    wg.add(1);
    gort::go([&] {
      rt::netpoll::waiter_added();  // counted like a goroutine parked on an fd
      rt::G* self = rt::current_m()->curg;
      self->set_status(rt::GStatus::kRunning, rt::GStatus::kWaiting);
      rt::park_nolock([](rt::G* g, void* arg) {
        static_cast<std::atomic<rt::G*>*>(arg)->store(g, std::memory_order_release);
      }, &parked);
      ran.store(true);
      wg.done();
    });
    while (parked.load(std::memory_order_acquire) == nullptr) gort::sleep_for(1ms);
    gort::sleep_for(50ms);
    // Every other thread has stopped spinning and sleeps by now.
    auto until = std::chrono::steady_clock::now() + 20ms;
    while (std::chrono::steady_clock::now() < until) {
    }
    const uint64_t wakes_before = gort::stats().waiting_work_wakes;
    rt::inject_glist(parked.load(), /*wake=*/false);  // counts it out as an fd waiter
    until = std::chrono::steady_clock::now() + 20s;
    while (!ran.load() && std::chrono::steady_clock::now() < until) {
    }
    ASSERT_TRUE(ran.load()) << "the queued goroutine never ran beside a busy one";
    EXPECT_GT(gort::stats().waiting_work_wakes, wakes_before) << gort::stats().to_string();
    wg.wait();
  }, c);
}

// A goroutine readied into runnext wakes nobody while sysmon watches the runnext slots
// (make_runnable's lazy wake-up): its readier usually blocks next and runs it itself, as in the
// ping-pong that turns the watch on here. When the readier computes on instead, without one
// preemption point, sysmon must start a thread that takes the goroutine from runnext.
// Retried: a thread still spinning from earlier (or, on a loaded machine, a thief that found the
// readier's thread descheduled) may take it first, which proves nothing about sysmon's part; if
// that happens every time, the sysmon path is reported as not exercised (skipped).
TEST(Sched, GoroutineReadiedIntoRunnextReachesAnIdleProcessor) {
  gort::Config c;
  c.procs = 2;
  gort::run([] {
    int woken_by_sysmon = 0;
    for (int attempt = 0; attempt < 20 && woken_by_sysmon == 0; ++attempt) {
      gort::Chan<int> ping, pong;
      std::atomic<bool> ran{false};
      gort::WaitGroup wg;
      wg.add(1);
      gort::go([&] {
        while (auto v = ping.recv()) {
          if (*v < 0) {
            ran.store(true);
            break;
          }
          pong.send(*v);
        }
        wg.done();
      });
      // Long enough for sysmon to see a runnext in use (its rounds reach 10 ms when idle).
      const auto warm_until = std::chrono::steady_clock::now() + 30ms;
      for (int i = 0; std::chrono::steady_clock::now() < warm_until; ++i) {
        ping.send(i);
        ASSERT_EQ(pong.recv(), i);
      }
      // A fresh time slice: a runtime call honours a pending preemption request (the round
      // trips above share one slice), and the hand-off below must not yield to the partner.
      gort::yield();
      const uint64_t wakes_before = gort::stats().waiting_work_wakes;
      ping.send(-1);  // hands the value over: the partner goes to our runnext
      const auto until = std::chrono::steady_clock::now() + 20s;
      while (!ran.load() && std::chrono::steady_clock::now() < until) {
      }
      ASSERT_TRUE(ran.load()) << "the readied goroutine never ran beside its busy readier";
      if (gort::stats().waiting_work_wakes > wakes_before) ++woken_by_sysmon;
      wg.wait();
    }
    if (woken_by_sysmon == 0) {
      GTEST_SKIP() << "every hand-off was taken by a spinning thread; sysmon's wake-up was not "
                      "exercised\n"
                   << gort::stats().to_string();
    }
  }, c);
}

// Completions an M reaps from its own ring (inject_own) while older goroutines wait in the
// global queue run after those, not ahead of them: reaping every 61st tick into the local
// queue kept refilling it and starved the global queue. One proc, so the order is exact.
TEST(Sched, ReapedCompletionsRunBehindOlderGlobalWork) {
  gort::Config c;
  c.procs = 1;
  gort::run([] {
    namespace rt = gort::rt;
    constexpr int kEach = 8;
    std::vector<std::atomic<rt::G*>> parked(2 * kEach);
    std::vector<int> order;
    gort::WaitGroup wg;
    wg.add(2 * kEach);
    for (int i = 0; i < 2 * kEach; ++i) {
      gort::go([&, i] {
        rt::netpoll::waiter_added();  // counted like a goroutine parked on an fd
        rt::G* self = rt::current_m()->curg;
        self->set_status(rt::GStatus::kRunning, rt::GStatus::kWaiting);
        rt::park_nolock([](rt::G* g, void* arg) {
          static_cast<std::atomic<rt::G*>*>(arg)->store(g, std::memory_order_release);
        }, &parked[i]);
        order.push_back(i);
        wg.done();
      });
    }
    for (auto& p : parked) {
      while (p.load(std::memory_order_acquire) == nullptr) gort::yield();
    }
    // The first half waits in the global queue (as overflow or another thread's wake-ups
    // leave it), in order.
    for (int i = 0; i < kEach; ++i) {
      rt::G* g = parked[i].load();
      g->set_status(rt::GStatus::kWaiting, rt::GStatus::kRunnable);
      rt::sched->runq.push(g);
      rt::netpoll::waiter_removed();
    }
    // The second half completes later, reaped by this M.
    for (int i = kEach; i < 2 * kEach; ++i) {
      parked[i].load()->sched_next = i + 1 < 2 * kEach ? parked[i + 1].load() : nullptr;
    }
    rt::inject_own(parked[kEach].load());
    wg.wait();
    std::vector<int> want(2 * kEach);
    for (int i = 0; i < 2 * kEach; ++i) want[i] = i;
    EXPECT_EQ(order, want);
  }, c);
}

TEST_P(ProcsTest, RunReturnsMainResult) {
  EXPECT_EQ(gort::run([] { return 42; }, config()), 42);
  int ran = 0;
  EXPECT_EQ(gort::run([&] { ran = gort::procs(); }, config()), 0);
  EXPECT_EQ(ran, GetParam());
}

TEST_P(ProcsTest, EverySpawnRunsExactlyOnce) {
  constexpr int kN = 200000 / kScale;
  std::vector<std::atomic<int>> hits(kN);
  gort::run([&] {
    gort::WaitGroup wg;
    wg.add(kN);
    for (int i = 0; i < kN; ++i) {
      gort::go([&, i] {
        hits[i].fetch_add(1, std::memory_order_relaxed);
        wg.done();
      });
    }
    wg.wait();
    // The last goroutines may still be between done() and their exit: let them finish. Their
    // thread may be descheduled by the OS meanwhile (more procs than CPUs), so the bound is
    // generous time, not a count of yields (1M yields took 30 ms and once were not enough).
    const auto until = std::chrono::steady_clock::now() + 20s;
    while (gort::num_goroutines() > 1 && std::chrono::steady_clock::now() < until) {
      gort::yield();
      gort::sleep_for(100us);
    }
    EXPECT_EQ(gort::num_goroutines(), 1);
  }, config());
  for (int i = 0; i < kN; ++i) ASSERT_EQ(hits[i].load(), 1) << i;
}

// Descriptors cycle through per-P free lists and the global batch list (goroutine.cpp): a
// thread outside the runtime takes one descriptor from a batch and puts the rest back, a P
// takes whole batches and spills half its list when it grows. Spawning from two plain threads
// and from goroutines at once, over rounds that recycle every descriptor many times, each spawn
// must run exactly once: a descriptor handed out twice would lose or repeat a closure.
TEST_P(ProcsTest, RecycledDescriptorsRunEverySpawnOnceFromThreadsAndGoroutines) {
  // Sanitizer builds: TSan spends ~2 ms per spawn from a plain thread; 2 rounds there.
  constexpr int kRounds = 20 / kScale > 2 ? 20 / kScale : 2;
  constexpr int kPerSpawner = 4000 / kScale;
  constexpr int kSpawners = 4;  // two plain threads, two goroutines
  std::vector<std::atomic<int>> hits(static_cast<size_t>(kRounds) * kSpawners * kPerSpawner);
  gort::run([&] {
    for (int round = 0; round < kRounds; ++round) {
      gort::WaitGroup wg;
      wg.add(kSpawners * kPerSpawner);
      auto spawn_all = [&, round](int spawner) {
        const size_t base = (static_cast<size_t>(round) * kSpawners + spawner) * kPerSpawner;
        for (int i = 0; i < kPerSpawner; ++i) {
          gort::go([&hits, &wg, at = base + i] {
            hits[at].fetch_add(1, std::memory_order_relaxed);
            wg.done();
          });
        }
      };
      std::thread t0(spawn_all, 0);
      std::thread t1(spawn_all, 1);
      gort::go([&] { spawn_all(2); });
      gort::go([&] { spawn_all(3); });
      wg.wait();
      t0.join();
      t1.join();
    }
  }, config());
  for (size_t i = 0; i < hits.size(); ++i) ASSERT_EQ(hits[i].load(), 1) << i;
}

TEST_P(ProcsTest, NestedSpawnTree) {
  // A 10-ary tree of depth 4 (11,111 goroutines) built from inside goroutines; sums conserve.
  std::atomic<int64_t> leaves{0};
  std::function<int64_t(int, int64_t)> node = [&](int depth, int64_t base) -> int64_t {
    if (depth == 0) {
      leaves.fetch_add(1, std::memory_order_relaxed);
      return base;
    }
    int64_t results[10] = {};
    gort::WaitGroup wg;
    wg.add(10);
    for (int i = 0; i < 10; ++i) {
      gort::go([&, i] {
        results[i] = node(depth - 1, base * 10 + i);
        wg.done();
      });
    }
    wg.wait();
    int64_t sum = 0;
    for (int64_t r : results) sum += r;
    return sum;
  };
  int64_t total = 0;
  gort::run([&] { total = node(4, 0); }, config());
  EXPECT_EQ(leaves.load(), 10000);
  EXPECT_EQ(total, 9999 * 10000 / 2);  // sum of 0..9999
}

TEST_P(ProcsTest, YieldingGoroutinesAllProgress) {
  constexpr int kG = 8, kRounds = 2000 / kScale;
  std::atomic<int> done{0};
  gort::run([&] {
    gort::WaitGroup wg;
    wg.add(kG);
    for (int g = 0; g < kG; ++g) {
      gort::go([&] {
        for (int i = 0; i < kRounds; ++i) gort::yield();
        done.fetch_add(1);
        wg.done();
      });
    }
    wg.wait();
  }, config());
  EXPECT_EQ(done.load(), kG);
}

TEST_P(ProcsTest, GoroutineIdsAreUniqueAndMainIsOne) {
  constexpr int kN = 5000;
  std::vector<uint64_t> ids(kN);
  uint64_t main_id = 0;
  gort::run([&] {
    main_id = gort::goroutine_id();
    gort::WaitGroup wg;
    wg.add(kN);
    for (int i = 0; i < kN; ++i) {
      uint64_t spawned = gort::go([&, i] {
        ids[i] = gort::goroutine_id();
        wg.done();
      });
      EXPECT_NE(spawned, 0u);
    }
    wg.wait();
  }, config());
  EXPECT_EQ(main_id, 1u);
  std::set<uint64_t> unique(ids.begin(), ids.end());
  EXPECT_EQ(unique.size(), static_cast<size_t>(kN));
  EXPECT_EQ(unique.count(0), 0u);
  EXPECT_EQ(unique.count(1), 0u);
}

TEST_P(ProcsTest, SpawnFromForeignThreadRuns) {
  std::atomic<int> ran{0};
  gort::run([&] {
    gort::WaitGroup wg;
    wg.add(100);
    std::thread t([&] {
      EXPECT_FALSE(gort::in_goroutine());
      for (int i = 0; i < 100; ++i) {
        gort::go([&] {
          ran.fetch_add(1);
          wg.done();
        });
      }
    });
    wg.wait();
    t.join();
  }, config());
  EXPECT_EQ(ran.load(), 100);
}

TEST_P(ProcsTest, WaitGroupFromForeignThreadBlocksThatThread) {
  std::atomic<int> ran{0};
  gort::run([&] {
    gort::WaitGroup wg;
    wg.add(50);
    for (int i = 0; i < 50; ++i) {
      gort::go([&] {
        gort::yield();
        ran.fetch_add(1);
        wg.done();
      });
    }
    std::thread t([&] { wg.wait(); });
    // The main goroutine must not block its thread here: join from a blocking section.
    gort::blocking([&] { t.join(); });
  }, config());
  EXPECT_EQ(ran.load(), 50);
}

TEST_P(ProcsTest, LargeClosuresAndMoveOnlyCaptures) {
  std::atomic<int64_t> sum{0};
  gort::run([&] {
    gort::WaitGroup wg;
    wg.add(100);
    for (int i = 0; i < 100; ++i) {
      std::array<int64_t, 64> big{};  // 512 bytes: forces the heap closure path
      big[63] = i;
      auto owned = std::make_unique<int>(i);
      gort::go([&, big, owned = std::move(owned)] {
        sum.fetch_add(big[63] + *owned);
        wg.done();
      });
    }
    wg.wait();
  }, config());
  EXPECT_EQ(sum.load(), 2 * 4950);
}

TEST_P(ProcsTest, PerGoroutineStackSize) {
  std::atomic<int> ok{0};
  gort::run([&] {
    gort::WaitGroup wg;
    wg.add(2);
    gort::go(gort::SpawnOptions{.stack_size = 4 << 20}, [&] {
      // Uses 2 MiB of stack: more than the default reservation.
      volatile char buf[2 << 20];
      buf[0] = 1;
      buf[sizeof buf - 1] = 1;
      ok.fetch_add(buf[0] + buf[sizeof buf - 1] == 2);
      wg.done();
    });
    gort::go(gort::SpawnOptions{.stack_size = 32 << 10}, [&] {
      ok.fetch_add(1);
      wg.done();
    });
    wg.wait();
  }, config());
  EXPECT_EQ(ok.load(), 2);
}

TEST_P(ProcsTest, GoroutinesParkInsideCatchBlocksIndependently) {
  // Goroutines interleave inside their catch handlers (parking there, possibly resuming on other
  // threads); each must still see its own exception and end its own handler.
  constexpr int kG = 64;
  std::atomic<int> right{0};
  gort::run([&] {
    gort::WaitGroup wg;
    wg.add(kG);
    for (int i = 0; i < kG; ++i) {
      gort::go([&, i] {
        try {
          throw std::runtime_error(std::to_string(i));
        } catch (const std::runtime_error& e) {
          for (int k = 0; k < 5; ++k) gort::yield();
          gort::WaitGroup inner;
          inner.add(1);
          gort::go([&] {
            try {
              throw 1;
            } catch (int) {
              gort::yield();
            }
            inner.done();
          });
          inner.wait();
          if (std::uncaught_exceptions() == 0 && e.what() == std::to_string(i)) {
            try {
              throw;  // rethrows *this* goroutine's current exception
            } catch (const std::runtime_error& again) {
              if (again.what() == std::to_string(i)) right.fetch_add(1);
            }
          }
        }
        wg.done();
      });
    }
    wg.wait();
  }, config());
  EXPECT_EQ(right.load(), kG);
}

INSTANTIATE_TEST_SUITE_P(Procs, ProcsTest, ::testing::Values(1, 2, 4), gort::test::procs_name);

TEST(Scheduler, StealingSpreadsWorkAcrossProcessors) {
  // All goroutines are spawned by one goroutine on one P; with 2 procs the other P must steal
  // (or pull from the global queue) some of them. Each does enough work to make that certain.
  gort::SchedulerStats st;
  std::atomic<uint64_t> sink{0};
  gort::run([&] {
    gort::WaitGroup wg;
    constexpr int kN = 2000;
    wg.add(kN);
    for (int i = 0; i < kN; ++i) {
      gort::go([&] {
        uint64_t x = 0;
        for (int k = 0; k < 20000; ++k) x += k * k;
        sink.fetch_add(x, std::memory_order_relaxed);
        wg.done();
      });
    }
    wg.wait();
    st = gort::stats();
  }, gort::Config{.procs = 2});
  ASSERT_EQ(st.processors.size(), 2u);
  EXPECT_GT(st.processors[0].runs, 0u);
  EXPECT_GT(st.processors[1].runs, 0u) << st.to_string();
  uint64_t moved = 0;
  for (auto& p : st.processors) {
    moved += p.steals + p.global_pulls;
    EXPECT_GE(p.steal_rounds, p.steals) << st.to_string();  // every steal is one round's success
  }
  EXPECT_GT(moved, 0u) << st.to_string();
}

uint64_t total_migrations(const gort::SchedulerStats& st) {
  uint64_t n = 0;
  for (const auto& p : st.processors) n += p.migrations;
  return n;
}

TEST(Scheduler, MigrationsCountResumptionsOnAnotherProcessor) {
  // One P: goroutines that start, park and resume in every way never change processors (and a
  // first run is no migration).
  gort::SchedulerStats one;
  gort::run([&] {
    gort::Chan<int> ping, pong;
    gort::WaitGroup wg;
    wg.add(2);
    gort::go([&] {
      for (int i = 0; i < 100; ++i) pong.send(*ping.recv());
      wg.done();
    });
    gort::go([&] {
      for (int i = 0; i < 100; ++i) gort::yield();
      wg.done();
    });
    for (int i = 0; i < 100; ++i) {
      ping.send(i);
      (void)pong.recv();
    }
    wg.wait();
    one = gort::stats();
  }, gort::Config{.procs = 1});
  EXPECT_EQ(total_migrations(one), 0u) << one.to_string();
  EXPECT_NE(one.to_string().find("migrations=0"), std::string::npos) << one.to_string();

  // Two Ps, and every yield moves the goroutine to another thread (the debug mode). The thread
  // it left keeps its P until it finds nothing, so the goroutine resumes on the other P; only
  // a third thread that took over the P it left meanwhile could run it there again.
  gort::SchedulerStats two;
  gort::run([&] {
    gort::WaitGroup wg;
    wg.add(1);
    gort::go([&] {
      for (int i = 0; i < 100; ++i) gort::yield();
      wg.done();
    });
    wg.wait();
    two = gort::stats();
  }, gort::Config{.procs = 2, .migrate_on_yield = true});
  uint64_t runs = 0;
  for (const auto& p : two.processors) runs += p.runs;
  EXPECT_GE(total_migrations(two), 50u) << two.to_string();
  EXPECT_LE(total_migrations(two), runs) << two.to_string();
}

TEST(Scheduler, CountsTheTimesAProcessorFoundNothingToRun) {
  // One P, one goroutine that sleeps: each sleep leaves the P with nothing to run, so the P is
  // given back (and its thread waits for the timer) once per sleep.
  gort::SchedulerStats st;
  gort::run([&] {
    for (int i = 0; i < 3; ++i) gort::sleep_for(std::chrono::milliseconds(2));
    st = gort::stats();
  }, gort::Config{.procs = 1});
  ASSERT_EQ(st.processors.size(), 1u);
  EXPECT_GE(st.processors[0].idles, 3u) << st.to_string();
  EXPECT_NE(st.to_string().find("idles="), std::string::npos);
}

TEST(Scheduler, YieldingGoroutineDoesNotStarveGlobalQueueOrNewGoroutines) {
  // One P. A goroutine yields forever until flagged; goroutines pushed to the global queue from
  // a foreign thread, and goroutines it spawns itself, must still run.
  std::atomic<bool> stop{false};
  std::atomic<int> foreign_ran{0}, local_ran{0};
  gort::run([&] {
    gort::WaitGroup spinner_done;
    spinner_done.add(1);
    gort::go([&] {
      for (int i = 0; i < 10; ++i) {
        gort::go([&] { local_ran.fetch_add(1); });
      }
      while (!stop.load()) gort::yield();
      spinner_done.done();
    });
    std::thread t([&] {
      for (int i = 0; i < 10; ++i) gort::go([&] { foreign_ran.fetch_add(1); });
    });
    gort::blocking([&] { t.join(); });
    while (foreign_ran.load() < 10 || local_ran.load() < 10) gort::yield();
    stop.store(true);
    spinner_done.wait();
  }, gort::Config{.procs = 1});
  EXPECT_EQ(foreign_ran.load(), 10);
  EXPECT_EQ(local_ran.load(), 10);
}

TEST(Scheduler, SysmonPreemptsACpuBoundLoopAtPreemptPoints) {
  // One P. A goroutine spins on a flag calling only preempt_point(); the goroutine that sets the
  // flag can only run if sysmon asks the spinner to yield (after ~10 ms). Without preemption
  // this test hangs (and ctest's timeout fails it).
  std::atomic<bool> flag{false};
  gort::SchedulerStats st;
  gort::run([&] {
    gort::WaitGroup wg;
    wg.add(2);
    gort::go([&] {
      // The setter is queued behind us on our only P; we never block or yield.
      gort::go([&] {
        flag.store(true);
        wg.done();
      });
      while (!flag.load(std::memory_order_relaxed)) gort::preempt_point();
      wg.done();
    });
    wg.wait();
    st = gort::stats();
  }, gort::Config{.procs = 1});
  EXPECT_TRUE(flag.load());
  EXPECT_GE(st.preempt_requests, 1u) << st.to_string();
}

// Goroutine ids start again with every run: ctest runs each test in a process of its own, so
// only two runs in one test show that the main goroutine is 1 in the second too.
TEST(Scheduler, EveryRunsMainGoroutineIsOne) {
  for (int run = 0; run < 2; ++run) {
    uint64_t main_id = 0;
    std::vector<uint64_t> ids(64);
    gort::run([&] {
      main_id = gort::goroutine_id();
      gort::WaitGroup wg;
      wg.add(static_cast<int64_t>(ids.size()));
      for (auto& id : ids) {
        gort::go([&] {
          id = gort::goroutine_id();
          wg.done();
        });
      }
      wg.wait();
    }, gort::Config{.procs = 2});
    EXPECT_EQ(main_id, 1u) << "run " << run;
    std::set<uint64_t> unique(ids.begin(), ids.end());
    EXPECT_EQ(unique.size(), ids.size()) << "run " << run;
    EXPECT_EQ(unique.count(1), 0u) << "run " << run;
  }
}

TEST(Scheduler, GoOutsideRuntimeThrows) {
  EXPECT_THROW(gort::go([] {}), std::logic_error);
  EXPECT_EQ(gort::procs(), 0);
  EXPECT_FALSE(gort::in_goroutine());
}

TEST(Scheduler, NestedRunThrows) {
  gort::run([] { EXPECT_THROW(gort::run([] {}), std::logic_error); }, gort::Config{.procs = 1});
}

TEST(Scheduler, BadProcsInConfigIsAClearError) {
  for (int bad : {-3, 4097}) {
    try {
      gort::run([] {}, gort::Config{.procs = bad});
      FAIL() << "expected std::invalid_argument for procs = " << bad;
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find("Config::procs = " + std::to_string(bad)),
                std::string::npos) << e.what();
    }
  }
}

TEST(Scheduler, BadEnvironmentIsAClearError) {
  setenv("GORT_PROCS", "zero", 1);
  try {
    gort::run([] {});
    FAIL() << "expected std::invalid_argument";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("GORT_PROCS"), std::string::npos);
  }
  unsetenv("GORT_PROCS");
  setenv("GORT_PROCS", "3", 1);
  int procs = 0;
  gort::run([&] { procs = gort::procs(); });
  EXPECT_EQ(procs, 3);
  unsetenv("GORT_PROCS");
  setenv("GORT_URING_READS", "sometimes", 1);
  try {
    gort::run([] {}, gort::Config{.procs = 1});
    FAIL() << "expected std::invalid_argument";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("GORT_URING_READS=sometimes (known: ring, readiness)"),
              std::string::npos) << e.what();
  }
  unsetenv("GORT_URING_READS");
}

// The message gort::run throws with, or "" when it does not throw std::invalid_argument.
std::string RunError(const gort::Config& config = gort::Config{.procs = 1}) {
  try {
    gort::run([] {}, config);
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "";
}

TEST(Scheduler, DebugPeriodsOutOfRangeAreClearErrors) {
  using std::chrono::milliseconds;
  // Negative, past one day, and the value whose ms * 1'000'000 wrapped int64 to 0.45 ms.
  for (const char* bad : {"schedtrace=-5", "schedtrace=86400001", "schedtrace=18446744073710",
                          "hogreport=-1", "hogreport=18446744073710"}) {
    setenv("GORT_DEBUG", bad, 1);
    EXPECT_NE(RunError().find(std::string("GORT_DEBUG=") + bad + " is not in [0, 86400000] ms"),
              std::string::npos) << bad;
  }
  unsetenv("GORT_DEBUG");
  EXPECT_NE(RunError(gort::Config{.procs = 1, .schedtrace = milliseconds(-1)})
                .find("Config::schedtrace = -1 is not in [0, 86400000] ms"),
            std::string::npos);
  EXPECT_NE(RunError(gort::Config{.procs = 1, .hog_report = milliseconds(18446744073710)})
                .find("Config::hog_report = 18446744073710 is not in"),
            std::string::npos);
  setenv("GORT_DEBUG", "schedtrace=0,hogreport=86400000", 1);  // the bounds themselves are fine
  EXPECT_EQ(RunError(), "");
  unsetenv("GORT_DEBUG");
}

TEST(Scheduler, DebugMigrateIsZeroOrOne) {
  for (const char* bad : {"migrate=2", "migrate=-1"}) {
    setenv("GORT_DEBUG", bad, 1);
    EXPECT_NE(RunError().find(std::string("GORT_DEBUG item '") + bad + "': migrate is 0 or 1"),
              std::string::npos) << bad;
  }
  setenv("GORT_DEBUG", "migrate=0", 1);
  EXPECT_EQ(RunError(), "");
  unsetenv("GORT_DEBUG");
}

TEST(Scheduler, DebugPeriodsBecomeNanosecondsWithoutOverflow) {
  using std::chrono::milliseconds;
  EXPECT_EQ(gort::rt::saturating_ns(milliseconds(86400000)), int64_t{86400000} * 1000000);
  EXPECT_EQ(gort::rt::saturating_ns(milliseconds(18446744073710)), INT64_MAX);
  EXPECT_EQ(gort::rt::saturating_ns(milliseconds(INT64_MAX)), INT64_MAX);
  EXPECT_EQ(gort::rt::saturating_ns(milliseconds(INT64_MIN)), INT64_MIN);
}

TEST(Scheduler, UnknownStackGuardModeIsAClearError) {
  // Only unknown values here: a valid one would fix this process's guard mode for every test.
  for (const char* bad : {"guard", "MPROTECT", "canary ", "none"}) {
    setenv("GORT_STACK_GUARD", bad, 1);
    EXPECT_NE(RunError().find(std::string("GORT_STACK_GUARD=") + bad +
                              " (known: mprotect, canary)"),
              std::string::npos) << bad;
  }
  setenv("GORT_STACK_GUARD", "", 1);  // empty is unset, as for every GORT_ variable
  EXPECT_EQ(RunError(), "");
  unsetenv("GORT_STACK_GUARD");
}

TEST(SchedulerDeathTest, UnknownStackGuardModeIsAnErrorWhenStacksComeFirst) {
  // Code that reaches the stack system before any gort::run still gets the error, not the best
  // mode. A fresh process: this one's guard mode is long chosen.
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        setenv("GORT_STACK_GUARD", "guard", 1);
        try {
          gort::rt::stack_system_init(0);
        } catch (const std::invalid_argument& e) {
          std::fprintf(stderr, "%s\n", e.what());
          std::_Exit(3);
        }
        std::_Exit(0);
      },
      testing::ExitedWithCode(3), "GORT_STACK_GUARD=guard \\(known: mprotect, canary\\)");
}

TEST(Scheduler, MigrateOnYieldMovesGoroutinesBetweenThreads) {
  // The debug mode that CI uses to flush out thread-local caching bugs: with 2 procs a
  // yielding goroutine must end up on another OS thread, and the runtime's own per-thread
  // state must follow it (goroutine_id stays right).
  std::atomic<int> moves{0};
  std::atomic<int> id_mismatches{0};
  gort::Config cfg{.procs = 2, .migrate_on_yield = true};
  gort::run([&] {
    gort::WaitGroup wg;
    wg.add(4);
    for (int g = 0; g < 4; ++g) {
      gort::go([&] {
        uint64_t me = gort::goroutine_id();
        std::thread::id last = this_thread_now();
        for (int i = 0; i < 200; ++i) {
          gort::yield();
          if (this_thread_now() != last) moves.fetch_add(1);
          last = this_thread_now();
          if (gort::goroutine_id() != me) id_mismatches.fetch_add(1);
        }
        wg.done();
      });
    }
    wg.wait();
  }, cfg);
  EXPECT_EQ(id_mismatches.load(), 0);
  EXPECT_GT(moves.load(), 100);  // most yields migrate (some may land on the same M)
}

}  // namespace
