// The contract between the netpoller and its backends (epoll_backend.cpp, uring_backend.cpp).
//
// A backend turns kernel notifications into goroutines to run. Both backends report fd
// readiness through PollDesc words (pd_unblock), so the socket layer's "try the syscall, wait
// on EAGAIN" loop works on either. The io_uring backend can also run whole operations
// (recv/send/accept) as ring submissions: `run_op` parks the goroutine until the completion
// arrives, saving the syscall per operation (probes Q2: +14-36% on one core).
#pragma once

#include <cstddef>
#include <cstdint>

#include "netpoll/poll_desc.hpp"

namespace gort::rt {
struct G;
struct M;
}

namespace gort::rt::netpoll {

// Goroutines made ready by one poll, linked through G::sched_next in the order their events
// came (first in, first readied: reversing a batch would let the newest completions overtake
// the oldest and stretch the latency tail).
struct ReadyList {
  G* head = nullptr;
  G* tail = nullptr;
  uint32_t n = 0;
  void push_back(G* g);
};

// kSend, kSendMsg and kConnect are the write direction (Mode::kWrite); the others read.
enum class OpKind : uint8_t { kRecv, kSend, kAccept, kConnect, kRecvMsg, kSendMsg };
inline bool writes(OpKind k) {
  return k == OpKind::kSend || k == OpKind::kSendMsg || k == OpKind::kConnect;
}

struct OpRequest {
  OpKind kind;
  void* buf = nullptr;
  size_t len = 0;
  void* addr = nullptr;          // accept: sockaddr_storage; connect: the peer (len: its size)
  uint32_t* addrlen = nullptr;   // accept: socklen_t
  void* msg = nullptr;           // recvmsg / sendmsg: the msghdr
  int64_t deadline_ns = 0;       // CLOCK_MONOTONIC; INT64_MAX for none
  uint32_t gen = 0;              // PollDesc::ring_gen of its direction, read before the deadline
  // recv: the last read of this stream came back short (its queue was empty then), so the
  // kernel should wait for data before trying (IORING_RECVSEND_POLL_FIRST) instead of failing a
  // copy attempt first. Only a hint: data already queued completes the operation at once.
  bool poll_first = false;
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual const char* name() const = 0;
  // Starts watching pd->fd (readiness in both directions, edge-triggered). 0 or an errno.
  virtual int add(PollDesc* pd) = 0;
  // Stops watching (before the fd is closed).
  virtual void remove(PollDesc* pd) = 0;
  // Collects ready goroutines: waits up to timeout_ns (0: do not wait, -1: until woken). Returns
  // a list linked through G::sched_next (already marked runnable-to-be: still kWaiting, the
  // caller readies them) and its length in *n.
  virtual G* poll(int64_t timeout_ns, uint32_t* n) = 0;
  // Makes a blocked poll() return soon (from any thread).
  virtual void wake() = 0;
  // Runs whole operations in the kernel (io_uring): see uring_backend.cpp.
  virtual bool runs_operations() const { return false; }
  // Submits `op` on the calling M's ring and parks until it completes. Returns the kernel's
  // result (>= 0, or -errno; -ETIME: the deadline passed; -ECANCELED: cancelled, by close or
  // because the M moved its operations away before blocking). -EAGAIN: no ring, use readiness.
  // Only called by a goroutine that owns a P, when runs_operations().
  virtual int64_t run_op(PollDesc* pd, OpRequest& op) { return -95; /* EOPNOTSUPP */ }
  // Makes the operation in flight on pd for `mode` end (deadline change, close). Any thread.
  virtual void cancel_op(PollDesc* pd, Mode mode) {}
  // Before a goroutine's first readiness wait on pd (the io_uring backend watches an fd in
  // epoll only once something waits for its readiness).
  virtual void before_wait(PollDesc* pd) {}

  // Per-M rings (io_uring; M::io_ring). Every call below is made by the M's own thread; an M
  // with a ring must sleep through park_m, not on its futex alone.
  // Submits what m's goroutines queued and collects what completed, without blocking; cheap
  // (a few loads) when nothing is pending.
  virtual G* poll_own(M* m, uint32_t* n) {
    *n = 0;
    return nullptr;
  }
  // Sleeps in m's ring until its parker is unparked, an operation completes, `timeout_ns`
  // passes (-1: none) or, with `watch_fds`, a readiness fd is ready. Returns the ready
  // goroutines (like poll); the parker's permit is left for the caller to take.
  virtual G* park_m(M* m, int64_t timeout_ns, bool watch_fds, uint32_t* n) {
    *n = 0;
    return nullptr;
  }
  // Before m blocks its thread (gort::blocking): cancels its operations and waits for their
  // completions, so no goroutine waits behind a thread that cannot reap; returns them to ready
  // (a cancelled one resubmits on whichever M runs it next).
  virtual G* release_ring_ops(M* m, uint32_t* n) {
    *n = 0;
    return nullptr;
  }
  // m's thread is leaving (shutdown): cancels and drains its ring, dropping the goroutines
  // (they are abandoned with the runtime; their stacks must not be written afterwards), and
  // closes it.
  virtual void thread_exit(M* m) {}
};

}  // namespace gort::rt::netpoll
