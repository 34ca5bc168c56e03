// Runtime configuration for gort::run. Environment variables override nothing set explicitly
// here; they fill in what is left at its default (like GOMAXPROCS / GODEBUG):
//   GORT_PROCS=N            processors when Config::procs == 0 (else the CPU count)
//   GORT_STACK_KB=N         default stack reservation when Config::stack_size == 0
//   GORT_DEBUG=migrate=1    every yield moves the goroutine to another processor (tests)
//   GORT_DEBUG=schedtrace=MS  print one scheduler line every MS milliseconds to stderr
//   GORT_POLLER=auto|epoll|io_uring  the netpoller backend when Config::poller is kAuto
#pragma once

#include <chrono>
#include <cstddef>

namespace gort {

// The netpoller's backend. kAuto: io_uring when its probe passes (the kernel allows rings and has
// the operations gort uses), else epoll; the choice and the reason are printed once. Asking for
// io_uring where it is unavailable makes gort::run fail with a message saying why.
enum class Poller { kAuto, kEpoll, kIoUring };

struct Config {
  int procs = 0;                 // 0: GORT_PROCS, else the number of CPUs this process may use
  size_t stack_size = 0;         // default stack reservation in bytes; 0: GORT_STACK_KB or 256 KiB
  bool migrate_on_yield = false; // debug: force a move to another processor at every yield
  std::chrono::milliseconds schedtrace{0};  // 0: off (or GORT_DEBUG=schedtrace=MS)
  Poller poller = Poller::kAuto;  // kAuto: GORT_POLLER, else the probe (see Poller)
};

// Options for one goroutine (gort::go(opts, fn)).
struct SpawnOptions {
  size_t stack_size = 0;  // reservation for this goroutine; 0: the runtime's default
};

}  // namespace gort
