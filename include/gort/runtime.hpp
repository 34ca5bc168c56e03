// The runtime: start it, spawn goroutines, yield, run blocking calls, ask what is going on.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <source_location>
#include <type_traits>
#include <utility>

#include "gort/config.hpp"
#include "gort/detail/spawn.hpp"

namespace gort {

namespace detail {
int run_main(std::function<int()> main, const Config& config);
void blocking_enter();
void blocking_exit();
// Number of processors sysmon has asked to give up their goroutine (see preempt_point).
extern std::atomic<uint32_t> preempt_pending;
void preempt_slow();
}  // namespace detail

// Starts the runtime, runs `main` as the main goroutine and returns when it returns: its int
// result, or 0 for a void function. Goroutines running on a thread at that point keep it until
// their next scheduling point (or the end of a blocking() call); goroutines still parked or
// queued are abandoned: never resumed, their stacks recycled without unwinding (channels,
// semaphores and sockets that outlive the run forget their waits and operations). One runtime per
// process at a time: calling run while one is running throws std::logic_error.
template <class F>
int run(F&& main, const Config& config = {}) {
  if constexpr (std::is_void_v<std::invoke_result_t<F&>>) {
    return detail::run_main([&main]() -> int { main(); return 0; }, config);
  } else {
    return detail::run_main([&main]() -> int { return static_cast<int>(main()); }, config);
  }
}

// Spawns a goroutine running `fn` (a callable taking no arguments; it is moved or copied into
// the goroutine's descriptor, or one heap block when larger than 48 bytes). Returns the new
// goroutine's id. The goroutine gets its stack when it first runs. Callable from any goroutine, and from
// threads that are not runtime threads while the runtime runs (the goroutine then goes to the
// global queue and an idle processor is woken). Throws std::logic_error when no runtime runs.
template <class F>
uint64_t go(F&& fn, const std::source_location& where = std::source_location::current()) {
  return detail::spawn(std::forward<F>(fn), SpawnOptions{}, where);
}
template <class F>
uint64_t go(const SpawnOptions& options, F&& fn,
            const std::source_location& where = std::source_location::current()) {
  return detail::spawn(std::forward<F>(fn), options, where);
}

// Lets other goroutines run; the caller goes to the back of its processor's queue (Go's
// Gosched uses the global queue; the local tail is cheaper and the 61-tick check keeps the
// global queue served).
void yield();

// Cheap check for CPU-bound loops: yields if sysmon asked this goroutine to give up its processor
// (it ran > 10 ms without a yield point). Costs one load when there is no request.
inline void preempt_point() {
  if (detail::preempt_pending.load(std::memory_order_relaxed) != 0) detail::preempt_slow();
}

// Runs `fn` on the current thread while telling the scheduler this thread may block: if it takes
// longer than a sysmon tick (~20 µs), the processor is handed to another thread so the other
// goroutines keep running. Returns fn's result.
template <class F>
decltype(auto) blocking(F&& fn) {
  struct Scope {
    Scope() { detail::blocking_enter(); }
    ~Scope() { detail::blocking_exit(); }
  } scope;
  return std::forward<F>(fn)();
}

// The id of the calling goroutine (1 is the main goroutine); 0 outside any goroutine.
uint64_t goroutine_id() noexcept;
// Goroutines created and not yet finished.
int64_t num_goroutines() noexcept;
// Processors of the running runtime; 0 when none runs.
int procs() noexcept;
// Whether the caller runs on a goroutine.
bool in_goroutine() noexcept;

}  // namespace gort
