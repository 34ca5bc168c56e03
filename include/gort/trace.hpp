// A trace of scheduling events, to look at rather than read: which goroutine ran on which
// processor and for how long, why each run ended (the wait reason of a park, a yield, a blocking
// call, the exit), spawns with their sites, wake-ups, steals, netpoller polls and the moments a
// processor found nothing to run. Written as Chrome trace-event JSON, which Perfetto
// (ui.perfetto.dev) and chrome://tracing open: one track per processor.
//
// Recording costs a few tens of nanoseconds per event (a clock read and an uncontended lock of
// the processor's buffer); off, one relaxed load per scheduling point. Events are kept in memory
// up to 64 MiB per trace, then dropped and counted (the file says how many).
//
// The whole run: Config::trace_file, or GORT_TRACE=PATH. A window: start_trace / stop_trace.
#pragma once

#include <string>

namespace gort {

// Starts recording. False (with the reason in *error) when no runtime is running or a trace is
// being recorded already.
bool start_trace(std::string* error = nullptr);

// Stops recording and writes what was recorded to `path`. False (with the reason in *error)
// when no trace is being recorded or the file cannot be written; the recording ends either way.
bool stop_trace(const std::string& path, std::string* error = nullptr);

}  // namespace gort
