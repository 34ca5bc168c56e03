// detail::Socket: the io loop, readiness waits and the close protocol (socket.hpp).
#include "runtime/net/socket.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <mutex>

#include "gort/runtime.hpp"
#include "netpoll/backend.hpp"
#include "netpoll/netpoll.hpp"
#include "runtime/machine.hpp"
#include "runtime/sched.hpp"
#include "runtime/timer.hpp"

namespace gort::net::detail {

using rt::netpoll::PollDesc;
using rt::netpoll::WaitResult;

__attribute__((noipa)) int last_errno() noexcept { return errno; }

std::error_code errno_code(int e) noexcept { return {e, std::generic_category()}; }

std::shared_ptr<Socket> Socket::make(int fd, bool owns) {
  std::shared_ptr<Socket> s(new Socket(fd, owns), [](Socket* p) { p->release_last_handle(); });
  // Register now when a runtime runs (the common case); else at the first goroutine wait.
  if (rt::sched != nullptr) s->ensure_pd();
  return s;
}

void Socket::release_last_handle() {
  // Orphaned under our own reference: the flag alone can never be the freeing transition, and
  // close() below still has a socket to work on.
  state_.fetch_add(1, std::memory_order_acq_rel);
  state_.fetch_or(kOrphaned, std::memory_order_acq_rel);
  close();
  leave();  // this, the finisher or the last operation frees the socket
}

gort::Chan<char> Turn::wake_channel() {
  std::lock_guard<gort::Mutex> lock(wake_mu_);
  if (!wake_) wake_.emplace(0);
  return *wake_;
}

void Turn::wake_all() {
  std::lock_guard<gort::Mutex> lock(wake_mu_);
  if (wake_) {
    wake_->close();
    wake_.reset();
  }
}

// One operation that may park, from entry to return: its reference (the close protocol) and,
// once taken, its direction's turn. On a goroutine it is also a WaitLink (kHeld): a goroutine
// abandoned at run's end gives both back through it, so that a socket that outlives the run can
// still be closed (a close from main released the fd only once every operation had left) and
// used by a later run (whose operations waited for a turn nobody would give back).
class Socket::Op {
 public:
  Op(Socket* s, Mode mode) : s_(s->enter() ? s : nullptr), mode_(mode) {
    if (s_ != nullptr && (g_ = rt::parkable_g()) != nullptr) rt::wait_link_push(g_, &link_);
  }
  ~Op() {
    if (s_ == nullptr) return;
    if (g_ != nullptr) rt::wait_link_pop(g_, &link_);
    give_back();
  }
  Op(const Op&) = delete;
  Op& operator=(const Op&) = delete;
  explicit operator bool() const { return s_ != nullptr; }
  rt::G* g() const { return g_; }

  // Waits for the direction's turn (false: *err says why not: closed, timed_out). The free
  // turn is the common case, inline.
  bool take_turn(Deadline d, std::error_code* err) {
    if (s_->turn_[static_cast<int>(mode_)].try_take()) return turn_held_ = true;
    return wait_for_turn(d, err);
  }

 private:
  bool wait_for_turn(Deadline d, std::error_code* err);
  static void forget(rt::WaitLink* link) {
    reinterpret_cast<Op*>(link)->give_back();  // link_ is the first member
  }
  void give_back() {
    Turn& turn = s_->turn_[static_cast<int>(mode_)];
    wake_.reset();
    if (waiting_) turn.remove_waiter();
    if (turn_held_) turn.release();
    s_->leave();
  }

  rt::WaitLink link_{&forget, rt::WaitLink::kHeld};
  Socket* s_;
  Mode mode_;
  rt::G* g_ = nullptr;
  bool turn_held_ = false;
  bool waiting_ = false;  // between add_waiter and remove_waiter
  // The channel take_turn sleeps on, held here rather than in its frame: an abandoned frame
  // would keep its reference forever.
  std::optional<gort::Chan<char>> wake_;
};

bool Socket::Op::wait_for_turn(Deadline d, std::error_code* err) {
  Turn& turn = s_->turn_[static_cast<int>(mode_)];
  turn.add_waiter();
  waiting_ = true;
  for (;;) {
    // The channel first: whatever frees the turn, closes the socket or moves the deadline after
    // the checks below closes this channel (their changes come before their wake_all).
    wake_ = turn.wake_channel();
    if (turn.try_take()) {
      turn_held_ = true;
      break;
    }
    if (s_->closing()) {
      *err = Errc::closed;
      break;
    }
    const int64_t dl = s_->effective_deadline(mode_, d).nanos();
    if (dl != rt::kNoTimer && dl <= rt::now_ns()) {
      *err = std::make_error_code(std::errc::timed_out);
      break;
    }
    char unused;
    gort::detail::chan_recv(wake_->core(), &unused, dl);  // closed, or the deadline passed
  }
  wake_.reset();
  turn.remove_waiter();
  waiting_ = false;
  return turn_held_;
}

int Socket::fd() const { return closing() ? -1 : fd_; }

void Socket::leave_slow() {
  // The last one out of a closing socket claims the close (kClosed) in the same RMW that drops
  // its reference: between two RMWs it would hold no reference, and a finisher could free an
  // orphan under it.
  uint64_t v = state_.load(std::memory_order_relaxed);
  uint64_t next;
  do {
    next = v - 1;
    if ((next & kRefMask) == 0 && (next & kClosing) && !(next & kClosed)) next |= kClosed;
  } while (!state_.compare_exchange_weak(v, next, std::memory_order_acq_rel,
                                         std::memory_order_relaxed));
  if ((next & kRefMask) != 0 || !(next & kClosing)) return;
  if (!(v & kClosed)) {
    finish_close();  // claimed here; frees an orphan itself once finished
  } else if ((next & kFinished) && (next & kOrphaned)) {
    delete this;  // the last operation out of a finished orphan
  }
}

void Socket::close() {
  // The closer holds a reference while it evicts: a woken operation that leaves meanwhile must
  // not finish the close (unregister, recycle the descriptor) under pd_evict's feet (io_uring's
  // cancel still uses the fd).
  state_.fetch_add(1, std::memory_order_acq_rel);
  const uint64_t v = state_.fetch_or(kClosing, std::memory_order_acq_rel);
  if (!(v & kClosing)) {
    if (PollDesc* pd = pd_.load(std::memory_order_acquire)) rt::netpoll::pd_evict(pd);
    for (Turn& t : turn_) t.wake_all();  // operations waiting for their turn leave too
    if (socket_file_) {
      struct stat st;
      if (::stat(socket_file_->path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode) &&
          st.st_dev == socket_file_->dev && st.st_ino == socket_file_->ino) {
        ::unlink(socket_file_->path.c_str());
      }
    }
  }
  leave();  // the last one out, maybe this one, finishes the close
}

void Socket::unlink_on_close(std::string path, dev_t dev, ino_t ino) {
  socket_file_ = std::make_unique<SocketFile>(SocketFile{std::move(path), dev, ino});
}

void Socket::finish_close() {
  if (PollDesc* pd = pd_.exchange(nullptr, std::memory_order_acq_rel)) rt::netpoll::pd_close(pd);
  if (owns_) ::close(fd_);
  // The last touch. An operation still in flight (a transient enter through a handle) or a
  // handle still held frees nothing here; their leave does (see leave()).
  const uint64_t w = state_.fetch_or(kFinished, std::memory_order_acq_rel);
  if ((w & kRefMask) == 0 && (w & kOrphaned)) delete this;
}

PollDesc* Socket::ensure_pd() {
  PollDesc* pd = pd_.load(std::memory_order_acquire);
  if (pd != nullptr || !rt::netpoll::active()) return pd;
  std::lock_guard<rt::SpinLock> lock(pd_init_);
  pd = pd_.load(std::memory_order_acquire);
  if (pd == nullptr) {
    int err = 0;
    pd = rt::netpoll::pd_open(fd_, &err);  // null: the fd cannot be polled (wait_thread then)
    if (pd != nullptr) pd_.store(pd, std::memory_order_release);
  }
  return pd;
}

Deadline Socket::effective_deadline(Mode mode, Deadline d) const {
  const int64_t standing = deadline_[static_cast<int>(mode)].load(std::memory_order_acquire);
  return d.earliest(Deadline::from_nanos(standing));
}

void Socket::set_deadline(Mode mode, Deadline d) {
  deadline_[static_cast<int>(mode)].store(d.nanos(), std::memory_order_release);
  // A goroutine waiting now re-reads its deadline (Go: SetReadDeadline affects a pending Read).
  // The reference keeps a concurrent close from recycling the descriptor under us. (An Op: the
  // wake_all below takes a gort::Mutex, and may park.)
  Op op(this, mode);
  if (!op) return;
  if (PollDesc* pd = pd_.load(std::memory_order_acquire)) rt::netpoll::pd_interrupt(pd, mode);
  turn_[static_cast<int>(mode)].wake_all();  // and so does one waiting for its turn
}

WaitResult Socket::wait_ready(Mode mode, int64_t deadline_ns, rt::G* g) {
  if (g != nullptr) {
    if (PollDesc* pd = ensure_pd()) return rt::netpoll::pd_wait(pd, mode, deadline_ns);
    // The poller refused the fd (EEXIST: a second Pollable on one fd; EPERM: a regular file).
    // poll(2) it with the processor handed on: the goroutine that would make the fd ready may
    // be queued behind this one (with one processor it waited out the whole deadline).
    return gort::blocking([&] { return wait_thread(mode, deadline_ns); });
  }
  return wait_thread(mode, deadline_ns);
}

// A thread outside the runtime (or a goroutine inside gort::blocking, or an fd epoll refuses)
// blocks its thread in poll(2), in slices so that close() from elsewhere is noticed.
WaitResult Socket::wait_thread(Mode mode, int64_t deadline_ns) {
  constexpr int64_t kSliceNs = 20'000'000;
  for (;;) {
    if (closing()) return WaitResult::kClosed;
    const int64_t now = rt::now_ns();
    if (deadline_ns != rt::kNoTimer && deadline_ns <= now) return WaitResult::kTimeout;
    const int64_t wait_ns = deadline_ns == rt::kNoTimer ? kSliceNs
                                                        : std::min(kSliceNs, deadline_ns - now);
    pollfd p{fd_, static_cast<short>(mode == Mode::kRead ? POLLIN : POLLOUT), 0};
    timespec ts{static_cast<time_t>(wait_ns / 1000000000), static_cast<long>(wait_ns % 1000000000)};
    const int r = ppoll(&p, 1, &ts, nullptr);
    if (r > 0) return closing() ? WaitResult::kClosed : WaitResult::kReady;
  }
}

std::optional<Result<size_t>> Socket::ring_io(Mode mode, Deadline d, rt::netpoll::OpRequest* op) {
  if (rt::current_owned_p() == nullptr) return std::nullopt;  // runs_in_ring: the caller's check
  rt::netpoll::Backend* b = rt::netpoll::backend();
  PollDesc* pd = pd_.load(std::memory_order_acquire);
  if (pd == nullptr) return std::nullopt;
  for (;;) {
    if (closing()) return Result<size_t>(Errc::closed);
    // The generation first: a deadline change after this read makes run_op retry or cancel.
    op->gen = pd->ring_gen[static_cast<int>(mode)].load(std::memory_order_seq_cst);
    const int64_t dl = effective_deadline(mode, d).nanos();
    // A deadline already passed: only an attempt that needs no wait may succeed, which is the
    // readiness loop's first syscall.
    if (dl != rt::kNoTimer && dl <= rt::now_ns()) return std::nullopt;
    op->deadline_ns = dl;
    const int64_t res = b->run_op(pd, *op);
    if (res > 0) return Result<size_t>(static_cast<size_t>(res));
    // Ended by close (cancelled), or finished as it came: either way the socket is closing.
    if (closing()) return Result<size_t>(Errc::closed);
    if (res == 0) return Result<size_t>(size_t{0});
    if (res == -EINTR) continue;
    if (res == -EAGAIN) return std::nullopt;
    if (res == -ECANCELED || res == -ETIME) {
      if (dl != rt::kNoTimer && dl <= rt::now_ns()) {
        return Result<size_t>(std::make_error_code(std::errc::timed_out));
      }
      continue;
    }
    return Result<size_t>(errno_code(static_cast<int>(-res)));
  }
}

Result<size_t> Socket::io(Mode mode, Deadline d, IoCall call, void* ctx,
                          rt::netpoll::OpRequest* ring_op) {
  Op op(this, mode);
  if (!op) return Errc::closed;
  if (std::error_code err; !op.take_turn(d, &err)) return err;
  const bool stream_read = ring_op != nullptr && ring_op->kind == rt::netpoll::OpKind::kRecv;
  if (ring_op != nullptr && ring_op->kind == rt::netpoll::OpKind::kAccept) {
    // An accept takes a pending connection with accept4(2) first and goes to the ring only for
    // an empty queue. A ring accept parks its goroutine until its thread next reaps the ring,
    // which on a busy P is a whole pass over the run queue: a burst of N connections (wrk
    // opening 1,000 at once) was accepted one per pass, and the last ones' first requests
    // waited up to 2 s. Go's accept also tries the syscall before it parks.
    for (;;) {
      if (closing()) return Errc::closed;
      const ssize_t r = call(fd_, ctx);
      if (r >= 0) return static_cast<size_t>(r);
      const int e = last_errno();
      if (e == EINTR) continue;
      if (e != EAGAIN && e != EWOULDBLOCK) return errno_code(e);
      break;
    }
  }
  // Checked here rather than in ring_io: in the readiness modes the call and its large return
  // value cost about 90 instructions per echoed message (callgrind, echo under epoll).
  if (ring_op != nullptr && rt::netpoll::runs_in_ring(ring_op->kind)) {
    if (stream_read) ring_op->poll_first = read_drained_;
    if (auto r = ring_io(mode, d, ring_op)) {
      if (stream_read) read_drained_ = r->ok() && **r > 0 && **r < ring_op->len;
      return *r;
    }
  }
  bool wait_first = false;
  if (stream_read && read_drained_) {
    read_drained_ = false;
    PollDesc* pd = pd_.load(std::memory_order_acquire);
    wait_first = pd != nullptr && op.g() != nullptr &&
                 pd->rg.load(std::memory_order_seq_cst) != rt::netpoll::kPdReady &&
                 !pd->hangup.load(std::memory_order_seq_cst);
  }
  for (;;) {
    if (closing()) return Errc::closed;
    const ssize_t r = wait_first ? -1 : call(fd_, ctx);
    if (r >= 0) {
      if (stream_read && r > 0 && static_cast<size_t>(r) < ring_op->len) read_drained_ = true;
      return static_cast<size_t>(r);
    }
    const int e = wait_first ? EAGAIN : last_errno();
    wait_first = false;
    if (e == EINTR) continue;
    if (e != EAGAIN && e != EWOULDBLOCK) return errno_code(e);
    switch (wait_ready(mode, effective_deadline(mode, d).nanos(), op.g())) {
      case WaitResult::kReady:
      case WaitResult::kInterrupted:
        continue;
      case WaitResult::kTimeout:
        return std::make_error_code(std::errc::timed_out);
      case WaitResult::kClosed:
        return Errc::closed;
    }
  }
}

std::optional<Result<void>> Socket::ring_connect(const sockaddr* addr, socklen_t len, Deadline d) {
  if (!rt::netpoll::runs_in_ring(rt::netpoll::OpKind::kConnect)) return std::nullopt;
  Op in_flight(this, Mode::kWrite);
  if (!in_flight) return Result<void>(Errc::closed);
  if (std::error_code err; !in_flight.take_turn(d, &err)) return Result<void>(err);
  rt::netpoll::OpRequest op{rt::netpoll::OpKind::kConnect, nullptr, len};
  op.addr = const_cast<sockaddr*>(addr);
  auto r = ring_io(Mode::kWrite, d, &op);
  if (!r) return std::nullopt;
  if (!*r) return Result<void>(r->error());
  return Result<void>{};
}

Result<void> Socket::wait(Mode mode, Deadline d) {
  Op op(this, mode);
  if (!op) return Errc::closed;
  if (std::error_code err; !op.take_turn(d, &err)) return err;
  for (;;) {
    switch (wait_ready(mode, effective_deadline(mode, d).nanos(), op.g())) {
      case WaitResult::kReady:
        return {};
      case WaitResult::kInterrupted:
        continue;
      case WaitResult::kTimeout:
        return std::make_error_code(std::errc::timed_out);
      case WaitResult::kClosed:
        return Errc::closed;
    }
  }
}

Result<Address> socket_address(Socket* s, bool peer) {
  OpRef ref(s);
  if (!ref) return Errc::closed;
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  const int r = peer ? getpeername(s->fd(), reinterpret_cast<sockaddr*>(&ss), &len)
                     : getsockname(s->fd(), reinterpret_cast<sockaddr*>(&ss), &len);
  if (r != 0) return errno_code(last_errno());
  return Address::from_sockaddr(reinterpret_cast<sockaddr*>(&ss), len);
}

}  // namespace gort::net::detail
