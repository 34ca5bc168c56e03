// gort::blocking(fn): running code that may block the OS thread without stalling the processor.
//
// Entering marks the P kBlocking and leaves it attached (cheap: no handoff for short calls).
// sysmon retakes a P that stayed kBlocking across one of its ticks (>= 20 µs) when there is work
// for it, or when no other M is spinning or idle, and hands it to another M (Go's retake). On
// exit the M CASes its P back to kRunning; if the P was taken it looks for an idle one, and
// failing that queues its goroutine globally and parks the thread.
#include <stdexcept>

#include "gort/runtime.hpp"
#include "netpoll/netpoll.hpp"
#include "runtime/sched.hpp"
#include "runtime/trace.hpp"

namespace gort::detail {

using namespace gort::rt;

void blocking_enter() {
  M* m = current_m();
  if (m == nullptr || m->curg == nullptr) return;  // a plain thread: nothing to hand off
  if (m->in_blocking) {
    ++m->blocking_nest;
    return;
  }
  // Operations in this thread's ring (io_uring) could only complete through this thread, which
  // is about to block: they are cancelled now and their goroutines resubmit elsewhere.
  if (m->io_ring != nullptr) {
    uint32_t n = 0;
    if (G* list = netpoll::release_ring_ops(m, &n)) inject_glist(list);
  }
  P* p = m->p;
  trace(p, TraceKind::kRunEnd, m->curg->id, 0, "blocking call");
  m->curg->set_status(GStatus::kRunning, GStatus::kBlocking);
  m->in_blocking = true;
  p->blocktick.store(p->blocktick.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  // Counted before the P can be retaken: deadlock detection must never see every P idle while
  // this goroutine is still alive on its thread.
  sched->nmblocking.fetch_add(1, std::memory_order_seq_cst);
  p->status.store(PStatus::kBlocking, std::memory_order_seq_cst);  // sysmon may now retake it
  sched->blocking_calls.fetch_add(1, std::memory_order_relaxed);
  if (sched->sysmon_sleeping.load(std::memory_order_seq_cst)) sysmon_wake();
  // This P no longer runs goroutines: if it was the last, an idle M must watch the fds.
  nudge_fd_watcher();
}

void blocking_exit() {
  M* m = current_m();
  if (m == nullptr || m->curg == nullptr) return;
  if (m->blocking_nest > 0) {
    --m->blocking_nest;
    return;
  }
  G* g = m->curg;
  // nmblocking drops only once the goroutine holds a P again or sits in the global queue (see
  // blocking_enter).
  P* p = m->p;
  PStatus expected = PStatus::kBlocking;
  if (p->status.compare_exchange_strong(expected, PStatus::kRunning, std::memory_order_acq_rel)) {
    m->in_blocking = false;
    g->set_status(GStatus::kBlocking, GStatus::kRunning);
    sched->nmblocking.fetch_sub(1, std::memory_order_seq_cst);
    trace(p, TraceKind::kRunStart, g->id);
    return;
  }
  // sysmon gave our P to another M. Find another one or give the goroutine up.
  m->p = nullptr;
  m->in_blocking = false;
  P* np = nullptr;
  {
    std::lock_guard<RankedMutex> lock(sched->lock);
    np = sched->pidle;
    if (np) {
      sched->pidle = np->idle_next;
      np->idle_next = nullptr;
      sched->npidle.fetch_sub(1, std::memory_order_seq_cst);
    }
  }
  if (np) {
    np->m = m;
    np->m_tid.store(m->tid, std::memory_order_relaxed);
    np->status.store(PStatus::kRunning, std::memory_order_release);
    m->p = np;
    g->set_status(GStatus::kBlocking, GStatus::kRunning);
    sched->nmblocking.fetch_sub(1, std::memory_order_seq_cst);
    trace(np, TraceKind::kRunStart, g->id);
    return;
  }
  g->set_status(GStatus::kBlocking, GStatus::kRunnable);
  m->curg = nullptr;
  m->after_switch = AfterSwitch{[](G* x, void*) {
                                  sched->runq.push(x);
                                  sched->nmblocking.fetch_sub(1, std::memory_order_seq_cst);
                                  wakep_global();
                                },
                                g, nullptr};
  eh_leave(g->eh, m->eh_globals);
  g->ctx.switch_to(m->g0);
  M* now = current_m();
  now->finish_switch();
  eh_resume(g->eh, now->eh_globals);
}

}  // namespace gort::detail
