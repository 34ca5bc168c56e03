// Goroutine stacks: arenas, size classes, per-P caches, the global pool, the scavenger and the
// overflow handler. See stack.hpp for the model and DESIGN §3 for the reasons behind it.
#include "runtime/stack.hpp"

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <vector>

#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include "runtime/config.hpp"
#include "runtime/fatal.hpp"
#include "runtime/lock_rank.hpp"

#if defined(GORT_ASAN) || defined(__SANITIZE_ADDRESS__)
#define GORT_STACK_ASAN 1
extern "C" {
void* __asan_region_is_poisoned(void* beg, size_t size);
void __asan_unpoison_memory_region(const volatile void* addr, size_t size);
}
#endif

namespace gort::rt {
namespace {

// Linux >= 6.13. Not in Debian 12's headers, hence the literal.
constexpr int kMadvGuardInstall = 102;

constexpr size_t kMinClassShift = 14;  // 16 KiB: smallest per-goroutine reservation
constexpr size_t kMaxClassShift = 40;  // 1 TiB: larger requests fail
constexpr size_t kMaxClasses = 64;     // distinct usable sizes ever requested
constexpr uint32_t kClassMask = 0xff;
constexpr uint32_t kCanaryFlag = 0x100;  // in Stack::size_class: slot has no guard, only a canary

// Arenas of a class start small (a program with ten goroutines should not reserve a GiB) and
// double up to kMaxArenaSlots slots or kMaxArenaBytes, so that 1 M default stacks take about 250
// arenas. A slot larger than kMaxArenaBytes gets an arena of its own.
constexpr size_t kFirstArenaSlots = 64;
constexpr size_t kMaxArenaSlots = 4096;
constexpr size_t kMaxArenaBytes = size_t{1} << 30;
constexpr size_t kMaxArenas = size_t{1} << 16;

constexpr size_t kAltStackSize = 64 * 1024;

// The mprotect budget never leaves less than this many VMAs to the rest of the program.
constexpr size_t kMinVmaMargin = 4096;

constexpr uint64_t kCanaryBase = 0x6a09e667f3bcc908ULL;

// ---- arena registry: read lock-free by the SIGSEGV handler ----------------------------------
//
// Invariants:
//   * g_arenas[0, g_arena_count) are fully written and never change again; arenas are never
//     unmapped (slots are recycled, a huge one included), so a published descriptor stays true
//     for the life of the process.
//   * Appenders are serialized by ArenaRegistryMutex(); each writes descriptor n with plain
//     stores and then publishes it with g_arena_count.store(n + 1, release).
//   * The handler loads g_arena_count with acquire and reads only entries below it, so it sees
//     complete descriptors. It takes no lock: the faulting thread may hold any lock at the fault.
//     A thread can only run on a slot it obtained through the pool/cache after the arena was
//     published, so the arena of any stack that overflows is always visible to its own thread.
//   * std::atomic<size_t> is lock-free here (static_assert below), hence usable in a handler.
struct ArenaDesc {
  uintptr_t base;
  size_t size;
  size_t slot_size;  // guard + usable
  size_t guard;
};
ArenaDesc g_arenas[kMaxArenas];
std::atomic<size_t> g_arena_count{0};
static_assert(std::atomic<size_t>::is_always_lock_free);
static_assert(std::atomic<OverflowDescriber>::is_always_lock_free);

std::atomic<OverflowDescriber> g_describer{nullptr};
struct sigaction g_prev_segv;  // written once before our handler is installed

// ---- global state (mutex-protected unless atomic) -------------------------------------------

size_t g_page = 4096;

// One pooled stack. `gen` is the scavenge epoch at which it entered the pool.
struct PoolEntry {
  char* lo;
  uint32_t flags;  // Stack::size_class bits beyond the class index (kCanaryFlag)
  uint32_t gen;
};

struct SizeClass {
  size_t usable = 0;
  size_t slot = 0;  // guard + usable
  RankedMutex mu{LockRank::kStackSizeClass};
  // `hot` is a LIFO of released stacks; pushes append with the current epoch, which never
  // decreases, and pops take from the back, so `gen` is non-decreasing from bottom to top: the
  // scavenger finds the stacks idle for a whole period as a prefix.
  std::vector<PoolEntry> hot;
  std::vector<PoolEntry> cold;  // scavenged: their pages were given back
  char* carve_base = nullptr;   // arena being carved
  size_t carve_next = 0;
  size_t carve_slots = 0;
  size_t next_arena_slots = kFirstArenaSlots;
};

struct State {
  RankedMutex init_mu{LockRank::kStackInit};
  RankedMutex class_mu{LockRank::kStackClassCreate};  // creation of size classes
  RankedMutex arena_mu{LockRank::kStackArena};        // appends to g_arenas
  RankedMutex cache_mu{LockRank::kStackCacheList};    // the StackCache registry
  RankedMutex scavenge_mu{LockRank::kStackScavenge};
  SizeClass classes[kMaxClasses];
  StackCache* caches = nullptr;  // registry head
};

// Never destroyed: StackCaches owned by static objects may flush into it during exit.
State& S() {
  static State* s = new State();
  return *s;
}

std::atomic<bool> g_inited{false};
std::atomic<uint32_t> g_class_count{0};  // classes[0, count) have their usable/slot set
std::atomic<uint32_t> g_default_class{0};
std::atomic<uint32_t> g_epoch{0};

GuardMode g_probed_mode = GuardMode::kCanary;  // what the kernel allows; set once under init_mu
std::atomic<GuardMode> g_mode{GuardMode::kCanary};
std::atomic<size_t> g_mprotect_budget{0};
std::atomic<bool> g_budget_exhausted_reported{false};

std::atomic<uint64_t> g_arenas_mapped{0};
std::atomic<uint64_t> g_bytes_reserved{0};
std::atomic<uint64_t> g_carved{0};
std::atomic<uint64_t> g_pooled{0};  // hot + cold + those the scavenger is working on
std::atomic<uint64_t> g_scavenged{0};
std::atomic<uint64_t> g_guarded{0};
std::atomic<uint64_t> g_canaried{0};

size_t round_up(size_t n, size_t to) { return (n + to - 1) / to * to; }

void say(const char* s) { write_stderr(s, std::strlen(s)); }

size_t append_hex(char* buf, size_t len, size_t cap, uintptr_t v) {
  char tmp[2 + 16 + 1];
  size_t n = 0;
  tmp[n++] = '0';
  tmp[n++] = 'x';
  bool started = false;
  for (int shift = 60; shift >= 0; shift -= 4) {
    unsigned d = (v >> shift) & 0xf;
    if (d != 0 || started || shift == 0) {
      tmp[n++] = "0123456789abcdef"[d];
      started = true;
    }
  }
  tmp[n] = '\0';
  return append_str(buf, len, cap, tmp);
}

// ---- guard mode ------------------------------------------------------------------------------

size_t count_mappings() {
  int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  char buf[1 << 14];
  size_t lines = 0;
  ssize_t n;
  while ((n = read(fd, buf, sizeof buf)) > 0) lines += std::count(buf, buf + n, '\n');
  close(fd);
  return lines;
}

size_t read_max_map_count() {
  int fd = open("/proc/sys/vm/max_map_count", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 65530;  // the kernel's default
  char buf[32] = {};
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return 65530;
  unsigned long long v = std::strtoull(buf, nullptr, 10);
  return v == 0 ? 65530 : static_cast<size_t>(v);
}

// An mprotect guard in the middle of an arena splits one VMA into three: +2 per guard. Guards
// get half of the headroom left under vm.max_map_count (about 16 k stacks at the default
// 65530): the other half stays with the program (malloc arenas, thread stacks, libraries, files
// it maps), which would otherwise meet ENOMEM far from its cause.
size_t mprotect_guard_budget() {
  size_t max = read_max_map_count();
  size_t used = count_mappings();
  if (max <= used + 2 * kMinVmaMargin) return 0;
  return (max - used) / 2 / 2;
}

bool guard_install_works() {
  void* p = mmap(nullptr, 2 * g_page, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) return false;
  bool ok = madvise(p, g_page, kMadvGuardInstall) == 0;
  munmap(p, 2 * g_page);
  return ok;
}

void probe_guard_mode() {
  // Throws on an unknown value only when the stack system is used before gort::run (which
  // checks the variable first, in resolve_config): a typo must not quietly mean "best mode".
  const StackGuardRequest want = stack_guard_request();
  bool want_mprotect = want == StackGuardRequest::kMprotect;
  bool want_canary = want == StackGuardRequest::kCanary;
  char line[256];
  size_t n = 0;
  if (!want_mprotect && !want_canary && guard_install_works()) {
    g_probed_mode = GuardMode::kGuardInstall;
  } else if (!want_canary && (g_mprotect_budget = mprotect_guard_budget()) > 0) {
    g_probed_mode = GuardMode::kMprotect;
    n = append_str(line, 0, sizeof line,
                   want_mprotect ? "gort: GORT_STACK_GUARD=mprotect"
                                 : "gort: MADV_GUARD_INSTALL unavailable (kernel < 6.13)");
    n = append_str(line, n, sizeof line, "; using mprotect guard pages for up to ");
    n = append_u64(line, n, sizeof line, g_mprotect_budget.load());
    n = append_str(line, n, sizeof line, " stacks, then unguarded stacks with canaries\n");
  } else {
    g_probed_mode = GuardMode::kCanary;
    n = append_str(line, 0, sizeof line,
                   want_canary ? "gort: GORT_STACK_GUARD=canary"
                               : "gort: no guard pages available (no MADV_GUARD_INSTALL, no "
                                 "VMA budget left for mprotect)");
    n = append_str(line, n, sizeof line,
                   "; stacks are unguarded, overflow is detected by canaries at switches\n");
  }
  g_mode.store(g_probed_mode, std::memory_order_relaxed);
  if (n > 0) write_stderr(line, n);
}

// Takes one guard from the mprotect budget; false when it is spent.
bool take_mprotect_budget() {
  size_t b = g_mprotect_budget.load(std::memory_order_relaxed);
  while (b > 0) {
    if (g_mprotect_budget.compare_exchange_weak(b, b - 1, std::memory_order_relaxed)) return true;
  }
  return false;
}

void report_budget_exhausted() {
  if (!g_budget_exhausted_reported.exchange(true, std::memory_order_relaxed)) {
    say("gort: mprotect guard budget (vm.max_map_count) exhausted; new goroutine stacks are "
        "unguarded, with canaries\n");
  }
}

// ---- canary ----------------------------------------------------------------------------------
//
// Two words at lo, mixed with the address so that a copy of another stack's canary does not
// pass. Written with ASan instrumentation off: a reused stack may still carry a previous
// goroutine's frame poisoning in its shadow, which is not this access's business.

__attribute__((no_sanitize("address"))) void write_canary(char* lo) {
  auto* w = reinterpret_cast<volatile uint64_t*>(lo);
  uint64_t v = kCanaryBase ^ reinterpret_cast<uintptr_t>(lo);
  w[0] = v;
  w[1] = ~v;
}

__attribute__((no_sanitize("address"))) bool canary_intact(const char* lo) {
  auto* w = reinterpret_cast<const volatile uint64_t*>(lo);
  uint64_t v = kCanaryBase ^ reinterpret_cast<uintptr_t>(lo);
  return w[0] == v && w[1] == ~v;
}

// ---- size classes ----------------------------------------------------------------------------

// Returns the class index for `usable` (page-rounded), creating it; kMaxClasses on failure.
uint32_t class_for_usable(size_t usable) {
  State& st = S();
  // Classes are published append-only: usable/slot are written before the release increment
  // of g_class_count and never change, so a reader that acquires the count can scan them.
  uint32_t n = g_class_count.load(std::memory_order_acquire);
  for (uint32_t i = 0; i < n; ++i) {
    if (st.classes[i].usable == usable) return i;
  }
  std::lock_guard<RankedMutex> lock(st.class_mu);
  n = g_class_count.load(std::memory_order_relaxed);
  for (uint32_t i = 0; i < n; ++i) {
    if (st.classes[i].usable == usable) return i;
  }
  if (n == kMaxClasses) return kMaxClasses;
  st.classes[n].usable = usable;
  st.classes[n].slot = usable + g_page;
  g_class_count.store(n + 1, std::memory_order_release);
  return n;
}

// Per-goroutine overrides: a power of two >= 16 KiB, unless the request matches the default.
uint32_t class_for_request(size_t reserve) {
  uint32_t def = g_default_class.load(std::memory_order_acquire);
  if (reserve == 0) return def;
  size_t usable = round_up(reserve, g_page);
  if (usable == S().classes[def].usable) return def;
  size_t shift = kMinClassShift;
  while (shift <= kMaxClassShift && (size_t{1} << shift) < usable) ++shift;
  if (shift > kMaxClassShift) return kMaxClasses;
  return class_for_usable(std::max(size_t{1} << shift, g_page));
}

// ---- carving (class mutex held) --------------------------------------------------------------

bool register_arena(char* base, size_t size, size_t slot) {
  State& st = S();
  std::lock_guard<RankedMutex> lock(st.arena_mu);
  size_t n = g_arena_count.load(std::memory_order_relaxed);
  if (n == kMaxArenas) return false;
  g_arenas[n] = ArenaDesc{reinterpret_cast<uintptr_t>(base), size, slot, g_page};
  g_arena_count.store(n + 1, std::memory_order_release);
  return true;
}

bool new_arena(SizeClass& c) {
  size_t slots = c.slot >= kMaxArenaBytes
                     ? 1
                     : std::max<size_t>(1, std::min(c.next_arena_slots, kMaxArenaBytes / c.slot));
  size_t bytes = slots * c.slot;
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) return false;
  // The whole arena at once: advising part of it would split the VMA. Transparent huge pages
  // would turn a 4 KiB stack touch into a 2 MiB commit.
  madvise(p, bytes, MADV_NOHUGEPAGE);
  if (!register_arena(static_cast<char*>(p), bytes, c.slot)) {
    munmap(p, bytes);
    return false;
  }
  c.carve_base = static_cast<char*>(p);
  c.carve_next = 0;
  c.carve_slots = slots;
  c.next_arena_slots = std::min(c.next_arena_slots * 2, kMaxArenaSlots);
  g_arenas_mapped.fetch_add(1, std::memory_order_relaxed);
  g_bytes_reserved.fetch_add(bytes, std::memory_order_relaxed);
  return true;
}

// Carves a fresh slot and installs its guard, which stays for the life of the slot.
bool carve(SizeClass& c, PoolEntry* out) {
  if (c.carve_next == c.carve_slots && !new_arena(c)) return false;
  char* slot = c.carve_base + c.carve_next * c.slot;
  ++c.carve_next;
  char* lo = slot + g_page;
  bool guarded = false;
  switch (g_mode.load(std::memory_order_relaxed)) {
    case GuardMode::kGuardInstall:
      guarded = madvise(slot, g_page, kMadvGuardInstall) == 0;
      break;
    case GuardMode::kMprotect:
      if (take_mprotect_budget()) {
        guarded = mprotect(slot, g_page, PROT_NONE) == 0;
        if (!guarded) g_mprotect_budget.store(0, std::memory_order_relaxed);  // ENOMEM: limit hit
      }
      if (!guarded) {
        report_budget_exhausted();
        g_mode.store(GuardMode::kCanary, std::memory_order_relaxed);
      }
      break;
    case GuardMode::kCanary:
      break;
  }
  (guarded ? g_guarded : g_canaried).fetch_add(1, std::memory_order_relaxed);
  g_carved.fetch_add(1, std::memory_order_relaxed);
  *out = PoolEntry{lo, guarded ? 0u : kCanaryFlag, 0};
  return true;
}

Stack make_stack(uint32_t cls, const PoolEntry& e) {
  Stack s;
  s.lo = e.lo;
  s.reserved = S().classes[cls].usable;
  s.hi = e.lo + s.reserved;
  s.size_class = cls | e.flags;
  return s;
}

// Takes up to `n` stacks of class `cls` from the pool, carving when it runs dry.
size_t take_from_pool(uint32_t cls, PoolEntry* out, size_t n) {
  SizeClass& c = S().classes[cls];
  std::lock_guard<RankedMutex> lock(c.mu);
  size_t got = 0;
  while (got < n && !c.hot.empty()) {
    out[got++] = c.hot.back();
    c.hot.pop_back();
  }
  while (got < n && !c.cold.empty()) {
    out[got++] = c.cold.back();
    c.cold.pop_back();
  }
  g_pooled.fetch_sub(got, std::memory_order_relaxed);
  while (got < n && carve(c, &out[got])) ++got;
  return got;
}

void put_to_pool(uint32_t cls, const Stack* stacks, size_t n) {
  SizeClass& c = S().classes[cls];
  std::lock_guard<RankedMutex> lock(c.mu);
  // Read under the lock: pushes to this pool are ordered by it and the epoch only grows, so
  // `hot` stays sorted by gen.
  uint32_t gen = g_epoch.load(std::memory_order_relaxed);
  for (size_t i = 0; i < n; ++i) {
    c.hot.push_back(PoolEntry{stacks[i].lo, stacks[i].size_class & ~kClassMask, gen});
  }
  g_pooled.fetch_add(n, std::memory_order_relaxed);
}

// ---- per-P caches ----------------------------------------------------------------------------

void ensure_init() {
  if (!g_inited.load(std::memory_order_acquire)) stack_system_init(0);
}

}  // namespace

struct StackAllocator {
  static void register_cache(StackCache* c) {
    State& st = S();
    std::lock_guard<RankedMutex> lock(st.cache_mu);
    if (c->registered_) return;
    c->reg_prev_ = nullptr;
    c->reg_next_ = st.caches;
    if (st.caches) st.caches->reg_prev_ = c;
    st.caches = c;
    c->registered_ = true;
  }

  static void unregister_cache(StackCache* c) {
    if (!c->registered_) return;  // owner-only field: no race
    State& st = S();
    std::lock_guard<RankedMutex> lock(st.cache_mu);
    if (!c->registered_) return;
    if (c->reg_prev_) c->reg_prev_->reg_next_ = c->reg_next_;
    else st.caches = c->reg_next_;
    if (c->reg_next_) c->reg_next_->reg_prev_ = c->reg_prev_;
    c->registered_ = false;
  }

  static uint64_t cached_in_caches() {
    State& st = S();
    std::lock_guard<RankedMutex> lock(st.cache_mu);
    uint64_t n = 0;
    for (StackCache* c = st.caches; c; c = c->reg_next_) {
      n += c->published_count_.load(std::memory_order_relaxed);
    }
    return n;
  }

  static void publish(StackCache* c) {
    c->published_count_.store(c->count_, std::memory_order_relaxed);
  }

  // Moves items_[0, n) (the least recently released) to the global pool.
  static void flush_bottom(StackCache* c, size_t n) {
    size_t i = 0;
    while (i < n) {
      uint32_t cls = c->items_[i].size_class & kClassMask;
      size_t j = i + 1;
      while (j < n && (c->items_[j].size_class & kClassMask) == cls) ++j;
      put_to_pool(cls, &c->items_[i], j - i);
      i = j;
    }
    std::move(c->items_ + n, c->items_ + c->count_, c->items_);
    c->count_ -= n;
    publish(c);
  }

  static Stack allocate(uint32_t cls, StackCache* c) {
    if (c->count_ > 0 && (c->items_[c->count_ - 1].size_class & kClassMask) != cls) {
      flush_bottom(c, c->count_);  // the default class changed since these were cached
    }
    if (c->count_ == 0 && !refill(cls, c)) return Stack{};
    const Stack& top = c->items_[--c->count_];
    Stack s;
    s.lo = top.lo;
    s.hi = top.hi;
    s.reserved = top.reserved;
    s.size_class = top.size_class;
    publish(c);
    if (s.size_class & kCanaryFlag) write_canary(s.lo);
    return s;
  }

  // Off the fast path: its batch buffer would otherwise enlarge every allocation's frame.
  [[gnu::noinline]] static bool refill(uint32_t cls, StackCache* c) {
    if (!c->registered_) register_cache(c);
    PoolEntry batch[StackCache::kCapacity / 2];
    size_t got = take_from_pool(cls, batch, StackCache::kCapacity / 2);
    // The first taken (the pool's most recently released, warmest) goes on top.
    for (size_t i = got; i-- > 0;) c->items_[c->count_++] = make_stack(cls, batch[i]);
    publish(c);
    return got > 0;
  }

  static void release(const Stack& s, StackCache* c) {
    if (!c->registered_) register_cache(c);
    if (c->count_ == StackCache::kCapacity) flush_bottom(c, StackCache::kCapacity / 2);
    // Field by field: a whole-struct copy becomes two overlapping 16-byte loads, which cannot be
    // forwarded from the caller's recent 8-byte stores of the same Stack (a ~10 ns stall).
    Stack& slot = c->items_[c->count_++];
    slot.lo = s.lo;
    slot.hi = s.hi;
    slot.reserved = s.reserved;
    slot.size_class = s.size_class;
    publish(c);
  }

  static void flush(StackCache* c) {
    if (c->count_ > 0) flush_bottom(c, c->count_);
  }

  static void destroy(StackCache* c) {
    flush(c);
    unregister_cache(c);
  }
};

StackCache::~StackCache() { StackAllocator::destroy(this); }

// ---- overflow handler ------------------------------------------------------------------------

namespace {

[[noreturn]] void report_overflow(char* lo, char* hi, uintptr_t fault) {
  char buf[512];
  size_t len = 0;
  OverflowDescriber d = g_describer.load(std::memory_order_acquire);
  if (d != nullptr) {
    len = d(lo, hi, buf, sizeof buf - 1);
    if (len > sizeof buf - 2) len = sizeof buf - 2;
    buf[len] = '\0';
  }
  if (len == 0) {
    len = append_str(buf, 0, sizeof buf, "gort: goroutine stack overflow (reserved ");
    len = append_u64(buf, len, sizeof buf, static_cast<uint64_t>(hi - lo) / 1024);
    len = append_str(buf, len, sizeof buf, " KiB) at address ");
    len = append_hex(buf, len, sizeof buf, fault);
  }
  if (len == 0 || buf[len - 1] != '\n') len = append_str(buf, len, sizeof buf, "\n");
  write_stderr(buf, len);
  abort();
}

// Passes a fault that is not ours on. With the default action, restoring it and returning
// re-executes the faulting instruction, which then kills the process the usual way (core dump,
// exit status) as if we had never been installed.
void chain_segv(int sig, siginfo_t* info, void* uctx) {
  const struct sigaction& prev = g_prev_segv;
  if (prev.sa_flags & SA_SIGINFO) {
    if (prev.sa_sigaction != nullptr) {
      prev.sa_sigaction(sig, info, uctx);
      return;
    }
  } else if (prev.sa_handler != SIG_DFL && prev.sa_handler != SIG_IGN) {
    prev.sa_handler(sig);
    return;
  }
  struct sigaction dfl;
  std::memset(&dfl, 0, sizeof dfl);
  dfl.sa_handler = SIG_DFL;
  sigemptyset(&dfl.sa_mask);
  sigaction(SIGSEGV, &dfl, nullptr);
}

void on_sigsegv(int sig, siginfo_t* info, void* uctx) {
  int saved_errno = errno;
  // si_code <= 0: sent by kill()/sigqueue(), si_addr means nothing.
  if (info != nullptr && info->si_code > 0) {
    uintptr_t a = reinterpret_cast<uintptr_t>(info->si_addr);
    size_t n = g_arena_count.load(std::memory_order_acquire);
    for (size_t i = 0; i < n; ++i) {
      const ArenaDesc& d = g_arenas[i];
      if (a - d.base >= d.size) continue;  // unsigned: also rejects a < base
      size_t off = a - d.base;
      size_t in_slot = off % d.slot_size;
      // Slots are otherwise plain read-write memory, so a fault in the lowest page of a slot
      // can only be its guard: the stack above it overflowed.
      if (in_slot < d.guard) {
        char* slot = reinterpret_cast<char*>(d.base + off - in_slot);
        report_overflow(slot + d.guard, slot + d.slot_size, a);
      }
      break;
    }
  }
  chain_segv(sig, info, uctx);
  errno = saved_errno;
}

void install_handler() {
  sigaction(SIGSEGV, nullptr, &g_prev_segv);
  struct sigaction sa;
  std::memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_sigsegv;
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGSEGV, &sa, nullptr);
}

// The calling thread's alternate signal stack, with a guard page below it. If the thread
// already had one that was big enough (ASan gives each thread its own) it is used as is; a
// smaller one is replaced and put back at thread exit, so that whoever installed it frees it.
struct AltStack {
  char* mem = nullptr;
  size_t mem_size = 0;
  bool done = false;
  stack_t prev{};

  ~AltStack() {
    if (mem == nullptr) return;
    stack_t cur;
    if (sigaltstack(nullptr, &cur) == 0 && cur.ss_sp == mem + g_page &&
        !(cur.ss_flags & SS_ONSTACK)) {
      if (!(prev.ss_flags & SS_DISABLE)) {
        sigaltstack(&prev, nullptr);
      } else {
        stack_t off{};
        off.ss_flags = SS_DISABLE;
        sigaltstack(&off, nullptr);
      }
      munmap(mem, mem_size);
    }
  }
};

thread_local AltStack t_altstack;

}  // namespace

// ---- public interface ------------------------------------------------------------------------

void stack_system_init(size_t default_reserve) {
  State& st = S();
  std::lock_guard<RankedMutex> lock(st.init_mu);
  if (!g_inited.load(std::memory_order_relaxed)) {
    long p = sysconf(_SC_PAGESIZE);
    g_page = p > 0 ? static_cast<size_t>(p) : 4096;
    probe_guard_mode();
    install_handler();
  }
  size_t usable = round_up(default_reserve == 0 ? kDefaultStackReserve : default_reserve, g_page);
  uint32_t cls = class_for_usable(std::max(usable, g_page));
  if (cls == kMaxClasses) fatal("too many stack size classes");
  // Release: a thread that acquires the index also sees the class's usable size.
  g_default_class.store(cls, std::memory_order_release);
  g_inited.store(true, std::memory_order_release);
}

void stack_thread_init() {
  AltStack& a = t_altstack;
  if (a.done) return;
  ensure_init();
  stack_t cur;
  if (sigaltstack(nullptr, &cur) == 0 && !(cur.ss_flags & SS_DISABLE) &&
      cur.ss_size >= kAltStackSize) {
    a.done = true;
    return;
  }
  size_t size = g_page + kAltStackSize;
  void* p = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) fatal("cannot map an alternate signal stack");
  mprotect(p, g_page, PROT_NONE);  // a few per process: the VMAs do not matter
  stack_t ss{};
  ss.ss_sp = static_cast<char*>(p) + g_page;
  ss.ss_size = kAltStackSize;
  ss.ss_flags = 0;
  if (sigaltstack(&ss, &a.prev) != 0) {
    munmap(p, size);
    fatal("sigaltstack failed");
  }
  a.mem = static_cast<char*>(p);
  a.mem_size = size;
  a.done = true;
}

void stack_set_overflow_describer(OverflowDescriber describer) {
  g_describer.store(describer, std::memory_order_release);
}

Stack stack_allocate(size_t reserve, StackCache* cache) {
  ensure_init();
  uint32_t cls = class_for_request(reserve);
  if (cls == kMaxClasses) return Stack{};
  if (cache != nullptr && cls == g_default_class.load(std::memory_order_relaxed)) {
    return StackAllocator::allocate(cls, cache);
  }
  PoolEntry e;
  if (take_from_pool(cls, &e, 1) == 0) return Stack{};
  Stack s = make_stack(cls, e);
  if (s.size_class & kCanaryFlag) write_canary(s.lo);
  return s;
}

void stack_forget_frames(const Stack& stack, const void* sp) {
#if defined(GORT_STACK_ASAN)
  // The frames that were live when the goroutine switched away for the last time leave their
  // redzones poisoned in ASan's shadow; the next owner of the slot would trip over them. Only
  // [sp, hi) is looked at, and only its poisoned part, from its lowest byte up, is rewritten.
  // Reading the whole reservation's shadow (32 KiB per 256 KiB stack) is not free: kernels that
  // commit a page on a read fault of untouched anonymous memory (this project's 6.18 VMs do)
  // committed 32 KiB per released stack: a million stacks reached 23.8 GiB before the OOM
  // killer ended the test.
  if (!stack.valid()) return;
  char* from = static_cast<char*>(const_cast<void*>(sp));
  if (from < stack.lo || from >= stack.hi) from = stack.lo;  // no usable sp: the whole stack
  if (void* p = __asan_region_is_poisoned(from, static_cast<size_t>(stack.hi - from))) {
    __asan_unpoison_memory_region(p, static_cast<size_t>(stack.hi - static_cast<char*>(p)));
  }
#else
  (void)stack;
  (void)sp;
#endif
}

void stack_release(const Stack& stack, StackCache* cache) {
  if (!stack.valid()) return;
  uint32_t cls = stack.size_class & kClassMask;
  if (cache != nullptr && cls == g_default_class.load(std::memory_order_relaxed)) {
    StackAllocator::release(stack, cache);
    return;
  }
  put_to_pool(cls, &stack, 1);
}

void stack_cache_flush(StackCache* cache) {
  if (cache != nullptr) StackAllocator::flush(cache);
}

// Gives back the pages of stacks that stayed in the global pool through a whole period.
//
// MADV_DONTNEED, not MADV_FREE: a stack idle for a whole scavenge period is cold, so the
// MADV_FREE advantage (a retouch without memory pressure costs 1.2 µs for 4 pages against 8–11 µs
// for DONTNEED + refault, probes Q4) rarely pays; meanwhile FREEd pages still count in RSS and in
// the cgroup's memory until the kernel is under pressure, so the memory would not visibly come
// back, which is the whole point of scavenging. DONTNEED also leaves the pages zero-filled.
//
// The whole usable range goes, the top page included: keeping the top page would save one
// first-touch fault (~1.6 µs) when the stack is reused, but it would pin 4 KiB per idle stack
// for good (400 MiB after a burst of 100 k goroutines). Canary slots keep their lowest page, so
// the canary survives. Guards survive DONTNEED (MADV_GUARD_INSTALL markers are kept by zaps;
// mprotect guards are outside the advised range).
//
// The madvise calls run without the class mutex: the stacks are taken out of `hot` first and
// put on `cold` afterwards, so allocations are never blocked behind a batch of syscalls.
size_t stack_scavenge() {
  if (!g_inited.load(std::memory_order_acquire)) return 0;
  State& st = S();
  std::lock_guard<RankedMutex> serial(st.scavenge_mu);
  uint32_t epoch = g_epoch.load(std::memory_order_relaxed);
  uint32_t nclasses = g_class_count.load(std::memory_order_acquire);
  size_t total = 0;
  std::vector<PoolEntry> batch;
  for (uint32_t i = 0; i < nclasses; ++i) {
    SizeClass& c = st.classes[i];
    batch.clear();
    {
      std::lock_guard<RankedMutex> lock(c.mu);
      auto end = std::find_if(c.hot.begin(), c.hot.end(),
                              [epoch](const PoolEntry& e) { return e.gen >= epoch; });
      batch.assign(c.hot.begin(), end);
      c.hot.erase(c.hot.begin(), end);
    }
    if (batch.empty()) continue;
    for (const PoolEntry& e : batch) {
      size_t skip = (e.flags & kCanaryFlag) ? g_page : 0;
      size_t len = c.usable - skip;
      if (len > 0 && madvise(e.lo + skip, len, MADV_DONTNEED) == 0) total += len;
    }
    std::lock_guard<RankedMutex> lock(c.mu);
    c.cold.insert(c.cold.end(), batch.begin(), batch.end());
  }
  g_epoch.store(epoch + 1, std::memory_order_relaxed);
  g_scavenged.fetch_add(total, std::memory_order_relaxed);
  return total;
}

GuardMode stack_guard_mode() {
  ensure_init();
  return g_mode.load(std::memory_order_relaxed);
}

size_t stack_default_reserve() {
  ensure_init();
  return S().classes[g_default_class.load(std::memory_order_acquire)].usable;
}

bool stack_canary_ok(const Stack& stack) {
  if (!stack.valid() || !(stack.size_class & kCanaryFlag)) return true;
  return canary_intact(stack.lo);
}

bool stack_is_guarded(const Stack& stack) {
  return stack.valid() && !(stack.size_class & kCanaryFlag);
}

StackStats stack_stats() {
  StackStats s;
  s.arenas_mapped = g_arenas_mapped.load(std::memory_order_relaxed);
  s.bytes_reserved = g_bytes_reserved.load(std::memory_order_relaxed);
  s.stacks_cached = g_pooled.load(std::memory_order_relaxed);
  s.stacks_in_p_caches = StackAllocator::cached_in_caches();
  uint64_t carved = g_carved.load(std::memory_order_relaxed);
  uint64_t outside = s.stacks_cached + s.stacks_in_p_caches;
  s.stacks_in_use = carved > outside ? carved - outside : 0;
  s.scavenged_bytes = g_scavenged.load(std::memory_order_relaxed);
  s.guarded_slots = g_guarded.load(std::memory_order_relaxed);
  s.canary_slots = g_canaried.load(std::memory_order_relaxed);
  return s;
}

GuardMode stack_force_guard_mode_for_testing(GuardMode mode) {
  ensure_init();
  State& st = S();
  std::lock_guard<RankedMutex> lock(st.init_mu);
  GuardMode prev = g_mode.load(std::memory_order_relaxed);
  if (mode == GuardMode::kGuardInstall && g_probed_mode != GuardMode::kGuardInstall) return prev;
  if (mode == GuardMode::kMprotect && prev != GuardMode::kMprotect) {
    g_mprotect_budget.store(mprotect_guard_budget(), std::memory_order_relaxed);
  }
  g_mode.store(mode, std::memory_order_relaxed);
  return prev;
}

void stack_set_mprotect_guard_budget_for_testing(size_t guards) {
  g_mprotect_budget.store(guards, std::memory_order_relaxed);
  g_budget_exhausted_reported.store(false, std::memory_order_relaxed);
}

}  // namespace gort::rt
