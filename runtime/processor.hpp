// P: a processor, the right to run goroutines. Exactly procs of them exist while the runtime
// runs; an M must hold one to run Go code (DESIGN §2). A P carries what is cheaper to keep per
// processor than per thread: the local run queue, the stack and descriptor caches, id batches
// and counters.
//
// Status (atomic, because sysmon reads it and retakes Ps from blocking calls with a CAS):
//   kIdle      on the idle list (sched lock), no M.
//   kRunning   owned by its M.
//   kBlocking  its M is inside gort::blocking(); sysmon may CAS it to kIdle and hand it to
//              another M; the M coming back CASes it to kRunning or looks for another P.
#pragma once

#include <atomic>
#include <cstdint>

#include "runtime/goroutine.hpp"
#include "runtime/hog.hpp"
#include "runtime/runq.hpp"
#include "runtime/stack.hpp"
#include "runtime/timer.hpp"

namespace gort::rt {

struct M;

enum class PStatus : uint32_t { kIdle, kRunning, kBlocking };

struct alignas(64) P {
  int id = 0;
  RunQueue runq;
  std::atomic<PStatus> status{PStatus::kIdle};
  M* m = nullptr;             // owning M while kRunning / kBlocking
  P* idle_next = nullptr;     // idle list link (sched lock)

  // schedtick counts goroutine starts that took a new time slice; sysmon compares it across
  // its rounds to spot a goroutine running > 10 ms (relaxed: a stale read only delays a
  // preempt request by one round).
  std::atomic<uint64_t> schedtick{0};
  std::atomic<uint64_t> blocktick{0};   // gort::blocking() entries, for sysmon's retake
  std::atomic<bool> preempt{false};     // sysmon's request to the running goroutine
  // For the hog detector (hog.cpp): the goroutine last started here (release: its descriptor's
  // fields are visible to sysmon's acquire load) and the kernel id of the owning M's thread.
  std::atomic<G*> running_g{nullptr};
  std::atomic<int32_t> m_tid{0};
  HogSample hog_sample;                 // sysmon's backtrace request, answered by the M's thread

  TimerHeap timers;           // timers armed on this P (timer.hpp); run by anyone
  StackCache stacks;          // owner-only
  // Owner-only: readies into runnext that still wake a thread (make_runnable), because a
  // goroutine put there was displaced by another before this P ran it: its readier did not block.
  uint32_t eager_wakes = 0;
  G* free_gs = nullptr;       // owner-only descriptor free list
  uint32_t free_gs_count = 0;
  uint64_t next_id = 0, end_id = 0;  // goroutine id batch (Go's goidcache)

  // Counters: written by the owner (relaxed), read by stats() from any thread.
  std::atomic<uint64_t> runs{0}, spawned{0}, exited{0}, steals{0}, stolen{0}, global_pulls{0};
  // Goroutines resumed here that last ran on another P: their stack, descriptor and the data
  // they touch change CPUs (a locality figure; a goroutine's first run is none).
  std::atomic<uint64_t> migrations{0};
  // Where an M holding this P looked for work (find_runnable): non-blocking netpoll calls and
  // the goroutines they readied, reaps of the M's own io_uring that brought completions and
  // those completions, steal rounds (successful ones are `steals`), and the times the P was
  // given back because nothing was found. Per message of a server, these say what the
  // scheduler costs where no profiler runs.
  std::atomic<uint64_t> polls{0}, polled{0}, ring_reaps{0}, ring_reaped{0}, steal_rounds{0},
      idles{0};

  // sysmon's private view (only sysmon touches these).
  uint64_t sysmon_tick = 0;
  int64_t sysmon_when = 0;
  uint64_t sysmon_blocktick = 0;
  int64_t sysmon_block_when = 0;
  uint32_t sysmon_runq_tail = 0;  // the run queue's tail at the previous round
  G* sysmon_next = nullptr;       // runnext at the previous round (compared, never dereferenced)
  uint64_t sysmon_next_runs = 0;  // `runs` at the previous round
  uint64_t hog_runs = 0;          // `runs` at the previous round
  int64_t hog_since = 0;          // when `runs` last changed (0: not running then)
  uint64_t hog_reported = ~uint64_t{0};  // the run already reported (once per episode)
  int hog_attempts = 0;           // samples of this episode that missed (hog.cpp)
};

inline void count(std::atomic<uint64_t>& c, uint64_t n = 1) {
  c.store(c.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);  // owner-only writer
}

}  // namespace gort::rt
