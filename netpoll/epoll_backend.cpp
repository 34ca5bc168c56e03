// The epoll backend: one edge-triggered epoll set for the process (Go's netpoll_epoll.go).
//
// Each fd is added once, for input and output together (EPOLLIN|EPOLLOUT|EPOLLRDHUP|EPOLLET):
// readiness is only a hint that the socket layer consumes by retrying its syscall until EAGAIN,
// so one registration serves every later wait without further epoll_ctl calls. The event data
// is the descriptor's token (pool index and seq), so events of a recycled descriptor are dropped.
//
// Waking a blocked epoll_pwait2: an eventfd in the set. `wake_pending_` coalesces wake-ups so
// a burst of timer arms costs one write; only a blocking poll drains the eventfd (a
// non-blocking poll leaves it, so the blocked poller still wakes).
#include "netpoll/epoll_backend.hpp"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <stdexcept>
#include <string>

#include "netpoll/backends.hpp"
#include "runtime/goroutine.hpp"

namespace gort::rt::netpoll {

EpollBackend::EpollBackend() {
  epfd_ = epoll_create1(EPOLL_CLOEXEC);
  if (epfd_ < 0) throw std::runtime_error(std::string("epoll_create1: ") + std::strerror(errno));
  wakefd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wakefd_ < 0) throw std::runtime_error(std::string("eventfd: ") + std::strerror(errno));
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = kWakeToken;
  if (epoll_ctl(epfd_, EPOLL_CTL_ADD, wakefd_, &ev) != 0) {
    throw std::runtime_error(std::string("epoll_ctl(eventfd): ") + std::strerror(errno));
  }
}

EpollBackend::~EpollBackend() {
  ::close(wakefd_);
  ::close(epfd_);
}

int EpollBackend::register_fd(PollDesc* pd, uint32_t events, bool modify) {
  epoll_event ev{};
  ev.events = events | EPOLLET;
  ev.data.u64 = pd->token();
  return epoll_ctl(epfd_, modify ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, pd->fd, &ev) == 0 ? 0 : errno;
}

int EpollBackend::add(PollDesc* pd) {
  return register_fd(pd, EPOLLIN | EPOLLOUT | EPOLLRDHUP, false);
}

void EpollBackend::remove(PollDesc* pd) {
  epoll_event ev{};  // non-null for pre-2.6.9 kernels' sake; ignored
  epoll_ctl(epfd_, EPOLL_CTL_DEL, pd->fd, &ev);
}

G* EpollBackend::poll(int64_t timeout_ns, uint32_t* n) {
  ReadyList ready;
  poll_events(timeout_ns, timeout_ns != 0, &ready);
  *n = ready.n;
  return ready.head;
}

void EpollBackend::poll_events(int64_t timeout_ns, bool drain_wake, ReadyList* ready) {
  epoll_event events[kMaxEvents];
  int got = wait(events, timeout_ns);
  for (int i = 0; i < got; ++i) {
    const uint64_t token = events[i].data.u64;
    if (token == kWakeToken) {
      if (drain_wake) {
        uint64_t v;
        (void)!read(wakefd_, &v, sizeof v);
        wake_pending_.store(false, std::memory_order_seq_cst);
      }
      continue;
    }
    PollDesc* pd = pd_from_token(token);
    if (pd == nullptr) continue;  // stale: the fd was closed and its descriptor reused
    const uint32_t e = events[i].events;
    if (e & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) pd->hangup.store(true, std::memory_order_seq_cst);
    if (e & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
      if (G* g = pd_unblock(pd, Mode::kRead, true)) ready->push_back(g);
    }
    if (e & (EPOLLOUT | EPOLLHUP | EPOLLERR)) {
      if (G* g = pd_unblock(pd, Mode::kWrite, true)) ready->push_back(g);
    }
  }
}

void EpollBackend::wake() {
  bool expected = false;
  if (!wake_pending_.compare_exchange_strong(expected, true, std::memory_order_seq_cst)) return;
  uint64_t one = 1;
  (void)!write(wakefd_, &one, sizeof one);
}

int EpollBackend::wait(epoll_event* events, int64_t timeout_ns) {
  for (;;) {
    int r;
    if (timeout_ns < 0) {
      r = epoll_wait(epfd_, events, kMaxEvents, -1);
    } else if (timeout_ns == 0) {
      r = epoll_wait(epfd_, events, kMaxEvents, 0);
    } else if (have_pwait2_.load(std::memory_order_relaxed)) {
      // Nanosecond timeout: epoll_wait's milliseconds would round a 50 us timer up to 1 ms.
      timespec ts{static_cast<time_t>(timeout_ns / 1000000000),
                  static_cast<long>(timeout_ns % 1000000000)};
      r = epoll_pwait2(epfd_, events, kMaxEvents, &ts, nullptr);
      if (r < 0 && errno == ENOSYS) {
        have_pwait2_.store(false, std::memory_order_relaxed);
        continue;
      }
    } else {
      r = epoll_wait(epfd_, events, kMaxEvents,
                     static_cast<int>(std::min<int64_t>((timeout_ns + 999999) / 1000000, 1 << 30)));
    }
    if (r >= 0) return r;
    if (errno != EINTR) return 0;
    if (timeout_ns != -1) return 0;  // interrupted: the caller re-evaluates its deadline
  }
}

void ReadyList::push_back(G* g) {
  // The switch into g starts by loading its saved registers, the top of a stack last touched
  // long ago: with a thousand connections that load missed the cache on nearly every message.
  // Fetching it now overlaps the miss with the rest of the batch.
  __builtin_prefetch(g->ctx.handle);
  __builtin_prefetch(static_cast<char*>(g->ctx.handle) + 64);
  g->sched_next = nullptr;
  if (tail != nullptr) {
    tail->sched_next = g;
  } else {
    head = g;
  }
  tail = g;
  ++n;
}

Backend* make_epoll_backend() { return new EpollBackend(); }

}  // namespace gort::rt::netpoll
