// Channel operations: send, receive, close, and the blocking machinery they share with select.
// The model and the claiming protocol are described in chan_internal.hpp.
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <memory>
#include <new>
#include <stdexcept>

#include "absl/strings/str_format.h"

#include "gort/chan.hpp"
#include "runtime/chan_internal.hpp"
#include "runtime/fatal.hpp"
#include "runtime/sched.hpp"
#include "runtime/timer.hpp"

namespace gort::rt {

namespace {

thread_local Parker chan_thread_parker;
__attribute__((noipa)) Parker* this_thread_parker() { return &chan_thread_parker; }

struct ParkArgs {
  ChanCore** locks;
  size_t nlocks;
  Timer* timer;  // armed after the switch, before the unlock (see chan_internal.hpp)
};

void unlock_all(ChanCore** locks, size_t n) {
  for (size_t i = n; i > 0; --i) locks[i - 1]->lock.unlock();
}

// The common case (one channel, no deadline): nothing to arm, one lock to release.
void after_park_unlock_one(G*, void* arg) { static_cast<ChanCore*>(arg)->lock.unlock(); }

void after_park(G*, void* arg) {
  auto* a = static_cast<ParkArgs*>(arg);
  if (a->timer) timer_start(a->timer);
  unlock_all(a->locks, a->nlocks);
}

void on_deadline(void* arg, uint64_t) {
  auto* st = static_cast<WaitState*>(arg);
  if (st->try_claim()) {
    st->fired = WaitState::kTimedOut;
    st->status = gort::detail::OpStatus::kTimeout;
    wake_waiter(st);
  }
}

}  // namespace

void wake_waiter(WaitState* st) {
  if (st->g) {
    ready(st->g);
  } else {
    st->parker->unpark();
  }
}

ChanWaitLink::ChanWaitLink(Waiter* waiters, size_t n) : waiters_(waiters), n_(n) {
  g_ = parkable_g();
  if (g_ != nullptr) wait_link_push(g_, &link_);
}

ChanWaitLink::~ChanWaitLink() {
  if (g_ != nullptr) wait_link_pop(g_, &link_);
}

void ChanWaitLink::forget(WaitLink* link) {
  auto* self = reinterpret_cast<ChanWaitLink*>(link);  // link_ is the first member
  for (size_t i = 0; i < self->n_; ++i) {
    Waiter& w = self->waiters_[i];
    if (w.chan == nullptr) continue;
    w.chan->lock.lock();
    (w.is_send ? w.chan->sendq : w.chan->recvq).remove(&w);
    w.chan->lock.unlock();
  }
}

void block_on(WaitState* st, ChanCore** locks, size_t nlocks, int64_t deadline_ns,
              const char* reason) {
  G* g = parkable_g();
  if (g != nullptr) {
    st->g = g;
    if (deadline_ns == gort::detail::kNoDeadline && nlocks == 1) {
      g->wait_reason = reason;
      g->set_status(GStatus::kRunning, GStatus::kWaiting);
      park(after_park_unlock_one, locks[0]);
      return;
    }
    Timer timer{};
    ParkArgs args{locks, nlocks, nullptr};
    if (deadline_ns != gort::detail::kNoDeadline) {
      timer.when_ns = deadline_ns;
      timer.fn = on_deadline;
      timer.arg = st;
      args.timer = &timer;
    }
    g->wait_reason = reason;
    g->set_status(GStatus::kRunning, GStatus::kWaiting);
    park(after_park, &args);
    g->wait_reason = nullptr;
    if (args.timer) timer_stop(&timer);  // waits for a firing callback to finish
    return;
  }
  // A plain thread (or a goroutine inside gort::blocking): park the thread.
  if (current_m() == nullptr) note_foreign_thread();
  Parker* parker = this_thread_parker();
  st->parker = parker;
  unlock_all(locks, nlocks);
  if (deadline_ns == gort::detail::kNoDeadline) {
    parker->park();
    return;
  }
  for (;;) {
    int64_t left = deadline_ns - now_ns();
    if (left > 0 && parker->park_for(left)) return;  // claimed and woken
    if (left <= 0 || now_ns() >= deadline_ns) {
      if (st->try_claim()) {
        st->fired = WaitState::kTimedOut;
        st->status = gort::detail::OpStatus::kTimeout;
        return;
      }
      parker->park();  // a peer claimed us first: its unpark is on the way
      return;
    }
  }
}

void hand_to_receiver(ChanCore* c, Waiter* receiver, void* elem) {
  c->ops->move_construct(receiver->elem, elem);
  receiver->state->fired = receiver->case_index;
  receiver->state->status = gort::detail::OpStatus::kOk;
}

void take_from_sender(ChanCore* c, Waiter* sender, void* out) {
  if (c->cap == 0) {
    c->ops->move_construct(out, sender->elem);
  } else {
    // Buffer full and a sender waits: take the oldest element, put the sender's at the tail
    // (keeps FIFO order).
    void* oldest = c->slot(0);
    c->ops->move_construct(out, oldest);
    c->ops->destroy(oldest);
    c->head = (c->head + 1) % c->cap;
    c->ops->move_construct(c->slot(c->count - 1), sender->elem);
  }
  sender->state->fired = sender->case_index;
  sender->state->status = gort::detail::OpStatus::kOk;
}

bool buffer_push(ChanCore* c, void* elem) {
  if (c->count == c->cap) return false;
  c->ops->move_construct(c->slot(c->count), elem);
  ++c->count;
  c->publish_len();
  return true;
}

bool buffer_pop(ChanCore* c, void* out) {
  if (c->count == 0) return false;
  void* oldest = c->slot(0);
  c->ops->move_construct(out, oldest);
  c->ops->destroy(oldest);
  c->head = (c->head + 1) % c->cap;
  --c->count;
  c->publish_len();
  return true;
}

Waiter* close_locked(ChanCore* c) {
  c->closed = true;
  c->closed_hint.store(true, std::memory_order_release);
  Waiter* list = nullptr;
  for (WaitQueue* q : {&c->recvq, &c->sendq}) {
    while (Waiter* w = q->claim_first()) {
      w->state->fired = w->case_index;
      w->state->status = gort::detail::OpStatus::kClosed;
      w->wake_next = list;
      list = w;
    }
  }
  return list;
}

}  // namespace gort::rt

namespace gort::detail {

using namespace gort::rt;

int64_t monotonic_now_ns() noexcept { return now_ns(); }

ChanCore* chan_make(size_t capacity, const ElementOps* ops) {
  // Go's "makechan: size out of range": a buffer whose byte size does not fit in size_t (or
  // exceeds what operator new can ever return) is refused before anything is allocated, since
  // capacity * size would wrap to a small buffer that sends then write past.
  const size_t elem = ops->size == 0 ? 1 : ops->size;
  if (capacity > static_cast<size_t>(PTRDIFF_MAX) / elem) {
    throw std::length_error(absl::StrFormat(
        "gort::Chan: capacity %u of %u-byte elements is out of range", capacity, ops->size));
  }
  auto c = std::make_unique<ChanCore>();  // freed if the buffer's allocation throws
  c->ops = ops;
  c->cap = capacity;
  if (capacity > 0) {
    size_t align = ops->align < alignof(std::max_align_t) ? alignof(std::max_align_t) : ops->align;
    c->buf = static_cast<unsigned char*>(::operator new(capacity * ops->size, std::align_val_t(align)));
  }
  return c.release();
}

// Null-safe: copying a moved-from Chan (Go's nil channel) copies the nil.
void chan_retain(ChanCore* c) noexcept {
  if (c != nullptr) c->refs.fetch_add(1, std::memory_order_relaxed);
}

void chan_release(ChanCore* c) noexcept {
  // acq_rel: the last owner must see every other owner's writes before destroying.
  if (c->refs.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
  for (size_t i = 0; i < c->count; ++i) c->ops->destroy(c->slot(i));
  if (c->buf) {
    size_t align = c->ops->align < alignof(std::max_align_t) ? alignof(std::max_align_t) : c->ops->align;
    ::operator delete(c->buf, std::align_val_t(align));
  }
  delete c;
}

namespace {

// The slow path shared by send and receive: called with c locked when the operation cannot
// complete now; returns with c unlocked. Polls and past deadlines return at once; otherwise the
// caller waits in `q` until a peer, close() or the deadline completes it.
OpStatus wait_in(ChanCore* c, WaitQueue& q, void* elem, int64_t deadline_ns, const char* reason) {
  if (deadline_ns == kPoll) {
    c->lock.unlock();
    return OpStatus::kWouldBlock;
  }
  if (deadline_ns != kNoDeadline && deadline_ns <= now_ns()) {
    c->lock.unlock();
    return OpStatus::kTimeout;
  }
  WaitState st;
  st.exclusive = deadline_ns == kNoDeadline;
  Waiter w;
  w.state = &st;
  w.elem = elem;
  w.chan = c;
  w.is_send = &q == &c->sendq;
  q.push(&w);
  ChanCore* locks[1] = {c};
  {
    ChanWaitLink link(&w, 1);
    block_on(&st, locks, 1, deadline_ns, reason);
  }
  if (st.status == OpStatus::kTimeout) {  // peers may have unlinked it already
    c->lock.lock();
    q.remove(&w);
    c->lock.unlock();
  }
  return st.status;
}

}  // namespace

OpStatus chan_send(ChanCore* c, void* elem, int64_t deadline_ns) {
  if (c == nullptr) throw std::invalid_argument("gort::Chan: send on a moved-from channel");
  c->lock.lock();
  if (c->closed) {
    c->lock.unlock();
    throw ChannelClosed("gort::Chan: send on closed channel");
  }
  if (Waiter* r = c->recvq.claim_first()) {
    hand_to_receiver(c, r, elem);
    c->lock.unlock();
    wake_waiter(r->state);
    return OpStatus::kOk;
  }
  if (buffer_push(c, elem)) {
    c->lock.unlock();
    return OpStatus::kOk;
  }
  OpStatus status = wait_in(c, c->sendq, elem, deadline_ns, "chan send");
  if (status == OpStatus::kClosed) throw ChannelClosed("gort::Chan: send on closed channel");
  return status;
}

OpStatus chan_recv(ChanCore* c, void* out, int64_t deadline_ns) {
  if (c == nullptr) throw std::invalid_argument("gort::Chan: receive on a moved-from channel");
  c->lock.lock();
  if (Waiter* s = c->sendq.claim_first()) {
    take_from_sender(c, s, out);
    c->lock.unlock();
    wake_waiter(s->state);
    return OpStatus::kOk;
  }
  if (buffer_pop(c, out)) {
    c->lock.unlock();
    return OpStatus::kOk;
  }
  if (c->closed) {
    c->lock.unlock();
    return OpStatus::kClosed;
  }
  return wait_in(c, c->recvq, out, deadline_ns, "chan receive");
}

void chan_close(ChanCore* c) {
  if (c == nullptr) throw std::invalid_argument("gort::Chan: close of a moved-from channel");
  c->lock.lock();
  if (c->closed) {
    c->lock.unlock();
    throw ChannelClosed("gort::Chan: close of closed channel");
  }
  Waiter* list = close_locked(c);
  c->lock.unlock();
  while (list) {
    Waiter* next = list->wake_next;  // read before waking: the Waiter dies with its owner
    wake_waiter(list->state);
    list = next;
  }
}

// A moved-from Chan (null core) is Go's nil channel here: length and capacity 0, never closed
// (its sends and receives throw instead of blocking forever; select skips it).
size_t chan_len(ChanCore* c) noexcept {
  return c ? c->len_hint.load(std::memory_order_relaxed) : 0;
}
size_t chan_cap(ChanCore* c) noexcept { return c ? c->cap : 0; }
bool chan_closed(ChanCore* c) noexcept {
  return c && c->closed_hint.load(std::memory_order_acquire);
}

}  // namespace gort::detail
