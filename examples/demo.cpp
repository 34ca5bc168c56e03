// gort demo: a million goroutines, skynet, and a work-stealing fork-join, with the scheduler's
// counters after each.
//
// usage: gort_demo [procs]    (default: GORT_PROCS or the CPU count)
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>

#include "gort/gort.hpp"

namespace {

double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

// skynet: each node spawns 10 children down to 1,000,000 leaves; leaves return their number.
int64_t skynet(int64_t num, int64_t size) {
  if (size == 1) return num;
  int64_t results[10];
  gort::WaitGroup wg;
  wg.add(10);
  const int64_t child = size / 10;
  for (int i = 0; i < 10; ++i) {
    gort::go([&, i] {
      results[i] = skynet(num + i * child, child);
      wg.done();
    });
  }
  wg.wait();
  int64_t sum = 0;
  for (int64_t r : results) sum += r;
  return sum;
}

// Fork-join Fibonacci: spawns a goroutine per call above the cutoff.
int64_t fib(int n) {
  if (n < 2) return n;
  if (n <= 15) return fib(n - 1) + fib(n - 2);
  int64_t a = 0;
  gort::WaitGroup wg;
  wg.add(1);
  gort::go([&] {
    a = fib(n - 1);
    wg.done();
  });
  int64_t b = fib(n - 2);
  wg.wait();
  return a + b;
}

}  // namespace

int main(int argc, char** argv) {
  gort::Config config;
  if (argc > 1) config.procs = std::atoi(argv[1]);
  if (argc > 2 || (argc > 1 && config.procs <= 0)) {
    std::fprintf(stderr, "usage: %s [procs]\n", argv[0]);
    return 2;
  }
  return gort::run([] {
    std::printf("gort demo on %d processors\n\n", gort::procs());

    auto t0 = std::chrono::steady_clock::now();
    constexpr int kN = 1'000'000;
    gort::WaitGroup wg;
    wg.add(kN);
    for (int i = 0; i < kN; ++i) gort::go([&] { wg.done(); });
    wg.wait();
    double ms = ms_since(t0);
    std::printf("1. spawned and joined %d goroutines in %.1f ms (%.0f ns each)\n", kN, ms,
                ms * 1e6 / kN);

    t0 = std::chrono::steady_clock::now();
    int64_t sum = skynet(0, 1'000'000);
    std::printf("2. skynet over 1,000,000 leaves: sum %lld in %.1f ms%s\n",
                static_cast<long long>(sum), ms_since(t0),
                sum == 499999500000LL ? "" : "  WRONG SUM");

    t0 = std::chrono::steady_clock::now();
    int64_t f = fib(35);
    std::printf("3. fork-join fib(35) = %lld in %.1f ms%s\n", static_cast<long long>(f),
                ms_since(t0), f == 9227465 ? "" : "  WRONG RESULT");

    std::printf("\n%s", gort::stats().to_string().c_str());
    return sum == 499999500000LL && f == 9227465 ? 0 : 1;
  }, config);
}
