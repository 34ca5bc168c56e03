// gort::select: wait on several channel operations at once (Go's select statement).
//
//   gort::Chan<int> a, b;
//   size_t fired = gort::select(
//       gort::recv_case(a, [](std::optional<int> v) { /* v is nullopt if a is closed */ }),
//       gort::send_case(b, 42, [] { /* sent */ }),
//       gort::timeout_case(std::chrono::milliseconds(10), [] { /* nothing in time */ }));
//
// Exactly one case fires; its handler runs (in the caller, after select has left the channels)
// and select returns the case's position among the arguments. When several cases are ready one
// is picked at random, so none is starved. `default_case` fires when nothing is ready right away;
// `timeout_case`/`deadline_case` when nothing became ready in time. At most one default and one
// timeout/deadline per select. A send case on a closed channel throws ChannelClosed (Go panics).
// Handlers are optional. Works from goroutines and from plain threads. A case may name a channel
// or take a temporary one (`recv_case(ticker.c())`), which it then keeps alive.
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <tuple>
#include <type_traits>
#include <utility>

#include "gort/chan.hpp"
#include "gort/detail/chan_core.hpp"

namespace gort {

namespace detail {

struct NoHandler {
  template <class... A>
  void operator()(A&&...) const noexcept {}
};

// What a case built from a temporary channel (`recv_case(ticker.c())`) holds to keep the channel
// alive as long as the case; a case on a named channel holds nothing and costs no reference.
struct NoKeep {};

template <class T, class F, class Keep = NoKeep>
struct RecvCase {
  detail::ChanCore* chan;
  F handler;
  alignas(T) unsigned char storage[sizeof(T)];
  [[no_unique_address]] Keep keep;
  static constexpr int kind = 0;
  SelectCase to_case() { return SelectCase{chan, storage, false}; }
  void fire(OpStatus s) {
    std::optional<T> v;
    if (s == OpStatus::kOk) {
      T* p = std::launder(reinterpret_cast<T*>(storage));
      v.emplace(std::move(*p));
      p->~T();
    }
    if constexpr (std::is_invocable_v<F&, std::optional<T>>) handler(std::move(v));
    else handler();
  }
};

template <class T, class F, class Keep = NoKeep>
struct SendCase {
  detail::ChanCore* chan;
  T value;
  F handler;
  [[no_unique_address]] Keep keep;
  static constexpr int kind = 0;
  SelectCase to_case() { return SelectCase{chan, &value, true}; }
  void fire(OpStatus) { handler(); }
};

template <class F>
struct TimeoutCase {
  int64_t deadline_ns;
  F handler;
  static constexpr int kind = 1;
  void fire(OpStatus) { handler(); }
};

template <class F>
struct DefaultCase {
  F handler;
  static constexpr int kind = 2;
  void fire(OpStatus) { handler(); }
};

template <class C>
using case_t = std::remove_cvref_t<C>;

}  // namespace detail

template <class T, class F = detail::NoHandler>
auto recv_case(const Chan<T>& ch, F handler = {}) {
  return detail::RecvCase<T, F>{ch.core(), std::move(handler), {}, {}};
}
template <class T, class F = detail::NoHandler>
auto recv_case(Chan<T>&& ch, F handler = {}) {
  detail::ChanCore* core = ch.core();
  return detail::RecvCase<T, F, Chan<T>>{core, std::move(handler), {}, std::move(ch)};
}
template <class T, class V, class F = detail::NoHandler>
auto send_case(const Chan<T>& ch, V&& value, F handler = {}) {
  return detail::SendCase<T, F>{ch.core(), T(std::forward<V>(value)), std::move(handler), {}};
}
template <class T, class V, class F = detail::NoHandler>
auto send_case(Chan<T>&& ch, V&& value, F handler = {}) {
  detail::ChanCore* core = ch.core();
  return detail::SendCase<T, F, Chan<T>>{core, T(std::forward<V>(value)), std::move(handler),
                                         std::move(ch)};
}
template <class Rep, class Period, class F = detail::NoHandler>
auto timeout_case(std::chrono::duration<Rep, Period> d, F handler = {}) {
  return detail::TimeoutCase<F>{detail::chan_deadline_after(d), std::move(handler)};
}
template <class Clock, class Dur, class F = detail::NoHandler>
auto deadline_case(std::chrono::time_point<Clock, Dur> t, F handler = {}) {
  return detail::TimeoutCase<F>{detail::chan_deadline_at(t), std::move(handler)};
}
template <class F = detail::NoHandler>
auto default_case(F handler = {}) {
  return detail::DefaultCase<F>{std::move(handler)};
}

template <class... Cases>
size_t select(Cases&&... cases) {
  using namespace detail;
  constexpr size_t kCases = sizeof...(Cases);
  constexpr size_t kDefaults = ((case_t<Cases>::kind == 2 ? 1 : 0) + ... + 0);
  constexpr size_t kTimeouts = ((case_t<Cases>::kind == 1 ? 1 : 0) + ... + 0);
  static_assert(kDefaults <= 1, "gort::select: at most one default_case");
  static_assert(kTimeouts <= 1, "gort::select: at most one timeout_case/deadline_case");
  constexpr size_t kChans = kCases - kDefaults - kTimeouts;

  auto all = std::forward_as_tuple(cases...);
  SelectCase chan_cases[kChans > 0 ? kChans : 1];
  size_t chan_pos[kChans > 0 ? kChans : 1];  // argument position of each channel case
  size_t default_pos = kCases, timeout_pos = kCases;
  int64_t deadline = kNoDeadline;
  size_t next = 0;
  [&]<size_t... I>(std::index_sequence<I...>) {
    (
        [&] {
          auto& c = std::get<I>(all);
          using C = case_t<decltype(c)>;
          if constexpr (C::kind == 0) {
            chan_cases[next] = c.to_case();
            chan_pos[next++] = I;
          } else if constexpr (C::kind == 1) {
            deadline = c.deadline_ns;
            timeout_pos = I;
          } else {
            default_pos = I;
          }
        }(),
        ...);
  }(std::make_index_sequence<kCases>{});

  OpStatus status = OpStatus::kOk;
  size_t r = select_impl(chan_cases, kChans, kDefaults == 1, deadline, &status);
  size_t fired = r < kChans ? chan_pos[r] : (r == kChans ? default_pos : timeout_pos);
  [&]<size_t... I>(std::index_sequence<I...>) {
    ((I == fired ? (std::get<I>(all).fire(status), 0) : 0), ...);
  }(std::make_index_sequence<kCases>{});
  return fired;
}

}  // namespace gort
