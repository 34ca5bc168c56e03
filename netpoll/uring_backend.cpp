// The io_uring backend: a proactor for the hot socket operations, on top of the epoll backend.
//
// What runs where:
//   - recv, send and accept of goroutines run as ring operations: the goroutine prepares an SQE
//     on its P's ring and parks; the completion readies it with the result. Nothing is tried
//     with a syscall first, so a message costs no recv/send syscall of its own (probes Q2).
//   - everything else (connect, UDP, Pollable, threads outside the runtime, goroutines inside
//     gort::blocking) uses the readiness path of the epoll base class; the fds stay registered
//     there too, so both paths work on every socket.
//
// Rings. One ring per P, created on the P's first operation and kept for the process. No
// SINGLE_ISSUER: the ring's owner changes with the P, and close() cancels from any thread; a
// SpinLock per ring serializes SQ and CQ access (uncontended in the common case: only the M
// holding the P touches its ring, except close() and pollers reaping an idle P's ring).
//
// Batching. SQEs are not submitted one by one: they accumulate while the P runs other goroutines
// and go in with one io_uring_enter when the P's M looks beyond its run queue (poll_own, in
// find_runnable), when 32 are pending, or by sysmon's poll after 10 ms of nobody polling.
//
// Completions. Each ring fd sits in the epoll set (edge-triggered; io_uring signals POLLIN on
// every CQE posted), so the M blocked in the poller wakes for any ring and reaps it (waiting for
// the ring's lock: its holder may already be past its own reap). An M with a P reaps its own
// ring in poll_own without a syscall (a CQ peek).
//
// Per-operation state (UringOp) lives on the parked goroutine's stack. Its `word` follows the
// PollDesc protocol (poll_desc.hpp): kPdWait until the goroutine commits to parking (-> G*), the
// completion turns either into kPdReady; exactly one side readies the goroutine. The goroutine
// stays parked until its CQE is reaped, so the kernel never writes to a dead frame. Deadlines are
// linked timeouts (absolute CLOCK_MONOTONIC): the operation ends with -ECANCELED and the
// goroutine maps that to timed_out when its deadline has passed.
#include <liburing.h>
#include <sys/utsname.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>

#include "netpoll/backends.hpp"
#include "netpoll/epoll_backend.hpp"
#include "netpoll/netpoll.hpp"
#include "runtime/machine.hpp"
#include "runtime/processor.hpp"
#include "runtime/sched.hpp"
#include "runtime/spin_lock.hpp"

namespace gort::rt::netpoll {

namespace {

constexpr unsigned kRingEntries = 1024;
constexpr uint32_t kFlushAt = 32;
constexpr uint32_t kMaxRings = 4096;

struct UringOp {
  std::atomic<uintptr_t> word{kPdWait};
  int64_t res = 0;
  __kernel_timespec ts{};
};

struct Ring {
  io_uring ring{};
  SpinLock lock;
  uint32_t unsubmitted = 0;  // under lock
  uint32_t inflight = 0;     // operations (not timeouts or cancels) without their CQE yet; lock
};

void commit_op(G* g, void* arg) {
  auto* op = static_cast<UringOp*>(arg);
  uintptr_t expected = kPdWait;
  if (op->word.compare_exchange_strong(expected, reinterpret_cast<uintptr_t>(g),
                                       std::memory_order_seq_cst)) {
    waiter_added();
    return;
  }
  ready(g);  // completed before we were switched out
}

class UringBackend final : public EpollBackend {
 public:
  const char* name() const override { return "io_uring"; }
  bool runs_operations() const override { return true; }

  int64_t run_op(PollDesc* pd, OpRequest& req) override {
    M* m = current_m();
    P* p = m->p;
    Ring* r = ring_for(p->id);
    if (r == nullptr) return -EAGAIN;  // no ring: the caller uses the readiness path
    UringOp op;
    const bool timed = req.deadline_ns != kNoTimer;
    if (timed) {
      op.ts.tv_sec = req.deadline_ns / 1000000000;
      op.ts.tv_nsec = req.deadline_ns % 1000000000;
    }
    pd->ring_ops.fetch_add(1, std::memory_order_seq_cst);
    {
      std::lock_guard<SpinLock> lock(r->lock);
      io_uring_sqe* sqe = get_sqe(r, timed ? 2 : 1);
      switch (req.kind) {
        case OpKind::kRecv:
          io_uring_prep_recv(sqe, pd->fd, req.buf, req.len, 0);
          break;
        case OpKind::kSend:
          io_uring_prep_send(sqe, pd->fd, req.buf, req.len, MSG_NOSIGNAL);
          break;
        case OpKind::kAccept:
          io_uring_prep_accept(sqe, pd->fd, static_cast<sockaddr*>(req.addr),
                               reinterpret_cast<socklen_t*>(req.addrlen),
                               SOCK_NONBLOCK | SOCK_CLOEXEC);
          break;
      }
      io_uring_sqe_set_data(sqe, &op);
      ++r->unsubmitted;
      ++r->inflight;
      if (timed) {
        sqe->flags |= IOSQE_IO_LINK;
        io_uring_sqe* t = io_uring_get_sqe(&r->ring);  // reserved by get_sqe
        io_uring_prep_link_timeout(t, &op.ts, IORING_TIMEOUT_ABS);
        io_uring_sqe_set_data(t, nullptr);
        ++r->unsubmitted;
      }
      if (r->unsubmitted >= kFlushAt) submit_locked(r);
    }
    G* g = m->curg;
    g->wait_reason = req.kind == OpKind::kSend ? "IO wait (io_uring send)"
                     : req.kind == OpKind::kAccept ? "IO wait (io_uring accept)"
                                                   : "IO wait (io_uring recv)";
    g->set_status(GStatus::kRunning, GStatus::kWaiting);
    park_nolock(commit_op, &op);
    g->wait_reason = nullptr;
    pd->ring_ops.fetch_sub(1, std::memory_order_seq_cst);
    return op.res;
  }

  void cancel(PollDesc* pd) override {
    const uint32_t n = nrings_.load(std::memory_order_acquire);
    for (uint32_t i = 0; i < n; ++i) {
      Ring* r = rings_[i].load(std::memory_order_acquire);
      if (r == nullptr) continue;
      std::lock_guard<SpinLock> lock(r->lock);
      io_uring_sqe* sqe = get_sqe(r, 1);
      io_uring_prep_cancel_fd(sqe, pd->fd, IORING_ASYNC_CANCEL_ALL);
      io_uring_sqe_set_data(sqe, nullptr);
      ++r->unsubmitted;
      submit_locked(r);
    }
  }

  void quiesce() override {
    const uint32_t count = nrings_.load(std::memory_order_acquire);
    for (uint32_t i = 0; i < count; ++i) {
      Ring* r = rings_[i].load(std::memory_order_acquire);
      if (r == nullptr) continue;
      std::lock_guard<SpinLock> lock(r->lock);
      if (r->inflight == 0) {
        if (r->unsubmitted > 0) submit_locked(r);
        continue;
      }
      io_uring_sqe* sqe = get_sqe(r, 1);
      io_uring_prep_cancel64(sqe, 0, IORING_ASYNC_CANCEL_ANY);
      io_uring_sqe_set_data(sqe, nullptr);
      submit_locked(r);
      G* dropped = nullptr;
      uint32_t n = 0;
      for (int spins = 0; r->inflight > 0 && spins < 10000; ++spins) {
        io_uring_cqe* cqe = nullptr;
        __kernel_timespec ts{0, 1000000};
        io_uring_wait_cqe_timeout(&r->ring, &cqe, &ts);
        reap_locked(r, &dropped, &n);  // abandoned with the runtime: not readied
      }
    }
  }

  G* poll_own(int p_id, uint32_t* n) override {
    *n = 0;
    if (static_cast<uint32_t>(p_id) >= nrings_.load(std::memory_order_acquire)) return nullptr;
    Ring* r = rings_[p_id].load(std::memory_order_acquire);
    if (r == nullptr) return nullptr;
    G* head = nullptr;
    std::lock_guard<SpinLock> lock(r->lock);
    if (r->unsubmitted > 0) submit_locked(r);
    reap_locked(r, &head, n);
    return head;
  }

  G* poll(int64_t timeout_ns, uint32_t* n) override {
    G* head = nullptr;
    uint32_t count = 0;
    // Without blocking (sysmon, find_runnable): flush and reap every ring nobody holds.
    if (timeout_ns == 0) sweep(&head, &count);
    uint32_t more = 0;
    G* list = EpollBackend::poll(timeout_ns, &more);
    append(&head, &count, list, more);
    *n = count;
    return head;
  }

  bool init(std::string* why) {
    io_uring probe_ring;
    int rc = io_uring_queue_init(8, &probe_ring, 0);
    if (rc < 0) {
      *why = describe_failure(-rc);
      return false;
    }
    io_uring_probe* probe = io_uring_get_probe_ring(&probe_ring);
    bool ok = probe != nullptr;
    const char* missing = nullptr;
    if (ok) {
      for (auto [op, name] : {std::pair{IORING_OP_RECV, "RECV"}, {IORING_OP_SEND, "SEND"},
                              {IORING_OP_ACCEPT, "ACCEPT"}, {IORING_OP_LINK_TIMEOUT, "LINK_TIMEOUT"},
                              {IORING_OP_ASYNC_CANCEL, "ASYNC_CANCEL"}}) {
        if (!io_uring_opcode_supported(probe, op)) {
          ok = false;
          missing = name;
          break;
        }
      }
      io_uring_free_probe(probe);
    }
    const bool fast_poll = (probe_ring.features & IORING_FEAT_FAST_POLL) != 0;
    io_uring_queue_exit(&probe_ring);
    if (!ok) {
      *why = missing ? std::string("the kernel lacks IORING_OP_") + missing
                     : std::string("the kernel cannot probe io_uring opcodes");
      return false;
    }
    if (!fast_poll) {
      *why = "the kernel lacks IORING_FEAT_FAST_POLL (socket operations would block a kernel worker)";
      return false;
    }
    return true;
  }

 protected:
  void on_special(uint32_t id, G** head, uint32_t* n) override {
    if (id >= nrings_.load(std::memory_order_acquire)) return;
    Ring* r = rings_[id].load(std::memory_order_acquire);
    if (r == nullptr) return;
    // Not try_lock: the holder may be past its last reap (cancel, or a submit whose operations
    // completed inline), and the edge-triggered event will not come again. Holds are short.
    std::lock_guard<SpinLock> lock(r->lock);
    reap_locked(r, head, n);
  }

 private:
  static std::string describe_failure(int err) {
    std::string why = std::string("io_uring_setup failed: ") + std::strerror(err);
    if (FILE* f = std::fopen("/proc/sys/kernel/io_uring_disabled", "r")) {
      int v = 0;
      if (std::fscanf(f, "%d", &v) == 1 && v != 0) {
        why += " (kernel.io_uring_disabled=" + std::to_string(v) + ")";
      }
      std::fclose(f);
    }
    if (err == EPERM) why += "; a seccomp filter or container policy may forbid it";
    return why;
  }

  static void append(G** head, uint32_t* count, G* list, uint32_t n) {
    while (list != nullptr) {
      G* g = list;
      list = g->sched_next;
      g->sched_next = *head;
      *head = g;
    }
    *count += n;
  }

  // An SQE with room for `need` consecutive entries (a linked timeout needs two).
  io_uring_sqe* get_sqe(Ring* r, unsigned need) {
    while (io_uring_sq_space_left(&r->ring) < need) submit_locked(r);
    return io_uring_get_sqe(&r->ring);
  }

  void submit_locked(Ring* r) {
    for (;;) {
      const int rc = io_uring_submit(&r->ring);
      if (rc >= 0 || (rc != -EINTR && rc != -EAGAIN && rc != -EBUSY)) break;
      // EBUSY/EAGAIN: the CQ is backed up; reaping happens elsewhere, so just retry.
    }
    r->unsubmitted = 0;
  }

  void reap_locked(Ring* r, G** head, uint32_t* n) {
    io_uring_cqe* cqe;
    unsigned seen = 0;
    unsigned hd;
    io_uring_for_each_cqe(&r->ring, hd, cqe) {
      ++seen;
      auto* op = static_cast<UringOp*>(io_uring_cqe_get_data(cqe));
      if (op == nullptr) continue;  // a linked timeout or a cancel request
      --r->inflight;
      op->res = cqe->res;
      const uintptr_t old = op->word.exchange(kPdReady, std::memory_order_seq_cst);
      if (old != kPdWait && old != kPdReady && old != kPdNil) {
        G* g = reinterpret_cast<G*>(old);
        g->sched_next = *head;
        *head = g;
        ++*n;
      }
    }
    if (seen) io_uring_cq_advance(&r->ring, seen);
  }

  void sweep(G** head, uint32_t* n) {
    const uint32_t count = nrings_.load(std::memory_order_acquire);
    for (uint32_t i = 0; i < count; ++i) {
      Ring* r = rings_[i].load(std::memory_order_acquire);
      if (r == nullptr || !r->lock.try_lock()) continue;
      if (r->unsubmitted > 0) submit_locked(r);
      reap_locked(r, head, n);
      r->lock.unlock();
    }
  }

  Ring* ring_for(int p_id) {
    if (static_cast<uint32_t>(p_id) >= kMaxRings) return nullptr;
    Ring* r = rings_[p_id].load(std::memory_order_acquire);
    if (r != nullptr) return r;
    std::lock_guard<std::mutex> lock(create_mu_);
    r = rings_[p_id].load(std::memory_order_acquire);
    if (r != nullptr) return r;
    auto fresh = std::make_unique<Ring>();
    io_uring_params params{};
    params.flags = IORING_SETUP_SUBMIT_ALL;
    int rc = io_uring_queue_init_params(kRingEntries, &fresh->ring, &params);
    if (rc == -EINVAL) {  // SUBMIT_ALL unknown (pre-5.18): plain ring
      params = io_uring_params{};
      rc = io_uring_queue_init_params(kRingEntries, &fresh->ring, &params);
    }
    if (rc < 0) return nullptr;
    if (add_special(fresh->ring.ring_fd, static_cast<uint32_t>(p_id)) != 0) {
      io_uring_queue_exit(&fresh->ring);
      return nullptr;
    }
    r = fresh.release();
    rings_[p_id].store(r, std::memory_order_release);
    uint32_t cur = nrings_.load(std::memory_order_relaxed);
    while (cur <= static_cast<uint32_t>(p_id) &&
           !nrings_.compare_exchange_weak(cur, static_cast<uint32_t>(p_id) + 1,
                                          std::memory_order_release)) {
    }
    return r;
  }

  std::mutex create_mu_;
  std::atomic<Ring*> rings_[kMaxRings] = {};  // never freed: rings live as long as the process
  std::atomic<uint32_t> nrings_{0};
};

}  // namespace

Backend* make_uring_backend(std::string* why) {
  auto b = std::make_unique<UringBackend>();
  if (!b->init(why)) return nullptr;
  return b.release();
}

}  // namespace gort::rt::netpoll
