// The scheduler's global state and the operations the rest of the runtime uses.
// The design (spinning, parking, the lost-wakeup guard) is described at the top of sched.cpp.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

#include "gort/config.hpp"
#include "runtime/global_queue.hpp"
#include "runtime/goroutine.hpp"
#include "runtime/machine.hpp"
#include "runtime/processor.hpp"
#include "runtime/timer.hpp"
#include "runtime/lock_rank.hpp"

namespace gort::rt {

struct Sched {
  // lock protects: the idle P and M lists, M creation, shutdown. Its place in the lock order is
  // in lock_rank.hpp (kSched). Never held across a context switch.
  RankedMutex lock{LockRank::kSched};
  P* pidle = nullptr;
  M* midle = nullptr;
  std::atomic<int> npidle{0};
  std::atomic<int> nmspinning{0};
  std::atomic<int> nmblocking{0};        // Ms inside gort::blocking()
  std::atomic<bool> shutdown{false};
  // A thread outside the runtime readied a goroutine or waited on a gort primitive: deadlock
  // detection is off from then on (that thread may still wake someone).
  std::atomic<bool> foreign_threads{false};
  GlobalQueue runq;

  int procs = 0;
  std::vector<P*> allp;
  std::vector<M*> allm;                  // under lock
  std::vector<std::thread> threads;      // under lock; joined at shutdown
  std::vector<uint32_t> steal_strides;   // integers coprime with procs (random steal order)

  Config config;
  bool migrate_on_yield = false;
  // A clock that costs a load: sysmon stores now_ns() every round and an M stores it when it
  // wakes from idle, so it is at most one sysmon period (<= 10 ms) behind while anything runs.
  // Parking goroutines stamp G::wait_since with it, for the dump's "waiting for how long".
  std::atomic<int64_t> coarse_now{0};

  // Counters.
  std::atomic<uint64_t> created_external{0}, exited_external{0};  // spawns/exits without a P
  std::atomic<uint64_t> thread_parks{0}, thread_wakes{0}, blocking_calls{0}, handoffs{0},
      preempt_requests{0}, waiting_work_wakes{0}, hog_reports{0}, sysmon_polls{0},
      idle_polled{0}, fd_watch_requests{0}, sysmon_rounds{0};

  // Timers (timer.hpp). `timers` holds those armed without a P. The timer M is the idle M that
  // sleeps on its futex until the earliest deadline (idle.cpp, idle_park); timer_sleep_until is
  // that deadline, kNoTimer while nobody sleeps so (or while it computes it).
  TimerHeap timers;
  std::atomic<M*> timer_m{nullptr};
  std::atomic<int64_t> timer_sleep_until{kNoTimer};
  // The idle M blocked in the poller (idle.cpp, fd_watch_wanted): one at most, and only while no
  // P runs goroutines or while sysmon asks for it (fd_watch_requested, a hint: relaxed).
  std::atomic<M*> fd_watcher{nullptr};
  std::atomic<bool> fd_watch_requested{false};

  // sysmon
  Parker sysmon_parker;
  std::atomic<bool> sysmon_sleeping{false};
  // sysmon is watching run queues' runnext slots every kRunnextWatchNs (sysmon.cpp): a goroutine
  // readied into an empty runnext then wakes nobody (make_runnable), since sysmon starts a thief
  // for it if its P does not get to it within about two rounds. A hint: relaxed.
  std::atomic<bool> runnext_watched{false};
  std::thread sysmon_thread;
};

extern Sched* sched;  // non-null while a runtime runs

// Threads outside the runtime (no M: a user's plain thread, a metrics thread) may spawn, ready
// goroutines and read stats while `run` returns on another thread. They reach the scheduler only
// inside a ForeignUse, which keeps it alive: `run` unpublishes it (foreign_unpublish) and waits
// for the ForeignUses in progress to end before freeing anything. A plain read of `sched` there
// was a use-after-free (a thread spawning in a loop while the main goroutine returned).
// Protocol (Dekker, both sides seq_cst): a user increments `foreign_uses`, then loads the
// published pointer; run stores null, then waits for `foreign_uses` to reach zero. Either the
// user sees null, or run sees the user's increment and waits for it.
// On an M (or sysmon) the runtime cannot end underneath, and ForeignUse is just `sched`.
class ForeignUse {
 public:
  ForeignUse();
  ~ForeignUse();
  ForeignUse(const ForeignUse&) = delete;
  ForeignUse& operator=(const ForeignUse&) = delete;
  Sched* get() const { return s_; }  // null: no runtime runs (or it is ending)

 private:
  Sched* s_ = nullptr;
  bool counted_ = false;
};
// The explicit halves, for a use that spans calls (spawn_begin .. spawn_commit on one thread).
Sched* foreign_enter();  // null (and nothing held) if no runtime runs
void foreign_leave();
void foreign_publish(Sched* s);
void foreign_unpublish();  // returns when no ForeignUse holds the runtime any more
extern bool stack_checks_needed;  // canary checks at switch-out (see sched.cpp)
// "goroutine N stack overflow (reserved X KiB), created at FILE:LINE" (async-signal-safe).
size_t describe_goroutine_stack(G* g, char* buf, size_t cap);

// Scheduler operations -------------------------------------------------------------------------

// Makes g (kWaiting or new) runnable: into the current P's runnext when called on a runtime
// thread holding a P, else the global queue; then wakes an idle P if nobody is spinning.
void ready(G* g, bool next = true);
// Queues a new goroutine (same as ready, but counts it).
void ready_new(G* g);
// Parks the running goroutine (already marked kWaiting with its reason) and runs something else;
// `unlock(g, arg)` runs on the next context after the switch (release the wait queue's lock).
// Returns when the goroutine is readied and resumed.
void park(void (*unlock)(G*, void*), void* arg);
// Gives up the processor; the goroutine goes to the back of its P's queue.
void yield_current();
// Leaves the running goroutine for good (after its stack was scheduled for release).
[[noreturn]] void exit_current(G* g);
void wakep();
// Records that a thread outside the runtime interacts with it (see Sched::foreign_threads).
void note_foreign_thread();
// wakep after pushing to the global queue (orders the push before the idle checks).
void wakep_global();
// Called from the tail of a G's switch with nothing left: enters the M's scheduler loop.
void schedule_loop(M* m);
void handoff_p(P* p);
// Wakes an idle M to watch the fds if goroutines wait on them, nobody watches, and no P runs
// goroutines (or sysmon asked for a watcher).
void nudge_fd_watcher();
// Body of every M thread but M0 (machine.cpp).
void m_main(M* m);
// Lock spinning policy (sync primitives): see sched.cpp.
bool can_spin(int iteration);
// Pinning (ThreadPin).
void pin_current();
void unpin_current() noexcept;
// Starts sysmon; runs shutdown; internal to run_main.
void sysmon_start();
void sysmon_stop();
void sysmon_wake();
int64_t now_ns();
// The P the calling thread owns (null: foreign thread, no P, or inside gort::blocking()).
P* current_owned_p();
// Called after a timer was armed for `when`: wakes the timer M if it sleeps past it, or makes
// sure some M will look at the timers (Go's wakeNetPoller).
void timer_armed(int64_t when);
// Parks the running goroutine like park(); `holds_lock` false: `after` releases nothing, so the
// switch may take any next goroutine.
void park_nolock(void (*after)(G*, void*), void* arg);
// sysmon readies goroutines (overdue timers, its 10 ms netpoll) without an M; it is part of
// the runtime, not a foreign thread (which would switch deadlock detection off).
void mark_sysmon_thread();
bool on_sysmon_thread();
// Unparks an idle M, breaking the netpoller's wait if it blocks there.
void wake_m(M* m);
// Readies a list of kWaiting goroutines linked through sched_next (netpoller results): into
// the caller's P, or the global queue without one; each leaves the netpoller's waiter count.
// With wake=false and a P they only go to its run queue, with no wakep (the caller runs them).
void inject_glist(G* list, bool wake = true);
// The goroutines an M reaped from its own io_uring ring, while it holds a P: queued without a
// wake-up, first in first run (behind the global queue's older work when it has any).
void inject_own(G* list);
// Submits what m's goroutines queued in its own io_uring ring and queues what completed, with
// inject_own. Only m's thread can reap that ring. False when nothing came back (or no ring).
bool reap_own_ring(M* m);

// Shared by sched.cpp and idle.cpp --------------------------------------------------------------

// An idle M woken by at most this many goroutines (its own ring's completions, or what the fds
// it watched readied) runs them alone, waking no other thread (idle_park).
constexpr uint32_t kRunAloneBatch = 4;
// Parks an M that found nothing to run until it holds a P again, or shutdown (idle.cpp).
void idle_park(M* m);
// Puts an M without a role to sleep until unparked (consuming the permit); an M with an
// io_uring ring sleeps in it and may return the goroutines that completed (*n of them).
G* sleep_m(M* m, uint32_t* n);
// Whether an idle M should block in the poller as the fd watcher (idle.cpp says when).
bool fd_watch_wanted();
void release_fd_watch();
void release_timer_role();
// P ownership (sched.cpp). pidle_put and pidle_get require Sched::lock.
void acquirep(M* m, P* p);
P* releasep(M* m);
void pidle_put(P* p);
P* pidle_get();
// Hands p to an idle M (preferring one without a role) or a new thread; `spinning`: it
// starts as a spinning M (the caller counted it in nmspinning).
void startm(P* p, bool spinning);

}  // namespace gort::rt
