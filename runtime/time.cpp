// The public time API (include/gort/time.hpp) on the runtime's timers (runtime/timer.hpp).
#include "gort/time.hpp"

#include <atomic>
#include <stdexcept>
#include <thread>

#include "gort/runtime.hpp"
#include "runtime/sched.hpp"
#include "runtime/timer.hpp"

namespace gort::detail {

using namespace gort::rt;

namespace {

void wake_sleeper(void* arg, uint64_t) { ready(static_cast<G*>(arg)); }

// After-switch hook of a sleeping goroutine: arm its timer only once it is saved, so even a
// timer that is already due cannot ready it before it parked (Go's resetForSleep).
void arm_after_park(G*, void* timer) { timer_start(static_cast<rt::Timer*>(timer)); }

// A plain thread found no runtime published: none runs, or `run` is returning on another
// thread, with every M stopped (no fn runs, nothing re-arms) but t possibly still in a heap that
// timers_drop_all is about to clear. Once t has left it, nothing of the runtime reads t again.
void wait_dropped(rt::Timer* t) {
  while (t->heap.load(std::memory_order_acquire) != nullptr) std::this_thread::yield();
}

}  // namespace

void sleep_until_ns(int64_t deadline_ns) {
  G* g = parkable_g();
  if (g == nullptr || sched == nullptr) {
    // A thread outside the runtime (or inside gort::blocking()): sleep the thread.
    for (int64_t now = now_ns(); now < deadline_ns; now = now_ns()) {
      std::this_thread::sleep_for(std::chrono::nanoseconds(deadline_ns - now));
    }
    return;
  }
  if (now_ns() >= deadline_ns) return;
  rt::Timer t;
  t.when_ns = deadline_ns;
  t.fn = wake_sleeper;
  t.arg = g;
  g->wait_reason = "sleep";
  g->set_status(GStatus::kRunning, GStatus::kWaiting);
  park_nolock(arm_after_park, &t);
  // Readied by wake_sleeper, which touches nothing of t after ready(): t may go.
}

struct TimerState {
  rt::Timer t;
  std::function<void()> fn;
  std::source_location where;
};

namespace {
void fire_after_func(void* arg, uint64_t) {
  auto* s = static_cast<TimerState*>(arg);
  detail::spawn([fn = s->fn] { fn(); }, SpawnOptions{}, s->where);
}
}  // namespace

TimerState* timer_after_func(int64_t deadline_ns, std::function<void()> fn,
                             const std::source_location& where) {
  ForeignUse use;  // a plain thread may call this while run returns (so for all of this file)
  if (use.get() == nullptr) {
    throw std::logic_error("gort::Timer::after_func: no runtime is running");
  }
  auto* s = new TimerState{};
  s->fn = std::move(fn);
  s->where = where;
  s->t.when_ns = deadline_ns;
  s->t.fn = fire_after_func;
  s->t.arg = s;
  timer_start(&s->t);
  return s;
}

bool timer_state_stop(TimerState* s) noexcept {
  ForeignUse use;
  if (use.get() == nullptr) {
    wait_dropped(&s->t);  // it cannot fire any more; it did not stop because of this call
    return false;
  }
  return timer_stop(&s->t);
}

bool timer_state_reset(TimerState* s, int64_t deadline_ns) {
  ForeignUse use;
  if (use.get() == nullptr) throw std::logic_error("gort::Timer::reset: no runtime is running");
  bool was = timer_stop(&s->t);
  s->t.when_ns = deadline_ns;
  timer_start(&s->t);
  return was;
}

void timer_state_delete(TimerState* s) noexcept {
  if (s == nullptr) return;
  ForeignUse use;
  if (use.get() != nullptr) timer_stop(&s->t);
  else wait_dropped(&s->t);
  delete s;
}

// time.After / time.Ticker -----------------------------------------------------------------------

namespace {

using TimePoint = std::chrono::steady_clock::time_point;

TimePoint time_point_of(int64_t ns) { return TimePoint(std::chrono::nanoseconds(ns)); }

struct AfterState {
  rt::Timer t;
  Chan<TimePoint> ch;
};

void fire_after(void* arg, uint64_t) {
  auto* s = static_cast<AfterState*>(arg);
  s->ch.try_send(time_point_of(now_ns()));  // capacity 1, nobody else sends: never full
  delete s;  // the runner touches nothing of the timer after fn
}

void drop_after(void* arg) { delete static_cast<AfterState*>(arg); }  // pending at shutdown

}  // namespace

Chan<TimePoint> after_ns(int64_t deadline_ns) {
  ForeignUse use;
  if (use.get() == nullptr) throw std::logic_error("gort::after: no runtime is running");
  auto* s = new AfterState{rt::Timer{}, Chan<TimePoint>(1)};
  Chan<TimePoint> ch = s->ch;
  s->t.when_ns = deadline_ns;
  s->t.fn = fire_after;
  s->t.on_drop = drop_after;  // nobody else can free it: gort::after's timer cannot be stopped
  s->t.arg = s;
  timer_start(&s->t);
  return ch;
}

struct TickerState {
  rt::Timer t;
  Chan<TimePoint> ch;
  int64_t period = 0;
  std::atomic<bool> stopped{false};
};

namespace {
void fire_tick(void* arg, uint64_t) {
  auto* s = static_cast<TickerState*>(arg);
  const int64_t now = now_ns();
  s->ch.try_send(time_point_of(now));  // full: the tick is dropped (slow receiver)
  if (s->stopped.load(std::memory_order_acquire)) return;
  // Next deadline: the first multiple of the period after now (Go skips missed ticks too).
  const int64_t late = now - s->t.when_ns;
  const int64_t steps = 1 + late / s->period;
  // A period of centuries (Ticker(hours::max())) would overflow: such a tick never comes.
  s->t.when_ns = s->period > (kNoTimer - 1 - s->t.when_ns) / steps
                     ? kNoTimer - 1
                     : s->t.when_ns + s->period * steps;
  timer_start(&s->t);  // legal: t left its heap before fn ran
}
}  // namespace

TickerState* ticker_new(int64_t period_ns, Chan<TimePoint> ch) {
  ForeignUse use;
  if (use.get() == nullptr) throw std::logic_error("gort::Ticker: no runtime is running");
  if (period_ns <= 0) throw std::invalid_argument("gort::Ticker: non-positive period");
  auto* s = new TickerState{};
  s->ch = std::move(ch);
  s->period = period_ns;
  s->t.when_ns = detail::add_capped(now_ns(), period_ns, kNoTimer - 1);
  s->t.fn = fire_tick;
  s->t.arg = s;
  timer_start(&s->t);
  return s;
}

void ticker_delete(TickerState* s) noexcept {
  if (s == nullptr) return;
  s->stopped.store(true, std::memory_order_release);
  ForeignUse use;
  if (use.get() == nullptr) {
    wait_dropped(&s->t);
  } else {
    // fire_tick may be re-arming it right now: stop until it is neither running nor armed.
    // After a timer_stop returned no fn of t runs; if t is not in a heap then, nothing re-arms it.
    do {
      timer_stop(&s->t);
    } while (s->t.heap.load(std::memory_order_acquire) != nullptr);
  }
  delete s;
}

}  // namespace gort::detail
