// gort: a Go-style M:N coroutine runtime for C++20. Umbrella header (the network API is
// gort/net.hpp).
#pragma once

#include "gort/chan.hpp"
#include "gort/config.hpp"
#include "gort/local.hpp"
#include "gort/runtime.hpp"
#include "gort/select.hpp"
#include "gort/stats.hpp"
#include "gort/sync.hpp"
#include "gort/time.hpp"
#include "gort/trace.hpp"
#include "gort/wait_group.hpp"
