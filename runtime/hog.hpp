// The hog detector (DESIGN §6): sysmon reports a goroutine that has held its P for
// Config::hog_report without a switch, once per episode, with a backtrace of where it is.
//
// Sampling. sysmon cannot read another thread's registers, so it asks the thread. The P's
// HogSample is the mailbox; its `state` word moves
//   kIdle -> kWanted      sysmon, after writing `want_runs` (release), then tgkill(SIGURG);
//   kWanted -> kTaking    the thread's signal handler claims it (acq_rel CAS), or
//   kWanted -> kIdle      sysmon gives up waiting (CAS): a handler that comes later sees kIdle
//                         and passes the signal on as if it were not ours;
//   kTaking -> kTaken     the handler stored the frames (release), or
//   kTaking -> kRefused   the thread was not running that goroutine's run any more;
//   kTaken/kRefused -> kIdle  sysmon, after reading the answer (acquire).
// Only the claim decides who owns the fields, so a late handler never writes while sysmon reads.
// A request that got no answer, or was refused while the episode goes on, is made again at the
// next round (hog.cpp, kSampleAttempts) before the report goes out without frames.
// A thread asleep in a system call is not signalled (the signal would make its call fail with
// EINTR); sysmon reads its user-space pc from /proc instead.
#pragma once

#include <atomic>
#include <cstdint>

#include "runtime/backtrace.hpp"

namespace gort::rt {

struct P;
struct G;

struct HogSample {
  static constexpr uint32_t kIdle = 0, kWanted = 1, kTaking = 2, kTaken = 3, kRefused = 4;
  std::atomic<uint32_t> state{kIdle};
  uint64_t want_runs = 0;        // the P's run counter of the episode being sampled
  int nframes = 0;
  uintptr_t frames[kMaxBacktraceFrames];  // frames[0]: the interrupted pc; then return addresses
};

// Installs the SIGURG handler (once per process; it passes signals that are not its own on).
void hog_install();

// The frames of goroutine g, running on p, for the goroutine dump: sampled as a hog would be (a
// thread asleep in a system call is read from /proc, and *syscall_nr says which call; else -1).
// Installs the handler if needed. 0 frames: g was not running there any more, or its thread
// did not answer (it ran 20 ms of CPU time, or 1 s passed, with the request pending). Requests are serialized with sysmon's.
int running_frames(P* p, const G* g, uintptr_t* out, int max, long* syscall_nr);
// One sysmon round: looks at every P and reports the episodes that passed the threshold.
void hog_watch(int64_t now_ns, int64_t threshold_ns);

}  // namespace gort::rt
