// Network results: a value or a std::error_code, never an exception for an expected failure.
//
// Errors from the kernel keep their errno as std::generic_category codes, so they compare equal
// to std::errc values: std::errc::connection_reset, connection_refused, broken_pipe,
// timed_out (a deadline passed), too_many_files_open (EMFILE), ... gort adds its own few in
// gort::net::Errc (closed: the socket was closed by this program, possibly while an operation
// waited on it; eof: the stream ended before read_exact got all its bytes). A resolver that could
// not answer (no DNS server reachable, a server failure) reports in category "gort.resolver"
// with getaddrinfo's own text; a name that does not exist is Errc::host_not_found.
#pragma once

#include <string>
#include <system_error>
#include <type_traits>
#include <utility>
#include <variant>

namespace gort::net {

enum class Errc {
  closed = 1,               // use of a closed socket (Go's net.ErrClosed)
  eof = 2,                  // read_exact: the peer ended the stream early
  invalid_address = 3,      // "host:port" could not be parsed
  poller_unavailable = 4,   // the requested poller backend cannot run here
  not_in_runtime = 5,       // needs a goroutine or a runtime thread (gort::run is not active)
  host_not_found = 6,       // the resolver answered: the name has no address (Go's "no such host")
};

const std::error_category& net_category() noexcept;
inline std::error_code make_error_code(Errc e) noexcept {
  return {static_cast<int>(e), net_category()};
}

}  // namespace gort::net

template <>
struct std::is_error_code_enum<gort::net::Errc> : std::true_type {};

namespace gort::net {

// A value or an error. `ok()` / `operator bool`, `value()` (throws std::system_error when there
// is none: a bug, not an expected failure), `error()`.
template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}  // NOLINT: implicit on purpose
  Result(std::error_code ec) : v_(std::in_place_index<1>, ec) {}     // NOLINT
  Result(Errc e) : v_(std::in_place_index<1>, make_error_code(e)) {}  // NOLINT

  bool ok() const noexcept { return v_.index() == 0; }
  explicit operator bool() const noexcept { return ok(); }
  std::error_code error() const noexcept { return ok() ? std::error_code{} : std::get<1>(v_); }

  T& value() & { check(); return std::get<0>(v_); }
  const T& value() const& { check(); return std::get<0>(v_); }
  T&& value() && { check(); return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  void check() const {
    if (!ok()) throw std::system_error(std::get<1>(v_));
  }
  std::variant<T, std::error_code> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(std::error_code ec) : ec_(ec) {}              // NOLINT
  Result(Errc e) : ec_(make_error_code(e)) {}          // NOLINT
  bool ok() const noexcept { return !ec_; }
  explicit operator bool() const noexcept { return ok(); }
  std::error_code error() const noexcept { return ec_; }
  void value() const {
    if (ec_) throw std::system_error(ec_);
  }

 private:
  std::error_code ec_;
};

}  // namespace gort::net
