// Timers: per-P 4-ary min-heaps of intrusive one-shot timers (Go's timers, DESIGN §5).
//
// Each P owns a TimerHeap; one more heap in Sched takes timers armed by threads without a P
// (foreign threads, Ms inside gort::blocking()). A timer lives in at most one heap.
//
// Marking, not searching: timer_stop locks the heap the timer sits in (Timer::heap), turns its
// entry into a zombie (the entry keeps its deadline so the heap order stays valid, but forgets
// the Timer*) and counts it. Zombies leave the heap lazily: popped when they reach the head, or
// all at once (an O(n) rebuild) when they exceed a quarter of the heap (Go's timers.check /
// adjust). Because a zombie entry no longer points at its Timer, the owner may destroy the
// Timer as soon as timer_stop returns.
//
// Running: run_timers(h, now) pops due entries under h->mu, records the timer in h->running,
// unlocks and calls fn. One runner per heap at a time (h->run_lock, a try-lock: a second runner
// just skips the heap). After fn returns the runner writes only to the heap, never to the Timer,
// so fn may make the owner free it (e.g. ready() a goroutine whose stack holds the Timer).
// timer_stop of a timer that is not in any heap waits while some heap's `running` names it.
//
// Who runs timers (the idle-P choice): timers stay in the heap of the P that armed them, also
// when that P goes idle; nothing is moved. They are run by
//   - the owning P's M: find_runnable (first, Go's step 2), and switch_out/yield on a direct
//     switch that does not hold a wait-queue lock (only the min_when load when no timer is due);
//   - any M on its last steal pass (expired timers of every other P, idle ones included);
//   - the "timer M": the last M to go idle while timers are pending sleeps on its futex until
//     the earliest deadline over all heaps and then runs every expired timer (idle.cpp).
//   - sysmon, as a backstop: a timer overdue by more than 1 ms (e.g. on a P that only switches
//     directly under wait-queue locks, where timers are not run) is run by sysmon itself; what
//     it readies goes to the global queue.
// Lock order: TimerHeap::mu is a leaf; no fn runs under it or under any scheduler lock.
// Timers pending when gort::run returns are dropped (timers_drop_all): they never fire (their
// on_drop hook runs).
#pragma once

#include <atomic>
#include <cstdint>
#include <limits>
#include <vector>

#include "runtime/spin_lock.hpp"

namespace gort::rt {

struct TimerHeap;

// An intrusive one-shot timer. The owner embeds it (e.g. on a goroutine's stack) and keeps it
// alive until timer_stop() returned or fn has finished running.
struct Timer {
  int64_t when_ns = 0;                          // CLOCK_MONOTONIC deadline
  void (*fn)(void* arg, uint64_t seq) = nullptr;  // runs on a scheduler thread (g0 or inside a
                                                // switch): must not block or park; may call ready()
  void* arg = nullptr;
  // Called (outside every lock) when shutdown drops the timer unfired: a timer nobody else
  // owns (gort::after's) frees its state here. Null: the owner frees it (a Timer or Ticker
  // object, a goroutine's stack).
  void (*on_drop)(void* arg) = nullptr;
  uint64_t seq = 0;
  // Internal: the heap holding it (null when not armed) and its index there; both under heap->mu
  // (heap is atomic so timer_stop can read it before locking).
  std::atomic<TimerHeap*> heap{nullptr};
  uint32_t idx = 0;
};

constexpr int64_t kNoTimer = std::numeric_limits<int64_t>::max();

struct TimerHeap {
  struct Entry {
    int64_t when;
    Timer* t;  // null: a zombie (stopped), kept only for the heap order
  };
  SpinLock mu{LockRank::kTimerHeap};                        // leaf lock (fn never runs under it)
  std::vector<Entry> heap;             // 4-ary min-heap on when (Go's timerHeapN = 4)
  uint32_t zombies = 0;                // under mu
  std::atomic<int64_t> min_when{kNoTimer};  // heap[0].when (zombie or not), kNoTimer if empty
  std::atomic<bool> run_lock{false};   // one runner at a time
  std::atomic<Timer*> running{nullptr};  // the timer whose fn runs now (its runner thread)
};

void timer_start(Timer* t);        // arms it on the current P (or the global heap off-runtime)
bool timer_stop(Timer* t);         // true if it prevented fn from running; waits for a running fn
void timer_reset(Timer* t, int64_t when_ns);  // stop + start with a new deadline
int64_t now_ns();                  // CLOCK_MONOTONIC (sched.cpp)

// Scheduler side ---------------------------------------------------------------------------------

// Runs every timer of h due at `now`; returns the heap's next deadline (kNoTimer if none).
// Must not be called with a wait-queue lock held (fn may ready goroutines). `ran` (optional)
// is set when some fn ran.
int64_t run_timers(TimerHeap* h, int64_t now, bool* ran = nullptr);
// The earliest deadline over every heap (kNoTimer if none). Lock-free.
int64_t earliest_timer();
// Callbacks running now (popped from their heap, not yet returned). While one runs, its heap
// may look empty although the callback is about to ready a goroutine or re-arm itself; the
// deadlock check must not conclude from that moment (check_deadlock in idle.cpp).
int64_t timers_in_flight();
// Runs expired timers of every heap (the timer M, the last steal pass); true if any fn ran.
bool run_all_timers(int64_t now);
// Drops every pending timer (shutdown): they never fire; their Timer objects are not touched
// again, except that each one's on_drop (if any) runs, after the heaps are unlocked.
void timers_drop_all();

}  // namespace gort::rt
