// Runtime configuration for gort::run. Environment variables override nothing set explicitly
// here; they fill in what is left at its default (like GOMAXPROCS / GODEBUG):
//   GORT_PROCS=N            processors when Config::procs == 0 (else the CPU count)
//   GORT_STACK_KB=N         default stack reservation when Config::stack_size == 0
//   GORT_DEBUG=migrate=1    every yield moves the goroutine to another processor (tests)
//   GORT_DEBUG=schedtrace=MS  print one scheduler line every MS milliseconds to stderr
//   GORT_DEBUG=hogreport=MS   report goroutines that keep their processor MS ms (Config::hog_report)
//                             (MS in [0, 86400000], one day, for both; 0: off)
//   GORT_POLLER=auto|epoll|io_uring  the netpoller backend when Config::poller is kAuto
//   GORT_URING_READS=readiness|ring  how io_uring serves stream reads when Config::uring_reads
//                                    is kAuto
//   GORT_STACK_GUARD=mprotect|canary  force a weaker stack guard than the best available
//   GORT_TRACE=PATH           the whole run's scheduling trace when Config::trace_file is empty
// An empty variable counts as unset. Any other value outside these forms, like an out-of-range
// Config field, makes gort::run throw std::invalid_argument.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace gort {

// The netpoller's backend. kAuto: io_uring when its probe passes (the kernel allows rings and has
// the operations gort uses), else epoll; the choice and the reason are printed once. Asking for
// io_uring where it is unavailable makes gort::run fail with a message saying why.
enum class Poller { kAuto, kEpoll, kIoUring };

// Under the io_uring backend, how a stream read (Conn::read, read_exact, readv) gets its data.
// Writes, accept and connect run in the ring either way; epoll ignores this.
//   kRing       the recv is a ring operation: no syscall of its own, but its completion is
//               reaped by the thread that submitted it (the kernel runs it as that thread's
//               task_work), so a reply waits for that thread even when another is idle.
//   kReadiness  the read waits for a readiness edge (any thread's poll may hand it out) and
//               then calls recv(2): one syscall per read, but a reader is never tied to one
//               thread. The default: in four full benchmark runs its echo p99 was lower in
//               every run and echo at 1,000 connections faster in every run; the other
//               throughputs were within the noise (ARCHITECTURE.md §10).
//   kAuto       GORT_URING_READS, else kReadiness.
enum class UringReads { kAuto, kRing, kReadiness };

// A goroutine that kept its processor for Config::hog_report without yielding: a loop that makes
// no runtime call, or a blocking system call made outside gort::blocking. Either one stalls
// every goroutine queued behind it on that processor (the "blocked event loop").
struct HogReport {
  int processor = 0;
  uint64_t goroutine_id = 0;            // 0: its thread could not be sampled
  std::chrono::nanoseconds running_for{0};  // since the runtime last switched on that processor
  std::string created_at;               // "FILE:LINE in FUNCTION" (where gort::go was called)
  bool in_system_call = false;          // its thread was asleep in the kernel, not computing
  std::vector<std::string> backtrace;   // innermost first: "0xADDR SYMBOL"
  std::string to_string() const;        // the text the default sink prints
};

struct Config {
  int procs = 0;                 // 0: GORT_PROCS, else the number of CPUs this process may use;
                                 // at most 4096 (std::invalid_argument otherwise)
  size_t stack_size = 0;         // default stack reservation in bytes; 0: GORT_STACK_KB or 256 KiB
  bool migrate_on_yield = false; // debug: force a move to another processor at every yield
  std::chrono::milliseconds schedtrace{0};  // 0: off (or GORT_DEBUG=schedtrace=MS); <= 1 day
  Poller poller = Poller::kAuto;  // kAuto: GORT_POLLER, else the probe (see Poller)
  UringReads uring_reads = UringReads::kAuto;  // see UringReads
  // The hog detector: a goroutine that holds its processor this long without yielding is
  // reported once per episode, by sysmon, with a backtrace of where it is (ARCHITECTURE.md,
  // "hog detector"). 0: off, or GORT_DEBUG=hogreport=MS; at most one day. The sample of a
  // computing thread is a SIGURG sent to it (a thread asleep in a system call is read from /proc
  // instead, so its call is not interrupted); frames beyond the first need frame pointers in the
  // code they cross.
  std::chrono::milliseconds hog_report{0};
  // Where reports go, called on sysmon's thread (keep it short: sysmon waits); empty: stderr.
  std::function<void(const HogReport&)> on_hog;
  // SIGQUIT (Ctrl-\) prints gort::goroutine_dump() to stderr, then ends the process as SIGQUIT
  // does (Go's behaviour). Only while gort::run runs, and only where SIGQUIT had its default
  // action: a handler of the program's own, or SIG_IGN, is left alone.
  bool sigquit_dump = true;
  // Records a scheduling trace of the whole run and writes it here when the run ends (Chrome
  // trace-event JSON; include/gort/trace.hpp). Empty: GORT_TRACE, else no trace.
  std::string trace_file;
};

// Options for one goroutine (gort::go(opts, fn)).
struct SpawnOptions {
  size_t stack_size = 0;  // reservation for this goroutine; 0: the runtime's default
};

}  // namespace gort
