// Stream sockets (TCP and Unix): connect, listen, accept, read and write in blocking style.
//
// Every call that would wait parks only the calling goroutine; its thread runs other goroutines
// meanwhile, and the netpoller (epoll or io_uring, see gort::Config::poller) readies it again.
// Called from a thread outside the runtime, the same calls block that thread instead.
//
// Handles are shared: copies of a Conn refer to the same socket (hand one to a second goroutine
// to write while the first reads). The socket is closed by close() or when the last handle goes
// away. close() may be called from any goroutine while others wait on the socket: they return
// Errc::closed, and the file descriptor number is released only after every one of them has
// left, so it can never be reused under an operation still in flight.
//
// Expected failures come back as values (gort/net/error.hpp): end of stream is a read of 0
// bytes, a reset is std::errc::connection_reset, a deadline is std::errc::timed_out. Writes never
// raise SIGPIPE (a write to a closed peer is std::errc::broken_pipe).
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <span>
#include <string_view>

#include <sys/uio.h>

#include "gort/net/address.hpp"
#include "gort/net/deadline.hpp"
#include "gort/net/error.hpp"

namespace gort::net {

namespace detail {
class Socket;
}

enum class Shutdown { read = 0, write = 1, both = 2 };

// A connected stream socket.
class Conn {
 public:
  Conn() = default;
  // Adopts a connected stream socket someone else created (it is made non-blocking and belongs
  // to the Conn from then on). Anything else is refused and left to the caller untouched:
  // ENOTSOCK for a pipe or a file, EPROTOTYPE (std::errc::wrong_protocol_type) for a datagram
  // socket, EBADF for a closed fd.
  static Result<Conn> adopt(int fd);

  bool valid() const { return s_ != nullptr; }
  int fd() const;  // -1 once closed

  // Reads what is available, at least 1 byte (waits for it); 0 means the peer ended the stream.
  Result<size_t> read(void* buf, size_t len, Deadline d = {});
  // Reads exactly len bytes; Errc::eof when the stream ends first (what arrived stays in buf).
  // `transferred` (optional) receives how many bytes were read, also when it fails (Go's
  // io.ReadFull returns that count with its error), so a caller can tell a clean end between
  // messages (0) from a truncated one, or resume after a deadline.
  Result<void> read_exact(void* buf, size_t len, Deadline d = {}, size_t* transferred = nullptr);
  // One write: at least 1 byte unless len is 0 (waits for room), possibly fewer than len.
  Result<size_t> write(const void* buf, size_t len, Deadline d = {});
  // Writes everything (std::errc::timed_out after a partial write leaves the rest unsent;
  // `transferred`, optional, says how much went, so the rest can be written later).
  Result<void> write_all(const void* buf, size_t len, Deadline d = {},
                         size_t* transferred = nullptr);
  Result<void> write_all(std::string_view s, Deadline d = {}, size_t* transferred = nullptr) {
    return write_all(s.data(), s.size(), d, transferred);
  }
  // Vectored forms (readv/writev; one call takes at most IOV_MAX buffers, the _all form any).
  Result<size_t> readv(std::span<const iovec> iov, Deadline d = {});
  Result<size_t> writev(std::span<const iovec> iov, Deadline d = {});
  Result<void> writev_all(std::span<const iovec> iov, Deadline d = {},
                          size_t* transferred = nullptr);

  Result<void> shutdown(Shutdown how);
  // Closes the socket (idempotent). Operations waiting on it return Errc::closed.
  void close();

  // Standing deadlines for later reads / writes (Deadline{} removes them).
  void set_read_deadline(Deadline d);
  void set_write_deadline(Deadline d);
  void set_deadline(Deadline d) { set_read_deadline(d); set_write_deadline(d); }

  Result<void> set_nodelay(bool on);
  // Keep-alive probes after `idle` without traffic (0: the system default).
  Result<void> set_keepalive(bool on, std::chrono::seconds idle = std::chrono::seconds(0));
  Result<void> set_linger(bool on, std::chrono::seconds timeout);  // timeout 0: reset on close
  Result<Address> local_address() const;
  Result<Address> peer_address() const;

  explicit Conn(std::shared_ptr<detail::Socket> s) : s_(std::move(s)) {}
  detail::Socket* socket() const { return s_.get(); }

 private:
  std::shared_ptr<detail::Socket> s_;
};

struct ListenOptions {
  int backlog = 4096;
  bool reuse_address = true;   // SO_REUSEADDR (TCP)
  bool reuse_port = false;     // SO_REUSEPORT: several listeners share one port
  bool ipv6_only = false;      // IPV6_V6ONLY for an IPv6 address
  // A Unix socket path: closing the listener removes the socket file it created (unless
  // something else was bound there since), so the path can be listened on again (Go's
  // default). A file left by a process that died still makes listen fail with EADDRINUSE.
  bool unlink_on_close = true;
};

// A listening stream socket.
class Listener {
 public:
  Listener() = default;
  bool valid() const { return s_ != nullptr; }
  int fd() const;

  // Waits for the next connection. When the process runs out of file descriptors (EMFILE,
  // ENFILE) or memory, returns that error (std::errc::too_many_files_open, ...) and stays
  // usable: the pending connection waits in the backlog until a later accept can take it.
  // `peer` (optional) receives the peer's address.
  Result<Conn> accept(Deadline d = {}, Address* peer = nullptr);
  void close();
  void set_deadline(Deadline d);
  Result<Address> local_address() const;

  explicit Listener(std::shared_ptr<detail::Socket> s) : s_(std::move(s)) {}

 private:
  std::shared_ptr<detail::Socket> s_;
};

// "host:port"; names resolve through Address::resolve and every address is tried in turn.
Result<Listener> listen_tcp(std::string_view host_port, const ListenOptions& opts = {});
Result<Listener> listen(const Address& addr, const ListenOptions& opts = {});
Result<Listener> listen_unix(std::string_view path, const ListenOptions& opts = {});
Result<Conn> dial_tcp(std::string_view host_port, Deadline d = {});
Result<Conn> dial(const Address& addr, Deadline d = {});
Result<Conn> dial_unix(std::string_view path, Deadline d = {});

}  // namespace gort::net
