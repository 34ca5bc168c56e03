// Tests of the goroutine stack allocator (runtime/stack.cpp): allocation and reuse through the
// per-P cache and the global pool, size classes, the one-million-stacks budget, guard modes
// (including the mprotect and canary fallbacks forced through the testing hooks), overflow
// reports and the scavenger.
#include "runtime/stack.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include "runtime/context.hpp"

namespace gort::rt {
namespace {

size_t Page() { return static_cast<size_t>(sysconf(_SC_PAGESIZE)); }

void Init() {
  stack_system_init(0);
  stack_thread_init();
}

size_t CountMaps() {
  std::ifstream f("/proc/self/maps");
  size_t n = 0;
  std::string line;
  while (std::getline(f, line)) ++n;
  return n;
}

size_t MaxMapCount() {
  std::ifstream f("/proc/sys/vm/max_map_count");
  size_t v = 65530;
  f >> v;
  return v;
}

// Resident pages (mincore) among the top `bytes` of each stack. The scavenger's effect on the
// stacks themselves: the process's RSS would mix it with what earlier tests in the same process
// left behind (after a million pooled stacks, the pool's own list grows by more than these
// pages when a few more are released).
size_t ResidentTopPages(const std::vector<Stack>& stacks, size_t bytes) {
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  std::vector<unsigned char> vec(bytes / page);
  size_t n = 0;
  for (const Stack& s : stacks) {
    EXPECT_EQ(mincore(s.hi - bytes, bytes, vec.data()), 0) << std::strerror(errno);
    for (unsigned char v : vec) n += v & 1u;
  }
  return n;
}

// Whether /proc/self/maps has a PROT_NONE mapping covering exactly [lo - page, lo).
bool HasMprotectGuardBelow(const char* lo) {
  std::ifstream f("/proc/self/maps");
  std::string line;
  auto want_end = reinterpret_cast<uintptr_t>(lo);
  while (std::getline(f, line)) {
    uintptr_t start = 0, end = 0;
    char perms[5] = {};
    if (std::sscanf(line.c_str(), "%lx-%lx %4s", &start, &end, perms) != 3) continue;
    if (end == want_end && start <= want_end - Page() && std::string(perms) == "---p") return true;
  }
  return false;
}

bool KernelHasGuardInstall() {
  void* p = mmap(nullptr, 2 * Page(), PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) return false;
  bool ok = madvise(p, Page(), 102 /* MADV_GUARD_INSTALL */) == 0;
  munmap(p, 2 * Page());
  return ok;
}

// Allocates stacks of `reserve` (holding them) until `fresh` slots have been carved since the
// call began, so that a test sees slots made under the guard mode it forced, whatever the pools
// held before. Returns all stacks taken; the fresh ones are the last `fresh`, in carve order.
std::vector<Stack> TakeUntilFresh(size_t reserve, size_t fresh) {
  StackStats s0 = stack_stats();
  std::vector<Stack> held;
  for (size_t i = 0; i < 1'000'000; ++i) {
    Stack s = stack_allocate(reserve, nullptr);
    if (!s.valid()) break;
    held.push_back(s);
    StackStats s1 = stack_stats();
    if ((s1.guarded_slots - s0.guarded_slots) + (s1.canary_slots - s0.canary_slots) >= fresh) break;
  }
  return held;
}

// ---- running code on an allocated stack ---------------------------------------------------------

// Async-signal-safe describer for the death tests: "goroutine 7 stack overflow (reserved N KiB),
// created at stack_test.cpp:4242".
size_t TestDescriber(const char* lo, const char* hi, char* buf, size_t len) {
  char tmp[160];
  size_t n = 0;
  auto put = [&](const char* s) {
    while (*s && n < sizeof tmp) tmp[n++] = *s++;
  };
  put("goroutine 7 stack overflow (reserved ");
  char digits[24];
  size_t d = 0;
  size_t kib = static_cast<size_t>(hi - lo) / 1024;
  do {
    digits[d++] = static_cast<char>('0' + kib % 10);
    kib /= 10;
  } while (kib != 0);
  while (d > 0 && n < sizeof tmp) tmp[n++] = digits[--d];
  put(" KiB), created at stack_test.cpp:4242");
  size_t out = std::min(n, len);
  std::memcpy(buf, tmp, out);
  return out;
}

volatile int g_sink;
volatile int g_depth_limit = 0;  // 0: unbounded; keeps the compiler from proving infinite recursion

[[gnu::noinline]] int Recurse(int depth) {
  volatile char frame[512];
  frame[0] = static_cast<char>(depth);
  frame[sizeof frame - 1] = static_cast<char>(depth);
  if (g_depth_limit != 0 && depth >= g_depth_limit) return 0;
  int r = Recurse(depth + 1);
  return r + frame[0] + frame[sizeof frame - 1];
}

struct Fiber {
  Context main;
  Context self;
  bool ran = false;
  char* probe_lo = nullptr;  // touched at both ends by WriteEnds
  char* probe_hi = nullptr;
};

void OverflowEntry(void* arg) {
  Context::on_entry();
  g_sink = Recurse(0);
  static_cast<Fiber*>(arg)->self.switch_to(static_cast<Fiber*>(arg)->main, true);
}

void TouchEntry(void* arg) {
  Context::on_entry();
  auto* f = static_cast<Fiber*>(arg);
  volatile char local[256];
  local[0] = 1;
  g_sink = local[0];
  f->ran = true;
  f->self.switch_to(f->main, true);
}

// Runs `entry` on `stack` and returns when the fiber switches back.
void RunOn(const Stack& stack, void (*entry)(void*), Fiber& f) {
  f.main.init_for_thread();
  f.self.init(stack.lo, stack.reserved, entry, &f);
  f.main.switch_to(f.self);
  stack_forget_frames(stack, f.self.handle);  // as the scheduler does before a release
  f.self.destroy();
}

[[noreturn]] void OverflowOn(const Stack& stack) {
  Fiber f;
  RunOn(stack, OverflowEntry, f);
  std::abort();  // not reached: the overflow aborts first
}

// ---- death tests (run first: gtest orders *DeathTest suites before the others) ----------------

TEST(StackDeathTest, OverflowOnGuardReportsDescriberLine) {
  Init();
  if (stack_guard_mode() == GuardMode::kCanary) GTEST_SKIP() << "no guard pages in this mode";
  EXPECT_DEATH(
      {
        stack_set_overflow_describer(TestDescriber);
        Stack s = stack_allocate(0, nullptr);
        if (!stack_is_guarded(s)) std::abort();
        OverflowOn(s);
      },
      "goroutine 7 stack overflow \\(reserved 256 KiB\\), created at stack_test.cpp:4242");
}

TEST(StackDeathTest, OverflowWithoutDescriberPrintsGenericLine) {
  Init();
  if (stack_guard_mode() == GuardMode::kCanary) GTEST_SKIP() << "no guard pages in this mode";
  EXPECT_DEATH(
      {
        stack_set_overflow_describer(nullptr);
        OverflowOn(stack_allocate(0, nullptr));
      },
      "gort: goroutine stack overflow \\(reserved 256 KiB\\) at address 0x[0-9a-f]+");
}

TEST(StackDeathTest, OverflowOnMprotectGuardReportsDescriberLine) {
  Init();
  EXPECT_DEATH(
      {
        stack_force_guard_mode_for_testing(GuardMode::kMprotect);
        stack_set_mprotect_guard_budget_for_testing(100);
        stack_set_overflow_describer(TestDescriber);
        std::vector<Stack> held = TakeUntilFresh(64 * 1024, 1);
        if (held.empty() || !stack_is_guarded(held.back())) std::abort();
        if (!HasMprotectGuardBelow(held.back().lo)) std::abort();
        OverflowOn(held.back());
      },
      "goroutine 7 stack overflow \\(reserved 64 KiB\\), created at stack_test.cpp:4242");
}

// A fault that is not on a guard goes to the previous handler: the default action (killed by
// SIGSEGV, not our abort) or ASan's report.
TEST(StackDeathTest, OtherFaultsAreChained) {
  Init();
  // A PROT_NONE page outside every arena (not a null pointer: UBSan would stop at that first).
  void* p = mmap(nullptr, Page(), PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(p, MAP_FAILED);
  volatile int* bad = static_cast<volatile int*>(p);
#if defined(GORT_ASAN)
  EXPECT_DEATH({ *bad = 1; }, "AddressSanitizer: SEGV");
#else
  EXPECT_EXIT({ *bad = 1; }, ::testing::KilledBySignal(SIGSEGV), "");
#endif
  munmap(p, Page());
}

// ---- allocation and reuse -----------------------------------------------------------------------

TEST(Stack, GuardModeIsReportedAndMatchesTheKernel) {
  Init();
  GuardMode m = stack_guard_mode();
  EXPECT_TRUE(m == GuardMode::kGuardInstall || m == GuardMode::kMprotect || m == GuardMode::kCanary);
  const char* env = std::getenv("GORT_STACK_GUARD");
  if (env == nullptr) {
    if (KernelHasGuardInstall()) {
      EXPECT_EQ(m, GuardMode::kGuardInstall);
    } else {
      EXPECT_NE(m, GuardMode::kGuardInstall);
    }
  }
  EXPECT_EQ(stack_default_reserve(), kDefaultStackReserve);
}

TEST(Stack, DefaultStackShape) {
  Init();
  Stack s = stack_allocate(0, nullptr);
  ASSERT_TRUE(s.valid());
  EXPECT_EQ(s.reserved, kDefaultStackReserve);
  EXPECT_EQ(static_cast<size_t>(s.hi - s.lo), s.reserved);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(s.lo) % Page(), 0u);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(s.hi) % 16, 0u);
  EXPECT_TRUE(stack_canary_ok(s));
  stack_release(s, nullptr);
}

TEST(Stack, UsableRangeIsWritableAtBothEnds) {
  Init();
  StackCache cache;
  for (size_t reserve : {size_t{0}, size_t{16 * 1024}, size_t{1} << 20}) {
    Stack s = stack_allocate(reserve, &cache);
    ASSERT_TRUE(s.valid());
    // A guarded stack's canary is not there; an unguarded one keeps its first 16 bytes.
    char* first = stack_is_guarded(s) ? s.lo : s.lo + 16;
    *reinterpret_cast<volatile char*>(first) = 1;
    *reinterpret_cast<volatile char*>(s.hi - 1) = 2;
    EXPECT_EQ(*reinterpret_cast<volatile char*>(first), 1);
    EXPECT_EQ(*reinterpret_cast<volatile char*>(s.hi - 1), 2);
    EXPECT_TRUE(stack_canary_ok(s));
    stack_release(s, &cache);
  }
}

TEST(Stack, CodeRunsOnAnAllocatedStack) {
  Init();
  Stack s = stack_allocate(0, nullptr);
  ASSERT_TRUE(s.valid());
  Fiber f;
  RunOn(s, TouchEntry, f);
  EXPECT_TRUE(f.ran);
  EXPECT_TRUE(stack_canary_ok(s));
  stack_release(s, nullptr);
}

TEST(Stack, ReleaseThenAllocateThroughTheCacheReusesTheStack) {
  Init();
  StackCache cache;
  Stack a = stack_allocate(0, &cache);
  ASSERT_TRUE(a.valid());
  size_t cached = cache.size();  // a refill took a batch from the pool
  stack_release(a, &cache);
  EXPECT_EQ(cache.size(), cached + 1);
  Stack b = stack_allocate(0, &cache);
  EXPECT_EQ(b.lo, a.lo);  // LIFO: the warmest stack comes back first
  EXPECT_EQ(cache.size(), cached);
  stack_release(b, &cache);
}

TEST(Stack, GlobalPoolReusesTheStack) {
  Init();
  Stack a = stack_allocate(0, nullptr);
  ASSERT_TRUE(a.valid());
  uint64_t pooled = stack_stats().stacks_cached;
  stack_release(a, nullptr);
  EXPECT_EQ(stack_stats().stacks_cached, pooled + 1);
  Stack b = stack_allocate(0, nullptr);
  EXPECT_EQ(b.lo, a.lo);
  EXPECT_EQ(stack_stats().stacks_cached, pooled);
  stack_release(b, nullptr);
}

TEST(Stack, CacheRefillsAndFlushesInBatchesAndStatsAddUp) {
  Init();
  StackStats s0 = stack_stats();
  std::vector<Stack> stacks;
  {
    StackCache cache;
    for (int i = 0; i < 300; ++i) {
      stacks.push_back(stack_allocate(0, &cache));
      ASSERT_TRUE(stacks.back().valid());
      ASSERT_LE(cache.size(), 64u);
    }
    EXPECT_EQ(stack_stats().stacks_in_use, s0.stacks_in_use + 300);
    EXPECT_EQ(stack_stats().stacks_in_p_caches, s0.stacks_in_p_caches + cache.size());
    for (const Stack& s : stacks) {
      stack_release(s, &cache);
      ASSERT_LE(cache.size(), 64u);
      ASSERT_GT(cache.size(), 0u);
    }
    StackStats s1 = stack_stats();
    EXPECT_EQ(s1.stacks_in_use, s0.stacks_in_use);
    EXPECT_EQ(s1.stacks_in_p_caches, s0.stacks_in_p_caches + cache.size());
    stack_cache_flush(&cache);
    EXPECT_EQ(cache.size(), 0u);
    EXPECT_EQ(stack_stats().stacks_in_p_caches, s0.stacks_in_p_caches);
    // Nothing lost, nothing duplicated: the same 300 stacks come back out.
    std::set<char*> before;
    for (const Stack& s : stacks) before.insert(s.lo);
    EXPECT_EQ(before.size(), 300u);
    stack_release(stack_allocate(0, &cache), &cache);  // leave some in the cache
  }
  // The destructor flushed the cache into the global pool.
  StackStats s2 = stack_stats();
  EXPECT_EQ(s2.stacks_in_p_caches, s0.stacks_in_p_caches);
  EXPECT_EQ(s2.stacks_in_use, s0.stacks_in_use);
}

TEST(Stack, CachesWorkFromSeveralThreads) {
  Init();
  StackStats s0 = stack_stats();
  std::vector<std::thread> threads;
  std::vector<std::vector<char*>> seen(4);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([t, &seen] {
      stack_thread_init();
      StackCache cache;
      std::vector<Stack> mine;
      for (int round = 0; round < 20; ++round) {
        for (int i = 0; i < 100; ++i) mine.push_back(stack_allocate(0, &cache));
        for (const Stack& s : mine) seen[t].push_back(s.lo);
        for (const Stack& s : mine) stack_release(s, &cache);
        mine.clear();
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(stack_stats().stacks_in_use, s0.stacks_in_use);
  EXPECT_EQ(stack_stats().stacks_in_p_caches, s0.stacks_in_p_caches);
  for (const auto& v : seen) {
    for (char* lo : v) ASSERT_NE(lo, nullptr);
  }
}

TEST(Stack, DistinctStacksNeverOverlap) {
  Init();
  StackCache cache;
  std::vector<Stack> stacks;
  const size_t sizes[] = {0, 16 * 1024, 40 * 1024, 64 * 1024, 1 << 20};
  for (int i = 0; i < 5000; ++i) {
    size_t reserve = sizes[i % 5];
    Stack s = stack_allocate(reserve, i % 2 ? &cache : nullptr);
    ASSERT_TRUE(s.valid());
    ASSERT_GE(s.reserved, reserve);
    stacks.push_back(s);
  }
  std::sort(stacks.begin(), stacks.end(), [](const Stack& a, const Stack& b) { return a.lo < b.lo; });
  for (size_t i = 1; i < stacks.size(); ++i) {
    // Not only disjoint: every stack has at least its guard page between it and the one below.
    ASSERT_GE(static_cast<size_t>(stacks[i].lo - stacks[i - 1].hi), Page())
        << "stack " << i << " overlaps or touches the one below";
  }
  for (const Stack& s : stacks) stack_release(s, &cache);
}

TEST(Stack, CustomSizesRoundUpToPowersOfTwo) {
  Init();
  struct Case {
    size_t request, reserved;
  } cases[] = {
      {1, 16 * 1024},           {16 * 1024, 16 * 1024},          {17 * 1024, 32 * 1024},
      {300 * 1024, 512 * 1024}, {256 * 1024, kDefaultStackReserve}, {100 << 20, 128 << 20},
  };
  for (const Case& c : cases) {
    Stack s = stack_allocate(c.request, nullptr);
    ASSERT_TRUE(s.valid()) << c.request;
    EXPECT_EQ(s.reserved, c.reserved) << c.request;
    EXPECT_EQ(static_cast<size_t>(s.hi - s.lo), s.reserved);
    s.lo[stack_is_guarded(s) ? 0 : 16] = 1;
    s.hi[-1] = 1;
    stack_release(s, nullptr);
    Stack again = stack_allocate(c.request, nullptr);
    EXPECT_EQ(again.lo, s.lo) << "the class's pool returns the same slot";
    stack_release(again, nullptr);
  }
  // A very large stack gets an arena of its own.
  uint64_t arenas = stack_stats().arenas_mapped;
  Stack big = stack_allocate(size_t{3} << 30, nullptr);
  ASSERT_TRUE(big.valid());
  EXPECT_EQ(big.reserved, size_t{4} << 30);
  big.hi[-1] = 1;
  big.lo[stack_is_guarded(big) ? 0 : 16] = 1;
  stack_release(big, nullptr);
  Stack big2 = stack_allocate(size_t{3} << 30, nullptr);
  EXPECT_EQ(big2.lo, big.lo);
  stack_release(big2, nullptr);
  EXPECT_LE(stack_stats().arenas_mapped, arenas + 1);
  // Beyond the largest class: a clean failure, not a crash.
  EXPECT_FALSE(stack_allocate(size_t{1} << 45, nullptr).valid());
}

TEST(Stack, ChangingTheDefaultReserveMovesCachedStacksAside) {
  Init();
  StackCache cache;
  Stack a = stack_allocate(0, &cache);
  stack_release(a, &cache);
  ASSERT_GT(cache.size(), 0u);
  stack_system_init(128 * 1024);
  EXPECT_EQ(stack_default_reserve(), 128u * 1024);
  Stack b = stack_allocate(0, &cache);
  EXPECT_EQ(b.reserved, 128u * 1024);
  stack_release(b, &cache);
  stack_release(stack_allocate(0, nullptr), nullptr);
  stack_system_init(kDefaultStackReserve);
  EXPECT_EQ(stack_default_reserve(), kDefaultStackReserve);
  Stack c = stack_allocate(0, &cache);
  EXPECT_EQ(c.reserved, kDefaultStackReserve);
  stack_release(c, &cache);
}

TEST(Stack, ThreadInitGivesAnAlternateSignalStackAndIsIdempotent) {
  Init();
  auto check = [] {
    stack_thread_init();
    stack_t a;
    ASSERT_EQ(sigaltstack(nullptr, &a), 0);
    EXPECT_FALSE(a.ss_flags & SS_DISABLE);
    EXPECT_GE(a.ss_size, 64u * 1024);
    stack_thread_init();
    stack_t b;
    ASSERT_EQ(sigaltstack(nullptr, &b), 0);
    EXPECT_EQ(a.ss_sp, b.ss_sp);
  };
  check();
  std::thread t(check);
  t.join();
}

// ---- guard modes --------------------------------------------------------------------------------

TEST(Stack, MprotectBudgetThenCanaries) {
  Init();
  GuardMode prev = stack_force_guard_mode_for_testing(GuardMode::kMprotect);
  ASSERT_EQ(stack_guard_mode(), GuardMode::kMprotect);
  stack_set_mprotect_guard_budget_for_testing(2);
  StackStats s0 = stack_stats();
  std::vector<Stack> held = TakeUntilFresh(32 * 1024, 5);
  StackStats s1 = stack_stats();
  ASSERT_GE(held.size(), 5u);
  EXPECT_EQ(s1.guarded_slots - s0.guarded_slots, 2u);
  EXPECT_EQ(s1.canary_slots - s0.canary_slots, 3u);
  EXPECT_EQ(stack_guard_mode(), GuardMode::kCanary) << "budget spent: new stacks are unguarded";
  const Stack* fresh = &held[held.size() - 5];
  for (int i = 0; i < 2; ++i) {
    EXPECT_TRUE(stack_is_guarded(fresh[i]));
    EXPECT_TRUE(HasMprotectGuardBelow(fresh[i].lo));
  }
  for (int i = 2; i < 5; ++i) {
    const Stack& s = fresh[i];
    EXPECT_FALSE(stack_is_guarded(s));
    EXPECT_FALSE(HasMprotectGuardBelow(s.lo));
    EXPECT_TRUE(stack_canary_ok(s));
    s.hi[-1] = 1;
    s.lo[16] = 1;
    EXPECT_TRUE(stack_canary_ok(s));
    s.lo[3] ^= 0x5a;  // an overflow scribbles on the lowest bytes
    EXPECT_FALSE(stack_canary_ok(s));
  }
  for (const Stack& s : held) stack_release(s, nullptr);
  stack_force_guard_mode_for_testing(prev);
}

TEST(Stack, CanaryModeDetectsAClobberedCanary) {
  Init();
  GuardMode prev = stack_force_guard_mode_for_testing(GuardMode::kCanary);
  ASSERT_EQ(stack_guard_mode(), GuardMode::kCanary);
  std::vector<Stack> held = TakeUntilFresh(16 * 1024, 1);
  ASSERT_FALSE(held.empty());
  Stack s = held.back();
  held.pop_back();
  EXPECT_FALSE(stack_is_guarded(s));
  EXPECT_TRUE(stack_canary_ok(s));
  Fiber f;
  RunOn(s, TouchEntry, f);  // normal use leaves it alone
  EXPECT_TRUE(f.ran);
  EXPECT_TRUE(stack_canary_ok(s));
  std::memset(s.lo, 0, 8);
  EXPECT_FALSE(stack_canary_ok(s));
  // Recycled: the allocator writes a fresh canary for the next owner.
  stack_release(s, nullptr);
  Stack again = stack_allocate(16 * 1024, nullptr);
  EXPECT_EQ(again.lo, s.lo);
  EXPECT_TRUE(stack_canary_ok(again));
  stack_release(again, nullptr);
  for (const Stack& h : held) stack_release(h, nullptr);
  // A guarded stack never reports a bad canary: it has none.
  stack_force_guard_mode_for_testing(prev);
  if (prev != GuardMode::kCanary) {
    std::vector<Stack> g = TakeUntilFresh(16 * 1024, 1);
    ASSERT_FALSE(g.empty());
    EXPECT_TRUE(stack_is_guarded(g.back()));
    std::memset(g.back().lo, 0, 16);
    EXPECT_TRUE(stack_canary_ok(g.back()));
    for (const Stack& h : g) stack_release(h, nullptr);
  }
}

// ---- scavenger ----------------------------------------------------------------------------------

TEST(Stack, ScavengeGivesPagesBackAndStacksStayUsable) {
  Init();
  constexpr size_t kStacks = 256;
  constexpr size_t kTouched = 32 * 1024;  // per stack: 8 pages at the top
  std::vector<Stack> stacks;
  for (size_t i = 0; i < kStacks; ++i) {
    Stack s = stack_allocate(0, nullptr);
    ASSERT_TRUE(s.valid());
    std::memset(s.hi - kTouched, 0xab, kTouched);
    stacks.push_back(s);
  }
  stack_scavenge();  // whatever was idle before this test goes now
  const size_t touched_pages = kStacks * kTouched / static_cast<size_t>(sysconf(_SC_PAGESIZE));
  EXPECT_EQ(ResidentTopPages(stacks, kTouched), touched_pages);
  uint64_t scavenged_before = stack_stats().scavenged_bytes;
  for (const Stack& s : stacks) stack_release(s, nullptr);
  // Released after the previous call: not yet idle for a whole period.
  size_t first = stack_scavenge();
  (void)first;
  for (const Stack& s : stacks) EXPECT_EQ(static_cast<unsigned char>(s.hi[-1]), 0xab);
  size_t second = stack_scavenge();
  EXPECT_GE(second, kStacks * kTouched);
  EXPECT_GE(stack_stats().scavenged_bytes - scavenged_before, kStacks * kTouched);
  EXPECT_EQ(ResidentTopPages(stacks, kTouched), 0u) << "of " << touched_pages;
  // Scavenged stacks come back zero-filled and usable.
  std::set<char*> ours;
  for (const Stack& s : stacks) ours.insert(s.lo);
  std::vector<Stack> again;
  size_t reused = 0;
  for (size_t i = 0; i < kStacks; ++i) {
    Stack s = stack_allocate(0, nullptr);
    ASSERT_TRUE(s.valid());
    if (ours.count(s.lo)) {
      ++reused;
      EXPECT_EQ(s.hi[-1], 0);
      EXPECT_EQ(s.hi[-static_cast<long>(kTouched)], 0);
      std::memset(s.hi - kTouched, 0xcd, kTouched);
      EXPECT_TRUE(stack_canary_ok(s));
    }
    again.push_back(s);
  }
  EXPECT_GT(reused, 0u);
  for (const Stack& s : again) stack_release(s, nullptr);
}

// ---- one million stacks -------------------------------------------------------------------------

TEST(Stack, OneMillionDefaultStacksAtOnce) {
  Init();
  // The mapping count must stay well under vm.max_map_count in every mode: MADV_GUARD_INSTALL
  // guards cost no VMA, and in mprotect mode the budget stops guarding (canaries from then on).
  constexpr size_t kCount = 1'000'000;
  GuardMode mode = stack_guard_mode();
  size_t maps_before = CountMaps();
  std::vector<Stack> stacks;
  stacks.reserve(kCount);
  {
    StackCache cache;
    for (size_t i = 0; i < kCount; ++i) {
      Stack s = stack_allocate(0, &cache);
      ASSERT_TRUE(s.valid()) << "allocation " << i << " failed";
      stacks.push_back(s);
    }
    size_t maps = CountMaps();
    size_t limit = MaxMapCount();
    std::printf("1M stacks: %zu mappings (before: %zu, vm.max_map_count %zu), %llu arenas\n", maps,
                maps_before, limit, static_cast<unsigned long long>(stack_stats().arenas_mapped));
    if (mode == GuardMode::kMprotect) {
      // mprotect guards may take half the headroom, no more.
      EXPECT_LT(maps, maps_before + (limit - maps_before) / 2 + 1000);
    } else {
      // MADV_GUARD_INSTALL and canaries cost no VMA: a few new arenas, which merge.
      EXPECT_LT(maps, maps_before + 1000);
      EXPECT_LT(maps, limit / 4);
    }
    EXPECT_GE(stack_stats().stacks_in_use, kCount);
    // Spot checks: the first, the last and some in between are usable at the top.
    for (size_t i = 0; i < kCount; i += kCount / 16) stacks[i].hi[-1] = 1;
    stacks.back().hi[-1] = 1;
    for (const Stack& s : stacks) stack_release(s, &cache);
  }
}

}  // namespace
}  // namespace gort::rt
