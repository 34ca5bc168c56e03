// The contract between the netpoller and its backends (epoll_backend.cpp, uring_backend.cpp).
//
// A backend turns kernel notifications into goroutines to run. Both backends report fd
// readiness through PollDesc words (pd_unblock), so the socket layer's "try the syscall, wait
// on EAGAIN" loop works on either. The io_uring backend can also run whole operations
// (recv/send/accept/connect) as ring submissions: `submit` parks the goroutine until the
// completion arrives, saving the syscall per operation (probes Q2: +14-36% on one core).
#pragma once

#include <cstddef>
#include <cstdint>

#include "netpoll/poll_desc.hpp"

namespace gort::rt {
struct G;
}

namespace gort::rt::netpoll {

enum class OpKind : uint8_t { kRecv, kSend, kAccept };

struct OpRequest {
  OpKind kind;
  void* buf = nullptr;
  size_t len = 0;
  void* addr = nullptr;          // accept: sockaddr_storage
  uint32_t* addrlen = nullptr;   // accept: socklen_t
  int64_t deadline_ns = 0;       // CLOCK_MONOTONIC; INT64_MAX for none
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
  // Submits `op` on the calling goroutine's processor and parks until it completes. Returns the
  // kernel's result (>= 0, or -errno; -ETIME: the deadline passed; -ECANCELED: cancelled by
  // close). Only called by a goroutine that owns a P, when runs_operations().
  virtual int64_t run_op(PollDesc* pd, OpRequest& op) { return -95; /* EOPNOTSUPP */ }
  // After a runtime stopped: cancels every operation still in flight and waits until the kernel
  // is done with them (they point into stacks about to be recycled). Their goroutines are not
  // readied.
  virtual void quiesce() {}
  // Cancels every operation in flight on pd->fd (close).
  virtual void cancel(PollDesc* pd) {}
  // Called by an M with a P before it looks beyond its local queue: submit what its goroutines
  // queued and collect what completed, without blocking (io_uring: a peek at the ring).
  virtual G* poll_own(int p_id, uint32_t* n) {
    *n = 0;
    return nullptr;
  }
};

}  // namespace gort::rt::netpoll
