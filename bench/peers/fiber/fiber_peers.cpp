// Boost.Fiber peer of bench/macro/macro_main.cpp and bench/peers/go: the same macro workloads on
// Boost.Fiber (1.74), so bench/compare.sh can put a third M:N-ish runtime beside gort and Go.
//
//   fiber_peers --workload NAME --procs N [--n SIZE]
//
// prints exactly one machine-readable line on stdout,
//
//   RESULT runtime=fiber workload=NAME procs=N value=X unit=U [note=...]
//
// with the units and standard sizes of gort_macro; checks go to stderr. Exit status: 0 ok,
// 1 a check failed (no RESULT line then), 2 usage error, 3 workload Boost.Fiber has no
// counterpart for (select2/select4: Boost.Fiber has no select; tcpecho: it has no network
// integration, a fiber blocked in a socket call blocks its thread).
//
// Scheduling: --procs N > 1 runs N threads (main + N-1 workers) under algo::work_stealing(N),
// Boost's own M:N scheduler. work_stealing cannot run on one thread (its steal loop looks for a
// victim other than itself forever), so --procs 1 uses the default round_robin on the main
// thread. Differences from the gort/Go programs are listed in bench/README.md.

#include <boost/fiber/all.hpp>
#include <boost/fiber/algo/work_stealing.hpp>

#include <atomic>
#include <chrono>
#include <cinttypes>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace {

namespace bf = boost::fibers;
using Clock = std::chrono::steady_clock;
using Status = bf::channel_op_status;

struct Result {
  double value = 0;
  const char* unit = "";
  const char* note = nullptr;
  bool ok = true;
};

double ns_since(Clock::time_point start) {
  return static_cast<double>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - start).count());
}

bool check(bool ok, const std::string& what) {
  std::fprintf(stderr, "%s: %s\n", ok ? "check ok" : "CHECK FAILED", what.c_str());
  return ok;
}

// The default fiber stack (128 KiB via malloc) reaches glibc's mmap threshold, and a mapping per
// fiber runs into vm.max_map_count (65530) long before skynet's 1.1 M live fibers. 16 KiB (just
// above Boost.Context's minimum_size of ~13 KiB) stays on the malloc heap, where only touched
// pages cost memory. fixedsize_stack rather than
// pooled_fixedsize_stack because the pool is not thread-safe and a stolen fiber is freed on
// whichever thread it ends on.
constexpr std::size_t kStackBytes = 16 * 1024;

// launch::post (Boost's default) is the `go` statement: the new fiber is made ready and the
// caller keeps running.
template <class Fn>
bf::fiber spawn(Fn&& fn, std::size_t stack_bytes = kStackBytes) {
  return bf::fiber(bf::launch::post, std::allocator_arg, bf::fixedsize_stack(stack_bytes),
                   std::forward<Fn>(fn));
}

template <class Fn>
void go(Fn&& fn) {
  spawn(std::forward<Fn>(fn)).detach();
}

// Go's sync.WaitGroup on fiber primitives. Only the decrement to zero takes the mutex, so that
// a waiter (which tests the count only under the mutex) cannot see zero and destroy the group
// while the last done() is still inside it; the others are a lock-free CAS like Go's.
class WaitGroup {
 public:
  void add(int64_t d) { n_.fetch_add(d, std::memory_order_acq_rel); }

  void done() {
    int64_t v = n_.load(std::memory_order_acquire);
    while (v > 1) {
      if (n_.compare_exchange_weak(v, v - 1, std::memory_order_acq_rel)) return;
    }
    std::unique_lock<bf::mutex> lk(mu_);
    if (n_.fetch_sub(1, std::memory_order_acq_rel) == 1) cv_.notify_all();
  }

  void wait() {
    std::unique_lock<bf::mutex> lk(mu_);
    cv_.wait(lk, [this] { return n_.load(std::memory_order_acquire) == 0; });
  }

 private:
  std::atomic<int64_t> n_{0};
  bf::mutex mu_;
  bf::condition_variable cv_;
};

// ---- spawn -----------------------------------------------------------------------------------

Result run_spawn(int64_t n) {
  WaitGroup wg;
  auto start = Clock::now();
  wg.add(n);
  for (int64_t i = 0; i < n; ++i) {
    go([&wg] { wg.done(); });
  }
  wg.wait();
  double ns = ns_since(start);
  return {ns / static_cast<double>(n), "ns_per_goroutine"};
}

// ---- skynet (WaitGroup + a result slot per child on the parent's stack) ---------------------

void skynet_wg(int64_t num, int64_t size, int64_t* out, WaitGroup* done) {
  if (size == 1) {
    *out = num;
    done->done();
    return;
  }
  int64_t slots[10] = {};
  WaitGroup wg;
  wg.add(10);
  const int64_t sub = size / 10;
  for (int64_t i = 0; i < 10; ++i) {
    int64_t* slot = &slots[i];
    go([num, i, sub, slot, &wg] { skynet_wg(num + i * sub, sub, slot, &wg); });
  }
  wg.wait();
  int64_t sum = 0;
  for (int64_t v : slots) sum += v;
  *out = sum;
  done->done();
}

int64_t skynet_size(int64_t n) {
  int64_t size = 1;
  while (size < n) size *= 10;
  if (size != n) {
    std::fprintf(stderr, "skynet: n=%" PRId64 " is not a power of 10\n", n);
    // exit() from inside a fiber runs the thread's scheduler destructor under that very fiber and
    // never returns.
    std::fflush(nullptr);
    std::_Exit(2);
  }
  return size;
}

Result run_skynet(int64_t n) {
  const int64_t size = skynet_size(n);
  int64_t result = 0;
  WaitGroup wg;
  auto start = Clock::now();
  wg.add(1);
  go([size, &result, &wg] { skynet_wg(0, size, &result, &wg); });
  wg.wait();
  double ns = ns_since(start);
  const int64_t want = size * (size - 1) / 2;
  bool ok = check(result == want, "skynet sum " + std::to_string(result) + " (want " +
                                      std::to_string(want) + ")");
  return {ns / 1e6, "ms", nullptr, ok};
}

// ---- skynet_chan (children report on an unbuffered channel per node) -------------------------
// The node's channel lives on its stack: a producer touches the channel no more once its push
// has returned, and the channel's destructor (close) takes the channel's spinlocks, so it waits
// out a child still releasing them.

void skynet_chan(bf::unbuffered_channel<int64_t>* out, int64_t num, int64_t size) {
  if (size == 1) {
    out->push(num);
    return;
  }
  bf::unbuffered_channel<int64_t> rc;
  const int64_t sub = size / 10;
  for (int64_t i = 0; i < 10; ++i) {
    go([&rc, num, i, sub] { skynet_chan(&rc, num + i * sub, sub); });
  }
  int64_t sum = 0;
  for (int i = 0; i < 10; ++i) {
    int64_t v = 0;
    if (rc.pop(v) == Status::success) sum += v;
  }
  out->push(sum);
}

Result run_skynet_chan(int64_t n) {
  const int64_t size = skynet_size(n);
  bf::unbuffered_channel<int64_t> c;
  auto start = Clock::now();
  go([&c, size] { skynet_chan(&c, 0, size); });
  int64_t result = -1;
  Status st = c.pop(result);
  double ms = ns_since(start) / 1e6;
  const int64_t want = size * (size - 1) / 2;
  bool ok = check(st == Status::success && result == want,
                  "skynet_chan sum " + std::to_string(result) + " (want " + std::to_string(want) +
                      ")");
  return {ms, "ms", nullptr, ok};
}

// ---- fib (fork-join, same cutoff as gort_macro and the Go peer) ------------------------------

constexpr int kFibCutoff = 15;

__attribute__((noinline)) int64_t fib_seq(int n) {
  if (n < 2) return n;
  return fib_seq(n - 1) + fib_seq(n - 2);
}

int64_t fib_par(int n) {
  if (n <= kFibCutoff) return fib_seq(n);
  int64_t a = 0;
  WaitGroup wg;
  wg.add(1);
  go([&a, &wg, n] {
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

// ---- yield -----------------------------------------------------------------------------------

Result run_yield(int64_t n) {
  const int64_t per = n / 2;
  WaitGroup wg;
  wg.add(2);
  auto start = Clock::now();
  for (int g = 0; g < 2; ++g) {
    go([per, &wg] {
      for (int64_t i = 0; i < per; ++i) boost::this_fiber::yield();
      wg.done();
    });
  }
  wg.wait();
  double ns = ns_since(start);
  return {ns / static_cast<double>(2 * per), "ns_per_yield"};
}

// ---- mutex -----------------------------------------------------------------------------------

Result run_mutex(int64_t n) {
  constexpr int kFibers = 4;
  const int64_t per = n / kFibers;
  bf::mutex mu;
  int64_t counter = 0;
  WaitGroup wg;
  wg.add(kFibers);
  auto start = Clock::now();
  for (int g = 0; g < kFibers; ++g) {
    go([per, &mu, &counter, &wg] {
      for (int64_t i = 0; i < per; ++i) {
        mu.lock();
        ++counter;
        mu.unlock();
      }
      wg.done();
    });
  }
  wg.wait();
  double ns = ns_since(start);
  Result r{ns / static_cast<double>(kFibers * per), "ns_per_lock"};
  r.ok = check(counter == kFibers * per,
               "counter " + std::to_string(counter) + " == " + std::to_string(kFibers * per));
  return r;
}

// ---- timers (same pseudo-random 0-100 ms sleeps as the other two) ---------------------------

Result run_timers(int64_t n) {
  WaitGroup wg;
  std::atomic<int64_t> early{0};
  wg.add(n);
  auto start = Clock::now();
  for (int64_t i = 0; i < n; ++i) {
    uint32_t x = static_cast<uint32_t>(i) * 2654435761u;
    auto d = std::chrono::microseconds(x % 100'000);
    go([d, &wg, &early] {
      auto deadline = Clock::now() + d;
      boost::this_fiber::sleep_for(d);
      if (Clock::now() < deadline) early.fetch_add(1, std::memory_order_relaxed);
      wg.done();
    });
  }
  wg.wait();
  double ns = ns_since(start) - 100e6;
  Result r{ns / static_cast<double>(n), "ns_per_timer"};
  r.ok = check(early.load() == 0, std::to_string(early.load()) + " fibers woke early (want 0)");
  return r;
}

// ---- parked (VmRSS + VmPTE growth per fiber blocked on a shared WaitGroup) -------------------

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
  WaitGroup started, finished, release;
  std::atomic<int64_t> alive{0};  // Boost.Fiber has no count of live fibers
  release.add(1);
  started.add(n);
  finished.add(n);
  for (int64_t i = 0; i < n; ++i) {
    go([&] {
      alive.fetch_add(1, std::memory_order_relaxed);
      started.done();
      release.wait();
      alive.fetch_sub(1, std::memory_order_relaxed);
      finished.done();
    });
  }
  started.wait();
  const int64_t parked = alive.load();
  const ProcMem after = read_proc_mem();
  release.done();
  finished.wait();

  const int64_t grow_kb = (after.rss_kb + after.pte_kb) - (before.rss_kb + before.pte_kb);
  const double per = static_cast<double>(grow_kb) * 1024.0 / static_cast<double>(n);
  std::fprintf(stderr,
               "parked: %" PRId64 " fibers alive; VmRSS %" PRId64 " -> %" PRId64
               " kB, VmPTE %" PRId64 " -> %" PRId64 " kB; stack %zu B each (malloc)\n",
               parked, before.rss_kb, after.rss_kb, before.pte_kb, after.pte_kb, kStackBytes);
  bool ok = check(before.rss_kb >= 0 && before.pte_kb >= 0, "VmRSS/VmPTE readable");
  ok = check(parked >= n, std::to_string(parked) + " fibers parked at once (want >= " +
                              std::to_string(n) + ")") &&
       ok;
  return {per, "bytes_per_goroutine", "rss+pte", ok};
}

// ---- channel workloads -----------------------------------------------------------------------

Result run_pingpong(int64_t n) {
  bf::unbuffered_channel<int64_t> ping, pong;
  bf::fiber echo = spawn([&] {
    int64_t v = 0;
    while (ping.pop(v) == Status::success) pong.push(v);
  });
  int64_t bad = 0;
  auto start = Clock::now();
  for (int64_t i = 0; i < n; ++i) {
    ping.push(i);
    int64_t v = -1;
    if (pong.pop(v) != Status::success || v != i) ++bad;
  }
  double ns = ns_since(start);
  ping.close();
  echo.join();
  Result r{ns / static_cast<double>(n), "ns_per_roundtrip"};
  r.ok = check(bad == 0, "pingpong values, " + std::to_string(bad) + " wrong");
  return r;
}

Result run_ring(int64_t n) {
  constexpr int kLaps = 1000;
  using Chan = bf::unbuffered_channel<int64_t>;
  // Channels are neither copyable nor movable: hold them by pointer.
  std::vector<std::unique_ptr<Chan>> links;
  for (int64_t i = 0; i <= n; ++i) links.push_back(std::make_unique<Chan>());
  std::vector<bf::fiber> members;
  members.reserve(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    members.push_back(spawn([in = links[i].get(), out = links[i + 1].get()] {
      int64_t v = 0;
      while (in->pop(v) == Status::success) out->push(v + 1);
      out->close();
    }));
  }
  int64_t bad = 0;
  auto start = Clock::now();
  for (int l = 0; l < kLaps; ++l) {
    links[0]->push(0);
    int64_t v = -1;
    if (links[n]->pop(v) != Status::success || v != n) ++bad;
  }
  double ns = ns_since(start);
  links[0]->close();
  int64_t v = 0;
  while (links[n]->pop(v) == Status::success) {
  }
  for (bf::fiber& f : members) f.join();
  Result r{ns / static_cast<double>(kLaps * n), "ns_per_hop"};
  r.ok = check(bad == 0, "ring token, " + std::to_string(bad) + " laps wrong");
  return r;
}

// Boost's buffered_channel wants a power-of-2 capacity and keeps one slot free, so capacity 128
// holds 127 messages where Go's and gort's hold 128.
constexpr std::size_t kMpmcCapacity = 128;

Result run_mpmc(int64_t n) {
  bf::buffered_channel<int64_t> ch(kMpmcCapacity);
  WaitGroup prod, cons;
  std::atomic<int64_t> total{0};
  const int64_t per = n / 4;
  auto start = Clock::now();
  prod.add(4);
  cons.add(4);
  for (int p = 0; p < 4; ++p) {
    go([&] {
      for (int64_t i = 0; i < per; ++i) ch.push(i);
      prod.done();
    });
  }
  for (int c = 0; c < 4; ++c) {
    go([&] {
      int64_t sum = 0;
      int64_t v = 0;
      while (ch.pop(v) == Status::success) sum += v;
      total.fetch_add(sum);
      cons.done();
    });
  }
  prod.wait();
  ch.close();
  cons.wait();
  double ns = ns_since(start);
  Result r{ns / static_cast<double>(4 * per), "ns_per_msg"};
  const int64_t want = 4 * (per * (per - 1) / 2);
  r.ok = check(total.load() == want, "mpmc checksum " + std::to_string(total.load()) + " (want " +
                                         std::to_string(want) + ")");
  return r;
}

// ---- threads ---------------------------------------------------------------------------------

// procs-1 worker threads join the main thread in one work_stealing pool. A worker's own main
// fiber parks on `stop_` so the thread's dispatcher keeps running (and stealing) fibers until
// shutdown. Idle threads poll rather than sleep: work_stealing's suspend mode is only woken by a
// fiber made ready *on that thread*, so a sleeping thief would never see work queued elsewhere.
class Pool {
 public:
  explicit Pool(int procs) : procs_(procs) {
    if (procs_ == 1) return;
    const auto count = static_cast<std::uint32_t>(procs_);
    for (int i = 1; i < procs_; ++i) {
      workers_.emplace_back([this, count] {
        bf::use_scheduling_algorithm<bf::algo::work_stealing>(count);
        std::unique_lock<bf::mutex> lk(mu_);
        cv_.wait(lk, [this] { return stop_; });
      });
    }
    // Returns once all `count` threads have registered (the algorithm's constructor waits).
    bf::use_scheduling_algorithm<bf::algo::work_stealing>(count);
  }

  // Every fiber a workload started has finished or is about to return by now; a thread's
  // scheduler runs its remaining fibers to the end before the thread exits.
  ~Pool() {
    {
      std::unique_lock<bf::mutex> lk(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    for (std::thread& t : workers_) t.join();
  }

  Pool(const Pool&) = delete;
  Pool& operator=(const Pool&) = delete;

 private:
  int procs_;
  std::vector<std::thread> workers_;
  bf::mutex mu_;
  bf::condition_variable cv_;
  bool stop_ = false;
};

// ---- table and CLI ---------------------------------------------------------------------------

struct Workload {
  const char* name;
  int64_t default_n;
  Result (*run)(int64_t n);  // nullptr: Boost.Fiber has no counterpart
};

constexpr Workload kWorkloads[] = {
    {"spawn", 1'000'000, run_spawn},
    {"skynet", 1'000'000, run_skynet},
    {"skynet_chan", 1'000'000, run_skynet_chan},
    {"pingpong", 1'000'000, run_pingpong},
    {"ring", 1'000, run_ring},
    {"mpmc", 2'000'000, run_mpmc},
    {"select2", 2'000'000, nullptr},
    {"select4", 2'000'000, nullptr},
    {"fib", 35, run_fib},
    {"yield", 10'000'000, run_yield},
    {"parked", 1'000'000, run_parked},
    {"timers", 1'000'000, run_timers},
    {"tcpecho", 400'000, nullptr},
    {"mutex", 10'000'000, run_mutex},
};

[[noreturn]] void usage(const char* msg) {
  if (msg != nullptr) std::fprintf(stderr, "fiber_peers: %s\n", msg);
  std::fprintf(stderr, "usage: fiber_peers --workload NAME --procs N [--n SIZE]\nworkloads:");
  for (const Workload& w : kWorkloads) {
    std::fprintf(stderr, " %s%s", w.name, w.run ? "" : " (n/a)");
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
    // Same spellings as gort_macro: --opt value, --opt=value, -opt value.
    std::string_view arg = argv[i];
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
  if (procs < 1 || procs > 1024) usage("--procs must be in 1..1024");

  const Workload* w = nullptr;
  for (const Workload& cand : kWorkloads) {
    if (name == cand.name) w = &cand;
  }
  if (w == nullptr) usage(name.empty() ? "no --workload" : ("unknown workload " + name).c_str());
  if (w->run == nullptr) {
    std::fprintf(stderr, "fiber_peers: Boost.Fiber has no counterpart for workload %s\n", w->name);
    return 3;
  }
  const int64_t size = n != 0 ? n : w->default_n;

  Result r;
  {
    Pool pool(static_cast<int>(procs));
    std::fprintf(stderr, "fiber_peers: %s, %d thread(s), %zu B stacks\n",
                 procs > 1 ? "work_stealing" : "round_robin", static_cast<int>(procs),
                 kStackBytes);
    // The workload body runs in an ordinary fiber, like gort's and Go's main goroutine: the
    // thread's main fiber is pinned and could never be stolen.
    // It also prints the checks, so it gets room for stdio.
    bf::fiber body = spawn([&] { r = w->run(size); }, 256 * 1024);
    body.join();
  }
  if (!r.ok) return 1;
  std::printf("RESULT runtime=fiber workload=%s procs=%d value=%.1f unit=%s", w->name,
              static_cast<int>(procs), r.value, r.unit);
  if (r.note != nullptr) std::printf(" note=%s", r.note);
  std::printf("\n");
  std::fflush(stdout);
  return 0;
}
