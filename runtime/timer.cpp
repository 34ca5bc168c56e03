// Timers: the heaps and the stop/run protocol. The design and who runs timers are described in
// timer.hpp; the sleeping "timer M" lives in idle.cpp (idle_park; timer_armed in sched.cpp wakes it).
#include "runtime/timer.hpp"

#include <sched.h>

#include "runtime/fatal.hpp"
#include "runtime/sched.hpp"

namespace gort::rt {

namespace {

constexpr uint32_t kArity = 4;  // Go's timerHeapN

// The timer whose fn this thread is running (timer_stop from inside fn must not wait for itself).
thread_local Timer* tls_running_timer = nullptr;
// Incremented before a timer leaves its heap, decremented after its callback returned, both
// acq_rel: a reader that sees the heap without it (acquire on min_when) then sees the count,
// and one that sees the decrement sees what the callback did (readied or re-armed).
std::atomic<int64_t> in_flight{0};

void set_at(TimerHeap* h, uint32_t i, TimerHeap::Entry e) {
  h->heap[i] = e;
  if (e.t) e.t->idx = i;
}

void sift_up(TimerHeap* h, uint32_t i) {
  TimerHeap::Entry e = h->heap[i];
  while (i > 0) {
    uint32_t parent = (i - 1) / kArity;
    if (h->heap[parent].when <= e.when) break;
    set_at(h, i, h->heap[parent]);
    i = parent;
  }
  set_at(h, i, e);
}

void sift_down(TimerHeap* h, uint32_t i) {
  const uint32_t n = static_cast<uint32_t>(h->heap.size());
  TimerHeap::Entry e = h->heap[i];
  for (;;) {
    uint32_t c = kArity * i + 1;
    if (c >= n) break;
    uint32_t best = c;
    uint32_t end = c + kArity < n ? c + kArity : n;
    for (uint32_t k = c + 1; k < end; ++k) {
      if (h->heap[k].when < h->heap[best].when) best = k;
    }
    if (h->heap[best].when >= e.when) break;
    set_at(h, i, h->heap[best]);
    i = best;
  }
  set_at(h, i, e);
}

void pop_head(TimerHeap* h) {
  TimerHeap::Entry last = h->heap.back();
  h->heap.pop_back();
  if (!h->heap.empty()) {
    h->heap[0] = last;
    sift_down(h, 0);
  }
}

// Requires h->mu. seq_cst: the store half of the timer M's store-buffering pattern (idle.cpp, idle_park).
void publish_min(TimerHeap* h) {
  h->min_when.store(h->heap.empty() ? kNoTimer : h->heap[0].when, std::memory_order_seq_cst);
}

// Requires h->mu. Zombies at the head cost nothing to drop.
void clean_head(TimerHeap* h) {
  while (!h->heap.empty() && h->heap[0].t == nullptr) {
    pop_head(h);
    --h->zombies;
  }
}

// Requires h->mu. Drops every zombie and rebuilds the heap bottom-up (O(n)).
void purge(TimerHeap* h) {
  size_t out = 0;
  for (size_t i = 0; i < h->heap.size(); ++i) {
    if (h->heap[i].t != nullptr) h->heap[out++] = h->heap[i];
  }
  h->heap.resize(out);
  h->zombies = 0;
  for (uint32_t i = 0; i < out; ++i) h->heap[i].t->idx = i;
  if (out > 1) {
    for (int64_t i = static_cast<int64_t>((out - 2) / kArity); i >= 0; --i) {
      sift_down(h, static_cast<uint32_t>(i));
    }
  }
}

void maybe_purge(TimerHeap* h) {
  clean_head(h);
  if (h->zombies > 0 && h->zombies > h->heap.size() / 4) purge(h);
}

template <class F> void for_each_heap(F&& f) {
  for (P* p : sched->allp) f(&p->timers);
  f(&sched->timers);
}

// Waits while some runner is inside t's fn (it was popped before timer_stop looked).
void wait_not_running(Timer* t) {
  if (sched == nullptr || tls_running_timer == t) return;
  for_each_heap([t](TimerHeap* h) {
    for (int spins = 0; h->running.load(std::memory_order_acquire) == t; ++spins) {
      if (spins < 64) cpu_relax();
      else sched_yield();  // fn never blocks, so this is short
    }
  });
}

}  // namespace

void timer_start(Timer* t) {
  if (sched == nullptr) fatal("gort: a timer was armed while no runtime is running");
  P* p = current_owned_p();
  TimerHeap* h = p ? &p->timers : &sched->timers;
  const int64_t when = t->when_ns;
  h->mu.lock();
  if (t->heap.load(std::memory_order_relaxed) != nullptr) {
    h->mu.unlock();
    fatal("gort: timer_start on a timer that is already armed");
  }
  h->heap.push_back({when, t});
  sift_up(h, static_cast<uint32_t>(h->heap.size() - 1));
  t->heap.store(h, std::memory_order_release);
  publish_min(h);
  h->mu.unlock();
  timer_armed(when);
}

bool timer_stop(Timer* t) {
  for (;;) {
    TimerHeap* h = t->heap.load(std::memory_order_acquire);
    if (h == nullptr) break;
    h->mu.lock();
    if (t->heap.load(std::memory_order_relaxed) == h) {
      h->heap[t->idx].t = nullptr;  // mark: a zombie keeps its place in the order
      ++h->zombies;
      t->heap.store(nullptr, std::memory_order_relaxed);
      maybe_purge(h);
      publish_min(h);
      h->mu.unlock();
      return true;
    }
    h->mu.unlock();  // fired (or moved) meanwhile: look again
  }
  wait_not_running(t);
  return false;
}

void timer_reset(Timer* t, int64_t when_ns) {
  timer_stop(t);
  t->when_ns = when_ns;
  timer_start(t);
}

int64_t run_timers(TimerHeap* h, int64_t now, bool* ran) {
  int64_t next = h->min_when.load(std::memory_order_acquire);
  if (next > now) return next;
  bool expected = false;
  if (!h->run_lock.compare_exchange_strong(expected, true, std::memory_order_acquire)) {
    return next;  // another thread runs this heap right now
  }
  h->mu.lock();
  while (!h->heap.empty()) {
    TimerHeap::Entry e = h->heap[0];
    if (e.t == nullptr) {
      pop_head(h);
      --h->zombies;
      continue;
    }
    if (e.when > now) break;
    pop_head(h);
    Timer* t = e.t;
    void (*fn)(void*, uint64_t) = t->fn;
    void* arg = t->arg;
    uint64_t seq = t->seq;
    in_flight.fetch_add(1, std::memory_order_acq_rel);
    h->running.store(t, std::memory_order_relaxed);
    t->heap.store(nullptr, std::memory_order_release);  // timer_stop now waits on `running`
    publish_min(h);
    h->mu.unlock();
    if (ran) *ran = true;
    tls_running_timer = t;
    fn(arg, seq);  // may let the owner free t: t is not touched after this
    tls_running_timer = nullptr;
    h->running.store(nullptr, std::memory_order_release);
    in_flight.fetch_sub(1, std::memory_order_acq_rel);
    h->mu.lock();
  }
  maybe_purge(h);
  publish_min(h);
  next = h->heap.empty() ? kNoTimer : h->heap[0].when;
  h->mu.unlock();
  h->run_lock.store(false, std::memory_order_release);
  return next;
}

int64_t earliest_timer() {
  int64_t next = kNoTimer;
  for_each_heap([&next](TimerHeap* h) {
    int64_t w = h->min_when.load(std::memory_order_seq_cst);
    if (w < next) next = w;
  });
  return next;
}

int64_t timers_in_flight() { return in_flight.load(std::memory_order_seq_cst); }

bool run_all_timers(int64_t now) {
  bool ran = false;
  for_each_heap([now, &ran](TimerHeap* h) {
    if (h->min_when.load(std::memory_order_relaxed) <= now) run_timers(h, now, &ran);
  });
  return ran;
}

void timers_drop_all() {
  std::vector<Timer*> owned_by_nobody;
  for_each_heap([&owned_by_nobody](TimerHeap* h) {
    h->mu.lock();
    for (TimerHeap::Entry& e : h->heap) {
      if (e.t == nullptr) continue;
      if (e.t->on_drop != nullptr) owned_by_nobody.push_back(e.t);
      // Last touch of a timer someone else owns, release: a plain thread deleting it waits
      // for this (time.cpp, wait_dropped) and may free it right after.
      e.t->heap.store(nullptr, std::memory_order_release);
    }
    h->heap.clear();
    h->heap.shrink_to_fit();
    h->zombies = 0;
    publish_min(h);
    h->mu.unlock();
  });
  // Outside the heap locks (a leaf lock): freeing the state releases channels.
  for (Timer* t : owned_by_nobody) t->on_drop(t->arg);
}

}  // namespace gort::rt
