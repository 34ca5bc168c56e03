// Goroutine-local storage and thread pinning.
#include <atomic>
#include <thread>

#include <gtest/gtest.h>

#include "gort/gort.hpp"

namespace {

__attribute__((noipa)) std::thread::id this_thread_now() { return std::this_thread::get_id(); }

struct Counted {
  static inline std::atomic<int> live{0};
  int value = 0;
  Counted() { live.fetch_add(1); }
  ~Counted() { live.fetch_sub(1); }
};

TEST(GoroutineLocal, EachGoroutineHasItsOwnValueDestroyedAtExit) {
  static gort::GoroutineLocal<Counted> local;
  std::atomic<int> wrong{0};
  gort::run([&] {
    gort::WaitGroup wg;
    constexpr int kN = 200;
    wg.add(kN);
    for (int i = 0; i < kN; ++i) {
      gort::go([&, i] {
        local->value = i;
        for (int k = 0; k < 20; ++k) {
          gort::yield();
          if (local->value != i) wrong.fetch_add(1);
        }
        wg.done();
      });
    }
    wg.wait();
  }, gort::Config{.procs = 2, .migrate_on_yield = true});
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_EQ(Counted::live.load(), 0);
}

TEST(GoroutineLocal, OutsideAGoroutineThrows) {
  gort::GoroutineLocal<int> local;
  EXPECT_THROW(local.get(), std::logic_error);
}

TEST(ThreadPin, PinnedGoroutineStaysOnItsThreadAcrossYieldsAndWaits) {
  std::atomic<int> moved{0};
  std::atomic<int> others{0};
  gort::run([&] {
    gort::WaitGroup wg;
    wg.add(1);
    gort::go([&] {
      gort::ThreadPin pin;
      std::thread::id home = this_thread_now();
      for (int i = 0; i < 50; ++i) {
        gort::yield();
        if (this_thread_now() != home) moved.fetch_add(1);
        gort::WaitGroup inner;
        inner.add(1);
        gort::go([&] {
          others.fetch_add(1);
          inner.done();
        });
        inner.wait();  // parks: the pinned goroutine must come back to its own thread
        if (this_thread_now() != home) moved.fetch_add(1);
      }
      wg.done();
    });
    wg.wait();
  }, gort::Config{.procs = 2, .migrate_on_yield = true});
  EXPECT_EQ(moved.load(), 0);
  EXPECT_EQ(others.load(), 50);
}

TEST(ThreadPin, OutsideAGoroutineThrows) {
  EXPECT_THROW(gort::ThreadPin pin, std::logic_error);
}

}  // namespace
