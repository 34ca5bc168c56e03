// Death tests: failures a user can cause must end with a clear message, not a bare signal.
#include <stdexcept>

#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "gort/chan.hpp"
#include "gort/gort.hpp"

namespace {

class CrashTest : public ::testing::Test {
 protected:
  void SetUp() override { GTEST_FLAG_SET(death_test_style, "threadsafe"); }
};

__attribute__((noinline)) int recurse(volatile char* prev, int depth) {
  volatile char frame[512];
  frame[0] = static_cast<char>(depth);
  if (prev) frame[1] = prev[0];
  return recurse(frame, depth + 1) + frame[0];
}

TEST_F(CrashTest, StackOverflowNamesTheGoroutineAndItsCreationSite) {
  EXPECT_DEATH(
      {
        gort::run([] {
          gort::WaitGroup wg;
          wg.add(1);
          gort::go([&] {
            recurse(nullptr, 0);
            wg.done();
          });
          wg.wait();
        }, gort::Config{.procs = 2});
      },
      "goroutine [0-9]+ stack overflow \\(reserved 256 KiB\\), created at .*crash_test.cpp:[0-9]+");
}

TEST_F(CrashTest, StackOverflowReportsTheCustomReservation) {
  EXPECT_DEATH(
      {
        gort::run([] {
          gort::WaitGroup wg;
          wg.add(1);
          gort::go(gort::SpawnOptions{.stack_size = 64 << 10}, [&] {
            recurse(nullptr, 0);
            wg.done();
          });
          wg.wait();
        }, gort::Config{.procs = 1});
      },
      "stack overflow \\(reserved 64 KiB\\)");
}

// Recurses until `bytes` of stack below `top` are used, filling each frame completely (a canary
// only catches writes that land on it).
__attribute__((noinline)) int use_stack(const char* top, size_t bytes) {
  volatile char frame[512];
  for (int i = 0; i < 512; ++i) frame[i] = static_cast<char>(i);
  const char* here = static_cast<const char*>(__builtin_frame_address(0));
  if (static_cast<size_t>(top - here) >= bytes) return frame[0];
  return use_stack(top, bytes) + frame[1];
}

TEST_F(CrashTest, CanaryModeReportsAnOverflowAtTheNextSwitch) {
  // Without guard pages (forced here; the fallback on kernels without MADV_GUARD_INSTALL once
  // the mprotect budget is spent) a goroutine that overran its stack and returned is caught
  // when it next switches out.
  EXPECT_DEATH(
      {
        setenv("GORT_STACK_GUARD", "canary", 1);
        gort::run([] {
          gort::WaitGroup wg;
          wg.add(1);
          gort::go(gort::SpawnOptions{.stack_size = 64 << 10}, [&] {
            // ~66 KiB of frames on a 64 KiB stack: past the canary, not past the (unprotected)
            // guard page below it.
            use_stack(static_cast<const char*>(__builtin_frame_address(0)), 65 << 10);
            gort::yield();
            wg.done();
          });
          wg.wait();
        }, gort::Config{.procs = 1});
      },
      "goroutine [0-9]+ stack overflow \\(reserved 64 KiB\\), created at .*crash_test.cpp:[0-9]+.*"
      "stack canary clobbered");
}

TEST_F(CrashTest, EscapedExceptionNamesGoroutineSiteAndWhat) {
  EXPECT_DEATH(
      {
        gort::run([] {
          gort::WaitGroup wg;
          wg.add(1);
          gort::go([&] { throw std::runtime_error("disk on fire"); });
          wg.wait();
        }, gort::Config{.procs = 1});
      },
      "goroutine [0-9]+ terminated by an uncaught exception of type std::runtime_error: disk on "
      "fire\n  goroutine [0-9]+ was created at .*crash_test.cpp:[0-9]+");
}

TEST_F(CrashTest, NonStdExceptionIsStillReported) {
  EXPECT_DEATH(
      {
        gort::run([] {
          gort::WaitGroup wg;
          wg.add(1);
          gort::go([&] { throw 42; });
          wg.wait();
        }, gort::Config{.procs = 2});
      },
      "uncaught exception of type int");
}

TEST_F(CrashTest, DeadlockIsReportedWithEveryParkedGoroutine) {
  EXPECT_DEATH(
      {
        gort::run([] {
          gort::Chan<int> never;
          gort::go([never]() mutable { never.send(1); });  // nobody ever receives
          gort::WaitGroup wg;
          wg.add(1);
          wg.wait();  // nobody ever calls done()
        }, gort::Config{.procs = 2});
      },
      "all goroutines are asleep - deadlock!(.|\n)*goroutine 1 \\[WaitGroup.wait[^]]*\\](.|\n)*"
      "goroutine [0-9]+ \\[chan send[^]]*\\]:\n  created at .*crash_test.cpp:[0-9]+[^\n]*\n"
      "  #0 0x[0-9a-f]+ [^\n]+");
}

TEST_F(CrashTest, SleepingOrBlockingGoroutinesAreNotADeadlock) {
  // Everything else is parked, but one goroutine sleeps on a timer and then another sits in a
  // blocking call: neither state may be reported as a deadlock.
  int got = 0;
  gort::run([&] {
    gort::Chan<int> ch;
    gort::go([ch]() mutable {
      gort::sleep_for(std::chrono::milliseconds(30));
      gort::blocking([] { std::this_thread::sleep_for(std::chrono::milliseconds(30)); });
      ch.send(5);
    });
    got = *ch.recv();
  }, gort::Config{.procs = 2});
  EXPECT_EQ(got, 5);
}

TEST_F(CrashTest, NegativeWaitGroupCounterThrowsInsideTheGoroutine) {
  bool caught = false;
  gort::run([&] {
    gort::WaitGroup wg;
    try {
      wg.done();
    } catch (const std::logic_error&) {
      caught = true;
    }
  }, gort::Config{.procs = 1});
  EXPECT_TRUE(caught);
}

}  // namespace
