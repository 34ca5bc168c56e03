// gort::run: bringing a runtime up around the main goroutine and tearing it down after.
//
// Shutdown: when the main goroutine returns it sets Sched::shutdown and unparks every M. Each M
// leaves its scheduler loop the next time it enters it (a running goroutine keeps its thread
// until it blocks, yields or ends; a thread inside gort::blocking() until that call returns).
// Once every thread has been joined, goroutines that never finished are abandoned: their stacks
// go back to the pool without unwinding (destructors of their frames do not run), callables of
// goroutines that never started are destroyed. Descriptors and stacks are kept for the next run.
// Timers still pending are dropped (they never fire; the runtime holds no reference to them
// afterwards, so their owners may free them; timer_stop then returns false).
#include <algorithm>
#include <cstdio>
#include <functional>
#include <numeric>
#include <source_location>
#include <stdexcept>

#include <sys/prctl.h>
#include <unistd.h>

#include "gort/runtime.hpp"
#include "netpoll/netpoll.hpp"
#include "runtime/config.hpp"
#include "runtime/dump.hpp"
#include "runtime/fatal.hpp"
#include "runtime/hog.hpp"
#include "runtime/trace.hpp"
#include "runtime/sched.hpp"
#include "runtime/sema.hpp"
#include "runtime/stack.hpp"

namespace gort::rt {

void install_overflow_describer();          // goroutine.cpp
void g_free_list_return(P* p);               // goroutine.cpp

namespace {

std::atomic<bool> g_running{false};

void begin_shutdown() {
  std::lock_guard<RankedMutex> lock(sched->lock);
  sched->shutdown.store(true, std::memory_order_release);
  for (M* m : sched->allm) wake_m(m);
  sysmon_wake();
}

void abandon_leftovers() {
  // Waiting, or readied (its other select cases still queued) but never resumed: first out of
  // every queue that outlives the run, then give back what they held (WaitLink).
  for (const WaitLink::Kind kind : {WaitLink::kQueued, WaitLink::kHeld}) {
    for_each_g([kind](G* g) {
      if (g->status.load(std::memory_order_acquire) == GStatus::kIdle) return;
      for (WaitLink* link = g->wait_link; link != nullptr; link = link->outer) {
        if (link->kind == kind) link->forget(link);
      }
    });
  }
  for_each_g([](G* g) {
    GStatus s = g->status.load(std::memory_order_acquire);
    if (s == GStatus::kIdle) return;
    g->wait_link = nullptr;
    if (g->started) {
      stack_forget_frames(g->stack, g->ctx.handle);  // the frames it was parked in
      stack_release(g->stack, nullptr);
      g->stack = Stack{};
      g->ctx.destroy();
    } else if (g->run != nullptr) {
      g->run(g->closure, false);  // never started: destroy the callable
    }
    if (g->closure_on_heap) {
      ::operator delete(g->closure, std::align_val_t(64));
      g->closure_on_heap = false;
    }
    g->locals = nullptr;  // leaked on purpose: their owner never resumes to destroy them
    g->status.store(GStatus::kIdle, std::memory_order_relaxed);
    g_free(g);
  });
}

}  // namespace

}  // namespace gort::rt

namespace gort::detail {

using namespace gort::rt;

int run_main(std::function<int()> main, const Config& requested) {
  if (g_running.exchange(true)) {
    throw std::logic_error("gort::run: a runtime is already running in this process");
  }
  Config cfg;
  try {
    cfg = resolve_config(requested);
    netpoll::init(cfg);
  } catch (...) {
    g_running.store(false);
    throw;
  }
  stack_system_init(cfg.stack_size);
  install_overflow_describer();
  if (cfg.hog_report.count() > 0) hog_install();
  stack_checks_needed = stack_guard_mode() != GuardMode::kGuardInstall;
  stack_thread_init();

  auto* s = new Sched();
  s->config = cfg;
  // Before the main goroutine is spawned: its spawn may start another M, which may run it (and
  // what it parks) before this thread gets any further.
  s->coarse_now.store(now_ns(), std::memory_order_relaxed);
  s->procs = cfg.procs;
  s->migrate_on_yield = cfg.migrate_on_yield;
  for (int i = 1; i <= cfg.procs; ++i) {
    if (std::gcd(i, cfg.procs) == 1) s->steal_strides.push_back(static_cast<uint32_t>(i));
  }
  for (int i = 0; i < cfg.procs; ++i) {
    P* p = new P();
    p->id = i;
    s->allp.push_back(p);
  }
  M* m0 = new M();
  m0->id = 0;
  m0->is_main_thread = true;
  m0->thread = pthread_self();
  m0->tid = static_cast<int32_t>(gettid());
  m0->rand_state = 0x9E3779B97F4A7C15ULL;
  s->allm.push_back(m0);
  sched = s;
  foreign_publish(s);  // plain threads may use it from now on (ForeignUse)

  set_current_m(m0);
  // M0 runs goroutines too: precise futex timeouts while it does (see m_main); the caller's
  // slack comes back when run returns.
  const int old_slack = prctl(PR_GET_TIMERSLACK, 0, 0, 0, 0);
  prctl(PR_SET_TIMERSLACK, 1, 0, 0, 0);
  m0->g0.init_for_thread();
  m0->eh_globals = thread_eh_state();
  {
    std::lock_guard<RankedMutex> lock(s->lock);
    for (int i = cfg.procs - 1; i >= 1; --i) {
      P* p = s->allp[i];
      p->status.store(PStatus::kIdle);
      p->idle_next = s->pidle;
      s->pidle = p;
      s->npidle.fetch_add(1);
    }
  }
  P* p0 = s->allp[0];
  p0->m = m0;
  p0->m_tid.store(m0->tid, std::memory_order_relaxed);
  p0->status.store(PStatus::kRunning);
  m0->p = p0;

  if (!cfg.trace_file.empty()) {
    std::string error;
    if (!trace_begin(&error)) std::fprintf(stderr, "gort: no trace: %s\n", error.c_str());
  }
  int result = 0;
  goid_restart();  // the main goroutine is 1 in every run, not only a process's first
  // sysmon first: the spawn below may start another M that runs the main goroutine at once.
  sysmon_start();
  detail::spawn(
      [&main, &result] {
        result = main();
        begin_shutdown();
      },
      SpawnOptions{}, std::source_location::current());
  if (cfg.sigquit_dump) sigquit_install();

  schedule_loop(m0);
  netpoll::thread_exit(m0);  // M0's ring, on its own thread

  // Every M but this one: wait for them to leave their loops.
  std::vector<std::thread> threads;
  for (;;) {
    {
      std::lock_guard<RankedMutex> lock(s->lock);
      threads.swap(s->threads);
    }
    if (threads.empty()) break;
    for (auto& t : threads) t.join();
    threads.clear();
  }
  sigquit_restore();
  sysmon_stop();
  set_current_m(nullptr);
  trace_shutdown(cfg.trace_file);  // every M has stopped: nobody writes events any more
  foreign_unpublish();  // and no plain thread is inside the scheduler any more

  for (G* g = s->runq.drain(); g != nullptr;) {
    G* next = g->sched_next;
    g->sched_next = nullptr;
    g = next;
  }
  sema_forget_goroutine_waiters();
  timers_drop_all();  // pending timers never fire; their owners' memory is not touched again
  // Goroutines parked on fds are abandoned like the others; kernel-side operations still
  // pointing into their stacks are cancelled and drained first.
  netpoll::forget_waiters();
  if (old_slack > 0) prctl(PR_SET_TIMERSLACK, old_slack, 0, 0, 0);
  abandon_leftovers();
  gort::detail::preempt_pending.store(0, std::memory_order_relaxed);
  stack_checks_needed = false;
  for (P* p : s->allp) {
    stack_cache_flush(&p->stacks);
    g_free_list_return(p);
  }
  for (M* m : s->allm) {
    if (!m->is_main_thread) m->g0.destroy();
    delete m;
  }
  for (P* p : s->allp) delete p;
  sched = nullptr;
  delete s;
  g_running.store(false);
  return result;
}

}  // namespace gort::detail
