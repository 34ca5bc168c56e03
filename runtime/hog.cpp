// The hog detector: episodes, sampling and reports (protocol in hog.hpp).
//
// An episode is a run of P::runs (every switch onto the P bumps it, inherited time slices too)
// that stays unchanged while the P is kRunning: one goroutine has been on that P without a
// switch. sysmon's preemption uses schedtick instead, which does not move for goroutines that
// hand a time slice back and forth; those switch all the time and are no hog.
#include "runtime/hog.hpp"

#include <signal.h>
#include <sys/syscall.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <algorithm>
#include <mutex>
#include <stdexcept>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "gort/config.hpp"
#include "runtime/backtrace.hpp"
#include "runtime/fatal.hpp"
#include "runtime/machine.hpp"
#include "runtime/sched.hpp"
#include "runtime/lock_rank.hpp"

namespace gort {

std::string HogReport::to_string() const {
  std::string s = absl::StrFormat(
      "gort: goroutine %d has held processor %d for %.1f ms without yielding (%s)\n"
      "  created at %s\n",
      goroutine_id, processor, static_cast<double>(running_for.count()) / 1e6,
      in_system_call ? "asleep in a system call made outside gort::blocking"
                     : "computing without a runtime call",
      created_at.empty() ? "?" : created_at);
  for (size_t i = 0; i < backtrace.size(); ++i) {
    absl::StrAppendFormat(&s, "  #%d %s\n", i, backtrace[i]);
  }
  if (backtrace.empty()) s += "  (no backtrace: its thread did not answer the sample)\n";
  return s;
}

}  // namespace gort

namespace gort::rt {

namespace {

struct sigaction g_prev_urg;  // written once, before our handler is installed

void chain_urg(int sig, siginfo_t* info, void* uctx) {
  const struct sigaction& prev = g_prev_urg;
  if (prev.sa_flags & SA_SIGINFO) {
    if (prev.sa_sigaction != nullptr) prev.sa_sigaction(sig, info, uctx);
  } else if (prev.sa_handler != SIG_DFL && prev.sa_handler != SIG_IGN) {
    prev.sa_handler(sig);
  }
  // SIG_DFL for SIGURG is to ignore it, as is SIG_IGN.
}

struct Regs {
  uintptr_t pc, sp, fp;
};

bool regs_of(void* uctx, Regs* r) {
  auto* uc = static_cast<ucontext_t*>(uctx);
#if defined(__x86_64__)
  r->pc = static_cast<uintptr_t>(uc->uc_mcontext.gregs[REG_RIP]);
  r->sp = static_cast<uintptr_t>(uc->uc_mcontext.gregs[REG_RSP]);
  r->fp = static_cast<uintptr_t>(uc->uc_mcontext.gregs[REG_RBP]);
  return true;
#elif defined(__aarch64__)
  r->pc = uc->uc_mcontext.pc;
  r->sp = uc->uc_mcontext.sp;
  r->fp = uc->uc_mcontext.regs[29];
  return true;
#else
  (void)uc;
  (void)r;
  return false;
#endif
}

void on_sigurg(int sig, siginfo_t* info, void* uctx) {
  const int saved_errno = errno;
  M* m = current_m();
  P* p = m != nullptr ? m->p : nullptr;
  uint32_t wanted = HogSample::kWanted;
  if (p == nullptr || !p->hog_sample.state.compare_exchange_strong(
                          wanted, HogSample::kTaking, std::memory_order_acq_rel)) {
    chain_urg(sig, info, uctx);
    errno = saved_errno;
    return;
  }
  HogSample& s = p->hog_sample;
  G* g = m->curg;
  Regs r{};
  const bool ours = g != nullptr && regs_of(uctx, &r) &&
                    p->runs.load(std::memory_order_relaxed) == s.want_runs &&
                    r.sp >= reinterpret_cast<uintptr_t>(g->stack.lo) &&
                    r.sp < reinterpret_cast<uintptr_t>(g->stack.hi);
  if (ours) {
    s.nframes = walk_frames(r.pc, r.sp, r.fp, reinterpret_cast<uintptr_t>(g->stack.lo),
                            reinterpret_cast<uintptr_t>(g->stack.hi), s.frames,
                            kMaxBacktraceFrames);
  }
  s.state.store(ours ? HogSample::kTaken : HogSample::kRefused, std::memory_order_release);
  errno = saved_errno;
}

// The scheduling state letter of a thread of this process ('R', 'S', 'D', ...), or 0.
char thread_state(int32_t tid) {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/self/task/%d/stat", tid);
  FILE* f = std::fopen(path, "re");
  if (f == nullptr) return 0;
  char buf[512];
  const size_t n = std::fread(buf, 1, sizeof buf - 1, f);
  std::fclose(f);
  buf[n] = '\0';
  const char* paren = std::strrchr(buf, ')');  // the name may hold spaces and parentheses
  return paren != nullptr && paren[1] == ' ' ? paren[2] : 0;
}

// The system call a sleeping thread is in and its user-space pc (/proc/PID/task/TID/syscall:
// "NR ARG1..ARG6 SP PC").
bool thread_syscall(int32_t tid, long* nr, uintptr_t* pc) {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/self/task/%d/syscall", tid);
  FILE* f = std::fopen(path, "re");
  if (f == nullptr) return false;
  unsigned long a[6], sp = 0, ip = 0;
  const int got = std::fscanf(f, "%ld %lx %lx %lx %lx %lx %lx %lx %lx", nr, &a[0], &a[1], &a[2],
                              &a[3], &a[4], &a[5], &sp, &ip);
  std::fclose(f);
  if (got != 9 || *nr < 0) return false;
  *pc = ip;
  return true;
}

// One requester at a time per mailbox: sysmon's reports and goroutine dumps (which may run on
// any thread) share the Ps' mailboxes.
RankedMutex g_sample_mu{LockRank::kHogSample};

// Under g_sample_mu. Returns the answer's state (kTaken, kRefused) or kIdle when none came.
uint32_t ask_for_frames(P* p, int32_t tid, uint64_t runs, uintptr_t* out, int max, int* n) {
  HogSample& s = p->hog_sample;
  s.want_runs = runs;
  s.state.store(HogSample::kWanted, std::memory_order_release);
  if (syscall(SYS_tgkill, getpid(), tid, SIGURG) != 0) {
    s.state.store(HogSample::kIdle, std::memory_order_relaxed);
    return HogSample::kIdle;
  }
  constexpr int64_t kPatienceNs = 100'000'000;
  const int64_t give_up = now_ns() + kPatienceNs;
  uint32_t st = s.state.load(std::memory_order_acquire);
  while (st == HogSample::kWanted || st == HogSample::kTaking) {
    if (st == HogSample::kWanted && now_ns() >= give_up &&
        s.state.compare_exchange_strong(st, HogSample::kIdle, std::memory_order_acq_rel)) {
      return HogSample::kIdle;  // the handler, if it runs later, finds nothing asked
    }
    timespec ts{0, 50'000};
    nanosleep(&ts, nullptr);
    st = s.state.load(std::memory_order_acquire);
  }
  if (st == HogSample::kTaken) {
    *n = std::min(s.nframes, max);
    std::copy(s.frames, s.frames + *n, out);
  }
  s.state.store(HogSample::kIdle, std::memory_order_relaxed);
  return st;
}

// Asks the P's thread for its frames. Waits at most 100 ms for the handler: a thread can have
// SIGURG blocked, or a sanitizer may hold signals back until its next intercepted call (then
// the report goes without frames). False: the thread was not in that goroutine's run (its M
// was on its own stack, in the scheduler), so there is nothing to report.
bool sample(P* p, int32_t tid, uint64_t runs, HogReport* r) {
  uintptr_t frames[kMaxBacktraceFrames];
  int n = 0;
  uint32_t st;
  {
    std::lock_guard<RankedMutex> lock(g_sample_mu);
    st = ask_for_frames(p, tid, runs, frames, kMaxBacktraceFrames, &n);
  }
  if (st == HogSample::kTaken) r->backtrace = describe_frames(frames, n);
  return st != HogSample::kRefused;
}

void report(P* p, uint64_t runs, int64_t ran_ns) {
  HogReport r;
  r.processor = p->id;
  r.running_for = std::chrono::nanoseconds(ran_ns);
  // Acquire: the descriptor was filled in before the goroutine was queued, and the M that
  // started it stored running_g (release) after taking it from a queue.
  if (const G* g = p->running_g.load(std::memory_order_acquire)) {
    r.goroutine_id = g->id;
    char buf[512];
    r.created_at.assign(buf, append_creation_site(g, buf, 0, sizeof buf));
  }
  const int32_t tid = p->m_tid.load(std::memory_order_relaxed);
  const char state = tid > 0 ? thread_state(tid) : 0;
  if (state == 'S' || state == 'D') {
    r.in_system_call = true;
    long nr = -1;
    uintptr_t pc = 0;
    if (thread_syscall(tid, &nr, &pc)) {
      r.backtrace = describe_frames(&pc, 1);
      r.backtrace[0] += absl::StrFormat(" (system call %d)", nr);
    }
  } else if (tid > 0 && !sample(p, tid, runs, &r)) {
    return;
  }
  // The episode ended while we looked: whatever we read may belong to the next goroutine.
  if (p->runs.load(std::memory_order_relaxed) != runs) return;
  sched->hog_reports.fetch_add(1, std::memory_order_relaxed);
  if (sched->config.on_hog) {
    // sysmon must outlive a sink that throws: say so and go on.
    try {
      sched->config.on_hog(r);
    } catch (const std::exception& e) {
      const std::string text = absl::StrCat("gort: Config::on_hog threw: ", e.what(), "\n");
      write_stderr(text.data(), text.size());
    } catch (...) {
      static const char kText[] = "gort: Config::on_hog threw\n";
      write_stderr(kText, sizeof kText - 1);
    }
  } else {
    const std::string text = r.to_string();
    write_stderr(text.data(), text.size());
  }
}

}  // namespace

int running_frames(P* p, const G* g, uintptr_t* out, int max, long* syscall_nr) {
  *syscall_nr = -1;
  // The run first, then the goroutine: if g is still the one running after `runs` was read,
  // that value is g's run, and the handler refuses any later one.
  const uint64_t runs = p->runs.load(std::memory_order_acquire);
  if (p->running_g.load(std::memory_order_acquire) != g) return 0;
  const int32_t tid = p->m_tid.load(std::memory_order_relaxed);
  if (tid <= 0 || max <= 0) return 0;
  const char state = thread_state(tid);
  if (state == 'S' || state == 'D') {
    uintptr_t pc = 0;
    if (!thread_syscall(tid, syscall_nr, &pc)) return 0;
    out[0] = pc;
    return 1;
  }
  hog_install();
  int n = 0;
  std::lock_guard<RankedMutex> lock(g_sample_mu);
  ask_for_frames(p, tid, runs, out, max, &n);
  return n;
}

void hog_install() {
  static std::once_flag once;
  std::call_once(once, [] {
    sigaction(SIGURG, nullptr, &g_prev_urg);
    struct sigaction sa;
    std::memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_sigurg;
    // The alternate stack: the goroutine may be close to its guard page. SA_RESTART: a
    // restartable call the signal lands in carries on.
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGURG, &sa, nullptr);
  });
}

void hog_watch(int64_t now, int64_t threshold_ns) {
  for (P* p : sched->allp) {
    if (p->status.load(std::memory_order_acquire) != PStatus::kRunning) {
      p->hog_since = 0;
      continue;
    }
    const uint64_t runs = p->runs.load(std::memory_order_relaxed);
    if (p->hog_since == 0 || runs != p->hog_runs) {
      p->hog_runs = runs;
      p->hog_since = now;
      continue;
    }
    if (now - p->hog_since < threshold_ns || p->hog_reported == runs) continue;
    p->hog_reported = runs;  // once per episode, whatever the report finds
    report(p, runs, now - p->hog_since);
  }
}

}  // namespace gort::rt
