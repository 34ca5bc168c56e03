// Goroutine-local storage and thread pinning.
//
// A goroutine may resume on another OS thread after any runtime call, so a `thread_local` read
// before a call may belong to another thread after it (compilers cache TLS addresses across
// calls). Two ways out:
//   * GoroutineLocal<T>: one T per goroutine, created on first use, destroyed when the
//     goroutine ends;
//   * ThreadPin: while alive, the goroutine runs only on its current thread, and that thread
//     runs nothing else (Go's runtime.LockOSThread), so thread_locals and thread-affine
//     libraries stay valid. Costs a thread handoff whenever the pinned goroutine blocks.
#pragma once

#include <utility>

namespace gort {

namespace detail {
void* local_get(const void* key) noexcept;
// Stores value for the calling goroutine; destroy(value) runs when it ends.
void local_set(const void* key, void* value, void (*destroy)(void*));
void pin_enter();
void pin_exit() noexcept;
}  // namespace detail

template <class T>
class GoroutineLocal {
 public:
  GoroutineLocal() = default;
  GoroutineLocal(const GoroutineLocal&) = delete;
  GoroutineLocal& operator=(const GoroutineLocal&) = delete;

  // The calling goroutine's T, default-constructed on first use. Throws std::logic_error
  // outside a goroutine.
  T& get() {
    if (void* p = detail::local_get(this)) return *static_cast<T*>(p);
    T* value = new T();
    detail::local_set(this, value, [](void* v) { delete static_cast<T*>(v); });
    return *value;
  }
  T* operator->() { return &get(); }
  T& operator*() { return get(); }
};

// Pins the calling goroutine to its current OS thread for the guard's lifetime. Nests.
class ThreadPin {
 public:
  ThreadPin() { detail::pin_enter(); }
  ~ThreadPin() { detail::pin_exit(); }
  ThreadPin(const ThreadPin&) = delete;
  ThreadPin& operator=(const ThreadPin&) = delete;
};

}  // namespace gort
