// The connections a server is serving, so that shutdown can end them instead of abandoning
// their goroutines (gort::run does not unwind goroutines still parked when it returns).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <unordered_map>

#include "gort/net/conn.hpp"
#include "gort/sync.hpp"
#include "gort/wait_group.hpp"

namespace examples {

class ConnectionTracker {
 public:
  using Handler = std::function<void(gort::net::Conn)>;

  // Runs handle(conn) in a new goroutine; once shutdown has begun, closes conn instead.
  // `handle` must outlive the goroutine.
  void serve(gort::net::Conn conn, const Handler& handle);

  // Closes every connection still served, which makes the reads and writes their goroutines
  // wait in return, then waits up to `grace` for those goroutines to finish. Returns how many
  // are still running.
  int64_t shutdown(std::chrono::milliseconds grace);

 private:
  gort::Mutex mu_;
  std::unordered_map<uint64_t, gort::net::Conn> live_;  // under mu_
  uint64_t next_id_ = 0;                                 // under mu_
  bool closing_ = false;                                 // under mu_
  gort::WaitGroup running_;
};

}  // namespace examples
