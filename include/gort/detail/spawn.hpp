// Plumbing for gort::go: the goroutine's callable is constructed in place inside the goroutine's
// descriptor (or, when large, in one heap block), so a small spawn allocates nothing. Not API.
#pragma once

#include <cstddef>
#include <cstdint>
#include <new>
#include <source_location>
#include <type_traits>
#include <utility>

#include "gort/config.hpp"

namespace gort::detail {

struct SpawnRequest {
  size_t closure_size;
  size_t closure_align;
  // run(closure, true) invokes the callable, then destroys it; run(closure, false) only destroys
  // it (a goroutine abandoned before it started).
  void (*run)(void* closure, bool invoke);
  SpawnOptions options;
  std::source_location where;
};

struct PendingSpawn {
  void* goroutine;  // runtime handle
  void* closure;    // storage of closure_size bytes, owned by the goroutine
};

// Reserves a goroutine and room for its callable. Throws std::logic_error when no runtime is
// running, std::bad_alloc when a large callable cannot be allocated.
PendingSpawn spawn_begin(const SpawnRequest& request);
// Makes the goroutine runnable; returns its id.
uint64_t spawn_commit(void* goroutine);
// Undoes spawn_begin if constructing the callable threw.
void spawn_abort(void* goroutine) noexcept;

template <class Fn>
void run_closure(void* p, bool invoke) {
  Fn* fn = static_cast<Fn*>(p);
  struct Destroy {
    Fn* fn;
    ~Destroy() { fn->~Fn(); }
  } destroy{fn};
  if (invoke) (*fn)();
}

template <class F>
uint64_t spawn(F&& f, const SpawnOptions& options, const std::source_location& where) {
  using Fn = std::decay_t<F>;
  static_assert(std::is_invocable_v<Fn&>, "gort::go needs a callable taking no arguments");
  static_assert(alignof(Fn) <= 64, "gort::go: callables aligned beyond 64 bytes are not supported");
  SpawnRequest req{sizeof(Fn), alignof(Fn), &run_closure<Fn>, options, where};
  PendingSpawn pending = spawn_begin(req);
  try {
    ::new (pending.closure) Fn(std::forward<F>(f));
  } catch (...) {
    spawn_abort(pending.goroutine);
    throw;
  }
  return spawn_commit(pending.goroutine);
}

}  // namespace gort::detail
