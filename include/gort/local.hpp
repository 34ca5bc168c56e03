// Goroutine-local storage and thread pinning.
//
// A goroutine may resume on another OS thread after any runtime call, so a `thread_local` read
// before a call may belong to another thread after it (compilers cache TLS addresses across
// calls). Two ways out:
//   * GoroutineLocal<T>: one T per goroutine, created on first use, destroyed when the
//     goroutine ends (or, for the destroying goroutine's own value, with the GoroutineLocal);
//   * ThreadPin: while alive, the goroutine runs only on its current thread, and that thread
//     runs nothing else (Go's runtime.LockOSThread), so thread_locals and thread-affine
//     libraries stay valid. Costs a thread handoff whenever the pinned goroutine blocks.
#pragma once

#include <cstdint>
#include <utility>

namespace gort {

namespace detail {
// A key never handed out before in this process. Keys are not addresses: a GoroutineLocal
// created where a destroyed one lived must not find the values (maybe of another T) that
// goroutines still hold for the old one.
uint64_t local_new_key() noexcept;
void* local_get(uint64_t key) noexcept;
// Stores value for the calling goroutine; destroy(value) runs when it ends.
void local_set(uint64_t key, void* value, void (*destroy)(void*));
// Destroys the calling goroutine's value for key, if any; nothing outside a goroutine.
void local_erase(uint64_t key) noexcept;
void pin_enter();
void pin_exit() noexcept;
}  // namespace detail

// Each goroutine's value lives until that goroutine ends; destroying the GoroutineLocal destroys
// only the destroying goroutine's own value at once, because the others' lists belong to their
// goroutines and cannot be touched from here. Those values are never visible again (not even
// to a new GoroutineLocal at the same address) but they stay allocated until their goroutines
// end, so a GoroutineLocal should outlive the goroutines that use it (a static or a long-lived
// member, not one per request in a long-running goroutine pool). Values of goroutines still
// parked when gort::run returns are leaked, like the rest of their stacks.
template <class T>
class GoroutineLocal {
 public:
  GoroutineLocal() = default;
  ~GoroutineLocal() { detail::local_erase(key_); }
  GoroutineLocal(const GoroutineLocal&) = delete;
  GoroutineLocal& operator=(const GoroutineLocal&) = delete;

  // The calling goroutine's T, default-constructed on first use. Throws std::logic_error
  // outside a goroutine.
  T& get() {
    if (void* p = detail::local_get(key_)) return *static_cast<T*>(p);
    T* value = new T();
    detail::local_set(key_, value, [](void* v) { delete static_cast<T*>(v); });
    return *value;
  }
  T* operator->() { return &get(); }
  T& operator*() { return get(); }

 private:
  const uint64_t key_ = detail::local_new_key();
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
