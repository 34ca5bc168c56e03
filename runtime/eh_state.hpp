// Per-goroutine C++ exception state. libstdc++ keeps the chain of exceptions being handled
// (`catch` blocks entered and not left) and the count of exceptions in flight per *thread*
// (__cxa_eh_globals). A goroutine that parks inside a catch block and resumes on another thread,
// or interleaves with another goroutine's catch on the same thread, would otherwise end the
// wrong exception's handler. So a goroutine takes its state with it: on leaving a thread it
// moves the thread's state into its descriptor and leaves the thread clean; on resuming it puts
// it back. The common case (no handler active) costs one call and two loads.
#pragma once

#include <cxxabi.h>

namespace gort::rt {

// Mirrors libstdc++'s __cxa_eh_globals on non-ARM-EHABI targets.
struct EhState {
  void* caught = nullptr;
  unsigned int uncaught = 0;
  bool empty() const { return caught == nullptr && uncaught == 0; }
};

// __cxa_get_globals is declared const, so the compiler could reuse the first thread's answer
// after a migration; this wrapper is opaque (probes Q5).
__attribute__((noipa)) inline EhState* thread_eh_state() {
  return reinterpret_cast<EhState*>(abi::__cxa_get_globals());
}

// `thread_state` is the running thread's thread_eh_state(), which each M caches once at start
// (the address is fixed for the thread's life), saving a call per switch.
inline void eh_leave(EhState& mine, EhState* thread_state) {
  mine = *thread_state;
  if (!mine.empty()) *thread_state = EhState{};
}

inline void eh_resume(const EhState& mine, EhState* thread_state) {
  if (!mine.empty()) *thread_state = mine;
}

}  // namespace gort::rt
