// The contract between the netpoller and its backends (epoll_backend.cpp, uring_backend.cpp).
//
// A backend turns kernel notifications into goroutines to run. Both backends report fd
// readiness through PollDesc words (pd_unblock), so the socket layer's "try the syscall, wait
// on EAGAIN" loop works on either. The io_uring backend can also run whole operations
// (recv/send/accept/connect) as ring submissions: `submit` parks the goroutine until the
// completion arrives, saving the syscall per operation (probes Q2: +14-36% on one core).
#pragma once

#include <cstdint>

#include "netpoll/poll_desc.hpp"

namespace gort::rt {
struct G;
}

namespace gort::rt::netpoll {

struct UringOp;

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
};

}  // namespace gort::rt::netpoll
