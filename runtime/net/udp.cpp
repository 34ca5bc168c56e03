// UDP sockets (gort/net/udp.hpp).
#include "gort/net/udp.hpp"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "runtime/net/socket.hpp"

namespace gort::net {

using detail::errno_code;
using detail::last_errno;
using detail::Mode;
using detail::Socket;

namespace {

struct SendTo {
  const void* p;
  size_t n;
  const Address* to;  // null: connected
};
struct RecvFrom {
  void* p;
  size_t n;
  sockaddr_storage from;
  socklen_t len;
};

ssize_t do_sendto(int fd, void* c) {
  auto* s = static_cast<SendTo*>(c);
  if (s->to == nullptr) return ::send(fd, s->p, s->n, MSG_NOSIGNAL);
  return ::sendto(fd, s->p, s->n, MSG_NOSIGNAL, s->to->data(), s->to->size());
}
ssize_t do_recvfrom(int fd, void* c) {
  auto* r = static_cast<RecvFrom*>(c);
  r->len = sizeof r->from;
  return ::recvfrom(fd, r->p, r->n, 0, reinterpret_cast<sockaddr*>(&r->from), &r->len);
}

}  // namespace

Result<UdpSocket> UdpSocket::bind(const Address& addr) {
  const int fd = ::socket(addr.family(), SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return errno_code(last_errno());
  if (addr.family() == AF_INET6) {
    const int off = 0;
    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof off);
  }
  if (::bind(fd, addr.data(), addr.size()) != 0) {
    const int e = last_errno();
    ::close(fd);
    return errno_code(e);
  }
  return UdpSocket(Socket::make(fd, true));
}

Result<UdpSocket> UdpSocket::bind(std::string_view host_port) {
  auto addrs = Address::resolve(host_port);
  if (!addrs) return addrs.error();
  std::error_code last = Errc::invalid_address;
  for (const Address& a : *addrs) {
    auto s = bind(a);
    if (s) return s;
    last = s.error();
  }
  return last;
}

int UdpSocket::fd() const { return s_ ? s_->fd() : -1; }

Result<size_t> UdpSocket::send_to(const void* buf, size_t len, const Address& to, Deadline d) {
  if (!s_) return Errc::closed;
  SendTo c{buf, len, &to};
  return s_->io(Mode::kWrite, d, do_sendto, &c);
}

Result<size_t> UdpSocket::recv_from(void* buf, size_t len, Address* from, Deadline d) {
  if (!s_) return Errc::closed;
  RecvFrom c{buf, len, {}, 0};
  auto r = s_->io(Mode::kRead, d, do_recvfrom, &c);
  if (r && from) *from = Address::from_sockaddr(reinterpret_cast<sockaddr*>(&c.from), c.len);
  return r;
}

Result<void> UdpSocket::connect(const Address& peer) {
  if (!s_) return Errc::closed;
  detail::OpRef ref(s_.get());
  if (!ref) return Errc::closed;
  if (::connect(s_->fd(), peer.data(), peer.size()) != 0) return errno_code(last_errno());
  return {};
}

Result<size_t> UdpSocket::send(const void* buf, size_t len, Deadline d) {
  if (!s_) return Errc::closed;
  SendTo c{buf, len, nullptr};
  return s_->io(Mode::kWrite, d, do_sendto, &c);
}

Result<size_t> UdpSocket::recv(void* buf, size_t len, Deadline d) {
  return recv_from(buf, len, nullptr, d);
}

void UdpSocket::close() {
  if (s_) s_->close();
}
void UdpSocket::set_read_deadline(Deadline d) {
  if (s_) s_->set_deadline(Mode::kRead, d);
}
void UdpSocket::set_write_deadline(Deadline d) {
  if (s_) s_->set_deadline(Mode::kWrite, d);
}

Result<Address> UdpSocket::local_address() const {
  if (!s_) return Errc::closed;
  return detail::socket_address(s_.get(), false);
}

}  // namespace gort::net
