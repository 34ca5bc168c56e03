// Time: sleeping and timers (Go's time.Sleep and time.AfterFunc).
//
// Deadlines are std::chrono::steady_clock time points (CLOCK_MONOTONIC). A goroutine that sleeps
// parks on a runtime timer and frees its thread; any other thread just sleeps. Timers fire on
// a scheduler thread once their deadline has passed, never before; how late depends on the load
// (a timer due while every processor is busy waits for the next scheduling point, or for sysmon).
// Timers still pending when gort::run returns are dropped: they never fire.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <source_location>
#include <utility>

#include "gort/chan.hpp"
#include "gort/detail/duration.hpp"

namespace gort {

namespace detail {
// CLOCK_MONOTONIC nanoseconds (the steady_clock epoch on Linux).
void sleep_until_ns(int64_t deadline_ns);
struct TimerState;
TimerState* timer_after_func(int64_t deadline_ns, std::function<void()> fn,
                             const std::source_location& where);
bool timer_state_stop(TimerState* s) noexcept;
bool timer_state_reset(TimerState* s, int64_t deadline_ns);
Chan<std::chrono::steady_clock::time_point> after_ns(int64_t deadline_ns);
struct TickerState;
TickerState* ticker_new(int64_t period_ns, Chan<std::chrono::steady_clock::time_point> ch);
void ticker_delete(TickerState* s) noexcept;  // stops it first
struct TickerStateDeleter {
  void operator()(TickerState* s) const noexcept { ticker_delete(s); }
};
void timer_state_delete(TimerState* s) noexcept;  // stops it first
struct TimerStateDeleter {
  void operator()(TimerState* s) const noexcept { timer_state_delete(s); }
};
template <class Rep, class Period>
int64_t deadline_after(std::chrono::duration<Rep, Period> d) {
  // Clamped (detail/duration.hpp): hours::max() is a timer that never fires, not an overflow.
  // INT64_MAX itself means "no timer" to the runtime, so the cap is one below it.
  return add_capped(steady_now_ns(), clamped_ns(d), INT64_MAX - 1);
}
}  // namespace detail

// Blocks the calling goroutine (or thread) until `tp` has passed.
template <class Duration>
void sleep_until(const std::chrono::time_point<std::chrono::steady_clock, Duration>& tp) {
  const int64_t ns = detail::steady_ns(tp);
  detail::sleep_until_ns(ns < INT64_MAX ? ns : INT64_MAX - 1);
}

// Blocks the calling goroutine (or thread) for at least `d`. A zero or negative duration returns
// at once.
template <class Rep, class Period>
void sleep_for(std::chrono::duration<Rep, Period> d) {
  if (d <= d.zero()) return;
  detail::sleep_until_ns(detail::deadline_after(d));
}

// A one-shot timer (Go's time.Timer from AfterFunc): when it fires, its callback runs as a new
// goroutine. Destroying the Timer stops it. Requires a running runtime.
class Timer {
 public:
  Timer() = default;
  Timer(Timer&&) noexcept = default;
  Timer& operator=(Timer&&) noexcept = default;

  // Runs `fn` as a new goroutine once `d` has passed (Go's time.AfterFunc).
  template <class Rep, class Period, class F>
  static Timer after_func(std::chrono::duration<Rep, Period> d, F&& fn,
                          const std::source_location& where = std::source_location::current()) {
    Timer t;
    t.s_.reset(detail::timer_after_func(detail::deadline_after(d),
                                        std::function<void()>(std::forward<F>(fn)), where));
    return t;
  }

  // Prevents the callback from firing. Returns true if the timer was pending (so the callback
  // will not run), false if it already fired or was stopped. If the timer is firing on another
  // thread right now, waits until that is over (the callback's goroutine may still run).
  bool stop() noexcept { return s_ ? detail::timer_state_stop(s_.get()) : false; }

  // Re-arms the timer to fire `d` from now (again, if it already fired). Returns whether it was
  // still pending.
  template <class Rep, class Period>
  bool reset(std::chrono::duration<Rep, Period> d) {
    return s_ ? detail::timer_state_reset(s_.get(), detail::deadline_after(d)) : false;
  }

  explicit operator bool() const noexcept { return s_ != nullptr; }

 private:
  std::unique_ptr<detail::TimerState, detail::TimerStateDeleter> s_;
};

// A channel (capacity 1) that receives the time once `d` has passed (Go's time.After). The
// timer cannot be stopped; if the runtime ends first it never fires. Requires a running runtime.
template <class Rep, class Period>
Chan<std::chrono::steady_clock::time_point> after(std::chrono::duration<Rep, Period> d) {
  return detail::after_ns(detail::deadline_after(d));
}

// Sends the time on c() every `period` (Go's time.Ticker). The channel has capacity 1: a tick
// that finds it full is dropped, so a slow receiver gets fewer ticks, not a backlog. The next
// tick is scheduled from the previous deadline (missed periods are skipped). stop() (and the
// destructor) end it; no tick is sent after stop() returned. Requires a running runtime.
class Ticker {
 public:
  template <class Rep, class Period>
  explicit Ticker(std::chrono::duration<Rep, Period> period)
      : ch_(1),
        s_(detail::ticker_new(detail::clamped_ns(period), ch_)) {}
  Ticker(Ticker&&) noexcept = default;
  Ticker& operator=(Ticker&&) noexcept = default;

  // The tick channel (a handle to the same channel on every call, like Go's t.C).
  Chan<std::chrono::steady_clock::time_point> c() const noexcept { return ch_; }
  void stop() noexcept { s_.reset(); }

 private:
  Chan<std::chrono::steady_clock::time_point> ch_;
  std::unique_ptr<detail::TickerState, detail::TickerStateDeleter> s_;
};

}  // namespace gort
