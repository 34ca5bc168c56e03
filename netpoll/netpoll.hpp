// The netpoller as the scheduler sees it (DESIGN §4): a process-wide poller, created when the
// first runtime starts, that parks goroutines on fds and hands them back when ready.
//
// Scheduler integration (sched.cpp):
//   - find_runnable polls without blocking when goroutines wait on fds and no M is blocked in
//     the poller (that M would get the events anyway);
//   - one idle M, the fd watcher, blocks in the poller (until the earliest timer if it also holds
//     the timer role) while no P runs goroutines; the others sleep on their futexes;
//   - sysmon polls when nobody has for 10 ms, so fds are served while every P runs busy code,
//     and after 1 ms while a P idles (then it asks idle Ms to watch for a while);
//   - goroutines waiting on fds keep deadlock detection quiet.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

#include "gort/config.hpp"

namespace gort::rt {
struct G;
struct M;
}

namespace gort::rt::netpoll {

class Backend;
enum class OpKind : uint8_t;

// Chooses and starts the backend on the first call (GORT_POLLER / Config::poller; logs the
// choice once); later calls check the request against the backend in use. Throws
// std::runtime_error when an explicit request cannot be met (e.g. io_uring refused).
void init(const Config& config);
bool active();                      // a backend exists
// Whether this kernel can run the io_uring backend (its probe), without choosing a backend;
// *why says what is missing.
bool io_uring_available(std::string* why);
// With GORT_POLLER=auto: prints, once per process, which backend auto chose and why. Called
// at the first fd registration, so programs that never touch the network stay quiet.
void announce();
Backend* backend();
const char* backend_name();         // "epoll", "io_uring" or "none"
// Whether an operation of this kind goes into the ring (the backend runs operations, and for
// stream reads Config::uring_reads of the current run is kRing, not the default). Else: the
// readiness loop.
bool runs_in_ring(OpKind kind);

// Goroutines parked on fds (deadlock detection; whether polling is worth a syscall).
int64_t waiters();
void waiter_added();
void waiter_removed();

// Of those, the ones waiting for a ring operation (io_uring) rather than readiness; the rest
// is what a non-blocking epoll poll can find.
void ring_waiter_added();
void ring_waiter_removed();
int64_t readiness_waiters();

// Polls (0: non-blocking; -1: until woken; else ns) and returns the ready goroutines, still
// kWaiting, linked through G::sched_next; *n is their count.
G* poll(int64_t timeout_ns, uint32_t* n);

// Per-M rings (io_uring backend; no-ops otherwise). All of these run on m's own thread. An M
// with a ring (M::io_ring set) must sleep through park_m: its completions wake it there.
// Submits m's queued ring operations and collects its completions, without blocking.
G* poll_own(M* m, uint32_t* n);
// Sleeps in m's ring until unparked, a completion, the timeout (-1: none) or, with
// `watch_fds`, readiness in the epoll set (the fd watcher, sched.cpp). Leaves the permit.
G* park_m(M* m, int64_t timeout_ns, bool watch_fds, uint32_t* n);
// Before m blocks its thread: its in-flight operations end (cancelled) and their goroutines
// come back to be readied; they resubmit elsewhere.
G* release_ring_ops(M* m, uint32_t* n);
// m's thread ends: drains and closes its ring.
void thread_exit(M* m);
// Breaks a blocked poll() (any thread).
void wake_poller();
// After a runtime stopped: drops every parked goroutine from the descriptors (they were
// abandoned) so nothing readies them later.
void forget_waiters();
// CLOCK_MONOTONIC of the last poll (sysmon's 10 ms rule), 0 while an M is blocked in one.
int64_t last_poll_ns();

}  // namespace gort::rt::netpoll
