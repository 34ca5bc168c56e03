// M threads: the per-thread current-M pointer and the body of a runtime thread.
#include "runtime/machine.hpp"

#include <sys/prctl.h>
#include <unistd.h>

#include "netpoll/netpoll.hpp"
#include "runtime/sched.hpp"
#include "runtime/stack.hpp"

namespace gort::rt {

namespace {
thread_local M* tls_current_m = nullptr;
}

// noipa: see machine.hpp. Each call re-reads %fs, so a goroutine that migrated gets its new M.
__attribute__((noipa)) M* current_m() noexcept { return tls_current_m; }
__attribute__((noipa)) void set_current_m(M* m) noexcept { tls_current_m = m; }
__attribute__((noipa)) G* current_g() noexcept {
  M* m = tls_current_m;
  return m ? m->curg : nullptr;
}
__attribute__((noipa)) G* parkable_g() noexcept {
  M* m = tls_current_m;
  return (m != nullptr && !m->in_blocking) ? m->curg : nullptr;
}

void m_main(M* m) {
  set_current_m(m);
  m->thread = pthread_self();
  m->tid = static_cast<int32_t>(gettid());
  char name[16] = "gort-m";
  int n = 6;
  for (int v = m->id, d = 1000; d > 0; d /= 10) {
    if (v >= d || d == 1 || n > 6) name[n++] = static_cast<char>('0' + (v / d) % 10);
  }
  name[n] = '\0';
  prctl(PR_SET_NAME, name, 0, 0, 0);
  // Futex timeouts (the timer M) are ns-precise only with a minimal timer slack; the default
  // 50 µs would round every sub-millisecond sleep up (probes Q6).
  prctl(PR_SET_TIMERSLACK, 1, 0, 0, 0);
  stack_thread_init();
  m->g0.init_for_thread();
  m->eh_globals = thread_eh_state();
  // startm handed us a P before creating the thread.
  if (m->nextp != nullptr) {
    P* p = m->nextp;
    m->nextp = nullptr;
    p->m = m;
    p->m_tid.store(m->tid, std::memory_order_relaxed);
    p->status.store(PStatus::kRunning, std::memory_order_release);
    m->p = p;
  }
  schedule_loop(m);
  netpoll::thread_exit(m);  // its ring belongs to this thread
  set_current_m(nullptr);
}

}  // namespace gort::rt
