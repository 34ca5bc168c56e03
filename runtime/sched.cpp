// The scheduler: how Ms find goroutines to run, spin, park and wake each other.
//
// Structure (Go's GPM, DESIGN §2): procs Ps, each with a local RunQueue; one GlobalQueue; Ms
// (threads) that must hold a P to run goroutines. A goroutine that gives up its thread switches
// straight to the next one from its P (see machine.hpp); only when its P has nothing does it
// switch to the M's g0, whose loop (schedule_loop) runs find_runnable: local queue, global queue,
// stealing, and finally giving the P back and parking the thread.
//
// Finding work, in order (find_runnable / local_or_global):
//   1. every 61st time slice on a P, one goroutine from the global queue first, so goroutines
//      there are not starved by a P whose local queue never empties;
//   2. the local queue: runnext, then the ring;
//   3. a batch from the global queue (min(128, len/procs + 1));
//   4. stealing, only if this M is already spinning or fewer than half the busy Ps have a
//      spinning M (2 * nmspinning < procs - npidle): 4 passes over the other Ps in a random
//      order (random start, stride coprime with procs), taking half a victim's ring; the last
//      pass may also take a victim's runnext;
//   5. give the P back (idle list) and park the thread (idle_park, in idle.cpp).
//
// Waking (wakep): new work wakes an M only if a P is idle and no M is spinning; that M starts
// spinning; a spinning M that finds work stops spinning and calls wakep() again, so parallelism
// ramps up one thread at a time without waking every thread for every goroutine.
//
// The lost-wakeup guard (numbered; both sides need their StoreLoad ordering):
//   submitter:  1. publish the work (global queue under its lock)
//               2. a seq_cst read-modify-write (wakep_global: npidle.fetch_add(0))
//               3. read npidle and nmspinning (wakep)
//   spinner going idle:
//               1. put the P on the idle list (npidle++), leave spinning (nmspinning--, seq_cst)
//               2. re-check the global queue (seq_cst load) and every P's ring
//               3. found something: take an idle P back, spin again; else park.
//   Either the submitter sees the spinner (and relies on it) or the spinner sees the work.
//   Work pushed to the submitter's *own* ring needs no such ordering (wakep without the RMW):
//   that P is running and will run it itself, so only parallelism is at stake, not liveness.
//   For the same reason a non-spinning M that goes idle does not re-check other Ps' rings.
//
// Timers (timer.hpp): each P's heap is run by its M at the top of find_runnable and on direct
// switches that hold no lock (one relaxed load when nothing is armed); the last idle step runs
// every heap's expired timers; and the last M to go idle while timers are pending becomes the
// timer M: it sleeps on its futex only until the earliest deadline over all heaps, then takes an
// idle P (as a spinner) and runs them. Whoever arms a timer earlier than the timer M's deadline
// unparks it (timer_armed). The fd watcher (fd_watch_wanted) is the idle M that blocks in the
// netpoller; when it also holds the timer role, its poll ends at the earliest deadline. Both
// roles, and the idle Ms that hold them, live in idle.cpp.
#include "runtime/sched.hpp"

#include <algorithm>
#include <sched.h>
#include <cstdlib>
#include <ctime>

#include "gort/runtime.hpp"
#include "netpoll/netpoll.hpp"
#include "runtime/fatal.hpp"
#include "runtime/spin_lock.hpp"
#include "runtime/stack.hpp"
#include "runtime/timer.hpp"
#include "runtime/trace.hpp"

namespace gort::detail {
std::atomic<uint32_t> preempt_pending{0};
}

namespace gort::rt {

Sched* sched = nullptr;

namespace {
std::atomic<Sched*> published_sched{nullptr};
std::atomic<int64_t> foreign_uses{0};
}  // namespace

Sched* foreign_enter() {
  foreign_uses.fetch_add(1, std::memory_order_seq_cst);
  Sched* s = published_sched.load(std::memory_order_seq_cst);
  if (s == nullptr) foreign_uses.fetch_sub(1, std::memory_order_release);
  return s;
}

void foreign_leave() { foreign_uses.fetch_sub(1, std::memory_order_release); }

void foreign_publish(Sched* s) { published_sched.store(s, std::memory_order_seq_cst); }

void foreign_unpublish() {
  published_sched.store(nullptr, std::memory_order_seq_cst);
  // A use lasts one spawn or one stats() call: spin politely.
  while (foreign_uses.load(std::memory_order_seq_cst) != 0) sched_yield();
}

ForeignUse::ForeignUse() {
  if (current_m() != nullptr || on_sysmon_thread()) {
    s_ = sched;
    return;
  }
  s_ = foreign_enter();
  counted_ = s_ != nullptr;
}

ForeignUse::~ForeignUse() {
  if (counted_) foreign_leave();
}
bool stack_checks_needed = false;

int64_t now_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

namespace {

// Canary mode (no guard pages available): each goroutine's stack canary is checked when it
// switches out, so an overflow is reported at the next scheduling point instead of corrupting
// memory silently. Set by run_main when the guard mode is not kGuardInstall (mprotect guards
// can run out of VMA budget and fall back to canaries for new stacks).
[[noreturn]] void report_canary_overflow(G* g) {
  char buf[512];
  size_t n = append_str(buf, 0, sizeof buf, "gort: ");
  n += describe_goroutine_stack(g, buf + n, sizeof buf - n);
  n = append_str(buf, n, sizeof buf, " (stack canary clobbered; no guard pages on this system)\n");
  write_stderr(buf, n);
  std::abort();
}

// P ownership helpers ----------------------------------------------------------------------------

// The P the calling thread may use as owner, or null (foreign thread, g0 without P, or inside
// gort::blocking() where sysmon may hand the P to another M at any moment).
P* owned_p(M* m) { return (m != nullptr && !m->in_blocking) ? m->p : nullptr; }

// Runs the P's expired timers (Go's checkTimers). Costs one load when nothing is armed.
inline void check_own_timers(P* p) {
  int64_t w = p->timers.min_when.load(std::memory_order_relaxed);
  if (w == kNoTimer) return;
  int64_t now = now_ns();
  if (w <= now) run_timers(&p->timers, now);
}

void clear_preempt(P* p) {
  if (p->preempt.load(std::memory_order_relaxed) &&
      p->preempt.exchange(false, std::memory_order_relaxed)) {  // only a hint: relaxed
    gort::detail::preempt_pending.fetch_sub(1, std::memory_order_relaxed);
  }
}

}  // namespace

// P ownership (sched.hpp: idle.cpp takes and hands out Ps too).

void acquirep(M* m, P* p) {
  p->m = m;
  p->m_tid.store(m->tid, std::memory_order_relaxed);
  p->status.store(PStatus::kRunning, std::memory_order_release);
  m->p = p;
}

P* releasep(M* m) {
  P* p = m->p;
  p->m = nullptr;
  m->p = nullptr;
  return p;
}

// Requires sched->lock.
void pidle_put(P* p) {
  clear_preempt(p);  // a request for a goroutine that is gone
  p->status.store(PStatus::kIdle, std::memory_order_release);
  p->idle_next = sched->pidle;
  sched->pidle = p;
  sched->npidle.fetch_add(1, std::memory_order_seq_cst);  // part of the lost-wakeup guard
}

// Requires sched->lock.
P* pidle_get() {
  P* p = sched->pidle;
  if (p) {
    sched->pidle = p->idle_next;
    p->idle_next = nullptr;
    sched->npidle.fetch_sub(1, std::memory_order_seq_cst);
  }
  return p;
}

namespace {

// Run queue helpers ------------------------------------------------------------------------------

// The local queue was full: move the older half plus g to the global queue under one lock (Go's
// runqputslow). Out of line: its batch array would give every runq_put a 1 KiB frame.
[[gnu::noinline]] void runq_put_overflow(P* p, G* g) {
  while (!p->runq.push(g)) {
    G* batch[RunQueue::kSize / 2 + 1];
    uint32_t n = p->runq.take_half_for_overflow(batch);
    if (n == 0) continue;  // a thief made room
    batch[n++] = g;
    for (uint32_t i = 0; i + 1 < n; ++i) batch[i]->sched_next = batch[i + 1];
    sched->runq.push_batch(batch[0], batch[n - 1], n);
    // The owner keeps running and pulls from the global queue when its ring empties, so these
    // are not lost even if no M wakes; callers' wakep() only adds parallelism.
    return;
  }
}

inline void runq_put(P* p, G* g, bool next) {
  if (next) {
    g = p->runq.push_next(g);
    if (g == nullptr) return;
  }
  if (!p->runq.push(g)) [[unlikely]] runq_put_overflow(p, g);
}

G* global_batch(P* p) {
  uint64_t len = sched->runq.size();
  if (len == 0) return nullptr;
  uint32_t n = static_cast<uint32_t>(std::min<uint64_t>(RunQueue::kSize / 2,
                                                        len / sched->procs + 1));
  G* g = sched->runq.pop_batch(n, [p](G* x) { p->runq.push(x); });
  if (g) count(p->global_pulls);
  return g;
}

// GORT_DEBUG=migrate: a goroutine that yielded on this M is left (in the global queue) for
// another M, so every yield moves it to another thread. Never takes global batches, which would
// pull such goroutines into this P's ring unchecked.
G* local_or_global_migrating(M* m, P* p, bool* inherit) {
  *inherit = false;
  for (int tries = 0; tries < 4; ++tries) {
    G* g = p->runq.pop(inherit);
    if (!g) g = sched->runq.pop();
    if (!g) return nullptr;
    if (g->avoid_m != m) return g;
    sched->runq.push(g);
    // Someone else must come for it. wakep() starts nobody while an M spins, so a spinner
    // that rejects work stops spinning first (else it would spin on this G forever).
    if (m->spinning) {
      m->spinning = false;
      sched->nmspinning.fetch_sub(1, std::memory_order_seq_cst);
    }
    wakep_global();
  }
  return nullptr;
}

// Steps 1-3 of the search. `inherit`: the G came from runnext and shares the current slice.
[[gnu::always_inline]] inline G* local_or_global(M* m, P* p, bool* inherit) {
  if (sched->migrate_on_yield && sched->procs > 1) return local_or_global_migrating(m, p, inherit);
  *inherit = false;
  G* g = nullptr;
  if (p->schedtick.load(std::memory_order_relaxed) % 61 == 0) {
    // Completions in this M's own ring would otherwise wait until the run queue drains.
    reap_own_ring(m);
    if (!sched->runq.empty()) g = sched->runq.pop();
  }
  if (!g) g = p->runq.pop(inherit, p->preempt.load(std::memory_order_relaxed));
  if (!g) g = global_batch(p);
  return g;
}

G* steal_work(M* m, P* p) {
  const int procs = sched->procs;
  if (procs < 2) return nullptr;
  for (int pass = 0; pass < 4; ++pass) {
    const bool last = pass == 3;
    uint32_t start = m->fastrand() % procs;
    uint32_t stride = sched->steal_strides[m->fastrand() % sched->steal_strides.size()];
    for (int i = 0; i < procs; ++i) {
      P* victim = sched->allp[(start + i * stride) % procs];
      if (victim == p) continue;
      if (victim->status.load(std::memory_order_acquire) == PStatus::kIdle) continue;
      G* seen = nullptr;
      bool take_next = last;
      if (last && (seen = victim->runq.peek_next()) != nullptr) {
        // A running P whose goroutine just readied a partner is about to block and run it;
        // give it a moment (Go sleeps 3 µs; a short spin avoids a timer here), then take
        // runnext only if that same goroutine is still waiting there. Two goroutines readying
        // each other keep replacing it: stealing then would only split the pair across CPUs.
        // Reading the victim's runnext line in a tight loop would slow its owner's every
        // push and pop (the line bounces between the CPUs): look only every 32 pauses.
        for (int s = 1; s <= 200; ++s) {
          cpu_relax();
          if (s % 32 == 0 && victim->runq.peek_next() != seen) {
            take_next = false;  // it moved on: its owner is running its goroutines
            break;
          }
        }
      }
      uint32_t n = 0;
      if (G* g = victim->runq.steal_into(p->runq, take_next, &n, seen)) {
        count(p->steals);
        count(p->stolen, n);
        trace(p, TraceKind::kSteal, 0, n, nullptr, nullptr, static_cast<uint32_t>(victim->id));
        return g;
      }
    }
    if (sched->shutdown.load(std::memory_order_relaxed)) return nullptr;
  }
  return nullptr;
}

bool any_work_visible() {
  if (!sched->runq.empty()) return true;
  for (P* p : sched->allp) {
    if (!p->runq.empty()) return true;
  }
  return false;
}

// M lifecycle --------------------------------------------------------------------------------

// Requires sched->lock.
M* new_m() {
  M* m = new M();
  m->id = static_cast<int>(sched->allm.size());
  m->rand_state = 0x9E3779B97F4A7C15ULL * (m->id + 1);
  sched->allm.push_back(m);
  return m;
}

}  // namespace

void startm(P* p, bool spinning) {
  M* m = nullptr;
  bool fresh = false;
  {
    std::lock_guard<RankedMutex> lock(sched->lock);
    if (sched->shutdown.load(std::memory_order_relaxed)) {
      pidle_put(p);
      if (spinning) sched->nmspinning.fetch_sub(1);
      return;
    }
    // Prefer an M without a role: the fd watcher would be pulled out of the poller (an eventfd
    // write instead of a futex wake), and either role would have to pass to another M.
    M** pick = &sched->midle;
    for (M** pp = &sched->midle; *pp != nullptr; pp = &(*pp)->idle_next) {
      if (*pp != sched->fd_watcher.load(std::memory_order_relaxed) &&
          *pp != sched->timer_m.load(std::memory_order_relaxed)) {
        pick = pp;
        break;
      }
    }
    m = *pick;
    if (m) {
      *pick = m->idle_next;
      m->idle_next = nullptr;
    } else {
      m = new_m();
      fresh = true;
    }
    m->spinning = spinning;
    m->nextp = p;
    if (fresh) sched->threads.emplace_back(m_main, m);
  }
  if (!fresh) {
    sched->thread_wakes.fetch_add(1, std::memory_order_relaxed);
    wake_m(m);
  }
  if (sched->sysmon_sleeping.load(std::memory_order_seq_cst)) sysmon_wake();
}

namespace {

void reset_spinning(M* m) {
  m->spinning = false;
  sched->nmspinning.fetch_sub(1, std::memory_order_seq_cst);
  // We found work; there may be more. The next spinner takes over (ramp-up, see the top).
  wakep();
}

// A pinned goroutine is not running: hand our P on and sleep until it is readied
// (Go's stoplockedm). Returns with m->p set and m->next_locked to run, or on shutdown.
void stop_locked_m(M* m) {
  if (m->p) handoff_p(releasep(m));
  for (;;) {
    uint32_t n = 0;
    if (G* list = sleep_m(m, &n)) {
      inject_glist(list);  // no P here: to the global queue
      continue;
    }
    // Under the lock: a stale unpark from timer_armed may wake us while start_locked_m writes.
    std::lock_guard<RankedMutex> lock(sched->lock);
    if (m->next_locked != nullptr || sched->shutdown.load(std::memory_order_acquire)) break;
  }
  if (m->nextp) {
    acquirep(m, m->nextp);
    m->nextp = nullptr;
  }
}

// g is pinned to another M: give that M our P and g, then park (Go's startlockedm).
void start_locked_m(M* m, G* g) {
  M* owner = g->locked_m;
  P* p = releasep(m);
  {
    std::lock_guard<RankedMutex> lock(sched->lock);  // pairs with stop_locked_m's check
    owner->nextp = p;
    owner->next_locked = g;
  }
  owner->parker.unpark();
  idle_park(m);
}

G* find_runnable(M* m, bool* inherit) {
  for (;;) {
    if (sched->shutdown.load(std::memory_order_acquire)) return nullptr;
    if (m->locked_g != nullptr) {
      stop_locked_m(m);
      if (sched->shutdown.load(std::memory_order_acquire)) return nullptr;
      G* g = m->next_locked;
      m->next_locked = nullptr;
      *inherit = false;
      if (g) return g;
      continue;
    }
    P* p = m->p;
    if (p == nullptr) {
      idle_park(m);
      continue;
    }
    check_own_timers(p);  // Go's step 2: they may ready goroutines into this P
    if (G* g = local_or_global(m, p, inherit)) return g;

    // Operations this M's goroutines queued in its ring (io_uring) go in now, and what
    // completed comes back: before anything else, since no other thread can reap this ring.
    if (reap_own_ring(m)) {
      if (G* g = local_or_global(m, p, inherit)) return g;
    }
    // A non-blocking poll, unless an M is blocked in the poller (it gets the events anyway).
    // The blocking poll is idle_park's: one idle M waits there until the earliest timer.
    if (netpoll::active() && netpoll::readiness_waiters() > 0 && netpoll::last_poll_ns() != 0) {
      uint32_t n = 0;
      G* list = netpoll::poll(0, &n);
      count(p->polls);
      if (list != nullptr) {
        count(p->polled, n);
        trace(p, TraceKind::kPoll, 0, n, "netpoll");
        // A few goroutines are run here sooner than a woken thread would steal one (the rule
        // of idle_park's kRunAloneBatch); sysmon starts a thread for any that wait a round.
        inject_glist(list, /*wake=*/n > kRunAloneBatch);
        if (G* g = local_or_global(m, p, inherit)) return g;
      }
    }
    const int procs = sched->procs;
    if (m->spinning || 2 * sched->nmspinning.load() < procs - sched->npidle.load()) {
      if (!m->spinning) {
        m->spinning = true;
        sched->nmspinning.fetch_add(1, std::memory_order_seq_cst);
      }
      count(p->steal_rounds);
      if (G* g = steal_work(m, p)) return g;
      // Expired timers of every other P (idle ones included) and of the global heap (Go runs
      // them on the last steal pass); what they ready lands in this P.
      // (Only when something ran: in migrate mode an extra look may refuse and requeue work.)
      if (run_all_timers(now_ns())) {
        if (G* g = local_or_global(m, p, inherit)) return g;
      }
    }

    // Nothing anywhere: give the P back.
    {
      std::lock_guard<RankedMutex> lock(sched->lock);
      if (sched->shutdown.load(std::memory_order_relaxed)) return nullptr;
      // (Not in migrate mode: what is there was left for other Ms; and wakep needs this lock.)
      if (!sched->runq.empty() && !(sched->migrate_on_yield && procs > 1)) {
        if (G* g = global_batch(p)) return g;
      }
      count(p->idles);
      trace(p, TraceKind::kIdle, 0);
      releasep(m);
      pidle_put(p);
    }
    if (m->spinning) {
      m->spinning = false;
      sched->nmspinning.fetch_sub(1, std::memory_order_seq_cst);  // step 1 of the guard
      if (any_work_visible()) {                                     // step 2
        P* np;
        {
          std::lock_guard<RankedMutex> lock(sched->lock);
          np = pidle_get();
        }
        if (np) {                                                   // step 3
          acquirep(m, np);
          m->spinning = true;
          sched->nmspinning.fetch_add(1, std::memory_order_seq_cst);
          continue;
        }
      }
    }
    idle_park(m);
  }
}

// Gives g a stack the first time it runs: the one its descriptor kept from a previous life
// (see g_free), or one from the P's cache.
void start_g(G* g, P* p) {
  // A kept stack is always of the default size; a goroutine that asked for another size gets
  // exactly the class it asked for (its overflow report names that reservation).
  if (g->stack.valid() && g->stack_request != 0) {
    stack_release(g->stack, p ? &p->stacks : nullptr);
    g->stack = Stack{};
  }
  if (!g->stack.valid()) {
    Stack s = stack_allocate(g->stack_request, p ? &p->stacks : nullptr);
    if (!s.valid()) {
      fatalf("cannot allocate a stack for goroutine %llu (reserve %zu KiB): address space or "
             "vm.max_map_count exhausted",
             static_cast<unsigned long long>(g->id),
             (g->stack_request ? g->stack_request : stack_default_reserve()) / 1024);
    }
    g->stack = s;
  }
  const Stack& s = g->stack;
  // The top word of the stack names its goroutine, for the overflow report.
  char* top = s.hi - 16;
  *reinterpret_cast<G**>(top) = g;
  g->ctx.init(s.lo, static_cast<size_t>(top - s.lo), g_entry, g);
  g->started = true;
}

// Marks the start of g's run on p (new time slice unless inherited).
// Always inlined, like switch_out below: both sit on every switch, and the trace hooks tipped
// the compiler's size heuristics into calls (callgrind, channel ping-pong at 1 proc, 100 k round
// trips: 96.0 M instructions before the hooks, 103.6 M with them, 94.7 M with both inlined).
[[gnu::always_inline]] inline void begin_run(M* m, P* p, G* g, bool inherit) {
  if (!inherit) {
    p->schedtick.store(p->schedtick.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    clear_preempt(p);
  }
  count(p->runs);
  if (tracing()) trace_run_start(p, g);
  p->running_g.store(g, std::memory_order_release);
  g->avoid_m = nullptr;
  if (g->last_p != p->id) {
    if (g->started) count(p->migrations);
    g->last_p = p->id;
  }
  g->set_status(GStatus::kRunnable, GStatus::kRunning);
  m->curg = g;
  if (!g->started) start_g(g, p);
}

// Runs g from g0; returns when a goroutine switches back to g0 on this M.
void execute(M* m, G* g, bool inherit) {
  if (g->locked_m != nullptr && g->locked_m != m) {
    start_locked_m(m, g);
    return;
  }
  begin_run(m, m->p, g, inherit);
  eh_leave(m->g0_eh, m->eh_globals);  // gort::run may have been called inside a catch block
  m->g0.switch_to(g->ctx);
  eh_resume(m->g0_eh, m->eh_globals);
}

// Leaves the running goroutine `cur`: switches to the next runnable one of this P, or to g0.
// `after(cur, arg)` runs on the next context once cur is saved. Returns when cur resumes.
//
// `holds_lock`: `after` releases a wait-queue lock that cur still holds, and a waker on another
// P may be spinning on it. Then only cheap, fault-free choices are made before the switch: the
// local queue, and only a goroutine that already has its stack. Anything else (the global
// queue, a first stack, which may page-fault for microseconds) is left to g0, after the unlock.
// Measured on skynet: holding the lock through those cost ~30% of the run in spinning wakers.
[[gnu::always_inline]] inline void switch_out(M* m, G* cur, void (*after)(G*, void*), void* arg,
                                              bool exiting, bool holds_lock = false) {
  P* p = m->p;
  G* next = nullptr;
  bool inherit = false;
  if (p && m->locked_g == nullptr && !sched->shutdown.load(std::memory_order_relaxed)) {
    if (holds_lock && !(sched->migrate_on_yield && sched->procs > 1)) {
      next = p->runq.pop(&inherit, p->preempt.load(std::memory_order_relaxed));
      if (next && !next->started) {
        m->deferred = next;  // g0 starts it after the unlock
        m->deferred_inherit = inherit;
        next = nullptr;
      }
    } else {
      check_own_timers(p);
      next = local_or_global(m, p, &inherit);
    }
    if (next && next->locked_m != nullptr) {
      // Belongs to another thread: let g0 do the handover after we are saved.
      m->pinned_elsewhere = next;
      next = nullptr;
    }
  }
  if (stack_checks_needed && !stack_canary_ok(cur->stack)) report_canary_overflow(cur);
  if (tracing()) trace_run_end(p, cur, exiting);
  m->after_switch = AfterSwitch{after, cur, arg};
  if (!exiting) eh_leave(cur->eh, m->eh_globals);
  if (next) {
    begin_run(m, p, next, inherit);
    cur->ctx.switch_to(next->ctx, exiting);
  } else {
    m->curg = nullptr;
    cur->ctx.switch_to(m->g0, exiting);
  }
  M* now = current_m();  // maybe another thread than before the switch
  now->finish_switch();
  eh_resume(cur->eh, now->eh_globals);
}

void after_yield(G* g, void* p) {
  runq_put(static_cast<P*>(p), g, false);  // same M, same P as before the switch
}

void after_yield_migrate(G* g, void*) {
  sched->runq.push(g);
  wakep_global();
}

void after_exit(G* g, void*) {
  M* m = current_m();
  // Keep a default-size stack with the descriptor (g_free decides where it ends up); under ASan
  // always release it, with the dead frames' poisoned shadow cleared.
  bool keep = g->stack_request == 0 && g->stack.reserved == stack_default_reserve();
#if defined(GORT_ASAN)
  keep = false;
#endif
  if (!keep) {
    stack_forget_frames(g->stack, g->ctx.handle);  // saved by the switch that ended it
    stack_release(g->stack, m->p ? &m->p->stacks : nullptr);
    g->stack = Stack{};
  }
  g->ctx.destroy();
  g->set_status(GStatus::kDead, GStatus::kIdle);
  g_free(g);
  // Counted only now, off its stack and after its last trace event: a goroutine that saw
  // num_goroutines() fall saw finished exits (a test then stops the trace and finds them all).
  if (P* p = owned_p(m)) count(p->exited);
  else sched->exited_external.fetch_add(1, std::memory_order_relaxed);
}

}  // namespace

// Public scheduler operations -------------------------------------------------------------------

void wakep() {
  // No fence here: work pushed to a P's own ring is run by that P (which is running) even if
  // no M is woken, so only parallelism is at stake, not liveness; a push to runnext is an
  // exchange (a full barrier on x86 anyway). Pushes to the global queue go through
  // wakep_global(), which needs the StoreLoad ordering (see the guard at the top).
  if (sched->npidle.load(std::memory_order_seq_cst) == 0) return;
  if (sched->nmspinning.load(std::memory_order_seq_cst) != 0) return;
  int expected = 0;
  if (!sched->nmspinning.compare_exchange_strong(expected, 1, std::memory_order_seq_cst)) return;
  P* p;
  {
    std::lock_guard<RankedMutex> lock(sched->lock);
    p = pidle_get();
  }
  if (!p) {
    sched->nmspinning.fetch_sub(1, std::memory_order_seq_cst);
    return;
  }
  startm(p, true);
}

void note_foreign_thread() {
  ForeignUse use;
  if (Sched* s = use.get(); s != nullptr && !s->foreign_threads.load(std::memory_order_relaxed)) {
    s->foreign_threads.store(true, std::memory_order_seq_cst);
  }
}

void wakep_global() {
  // Step 2 of the submitter's guard: a seq_cst read-modify-write orders the global push before
  // the reads in wakep (a fence would do, but GCC's TSan does not model fences).
  if (sched->npidle.fetch_add(0, std::memory_order_seq_cst) == 0) return;
  wakep();
}

namespace {
// Queues a runnable g where the caller may: its own P (runnext or tail) or the global queue.
//
// `lazy`: a goroutine readied into an empty runnext with nothing else queued wakes nobody while
// sysmon watches the runnext slots (Tokio's rule for its LIFO slot). The readier nearly always
// blocks next (a channel or mutex hand-off), and its P then runs g at once; waking an M for it
// only had that M spin over this P's queue and park again. Channel ping-pong at 2 procs:
// 147 -> 92 ns per round trip (the 1-proc figure), the second thread's wake-ups and its reads of
// this P's lines were the whole difference. If the readier keeps running instead, sysmon sees g
// still there a round later and starts a thief (wake_for_waiting_work): g waits about two sysmon
// rounds (2 * kRunnextWatchNs) rather than Go's ~55 us spinner grace. A displaced runnext shows a
// readier that does not block; its P then wakes eagerly for a while (P::eager_wakes). The
// measurements are in ARCHITECTURE.md ("Lazy wake for runnext").
constexpr uint32_t kEagerWakesAfterDisplacement = 64;
void make_runnable(G* g, bool next, bool lazy) {
  M* m = current_m();
  if (P* p = owned_p(m)) {
    if (next) {
      G* displaced = p->runq.push_next(g);
      if (displaced == nullptr) {
        if (p->eager_wakes > 0) {
          --p->eager_wakes;
        } else if (lazy && p->runq.ring_empty() &&
                   sched->runnext_watched.load(std::memory_order_relaxed)) {
          return;
        }
        wakep();
        return;
      }
      // Readying on without blocking (a consumer taking from one waiting producer after
      // another): here another thread should help at once, as in Go.
      p->eager_wakes = kEagerWakesAfterDisplacement;
      g = displaced;
    }
    if (!p->runq.push(g)) [[unlikely]] runq_put_overflow(p, g);
    wakep();
  } else {
    ForeignUse use;
    if (use.get() == nullptr) return;  // the runtime ended: g was abandoned with it
    if (m == nullptr && !on_sysmon_thread()) note_foreign_thread();
    sched->runq.push(g);
    wakep_global();
  }
}
}  // namespace

void ready(G* g, bool next) {
  g->set_status(GStatus::kWaiting, GStatus::kRunnable);
  if (tracing()) trace_unpark(g);
  make_runnable(g, next, /*lazy=*/true);
}

void ready_new(G* g) {
  // A new goroutine wakes a thread as usual: its spawner usually goes on running.
  g->set_status(GStatus::kIdle, GStatus::kRunnable);
  make_runnable(g, true, /*lazy=*/false);
}

void park(void (*unlock)(G*, void*), void* arg) {
  M* m = current_m();
  G* cur = m->curg;
  cur->wait_since = sched->coarse_now.load(std::memory_order_relaxed);
  switch_out(m, cur, unlock, arg, false, /*holds_lock=*/true);
}

void park_nolock(void (*after)(G*, void*), void* arg) {
  M* m = current_m();
  G* cur = m->curg;
  cur->wait_since = sched->coarse_now.load(std::memory_order_relaxed);
  switch_out(m, cur, after, arg, false, /*holds_lock=*/false);
}

P* current_owned_p() { return owned_p(current_m()); }

namespace {
thread_local bool tls_sysmon = false;  // sysmon never migrates: a plain thread_local is safe
}
void mark_sysmon_thread() { tls_sysmon = true; }
__attribute__((noipa)) bool on_sysmon_thread() { return tls_sysmon; }

void wake_m(M* m) {
  m->parker.unpark();
  if (m->in_poll.load(std::memory_order_seq_cst)) netpoll::wake_poller();
}

void inject_glist(G* list, bool wake) {
  P* p = wake ? nullptr : owned_p(current_m());
  while (list != nullptr) {
    G* g = list;
    list = g->sched_next;
    g->sched_next = nullptr;
    if (p != nullptr) {
      g->set_status(GStatus::kWaiting, GStatus::kRunnable);
      runq_put(p, g, /*next=*/false);
    } else {
      ready(g, /*next=*/false);
    }
    // Uncounted only now: while a poller holds the list (even without a P, every P idle), the
    // goroutines are neither queued nor counted as fd waiters, and deadlock detection would
    // report them.
    netpoll::waiter_removed();
  }
}

// Goroutines an M reaped from its own ring (io_uring) while holding its P: queued on that P,
// nobody woken. The M usually runs them sooner than a woken thread would steal some, and a
// thief's next operations would go to the thief's ring, after which both threads keep waking
// each other for completions (HTTP at 1,000 connections: 2-9% less CPU per request and a p99
// of 11-19 ms instead of 15-61 ms with the wake-ups). sysmon's wake_for_waiting_work starts a
// thread when such work has waited a whole round while a P idles (behind a goroutine that
// computes for long). Goroutines these ready wake others as usual.
// Order: first in, first run. While older work waits in the global queue, the whole list goes
// behind it there; else into the local queue, and what does not fit to the global queue's
// tail (runq_put's overflow would move the *older* half of the local queue out instead).
// Local placement ahead of a non-empty global queue starved it: the M reaps every 61st tick,
// so its local queue was refilled as fast as it drained and the global queue moved one
// goroutine per 61 ticks (ring reads, echo at 1,000 connections, one proc: p99 30-66 ms and
// up to 250 ms; with this order 12-18 ms, max 21 ms).
void inject_own(G* list) {
  P* p = owned_p(current_m());
  const bool to_global = !sched->runq.empty();
  while (list != nullptr) {
    G* g = list;
    list = g->sched_next;
    g->sched_next = nullptr;
    g->set_status(GStatus::kWaiting, GStatus::kRunnable);
    if (to_global || !p->runq.push(g)) {
      // g and the rest of the list, in order, under one lock.
      uint32_t n = 1;
      G* last = g;
      g->sched_next = list;
      for (G* x = list; x != nullptr; x = x->sched_next) {
        x->set_status(GStatus::kWaiting, GStatus::kRunnable);
        last = x;
        ++n;
      }
      sched->runq.push_batch(g, last, n);
      for (uint32_t i = 0; i < n; ++i) netpoll::waiter_removed();
      return;
    }
    netpoll::waiter_removed();  // counted out once queued (inject_glist says why)
  }
}

bool reap_own_ring(M* m) {
  if (m->io_ring == nullptr) return false;
  uint32_t n = 0;
  G* list = netpoll::poll_own(m, &n);
  if (list == nullptr) return false;
  if (P* p = m->p) {
    count(p->ring_reaps);
    count(p->ring_reaped, n);
    trace(p, TraceKind::kPoll, 0, n, "own io_uring");
  }
  inject_own(list);
  return true;
}

void timer_armed(int64_t when) {
  if (when >= sched->timer_sleep_until.load(std::memory_order_seq_cst)) return;
  if (M* tm = sched->timer_m.load(std::memory_order_seq_cst)) {
    wake_m(tm);  // it re-reads the earliest deadline (a stale wake-up is harmless)
    return;
  }
  // No timer M. An M with a P looks at its own heap at its next switch and becomes the timer
  // M when it goes idle; anyone else makes sure some M spins (it runs every heap's expired
  // timers, then sleeps as the timer M).
  if (current_owned_p() == nullptr) wakep_global();
}

void yield_current() {
  M* m = current_m();
  if (m == nullptr) {  // a plain thread: yield the thread
    sched_yield();
    return;
  }
  G* cur = m->curg;
  if (cur == nullptr || m->in_blocking) return;
  P* p = m->p;
  check_own_timers(p);
  if (sched->migrate_on_yield && sched->procs > 1 && m->locked_g == nullptr) {
    cur->avoid_m = m;
    cur->set_status(GStatus::kRunning, GStatus::kRunnable);
    switch_out(m, cur, after_yield_migrate, nullptr, false);
    return;
  }
  if (p->runq.empty() && sched->runq.empty()) {
    // Only this thread can reap its own ring (io_uring): a goroutine that yields in a loop with
    // nothing else queued would otherwise keep out the completion it is waiting for. With work
    // queued the switch below reaches the ring anyway (local_or_global, every 61st tick), and
    // the ring's submissions stay batched instead of costing a syscall per yield.
    reap_own_ring(m);
    if (p->runq.empty() && sched->runq.empty()) {
      clear_preempt(p);  // nothing else wants the processor
      count(p->runs);    // resumed in place: a scheduling point all the same (hog.cpp)
      return;
    }
  }
  cur->set_status(GStatus::kRunning, GStatus::kRunnable);
  switch_out(m, cur, after_yield, p, false);
}

void exit_current(G* g) {
  M* m = current_m();
  if (g->locked_m) {
    g->locked_m = nullptr;
    g->pin_depth = 0;
    m->locked_g = nullptr;
  }
  g->set_status(GStatus::kRunning, GStatus::kDead);
  switch_out(m, g, after_exit, nullptr, true);
  fatal("a finished goroutine was resumed");
}

void handoff_p(P* p) {
  if (!p->runq.empty() || !sched->runq.empty()) {
    startm(p, false);
    return;
  }
  if (sched->nmspinning.load() + sched->npidle.load() == 0) {
    int expected = 0;
    if (sched->nmspinning.compare_exchange_strong(expected, 1)) {
      startm(p, true);
      return;
    }
  }
  {
    std::lock_guard<RankedMutex> lock(sched->lock);
    pidle_put(p);
  }
  nudge_fd_watcher();  // it may have been the last P running goroutines
}

void schedule_loop(M* m) {
  for (;;) {
    m->finish_switch();
    bool inherit = false;
    if (G* pinned = m->pinned_elsewhere) {
      m->pinned_elsewhere = nullptr;  // left here by switch_out
      start_locked_m(m, pinned);
      continue;
    }
    if (G* deferred = m->deferred) {
      m->deferred = nullptr;  // left here by a park that held a lock
      execute(m, deferred, m->deferred_inherit);
      continue;
    }
    G* g = find_runnable(m, &inherit);
    if (g == nullptr) return;  // shutdown
    if (m->spinning) reset_spinning(m);
    execute(m, g, inherit);
  }
}

// Whether a goroutine waiting for a lock may spin instead of parking (Go's sync_runtime_canSpin):
// only a few rounds, only with more than one processor, only while another P is running (the
// holder may be on it and about to release), and only if our own P has nothing else queued.
bool can_spin(int iteration) {
  if (iteration >= 4 || sched == nullptr || sched->procs <= 1) return false;
  if (sched->procs <= sched->npidle.load(std::memory_order_relaxed) +
                         sched->nmspinning.load(std::memory_order_relaxed) + 1) {
    return false;
  }
  P* p = owned_p(current_m());
  return p != nullptr && p->runq.empty();
}

// Pinning (ThreadPin) ---------------------------------------------------------------------------

void pin_current() {
  M* m = current_m();
  G* g = m ? m->curg : nullptr;
  if (g == nullptr) throw std::logic_error("gort::ThreadPin used outside a goroutine");
  if (g->pin_depth++ == 0) {
    g->locked_m = m;
    m->locked_g = g;
  }
}

void unpin_current() noexcept {
  M* m = current_m();
  G* g = m ? m->curg : nullptr;
  if (g == nullptr || g->pin_depth == 0) return;
  if (--g->pin_depth == 0) {
    g->locked_m = nullptr;
    m->locked_g = nullptr;
  }
}

}  // namespace gort::rt

namespace gort {

void yield() { rt::yield_current(); }

namespace detail {

void preempt_slow() {
  rt::M* m = rt::current_m();
  rt::P* p = rt::owned_p(m);
  if (p && p->preempt.load(std::memory_order_relaxed)) rt::yield_current();
}

void pin_enter() { rt::pin_current(); }
void pin_exit() noexcept { rt::unpin_current(); }

}  // namespace detail
}  // namespace gort
