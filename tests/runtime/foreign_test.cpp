// Plain threads (no runtime thread of their own) using the runtime while `gort::run` returns on
// another thread: a spawn either runs or is refused with logic_error, stats() and dumps read a
// live runtime or report none, and nothing touches freed scheduler memory (ASan in CI).
#include <atomic>
#include <chrono>
#include <stdexcept>
#include <thread>

#include <gtest/gtest.h>

#include "gort/gort.hpp"
#include "tests/support/procs.hpp"

namespace {

TEST(ForeignThreads, SpawnAndStatsRaceWithRunReturning) {
  const int rounds = 40 / gort::test::kScale;
  for (int round = 0; round < rounds; ++round) {
    std::atomic<bool> stop{false};
    std::atomic<bool> run_over{false};
    std::atomic<int64_t> spawned{0}, ran{0}, refused_after{0};
    std::atomic<int64_t> stats_after_with_procs{0};

    std::thread spawner([&] {
      while (!stop.load()) {
        const bool over = run_over.load();
        try {
          gort::go([&ran] { ran.fetch_add(1); });
          spawned.fetch_add(1);
          EXPECT_FALSE(over) << "a spawn after run returned was accepted";
        } catch (const std::logic_error&) {
          if (over) refused_after.fetch_add(1);
        }
      }
    });
    std::thread monitor([&] {
      while (!stop.load()) {
        const bool over = run_over.load();
        gort::SchedulerStats st = gort::stats();
        (void)gort::num_goroutines();
        if (over && (st.procs != 0 || gort::procs() != 0)) stats_after_with_procs.fetch_add(1);
      }
    });

    gort::run([] { gort::sleep_for(std::chrono::microseconds(200)); },
              gort::Config{.procs = 2});
    run_over.store(true);
    // Let both threads work against the ended runtime for a moment.
    while (refused_after.load() == 0) std::this_thread::yield();
    stop.store(true);
    spawner.join();
    monitor.join();
    EXPECT_LE(ran.load(), spawned.load());
    EXPECT_EQ(stats_after_with_procs.load(), 0);
  }
}

}  // namespace
