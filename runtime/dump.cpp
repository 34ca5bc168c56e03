// The goroutine dump and its SIGQUIT trigger (dump.hpp).
#include "runtime/dump.hpp"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <mutex>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "runtime/backtrace.hpp"
#include "runtime/fatal.hpp"
#include "runtime/goroutine.hpp"
#include "runtime/hog.hpp"
#include "runtime/machine.hpp"
#include "runtime/sched.hpp"
#include "runtime/lock_rank.hpp"

namespace gort::rt {

namespace {

struct Entry {
  uint64_t id = 0;
  GStatus status = GStatus::kIdle;
  const char* reason = nullptr;
  int64_t since = 0;
  std::string created_at;
  int processor = -1;  // running: where
  const G* g = nullptr;
  long syscall_nr = -1;  // running, asleep in this system call (outside gort::blocking)
  int nframes = 0;
  uintptr_t frames[kMaxBacktraceFrames];
};

// Copies what the dump shows of one descriptor. Its owner may be writing these fields (a spawn
// reusing it, a park): the copy is a diagnostic snapshot, so TSan is told not to watch it, and
// the caller keeps it only if the status read before and after agrees.
__attribute__((no_sanitize("thread"))) void snapshot(const G* g, Entry* e) {
  e->id = g->id;
  e->reason = g->wait_reason;
  e->since = g->wait_since;
  char buf[512];
  e->created_at.assign(buf, append_creation_site(g, buf, 0, sizeof buf));
}

const char* state_name(const Entry& e) {
  switch (e.status) {
    case GStatus::kRunnable:
      return "runnable";
    case GStatus::kRunning:
      return "running";
    case GStatus::kWaiting:
      return e.reason != nullptr ? e.reason : "waiting";
    case GStatus::kBlocking:
      return "in gort::blocking";
    default:
      return "?";
  }
}

std::atomic<int> g_sigquit{0};
struct sigaction g_prev_quit;
std::atomic<bool> g_quit_installed{false};

void on_sigquit(int) {
  g_sigquit.store(1, std::memory_order_relaxed);
  if (sched != nullptr) sched->sysmon_parker.unpark();  // an atomic exchange and a futex wake
}

}  // namespace

std::string dump_goroutines() {
  ForeignUse use;  // a plain thread may ask while run returns
  if (use.get() == nullptr) return "gort: no runtime is running\n";
  static RankedMutex dump_lock{LockRank::kDump};  // one dump at a time (they share nothing else)
  std::lock_guard<RankedMutex> lock(dump_lock);
  const int64_t now = sched->coarse_now.load(std::memory_order_relaxed);
  std::vector<std::pair<const G*, int>> running;
  for (P* p : sched->allp) {
    if (p->status.load(std::memory_order_acquire) != PStatus::kRunning) continue;
    if (const G* g = p->running_g.load(std::memory_order_acquire)) running.emplace_back(g, p->id);
  }
  std::vector<Entry> entries;
  for_each_g([&](G* g) {
    const GStatus st = g->status.load(std::memory_order_acquire);
    if (st == GStatus::kIdle || st == GStatus::kDead) return;
    Entry e;
    e.status = st;
    snapshot(g, &e);
    if (st == GStatus::kWaiting) e.nframes = suspended_frames(g, e.frames, kMaxBacktraceFrames);
    if (g->status.load(std::memory_order_acquire) != st) return;  // changed under us: skip
    if (st == GStatus::kRunning) {
      for (const auto& [rg, id] : running) {
        if (rg == g) e.processor = id;
      }
      e.g = g;
    }
    entries.push_back(std::move(e));
  });
  // Running goroutines: the caller walks its own stack; any other is sampled on its thread,
  // as the hog detector samples one (a signal, or /proc for a thread asleep in the kernel).
  const G* self = current_g();
  for (Entry& e : entries) {
    if (e.status != GStatus::kRunning) continue;
    if (e.g == self && self != nullptr) {
      e.nframes = own_frames(self, e.frames, kMaxBacktraceFrames);
    } else if (e.processor >= 0) {
      e.nframes = running_frames(sched->allp[static_cast<size_t>(e.processor)], e.g, e.frames,
                                 kMaxBacktraceFrames, &e.syscall_nr);
    }
  }
  std::sort(entries.begin(), entries.end(),
            [](const Entry& a, const Entry& b) { return a.id < b.id; });
  std::string out = absl::StrFormat("gort: %d goroutines\n", entries.size());
  for (const Entry& e : entries) {
    std::string state = state_name(e);
    if (e.status == GStatus::kRunning && e.processor >= 0) {
      absl::StrAppendFormat(&state, " on processor %d", e.processor);
      if (e.syscall_nr >= 0) {
        absl::StrAppendFormat(&state, ", asleep in system call %d outside gort::blocking",
                              e.syscall_nr);
      }
    }
    if (e.status == GStatus::kWaiting && e.since > 0 && now > e.since) {
      const int64_t ms = (now - e.since) / 1'000'000;
      if (ms >= 1000) {
        absl::StrAppendFormat(&state, ", %.1f s", static_cast<double>(ms) / 1000.0);
      } else if (ms > 0) {
        absl::StrAppendFormat(&state, ", %d ms", ms);
      }
    }
    absl::StrAppendFormat(&out, "\ngoroutine %d [%s]:\n  created at %s\n", e.id, state,
                          e.created_at);
    const std::vector<std::string> frames = describe_frames(e.frames, e.nframes);
    for (size_t i = 0; i < frames.size(); ++i) absl::StrAppendFormat(&out, "  #%d %s\n", i, frames[i]);
  }
  return out;
}

void sigquit_install() {
  struct sigaction cur;
  if (sigaction(SIGQUIT, nullptr, &cur) != 0) return;
  // Someone else's handler, or SIGQUIT ignored: theirs to decide.
  if ((cur.sa_flags & SA_SIGINFO) || cur.sa_handler != SIG_DFL) return;
  g_prev_quit = cur;
  struct sigaction sa;
  std::memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_sigquit;
  sa.sa_flags = SA_RESTART;
  sigemptyset(&sa.sa_mask);
  if (sigaction(SIGQUIT, &sa, nullptr) == 0) g_quit_installed.store(true);
}

void sigquit_restore() {
  if (!g_quit_installed.load()) return;
  sigquit_poll();  // one that arrived as the run ended still gets its dump (and ends the process)
  if (!g_quit_installed.exchange(false)) return;
  sigaction(SIGQUIT, &g_prev_quit, nullptr);
  // One that arrived between the poll and the restore: deliver it the way it was meant.
  if (g_sigquit.exchange(0) != 0) kill(getpid(), SIGQUIT);
}

void sigquit_poll() {
  if (g_sigquit.load(std::memory_order_relaxed) == 0) return;
  if (g_sigquit.exchange(0) == 0) return;
  const std::string text = "SIGQUIT: quit\n\n" + dump_goroutines();
  write_stderr(text.data(), text.size());
  // End the process as SIGQUIT would have without us (core dump and exit status included).
  sigaction(SIGQUIT, &g_prev_quit, nullptr);
  kill(getpid(), SIGQUIT);
}

}  // namespace gort::rt
