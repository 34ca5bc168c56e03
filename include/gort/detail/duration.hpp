// Durations and time points to CLOCK_MONOTONIC nanoseconds without overflow. Not API.
//
// std::chrono's own conversions overflow (undefined behaviour) past about 292 years of
// nanoseconds, and "wait forever" is naturally written as hours::max() or a deadline far out:
// with plain duration_cast that became a deadline in the past or a few hours from now. These
// helpers clamp instead; callers then decide what "too far to matter" means (no deadline for a
// socket, a timer that never fires for a sleep).
#pragma once

#include <chrono>
#include <cstdint>

namespace gort::detail {

// Whole nanoseconds in d, rounded up, clamped to [0, INT64_MAX] (NaN counts as 0). The
// conversion goes through long double, which holds every int64 exactly.
template <class Rep, class Period>
constexpr int64_t clamped_ns(std::chrono::duration<Rep, Period> d) {
  const long double ns = std::chrono::duration<long double, std::nano>(d).count();
  if (!(ns > 0)) return 0;
  if (ns >= 9223372036854775807.0L) return INT64_MAX;
  const auto whole = static_cast<int64_t>(ns);
  return static_cast<long double>(whole) < ns ? whole + 1 : whole;
}

// a + b for b >= 0, or `cap` when the sum would pass it.
constexpr int64_t add_capped(int64_t a, int64_t b, int64_t cap) {
  return b > cap - a ? cap : a + b;
}

// A steady_clock time point in ns, clamped to [0, INT64_MAX].
template <class Duration>
constexpr int64_t steady_ns(std::chrono::time_point<std::chrono::steady_clock, Duration> tp) {
  return clamped_ns(tp.time_since_epoch());
}

inline int64_t steady_now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace gort::detail
