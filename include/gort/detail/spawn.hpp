// Plumbing for gort::go: the goroutine's callable is constructed directly on its own stack, so a
// spawn allocates nothing from the heap. Not API.
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
  void (*run)(void* closure);  // invokes the callable, then destroys it
  SpawnOptions options;
  std::source_location where;
};

struct PendingSpawn {
  void* goroutine;  // runtime handle
  void* closure;    // storage of closure_size bytes on the new goroutine's stack
};

// Reserves a goroutine and room for its callable. Throws std::logic_error when no runtime is
// running, std::bad_alloc when no stack can be mapped.
PendingSpawn spawn_begin(const SpawnRequest& request);
// Makes the goroutine runnable; returns its id.
uint64_t spawn_commit(void* goroutine);
// Undoes spawn_begin if constructing the callable threw.
void spawn_abort(void* goroutine) noexcept;

template <class Fn>
void run_closure(void* p) {
  Fn* fn = static_cast<Fn*>(p);
  struct Destroy {
    Fn* fn;
    ~Destroy() { fn->~Fn(); }
  } destroy{fn};
  (*fn)();
}

template <class F>
uint64_t spawn(F&& f, const SpawnOptions& options, const std::source_location& where) {
  using Fn = std::decay_t<F>;
  static_assert(std::is_invocable_v<Fn&>, "gort::go needs a callable taking no arguments");
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
