// Frame walks and symbolization (backtrace.hpp).
#include "runtime/backtrace.hpp"

#include <cxxabi.h>

#include <cstdlib>

#include "absl/debugging/symbolize.h"
#include "absl/strings/str_format.h"
#include "runtime/goroutine.hpp"

namespace gort::rt {

namespace {
constexpr uintptr_t kSavedFp = kSavedFpOffset, kSavedPc = kSavedPcOffset;
}  // namespace

// Reads stack words that the stack's owner may be writing (a parked goroutine resumed meanwhile):
// a diagnostic snapshot, so the sanitizers are told not to look.
__attribute__((no_sanitize("address", "thread"))) int walk_frames(uintptr_t pc, uintptr_t sp,
                                                                    uintptr_t fp, uintptr_t lo,
                                                                    uintptr_t hi, uintptr_t* out,
                                                                    int max) {
  int n = 0;
  if (max <= 0) return 0;
  out[n++] = pc;
  uintptr_t floor = sp;
  while (n < max && fp >= floor && fp >= lo && fp <= hi - 2 * sizeof(uintptr_t) &&
         fp % sizeof(uintptr_t) == 0) {
    const auto* record = reinterpret_cast<const volatile uintptr_t*>(fp);
    const uintptr_t next = record[0];
    const uintptr_t ret = record[1];
    if (ret == 0) break;
    out[n++] = ret;
    if (next <= fp) break;  // frame records grow toward hi; anything else is not a chain
    floor = fp + 2 * sizeof(uintptr_t);
    fp = next;
  }
  return n;
}

__attribute__((no_sanitize("address", "thread"))) int suspended_frames(const G* g, uintptr_t* out,
                                                                         int max) {
#if defined(__x86_64__) || defined(__aarch64__)
  const auto lo = reinterpret_cast<uintptr_t>(g->stack.lo);
  const auto hi = reinterpret_cast<uintptr_t>(g->stack.hi);
  const auto sp = reinterpret_cast<uintptr_t>(*static_cast<void* const volatile*>(&g->ctx.handle));
  if (sp < lo || sp > hi - (kSavedPc + sizeof(uintptr_t))) return 0;
  const auto* saved = reinterpret_cast<const volatile uintptr_t*>(sp);
  const uintptr_t fp = saved[kSavedFp / sizeof(uintptr_t)];
  const uintptr_t pc = saved[kSavedPc / sizeof(uintptr_t)];
  // The resume address is a return address too (just after the call into the switch).
  return walk_frames(pc, sp + kSavedPc + sizeof(uintptr_t), fp, lo, hi, out, max);
#else
  (void)g;
  (void)out;
  (void)max;
  return 0;
#endif
}

namespace {
// abseil's demangler (Debian 12's) leaves names with an ABI tag mangled
// ("_ZN4gort2rt15dump_goroutinesB5cxx11Ev"); the C++ runtime's demangler reads those. It
// allocates, which is fine here: describe_frames never runs in a signal handler.
std::string readable(const char* name) {
  if (name[0] != '_' || name[1] != 'Z') return name;
  int status = -1;
  char* d = abi::__cxa_demangle(name, nullptr, nullptr, &status);
  std::string out = status == 0 && d != nullptr ? d : name;
  std::free(d);
  return out;
}
}  // namespace

__attribute__((noinline)) int own_frames(const G* g, uintptr_t* out, int max) {
  const auto* record = static_cast<const uintptr_t*>(__builtin_frame_address(0));
  const auto pc = reinterpret_cast<uintptr_t>(__builtin_return_address(0));
  return walk_frames(pc, reinterpret_cast<uintptr_t>(record), record[0],
                     reinterpret_cast<uintptr_t>(g->stack.lo),
                     reinterpret_cast<uintptr_t>(g->stack.hi), out, max);
}

std::vector<std::string> describe_frames(const uintptr_t* frames, int n) {
  std::vector<std::string> out;
  for (int i = 0; i < n; ++i) {
    char name[512];
    // A return address may sit just past the end of its function (a call that never returns):
    // one byte back is still inside the call.
    const uintptr_t at = i > 0 ? frames[i] - 1 : frames[i];
    if (absl::Symbolize(reinterpret_cast<void*>(at), name, sizeof name)) {
      out.push_back(absl::StrFormat("0x%x %s", frames[i], readable(name)));
    } else if (i == 0) {
      out.push_back(absl::StrFormat("0x%x ?", frames[i]));
    } else {
      break;
    }
  }
  return out;
}

}  // namespace gort::rt
