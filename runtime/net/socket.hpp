// detail::Socket: the state behind every public socket handle (Conn, Listener, UdpSocket,
// Pollable). It owns the fd, its poll descriptor, the standing deadlines, and the close
// protocol that keeps the fd number alive while any operation still uses it.
//
// Close protocol. `state_` packs a count of operations in flight with four flags:
//   kClosing  set once by close(); operations that enter afterwards leave at once (closed);
//   kClosed   set once by whoever finishes the close (unregister, ::close), in the RMW of
//             its leave that saw "closing, no operation left";
//   kFinished set once, as that party's last touch, when the close is done;
//   kOrphaned set once when the last handle (shared_ptr) goes, while its releaser holds a
//             reference: the socket frees itself once it is finished and no operation is left,
//             not under an operation still running (a goroutine reading through a reference to
//             a Conn destroyed meanwhile sees the socket closed, not freed memory).
// close() takes a reference, sets kClosing, wakes every goroutine parked on the descriptor (they
// see kClosed from pd_wait and leave), and drops its reference; whoever leaves last (the closer
// when nothing was in flight) finishes the close. The count and the flags live in one word, so
// exactly one party sees "closing and no operation in flight" and the fd is never released under
// an operation (acq_rel: the closer's and the last user's writes are visible to whoever closes).
// Freeing: "orphaned, finished, no operation" becomes true in exactly one read-modify-write (the
// last leave, or the finisher's kFinished) and stays true (nothing enters an orphaned socket: no
// handle is left to enter through); the party whose RMW made it true frees the socket, and every
// other party has touched the socket for the last time by then.
//
// A goroutine parks inside an operation holding its reference and its turn. If `run` returns
// first, the goroutine is abandoned without unwinding; the operation is also a WaitLink (kHeld),
// through which run gives both back (Socket::Op).
//
// One reader and one writer at a time: each direction has a Turn (the poll descriptor holds one
// waiter per direction). Two goroutines reading one socket take turns; the one waiting for its
// turn still keeps its deadline and sees a close.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include <sys/socket.h>
#include <sys/types.h>

#include "gort/net/address.hpp"
#include "gort/net/deadline.hpp"
#include "gort/chan.hpp"
#include "gort/net/error.hpp"
#include "gort/sync.hpp"
#include "netpoll/backend.hpp"
#include "netpoll/poll_desc.hpp"
#include "runtime/spin_lock.hpp"

namespace gort::net::detail {

using rt::netpoll::Mode;

// A syscall attempt: returns >= 0 on success, -1 with errno set on failure.
using IoCall = ssize_t (*)(int fd, void* ctx);

// The right to run one direction's operation. Not a gort::Mutex: a goroutine queued behind an
// operation that may wait forever (a read without a deadline) must still leave at its own
// deadline, or when the socket closes. Uncontended it costs what a mutex does (one RMW each way);
// a waiter sleeps on `wake_`, a channel that the next release (or a close, or a deadline change)
// closes, and then looks again.
class Turn {
 public:
  bool try_take() {
    uint32_t v = state_.load(std::memory_order_relaxed);
    return (v & kHeld) == 0 &&
           state_.compare_exchange_strong(v, v | kHeld, std::memory_order_seq_cst);
  }
  void release() {
    if (state_.fetch_sub(kHeld, std::memory_order_seq_cst) >= kWaiter) wake_all();
  }
  // Between add_waiter and remove_waiter: the channel to sleep on, taken before the next
  // try_take (a release after a failed try_take then closes it).
  void add_waiter() { state_.fetch_add(kWaiter, std::memory_order_seq_cst); }
  void remove_waiter() { state_.fetch_sub(kWaiter, std::memory_order_seq_cst); }
  gort::Chan<char> wake_channel();
  // Sends every waiter back to look again (release, close, deadline change).
  void wake_all();

 private:
  static constexpr uint32_t kHeld = 1;
  static constexpr uint32_t kWaiter = 2;
  std::atomic<uint32_t> state_{0};  // kHeld | waiters * kWaiter
  gort::Mutex wake_mu_;
  std::optional<gort::Chan<char>> wake_;  // under wake_mu_; made by the first waiter
};

class Socket {
 public:
  // Takes a non-blocking fd. `owns`: close() closes it (Pollable does not own its fd).
  static std::shared_ptr<Socket> make(int fd, bool owns);
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;

  int fd() const;  // -1 once closing
  bool closing() const { return (state_.load(std::memory_order_acquire) & kClosing) != 0; }

  // Runs `call` until it succeeds, fails with something other than EAGAIN, or the deadline
  // (the earlier of `d` and the standing one for `mode`) passes; waits for readiness between
  // attempts. Holds the direction's turn throughout.
  // `ring_op` (optional): the same operation for a backend that runs operations itself
  // (io_uring); used when the caller is a goroutine holding a processor.
  Result<size_t> io(Mode mode, Deadline d, IoCall call, void* ctx,
                    rt::netpoll::OpRequest* ring_op = nullptr);
  // connect(2) as a ring operation (io_uring, from a goroutine holding a processor), so a client
  // socket never needs the epoll set; nullopt: no ring here, use connect(2) and wait().
  // A retry after a cancelled attempt may fail with EALREADY or EISCONN: the first attempt is
  // still in progress or done, and wait() tells which.
  std::optional<Result<void>> ring_connect(const sockaddr* addr, socklen_t len, Deadline d);
  // Waits for readiness once (no syscall): Pollable, and connect's completion.
  Result<void> wait(Mode mode, Deadline d);

  void close();
  // A listening Unix socket's file: removed by the close that starts the close protocol, if
  // the path still names this socket (same device and inode), so the path can be listened on
  // again; a file someone else bound there since is left alone.
  void unlink_on_close(std::string path, dev_t dev, ino_t ino);
  void set_deadline(Mode mode, Deadline d);
  Deadline effective_deadline(Mode mode, Deadline d) const;

  // Operation reference (see the close protocol); false: the socket is closing. Inline: two
  // of them per operation, and the common case is one RMW each.
  bool enter() {
    if ((state_.fetch_add(1, std::memory_order_acq_rel) & kClosing) == 0) return true;
    leave();
    return false;
  }
  void leave() {
    // Not closing: dropping the reference is all there is to do (the CAS checks "not closing"
    // in the same RMW). Closing, or a spurious failure: the full protocol.
    uint64_t v = state_.load(std::memory_order_relaxed);
    if ((v & kClosing) == 0 && state_.compare_exchange_weak(v, v - 1, std::memory_order_acq_rel,
                                                            std::memory_order_relaxed)) {
      return;
    }
    leave_slow();
  }

 private:
  Socket(int fd, bool owns) : fd_(fd), owns_(owns) {}
  ~Socket() = default;  // only through leave(), once closed and orphaned
  class Op;
  // The shared_ptr's deleter.
  void release_last_handle();
  // `g`: the calling goroutine when it may park (rt::parkable_g()), else null.
  rt::netpoll::WaitResult wait_ready(Mode mode, int64_t deadline_ns, rt::G* g);
  rt::netpoll::WaitResult wait_thread(Mode mode, int64_t deadline_ns);
  rt::netpoll::PollDesc* ensure_pd();
  // The ring path of io() (callers check netpoll::runs_in_ring first): nullopt means "use the
  // readiness loop".
  std::optional<Result<size_t>> ring_io(Mode mode, Deadline d, rt::netpoll::OpRequest* op);
  void leave_slow();
  void finish_close();  // by the party that set kClosed

  static constexpr uint64_t kClosing = uint64_t{1} << 62;
  static constexpr uint64_t kClosed = uint64_t{1} << 61;
  static constexpr uint64_t kOrphaned = uint64_t{1} << 60;
  static constexpr uint64_t kFinished = uint64_t{1} << 59;
  static constexpr uint64_t kRefMask = (uint64_t{1} << 32) - 1;

  const int fd_;
  const bool owns_;
  std::atomic<uint64_t> state_{0};
  std::atomic<rt::netpoll::PollDesc*> pd_{nullptr};
  rt::SpinLock pd_init_{rt::LockRank::kSocketPdInit};  // registers the fd once when it was created outside a runtime
  std::atomic<int64_t> deadline_[2] = {Deadline::none().nanos(), Deadline::none().nanos()};
  Turn turn_[2];          // one reader, one writer at a time
  // The last stream read returned fewer bytes than asked: the receive queue was empty then (TCP
  // and Unix stream reads copy until the queue is empty or the buffer full), so the next read
  // waits for a readiness edge first instead of paying a syscall for EAGAIN (under io_uring: the
  // next recv asks the kernel to wait before trying, OpRequest::poll_first). Under turn_[kRead].
  bool read_drained_ = false;
  struct SocketFile {
    std::string path;
    dev_t dev;
    ino_t ino;
  };
  std::unique_ptr<SocketFile> socket_file_;  // set before the socket is shared, read by close()
};

// errno read through a non-inlinable call: after a park the goroutine may run on another thread,
// and the compiler would otherwise reuse the first thread's errno address (probes Q5).
int last_errno() noexcept;
std::error_code errno_code(int e) noexcept;
// getsockname / getpeername of a live socket (Errc::closed once closing).
Result<Address> socket_address(Socket* s, bool peer);

// RAII operation reference.
class OpRef {
 public:
  explicit OpRef(Socket* s) : s_(s->enter() ? s : nullptr) {}
  ~OpRef() {
    if (s_) s_->leave();
  }
  explicit operator bool() const { return s_ != nullptr; }
  OpRef(const OpRef&) = delete;
  OpRef& operator=(const OpRef&) = delete;

 private:
  Socket* s_;
};

}  // namespace gort::net::detail
