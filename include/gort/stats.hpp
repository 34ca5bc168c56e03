// Scheduler counters (DESIGN §6). A snapshot: counters are read without stopping the world, so
// values from different processors may be a few events apart.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace gort {

struct ProcessorStats {
  uint64_t runs = 0;          // goroutines this processor resumed (a yield that finds nothing
                              // else to run resumes its own goroutine, and counts)
  uint64_t migrations = 0;    // of those, goroutines that last ran on another processor (their
                              // stack and data moved to another thread's CPU: a locality figure)
  uint64_t spawned = 0;       // goroutines created while running on it
  uint64_t steals = 0;        // successful steals by this processor
  uint64_t stolen_goroutines = 0;  // goroutines moved in by those steals
  uint64_t global_pulls = 0;  // batches taken from the global queue
  // Where its threads looked for work when the run queue was empty:
  uint64_t polls = 0;          // non-blocking netpoller polls
  uint64_t polled_goroutines = 0;  // goroutines those polls readied
  uint64_t ring_reaps = 0;     // reaps of the thread's own io_uring that brought completions
  uint64_t ring_reaped = 0;    // the completions (goroutines readied) they brought
  uint64_t steal_rounds = 0;   // rounds over the other processors' queues (successes: steals)
  uint64_t idles = 0;          // times it was given back, nothing found anywhere
  uint32_t run_queue_length = 0;
};

struct SchedulerStats {
  int procs = 0;
  int64_t goroutines = 0;        // alive
  uint64_t goroutines_created = 0;
  uint64_t threads = 0;          // Ms created
  uint64_t idle_processors = 0;
  uint64_t spinning_threads = 0;
  uint64_t thread_parks = 0;     // Ms that went to sleep on their futex
  uint64_t thread_wakes = 0;     // futex wakes of parked Ms
  uint64_t global_queue_length = 0;
  uint64_t blocking_calls = 0;
  uint64_t handoffs = 0;         // processors retaken from blocking calls by sysmon
  uint64_t preempt_requests = 0;
  // Threads sysmon started because queued goroutines had waited a whole sysmon round while a
  // processor idled (work queued without a wake-up: completions of a thread's own io_uring).
  uint64_t waiting_work_wakes = 0;
  uint64_t hog_reports = 0;      // goroutines the hog detector reported (Config::hog_report)
  // netpoller polls by sysmon: nobody else had polled for 10 ms, or for 1 ms while fds were
  // unwatched and a processor idled
  uint64_t sysmon_polls = 0;
  // Times sysmon found the fds unwatched for 1 ms while a processor idled (the threads running
  // goroutines, which poll when they run out of them, did not: one computes) and asked idle
  // threads to watch them for a while.
  uint64_t fd_watch_requests = 0;
  // sysmon's wake-ups: 20 µs apart while the scheduler is busy, backing off to 10 ms, and at
  // most one a second once every processor has been idle for a while.
  uint64_t sysmon_rounds = 0;
  // Goroutines readied by threads without a processor, waiting in the poller or their ring.
  uint64_t idle_thread_polled = 0;
  uint64_t stack_bytes_reserved = 0;
  uint64_t stacks_in_use = 0;
  std::string poller;            // netpoller backend: "epoll", "io_uring" or "none"
  int64_t io_waiters = 0;        // goroutines parked on file descriptors
  std::vector<ProcessorStats> processors;

  std::string to_string() const;  // multi-line human-readable form
};

SchedulerStats stats();

// Every goroutine: id, state (a wait reason and roughly how long, to within about 10 ms), where
// it was created, and the frames a parked goroutine is parked in (innermost first; frames past
// code built without frame pointers are cut). The format of Go's goroutine dump, also printed by
// SIGQUIT (Config::sigquit_dump) and by the deadlock report. A snapshot taken while goroutines
// keep running: one that changes state meanwhile may be left out.
std::string goroutine_dump();

}  // namespace gort
