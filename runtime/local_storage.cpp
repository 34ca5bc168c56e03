#include "runtime/local_storage.hpp"

#include <atomic>
#include <new>
#include <stdexcept>

#include "gort/local.hpp"
#include "runtime/machine.hpp"

namespace gort::rt {

void local_storage_destroy(G* g) {
  // A destructor may itself use goroutine-locals; keep draining until the list stays empty.
  while (LocalSlot* s = g->locals) {
    g->locals = s->next;
    s->destroy(s->value);
    delete s;
  }
}

}  // namespace gort::rt

namespace gort::detail {

uint64_t local_new_key() noexcept {
  // 64 bits: a program would need centuries of creating GoroutineLocals to wrap around. Relaxed:
  // only uniqueness matters, and the key travels with the object, not through this counter.
  static std::atomic<uint64_t> next{1};
  return next.fetch_add(1, std::memory_order_relaxed);
}

void* local_get(uint64_t key) noexcept {
  rt::G* g = rt::current_g();
  if (g == nullptr) return nullptr;
  for (rt::LocalSlot* s = g->locals; s; s = s->next) {
    if (s->key == key) return s->value;
  }
  return nullptr;
}

void local_set(uint64_t key, void* value, void (*destroy)(void*)) {
  rt::G* g = rt::current_g();
  if (g == nullptr) {
    destroy(value);
    throw std::logic_error("gort::GoroutineLocal used outside a goroutine");
  }
  auto* slot = new (std::nothrow) rt::LocalSlot{key, value, destroy, g->locals};
  if (slot == nullptr) {
    destroy(value);  // the caller handed it over; nobody else would free it
    throw std::bad_alloc();
  }
  g->locals = slot;
}

void local_erase(uint64_t key) noexcept {
  rt::G* g = rt::current_g();
  if (g == nullptr) return;
  for (rt::LocalSlot** link = &g->locals; *link; link = &(*link)->next) {
    rt::LocalSlot* s = *link;
    if (s->key != key) continue;
    // Unlinked before the destructor runs: it may use goroutine-locals itself (and so push
    // new slots onto the list) or park.
    *link = s->next;
    s->destroy(s->value);
    delete s;
    return;  // keys are unique: at most one slot per goroutine
  }
}

}  // namespace gort::detail
