// Chan<T>: Go channels for C++ (DESIGN §5).
//
// A Chan is a shared handle: copies refer to the same channel. Capacity 0 makes an unbuffered
// channel (a send completes only when a receiver takes the value, handed over directly);
// capacity n a buffered one (FIFO ring). Waiters are served FIFO. Blocking operations park the
// goroutine; called from a thread that is not a goroutine they block that thread, as a Go
// channel blocks a cgo thread. Element types must be nothrow-move-constructible (move-only
// types are fine).
//
//   send(v)           blocks until delivered; throws ChannelClosed if the channel is closed
//   recv()            the next value, or std::nullopt once the channel is closed and drained
//   try_send/try_recv never block
//   send_for/recv_for, send_until/recv_until: give up at the deadline
//   close()           wakes every waiter; receivers drain what is buffered, then get nullopt;
//                     blocked and later senders throw ChannelClosed; closing twice throws
//   for (T v : ch)    receives until closed and drained
#pragma once

#include <chrono>
#include <cstddef>
#include <iterator>
#include <optional>
#include <stdexcept>
#include <type_traits>
#include <utility>

#include "gort/detail/chan_core.hpp"
#include "gort/detail/duration.hpp"

namespace gort {

// Programmer errors on channels (Go panics): send on a closed channel, close of a closed one.
class ChannelClosed : public std::logic_error {
 public:
  using std::logic_error::logic_error;
};

enum class SendStatus { kSent, kWouldBlock, kTimeout };

namespace detail {
template <class Rep, class Period>
int64_t chan_deadline_after(std::chrono::duration<Rep, Period> d) {
  const int64_t ns = clamped_ns(d);  // detail/duration.hpp: no overflow for hours::max()
  if (ns <= 0) return kPoll + 1;  // already due: one non-blocking attempt plus timeout
  return add_capped(monotonic_now_ns(), ns, kNoDeadline - 1);
}
template <class Clock, class Dur>
int64_t chan_deadline_at(std::chrono::time_point<Clock, Dur> t) {
  // In long double: `t - Clock::now()` converts both to the clock's ns and overflows for
  // time_point::max() in a coarser unit.
  using Ns = std::chrono::duration<long double, std::nano>;
  return chan_deadline_after(Ns(t.time_since_epoch()) - Ns(Clock::now().time_since_epoch()));
}
}  // namespace detail

template <class T>
class Chan {
  static_assert(std::is_nothrow_move_constructible_v<T>,
                "gort::Chan<T> needs a nothrow-move-constructible T");
  static_assert(!std::is_reference_v<T>, "gort::Chan<T&> is not supported; use a pointer");
  static_assert(!std::is_const_v<T> && !std::is_volatile_v<T>,
                "gort::Chan<const T> is not supported: received values are moved out; use Chan<T>");

 public:
  // Throws std::length_error if capacity * sizeof(T) is out of range (Go's makechan panic),
  // std::bad_alloc if the buffer cannot be allocated.
  explicit Chan(size_t capacity = 0)
      : core_(detail::chan_make(capacity, &detail::ElementOpsFor<T>::ops)) {}
  Chan(const Chan& other) noexcept : core_(other.core_) { detail::chan_retain(core_); }
  Chan(Chan&& other) noexcept : core_(std::exchange(other.core_, nullptr)) {}
  Chan& operator=(Chan other) noexcept {
    std::swap(core_, other.core_);
    return *this;
  }
  ~Chan() {
    if (core_) detail::chan_release(core_);
  }

  void send(T value) { detail::chan_send(core_, &value, detail::kNoDeadline); }
  bool try_send(T value) {
    return detail::chan_send(core_, &value, detail::kPoll) == detail::OpStatus::kOk;
  }
  template <class Rep, class Period>
  SendStatus send_for(T value, std::chrono::duration<Rep, Period> timeout) {
    return to_send_status(detail::chan_send(core_, &value, detail::chan_deadline_after(timeout)));
  }
  template <class Clock, class Dur>
  SendStatus send_until(T value, std::chrono::time_point<Clock, Dur> deadline) {
    return to_send_status(detail::chan_send(core_, &value, detail::chan_deadline_at(deadline)));
  }

  std::optional<T> recv() { return recv_with(detail::kNoDeadline); }
  // nullopt if nothing is ready right now, or the channel is closed and drained (closed()).
  std::optional<T> try_recv() { return recv_with(detail::kPoll); }
  // nullopt on timeout or when closed and drained (tell them apart with closed()).
  template <class Rep, class Period>
  std::optional<T> recv_for(std::chrono::duration<Rep, Period> timeout) {
    return recv_with(detail::chan_deadline_after(timeout));
  }
  template <class Clock, class Dur>
  std::optional<T> recv_until(std::chrono::time_point<Clock, Dur> deadline) {
    return recv_with(detail::chan_deadline_at(deadline));
  }

  void close() { detail::chan_close(core_); }
  size_t len() const noexcept { return detail::chan_len(core_); }
  size_t cap() const noexcept { return detail::chan_cap(core_); }
  bool closed() const noexcept { return detail::chan_closed(core_); }

  bool operator==(const Chan& other) const noexcept { return core_ == other.core_; }
  detail::ChanCore* core() const noexcept { return core_; }

  class iterator {
   public:
    using iterator_category = std::input_iterator_tag;
    using value_type = T;
    using difference_type = std::ptrdiff_t;
    iterator() = default;
    explicit iterator(Chan* ch) : ch_(ch) { ++*this; }
    T& operator*() { return *value_; }
    iterator& operator++() {
      value_ = ch_->recv();
      return *this;
    }
    bool operator==(std::default_sentinel_t) const { return !value_.has_value(); }

   private:
    Chan* ch_ = nullptr;
    std::optional<T> value_;
  };
  iterator begin() { return iterator(this); }
  std::default_sentinel_t end() { return {}; }

 private:
  static SendStatus to_send_status(detail::OpStatus s) {
    switch (s) {
      case detail::OpStatus::kOk: return SendStatus::kSent;
      case detail::OpStatus::kTimeout: return SendStatus::kTimeout;
      default: return SendStatus::kWouldBlock;
    }
  }
  std::optional<T> recv_with(int64_t deadline) {
    alignas(T) unsigned char storage[sizeof(T)];
    if (detail::chan_recv(core_, storage, deadline) != detail::OpStatus::kOk) return std::nullopt;
    T* p = std::launder(reinterpret_cast<T*>(storage));
    std::optional<T> out(std::move(*p));
    p->~T();
    return out;
  }

  detail::ChanCore* core_;
};

}  // namespace gort
