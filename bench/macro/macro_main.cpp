// gort_macro: the gort side of the macro benchmarks, driven side by side with the Go peer
// (bench/peers/go) by bench/compare.sh. One workload per invocation:
//
//   gort_macro --workload NAME --procs N [--n SIZE]
//
// prints exactly one machine-readable line on stdout,
//
//   RESULT runtime=gort workload=NAME procs=N value=X unit=U [note=...]
//
// and the result checks plus the scheduler stats (gort::stats().to_string()) on stderr.
// Exit status: 0 ok, 1 a check failed, 2 usage error, 3 workload not available on gort yet.
//
// Adding a workload (e.g. skynet_chan once gort has channels): write a `Result run_x(int64_t n)`
// below and add one row to kWorkloads; compare.sh picks it up by name.

#include <gort/gort.hpp>

#include <chrono>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <fstream>
#include <new>
#include <string>
#include <string_view>

namespace {

struct Result {
  double value = 0;
  const char* unit = "";
  const char* note = nullptr;  // extra `note=` field, or none
  bool ok = true;              // all checks passed
};

using Clock = std::chrono::steady_clock;

double ns_since(Clock::time_point start) {
  return static_cast<double>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - start).count());
}

bool check(bool ok, const std::string& what) {
  std::fprintf(stderr, "%s: %s\n", ok ? "check ok" : "CHECK FAILED", what.c_str());
  return ok;
}

// ---- spawn: n trivial goroutines, each only signals a WaitGroup; ns per goroutine -------------

Result run_spawn(int64_t n) {
  gort::WaitGroup wg;
  auto start = Clock::now();
  wg.add(n);
  for (int64_t i = 0; i < n; ++i) {
    gort::go([&wg] { wg.done(); });
  }
  wg.wait();
  double ns = ns_since(start);
  return {ns / static_cast<double>(n), "ns_per_goroutine"};
}

// ---- skynet: 10-ary tree with n leaves; leaf i yields i, inner nodes sum their children --------
// Fork-join with a WaitGroup and one result slot per child (slots live on the parent's stack,
// which stays alive because the parent waits).

void skynet_wg(int64_t num, int64_t size, int64_t* out, gort::WaitGroup* done) {
  if (size == 1) {
    *out = num;
    done->done();
    return;
  }
  int64_t slots[10] = {};
  gort::WaitGroup wg;
  wg.add(10);
  const int64_t sub = size / 10;
  for (int64_t i = 0; i < 10; ++i) {
    int64_t* slot = &slots[i];
    gort::go([num, i, sub, slot, &wg] { skynet_wg(num + i * sub, sub, slot, &wg); });
  }
  wg.wait();
  int64_t sum = 0;
  for (int64_t v : slots) sum += v;
  *out = sum;
  done->done();
}

// n must be a power of 10; returns 0 otherwise.
int64_t skynet_size(int64_t n) {
  int64_t size = 1;
  while (size < n) size *= 10;
  return size == n ? size : 0;
}

Result run_skynet(int64_t n) {
  const int64_t size = skynet_size(n);
  if (size == 0) {
    std::fprintf(stderr, "skynet: n=%" PRId64 " is not a power of 10\n", n);
    std::exit(2);
  }
  int64_t result = 0;
  gort::WaitGroup wg;
  auto start = Clock::now();
  wg.add(1);
  gort::go([size, &result, &wg] { skynet_wg(0, size, &result, &wg); });
  wg.wait();
  double ns = ns_since(start);
  const int64_t want = size * (size - 1) / 2;
  bool ok = check(result == want, "skynet sum " + std::to_string(result) + " (want " +
                                      std::to_string(want) + ")");
  return {ns / 1e6, "ms", nullptr, ok};
}

// skynet_chan (the original skynet with a channel per node) goes here once gort has channels;
// until then it is listed in kWorkloads as not available.

// ---- fib: fork-join fib(n) ---------------------------------------------------------------------
// Above the cutoff a call spawns fib(n-1), computes fib(n-2) itself and waits on a WaitGroup; at
// or below it, plain recursion. Same cutoff as the Go peer.

constexpr int kFibCutoff = 15;

__attribute__((noinline)) int64_t fib_seq(int n) {
  if (n < 2) return n;
  return fib_seq(n - 1) + fib_seq(n - 2);
}

int64_t fib_par(int n) {
  if (n <= kFibCutoff) return fib_seq(n);
  int64_t a = 0;
  gort::WaitGroup wg;
  wg.add(1);
  gort::go([&a, &wg, n] {
    a = fib_par(n - 1);
    wg.done();
  });
  int64_t b = fib_par(n - 2);
  wg.wait();
  return a + b;
}

Result run_fib(int64_t n) {
  auto start = Clock::now();
  int64_t r = fib_par(static_cast<int>(n));
  double ns = ns_since(start);
  int64_t want = fib_seq(static_cast<int>(n));
  bool ok = check(r == want, "fib(" + std::to_string(n) + ") = " + std::to_string(r) + " (want " +
                                 std::to_string(want) + ", cutoff " +
                                 std::to_string(kFibCutoff) + ")");
  return {ns / 1e6, "ms", nullptr, ok};
}

// ---- yield: two goroutines each yield n/2 times; ns per yield (total time / n) ----------------

Result run_yield(int64_t n) {
  const int64_t per = n / 2;
  gort::WaitGroup wg;
  wg.add(2);
  auto start = Clock::now();
  for (int g = 0; g < 2; ++g) {
    gort::go([per, &wg] {
      for (int64_t i = 0; i < per; ++i) gort::yield();
      wg.done();
    });
  }
  wg.wait();
  double ns = ns_since(start);
  return {ns / static_cast<double>(2 * per), "ns_per_yield"};
}

// ---- parked: n goroutines blocked at once on a shared WaitGroup --------------------------------
// Value: growth of VmRSS + VmPTE (page tables count: every stack is its own mapping) per
// goroutine while all are parked; then they are released and waited for.

struct ProcMem {
  int64_t rss_kb = -1;
  int64_t pte_kb = -1;
};

ProcMem read_proc_mem() {
  ProcMem m;
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) m.rss_kb = std::strtoll(line.c_str() + 6, nullptr, 10);
    if (line.rfind("VmPTE:", 0) == 0) m.pte_kb = std::strtoll(line.c_str() + 6, nullptr, 10);
  }
  return m;
}

Result run_parked(int64_t n) {
  const ProcMem before = read_proc_mem();
  gort::WaitGroup started, finished, release;
  release.add(1);
  started.add(n);
  finished.add(n);
  int64_t spawned = 0;
  bool spawn_failed = false;
  try {
    for (; spawned < n; ++spawned) {
      gort::go([&] {
        started.done();
        release.wait();
        finished.done();
      });
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "parked: spawn %" PRId64 " failed: %s\n", spawned, e.what());
    spawn_failed = true;
    started.add(-(n - spawned));
    finished.add(-(n - spawned));
  }
  started.wait();
  const int64_t alive = gort::num_goroutines();
  const ProcMem after = read_proc_mem();
  const gort::SchedulerStats st = gort::stats();

  release.done();
  finished.wait();

  const int64_t grow_kb = (after.rss_kb + after.pte_kb) - (before.rss_kb + before.pte_kb);
  const double per = static_cast<double>(grow_kb) * 1024.0 / static_cast<double>(n);
  std::fprintf(stderr,
               "parked: %" PRId64 " goroutines alive; VmRSS %" PRId64 " -> %" PRId64
               " kB, VmPTE %" PRId64 " -> %" PRId64 " kB; stacks in use %" PRIu64
               ", stack bytes reserved %" PRIu64 "\n",
               alive, before.rss_kb, after.rss_kb, before.pte_kb, after.pte_kb,
               st.stacks_in_use, st.stack_bytes_reserved);
  bool ok = check(before.rss_kb >= 0 && before.pte_kb >= 0, "VmRSS/VmPTE readable");
  ok = check(!spawn_failed && alive >= n, std::to_string(alive) +
                                              " goroutines parked at once (want >= " +
                                              std::to_string(n) + ")") &&
       ok;
  return {per, "bytes_per_goroutine", "rss+pte", ok};
}

// ---- table and CLI -----------------------------------------------------------------------------

struct Workload {
  const char* name;
  int64_t default_n;    // standard size (what compare.sh runs)
  Result (*run)(int64_t n);  // nullptr: not available on gort yet
};

constexpr Workload kWorkloads[] = {
    {"spawn", 1'000'000, run_spawn},
    {"skynet", 1'000'000, run_skynet},
    {"skynet_chan", 1'000'000, nullptr},  // needs gort channels
    {"fib", 35, run_fib},
    {"yield", 10'000'000, run_yield},
    {"parked", 1'000'000, run_parked},
};

[[noreturn]] void usage(const char* msg) {
  if (msg != nullptr) std::fprintf(stderr, "gort_macro: %s\n", msg);
  std::fprintf(stderr, "usage: gort_macro --workload NAME --procs N [--n SIZE]\nworkloads:");
  for (const Workload& w : kWorkloads) {
    std::fprintf(stderr, " %s%s", w.name, w.run ? "" : " (not yet)");
  }
  std::fprintf(stderr, "\n");
  std::exit(2);
}

int64_t parse_int(const char* s, const char* what) {
  char* end = nullptr;
  long long v = std::strtoll(s, &end, 10);
  if (end == s || *end != '\0' || v < 0) usage((std::string("bad ") + what).c_str());
  return v;
}

}  // namespace

int main(int argc, char** argv) {
  std::string name;
  int64_t procs = 1;
  int64_t n = 0;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    // Accept both "--opt value" and "--opt=value" (and Go-style single dashes).
    if (arg.starts_with("--")) arg.remove_prefix(1);
    std::string_view key = arg, value;
    bool inline_value = false;
    if (auto eq = arg.find('='); eq != std::string_view::npos) {
      key = arg.substr(0, eq);
      value = arg.substr(eq + 1);
      inline_value = true;
    }
    if (key == "-h" || key == "-help") usage(nullptr);
    if (key != "-workload" && key != "-procs" && key != "-n") {
      usage(("unknown argument " + std::string(argv[i])).c_str());
    }
    if (!inline_value) {
      if (i + 1 >= argc) usage(("missing value for " + std::string(argv[i])).c_str());
      value = argv[++i];
    }
    std::string v(value);
    if (key == "-workload") {
      name = v;
    } else if (key == "-procs") {
      procs = parse_int(v.c_str(), "--procs");
    } else {
      n = parse_int(v.c_str(), "--n");
    }
  }
  if (procs < 1) usage("--procs must be >= 1");

  const Workload* w = nullptr;
  for (const Workload& cand : kWorkloads) {
    if (name == cand.name) w = &cand;
  }
  if (w == nullptr) usage(name.empty() ? "no --workload" : ("unknown workload " + name).c_str());
  if (w->run == nullptr) {
    std::fprintf(stderr, "gort_macro: workload %s is not available on gort yet\n", w->name);
    return 3;
  }
  const int64_t size = n != 0 ? n : w->default_n;

  gort::Config config;
  config.procs = static_cast<int>(procs);
  return gort::run(
      [&]() -> int {
        if (gort::procs() != config.procs) {
          std::fprintf(stderr, "gort_macro: runtime has %d procs, asked for %d\n", gort::procs(),
                       config.procs);
          return 1;
        }
        Result r = w->run(size);
        if (!r.ok) return 1;  // like the Go peer: no RESULT line when a check failed
        std::printf("RESULT runtime=gort workload=%s procs=%d value=%.1f unit=%s", w->name,
                    config.procs, r.value, r.unit);
        if (r.note != nullptr) std::printf(" note=%s", r.note);
        std::printf("\n");
        std::fflush(stdout);
        std::fprintf(stderr, "gort stats after %s (procs=%d):\n%s\n", w->name, config.procs,
                     gort::stats().to_string().c_str());
        return 0;
      },
      config);
}
