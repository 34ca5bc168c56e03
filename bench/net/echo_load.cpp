// echo_load: the neutral closed-loop load client for every TCP echo server in
// bench/net_compare.sh. Plain C++20, pthreads (std::thread) and epoll; no gort.
//
//   echo_load --addr HOST:PORT --conns N --size B --duration S [--threads T] [--warmup S]
//             [--server-pid PID]
//
// N connections are spread over T threads (each with its own epoll set, edge-triggered). Every
// connection keeps exactly one message in flight: it sends B bytes, waits until all B bytes are
// back, checks them (the content differs per connection and per message, so a misrouted or
// reordered echo is caught), records the latency from the first send() to the last byte back,
// and sends the next one at once. After --warmup seconds (default 1) the counters are reset and
// the run is measured for --duration seconds.
//
// Output on stdout, one machine-readable line and one for people:
//   RESULT msgs_per_s=X p50_us=Y p99_us=Z errors=E stalled=K p90_us=.. p999_us=.. max_us=.. conns=N
//          size=B duration_s=D client_cpu_s=C [server_cpu_s=S]
//   echo_load: ...
// errors counts connections that failed (connect error, reset, EOF, wrong or extra bytes);
// failed connections are not reopened. stalled counts live connections that completed no message
// in the measured interval (a server that stopped answering them). With --server-pid,
// server_cpu_s is the user+system CPU time of that process and all its descendants (all threads)
// during the measured interval, from /proc/PID/stat. Exit status: 0 when messages were measured,
// 1 when none were, 2 usage error.
//
// Build: g++ -O2 -std=c++20 -pthread -o echo_load echo_load.cpp (bench/net_compare.sh does it).

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cinttypes>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace {

// ---- options
// -------------------------------------------------------------------------------------

struct Options {
  std::string host = "127.0.0.1";
  std::string port;
  int conns = 100;
  size_t size = 64;
  double duration = 5.0;
  double warmup = 1.0;
  int threads = 2;
  long server_pid = 0;
};

[[noreturn]] void usage(const char* why) {
  std::fprintf(stderr,
               "echo_load: %s\n"
               "usage: echo_load --addr HOST:PORT --conns N --size B --duration S [--threads T] "
               "[--warmup S] [--server-pid PID]\n",
               why);
  std::exit(2);
}

Options parse(int argc, char** argv) {
  Options o;
  bool have_addr = false;
  for (int i = 1; i < argc; i++) {
    std::string a = argv[i];
    std::string v;
    if (a.rfind("--", 0) == 0 && a.find('=') != std::string::npos) {
      v = a.substr(a.find('=') + 1);
      a = a.substr(0, a.find('='));
    } else if (i + 1 < argc) {
      v = argv[++i];
    } else {
      usage(("missing value for " + a).c_str());
    }
    char* end = nullptr;
    auto num = [&](double lo) {
      double d = std::strtod(v.c_str(), &end);
      if (v.empty() || *end || !(d >= lo)) usage(("bad value for " + a + ": " + v).c_str());
      return d;
    };
    if (a == "--addr") {
      auto colon = v.rfind(':');
      if (colon == std::string::npos) usage("--addr wants HOST:PORT");
      o.host = v.substr(0, colon);
      o.port = v.substr(colon + 1);
      if (o.host.size() >= 2 && o.host.front() == '[' && o.host.back() == ']')
        o.host = o.host.substr(1, o.host.size() - 2);
      if (o.host.empty()) o.host = "127.0.0.1";
      have_addr = true;
    } else if (a == "--conns") {
      o.conns = static_cast<int>(num(1));
    } else if (a == "--size") {
      o.size = static_cast<size_t>(num(1));
      if (o.size > (size_t{16} << 20)) usage("--size is at most 16 MiB");
    } else if (a == "--duration") {
      o.duration = num(0.01);
    } else if (a == "--warmup") {
      o.warmup = num(0);
    } else if (a == "--threads") {
      o.threads = static_cast<int>(num(1));
    } else if (a == "--server-pid") {
      o.server_pid = static_cast<long>(num(1));
    } else {
      usage(("unknown option " + a).c_str());
    }
  }
  if (!have_addr) usage("--addr is required");
  o.threads = std::min(o.threads, o.conns);
  return o;
}

// ---- time, latency histogram --------------------------------------------------------------------

inline uint64_t now_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000u + static_cast<uint64_t>(ts.tv_nsec);
}

// Log-linear histogram of nanoseconds: exact below 64 ns, then 64 buckets per power of two
// (relative error under 1.6%).
class Histogram {
 public:
  static constexpr int kSub = 6;  // 2^6 buckets per octave
  static constexpr int kBuckets = (64 - kSub + 1) << kSub;

  void add(uint64_t v) {
    counts_[index(v)]++;
    n_++;
    max_ = std::max(max_, v);
  }
  void merge(const Histogram& o) {
    for (int i = 0; i < kBuckets; i++) counts_[i] += o.counts_[i];
    n_ += o.n_;
    max_ = std::max(max_, o.max_);
  }
  uint64_t count() const { return n_; }
  uint64_t max() const { return max_; }
  // Value at quantile q (0..1): the middle of the bucket holding the ceil(q*n)-th value.
  double quantile(double q) const {
    if (n_ == 0) return 0;
    uint64_t rank = static_cast<uint64_t>(std::ceil(q * static_cast<double>(n_)));
    if (rank < 1) rank = 1;
    if (rank > n_) rank = n_;
    uint64_t seen = 0;
    for (int i = 0; i < kBuckets; i++) {
      seen += counts_[i];
      if (seen >= rank) return std::min(mid(i), static_cast<double>(max_));
    }
    return static_cast<double>(max_);
  }

 private:
  static int index(uint64_t v) {
    if (v < (1u << kSub)) return static_cast<int>(v);
    int e = 63 - __builtin_clzll(v);  // >= kSub
    uint64_t sub = (v >> (e - kSub)) - (1u << kSub);
    return ((e - kSub + 1) << kSub) + static_cast<int>(sub);
  }
  static double mid(int i) {
    if (i < (1 << kSub)) return i;
    int e = (i >> kSub) + kSub - 1;
    uint64_t sub = static_cast<uint64_t>(i & ((1 << kSub) - 1));
    double lo = static_cast<double>(((uint64_t{1} << kSub) + sub) << (e - kSub));
    return lo + static_cast<double>(uint64_t{1} << (e - kSub)) / 2.0;
  }
  std::vector<uint64_t> counts_ = std::vector<uint64_t>(kBuckets);
  uint64_t n_ = 0, max_ = 0;
};

// ---- CPU time of a process tree from /proc ------------------------------------------------------

// user+system ticks of pid and all its descendants (each /proc/PID/stat covers all its threads).
long long tree_cpu_ticks(long root) {
  std::map<long, std::pair<long, long long>> procs;  // pid -> (ppid, ticks)
  DIR* d = opendir("/proc");
  if (!d) return -1;
  while (dirent* de = readdir(d)) {
    char* end;
    long pid = std::strtol(de->d_name, &end, 10);
    if (*end || pid <= 0) continue;
    char path[64], buf[1024];
    std::snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) continue;
    buf[n] = 0;
    const char* p = std::strrchr(buf, ')');  // comm may hold spaces and parentheses
    if (!p) continue;
    // after ") ": state(3) ppid(4) ... utime(14) stime(15)
    char state;
    long ppid;
    unsigned long long f[11];
    if (std::sscanf(p + 2, "%c %ld %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu", &state,
                    &ppid, &f[0], &f[1], &f[2], &f[3], &f[4], &f[5], &f[6], &f[7], &f[8], &f[9],
                    &f[10]) != 13)
      continue;
    procs[pid] = {ppid, static_cast<long long>(f[9] + f[10])};
  }
  closedir(d);
  if (!procs.count(root)) return -1;
  long long total = 0;
  std::vector<long> stack{root};
  while (!stack.empty()) {
    long p = stack.back();
    stack.pop_back();
    total += procs[p].second;
    for (auto& [pid, info] : procs)
      if (info.first == p) stack.push_back(pid);
  }
  return total;
}

double process_cpu_s() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

// ---- the load
// ------------------------------------------------------------------------------------

enum Phase : int { kConnecting, kWarmup, kMeasure, kStop };
std::atomic<int> g_phase{kConnecting};

struct Conn {
  int fd = -1;
  uint32_t id = 0;
  uint64_t seq = 0;
  size_t sent = 0, got = 0;
  uint64_t t0 = 0;
  uint64_t measured = 0;  // messages completed in the measured interval
  bool dead = false;
  std::unique_ptr<unsigned char[]> out, in;  // in has one spare byte to catch extra data
};

inline uint64_t mix(uint64_t x) {  // splitmix64 finaliser
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

void fill(Conn& c, size_t size) {
  uint64_t x = mix((static_cast<uint64_t>(c.id) << 40) ^ c.seq);
  unsigned char* p = c.out.get();
  size_t i = 0;
  for (; i + 8 <= size; i += 8) {
    std::memcpy(p + i, &x, 8);
    x = x * 6364136223846793005ull + 1442695040888963407ull;
  }
  for (; i < size; i++) p[i] = static_cast<unsigned char>(x >> (8 * (i & 7)));
}

struct Worker {
  const Options* opt = nullptr;
  int first_id = 0, nconns = 0;
  std::vector<Conn> conns;
  Histogram hist;
  uint64_t measured = 0;
  uint64_t errors = 0;
  std::vector<std::string> error_notes;  // the first few, for stderr
  std::atomic<bool> connected{false};

  void fail(Conn& c, const char* what, int err) {
    if (c.dead) return;
    c.dead = true;
    errors++;
    if (error_notes.size() < 5) {
      char buf[160];
      std::snprintf(buf, sizeof buf, "conn %u: %s%s%s", c.id, what, err ? ": " : "",
                    err ? std::strerror(err) : "");
      error_notes.emplace_back(buf);
    }
    if (c.fd >= 0) {
      close(c.fd);
      c.fd = -1;
    }
  }

  void start_message(Conn& c, uint64_t t) {
    c.seq++;
    fill(c, opt->size);
    c.sent = c.got = 0;
    c.t0 = t;
    do_send(c);
  }

  void do_send(Conn& c) {
    while (c.sent < opt->size) {
      ssize_t n = ::send(c.fd, c.out.get() + c.sent, opt->size - c.sent, MSG_NOSIGNAL);
      if (n > 0) {
        c.sent += static_cast<size_t>(n);
      } else if (n < 0 && errno == EINTR) {
        continue;
      } else if (n < 0 && errno == EAGAIN) {
        return;  // EPOLLOUT (edge) resumes it
      } else {
        fail(c, "send", n < 0 ? errno : 0);
        return;
      }
    }
  }

  void do_recv(Conn& c) {
    const size_t size = opt->size;
    while (!c.dead) {
      ssize_t n = ::recv(c.fd, c.in.get() + c.got, size + 1 - c.got, 0);
      if (n > 0) {
        c.got += static_cast<size_t>(n);
        if (c.got > size || c.got > c.sent) {
          fail(c, "server sent bytes that were not sent to it", 0);
          return;
        }
        if (c.got < size) continue;
        uint64_t t = now_ns();
        if (std::memcmp(c.in.get(), c.out.get(), size) != 0) {
          fail(c, "echoed bytes differ from the bytes sent", 0);
          return;
        }
        int ph = g_phase.load(std::memory_order_relaxed);
        if (ph == kMeasure) {
          hist.add(t - c.t0);
          measured++;
          c.measured++;
        } else if (ph == kStop) {
          return;
        }
        start_message(c, t);
        // The answer may already be here; the recv loop goes on until EAGAIN.
      } else if (n == 0) {
        fail(c, "server closed the connection", 0);
        return;
      } else if (errno == EINTR) {
        continue;
      } else if (errno == EAGAIN) {
        return;
      } else {
        fail(c, "recv", errno);
        return;
      }
    }
  }

  int open_conn(Conn& c, const addrinfo* ai) {
    int fd = ::socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -errno;
    if (::connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
      int e = errno;
      close(fd);
      return -e;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    c.fd = fd;
    return 0;
  }

  void run(const addrinfo* ai) {
    const size_t size = opt->size;
    conns.resize(static_cast<size_t>(nconns));
    int ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0) {
      std::perror("epoll_create1");
      std::exit(1);
    }
    for (int i = 0; i < nconns; i++) {
      Conn& c = conns[static_cast<size_t>(i)];
      c.id = static_cast<uint32_t>(first_id + i);
      c.out.reset(new unsigned char[size]);
      c.in.reset(new unsigned char[size + 1]);
      int rc = open_conn(c, ai);
      if (rc != 0) {
        fail(c, "connect", -rc);
        continue;
      }
      epoll_event ev{};
      ev.events = EPOLLIN | EPOLLOUT | EPOLLET;
      ev.data.ptr = &c;
      if (epoll_ctl(ep, EPOLL_CTL_ADD, c.fd, &ev) != 0) fail(c, "epoll_ctl", errno);
    }
    connected.store(true);
    while (g_phase.load() == kConnecting) std::this_thread::sleep_for(std::chrono::milliseconds(1));

    uint64_t t = now_ns();
    for (auto& c : conns)
      if (!c.dead) start_message(c, t);

    std::vector<epoll_event> evs(512);
    while (g_phase.load(std::memory_order_relaxed) != kStop) {
      int n = epoll_wait(ep, evs.data(), static_cast<int>(evs.size()), 20);
      if (n < 0) {
        if (errno == EINTR) continue;
        std::perror("epoll_wait");
        std::exit(1);
      }
      for (int i = 0; i < n; i++) {
        Conn& c = *static_cast<Conn*>(evs[static_cast<size_t>(i)].data.ptr);
        if (c.dead) continue;
        uint32_t e = evs[static_cast<size_t>(i)].events;
        if ((e & EPOLLOUT) && c.sent < size) do_send(c);
        if (!c.dead && (e & (EPOLLIN | EPOLLHUP | EPOLLERR))) do_recv(c);
      }
    }
    for (auto& c : conns)
      if (c.fd >= 0) close(c.fd);
    close(ep);
  }
};

}  // namespace

int main(int argc, char** argv) {
  Options opt = parse(argc, argv);
  signal(SIGPIPE, SIG_IGN);

  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  getrlimit(RLIMIT_NOFILE, &rl);
  if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < static_cast<rlim_t>(opt.conns) + 64)
    std::fprintf(stderr, "echo_load: warning: RLIMIT_NOFILE %llu is low for %d connections\n",
                 static_cast<unsigned long long>(rl.rlim_cur), opt.conns);

  addrinfo hints{}, *ai = nullptr;
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  if (int rc = getaddrinfo(opt.host.c_str(), opt.port.c_str(), &hints, &ai); rc != 0) {
    std::fprintf(stderr, "echo_load: %s:%s: %s\n", opt.host.c_str(), opt.port.c_str(),
                 gai_strerror(rc));
    return 2;
  }

  std::vector<std::unique_ptr<Worker>> workers;
  int next = 0;
  for (int t = 0; t < opt.threads; t++) {
    auto w = std::make_unique<Worker>();
    w->opt = &opt;
    w->first_id = next;
    w->nconns = opt.conns / opt.threads + (t < opt.conns % opt.threads ? 1 : 0);
    next += w->nconns;
    workers.push_back(std::move(w));
  }
  std::vector<std::thread> threads;
  for (auto& w : workers) threads.emplace_back([&w, ai] { w->run(ai); });

  // Connect everything first, then warm up, then measure.
  const uint64_t t_connect = now_ns();
  for (auto& w : workers)
    while (!w->connected.load()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  const double connect_s = static_cast<double>(now_ns() - t_connect) / 1e9;
  g_phase.store(kWarmup);
  std::this_thread::sleep_for(std::chrono::duration<double>(opt.warmup));

  long long srv0 = opt.server_pid ? tree_cpu_ticks(opt.server_pid) : -1;
  double cli0 = process_cpu_s();
  uint64_t t0 = now_ns();
  g_phase.store(kMeasure);
  std::this_thread::sleep_for(std::chrono::duration<double>(opt.duration));
  g_phase.store(kStop);
  uint64_t t1 = now_ns();
  long long srv1 = opt.server_pid ? tree_cpu_ticks(opt.server_pid) : -1;
  double cli1 = process_cpu_s();
  for (auto& th : threads) th.join();
  freeaddrinfo(ai);

  Histogram all;
  uint64_t msgs = 0, errors = 0, stalled = 0;
  for (auto& w : workers) {
    for (auto& c : w->conns)
      if (!c.dead && c.measured == 0) stalled++;
    all.merge(w->hist);
    msgs += w->measured;
    errors += w->errors;
    for (auto& note : w->error_notes) std::fprintf(stderr, "echo_load: %s\n", note.c_str());
  }
  const double secs = static_cast<double>(t1 - t0) / 1e9;
  const double rate = static_cast<double>(msgs) / secs;
  auto us = [&](double q) { return all.quantile(q) / 1000.0; };

  char server_cpu[64] = "", server_cpu_human[64] = "";
  if (opt.server_pid) {
    if (srv0 >= 0 && srv1 >= 0) {
      double s = static_cast<double>(srv1 - srv0) / static_cast<double>(sysconf(_SC_CLK_TCK));
      std::snprintf(server_cpu, sizeof server_cpu, " server_cpu_s=%.3f", s);
      std::snprintf(server_cpu_human, sizeof server_cpu_human, "; server CPU %.2f s", s);
    } else {
      std::snprintf(server_cpu, sizeof server_cpu, " server_cpu_s=nan");
      std::snprintf(server_cpu_human, sizeof server_cpu_human,
                    "; server CPU unknown (pid %ld gone?)", opt.server_pid);
    }
  }
  std::printf("RESULT msgs_per_s=%.1f p50_us=%.1f p99_us=%.1f errors=%" PRIu64 " stalled=%" PRIu64
              " p90_us=%.1f p999_us=%.1f max_us=%.1f conns=%d size=%zu duration_s=%.3f "
              "client_cpu_s=%.3f%s\n",
              rate, us(0.50), us(0.99), errors, stalled, us(0.90), us(0.999),
              static_cast<double>(all.max()) / 1000.0, opt.conns, opt.size, secs, cli1 - cli0,
              server_cpu);
  std::printf("echo_load: %s:%s, %d conns x %zu B, %d threads: %" PRIu64
              " msgs in %.2f s = %.0f msgs/s; "
              "latency p50 %.1f us, p90 %.1f us, p99 %.1f us, p99.9 %.1f us, max %.1f us; %" PRIu64
              " failed conns, %" PRIu64
              " live conns without a reply; connect %.3f s; client CPU %.2f s%s\n",
              opt.host.c_str(), opt.port.c_str(), opt.conns, opt.size, opt.threads, msgs, secs,
              rate, us(0.50), us(0.90), us(0.99), us(0.999),
              static_cast<double>(all.max()) / 1000.0, errors, stalled, connect_s, cli1 - cli0,
              server_cpu_human);
  return msgs > 0 ? 0 : 1;
}
