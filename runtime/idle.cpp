// Idle threads: where an M that found nothing to run waits, and what it watches meanwhile.
//
// An M gives its P back when find_runnable finds nothing (sched.cpp) and parks here
// (idle_park, Go's stopm). While it sleeps it may hold one of two roles, each held by at most
// one M: the timer M sleeps only until the earliest timer of any heap, then takes an idle P to
// run the timers; the fd watcher blocks in the netpoller while goroutines wait on fds and no P
// runs goroutines. Every M that goes idle also checks for a deadlock (Go's checkdead). An M
// leaves when startm hands it a P, when its timers are due or its poll readied goroutines (it
// takes an idle P itself), or on shutdown.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>

#include "netpoll/netpoll.hpp"
#include "runtime/dump.hpp"
#include "runtime/fatal.hpp"
#include "runtime/goroutine.hpp"
#include "runtime/machine.hpp"
#include "runtime/processor.hpp"
#include "runtime/sched.hpp"
#include "runtime/timer.hpp"
#include "runtime/trace.hpp"

namespace gort::rt {

void release_timer_role() {
  sched->timer_sleep_until.store(kNoTimer, std::memory_order_seq_cst);
  sched->timer_m.store(nullptr, std::memory_order_seq_cst);
}

// Whether an idle M should block in the poller, watching the fds (the fd watcher role): only
// while goroutines wait on fds and no P runs goroutines (each is idle or inside
// gort::blocking), or while sysmon asks for it. An M that runs goroutines polls without blocking
// when it runs out of them (find_runnable), so a second M blocked in the poller meanwhile was
// woken by the kernel for events the first would have collected microseconds later: a thread
// wake-up per few messages at light load, the two Ms taking turns (ARCHITECTURE §10, "An idle
// M watches the fds only while no P runs goroutines"). sysmon covers the case where the running
// Ms do not poll (one computes while a P idles): it polls after kUnwatchedFdsNs and then asks
// idle Ms to watch (fd_watch_requested).
//
// Against a lost watch: every M that gives up a P puts it on the idle list (npidle++, a seq_cst
// read-modify-write) before it reads npidle here, so the last of them sees every P idle; a P
// taken meanwhile has a running M, which will go idle in turn. A goroutine starts waiting on an
// fd only while it runs, so its M too reads waiters() after it went up. Ps that stop running
// goroutines another way (gort::blocking, sysmon's hand-off) call nudge_fd_watcher.
bool fd_watch_wanted() {
  if (!netpoll::active() || netpoll::waiters() == 0) return false;
  if (sched->npidle.load(std::memory_order_seq_cst) +
          sched->nmblocking.load(std::memory_order_seq_cst) >=
      sched->procs) {
    return true;
  }
  return sched->fd_watch_requested.load(std::memory_order_relaxed);
}

void release_fd_watch() { sched->fd_watcher.store(nullptr, std::memory_order_seq_cst); }

void nudge_fd_watcher() {
  if (sched->fd_watcher.load(std::memory_order_seq_cst) != nullptr || !fd_watch_wanted()) return;
  M* m;
  P* p = nullptr;
  {
    std::lock_guard<RankedMutex> lock(sched->lock);
    m = sched->midle;
    if (m == nullptr) p = pidle_get();
  }
  // An idle M re-evaluates fd_watch_wanted on every wake-up. Without one, an M started on an
  // idle P polls, finds nothing and goes idle as the watcher (Go's handoffp starts one too).
  if (m != nullptr) {
    wake_m(m);
  } else if (p != nullptr) {
    startm(p, false);
  }
}

namespace {

// Threads in this process, from /proc/self/status ("Threads:"); -1 if unreadable.
int64_t process_threads() {
  FILE* f = std::fopen("/proc/self/status", "r");
  if (f == nullptr) return -1;
  char line[256];
  int64_t n = -1;
  while (std::fgets(line, sizeof line, f)) {
    if (std::strncmp(line, "Threads:", 8) == 0) {
      n = std::strtoll(line + 8, nullptr, 10);
      break;
    }
  }
  std::fclose(f);
  return n;
}

// Deadlock detection (Go's checkdead), run by every M that goes idle, under Sched::lock.
// No goroutine can ever run again when: every P is idle (so no goroutine is running and no M
// holds work), no thread is inside gort::blocking (it could come back with its goroutine), no
// timer is pending (it could ready one), every queue is empty, and no thread outside the runtime
// has touched it and no thread outside the runtime exists at all (such a thread may still ready
// a goroutine later; Go has no such threads, so we simply do not judge then). Goroutines parked on channels, semaphores (WaitGroup, Mutex, ...)
// are then asleep forever: report them all and abort, as Go does.
void check_deadlock() {
  if (sched->npidle.load(std::memory_order_seq_cst) != sched->procs) return;
  if (sched->nmblocking.load(std::memory_order_seq_cst) != 0) return;
  if (sched->foreign_threads.load(std::memory_order_seq_cst)) return;
  if (earliest_timer() != kNoTimer) return;
  // A callback popped from its heap may be readying a goroutine or re-arming itself right now
  // (a Ticker's tick seen between the two: a false "deadlock" in a test, 1 run in ~30 under
  // load). Its count is read after the heaps and they are read again after it (timer.hpp).
  if (timers_in_flight() != 0) return;
  if (earliest_timer() != kNoTimer) return;
  if (netpoll::waiters() > 0) return;  // an fd may become ready
  if (!sched->runq.empty()) return;
  for (P* p : sched->allp) {
    if (!p->runq.empty()) return;
  }
  // Threads the runtime does not own (besides its Ms and sysmon) might ready a goroutine at any
  // time, even ones that never touched the runtime yet: no verdict while any exist.
  if (process_threads() != static_cast<int64_t>(sched->allm.size()) + 1) return;
  int64_t waiting = 0;
  for_each_g([&](G* g) {
    if (g->status.load(std::memory_order_acquire) == GStatus::kWaiting) ++waiting;
  });
  if (waiting == 0) return;  // nothing alive (shutdown in progress)
  // The dump has each goroutine's frames; every M is idle, so it is also a consistent one.
  const std::string text = "all goroutines are asleep - deadlock!\n\n" + dump_goroutines();
  write_stderr(text.data(), text.size());
  std::abort();
}

}  // namespace

// Puts an M without a role to sleep until unparked (consuming the permit). An M with
// a ring (io_uring) sleeps in it instead, since only it can complete its goroutines' operations:
// then it may also return the goroutines that completed (permit left as it was).
G* sleep_m(M* m, uint32_t* n) {
  *n = 0;
  if (m->io_ring == nullptr) {
    m->parker.park();
    return nullptr;
  }
  for (;;) {
    if (m->parker.try_take()) return nullptr;
    if (G* list = netpoll::park_m(m, -1, false, n)) return list;
  }
}

// Parks an M that has no P (stopm) and, if timers are pending and no other M does it, sleeps
// only until the earliest one as the timer M; if fd_watch_wanted() and no other M does it, blocks
// in the netpoller as the fd watcher (until the earliest timer when it holds both roles: Go's
// blocking netpoll with a timeout). Returns with m->p set
// (handed over by startm, or an idle P taken to run due timers: then m spins), or without on
// shutdown.
//
// Against lost wake-ups with timer_armed (store-buffering, all seq_cst): each round the timer M
// (having claimed timer_m) stores timer_sleep_until = kNoTimer, reads every heap's min_when,
// then publishes the earliest as timer_sleep_until; an armer publishes min_when, then reads
// timer_sleep_until and timer_m. Either the armer's read comes after our kNoTimer store (it
// unparks us unless its deadline is not earlier than the one we publish) or our read of the
// heaps sees its timer.
void idle_park(M* m) {
  {
    std::lock_guard<RankedMutex> lock(sched->lock);
    if (sched->shutdown.load(std::memory_order_relaxed)) return;
    m->idle_next = sched->midle;
    sched->midle = m;
    check_deadlock();
  }
  sched->thread_parks.fetch_add(1, std::memory_order_relaxed);
  bool timer_role = false;
  bool fd_watch = false;
  for (;;) {
    // A watch that is no longer wanted (a P runs goroutines again, or no fd waiter is left)
    // ends at the first wake-up: that P's M polls, and claims the watch when it goes idle last.
    if (fd_watch && !fd_watch_wanted()) {
      release_fd_watch();
      fd_watch = false;
    }
    if (!timer_role && earliest_timer() != kNoTimer) {
      M* expected = nullptr;
      timer_role = sched->timer_m.compare_exchange_strong(expected, m, std::memory_order_seq_cst);
    }
    if (!fd_watch && fd_watch_wanted()) {
      M* expected = nullptr;
      fd_watch = sched->fd_watcher.compare_exchange_strong(expected, m, std::memory_order_seq_cst);
    }
    int64_t timeout = -1;
    if (timer_role) {
      // Each round: "wake me for any timer" first, then read the heaps, then publish the
      // deadline, so an armer that read an older deadline is ordered before our read.
      sched->timer_sleep_until.store(kNoTimer, std::memory_order_seq_cst);
      const int64_t next = earliest_timer();  // after the claim: see timer_armed
      sched->timer_sleep_until.store(next, std::memory_order_seq_cst);
      if (next == kNoTimer) {
        // Stopped meanwhile. A timer armed after our read finds the role free, or we see it.
        release_timer_role();
        timer_role = false;
        if (earliest_timer() != kNoTimer) continue;
      } else {
        timeout = std::max<int64_t>(0, next - now_ns());
      }
    }
    G* polled = nullptr;
    uint32_t npolled = 0;
    if (fd_watch) {
      // Block in the poller until the earliest timer we watch (Go's blocking netpoll in
      // findrunnable). in_poll before the permit check: wake_m unparks, then reads in_poll. With
      // a ring of its own (io_uring) the M waits in the ring, where the unpark alone wakes it
      // (the FUTEX_WAIT on its parker word), so wake_m need not also write the poller's eventfd.
      const bool in_epoll_wait = m->io_ring == nullptr;
      if (in_epoll_wait) m->in_poll.store(true, std::memory_order_seq_cst);
      if (!m->parker.try_take()) {
        polled = in_epoll_wait ? netpoll::poll(timeout, &npolled)
                               : netpoll::park_m(m, timeout, true, &npolled);
      }
      if (in_epoll_wait) m->in_poll.store(false, std::memory_order_seq_cst);
    } else if (timer_role) {
      // Timers only: the fds are watched by the Ms that run goroutines (fd_watch_wanted).
      if (m->io_ring != nullptr) {
        if (!m->parker.try_take()) polled = netpoll::park_m(m, timeout, false, &npolled);
      } else if (timeout > 0) {
        m->parker.park_for(timeout);
      }
    } else {
      polled = sleep_m(m, &npolled);
    }
    if (polled != nullptr) {
      sched->idle_polled.fetch_add(npolled, std::memory_order_relaxed);
      trace(nullptr, TraceKind::kPoll, 0, npolled,
            fd_watch ? "poller (idle thread)" : "own io_uring (idle thread)");
    }
    // Woken: sysmon may have slept through the idle time, so the coarse clock is refreshed here.
    const int64_t woke = now_ns();
    sched->coarse_now.store(woke, std::memory_order_relaxed);
    // A wake-up may come from startm (nextp), shutdown, an armer (timer_armed), sysmon asking
    // for a watcher (nudge_fd_watcher) or the timeout; only the first two are ordered with
    // nextp, so it is read under the lock.
    const bool due = timer_role && woke >= earliest_timer();
    P* p = nullptr;
    bool handed = false;
    {
      std::lock_guard<RankedMutex> lock(sched->lock);
      if (m->nextp != nullptr || sched->shutdown.load(std::memory_order_relaxed)) {
        handed = true;  // startm took us off the idle list (or shutdown)
      } else if (due || polled != nullptr) {
        // Timers are due or fds ready: leave the idle list and take an idle P to run them
        // (and what they ready).
        for (M** pp = &sched->midle; *pp != nullptr; pp = &(*pp)->idle_next) {
          if (*pp == m) {
            *pp = m->idle_next;
            break;
          }
        }
        m->idle_next = nullptr;
        p = pidle_get();
      }
    }
    if (handed || due || polled != nullptr) {
      if (timer_role) release_timer_role();
      if (fd_watch) release_fd_watch();
      timer_role = false;
      fd_watch = false;
    }
    if (handed) {
      if (m->nextp) {
        acquirep(m, m->nextp);
        m->nextp = nullptr;
      }
      // On shutdown the polled goroutines are abandoned with the others.
      if (polled != nullptr && m->p != nullptr) inject_glist(polled);
      return;
    }
    if (!due && polled == nullptr) continue;  // woken early (an earlier timer, a nudge, stale)
    if (p != nullptr) {
      acquirep(m, p);
      if (!due && npolled <= kRunAloneBatch) {
        // A few goroutines, from the fds we watched (every other P idle, or sysmon asked) or
        // from our own ring (io_uring, where no other thread could take them): running them
        // here costs less than waking a thread to steal some (a thread wake-up is ~10 us on a
        // VM). So no spinner and no wakep chain, which woke a second M per batch that found
        // nothing (HTTP at 1,000 connections on io_uring: 60 k -> 90 k req/s; echo at 10
        // connections on epoll: ARCHITECTURE §10). Goroutines they ready wake others as usual,
        // and sysmon starts a thread for any that wait a whole round (wake_for_waiting_work).
        inject_glist(polled, /*wake=*/false);
        if (sched->sysmon_sleeping.load(std::memory_order_seq_cst)) sysmon_wake();
        return;
      }
      m->spinning = true;  // finding work ends with reset_spinning's wakep: the role passes on
      sched->nmspinning.fetch_add(1, std::memory_order_seq_cst);
      if (polled != nullptr) inject_glist(polled);
      if (sched->sysmon_sleeping.load(std::memory_order_seq_cst)) sysmon_wake();
      return;
    }
    // Every P is busy: run the timers here; what they and the poller ready goes to the global
    // queue.
    if (polled != nullptr) inject_glist(polled);
    if (due) run_all_timers(now_ns());
    {
      std::lock_guard<RankedMutex> lock(sched->lock);
      if (sched->shutdown.load(std::memory_order_relaxed)) return;
      m->idle_next = sched->midle;
      sched->midle = m;
    }
  }
}

}  // namespace gort::rt
