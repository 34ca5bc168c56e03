// Context switching: the raw backend (asm/ or Boost.Context) and the sanitizer-aware wrapper.
//
// A suspended context is represented by one pointer: the stack pointer it saved (asm backend)
// or an fcontext handle (Boost backend). Both backends implement the same two C functions:
//
//   gort_ctx_make(stack_top, entry, arg) -> handle
//       Prepares a fresh context on the stack that ends at `stack_top` (16-byte aligned). The
//       first switch to it calls entry(arg) on that stack. `entry` must never return: a
//       goroutine ends by switching away for good.
//   gort_ctx_swap(&save, handle)
//       Saves the running context's callee-saved state into *save and resumes `handle`.
//       Returns when some other context swaps back to *save.
//
// Every switch the scheduler makes goes through Context::switch_to below, which tells ASan and
// TSan about the stack change (DESIGN §3): without that, ASan reports false stack overflows and
// TSan corrupts its shadow call stack.
#pragma once

#include <cstddef>
#include <cstdint>

#include <pthread.h>

extern "C" {
void* gort_ctx_make(void* stack_top, void (*entry)(void*), void* arg);
void gort_ctx_swap(void** save, void* handle);
}

#if defined(GORT_ASAN)
extern "C" {
void __sanitizer_start_switch_fiber(void** fake_stack_save, const void* bottom, size_t size);
void __sanitizer_finish_switch_fiber(void* fake_stack_save, const void** bottom_old, size_t* size_old);
}
#endif
#if defined(GORT_TSAN)
extern "C" {
void* __tsan_get_current_fiber(void);
void* __tsan_create_fiber(unsigned flags);
void __tsan_destroy_fiber(void* fiber);
void __tsan_switch_to_fiber(void* fiber, unsigned flags);
}
#endif

namespace gort::rt {

// One execution context: a goroutine's, or an M's own thread stack (g0).
struct Context {
  void* handle = nullptr;          // saved state while suspended
  const void* stack_lo = nullptr;  // lowest usable address (for ASan)
  size_t stack_size = 0;
#if defined(GORT_ASAN)
  void* asan_fake_stack = nullptr;
#endif
#if defined(GORT_TSAN)
  void* tsan_fiber = nullptr;
  bool tsan_fiber_owned = false;  // created by init(); a thread's own fiber is never destroyed
#endif

  // Makes a fresh goroutine context on [lo, lo+size).
  void init(void* lo, size_t size, void (*entry)(void*), void* arg) {
    stack_lo = lo;
    stack_size = size;
    handle = gort_ctx_make(static_cast<char*>(lo) + size, entry, arg);
#if defined(GORT_TSAN)
    tsan_fiber = __tsan_create_fiber(0);
    tsan_fiber_owned = true;
#endif
  }

  // Adopts the calling thread's own stack (an M's g0). ASan must be told its bounds when a
  // goroutine switches back to it.
  void init_for_thread() {
    pthread_attr_t attr;
    if (pthread_getattr_np(pthread_self(), &attr) == 0) {
      void* lo = nullptr;
      size_t size = 0;
      pthread_attr_getstack(&attr, &lo, &size);
      stack_lo = lo;
      stack_size = size;
      pthread_attr_destroy(&attr);
    }
#if defined(GORT_TSAN)
    tsan_fiber = __tsan_get_current_fiber();
    tsan_fiber_owned = false;
#endif
  }

  void destroy() {
#if defined(GORT_TSAN)
    if (tsan_fiber && tsan_fiber_owned) __tsan_destroy_fiber(tsan_fiber);
    tsan_fiber = nullptr;
    tsan_fiber_owned = false;
#endif
  }

  // Suspends `this` (the running context) and resumes `to`. If `this` is finished for good
  // (`exiting`), ASan may drop its fake stack.
  inline void switch_to(Context& to, bool exiting = false) {
    (void)exiting;  // only ASan uses it
#if defined(GORT_ASAN)
    __sanitizer_start_switch_fiber(exiting ? nullptr : &asan_fake_stack, to.stack_lo, to.stack_size);
#endif
#if defined(GORT_TSAN)
    __tsan_switch_to_fiber(to.tsan_fiber, 0);
#endif
    gort_ctx_swap(&handle, to.handle);
#if defined(GORT_ASAN)
    __sanitizer_finish_switch_fiber(asan_fake_stack, nullptr, nullptr);
#endif
  }

  // First thing a fresh context does on its own stack (completes ASan's switch protocol).
  static inline void on_entry() {
#if defined(GORT_ASAN)
    __sanitizer_finish_switch_fiber(nullptr, nullptr, nullptr);
#endif
  }
};

}  // namespace gort::rt
