// Timers: sleeping goroutines, gort::Timer (after_func), the runtime's Timer stop/reset protocol,
// timers on an idle runtime and from foreign threads. Behaviour only: lower bounds on wake-up
// times ("not before the deadline") are checked, upper bounds never.
#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <optional>
#include <random>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "gort/gort.hpp"
#include "gort/net.hpp"
#include "tests/support/activity.hpp"
#include "runtime/sched.hpp"
#include "runtime/timer.hpp"
#include "tests/support/procs.hpp"

namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;
using gort::test::kScale;

class TimerProcs : public gort::test::ProcsTest {};
INSTANTIATE_TEST_SUITE_P(Procs, TimerProcs, ::testing::Values(1, 2, 4), gort::test::procs_name);

TEST_P(TimerProcs, SleepsNeverWakeEarly) {
  const int kG = 2000 / kScale;
  std::atomic<int> early{0}, done{0};
  gort::run([&] {
    gort::WaitGroup wg;
    wg.add(kG);
    for (int i = 0; i < kG; ++i) {
      gort::go([&, i] {
        std::mt19937 rng(i);
        for (int k = 0; k < 3; ++k) {
          // Half sub-millisecond, half up to 20 ms; every 4th uses sleep_until.
          auto d = (rng() & 1) ? std::chrono::microseconds(rng() % 1000)
                               : std::chrono::microseconds(1000 + rng() % 19000);
          auto deadline = Clock::now() + d;
          if (k == 1 && i % 4 == 0) gort::sleep_until(deadline);
          else gort::sleep_for(d);
          if (Clock::now() < deadline) early.fetch_add(1);
        }
        done.fetch_add(1);
        wg.done();
      });
    }
    wg.wait();
  }, config());
  EXPECT_EQ(early.load(), 0);
  EXPECT_EQ(done.load(), kG);
}

TEST(Timers, MillionSleepersAllWakeAfterTheirDeadline) {
  constexpr int kN = gort::test::kMillion;
  std::atomic<int> early{0}, woke{0};
  gort::run([&] {
    gort::WaitGroup wg;
    wg.add(kN);
    for (int i = 0; i < kN; ++i) {
      gort::go([&, i] {
        uint32_t x = static_cast<uint32_t>(i) * 2654435761u;
        auto deadline = Clock::now() + std::chrono::microseconds(x % 1000000);
        gort::sleep_until(deadline);
        if (Clock::now() < deadline) early.fetch_add(1, std::memory_order_relaxed);
        woke.fetch_add(1, std::memory_order_relaxed);
        wg.done();
      });
    }
    wg.wait();
  }, gort::Config{.procs = 2});
  EXPECT_EQ(woke.load(), kN);
  EXPECT_EQ(early.load(), 0);
}

// The runtime primitive: stop racing with the fire on another thread. fn runs at most once and
// timer_stop's result says whether it will: true means it never runs, false means it already
// ran completely (timer_stop waits for a running fn).
struct Shot {
  gort::rt::Timer t;
  std::atomic<int> fired{0};
};

void count_fire(void* arg, uint64_t) {
  auto* s = static_cast<Shot*>(arg);
  s->fired.fetch_add(1, std::memory_order_relaxed);
}

TEST_P(TimerProcs, StopRacesWithFire) {
  const int kRounds = 4000 / kScale;
  std::atomic<int> bad{0}, stopped{0}, ran{0};
  gort::run([&] {
    gort::WaitGroup wg;
    wg.add(kRounds);
    for (int i = 0; i < kRounds; ++i) {
      auto* s = new Shot;
      s->t.fn = count_fire;
      s->t.arg = s;
      s->t.when_ns = gort::rt::now_ns() + (i % 50) * 1000;
      gort::rt::timer_start(&s->t);
      gort::go([&, s, i] {
        if (i % 3 == 0) gort::yield();
        if (i % 5 == 0) gort::sleep_for(std::chrono::microseconds(i % 40));
        bool was = gort::rt::timer_stop(&s->t);
        int f = s->fired.load();
        if (was ? f != 0 : f != 1) bad.fetch_add(1);
        (was ? stopped : ran).fetch_add(1);
        // After stop returned the runtime holds no reference: reuse and free at once.
        gort::sleep_for(100us);
        if (s->fired.load() != f) bad.fetch_add(1);
        delete s;
        wg.done();
      });
    }
    wg.wait();
  }, config());
  EXPECT_EQ(bad.load(), 0) << "stopped " << stopped.load() << " ran " << ran.load();
  EXPECT_EQ(stopped.load() + ran.load(), kRounds);
}

TEST_P(TimerProcs, ResetMovesTheDeadlineAndFiresOnce) {
  const int kN = 500 / kScale;
  std::atomic<int> bad{0};
  gort::run([&] {
    gort::WaitGroup wg;
    wg.add(kN);
    for (int i = 0; i < kN; ++i) {
      gort::go([&, i] {
        Shot s;
        s.t.fn = count_fire;
        s.t.arg = &s;
        s.t.when_ns = gort::rt::now_ns() + 3'600'000'000'000;
        gort::rt::timer_start(&s.t);
        gort::rt::timer_reset(&s.t, gort::rt::now_ns() + 7'200'000'000'000);  // cannot have fired
        // Re-arm it a few times (mark + re-arm, no search). Whenever a stop finds it already
        // fired, that arming counts as one expected fire; the last arming fires once more.
        int expected = 1;
        int64_t last = 0;
        for (int k = 0; k < 5; ++k) {
          last = gort::rt::now_ns() + 1'000'000 + (i % 7) * 100'000;
          if (!gort::rt::timer_stop(&s.t)) ++expected;
          s.t.when_ns = last;
          gort::rt::timer_start(&s.t);
          if (k == 2) gort::yield();
        }
        while (gort::rt::now_ns() < last) gort::sleep_for(200us);
        // No upper bound is checked: wait for the final fire.
        for (int w = 0; w < 10000 && s.fired.load() < expected; ++w) gort::sleep_for(1ms);
        if (s.fired.load() != expected) bad.fetch_add(1);
        if (gort::rt::timer_stop(&s.t)) bad.fetch_add(1);
        wg.done();
      });
    }
    wg.wait();
  }, config());
  EXPECT_EQ(bad.load(), 0);
}

TEST_P(TimerProcs, AfterFuncRunsAsAGoroutine) {
  std::atomic<uint64_t> id{0};
  std::atomic<bool> early{true};
  gort::run([&] {
    gort::WaitGroup wg;
    wg.add(1);
    auto start = Clock::now();
    auto t = gort::Timer::after_func(3ms, [&] {
      early = Clock::now() < start + 3ms;
      id = gort::goroutine_id();
      gort::sleep_for(1ms);  // a goroutine may park
      wg.done();
    });
    wg.wait();
    EXPECT_FALSE(t.stop());  // it fired
    EXPECT_FALSE(t.reset(1h) && false);
  }, config());
  EXPECT_NE(id.load(), 0u);
  EXPECT_FALSE(early.load());
}

TEST_P(TimerProcs, StoppedAfterFuncNeverRuns) {
  std::atomic<int> ran{0};
  gort::run([&] {
    auto t = gort::Timer::after_func(20ms, [&] { ran.fetch_add(1); });
    EXPECT_TRUE(t.stop());
    EXPECT_FALSE(t.stop());
    auto u = gort::Timer::after_func(1h, [&] { ran.fetch_add(1); });
    EXPECT_TRUE(u.reset(2ms));  // pulled in: fires soon
    gort::sleep_for(30ms);
    for (int i = 0; i < 5000 && ran.load() == 0; ++i) gort::sleep_for(1ms);
  }, config());
  EXPECT_EQ(ran.load(), 1);
}

TEST_P(TimerProcs, TimersFireOnAnIdleRuntime) {
  // Nobody else runs: the main goroutine's own sleep, then an after_func while it waits.
  bool early = true;
  std::atomic<int> fired{0};
  gort::run([&] {
    for (std::chrono::microseconds d : {50us, 700us, 5000us, 30000us}) {
      auto deadline = Clock::now() + d;
      gort::sleep_for(d);
      early = Clock::now() < deadline;
      if (early) return;
    }
    gort::WaitGroup wg;
    wg.add(1);
    auto t = gort::Timer::after_func(10ms, [&] {
      fired.fetch_add(1);
      wg.done();
    });
    wg.wait();
  }, config());
  EXPECT_FALSE(early);
  EXPECT_EQ(fired.load(), 1);
}

TEST_P(TimerProcs, ATimerArmedByAForeignThreadFires) {
  std::atomic<int> fired{0};
  std::atomic<bool> thread_slept_enough{false};
  gort::run([&] {
    gort::WaitGroup wg;
    wg.add(1);
    std::thread th([&] {
      auto t0 = Clock::now();
      gort::sleep_for(2ms);  // a plain thread just sleeps
      thread_slept_enough = Clock::now() >= t0 + 2ms;
      auto t = gort::Timer::after_func(5ms, [&] {
        fired.fetch_add(1);
        wg.done();
      });
      // Keep the Timer alive until it fired (destroying it would stop it).
      while (fired.load() == 0) std::this_thread::sleep_for(1ms);
    });
    wg.wait();
    gort::blocking([&] { th.join(); });
  }, config());
  EXPECT_EQ(fired.load(), 1);
  EXPECT_TRUE(thread_slept_enough.load());
}

TEST_P(TimerProcs, TimersFireWhileEveryProcessorIsBusy) {
  // Every P runs a goroutine that only yields (or only calls preempt_point) until a sleeper and
  // an after_func have fired: their timers must be run at those scheduling points.
  std::atomic<int> fired{0};
  gort::run([&] {
    const int procs = GetParam();
    gort::WaitGroup wg;
    wg.add(procs);
    for (int i = 0; i < procs; ++i) {
      gort::go([&, i] {
        if (i % 2 == 0) {
          while (fired.load() < 2) gort::yield();
        } else {
          while (fired.load() < 2) gort::preempt_point();
        }
        wg.done();
      });
    }
    gort::go([&] {
      gort::sleep_for(2ms);
      fired.fetch_add(1);
    });
    auto t = gort::Timer::after_func(3ms, [&] { fired.fetch_add(1); });
    wg.wait();
  }, config());
  EXPECT_EQ(fired.load(), 2);
}

TEST_P(TimerProcs, AfterSendsOnceOnItsChannel) {
  bool early = true;
  size_t len_after = 99;
  gort::run([&] {
    auto start = Clock::now();
    auto ch = gort::after(2ms);
    auto v = ch.recv();
    early = !v.has_value() || Clock::now() < start + 2ms || *v < start + 2ms;
    gort::sleep_for(2ms);
    len_after = ch.len();
  }, config());
  EXPECT_FALSE(early);
  EXPECT_EQ(len_after, 0u);
}

TEST_P(TimerProcs, TickerTicksAndDropsForSlowReceivers) {
  int ticks = 0;
  bool monotonic = true;
  size_t len_after_stop = 99;
  gort::run([&] {
    gort::Ticker t(1ms);
    Clock::time_point prev{};
    for (int i = 0; i < 5; ++i) {
      auto v = t.c().recv();
      if (!v || *v <= prev) monotonic = false;
      prev = v ? *v : prev;
      ++ticks;
    }
    gort::sleep_for(10ms);  // slow receiver: at most one tick waits (capacity 1)
    EXPECT_LE(t.c().len(), 1u);
    t.stop();
    (void)t.c().try_recv();  // drain the one that may be buffered
    gort::sleep_for(5ms);
    len_after_stop = t.c().len();  // nothing sent after stop()
  }, config());
  EXPECT_EQ(ticks, 5);
  EXPECT_TRUE(monotonic);
  EXPECT_EQ(len_after_stop, 0u);
}

// "Forever" is often written hours::max() or a thousand years; chrono's own conversion to
// nanoseconds overflows there (undefined; it gave deadlines in the past or a few hours out).
// Every conversion clamps (detail/duration.hpp): such a timer never fires, such a socket
// deadline is none. UBSan (the ASan+UBSan build) flags any overflow left on these paths.
TEST(Timers, DurationsPastTheNanosecondRangeMeanNever) {
  using gort::detail::chan_deadline_after;
  using gort::detail::chan_deadline_at;
  using gort::detail::deadline_after;
  constexpr auto kThousandYears = std::chrono::hours(24 * 365 * 1000);
  EXPECT_EQ(deadline_after(std::chrono::hours::max()), INT64_MAX - 1);
  EXPECT_EQ(deadline_after(kThousandYears), INT64_MAX - 1);
  EXPECT_EQ(chan_deadline_after(std::chrono::hours::max()), gort::detail::kNoDeadline - 1);
  EXPECT_EQ(chan_deadline_at(std::chrono::time_point<Clock, std::chrono::hours>::max()),
            gort::detail::kNoDeadline - 1);
  EXPECT_TRUE(gort::net::Deadline::after(std::chrono::hours::max()).is_none());
  EXPECT_TRUE(gort::net::Deadline::after(kThousandYears).is_none());
  EXPECT_TRUE(gort::net::Deadline::at(std::chrono::time_point<Clock, std::chrono::hours>::max())
                  .is_none());
  // Ordinary values are exact (rounded up to whole ns), and the past stays the past.
  const auto ns_now = [] {
    return std::chrono::nanoseconds(Clock::now().time_since_epoch()).count();
  };
  int64_t before = ns_now();
  int64_t d = deadline_after(1500ms);
  int64_t after = ns_now();
  EXPECT_GE(d, before + 1'500'000'000);
  EXPECT_LE(d, after + 1'500'000'000);
  before = ns_now();
  d = deadline_after(std::chrono::duration<double>(0.25));
  EXPECT_GE(d, before + 250'000'000);
  EXPECT_LE(d, ns_now() + 250'000'000);
  before = ns_now();
  d = deadline_after(-std::chrono::hours::max());
  EXPECT_GE(d, before);
  EXPECT_LE(d, ns_now());
  EXPECT_FALSE(gort::net::Deadline::after(5s).is_none());
  const int64_t past = gort::net::Deadline::after(-kThousandYears).nanos();
  EXPECT_LE(past, ns_now());

  std::atomic<bool> slept_through{false}, fired{false};
  std::optional<int> got;
  gort::run([&] {
    gort::go([&] {
      gort::sleep_for(std::chrono::hours::max());
      slept_through = true;
    });
    auto timer = gort::Timer::after_func(kThousandYears, [&] { fired = true; });
    gort::Ticker ticker(std::chrono::hours::max());
    auto late = gort::after(std::chrono::hours::max());
    gort::Chan<int> ch;
    gort::go([ch]() mutable {
      gort::sleep_for(10ms);
      ch.send(7);
    });
    got = ch.recv_for(std::chrono::hours::max());  // waits for the send, no instant timeout
    gort::sleep_for(10ms);
    EXPECT_FALSE(ticker.c().try_recv().has_value());
    EXPECT_FALSE(late.try_recv().has_value());
  }, gort::Config{.procs = 2});
  EXPECT_FALSE(slept_through.load());
  EXPECT_FALSE(fired.load());
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(*got, 7);
}

// Dropped timers never fire. One with an on_drop hook (a timer nobody owns: gort::after's)
// has it called exactly once, so its state is freed; the ASan build's leak check covers the
// after() below (its state leaked before the hook).
TEST(Timers, PendingTimersAreDroppedAtShutdown) {
  std::atomic<int> ran{0};
  auto* s = new Shot;
  auto* orphan = new Shot;
  static std::atomic<int> dropped{0};
  dropped = 0;
  gort::Timer keep;
  gort::run([&] {
    s->t.fn = count_fire;
    s->t.arg = s;
    s->t.when_ns = gort::rt::now_ns() + 3'600'000'000'000;
    gort::rt::timer_start(&s->t);
    orphan->t.fn = count_fire;
    orphan->t.on_drop = [](void* arg) {
      dropped.fetch_add(1);
      delete static_cast<Shot*>(arg);
    };
    orphan->t.arg = orphan;
    orphan->t.when_ns = gort::rt::now_ns() + 3'600'000'000'000;
    gort::rt::timer_start(&orphan->t);
    keep = gort::Timer::after_func(1h, [&] { ran.fetch_add(1); });
    auto never = gort::after(1h);
  });
  EXPECT_FALSE(gort::rt::timer_stop(&s->t));  // dropped: nothing to stop
  EXPECT_FALSE(keep.stop());
  EXPECT_EQ(s->fired.load(), 0);
  EXPECT_EQ(ran.load(), 0);
  EXPECT_EQ(dropped.load(), 1);
  delete s;
}

TEST(Idle, SleepingGoroutinesDoNotKeepTheRuntimeBusy) {
  uint64_t activity = 0;
  const int kSleepers = 1000 / kScale;
  gort::run([&] {
    gort::WaitGroup wg;
    wg.add(kSleepers + 1);
    for (int i = 0; i < kSleepers; ++i) {
      gort::go([&, i] {
        gort::sleep_for(std::chrono::milliseconds(700 + i % 100));
        wg.done();
      });
    }
    gort::go([&] {  // one goroutine ticking every 20 ms
      for (int i = 0; i < 35; ++i) gort::sleep_for(20ms);
      wg.done();
    });
    gort::blocking([&] {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      const uint64_t before = gort::test::scheduler_activity();
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
      activity = gort::test::scheduler_activity() - before;
    });
    wg.wait();
  }, gort::Config{.procs = 4});
  // About 25 ticks in the stretch, each a wake-up, a steal round or two and a park, plus
  // sysmon's rounds; a thread that spun would add thousands (12 k with sysmon held at 20 µs).
  std::printf("scheduler activity over 500 ms of sleepers: %llu\n",
              static_cast<unsigned long long>(activity));
  EXPECT_LT(activity, 2500u) << "threads kept waking while every goroutine slept";
}

}  // namespace
