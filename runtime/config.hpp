// Resolving gort::Config against the environment (GORT_PROCS, GORT_STACK_KB, GORT_DEBUG, ...).
#pragma once

#include <chrono>
#include <cstdint>

#include "gort/config.hpp"

namespace gort::rt {

// The longest schedtrace period or hog threshold accepted: one day. Longer ones are typos (a
// stray digit, a value meant in ns) that would silently mean "never".
inline constexpr int64_t kMaxDebugMs = 24 * 3600 * 1000;

// What GORT_STACK_GUARD asks of the stack system; unset or empty: kBest. Throws
// std::invalid_argument on any other value. resolve_config checks it, so that a typo surfaces
// from gort::run; the stack system reads it once per process, at its first use.
enum class StackGuardRequest { kBest, kMprotect, kCanary };
StackGuardRequest stack_guard_request();

// ms in nanoseconds, saturating at INT64_MAX instead of overflowing (a wrapped threshold would
// fire at once or never).
inline int64_t saturating_ns(std::chrono::milliseconds ms) {
  constexpr int64_t kNsPerMs = 1'000'000;
  const int64_t n = ms.count();
  if (n > INT64_MAX / kNsPerMs) return INT64_MAX;
  if (n < INT64_MIN / kNsPerMs) return INT64_MIN;
  return n * kNsPerMs;
}

// Fills in every field left at its default; throws std::invalid_argument on a malformed
// environment variable (a typo must not silently run with other settings).
Config resolve_config(const Config& requested);
int available_cpus();

}  // namespace gort::rt
