// The runtime semaphore (Go's sema.go): a counter at some address plus a table of wait queues
// keyed by that address. Every gort primitive that must park a goroutine (WaitGroup now; Mutex,
// RWMutex, CondVar and Semaphore with the channels issue) parks through here, so there is one
// place where goroutines wait on memory.
//
// Waiters from outside the runtime (plain threads, or goroutines inside gort::blocking()) park
// their thread on a futex instead of parking a goroutine.
#pragma once

#include <atomic>
#include <cstdint>

namespace gort::rt {

// Waits until *addr > 0, then decrements it.
void sema_acquire(std::atomic<uint32_t>* addr, const char* wait_reason);
// Increments *addr and wakes the longest waiter on addr, if any.
void sema_release(std::atomic<uint32_t>* addr);
// Drops every parked goroutine from the table (shutdown: those goroutines are abandoned and
// their Waiter records, which live on their stacks, are about to be recycled).
void sema_forget_goroutine_waiters();
// Waiters currently queued on addr (tests and dumps).
uint32_t sema_waiters(std::atomic<uint32_t>* addr);

}  // namespace gort::rt
