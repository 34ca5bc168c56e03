// Resolving gort::Config against the environment (GORT_PROCS, GORT_STACK_KB, GORT_DEBUG).
#pragma once

#include "gort/config.hpp"

namespace gort::rt {

// Fills in every field left at its default; throws std::invalid_argument on a malformed
// environment variable (a typo must not silently run with other settings).
Config resolve_config(const Config& requested);
int available_cpus();

}  // namespace gort::rt
