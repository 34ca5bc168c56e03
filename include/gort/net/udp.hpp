// UDP sockets (datagrams), blocking-style like gort/net/conn.hpp.
#pragma once

#include <memory>
#include <string_view>

#include "gort/net/address.hpp"
#include "gort/net/conn.hpp"
#include "gort/net/deadline.hpp"
#include "gort/net/error.hpp"

namespace gort::net {

class UdpSocket {
 public:
  UdpSocket() = default;
  // Binds to "host:port" (port 0: any free port).
  static Result<UdpSocket> bind(std::string_view host_port);
  static Result<UdpSocket> bind(const Address& addr);

  bool valid() const { return s_ != nullptr; }
  int fd() const;

  // Sends one datagram.
  Result<size_t> send_to(const void* buf, size_t len, const Address& to, Deadline d = {});
  // Receives one datagram (truncated to len); `from` (optional) receives the sender.
  Result<size_t> recv_from(void* buf, size_t len, Address* from = nullptr, Deadline d = {});
  // After connect(): send / recv to and from that peer only.
  Result<void> connect(const Address& peer);
  Result<size_t> send(const void* buf, size_t len, Deadline d = {});
  Result<size_t> recv(void* buf, size_t len, Deadline d = {});

  void close();
  void set_read_deadline(Deadline d);
  void set_write_deadline(Deadline d);
  Result<Address> local_address() const;

 private:
  explicit UdpSocket(std::shared_ptr<detail::Socket> s) : s_(std::move(s)) {}
  std::shared_ptr<detail::Socket> s_;
};

}  // namespace gort::net
