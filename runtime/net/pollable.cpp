// Readiness waits on foreign fds (gort/net/poll.hpp).
#include "gort/net/poll.hpp"

#include <fcntl.h>

#include "runtime/net/socket.hpp"

namespace gort::net {

Result<Pollable> Pollable::watch(int fd) {
  if (fcntl(fd, F_GETFL) < 0) return detail::errno_code(detail::last_errno());
  return Pollable(detail::Socket::make(fd, /*owns=*/false));
}

Pollable::~Pollable() {
  if (s_) s_->close();  // unregisters; the fd itself stays open (its owner closes it)
}

Result<void> Pollable::wait_readable(Deadline d) {
  if (!s_) return Errc::closed;
  return s_->wait(detail::Mode::kRead, d);
}

Result<void> Pollable::wait_writable(Deadline d) {
  if (!s_) return Errc::closed;
  return s_->wait(detail::Mode::kWrite, d);
}

}  // namespace gort::net
