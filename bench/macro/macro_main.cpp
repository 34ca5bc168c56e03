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
#include <gort/chan.hpp>
#include <gort/net.hpp>
#include <gort/select.hpp>

#include <algorithm>
#include <atomic>
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
#include <vector>

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

// ---- mutex: 4 goroutines, each doing n/4 lock/increment/unlock on one gort::Mutex -----------
// Value: total time / n, i.e. ns per lock+unlock pair under contention. Checks the counter.

Result run_mutex(int64_t n) {
  constexpr int kGoroutines = 4;
  const int64_t per = n / kGoroutines;
  gort::Mutex mu;
  int64_t counter = 0;
  gort::WaitGroup wg;
  wg.add(kGoroutines);
  auto start = Clock::now();
  for (int g = 0; g < kGoroutines; ++g) {
    gort::go([per, &mu, &counter, &wg] {
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
  Result r{ns / static_cast<double>(kGoroutines * per), "ns_per_lock"};
  r.ok = check(counter == kGoroutines * per,
               "counter " + std::to_string(counter) + " == " + std::to_string(kGoroutines * per));
  return r;
}

// ---- timers: n goroutines, each sleeping a random 0-100 ms (a fixed pseudo-random sequence) ---
// Value: (time from the first spawn to the last wake-up - 100 ms) / n, i.e. the runtime's cost
// per timed goroutine (spawn, arm, fire, wake, exit) beyond the longest sleep. Checks that no
// goroutine woke before its deadline.

Result run_timers(int64_t n) {
  gort::WaitGroup wg;
  std::atomic<int64_t> early{0};
  wg.add(n);
  auto start = Clock::now();
  for (int64_t i = 0; i < n; ++i) {
    uint32_t x = static_cast<uint32_t>(i) * 2654435761u;
    auto d = std::chrono::microseconds(x % 100'000);
    gort::go([d, &wg, &early] {
      auto deadline = Clock::now() + d;
      gort::sleep_for(d);
      if (Clock::now() < deadline) early.fetch_add(1, std::memory_order_relaxed);
      wg.done();
    });
  }
  wg.wait();
  double ns = ns_since(start) - 100e6;
  Result r{ns / static_cast<double>(n), "ns_per_timer"};
  r.ok = check(early.load() == 0, std::to_string(early.load()) + " goroutines woke early (want 0)");
  return r;
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

// ---- channel workloads (same as bench/peers/go/chan_workloads.go) -----------------------------

// pingpong: n round trips over two unbuffered channels; ns per round trip.
Result run_pingpong(int64_t n) {
  gort::Chan<int64_t> ping, pong;
  gort::go([ping, pong]() mutable {
    while (auto v = ping.recv()) pong.send(*v);
  });
  int64_t bad = 0;
  auto start = Clock::now();
  for (int64_t i = 0; i < n; ++i) {
    ping.send(i);
    if (pong.recv() != i) ++bad;
  }
  double ns = ns_since(start);
  ping.close();
  Result r{ns / static_cast<double>(n), "ns_per_roundtrip"};
  r.ok = bad == 0;
  return r;
}

// ring: n goroutines in a ring of unbuffered channels pass a token 1000 times around; ns per hop.
Result run_ring(int64_t n) {
  constexpr int kLaps = 1000;
  std::vector<gort::Chan<int64_t>> links(static_cast<size_t>(n) + 1);
  for (int64_t i = 0; i < n; ++i) {
    gort::go([in = links[i], out = links[i + 1]]() mutable {
      while (auto v = in.recv()) out.send(*v + 1);
      out.close();
    });
  }
  int64_t bad = 0;
  auto start = Clock::now();
  for (int l = 0; l < kLaps; ++l) {
    links[0].send(0);
    if (links[n].recv() != n) ++bad;
  }
  double ns = ns_since(start);
  links[0].close();
  while (links[n].recv()) {
  }
  Result r{ns / static_cast<double>(kLaps * n), "ns_per_hop"};
  r.ok = bad == 0;
  return r;
}

// mpmc: 4 producers, 4 consumers, n ints through a channel of capacity 128; ns per message.
Result run_mpmc(int64_t n) {
  gort::Chan<int64_t> ch(128);
  gort::WaitGroup prod, cons;
  std::atomic<int64_t> total{0};
  const int64_t per = n / 4;
  auto start = Clock::now();
  prod.add(4);
  cons.add(4);
  for (int p = 0; p < 4; ++p) {
    gort::go([&, ch]() mutable {
      for (int64_t i = 0; i < per; ++i) ch.send(i);
      prod.done();
    });
  }
  for (int c = 0; c < 4; ++c) {
    gort::go([&, ch]() mutable {
      int64_t sum = 0;
      for (int64_t v : ch) sum += v;
      total.fetch_add(sum);
      cons.done();
    });
  }
  prod.wait();
  ch.close();
  cons.wait();
  double ns = ns_since(start);
  Result r{ns / static_cast<double>(4 * per), "ns_per_msg"};
  r.ok = total.load() == 4 * (per * (per - 1) / 2);
  return r;
}

// selectK: a producer per channel keeps k unbuffered channels busy; one consumer selects over
// all k, n times; ns per select.
template <int K>
Result run_select(int64_t n) {
  std::vector<gort::Chan<int>> chans(K);
  gort::Chan<bool> done;
  gort::WaitGroup producers;
  producers.add(K);
  for (int i = 0; i < K; ++i) {
    gort::go([&, c = chans[i], done]() mutable {
      bool stop = false;
      while (!stop) {
        gort::select(gort::send_case(c, 1), gort::recv_case(done, [&](std::optional<bool>) { stop = true; }));
      }
      producers.done();
    });
  }
  int64_t got = 0;
  auto take = [&](std::optional<int> v) { got += v.value_or(0); };
  auto start = Clock::now();
  for (int64_t i = 0; i < n; ++i) {
    if constexpr (K == 2) {
      gort::select(gort::recv_case(chans[0], take), gort::recv_case(chans[1], take));
    } else {
      gort::select(gort::recv_case(chans[0], take), gort::recv_case(chans[1], take),
                   gort::recv_case(chans[2], take), gort::recv_case(chans[3], take));
    }
  }
  double ns = ns_since(start);
  done.close();
  producers.wait();
  Result r{ns / static_cast<double>(n), "ns_per_select"};
  r.ok = got == n;
  return r;
}

// skynet_chan: the original skynet; children report on an unbuffered channel per node.
void skynet_chan(gort::Chan<int64_t> out, int64_t num, int64_t size) {
  if (size == 1) {
    out.send(num);
    return;
  }
  gort::Chan<int64_t> rc;
  const int64_t sub = size / 10;
  for (int64_t i = 0; i < 10; ++i) {
    gort::go([rc, num, i, sub] { skynet_chan(rc, num + i * sub, sub); });
  }
  int64_t sum = 0;
  for (int i = 0; i < 10; ++i) sum += *rc.recv();
  out.send(sum);
}

Result run_skynet_chan(int64_t n) {
  const int64_t size = skynet_size(n);
  gort::Chan<int64_t> c;
  auto start = Clock::now();
  gort::go([c, size] { skynet_chan(c, 0, size); });
  int64_t result = *c.recv();
  double ms = ns_since(start) / 1e6;
  Result r{ms, "ms"};
  r.ok = size != 0 && result == size * (size - 1) / 2;
  return r;
}

// ---- tcpecho: in-process TCP echo over loopback (same as bench/peers/go/net_workloads.go) ----
// kTcpEchoConns connections, each with a client goroutine that sends 64 bytes and waits for them
// to come back, and a server goroutine that echoes; n round trips in all; ns per round trip.
// Both ends live in this process, so at 2 procs both CPUs run the runtime under test: the
// scaling from 1 to 2 procs shows what spreading network work over threads costs (wake-ups,
// polls, stealing, shared cache lines), which the echo benchmark's external client hides on a
// machine where it shares the CPUs.

constexpr int kTcpEchoConns = 100;
constexpr size_t kTcpEchoSize = 64;

Result run_tcpecho(int64_t n) {
  Result r{0, "ns_per_roundtrip"};
  auto ln = gort::net::listen_tcp("127.0.0.1:0");
  if (!check(ln.ok(), "listen on 127.0.0.1:0")) return {0, "", nullptr, false};
  auto addr = ln->local_address();
  if (!check(addr.ok(), "listener address")) return {0, "", nullptr, false};
  std::atomic<int64_t> served{0};
  gort::WaitGroup servers;
  servers.add(kTcpEchoConns);
  gort::go([&] {
    for (int i = 0; i < kTcpEchoConns; ++i) {
      auto c = ln->accept();
      if (!c) {
        servers.done();
        continue;
      }
      (void)c->set_nodelay(true);
      gort::go([&, conn = *c]() mutable {
        char buf[4096];
        while (auto got = conn.read(buf, sizeof buf)) {
          if (*got == 0 || !conn.write_all(buf, *got)) break;
          served.fetch_add(static_cast<int64_t>(*got), std::memory_order_relaxed);
        }
        conn.close();
        servers.done();
      });
    }
  });
  std::vector<gort::net::Conn> conns;
  for (int i = 0; i < kTcpEchoConns; ++i) {
    auto c = gort::net::dial(*addr);
    if (!c.ok()) {
      check(false, "dial " + addr->to_string() + ": " + c.error().message());
      // The acceptor and the servers refer to this frame: end them before leaving it.
      ln->close();
      for (auto& open : conns) open.close();
      servers.wait();
      return {0, "", nullptr, false};
    }
    (void)c->set_nodelay(true);
    conns.push_back(*c);
  }
  check(true, std::to_string(kTcpEchoConns) + " connections to " + addr->to_string());
  const int64_t per = std::max<int64_t>(1, n / kTcpEchoConns);
  std::atomic<int64_t> bad{0};
  gort::WaitGroup clients;
  clients.add(kTcpEchoConns);
  auto start = Clock::now();
  for (int i = 0; i < kTcpEchoConns; ++i) {
    gort::go([&, conn = conns[static_cast<size_t>(i)], i]() mutable {
      char out[kTcpEchoSize], in[kTcpEchoSize];
      for (int64_t k = 0; k < per; ++k) {
        std::memset(out, static_cast<int>((i + k) & 0xff), sizeof out);
        if (!conn.write_all(out, sizeof out) || !conn.read_exact(in, sizeof in) ||
            std::memcmp(in, out, sizeof in) != 0) {
          bad.fetch_add(1, std::memory_order_relaxed);
          break;
        }
      }
      clients.done();
    });
  }
  clients.wait();
  const double ns = ns_since(start);
  for (auto& c : conns) c.close();
  servers.wait();
  const int64_t want = per * kTcpEchoConns * static_cast<int64_t>(kTcpEchoSize);
  r.ok = check(bad.load() == 0, "every round trip came back intact") &&
         check(served.load() == want, "server echoed " + std::to_string(served.load()) +
                                          " bytes (want " + std::to_string(want) + ")");
  r.value = ns / static_cast<double>(per * kTcpEchoConns);
  return r;
}

struct Workload {
  const char* name;
  int64_t default_n;    // standard size (what compare.sh runs)
  Result (*run)(int64_t n);  // nullptr: not available on gort yet
};

constexpr Workload kWorkloads[] = {
    {"spawn", 1'000'000, run_spawn},
    {"skynet", 1'000'000, run_skynet},
    {"skynet_chan", 1'000'000, run_skynet_chan},
    {"pingpong", 1'000'000, run_pingpong},
    {"ring", 1'000, run_ring},
    {"mpmc", 2'000'000, run_mpmc},
    {"select2", 2'000'000, run_select<2>},
    {"select4", 2'000'000, run_select<4>},
    {"fib", 35, run_fib},
    {"yield", 10'000'000, run_yield},
    {"parked", 1'000'000, run_parked},
    {"timers", 1'000'000, run_timers},
    {"mutex", 10'000'000, run_mutex},
    {"tcpecho", 400'000, run_tcpecho},
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
