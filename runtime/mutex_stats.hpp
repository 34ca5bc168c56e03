// Test-only view into gort::Mutex (not public API).
#pragma once

#include <cstdint>

namespace gort::rt {

// How many times any Mutex switched to starvation mode since the process started.
uint64_t mutex_starvation_entries() noexcept;

}  // namespace gort::rt
