// gort::Mutex micro benchmarks: the uncontended fast path (one goroutine, lock+unlock) and a
// contended mutex (4 goroutines on 2 processors, each doing its share of the iterations).
// Each benchmark iteration is one lock+unlock pair.
#include <benchmark/benchmark.h>

#include <gort/gort.hpp>

#include <cstdint>

namespace {

void BM_MutexUncontended(benchmark::State& state) {
  gort::Config config;
  config.procs = 1;
  gort::run([&] {
    gort::Mutex mu;
    int64_t counter = 0;
    for (auto _ : state) {
      mu.lock();
      ++counter;
      mu.unlock();
    }
    benchmark::DoNotOptimize(counter);
  }, config);
}
BENCHMARK(BM_MutexUncontended);

void BM_MutexContended4G2P(benchmark::State& state) {
  constexpr int kGoroutines = 4;
  gort::Config config;
  config.procs = 2;
  gort::run([&] {
    gort::Mutex mu;
    int64_t counter = 0;
    for (auto _ : state) {
      state.PauseTiming();
      const int64_t per = 100000;
      gort::WaitGroup wg;
      wg.add(kGoroutines);
      state.ResumeTiming();
      for (int g = 0; g < kGoroutines; ++g) {
        gort::go([&, per] {
          for (int64_t i = 0; i < per; ++i) {
            mu.lock();
            ++counter;
            mu.unlock();
          }
          wg.done();
        });
      }
      wg.wait();
    }
    benchmark::DoNotOptimize(counter);
    state.SetItemsProcessed(state.iterations() * kGoroutines * 100000);
  }, config);
}
// Each iteration is 400,000 lock+unlock pairs; items_per_second gives the pair rate.
BENCHMARK(BM_MutexContended4G2P)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
