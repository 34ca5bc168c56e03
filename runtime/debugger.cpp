// The symbols runtime/gort_gdb.py reads (debugger.hpp). Their names and the layout table's order
// are that script's contract: change them together.
#include "runtime/debugger.hpp"

#include <cstddef>
#include <cstdint>

#include "runtime/backtrace.hpp"
#include "runtime/goroutine.hpp"

// The script names the states by these numbers.
static_assert(static_cast<uint32_t>(gort::rt::GStatus::kIdle) == 0 &&
                  static_cast<uint32_t>(gort::rt::GStatus::kRunnable) == 1 &&
                  static_cast<uint32_t>(gort::rt::GStatus::kRunning) == 2 &&
                  static_cast<uint32_t>(gort::rt::GStatus::kWaiting) == 3 &&
                  static_cast<uint32_t>(gort::rt::GStatus::kBlocking) == 4 &&
                  static_cast<uint32_t>(gort::rt::GStatus::kDead) == 5,
              "runtime/gort_gdb.py names the goroutine states by number");

// offsetof on G (not standard-layout: atomics, alignas) is conditionally supported; GCC and Clang
// compute it for classes without virtual bases, which G has none of.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Winvalid-offsetof"
#define GORT_G_OFFSET(field) static_cast<uint32_t>(offsetof(gort::rt::G, field))

extern "C" {
// `used`: nothing in the program reads these; only a debugger does.
// `extern`: a const object would otherwise have internal linkage, and no symbol to look up.
__attribute__((used)) extern const uint32_t gort_debug_g_layout[] = {
    1,  // the version of this table
    static_cast<uint32_t>(sizeof(gort::rt::G)),
    GORT_G_OFFSET(id),
    GORT_G_OFFSET(status),
    GORT_G_OFFSET(wait_reason),
    GORT_G_OFFSET(file),
    GORT_G_OFFSET(line),
    GORT_G_OFFSET(function),
    GORT_G_OFFSET(ctx.handle),
    GORT_G_OFFSET(stack.lo),
    GORT_G_OFFSET(stack.hi),
    static_cast<uint32_t>(gort::rt::kSavedFpOffset),
    static_cast<uint32_t>(gort::rt::kSavedPcOffset),
};
__attribute__((used)) gort::rt::G* const* gort_debug_slabs = nullptr;
__attribute__((used)) size_t gort_debug_slab_count = 0;
__attribute__((used)) size_t gort_debug_slab_size = 0;
}

#undef GORT_G_OFFSET
#pragma GCC diagnostic pop

namespace gort::rt {

void debugger_note_slabs(G* const* slabs, size_t count, size_t per_slab) {
  gort_debug_slab_size = per_slab;
  gort_debug_slabs = slabs;
  gort_debug_slab_count = count;
}

}  // namespace gort::rt
