// PollDesc: the netpoller's per-fd record (Go's pollDesc), shared by both backends.
//
// Wait words. `rg` (readers) and `wg` (writers) each hold one of
//   kPdNil    nobody waits and no readiness is pending;
//   kPdReady  readiness arrived that nobody consumed yet;
//   kPdWait   a goroutine is about to park (between its check and its switch);
//   a G*      that goroutine is parked.
// At most one goroutine waits per word: the socket layer serializes readers and writers.
//
// Protocol (all on the word, seq_cst):
//   waiter  kPdReady -> kPdNil (consume, no wait) or kPdNil -> kPdWait; then reads `closing`
//           and the deadline; parks; the after-switch hook swings kPdWait -> G*. If that CAS
//           fails, readiness or an interruption came in the meantime and it is made runnable
//           again at once. Woken, it swaps the word to kPdNil: kPdReady means readiness,
//           anything else means "look again" (closing, deadline, deadline change).
//   waker   (pd_unblock) io readiness turns kPdNil/kPdWait/G* into kPdReady; an interruption
//           (close, deadline) turns kPdWait/G* into kPdNil and leaves kPdNil and kPdReady alone.
//           A G* it replaced is returned for readying: exactly one party owns the wake-up.
// Closing: `closing` is stored (seq_cst) before the words are interrupted; a waiter sets its
// word before reading `closing` (seq_cst). The store-buffering pair means either the waiter sees
// `closing` and does not park, or the closer sees its word and wakes it.
//
// Lifetime: descriptors come from a type-stable pool and are never freed to the heap. Each reuse
// bumps `seq`; backends carry (index, seq) in their event tokens and drop events whose seq is
// stale (an event for a closed fd whose number, and descriptor, were reused). A stale event that
// slips through anyway can only mark readiness, which costs the new owner one retried syscall.
#pragma once

#include <atomic>
#include <cstdint>

namespace gort::rt {
struct G;
struct M;
}

namespace gort::rt::netpoll {

enum class Mode : uint8_t { kRead = 0, kWrite = 1 };
enum class WaitResult : uint8_t { kReady, kTimeout, kClosed, kInterrupted };

constexpr uintptr_t kPdNil = 0;
constexpr uintptr_t kPdReady = 1;
constexpr uintptr_t kPdWait = 2;

// One cache line holds everything a readiness event and a stream read touch (seq, the wait
// words, closing, hangup); the io_uring bookkeeping and the pool link sit on the second. With
// a thousand connections the line is cold when its event arrives, and `hangup` on the second
// line (where it was) cost a second miss on every read after a short one: 17% of
// `Socket::io`'s samples at echo 1,000 under epoll.
struct alignas(64) PollDesc {
  int fd = -1;
  uint32_t index = 0;                  // position in the pool (event token)
  std::atomic<uint32_t> seq{0};        // bumped at every reuse
  std::atomic<bool> closing{false};
  // The peer ended its side or the socket failed (EPOLLRDHUP/HUP/ERR seen): sticky, so a read
  // after a short read still makes the syscall that returns 0 or the error (socket.hpp).
  std::atomic<bool> hangup{false};
  // io_uring backend: the fd's readiness is watched in epoll (set at the first readiness wait;
  // until then epoll knows the fd without interest, so ring traffic raises no epoll events).
  std::atomic<bool> watched{false};
  bool registered = false;             // the backend knows the fd (epoll: added)
  std::atomic<uintptr_t> rg{kPdNil};
  std::atomic<uintptr_t> wg{kPdNil};
  PollDesc* next_free = nullptr;       // pool free list (pool lock)
  std::atomic<int32_t> ring_ops{0};    // io_uring operations in flight on this fd (cancel)
  // Bumped by every deadline change (pd_interrupt): an operation prepared with an older value
  // is not submitted (its deadline may be stale) but retried. Protocol in uring_backend.cpp.
  std::atomic<uint32_t> ring_gen[2] = {};
  // The io_uring operation in flight per direction (readers and writers are serialized): the M
  // whose ring holds it and its user_data, so another thread can ask that M to cancel it (a
  // deadline change, close). Null when none; cleared at shutdown with the waiters.
  std::atomic<M*> ring_m[2] = {};
  std::atomic<uint64_t> ring_op[2] = {};

  std::atomic<uintptr_t>& word(Mode m) { return m == Mode::kRead ? rg : wg; }
  // (seq, index); seq keeps 31 bits so the top bit stays free for backend-private tokens.
  uint64_t token() const {
    return (static_cast<uint64_t>(seq.load(std::memory_order_relaxed) & 0x7fffffffu) << 32) |
           index;
  }
};

// A descriptor for fd, registered with the active backend. Null with errno-style error in *err
// when the backend refuses the fd (e.g. ENOMEM, or EPERM for a regular file under epoll).
PollDesc* pd_open(int fd, int* err);
// Unregisters and recycles (every waiter must have left; see the socket layer's close). A
// descriptor whose fd number was closed under it and registered again by another (a Pollable
// released after its owner closed the fd) leaves that registration alone.
void pd_close(PollDesc* pd);
// Whether pd still holds its fd number's registration (false: see pd_close).
bool pd_owns_fd(PollDesc* pd);
// The descriptor a backend token names, or null when it is stale.
PollDesc* pd_from_token(uint64_t token);

// Parks the running goroutine until the fd is ready for `mode`, the deadline (CLOCK_MONOTONIC
// ns, INT64_MAX for none) passes, or the descriptor is closed or interrupted.
WaitResult pd_wait(PollDesc* pd, Mode mode, int64_t deadline_ns);
// The waker side: returns the goroutine to ready, or null. It still counts as a waiter until it
// is runnable: ready it with ready_waiter (or inject_glist for a list).
G* pd_unblock(PollDesc* pd, Mode mode, bool ioready);
void ready_waiter(G* g);
// Marks the descriptor closing and wakes every waiter (they return kClosed).
void pd_evict(PollDesc* pd);
// Wakes a waiter of `mode` so it re-reads its deadline (kInterrupted).
void pd_interrupt(PollDesc* pd, Mode mode);
// Shutdown: forget every parked goroutine (they are abandoned with the runtime).
void pd_forget_all_waiters();

}  // namespace gort::rt::netpoll
