#include "runtime/local_storage.hpp"

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

void* local_get(const void* key) noexcept {
  rt::G* g = rt::current_g();
  if (g == nullptr) return nullptr;
  for (rt::LocalSlot* s = g->locals; s; s = s->next) {
    if (s->key == key) return s->value;
  }
  return nullptr;
}

void local_set(const void* key, void* value, void (*destroy)(void*)) {
  rt::G* g = rt::current_g();
  if (g == nullptr) {
    destroy(value);
    throw std::logic_error("gort::GoroutineLocal used outside a goroutine");
  }
  g->locals = new rt::LocalSlot{key, value, destroy, g->locals};
}

}  // namespace gort::detail
