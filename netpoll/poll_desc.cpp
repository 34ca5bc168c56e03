// PollDesc pool and the wait/wake protocol described in poll_desc.hpp.
#include "netpoll/poll_desc.hpp"

#include <cerrno>
#include <cstddef>
#include <mutex>
#include <vector>

#include "netpoll/backend.hpp"
#include "netpoll/netpoll.hpp"
#include "runtime/machine.hpp"
#include "runtime/sched.hpp"
#include "runtime/spin_lock.hpp"
#include "runtime/timer.hpp"

namespace gort::rt::netpoll {

// The layout promise of poll_desc.hpp: what every event and stream read touches shares a line.
static_assert(offsetof(PollDesc, wg) + sizeof(PollDesc::wg) <= 64 &&
                  offsetof(PollDesc, hangup) < 64 && offsetof(PollDesc, seq) < 64,
              "PollDesc's hot fields left its first cache line");

namespace {

// Chunks of descriptors, never freed: an index stays valid for the life of the process, so a
// stale event token can always be looked up and rejected by its seq.
constexpr uint32_t kChunkBits = 10;
constexpr uint32_t kChunkSize = 1u << kChunkBits;
constexpr uint32_t kMaxChunks = 1u << 14;  // 16 M descriptors

struct Pool {
  SpinLock mu{LockRank::kPollDescPool};
  PollDesc* free = nullptr;
  uint32_t used_chunks = 0;                     // under mu
  std::atomic<PollDesc*> chunks[kMaxChunks] = {};  // published with release, read acquire
};
Pool& pool() {
  static Pool* p = new Pool;  // never destroyed: tokens may be looked up during exit
  return *p;
}

PollDesc* pool_get() {
  Pool& pl = pool();
  std::lock_guard<SpinLock> lock(pl.mu);
  if (pl.free == nullptr) {
    if (pl.used_chunks == kMaxChunks) return nullptr;
    uint32_t c = pl.used_chunks++;
    auto* chunk = new PollDesc[kChunkSize];
    for (uint32_t i = kChunkSize; i > 0; --i) {
      chunk[i - 1].index = (c << kChunkBits) | (i - 1);
      chunk[i - 1].next_free = pl.free;
      pl.free = &chunk[i - 1];
    }
    pl.chunks[c].store(chunk, std::memory_order_release);
  }
  PollDesc* pd = pl.free;
  pl.free = pd->next_free;
  pd->next_free = nullptr;
  return pd;
}

void pool_put(PollDesc* pd) {
  Pool& pl = pool();
  std::lock_guard<SpinLock> lock(pl.mu);
  pd->next_free = pl.free;
  pl.free = pd;
}

// Which descriptor holds each fd number's registration. A Pollable does not own its fd: its
// owner may close the fd before the Pollable lets go (the wrong order, and an easy one), and the
// number may be reused meanwhile by a socket that registered itself. epoll keys registrations
// by number and file, so the stale release would remove the newcomer's, whose waits would then
// never wake. A descriptor removes its registration only while its number's slot still names it.
// Slot values: 0, a PollDesc*, or one with kSlotBusy set while its add or remove runs, which
// orders the add and remove calls on one number (a waiter spins: both are one short syscall).
// Chunks are allocated on first use and never freed; numbers are dense and small.
constexpr uintptr_t kSlotBusy = 1;
constexpr uint32_t kSlotChunkBits = 12;
constexpr uint32_t kSlotChunks = 1u << 14;  // fd numbers below 64 M
struct FdSlots {
  std::atomic<std::atomic<uintptr_t>*> chunks[kSlotChunks] = {};
};
FdSlots& fd_slots() {
  static FdSlots* t = new FdSlots;  // never destroyed, like the pool
  return *t;
}

// Null for a number beyond the table (then nothing is tracked for it).
std::atomic<uintptr_t>* fd_slot(int fd) {
  const auto n = static_cast<uint32_t>(fd);
  if (fd < 0 || (n >> kSlotChunkBits) >= kSlotChunks) return nullptr;
  std::atomic<std::atomic<uintptr_t>*>& c = fd_slots().chunks[n >> kSlotChunkBits];
  std::atomic<uintptr_t>* chunk = c.load(std::memory_order_acquire);
  if (chunk == nullptr) {
    auto* fresh = new std::atomic<uintptr_t>[size_t{1} << kSlotChunkBits]();
    if (c.compare_exchange_strong(chunk, fresh, std::memory_order_acq_rel)) {
      chunk = fresh;
    } else {
      delete[] fresh;  // another thread installed one: chunk holds it
    }
  }
  return &chunk[n & ((1u << kSlotChunkBits) - 1)];
}

// Marks the slot busy and returns what it held.
uintptr_t slot_lock(std::atomic<uintptr_t>* slot) {
  uintptr_t v = slot->load(std::memory_order_acquire);
  for (;;) {
    if (v & kSlotBusy) {
      cpu_relax();
      v = slot->load(std::memory_order_acquire);
    } else if (slot->compare_exchange_weak(v, v | kSlotBusy, std::memory_order_acq_rel)) {
      return v;
    }
  }
}

struct WaitArgs {
  PollDesc* pd;
  Mode mode;
};

// After the switch: commit to waiting (kPdWait -> G*). Failing means a wake-up raced with the
// park; the goroutine is runnable again at once.
void commit_wait(G* g, void* arg) {
  auto* a = static_cast<WaitArgs*>(arg);
  uintptr_t expected = kPdWait;
  if (a->pd->word(a->mode).compare_exchange_strong(expected, reinterpret_cast<uintptr_t>(g),
                                                   std::memory_order_seq_cst)) {
    waiter_added();
    return;
  }
  ready(g);
}

void on_deadline(void* arg, uint64_t) {
  auto* a = static_cast<WaitArgs*>(arg);
  if (G* g = pd_unblock(a->pd, a->mode, /*ioready=*/false)) ready_waiter(g);
}

}  // namespace

void ready_waiter(G* g) {
  ready(g);
  waiter_removed();
}

PollDesc* pd_open(int fd, int* err) {
  PollDesc* pd = pool_get();
  if (pd == nullptr) {
    *err = ENOMEM;
    return nullptr;
  }
  pd->fd = fd;
  pd->rg.store(kPdNil, std::memory_order_relaxed);
  pd->wg.store(kPdNil, std::memory_order_relaxed);
  pd->closing.store(false, std::memory_order_relaxed);
  pd->hangup.store(false, std::memory_order_relaxed);
  pd->watched.store(false, std::memory_order_relaxed);
  pd->registered = false;
  Backend* b = backend();
  if (b == nullptr) {
    *err = ENOTSUP;
    pool_put(pd);
    return nullptr;
  }
  std::atomic<uintptr_t>* slot = fd_slot(fd);
  const uintptr_t before = slot ? slot_lock(slot) : 0;
  int e = b->add(pd);
  // Failed (EEXIST: another live Pollable holds the fd): the slot keeps what it named.
  if (slot) slot->store(e == 0 ? reinterpret_cast<uintptr_t>(pd) : before, std::memory_order_release);
  if (e != 0) {
    *err = e;
    pd->seq.fetch_add(1, std::memory_order_release);
    pool_put(pd);
    return nullptr;
  }
  pd->registered = true;
  announce();
  return pd;
}

bool pd_owns_fd(PollDesc* pd) {
  std::atomic<uintptr_t>* slot = fd_slot(pd->fd);
  return slot == nullptr || slot->load(std::memory_order_acquire) == reinterpret_cast<uintptr_t>(pd);
}

void pd_close(PollDesc* pd) {
  if (pd->registered) {
    std::atomic<uintptr_t>* slot = fd_slot(pd->fd);
    uintptr_t mine = reinterpret_cast<uintptr_t>(pd);
    if (slot == nullptr) {
      backend()->remove(pd);
    } else if (slot->compare_exchange_strong(mine, mine | kSlotBusy, std::memory_order_acq_rel)) {
      backend()->remove(pd);
      slot->store(0, std::memory_order_release);
    }
    // Else the number was closed under this descriptor and registered by another since: the
    // kernel dropped this registration with the file, and the one there now is the other's.
  }
  pd->registered = false;
  pd->fd = -1;
  // A new seq makes events still queued for this registration stale.
  pd->seq.fetch_add(1, std::memory_order_release);
  pool_put(pd);
}

PollDesc* pd_from_token(uint64_t token) {
  const uint32_t index = static_cast<uint32_t>(token);
  const uint32_t chunk = index >> kChunkBits;
  if (chunk >= kMaxChunks) return nullptr;
  PollDesc* c = pool().chunks[chunk].load(std::memory_order_acquire);
  if (c == nullptr) return nullptr;
  PollDesc* pd = &c[index & (kChunkSize - 1)];
  if ((pd->seq.load(std::memory_order_acquire) & 0x7fffffffu) != static_cast<uint32_t>(token >> 32)) {
    return nullptr;
  }
  return pd;
}

G* pd_unblock(PollDesc* pd, Mode mode, bool ioready) {
  std::atomic<uintptr_t>& w = pd->word(mode);
  uintptr_t old = w.load(std::memory_order_seq_cst);
  for (;;) {
    if (old == kPdReady) return nullptr;                // already signalled
    if (old == kPdNil && !ioready) return nullptr;      // nobody to interrupt
    const uintptr_t next = ioready ? kPdReady : kPdNil;
    if (w.compare_exchange_weak(old, next, std::memory_order_seq_cst)) break;
  }
  if (old == kPdNil || old == kPdWait) return nullptr;  // the waiter has not parked: it sees it
  // Still counted as a waiter: the caller uncounts it once it is runnable (ready_waiter, or
  // inject_glist for a poller's list), so deadlock detection never sees it in neither place.
  return reinterpret_cast<G*>(old);
}

WaitResult pd_wait(PollDesc* pd, Mode mode, int64_t deadline_ns) {
  backend()->before_wait(pd);
  std::atomic<uintptr_t>& w = pd->word(mode);
  uintptr_t old = w.load(std::memory_order_seq_cst);
  for (;;) {
    if (old == kPdReady) {
      if (w.compare_exchange_weak(old, kPdNil, std::memory_order_seq_cst)) return WaitResult::kReady;
      continue;
    }
    // kPdNil (a second waiter on one word is a socket-layer bug: it serializes them).
    if (w.compare_exchange_weak(old, kPdWait, std::memory_order_seq_cst)) break;
  }
  // Not waiting after all. A failed CAS means readiness arrived meanwhile (kPdReady): it stays
  // for the next wait.
  auto give_up = [&](WaitResult r) {
    uintptr_t expected = kPdWait;
    w.compare_exchange_strong(expected, kPdNil, std::memory_order_seq_cst);
    return r;
  };
  if (pd->closing.load(std::memory_order_seq_cst)) return give_up(WaitResult::kClosed);
  if (deadline_ns != kNoTimer && deadline_ns <= now_ns()) return give_up(WaitResult::kTimeout);

  M* m = current_m();
  G* g = m->curg;
  WaitArgs args{pd, mode};
  Timer timer{};
  const bool timed = deadline_ns != kNoTimer;
  if (timed) {
    timer.when_ns = deadline_ns;
    timer.fn = on_deadline;
    timer.arg = &args;
    timer_start(&timer);
  }
  g->wait_reason = mode == Mode::kRead ? "IO wait (read)" : "IO wait (write)";
  g->set_status(GStatus::kRunning, GStatus::kWaiting);
  park_nolock(commit_wait, &args);
  g->wait_reason = nullptr;
  if (timed) timer_stop(&timer);  // waits for a firing callback to finish with `args`
  old = w.exchange(kPdNil, std::memory_order_seq_cst);
  if (old == kPdReady) return WaitResult::kReady;
  if (pd->closing.load(std::memory_order_seq_cst)) return WaitResult::kClosed;
  if (timed && deadline_ns <= now_ns()) return WaitResult::kTimeout;
  return WaitResult::kInterrupted;
}

void pd_evict(PollDesc* pd) {
  pd->closing.store(true, std::memory_order_seq_cst);
  // Operations the kernel runs for us (io_uring) end early; their goroutines then see `closing`.
  if (pd->ring_ops.load(std::memory_order_seq_cst) > 0) {
    backend()->cancel_op(pd, Mode::kRead);
    backend()->cancel_op(pd, Mode::kWrite);
  }
  if (G* g = pd_unblock(pd, Mode::kRead, false)) ready_waiter(g);
  if (G* g = pd_unblock(pd, Mode::kWrite, false)) ready_waiter(g);
}

void pd_interrupt(PollDesc* pd, Mode mode) {
  // An io_uring operation carries the deadline it was submitted with: cancel it, and its
  // goroutine resubmits with the new one (or times out). The new deadline is stored already.
  pd->ring_gen[static_cast<int>(mode)].fetch_add(1, std::memory_order_seq_cst);
  if (pd->ring_ops.load(std::memory_order_seq_cst) > 0) backend()->cancel_op(pd, mode);
  if (G* g = pd_unblock(pd, mode, false)) ready_waiter(g);
}

void pd_forget_all_waiters() {
  Pool& pl = pool();
  std::lock_guard<SpinLock> lock(pl.mu);
  for (uint32_t c = 0; c < pl.used_chunks; ++c) {
    PollDesc* chunk = pl.chunks[c].load(std::memory_order_acquire);
    for (uint32_t i = 0; i < kChunkSize; ++i) {
      for (auto* w : {&chunk[i].rg, &chunk[i].wg}) {
        uintptr_t v = w->load(std::memory_order_relaxed);
        if (v != kPdNil && v != kPdReady) w->store(kPdNil, std::memory_order_relaxed);
      }
      // Operations of abandoned goroutines never clear these, and their Ms are about to go.
      for (auto& m : chunk[i].ring_m) m.store(nullptr, std::memory_order_relaxed);
    }
  }
}

}  // namespace gort::rt::netpoll
