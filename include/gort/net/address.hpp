// Socket addresses: IPv4, IPv6 and Unix-domain paths, parsed from Go-style strings.
//
//   "127.0.0.1:8080", "[::1]:8080", ":8080" (every interface, IPv4 and IPv6 where possible),
//   "localhost:http" (names need Address::resolve, which runs getaddrinfo through
//   gort::blocking so the other goroutines keep running).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <sys/socket.h>

#include "gort/net/error.hpp"

namespace gort::net {

class Address {
 public:
  Address() = default;  // empty: family() == AF_UNSPEC

  // A numeric "host:port" (IPv6 in brackets, with an optional zone: "[fe80::1%eth0]:80" or
  // "%2"; an empty host means every interface, "[::]"). Errc::invalid_address when it is not
  // one: no port, a port above 65535, a zone that names no interface.
  static Result<Address> parse(std::string_view host_port);
  // Resolves names too (getaddrinfo, through gort::blocking when called from a goroutine).
  // Every address the name has, in the resolver's order. Errc::host_not_found for a name
  // without addresses, Errc::invalid_address for a malformed string or an unknown service; a
  // resolver that could not answer gives a "gort.resolver" error (EAI_AGAIN's text, ...).
  static Result<std::vector<Address>> resolve(std::string_view host_port);
  // A Unix-domain socket path ('@' first: Linux's abstract namespace).
  static Result<Address> unix_path(std::string_view path);
  // An IPv4-mapped IPv6 address (::ffff:a.b.c.d, what a dual-stack socket reports for IPv4
  // peers) becomes the IPv4 address.
  static Address from_sockaddr(const sockaddr* sa, socklen_t len);

  int family() const { return storage_.ss_family; }
  uint16_t port() const;                // 0 for Unix addresses
  std::string to_string() const;        // "1.2.3.4:80", "[::1]:80", "unix:/path"
  const sockaddr* data() const { return reinterpret_cast<const sockaddr*>(&storage_); }
  sockaddr* data() { return reinterpret_cast<sockaddr*>(&storage_); }
  socklen_t size() const { return len_; }
  bool operator==(const Address& o) const;

 private:
  sockaddr_storage storage_{};
  socklen_t len_ = 0;
};

}  // namespace gort::net
