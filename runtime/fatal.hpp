// Broken runtime invariants and unrecoverable goroutine failures: print one clear message and
// abort (Go's throw). Helpers here are async-signal-safe (no allocation, no locks) so the stack
// overflow handler can use them too.
#pragma once

#include <cstddef>
#include <cstdint>

namespace gort::rt {

[[noreturn]] void fatal(const char* message);
[[noreturn]] void fatalf(const char* format, ...) __attribute__((format(printf, 1, 2)));

// Appends text / decimal to buf[0..cap), keeping it NUL-terminated; returns the new length.
size_t append_str(char* buf, size_t len, size_t cap, const char* s);
size_t append_u64(char* buf, size_t len, size_t cap, uint64_t v);
void write_stderr(const char* s, size_t n);

}  // namespace gort::rt
