// Self-contained check of an asm/ context-switch port: no GoogleTest, no runtime headers, so it
// can be built statically with a cross compiler and run under qemu-user (tests/asm/run_aarch64.sh).
// It also builds natively on x86_64. Exit status 0 = all checks passed, 1 = some check failed.
//
// It uses the two raw functions directly (no sanitizer annotations), the same ones the
// GoogleTest suite (context_test.cpp) covers through the runtime wrapper.
#include <sys/mman.h>
#include <unistd.h>

#include <cfenv>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <vector>

extern "C" {
void* gort_ctx_make(void* stack_top, void (*entry)(void*), void* arg);
void gort_ctx_swap(void** save, void* handle);
}

namespace {

int g_failures = 0;

#define CHECK(cond)                                                    \
  do {                                                                 \
    if (!(cond)) {                                                     \
      std::fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
      ++g_failures;                                                    \
    }                                                                  \
  } while (0)

#define CHECK_EQ_U64(a, b)                                                                    \
  do {                                                                                        \
    const unsigned long long va_ = static_cast<unsigned long long>(a);                        \
    const unsigned long long vb_ = static_cast<unsigned long long>(b);                        \
    if (va_ != vb_) {                                                                         \
      std::fprintf(stderr, "%s:%d: CHECK failed: %s == %s (0x%llx vs 0x%llx)\n", __FILE__,    \
                   __LINE__, #a, #b, va_, vb_);                                               \
      ++g_failures;                                                                           \
    }                                                                                         \
  } while (0)

constexpr size_t kStackSize = 256 * 1024;

struct Stack {
  void* base = nullptr;
  size_t map = 0;
  char* lo = nullptr;
  Stack() {
    const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
    map = kStackSize + page;
    base = mmap(nullptr, map, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (base == MAP_FAILED) {
      std::perror("mmap");
      std::exit(2);
    }
    mprotect(base, page, PROT_NONE);  // guard page
    lo = static_cast<char*>(base) + page;
  }
  ~Stack() { munmap(base, map); }
  Stack(const Stack&) = delete;
  Stack& operator=(const Stack&) = delete;
  void* top() const { return lo + kStackSize; }
};

// A context with a body; `yield` goes back to whoever resumed it last.
struct Coro {
  Stack stack;
  void* self = nullptr;
  void* back = nullptr;
  bool done = false;
  void (*body)(Coro&, void*) = nullptr;
  void* user = nullptr;

  Coro(void (*b)(Coro&, void*), void* u) : body(b), user(u) { self = gort_ctx_make(stack.top(), &entry, this); }
  static void entry(void* p) {
    auto* c = static_cast<Coro*>(p);
    c->body(*c, c->user);
    c->done = true;
    gort_ctx_swap(&c->self, c->back);
    std::abort();
  }
  void resume() { gort_ctx_swap(&back, self); }
  void yield() { gort_ctx_swap(&self, back); }
};

// ---- ping-pong ------------------------------------------------------------------------------
struct PingPong {
  uint64_t box = 0;
  uint64_t rounds = 0;
  bool bad = false;
};

void test_ping_pong() {
  PingPong pp;
  pp.rounds = 100000;
  Coro c(
      [](Coro& self, void* u) {
        auto* p = static_cast<PingPong*>(u);
        for (uint64_t i = 0; i < p->rounds; ++i) {
          if (p->box != i * 2) p->bad = true;
          p->box = i * 2 + 1;
          self.yield();
        }
      },
      &pp);
  for (uint64_t i = 0; i < pp.rounds; ++i) {
    pp.box = i * 2;
    c.resume();
    if (pp.box != i * 2 + 1) {
      CHECK(pp.box == i * 2 + 1);
      break;
    }
  }
  c.resume();
  CHECK(!pp.bad);
  CHECK(c.done);
}

// ---- callee-saved registers ------------------------------------------------------------------
// regs_call(fn, a0, a1, out, seed): loads every callee-saved register with seed+k, calls
// fn(a0, a1) (which switches away and back), and stores the registers into out[].
#if defined(__aarch64__)
constexpr int kRegs = 18;  // x19..x28, d8..d15 (x29 is the frame pointer: saved, not checked)
asm(R"(
    .text
    .globl gort_selftest_regs_call
    .type gort_selftest_regs_call, %function
gort_selftest_regs_call:
    hint #34
    stp x29, x30, [sp, #-176]!
    mov x29, sp
    stp x19, x20, [sp, #16]
    stp x21, x22, [sp, #32]
    stp x23, x24, [sp, #48]
    stp x25, x26, [sp, #64]
    stp x27, x28, [sp, #80]
    stp d8, d9, [sp, #96]
    stp d10, d11, [sp, #112]
    stp d12, d13, [sp, #128]
    stp d14, d15, [sp, #144]
    str x3, [sp, #160]
    mov x9, x0
    mov x0, x1
    mov x1, x2
    add x19, x4, #1
    add x20, x4, #2
    add x21, x4, #3
    add x22, x4, #4
    add x23, x4, #5
    add x24, x4, #6
    add x25, x4, #7
    add x26, x4, #8
    add x27, x4, #9
    add x28, x4, #10
    add x10, x4, #11
    fmov d8, x10
    add x10, x4, #12
    fmov d9, x10
    add x10, x4, #13
    fmov d10, x10
    add x10, x4, #14
    fmov d11, x10
    add x10, x4, #15
    fmov d12, x10
    add x10, x4, #16
    fmov d13, x10
    add x10, x4, #17
    fmov d14, x10
    add x10, x4, #18
    fmov d15, x10
    blr x9
    ldr x3, [sp, #160]
    stp x19, x20, [x3, #0]
    stp x21, x22, [x3, #16]
    stp x23, x24, [x3, #32]
    stp x25, x26, [x3, #48]
    stp x27, x28, [x3, #64]
    stp d8, d9, [x3, #80]
    stp d10, d11, [x3, #96]
    stp d12, d13, [x3, #112]
    stp d14, d15, [x3, #128]
    ldp x19, x20, [sp, #16]
    ldp x21, x22, [sp, #32]
    ldp x23, x24, [sp, #48]
    ldp x25, x26, [sp, #64]
    ldp x27, x28, [sp, #80]
    ldp d8, d9, [sp, #96]
    ldp d10, d11, [sp, #112]
    ldp d12, d13, [sp, #128]
    ldp d14, d15, [sp, #144]
    ldp x29, x30, [sp], #176
    ret
    .size gort_selftest_regs_call, . - gort_selftest_regs_call
)");
#define HAVE_REGS_CALL 1
#elif defined(__x86_64__)
constexpr int kRegs = 6;  // rbx, rbp, r12..r15
asm(R"(
    .text
    .globl gort_selftest_regs_call
    .type gort_selftest_regs_call, @function
gort_selftest_regs_call:
    pushq %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    pushq %rcx
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
    movq %rbx, 0(%rcx)
    movq %rbp, 8(%rcx)
    movq %r12, 16(%rcx)
    movq %r13, 24(%rcx)
    movq %r14, 32(%rcx)
    movq %r15, 40(%rcx)
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    ret
    .size gort_selftest_regs_call, . - gort_selftest_regs_call
)");
#define HAVE_REGS_CALL 1
#endif

#if defined(HAVE_REGS_CALL)
extern "C" void gort_selftest_regs_call(void (*fn)(void*, void*), void* a0, void* a1, uint64_t* out,
                                        uint64_t seed);

constexpr uint64_t kSeedMain = 0x1111000000000000ULL;
constexpr uint64_t kSeedCoro = 0x2222000000000000ULL;

struct RegsState {
  uint64_t inner[kRegs] = {};
};

void test_callee_saved() {
  RegsState st;
  // The swap function itself is passed to the helper, so nothing between the helper and the
  // switch could save and restore a register on the switch's behalf.
  auto swap_fn = reinterpret_cast<void (*)(void*, void*)>(&gort_ctx_swap);
  Coro c(
      [](Coro& self, void* u) {
        auto* s = static_cast<RegsState*>(u);
        gort_selftest_regs_call(reinterpret_cast<void (*)(void*, void*)>(&gort_ctx_swap), &self.self,
                                self.back, s->inner, kSeedCoro);
      },
      &st);
  c.resume();  // the coroutine loads its registers and switches back
  uint64_t outer[kRegs] = {};
  gort_selftest_regs_call(swap_fn, &c.back, c.self, outer, kSeedMain);
  CHECK(c.done);
  for (int i = 0; i < kRegs; ++i) {
    CHECK_EQ_U64(outer[i], kSeedMain + i + 1);
    CHECK_EQ_U64(st.inner[i], kSeedCoro + i + 1);
  }
}
#endif

// ---- FP control state per context -------------------------------------------------------------
struct RoundState {
  int at_start = -1;
  int after_resume = -1;
};

void test_rounding_per_context() {
  const int saved = fegetround();
  fesetround(FE_TONEAREST);
  RoundState st;
  Coro c(
      [](Coro& self, void* u) {
        auto* s = static_cast<RoundState*>(u);
        s->at_start = fegetround();
        fesetround(FE_TOWARDZERO);
        self.yield();
        s->after_resume = fegetround();
        fesetround(FE_TONEAREST);
      },
      &st);
  c.resume();
  CHECK(st.at_start == FE_TONEAREST);
  CHECK(fegetround() == FE_TONEAREST);
  fesetround(FE_UPWARD);
  c.resume();
  const int main_after = fegetround();
  fesetround(saved);
  CHECK(st.after_resume == FE_TOWARDZERO);
  CHECK(main_after == FE_UPWARD);
  CHECK(c.done);
}

// ---- alignment ---------------------------------------------------------------------------------
struct AlignState {
  uintptr_t inner_frame = 1, local = 1;
};

__attribute__((noinline)) void probe(AlignState* s) {
  alignas(alignof(std::max_align_t)) volatile char buf[32];
  buf[0] = 0;
  s->inner_frame = reinterpret_cast<uintptr_t>(__builtin_frame_address(0));
  s->local = reinterpret_cast<uintptr_t>(&buf[0]);
}

struct EntryProbe {
  uintptr_t frame = 1;
  void* back = nullptr;
  void* self = nullptr;
};

void probe_entry(void* p) {
  auto* e = static_cast<EntryProbe*>(p);
  // With a frame pointer, this is sp right after the prologue's push of the frame record: it
  // is 16-byte aligned iff the trampoline called us with the ABI's alignment.
  e->frame = reinterpret_cast<uintptr_t>(__builtin_frame_address(0));
  gort_ctx_swap(&e->self, e->back);
  std::abort();
}

void test_alignment() {
  EntryProbe ep;
  Stack st_entry;
  ep.self = gort_ctx_make(st_entry.top(), &probe_entry, &ep);
  gort_ctx_swap(&ep.back, ep.self);
  CHECK_EQ_U64(ep.frame % 16, 0);

  AlignState st;
  Coro c(
      [](Coro& self, void* u) {
        auto* s = static_cast<AlignState*>(u);
        self.yield();
        probe(s);  // after a round trip through swap
      },
      &st);
  c.resume();
  c.resume();
  CHECK_EQ_U64(st.inner_frame % 16, 0);
  CHECK_EQ_U64(st.local % alignof(std::max_align_t), 0);
  CHECK(c.done);
}

// ---- 1000 contexts round-robin ---------------------------------------------------------------
struct RR {
  int id = 0;
  int hits = 0;
  int* current_ptr = nullptr;
};

void test_round_robin() {
  constexpr int kN = 1000, kRounds = 10;
  int current = -1;
  std::vector<RR> st(kN);
  std::vector<Coro*> cs;
  for (int i = 0; i < kN; ++i) {
    st[i].id = i;
    st[i].current_ptr = &current;
    cs.push_back(new Coro(
        [](Coro& self, void* u) {
          auto* r = static_cast<RR*>(u);
          for (int k = 0; k < kRounds; ++k) {
            if (*r->current_ptr != r->id) return;
            ++r->hits;
            self.yield();
          }
        },
        &st[i]));
  }
  for (int k = 0; k <= kRounds; ++k)
    for (int i = 0; i < kN; ++i) {
      current = i;
      cs[i]->resume();
    }
  for (int i = 0; i < kN; ++i) {
    if (!cs[i]->done || st[i].hits != kRounds) {
      CHECK(cs[i]->done && st[i].hits == kRounds);
      break;
    }
  }
  for (Coro* c : cs) delete c;
}

// ---- exceptions and deep recursion -----------------------------------------------------------
__attribute__((noinline)) int thrower(int n) {
  if (n == 0) throw std::runtime_error("deep");
  return thrower(n - 1) + 1;
}

__attribute__((noinline)) uint64_t recurse(int depth) {
  volatile char pad[96];
  pad[0] = static_cast<char>(depth & 0x7f);
  if (depth == 0) return 1;
  return recurse(depth - 1) + static_cast<uint64_t>(pad[0]);
}

struct ExcState {
  std::string what;
  uint64_t sum = 0;
};

void test_exceptions_and_recursion() {
  ExcState st;
  Coro c(
      [](Coro& self, void* u) {
        auto* s = static_cast<ExcState*>(u);
        try {
          thrower(40);
        } catch (const std::exception& e) {
          s->what = e.what();
        }
        self.yield();
        try {
          throw std::logic_error("again");
        } catch (const std::logic_error& e) {
          s->what += e.what();
        }
        s->sum = recurse(1000);
      },
      &st);
  c.resume();
  CHECK(st.what == "deep");
  try {
    throw 42;
  } catch (int) {
  }
  c.resume();
  CHECK(st.what == "deepagain");
  uint64_t expect = 1;
  for (int d = 1; d <= 1000; ++d) expect += static_cast<uint64_t>(d & 0x7f);
  CHECK_EQ_U64(st.sum, expect);
  CHECK(c.done);
}

}  // namespace

int main() {
#if defined(HAVE_REGS_CALL)
  test_callee_saved();
#endif
  test_ping_pong();
  test_rounding_per_context();
  test_alignment();
  test_round_robin();
  test_exceptions_and_recursion();
  if (g_failures != 0) {
    std::fprintf(stderr, "context selftest: %d check(s) FAILED\n", g_failures);
    return 1;
  }
  std::printf("context selftest: all checks passed\n");
  return 0;
}
