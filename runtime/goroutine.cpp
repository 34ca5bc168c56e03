// Goroutine descriptors: allocation, spawning, the entry trampoline's C++ half, and the
// description used by overflow and crash reports.
#include "runtime/goroutine.hpp"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <mutex>
#include <new>
#include <stdexcept>
#include <typeinfo>
#include <vector>

#include <cxxabi.h>
#include <sys/mman.h>

#include "gort/runtime.hpp"
#include "runtime/debugger.hpp"
#include "runtime/fatal.hpp"
#include "runtime/local_storage.hpp"
#include "runtime/sched.hpp"
#include "runtime/spin_lock.hpp"
#include "runtime/trace.hpp"

namespace gort::rt {

// Callables larger than G::kInlineClosure live in one heap block of this alignment.
constexpr size_t kHeapClosureAlign = 64;

const char* to_string(GStatus s) {
  switch (s) {
    case GStatus::kIdle: return "idle";
    case GStatus::kRunnable: return "runnable";
    case GStatus::kRunning: return "running";
    case GStatus::kWaiting: return "waiting";
    case GStatus::kBlocking: return "blocking";
    case GStatus::kDead: return "dead";
  }
  return "?";
}

void G::set_status_checked(GStatus from, GStatus to) {
  GStatus seen = status.load(std::memory_order_relaxed);
  if (seen != from) {
    fatalf("goroutine %llu: bad status transition %s -> %s (status was %s)",
           static_cast<unsigned long long>(id), to_string(from), to_string(to), to_string(seen));
  }
  // Release: a goroutine handed to another M through a queue carries its writes (the queues
  // themselves also order this); relaxed readers (dumps) only need a plausible value.
  status.store(to, std::memory_order_release);
}

// Descriptor slabs ------------------------------------------------------------------------------

namespace {

// Descriptors come in 2 MiB slabs (8,192 of them) asking for a transparent huge page: a spawn
// storm that keeps a million goroutines pending touches fresh descriptor memory, and with 4 KiB
// pages that cost one ~1.6 µs fault per 16 descriptors (measured: ~100 ns per spawn on this VM).
constexpr size_t kSlabBytes = 2u << 20;
constexpr size_t kSlabSize = kSlabBytes / sizeof(G);
constexpr uint32_t kLocalFreeMax = 128;  // per-P free list: spill half beyond this (Go: 64/32)

// The global free list is a stack of batches (sched_next-linked lists, each headed by a
// descriptor whose free_batch_next/free_batch_size name the next batch and its own length), so
// moving a batch between a P and the list is O(1) under the lock. A single list moved one node
// at a time made a refilling P walk up to 64 descriptors last written by another CPU while
// holding the lock, and the spilling P spun on it (perf, spawn at 2 procs: 4.4% of samples
// spinning in spill_to_global). Batches go out most recently freed first: their lines are the
// warmest.
struct GlobalFree {
  SpinLock mu{LockRank::kGlobalFree};
  G* batches = nullptr;
  uint64_t count = 0;
  std::vector<G*> slabs;  // append-only
};

GlobalFree& global_free() {
  static GlobalFree* gf = new GlobalFree();  // never destroyed: descriptors outlive runtimes
  return *gf;
}

// Requires gf.mu. `head` starts a sched_next-linked list of n >= 1 descriptors.
void push_batch(GlobalFree& gf, G* head, uint32_t n) {
  head->free_batch_next = gf.batches;
  head->free_batch_size = n;
  gf.batches = head;
  gf.count += n;
}

// Requires gf.mu. The most recently pushed batch, or null; *n its length.
G* pop_batch(GlobalFree& gf, uint32_t* n) {
  G* head = gf.batches;
  if (head == nullptr) return nullptr;
  gf.batches = head->free_batch_next;
  *n = head->free_batch_size;
  head->free_batch_next = nullptr;
  head->free_batch_size = 0;
  gf.count -= *n;
  return head;
}

G* map_slab() {
  // Over-map by one slab to carve an aligned 2 MiB region (THP needs the alignment).
  void* raw = mmap(nullptr, 2 * kSlabBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                   -1, 0);
  if (raw == MAP_FAILED) throw std::bad_alloc();
  uintptr_t base = reinterpret_cast<uintptr_t>(raw);
  uintptr_t aligned = (base + kSlabBytes - 1) & ~(uintptr_t{kSlabBytes} - 1);
  if (aligned > base) munmap(raw, aligned - base);
  uintptr_t end = base + 2 * kSlabBytes;
  if (end > aligned + kSlabBytes) munmap(reinterpret_cast<void*>(aligned + kSlabBytes), end - aligned - kSlabBytes);
  madvise(reinterpret_cast<void*>(aligned), kSlabBytes, MADV_HUGEPAGE);  // a hint; 4 KiB pages work too
  G* slab = reinterpret_cast<G*>(aligned);
  for (size_t i = 0; i < kSlabSize; ++i) ::new (&slab[i]) G();
  return slab;
}

// Maps and links a new slab *outside* gf.mu (zeroing a fresh huge page takes ~100 µs; under
// the spin lock that stalled the other processors), then publishes all but one descriptor, in
// batches of the size a P refills with.
G* new_slab(GlobalFree& gf) {
  G* slab = map_slab();
  constexpr size_t kBatch = kLocalFreeMax / 2;
  for (size_t i = 1; i < kSlabSize; ++i) {
    const bool batch_ends = i % kBatch == 0 || i + 1 == kSlabSize;
    slab[i].sched_next = batch_ends ? nullptr : &slab[i + 1];
  }
  std::lock_guard<SpinLock> lock(gf.mu);
  gf.slabs.push_back(slab);
  debugger_note_slabs(gf.slabs.data(), gf.slabs.size(), kSlabSize);
  for (size_t first = 1; first < kSlabSize; first += kBatch) {  // [1, 64], [65, 128], ...
    const size_t last = std::min(kSlabSize - 1, first + kBatch - 1);
    push_batch(gf, &slab[first], static_cast<uint32_t>(last - first + 1));
  }
  return &slab[0];
}

// Moves a list of n descriptors (linked through sched_next) to the global free list, releasing
// their kept stacks first: descriptors on the global list never hold a stack.
void spill_to_global(G* list, uint32_t n, StackCache* cache) {
  for (G* x = list; x; x = x->sched_next) {
    if (x->stack.valid()) {
      stack_release(x->stack, cache);
      x->stack = Stack{};
    }
  }
  GlobalFree& gf = global_free();
  std::lock_guard<SpinLock> lock(gf.mu);
  push_batch(gf, list, n);
}

P* owned_p_here() {
  M* m = current_m();
  return (m != nullptr && !m->in_blocking) ? m->p : nullptr;
}

}  // namespace

G* g_alloc() {
  GlobalFree& gf = global_free();
  P* p = owned_p_here();
  if (p == nullptr) {
    {
      std::lock_guard<SpinLock> lock(gf.mu);
      uint32_t n = 0;
      if (G* g = pop_batch(gf, &n)) {
        if (n > 1) push_batch(gf, g->sched_next, n - 1);
        g->sched_next = nullptr;
        return g;
      }
    }
    return new_slab(gf);
  }
  if (p->free_gs == nullptr) {
    {
      std::lock_guard<SpinLock> lock(gf.mu);
      // Whole batches (a thread outside the runtime frees one descriptor at a time) up to half
      // the local list's limit.
      while (p->free_gs_count < kLocalFreeMax / 2) {
        uint32_t n = 0;
        G* head = pop_batch(gf, &n);
        if (head == nullptr) break;
        if (p->free_gs != nullptr) {
          G* tail = head;
          while (tail->sched_next != nullptr) tail = tail->sched_next;
          tail->sched_next = p->free_gs;
        }
        p->free_gs = head;
        p->free_gs_count += n;
      }
    }
    if (p->free_gs == nullptr) return new_slab(gf);
  }
  G* g = p->free_gs;
  p->free_gs = g->sched_next;
  --p->free_gs_count;
  g->sched_next = nullptr;
  return g;
}

// A descriptor on a per-P free list may keep its stack (a default-size one), so the next spawn
// on that P skips the stack cache entirely (Go keeps standard-size stacks with dead Gs too).
// Descriptors on the global list never hold a stack: spilling releases them, so the scavenger
// can reach them.
void g_free(G* g) {
  g->sched_next = nullptr;
  g->locals = nullptr;
  g->locked_m = nullptr;
  g->pin_depth = 0;
  g->avoid_m = nullptr;
  g->wait_reason = nullptr;
  g->started = false;
  g->closure = nullptr;
  g->run = nullptr;
  P* p = owned_p_here();
  if (p == nullptr) {
    spill_to_global(g, 1, nullptr);
    return;
  }
  g->sched_next = p->free_gs;
  p->free_gs = g;
  if (++p->free_gs_count > kLocalFreeMax) {
    G* spill = p->free_gs;
    G* last = spill;
    uint32_t n = 1;
    while (n < kLocalFreeMax / 2) {
      last = last->sched_next;
      ++n;
    }
    p->free_gs = last->sched_next;
    p->free_gs_count -= n;
    last->sched_next = nullptr;
    spill_to_global(spill, n, &p->stacks);
  }
}

void g_free_list_return(P* p) {
  if (p->free_gs) spill_to_global(p->free_gs, p->free_gs_count, nullptr);
  p->free_gs = nullptr;
  p->free_gs_count = 0;
}

void g_slabs_visit(void (*visit)(G*, void*), void* arg) {
  GlobalFree& gf = global_free();
  std::vector<G*> slabs;
  {
    std::lock_guard<SpinLock> lock(gf.mu);
    slabs = gf.slabs;
  }
  for (G* slab : slabs) {
    for (size_t i = 0; i < kSlabSize; ++i) visit(&slab[i], arg);
  }
}

// Entry and exit ---------------------------------------------------------------------------------

namespace {

[[noreturn]] void die_uncaught(G* g, const char* type, const char* what) {
  char buf[1024];
  size_t n = 0;
  n = append_str(buf, n, sizeof buf, "gort: goroutine ");
  n = append_u64(buf, n, sizeof buf, g->id);
  n = append_str(buf, n, sizeof buf, " terminated by an uncaught exception");
  if (type) {
    n = append_str(buf, n, sizeof buf, " of type ");
    n = append_str(buf, n, sizeof buf, type);
  }
  if (what) {
    n = append_str(buf, n, sizeof buf, ": ");
    n = append_str(buf, n, sizeof buf, what);
  }
  n = append_str(buf, n, sizeof buf, "\n  goroutine ");
  n = append_u64(buf, n, sizeof buf, g->id);
  n = append_str(buf, n, sizeof buf, " was created at ");
  n = append_creation_site(g, buf, n, sizeof buf);
  n = append_str(buf, n, sizeof buf, "\n");
  write_stderr(buf, n);
  std::abort();
}

const char* current_exception_type(char* buf, size_t cap) {
  const std::type_info* t = abi::__cxa_current_exception_type();
  if (!t) return nullptr;
  int status = 0;
  char* name = abi::__cxa_demangle(t->name(), nullptr, nullptr, &status);
  size_t n = append_str(buf, 0, cap, status == 0 && name ? name : t->name());
  (void)n;
  std::free(name);
  return buf;
}

}  // namespace

void g_entry(void* arg) {
  Context::on_entry();
  current_m()->finish_switch();
  G* g = static_cast<G*>(arg);
  try {
    g->run(g->closure, true);
  } catch (const std::exception& e) {
    char type[256];
    die_uncaught(g, current_exception_type(type, sizeof type), e.what());
  } catch (...) {
    char type[256];
    die_uncaught(g, current_exception_type(type, sizeof type), nullptr);
  }
  g_exit(g);
}

void g_exit(G* g) {
  if (g->closure_on_heap) {
    ::operator delete(g->closure, std::align_val_t(kHeapClosureAlign));
    g->closure_on_heap = false;
  }
  if (g->locals != nullptr) local_storage_destroy(g);
  exit_current(g);
}

// Overflow description (async-signal-safe) ---------------------------------------------------------

namespace {

size_t describe_overflow(const char* lo, const char* hi, char* buf, size_t cap) {
  G* g = *reinterpret_cast<G* const*>(hi - 16);
  // The slot may belong to a stack that is cached, not running; only trust a plausible owner.
  if (g == nullptr || g->stack.hi != hi) {
    size_t n = append_str(buf, 0, cap, "goroutine ? stack overflow (reserved ");
    n = append_u64(buf, n, cap, static_cast<uint64_t>(hi - lo) / 1024);
    return append_str(buf, n, cap, " KiB)");
  }
  return describe_goroutine_stack(g, buf, cap);
}

}  // namespace

void install_overflow_describer() { stack_set_overflow_describer(describe_overflow); }

size_t append_creation_site(const G* g, char* buf, size_t len, size_t cap) {
  len = append_str(buf, len, cap, g->file ? g->file : "?");
  len = append_str(buf, len, cap, ":");
  len = append_u64(buf, len, cap, g->line);
  if (g->function) {
    len = append_str(buf, len, cap, " in ");
    len = append_str(buf, len, cap, g->function);
  }
  return len;
}

size_t describe_goroutine_stack(G* g, char* buf, size_t cap) {
  size_t n = append_str(buf, 0, cap, "goroutine ");
  n = append_u64(buf, n, cap, g->id);
  n = append_str(buf, n, cap, " stack overflow (reserved ");
  n = append_u64(buf, n, cap, g->stack.reserved / 1024);
  n = append_str(buf, n, cap, " KiB), created at ");
  n = append_creation_site(g, buf, n, cap);
  return n;
}

}  // namespace gort::rt

// Spawning ---------------------------------------------------------------------------------------

namespace gort::detail {

using namespace gort::rt;

namespace {
std::atomic<uint64_t> next_goid{1};
constexpr uint64_t kGoidBatch = 16;  // Go's _GoidCacheBatch
}  // namespace

PendingSpawn spawn_begin(const SpawnRequest& req) {
  // A plain thread holds the runtime from here to spawn_commit or spawn_abort (ForeignUse).
  const bool foreign = current_m() == nullptr;
  if (foreign ? foreign_enter() == nullptr : sched == nullptr) {
    throw std::logic_error("gort::go: no runtime is running (spawn goroutines inside gort::run)");
  }
  struct LeaveOnThrow {
    bool armed;
    ~LeaveOnThrow() {
      if (armed) foreign_leave();
    }
  } leave_on_throw{foreign};
  G* g = g_alloc();
  g->file = req.where.file_name();
  g->line = req.where.line();
  g->function = req.where.function_name();
  g->run = req.run;
  g->stack_request = req.options.stack_size;
  g->started = false;
  if (req.closure_size <= G::kInlineClosure && req.closure_align <= 16) {
    g->closure = g->inline_closure;
    g->closure_on_heap = false;
  } else {
    try {
      if (req.closure_align > kHeapClosureAlign) throw std::bad_alloc();
      g->closure = ::operator new(req.closure_size, std::align_val_t(kHeapClosureAlign));
    } catch (...) {
      g_free(g);
      throw;
    }
    g->closure_on_heap = true;
  }
  leave_on_throw.armed = false;
  return PendingSpawn{g, g->closure};
}

uint64_t spawn_commit(void* handle) {
  G* g = static_cast<G*>(handle);
  M* m = current_m();
  P* p = (m != nullptr && !m->in_blocking) ? m->p : nullptr;
  if (p) {
    if (p->next_id == p->end_id) {
      p->next_id = next_goid.fetch_add(kGoidBatch, std::memory_order_relaxed);
      p->end_id = p->next_id + kGoidBatch;
    }
    g->id = p->next_id++;
    count(p->spawned);
  } else {
    g->id = next_goid.fetch_add(1, std::memory_order_relaxed);
    sched->created_external.fetch_add(1, std::memory_order_relaxed);
  }
  uint64_t id = g->id;
  if (tracing()) {
    trace_record(p, TraceKind::kSpawn, id, m != nullptr && m->curg != nullptr ? m->curg->id : 0,
                 g->function, g->file, g->line);
  }
  ready_new(g);
  if (m == nullptr) foreign_leave();  // entered in spawn_begin
  return id;
}

void spawn_abort(void* handle) noexcept {
  G* g = static_cast<G*>(handle);
  if (g->closure_on_heap) ::operator delete(g->closure, std::align_val_t(kHeapClosureAlign));
  g->closure_on_heap = false;
  g_free(g);
  if (current_m() == nullptr) foreign_leave();  // entered in spawn_begin
}

}  // namespace gort::detail

namespace gort::rt {
void goid_restart() { detail::next_goid.store(1, std::memory_order_relaxed); }
}  // namespace gort::rt
