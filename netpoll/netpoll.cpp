// Backend selection and the scheduler-facing netpoll calls (netpoll.hpp).
#include "netpoll/netpoll.hpp"

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>

#include "netpoll/backend.hpp"
#include "netpoll/backends.hpp"
#include "netpoll/poll_desc.hpp"
#include "runtime/sched.hpp"
#include "runtime/lock_rank.hpp"

namespace gort::rt::netpoll {

namespace {

RankedMutex init_mu{LockRank::kNetpollInit};
// Layout: every socket operation reads g_backend, g_runs_ops and g_ring_reads; every park on an
// fd and every wake-up from one writes g_waiters, every poll g_last_poll. When they shared a
// line, each of those writes took the line from the other M's next socket operation: perf put
// ~1% of an in-process TCP echo at 2 procs (bench tcpecho) on the load of g_backend. The written
// ones now have lines of their own (kCacheLine: the destructive-interference size of x86-64 and
// arm64). Throughput on the 2-vCPU development VM did not move measurably (A/B, 0.995-0.999x).
constexpr size_t kCacheLine = 64;
std::atomic<Backend*> g_backend{nullptr};  // set once (release), never replaced
std::string g_auto_note;                   // set once under init_mu, before g_backend
std::atomic<bool> g_announced{false};
// Config::uring_reads == kRing for the run in progress; set by init before any goroutine runs (the
// runtime's start publishes it), read on every stream read.
std::atomic<bool> g_ring_reads{true};
// The backend runs operations itself (io_uring); cached at init so that the question, asked on
// every socket operation, costs two loads instead of a virtual call.
std::atomic<bool> g_runs_ops{false};
// alignas on the type pads each to whole lines, so nothing else is placed beside them.
struct alignas(kCacheLine) WaiterCounts {
  std::atomic<int64_t> all{0};
  std::atomic<int64_t> ring{0};  // relaxed: only a hint for polling
};
struct alignas(kCacheLine) PollStamp {
  std::atomic<int64_t> ns{1};  // 0 while an M blocks in poll()
};
WaiterCounts g_waiters;
PollStamp g_last_poll;

const char* poller_name(Poller p) {
  switch (p) {
    case Poller::kEpoll: return "epoll";
    case Poller::kIoUring: return "io_uring";
    default: return "auto";
  }
}

}  // namespace

void init(const Config& config) {
  std::lock_guard<RankedMutex> lock(init_mu);
  g_ring_reads.store(config.uring_reads == UringReads::kRing, std::memory_order_relaxed);
  Backend* b = g_backend.load(std::memory_order_acquire);
  if (b != nullptr) {
    // The poller outlives runtimes (sockets may too); a later run asking for the other backend
    // is told so rather than silently given the first one.
    const std::string have = b->name();
    if ((config.poller == Poller::kEpoll && have != "epoll") ||
        (config.poller == Poller::kIoUring && have != "io_uring")) {
      throw std::runtime_error(std::string("gort: poller ") + poller_name(config.poller) +
                               " requested, but this process already uses " + have);
    }
    return;
  }
  std::string why;
  switch (config.poller) {
    case Poller::kEpoll:
      b = make_epoll_backend();
      break;
    case Poller::kIoUring:
      b = make_uring_backend(&why);
      if (b == nullptr) {
        throw std::runtime_error("gort: GORT_POLLER=io_uring requested but io_uring is unavailable: " +
                                 why);
      }
      break;
    case Poller::kAuto:
      b = make_uring_backend(&why);
      if (b == nullptr) {
        b = make_epoll_backend();
        g_auto_note = "gort: netpoller: epoll (auto: io_uring unavailable: " + why + ")\n";
      } else {
        g_auto_note = "gort: netpoller: io_uring (auto: the io_uring probe passed)\n";
      }
      break;
  }
  if (std::getenv("GORT_POLLER_VERBOSE") != nullptr) {
    std::fprintf(stderr, "gort: netpoller: %s%s\n", b->name(),
                 !b->runs_operations()                       ? ""
                 : config.uring_reads == UringReads::kRing ? " (stream reads in the ring)"
                                                             : " (stream reads on readiness)");
  }
  g_runs_ops.store(b->runs_operations(), std::memory_order_relaxed);
  g_backend.store(b, std::memory_order_release);
}

void announce() {
  if (g_auto_note.empty() || g_announced.exchange(true, std::memory_order_acq_rel)) return;
  std::fputs(g_auto_note.c_str(), stderr);
}

bool io_uring_available(std::string* why) {
  std::unique_ptr<Backend> probe(make_uring_backend(why));
  return probe != nullptr;
}

bool active() { return g_backend.load(std::memory_order_acquire) != nullptr; }
Backend* backend() { return g_backend.load(std::memory_order_acquire); }
const char* backend_name() {
  Backend* b = backend();
  return b ? b->name() : "none";
}

bool runs_in_ring(OpKind kind) {
  // g_runs_ops is written before g_backend's release store; every caller already reached the
  // backend through an acquire load (its fd is registered), so the relaxed load sees it.
  if (!g_runs_ops.load(std::memory_order_relaxed)) return false;
  if (kind == OpKind::kRecv || kind == OpKind::kRecvMsg) {
    return g_ring_reads.load(std::memory_order_relaxed);
  }
  return true;
}

int64_t waiters() { return g_waiters.all.load(std::memory_order_seq_cst); }
void waiter_added() { g_waiters.all.fetch_add(1, std::memory_order_seq_cst); }
void waiter_removed() { g_waiters.all.fetch_sub(1, std::memory_order_seq_cst); }
void ring_waiter_added() { g_waiters.ring.fetch_add(1, std::memory_order_relaxed); }
void ring_waiter_removed() { g_waiters.ring.fetch_sub(1, std::memory_order_relaxed); }
int64_t readiness_waiters() {
  return g_waiters.all.load(std::memory_order_seq_cst) -
         g_waiters.ring.load(std::memory_order_relaxed);
}

G* poll(int64_t timeout_ns, uint32_t* n) {
  *n = 0;
  Backend* b = backend();
  if (b == nullptr) return nullptr;
  if (timeout_ns != 0) g_last_poll.ns.store(0, std::memory_order_seq_cst);
  G* list = b->poll(timeout_ns, n);
  g_last_poll.ns.store(now_ns(), std::memory_order_relaxed);
  return list;
}

G* poll_own(M* m, uint32_t* n) {
  *n = 0;
  Backend* b = backend();
  return b ? b->poll_own(m, n) : nullptr;
}

G* park_m(M* m, int64_t timeout_ns, bool watch_fds, uint32_t* n) {
  *n = 0;
  Backend* b = backend();
  if (b == nullptr) return nullptr;
  // The M watching the epoll set counts as blocked in the poller (find_runnable skips its own
  // non-blocking poll then; sysmon's 10 ms rule waits).
  if (watch_fds) g_last_poll.ns.store(0, std::memory_order_seq_cst);
  G* list = b->park_m(m, timeout_ns, watch_fds, n);
  if (watch_fds) g_last_poll.ns.store(now_ns(), std::memory_order_relaxed);
  return list;
}

G* release_ring_ops(M* m, uint32_t* n) {
  *n = 0;
  Backend* b = backend();
  return b ? b->release_ring_ops(m, n) : nullptr;
}

void thread_exit(M* m) {
  if (Backend* b = backend()) b->thread_exit(m);
}

void wake_poller() {
  if (Backend* b = backend()) b->wake();
}

void forget_waiters() {
  // (Ring operations were drained by their Ms' thread_exit.)
  pd_forget_all_waiters();
  g_waiters.all.store(0, std::memory_order_seq_cst);
  g_waiters.ring.store(0, std::memory_order_relaxed);
  g_last_poll.ns.store(1, std::memory_order_relaxed);
}

int64_t last_poll_ns() { return g_last_poll.ns.load(std::memory_order_relaxed); }

}  // namespace gort::rt::netpoll
