// EpollBackend: the readiness backend, also the base of the io_uring backend (which adds ring
// fds to the same epoll set; see uring_backend.cpp). Design notes in epoll_backend.cpp.
#pragma once

#include <sys/epoll.h>

#include <atomic>
#include <cstdint>

#include "netpoll/backend.hpp"

namespace gort::rt::netpoll {

constexpr uint64_t kWakeToken = ~uint64_t{0};
// Tokens with the top bit set (other than kWakeToken) belong to subclasses (ring fds).
constexpr uint64_t kSpecialToken = uint64_t{1} << 63;
constexpr int kMaxEvents = 128;

class EpollBackend : public Backend {
 public:
  EpollBackend();
  const char* name() const override { return "epoll"; }
  int add(PollDesc* pd) override;
  void remove(PollDesc* pd) override;
  G* poll(int64_t timeout_ns, uint32_t* n) override;
  void wake() override;

 protected:
  // A subclass's own fd in the set (token: kSpecialToken | id).
  int add_special(int fd, uint32_t id);
  // Events for such tokens; appends ready goroutines to the list.
  virtual void on_special(uint32_t id, G** head, uint32_t* n) {}
  int wait(epoll_event* events, int64_t timeout_ns);

 private:
  int epfd_ = -1;
  int wakefd_ = -1;
  std::atomic<bool> wake_pending_{false};
  std::atomic<bool> have_pwait2_{true};  // relaxed: a monotonic hint (true -> false once)
};

}  // namespace gort::rt::netpoll
