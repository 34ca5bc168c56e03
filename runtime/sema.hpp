// The runtime semaphore (Go's sema.go): a counter at some address plus a table of wait queues
// keyed by that address. Every gort primitive that must park a goroutine (WaitGroup, Mutex,
// RWMutex, CondVar, Once, Semaphore) parks through here, so there is one place where goroutines
// wait on memory.
//
// Waiters from outside the runtime (plain threads, or goroutines inside gort::blocking()) park
// their thread on a futex instead of parking a goroutine.
#pragma once

#include <atomic>
#include <cstdint>

namespace gort::detail {
struct NotifyList;  // gort/sync.hpp
}

namespace gort::rt {

// Waits until *addr > 0, then decrements it. lifo queues the caller ahead of the other waiters
// on addr (a waiter that already waited once, as sync.Mutex re-queues).
void sema_acquire(std::atomic<uint32_t>* addr, const char* wait_reason, bool lifo = false);
// Increments *addr and wakes the longest-queued waiter on addr, if any. With handoff the count
// is taken on the waiter's behalf (it cannot be stolen by a newcomer) and, when both sides are
// goroutines, the caller yields so the waiter runs now on this processor (Mutex starvation mode).
void sema_release(std::atomic<uint32_t>* addr, bool handoff = false);
// Drops every parked goroutine from the table (shutdown: those goroutines are abandoned and
// their Waiter records, which live on their stacks, are about to be recycled).
void sema_forget_goroutine_waiters();
// Waiters currently queued on addr (tests and dumps).
uint32_t sema_waiters(std::atomic<uint32_t>* addr);

// Notify lists (Go's notifyList), the wait queue of CondVar. A waiter takes a ticket with
// notify_list_add while it still holds the user's lock, then waits for that ticket; a notify
// that comes between the two is remembered by the ticket counter, so it is never lost.
uint32_t notify_list_add(detail::NotifyList* list);
void notify_list_wait(detail::NotifyList* list, uint32_t ticket, const char* wait_reason);
void notify_list_notify_one(detail::NotifyList* list);
void notify_list_notify_all(detail::NotifyList* list);

}  // namespace gort::rt
