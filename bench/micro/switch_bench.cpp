// Context-switch micro benchmarks. Every number is reported per ONE-WAY switch: the
// "ns_per_switch" counter (kIsRate | kInvert, shown in seconds with an SI prefix, e.g. "3.5n")
// and items_per_second (switches per second).
//
//   BM_gort_swap_pingpong      main <-> one context through gort_ctx_swap (the backend that
//                              gort::gort was built with: asm/ by default, or Boost)
//   BM_gort_swap_round_robin   a scheduler-like loop main -> ctx[i] -> main over 1000 contexts
//   BM_boost_jump_*            the same two patterns with raw Boost jump_fcontext
//                              (only when GORT_BENCH_HAVE_BOOST is defined)
//
// The raw C functions are used (not the sanitizer-aware wrapper), so a sanitizer build of
// this binary measures the raw switch plus nothing else.
#include <benchmark/benchmark.h>
#include <sys/mman.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "runtime/context.hpp"

#if defined(GORT_BENCH_HAVE_BOOST)
#include <boost/context/detail/fcontext.hpp>
#endif

namespace {

constexpr size_t kStackSize = 64 * 1024;
constexpr int kRoundRobinContexts = 1000;

class Stacks {
 public:
  explicit Stacks(size_t n) : n_(n) {
    mem_ = mmap(nullptr, n * kStackSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                -1, 0);
    if (mem_ == MAP_FAILED) std::abort();
  }
  ~Stacks() { munmap(mem_, n_ * kStackSize); }
  Stacks(const Stacks&) = delete;
  Stacks& operator=(const Stacks&) = delete;
  void* top(size_t i) const { return static_cast<char*>(mem_) + (i + 1) * kStackSize; }

 private:
  void* mem_ = nullptr;
  size_t n_ = 0;
};

void report(benchmark::State& state) {
  const double switches = 2.0 * static_cast<double>(state.iterations());
  state.SetItemsProcessed(static_cast<int64_t>(switches));
  state.counters["ns_per_switch"] =
      benchmark::Counter(switches, benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

// ---- gort_ctx_swap ---------------------------------------------------------------------------
// A context that forever switches back to whoever resumed it. The contexts are abandoned
// suspended at the end; their stacks are simply unmapped.
struct SwapPeer {
  void* self = nullptr;
  void* back = nullptr;
};

void swap_peer_loop(void* p) {
  auto* peer = static_cast<SwapPeer*>(p);
  for (;;) gort_ctx_swap(&peer->self, peer->back);
}

void BM_gort_swap_pingpong(benchmark::State& state) {
  Stacks stacks(1);
  SwapPeer peer;
  peer.self = gort_ctx_make(stacks.top(0), &swap_peer_loop, &peer);
  for (auto _ : state) gort_ctx_swap(&peer.back, peer.self);
  report(state);
}
BENCHMARK(BM_gort_swap_pingpong);

void BM_gort_swap_round_robin(benchmark::State& state) {
  Stacks stacks(kRoundRobinContexts);
  std::vector<SwapPeer> peers(kRoundRobinContexts);
  for (int i = 0; i < kRoundRobinContexts; ++i)
    peers[i].self = gort_ctx_make(stacks.top(i), &swap_peer_loop, &peers[i]);
  int i = 0;
  for (auto _ : state) {
    gort_ctx_swap(&peers[i].back, peers[i].self);
    if (++i == kRoundRobinContexts) i = 0;
  }
  report(state);
}
BENCHMARK(BM_gort_swap_round_robin);

#if defined(GORT_BENCH_HAVE_BOOST)
// ---- raw Boost.Context jump_fcontext ------------------------------------------------------------
namespace bctx = boost::context::detail;

void boost_peer_loop(bctx::transfer_t t) {
  for (;;) t = bctx::jump_fcontext(t.fctx, nullptr);
}

void BM_boost_jump_pingpong(benchmark::State& state) {
  Stacks stacks(1);
  bctx::fcontext_t peer = bctx::make_fcontext(stacks.top(0), kStackSize, &boost_peer_loop);
  for (auto _ : state) peer = bctx::jump_fcontext(peer, nullptr).fctx;
  report(state);
}
BENCHMARK(BM_boost_jump_pingpong);

void BM_boost_jump_round_robin(benchmark::State& state) {
  Stacks stacks(kRoundRobinContexts);
  std::vector<bctx::fcontext_t> peers(kRoundRobinContexts);
  for (int i = 0; i < kRoundRobinContexts; ++i)
    peers[i] = bctx::make_fcontext(stacks.top(i), kStackSize, &boost_peer_loop);
  int i = 0;
  for (auto _ : state) {
    peers[i] = bctx::jump_fcontext(peers[i], nullptr).fctx;
    if (++i == kRoundRobinContexts) i = 0;
  }
  report(state);
}
BENCHMARK(BM_boost_jump_round_robin);
#endif  // GORT_BENCH_HAVE_BOOST

}  // namespace

BENCHMARK_MAIN();
