#include "http/request_target.hpp"

namespace http {

namespace {

bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_digit(char c) { return c >= '0' && c <= '9'; }

// RFC 3986 §3.1: scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ), then ':'.
bool starts_with_scheme(std::string_view t) {
  const size_t colon = t.find(':');
  if (colon == 0 || colon == std::string_view::npos || !is_alpha(t[0])) return false;
  for (char c : t.substr(1, colon - 1)) {
    if (!is_alpha(c) && !is_digit(c) && c != '+' && c != '-' && c != '.') return false;
  }
  return true;
}

// host ":" port, the port all digits (RFC 9112 §3.2.3); the host is not looked into further,
// as the server refuses CONNECT whatever it names.
bool is_authority(std::string_view t) {
  const size_t colon = t.rfind(':');
  if (colon == 0 || colon == std::string_view::npos || colon + 1 == t.size()) return false;
  if (t.find_first_of("/?#@") != std::string_view::npos) return false;
  for (char c : t.substr(colon + 1)) {
    if (!is_digit(c)) return false;
  }
  return true;
}

}  // namespace

bool valid_target_form(std::string_view method, std::string_view target) {
  if (method == "CONNECT") return is_authority(target);
  if (target == "*") return method == "OPTIONS";
  return target.starts_with('/') || starts_with_scheme(target);
}

std::string_view target_path(std::string_view target) {
  std::string_view path = target.substr(0, target.find('?'));
  if (path.starts_with('/')) return path;
  const size_t authority = path.find("://");
  if (authority == std::string_view::npos) return path;
  const size_t slash = path.find('/', authority + 3);
  return slash == std::string_view::npos ? std::string_view("/") : path.substr(slash);
}

}  // namespace http
