// ASCII case folding for protocol tokens (HTTP header names, Redis command options), shared by
// the HTTP and key-value examples. (abseil's EqualsIgnoreCase takes absl::string_view, which
// Debian's abseil does not alias to std::string_view.)
#pragma once

#include <cstddef>
#include <string_view>

namespace examples {

constexpr char ascii_lower(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

constexpr bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
  }
  return true;
}

}  // namespace examples
