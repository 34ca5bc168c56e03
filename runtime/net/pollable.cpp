// Readiness waits on foreign fds (gort/net/poll.hpp).
#include "gort/net/poll.hpp"

#include <fcntl.h>

#include "runtime/net/socket.hpp"

namespace gort::net {

Result<Pollable> Pollable::watch(int fd) {
  if (fcntl(fd, F_GETFL) < 0) return detail::errno_code(detail::last_errno());
  return Pollable(detail::Socket::make(fd, /*owns=*/false));
}

Pollable::~Pollable() { close(); }

void Pollable::close() {
  if (s_) s_->close();  // unregisters; the fd itself stays open (its owner closes it)
}

// A wait holds its own reference: the Pollable may be destroyed while it sleeps (its close wakes
// the wait, which then still touches the socket state on its way out).
Result<void> Pollable::wait_readable(Deadline d) {
  std::shared_ptr<detail::Socket> s = s_;
  if (!s) return Errc::closed;
  return s->wait(detail::Mode::kRead, d);
}

Result<void> Pollable::wait_writable(Deadline d) {
  std::shared_ptr<detail::Socket> s = s_;
  if (!s) return Errc::closed;
  return s->wait(detail::Mode::kWrite, d);
}

}  // namespace gort::net
