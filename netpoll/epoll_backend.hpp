// EpollBackend: the readiness backend, also the base of the io_uring backend (which serves the
// readiness path, Pollable and connect among others, from the same epoll set; see
// uring_backend.cpp). Design notes in epoll_backend.cpp.
#pragma once

#include <sys/epoll.h>

#include <atomic>
#include <cstdint>

#include "netpoll/backend.hpp"

namespace gort::rt::netpoll {

constexpr uint64_t kWakeToken = ~uint64_t{0};
constexpr int kMaxEvents = 128;

class EpollBackend : public Backend {
 public:
  EpollBackend();
  ~EpollBackend() override;
  const char* name() const override { return "epoll"; }
  int add(PollDesc* pd) override;
  void remove(PollDesc* pd) override;
  G* poll(int64_t timeout_ns, uint32_t* n) override;
  void wake() override;

 protected:
  // Registers pd->fd with `events` (EPOLLET added), or changes its registration.
  int register_fd(PollDesc* pd, uint32_t events, bool modify);
  int wait(epoll_event* events, int64_t timeout_ns);
  // poll() appending to `ready`, with a say in draining the wake-up eventfd (only the M that
  // sleeps for the set does).
  void poll_events(int64_t timeout_ns, bool drain_wake, ReadyList* ready);
  int epoll_fd() const { return epfd_; }

 private:
  int epfd_ = -1;
  int wakefd_ = -1;
  std::atomic<bool> wake_pending_{false};
  std::atomic<bool> have_pwait2_{true};  // relaxed: a monotonic hint (true -> false once)
};

}  // namespace gort::rt::netpoll
