#include "runtime/fatal.hpp"

#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include <unistd.h>

namespace gort::rt {

void write_stderr(const char* s, size_t n) {
  while (n > 0) {
    ssize_t w = ::write(2, s, n);
    if (w <= 0) return;
    s += w;
    n -= static_cast<size_t>(w);
  }
}

size_t append_str(char* buf, size_t len, size_t cap, const char* s) {
  if (cap == 0) return 0;
  while (*s && len + 1 < cap) buf[len++] = *s++;
  buf[len] = '\0';
  return len;
}

size_t append_u64(char* buf, size_t len, size_t cap, uint64_t v) {
  char tmp[24];
  int n = 0;
  do {
    tmp[n++] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v != 0);
  char out[24];
  for (int i = 0; i < n; ++i) out[i] = tmp[n - 1 - i];
  out[n] = '\0';
  return append_str(buf, len, cap, out);
}

void fatal(const char* message) {
  write_stderr("gort: fatal error: ", 19);
  write_stderr(message, std::strlen(message));
  write_stderr("\n", 1);
  std::abort();
}

void fatalf(const char* format, ...) {
  char buf[1024];
  va_list ap;
  va_start(ap, format);
  std::vsnprintf(buf, sizeof buf, format, ap);
  va_end(ap);
  fatal(buf);
}

}  // namespace gort::rt
