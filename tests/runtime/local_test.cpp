// Goroutine-local storage and thread pinning.
#include <atomic>
#include <new>
#include <string>
#include <thread>
#include <vector>

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

// Room for a GoroutineLocal of any T that can be destroyed and built again at one address, as a
// reused stack slot or heap block would be (what the allocator does is not left to chance).
struct LocalStorage {
  alignas(gort::GoroutineLocal<int>) unsigned char bytes[sizeof(gort::GoroutineLocal<int>)];
  template <class T>
  gort::GoroutineLocal<T>* make() {
    static_assert(sizeof(gort::GoroutineLocal<T>) == sizeof bytes);
    return new (bytes) gort::GoroutineLocal<T>;
  }
};

// A goroutine stores a value in `first`, then reads `second()` once the main goroutine has
// destroyed `first` and built the other local at its address. `first`'s value is still held by
// that goroutine (its list is its own), so a new local must not be able to find it.
template <class Old, class New, class Store, class Read>
void ReadAfterReplacement(Store store, Read read) {
  gort::run([&] {
    LocalStorage storage;
    gort::GoroutineLocal<Old>* first = storage.make<Old>();
    gort::GoroutineLocal<New>* second = nullptr;
    gort::Chan<int> stored(1), replaced(1), finished(1);
    gort::go([&] {
      store(first->get());
      stored.send(1);
      replaced.recv();
      read(second->get());
      finished.send(1);
    });
    stored.recv();
    first->~GoroutineLocal();
    second = storage.make<New>();
    replaced.send(1);
    finished.recv();
    second->~GoroutineLocal();
  }, gort::Config{.procs = 2});
}

TEST(GoroutineLocal, ANewLocalAtADestroyedOnesAddressStartsFresh) {
  const int live_before = Counted::live.load();
  int seen = -1;
  ReadAfterReplacement<Counted, Counted>([](Counted& c) { c.value = 12345; },
                                         [&](Counted& c) { seen = c.value; });
  EXPECT_EQ(seen, 0);
  // The destroyed local's value went with its goroutine, the new one's too.
  EXPECT_EQ(Counted::live.load(), live_before);
}

TEST(GoroutineLocal, ANewLocalOfAnotherTypeNeverSeesTheOldValue) {
  size_t seen = 12345;
  ReadAfterReplacement<std::string, std::vector<int>>(
      [](std::string& s) { s = "a string too long for the small-string buffer"; },
      [&](std::vector<int>& v) { seen = v.size(); });
  EXPECT_EQ(seen, 0u);
}

TEST(GoroutineLocal, DestroyingALocalReleasesTheDestroyingGoroutinesValue) {
  // Short-lived locals in one long-lived goroutine must not pile up until it ends.
  const int live_before = Counted::live.load();
  int live_inside = -1;
  gort::run([&] {
    for (int i = 0; i < 1000; ++i) {
      gort::GoroutineLocal<Counted> local;
      local->value = i;
    }
    live_inside = Counted::live.load();
  }, gort::Config{.procs = 1});
  EXPECT_EQ(live_inside, live_before);
}

// A value whose destructor uses a goroutine-local of its own while its slot is being removed.
gort::GoroutineLocal<Counted> g_touched_in_destructor;
struct TouchesALocal {
  ~TouchesALocal() { g_touched_in_destructor->value = 1; }
};

TEST(GoroutineLocal, AValueDestroyedWithItsLocalMayUseOtherLocals) {
  const int live_before = Counted::live.load();
  int touched = 0;
  gort::run([&] {
    {
      gort::GoroutineLocal<TouchesALocal> local;
      local.get();
    }
    touched = g_touched_in_destructor->value;
  }, gort::Config{.procs = 1});
  EXPECT_EQ(touched, 1);
  EXPECT_EQ(Counted::live.load(), live_before);  // the slot it added was kept, then destroyed
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
