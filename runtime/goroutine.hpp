// G: one goroutine. Descriptors live in slabs that are never returned to the heap (like Go's
// allgs), recycled through per-P free lists, so the goroutine dump can walk every descriptor
// without locks on the spawn path. A goroutine gets its stack when it first runs, not when it
// is spawned: a million spawned-but-not-started goroutines cost a descriptor each, and a
// started goroutine usually reuses a stack that is already resident in the P's cache.
//
// Status and ownership (all transitions go through set_status, which checks the edge):
//   kIdle      on a free list; nobody runs it.
//   kRunnable  on exactly one run queue (a P's ring or runnext, the global queue) or being
//              handed over; whoever pops it owns it.
//   kRunning   owned by the M whose curg it is; its stack is live.
//   kWaiting   parked: owned by the wait structure it sits in (semaphore queue, ...); a waker
//              makes it kRunnable exactly once.
//   kBlocking  running inside gort::blocking(): its M may have lost its P.
//   kDead      finished; stack released; about to go back to a free list.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "runtime/context.hpp"
#include "runtime/eh_state.hpp"
#include "runtime/stack.hpp"

namespace gort::rt {

struct M;

enum class GStatus : uint32_t { kIdle, kRunnable, kRunning, kWaiting, kBlocking, kDead };
const char* to_string(GStatus s);

struct LocalSlot;

// What a goroutine must give up if `run` returns while it is parked. Goroutines still parked
// then are abandoned and their stacks freed without unwinding, so objects that outlive the run
// must neither keep pointing into those stacks (a channel kept by main: its queue holds the
// goroutine's request) nor stay held by them (a socket: an operation's reference and turn).
// `forget` undoes the one record. The links of one goroutine form a stack, innermost first
// (G::wait_link, then `outer`): a socket read that waits for its turn in a channel has both.
// run takes them in two passes over every abandoned goroutine: first each kQueued link (out of
// every queue), then each kHeld one (give back what was held). A give-back may wake waiters,
// and by then no abandoned goroutine is queued anywhere to be woken.
struct WaitLink {
  enum Kind : uint8_t { kQueued, kHeld };
  void (*forget)(WaitLink*);
  Kind kind = kQueued;
  WaitLink* outer = nullptr;
};

struct alignas(64) G {
  Context ctx;
  Stack stack;
  uint64_t id = 0;
  std::atomic<GStatus> status{GStatus::kIdle};
  uint32_t line = 0;          // creation site
  const char* file = nullptr;
  const char* function = nullptr;
  void (*run)(void*, bool) = nullptr;  // the user's callable
  void* closure = nullptr;    // points into inline_closure or to a heap block
  size_t stack_request = 0;   // per-goroutine reservation (0 = default)
  G* sched_next = nullptr;    // intrusive link: global queue, free lists
  const char* wait_reason = nullptr;
  int64_t wait_since = 0;     // Sched::coarse_now when it last parked (the dump's duration)
  LocalSlot* locals = nullptr;  // goroutine-local storage, created on first use
  M* locked_m = nullptr;      // ThreadPin: the only M allowed to run this G
  uint32_t pin_depth = 0;
  int32_t last_p = -1;        // id of the P that last ran it (stats: migrations)
  M* avoid_m = nullptr;       // GORT_DEBUG=migrate: do not resume on this M
  EhState eh;                 // exception-handling state while switched out (eh_state.hpp)
  bool closure_on_heap = false;
  bool started = false;
  static constexpr size_t kInlineClosure = 48;
  alignas(16) unsigned char inline_closure[kInlineClosure];
  union {
    // Used only while the descriptor heads a batch on the global free list (goroutine.cpp).
    G* free_batch_next = nullptr;
    // While the goroutine runs or waits inside something that may outlive the run (a channel, a
    // socket operation): the innermost of what it would have to give up (WaitLink). Null
    // otherwise; g_alloc hands descriptors out with free_batch_next cleared.
    WaitLink* wait_link;
  };
  uint32_t free_batch_size = 0;

  // Transition from -> to. Checked (fatal on a wrong `from`) in Debug and sanitizer builds;
  // a plain store otherwise, since it sits on every switch.
  void set_status(GStatus from, GStatus to) {
#if defined(GORT_CHECKED)
    set_status_checked(from, to);
#else
    (void)from;
    status.store(to, std::memory_order_release);
#endif
  }
  void set_status_checked(GStatus from, GStatus to);
};

// A million pending goroutines cost a million descriptors of fresh memory (the spawn bar).
// (Sanitizer builds carry the sanitizers' fiber state in Context, and are larger.)
#if !defined(GORT_ASAN) && !defined(GORT_TSAN)
static_assert(sizeof(G) == 256, "a goroutine descriptor grew past 256 bytes");
#endif

// Free-list handling of descriptors. Owner-only per-P lists; a global list under a lock.
G* g_alloc();               // a descriptor in kIdle, from the current P's list or the global one
void g_free(G* g);          // back to a free list (status must be kDead or kIdle)
// Visits every descriptor ever allocated (dead ones included). Racy by design: used by dumps,
// stats and shutdown (after every M has stopped).
template <class F> void for_each_g(F&& f);

// Scoped: push on entry, pop (in reverse order) on the way out.
inline void wait_link_push(G* g, WaitLink* link) {
  link->outer = g->wait_link;
  g->wait_link = link;
}
inline void wait_link_pop(G* g, WaitLink* link) { g->wait_link = link->outer; }
void g_slabs_visit(void (*visit)(G*, void*), void* arg);
template <class F> void for_each_g(F&& f) {
  g_slabs_visit([](G* g, void* a) { (*static_cast<F*>(a))(g); }, &f);
}

// Appends "FILE:LINE in FUNCTION" (where g was spawned) to buf; async-signal-safe.
size_t append_creation_site(const G* g, char* buf, size_t len, size_t cap);

// Numbers goroutines from 1 again, for a new run whose main goroutine is spawned next (its Ps
// are new, so none holds a batch of the old numbers).
void goid_restart();

// Entry point of every goroutine stack (runs on the new stack; never returns).
void g_entry(void* arg);
// Called by the last act of a goroutine (after its callable returned).
[[noreturn]] void g_exit(G* g);

}  // namespace gort::rt
