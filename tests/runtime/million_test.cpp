// A million goroutines alive at once, all parked, with the default vm.max_map_count.
#include <atomic>
#include <fstream>
#include <string>

#include <gtest/gtest.h>

#include "gort/gort.hpp"
#include "tests/support/procs.hpp"

namespace {

size_t count_mappings() {
  std::ifstream maps("/proc/self/maps");
  size_t n = 0;
  std::string line;
  while (std::getline(maps, line)) ++n;
  return n;
}

TEST(Million, OneMillionParkedGoroutines) {
  constexpr int kN = gort::test::kMillion;
  std::atomic<int> finished{0};
  int64_t peak = 0;
  size_t maps_at_peak = 0;
  const size_t maps_before = count_mappings();
  gort::run([&] {
    gort::WaitGroup release, started, done;
    release.add(1);
    started.add(kN);
    done.add(kN);
    for (int i = 0; i < kN; ++i) {
      gort::go([&] {
        started.done();
        release.wait();  // parked here, on its own stack
        finished.fetch_add(1, std::memory_order_relaxed);
        done.done();
      });
    }
    started.wait();
    peak = gort::num_goroutines();
    maps_at_peak = count_mappings();
    release.done();
    done.wait();
  }, gort::Config{.procs = 2});
  EXPECT_EQ(peak, kN + 1);
  EXPECT_EQ(finished.load(), kN);
#if !defined(GORT_TSAN)  // TSan maps memory of its own for every fiber
  EXPECT_LT(maps_at_peak - maps_before, 2000u) << "stacks must not cost a mapping each";
#else
  (void)maps_before;
#endif
}

}  // namespace
