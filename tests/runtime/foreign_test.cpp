// Plain threads (no runtime thread of their own) using the runtime while `gort::run` returns on
// another thread: a spawn either runs or is refused with logic_error, stats() and dumps read a
// live runtime or report none, timers are armed or refused and always stop and free, and nothing
// touches freed scheduler memory (ASan in CI).
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

// Timers made on a plain thread live in the runtime's shared heap; deleting one while `run`
// drops that heap must neither race with the drop nor leave the drop a freed timer to touch.
TEST(ForeignThreads, TimersRaceWithRunReturning) {
  const int rounds = 40 / gort::test::kScale;
  for (int round = 0; round < rounds; ++round) {
    std::atomic<bool> stop{false};
    std::atomic<bool> run_over{false};
    std::atomic<int64_t> armed{0}, refused_after{0}, fired{0}, accepted_after{0};

    std::thread user([&] {
      while (!stop.load()) {
        const bool over = run_over.load();
        try {
          // Far deadlines: they are pending, in a heap, whenever run ends.
          gort::Ticker ticker(std::chrono::hours(1));
          gort::Timer timer =
              gort::Timer::after_func(std::chrono::hours(1), [&fired] { fired.fetch_add(1); });
          gort::Chan<std::chrono::steady_clock::time_point> once =
              gort::after(std::chrono::hours(1));
          armed.fetch_add(1);
          if (over) accepted_after.fetch_add(1);
          std::this_thread::yield();  // give run's end a chance to come in between
          (void)timer.stop();
          (void)timer.reset(std::chrono::hours(2));
        } catch (const std::logic_error&) {
          if (over) refused_after.fetch_add(1);
        }
        // Ticker, Timer and the channel go here: stopped and freed, runtime or not.
      }
    });

    gort::run([] { gort::sleep_for(std::chrono::microseconds(200)); },
              gort::Config{.procs = 2});
    run_over.store(true);
    while (refused_after.load() == 0) std::this_thread::yield();
    stop.store(true);
    user.join();
    EXPECT_EQ(accepted_after.load(), 0);
    EXPECT_EQ(fired.load(), 0);
  }
}

}  // namespace
