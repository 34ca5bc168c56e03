// Deadlines for network operations: an absolute CLOCK_MONOTONIC instant, or none.
//
// Every blocking operation takes an optional Deadline; a socket may also carry standing read and
// write deadlines (Go's SetReadDeadline). The earlier of the two applies. An operation whose
// deadline passes returns std::errc::timed_out and leaves the socket usable (a later operation
// with a later deadline works; bytes a timed-out write had not sent are not sent). A deadline
// bounds the wait, not the attempt: an operation that can complete at once (data already
// received, room in the send buffer) does so even when its deadline has passed, on both
// backends; Go fails it at once instead. To stop a blocked reader, close the socket or set a
// standing deadline in the past: the waiting read wakes with timed_out.
#pragma once

#include <chrono>
#include <cstdint>
#include <limits>

#include "gort/detail/duration.hpp"

namespace gort::net {

class Deadline {
 public:
  constexpr Deadline() = default;  // none
  static constexpr Deadline none() { return Deadline{}; }
  // Times past the int64 nanosecond range (time_point::max()) are no deadline.
  template <class Duration>
  static Deadline at(std::chrono::time_point<std::chrono::steady_clock, Duration> tp) {
    return Deadline(detail::steady_ns(tp));
  }
  // From now. A zero or negative duration is a deadline that has already passed: the operation
  // succeeds only if it can complete without waiting. One too far to represent (hours::max(),
  // a thousand years) is no deadline, not an overflow.
  template <class Rep, class Period>
  static Deadline after(std::chrono::duration<Rep, Period> d) {
    return Deadline(detail::add_capped(detail::steady_now_ns(), detail::clamped_ns(d), kNone));
  }

  constexpr bool is_none() const { return ns_ == kNone; }
  constexpr int64_t nanos() const { return ns_; }  // CLOCK_MONOTONIC; INT64_MAX when none
  constexpr Deadline earliest(Deadline o) const { return o.ns_ < ns_ ? o : *this; }
  constexpr bool operator==(const Deadline&) const = default;

  static constexpr Deadline from_nanos(int64_t ns) { return Deadline(ns); }

 private:
  static constexpr int64_t kNone = std::numeric_limits<int64_t>::max();
  constexpr explicit Deadline(int64_t ns) : ns_(ns) {}
  int64_t ns_ = kNone;
};

}  // namespace gort::net
