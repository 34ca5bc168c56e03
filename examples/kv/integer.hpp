// Integers as Redis reads them (its string2ll), for arguments, stored values and the count
// lines of the protocol alike: an optional '-' and decimal digits, the first of them not 0
// unless the whole text is "0", within int64. No '+', no spaces, no leading zeros, no "-0".
// std::from_chars is laxer ("007", "-0"): a value Redis refuses to INCR must be refused here.
#pragma once

#include <cstdint>
#include <string_view>

namespace kv {

inline bool parse_integer(std::string_view s, int64_t& out) {
  if (s == "0") {
    out = 0;
    return true;
  }
  const bool negative = !s.empty() && s.front() == '-';
  if (negative) s.remove_prefix(1);
  if (s.empty() || s.front() < '1' || s.front() > '9') return false;
  uint64_t magnitude = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    if (__builtin_mul_overflow(magnitude, 10u, &magnitude) ||
        __builtin_add_overflow(magnitude, static_cast<unsigned>(c - '0'), &magnitude)) {
      return false;
    }
  }
  // INT64_MIN's magnitude is one more than INT64_MAX's.
  const uint64_t limit = negative ? uint64_t{1} << 63 : uint64_t{INT64_MAX};
  if (magnitude > limit) return false;
  out = static_cast<int64_t>(negative ? 0 - magnitude : magnitude);  // modular, as C++20 says
  return true;
}

}  // namespace kv
