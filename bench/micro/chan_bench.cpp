// Channel micro benchmarks (Google Benchmark): unbuffered ping-pong on one P and across Ps,
// buffered MPMC throughput, select over 2 and 4 ready cases, and a ring of goroutines passing a
// token. Each benchmark runs inside one gort::run.
#include <atomic>
#include <vector>

#include <benchmark/benchmark.h>

#include "gort/gort.hpp"
#include "gort/chan.hpp"
#include "gort/select.hpp"

namespace {

// One round trip = two unbuffered handoffs (ping, pong).
void BM_PingPongUnbuffered(benchmark::State& state) {
  const int procs = static_cast<int>(state.range(0));
  gort::run([&] {
    gort::Chan<int> ping, pong;
    gort::go([&] {
      while (auto v = ping.recv()) pong.send(*v);
    });
    for (auto _ : state) {
      ping.send(1);
      benchmark::DoNotOptimize(pong.recv());
    }
    ping.close();
  }, gort::Config{.procs = procs});
  state.SetItemsProcessed(state.iterations());  // round trips
}
BENCHMARK(BM_PingPongUnbuffered)->Arg(1)->Arg(2)->UseRealTime();

// 2 producers, 2 consumers on a channel of capacity 128.
void BM_MpmcBuffered(benchmark::State& state) {
  const int procs = static_cast<int>(state.range(0));
  constexpr int kBatch = 10000;
  gort::run([&] {
    for (auto _ : state) {
      gort::Chan<int> ch(128);
      gort::WaitGroup prod, cons;
      prod.add(2);
      cons.add(2);
      for (int p = 0; p < 2; ++p) {
        gort::go([&] {
          for (int i = 0; i < kBatch / 2; ++i) ch.send(i);
          prod.done();
        });
      }
      for (int c = 0; c < 2; ++c) {
        gort::go([&] {
          for (int v : ch) benchmark::DoNotOptimize(v);
          cons.done();
        });
      }
      prod.wait();
      ch.close();
      cons.wait();
    }
  }, gort::Config{.procs = procs});
  state.SetItemsProcessed(state.iterations() * kBatch);
}
BENCHMARK(BM_MpmcBuffered)->Arg(1)->Arg(2)->UseRealTime();

// select over N buffered channels that always have a value ready.
template <int N>
void BM_SelectReady(benchmark::State& state) {
  gort::run([&] {
    std::vector<gort::Chan<int>> ch;
    for (int i = 0; i < N; ++i) ch.emplace_back(1);
    for (auto _ : state) {
      for (auto& c : ch) c.try_send(1);
      if constexpr (N == 2) {
        benchmark::DoNotOptimize(gort::select(gort::recv_case(ch[0]), gort::recv_case(ch[1])));
      } else {
        benchmark::DoNotOptimize(gort::select(gort::recv_case(ch[0]), gort::recv_case(ch[1]),
                                              gort::recv_case(ch[2]), gort::recv_case(ch[3])));
      }
    }
  }, gort::Config{.procs = 1});
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_SelectReady<2>)->UseRealTime();
BENCHMARK(BM_SelectReady<4>)->UseRealTime();

// A ring of 1000 goroutines, each receiving the token from its left neighbour and passing it on.
void BM_TokenRing(benchmark::State& state) {
  const int procs = static_cast<int>(state.range(0));
  constexpr int kRing = 1000;
  gort::run([&] {
    std::vector<gort::Chan<int>> link(kRing + 1);
    for (int i = 0; i < kRing; ++i) {
      gort::go([&, i] {
        while (auto v = link[i].recv()) link[i + 1].send(*v + 1);
        link[i + 1].close();
      });
    }
    for (auto _ : state) {
      link[0].send(0);
      benchmark::DoNotOptimize(link[kRing].recv());
    }
    link[0].close();
    while (link[kRing].recv()) {
    }
  }, gort::Config{.procs = procs});
  state.SetItemsProcessed(state.iterations() * kRing);  // hops
}
BENCHMARK(BM_TokenRing)->Arg(1)->Arg(2)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
