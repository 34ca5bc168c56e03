// The io_uring backend: a proactor for the hot socket operations, one ring per M.
//
// What runs where:
//   - send, accept, connect and vectored writes (sendmsg) of goroutines run as ring operations:
//     the goroutine prepares an SQE on its M's ring and parks; the completion readies it with
//     the result. Nothing is tried with a syscall first, so a message costs no send syscall of
//     its own (probes Q2), and the sends of a scheduling round go in with one io_uring_enter.
//     connect in the ring keeps a client socket out of the epoll set for good (a readiness wait
//     would add its interest). Stream reads (recv, recvmsg) run in the ring too with
//     Config::uring_reads = kRing (GORT_URING_READS=ring); by default they take the readiness
//     path below instead, so any M can hand a reader its data rather than only the M whose
//     ring holds the completion (measured: ARCHITECTURE.md §10). netpoll::runs_in_ring decides.
//   - everything else (default stream reads, UDP, Pollable, threads outside the runtime,
//     goroutines inside gort::blocking) uses the readiness path of the epoll base class. Every
//     fd is added to that epoll set without interest at first and gets its interest at its
//     first readiness wait (before_wait), so ring traffic raises no epoll events nobody wants.
//
// Rings are per M, SINGLE_ISSUER | DEFER_TASKRUN. Why not per P: the kernel finishes a socket
// operation with task_work on the thread that submitted it. With rings that travel with a P,
// that thread is often asleep on its futex by then, and each completion costs a wake-up of that
// thread plus one of the poller (measured: io_uring then lost to epoll by 25-40%). With the
// ring bound to its thread, DEFER_TASKRUN keeps the completion work queued until that thread
// asks for it: an M that is running goroutines picks it up at its next look beyond its run
// queue (poll_own; IORING_SQ_TASKRUN in the shared flags says when a syscall is worth it),
// and an idle M sleeps *in its ring* (park_m), so a completion wakes exactly the thread that
// will run its goroutine. The M is woken for other reasons through an IORING_OP_FUTEX_WAIT on
// its parker's word, armed in the same ring: a plain futex wake (Parker::unpark) completes it.
// Only the owner thread touches its ring, so there are no locks.
//
// Costs of binding operations to a thread, and what handles them:
//   - an M about to block its thread (gort::blocking) cancels its operations first and readies
//     their goroutines, which resubmit wherever they run next (release_ring_ops);
//   - another thread cannot submit to an M's ring, so a deadline change or a close that must
//     end an operation in flight posts a cancel request to the owner M's mailbox (M::ring_mail)
//     and wakes it; the owner submits the cancel at its next look at the ring (cancel_op);
//   - an M that runs one goroutine for long (no preemption point) delays the completions in its
//     ring, like the goroutines queued behind it. The hog detector reports such goroutines.
//   - at shutdown each M cancels and drains its ring before its thread ends (thread_exit), so
//     the kernel never writes into a recycled stack.
//
// Batching. SQEs accumulate while the M runs goroutines and go in with one io_uring_enter when
// the M looks beyond its run queue (poll_own, which also runs the deferred completions), when
// kFlushAt are pending, or when the M goes to sleep in its ring.
//
// Per-operation state (UringOp) lives on the parked goroutine's stack. Its `word` follows the
// PollDesc protocol (poll_desc.hpp): kPdWait until the goroutine commits to parking (-> G*), the
// completion turns either into kPdReady; exactly one side readies the goroutine. The goroutine
// stays parked until its CQE is reaped, so the kernel never writes to a dead frame. Deadlines are
// linked timeouts (absolute CLOCK_MONOTONIC): the operation ends with -ECANCELED and the
// goroutine maps that to timed_out when its deadline has passed.
#include <liburing.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "netpoll/backends.hpp"
#include "netpoll/epoll_backend.hpp"
#include "netpoll/netpoll.hpp"
#include "runtime/machine.hpp"
#include "runtime/sched.hpp"

namespace gort::rt::netpoll {

namespace {

constexpr unsigned kRingEntries = 1024;
constexpr unsigned kCqEntries = 8192;  // 10k idle connections' recvs may complete together
constexpr uint32_t kFlushAt = 32;
// The most one recv or send moves (the kernel's MAX_RW_COUNT). An SQE's length is 32 bits: a
// 4 GiB buffer passed as is became a length of 0, a send of nothing (write_all spun forever) or
// a recv that read as the end of the stream.
constexpr size_t kMaxTransfer = 0x7ffff000;

// Newer than liburing 2.3's headers (values from the kernel uapi; probes Q1).
#ifndef IORING_SETUP_DEFER_TASKRUN
#define IORING_SETUP_DEFER_TASKRUN (1U << 13)
#endif
constexpr uint8_t kOpFutexWait = 51;
constexpr uint32_t kFutex2SizeU32 = 0x02;
constexpr uint32_t kFutex2Private = 128;

// user_data of the M's own requests; 0 marks requests whose completion needs nothing (linked
// timeouts, cancels). Goroutine operations carry their UringOp* (8-aligned, never 0-2).
constexpr uint64_t kFutexTag = 1;
constexpr uint64_t kEpollTag = 2;

struct UringOp {
  std::atomic<uintptr_t> word{kPdWait};
  int64_t res = 0;
  __kernel_timespec ts{};
};

// One M's ring. Touched only by that M's thread.
struct MRing {
  io_uring ring{};
  uint32_t unsubmitted = 0;
  uint32_t inflight = 0;      // goroutine operations without their CQE yet
  bool futex_armed = false;   // the FUTEX_WAIT on the parker word is in the ring
  bool epoll_armed = false;   // a POLL_ADD on the epoll fd is in the ring
  bool fds_ready = false;     // that POLL_ADD completed: the epoll set has events
  // Goroutines reaped to make room (get_sqe with the CQ backed up), handed out by the next
  // poll_own / park_m / release_ring_ops.
  ReadyList spill;
};

ReadyList take_spill(MRing* r) {
  ReadyList l = r->spill;
  r->spill = ReadyList{};
  return l;
}

MRing* ring_ptr(M* m) { return static_cast<MRing*>(m->io_ring); }

const char* wait_reason(OpKind k) {
  switch (k) {
    case OpKind::kRecv: return "IO wait (io_uring recv)";
    case OpKind::kSend: return "IO wait (io_uring send)";
    case OpKind::kAccept: return "IO wait (io_uring accept)";
    case OpKind::kConnect: return "IO wait (io_uring connect)";
    case OpKind::kRecvMsg: return "IO wait (io_uring recvmsg)";
    case OpKind::kSendMsg: return "IO wait (io_uring sendmsg)";
  }
  return "IO wait (io_uring)";
}

void commit_op(G* g, void* arg) {
  auto* op = static_cast<UringOp*>(arg);
  uintptr_t expected = kPdWait;
  if (op->word.compare_exchange_strong(expected, reinterpret_cast<uintptr_t>(g),
                                       std::memory_order_seq_cst)) {
    waiter_added();
    ring_waiter_added();
    return;
  }
  ready(g);  // completed before we were switched out
}

class UringBackend final : public EpollBackend {
 public:
  const char* name() const override { return "io_uring"; }
  bool runs_operations() const override { return true; }

  // Known to epoll from the start (that also rejects fds epoll refuses, as with the epoll
  // backend), but without interest until a readiness wait (before_wait).
  int add(PollDesc* pd) override { return register_fd(pd, 0, false); }

  void before_wait(PollDesc* pd) override {
    if (pd->watched.load(std::memory_order_acquire)) return;
    if (pd->watched.exchange(true, std::memory_order_acq_rel)) return;
    // (A stale descriptor must not turn another's registration to its own token.)
    if (!pd_owns_fd(pd)) return;
    // MOD reports a readiness that is already there, so nothing that happened before is lost.
    register_fd(pd, EPOLLIN | EPOLLOUT | EPOLLRDHUP, true);
  }

  // Against a concurrent close or deadline change (all seq_cst), we publish the operation
  // (ring_ops, then ring_m/ring_op) and only then read `closing` and the generation; the other
  // side stores `closing` or bumps the generation (after the new deadline) and then reads
  // ring_ops and ring_m. Store-buffering: either it finds our operation and posts a cancel, or
  // we see its change and do not submit (-ECANCELED: the caller re-reads and retries).
  int64_t run_op(PollDesc* pd, OpRequest& req) override {
    M* m = current_m();
    MRing* r = ring_of(m);
    if (r == nullptr) return -EAGAIN;  // no ring: the caller uses the readiness path
    UringOp op;
    const int dir = writes(req.kind) ? 1 : 0;  // Mode::kWrite : Mode::kRead
    pd->ring_ops.fetch_add(1, std::memory_order_seq_cst);
    pd->ring_op[dir].store(reinterpret_cast<uint64_t>(&op), std::memory_order_seq_cst);
    pd->ring_m[dir].store(m, std::memory_order_seq_cst);
    if (pd->closing.load(std::memory_order_seq_cst) ||
        pd->ring_gen[dir].load(std::memory_order_seq_cst) != req.gen) {
      pd->ring_m[dir].store(nullptr, std::memory_order_seq_cst);
      pd->ring_ops.fetch_sub(1, std::memory_order_seq_cst);
      return -ECANCELED;
    }
    const bool timed = req.deadline_ns != kNoTimer;
    if (timed) {
      op.ts.tv_sec = req.deadline_ns / 1000000000;
      op.ts.tv_nsec = req.deadline_ns % 1000000000;
    }
    io_uring_sqe* sqe = get_sqe(r, timed ? 2 : 1);
    const auto len = static_cast<unsigned>(std::min(req.len, kMaxTransfer));
    switch (req.kind) {
      case OpKind::kRecv:
        io_uring_prep_recv(sqe, pd->fd, req.buf, len, 0);
        // (Linux 5.19; the probe's DEFER_TASKRUN, 6.1, implies it.)
        if (req.poll_first) sqe->ioprio |= IORING_RECVSEND_POLL_FIRST;
        break;
      case OpKind::kSend:
        io_uring_prep_send(sqe, pd->fd, req.buf, len, MSG_NOSIGNAL);
        break;
      case OpKind::kAccept:
        io_uring_prep_accept(sqe, pd->fd, static_cast<sockaddr*>(req.addr),
                             reinterpret_cast<socklen_t*>(req.addrlen),
                             SOCK_NONBLOCK | SOCK_CLOEXEC);
        break;
      case OpKind::kConnect:
        io_uring_prep_connect(sqe, pd->fd, static_cast<const sockaddr*>(req.addr),
                              static_cast<socklen_t>(req.len));
        break;
      case OpKind::kRecvMsg:
        io_uring_prep_recvmsg(sqe, pd->fd, static_cast<msghdr*>(req.msg), 0);
        break;
      case OpKind::kSendMsg:
        io_uring_prep_sendmsg(sqe, pd->fd, static_cast<const msghdr*>(req.msg), MSG_NOSIGNAL);
        break;
    }
    io_uring_sqe_set_data(sqe, &op);
    ++r->unsubmitted;
    ++r->inflight;
    if (timed) {
      sqe->flags |= IOSQE_IO_LINK;
      io_uring_sqe* t = io_uring_get_sqe(&r->ring);  // reserved by get_sqe
      io_uring_prep_link_timeout(t, &op.ts, IORING_TIMEOUT_ABS);
      io_uring_sqe_set_data64(t, 0);
      ++r->unsubmitted;
    }
    if (r->unsubmitted >= kFlushAt) submit(r);
    G* g = m->curg;
    g->wait_reason = wait_reason(req.kind);
    g->set_status(GStatus::kRunning, GStatus::kWaiting);
    park_nolock(commit_op, &op);
    g->wait_reason = nullptr;
    pd->ring_m[dir].store(nullptr, std::memory_order_seq_cst);
    pd->ring_ops.fetch_sub(1, std::memory_order_seq_cst);
    return op.res;
  }

  // Any thread: only the owner may submit to its ring, so the request goes to its mailbox and
  // the owner is woken (a sleeping owner's ring wait completes; a running one looks at
  // ring_mail_pending in poll_own). A request that arrives after the operation finished names a
  // user_data that is gone (-ENOENT) or, if the same stack slot holds a newer operation of that
  // goroutine, cancels that one: -ECANCELED there only makes ring_io re-read and resubmit.
  void cancel_op(PollDesc* pd, Mode mode) override {
    const int dir = static_cast<int>(mode);
    M* owner = pd->ring_m[dir].load(std::memory_order_seq_cst);
    if (owner == nullptr) return;
    const uint64_t id = pd->ring_op[dir].load(std::memory_order_seq_cst);
    {
      std::lock_guard<SpinLock> lock(owner->ring_mail_lock);
      owner->ring_mail.push_back(id);
    }
    owner->ring_mail_pending.store(true, std::memory_order_seq_cst);
    wake_m(owner);
  }

  G* poll_own(M* m, uint32_t* n) override {
    *n = 0;
    MRing* r = ring_ptr(m);
    if (r == nullptr) return nullptr;
    if (m->ring_mail_pending.load(std::memory_order_relaxed)) take_mail(m, r);
    const unsigned flags = IO_URING_READ_ONCE(*r->ring.sq.kflags);
    if (r->unsubmitted > 0 || (flags & (IORING_SQ_TASKRUN | IORING_SQ_CQ_OVERFLOW)) != 0) {
      enter(r, /*wait=*/false, -1);
    } else if (io_uring_cq_ready(&r->ring) == 0 && r->spill.head == nullptr) {
      return nullptr;
    }
    ReadyList ready = take_spill(r);
    reap(r, &ready, true);
    *n = ready.n;
    return ready.head;
  }

  G* park_m(M* m, int64_t timeout_ns, bool watch_fds, uint32_t* n) override {
    *n = 0;
    MRing* r = ring_ptr(m);
    if (r == nullptr) return nullptr;
    if (m->ring_mail_pending.load(std::memory_order_relaxed)) take_mail(m, r);
    if (!r->futex_armed) {
      // Completes when Parker::unpark wakes the word, or at once if the permit is already set
      // (the kernel compares the word with 0 under the futex bucket lock, like futex_wait).
      io_uring_sqe* sqe = get_sqe(r, 1);
      io_uring_prep_rw(kOpFutexWait, sqe, static_cast<int>(kFutex2SizeU32 | kFutex2Private),
                       m->parker.word(), 0, 0);
      sqe->addr3 = 0xffffffffu;  // the futex2 bitset: any waker
      io_uring_sqe_set_data64(sqe, kFutexTag);
      ++r->unsubmitted;
      r->futex_armed = true;
    }
    if (watch_fds && !r->epoll_armed) {
      io_uring_sqe* sqe = get_sqe(r, 1);
      io_uring_prep_poll_add(sqe, epoll_fd(), POLLIN);
      io_uring_sqe_set_data64(sqe, kEpollTag);
      ++r->unsubmitted;
      r->epoll_armed = true;
    }
    if (r->spill.head == nullptr) enter(r, /*wait=*/true, timeout_ns);
    ReadyList ready = take_spill(r);
    reap(r, &ready, true);
    if (r->fds_ready) {
      r->fds_ready = false;
      // Only the fd watcher (sched.cpp) drains the wake-up eventfd. A POLL_ADD left armed
      // from an earlier turn in the role must not swallow a wake-up meant for the M that holds
      // it now (blocked in epoll_wait, that one would sleep on).
      poll_events(0, /*drain_wake=*/watch_fds, &ready);
    }
    *n = ready.n;
    return ready.head;
  }

  G* release_ring_ops(M* m, uint32_t* n) override {
    *n = 0;
    MRing* r = ring_ptr(m);
    if (r == nullptr || (r->inflight == 0 && r->spill.head == nullptr)) return nullptr;
    ReadyList ready = take_spill(r);
    drain(r, &ready, true);
    *n = ready.n;
    return ready.head;
  }

  void thread_exit(M* m) override {
    MRing* r = ring_ptr(m);
    if (r == nullptr) return;
    ReadyList dropped;
    drain(r, &dropped, false);  // abandoned with the runtime: not readied
    io_uring_queue_exit(&r->ring);
    delete r;
    m->io_ring = nullptr;
  }

  bool init(std::string* why) {
    io_uring probe_ring;
    io_uring_params params{};
    params.flags = ring_flags();
    int rc = io_uring_queue_init_params(8, &probe_ring, &params);
    if (rc == -EINVAL) {
      // Tell "no io_uring at all" from "too old for what this backend needs".
      io_uring plain;
      if (io_uring_queue_init(8, &plain, 0) == 0) {
        io_uring_queue_exit(&plain);
        *why = "the kernel lacks IORING_SETUP_SINGLE_ISSUER/DEFER_TASKRUN (Linux 6.1+)";
        return false;
      }
    }
    if (rc < 0) {
      *why = describe_failure(-rc);
      return false;
    }
    io_uring_probe* probe = io_uring_get_probe_ring(&probe_ring);
    bool ok = probe != nullptr;
    const char* missing = nullptr;
    if (ok) {
      for (auto [op, opname] : {std::pair<int, const char*>{IORING_OP_RECV, "RECV"},
                                {IORING_OP_SEND, "SEND"},
                                {IORING_OP_ACCEPT, "ACCEPT"},
                                {IORING_OP_CONNECT, "CONNECT"},
                                {IORING_OP_RECVMSG, "RECVMSG"},
                                {IORING_OP_SENDMSG, "SENDMSG"},
                                {IORING_OP_LINK_TIMEOUT, "LINK_TIMEOUT"},
                                {IORING_OP_ASYNC_CANCEL, "ASYNC_CANCEL"},
                                {IORING_OP_POLL_ADD, "POLL_ADD"},
                                {kOpFutexWait, "FUTEX_WAIT (Linux 6.7+)"}}) {
        if (!io_uring_opcode_supported(probe, op)) {
          ok = false;
          missing = opname;
          break;
        }
      }
      io_uring_free_probe(probe);
    }
    const uint32_t features = probe_ring.features;
    io_uring_queue_exit(&probe_ring);
    if (!ok) {
      *why = missing ? std::string("the kernel lacks IORING_OP_") + missing
                     : std::string("the kernel cannot probe io_uring opcodes");
      return false;
    }
    if ((features & IORING_FEAT_FAST_POLL) == 0) {
      *why = "the kernel lacks IORING_FEAT_FAST_POLL (socket operations would block a kernel worker)";
      return false;
    }
    if ((features & IORING_FEAT_EXT_ARG) == 0) {
      *why = "the kernel lacks IORING_FEAT_EXT_ARG (timed waits)";
      return false;
    }
    return true;
  }

 private:
  static unsigned ring_flags() {
    return IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_TASKRUN_FLAG |
           IORING_SETUP_SUBMIT_ALL;
  }

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

  // The calling M's ring, created on its first operation (on its own thread: SINGLE_ISSUER
  // binds the ring to the creating thread). Null if the kernel refuses one (memory limits):
  // that M then uses the readiness path.
  MRing* ring_of(M* m) {
    if (m->io_ring != nullptr) return ring_ptr(m);
    if (m->io_ring_failed) return nullptr;
    auto fresh = std::make_unique<MRing>();
    io_uring_params params{};
    params.flags = ring_flags() | IORING_SETUP_CQSIZE;
    params.cq_entries = kCqEntries;
    if (io_uring_queue_init_params(kRingEntries, &fresh->ring, &params) < 0) {
      m->io_ring_failed = true;
      return nullptr;
    }
    m->io_ring = fresh.release();
    return ring_ptr(m);
  }

  // Turns the cancel requests other threads posted into ASYNC_CANCEL SQEs (submitted with the
  // next enter).
  void take_mail(M* m, MRing* r) {
    m->ring_mail_pending.store(false, std::memory_order_seq_cst);
    std::vector<uint64_t> ids;
    {
      std::lock_guard<SpinLock> lock(m->ring_mail_lock);
      ids.swap(m->ring_mail);
    }
    for (uint64_t id : ids) {
      io_uring_sqe* sqe = get_sqe(r, 1);
      io_uring_prep_cancel64(sqe, id, 0);
      io_uring_sqe_set_data64(sqe, 0);
      ++r->unsubmitted;
    }
  }

  // An SQE with room for `need` consecutive entries (a linked timeout needs two). If the
  // kernel refuses to take more while completions are backed up (EBUSY), reaping makes room.
  io_uring_sqe* get_sqe(MRing* r, unsigned need) {
    while (io_uring_sq_space_left(&r->ring) < need) {
      submit(r);
      if (io_uring_sq_space_left(&r->ring) < need) reap(r, &r->spill, true);
    }
    return io_uring_get_sqe(&r->ring);
  }

  void submit(MRing* r) { enter(r, false, -1); }

  // Submits what is queued and runs the deferred completion work; with `wait`, sleeps until
  // one CQE is there (or timeout_ns passes, -1: none).
  void enter(MRing* r, bool wait, int64_t timeout_ns) {
    for (;;) {
      int rc;
      if (!wait) {
        rc = io_uring_submit_and_get_events(&r->ring);
      } else if (timeout_ns < 0) {
        rc = io_uring_submit_and_wait(&r->ring, 1);
      } else {
        __kernel_timespec ts{timeout_ns / 1000000000, timeout_ns % 1000000000};
        io_uring_cqe* cqe = nullptr;
        rc = io_uring_submit_and_wait_timeout(&r->ring, &cqe, 1, &ts, nullptr);
      }
      // EBUSY/EAGAIN: completions are backed up; the caller reaps them next. EINTR: a signal.
      if (rc == -EINTR && !wait) continue;
      break;
    }
    r->unsubmitted = io_uring_sq_ready(&r->ring);
  }

  void reap(MRing* r, ReadyList* ready, bool keep) {
    io_uring_cqe* cqe;
    unsigned seen = 0;
    unsigned hd;
    io_uring_for_each_cqe(&r->ring, hd, cqe) {
      ++seen;
      const uint64_t tag = cqe->user_data;
      if (tag == 0) continue;
      if (tag == kFutexTag) {
        r->futex_armed = false;
        continue;
      }
      if (tag == kEpollTag) {
        r->epoll_armed = false;
        r->fds_ready = true;
        continue;
      }
      auto* op = reinterpret_cast<UringOp*>(tag);
      --r->inflight;
      op->res = cqe->res;
      const uintptr_t old = op->word.exchange(kPdReady, std::memory_order_seq_cst);
      if (old != kPdWait && old != kPdReady && old != kPdNil) {
        ring_waiter_removed();
        if (keep) ready->push_back(reinterpret_cast<G*>(old));
      }
    }
    if (seen) io_uring_cq_advance(&r->ring, seen);
  }

  // Cancels everything in the ring (goroutine operations, the futex wait, the epoll poll) and
  // reaps until all of it has completed, so the ring holds nothing that points at a stack.
  void drain(MRing* r, ReadyList* ready, bool keep) {
    reap(r, ready, keep);
    if (r->inflight == 0 && !r->futex_armed && !r->epoll_armed) {
      if (r->unsubmitted > 0) submit(r);
      return;
    }
    io_uring_sqe* sqe = get_sqe(r, 1);
    io_uring_prep_cancel64(sqe, 0, IORING_ASYNC_CANCEL_ANY | IORING_ASYNC_CANCEL_ALL);
    io_uring_sqe_set_data64(sqe, 0);
    ++r->unsubmitted;
    // Cancelled requests complete at once; the bound only guards against a kernel that keeps
    // one (10 s, then the ring is left as it is).
    for (int rounds = 0; rounds < 10000; ++rounds) {
      enter(r, /*wait=*/true, 1000000);
      reap(r, ready, keep);
      if (r->inflight == 0 && !r->futex_armed && !r->epoll_armed) break;
    }
  }
};

}  // namespace

Backend* make_uring_backend(std::string* why) {
  auto b = std::make_unique<UringBackend>();
  if (!b->init(why)) return nullptr;
  return b.release();
}

}  // namespace gort::rt::netpoll
