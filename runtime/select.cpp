// select over several channel operations (Go's selectgo).
//
//   1. Shuffle the cases (a fresh random order per call: no case is favoured when several are
//      ready) and sort the distinct channels by address: every select locks in the same global
//      order, so concurrent selects over the same channels cannot deadlock.
//   2. Lock all channels; poll the cases in shuffled order; the first ready one completes.
//   3. Nothing ready: with a default case, unlock and return it. Otherwise queue one Waiter per
//      case, all sharing one WaitState, and block (locks released after the switch, deadline
//      timer armed then). Whoever claims the state completes that case.
//   4. After waking, lock all channels again and unlink the waiters that did not fire.
#include <algorithm>
#include <stdexcept>
#include <vector>

#include "absl/container/inlined_vector.h"
#include "gort/chan.hpp"
#include "runtime/chan_internal.hpp"
#include "runtime/machine.hpp"
#include "runtime/sched.hpp"

namespace gort::rt {

namespace {

thread_local uint64_t select_rand_state = 0x853C49E6748FEA9BULL;

// Random numbers for the case order: the M's generator on runtime threads, a thread-local one
// elsewhere. Fairness only, not security.
uint32_t select_rand() {
  if (M* m = current_m()) return m->fastrand();
  uint64_t& s = select_rand_state;
  s ^= s >> 12;
  s ^= s << 25;
  s ^= s >> 27;
  return static_cast<uint32_t>((s * 0x2545F4914F6CDD1DULL) >> 32);
}

// Polls one case with its channel locked. Returns true if it completed; `woken` gets the peer
// to wake after unlocking.
bool poll_case(gort::detail::SelectCase& sc, WaitState** woken, gort::detail::OpStatus* status,
               bool* send_on_closed) {
  ChanCore* c = sc.chan;
  if (sc.is_send) {
    if (c->closed) {
      *send_on_closed = true;
      return true;
    }
    if (Waiter* r = c->recvq.claim_first()) {
      hand_to_receiver(c, r, sc.elem);
      *woken = r->state;
      *status = gort::detail::OpStatus::kOk;
      return true;
    }
    if (buffer_push(c, sc.elem)) {
      *status = gort::detail::OpStatus::kOk;
      return true;
    }
    return false;
  }
  if (Waiter* s = c->sendq.claim_first()) {
    take_from_sender(c, s, sc.elem);
    *woken = s->state;
    *status = gort::detail::OpStatus::kOk;
    return true;
  }
  if (buffer_pop(c, sc.elem)) {
    *status = gort::detail::OpStatus::kOk;
    return true;
  }
  if (c->closed) {
    *status = gort::detail::OpStatus::kClosed;
    return true;
  }
  return false;
}

}  // namespace

}  // namespace gort::rt

namespace gort::detail {

using namespace gort::rt;

size_t select_impl(SelectCase* cases, size_t n, bool has_default, int64_t deadline_ns,
                   OpStatus* status) {
  absl::InlinedVector<size_t, 8> order;  // poll order: shuffled indices of non-nil cases
  absl::InlinedVector<ChanCore*, 8> locks;
  for (size_t i = 0; i < n; ++i) {
    if (cases[i].chan == nullptr) continue;
    order.push_back(i);
    locks.push_back(cases[i].chan);
  }
  // A multiply-shift maps the 32-bit draw onto [0, i): a 64-bit division cost ~7% of select4's
  // samples at 2 procs. The bias, i / 2^32, is far below anything a select could show.
  for (size_t i = order.size(); i > 1; --i) {
    const auto j = static_cast<size_t>((uint64_t{select_rand()} * i) >> 32);
    std::swap(order[i - 1], order[j]);
  }
  std::sort(locks.begin(), locks.end());
  locks.erase(std::unique(locks.begin(), locks.end()), locks.end());

  if (order.empty() && !has_default && deadline_ns == kNoDeadline) {
    throw std::logic_error("gort::select: no cases and no default would block forever");
  }

  for (ChanCore* c : locks) c->lock.lock();
  for (size_t i : order) {
    WaitState* woken = nullptr;
    bool send_on_closed = false;
    if (poll_case(cases[i], &woken, status, &send_on_closed)) {
      for (size_t k = locks.size(); k > 0; --k) locks[k - 1]->lock.unlock();
      if (send_on_closed) throw ChannelClosed("gort::select: send on closed channel");
      if (woken) wake_waiter(woken);
      return i;
    }
  }
  if (has_default || deadline_ns == kPoll ||
      (deadline_ns != kNoDeadline && deadline_ns <= now_ns())) {
    for (size_t k = locks.size(); k > 0; --k) locks[k - 1]->lock.unlock();
    if (has_default) return n;
    *status = OpStatus::kTimeout;
    return n + 1;
  }

  WaitState st;
  absl::InlinedVector<Waiter, 8> waiters(n);
  for (size_t i : order) {
    Waiter& w = waiters[i];
    w.state = &st;
    w.elem = cases[i].elem;
    w.case_index = i;
    w.chan = cases[i].chan;
    w.is_send = cases[i].is_send;
    (cases[i].is_send ? cases[i].chan->sendq : cases[i].chan->recvq).push(&w);
  }
  {
    ChanWaitLink link(waiters.data(), n);  // nil cases have no chan: skipped by forget
    block_on(&st, locks.data(), locks.size(), deadline_ns, "select");
  }

  // Unlink the cases that did not fire (peers may have unlinked some already).
  for (ChanCore* c : locks) c->lock.lock();
  for (size_t i : order) {
    Waiter& w = waiters[i];
    (cases[i].is_send ? cases[i].chan->sendq : cases[i].chan->recvq).remove(&w);
  }
  for (size_t k = locks.size(); k > 0; --k) locks[k - 1]->lock.unlock();

  *status = st.status;
  if (st.fired == WaitState::kTimedOut) return n + 1;
  if (cases[st.fired].is_send && st.status == OpStatus::kClosed) {
    throw ChannelClosed("gort::select: send on closed channel");
  }
  return st.fired;
}

}  // namespace gort::detail
