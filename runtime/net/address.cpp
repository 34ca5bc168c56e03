// Address parsing, formatting and name resolution (gort/net/address.hpp).
#include "gort/net/address.hpp"

#include <arpa/inet.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/un.h>

#include <charconv>
#include <cstring>
#include <optional>
#include <string>

#include "gort/runtime.hpp"

namespace gort::net {

namespace {

struct HostPort {
  std::string host;
  std::string port;
};

// Splits "host:port" / "[v6]:port"; false when there is no port.
bool split_host_port(std::string_view s, HostPort* out) {
  if (!s.empty() && s.front() == '[') {
    const size_t close = s.find(']');
    if (close == std::string_view::npos || close + 1 >= s.size() || s[close + 1] != ':') return false;
    out->host = std::string(s.substr(1, close - 1));
    out->port = std::string(s.substr(close + 2));
    return !out->port.empty();
  }
  const size_t colon = s.rfind(':');
  if (colon == std::string_view::npos) return false;
  out->host = std::string(s.substr(0, colon));
  if (out->host.find(':') != std::string::npos) return false;  // a bare IPv6 needs brackets
  out->port = std::string(s.substr(colon + 1));
  return !out->port.empty();
}

bool parse_port(const std::string& p, uint16_t* out) {
  unsigned v = 0;
  auto [ptr, ec] = std::from_chars(p.data(), p.data() + p.size(), v);
  if (ec != std::errc() || ptr != p.data() + p.size() || v > 65535) return false;
  *out = static_cast<uint16_t>(v);
  return true;
}

// A port written as digits must be in range before a name is resolved: getaddrinfo takes
// "70000" and wraps it to 4464, so listen_tcp("host:70000") would bind a port nobody asked for.
bool numeric_port_out_of_range(const std::string& p) {
  uint16_t ignored;
  return !p.empty() && p.find_first_not_of("0123456789") == std::string::npos &&
         !parse_port(p, &ignored);
}

// An IPv6 zone: an interface name ("lo", "eth0") or its index. 0 when it names no interface.
uint32_t zone_index(const std::string& zone) {
  unsigned v = 0;
  auto [ptr, ec] = std::from_chars(zone.data(), zone.data() + zone.size(), v);
  if (ec == std::errc() && ptr == zone.data() + zone.size()) return v;
  return if_nametoindex(zone.c_str());
}

// getaddrinfo's failures other than "no such host" and a bad service, with gai_strerror's text
// ("Temporary failure in name resolution", ...), so a caller can tell a resolver that could not
// answer from a name that does not exist.
class ResolverCategory final : public std::error_category {
 public:
  const char* name() const noexcept override { return "gort.resolver"; }
  std::string message(int ev) const override { return gai_strerror(ev); }
};

const std::error_category& resolver_category() noexcept {
  static const ResolverCategory category;
  return category;
}

}  // namespace

Address Address::from_sockaddr(const sockaddr* sa, socklen_t len) {
  // A dual-stack socket (":port") reports IPv4 peers as ::ffff:a.b.c.d. They are IPv4 peers:
  // as such they print ("127.0.0.1:80", as Go prints them), compare equal to the address the
  // peer itself reports, and can be sent to from either kind of socket (Linux maps an IPv4
  // destination on a dual-stack socket).
  if (sa->sa_family == AF_INET6 && len >= sizeof(sockaddr_in6)) {
    const auto* s6 = reinterpret_cast<const sockaddr_in6*>(sa);
    if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {
      sockaddr_in s4{};
      s4.sin_family = AF_INET;
      s4.sin_port = s6->sin6_port;
      std::memcpy(&s4.sin_addr, &s6->sin6_addr.s6_addr[12], sizeof s4.sin_addr);
      return from_sockaddr(reinterpret_cast<const sockaddr*>(&s4), sizeof s4);
    }
  }
  Address a;
  if (len > sizeof a.storage_) len = sizeof a.storage_;
  std::memcpy(&a.storage_, sa, len);
  a.len_ = len;
  return a;
}

Result<Address> Address::parse(std::string_view host_port) {
  HostPort hp;
  uint16_t port = 0;
  if (!split_host_port(host_port, &hp) || !parse_port(hp.port, &port)) return Errc::invalid_address;
  Address a;
  if (hp.host.empty()) {  // every interface: IPv6 any, dual-stack when listening
    auto* s6 = reinterpret_cast<sockaddr_in6*>(&a.storage_);
    s6->sin6_family = AF_INET6;
    s6->sin6_addr = in6addr_any;
    s6->sin6_port = htons(port);
    a.len_ = sizeof *s6;
    return a;
  }
  auto* s4 = reinterpret_cast<sockaddr_in*>(&a.storage_);
  if (inet_pton(AF_INET, hp.host.c_str(), &s4->sin_addr) == 1) {
    s4->sin_family = AF_INET;
    s4->sin_port = htons(port);
    a.len_ = sizeof *s4;
    return a;
  }
  auto* s6 = reinterpret_cast<sockaddr_in6*>(&a.storage_);
  std::string host = hp.host;
  std::optional<std::string> zone;  // "%" with nothing after it is a zone too: an unknown one
  if (const size_t pct = host.find('%'); pct != std::string::npos) {
    zone = host.substr(pct + 1);
    host.resize(pct);
  }
  if (inet_pton(AF_INET6, host.c_str(), &s6->sin6_addr) == 1) {
    s6->sin6_family = AF_INET6;
    s6->sin6_port = htons(port);
    if (zone) {
      s6->sin6_scope_id = zone_index(*zone);
      if (s6->sin6_scope_id == 0) return Errc::invalid_address;  // no such interface
    }
    a.len_ = sizeof *s6;
    return a;
  }
  return Errc::invalid_address;
}

Result<std::vector<Address>> Address::resolve(std::string_view host_port) {
  if (auto a = parse(host_port)) return std::vector<Address>{*a};
  HostPort hp;
  if (!split_host_port(host_port, &hp) || numeric_port_out_of_range(hp.port)) {
    return Errc::invalid_address;
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_ADDRCONFIG;
  addrinfo* res = nullptr;
  // getaddrinfo may block for seconds (DNS): keep the processor free for other goroutines.
  const int rc = gort::blocking([&] {
    return getaddrinfo(hp.host.empty() ? nullptr : hp.host.c_str(), hp.port.c_str(), &hints, &res);
  });
  if (rc != 0) {
    if (rc == EAI_SYSTEM) return std::error_code(errno, std::generic_category());
    if (rc == EAI_SERVICE) return Errc::invalid_address;  // a port that is no number, no service
    if (rc == EAI_NONAME || rc == EAI_NODATA || rc == EAI_ADDRFAMILY) return Errc::host_not_found;
    return std::error_code(rc, resolver_category());
  }
  std::vector<Address> out;
  for (addrinfo* ai = res; ai != nullptr; ai = ai->ai_next) {
    out.push_back(from_sockaddr(ai->ai_addr, ai->ai_addrlen));
  }
  freeaddrinfo(res);
  if (out.empty()) return Errc::host_not_found;
  return out;
}

Result<Address> Address::unix_path(std::string_view path) {
  Address a;
  auto* su = reinterpret_cast<sockaddr_un*>(&a.storage_);
  if (path.empty() || path.size() >= sizeof su->sun_path) return Errc::invalid_address;
  su->sun_family = AF_UNIX;
  std::memcpy(su->sun_path, path.data(), path.size());
  if (path.front() == '@') su->sun_path[0] = '\0';  // abstract namespace
  a.len_ = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size() +
                                  (path.front() == '@' ? 0 : 1));
  return a;
}

uint16_t Address::port() const {
  if (family() == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in*>(&storage_)->sin_port);
  if (family() == AF_INET6) return ntohs(reinterpret_cast<const sockaddr_in6*>(&storage_)->sin6_port);
  return 0;
}

std::string Address::to_string() const {
  char buf[INET6_ADDRSTRLEN] = {};
  if (family() == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&storage_)->sin_addr, buf, sizeof buf);
    std::string out = buf;  // += rather than operator+: GCC 12 -O3 warns (-Wrestrict) on the latter
    out += ':';
    out += std::to_string(port());
    return out;
  }
  if (family() == AF_INET6) {
    const auto* s6 = reinterpret_cast<const sockaddr_in6*>(&storage_);
    inet_ntop(AF_INET6, &s6->sin6_addr, buf, sizeof buf);
    std::string out = "[";
    out += buf;
    if (s6->sin6_scope_id != 0) {  // "[fe80::1%eth0]:80": parse() reads it back
      char name[IF_NAMESIZE] = {};
      out += '%';
      const uint32_t id = s6->sin6_scope_id;
      out += if_indextoname(id, name) ? std::string(name) : std::to_string(id);
    }
    out += "]:";
    out += std::to_string(port());
    return out;
  }
  if (family() == AF_UNIX) {
    const auto* su = reinterpret_cast<const sockaddr_un*>(&storage_);
    const size_t n = len_ > offsetof(sockaddr_un, sun_path) ? len_ - offsetof(sockaddr_un, sun_path) : 0;
    if (n == 0) return "unix:(unnamed)";
    std::string out = "unix:";
    if (su->sun_path[0] == '\0') {
      out += '@';
      out.append(su->sun_path + 1, n - 1);
    } else {
      out.append(su->sun_path, strnlen(su->sun_path, n));
    }
    return out;
  }
  return "(no address)";
}

bool Address::operator==(const Address& o) const {
  return len_ == o.len_ && std::memcmp(&storage_, &o.storage_, len_) == 0;
}

}  // namespace gort::net
