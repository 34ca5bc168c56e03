// Counts the scheduler's own activity (not the goroutines'): thread parks and wake-ups, sysmon's
// rounds, and each processor's idle steps, polls and steal rounds. An idle runtime whose threads
// sleep as they should adds a few per timer that fires and per sysmon period; a thread that
// spins instead adds one per pass, tens of thousands a second. Tests bound this count over an
// idle stretch instead of measuring CPU time, which a loaded machine distorts.
#pragma once

#include <cstdint>

#include "gort/gort.hpp"

namespace gort::test {

inline uint64_t scheduler_activity() {
  const SchedulerStats st = stats();
  uint64_t n = st.thread_parks + st.thread_wakes + st.sysmon_rounds;
  for (const ProcessorStats& p : st.processors) n += p.idles + p.polls + p.steal_rounds;
  return n;
}

}  // namespace gort::test
