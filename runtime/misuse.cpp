// fatal_misuse (misuse.hpp).
#include "runtime/misuse.hpp"

#include <cstdlib>
#include <string>
#include <vector>

#include "absl/debugging/stacktrace.h"
#include "absl/strings/str_format.h"
#include "runtime/backtrace.hpp"
#include "runtime/fatal.hpp"
#include "runtime/goroutine.hpp"
#include "runtime/machine.hpp"

namespace gort::rt {

// noinline: frame 0 of either walk is this function, which the report leaves out.
__attribute__((noinline)) void fatal_misuse(const char* message) {
  uintptr_t frames[kMaxBacktraceFrames];
  int n = 0;
  std::string out = absl::StrFormat("gort: fatal error: %s\n\n", message);
  // Inside gort::blocking the caller runs on the M's own thread stack, not the goroutine's.
  const G* g = parkable_g();
  if (g != nullptr) {
    char site[512];
    const size_t len = append_creation_site(g, site, 0, sizeof site);
    absl::StrAppendFormat(&out, "goroutine %d [running]:\n  created at %s\n", g->id,
                          std::string(site, len));
    n = own_frames(g, frames, kMaxBacktraceFrames);
  } else {
    out += "on a thread outside the runtime's goroutines:\n";
    // Return addresses only, from the caller on; describe_frames takes its frame 0 as an exact
    // pc (a return address after a call to a noreturn function may lie past its function), so
    // this function's own address goes first, as in the goroutine walk.
    void* pcs[kMaxBacktraceFrames - 1];
    frames[0] = reinterpret_cast<uintptr_t>(&fatal_misuse);
    n = 1 + absl::GetStackTrace(pcs, kMaxBacktraceFrames - 1, 0);
    for (int i = 1; i < n; ++i) frames[i] = reinterpret_cast<uintptr_t>(pcs[i - 1]);
  }
  const std::vector<std::string> named = describe_frames(frames, n);
  for (size_t i = 1; i < named.size(); ++i) {
    absl::StrAppendFormat(&out, "  #%d %s\n", i - 1, named[i]);
  }
  write_stderr(out.data(), out.size());
  std::abort();
}

}  // namespace gort::rt
