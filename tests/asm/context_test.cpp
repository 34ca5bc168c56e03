// Tests of the raw context-switch backend (asm/ or runtime/context_boost.cpp) through the
// sanitizer-aware wrapper gort::rt::Context. Every switch goes through Context::switch_to so
// the same test runs clean under ASan and TSan.
//
// FP control state semantics (both backends on x86_64, asm backend on AArch64): MXCSR and the
// x87 control word (FPCR on AArch64) belong to the context; a swap saves the running context's
// state and restores the target's. A fresh context starts with the state its creator had when
// it called gort_ctx_make.
#include "runtime/context.hpp"

#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cfenv>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#if defined(__x86_64__)
#include <xmmintrin.h>
#endif
#if defined(GORT_ASAN)
#include <sanitizer/asan_interface.h>
#endif

namespace {

using gort::rt::Context;

constexpr size_t kStackSize = 256 * 1024;

// An mmap'd stack with a PROT_NONE guard page below it.
class Stack {
 public:
  Stack() {
    const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
    map_size_ = kStackSize + page;
    void* p = mmap(nullptr, map_size_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                   -1, 0);
    if (p == MAP_FAILED) throw std::runtime_error("mmap failed");
    mprotect(p, page, PROT_NONE);
    base_ = p;
    lo_ = static_cast<char*>(p) + page;
  }
  ~Stack() {
#if defined(GORT_ASAN)
    // A context that switched away for good leaves the red zones of its live frames poisoned
    // in ASan's shadow memory; a later mapping at the same address would inherit them.
    __asan_unpoison_memory_region(lo_, kStackSize);
#endif
    munmap(base_, map_size_);
  }
  Stack(const Stack&) = delete;
  Stack& operator=(const Stack&) = delete;
  void* lo() const { return lo_; }
  size_t size() const { return kStackSize; }

 private:
  void* base_ = nullptr;
  void* lo_ = nullptr;
  size_t map_size_ = 0;
};

// The test thread's own context (g0 in runtime terms).
struct MainCtx {
  Context ctx;
  MainCtx() { ctx.init_for_thread(); }
  ~MainCtx() { ctx.destroy(); }
};

// A coroutine-like helper: a context plus its stack. `fn` runs on the context; when it returns
// the context switches back to its parent for good.
struct Coro {
  Stack stack;
  Context ctx;
  Context* parent = nullptr;
  std::function<void(Coro&)> fn;
  bool done = false;

  Coro(Context* parent_ctx, std::function<void(Coro&)> f) : parent(parent_ctx), fn(std::move(f)) {
    ctx.init(stack.lo(), stack.size(), &Coro::entry, this);
  }
  ~Coro() { ctx.destroy(); }

  static void entry(void* p) {
    Context::on_entry();
    auto* self = static_cast<Coro*>(p);
    self->fn(*self);
    self->done = true;
    self->ctx.switch_to(*self->parent, /*exiting=*/true);
    __builtin_trap();  // never resumed
  }
  // Runs on the coroutine: back to the parent.
  void yield() { ctx.switch_to(*parent); }
  // Runs on the parent: into the coroutine.
  void resume() { parent->switch_to(ctx); }
};

TEST(Context, PingPongPassesValues) {
  MainCtx m;
  uint64_t box = 0;
  constexpr uint64_t kRounds = 100000;
  Coro c(&m.ctx, [&](Coro& self) {
    uint64_t expect = 1;
    for (uint64_t i = 0; i < kRounds; ++i) {
      if (box != expect) {
        box = ~uint64_t{0};  // reported by the main side
        return;
      }
      box = expect * 3 + 1;  // reply
      expect = box + 1;
      self.yield();
    }
  });
  uint64_t v = 1;
  for (uint64_t i = 0; i < kRounds; ++i) {
    box = v;
    c.resume();
    ASSERT_EQ(box, v * 3 + 1) << "round " << i;
    v = box + 1;
  }
  c.resume();  // lets the loop end
  EXPECT_TRUE(c.done);
}

// Entry functions are named functions, not lambdas: for a lambda that never returns, GCC's
// ASan instrumentation calls __asan_handle_no_return in the compiler-made static invoker, i.e.
// on the new stack before Context::on_entry() could complete the switch protocol.
struct FirstArg {
  Context* main = nullptr;
  Context self;
  void* seen = nullptr;
  int calls = 0;
};

void first_entry(void* p) {
  Context::on_entry();
  auto* a = static_cast<FirstArg*>(p);
  a->seen = p;
  ++a->calls;
  a->self.switch_to(*a->main, true);
  __builtin_trap();
}

TEST(Context, FirstSwitchCallsEntryWithArg) {
  MainCtx m;
  FirstArg arg;
  arg.main = &m.ctx;
  Stack st;
  arg.self.init(st.lo(), st.size(), &first_entry, &arg);
  m.ctx.switch_to(arg.self);
  EXPECT_EQ(arg.seen, &arg);
  EXPECT_EQ(arg.calls, 1);
  arg.self.destroy();
}

// ---- callee-saved registers --------------------------------------------------------------
#if defined(__x86_64__)
// regs_call(fn, a0, a1, out, seed): loads rbx, rbp, r12..r15 with seed+1..seed+6, calls
// fn(a0, a1), then stores those six registers into out[0..5] and restores the caller's values.
// fn is a C++ function that switches away and back; whatever code runs on the other side, the
// six registers must come back unchanged.
extern "C" void gort_test_regs_call(void (*fn)(void*, void*), void* a0, void* a1, uint64_t* out,
                                    uint64_t seed);
asm(R"(
    .text
    .globl gort_test_regs_call
    .type gort_test_regs_call, @function
gort_test_regs_call:
    .cfi_startproc
    pushq %rbp
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset %rbp, 0
    pushq %rbx
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset %rbx, 0
    pushq %r12
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset %r12, 0
    pushq %r13
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset %r13, 0
    pushq %r14
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset %r14, 0
    pushq %r15
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset %r15, 0
    pushq %rcx
    .cfi_adjust_cfa_offset 8
    movq %rdi, %rax
    movq %rsi, %rdi
    movq %rdx, %rsi
    leaq 1(%r8), %rbx
    leaq 2(%r8), %rbp
    leaq 3(%r8), %r12
    leaq 4(%r8), %r13
    leaq 5(%r8), %r14
    leaq 6(%r8), %r15
    call *%rax
    popq %rcx
    .cfi_adjust_cfa_offset -8
    movq %rbx, 0(%rcx)
    movq %rbp, 8(%rcx)
    movq %r12, 16(%rcx)
    movq %r13, 24(%rcx)
    movq %r14, 32(%rcx)
    movq %r15, 40(%rcx)
    popq %r15
    .cfi_adjust_cfa_offset -8
    .cfi_restore %r15
    popq %r14
    .cfi_adjust_cfa_offset -8
    .cfi_restore %r14
    popq %r13
    .cfi_adjust_cfa_offset -8
    .cfi_restore %r13
    popq %r12
    .cfi_adjust_cfa_offset -8
    .cfi_restore %r12
    popq %rbx
    .cfi_adjust_cfa_offset -8
    .cfi_restore %rbx
    popq %rbp
    .cfi_adjust_cfa_offset -8
    .cfi_restore %rbp
    ret
    .cfi_endproc
    .size gort_test_regs_call, . - gort_test_regs_call
)");

// Switch `from` -> `to` through the wrapper. Without sanitizers the wrapper is just a call to
// gort_ctx_swap, so this function hides nothing; with sanitizers the check is weaker (the
// compiler may itself save a register it uses here) but still meaningful for the others.
void switch_fn(void* from, void* to) { static_cast<Context*>(from)->switch_to(*static_cast<Context*>(to)); }

TEST(Context, CalleeSavedRegistersPreserved) {
  MainCtx m;
  uint64_t inner[6] = {};
  Coro c(&m.ctx, [&](Coro& self) {
    // The coroutine loads its own values, switches to main (which then runs gtest code and
    // clobbers everything), and checks them when resumed.
    gort_test_regs_call(&switch_fn, &self.ctx, self.parent, inner, 0x5a5a000000000000ULL);
  });
  uint64_t outer[6] = {};
  c.resume();  // coroutine starts, loads its registers, switches back
  gort_test_regs_call(&switch_fn, &m.ctx, &c.ctx, outer, 0xa5a5000000000000ULL);
  // The coroutine checked in, finished and came back here.
  EXPECT_TRUE(c.done);
  for (int i = 0; i < 6; ++i) {
    EXPECT_EQ(outer[i], 0xa5a5000000000000ULL + i + 1) << "main register #" << i;
    EXPECT_EQ(inner[i], 0x5a5a000000000000ULL + i + 1) << "coroutine register #" << i;
  }
}
#endif  // __x86_64__

// ---- FP control state ----------------------------------------------------------------------
TEST(Context, RoundingModeIsPerContext) {
  MainCtx m;
  const int saved = fegetround();
  ASSERT_EQ(fesetround(FE_TONEAREST), 0);
  int seen_in_coro_after_resume = -1;
  int seen_in_coro_at_start = -1;
  Coro c(&m.ctx, [&](Coro& self) {
    seen_in_coro_at_start = fegetround();
    fesetround(FE_TOWARDZERO);
    self.yield();
    seen_in_coro_after_resume = fegetround();
  });
  // Fresh context inherits the creator's state at make time; change ours afterwards.
  c.resume();
  EXPECT_EQ(seen_in_coro_at_start, FE_TONEAREST);
  EXPECT_EQ(fegetround(), FE_TONEAREST) << "coroutine's rounding mode leaked into main";
  fesetround(FE_DOWNWARD);
  c.resume();
  EXPECT_EQ(seen_in_coro_after_resume, FE_TOWARDZERO) << "coroutine lost its rounding mode";
  EXPECT_EQ(fegetround(), FE_DOWNWARD) << "main lost its rounding mode";
  EXPECT_TRUE(c.done);
  fesetround(saved);
}

#if defined(__x86_64__)
uint16_t get_x87_cw() {
  uint16_t cw;
  asm volatile("fnstcw %0" : "=m"(cw));
  return cw;
}
void set_x87_cw(uint16_t cw) { asm volatile("fldcw %0" : : "m"(cw)); }

TEST(Context, MxcsrAndX87ControlWordPerContext) {
  MainCtx m;
  const unsigned mx0 = _mm_getcsr();
  const uint16_t cw0 = get_x87_cw();
  // Coroutine: FTZ + DAZ + round-up in MXCSR; x87 precision 24 bit + round-toward-zero.
  const unsigned mx_c = (mx0 & ~0x6000u) | 0x8040u | 0x4000u;
  const uint16_t cw_c = static_cast<uint16_t>((cw0 & ~0x0f00u) | 0x0c00u);
  // Main, while the coroutine is suspended: round-down in MXCSR, x87 precision 53 bit.
  const unsigned mx_m = (mx0 & ~0x6000u) | 0x2000u;
  const uint16_t cw_m = static_cast<uint16_t>((cw0 & ~0x0f00u) | 0x0200u);
  unsigned c_mx_start = 0, c_mx_after = 0;
  uint16_t c_cw_start = 0, c_cw_after = 0;
  Coro c(&m.ctx, [&](Coro& self) {
    c_mx_start = _mm_getcsr();
    c_cw_start = get_x87_cw();
    _mm_setcsr(mx_c);
    set_x87_cw(cw_c);
    self.yield();
    c_mx_after = _mm_getcsr();
    c_cw_after = get_x87_cw();
    _mm_setcsr(mx0);
    set_x87_cw(cw0);
  });
  c.resume();
  EXPECT_EQ(c_mx_start, mx0);
  EXPECT_EQ(c_cw_start, cw0);
  EXPECT_EQ(_mm_getcsr(), mx0) << "coroutine MXCSR leaked into main";
  EXPECT_EQ(get_x87_cw(), cw0) << "coroutine x87 CW leaked into main";
  _mm_setcsr(mx_m);
  set_x87_cw(cw_m);
  c.resume();
  const unsigned main_mx_after = _mm_getcsr();
  const uint16_t main_cw_after = get_x87_cw();
  _mm_setcsr(mx0);
  set_x87_cw(cw0);
  EXPECT_EQ(c_mx_after, mx_c);
  EXPECT_EQ(c_cw_after, cw_c);
  EXPECT_EQ(main_mx_after, mx_m);
  EXPECT_EQ(main_cw_after, cw_m);
  EXPECT_TRUE(c.done);
}
#endif  // __x86_64__

// ---- stack alignment -------------------------------------------------------------------------
struct AlignProbe {
  uintptr_t frame = 0;
  uintptr_t local = 0;
};

__attribute__((noinline)) void probe_alignment(AlignProbe* out) {
  alignas(alignof(std::max_align_t)) volatile char buf[32];
  buf[0] = 1;
  out->frame = reinterpret_cast<uintptr_t>(__builtin_frame_address(0));
  out->local = reinterpret_cast<uintptr_t>(&buf[0]);
}

struct AlignArg {
  Context* main = nullptr;
  Context self;
  uintptr_t entry_frame = 0;
  AlignProbe first, second;
};

void align_entry(void* p) {
  auto* a = static_cast<AlignArg*>(p);
  // With a frame pointer, the frame address is the stack pointer right after entry's
  // `push rbp`; it is 16-byte aligned iff the call site was.
  a->entry_frame = reinterpret_cast<uintptr_t>(__builtin_frame_address(0));
  Context::on_entry();
  probe_alignment(&a->first);
  a->self.switch_to(*a->main);
  probe_alignment(&a->second);
  a->self.switch_to(*a->main, true);
  __builtin_trap();
}

TEST(Context, StackAlignedAtEntryAndInside) {
  MainCtx m;
  AlignArg arg;
  arg.main = &m.ctx;
  Stack st;
  arg.self.init(st.lo(), st.size(), &align_entry, &arg);
  m.ctx.switch_to(arg.self);
  m.ctx.switch_to(arg.self);
  const uintptr_t lo = reinterpret_cast<uintptr_t>(st.lo());
  EXPECT_EQ(arg.entry_frame % 16, 0u);
  EXPECT_GT(arg.entry_frame, lo);
  EXPECT_LE(arg.entry_frame, lo + st.size());
  for (const AlignProbe* pr : {&arg.first, &arg.second}) {
    EXPECT_EQ(pr->frame % 16, 0u);
    EXPECT_EQ(pr->local % alignof(std::max_align_t), 0u);
  }
  arg.self.destroy();
}

// ---- many contexts ---------------------------------------------------------------------------
TEST(Context, ThousandContextsRoundRobin) {
  MainCtx m;
  constexpr int kN = 1000;
  constexpr int kRounds = 20;
  std::vector<int> hits(kN, 0);
  std::vector<std::unique_ptr<Coro>> cs;
  cs.reserve(kN);
  int current = -1;
  for (int i = 0; i < kN; ++i) {
    cs.push_back(std::make_unique<Coro>(&m.ctx, [&, i](Coro& self) {
      for (int r = 0; r < kRounds; ++r) {
        if (current != i) return;  // resumed out of turn: leaves hits short
        ++hits[i];
        self.yield();
      }
    }));
  }
  for (int r = 0; r < kRounds; ++r) {
    for (int i = 0; i < kN; ++i) {
      current = i;
      cs[i]->resume();
    }
  }
  for (int i = 0; i < kN; ++i) {
    current = i;
    cs[i]->resume();  // finishes
    ASSERT_TRUE(cs[i]->done) << i;
    ASSERT_EQ(hits[i], kRounds) << i;
  }
}

// ---- exceptions and deep recursion inside a context -----------------------------------------
__attribute__((noinline)) int throw_deep(int n) {
  if (n == 0) throw std::runtime_error("deep");
  return throw_deep(n - 1) + 1;
}

TEST(Context, ExceptionThrownAndCaughtInside) {
  MainCtx m;
  std::string what;
  int caught = 0;
  Coro c(&m.ctx, [&](Coro& self) {
    try {
      throw_deep(50);
    } catch (const std::runtime_error& e) {
      what = e.what();
      ++caught;
    }
    self.yield();  // unwinding state must survive a switch too
    try {
      try {
        throw std::logic_error("inner");
      } catch (const std::logic_error&) {
        self.yield();  // suspended inside a catch handler
        throw;
      }
    } catch (const std::logic_error& e) {
      what += std::string("+") + e.what();
      ++caught;
    }
  });
  c.resume();
  EXPECT_EQ(caught, 1);
  // Main throws and catches its own exception while the coroutine is suspended.
  try {
    throw std::runtime_error("main");
  } catch (const std::exception&) {
  }
  c.resume();
  try {
    throw std::runtime_error("main2");
  } catch (const std::exception&) {
  }
  c.resume();
  EXPECT_TRUE(c.done);
  EXPECT_EQ(caught, 2);
  EXPECT_EQ(what, "deep+inner");
}

__attribute__((noinline)) uint64_t recurse(int depth, volatile char* prev) {
  volatile char pad[96];
  pad[0] = static_cast<char>(depth);
  pad[95] = prev ? prev[0] : 0;
  if (depth == 0) return pad[0] + 1;
  return recurse(depth - 1, pad) + static_cast<uint64_t>(static_cast<unsigned char>(pad[0]));
}

TEST(Context, DeepRecursionInside) {
  MainCtx m;
  uint64_t result = 0;
  bool finished = false;
#if defined(GORT_ASAN)
  constexpr int kDepth = 500;  // ASan red zones roughly double each frame
#else
  constexpr int kDepth = 1000;  // ~130 KiB of the 256 KiB stack
#endif
  Coro c(&m.ctx, [&](Coro& self) {
    result = recurse(kDepth, nullptr);
    self.yield();
    result += recurse(kDepth, nullptr);
    finished = true;
  });
  c.resume();
  uint64_t expect = 1;
  for (int d = 1; d <= kDepth; ++d) expect += static_cast<unsigned char>(static_cast<char>(d));
  EXPECT_EQ(result, expect);
  c.resume();
  EXPECT_EQ(result, 2 * expect);
  EXPECT_TRUE(finished);
  EXPECT_TRUE(c.done);
}

}  // namespace
