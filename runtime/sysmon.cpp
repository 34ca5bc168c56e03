// sysmon: a thread outside the Ps that watches the scheduler (Go's sysmon, DESIGN §2).
//
// Each round it (1) retakes Ps stuck in gort::blocking() for at least one round, (2) asks a
// goroutine that has held its P for > 10 ms without a new time slice to yield (preempt_point
// and every runtime call honour it), (3) starts a thread for queued work that waited a whole
// round while a P idled (wake_for_waiting_work), (4) gives back pages of idle cached stacks
// about once a second, (5) prints the schedtrace line if asked, (6) polls fds nobody polled for
// 10 ms, or for 1 ms while a P idles and no M watches them (then idle Ms watch for a while:
// kUnwatchedFdsNs). It sleeps 20 µs while it keeps
// finding work, doubling after 50 idle rounds up to 10 ms (1 ms at most while work is queued
// and a P idles); when every P is idle and no thread is blocked it
// sleeps until woken (startm, blocking_enter and shutdown wake it) or for at most a second, so
// an idle runtime costs one wake-up per second.
//
// Timers: the deep sleep also ends at the earliest timer (the timer M, sched.cpp, is what fires
// timers on an idle runtime; sysmon only looks). Each round, a timer overdue by more than
// kTimerGraceNs is run here (a backstop for Ps that never reach a timer check, e.g. direct
// switches under wait-queue locks, and for every P busy): what it readies goes to the global
// queue.
#include <algorithm>
#include <atomic>
#include <cstdio>
#include <string>

#include <sys/prctl.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "gort/runtime.hpp"
#include "netpoll/netpoll.hpp"
#include "runtime/config.hpp"
#include "runtime/dump.hpp"
#include "runtime/hog.hpp"
#include "runtime/sched.hpp"
#include "runtime/stack.hpp"

namespace gort::rt {

namespace {

constexpr int64_t kPreemptAfterNs = 10'000'000;   // Go's forcePreemptNS
constexpr int64_t kBlockingRetakeNs = 20'000;     // one sysmon tick
constexpr int64_t kScavengeEveryNs = 1'000'000'000;
constexpr int64_t kTimerGraceNs = 1'000'000;
constexpr int64_t kNetpollStaleNs = 10'000'000;  // Go: sysmon polls after 10 ms without a poll
// Fds nobody watched while a P idled: no idle M blocks in the poller while a P runs goroutines
// (idle.cpp, fd_watch_wanted), since that P's M polls when it runs out of them. One that keeps
// computing does not: after this long without a poll sysmon polls, and asks idle Ms to watch for
// kFdWatchHoldNs, for as long as some P keeps running one goroutine (schedtick unchanged).
constexpr int64_t kUnwatchedFdsNs = 1'000'000;
constexpr int64_t kFdWatchHoldNs = 10'000'000;
constexpr int64_t kDeepSleepAfterNs = 20'000'000;  // every P idle this long: sysmon sleeps until woken
// While goroutines are queued and a P idles with nobody spinning, sysmon looks at least this
// often, so work queued without a wake-up waits at most about two of these for another thread.
constexpr int64_t kWaitingWorkCheckNs = 1'000'000;
// While some P's runnext was seen holding a goroutine within the last kRunnextWatchRounds
// rounds, sysmon looks this often and readying into an empty runnext wakes nobody
// (Sched::runnext_watched, make_runnable in sched.cpp). 20 k rounds/s only while goroutines hand
// work to each other; the thread wake-ups they save were one per few round trips.
constexpr int64_t kRunnextWatchNs = 50'000;
constexpr int kRunnextWatchRounds = 50;

bool retake(int64_t now) {
  bool acted = false;
  for (P* p : sched->allp) {
    PStatus st = p->status.load(std::memory_order_acquire);
    if (st == PStatus::kIdle) continue;
    uint64_t tick = p->schedtick.load(std::memory_order_relaxed);
    if (tick != p->sysmon_tick) {
      p->sysmon_tick = tick;
      p->sysmon_when = now;
    } else if (st == PStatus::kRunning && now - p->sysmon_when >= kPreemptAfterNs &&
               !p->preempt.load(std::memory_order_relaxed)) {
      if (!p->preempt.exchange(true, std::memory_order_relaxed)) {  // a hint: relaxed
        gort::detail::preempt_pending.fetch_add(1, std::memory_order_relaxed);
        sched->preempt_requests.fetch_add(1, std::memory_order_relaxed);
        // Not counted as `acted`: a CPU-bound program would otherwise keep sysmon at its
        // 20 µs period, which costs a good part of a vCPU here (Go's retake counts only
        // handoffs too).
      }
    }
    if (st != PStatus::kBlocking) continue;
    uint64_t btick = p->blocktick.load(std::memory_order_relaxed);
    if (btick != p->sysmon_blocktick) {
      p->sysmon_blocktick = btick;
      p->sysmon_block_when = now;
      continue;
    }
    int64_t blocked_for = now - p->sysmon_block_when;
    if (blocked_for < kBlockingRetakeNs) continue;
    // Leave the P alone if it has nothing queued and other Ms can absorb new work, unless the
    // call has been going on for long (Go's rule).
    if (p->runq.empty() && sched->runq.empty() &&
        sched->nmspinning.load() + sched->npidle.load() > 0 && blocked_for < kPreemptAfterNs) {
      continue;
    }
    PStatus expected = PStatus::kBlocking;
    if (p->status.compare_exchange_strong(expected, PStatus::kIdle, std::memory_order_acq_rel)) {
      p->m = nullptr;
      sched->handoffs.fetch_add(1, std::memory_order_relaxed);
      handoff_p(p);
      acted = true;
    }
  }
  return acted;
}

// Whether some P has been running one goroutine since before the last round (its schedtick, as
// retake recorded it, unchanged for kUnwatchedFdsNs).
bool any_p_running_one_goroutine(int64_t now) {
  for (P* p : sched->allp) {
    if (p->status.load(std::memory_order_acquire) == PStatus::kRunning &&
        p->schedtick.load(std::memory_order_relaxed) == p->sysmon_tick &&
        now - p->sysmon_when >= kUnwatchedFdsNs) {
      return true;
    }
  }
  return false;
}

// The backstop for work queued without waking anyone. An M that reaps completions of its own
// io_uring queues their goroutines on its P and wakes nobody (sched.cpp, inject_own): it usually
// gets through them sooner than a woken thread would steal some, and a thief's next operations
// would land in its own ring, so both threads then keep waking each other. But behind a
// goroutine that computes for long, that work would wait while another P idles. So: a goroutine
// that was queued at the previous round and is still queued now (it sat below that round's tail
// and the head has not passed it: the counters are free-running, so no cost on the scheduling
// path), or a global queue seen non-empty twice in a row, while a P idles and no M spins, gets
// a spinning M started, which steals half. The same for a goroutine readied into runnext without
// a wake-up (make_runnable): still there, and its P has run nothing since the previous round
// (`runs` unchanged, so not the same G readied again), the readier kept running; the thief's
// last steal pass takes runnext. Returns whether anything is queued anywhere (the caller then
// keeps its rounds short enough for this check to matter); *runnext_seen: some runnext held a
// goroutine.
bool wake_for_waiting_work(bool* global_was_queued, bool* runnext_seen) {
  bool waited = false;
  bool queued = false;
  *runnext_seen = false;
  for (P* p : sched->allp) {
    const uint32_t head = p->runq.head_index();
    if (static_cast<int32_t>(p->sysmon_runq_tail - head) > 0) waited = true;
    p->sysmon_runq_tail = p->runq.tail_index();
    if (p->sysmon_runq_tail != head) queued = true;
    G* next = p->runq.peek_next();
    const uint64_t runs = p->runs.load(std::memory_order_relaxed);
    if (next != nullptr) {
      *runnext_seen = true;
      if (next == p->sysmon_next && runs == p->sysmon_next_runs) waited = true;
    }
    p->sysmon_next = next;
    p->sysmon_next_runs = runs;
  }
  const bool global_queued = !sched->runq.empty();
  if (global_queued && *global_was_queued) waited = true;
  *global_was_queued = global_queued;
  queued = queued || global_queued;
  if (waited && sched->npidle.load(std::memory_order_seq_cst) > 0 &&
      sched->nmspinning.load(std::memory_order_seq_cst) == 0) {
    sched->waiting_work_wakes.fetch_add(1, std::memory_order_relaxed);
    wakep();
  }
  return queued;
}

// Go's schedtrace line, then the cumulative counters (summed over the Ps): two lines a period
// apart give the rates, e.g. per message of a server on a machine without a profiler.
void schedtrace(int64_t start) {
  std::string queues;
  uint64_t runs = 0, migrations = 0, polls = 0, polled = 0, reaps = 0, reaped = 0,
           steal_rounds = 0, steals = 0, stolen = 0, idles = 0;
  for (P* p : sched->allp) {
    absl::StrAppend(&queues, queues.empty() ? "" : " ", p->runq.size());
    runs += p->runs.load(std::memory_order_relaxed);
    migrations += p->migrations.load(std::memory_order_relaxed);
    stolen += p->stolen.load(std::memory_order_relaxed);
    polls += p->polls.load(std::memory_order_relaxed);
    polled += p->polled.load(std::memory_order_relaxed);
    reaps += p->ring_reaps.load(std::memory_order_relaxed);
    reaped += p->ring_reaped.load(std::memory_order_relaxed);
    steal_rounds += p->steal_rounds.load(std::memory_order_relaxed);
    steals += p->steals.load(std::memory_order_relaxed);
    idles += p->idles.load(std::memory_order_relaxed);
  }
  std::string line = absl::StrFormat(
      "SCHED %dms: procs=%d idleprocs=%d threads=%d spinningthreads=%d blocking=%d "
      "globalrunq=%d runq=[%s] runs=%d migrations=%d parks=%d wakes=%d polls=%d/%d "
      "ringreaps=%d/%d steals=%d/%d stolen=%d idles=%d idlepolled=%d sysmonpolls=%d "
      "fdwatchreqs=%d\n",
      (now_ns() - start) / 1000000, sched->procs, sched->npidle.load(), [] {
        std::lock_guard<RankedMutex> lock(sched->lock);
        return static_cast<int>(sched->allm.size());
      }(), sched->nmspinning.load(), sched->nmblocking.load(), sched->runq.size(), queues, runs,
      migrations, sched->thread_parks.load(std::memory_order_relaxed),
      sched->thread_wakes.load(std::memory_order_relaxed), polled, polls, reaped, reaps, steals,
      steal_rounds, stolen, idles, sched->idle_polled.load(std::memory_order_relaxed),
      sched->sysmon_polls.load(std::memory_order_relaxed),
      sched->fd_watch_requests.load(std::memory_order_relaxed));
  std::fwrite(line.data(), 1, line.size(), stderr);
}

void sysmon_main() {
  mark_sysmon_thread();
  prctl(PR_SET_TIMERSLACK, 1, 0, 0, 0);
  const int64_t start = now_ns();
  const int64_t trace_ns = saturating_ns(sched->config.schedtrace);
  const int64_t hog_ns = saturating_ns(sched->config.hog_report);
  int64_t delay_ns = 20'000;
  int idle_rounds = 0;
  int64_t last_scavenge = start;
  int64_t last_trace = start;
  int64_t idle_since = 0;  // when every P was first seen idle in a row of rounds (0: not now)
  bool global_was_queued = false;
  bool work_queued = false;  // something was queued at the last round while a P idled
  int runnext_watch_left = 0;  // rounds until the runnext watch ends (kRunnextWatchRounds)
  bool runnext_watch_ended = false;  // the watch ended at the last round
  int64_t fd_watch_until = 0;  // while Sched::fd_watch_requested: when the request lapses
  while (!sched->shutdown.load(std::memory_order_acquire)) {
    sigquit_poll();
    const bool all_idle = sched->npidle.load() == sched->procs && sched->nmblocking.load() == 0;
    if (!all_idle) {
      idle_since = 0;
    } else if (idle_since == 0) {
      idle_since = now_ns();
    }
    // Deep sleep only after every P has looked idle for a while: a server between bursts has
    // all Ps idle for microseconds at a time, and each deep sleep means a wake-up by the next
    // M that takes a P (measured: 10-17 k sysmon wake-ups/s under an HTTP load, with a stack
    // scavenge each time).
    // Fds waited on that no M watches while a P idles (see kUnwatchedFdsNs). Readiness only:
    // a ring operation completes in its own M's ring, which that M reaps whether or not it
    // watches.
    const bool fds_unwatched = netpoll::active() && netpoll::readiness_waiters() > 0 &&
                               sched->fd_watcher.load(std::memory_order_seq_cst) == nullptr &&
                               sched->npidle.load() > 0;
    if (all_idle && now_ns() - idle_since >= kDeepSleepAfterNs && trace_ns == 0 &&
        !fds_unwatched) {
      // Everything idle: deep sleep. Publish that we sleep, then re-check (pairs with the
      // seq_cst npidle/nmblocking updates followed by a sysmon_sleeping load in startm and
      // blocking_enter): either they see us asleep and wake us, or we see their change.
      runnext_watch_left = 0;  // every P idle: no runnext to watch
      runnext_watch_ended = false;
      sched->runnext_watched.store(false, std::memory_order_relaxed);
      sched->sysmon_sleeping.store(true, std::memory_order_seq_cst);
      if (sched->npidle.load(std::memory_order_seq_cst) == sched->procs &&
          sched->nmblocking.load(std::memory_order_seq_cst) == 0 &&
          !sched->shutdown.load(std::memory_order_acquire)) {
        stack_scavenge();
        last_scavenge = now_ns();
        int64_t sleep_ns = 1'000'000'000;
        int64_t next = earliest_timer();
        if (next != kNoTimer) {
          sleep_ns = std::clamp<int64_t>(next - now_ns() + kTimerGraceNs, 1, sleep_ns);
        }
        sched->sysmon_parker.park_for(sleep_ns);
      }
      sched->sysmon_sleeping.store(false, std::memory_order_seq_cst);
      sched->sysmon_rounds.fetch_add(1, std::memory_order_relaxed);
      delay_ns = 20'000;
      idle_rounds = 0;
      idle_since = 0;
      continue;
    }
    if (idle_rounds > 50) delay_ns = std::min<int64_t>(delay_ns * 2, 10'000'000);
    else delay_ns = 20'000;
    int64_t sleep_ns = work_queued ? std::min(delay_ns, kWaitingWorkCheckNs) : delay_ns;
    // One short round more after the watch ends: a readier that still saw it on is looked after.
    if (runnext_watch_left > 0 || runnext_watch_ended) {
      sleep_ns = std::min(sleep_ns, kRunnextWatchNs);
    }
    if (fds_unwatched) sleep_ns = std::min(sleep_ns, kUnwatchedFdsNs);
    sched->sysmon_parker.park_for(sleep_ns);
    sched->sysmon_rounds.fetch_add(1, std::memory_order_relaxed);
    int64_t now = now_ns();
    sched->coarse_now.store(now, std::memory_order_relaxed);
    idle_rounds = retake(now) ? 0 : idle_rounds + 1;
    // Not counted as acting (no short rounds for it): kWaitingWorkCheckNs bounds the wait.
    bool runnext_seen;
    work_queued = wake_for_waiting_work(&global_was_queued, &runnext_seen) &&
                  sched->npidle.load(std::memory_order_relaxed) > 0;
    // Watching pays only while a P idles or its thread spins for work (woken, likely, for a
    // runnext goroutine): with every P running goroutines a wake-up finds no P to start, and
    // the rounds would only take CPU from them.
    if (runnext_seen && (sched->npidle.load(std::memory_order_relaxed) > 0 ||
                         sched->nmspinning.load(std::memory_order_relaxed) > 0)) {
      runnext_watch_left = kRunnextWatchRounds;
    } else if (runnext_watch_left > 0) {
      --runnext_watch_left;
    }
    const bool was_watched = sched->runnext_watched.load(std::memory_order_relaxed);
    runnext_watch_ended = was_watched && runnext_watch_left == 0;
    if ((runnext_watch_left > 0) != was_watched) {
      sched->runnext_watched.store(runnext_watch_left > 0, std::memory_order_relaxed);
    }
    if (earliest_timer() <= now - kTimerGraceNs) run_all_timers(now);
    // Fds nobody polled for 10 ms (every P busy, no M blocked in the poller), or for
    // kUnwatchedFdsNs while a P idles: poll here; what is ready goes to the global queue (Go's
    // sysmon does the former). In the second case idle Ms watch from now on, for a while
    // (Sched::fd_watch_requested).
    if (netpoll::active() && netpoll::waiters() > 0) {
      const int64_t last = netpoll::last_poll_ns();
      const bool unwatched = netpoll::readiness_waiters() > 0 && sched->npidle.load() > 0 &&
                             sched->fd_watcher.load(std::memory_order_seq_cst) == nullptr;
      if (last != 0 && now - last > (unwatched ? kUnwatchedFdsNs : kNetpollStaleNs)) {
        uint32_t n = 0;
        sched->sysmon_polls.fetch_add(1, std::memory_order_relaxed);
        if (G* list = netpoll::poll(0, &n)) inject_glist(list);
        if (unwatched) {
          fd_watch_until = now + kFdWatchHoldNs;
          if (!sched->fd_watch_requested.load(std::memory_order_relaxed)) {
            sched->fd_watch_requested.store(true, std::memory_order_relaxed);
            sched->fd_watch_requests.fetch_add(1, std::memory_order_relaxed);
          }
          nudge_fd_watcher();
        }
      }
    }
    if (sched->fd_watch_requested.load(std::memory_order_relaxed) && now >= fd_watch_until) {
      // Renewed while some P still runs the goroutine it ran a round ago (the computing one
      // that does not poll); else idle Ms go back to watching only when every P idles.
      if (any_p_running_one_goroutine(now)) {
        fd_watch_until = now + kFdWatchHoldNs;
      } else {
        sched->fd_watch_requested.store(false, std::memory_order_relaxed);
      }
    }
    if (now - last_scavenge >= kScavengeEveryNs) {
      stack_scavenge();
      last_scavenge = now;
    }
    if (hog_ns > 0) hog_watch(now, hog_ns);
    if (trace_ns > 0 && now - last_trace >= trace_ns) {
      schedtrace(start);
      last_trace = now;
    }
  }
}

}  // namespace

// Returns once the thread runs, so that sysmon's rules hold from the main goroutine's first step.
// (A start the kernel delayed also let a sanitizer runtime make its first checks of the thread
// while a test had filled the fd table: UBSan's vptr check opens a pipe, and reported an error.)
void sysmon_start() {
  std::atomic<bool> started{false};
  sched->sysmon_thread = std::thread([&started] {
    started.store(true, std::memory_order_release);
    started.notify_one();
    sysmon_main();
  });
  started.wait(false, std::memory_order_acquire);
}

void sysmon_stop() {
  sysmon_wake();
  if (sched->sysmon_thread.joinable()) sched->sysmon_thread.join();
}

void sysmon_wake() { sched->sysmon_parker.unpark(); }

}  // namespace gort::rt
