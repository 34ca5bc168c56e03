// M: an OS thread that runs goroutines while it holds a P. Its own thread stack is its g0
// context: the scheduler loop runs there when an M has nothing at hand (stealing, parking).
//
// Switching model: a goroutine that gives up its thread switches *directly* to the next runnable
// goroutine when its P has one (one switch, no detour through g0); otherwise to g0. What must
// happen only after the old context is saved (requeue it, release the lock of the wait queue it
// joined, free its stack) is left in M::after_switch and run by whichever context resumes next
// on this M, before any other code (finish_switch). That is what makes direct switching safe:
// nobody can see the old goroutine as runnable or waiting before its registers are stored.
#pragma once

#include <atomic>
#include <cstdint>
#include <pthread.h>
#include <vector>

#include "runtime/context.hpp"
#include "runtime/eh_state.hpp"
#include "runtime/goroutine.hpp"
#include "runtime/park.hpp"
#include "runtime/spin_lock.hpp"

namespace gort::rt {

struct P;

// Work to do on the next context after a switch.
struct AfterSwitch {
  void (*fn)(G* prev, void* arg) = nullptr;
  G* prev = nullptr;
  void* arg = nullptr;
};

struct alignas(64) M {
  int id = 0;
  pthread_t thread{};
  int32_t tid = 0;              // the kernel's id of the thread (gettid), for the hog detector
  bool is_main_thread = false;  // M0: the thread that called gort::run
  Context g0;
  EhState g0_eh;                // g0's exception-handling state while a goroutine runs
  EhState* eh_globals = nullptr;  // this thread's __cxa_eh_globals (eh_state.hpp)
  G* curg = nullptr;            // goroutine running on this M
  P* p = nullptr;               // held P
  P* nextp = nullptr;           // P handed over by startm before unpark
  M* idle_next = nullptr;       // idle M list (sched lock)
  Parker parker;
  bool spinning = false;        // looking for work to steal (counted in Sched::nmspinning)
  std::atomic<bool> in_poll{false};  // blocked (or about to block) in epoll_wait: wake_m
  bool in_blocking = false;
  uint32_t blocking_nest = 0;   // nested gort::blocking() calls inside the outermost one
  AfterSwitch after_switch;
  G* locked_g = nullptr;        // ThreadPin: the goroutine this M is reserved for
  G* next_locked = nullptr;     // that goroutine, handed back by another M before unpark()
  G* pinned_elsewhere = nullptr;  // own M only: a popped G that must go to its locked M
  G* deferred = nullptr;        // own M only: a popped G for g0 to start (see switch_out)
  bool deferred_inherit = false;
  uint64_t rand_state = 0;
  void* io_ring = nullptr;      // the netpoller's ring of this thread (io_uring backend), or null
  bool io_ring_failed = false;  // the kernel refused one: this M uses the readiness path
  // Cancel requests for operations in this M's ring from other threads (only the owner can
  // submit to it): user_data values, taken by the owner at its next look at the ring.
  SpinLock ring_mail_lock{LockRank::kRingMail};
  std::vector<uint64_t> ring_mail;              // under ring_mail_lock
  std::atomic<bool> ring_mail_pending{false};   // set after a push (seq_cst), before wake_m

  void finish_switch() {
    AfterSwitch a = after_switch;
    after_switch = AfterSwitch{};
    if (a.fn) a.fn(a.prev, a.arg);
  }
  uint32_t fastrand() {  // xorshift64*: steal order and select shuffling, not security
    rand_state ^= rand_state >> 12;
    rand_state ^= rand_state << 25;
    rand_state ^= rand_state >> 27;
    return static_cast<uint32_t>((rand_state * 0x2545F4914F6CDD1DULL) >> 32);
  }
};

// The calling thread's M, or null outside runtime threads. Out of line and `noipa` on purpose:
// a goroutine may resume on another thread after any call, and the compiler would otherwise keep
// the first thread's TLS address in a register across the switch (probes Q5).
M* current_m() noexcept;
void set_current_m(M* m) noexcept;
// The running goroutine, or null (g0 or a foreign thread).
G* current_g() noexcept;
// The running goroutine when it may park, or null when the caller must block its thread
// instead: not a runtime thread, or inside gort::blocking() (on the M's own stack).
G* parkable_g() noexcept;

}  // namespace gort::rt
