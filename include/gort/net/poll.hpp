// Driving other libraries' file descriptors from goroutines: wait until an fd is readable or
// writable without blocking the thread.
//
//   auto h = gort::net::Pollable::watch(fd);   // fd must be non-blocking; ownership stays
//   while (::read(fd, ...) < 0 && errno == EAGAIN) h->wait_readable();
//
// Release the Pollable (destroy or close it) before closing the fd: a wait on a closed fd wakes
// only at its deadline or the Pollable's close. Released after (the number perhaps reused by a
// socket since), it leaves the newcomer's registration alone. Closing or destroying it wakes
// the goroutines waiting on it with Errc::closed; a wait may run while another goroutine closes
// the Pollable (not while it is being moved or assigned).
#pragma once

#include <memory>

#include "gort/net/deadline.hpp"
#include "gort/net/error.hpp"

namespace gort::net {

namespace detail {
class Socket;
}

class Pollable {
 public:
  static Result<Pollable> watch(int fd);
  Pollable() = default;
  Pollable(Pollable&&) noexcept = default;
  Pollable& operator=(Pollable&&) noexcept = default;
  ~Pollable();

  // Returns when the fd is (probably) ready: the caller retries its call, and waits again on
  // EAGAIN. std::errc::timed_out when the deadline passes first.
  Result<void> wait_readable(Deadline d = {});
  Result<void> wait_writable(Deadline d = {});
  // Unregisters the fd (it stays open: its owner closes it) and wakes every wait with
  // Errc::closed; later waits return Errc::closed at once. Idempotent.
  void close();

 private:
  explicit Pollable(std::shared_ptr<detail::Socket> s) : s_(std::move(s)) {}
  std::shared_ptr<detail::Socket> s_;
};

}  // namespace gort::net
