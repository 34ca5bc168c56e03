// Scheduler micro benchmarks (Google Benchmark): yield between goroutines, spawn+join, and a
// steal-heavy fan-out. Each benchmark runs its loop inside one gort::run.
#include <atomic>

#include <benchmark/benchmark.h>

#include "gort/gort.hpp"

namespace {

// Two goroutines on one P yielding to each other: one yield = one switch to the other.
void BM_YieldPingPong(benchmark::State& state) {
  const int procs = static_cast<int>(state.range(0));
  gort::run([&] {
    std::atomic<bool> stop{false};
    gort::WaitGroup wg;
    wg.add(1);
    gort::go([&] {
      while (!stop.load(std::memory_order_relaxed)) gort::yield();
      wg.done();
    });
    for (auto _ : state) gort::yield();
    stop.store(true);
    wg.wait();
  }, gort::Config{.procs = procs});
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_YieldPingPong)->Arg(1)->Arg(2)->UseRealTime();

// Spawn a trivial goroutine and wait for it: full create, schedule, run, exit cycle.
void BM_SpawnJoin(benchmark::State& state) {
  const int procs = static_cast<int>(state.range(0));
  gort::run([&] {
    for (auto _ : state) {
      gort::WaitGroup wg;
      wg.add(1);
      gort::go([&] { wg.done(); });
      wg.wait();
    }
  }, gort::Config{.procs = procs});
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_SpawnJoin)->Arg(1)->Arg(2)->UseRealTime();

// Spawn batches of 1000 goroutines from one goroutine; with 2 procs the other P steals.
void BM_SpawnBatch(benchmark::State& state) {
  const int procs = static_cast<int>(state.range(0));
  constexpr int kBatch = 1000;
  gort::run([&] {
    std::atomic<uint64_t> sink{0};
    for (auto _ : state) {
      gort::WaitGroup wg;
      wg.add(kBatch);
      for (int i = 0; i < kBatch; ++i) {
        gort::go([&] {
          uint64_t x = 0;
          for (int k = 0; k < 100; ++k) benchmark::DoNotOptimize(x += k);
          sink.fetch_add(x, std::memory_order_relaxed);
          wg.done();
        });
      }
      wg.wait();
    }
  }, gort::Config{.procs = procs});
  state.SetItemsProcessed(state.iterations() * kBatch);
}
BENCHMARK(BM_SpawnBatch)->Arg(1)->Arg(2)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
