// gort::stats() and the small public queries (goroutine_id, num_goroutines, procs).
#include "gort/stats.hpp"

#include "absl/strings/str_format.h"
#include "gort/runtime.hpp"
#include "netpoll/netpoll.hpp"
#include "runtime/dump.hpp"
#include "runtime/sched.hpp"
#include "runtime/stack.hpp"

namespace gort {

namespace {

int64_t alive_goroutines() {
  rt::ForeignUse use;  // a monitoring thread may call this while run returns
  rt::Sched* s = use.get();
  if (s == nullptr) return 0;
  int64_t created = static_cast<int64_t>(s->created_external.load(std::memory_order_relaxed));
  int64_t exited = static_cast<int64_t>(s->exited_external.load(std::memory_order_relaxed));
  for (rt::P* p : s->allp) {
    created += static_cast<int64_t>(p->spawned.load(std::memory_order_relaxed));
    exited += static_cast<int64_t>(p->exited.load(std::memory_order_relaxed));
  }
  return created - exited;
}

}  // namespace

std::string goroutine_dump() { return rt::dump_goroutines(); }

SchedulerStats stats() {
  SchedulerStats st;
  rt::ForeignUse use;  // a monitoring thread may call this while run returns
  rt::Sched* s = use.get();
  rt::StackStats ss = rt::stack_stats();
  st.stack_bytes_reserved = ss.bytes_reserved;
  st.stacks_in_use = ss.stacks_in_use;
  st.poller = rt::netpoll::backend_name();
  st.io_waiters = rt::netpoll::waiters();
  if (s == nullptr) return st;
  st.procs = s->procs;
  st.goroutines = alive_goroutines();
  st.goroutines_created = s->created_external.load(std::memory_order_relaxed);
  {
    std::lock_guard<rt::RankedMutex> lock(s->lock);
    st.threads = s->allm.size();
  }
  st.idle_processors = static_cast<uint64_t>(s->npidle.load());
  st.spinning_threads = static_cast<uint64_t>(s->nmspinning.load());
  st.thread_parks = s->thread_parks.load(std::memory_order_relaxed);
  st.thread_wakes = s->thread_wakes.load(std::memory_order_relaxed);
  st.global_queue_length = s->runq.size();
  st.blocking_calls = s->blocking_calls.load(std::memory_order_relaxed);
  st.handoffs = s->handoffs.load(std::memory_order_relaxed);
  st.preempt_requests = s->preempt_requests.load(std::memory_order_relaxed);
  st.hog_reports = s->hog_reports.load(std::memory_order_relaxed);
  st.waiting_work_wakes = s->waiting_work_wakes.load(std::memory_order_relaxed);
  st.sysmon_polls = s->sysmon_polls.load(std::memory_order_relaxed);
  st.fd_watch_requests = s->fd_watch_requests.load(std::memory_order_relaxed);
  st.sysmon_rounds = s->sysmon_rounds.load(std::memory_order_relaxed);
  st.idle_thread_polled = s->idle_polled.load(std::memory_order_relaxed);
  for (rt::P* p : s->allp) {
    ProcessorStats ps;
    ps.runs = p->runs.load(std::memory_order_relaxed);
    ps.spawned = p->spawned.load(std::memory_order_relaxed);
    ps.steals = p->steals.load(std::memory_order_relaxed);
    ps.stolen_goroutines = p->stolen.load(std::memory_order_relaxed);
    ps.global_pulls = p->global_pulls.load(std::memory_order_relaxed);
    ps.migrations = p->migrations.load(std::memory_order_relaxed);
    ps.polls = p->polls.load(std::memory_order_relaxed);
    ps.polled_goroutines = p->polled.load(std::memory_order_relaxed);
    ps.ring_reaps = p->ring_reaps.load(std::memory_order_relaxed);
    ps.ring_reaped = p->ring_reaped.load(std::memory_order_relaxed);
    ps.steal_rounds = p->steal_rounds.load(std::memory_order_relaxed);
    ps.idles = p->idles.load(std::memory_order_relaxed);
    ps.run_queue_length = p->runq.size();
    st.goroutines_created += ps.spawned;
    st.processors.push_back(ps);
  }
  return st;
}

std::string SchedulerStats::to_string() const {
  std::string out = absl::StrFormat(
      "gort scheduler: procs=%d goroutines=%d created=%d threads=%d idle_procs=%d spinning=%d\n"
      "  thread parks=%d wakes=%d global_queue=%d blocking_calls=%d handoffs=%d "
      "preempt_requests=%d waiting_work_wakes=%d hog_reports=%d\n  stacks in use=%d reserved=%.1f MiB\n"
      "  poller=%s io_waiters=%d sysmon_rounds=%d sysmon_polls=%d fd_watch_requests=%d "
      "idle_thread_polled=%d\n",
      procs, goroutines, goroutines_created, threads, idle_processors, spinning_threads,
      thread_parks, thread_wakes, global_queue_length, blocking_calls, handoffs, preempt_requests,
      waiting_work_wakes, hog_reports,
      stacks_in_use, static_cast<double>(stack_bytes_reserved) / (1024.0 * 1024.0), poller,
      io_waiters, sysmon_rounds, sysmon_polls, fd_watch_requests, idle_thread_polled);
  for (size_t i = 0; i < processors.size(); ++i) {
    const ProcessorStats& p = processors[i];
    absl::StrAppendFormat(&out,
                          "  P%d: runs=%d migrations=%d spawned=%d steals=%d/%d stolen=%d global_pulls=%d "
                          "polls=%d/%d ring_reaps=%d/%d idles=%d runq=%d\n",
                          i, p.runs, p.migrations, p.spawned, p.steals, p.steal_rounds, p.stolen_goroutines,
                          p.global_pulls, p.polled_goroutines, p.polls, p.ring_reaped,
                          p.ring_reaps, p.idles, p.run_queue_length);
  }
  return out;
}

uint64_t goroutine_id() noexcept {
  rt::G* g = rt::current_g();
  return g ? g->id : 0;
}

int64_t num_goroutines() noexcept { return alive_goroutines(); }

int procs() noexcept {
  rt::ForeignUse use;
  rt::Sched* s = use.get();
  return s ? s->procs : 0;
}

bool in_goroutine() noexcept { return rt::current_g() != nullptr; }

}  // namespace gort
