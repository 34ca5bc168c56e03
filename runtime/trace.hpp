// The scheduling trace (include/gort/trace.hpp): event records and the hooks the scheduler calls.
//
// Each processor has its own buffer, plus one for events of threads without a processor (sysmon,
// foreign threads, an M inside gort::blocking whose processor was retaken). A buffer is a list of
// fixed-size chunks under a SpinLock: its writer is the M that holds the processor, so the lock
// is uncontended except against stop_trace, which drains every buffer under its lock. That lock
// is what makes stopping safe against a writer that saw the trace on just before: a writer
// re-reads `on` under the lock, and stop clears `on` before it takes the locks, so an event is
// either drained with the rest or dropped, never written into a drained chunk.
//
// The buffers live until the runtime ends (trace_shutdown), never freed while an M could still
// be on its way into one. A hook that fills its chunk allocates the next one (196 KiB) right
// there, perhaps under a wait-queue lock that a park holds: tracing is for looking, and costs
// that pause once per 4,096 events.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>

namespace gort::rt {

struct P;
struct G;

enum class TraceKind : uint8_t {
  kRunStart,   // g starts (or resumes) a run on this processor
  kRunEnd,     // g's run ends; text: why (a wait reason, "yield", "exit", "blocking call")
  kSpawn,      // g created by arg (0: outside a goroutine); text: function, text2: file, num: line
  kUnpark,     // g made runnable by arg (0: not a goroutine)
  kSteal,      // arg goroutines taken from processor num
  kPoll,       // arg goroutines readied by a poll; text: which ("netpoll", "own ring")
  kIdle,       // the processor found nothing to run and was given back
};

extern std::atomic<bool> trace_enabled;

// Cold and out of line: the hooks sit in the switch path, where a call with seven arguments
// made the compiler stop inlining switch_out into park and begin_run into switch_out (+76
// instructions per channel round trip under callgrind, with tracing off).
[[gnu::cold, gnu::noinline]] void trace_record(P* p, TraceKind kind, uint64_t g, uint64_t arg,
                                               const char* text = nullptr,
                                               const char* text2 = nullptr, uint32_t num = 0);
// The switch path's hooks, with the fewest arguments.
[[gnu::cold, gnu::noinline]] void trace_run_start(P* p, const G* g);
[[gnu::cold, gnu::noinline]] void trace_run_end(P* p, const G* g, bool exiting);
[[gnu::cold, gnu::noinline]] void trace_unpark(const G* g);

inline bool tracing() {
  return __builtin_expect(trace_enabled.load(std::memory_order_relaxed), 0);
}

// The hook: nothing but a relaxed load while no trace is being recorded.
inline void trace(P* p, TraceKind kind, uint64_t g, uint64_t arg = 0, const char* text = nullptr,
                  const char* text2 = nullptr, uint32_t num = 0) {
  if (tracing()) trace_record(p, kind, g, arg, text, text2, num);
}

// Run boundaries: start of run (Config::trace_file) and its end, after every M has stopped,
// which writes the Config::trace_file trace and frees the buffers.
bool trace_begin(std::string* error);
void trace_shutdown(const std::string& config_path);

// Tests: the memory a trace may take (rounded down to whole chunks of 4,096 events, at least
// one); 0 restores the default of 64 MiB.
void trace_set_max_bytes(size_t bytes);

}  // namespace gort::rt
