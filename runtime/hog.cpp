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

// CPU time thread tid of this process has used, or -1. Linux names another thread's CPU clock
// by its tid (the encoding glibc's pthread_getcpuclockid uses: ~tid << 3 | per-thread | sched).
int64_t thread_cpu_ns(int32_t tid) {
  const clockid_t clock = static_cast<clockid_t>((~static_cast<unsigned>(tid) << 3) | 6);
  timespec ts;
  if (clock_gettime(clock, &ts) != 0) return -1;
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
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
  // The thread answers once the kernel runs it (signals are delivered on the way back to user
  // space). On a loaded machine it may wait for a CPU longer than any wall-clock patience, so
  // patience counts the thread's own CPU time: once it has run 20 ms with the signal pending
  // and not answered, it has the signal blocked or a sanitizer holds it back. A thread that is
  // never given a CPU (or is stopped) is given up on after a second of wall time.
  constexpr int64_t kCpuPatienceNs = 20'000'000;
  constexpr int64_t kWallPatienceNs = 1'000'000'000;
  const int64_t cpu_at_ask = thread_cpu_ns(tid);
  const int64_t asked_at = now_ns();
  // Without a readable clock (the thread exited), the thread's wall time stands in for its CPU.
  auto out_of_patience = [&] {
    const int64_t now = now_ns();
    if (now - asked_at >= kWallPatienceNs) return true;
    const int64_t cpu = cpu_at_ask < 0 ? -1 : thread_cpu_ns(tid);
    return cpu < 0 ? now - asked_at >= kCpuPatienceNs : cpu - cpu_at_ask >= kCpuPatienceNs;
  };
  uint32_t st = s.state.load(std::memory_order_acquire);
  while (st == HogSample::kWanted || st == HogSample::kTaking) {
    if (st == HogSample::kWanted && out_of_patience() &&
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

// How many sysmon rounds ask a running goroutine's thread for its frames before its report
// goes out without them. A request can miss: the thread may still be in the scheduler, about to
// switch to the goroutine (the handler refuses), or, under TSan, the signal lands on the
// scheduler's fiber and waits there while the goroutine runs. The next round asks again.
constexpr int kSampleAttempts = 3;

enum class Sampled { kFrames, kNoAnswer, kNotInRun };

// Asks the P's thread for its frames. Waits for the handler until the thread has run 20 ms of
// CPU without answering (at most 1 s): a thread can have SIGURG blocked, or a sanitizer may
// hold signals back until its next intercepted call. kNotInRun: the thread was not in that
// goroutine's run (its M was on its own stack, in the scheduler).
Sampled sample(P* p, int32_t tid, uint64_t runs, HogReport* r) {
  uintptr_t frames[kMaxBacktraceFrames];
  int n = 0;
  uint32_t st;
  {
    std::lock_guard<RankedMutex> lock(g_sample_mu);
    st = ask_for_frames(p, tid, runs, frames, kMaxBacktraceFrames, &n);
  }
  if (st == HogSample::kRefused) return Sampled::kNotInRun;
  if (st != HogSample::kTaken) return Sampled::kNoAnswer;
  r->backtrace = describe_frames(frames, n);
  return Sampled::kFrames;
}

// Reports the episode `runs` of p, or returns false to be asked again at the next round (a
// sample that missed, while attempts are left). True: the episode is done with.
bool report(P* p, uint64_t runs, int64_t ran_ns, bool last_attempt) {
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
  } else if (tid > 0 && state != 'T' && state != 't') {  // a stopped thread cannot answer
    switch (sample(p, tid, runs, &r)) {
      case Sampled::kFrames:
        break;
      case Sampled::kNoAnswer:
        if (!last_attempt) return false;
        break;  // reported without frames
      case Sampled::kNotInRun:
        return last_attempt;
    }
  }
  // The episode ended while we looked: whatever we read may belong to the next goroutine.
  if (p->runs.load(std::memory_order_relaxed) != runs) return true;
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
  return true;
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
      p->hog_attempts = 0;
      continue;
    }
    if (now - p->hog_since < threshold_ns || p->hog_reported == runs) continue;
    // Once per episode, whatever the report finds, after at most kSampleAttempts rounds.
    if (report(p, runs, now - p->hog_since, ++p->hog_attempts >= kSampleAttempts)) {
      p->hog_reported = runs;
    }
  }
}

}  // namespace gort::rt
