// Stream sockets: Conn, Listener, dial and listen (gort/net/conn.hpp).
#include "gort/net/conn.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>

#include "absl/container/inlined_vector.h"
#include "runtime/net/socket.hpp"

namespace gort::net {

using detail::errno_code;
using detail::last_errno;
using detail::Mode;
using detail::Socket;

namespace {

struct Buf {
  void* p;
  size_t n;
};
struct ConstBuf {
  const void* p;
  size_t n;
};
struct Iov {
  const iovec* v;
  int n;
};
struct AcceptCtx {
  sockaddr_storage peer;
  socklen_t len;
};

ssize_t do_read(int fd, void* c) {
  auto* b = static_cast<Buf*>(c);
  __builtin_prefetch(b->p, 1);  // the kernel's copy into a buffer last touched long ago
  return ::recv(fd, b->p, b->n, 0);  // a socket: recv skips read(2)'s file-position layer
}
ssize_t do_send(int fd, void* c) {
  auto* b = static_cast<ConstBuf*>(c);
  return ::send(fd, b->p, b->n, MSG_NOSIGNAL);  // never SIGPIPE: EPIPE comes back as a value
}
ssize_t do_readv(int fd, void* c) {
  auto* v = static_cast<Iov*>(c);
  if (v->n > 0) __builtin_prefetch(v->v[0].iov_base, 1);
  return ::readv(fd, v->v, v->n);
}
ssize_t do_sendmsg(int fd, void* c) {
  auto* v = static_cast<Iov*>(c);
  msghdr msg{};
  msg.msg_iov = const_cast<iovec*>(v->v);
  msg.msg_iovlen = static_cast<size_t>(v->n);
  return ::sendmsg(fd, &msg, MSG_NOSIGNAL);
}
ssize_t do_accept(int fd, void* c) {
  auto* a = static_cast<AcceptCtx*>(c);
  a->len = sizeof a->peer;
  return ::accept4(fd, reinterpret_cast<sockaddr*>(&a->peer), &a->len,
                   SOCK_NONBLOCK | SOCK_CLOEXEC);
}

Result<void> setopt(Socket* s, int level, int name, int value) {
  detail::OpRef ref(s);
  if (!ref) return Errc::closed;
  if (setsockopt(s->fd(), level, name, &value, sizeof value) != 0) return errno_code(last_errno());
  return {};
}


int iov_count(std::span<const iovec> iov) {
  return static_cast<int>(std::min<size_t>(iov.size(), IOV_MAX));
}

// One vectored read or write for both paths: the iovecs for readv/sendmsg(2), and the same as
// a msghdr for the ring's recvmsg/sendmsg. Points into itself: not copyable.
struct VecOp {
  Iov v;
  msghdr msg{};
  rt::netpoll::OpRequest op;
  VecOp(std::span<const iovec> iov, rt::netpoll::OpKind kind)
      : v{iov.data(), iov_count(iov)}, op{kind} {
    msg.msg_iov = const_cast<iovec*>(v.v);
    msg.msg_iovlen = static_cast<size_t>(v.n);
    op.msg = &msg;
  }
  VecOp(const VecOp&) = delete;
  VecOp& operator=(const VecOp&) = delete;
};

Result<Socket*> live(const std::shared_ptr<Socket>& s) {
  if (!s) return Errc::closed;
  return s.get();
}

}  // namespace

// Conn -------------------------------------------------------------------------------------

Result<Conn> Conn::adopt(int fd) {
  // Checked before anything changes, so a refused fd stays the caller's, as it was: reads are
  // recv(2), which a pipe or a file would fail on every call (ENOTSOCK), and a datagram socket
  // has no stream to read_exact from (UdpSocket is for those).
  int type = 0;
  socklen_t len = sizeof type;
  if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0) return errno_code(last_errno());
  if (type != SOCK_STREAM && type != SOCK_SEQPACKET) {
    return std::make_error_code(std::errc::wrong_protocol_type);
  }
  const int fl = fcntl(fd, F_GETFL);
  if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) != 0) return errno_code(last_errno());
  return Conn(Socket::make(fd, true));
}

int Conn::fd() const { return s_ ? s_->fd() : -1; }

Result<size_t> Conn::read(void* buf, size_t len, Deadline d) {
  if (!s_) return Errc::closed;
  if (len == 0) return size_t{0};
  Buf b{buf, len};
  rt::netpoll::OpRequest op{rt::netpoll::OpKind::kRecv, buf, len};
  return s_->io(Mode::kRead, d, do_read, &b, &op);
}

Result<void> Conn::read_exact(void* buf, size_t len, Deadline d, size_t* transferred) {
  auto* p = static_cast<char*>(buf);
  size_t done = 0;
  Result<void> result;
  while (done < len) {
    auto r = read(p + done, len - done, d);
    if (!r) {
      result = r.error();
      break;
    }
    if (*r == 0) {
      result = Errc::eof;
      break;
    }
    done += *r;
  }
  if (transferred) *transferred = done;
  return result;
}

Result<size_t> Conn::write(const void* buf, size_t len, Deadline d) {
  if (!s_) return Errc::closed;
  if (len == 0) return size_t{0};
  ConstBuf b{buf, len};
  rt::netpoll::OpRequest op{rt::netpoll::OpKind::kSend, const_cast<void*>(buf), len};
  return s_->io(Mode::kWrite, d, do_send, &b, &op);
}

Result<void> Conn::write_all(const void* buf, size_t len, Deadline d, size_t* transferred) {
  const auto* p = static_cast<const char*>(buf);
  size_t done = 0;
  Result<void> result;
  while (done < len) {
    auto r = write(p + done, len - done, d);
    if (!r) {
      result = r.error();
      break;
    }
    done += *r;
  }
  if (transferred) *transferred = done;
  return result;
}

Result<size_t> Conn::readv(std::span<const iovec> iov, Deadline d) {
  if (!s_) return Errc::closed;
  VecOp o(iov, rt::netpoll::OpKind::kRecvMsg);
  return s_->io(Mode::kRead, d, do_readv, &o.v, &o.op);
}

Result<size_t> Conn::writev(std::span<const iovec> iov, Deadline d) {
  if (!s_) return Errc::closed;
  VecOp o(iov, rt::netpoll::OpKind::kSendMsg);
  return s_->io(Mode::kWrite, d, do_sendmsg, &o.v, &o.op);
}

Result<void> Conn::writev_all(std::span<const iovec> iov, Deadline d, size_t* transferred) {
  // A copy to advance through partial writes; inline for the usual few buffers (an HTTP
  // response's head and body), so a vectored write does not allocate.
  absl::InlinedVector<iovec, 8> rest(iov.begin(), iov.end());
  size_t first = 0;
  size_t done = 0;
  Result<void> result;
  while (first < rest.size()) {
    if (rest[first].iov_len == 0) {
      ++first;
      continue;
    }
    auto r = writev(std::span<const iovec>(rest.data() + first, rest.size() - first), d);
    if (!r) {
      result = r.error();
      break;
    }
    size_t n = *r;
    done += n;
    while (n > 0 && first < rest.size()) {
      const size_t take = std::min(n, rest[first].iov_len);
      rest[first].iov_base = static_cast<char*>(rest[first].iov_base) + take;
      rest[first].iov_len -= take;
      n -= take;
      if (rest[first].iov_len == 0) ++first;
    }
  }
  if (transferred) *transferred = done;
  return result;
}

Result<void> Conn::shutdown(Shutdown how) {
  if (!s_) return Errc::closed;
  detail::OpRef ref(s_.get());
  if (!ref) return Errc::closed;
  const int h = how == Shutdown::read ? SHUT_RD : how == Shutdown::write ? SHUT_WR : SHUT_RDWR;
  if (::shutdown(s_->fd(), h) != 0) return errno_code(last_errno());
  return {};
}

void Conn::close() {
  if (s_) s_->close();
}

void Conn::set_read_deadline(Deadline d) {
  if (s_) s_->set_deadline(Mode::kRead, d);
}
void Conn::set_write_deadline(Deadline d) {
  if (s_) s_->set_deadline(Mode::kWrite, d);
}

Result<void> Conn::set_nodelay(bool on) {
  auto s = live(s_);
  if (!s) return s.error();
  return setopt(*s, IPPROTO_TCP, TCP_NODELAY, on ? 1 : 0);
}

Result<void> Conn::set_keepalive(bool on, std::chrono::seconds idle) {
  auto s = live(s_);
  if (!s) return s.error();
  if (auto r = setopt(*s, SOL_SOCKET, SO_KEEPALIVE, on ? 1 : 0); !r) return r;
  if (on && idle.count() > 0) {
    const int secs = static_cast<int>(std::min<int64_t>(idle.count(), 32767));
    if (auto r = setopt(*s, IPPROTO_TCP, TCP_KEEPIDLE, secs); !r) return r;
    if (auto r = setopt(*s, IPPROTO_TCP, TCP_KEEPINTVL, secs); !r) return r;
  }
  return {};
}

Result<void> Conn::set_linger(bool on, std::chrono::seconds timeout) {
  if (!s_) return Errc::closed;
  detail::OpRef ref(s_.get());
  if (!ref) return Errc::closed;
  const int64_t secs = std::clamp<int64_t>(timeout.count(), 0, INT_MAX);  // no wrap to negative
  linger l{on ? 1 : 0, static_cast<int>(secs)};
  if (setsockopt(s_->fd(), SOL_SOCKET, SO_LINGER, &l, sizeof l) != 0) return errno_code(last_errno());
  return {};
}

Result<Address> Conn::local_address() const {
  if (!s_) return Errc::closed;
  return detail::socket_address(s_.get(), false);
}
Result<Address> Conn::peer_address() const {
  if (!s_) return Errc::closed;
  return detail::socket_address(s_.get(), true);
}

// Listener ---------------------------------------------------------------------------------

int Listener::fd() const { return s_ ? s_->fd() : -1; }

Result<Conn> Listener::accept(Deadline d, Address* peer) {
  if (!s_) return Errc::closed;
  AcceptCtx ctx{};
  ctx.len = sizeof ctx.peer;
  rt::netpoll::OpRequest op{rt::netpoll::OpKind::kAccept};
  op.addr = &ctx.peer;
  op.addrlen = &ctx.len;
  auto r = s_->io(Mode::kRead, d, do_accept, &ctx, &op);
  if (!r) return r.error();  // EMFILE/ENFILE/ENOBUFS: the listener stays usable
  const int fd = static_cast<int>(*r);
  if (peer) *peer = Address::from_sockaddr(reinterpret_cast<sockaddr*>(&ctx.peer), ctx.len);
  return Conn(Socket::make(fd, true));
}

void Listener::close() {
  if (s_) s_->close();
}

void Listener::set_deadline(Deadline d) {
  if (s_) s_->set_deadline(Mode::kRead, d);
}

Result<Address> Listener::local_address() const {
  if (!s_) return Errc::closed;
  return detail::socket_address(s_.get(), false);
}

// dial / listen ------------------------------------------------------------------------------

Result<Listener> listen(const Address& addr, const ListenOptions& opts) {
  const int fd = ::socket(addr.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return errno_code(last_errno());
  auto fail = [fd] {
    const int e = last_errno();
    ::close(fd);
    return errno_code(e);
  };
  const int one = 1;
  if (addr.family() != AF_UNIX) {
    if (opts.reuse_address && setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0) return fail();
    if (opts.reuse_port && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) return fail();
  }
  if (addr.family() == AF_INET6) {
    const int v6only = opts.ipv6_only ? 1 : 0;
    if (setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof v6only) != 0) return fail();
  }
  if (::bind(fd, addr.data(), addr.size()) != 0) return fail();
  if (::listen(fd, opts.backlog) != 0) return fail();
  auto s = Socket::make(fd, true);
  const auto* su = reinterpret_cast<const sockaddr_un*>(addr.data());
  if (addr.family() == AF_UNIX && opts.unlink_on_close && su->sun_path[0] != '\0') {
    // A path, not the abstract namespace: remember which file bind made (the file's own
    // inode; fstat on the fd would give the socket's, in sockfs).
    struct stat st;
    if (::stat(su->sun_path, &st) == 0) s->unlink_on_close(su->sun_path, st.st_dev, st.st_ino);
  }
  return Listener(std::move(s));
}

Result<Listener> listen_tcp(std::string_view host_port, const ListenOptions& opts) {
  auto addrs = Address::resolve(host_port);
  if (!addrs) return addrs.error();
  std::error_code last = Errc::invalid_address;
  for (const Address& a : *addrs) {
    auto l = listen(a, opts);
    if (l) return l;
    last = l.error();
    // ":port" on a host without IPv6: fall back to IPv4's any address. Only for the any
    // address: a specific IPv6 address ("[::1]:80", "[fe80::1%eth0]:80") that cannot be bound
    // is an error, not a licence to listen on every IPv4 interface.
    const auto* a6 = reinterpret_cast<const sockaddr_in6*>(a.data());
    if (a.family() == AF_INET6 && IN6_IS_ADDR_UNSPECIFIED(&a6->sin6_addr) &&
        (last == std::errc::address_family_not_supported ||
         last == std::errc::address_not_available)) {
      if (auto v4 = Address::parse("0.0.0.0:" + std::to_string(a.port()))) {
        if (auto l4 = listen(*v4, opts)) return l4;
      }
    }
  }
  return last;
}

Result<Listener> listen_unix(std::string_view path, const ListenOptions& opts) {
  auto a = Address::unix_path(path);
  if (!a) return a.error();
  return listen(*a, opts);
}

Result<Conn> dial(const Address& addr, Deadline d) {
  const int fd = ::socket(addr.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return errno_code(last_errno());
  Conn c(Socket::make(fd, true));
  int e = 0;
  if (auto r = c.socket()->ring_connect(addr.data(), addr.size(), d)) {
    if (*r) return c;
    const std::error_code err = r->error();
    if (err != std::errc::connection_already_in_progress && err != std::errc::already_connected) {
      c.close();
      return err;
    }
    // A retry (after a cancel) found the first attempt in progress or done: wait for it below.
  } else {
    if (::connect(fd, addr.data(), addr.size()) == 0) return c;
    e = last_errno();
    if (e != EINPROGRESS && e != EINTR && e != EAGAIN && e != EALREADY && e != EISCONN) {
      c.close();
      return errno_code(e);
    }
  }
  // Writable means connected or failed; a first readiness event from registering the fd before
  // connect() can come early, so confirm with SO_ERROR and getpeername (as Go does).
  for (;;) {
    if (auto w = c.socket()->wait(Mode::kWrite, d); !w) {
      c.close();
      return w.error();
    }
    int so_error = 0;
    socklen_t len = sizeof so_error;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &so_error, &len) != 0) so_error = last_errno();
    if (so_error == EINPROGRESS || so_error == EALREADY || so_error == EINTR) continue;
    if (so_error != 0) {
      c.close();
      return errno_code(so_error);
    }
    sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    if (getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &sl) == 0) return c;
    if (last_errno() != ENOTCONN) {
      e = last_errno();
      c.close();
      return errno_code(e);
    }
  }
}

Result<Conn> dial_tcp(std::string_view host_port, Deadline d) {
  auto addrs = Address::resolve(host_port);
  if (!addrs) return addrs.error();
  std::error_code last = Errc::invalid_address;
  for (const Address& a : *addrs) {
    auto c = dial(a, d);
    if (c) return c;
    last = c.error();
    if (last == std::errc::timed_out) break;  // the deadline covers the whole dial
  }
  return last;
}

Result<Conn> dial_unix(std::string_view path, Deadline d) {
  auto a = Address::unix_path(path);
  if (!a) return a.error();
  return dial(*a, d);
}

}  // namespace gort::net
