// Type-erased channel core shared by every gort::Chan<T> and gort::select. Not API.
#pragma once

#include <cstddef>
#include <cstdint>
#include <new>
#include <type_traits>
#include <utility>

namespace gort::detail {

// How the core moves and destroys elements it does not know the type of.
struct ElementOps {
  size_t size;
  size_t align;
  void (*move_construct)(void* dst, void* src) noexcept;  // dst is raw storage
  void (*destroy)(void* p) noexcept;
};

template <class T>
struct ElementOpsFor {
  static void move_construct(void* dst, void* src) noexcept {
    ::new (dst) T(std::move(*static_cast<T*>(src)));
  }
  static void destroy(void* p) noexcept { static_cast<T*>(p)->~T(); }
  static constexpr ElementOps ops{sizeof(T), alignof(T), &move_construct, &destroy};
};

struct ChanCore;

ChanCore* chan_make(size_t capacity, const ElementOps* ops);
void chan_retain(ChanCore* c) noexcept;
void chan_release(ChanCore* c) noexcept;

// Outcome of a channel operation.
enum class OpStatus : uint8_t {
  kOk,       // sent / received a value
  kClosed,   // receive: closed and drained (no value); send: not used (send on closed throws)
  kWouldBlock,
  kTimeout,
};

// Blocking operations take a deadline on CLOCK_MONOTONIC in ns; kNoDeadline waits forever,
// kPoll (0) never waits (try_ ops).
inline constexpr int64_t kNoDeadline = INT64_MAX;
inline constexpr int64_t kPoll = 0;

// `elem` points to the value to send; it is moved from (the caller still destroys it).
// Throws ChannelClosed on a closed channel.
OpStatus chan_send(ChanCore* c, void* elem, int64_t deadline_ns);
// `out` is raw storage for one element, constructed iff the result is kOk.
OpStatus chan_recv(ChanCore* c, void* out, int64_t deadline_ns);
void chan_close(ChanCore* c);  // throws ChannelClosed if already closed
size_t chan_len(ChanCore* c) noexcept;
size_t chan_cap(ChanCore* c) noexcept;
bool chan_closed(ChanCore* c) noexcept;

// select over n cases. For a send case `elem` is the value to move from; for a recv case raw
// storage, constructed iff the chosen case's status is kOk. Returns the index of the case that
// fired (its status in *status), or n if `has_default` and nothing was ready, or n + 1 on
// timeout (deadline reached). A null channel never becomes ready (Go's nil channel).
struct SelectCase {
  ChanCore* chan;
  void* elem;
  bool is_send;
};
size_t select_impl(SelectCase* cases, size_t n, bool has_default, int64_t deadline_ns,
                   OpStatus* status);

int64_t monotonic_now_ns() noexcept;

}  // namespace gort::detail
