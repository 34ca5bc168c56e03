// Goroutine-local storage: a short list of (key, value, destroy) per goroutine, created on first
// use. Goroutines rarely hold more than a handful of locals, so a list beats a hash map here.
#pragma once

#include <cstdint>

#include "runtime/goroutine.hpp"

namespace gort::rt {

struct LocalSlot {
  uint64_t key;  // GoroutineLocal's key: unique per object, never reused (local_new_key)
  void* value;
  void (*destroy)(void*);
  LocalSlot* next;
};

// Runs the destructors of g's locals, newest first (on g's own stack, before it exits).
void local_storage_destroy(G* g);

}  // namespace gort::rt
